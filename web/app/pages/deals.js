// Deal screens: negotiations (洽谈) with offer and acceptance — each side's
// standing proposal, 接受此价格 / 提出新价格, brokers admitted by consent —,
// the live auctions (竞价) with a countdown, the message centre (消息) and the
// reviewer's queue of objections to public notices (公示异议).
//
// A deal concludes only when one side accepts exactly the price the other side
// last proposed (POST /inquiries/{id}/agree); any other price is a proposal
// that waits.  The server's refusals are shown in Chinese: field problems
// beside their field, refusals about the deal itself (an inquiry already
// closed, an auction that has ended) as one sentence (DealError).
import { useState, useEffect } from 'preact/hooks';
import { api } from '../api.js';
import {
  html, wanText, dateTime, Status, Loading, ErrorBox, Empty, Card, PageTitle, Field, TextArea, MoneyInput, useLoad,
  usePaged, More, navigate, ActionButton, fieldErrors, Notice, Tabs, Facts,
} from '../ui.js';
import { notesChanged } from '../notify.js';
import { DealError, countdownText, useCountdown } from './public.js';

/** @typedef {import('../api-types').Schema<'Inquiry'>} Inquiry */
/** @typedef {import('../api-types').Schema<'InquiryMessage'>} Entry */

// --- inquiries ---------------------------------------------------------------------------
const SIDE_TEXT = { seller: '卖方', buyer: '买方' };
/** @param {Inquiry} x @param {any} me */
function view(x, me) {
  const from = x.initiator_org_id === x.seller.id ? x.seller : x.buyer;
  const to = from === x.seller ? x.buyer : x.seller;
  const myOrg = me && me.org ? me.org.id : null;
  const side = myOrg === x.seller.id ? 'seller' : myOrg === x.buyer.id ? 'buyer' : null;
  return {
    ...x, from, to, side, other: side === 'seller' ? 'buyer' : side === 'buyer' ? 'seller' : null,
    subject: (x.result || x.need || { title: '' }).title,
    orgName: (id) => (x.seller.id === id ? x.seller.name : x.buyer.id === id ? x.buyer.name : '技术经纪人'),
  };
}

export function Inquiries({ me }) {
  /** @type {[import('../api-types').Schema<'InquiryStatus'> | '', any]} */
  const [status, setStatus] = useState('');
  const paged = usePaged((cursor) => api.get('/inquiries', { query: { status: status || undefined, limit: 20, cursor } }), [status]);
  return html`<${PageTitle} sub="与成果持有单位或需求单位的合作洽谈。双方就同一价格达成一致后自动生成技术合同草稿。">洽谈</${PageTitle}>
    <div class="card">
      <${Tabs} value=${status} onChange=${setStatus} tabs=${[['', '全部'], ['open', '洽谈中'], ['agreed', '已达成'], ['declined', '已拒绝'], ['expired', '已过期']]} />
      <${ErrorBox} error=${paged.error} onRetry=${paged.reload} />
      ${!paged.loading && !paged.error && !paged.items.length ? html`<${Empty}>暂无洽谈。在成果或需求页面可发起洽谈。</${Empty}>` : ''}
      ${paged.items.length ? html`<div class="table-wrap" tabindex="0"><table class="list stack"><thead><tr><th>标的</th><th>发起方</th><th>对方</th><th>状态</th><th>价格</th><th>最近活动</th></tr></thead><tbody>
        ${paged.items.map((i) => view(i, me)).map((x) => html`<tr data-id=${x.id}><td data-label="标的"><a href=${'#/inquiries/' + x.id}>${x.subject}</a></td>
          <td data-label="发起方">${x.from.name}</td><td data-label="对方">${x.to.name}</td>
          <td data-label="状态"><${Status} kind="inquiry" value=${x.status} />${x.status === 'open' && x.awaiting && x.side === x.awaiting ? html` <span class="badge badge-amber">待我方确认价格</span>` : ''}</td>
          <td data-label="价格" class="nowrap">${x.agreed_price_fen != null ? wanText(x.agreed_price_fen) : lastPrice(x)}</td>
          <td data-label="最近活动" class="nowrap">${dateTime(x.last_activity_at)}</td></tr>`)}
      </tbody></table></div>` : ''}
      <${More} paged=${paged} />
    </div>`;
}
function lastPrice(x) {
  const p = [x.proposals.seller, x.proposals.buyer].filter(Boolean).sort((a, b) => b.message_id - a.message_id)[0];
  return p ? '报价 ' + wanText(p.price_fen) : '—';
}

