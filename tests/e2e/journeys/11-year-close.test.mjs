// Journey 11 — the bureau closes last year (年度结账, issue #19): the page shows
// the year open with its live figures, the bureau closes it, a registration of
// that year is then cancelled (the seller asks, the officer confirms, through
// the API), and the closed figures stay as they were while the cancellation is
// listed as an adjustment and shows as this year's adjustment to last year;
// the admin reopens the year with a reason and the live figures come back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signIn, signOut, go, shot, screen, apiLogin, apiGet, yearCN, BASE } from '../lib.mjs';

async function post(path, token, body) {
  const r = await fetch(BASE + '/api/v1' + path, {
    method: 'POST', headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const b = await r.json().catch(() => null);
  if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${JSON.stringify(b)}`);
  return b;
}
const count = async (page) => Number((await page.locator('[data-testid=close-figures] [data-testid=close-count]').textContent()).replace(/\D/g, ''));

test('year close: the bureau freezes last year, a later cancellation is an adjustment, the admin reopens', async () => {
  const year = yearCN() - 1;
  const bureau = await apiLogin('bureau');
  const univ = await apiLogin('university');
  const officer = await apiLogin('officer');
  const me = (await apiGet('/me', bureau)).body;
  const region = me.region_code;
  const live = (await apiGet(`/stats/contracts?year=${year}&region=${region}`, bureau)).body;
  const b = await launch();
  const page = await b.page();
  try {
    await signIn(page, 'bureau');
    await page.locator('nav a', { hasText: '年度结账' }).click();
    const status = page.locator('[data-testid=close-status]');
    await status.waitFor();
    assert.equal(await status.getAttribute('data-status'), live.closed ? 'closed' : 'open');
    assert.equal(await count(page), live.total.count);
    await screen(page, 'journey-11-open-year');
    if (!live.closed) {
      await page.fill('[data-field=note] textarea', `${year} 年度技术合同登记统计年报`);
      await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/v1/stats/closes') && r.request().method() === 'POST' && r.status() === 201),
        page.getByRole('button', { name: /结账（冻结/ }).click(),
      ]);
      await page.locator('[data-testid=close-status][data-status=closed]').waitFor();
    }
    const frozen = (await apiGet(`/stats/contracts?year=${year}&region=${region}`, bureau)).body;
    assert.equal(frozen.closed, true);

    // a registration of that year is cancelled: the seller asks, the officer confirms
    const regs = (await apiGet(`/contracts?status=registered&year=${year}&limit=100`, univ)).body.items
      .filter((c) => (c.seller.region_code || '').startsWith(region.replace(/(00)+$/, '')));
    let cancelled = null;
    for (const c of regs) {
      try {
        const asked = await post(`/contracts/${c.id}/cancel`, univ, { reason: '双方协商解除合同（演示）' });
        await post(`/contracts/${c.id}/cancel`, officer, { change_id: asked.pending_change.id, decision: 'confirm' });
        cancelled = c;
        break;
      } catch { /* not this office's or not the applicant's: the next one */ }
    }
    await page.reload();
    await page.locator('[data-testid=close-status][data-status=closed]').waitFor();
    assert.equal(await count(page), frozen.total.count, 'the closed figures do not move');
    if (cancelled) {
      const row = page.locator(`[data-testid=adjustments] tr[data-contract="${cancelled.id}"]`);
      await row.waitFor();
      assert.equal(await row.getAttribute('data-kind'), 'cancellation');
      assert.match(await row.textContent(), /注销登记/);
      await page.locator(`[data-testid=prior-adjustments] tr[data-year="${year}"]`).waitFor();
    }
    await screen(page, 'journey-11-closed-with-adjustment');
    await signOut(page);

    // the admin reopens the year, with a reason
    await signIn(page, 'admin');
    await go(page, `/bureau/closes?year=${year}&region=${region}`);
    await page.locator('[data-testid=reopen]').waitFor();
    await page.getByRole('button', { name: '重新打开' }).click();
    await page.locator('[data-field=reason] .field-error').waitFor();         // a reason is required
    await page.fill('[data-field=reason] textarea', '演示：补录历史合同后重新结账');
    await Promise.all([
      page.waitForResponse((r) => /\/api\/v1\/stats\/closes\/\d+\/reopen$/.test(r.url()) && r.status() === 200),
      page.getByRole('button', { name: '重新打开' }).click(),
    ]);
    await page.locator('[data-testid=close-status][data-status=open]').waitFor();
    const after = (await apiGet(`/stats/contracts?year=${year}&region=${region}`, bureau)).body;
    assert.equal(await count(page), after.total.count);
    assert.equal(after.total.count, frozen.total.count - (cancelled ? 1 : 0), 'the live figures include the cancellation');
    await screen(page, 'journey-11-reopened');
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-11-FAILED').catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
