// Journey 10 — an anonymous visitor on a phone opens the platform for the first
// time (empty cache) and searches: everything the browser transfers for the first
// page — HTML, stylesheet, modules, icon and the API answers it asks for — is at
// most 150 KB on the wire, the text files come brotli-compressed, JSON answers
// over 1 KB gzipped, and no role screen or chart library is loaded (issue #23).
// The bureau's dashboard, ECharts included, is weighed too, for the record.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, go, screen, signIn, settle, forgetSignIns, BASE, PHONE, DESKTOP } from '../lib.mjs';

const LIMIT = 150 * 1024;
after(() => forgetSignIns());   // and leave the journeys after it room to sign in

// The compressed forms are made by a low-priority thread after the start: wait for them
// (yizhan_static_files in /metrics), so that the weight is the server's steady state.
async function compressed() {
  const until = Date.now() + 180000;
  for (;;) {
    const m = await (await fetch(BASE + '/metrics')).text();
    const v = (s) => Number((m.match(new RegExp('yizhan_static_files\\{state="' + s + '"\\} (\\d+)')) || [])[1]);
    if (v('text') > 0 && v('compressed') === v('text')) return;
    if (Date.now() > until) throw new Error('the web files were not compressed within 180 s');
    await new Promise((r) => setTimeout(r, 500));
  }
}

// Bytes on the wire per response (headers + body as transferred), from the DevTools protocol.
async function meter(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const byId = new Map();
  cdp.on('Network.responseReceived', (e) => {
    const h = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]));
    byId.set(e.requestId, { url: new URL(e.response.url).pathname + new URL(e.response.url).search, status: e.response.status,
      coding: h['content-encoding'] || 'identity', type: (h['content-type'] || '').split(';')[0], length: Number(h['content-length'] || 0) });
  });
  cdp.on('Network.loadingFinished', (e) => { const r = byId.get(e.requestId); if (r) r.wire = e.encodedDataLength; });
  return {
    rows: () => [...byId.values()].filter((r) => r.wire !== undefined),
    total: () => [...byId.values()].reduce((s, r) => s + (r.wire || 0), 0),
    reset: () => byId.clear(),
    close: () => cdp.detach().catch(() => {}),
  };
}

function table(rows) {
  return rows.map((r) => `${String(r.wire).padStart(7)}  ${r.coding.padEnd(8)} ${r.status} ${r.url}`).join('\n');
}

test('an anonymous first visit is at most 150 KB on the wire, compressed', async () => {
  await compressed();
  const b = await launch();
  const page = await b.page(PHONE);
  const m = await meter(page);
  try {
    await page.goto(BASE + '/');
    await settle(page);
    const rows = m.rows();
    const total = m.total();
    console.log(`first page (phone, empty cache): ${(total / 1024).toFixed(1)} KB on the wire, ${rows.length} responses\n${table(rows)}`);
    assert.ok(total <= LIMIT, `the first page is ${(total / 1024).toFixed(1)} KB on the wire (at most 150 KB)`);
    // what makes it light: every text file compressed (br, as the browser prefers it), large JSON gzipped
    for (const r of rows) {
      if (/\.(js|css|html|svg)$/.test(r.url) || r.url === '/') assert.equal(r.coding, 'br', `${r.url} came ${r.coding}`);
      if (r.type === 'application/json' && r.length > 1024) assert.equal(r.coding, 'gzip', `${r.url} came ${r.coding}`);
    }
    assert.ok(rows.some((r) => r.url.startsWith('/api/v1/search') && r.status === 200), 'the home page shows the newest listings');
    assert.ok(!rows.some((r) => /\/app\/pages\/(member|contracts|officer|bureau|admin|regulation|account)\.js|echarts/.test(r.url)),
      'an anonymous visitor loads no role screen and no chart library');
    await screen(page, 'weight-home-phone');

    // the visitor searches: the answer is small too (the modules are in the page already)
    m.reset();
    await go(page, '/?q=' + encodeURIComponent('智能') + '&kind=result');
    await settle(page);
    const search = m.total();
    console.log(`a search after it: ${(search / 1024).toFixed(1)} KB\n${table(m.rows())}`);
    assert.ok(search < 40 * 1024, `a search transfers ${(search / 1024).toFixed(1)} KB`);
  } finally {
    await m.close();
    await b.close();
  }
  assert.deepEqual(b.errors, []);
});

test('the bureau\'s dashboard with its chart library, for the record', async () => {
  await compressed();
  const b = await launch();
  const page = await b.page(DESKTOP);
  try {
    // metered from the start: the dashboard may be the first screen after sign-in, and a module the page
    // has loaded once is not fetched again
    const m = await meter(page);
    forgetSignIns();   // the journeys before this one signed the bureau in up to its limit
    await signIn(page, 'bureau');
    await go(page, '/bureau');
    await settle(page);
    await page.locator('main canvas, main svg').first().waitFor({ timeout: 15000 });
    const rows = m.rows();
    const echarts = rows.find((r) => /echarts/.test(r.url));
    console.log(`sign-in and the bureau's dashboard: ${(m.total() / 1024).toFixed(1)} KB on the wire\n${table(rows)}`);
    assert.ok(echarts && echarts.coding === 'br', 'ECharts comes brotli-compressed with the dashboard');
    assert.ok(echarts.wire < 260 * 1024, `ECharts is ${(echarts.wire / 1024).toFixed(1)} KB on the wire (715 KB as a file)`);
    await m.close();
  } finally {
    await b.close();
  }
  assert.deepEqual(b.errors, []);
});