// One entry of the thread: who, when, and what it says (a price proposed or
// accepted is written out, so the thread is the record of the negotiation).
function EntryLine({ m, x, mine }) {
  const who = `${m.author_name || ''}${m.author_name ? '（' : ''}${m.side ? x.orgName(m.author_org_id) : '技术经纪人'}${m.author_name ? '）' : ''}`;
  const price = m.price_fen != null ? wanText(m.price_fen) : '';
  const what = {
    message: m.price_fen != null ? (m.side ? '报价 ' + price : '建议价格 ' + price) : '',
    proposal: '报价 ' + price,
    acceptance: '接受对方报价 ' + price + '，交易达成',
    purchase: '按挂牌价 ' + price + ' 受让',
    bid_won: '竞价成交 ' + price,
    broker_named: '提名技术经纪人参与洽谈，待对方同意',
    broker_accepted: '同意技术经纪人参与洽谈',
    broker_removed: '技术经纪人退出洽谈',
    declined: '拒绝并结束洽谈',
  }[m.kind] || '';
  const system = !['message', 'proposal'].includes(m.kind);
  return html`<div class=${'msg' + (mine ? ' mine' : '') + (system ? ' note' : '')} data-kind=${m.kind} data-side=${m.side || ''}>
    <div class="by">${who} · ${dateTime(m.created_at)}</div>
    ${what ? html`<div class="what"><b>${what}</b></div>` : ''}
    ${m.body && !(m.kind === 'purchase' || m.kind === 'bid_won') ? html`<div style="white-space:pre-wrap">${m.body}</div>` : ''}
  </div>`;
}

const NOTICE_STATE = { active: '公示中', passed: '公示期满无异议', failed: '异议成立，未成交' };
const isStateSeller = (x) => x.result && /^02/.test(x.seller.org_type);

