// Journey 3 — a university applies for registration of a technology contract,
// the registration officer registers it from the queue, the certificate
// opens, and the verification page (where its QR code points) shows it genuine;
// then an amendment is asked for, rejected with a note, and the note read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signIn, signOut, go, shot, screen, todayCN, PHONE, DESKTOP, BASE } from '../lib.mjs';

const PDF = '%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n';

test('contract: apply → officer registers from the queue → certificate verifies', async () => {
  const b = await launch();
  const page = await b.page();
  try {
    const title = `E2E 银耳多糖提取工艺技术开发合同 ${Date.now()}`;

    // --- the university fills in the contract -----------------------------------------
    await signIn(page, 'university');
    await go(page, '/contracts/new');
    await page.fill('input[name=title]', title);
    await page.selectOption('select[name=contract_type]', 'development');
    await page.selectOption('select[name=contract_subtype]', 'commissioned_development');
    await page.fill('input[name=signed_on]', todayCN(-10));
    await page.fill('input[name=effective_on]', todayCN(-10));
    await page.fill('input[name=end_on]', todayCN(-20));          // wrong on purpose: before it takes effect
    // the buyer: first typed by hand with a wrong credit code (the error sits beside the field, in Chinese),
    // then found on the platform by name, so that its members see the contract
    const buyer = page.locator('[data-party=buyer]');
    await buyer.getByRole('button', { name: '手工填写对方信息' }).click();
    await buyer.locator('input[name="buyer.name"]').fill('巴中市测试食品有限公司');
    await buyer.locator('select[name="buyer.org_type"]').selectOption('170');
    await buyer.locator('input[name="buyer.credit_code"]').fill('91511900MA62A8JX0X');
    await buyer.locator('select[aria-label="省/自治区/直辖市"]').selectOption('510000');
    await buyer.locator('select[aria-label="市/地区"]').selectOption('511900');
    await buyer.locator('select[aria-label="区/县"]').selectOption('511903');
    await page.getByRole('button', { name: '保存草稿' }).click();
    const ccErr = page.locator('[data-field="buyer.credit_code"] .field-error');
    await ccErr.waitFor();
    assert.match(await ccErr.textContent(), /统一社会信用代码不正确/);
    await screen(page, 'journey-3-contract-form-credit-code');
    await buyer.getByRole('button', { name: '改为在平台上查找' }).click();
    await buyer.locator('input[type=search]').fill('秦巴富硒');
    const hit = buyer.locator('.org-hits li', { hasText: '四川巴中秦巴富硒茶业有限公司' });
    await hit.waitFor();
    await screen(page, 'journey-3-contract-form-buyer-search');
    await hit.getByRole('button', { name: '选择' }).click();
    await buyer.locator('[data-testid=buyer-name]', { hasText: '四川巴中秦巴富硒茶业有限公司' }).waitFor();
    await page.fill('input[name=contract_amount_fen]', '128000');
    await page.click('text=＋ 添加非技术性费用');
    await page.locator('[data-field=non_technical_items] .row input[type=text]').first().fill('提取设备');
    await page.locator('[data-field=non_technical_items] .money-input input').first().fill('8000');
    assert.match(await page.textContent('[data-testid=technical-amount]'), /120,000\.00/);
    await page.selectOption('select[name=domain]', 'biomedicine');
    await page.selectOption('select[name=ip_type]', 'know_how');
    await page.selectOption('select[name=plan_source]', 'local');

    // the server's validation error appears beside the field
    await page.click('form button[type=submit]');
    const endErr = page.locator('[data-field=end_on] .field-error');
    await endErr.waitFor();
    assert.match(await endErr.textContent(), /早于生效日期/);
    await screen(page, 'journey-3-contract-form-errors');

    await page.fill('input[name=end_on]', todayCN(365));
    // saved as a draft, the signed scan attached, then the application; a second file after it
    await page.getByRole('button', { name: '保存草稿' }).click();
    await page.locator('.alert-success a', { hasText: '查看合同' }).click();
    await page.waitForURL(/#\/contracts\/\d+$/);
    const id = /#\/contracts\/(\d+)/.exec(page.url())[1];
    const upload = async (name) => {
      await page.setInputFiles('input[type=file]', { name, mimeType: 'application/pdf', buffer: Buffer.from(PDF) });
      await page.getByRole('button', { name: '上传', exact: true }).click();
      await page.locator('.card li a', { hasText: name }).waitFor();
    };
    await upload('技术开发合同（盖章版）.pdf');
    await page.getByRole('button', { name: '申请登记' }).click();
    await page.locator('.badge[data-status=submitted]').first().waitFor();
    await upload('补充说明.pdf');                                          // after submission
    await screen(page, 'journey-3-contract-submitted');
    await signOut(page);

    // --- the buyer sees the contract it is a party to ------------------------------------------
    await signIn(page, 'enterprise');
    await go(page, '/contracts');
    await page.locator(`tr[data-id="${id}"]`).waitFor();
    await signOut(page);

    // --- the officer registers it from the queue ---------------------------------------------
    await signIn(page, 'officer');
    assert.match(page.url(), /#\/registry$/);
    const row = page.locator(`table.queue tr[data-id="${id}"]`);
    await row.waitFor();
    assert.match(await row.textContent(), /E2E 银耳多糖/);
    assert.equal(await row.locator('[data-flag=no_scan]').count(), 0, 'its scan is attached');
    await screen(page, 'journey-3-registry-queue');
    await row.locator('a.btn', { hasText: '审查' }).click();
    await page.waitForURL(new RegExp(`#/registry/${id}$`));
    await page.locator('[data-panel=refuse] select[name=ground] option').nth(3).waitFor({ state: 'attached' });
    await page.locator('[data-testid=scan-status][data-scan=yes]').waitFor();    // the officer sees the scan
    assert.equal(await page.locator('[data-panel=register] textarea[name=no_scan_reason]').count(), 0);
    await screen(page, 'journey-3-review');
    await page.locator('[data-panel=register] button', { hasText: '予以登记' }).click();
    const regNo = (await page.locator('[data-testid=registered] [data-testid=registration-no]').textContent()).trim();
    assert.match(regNo, /^\d{4}511900\d{6}$/, 'registration number = year + office region + serial');

    // --- the certificate, printable, with its QR code ------------------------------------------------
    await page.click('text=打印登记证明');
    await page.waitForURL(new RegExp(`#/certificate/${id}$`));
    const frame = page.frameLocator('iframe.cert-frame');
    await frame.locator('h1', { hasText: '技术合同登记证明' }).waitFor();
    assert.match(await frame.locator('body').textContent(), new RegExp(regNo));
    assert.ok(await frame.locator('.qr svg').count(), 'the certificate carries a QR code');
    const printed = await frame.locator('body').textContent();
    assert.match(printed, /128,000\.00 元（人民币壹拾贰万捌仟元整）/, 'the amount in figures and in 大写');
    assert.match(printed, /核验方法/);
    assert.doesNotMatch(printed, /"signature"|"payload"/, 'no raw JSON on the printed certificate');
    await screen(page, 'journey-3-certificate');

    // --- verification: the QR code's address, signature checked -------------------------------------
    await page.click('[data-testid=verify-this]');
    await page.waitForURL(new RegExp(`#/verify/${regNo}$`));
    const verdict = page.locator('[data-testid=verdict]');
    await verdict.waitFor();
    assert.equal(await verdict.getAttribute('data-valid'), 'true');
    assert.match(await verdict.textContent(), /证明真实有效/);
    await page.locator('[data-testid=facts][data-status=registered]').waitFor();
    const certText = await page.inputValue('textarea[name=certificate]');

    // anyone, signed out, opening the QR code's address on a phone
    await signOut(page);
    await page.setViewportSize(PHONE);
    await page.goto(`${BASE}/#/verify/${regNo}`);
    await page.locator('[data-testid=facts][data-status=registered]').waitFor();
    assert.match(await page.textContent('[data-testid=facts]'), /已登记/);
    // a tampered certificate fails
    const tampered = certText.replace(/"contract_amount_fen":(\d+)/, (_, n) => `"contract_amount_fen":${Number(n) + 100}`);
    assert.notEqual(tampered, certText);
    await page.fill('textarea[name=certificate]', tampered);
    await page.getByRole('button', { name: '核验签名' }).click();
    await page.locator('[data-testid=verdict][data-valid=false]').waitFor();
    await shot(page, 'journey-3-verify-tampered-phone');
    // and the genuine one passes
    await page.fill('textarea[name=certificate]', certText);
    await page.getByRole('button', { name: '核验签名' }).click();
    await page.locator('[data-testid=verdict][data-valid=true]').waitFor();
    await screen(page, 'journey-3-verify');
    await page.setViewportSize(DESKTOP);

    // --- an amendment asked for, rejected with a note the university then reads ---------------------
    await signIn(page, 'university');
    await go(page, `/contracts/${id}`);
    await page.getByRole('button', { name: '申请变更登记' }).click();
    const ask = page.locator('section.card', { hasText: '变更后的合同成交额' });
    await ask.locator('textarea').fill('补充协议增加检测服务');
    await ask.getByRole('button', { name: '提交申请' }).click();
    await page.locator('.alert', { hasText: '有待登记机构确认的变更申请' }).waitFor();
    await signOut(page);
    await signIn(page, 'officer');
    await go(page, `/contracts/${id}`);
    const decide = page.locator('section.card', { hasText: '确认变更登记' });
    await decide.locator('textarea').fill('请先上传双方签章的补充协议');
    await decide.getByRole('button', { name: '驳回' }).click();
    await page.locator('[data-testid=changes] tr[data-status=rejected]').waitFor();
    await signOut(page);
    await signIn(page, 'university');
    await go(page, `/contracts/${id}`);
    const rejected = page.locator('[data-testid=changes] tr[data-status=rejected]');
    await rejected.waitFor();
    assert.match(await rejected.textContent(), /已驳回.*请先上传双方签章的补充协议/);
    assert.equal(await page.locator('.alert', { hasText: '有待登记机构确认' }).count(), 0);
    await screen(page, 'journey-3-amendment-rejected');
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-3-FAILED').catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
