// Journey 7 — the administrator: creates a registration officer's account
// (bad input first: the errors sit beside the fields, in Chinese), finds it by
// search, moves it to another role, disables it (the account can no longer
// sign in); verifies a pending organisation and edits it; opens a registry
// office for a city no office serves and sees the coverage change; reads an
// organisation's audit history and checks the audit chain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signIn, signOut, go, screen, visit, apiLogin, apiGet, BASE } from '../lib.mjs';

const uniq = () => Date.now().toString(36) + Math.floor(Math.random() * 1e4).toString(36);

test('admin: users, organisations, registry offices, audit', async () => {
  const b = await launch();
  const page = await b.page();
  try {
    const tag = uniq();
    const email = `officer-${tag}@example.test`;
    await signIn(page, 'admin');
    assert.match(page.url(), /#\/admin\/users$/);
    await screen(page, 'journey-7-users');

    // --- a new officer: bad input first ------------------------------------------------------
    await page.getByRole('button', { name: '＋ 新建账号' }).click();
    await page.fill('input[name=email]', email);
    await page.fill('input[name=display_name]', '新登记员' + tag);
    await page.selectOption('select[name=role]', 'officer');
    await page.fill('input[name=password]', 'short');
    await page.getByRole('button', { name: '创建账号' }).click();
    const officeErr = page.locator('[data-field=office_id] .field-error');
    await officeErr.waitFor();
    assert.match(await officeErr.textContent(), /登记员须选择登记机构/);
    await page.selectOption('select[name=office_id]', { label: '巴中市科学技术局技术合同登记处' });
    await page.getByRole('button', { name: '创建账号' }).click();
    const pwErr = page.locator('[data-field=password] .field-error');
    await pwErr.waitFor();
    assert.match(await pwErr.textContent(), /密码长度应为 10 至 128 个字符/);
    await screen(page, 'journey-7-user-create-errors');
    const password = 'Officer-' + tag + '-pw';
    await page.fill('input[name=password]', password);
    await page.getByRole('button', { name: '创建账号' }).click();
    await page.waitForURL(/#\/admin\/users\/\d+\?created=1$/);
    const userId = /users\/(\d+)/.exec(page.url())[1];
    await page.locator('.alert-success', { hasText: '账号已创建' }).waitFor();

    // --- found by search; the new account signs in -----------------------------------------------
    await go(page, '/admin/users');
    await page.fill('input[name=q]', tag);
    await page.getByRole('button', { name: '查找' }).click();
    const row = page.locator(`[data-testid=users] tr[data-id="${userId}"]`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=users] tbody tr').length === 1);
    await row.waitFor();
    assert.match(await row.textContent(), /登记员.*巴中市科学技术局技术合同登记处.*启用/);
    assert.equal(await page.locator('[data-testid=users] tbody tr').count(), 1, 'the search finds exactly the new account');
    await screen(page, 'journey-7-users-search');
    const login = async () => fetch(BASE + '/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password }) });
    assert.equal((await login()).status, 200, 'the new officer can sign in');

    // --- another role, then disabled ------------------------------------------------------------------
    await row.getByRole('link', { name: '编辑' }).click();
    await page.waitForURL(new RegExp(`#/admin/users/${userId}$`));
    await page.selectOption('select[name=role]', 'bureau');
    await page.getByRole('button', { name: '保存' }).click();
    await page.locator('[data-field=region_code] .field-error', { hasText: '须选择管辖地区' }).waitFor();
    await page.locator('[data-field=region_code] select[aria-label="省/自治区/直辖市"]').selectOption('510000');
    await page.locator('[data-field=region_code] select[aria-label="市/地区"]').selectOption('511900');
    await page.getByRole('button', { name: '保存' }).click();
    await page.locator('.alert-success', { hasText: '已保存' }).waitFor();
    const tok = await apiLogin('admin');
    let u = (await apiGet('/users/' + userId, tok)).body;
    assert.equal(u.role, 'bureau');
    assert.equal(u.region_code, '511900');
    await page.getByRole('button', { name: '停用账号' }).click();
    await page.locator('.fact', { hasText: '已停用' }).waitFor();
    u = (await apiGet('/users/' + userId, tok)).body;
    assert.equal(u.active, false);
    assert.equal((await login()).status, 401, 'a disabled account cannot sign in');
    await screen(page, 'journey-7-user-disabled');

    // --- a pending organisation verified, then edited ---------------------------------------------------
    const reg = await fetch(BASE + '/api/v1/auth/register', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: `org-${tag}@example.test`, password: 'Registrant-' + tag, display_name: '注册人',
        org: { name: `巴中待认证科技有限公司${tag}`, org_type: '400', region_code: '511902' } }),
    });
    const regBody = await reg.json();
    assert.equal(reg.status, 201, JSON.stringify(regBody));
    const orgId = regBody.org.id;
    await go(page, '/admin/orgs');
    const orgRow = page.locator(`.org-row[data-id="${orgId}"]`);
    await orgRow.waitFor();
    await screen(page, 'journey-7-orgs-pending');
    await orgRow.getByRole('button', { name: '退回' }).click();
    await orgRow.locator('.field-error', { hasText: '此项为必填项' }).waitFor();     // rejecting needs a note
    await orgRow.getByRole('button', { name: '认证通过' }).click();
    await page.locator(`.org-row[data-id="${orgId}"][data-status=verified]`).waitFor();
    assert.equal((await apiGet('/orgs/' + orgId, tok)).body.status, 'verified');
    await go(page, '/admin/orgs/' + orgId);
    await page.fill('input[name=contact_phone]', '0827-5550123');
    await page.fill('input[name=website]', 'not a web address');
    await page.getByRole('button', { name: '保存' }).click();
    await page.locator('[data-field=website] .field-error').waitFor();
    await screen(page, 'journey-7-org-edit-error');
    await page.fill('input[name=website]', 'https://example.com');
    await page.getByRole('button', { name: '保存' }).click();
    await page.locator('.alert-success', { hasText: '已保存' }).waitFor();
    assert.equal((await apiGet('/orgs/' + orgId, tok)).body.contact_phone, '0827-5550123');

    // --- a registry office for a city without one; the coverage shows it ------------------------------------
    const offices = (await apiGet('/offices', tok)).body.items;
    const henan = (await apiGet('/codes/regions?parent=410000', tok)).body.items;
    const covered = (code) => offices.some((o) => o.active && (o.region_code === code || code.startsWith(o.region_code.replace(/0+$/, '')) && o.region_code !== '000000'));
    const city = henan.find((c) => !covered(c.code));
    assert.ok(city, 'a city of Henan has no office');
    await go(page, '/admin/offices');
    await page.locator('[data-testid=offices]').waitFor();
    await page.getByLabel('省份').selectOption({ label: '河南省' });
    await page.locator(`[data-testid=coverage] tr[data-code="${city.code}"][data-covered=no]`).waitFor();
    await page.getByRole('button', { name: '＋ 新建登记机构' }).click();
    await page.getByRole('button', { name: '保存' }).click();        // empty: refused, nothing made
    await page.locator('.error-summary, .alert-error').first().waitFor();
    await page.fill('input[name=name]', `${city.name}技术合同登记处`);
    await page.locator('[data-field=region_code] select[aria-label="省/自治区/直辖市"]').selectOption('410000');
    await page.locator('[data-field=region_code] select[aria-label="市/地区"]').selectOption(city.code);
    await page.getByRole('button', { name: '保存' }).click();
    await page.locator('[data-testid=offices] td', { hasText: `${city.name}技术合同登记处` }).waitFor();
    await page.locator(`[data-testid=coverage] tr[data-code="${city.code}"][data-covered=yes]`).waitFor();
    await screen(page, 'journey-7-offices');

    // --- the audit log, newest first: the screen opens with the latest entries ----------------------------------
    const latest = (await apiGet('/audit?limit=30', tok)).body.items.map((a) => Number(a.id));
    await visit(page, '/admin/audit', 'journey-7-audit-latest');
    await page.locator('[data-testid=audit] tbody tr').first().waitFor();
    const onScreen = await page.locator('[data-testid=audit] tbody tr').evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-id'))));
    assert.ok(latest.length > 0 && onScreen[0] >= latest[0], 'the newest entry first');
    assert.deepEqual([...onScreen].sort((x, y) => y - x), onScreen, 'newest first, all the way down');

    // --- the audit trail of the organisation, and the chain ------------------------------------------------------
    await visit(page, `/admin/audit?entity=org&id=${orgId}`, 'journey-7-audit');
    const entries = page.locator('[data-testid=audit] tbody tr');
    await entries.first().waitFor();
    assert.ok(await entries.count() >= 3, 'created, verified, updated');
    assert.match(await page.textContent('[data-testid=audit]'), /认证通过[\s\S]*联系电话：.*0827-5550123/);
    await page.getByRole('button', { name: '校验审计链' }).click();
    const chain = page.locator('[data-testid=chain]');
    await chain.waitFor();
    assert.equal(await chain.getAttribute('data-valid'), 'true');
    await screen(page, 'journey-7-audit-chain');
    await signOut(page);
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await page.screenshot({ path: 'artifacts/journey-7-FAILED.png', fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