export function InquiryPage({ params, me }) {
  const r = useLoad(() => api.get('/inquiries/{id}', { path: { id: params.id } }), [params.id]);
  const [text, setText] = useState('');
  const [price, setPrice] = useState(null);
  const [reason, setReason] = useState('');
  const [err, setErr] = useState(null);
  const [done, setDone] = useState(null);
  if (r.loading && !r.data) return html`<${Loading} />`;
  if (r.error) return html`<${PageTitle}>洽谈</${PageTitle}><${ErrorBox} error=${r.error} />`;
  const x = view(r.data, me);
  const fe = fieldErrors(err);
  const act = async (fn, message) => {
    setErr(null); setDone(null);
    try { r.set(await fn()); setDone(message || null); notesChanged(); } catch (e) { setErr(e); }
  };
  const theirs = x.other ? x.proposals[x.other] : null;
  const mine = x.side ? x.proposals[x.side] : null;
  const canAccept = x.status === 'open' && x.side && theirs && x.awaiting === x.side;
  const agree = (p) => api.post('/inquiries/{id}/agree', { path: { id: x.id }, body: { price_fen: p } });
  const notice = isStateSeller(x) && x.kind === 'negotiated';
  return html`<${PageTitle} sub=${html`${x.from.name} → ${x.to.name} · <${Status} kind="inquiry" value=${x.status} />`}
      actions=${html`<a class="btn" href="#/inquiries">全部洽谈</a>`}>${x.subject || '洽谈'}</${PageTitle}>
    ${done ? html`<${Notice} tone="success">${done}</${Notice}>` : ''}
    <div class="layout-main-side">
      <${Card} title="洽谈记录">
        <div class="messages" aria-live="polite">${(x.messages || []).map((m) => html`<${EntryLine} m=${m} x=${x} mine=${!!me.org && m.author_org_id === me.org.id} />`)}
          ${!(x.messages || []).length ? html`<${Empty}>暂无消息</${Empty}>` : ''}</div>
        ${x.status === 'open' ? html`<div class="form">
          <${Field} label="回复" name="body" errors=${fe}><${TextArea} rows=${3} value=${text} onInput=${setText} name="body" /></${Field}>
          <${ActionButton} class="btn btn-primary" onClick=${() => act(async () => { const y = await api.post('/inquiries/{id}/messages', { path: { id: x.id }, body: { body: text } }); setText(''); return y; })}>发送</${ActionButton}>
        </div>` : ''}
      </${Card}>
      <aside>
        <${Card} title="洽谈信息"><${Facts} rows=${[['标的', x.result ? html`<a href=${'#/results/' + x.result.id}>${x.result.title}</a>` : x.need ? html`<a href=${'#/needs/' + x.need.id}>${x.need.title}</a>` : '—'],
          ['卖方', x.seller.name], ['买方', x.buyer.name],
          ['卖方报价', x.proposals.seller ? html`<span data-testid="seller-price">${wanText(x.proposals.seller.price_fen)}</span>` : '尚未报价'],
          ['买方报价', x.proposals.buyer ? html`<span data-testid="buyer-price">${wanText(x.proposals.buyer.price_fen)}</span>` : '尚未报价'],
          ['成交价格', x.agreed_price_fen != null ? html`<span class="price" data-testid="agreed-price">${wanText(x.agreed_price_fen)}</span>` : '—'],
          ['公示', x.notice ? NOTICE_STATE[x.notice.status] + (x.notice.status === 'active' ? '，至 ' + dateTime(x.notice.ends_at) : '') : '—'],
          ['最近活动', dateTime(x.last_activity_at)]]} /></${Card}>
        <${DealError} err=${err} fields=${['price_fen', 'body', 'reason', 'broker_user_id', 'user_id']} />
        ${x.status === 'open' && x.side ? html`<${Card} title="价格" class="form price-card">
          ${canAccept ? html`<div class="offer" data-testid="their-offer">
              <p>${SIDE_TEXT[x.other]}报价 <b class="price">${wanText(theirs.price_fen)}</b>（${theirs.user_name || ''}，${dateTime(theirs.at)}）。</p>
              <p class="small muted">接受后交易即达成：${notice ? '卖方为国有高校或科研院所，将先公示拟交易价格 15 日，期满无异议后生成技术合同草稿。' : '系统立即生成技术合同草稿（双方、标的与价格已带入），由卖方完善后申请认定登记。'}</p>
              <${ActionButton} class="btn btn-success" confirm=${'确认接受 ' + wanText(theirs.price_fen) + ' 并达成交易？'}
                onClick=${() => act(() => agree(theirs.price_fen), '已接受对方报价，交易达成。')}>接受此价格</${ActionButton}>
            </div>`
            : mine && x.awaiting === x.other ? html`<p class="small" data-testid="waiting">我方报价 <b>${wanText(mine.price_fen)}</b>，等待对方确认。</p>`
            : html`<p class="small muted">双方报价一致时交易达成。可提出我方价格，由对方确认。</p>`}
          <${Field} label=${theirs ? '提出新价格' : '提出价格'} name="price_fen" errors=${fe} help="万元；对方接受此价格后交易即达成。">
            <${MoneyInput} scale=${10000} value=${price} onChange=${setPrice} name="price_fen" /></${Field}>
          <${ActionButton} class="btn btn-primary" onClick=${() => act(async () => { const y = await agree(price ?? 0); setPrice(null); return y; }, '已提出价格，等待对方确认。')}>提出新价格</${ActionButton}>
        </${Card}>
        <${BrokerCard} x=${x} act=${act} fe=${fe} />
        <${Card} title="结束洽谈" class="form">
          <${Field} label="拒绝理由" name="reason" errors=${fe}><${TextArea} rows=${2} value=${reason} onInput=${setReason} name="reason" /></${Field}>
          <${ActionButton} class="btn btn-danger" confirm="确定拒绝并结束此次洽谈？"
            onClick=${() => act(() => api.post('/inquiries/{id}/decline', { path: { id: x.id }, body: { reason: reason.trim() || null } }))}>拒绝</${ActionButton}>
        </${Card}>` : ''}
        ${x.status === 'open' && !x.side ? html`<${Card} title="价格"><p class="small muted">价格由双方单位提出和确认；技术经纪人可在洽谈中提出建议。</p></${Card}>` : ''}
        ${x.status === 'agreed' ? html`<${Card} title="下一步">${x.contract_id
            ? html`<p class="small">双方已就 ${wanText(x.agreed_price_fen)} 达成一致，技术合同草稿已自动生成（各方、标的与价格已带入），请卖方完善后申请认定登记。</p>
                <a class="btn btn-primary" href=${'#/contracts/' + x.contract_id} data-testid="draft-link">查看合同草稿</a>`
            : html`<p class="small">双方已就 ${wanText(x.agreed_price_fen)} 达成一致。${x.notice && x.notice.status === 'active' ? '正在公示，公示期满且无异议后，将自动生成技术合同草稿。' : x.notice && x.notice.status === 'failed' ? '公示期间异议成立，交易未能成交。' : ''}</p>
                ${x.result ? html`<a class="btn" href=${'#/results/' + x.result.id}>查看公示</a>` : ''}`}</${Card}>` : ''}
      </aside>
    </div>`;
}

