// Journey 8 — a new organisation signs itself up (a wrong credit code first:
// the error sits beside the field, in Chinese), lands signed in on its
// account page, publishes its first research result, the reviewer verifies
// the organisation and approves the result, and anyone finds it.  The new
// user invites a colleague, who joins with the invitation code, and changes
// the password (a wrong current password first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signIn, signOut, go, screen, visit, apiLogin, apiGet, creditCode, BASE } from '../lib.mjs';

test('sign-up: new organisation → first published result; invitation; password change', async () => {
  const b = await launch();
  const page = await b.page();
  try {
    const tag = Date.now().toString(36);
    const email = `keyan-${tag}@example.test`;
    const password = 'Signup-' + tag + '-pw';
    const orgName = `巴中市农业科学研究院${tag}`;
    const cc = creditCode('12');

    // --- the sign-up form, from the sign-in page -------------------------------------------------
    await go(page, '/login');
    await page.getByRole('link', { name: '注册单位账号' }).click();
    await page.waitForURL(/#\/signup$/);
    await screen(page, 'journey-8-signup');
    await page.fill('input[name=display_name]', '王研究员');
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', password);
    await page.fill('input[name=password2]', password);
    await page.fill('input[name="org.name"]', orgName);
    await page.selectOption('select[name="org.org_type"]', '021');
    await page.fill('input[name="org.credit_code"]', cc.wrong);       // a wrong check character
    await page.locator('[data-field="org.region_code"] select[aria-label="省/自治区/直辖市"]').selectOption('510000');
    await page.locator('[data-field="org.region_code"] select[aria-label="市/地区"]').selectOption('511900');
    await page.locator('[data-field="org.region_code"] select[aria-label="区/县"]').selectOption('511902');
    await page.getByLabel('是国有高校或科研院所').check();
    await page.getByRole('button', { name: '注册并登录' }).click();
    const ccErr = page.locator('[data-field="org.credit_code"] .field-error');
    await ccErr.waitFor();
    assert.match(await ccErr.textContent(), /统一社会信用代码不正确/);
    await screen(page, 'journey-8-signup-errors');
    await page.fill('input[name="org.credit_code"]', cc.good);
    await page.getByRole('button', { name: '注册并登录' }).click();
    await page.waitForURL(/#\/profile\?welcome=org$/);
    await page.locator('.alert-success', { hasText: '注册成功' }).waitFor();
    assert.match(await page.textContent('header .who'), new RegExp(orgName));
    assert.match(await page.textContent('main'), /待认证/);
    await screen(page, 'journey-8-profile');

    // --- an invitation for a colleague --------------------------------------------------------------
    await page.getByRole('button', { name: '生成邀请码' }).click();
    const code = (await page.locator('[data-testid=invitation] code').textContent()).trim();
    assert.match(code, /^inv_/);

    // --- its first research result ----------------------------------------------------------------------
    await page.getByRole('link', { name: '填写第一项科技成果' }).click();
    await page.waitForURL(/#\/my\/results\/new$/);
    const title = `巴山富硒茶良种繁育技术 ${tag}`;
    await page.fill('input[name=title]', title);
    await page.fill('textarea[name=summary]', '选育适合巴中山区的富硒茶良种，建立扦插快繁体系，成活率 92%，已在南江、通江示范推广 300 亩。');
    await page.fill('input[name=keywords]', `富硒茶，良种繁育，${tag}`);
    await page.selectOption('select[name=domain]', 'agriculture');
    await page.selectOption('select[name=trl]', '7');
    await page.locator('[data-field=transfer_modes] input[value=licence]').check();
    await page.getByRole('button', { name: '＋ 添加知识产权' }).click();
    await page.getByLabel('知识产权第 1 项：编号').fill('ZL2023 1 0123456.5');      // wrong check digit
    await page.getByLabel('知识产权第 1 项：状态').selectOption('granted');
    await page.locator('.alert-warn', { hasText: '尚未通过平台认证' }).waitFor();     // a draft until verified
    await page.getByRole('button', { name: '保存草稿' }).click();
    const ipErr = page.locator('[data-field="ip_records.0.number"] .field-error');
    await ipErr.waitFor();
    assert.match(await ipErr.textContent(), /编号不正确/);
    assert.match(await page.textContent('.error-summary'), /知识产权第 1 项：编号/);
    await screen(page, 'journey-8-result-errors');
    // the form's own example passes the server's check digit; the status is a choice of the server's three
    const example = /如 (.+)$/.exec(await page.getByLabel('知识产权第 1 项：编号').getAttribute('placeholder'))[1];
    assert.equal(example, 'ZL2023 1 0123456.6');
    assert.deepEqual(await page.getByLabel('知识产权第 1 项：状态').locator('option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean)),
      ['filed', 'granted', 'lapsed']);
    await page.getByLabel('知识产权第 1 项：编号').fill(example);
    await page.getByRole('button', { name: '保存草稿' }).click();
    const saved = page.locator('.alert-success', { hasText: '草稿已保存' });
    await saved.waitFor();
    const resultId = /编号 (\d+)/.exec(await saved.textContent())[1];
    await signOut(page);

    // --- the reviewer verifies the organisation --------------------------------------------------------------
    await signIn(page, 'reviewer');
    await go(page, '/admin/orgs');
    const tok = await apiLogin('reviewer');
    const org = (await apiGet('/orgs?q=' + encodeURIComponent(orgName), tok)).body.items[0];
    const orgRow = page.locator(`.org-row[data-id="${org.id}"]`);
    await orgRow.waitFor();
    await screen(page, 'journey-8-reviewer-orgs');
    await orgRow.getByRole('button', { name: '认证通过' }).click();
    await page.locator(`.org-row[data-id="${org.id}"][data-status=verified]`).waitFor();
    await signOut(page);

    // --- the organisation submits its draft; the reviewer approves it ---------------------------------------
    await signIn(page, email, password);
    await go(page, '/my/results');
    await page.locator(`tr[data-id="${resultId}"] .badge[data-status=draft]`).waitFor();
    await screen(page, 'journey-8-my-results-draft');
    await go(page, '/results/' + resultId);
    await page.getByRole('button', { name: '提交审核' }).click();
    await page.locator('.page-title .badge[data-status=submitted]').waitFor();
    await signOut(page);
    await signIn(page, 'reviewer');
    await go(page, '/review');
    const row = page.locator(`tr[data-id="${resultId}"]`);
    await row.waitFor();
    await row.getByRole('button', { name: '通过' }).click();
    await page.locator('.alert-success').waitFor();
    await signOut(page);

    // --- anyone finds it --------------------------------------------------------------------------------
    await visit(page, '/?q=' + encodeURIComponent(tag), 'journey-8-search');
    await page.locator(`.hit[data-kind=result][data-id="${resultId}"]`).waitFor();

    // --- the colleague joins with the invitation code ----------------------------------------------------
    await go(page, '/signup');
    await page.getByRole('tab', { name: '凭邀请码加入本单位' }).click();
    await page.fill('input[name=display_name]', '李助理');
    await page.fill('input[name=email]', `colleague-${tag}@example.test`);
    await page.fill('input[name=password]', password);
    await page.fill('input[name=password2]', password);
    await page.fill('input[name=invitation_code]', code);
    await page.getByRole('button', { name: '注册并登录' }).click();
    await page.waitForURL(/#\/profile\?welcome=invite$/);
    assert.match(await page.textContent('header .who'), new RegExp(orgName));
    await signOut(page);

    // --- the password: a wrong current one, then changed; the new one signs in ---------------------------------
    await signIn(page, email, password);
    await go(page, '/profile');
    await page.fill('input[name=current_password]', 'not-my-password');
    await page.fill('input[name=new_password]', password + '-new');
    await page.fill('input[name=again]', password + '-new');
    await page.getByRole('button', { name: '修改密码' }).click();
    const cur = page.locator('[data-field=current_password] .field-error');
    await cur.waitFor();
    assert.match(await cur.textContent(), /当前密码不正确/);
    await screen(page, 'journey-8-password-error');
    await page.fill('input[name=current_password]', password);
    await page.getByRole('button', { name: '修改密码' }).click();
    await page.waitForURL(/#\/login\?changed=1$/);
    await page.locator('.alert-success', { hasText: '密码已修改' }).waitFor();
    const r = await fetch(BASE + '/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password: password + '-new' }) });
    assert.equal(r.status, 200, 'the new password signs in');
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await page.screenshot({ path: 'artifacts/journey-8-FAILED.png', fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
