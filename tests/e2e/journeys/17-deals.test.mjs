// Journey 17 — every kind of deal, done in the browser by the people who make it:
//   a. a negotiated deal with a counter-offer (and a price of zero refused in Chinese), ending in a
//      contract draft both sides open;
//   b. a listed-price purchase (立即受让) with the confirmation of what happens next;
//   c. an auction the holder opens from its result, two bidders, an anti-sniping extension, the
//      outbid notice, the winner's contract draft;
//   d. a state-funded seller's deal: the public notice on the result's page (only its own), an
//      objection filed by the public and upheld by the reviewer;
//   e. the unread badge in the header counting up and down.
// What each person needs before they start (a published result, an open need, a second bidder's
// account) is made through the API; everything the journey is about happens on the screens.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, signIn, go, shot, screen, settle, apiLogin, apiGet, forgetSignIns, BASE, PASSWORD,
} from '../lib.mjs';

const uniq = () => Date.now().toString(36) + Math.random().toString(36).slice(2, 6);

// One API sign-in per account for the whole file: sign-ins are rate limited per account and per address,
// and every journey shares both.  The file starts with the counters forgotten (the journeys before it
// signed the same accounts in) and leaves them forgotten for the journeys after it.
forgetSignIns();
after(() => forgetSignIns());
const tokens = new Map();
async function token(who) {
  if (!tokens.has(who)) tokens.set(who, await apiLogin(who));
  return tokens.get(who);
}
// One browser per demo account for the whole file, signed in once; each test opens its own tab.
const browsers = new Map();
async function tab(who) {
  if (!browsers.has(who)) {
    const b = await launch();
    await signIn(await b.page(), who);
    browsers.set(who, b);
  }
  const b = browsers.get(who);
  const p = await b.context.newPage();
  await p.setViewportSize({ width: 1280, height: 900 });
  return { b, page: p };
}
after(async () => { for (const b of browsers.values()) await b.close(); });