// The broker (技术经纪人): named by one party, admitted by the other.
function BrokerCard({ x, act, fe }) {
  const [q, setQ] = useState('');
  const [found, setFound] = useState(null);
  const [pick, setPick] = useState('');
  const b = x.broker;
  const mineNamed = b && b.named_by_org_id === (x.side === 'seller' ? x.seller.id : x.buyer.id);
  if (b) {
    return html`<${Card} title="技术经纪人" class="form broker-card">
      <p><b>${b.name}</b>${b.org_name ? html`（${b.org_name}）` : ''} · ${b.status === 'accepted' ? html`<span class="badge badge-green">已参与</span>` : html`<span class="badge badge-amber">待${mineNamed ? '对方' : '我方'}同意</span>`}</p>
      <p class="small muted">由${x.orgName(b.named_by_org_id)}提名。${b.status === 'pending' ? '对方同意前，经纪人看不到洽谈内容。' : '经纪人可查看洽谈记录并发表意见，但不能代表任何一方接受价格。'}</p>
      <div class="page-actions">
        ${b.status === 'pending' && !mineNamed ? html`<${ActionButton} class="btn btn-success" onClick=${() => act(() => api.post('/inquiries/{id}/broker/accept', { path: { id: x.id } }), '已同意技术经纪人参与洽谈。')}>同意参与</${ActionButton}>` : ''}
        ${mineNamed || b.status === 'pending' ? html`<${ActionButton} class="btn" confirm=${mineNamed ? '确定让该技术经纪人退出洽谈？' : '确定拒绝该技术经纪人参与？'}
            onClick=${() => act(() => api.del('/inquiries/{id}/broker', { path: { id: x.id } }))}>${mineNamed ? '退出经纪人' : '拒绝'}</${ActionButton}>` : ''}
      </div></${Card}>`;
  }
  const search = async () => {
    const r = await api.get('/brokers', { query: { q: q.trim() || undefined, limit: 10 } });
    setFound(r.items); setPick(r.items.length ? String(r.items[0].id) : '');
  };
  return html`<${Card} title="技术经纪人" class="form broker-card">
    <p class="small muted">可邀请技术经纪人协助洽谈；对方单位同意后，经纪人才能查看洽谈内容。</p>
    <${Field} label="查找经纪人" name="broker_q" help="输入经纪人姓名或所在机构名称。"><input type="search" value=${q} onInput=${(e) => setQ(e.currentTarget.value)} name="broker_q" /></${Field}>
    <${ActionButton} class="btn btn-small" onClick=${search}>查找</${ActionButton}>
    ${found ? (found.length ? html`<${Field} label="选择经纪人" name="broker_user_id" errors=${fe}>
        <select value=${pick} onChange=${(e) => setPick(e.currentTarget.value)} name="broker_user_id">
          ${found.map((u) => html`<option value=${u.id}>${u.display_name}${u.org ? '（' + u.org.name + '）' : ''}</option>`)}</select></${Field}>
        <${ActionButton} class="btn" onClick=${() => act(() => api.post('/inquiries/{id}/broker', { path: { id: x.id }, body: { user_id: Number(pick) } }), '已邀请技术经纪人，等待对方单位同意。')}>邀请参与</${ActionButton}>`
      : html`<p class="small muted">没有找到符合条件的技术经纪人。</p>`) : ''}
  </${Card}>`;
}

