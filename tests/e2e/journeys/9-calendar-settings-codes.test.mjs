// Journey 9 — going live with next year's calendar (issue #19): an application
// whose review deadline runs into next year shows "期限暂定" in the officer's
// queue under a warning; the admin opens next year's calendar (a year view,
// marked provisional), enters a 调休 working day, confirms the year citing the
// State Council's notice, and the officer's deadline is no longer provisional.
// Then the admin changes a regulatory setting and a code list entry, each with
// its source, and reads its history.  What the journey changes is put back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, signIn, signOut, go, shot, screen, apiLogin, apiGet, todayCN, forgetSignIns, BASE } from '../lib.mjs';

async function api(method, path, token, body, headers = {}) {
  const r = await fetch(BASE + '/api/v1' + path, {
    method, headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const b = await r.json().catch(() => null);
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(b)}`);
  return { body: b, etag: r.headers.get('ETag') };
}

// An expert-review application (技术交易额 ≥ 500 万元: 30 working days) by the demo university: in
// December its deadline runs into next year.
async function expertApplication(univ) {
  const me = (await apiGet('/me', univ)).body;
  const buyers = (await apiGet('/orgs/directory?q=' + encodeURIComponent('秦巴富硒'), univ)).body.items;
  const t = (d) => todayCN(d);
  const c = await api('POST', '/contracts', univ, {
    title: `E2E 富硒茶深加工技术开发合同 ${Date.now()}`, contract_type: 'development', contract_subtype: 'commissioned_development',
    seller: { org_id: me.org.id }, buyer: { org_id: buyers[0].id }, signed_on: t(-10), effective_on: t(-10), end_on: t(300),
    contract_amount_fen: 600000000, technical_amount_fen: 600000000, domain: 'agriculture', ip_type: 'know_how', plan_source: 'local',
  });
  return (await api('POST', `/contracts/${c.body.id}/submit`, univ)).body;
}

test('calendar: provisional deadlines warned, next year confirmed; a setting and a code changed with sources', async () => {
  forgetSignIns();   // run after the other journeys, the demo accounts are at their sign-in limit
  const admin = await apiLogin('admin');
  const univ = await apiLogin('university');
  const year = Number(todayCN().slice(0, 4)) + 1;
  const tag = Date.now().toString(36);   // the sources this run cites, told apart from an earlier run's
  const before = (await apiGet('/codes/calendar?year=' + year)).body;
  const settingsBefore = (await apiGet('/settings', admin)).body.items;
  const b = await launch();
  const page = await b.page();
  try {
    const app = await expertApplication(univ);

    // --- the officer's queue warns ----------------------------------------------------------
    await signIn(page, 'officer');
    await go(page, '/registry');
    const q = (await apiGet('/registry/queue?limit=100', await apiLogin('officer'))).body;
    if (q.calendar.unconfirmed_years.length || q.calendar.provisional_deadlines) {
      const warn = page.locator('[data-testid=calendar-warning]');
      await warn.waitFor();
      assert.match(await warn.textContent(), /尚未确认|暂定/);
      assert.equal(await page.locator('[data-testid=provisional-count]').textContent(), String(q.calendar.provisional_deadlines));
    }
    const row = page.locator(`tr[data-id="${app.id}"]`);
    await row.waitFor();
    if (app.calendar_provisional) await row.locator('[data-testid=due-provisional]').waitFor();
    await screen(page, 'journey-9-queue-provisional');
    await signOut(page);

    // --- the admin confirms next year's calendar -----------------------------------------------
    await signIn(page, 'admin');
    await go(page, '/admin/calendar?year=' + year);
    const status = page.locator('[data-testid=calendar-status]');
    await status.waitFor();
    assert.equal(await status.getAttribute('data-status'), before.status);
    assert.equal(await page.locator('.year-view .month').count(), 12);
    for (const d of before.items) {
      assert.equal(await page.locator(`.year-view td[data-day="${d.day}"]`).getAttribute('class'),
        d.kind === 'holiday' ? 'cal-holiday' : 'cal-workday', d.day);
    }
    await screen(page, 'journey-9-calendar-provisional');
    // a 调休 working day on the first Sunday of February
    let sunday = new Date(Date.UTC(year, 1, 1));
    while (sunday.getUTCDay() !== 0) sunday = new Date(sunday.getTime() + 86400000);
    const makeup = sunday.toISOString().slice(0, 10);
    await page.fill('input[type=date]', makeup);
    await page.selectOption('[data-field=new-kind] select', 'workday');
    await page.fill('[data-field=new-name] input', '春节调休上班');
    await page.getByRole('button', { name: '加入此日期' }).click();
    assert.equal(await page.locator(`.year-view td[data-day="${makeup}"]`).getAttribute('class'), 'cal-workday');
    // confirming without a source is refused beside the field, in Chinese
    await page.fill('[data-field=source] input', '');
    await page.getByRole('button', { name: '按国务院通知确认' }).click();
    await page.locator('[data-field=source] .field-error').waitFor();
    const source = `国务院办公厅关于${year}年部分节假日安排的通知（测试 ${tag}）`;
    await page.fill('[data-field=source] input', source);
    await Promise.all([
      page.waitForResponse((r) => r.url().includes('/api/v1/calendar/') && r.status() === 200),
      page.getByRole('button', { name: '按国务院通知确认' }).click(),
    ]);
    await page.locator('[data-testid=calendar-status][data-status=confirmed]').waitFor();
    await page.locator('[data-testid=calendar-saved]').waitFor();
    await page.locator('[data-testid=history] tr', { hasText: source }).waitFor();
    await screen(page, 'journey-9-calendar-confirmed');
    const after = (await apiGet('/codes/calendar?year=' + year)).body;
    assert.equal(after.status, 'confirmed');
    assert.ok(after.items.some((d) => d.day === makeup && d.kind === 'workday'));
    const got = (await apiGet('/contracts/' + app.id, admin)).body;
    assert.equal(got.calendar_provisional, false, 'the deadline was counted again on the confirmed calendar');

    // --- a regulatory setting, with its source and history ---------------------------------------
    await go(page, '/admin/settings');
    const srow = page.locator('tr[data-key=notice_period_days]');
    await srow.waitFor();
    await screen(page, 'journey-9-settings');
    await srow.getByRole('button', { name: '修改' }).click();
    const ed = page.locator('.setting-editor[data-key=notice_period_days]');
    await ed.locator('input[inputmode=numeric]').fill('20');
    await ed.locator('[data-field=source] input').fill(`某市科技成果转化公示办法（测试 ${tag}）`);
    await ed.getByRole('button', { name: '保存' }).click();
    await srow.locator('[data-testid=setting-value]', { hasText: '20' }).waitFor();
    await srow.getByRole('button', { name: '记录' }).click();
    await page.locator('[data-testid=history] tr', { hasText: `某市科技成果转化公示办法（测试 ${tag}）` }).waitFor();
    await screen(page, 'journey-9-settings-history');

    // --- a code list: a new 补正事项, retired again --------------------------------------------
    await go(page, '/admin/codes?list=return_reasons');
    await page.locator('[data-testid=codes]').waitFor();
    await page.getByRole('button', { name: '新增代码' }).click();
    const code = 'e2e_' + Date.now().toString(36);
    const form = page.locator('.code-editor');
    await form.locator('[data-field=code] input').fill(code);
    await form.locator('[data-field=label] input').fill('缺少技术合同登记表');
    await form.locator('[data-field=source] input').fill('某省技术合同登记工作规程（测试）');
    await form.getByRole('button', { name: '保存' }).click();
    await page.locator(`tr[data-code="${code}"]`).waitFor();
    await screen(page, 'journey-9-codes');
    await page.locator(`tr[data-code="${code}"]`).getByRole('button', { name: /修改/ }).click();
    await page.locator('.code-editor [data-field=active] input').uncheck();
    await page.locator('.code-editor [data-field=source] input').fill('停用（测试）');
    await page.locator('.code-editor').getByRole('button', { name: '保存' }).click();
    await page.locator(`tr[data-code="${code}"] .badge-grey`).waitFor();
    const listed = (await apiGet('/codes/return_reasons')).body.items;
    assert.ok(!listed.some((c) => c.code === code), 'a retired code leaves the list');
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-9-FAILED').catch(() => {});
    throw e;
  } finally {
    await b.close();
    // put back what the journey changed: next year's calendar and the setting
    const now = (await apiGet('/codes/calendar?year=' + year)).body;
    await api('PUT', '/calendar/' + year, admin, {
      status: before.status, source: before.source || '恢复', note: before.note,
      days: before.items.map((d) => ({ day: d.day, kind: d.kind, name: d.name })),
    }, { 'If-Match': `"${now.version}"` }).catch(() => {});
    const s = settingsBefore.find((x) => x.key === 'notice_period_days');
    if (s) await api('PUT', '/settings/notice_period_days', admin, { value: s.value, source: '恢复' }).catch(() => {});
  }
});
