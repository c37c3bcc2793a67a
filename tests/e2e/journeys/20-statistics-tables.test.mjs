// Journey 20 (statistics tables) — the bureau opens its dashboard and reads the
// tables of the national survey: by socio-economic objective, by seller category
// (企业 / 科研机构 / 高等院校 / 其他) and the flow table (where the region's technology
// went, where its acquired technology came from).  Every figure on the page equals
// the API's (GET /stats/contracts?by=…, GET /stats/flows), and every table adds up
// to its total; on the desktop and on a phone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signIn, shot, screen, apiLogin, apiGet, yearCN, wanText } from '../lib.mjs';

const REGION = '511900';   // the demo bureau: 巴中市

const num = (t) => t.replace(/[^\d.,]/g, '');

async function rowsOf(page, by) {
  const box = page.locator(`[data-survey="${by}"]`);
  await box.waitFor();
  await page.waitForFunction((b) => !document.querySelector(`[data-survey="${b}"] .loading`), by);
  return box.locator('tbody tr[data-key]').evaluateAll((trs) => trs.map((tr) => ({
    key: tr.getAttribute('data-key'), cells: [...tr.children].map((c) => c.textContent.trim()),
  })));
}

test('bureau: statistics tables by objective, seller category and flow equal the API', async () => {
  const token = await apiLogin('bureau');
  const year = yearCN();
  const api = async (path) => {
    const r = await apiGet(path, token);
    assert.equal(r.status, 200, path);
    return r.body;
  };
  const b = await launch();
  const page = await b.page();
  try {
    await signIn(page, 'bureau');
    await page.locator(`.kpis[data-year="${year}"]`).waitFor();
    // 引进转化科技成果 is inflow (the buyer in the region), as GET /targets/progress computes it
    const prog = await api(`/targets/progress?year=${year}&region=${REGION}`);
    const rt = prog.items.find((i) => i.metric === 'results_transferred');
    assert.match(await page.locator('[data-testid=kpi-results_transferred]').textContent(), new RegExp(`^引进转化科技成果 ${rt.actual} 项`));
    const card = page.locator('.card', { hasText: '统计报表（全国技术市场统计口径）' });
    await card.scrollIntoViewIfNeeded();

    for (const [by, tab] of [['socio_economic_objective', '按社会经济目标'], ['seller_category', '按卖方类别'],
      ['buyer_category', '按买方类别']]) {
      await card.getByRole('tab', { name: tab }).click();
      const want = await api(`/stats/contracts?year=${year}&region=${REGION}&flow=out&by=${by}`);
      const rows = await rowsOf(page, by);
      assert.deepEqual(rows.map((r) => r.key), want.groups.map((g) => g.key), `${tab}: the same groups`);
      for (const [i, g] of want.groups.entries()) {
        assert.equal(rows[i].cells[0], g.label, `${tab}: label of ${g.key}`);
        assert.equal(rows[i].cells[1], String(g.count), `${tab}: count of ${g.key}`);
        assert.equal(num(rows[i].cells[2]), wanText(g.contract_amount_fen), `${tab}: amount of ${g.key}`);
      }
      assert.equal(want.groups.reduce((s, g) => s + g.count, 0), want.total.count, `${tab}: adds up to the total`);
      const total = await card.locator(`[data-survey="${by}"] tbody tr:last-child th`).allTextContents();
      assert.deepEqual([total[0], total[1]], ['合计', String(want.total.count)], `${tab}: the total row`);
      if (by === 'seller_category') {
        for (const g of want.groups) assert.ok(['企业', '科研机构', '高等院校', '其他'].includes(g.label), g.label);
        assert.ok(want.total.count > 0, 'the demo data has registrations this year');
        await screen(page, 'journey-20-stats-seller-category');
      }
    }

    // the inflow side of the same table
    await page.getByRole('tab', { name: '技术吸纳（买方在本地区）' }).click();
    await card.getByRole('tab', { name: '按卖方类别' }).click();
    await page.locator('[data-survey="seller_category"][data-flow="in"]').waitFor();
    const wantIn = await api(`/stats/contracts?year=${year}&region=${REGION}&flow=in&by=seller_category`);
    const rowsIn = await rowsOf(page, 'seller_category');
    assert.deepEqual(rowsIn.map((r) => [r.key, r.cells[1]]), wantIn.groups.map((g) => [g.key, String(g.count)]));

    // the flow table: outflow by destination, inflow by source
    await card.getByRole('tab', { name: '流向' }).click();
    const flows = await api(`/stats/flows?year=${year}&region=${REGION}`);
    const rows = await rowsOf(page, 'partner');
    assert.deepEqual(rows.map((r) => r.key), flows.rows.map((r) => r.key), 'flow table: the same places');
    for (const [i, r] of flows.rows.entries()) {
      assert.equal(rows[i].cells[0], r.label, `flow ${r.key}: label`);
      assert.equal(rows[i].cells[1], String(r.out.count), `flow ${r.key}: outflow count`);
      assert.equal(num(rows[i].cells[2]), wanText(r.out.contract_amount_fen), `flow ${r.key}: outflow amount`);
      assert.equal(rows[i].cells[4], String(r.in.count), `flow ${r.key}: inflow count`);
    }
    assert.equal(flows.rows.reduce((s, r) => s + r.out.count, 0), flows.total.out.count, 'outflow adds up');
    assert.equal(flows.rows.reduce((s, r) => s + r.in.count, 0), flows.total.in.count, 'inflow adds up');
    const outTotal = await api(`/stats/contracts?year=${year}&region=${REGION}&flow=out`);
    assert.equal(flows.total.out.count, outTotal.total.count, 'the flow table total is the outflow total');
    assert.ok(flows.rows.some((r) => r.label === '本地区内'), 'contracts inside 巴中');
    await screen(page, 'journey-20-stats-flows');
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-20-stats-FAILED').catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
