// Journey 7 — the first ten minutes: each demo account signs in, as a newcomer
// would after `make run`, and opens every screen its navigation offers (plus
// the message centre and the first item of its lists); none may be empty.
//
// What "empty" means:
//   on every screen   an empty-state placeholder (.empty), a feature shown as not
//                     available ([data-state=unavailable]), an error (.alert-error),
//                     页面不存在 / 无权访问 / 请先登录;
//   list screens      no row (table tbody tr) and no item (.hit, .msg, .match);
//   form screens      (FORMS below) no field to fill — the form is their content;
//   the dashboard     no registered contract in the year it opens on;
//   the messages      no unread notification (.badge 未读);
//   an inquiry        fewer than two messages or no price proposal (报价).
// A screen another change adds to a role's navigation is held to the general
// rule: no placeholder, and rows, items, a chart or a form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signIn, go, shot, settle, apiLogin, apiGet, forgetSignIns, DESKTOP, PHONE } from '../lib.mjs';

const ROLES = ['university', 'enterprise', 'broker', 'reviewer', 'officer', 'bureau', 'admin'];
// screens whose content is a form to fill in (the audit log is looked up by object)
const FORMS = new Set(['/my/results/new', '/my/needs/new', '/contracts/new', '/verify', '/admin/audit']);
// list screens whose first item is opened too: route -> what the item page must show
const DETAILS = {
  '/inquiries': { link: 'main table tbody tr a[href^="#/inquiries/"]', check: inquiryShown },
  '/auctions': { link: 'main table tbody tr a[href^="#/results/"]', check: auctionShown },
  '/contracts': { link: 'main table tbody tr a[href^="#/contracts/"]' },
  '/registry': { link: 'main table tbody tr a[href^="#/registry/"]' },
  '/notices': { link: 'main .hit a[href^="#/results/"]' },
};

async function look(page) {
  return page.evaluate(() => {
    const main = document.querySelector('main');
    const vis = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
    const all = (sel) => [...main.querySelectorAll(sel)].filter(vis);
    const heads = all('h2').map((h) => h.textContent.trim());
    return {
      route: main.dataset.route,
      placeholders: all('.empty, [data-state=unavailable], .alert-error').map((e) => e.textContent.trim().slice(0, 60))
        .concat(heads.filter((h) => /页面不存在|无权访问|请先登录/.test(h))),
      rows: all('table tbody tr').length,
      items: all('.hit, .msg, .match, .kpi').length,
      fields: all('input:not([type=hidden]), textarea, select').length,
      charts: all('canvas, svg').length,
      unread: all('.badge').filter((b) => b.textContent.includes('未读')).length,
      kpiContracts: Number((main.querySelector('[data-testid=kpi-contracts]') || {}).textContent?.replace(/[^\d]/g, '') || 0),
    };
  });
}

function judge(s, where) {
  assert.deepEqual(s.placeholders, [], `${where}: shows an empty state or an error`);
  if (FORMS.has(s.route)) {
    assert.ok(s.fields >= 1, `${where}: a form screen without fields`);
  } else if (s.route === '/bureau') {
    assert.ok(s.kpiContracts > 0, `${where}: the dashboard shows no registered contract in its year`);
  } else if (s.route === '/notifications') {
    assert.ok(s.items >= 1, `${where}: no notification`);
    assert.ok(s.unread >= 1, `${where}: no unread notification`);
  } else {
    assert.ok(s.rows + s.items + s.charts >= 1, `${where}: no row, item or chart (${JSON.stringify(s)})`);
  }
}

async function inquiryShown(page, where) {
  const msgs = page.locator('main .messages .msg');
  assert.ok(await msgs.count() >= 2, `${where}: an inquiry with fewer than two messages`);
  assert.match(await page.locator('main .messages').innerText(), /报价/, `${where}: no price proposal in the thread`);
}
async function auctionShown(page, where) {
  const card = page.locator('main .auction');
  await card.waitFor();
  assert.match(await card.innerText(), /加价幅度/, `${where}: the result page shows no auction`);
}