// --- auctions (竞价) -------------------------------------------------------------------------
function Countdown({ a, stamp }) {
  const left = useCountdown(a.status === 'open' ? a.seconds_left : null, stamp);
  return html`<span class=${'countdown' + (left != null && left <= a.extension_window_s ? ' ending' : '')} data-seconds=${left ?? ''}>${a.status === 'open' ? countdownText(left) : '已结束'}</span>`;
}

export function Auctions({ me }) {
  /** @type {['open' | 'closed', any]} */
  const [status, setStatus] = useState('open');
  const [stamp, setStamp] = useState(Date.now());
  const paged = usePaged(async (cursor) => { const p = await api.get('/auctions', { query: { status, limit: 50, cursor } }); setStamp(Date.now()); return p; }, [status]);
  useEffect(() => {
    if (status !== 'open') return undefined;
    const t = setInterval(() => paged.reload(), 15000);    // the prices move: refresh the page of auctions
    return () => clearInterval(t);
  }, [status]);
  const items = [...paged.items].sort((p, q) => (status === 'open' ? (p.seconds_left ?? 0) - (q.seconds_left ?? 0) : 0));
  return html`<${PageTitle} sub="以拍卖方式转让的科技成果，公开竞价、价高者得；截止前最后几分钟内出价，截止时间自动顺延。">成果竞价</${PageTitle}>
    <div class="card">
      <${Tabs} value=${status} onChange=${setStatus} tabs=${[['open', '竞价中'], ['closed', '已结束']]} />
      <${ErrorBox} error=${paged.error} onRetry=${paged.reload} />
      ${!paged.loading && !paged.error && !items.length ? html`<${Empty}>${status === 'open' ? '当前没有竞价中的成果' : '还没有结束的竞价'}</${Empty}>` : ''}
      ${items.length ? html`<div class="table-wrap" tabindex="0"><table class="list stack"><thead><tr><th>成果</th><th>持有单位</th><th class="right">当前最高价</th><th class="right">出价次数</th><th>${status === 'open' ? '剩余时间' : '结果'}</th><th>截止时间</th></tr></thead><tbody>
        ${items.map((a) => html`<tr data-id=${a.id}><td data-label="成果"><a href=${'#/results/' + a.result.id}>${a.result.title}</a></td>
          <td data-label="单位">${a.result.holder.name}</td>
          <td data-label="最高价" class="right num">${a.best_bid_fen != null ? wanText(a.best_bid_fen) : '尚无出价'}${a.leading ? html` <span class="badge badge-green">我方领先</span>` : ''}</td>
          <td data-label="出价次数" class="right num">${a.bids}</td>
          <td data-label=${status === 'open' ? '剩余' : '结果'}>${status === 'open' ? html`<${Countdown} a=${a} stamp=${stamp} />` : a.winner ? '已成交 ' + wanText(a.winner.amount_fen) : '未成交'}</td>
          <td data-label="截止" class="nowrap">${dateTime(a.ends_at)}</td></tr>`)}
      </tbody></table></div>` : ''}
      <${More} paged=${paged} />
      ${!me ? html`<p class="small muted">登录后可在成果页面出价。</p>` : ''}
    </div>`;
}

// --- the message centre (消息) ------------------------------------------------------------------
const KIND_TEXT = {
  subscription_match: '订阅推送', inquiry: '交易意向', message: '洽谈消息', proposal: '报价', agreed: '达成交易', declined: '洽谈被拒绝',
  expired: '洽谈过期', broker_request: '经纪人待同意', broker_admitted: '经纪人已参与', broker_removed: '经纪人退出',
  notice: '公示开始', objection: '公示异议', objection_decided: '异议处理', notice_passed: '公示期满', notice_failed: '公示未通过',
  bid: '新出价', outbid: '出价被超过', auction_won: '竞价成交', auction_lost: '竞价未中标', auction_closed: '竞价结束',
  contract_draft: '合同草稿', contract_returned: '退回补正', contract_registered: '登记完成', contract_refused: '不予登记',
  contract_change_decided: '变更注销',
};
const CATEGORY_TEXT = { deal: '交易', registration: '合同登记', subscription: '订阅推送' };
/** Where a notification opens. @param {import('../api-types').Schema<'Notification'>} n */
export function noteHref(n) {
  const d = /** @type {Record<string, any>} */ (n.data || {});
  switch (n.ref_kind) {
    case 'need': return '/needs/' + n.ref_id;
    case 'inquiry': return '/inquiries/' + n.ref_id;
    case 'contract': return '/contracts/' + n.ref_id;
    case 'notice': case 'auction': return '/results/' + d.result_id;
    default: return '/results/' + n.ref_id;
  }
}
const QUERY_TEXT = { kind: { result: '科技成果', need: '技术需求' } };
const TABS = [['', '全部'], ['unread', '未读'], ['deal', '交易'], ['registration', '合同登记'], ['subscription', '订阅推送']];

