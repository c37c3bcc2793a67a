// Journey 4 — the bureau's dashboard shows the right totals: the figures on
// the page equal what the registered-contract list says (computed here from
// GET /api/v1/contracts, independently of the statistics endpoint the page
// uses), for this year and for a past year with a plan target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signIn, go, shot, screen, apiLogin, apiAll, yearCN, wanText, PHONE, DESKTOP } from '../lib.mjs';

const REGION_PREFIX = '5119';   // the demo bureau: 巴中市 511900 and below

function expected(contracts, year) {
  const rows = contracts.filter((c) => c.status === 'registered' && yearCN(c.registered_at) === year &&
    (c.seller.region_code || '').startsWith(REGION_PREFIX));     // outflow: the seller is in the region
  const sum = (k) => rows.reduce((s, c) => s + BigInt(c[k]), 0n);
  return { count: rows.length, contract: sum('contract_amount_fen'), technical: sum('technical_amount_fen'), received: sum('received_amount_fen') };
}
const num = (t) => t.replace(/[^\d.,]/g, '');

test('bureau: dashboard totals equal the registered contracts of the region', async () => {
  const token = await apiLogin('bureau');
  const contracts = await apiAll('/contracts?status=registered', token);
  const b = await launch();
  const page = await b.page();
  try {
    await signIn(page, 'bureau');
    assert.match(page.url(), /#\/bureau$/);
    const check = async (year) => {
      const want = expected(contracts, year);
      const kpi = page.locator(`.kpis[data-year="${year}"]`);
      await kpi.waitFor();
      assert.equal(num(await kpi.locator('[data-testid=kpi-contracts]').textContent()), String(want.count), `${year}: number of contracts`);
      assert.equal(num(await kpi.locator('[data-testid=kpi-contract_amount]').textContent()), wanText(want.contract), `${year}: contract amount`);
      assert.equal(num(await kpi.locator('[data-testid=kpi-technical_amount]').textContent()), wanText(want.technical), `${year}: technical amount`);
      assert.equal(num(await kpi.locator('[data-testid=kpi-received]').textContent()), wanText(want.received), `${year}: amount received`);
      return want;
    };
    const thisYear = yearCN();
    const now = await check(thisYear);
    assert.ok(now.count > 0, 'the demo data has registrations this year');
    await page.locator('canvas').first().waitFor();             // the charts were drawn
    assert.ok(await page.locator('.chart canvas').count() >= 5, 'charts: cumulative, monthly flows, type, domain, region');

    // a past year with Bazhong's plan target (3亿 yuan in 2025)
    await page.selectOption('select[aria-label="年度"]', String(thisYear - 1));
    const past = await check(thisYear - 1);
    if (thisYear - 1 === 2025) {
      const t = await page.locator('.kpi[data-metric=contract_amount]').textContent();
      assert.match(t, /目标 3\.00 亿元/);
      const pct = (Number(past.contract) / 30000000000 * 100).toFixed(1);
      assert.match(t, new RegExp(`完成 ${pct.replace('.', '\\.')}%`));
    }
    await page.selectOption('select[aria-label="年度"]', String(thisYear));
    await page.locator(`.kpis[data-year="${thisYear}"]`).waitFor();
    await page.waitForTimeout(800);                              // let the charts settle
    // every amount chart names its one unit (its ticks and tooltips use it)
    for (const l of await page.locator('.chart[aria-label]').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')))) {
      if (l !== '按合同类别') assert.match(l, /（(万元|亿元)）$/, l);
    }
    await screen(page, 'journey-4-dashboard');

    // the annual export as Excel: the file keeps the server's Chinese name (RFC 6266 filename*)
    await go(page, '/bureau/exports');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('button[data-format=xlsx]').click()]);
    assert.match(dl.suggestedFilename(), /^技术合同统计_\d{4}_511900\.xlsx$/, dl.suggestedFilename());
    await screen(page, 'journey-4-exports');
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-4-FAILED').catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
