// Journey 20 (targets) — plan targets for every indicator (issue 20, part 4): the
// bureau opens 计划目标, sees every indicator of the year with its progress,
// sets a cumulative target (技术经纪人 over three years), enters the year's actual
// of that non-computed indicator — a bad value first (a Chinese error beside the
// field, nothing saved), then the figure with a note and its evidence — and sees
// the yearly and the cumulative progress move.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signIn, go, screen, apiLogin, apiGet, yearCN } from '../lib.mjs';

test('targets: a cumulative target, an entered actual with evidence, progress', async () => {
  const year = yearCN();
  const bureau = await apiLogin('bureau');
  const region = (await apiGet('/me', bureau)).body.region_code;
  const entries = async () => (await apiGet(`/targets/actuals?year=${year}&region=${region}&indicator=brokers_trained`, bureau)).body.items;
  const before = await entries();
  const b = await launch();
  const page = await b.page();
  try {
    await signIn(page, 'bureau');
    await go(page, '/bureau/targets');
    const rows = page.locator('[data-testid=indicators] tbody tr');
    await rows.first().waitFor();
    const prog = (await apiGet(`/targets/progress?year=${year}&region=${region}`, bureau)).body;
    assert.equal(await rows.count(), prog.items.length, 'every indicator has its row');
    await page.locator('[data-testid=indicators] tr[data-metric=contract_amount][data-computed=true]').waitFor();
    await screen(page, 'journey-20-targets');

    // a cumulative target: 技术经纪人 over the last three years
    await page.getByRole('button', { name: '设定目标：技术经纪人培养' }).click();
    const tf = page.locator('[data-testid=target-form]');
    await tf.locator('[data-field=from_year] input').fill(String(year - 2));
    await tf.locator('[data-field=year] input').fill(String(year));
    await tf.locator('[data-field=target] input').fill('12');
    await tf.locator('[data-field=note] input').fill('三年累计培养技术经纪人12名');
    await tf.locator('[data-field=source] input').fill('巴中市技术转移体系建设重点任务清单（2020-2025年）');
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/targets') && r.request().method() === 'PUT' && r.status() === 200),
      tf.getByRole('button', { name: '保存目标' }).click(),
    ]);
    const cum = page.locator(`[data-testid=cumulative-targets] [data-metric=brokers_trained][data-from="${year - 2}"]`);
    await cum.waitFor();

    // the actual: a bad value first — a Chinese error beside the field, nothing saved
    await page.getByRole('button', { name: '填报：技术经纪人培养' }).click();
    const af = page.locator('[data-testid=actual-form]');
    await af.locator('[data-field=value] input').fill('三名');
    await af.locator('[data-field=note] textarea').fill('年度技术经纪人培训班结业并取得证书');
    await af.locator('[data-field=evidence] input').fill(`巴科技〔${year}〕31号`);
    await af.getByRole('button', { name: '保存实际完成' }).click();
    const err = af.locator('[data-field=value] .field-error');
    await err.waitFor();
    assert.match(await err.textContent(), /整数/);
    assert.equal((await entries()).length, before.length, 'nothing saved');
    await screen(page, 'journey-20-targets-bad-value');

    await af.locator('[data-field=value] input').fill('5');
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/v1/targets/actuals') && r.request().method() === 'PUT' && r.status() === 200),
      af.getByRole('button', { name: '保存实际完成' }).click(),
    ]);
    const row = page.locator('[data-testid=indicators] tr[data-metric=brokers_trained]');
    await row.locator('[data-testid=actual]', { hasText: '5 名' }).waitFor();
    await row.getByText(`佐证：巴科技〔${year}〕31号`).waitFor();
    const after = await entries();
    assert.equal(after.length, before.length + 1);
    assert.equal(after[0].value, 5);
    assert.equal(after[0].evidence, `巴科技〔${year}〕31号`);
    // the cumulative progress sums the three years, this one's 5 included
    const c = (await apiGet(`/targets/progress?year=${year}&region=${region}`, bureau)).body.cumulative
      .find((x) => x.metric === 'brokers_trained' && x.from_year === year - 2);
    assert.equal(c.years[c.years.length - 1].actual, 5);
    assert.equal(c.target, 12);
    await cum.locator('[data-testid=cumulative-actual]', { hasText: `${c.actual} 名` }).waitFor();
    await screen(page, 'journey-20-targets-entered');
  } finally {
    await b.close();
  }
});