export function Notifications() {
  const [tab, setTab] = useState('');
  const [err, setErr] = useState(null);
  /** @returns {import('../api-types').Query<'/notifications', 'get'>} */
  const query = (cursor) => ({ limit: 20, cursor, unread: tab === 'unread' ? 'true' : undefined,
    category: ['deal', 'registration', 'subscription'].includes(tab) ? /** @type {any} */ (tab) : undefined });
  const notes = usePaged((cursor) => api.get('/notifications', { query: query(cursor) }), [tab]);
  const subs = useLoad(() => api.get('/subscriptions', { query: { limit: 50 } }), []);
  const open = async (n) => {
    if (!n.read_at) {
      try { await api.post('/notifications/{id}/read', { path: { id: n.id } }); } catch (e) { /* opening matters more */ }
      notesChanged();
    }
    navigate(noteHref(n));
  };
  const readAll = async () => {
    setErr(null);
    try {
      await api.post('/notifications/read-all', { body: { up_to_id: notes.items.length ? notes.items[0].id : null } });
      notesChanged(); notes.reload();
    } catch (e) { setErr(e); }
  };
  return html`<${PageTitle} sub="交易、公示、竞价与合同登记的进展，以及订阅检索条件的新成果、新需求，都会在此提醒。"
      actions=${html`<${ActionButton} class="btn" onClick=${readAll}>全部标为已读</${ActionButton}>`}>消息</${PageTitle}>
    <${ErrorBox} error=${err} />
    <div class="grid2">
      <${Card} title="消息">
        <${Tabs} value=${tab} onChange=${setTab} tabs=${TABS} />
        <${ErrorBox} error=${notes.error} onRetry=${notes.reload} />
        ${!notes.loading && !notes.error && !notes.items.length ? html`<${Empty}>${tab === 'unread' ? '没有未读消息' : '暂无消息'}</${Empty}>` : ''}
        ${notes.items.map((n) => html`<div class=${'hit note' + (n.read_at ? '' : ' unread')} data-id=${n.id} data-kind=${n.kind}>
          <a href=${'#' + noteHref(n)} onClick=${(e) => { e.preventDefault(); open(n); }}>${n.title}</a>
          <div class="meta"><span>${CATEGORY_TEXT[n.category]} · ${KIND_TEXT[n.kind] || ''}</span>
            ${n.subscription ? html`<span>订阅：${n.subscription.name}</span>` : ''}
            <span>${dateTime(n.created_at)}</span>${!n.read_at ? html`<span class="badge badge-blue">未读</span>` : ''}</div></div>`)}
        <${More} paged=${notes} /></${Card}>
      <${Card} title="我的订阅">${subs.loading ? html`<${Loading} />` : subs.error ? html`<${ErrorBox} error=${subs.error} />`
        : !subs.data.items.length ? html`<${Empty}>在检索页设置条件后可保存为订阅</${Empty}>`
        : subs.data.items.map((s) => html`<div class="hit"><b>${s.name}</b> <span class="muted small">${[
              s.query.q ? '“' + s.query.q + '”' : '', s.query.kind ? QUERY_TEXT.kind[s.query.kind] : '',
              s.query.trl_min || s.query.trl_max ? `TRL ${s.query.trl_min || 1}–${s.query.trl_max || 9}` : '',
              s.query.price_max != null ? '价格不超过 ' + wanText(s.query.price_max) : ''].filter(Boolean).join(' · ')}</span>
            <${ActionButton} class="btn btn-small" onClick=${async () => { await api.del('/subscriptions/{id}', { path: { id: s.id } }); subs.reload(); }}>取消订阅</${ActionButton}></div>`)}</${Card}>
    </div>`;
}

