// Journey 20 (tax rules and roles) — the tax rules and the parties' roles, as the people see them:
// the university applies for a know-how transfer (已享受财政资金补贴, not
// related) and for a consulting contract that serves it; the officer registers
// both, writing the 核定 note on the transfer; the certificate names the parties
// 让与方 / 受让方 with the term, the domain and the note; the bureau's tax estimate
// says why the transfer has VAT but no income-tax relief and why the
// consulting contract is VAT-exempt, with the rules' sources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signIn, signOut, go, shot, screen, todayCN } from '../lib.mjs';

async function fillContract(page, { title, type, subtype, amount, domain, ip }) {
  await go(page, '/contracts/new');
  await page.fill('input[name=title]', title);
  await page.selectOption('select[name=contract_type]', type);
  await page.selectOption('select[name=contract_subtype]', subtype);
  await page.fill('input[name=signed_on]', todayCN(-10));
  await page.fill('input[name=effective_on]', todayCN(-10));
  await page.fill('input[name=end_on]', todayCN(400));
  const buyer = page.locator('[data-party=buyer]');
  await buyer.locator('input[type=search]').fill('秦巴富硒');
  const hit = buyer.locator('.org-hits li', { hasText: '四川巴中秦巴富硒茶业有限公司' });
  await hit.getByRole('button', { name: '选择' }).click();
  await buyer.locator('[data-testid=buyer-name]').waitFor();
  await page.fill('input[name=contract_amount_fen]', amount);
  await page.selectOption('select[name=domain]', domain);
  await page.selectOption('select[name=ip_type]', ip);
  await page.selectOption('select[name=plan_source]', 'unplanned');
}

test('tax rules and roles: know-how transfer, related consulting, 核定 note, estimate', async () => {
  const b = await launch();
  const page = await b.page();
  const stamp = Date.now();
  try {
    // --- the university applies for the transfer and for the consulting that serves it -------
    await signIn(page, 'university');
    const tTitle = `E2E 富硒茶加工技术秘密转让合同 ${stamp}`;
    await fillContract(page, { title: tTitle, type: 'transfer', subtype: 'know_how_transfer', amount: '300000', domain: 'agriculture', ip: 'know_how' });
    // the party titles follow the contract type: 让与方 / 受让方
    await page.locator('[data-party=seller] h3', { hasText: '让与方' }).waitFor();
    await page.locator('[data-party=buyer] h3', { hasText: '受让方' }).waitFor();
    await page.selectOption('select[name=related_party]', 'none');
    await page.check('input[name=fiscal_subsidy]');
    assert.equal(await page.locator('select[name=related_contract_id]').count(), 0, 'a transfer names no related contract');
    await screen(page, 'journey-20-tax-transfer-form');
    await page.click('form button[type=submit]');
    await page.waitForURL(/#\/contracts\/\d+\?applied=1/);
    const transferId = /#\/contracts\/(\d+)/.exec(page.url())[1];
    const facts = page.locator('.facts');
    await facts.filter({ hasText: '已享受财政资金补贴' }).first().waitFor();

    const cTitle = `E2E 富硒茶加工技术咨询合同 ${stamp}`;
    await fillContract(page, { title: cTitle, type: 'consulting', subtype: 'technical_consulting', amount: '20000', domain: 'agriculture', ip: 'none' });
    await page.locator('[data-party=seller] h3', { hasText: '受托方' }).waitFor();
    const rel = page.locator('select[name=related_contract_id]');
    await rel.locator(`option[value="${transferId}"]`).waitFor({ state: 'attached' });
    await rel.selectOption(transferId);
    await screen(page, 'journey-20-tax-consulting-form');
    await page.click('form button[type=submit]');
    await page.waitForURL(/#\/contracts\/\d+\?applied=1/);
    const consultingId = /#\/contracts\/(\d+)/.exec(page.url())[1];
    await page.locator(`.facts a[href="#/contracts/${transferId}"]`).waitFor();
    await signOut(page);

    // --- the officer registers both; the transfer with the 核定 note ----------------------
    await signIn(page, 'officer');
    const note = `核定技术交易额 300,000 元；技术秘密转让不属于企业所得税技术转让所得范围（${stamp}）`;
    for (const id of [transferId, consultingId]) {
      await go(page, `/registry/${id}`);
      const panel = page.locator('[data-panel=register]');
      await panel.waitFor();
      if (id === transferId) {
        await panel.locator('textarea[name=note]').fill(note);
        await screen(page, 'journey-20-tax-register-with-note');
      }
      // no scan of the signed contract was attached: the officer says why it is registered anyway
      const noScan = panel.locator('textarea[name=no_scan_reason]');
      if (await noScan.count()) await noScan.fill('已当面核验签章合同原件');
      await panel.locator('button', { hasText: '予以登记' }).click();
      await page.locator('[data-testid=registered]').waitFor();
    }

    // --- the certificate: roles, term, domain, note ------------------------------------------
    await go(page, `/certificate/${transferId}`);
    const frame = page.frameLocator('iframe.cert-frame');
    await frame.locator('h1', { hasText: '技术合同登记证明' }).waitFor();
    const cert = await frame.locator('body').textContent();
    assert.match(cert, /让与方（卖方）/);
    assert.match(cert, /受让方（买方）/);
    assert.match(cert, new RegExp(`${todayCN(-10)} 至 ${todayCN(400)}`));
    assert.match(cert, /技术领域农业/);
    assert.ok(cert.includes(note), 'the 核定 note is printed');
    await screen(page, 'journey-20-tax-certificate');
    await signOut(page);

    // --- the bureau's tax estimate ------------------------------------------------------------
    await signIn(page, 'bureau');
    await go(page, '/bureau/subsidies');
    await page.getByRole('tab', { name: '税收优惠估算' }).click();
    const rules = page.locator('[data-testid=tax-assumptions]');
    await rules.waitFor();
    assert.match(await rules.textContent(), /财税〔2016〕36号/);
    assert.match(await rules.textContent(), /财税〔2010〕111号/);
    assert.match(await rules.textContent(), /技术交易额（不含设备/);
    const row = page.locator('tr[data-seller]', { hasText: '巴中职业技术学院' });
    await row.waitFor();
    await row.getByRole('button', { name: '逐份合同' }).click();
    const detail = page.locator('tr.detail');
    const tRow = detail.locator(`tr[data-contract="${transferId}"]`);
    await tRow.waitFor();
    assert.equal(await tRow.locator('td[data-vat]').getAttribute('data-vat'), 'exempt_type');
    assert.equal(await tRow.locator('td[data-cit]').getAttribute('data-cit'), 'ip_not_qualifying');
    assert.match(await tRow.textContent(), /不在优惠范围/);
    const cRow = detail.locator(`tr[data-contract="${consultingId}"]`);
    assert.equal(await cRow.locator('td[data-vat]').getAttribute('data-vat'), 'related_to_exempt_contract');
    await screen(page, 'journey-20-tax-tax-estimate');
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-20-tax-FAILED').catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
