// Journey 5 — every screen of every role, as its person opens it from the
// navigation, on the desktop and on a phone: axe-core finds no critical or
// serious violation, the visible text has no English, and a screenshot of
// each is kept.  An anonymous visitor downloads none of the role screens and
// no chart library; ECharts comes only with the bureau's dashboard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signIn, signOut, screen, visit, shot, apiLogin, apiGet, visited, ACCOUNTS, PHONE, DESKTOP } from '../lib.mjs';

const ROLE_MODULES = /\/app\/pages\/(member|contracts|officer|bureau|admin|regulation|contract_search|closes)\.js/;

test('every screen: axe clean, Chinese only, desktop and phone', async () => {
  const b = await launch();
  const page = await b.page();
  const loaded = [];
  page.on('request', (r) => loaded.push(new URL(r.url()).pathname));
  try {
    // --- anonymous ---------------------------------------------------------------
    const anon = await apiGet('/search?limit=20');
    const result = anon.body.items.find((x) => x.kind === 'result');
    const need = anon.body.items.find((x) => x.kind === 'need') ||
      (await apiGet('/search?kind=need&limit=1')).body.items[0];
    await visit(page, '/', 'anon-home');
    await visit(page, '/?q=' + encodeURIComponent('茶') + '&kind=result', 'anon-search');
    if (result) await visit(page, '/results/' + result.id, 'anon-result');
    if (need) await visit(page, '/needs/' + need.id, 'anon-need');
    await visit(page, '/notices', 'anon-notices');
    await visit(page, '/verify', 'anon-verify');
    await visit(page, '/verify/2025-5119-0000', 'anon-verify-malformed');
    await page.locator('[data-testid=malformed]').waitFor();
    await visit(page, '/login', 'anon-login');
    await visit(page, '/signup', 'anon-signup');
    const roleModules = loaded.filter((p) => ROLE_MODULES.test(p) || /echarts/.test(p));
    assert.deepEqual(roleModules, [], 'an anonymous visitor loads no role screen and no chart library');

    // --- each role, each screen of its navigation -------------------------------------
    const tours = {
      university: ['/my/results', '/my/results/new', '/my/needs', '/my/needs/new', '/inquiries', '/contracts', '/contracts/new', '/notifications', '/auctions', '/profile'],
      enterprise: ['/my/needs', '/my/needs/new', '/inquiries', '/contracts', '/notifications', '/profile'],
      reviewer: ['/review', '/admin/orgs', '/notices', '/profile'],
      officer: ['/registry', '/registry/done', '/contracts', '/profile', '/search/contracts'],
      bureau: ['/bureau', '/bureau/targets', '/bureau/exports', '/bureau/subsidies', '/contracts', '/admin/audit', '/profile', '/search/contracts', '/bureau/closes'],
      admin: ['/admin/users', '/admin/orgs', '/admin/offices', '/admin/audit?entity=user&id=1', '/', '/review', '/registry', '/contracts', '/profile', '/admin/calendar', '/admin/settings', '/admin/codes'],
    };
    for (const [who, screens] of Object.entries(tours)) {
      await signIn(page, who);
      await screen(page, who + '-home');
      if (who === 'university') {
        // on a phone the navigation scrolls sideways and shows that it does
        await page.setViewportSize(PHONE);
        const wrap = page.locator('.nav-wrap');
        await page.waitForFunction(() => document.querySelector('.nav-wrap')?.dataset.scrolls === 'yes');
        assert.ok(await page.locator('.nav-more-right').isVisible(), 'an arrow shows there is more to the right');
        const before = await page.locator('nav.nav').evaluate((n) => n.scrollLeft);
        await page.locator('.nav-more-right').click();
        await page.waitForFunction((b) => document.querySelector('nav.nav').scrollLeft > b, before);
        await page.locator('.nav-more-left').waitFor();
        await shot(page, 'university-phone-nav');
        await page.setViewportSize(DESKTOP);
        // the arrow's smooth scroll may still run when the window widens: the
        // navigation measures itself again once it settles
        await page.waitForFunction(() => document.querySelector('.nav-wrap')?.dataset.scrolls === 'no', null, { timeout: 5000 }).catch(() => {});
        assert.equal(await wrap.getAttribute('data-scrolls'), 'no', 'on the desktop it fits');
      }
      for (const s of screens) await visit(page, s, who + s.replace(/\?.*/, '').replace(/\//g, '-'));
      if (who === 'officer') {
        // an application without its scan: registering it needs the reason, asked beside the field
        const tok = await apiLogin(who);
        const bare = (await apiGet('/registry/queue?limit=100', tok)).body.items.find((x) => x.attachments === 0);
        if (bare) {
          await visit(page, '/registry/' + bare.id, 'officer-review-without-scan');
          await page.locator('[data-testid=scan-status][data-scan=no]').waitFor();
          await page.locator('[data-panel=register] button', { hasText: '予以登记' }).click();
          const e = page.locator('[data-field=no_scan_reason] .field-error');
          await e.waitFor();
          assert.match(await e.textContent(), /此项为必填项/);
          await screen(page, 'officer-review-without-scan-refused');
          assert.equal((await apiGet('/contracts/' + bare.id, tok)).body.status, 'submitted', 'nothing registered');
        }
      }
      if (who === 'officer' || who === 'university') {
        // one contract of theirs, opened from the list
        const tok = await apiLogin(who);
        const list = (await apiGet('/contracts?limit=1', tok)).body.items;
        if (list.length) await visit(page, '/contracts/' + list[0].id, who + '-contract');
      }
      await signOut(page);
    }
    assert.ok(loaded.some((p) => /echarts/.test(p)), 'the dashboard loaded ECharts');
    assert.deepEqual(b.errors, [], 'no script errors in the page');
    console.log('# screens checked: ' + visited.length + ' (' + Object.keys(ACCOUNTS).length + ' accounts)');
  } catch (e) {
    await page.screenshot({ path: 'artifacts/journey-5-FAILED.png', fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
