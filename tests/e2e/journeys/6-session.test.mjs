// Journey 6 — the session: signed in once, a second tab and a reload stay
// signed in (the refresh token is an HttpOnly cookie no script can read, the
// access token lives in the page's memory); signing out in one tab signs out
// the others at their next request; too many wrong passwords lock the
// sign-in, and the message says in Chinese when to try again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signIn, signOut, go, screen, forgetSignIns, BASE, PASSWORD } from '../lib.mjs';

test('session: second tab and reload stay signed in; lock-out says when to retry', async () => {
  forgetSignIns();   // the lock-out below counts from zero, whatever the journeys before it signed in
  const b = await launch();
  const page = await b.page();
  try {
    await signIn(page, 'university');
    const cookies = await b.context.cookies();
    const rt = cookies.find((c) => c.name === 'yz_refresh');
    assert.ok(rt, 'the refresh token is a cookie');
    assert.equal(rt.httpOnly, true);
    assert.equal(rt.secure, true);
    assert.equal(rt.sameSite, 'Strict');
    assert.equal(rt.path, '/api/v1/auth');
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    assert.doesNotMatch(stored, /rt_|eyJ/, 'no token where a script can read it');

    // a second tab: signed in without the form
    const tab2 = await b.context.newPage();
    await tab2.goto(BASE + '/#/my/results');
    await tab2.locator('header .who-name').waitFor();
    assert.match(await tab2.textContent('header .who'), /退出/);
    await tab2.locator('main [data-route="/my/results"] , main .page-title h1').first().waitFor();
    await screen(tab2, 'journey-6-second-tab');

    // a reload of the first tab: still signed in
    await page.reload();
    await page.locator('header .who-name').waitFor();
    await go(page, '/contracts');
    await page.locator('main .page-title h1', { hasText: '技术合同' }).waitFor();

    // signing out in the first tab: the second tab is signed out at its next load
    await signOut(page);
    await tab2.reload();
    await tab2.locator('header a', { hasText: '登录' }).waitFor();
    await tab2.locator('main h2', { hasText: '请先登录' }).waitFor();
    await tab2.close();

    // wrong passwords until the account is locked; the message says when to retry
    const who = `lockout-${Date.now().toString(36)}@example.test`;
    const reg = await fetch(BASE + '/api/v1/auth/register', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: who, password: PASSWORD + '-x', display_name: '锁定测试', org: { name: '锁定测试个人', org_type: '400', region_code: '511902' } }),
    });
    assert.equal(reg.status, 201, await reg.text());
    await go(page, '/login');
    let locked = false;
    for (let i = 0; i < 15 && !locked; i++) {
      await page.fill('input[name=email]', who);
      await page.fill('input[name=password]', 'wrong-password-' + i);
      await Promise.all([page.waitForResponse((r) => r.url().endsWith('/auth/login')), page.click('form button[type=submit]')]);
      const msg = await page.locator('[data-testid=login-error]').textContent();
      locked = /登录失败次数过多/.test(msg);
      if (!locked) assert.match(msg, /邮箱或密码不正确/);
    }
    assert.ok(locked, 'the sign-in locks after repeated wrong passwords');
    const msg = await page.locator('[data-testid=login-error]').textContent();
    assert.match(msg, /请在 \d+ (秒|分钟|小时)后（约 \d{2}:\d{2}）再试/, msg);
    await screen(page, 'journey-6-locked');
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await page.screenshot({ path: 'artifacts/journey-6-FAILED.png', fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