for (const role of ROLES) {
  test(`first ten minutes: ${role} — every screen shows the demo data`, async () => {
    forgetSignIns();   // the journeys before this one signed these accounts in up to their limit
    // unread notifications for every account, straight from the API
    const token = await apiLogin(role);
    const unread = await apiGet('/notifications?unread=true&limit=5', token);
    assert.equal(unread.status, 200);
    assert.ok(unread.body.items.length >= 1, `${role}: no unread notification`);

    const b = await launch();
    const page = await b.page(DESKTOP);
    const seen = [];
    try {
      await signIn(page, role);
      await settle(page);
      const nav = await page.$$eval('nav.nav a', (as) => as.map((a) => a.getAttribute('href')));
      const screens = [...new Set([...nav, '#/notifications'])].filter((h) => h && h.startsWith('#/'));
      assert.ok(nav.length >= 3, `${role}: a navigation of at least three screens`);
      for (const href of screens) {
        const path = href.slice(1);
        await go(page, path);
        await settle(page);
        const s = await look(page);
        const where = `${role} ${path}`;
        seen.push(`${path} (${s.rows} rows, ${s.items} items)`);
        await shot(page, `journey-7-${role}${path.replace(/[^a-z0-9]+/gi, '-')}`.replace(/-$/, ''));
        judge(s, where);
        const d = DETAILS[s.route];
        if (d) {
          // the oldest on the page: the demo data's, not one an earlier journey just made
          const link = page.locator(d.link).last();
          const to = await link.getAttribute('href');
          await go(page, to.slice(1));
          await settle(page);
          const ds = await look(page);
          assert.deepEqual(ds.placeholders, [], `${role} ${to}: shows an empty state or an error`);
          if (d.check) await d.check(page, `${role} ${to}`);
          seen.push(`${to.slice(1)}`);
        }
      }
      // the phone: the same home screen, with its navigation
      await go(page, nav[0].slice(1));
      await page.setViewportSize(PHONE);
      await settle(page);
      judge(await look(page), `${role} ${nav[0].slice(1)} (phone)`);
      await shot(page, `journey-7-${role}-phone`);
      console.log(`# ${role}: ${seen.join(', ')}`);
      assert.deepEqual(b.errors, [], 'no script errors in the page');
    } catch (e) {
      await shot(page, `journey-7-${role}-FAILED`).catch(() => {});
      throw e;
    } finally {
      await b.close();
    }
  });
}

test('first ten minutes: deals under way in the demo data', async () => {
  // an active public notice with an objection waiting for the reviewer
  const notices = await apiGet('/notices?status=active');
  assert.equal(notices.status, 200);
  assert.ok(notices.body.items.some((n) => n.objections >= 1), 'an active notice with an objection');
  // live auctions with bids and an anti-sniping window
  const token = await apiLogin('enterprise');
  const results = await apiGet('/results?status=published&limit=100', token);
  const auctioned = results.body.items.filter((r) => r.pricing_mode === 'auction');
  assert.ok(auctioned.length >= 2, 'at least two results offered by auction');
  const auctions = [];
  for (const r of auctioned) auctions.push((await apiGet(`/results/${r.id}/auction`, token)).body);
  assert.ok(auctions.some((a) => a.status === 'open' && a.bids >= 2 && a.extension_window_s > 0), 'a live auction with bids');
  // open inquiries with price proposals from both sides
  const inq = await apiGet('/inquiries?status=open&limit=20', token);
  let both = false;
  for (const x of inq.body.items) {
    const t = (await apiGet('/inquiries/' + x.id, token)).body;
    const priced = new Set(t.messages.filter((m) => m.price_fen != null).map((m) => m.author_org_id));
    if (priced.has(t.seller.id) && priced.has(t.buyer.id)) both = true;
  }
  assert.ok(both, 'an open inquiry with price proposals from the seller and from the buyer');
});
