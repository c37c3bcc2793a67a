// Journey 20 (awards) — the registers and the awards by institution level, as the bureau sees them:
// the 巴中 bureau opens 示范机构与经纪人登记, finds last year's recognitions (the Qinba
// technology-transfer company, provincial), enters a city-level recognition for a company (a
// missing field answered in Chinese beside it first), withdraws it with a reason (it stays, marked
// 已撤销); finds the demo broker with his certificate and enters a training; then runs the 巴中
// demo policy on 后补助: the provincial institution gets its fixed 10 万元 with the recognition as the
// reason, and the table of net changes per party shows each party's award before, now and the change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signIn, go, shot, screen, forgetSignIns } from '../lib.mjs';

test('awards: registers of institutions and brokers, fixed awards by level, net change per party', async () => {
  forgetSignIns();
  const b = await launch();
  const page = await b.page();
  const stamp = Date.now();
  try {
    await signIn(page, 'bureau');
    await go(page, '/bureau/registers');
    const inst = page.locator('table[data-register=institutions]');
    await inst.waitFor();
    const qinba = inst.locator('tr', { hasText: '巴中市秦巴技术转移服务有限公司' });
    await qinba.first().waitFor();
    assert.match(await qinba.first().textContent(), /省级技术转移示范机构/);
    assert.match(await qinba.first().textContent(), /四川省科学技术厅/);
    await screen(page, 'journey-20-awards-institutions');

    // --- enter a recognition: the evidence is missing first, said beside the field ---------------
    await page.getByRole('button', { name: '＋ 登记认定' }).click();
    const form = page.locator('[data-form=recognition]');
    await form.locator('input[name=org_search]').fill('九鼎');
    const hit = form.locator('.org-hits li', { hasText: '巴中九鼎生物医药股份有限公司' });
    await hit.getByRole('button', { name: '选择' }).click();
    await form.locator('[data-picked]').waitFor();
    await form.locator('select[name=level]').selectOption('city');
    await form.locator('input[name=recognised_by]').fill('巴中市科学技术局');
    await form.locator('input[name=document_no]').fill(`巴科发〔E2E〕${stamp}号`);
    await form.getByRole('button', { name: '保存登记' }).click();
    const evidence = form.locator('[data-field=evidence] .field-error');
    await evidence.waitFor();
    assert.match(await evidence.textContent(), /[\u4e00-\u9fff]/);
    await screen(page, 'journey-20-awards-recognition-error');
    await form.locator('input[name=evidence]').fill('巴中市科学技术局关于认定市级技术转移示范机构的通知');
    await form.getByRole('button', { name: '保存登记' }).click();
    const row = inst.locator('tr', { hasText: `巴科发〔E2E〕${stamp}号` });
    await row.waitFor();
    assert.match(await row.textContent(), /市级技术转移示范机构/);
    assert.match(await row.textContent(), /有效/);

    // --- withdraw it with a reason: it stays in the register ------------------------------------
    await row.getByRole('button', { name: '撤销登记' }).click();
    await row.locator('input[name=reason]').fill('认定文号录入有误');
    await row.getByRole('button', { name: '确认撤销' }).click();
    await inst.locator('tr', { hasText: `巴科发〔E2E〕${stamp}号` }).filter({ hasText: '已撤销' }).waitFor();
    assert.match(await inst.locator('tr', { hasText: `巴科发〔E2E〕${stamp}号` }).textContent(), /认定文号录入有误/);
    await screen(page, 'journey-20-awards-withdrawn');

    // --- the broker: certified; a training entered ------------------------------------------------
    await page.getByRole('tab', { name: '技术经纪人' }).click();
    const brokers = page.locator('table[data-register=brokers]');
    await brokers.waitFor();
    const zhao = brokers.locator('tr', { hasText: '赵宇' }).first();
    await zhao.waitFor();
    assert.match(await zhao.textContent(), /已持证/);
    assert.match(await zhao.textContent(), /JSJJR-演示-511900-0016/);
    await zhao.getByRole('button', { name: '登记与记录' }).click();
    const q = page.locator('[data-form=qualification]');
    await q.waitFor();
    await q.locator('select[name=kind]').selectOption('training');
    await q.locator('input[name=course]').fill(`技术经纪人（中级）培训 ${stamp}`);
    await q.locator('input[name=hours]').fill('32');
    await q.locator('input[name=issuer]').fill('四川省技术市场协会');
    await q.locator('input[name=evidence]').fill('结业证书扫描件');
    await q.getByRole('button', { name: '保存登记' }).click();
    await page.locator('[data-entries] li', { hasText: `技术经纪人（中级）培训 ${stamp}` }).waitFor();
    await page.locator('table[data-register=brokers] tr', { hasText: '赵宇' }).first().filter({ hasText: '共 80 学时' }).waitFor();
    await screen(page, 'journey-20-awards-broker');

    // --- the subsidy run: a fixed 10 万元 to the provincial institution, net change per party ------
    await go(page, '/bureau/subsidies');
    const pol = page.locator('tr', { hasText: '巴中市技术合同交易后补助（演示）' });
    await pol.waitFor();
    assert.match(await pol.textContent(), /国家级 30\.00 万元|国家级30万元/);
    await pol.locator('input[type=checkbox]').check();
    await page.getByRole('button', { name: /按所选政策测算/ }).click();
    const award = page.locator('tr', { hasText: '巴中市秦巴技术转移服务有限公司' }).filter({ hasText: '四川省科学技术厅认定为省级技术转移示范机构' }).first();
    await award.waitFor();
    assert.match(await award.textContent(), /100,000\.00/);
    const parties = page.locator('table[data-parties]');
    await parties.waitFor();
    assert.match(await parties.locator('thead').textContent(), /上次.*本次.*净变化.*追回/);
    const p = parties.locator('tr', { hasText: '巴中市秦巴技术转移服务有限公司' }).filter({ hasText: '技术转移示范机构' });
    await p.first().waitFor();
    await screen(page, 'journey-20-awards-run');
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-20-awards-FAILED').catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
