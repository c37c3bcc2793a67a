// Journey 20 — the registration officer imports past contracts: downloads the
// Excel template from the import screen, checks a CSV file with a bad amount
// (the error table names the row, the column and what is wrong, and nothing
// is written), mends it, checks again, imports it, and sees the batch in the
// import history; the contracts are registered with their own numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { launch, signIn, go, shot, screen, apiLogin, apiGet, apiAll } from '../lib.mjs';

const ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
function creditCode(region) {
  let s = '91' + region;
  for (let i = 0; i < 9; i++) s += ALPHABET[Math.floor(Math.random() * 31)];
  const sum = [...s].reduce((a, c, i) => a + ALPHABET.indexOf(c) * WEIGHTS[i], 0);
  return s + ALPHABET[(31 - (sum % 31)) % 31];
}
const HEAD = '登记编号,合同名称,合同类别,卖方名称,卖方统一社会信用代码,卖方所在地区代码,买方名称,买方统一社会信用代码,买方所在地区代码,签订日期,登记日期,合同成交额（元）,技术交易额（元）,技术领域';

test('officer: check a file with an error, mend it, import past contracts', async () => {
  const token = await apiLogin('officer');
  const office = (await apiGet('/me', token)).body.office;
  assert.ok(office, 'the demo officer has an office');
  const year = new Date().getFullYear() - 3;
  const base = 900000 + Math.floor(Math.random() * 90000);
  const nos = [0, 1].map((i) => `${year}${office.region_code}${String(base + i).padStart(6, '0')}`);
  const rows = (amount) => [
    `${nos[0]},E2E 历史合同 魔芋精深加工工艺开发,委托开发,巴中历史技术转移中心,${creditCode(office.region_code)},${office.region_code},巴中历史受让企业,${creditCode('510107')},510107,${year}-04-01,${year}-04-20,${amount},100000,农业`,
    `${nos[1]},E2E 历史合同 茶叶烘焙设备技术转让,技术转让/专利权转让,巴中历史技术转移中心,${creditCode(office.region_code)},${office.region_code},巴中历史受让企业二,${creditCode('510107')},510107,${year}-06-01,${year}/6/15,50000,50000,先进制造`,
  ];
  const csv = (amount) => Buffer.from('\ufeff' + [HEAD, ...rows(amount)].join('\r\n') + '\r\n', 'utf8');
  const b = await launch();
  const page = await b.page();
  try {
    await signIn(page, 'officer');
    await page.click('nav a:has-text("历史导入")');
    await page.locator('[data-template=xlsx]').waitFor();
    await screen(page, 'journey-20-import');

    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-template=xlsx]')]);
    assert.match(dl.suggestedFilename(), /^历史合同导入模板\.xlsx$/);
    assert.equal(readFileSync(await dl.path()).subarray(0, 2).toString(), 'PK');

    // a file with an amount written as 12万: checked, the problem shown, nothing written
    await page.setInputFiles('input[name=import-file]', { name: '历史合同.csv', mimeType: 'text/csv', buffer: csv('12万') });
    await page.click('[data-action=check]');
    const bad = page.locator('[data-testid=import-errors] tr[data-row="2"]');
    await bad.waitFor();
    assert.equal(await bad.getAttribute('data-column'), '合同成交额（元）');
    assert.match(await bad.textContent(), /“12万”不是金额：请填写以元为单位的数字，最多两位小数/);
    assert.equal(await page.locator('[data-action=import]').isDisabled(), true, 'no import while the check failed');
    await screen(page, 'journey-20-import-errors');
    const none = await apiAll('/contracts?status=registered', token);
    assert.ok(!none.some((c) => nos.includes(c.registration_no)), 'nothing written by a check');

    // mended: the check passes, then the import
    await page.setInputFiles('input[name=import-file]', { name: '历史合同.csv', mimeType: 'text/csv', buffer: csv('120000.50') });
    await page.click('[data-action=check]');
    await page.locator('[data-testid=import-report][data-valid=true]').waitFor();
    assert.equal((await page.locator('[data-testid=import-count]').textContent()).trim(), '2');
    await page.click('[data-action=import]');
    const done = page.locator('[data-testid=import-done]');
    await done.waitFor();
    assert.match(await done.textContent(), new RegExp(`已导入 2 份合同.*${nos[0]} 至 ${nos[1]}`));
    await page.locator('[data-testid=import-batches] tr[data-batch]').first().waitFor();
    await screen(page, 'journey-20-import-done');

    const after = await apiAll('/contracts?status=registered', token);
    const got = after.filter((c) => nos.includes(c.registration_no));
    assert.equal(got.length, 2, 'both contracts registered with their own numbers');
    assert.ok(got.every((c) => c.import_batch_id && c.office_id === office.id));
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-20-FAILED').catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
