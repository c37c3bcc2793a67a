// Journey 10 — the registration officer finds contracts (issue #19): by the
// first digits of a registration number, by a word of a title, narrowed to
// registered contracts of one type and sorted by amount; each list on the page
// is the one the API gives for the same search, with the API's count (共 N 份, or
// N 份以上 past the cap).  The bureau searches its
// region the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signIn, signOut, go, shot, screen, apiLogin, apiGet } from '../lib.mjs';

async function rowsOnPage(page) {
  await page.locator('[data-testid=contract-results]').waitFor();
  await page.waitForFunction(() => !document.querySelector('[data-testid=contract-results] .loading'));
  return page.locator('[data-testid=contract-results] tr[data-id]').evaluateAll((trs) => trs.map((t) => Number(t.dataset.id)));
}

test('search: the officer finds contracts by number, by word, with filters and a sort', async () => {
  const officer = await apiLogin('officer');
  const mine = (await apiGet('/contracts?status=registered&limit=100', officer)).body.items;
  assert.ok(mine.length > 0, 'the demo office has registrations');
  const reg = mine[0];
  const b = await launch();
  const page = await b.page();
  try {
    await signIn(page, 'officer');
    await page.locator('nav a', { hasText: '合同检索' }).click();
    await page.locator('input[name=q]').waitFor();

    // the first ten digits of a registration number: every registration of the office that year
    const prefix = reg.registration_no.slice(0, 10);
    await page.fill('input[name=q]', prefix);
    await page.locator('form[role=search] .searchbar button[type=submit]').click();
    const first = (await apiGet(`/contracts?q=${prefix}&limit=20`, officer)).body;
    const want = first.items.map((c) => c.id);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=contract-results] tr[data-id]').length === n, want.length);
    assert.deepEqual(await rowsOnPage(page), want);
    // how many match, as the API counted them: exactly, or more than its cap
    assert.equal(await page.locator('[data-testid=contract-total]').textContent(), first.total.value.toLocaleString('zh-CN'));
    assert.match(await page.locator('[data-testid=result-count]').textContent(), first.total.exact ? /^共 [0-9,]+ 份/ : /份以上/);
    await screen(page, 'journey-10-search-number');

    // a word of a title, registered contracts of its type only, the largest first
    const word = [...reg.title.replace(/[^\u4e00-\u9fff]/g, '')].slice(0, 2).join('');
    await page.fill('input[name=q]', word);
    await page.selectOption('[data-field=status] select', 'registered');
    await page.selectOption('[data-field=type] select', reg.contract_type);
    await page.selectOption('[data-field=sort] select', 'amount_desc');
    await page.locator('form[role=search] .form-actions button[type=submit]').click();
    await page.waitForFunction(() => location.hash.includes('sort=amount_desc'));
    const api = (await apiGet(`/contracts?q=${encodeURIComponent(word)}&status=registered&type=${reg.contract_type}&sort=amount_desc&limit=20`, officer)).body.items;
    assert.ok(api.some((c) => c.id === reg.id), 'the contract whose title has the word is found');
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=contract-results] tr[data-id]').length === n, api.length);
    assert.deepEqual(await rowsOnPage(page), api.map((c) => c.id));
    const amounts = api.map((c) => c.contract_amount_fen);
    assert.deepEqual(amounts, [...amounts].sort((x, y) => y - x), 'largest first');
    await screen(page, 'journey-10-search-filtered');

    // nothing found: said in Chinese; a bad amount range: the error beside the form
    await go(page, '/search/contracts?q=' + encodeURIComponent('不存在的合同名称甲乙丙'));
    await page.locator('[data-testid=contract-results] .empty').waitFor();
    await go(page, '/search/contracts?amount_min=5000000&amount_max=100');
    await page.locator('[data-testid=contract-results] .error-summary').waitFor();
    assert.match(await page.locator('[data-testid=contract-results] .error-summary').textContent(), /成交额下限/);
    await screen(page, 'journey-10-search-errors');
    await signOut(page);

    // the bureau: its region's registrations
    const bureau = await apiLogin('bureau');
    const bw = (await apiGet(`/contracts?q=${prefix.slice(0, 4)}&limit=20`, bureau)).body.items.map((c) => c.id);
    await signIn(page, 'bureau');
    await go(page, '/search/contracts?q=' + prefix.slice(0, 4));
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=contract-results] tr[data-id]').length === n || (n === 0 && document.querySelector('[data-testid=contract-results] .empty')), bw.length);
    assert.deepEqual(await rowsOnPage(page), bw);
    await screen(page, 'journey-10-search-bureau');
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-10-FAILED').catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
