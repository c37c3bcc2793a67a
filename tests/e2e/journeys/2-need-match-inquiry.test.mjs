// Journey 2 — an enterprise posts a technology need, sees the matching
// results with the reasons for each score, and opens an inquiry on one.
// Inquiries are issue 5: where the server does not serve them yet, the
// journey ends at the matches and says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signIn, signOut, go, shot, screen, served, apiLogin, apiAll, PHONE, DESKTOP } from '../lib.mjs';

test('need: post → matches with reasons → inquiry', async (t) => {
  const token = await apiLogin('enterprise');
  const missing = [];
  for (const [m, p] of [['GET', '/needs'], ['POST', '/needs']]) if (!(await served(m, p, token))) missing.push(`${m} /api/v1${p}`);
  if (missing.length) {
    const why = `marketplace endpoints not served yet (${missing.join(', ')}): journey skipped`;
    console.log('# SKIP journey 2: ' + why);
    t.skip(why);
    return;
  }
  const inquiries = await served('POST', '/inquiries', token);
  const b = await launch();
  const page = await b.page();
  try {
    await signIn(page, 'enterprise');
    await go(page, '/my/needs/new');
    await page.fill('input[name=title]', `富硒茶叶深加工与茶多酚提取技术需求 ${Date.now().toString(36)}`);
    await page.fill('textarea[name=description]', '公司现有富硒绿茶原料 800 吨/年，希望引进茶多酚提取、速溶茶粉或茶饮料原料加工技术，提高夏秋茶附加值，要求硒保留率高、可在现有厂房实施。');
    await page.fill('input[name=keywords]', '富硒茶，茶多酚，速溶茶粉，茶叶加工');
    await page.selectOption('select[name=domain]', 'agriculture');
    await page.locator('[data-field=cooperation_modes] input[value=transfer]').check();
    await page.locator('[data-field=cooperation_modes] input[value=licence]').check();
    // a budget whose lower end is above its upper end: said in Chinese beside the field, no draft left
    const mine = async () => (await apiAll('/needs?mine=true', token)).length;
    const before = await mine();
    await page.fill('input[name=budget_min_fen]', '200');
    await page.fill('input[name=budget_max_fen]', '100');
    await page.click('form button[type=submit]');
    const budgetErr = page.locator('[data-field=budget_min_fen] .field-error');
    await budgetErr.waitFor();
    assert.match(await budgetErr.textContent(), /下限不能大于上限/, 'in Chinese, beside the field');
    assert.match(await page.textContent('.error-summary'), /预算下限/, 'the summary names the field by its label');
    assert.doesNotMatch(await page.locator('main').textContent(), /budget_|_fen/, 'no field path');
    await screen(page, 'journey-2-need-form-errors');
    assert.equal(await mine(), before, 'a failed 保存并提交审核 leaves no draft behind');
    await page.fill('input[name=budget_min_fen]', '20');
    await page.click('form button[type=submit]');
    await page.waitForURL(/#\/needs\/\d+$/);
    const needId = /#\/needs\/(\d+)/.exec(page.url())[1];
    await page.locator('.page-title .badge').waitFor();

    if ((await page.locator('.badge[data-status=submitted]').count()) > 0) {   // needs go through review first
      await signOut(page);
      await signIn(page, 'reviewer');
      await go(page, '/review');
      const row = page.locator(`tr[data-id="${needId}"]`);
      await row.waitFor();
      await row.getByRole('button', { name: '通过' }).click();
      await page.locator('.alert-success').waitFor();
      await signOut(page);
      await signIn(page, 'enterprise');
      await go(page, '/needs/' + needId);
    }

    // matches, each with the reasons for its score
    await page.locator('.matches .match').first().waitFor();
    // The demo data has inquiries under way (one open inquiry per result and pair of
    // organisations): go on with a matching result the enterprise is not negotiating yet.
    const busy = new Set(inquiries ? (await apiAll('/inquiries?status=open', token)).map((x) => String(x.result && x.result.id)) : []);
    const ids = await page.locator('.matches .match[data-kind=result]').evaluateAll((els) => els.map((e) => e.dataset.id));
    const pick = ids.find((id) => !busy.has(id));
    assert.ok(pick, 'a matching result the enterprise has no open inquiry on');
    const match = page.locator(`.matches .match[data-id="${pick}"]`);
    assert.ok(await page.locator('.matches .match').count() >= 1, 'at least one matching result');
    assert.ok(await match.locator('.reasons li').count() >= 1, 'a match shows its reasons');
    assert.match(await match.locator('.reasons').textContent(), /富硒|茶|农业|领域|关键词/);
    const resultTitle = (await match.locator('a b').textContent()).trim();
    await screen(page, 'journey-2-matches');

    if (!inquiries) {
      console.log('# journey 2 stops at the matches: POST /api/v1/inquiries (issue 5) is not served yet');
      t.diagnostic('inquiries (issue 5) not served yet: the journey stops at the matches');
      await shot(page, 'journey-2-matches');
      await page.setViewportSize(PHONE);
      await shot(page, 'journey-2-matches-phone');
      assert.deepEqual(b.errors, [], 'no script errors in the page');
      return;
    }
    await match.getByRole('button', { name: '发起洽谈' }).click();
    await match.locator('textarea[name=message]').fill('我公司对该成果很感兴趣，希望了解许可方式和中试设备要求，能否安排到厂考察？');
    await match.getByRole('button', { name: '发送洽谈请求' }).click();
    await page.waitForURL(/#\/inquiries\/\d+$/);
    await page.locator('.messages .msg').first().waitFor();
    assert.match(await page.textContent('.messages'), /很感兴趣/);
    assert.match(await page.textContent('.page-title'), new RegExp(resultTitle.slice(0, 6)));
    await screen(page, 'journey-2-inquiry');
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-2-FAILED').catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