// --- the reviewer's objections (公示异议) ------------------------------------------------------------
export function ObjectionQueue() {
  const [pending, setPending] = useState('true');
  const paged = usePaged((cursor) => api.get('/notices', { query: { status: pending === 'true' ? 'all' : 'active', pending_objections: pending === 'true' ? 'true' : undefined, limit: 20, cursor } }), [pending]);
  return html`<${PageTitle} sub="国有高校、科研院所协议定价转化科技成果的公示期间，任何人可提出异议；由平台审核员核实后认定异议是否成立。异议成立的，交易不能成交。">公示异议</${PageTitle}>
    <div class="card">
      <${Tabs} value=${pending} onChange=${setPending} tabs=${[['true', '待处理'], ['false', '公示中']]} />
      <${ErrorBox} error=${paged.error} onRetry=${paged.reload} />
      ${!paged.loading && !paged.error && !paged.items.length ? html`<${Empty}>${pending === 'true' ? '没有待处理的异议' : '当前没有公示'}</${Empty}>` : ''}
      ${paged.items.map((n) => html`<${NoticeObjections} n=${n} key=${n.id} />`)}
      <${More} paged=${paged} />
    </div>`;
}

/** @param {{n: import('../api-types').Schema<'Notice'>}} props */
function NoticeObjections({ n }) {
  const r = useLoad(() => api.get('/notices/{id}/objections', { path: { id: n.id } }), [n.id]);
  return html`<div class="hit notice" data-id=${n.id}>
    <h3><a href=${'#/results/' + n.result_id}>${n.result_title}</a> <${Status} kind="notice" value=${n.status} /></h3>
    <div class="meta"><span>持有单位：${n.holder_name}</span><span class="price">拟交易价格 ${wanText(n.price_fen)}</span>
      <span>公示期 ${dateTime(n.starts_at)} 至 ${dateTime(n.ends_at)}</span></div>
    ${r.loading ? html`<${Loading} />` : r.error ? html`<${ErrorBox} error=${r.error} />`
      : r.data.items.map((o) => html`<${ObjectionItem} o=${o} reload=${r.reload} key=${o.id} />`)}
  </div>`;
}

const DECISION_TEXT = { filed: '待处理', upheld: '异议成立', dismissed: '异议不成立' };
/** @param {{o: import('../api-types').Schema<'ObjectionView'>, reload: () => void}} props */
function ObjectionItem({ o, reload }) {
  const [note, setNote] = useState('');
  const [err, setErr] = useState(null);
  const fe = fieldErrors(err);
  const decide = async (decision) => {
    setErr(null);
    try { await api.post('/notices/{id}/objections/{oid}/decide', { path: { id: o.notice_id, oid: o.id }, body: { decision, note: note.trim() || null } }); reload(); } catch (e) { setErr(e); }
  };
  return html`<div class="objection card-inset" data-id=${o.id} data-status=${o.status}>
    <div class="meta"><b>${o.name}</b>${o.contact ? html`<span>联系方式：${o.contact}</span>` : ''}<span>${dateTime(o.created_at)}</span>
      <span class=${'badge badge-' + (o.status === 'filed' ? 'amber' : o.status === 'upheld' ? 'red' : 'green')}>${DECISION_TEXT[o.status]}</span></div>
    <p style="white-space:pre-wrap">${o.body}</p>
    ${o.status === 'filed' ? html`<div class="form">
        <${DealError} err=${err} fields=${['note', 'decision']} />
        <${Field} label="处理意见" name="note" errors=${fe} help="核实情况和认定理由，将记入审计记录。"><${TextArea} rows=${2} value=${note} onInput=${setNote} name="note" /></${Field}>
        <div class="page-actions">
          <${ActionButton} class="btn btn-danger" confirm="认定异议成立后，公示期满时交易不能成交。确定？" onClick=${() => decide('upheld')}>异议成立</${ActionButton}>
          <${ActionButton} class="btn" onClick=${() => decide('dismissed')}>异议不成立</${ActionButton}>
        </div></div>`
      : html`<p class="small muted">${DECISION_TEXT[o.status]}${o.decision_note ? '：' + o.decision_note : ''}（${dateTime(o.decided_at)}）</p>`}
  </div>`;
}