async function apiSend(method, path, token, body) {
  const r = await fetch(BASE + '/api/v1' + path, {
    method, headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token },
    body: body === undefined ? '{}' : JSON.stringify(body),
  });
  const b = await r.json().catch(() => null);
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(b)}`);
  return b;
}

// A result of the university, published (submitted and approved by the reviewer).
async function publishedResult(over) {
  const uni = await token('university');
  const rev = await token('reviewer');
  const r = await apiSend('POST', '/results', uni, {
    title: '茶园智能灌溉与水肥一体化控制技术 ' + uniq(), summary: '基于土壤墒情传感与气象预报的茶园滴灌、水肥一体化控制系统，节水35%，减肥20%，已在平昌茶园示范应用。',
    keywords: ['水肥一体化', '茶园灌溉', '智能控制'], completers: ['李晓梅'], domain: 'agriculture', industries: ['茶叶种植'], trl: 7,
    maturity: 'mature', ip_records: [], transfer_modes: ['transfer', 'licence'], pricing_mode: 'negotiated',
    asking_price_fen: null, region_code: '511902', contact: { name: '李老师', phone: '0827-5251234' }, ...over,
  });
  await apiSend('POST', `/results/${r.id}/submit`, uni);
  await apiSend('POST', `/results/${r.id}/approve`, rev);
  return r;
}

async function unread(page) {
  const bell = page.locator('header .bell');
  await bell.waitFor();
  return Number(await bell.getAttribute('data-unread'));
}
// The badge is refreshed when the route changes: wait until it shows n.
async function badgeIs(page, n) {
  await page.waitForFunction((want) => Number(document.querySelector('header .bell')?.dataset.unread) === want, n, { timeout: 20000 });
}

async function fillMoney(page, scope, name, wan) {
  await page.locator(`${scope} input[name=${name}]`).fill(String(wan));
}

// "2026-12-07T10:30:15" in China time, for a datetime-local input
function chinaLocal(d) {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }).format(d).replace(' ', 'T');
}

test('deal a: negotiated with a counter-offer → a contract draft both sides see', async () => {
  const ent = await token('enterprise');
  const rev = await token('reviewer');
  const title = '茶叶加工废水资源化处理技术需求 ' + uniq();
  const need = await apiSend('POST', '/needs', ent, {
    title, description: '公司茶叶加工车间日产废水60吨，希望引进低成本的茶多酚回收与废水回用技术，出水用于茶园灌溉。',
    keywords: ['茶叶废水', '茶多酚回收', '废水回用'], domain: 'agriculture', industry: '茶叶加工', region_code: '511923',
    budget_min_fen: 300000000, budget_max_fen: 800000000, deadline: new Date(Date.now() + 60 * 86400000).toISOString().slice(0, 10),
    cooperation_modes: ['transfer'], contact: { name: '王建川', phone: '0827-8812345' },
  });
  await apiSend('POST', `/needs/${need.id}/submit`, ent);
  await apiSend('POST', `/needs/${need.id}/approve`, rev);

  // the two parties, each in a browser of its own
  const { b: ub, page } = await tab('university');
  const { b: eb, page: epage } = await tab('enterprise');
  try {
    // the university answers the need and proposes a price; zero is refused in Chinese
    await go(page, '/needs/' + need.id);
    await page.locator('.inquiry-start textarea[name=message]').fill('我院茶学团队有成熟的茶多酚膜分离回收工艺，可整体转让并指导安装调试。');
    await page.getByRole('button', { name: '发送洽谈请求' }).click();
    await page.waitForURL(/#\/inquiries\/\d+$/);
    const inquiry = /#\/inquiries\/(\d+)/.exec(page.url())[1];
    await page.locator('.price-card').waitFor();
    await fillMoney(page, '.price-card', 'price_fen', 0);
    await page.locator('.price-card').getByRole('button', { name: '提出新价格' }).click();
    const zero = page.locator('.price-card [data-field=price_fen] .field-error');
    await zero.waitFor();
    assert.match(await zero.innerText(), /低于允许的最低值，至少 0\.01 元/);
    await screen(page, 'journey-17a-price-zero-refused');
    await fillMoney(page, '.price-card', 'price_fen', 50);
    await page.locator('.price-card').getByRole('button', { name: '提出新价格' }).click();
    await page.locator('[data-testid=waiting]').waitFor();
    assert.match(await page.locator('[data-testid=seller-price]').innerText(), /50\.00 万元/);

    // the enterprise opens the proposal from its messages and counters at 45 万元
    await go(epage, '/notifications');
    const note = epage.locator('main .hit.note[data-kind=proposal]', { hasText: title }).first();
    await note.waitFor();
    await screen(epage, 'journey-17a-messages');
    await note.locator('a').click();
    await epage.waitForURL(new RegExp('#/inquiries/' + inquiry + '$'));
    const offer = epage.locator('[data-testid=their-offer]');
    await offer.waitFor();
    assert.match(await offer.innerText(), /卖方报价 50\.00 万元/);
    await fillMoney(epage, '.price-card', 'price_fen', 45);
    await epage.locator('.price-card').getByRole('button', { name: '提出新价格' }).click();
    await epage.locator('[data-testid=waiting]').waitFor();
    assert.equal(await epage.locator('[data-testid=their-offer]').count(), 0, 'a counter-proposal waits for the other side');
    const now = await apiGet('/inquiries/' + inquiry, ent);
    assert.equal(now.body.status, 'open');
    assert.deepEqual(now.body.messages.filter((m) => m.price_fen).map((m) => [m.kind, m.side, m.price_fen]),
      [['proposal', 'seller', 50000000], ['proposal', 'buyer', 45000000]]);
    await screen(epage, 'journey-17a-counter-offer');

    // the university accepts 45 万元: the deal is concluded, the draft is made
    await go(page, '/notifications');
    await page.locator('main .hit.note[data-kind=proposal]', { hasText: title }).first().locator('a').click();
    await page.waitForURL(new RegExp('#/inquiries/' + inquiry + '$'));
    await page.locator('[data-testid=their-offer]').waitFor();
    assert.match(await page.locator('[data-testid=their-offer]').innerText(), /买方报价 45\.00 万元/);
    await page.getByRole('button', { name: '接受此价格' }).click();
    const draft = page.locator('[data-testid=draft-link]');
    await draft.waitFor();
    assert.match(await page.locator('[data-testid=agreed-price]').innerText(), /45\.00 万元/);
    assert.match(await page.locator('.messages').innerText(), /接受对方报价 45\.00 万元，交易达成/);
    await screen(page, 'journey-17a-agreed');
    await draft.click();
    await page.waitForURL(/#\/contracts\/\d+$/);
    const contract = /#\/contracts\/(\d+)/.exec(page.url())[1];
    await page.locator('main .badge[data-status=draft]').waitFor();
    await screen(page, 'journey-17a-draft-seller');

    // the enterprise sees the same draft (its tab still shows the inquiry: open it afresh)
    await go(epage, '/inquiries');
    await go(epage, '/inquiries/' + inquiry);
    await epage.locator('[data-testid=draft-link]').click();
    await epage.waitForURL(new RegExp('#/contracts/' + contract + '$'));
    await epage.locator('main .badge[data-status=draft]').waitFor();
    assert.match(await epage.locator('main').innerText(), /45/);
    await screen(epage, 'journey-17a-draft-buyer');
    assert.deepEqual(ub.errors, [], 'no script errors in the page');
    assert.deepEqual(eb.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-17a-FAILED').catch(() => {});
    await shot(epage, 'journey-17a-buyer-FAILED').catch(() => {});
    throw e;
  } finally {
    await Promise.all([page.close(), epage.close()]);
  }
});

test('deal b: listed-price purchase with a confirmation of what happens next', async () => {
  const r = await publishedResult({ pricing_mode: 'listed', asking_price_fen: 8000000, title: '富硒茶速溶粉低温喷雾干燥工艺 ' + uniq() });
  const { b, page } = await tab('enterprise');
  try {
    await go(page, '/results/' + r.id);
    const card = page.locator('.purchase');
    await card.waitFor();
    assert.match(await card.innerText(), /8\.00 万元/);
    await card.getByRole('button', { name: '立即受让' }).click();
    const confirm = page.locator('[data-testid=purchase-confirm]');
    await confirm.waitFor();
    const text = await confirm.innerText();
    assert.match(text, /技术合同草稿/);
    assert.match(text, /不再公示|无需|不需要公示/);
    await screen(page, 'journey-17b-confirm');
    await confirm.getByRole('button', { name: '确认受让' }).click();
    await page.waitForURL(/#\/inquiries\/\d+$/);
    await page.locator('[data-testid=draft-link]').waitFor();
    assert.match(await page.locator('.page-title').innerText(), /已达成/);
    assert.match(await page.locator('.messages').innerText(), /按挂牌价 8\.00 万元 受让/);
    await screen(page, 'journey-17b-purchased');
    await page.locator('[data-testid=draft-link]').click();
    await page.locator('main .badge[data-status=draft]').waitFor();
    await screen(page, 'journey-17b-draft');
    // the result is no longer for sale: transacted, off the public market
    assert.equal((await apiGet('/results/' + r.id, await token('university'))).body.status, 'transacted');
    assert.equal((await apiGet('/results/' + r.id)).status, 404);
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-17b-FAILED').catch(() => {});
    throw e;
  } finally {
    await page.close();
  }
});

test('deal c: auction with two bidders, an anti-sniping extension and the winner\'s draft', async () => {
  const r = await publishedResult({ pricing_mode: 'auction', asking_price_fen: 10000000, title: '秦巴山区茶园单轨运输机 ' + uniq() });
  // a second bidder: a member of another enterprise, made by the admin
  const admin = await token('admin');
  const orgs = (await apiGet('/orgs?limit=100', admin)).body.items;
  const other = orgs.find((o) => /^1/.test(o.org_type) && o.id !== 2 && o.status === 'verified');
  assert.ok(other, 'another verified enterprise in the demo data');
  const email = `bidder-${uniq()}@demo.yizhan.cn`;
  await apiSend('POST', '/users', admin, { email, password: PASSWORD, role: 'member', display_name: '采购部 刘敏', org_id: other.id });

  const { b: holder, page: h } = await tab('university');
  const { b: bidA, page: pa } = await tab('enterprise');
  const bidB = await launch();
  const pb = await bidB.page();
  try {
    await signIn(pb, email);
    // the holder opens the auction from its result: 70 s, a 30 s anti-sniping window, 45 s extension
    await go(h, '/results/' + r.id);
    const form = h.locator('.auction-open');
    await form.waitFor();
    await fillMoney(h, '.auction-open', 'reserve_fen', 10);
    await fillMoney(h, '.auction-open', 'increment_fen', 1);
    await h.locator('.auction-open input[name=ends_at]').fill(chinaLocal(new Date(Date.now() + 75000)));
    await h.locator('.auction-open input[name=extension_window_s]').fill('30');
    await h.locator('.auction-open input[name=extension_s]').fill('45');
    await form.getByRole('button', { name: '开启竞价' }).click();
    await h.locator('[data-testid=countdown]').waitFor();
    const first = (await apiGet(`/results/${r.id}/auction`)).body;
    assert.equal(first.status, 'open');
    assert.ok(first.seconds_left > 40, 'time for the first bid before the window: ' + first.seconds_left);

    // bidder A bids 10 万元 before the last 30 seconds: no extension
    await go(pa, '/results/' + r.id);
    await pa.locator('.bid-form').waitFor();
    await fillMoney(pa, '.bid-form', 'amount_fen', 10);
    await pa.locator('.bid-form').getByRole('button', { name: '出价' }).click();
    await pa.locator('[data-testid=leading]').waitFor();
    const afterA = (await apiGet(`/results/${r.id}/auction`)).body;
    assert.equal(afterA.ends_at, first.ends_at, 'a bid before the window does not move the end');

    // bidder B: below the increment is refused on the page, in Chinese; then 12 万元 in the last 30 seconds
    await go(pb, '/results/' + r.id);
    await pb.locator('.bid-form').waitFor();
    await fillMoney(pb, '.bid-form', 'amount_fen', 10.5);
    await pb.locator('.bid-form').getByRole('button', { name: '出价' }).click();
    const low = pb.locator('.bid-form [data-field=amount_fen] .field-error');
    await low.waitFor();
    assert.match(await low.innerText(), /出价不能低于 11\.00 万元/);
    for (;;) {      // wait for the window
      const a = (await apiGet(`/results/${r.id}/auction`)).body;
      if (a.seconds_left <= 25) break;
      await pb.waitForTimeout(1000);
    }
    await fillMoney(pb, '.bid-form', 'amount_fen', 12);
    await pb.locator('.bid-form').getByRole('button', { name: '出价' }).click();
    await pb.locator('[data-testid=leading]').waitFor();
    const afterB = (await apiGet(`/results/${r.id}/auction`)).body;
    assert.ok(new Date(afterB.ends_at) > new Date(first.ends_at), `the late bid extends the end: ${first.ends_at} → ${afterB.ends_at}`);
    assert.ok(afterB.seconds_left > 35, 'about 45 s left after the extension: ' + afterB.seconds_left);
    await pb.waitForFunction((ends) => document.querySelector('[data-testid=ends-at]')?.dataset.ends === ends, afterB.ends_at);
    await screen(pb, 'journey-17c-extended');

    // bidder A is told it was outbid
    await pa.locator('[data-testid=outbid]').waitFor({ timeout: 15000 });
    await screen(pa, 'journey-17c-outbid');
    // the 竞价 page lists it with its current price and a countdown
    await go(pa, '/auctions');
    const row = pa.locator(`main tr`, { hasText: r.title });
    await row.waitFor();
    assert.match(await row.innerText(), /12\.00 万元/);
    await screen(pa, 'journey-17c-auctions');

    // the auction closes: B wins, the draft is made
    for (;;) {
      const a = (await apiGet(`/results/${r.id}/auction`)).body;
      if (a.status === 'closed') { assert.equal(a.winner.amount_fen, 12000000); break; }
      await pb.waitForTimeout(1000);
    }
    await go(pb, '/results/' + r.id);
    await pb.locator('[data-testid=won]').waitFor();
    await pb.locator('main .alert [data-testid=draft-link]').click();
    await pb.waitForURL(/#\/contracts\/\d+$/);
    await pb.locator('main .badge[data-status=draft]').waitFor();
    assert.match(await pb.locator('main').innerText(), /12/);
    await screen(pb, 'journey-17c-winner-draft');
    for (const x of [holder, bidA, bidB]) assert.deepEqual(x.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(h, 'journey-17c-holder-FAILED').catch(() => {});
    await shot(pa, 'journey-17c-a-FAILED').catch(() => {});
    await shot(pb, 'journey-17c-b-FAILED').catch(() => {});
    throw e;
  } finally {
    await Promise.all([h.close(), pa.close(), bidB.close()]);
  }
});

test('deal d: a state-funded seller\'s notice, an objection, the reviewer\'s decision', async () => {
  const r = await publishedResult({ title: '茶树扦插快繁与无性系良种繁育技术 ' + uniq() });
  const { b: eb, page: epage } = await tab('enterprise');
  const { b: ub, page: upage } = await tab('university');
  const pub = await launch();            // the public, then the reviewer
  const page = await pub.page();
  try {
    // the enterprise asks and proposes 30 万元
    await go(epage, '/results/' + r.id);
    await epage.locator('.inquiry-start textarea[name=message]').fill('我司平昌基地拟扩繁良种茶苗，希望受让该技术。');
    await epage.getByRole('button', { name: '发送洽谈请求' }).click();
    await epage.waitForURL(/#\/inquiries\/\d+$/);
    const inquiry = /#\/inquiries\/(\d+)/.exec(epage.url())[1];
    await fillMoney(epage, '.price-card', 'price_fen', 30);
    await epage.locator('.price-card').getByRole('button', { name: '提出新价格' }).click();
    await epage.locator('[data-testid=waiting]').waitFor();
    // the state-funded college accepts: a public notice, no contract yet
    await go(upage, '/inquiries/' + inquiry);
    const offer = upage.locator('[data-testid=their-offer]');
    await offer.waitFor();
    assert.match(await offer.innerText(), /将先公示拟交易价格/);
    await upage.getByRole('button', { name: '接受此价格' }).click();
    await upage.locator('main', { hasText: '正在公示' }).waitFor();
    assert.equal(await upage.locator('[data-testid=draft-link]').count(), 0);
    await screen(upage, 'journey-17d-under-notice');

    // anyone: the result's page shows its own notice, with holder, price and period; an objection
    await go(page, '/results/' + r.id);
    const notices = page.locator('.result-notices .notice');
    await notices.first().waitFor();
    assert.equal(await notices.count(), 1, 'only this result\'s notice');
    const text = await notices.first().innerText();
    assert.match(text, /巴中职业技术学院/);
    assert.match(text, /拟交易价格 30\.00 万元/);
    assert.match(text, /公示期 \d{4}-\d{2}-\d{2} 至 \d{4}-\d{2}-\d{2}/);
    await notices.first().getByRole('button', { name: '提出异议' }).click();
    await notices.first().locator('[data-field=name] input').fill('何建国');
    await notices.first().locator('[data-field=contact] input').fill('139 8270 6614');
    await notices.first().locator('[data-field=body] textarea').fill('本人系该成果主要完成人之一，公示材料未列本人，对转让价格和收益分配有异议。');
    await notices.first().getByRole('button', { name: '提交异议' }).click();
    await page.locator('.result-notices .alert-success').waitFor();
    await screen(page, 'journey-17d-objection-filed');

    // the reviewer upholds it from the queue of objections
    await signIn(page, 'reviewer');
    await page.locator('header nav a', { hasText: '公示异议' }).click();
    await page.waitForURL(/#\/review\/objections$/);
    const item = page.locator('main .notice', { hasText: r.title });
    await item.waitFor();
    const obj = item.locator('.objection[data-status=filed]').first();
    await obj.waitFor();
    assert.match(await obj.innerText(), /139 8270 6614/);
    await screen(page, 'journey-17d-reviewer-queue');
    await obj.locator('textarea[name=note]').fill('经核实，完成人名单确有遗漏，收益分配须重新确定。');
    await obj.getByRole('button', { name: '异议成立' }).click();
    await item.locator('.objection[data-status=upheld]').waitFor();
    const notice = (await apiGet('/notices?result_id=' + r.id)).body.items[0];
    assert.equal(notice.upheld_objections, 1);
    assert.equal(notice.pending_objections, 0);
    await screen(page, 'journey-17d-decided');
    // the buyer hears of the objection and of the decision
    await go(epage, '/notifications');
    await epage.locator('main .hit.note[data-kind=objection_decided]', { hasText: r.title }).waitFor();
    for (const x of [ub, eb, pub]) assert.deepEqual(x.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-17d-FAILED').catch(() => {});
    await shot(upage, 'journey-17d-seller-FAILED').catch(() => {});
    await shot(epage, 'journey-17d-buyer-FAILED').catch(() => {});
    throw e;
  } finally {
    await Promise.all([upage.close(), epage.close(), pub.close()]);
  }
});

test('deal e: the unread badge counts up and down', async () => {
  const uni = await token('university');
  // an open negotiation between the two demo organisations, where the university writes
  const open = (await apiGet('/inquiries?status=open&limit=100', uni)).body.items
    .find((i) => i.seller.id === 2 || i.buyer.id === 2);
  assert.ok(open, 'an open inquiry between the university and the enterprise');
  // a new colleague at the enterprise: an empty message centre to start from (the demo account keeps its unread ones)
  const admin = await token('admin');
  const email = `colleague-${uniq()}@demo.yizhan.cn`;
  await apiSend('POST', '/users', admin, { email, password: PASSWORD, role: 'member', display_name: '技术部 张帆', org_id: 2 });
  const b = await launch();
  const page = await b.page();
  try {
    await signIn(page, email);
    await go(page, '/my/needs');
    await settle(page);
    assert.equal(await unread(page), 0);
    assert.equal(await page.locator('header .bell .count').count(), 0);
    await apiSend('POST', `/inquiries/${open.id}/messages`, uni, { body: '请问下周二方便来学院中试线现场考察吗？' });
    await apiSend('POST', `/inquiries/${open.id}/messages`, uni, { body: '考察时可一并商定技术服务的内容。' });
    await go(page, '/contracts');
    await badgeIs(page, 2);
    assert.equal(await page.locator('header .bell .count').innerText(), '2');
    await shot(page, 'journey-17e-badge-up');
    // opening one marks it read
    await page.locator('header .bell').click();
    await page.waitForURL(/#\/notifications$/);
    const first = page.locator('main .hit.note.unread[data-kind=message]').first();
    await first.waitFor();
    await screen(page, 'journey-17e-messages');
    await first.locator('a').click();
    await page.waitForURL(new RegExp('#/inquiries/' + open.id + '$'));
    await badgeIs(page, 1);
    // 全部标为已读: no badge
    await go(page, '/notifications');
    await settle(page);
    await page.getByRole('button', { name: '全部标为已读' }).click();
    await badgeIs(page, 0);
    assert.equal(await page.locator('header .bell .count').count(), 0);
    await page.waitForFunction(() => ![...document.querySelectorAll('main .badge')].some((x) => x.textContent.includes('未读')));
    await screen(page, 'journey-17e-all-read');
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-17e-FAILED').catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
