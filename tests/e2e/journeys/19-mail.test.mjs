// Journey 19 (e-mail) — a university user turns on 邮件通知 on 个人资料 (the
// address it goes to is shown), applies for registration, the officer returns
// the application for 补正 on its review screen, and the e-mail arrives at the
// SMTP sink run.sh started (E2E_MAIL_DIR): to that user, with the subject
// naming the event and the contract, the deadline and the link to the
// contract's page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, signIn, signOut, go, screen, todayCN, apiLogin, ACCOUNTS, BASE, forgetSignIns } from '../lib.mjs';

const MAIL_DIR = process.env.E2E_MAIL_DIR || '';

// The messages the sink stored: envelope, decoded subject and text.
function mails() {
  if (!MAIL_DIR) return [];
  return readdirSync(MAIL_DIR).filter((f) => f.endsWith('.eml')).map((f) => {
    const raw = readFileSync(join(MAIL_DIR, f)).toString('latin1');
    const env = JSON.parse(readFileSync(join(MAIL_DIR, f.replace(/\.eml$/, '.json')), 'utf8'));
    const cut = raw.indexOf('\r\n\r\n');
    const head = raw.slice(0, cut).replace(/\r\n[ \t]+/g, ' ');
    const subjRaw = (/^Subject: (.*)$/m.exec(head) || [])[1] || '';
    const bytes = [...subjRaw.matchAll(/=\?UTF-8\?B\?([^?]*)\?=/g)].map((m) => Buffer.from(m[1], 'base64'));
    return { ...env, head, subject: Buffer.concat(bytes).toString('utf8'),
      text: Buffer.from(raw.slice(cut + 4).replace(/\s+/g, ''), 'base64').toString('utf8') };
  });
}

async function waitFor(pred, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('mail: opt in on 个人资料 → officer returns for 补正 → the e-mail arrives with the deadline', { skip: !MAIL_DIR && 'run by tests/e2e/run.sh (E2E_MAIL_DIR)' }, async () => {
  forgetSignIns();
  const b = await launch();
  const page = await b.page();
  const stamp = Date.now();
  try {
    // --- the university user opts in on the profile screen ------------------------------------
    await signIn(page, 'university');
    await go(page, '/profile');
    const sw = page.locator('[data-testid=mail-switch]');
    await sw.waitFor();
    assert.equal(await page.locator('[data-testid=mail-address]').textContent(), ACCOUNTS.university);
    if (await sw.isChecked()) { await sw.uncheck(); await page.locator('.alert-success', { hasText: '已关闭邮件通知' }).waitFor(); }
    await screen(page, 'journey-19-mail-profile-off');
    await sw.check();
    await page.locator('.alert-success', { hasText: '已开启邮件通知' }).waitFor();
    assert.ok(await sw.isChecked());
    await screen(page, 'journey-19-mail-profile-on');
    // the choice is the server's, not only the page's
    const me = await (await fetch(BASE + '/api/v1/me', { headers: { Authorization: 'Bearer ' + await apiLogin('university') } })).json();
    assert.equal(me.email_notifications, true);

    // --- the university applies for registration -----------------------------------------------
    const title = `E2E 富硒茶饮料配方技术开发合同 ${stamp}`;
    await go(page, '/contracts/new');
    await page.fill('input[name=title]', title);
    await page.selectOption('select[name=contract_type]', 'development');
    await page.selectOption('select[name=contract_subtype]', 'commissioned_development');
    await page.fill('input[name=signed_on]', todayCN(-10));
    await page.fill('input[name=effective_on]', todayCN(-10));
    await page.fill('input[name=end_on]', todayCN(365));
    const buyer = page.locator('[data-party=buyer]');
    await buyer.locator('input[type=search]').fill('秦巴富硒');
    await buyer.locator('.org-hits li', { hasText: '四川巴中秦巴富硒茶业有限公司' }).getByRole('button', { name: '选择' }).click();
    await buyer.locator('[data-testid=buyer-name]').waitFor();
    await page.fill('input[name=contract_amount_fen]', '150000');
    await page.selectOption('select[name=domain]', 'agriculture');
    await page.selectOption('select[name=ip_type]', 'know_how');
    await page.selectOption('select[name=plan_source]', 'unplanned');
    await page.click('form button[type=submit]');
    await page.waitForURL(/#\/contracts\/\d+\?applied=1/);
    const id = /#\/contracts\/(\d+)/.exec(page.url())[1];
    await signOut(page);

    // --- the officer returns it for 补正 on its review screen -----------------------------------
    const before = mails().length;
    await signIn(page, 'officer');
    await go(page, `/registry/${id}`);
    const panel = page.locator('[data-panel=return]');
    await panel.waitFor();
    await panel.locator('textarea').fill('请补充技术交易额的计算依据');
    await screen(page, 'journey-19-mail-return');
    await panel.getByRole('button', { name: '退回补正' }).click();
    await page.locator('.alert', { hasText: '已退回申请人补正' }).waitFor();
    const token = await apiLogin('officer');
    const c = await (await fetch(`${BASE}/api/v1/contracts/${id}`, { headers: { Authorization: 'Bearer ' + token } })).json();
    assert.match(c.correction_due_on, /^\d{4}-\d{2}-\d{2}$/);

    // --- the e-mail reaches the sink -----------------------------------------------------------
    const got = await waitFor(() => mails().slice(before).filter((m) => m.subject.includes(title)), 20000, 'the 补正 e-mail');
    assert.equal(got.length, 1, 'one e-mail: only the user who opted in');
    const m = got[0];
    assert.deepEqual(m.rcpt, [ACCOUNTS.university]);
    assert.ok(m.tls, 'sent over STARTTLS');
    assert.match(m.subject, /^【驿站】技术合同退回补正：/);
    assert.ok(m.subject.includes(c.correction_due_on), 'the deadline is in the subject');
    assert.ok(m.text.includes(`补正期限：${c.correction_due_on}`), 'the deadline is in the text');
    assert.ok(m.text.includes('退回原因：请补充技术交易额的计算依据'));
    assert.ok(m.text.includes(`${BASE}/#/contracts/${id}`), 'the link opens the contract');
    assert.match(m.head, /^Message-ID: <yizhan-mail-\d+-\d+@demo\.yizhan\.cn>$/m);
    assert.match(m.head, /^Content-Type: text\/plain; charset=UTF-8$/m);
    await signOut(page);

    // --- off again: the demo account as it was ------------------------------------------------------
    await signIn(page, 'university');
    await go(page, '/profile');
    await sw.uncheck();
    await page.locator('.alert-success', { hasText: '已关闭邮件通知' }).waitFor();
  } finally {
    await b.close();
  }
});
