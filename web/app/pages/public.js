// Public screens: search home with filters and facets, result and need pages
// (with the actions each role has on them), public notices (公示), and
// certificate verification (#/verify/<registration_no>, where QR codes point).
import { useState, useEffect } from 'preact/hooks';
import { api, listAll, ApiError } from '../api.js';
import {
  html, yuan, yuanText, wanText, bigMoney, date, dateTime, Status, Loading, ErrorBox, Unavailable, Empty, Card, PageTitle,
  Facts, Field, CodeSelect, RegionPicker, RegionName, MoneyInput, useLoad, useCodes, labelOf, usePaged, More, navigate,
  ActionButton, fieldErrors, problemText, errorText, TextArea, TextInput, Notice, toFen, ErrorSummary, Tabs, STATUS,
} from '../ui.js';

const TRL_TEXT = ['', '1 基本原理', '2 技术概念', '3 概念验证', '4 实验室验证', '5 相关环境验证', '6 原型演示', '7 实际环境演示', '8 系统完成', '9 实际应用'];

// --- search home ---------------------------------------------------------------------------
const FILTER_KEYS = ['q', 'kind', 'domain', 'region', 'trl_min', 'trl_max', 'mode', 'price_max', 'holder_type', 'from', 'sort'];

/**
 * The filters of the address as GET /search takes them.
 * @param {Record<string, string>} q
 * @returns {import('../api-types').Query<'/search', 'get'>}
 */
function searchQuery(q) {
  /** @type {any} */
  const out = {};
  for (const k of FILTER_KEYS) if (q[k]) out[k] = ['trl_min', 'trl_max', 'price_max'].includes(k) ? Number(q[k]) : q[k];
  return out;
}

export function Home({ query, me }) {
  const q = Object.fromEntries(FILTER_KEYS.map((k) => [k, query[k] || '']));
  const [text, setText] = useState(q.q);
  const [showFilters, setShowFilters] = useState(false);
  useEffect(() => setText(q.q), [q.q]);
  const setQ = (patch) => {
    const next = { ...q, ...patch };
    const s = new URLSearchParams(Object.entries(next).filter(([, v]) => v !== '' && v !== null && v !== undefined)).toString();
    navigate('/' + (s ? '?' + s : ''));
  };
  const key = JSON.stringify(q);
  const paged = usePaged((cursor) => api.get('/search', { query: { ...searchQuery(q), limit: 20, cursor } }), [key]);
  const res = paged.extra;
  const modeList = q.kind === 'need' ? 'cooperation_modes' : 'transfer_modes';
  const onSearch = (e) => { e.preventDefault(); setQ({ q: text.trim() }); };
  return html`
    <section class="hero">
      <h1>科技成果与技术需求检索</h1>
      <p>汇集高校院所科技成果与企业技术需求，支持中文、英文全文检索，按领域、地区、成熟度筛选。</p>
      <form class="searchbar" role="search" onSubmit=${onSearch}>
        <input type="search" name="q" aria-label="检索词" placeholder="输入关键词，如：锂电池、富硒茶、桥梁监测" value=${text}
          onInput=${(e) => setText(e.currentTarget.value)} maxlength="200" />
        <button class="btn" type="submit">检索</button>
      </form>
      <div class="kind-switch">
        ${[['', '全部'], ['result', '科技成果'], ['need', '技术需求']].map(([k, l]) => html`
          <label><input type="radio" name="kind" checked=${q.kind === k} onChange=${() => setQ({ kind: k, mode: '' })} /> ${l}</label>`)}
      </div>
    </section>
    <div class="layout-side">
      <aside>
        <button class="btn filter-toggle" onClick=${() => setShowFilters(!showFilters)} style="width:100%;margin-bottom:12px">
          ${showFilters ? '收起筛选' : '筛选条件'}</button>
        <div class=${'card filters' + (showFilters ? '' : ' collapsed')}>
          <${Field} label="技术领域"><${CodeSelect} list="domains" value=${q.domain} onChange=${(v) => setQ({ domain: v || '' })} empty="全部领域" name="domain" /></${Field}>
          <${Field} label="所在地区（含下级）"><${RegionPicker} value=${q.region || null} levels=${2} onChange=${(v) => setQ({ region: v || '' })} name="region" /></${Field}>
          <${Field} label="技术成熟度（TRL）" group>
            <div style="display:flex;gap:6px;align-items:center">
              <select aria-label="最低 TRL" onChange=${(e) => setQ({ trl_min: e.currentTarget.value })}>
                <option value="">不限</option>${[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => html`<option value=${n} selected=${String(n) === q.trl_min}>${n}</option>`)}</select>
              <span>—</span>
              <select aria-label="最高 TRL" onChange=${(e) => setQ({ trl_max: e.currentTarget.value })}>
                <option value="">不限</option>${[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => html`<option value=${n} selected=${String(n) === q.trl_max}>${n}</option>`)}</select>
            </div></${Field}>
          <${Field} label=${q.kind === 'need' ? '合作方式' : '转化方式'}><${CodeSelect} list=${modeList} value=${q.mode} onChange=${(v) => setQ({ mode: v || '' })} empty="不限" /></${Field}>
          <${Field} label="价格上限" help="成果的挂牌价，或需求预算的下限；设置后不列出价格面议的">
            <${MoneyInput} scale=${10000} value=${q.price_max ? Number(q.price_max) : null} onChange=${() => {}}
              onBlur=${(e) => { const f = toFen(e.currentTarget.value, 10000); setQ({ price_max: Number.isNaN(f) || f === null ? '' : String(f) }); }} /></${Field}>
          <${Field} label="发布单位类型"><${CodeSelect} list="org_types" top value=${q.holder_type} onChange=${(v) => setQ({ holder_type: v || '' })} empty="不限" /></${Field}>
          <${Field} label="发布日期不早于"><input type="date" value=${q.from} onChange=${(e) => setQ({ from: e.currentTarget.value })} /></${Field}>
          <button class="btn btn-small" onClick=${() => navigate('/')}>清除全部条件</button>
        </div>
        ${res && res.facets ? html`<div class=${'card filters' + (showFilters ? '' : ' collapsed')}><${Facets} facets=${res.facets} q=${q} setQ=${setQ} />${facetNote(res.total)}</div>` : ''}
      </aside>
      <section>
          <div class="card">
            <div class="toolbar">
              <div>${res ? totalText(res.total, paged.items.length) : ''}</div>
              <span class="page-actions">${me ? html`<${Subscribe} q=${q} />` : ''}
              <select aria-label="排序" style="width:auto" onChange=${(e) => setQ({ sort: e.currentTarget.value })}>
                <option value="" selected=${!q.sort}>按相关度</option>
                <option value="recent" selected=${q.sort === 'recent'}>按发布时间</option>
              </select></span>
            </div>
            <${ErrorBox} error=${paged.error} onRetry=${paged.reload} />
            ${!paged.loading && !paged.error && !paged.items.length ? html`<${Empty}>没有找到符合条件的成果或需求，请换个关键词或放宽筛选条件。</${Empty}>` : ''}
            <div class="hits">${paged.items.map((it) => html`<${Hit} it=${it} terms=${res ? res.terms : []} />`)}</div>
            <${More} paged=${paged} />
          </div>
        <div class="grid2">
          <${NoticesBox} />
          <${VerifyBox} />
        </div>
      </section>
    </div>`;
}

// A count as people say it: 3,400 or 1.2 万 (two significant figures, for an estimate).
function roughCount(n) {
  if (n >= 10000) return (Math.round(n / 1000) / 10).toLocaleString('zh-CN') + ' 万';
  const p = 10 ** Math.max(0, String(Math.round(n)).length - 2);
  return (Math.round(n / p) * p).toLocaleString('zh-CN');
}

// The search's total, as honest as the server's figure: exact (共 N 条), estimated beyond the
// counted matches (约 1.2 万条), or only known to pass the cap (1,000 条以上).
/** @param {{value: number, exact: boolean, estimate?: number} | undefined} total @param {number} shown */
function totalText(total, shown) {
  if (!total) return html`共 <b class="num" data-testid="search-total">${shown}</b> 条`;
  if (total.exact) return html`共 <b class="num" data-testid="search-total">${total.value.toLocaleString('zh-CN')}</b> 条`;
  if (total.estimate) {
    return html`<span title=${'已数过最新的 ' + total.value.toLocaleString('zh-CN') + ' 条，其余按其比例估算'}>约 <b class="num" data-testid="search-total">${roughCount(total.estimate)}</b> 条</span>`;
  }
  return html`<b class="num" data-testid="search-total">${total.value.toLocaleString('zh-CN')}</b> 条以上`;
}

// The facet counts are over the matches the server counted: every match when the total is exact,
// else the newest `value` of them — the page says so, beside the counts.
/** @param {{value: number, exact: boolean, estimate?: number} | undefined} total */
function facetNote(total) {
  if (!total || total.exact) return '';
  return html`<p class="small muted" data-testid="facet-sample">以上分面数字按最新的 ${total.value.toLocaleString('zh-CN')} 条匹配统计，仅供参考</p>`;
}

// Save the current search: new matching listings are pushed as notifications.
function Subscribe({ q }) {
  const [state, setState] = useState(null);
  const save = async () => {
    /** @type {import('../api-types').Body<'/subscriptions', 'post'>} */
    const body = { name: q.q || '检索订阅' };
    for (const k of ['q', 'kind', 'domain', 'region', 'mode', 'holder_type']) if (q[k]) body[k] = q[k];
    for (const k of ['trl_min', 'trl_max', 'price_max']) if (q[k]) body[k] = Number(q[k]);
    try { await api.post('/subscriptions', { body }); setState('ok'); } catch (e) { setState(e); }
  };
  if (state === 'ok') return html`<span class="small" style="color:var(--green)">已订阅，<a href="#/notifications">查看消息</a></span>`;
  return html`<${ActionButton} class="btn btn-small" onClick=${save} title=${state ? problemText(state) : '有新的符合条件的成果或需求时推送消息'}>${state ? '订阅失败，重试' : '订阅此检索'}</${ActionButton}>`;
}

function Facets({ facets, q, setQ }) {
  const groups = [['kind', '类别', 'kind'], ['domain', '技术领域', 'domain'], ['region', '地区', 'region'], ['trl', '成熟度 TRL', null],
    ['mode', '方式', 'mode'], ['holder_type', '单位类型', 'holder_type']];
  return html`<div class="facets">${groups.map(([f, title, param]) => {
    const list = facets[f];
    if (!list || !list.length) return '';
    return html`<div class="facet" data-facet=${f}><h3>${title}</h3>${list.slice(0, 12).map((b) => {
      const on = param ? q[param] === b.key : q.trl_min === b.key && q.trl_max === b.key;
      const click = () => (param ? setQ({ [param]: on ? '' : b.key }) : setQ(on ? { trl_min: '', trl_max: '' } : { trl_min: b.key, trl_max: b.key }));
      return html`<button class=${on ? 'on' : ''} onClick=${click}><span>${b.label || b.key}</span><span class="count">${b.count}</span></button>`;
    })}</div>`;
  })}</div>`;
}

/** @typedef {import('../api-types').Schema<'ResultHit'>} ResultHit */
/** @typedef {import('../api-types').Schema<'NeedHit'>} NeedHit */

/** @param {{it: ResultHit | NeedHit, terms?: string[]}} props */
function Hit({ it, terms = [] }) {
  const href = (it.kind === 'need' ? '#/needs/' : '#/results/') + it.id;
  return html`<article class="hit" data-kind=${it.kind} data-id=${it.id}>
    <h3><span class=${'kind-tag kind-' + it.kind}>${it.kind === 'need' ? '需求' : '成果'}</span><a href=${href}>${it.title}</a></h3>
    ${it.snippet ? html`<p class="snippet">${marked(it.snippet, terms)}</p>` : ''}
    <div class="meta">
      ${it.holder ? html`<span>${it.holder.name}</span>` : ''}
      ${it.domain_label ? html`<span>${it.domain_label}</span>` : ''}
      ${it.region_name ? html`<span>${it.region_name}</span>` : ''}
      ${it.kind === 'result' && it.trl ? html`<span>TRL ${it.trl}</span>` : ''}
      <span class="price">${it.kind === 'need' ? '预算 ' + budgetText(it.budget_min_fen, it.budget_max_fen) : wanText(it.asking_price_fen)}</span>
      ${it.published_at ? html`<span>${date(it.published_at)}</span>` : ''}
    </div>
  </article>`;
}
// The search terms in a snippet (plain text) marked, case-insensitively.
function marked(text, terms) {
  const ts = (terms || []).filter(Boolean);
  if (!ts.length) return text;
  const esc = ts.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const parts = String(text).split(new RegExp('(' + esc.join('|') + ')', 'i'));
  return parts.map((x, i) => (i % 2 ? html`<mark>${x}</mark>` : x));
}
export function budgetText(min, max) {
  if (min == null && max == null) return '面议';
  if (min != null && max != null) return `${wanText(min)} ～ ${wanText(max)}`;
  return min != null ? `${wanText(min)} 以上` : `${wanText(max)} 以内`;
}

function NoticesBox() {
  const r = useLoad(() => api.get('/notices', { query: { status: 'active', limit: 5 } }), []);
  return html`<${Card} title="当前公示" actions=${html`<a href="#/notices">全部公示 ›</a>`}>
    ${r.loading ? html`<${Loading} />` : r.error ? html`<${ErrorBox} error=${r.error} />`
      : !r.data.items.length ? html`<${Empty}>当前没有公示</${Empty}>`
      : html`<ul class="plain">${r.data.items.map((n) => html`<li><a href=${'#/results/' + n.result_id}>${n.result_title}</a>
          <span class="muted small"> ${n.holder_name} · 拟交易价 ${wanText(n.price_fen)} · 至 ${date(n.ends_at)}</span></li>`)}</ul>`}
  </${Card}>`;
}

function VerifyBox() {
  const [no, setNo] = useState('');
  const go = (e) => { e.preventDefault(); const m = /(\d{16})/.exec(no); navigate('/verify/' + (m ? m[1] : encodeURIComponent(no.trim()))); };
  return html`<${Card} title="技术合同登记证明核验">
    <p class="muted small">输入 16 位登记编号，或粘贴证明上二维码的核验地址。</p>
    <form class="searchbar" onSubmit=${go}><input type="text" placeholder="登记编号或核验地址" value=${no} onInput=${(e) => setNo(e.currentTarget.value)} aria-label="登记编号" />
      <button class="btn btn-primary" type="submit" style="background:var(--blue);border-color:var(--blue)">核验</button></form>
  </${Card}>`;
}

// --- result page -----------------------------------------------------------------------------
/** @typedef {import('../api-types').Schema<'Result'>} Result */
/** @typedef {import('../api-types').Schema<'Need'>} Need */
const IP_STATUS = { filed: '已申请', granted: '已授权', lapsed: '已失效' };

export function ResultPage({ params, me }) {
  const r = useLoad(() => api.get('/results/{id}', { path: { id: params.id } }), [params.id]);
  if (r.loading) return html`<${Loading} />`;
  if (r.error) return html`<${PageTitle}>科技成果</${PageTitle}><${ErrorBox} error=${r.error} />`;
  const x = r.data;
  const mine = me && me.org && me.org.id === x.holder.id;
  const canInquire = me && (me.role === 'member' || me.role === 'broker') && !mine && ['published', 'under_notice'].includes(x.status);
  return html`
    <${PageTitle} sub=${html`${x.holder.name} · <${Status} kind="result" value=${x.status} />`}
      actions=${html`<a class="btn" href="#/">返回检索</a>`}>${x.title}</${PageTitle}>
    ${x.status === 'rejected' && x.reject_reason ? html`<${Notice} tone="warn">审核意见：${x.reject_reason}</${Notice}>` : ''}
    <div class="layout-main-side">
      <div>
        <${Card} title="成果简介"><p style="white-space:pre-wrap;margin:0">${x.summary || '—'}</p></${Card}>
        <${Card} title="基本信息">
          <${Facts} rows=${[
            ['技术领域', x.domain_label], ['技术成熟度', x.trl ? 'TRL ' + TRL_TEXT[x.trl] : null],
            ['成果阶段', x.maturity_label], ['所在地区', x.region_code ? html`<${RegionName} code=${x.region_code} />` : null],
            ['转化方式', x.transfer_modes.map((m) => m.label || m.code).join('、')],
            ['定价方式', x.pricing_mode_label],
            ['价格', html`<span class="price">${wanText(x.asking_price_fen)}</span>`],
            ['关键词', x.keywords.join('、')], ['完成人', x.completers.join('、')],
            ['适用行业', x.industries.join('、')], ['发布日期', date(x.published_at)],
          ]} />
          ${x.ip_records.length ? html`<h3 style="margin-top:14px">知识产权</h3>
            <table class="list"><thead><tr><th>类型</th><th>编号</th><th>状态</th></tr></thead><tbody>
            ${x.ip_records.map((p) => html`<tr><td>${p.type_label || p.type}</td><td>${p.number || '—'}</td><td>${IP_STATUS[p.status] || '—'}</td></tr>`)}</tbody></table>` : ''}
        </${Card}>
        ${x.pricing_mode === 'auction' && ['published', 'transacted'].includes(x.status) ? html`<${Auction} result=${x} me=${me} mine=${mine} />` : ''}
        ${mine ? html`<${Matches} kind="result" id=${x.id} me=${me} />` : ''}
        ${['under_notice', 'transacted'].includes(x.status) ? html`<${ResultNotices} id=${x.id} />` : ''}
      </div>
      <aside>
        <${Card} title="联系方式">
          <${Facts} rows=${[['持有单位', x.holder.name], ['联系人', x.contact.name], ['电话', x.contact.phone], ['邮箱', x.contact.email]]} />
        </${Card}>
        ${canInquire && me.role === 'member' && x.pricing_mode === 'listed' && x.asking_price_fen != null && x.status === 'published' ? html`<${Purchase} x=${x} />` : ''}
        ${canInquire && x.pricing_mode !== 'auction' ? html`<${InquiryStart} body=${{ result_id: x.id }} title=${x.pricing_mode === 'listed' ? '议价洽谈' : '发起洽谈'} hint="向成果持有单位表达合作意向，双方在平台内洽谈价格，就同一价格达成一致后成交。" />` : ''}
        ${!me && ['published', 'under_notice'].includes(x.status) ? html`<${Card} title="合作意向"><p class="small">登录后可向持有单位发起洽谈。</p><a class="btn btn-primary" href=${'#/login?next=' + encodeURIComponent('/results/' + x.id)}>登录</a></${Card}>` : ''}
        ${mine ? html`<${OwnerActions} x=${x} set=${r.set} />` : ''}
        ${me && (me.role === 'reviewer' || me.role === 'admin') && x.status === 'submitted' ? html`<${ReviewActions} kind="results" id=${x.id} reload=${r.reload} />` : ''}
      </aside>
    </div>`;
}

/** @param {{x: Result, set: (x: Result) => void}} props */
function OwnerActions({ x, set }) {
  const [err, setErr] = useState(null);
  const act = async (fn) => {
    setErr(null);
    try { set(await fn()); } catch (e) { setErr(e); }
  };
  return html`<${Card} title="本单位操作">
    <${ErrorBox} error=${err} />
    <div class="page-actions">
      ${['draft', 'rejected'].includes(x.status) ? html`<a class="btn" href=${'#/my/results/' + x.id + '/edit'}>修改</a>` : ''}
      ${x.status === 'draft' || x.status === 'rejected' ? html`<${ActionButton} class="btn btn-primary" onClick=${() => act(() => api.post('/results/{id}/submit', { path: { id: x.id } }))}>提交审核</${ActionButton}>` : ''}
      ${['published', 'submitted'].includes(x.status) ? html`<${ActionButton} class="btn btn-warn" confirm=${x.status === 'published' ? '撤回后公众将无法查看此成果，确定撤回？' : '撤回审核申请？'}
          onClick=${() => act(() => api.post('/results/{id}/withdraw', { path: { id: x.id } }))}>撤回</${ActionButton}>` : ''}
    </div>${x.status === 'submitted' ? html`<p class="small muted" style="margin:0">已提交，等待平台审核。</p>` : ''}
  </${Card}>`;
}

/** @param {{kind: 'results' | 'needs', id: number, reload?: () => void, after?: (verb: string) => void}} props */
export function ReviewActions({ kind, id, reload, after }) {
  const [reason, setReason] = useState('');
  const [err, setErr] = useState(null);
  const fe = fieldErrors(err);
  const act = async (verb) => {
    setErr(null);
    try {
      if (kind === 'results') {
        if (verb === 'approve') await api.post('/results/{id}/approve', { path: { id } });
        else await api.post('/results/{id}/reject', { path: { id }, body: { reason } });
      } else if (verb === 'approve') await api.post('/needs/{id}/approve', { path: { id } });
      else await api.post('/needs/{id}/reject', { path: { id }, body: { reason } });
      if (after) after(verb); else reload();
    } catch (e) { setErr(e); }
  };
  return html`<${Card} title="发布审核" class="form">
    <${ErrorBox} error=${err && !err.errors.length ? err : null} />
    <${ActionButton} class="btn btn-success" onClick=${() => act('approve')} style="width:100%;margin-bottom:12px">审核通过并发布</${ActionButton}>
    <${Field} label="退回理由" name="reason" errors=${fe} help="退回时必填，发布单位可据此修改后重新提交。">
      <${TextArea} rows=${3} value=${reason} onInput=${setReason} name="reason" /></${Field}>
    <${ActionButton} class="btn btn-danger" onClick=${() => act('reject')}>退回</${ActionButton}>
  </${Card}>`;
}

/** @param {{body: {result_id: number} | {need_id: number}, title: string, hint: string}} props */
export function InquiryStart({ body, title, hint }) {
  const [msg, setMsg] = useState('');
  const [err, setErr] = useState(null);
  const fe = fieldErrors(err);
  return html`<${Card} title=${title} class="form inquiry-start">
    <p class="small muted">${hint}</p>
    <${ErrorBox} error=${err && !err.errors.length ? err : null} />
    <${Field} label="留言" name="message" errors=${fe} required>
      <${TextArea} rows=${4} value=${msg} onInput=${setMsg} name="message" placeholder="简要说明合作意向、应用场景和希望的合作方式" /></${Field}>
    <${ActionButton} class="btn btn-primary" onClick=${async () => {
      setErr(null);
      try { const inq = await api.post('/inquiries', { body: { ...body, message: msg } }); navigate('/inquiries/' + inq.id); } catch (e) { setErr(e); }
    }}>发送洽谈请求</${ActionButton}>
  </${Card}>`;
}

// Ranked matches with the reasons behind each score.
const REASON_TEXT = { shared_terms: '关键词', title_similarity: '标题', same_domain: '技术领域', same_region: '地区', trl_fit: '成熟度', mode_fit: '合作方式', price_fit: '价格' };
/** @param {{kind: 'result' | 'need', id: number, me: any}} props */
export function Matches({ kind, id, me }) {
  const r = useLoad(() => (kind === 'need' ? api.get('/needs/{id}/matches', { path: { id }, query: { limit: 10 } })
    : api.get('/results/{id}/matches', { path: { id }, query: { limit: 10 } })).then((p) => p.items), [kind, id]);
  const [open, setOpen] = useState(null);
  return html`<${Card} title=${kind === 'need' ? '匹配的科技成果' : '匹配的技术需求'} class="matches">
    <p class="small muted" style="margin-top:0">按关键词、标题相似度、技术领域、地区、成熟度、合作方式和价格综合打分，分数越高越契合；每项得分的理由列在下方。</p>
    ${r.loading ? html`<${Loading} />` : r.error ? html`<${ErrorBox} error=${r.error} />`
      : !r.data.length ? html`<${Empty}>暂未找到匹配项，可补充关键词后再看。</${Empty}>`
      : r.data.map((m) => { const it = m.item; return html`<div class="match" data-id=${it.id} data-kind=${it.kind}>
          <div class="match-head">
            <div><span class=${'kind-tag kind-' + it.kind}>${it.kind === 'need' ? '需求' : '成果'}</span>
              <a href=${'#/' + (it.kind === 'need' ? 'needs/' : 'results/') + it.id}><b>${it.title}</b></a>
              <span class="muted small"> · ${it.holder.name}</span></div>
            <span class="score" title="匹配得分">${m.score}<small> 分</small></span>
          </div>
          <ul class="reasons">${m.reasons.map((x) => html`<li data-reason=${x.code}>
            <span>${REASON_TEXT[x.code] || '其他'}</span>
            <span class="bar-track"><span class="bar-fill" style=${'display:block;width:' + Math.min(100, Math.round((x.points / Math.max(1, m.score)) * 100)) + '%'}></span></span>
            <span class="small">${x.message} <span class="muted">+${x.points}</span></span></li>`)}</ul>
          ${me && (me.role === 'member' || me.role === 'broker') ? html`<div style="margin-top:8px">
            ${open === it.id ? html`<${InquiryStart} body=${it.kind === 'result' ? { result_id: it.id } : { need_id: it.id }}
                title=${'向「' + it.holder.name + '」发起洽谈'} hint=${it.kind === 'result' ? '洽谈请求将发送给成果持有单位。' : '洽谈请求将发送给需求单位。'} />`
              : html`<button class="btn btn-small btn-primary" onClick=${() => setOpen(it.id)}>发起洽谈</button>`}</div>` : ''}
        </div>`; })}
  </${Card}>`;
}

// The notices of one result (a result's page shows its own only).
function ResultNotices({ id }) {
  const r = useLoad(() => api.get('/notices', { query: { result_id: id, status: 'all', limit: 20 } }), [id]);
  if (r.loading || r.error || !r.data.items.length) return null;
  return html`<${Card} title="公示信息" class="result-notices">${r.data.items.map((n) => html`<${NoticeItem} n=${n} />`)}</${Card}>`;
}

// The refusal of an action on a deal, in Chinese: the code's text when the
// server named one about the deal itself (field `id`: inquiry_closed,
// auction_ended, own, …), else the sentence for the status.  Field problems
// (those in `fields`) are shown beside their fields by the caller.
export function DealError({ err, fields = [] }) {
  if (!err) return null;
  const errs = err instanceof ApiError ? err.errors : [];
  const own = errs.filter((e) => !fields.includes(e.field));
  const text = own.length ? own.map((e) => errorText(e)).join('；') : errs.length ? '' : problemText(err);
  if (!text) return null;
  return html`<div class="alert alert-error" role="alert" data-testid="deal-error">${text}</div>`;
}

// Seconds → 「1 天 02:03:04」.
export function countdownText(s) {
  if (s == null) return '—';
  if (s <= 0) return '已截止';
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), x = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  return (d ? d + ' 天 ' : '') + two(h) + ':' + two(m) + ':' + two(x);
}
// The seconds left now, ticking once a second, from the server's seconds_left
// when it answered at `stamp` (the viewer's clock may be wrong).
export function useCountdown(secondsLeft, stamp) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  if (secondsLeft == null) return null;
  return Math.max(0, secondsLeft - Math.floor((now - stamp) / 1000));
}
const spanText = (s) => (s % 60 ? s + ' 秒' : s / 60 + ' 分钟');

// Listed price (挂牌): the buyer accepts the seller's standing offer.  The
// confirmation says what happens next before anything is sent.
/** @param {{x: Result}} props */
function Purchase({ x }) {
  const [asking, setAsking] = useState(false);
  const [err, setErr] = useState(null);
  const stateFunded = /^02/.test(x.holder.org_type);
  return html`<${Card} title="挂牌交易" class="purchase">
    <p>挂牌价 <span class="price" data-testid="listed-price">${wanText(x.asking_price_fen)}</span>，按挂牌价直接受让，无需议价。</p>
    <${DealError} err=${err} />
    ${!asking ? html`<button class="btn btn-primary" onClick=${() => { setErr(null); setAsking(true); }}>立即受让</button>`
      : html`<div class="confirm-box" role="group" aria-label="确认受让" data-testid="purchase-confirm">
        <p><b>确认以 ${wanText(x.asking_price_fen)} 受让「${x.title}」？</b></p>
        <ul class="small">
          <li>确认后交易立即成交，成果不再对外挂牌。</li>
          <li>系统自动生成技术合同草稿，双方单位、标的和价格已带入，由卖方（${x.holder.name}）完善后申请技术合同认定登记。</li>
          <li>${stateFunded ? '卖方为国有高校或科研院所；挂牌交易的价格事先已公开，依《促进科技成果转化法》第十八条，只有协议定价需要公示，本次交易不再公示。' : '挂牌交易不需要公示。'}</li>
        </ul>
        <div class="page-actions">
          <${ActionButton} class="btn btn-primary" onClick=${async () => {
            setErr(null);
            try { const inq = await api.post('/results/{id}/purchase', { path: { id: x.id } }); navigate('/inquiries/' + inq.id); } catch (e) { setErr(e); setAsking(false); }
          }}>确认受让</${ActionButton}>
          <button class="btn" onClick=${() => setAsking(false)}>取消</button>
        </div></div>`}
  </${Card}>`;
}

// Auction (拍卖/竞价): the holder opens it here; then its terms, the current
// price with a countdown, the bids the caller may see, and for other members
// the bid form (the least next bid comes from the server and is checked here
// too).  Refreshed every five seconds while it runs.
/** @param {{result: Result, me: any, mine: boolean}} props */
function Auction({ result, me, mine }) {
  const [st, setSt] = useState({ a: null, err: null, at: 0, bids: [], deal: null });
  const load = async () => {
    try {
      const a = await api.get('/results/{id}/auction', { path: { id: result.id } });
      const bids = me && me.role !== 'reviewer' && me.role !== 'officer' && me.role !== 'bureau' && me.role !== 'broker'
        ? (await api.get('/results/{id}/bids', { path: { id: result.id } })).items : [];
      let deal = null;
      if (a.status === 'closed' && a.winner && me && me.org && (mine || a.winner.org.id === me.org.id)) {
        const list = await api.get('/inquiries', { query: { status: 'agreed', limit: 100 } });
        deal = list.items.find((i) => i.kind === 'auction' && i.result && i.result.id === result.id) || null;
      }
      setSt({ a, err: null, at: Date.now(), bids, deal });
    } catch (e) { setSt((s) => ({ ...s, err: e })); }
  };
  useEffect(() => { load(); }, [result.id]);
  const running = st.a && st.a.status === 'open';
  useEffect(() => {
    if (!running) return undefined;
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, [running, result.id]);
  const left = useCountdown(running ? st.a.seconds_left : null, st.at);
  if (!st.a && !st.err) return html`<${Card} title="竞价"><${Loading} /></${Card}>`;
  if (st.err && !st.a) {
    if (st.err.status !== 404) return html`<${Card} title="竞价"><${ErrorBox} error=${st.err} /></${Card}>`;
    return mine && result.status === 'published' ? html`<${AuctionOpen} result=${result} onOpened=${load} />`
      : html`<${Card} title="竞价" class="auction"><p class="muted">持有单位尚未开启竞价。加价幅度、保留价和截止时间确定后将在此公布。</p></${Card}>`;
  }
  const a = st.a;
  const ended = a.status === 'closed' || left === 0;
  const myBids = st.bids.filter((b) => me && me.org && b.bidder && b.bidder.id === me.org.id);
  const canBid = me && me.role === 'member' && !mine && !ended;
  const rule = a.extension_window_s ? `截止前 ${spanText(a.extension_window_s)}内出价，截止时间顺延至出价后 ${spanText(a.extension_s)}` : '不延时';
  return html`<${Card} title="竞价" class="auction">
    <${Facts} rows=${[
      ['当前最高价', a.best_bid_fen != null ? html`<span class="price" data-testid="best-bid">${wanText(a.best_bid_fen)}</span>` : '尚无出价'],
      ['剩余时间', a.status === 'open' ? html`<span class=${'countdown' + (left != null && left <= a.extension_window_s ? ' ending' : '')} data-testid="countdown" data-seconds=${left ?? ''}>${countdownText(left)}</span>` : '已结束'],
      ['截止时间', html`<span data-testid="ends-at" data-ends=${a.ends_at}>${dateTime(a.ends_at)}</span>`],
      ['加价幅度', wanText(a.increment_fen)], ['延时规则', rule], ['出价次数', a.bids],
      ['保留价', a.reserve_fen != null ? wanText(a.reserve_fen) : a.reserve_met == null ? '—' : a.reserve_met ? '已达到' : '尚未达到'],
      ['状态', a.status === 'closed' ? (a.winner ? '已成交：' + a.winner.org.name + ' ' + wanText(a.winner.amount_fen) : '已结束，未能成交') : ended ? '已截止，等待结算' : '竞价中']]} />
    ${a.status === 'open' && a.leading ? html`<${Notice} tone="success"><span data-testid="leading">您的单位当前出价最高。</span></${Notice}>` : ''}
    ${a.status === 'open' && !a.leading && myBids.length ? html`<${Notice} tone="warn"><span data-testid="outbid">您的出价已被超过，当前最高价 ${wanText(a.best_bid_fen)}。</span></${Notice}>` : ''}
    ${a.status === 'closed' && a.winner && me && me.org && a.winner.org.id === me.org.id ? html`<${Notice} tone="success"><span data-testid="won">竞价成交，您的出价最高。</span>
        ${st.deal && st.deal.contract_id ? html` <a href=${'#/contracts/' + st.deal.contract_id} data-testid="draft-link">查看合同草稿</a>` : ''}</${Notice}>` : ''}
    ${a.status === 'closed' && mine && st.deal && st.deal.contract_id ? html`<p><a class="btn" href=${'#/contracts/' + st.deal.contract_id} data-testid="draft-link">查看合同草稿</a></p>` : ''}
    ${a.status === 'closed' && !(a.winner && me && me.org && a.winner.org.id === me.org.id) && myBids.length ? html`<${Notice}>竞价已结束，您的单位未中标。</${Notice}>` : ''}
    ${st.bids.length ? html`<div class="table-wrap" tabindex="0" style="margin-top:12px"><table class="list"><thead><tr><th>出价单位</th><th class="right">出价</th><th>时间</th></tr></thead>
      <tbody>${st.bids.map((b) => html`<tr><td>${b.bidder ? b.bidder.name : '竞买人'}</td><td class="right num">${wanText(b.amount_fen)}</td><td>${dateTime(b.created_at)}</td></tr>`)}</tbody></table></div>` : ''}
    ${canBid ? html`<${BidForm} result=${result} a=${a} onBid=${load} />` : ended && a.status === 'open' ? html`<p class="muted">竞价已截止，正在结算。</p>` : ''}
  </${Card}>`;
}

/** @param {{result: Result, a: import('../api-types').Schema<'AuctionState'>, onBid: () => void}} props */
function BidForm({ result, a, onBid }) {
  const [amount, setAmount] = useState(null);
  const [err, setErr] = useState(null);
  const [low, setLow] = useState(null);
  const fe = { ...fieldErrors(err), ...(low ? { amount_fen: [low] } : {}) };
  const bid = async () => {
    setErr(null); setLow(null);
    if (amount != null && amount < a.minimum_next_bid_fen) {
      setLow(`出价不能低于 ${wanText(a.minimum_next_bid_fen)}（${a.best_bid_fen != null ? '当前最高价加加价幅度' : '首次出价不低于加价幅度'}）`);
      return;
    }
    try { await api.post('/results/{id}/bids', { path: { id: result.id }, body: { amount_fen: amount ?? 0 } }); setAmount(null); onBid(); } catch (e) { setErr(e); onBid(); }
  };
  return html`<div class="form form-section bid-form" style="margin-top:12px">
    <${Field} label="我的出价" name="amount_fen" errors=${fe} help=${'不低于 ' + wanText(a.minimum_next_bid_fen) + '，加价幅度 ' + wanText(a.increment_fen)}>
      <${MoneyInput} scale=${10000} value=${amount} onChange=${setAmount} name="amount_fen" /></${Field}>
    <${DealError} err=${err} fields=${['amount_fen']} />
    <${ActionButton} class="btn btn-primary" confirm="出价提交后不可撤回，确认出价？" onClick=${bid}>出价</${ActionButton}>
  </div>`;
}

// The holder opens the auction of its published result: reserve, increment,
// end time and the anti-sniping rule (POST /results/{id}/auction).
const AUCTION_LABELS = { reserve_fen: '保留价', increment_fen: '加价幅度', ends_at: '截止时间', extension_window_s: '防狙击窗口',
  extension_s: '每次顺延' };
/** @param {{result: Result, onOpened: () => void}} props */
function AuctionOpen({ result, onOpened }) {
  const [f, setF] = useState({ reserve: result.asking_price_fen ?? null, increment: 1000000, ends: '', window: '300', ext: '300' });
  const [err, setErr] = useState(null);
  const fe = fieldErrors(err);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const open = async () => {
    setErr(null);
    // the end time is read as China time, whatever the viewer's clock zone
    const ends = f.ends ? (f.ends.length === 16 ? f.ends + ':00' : f.ends) + '+08:00' : '';
    try {
      await api.post('/results/{id}/auction', { path: { id: result.id }, body: {
        reserve_fen: f.reserve ?? 0, increment_fen: f.increment ?? 0, ends_at: ends,
        extension_window_s: Number(f.window || 0), extension_s: Number(f.ext || 0) } });
      onOpened();
    } catch (e) { setErr(e); }
  };
  return html`<${Card} title="开启竞价" class="form auction-open">
    <p class="small muted">本成果以拍卖方式转让。设置保留价、加价幅度和截止时间后开始公开竞价；出价最高且达到保留价者成交，系统自动生成技术合同草稿。</p>
    <${ErrorSummary} err=${err} labels=${AUCTION_LABELS} />
    <div class="form-grid">
      <${Field} label="保留价" name="reserve_fen" errors=${fe} required help="最高出价达到保留价才成交；只有本单位可见。"><${MoneyInput} scale=${10000} value=${f.reserve} onChange=${set('reserve')} name="reserve_fen" /></${Field}>
      <${Field} label="加价幅度" name="increment_fen" errors=${fe} required help="每次出价至少高出当前最高价的金额，也是首次出价的最低金额。"><${MoneyInput} scale=${10000} value=${f.increment} onChange=${set('increment')} name="increment_fen" /></${Field}>
      <${Field} label="截止时间" name="ends_at" errors=${fe} required help="北京时间；至少 1 分钟后，最长 90 天。"><input type="datetime-local" step="1" name="ends_at" value=${f.ends} onInput=${(e) => set('ends')(e.currentTarget.value)} /></${Field}>
      <${Field} label="防狙击窗口（秒）" name="extension_window_s" errors=${fe} help="截止前这段时间内有人出价，截止时间自动顺延；0 表示不顺延。"><input type="number" min="0" max="3600" name="extension_window_s" value=${f.window} onInput=${(e) => set('window')(e.currentTarget.value)} /></${Field}>
      <${Field} label="每次顺延（秒）" name="extension_s" errors=${fe} help="顺延到出价后多少秒截止。"><input type="number" min="0" max="3600" name="extension_s" value=${f.ext} onInput=${(e) => set('ext')(e.currentTarget.value)} /></${Field}>
    </div>
    <${ActionButton} class="btn btn-primary" onClick=${open}>开启竞价</${ActionButton}>
  </${Card}>`;
}

// --- need page ---------------------------------------------------------------------------------
export function NeedPage({ params, me }) {
  const r = useLoad(() => api.get('/needs/{id}', { path: { id: params.id } }), [params.id]);
  const [err, setErr] = useState(null);
  if (r.loading) return html`<${Loading} />`;
  if (r.error) return html`<${PageTitle}>技术需求</${PageTitle}><${ErrorBox} error=${r.error} />`;
  const x = r.data;
  const mine = me && me.org && me.org.id === x.org.id;
  const act = async (fn) => { setErr(null); try { r.set(await fn()); } catch (e) { setErr(e); } };
  return html`
    <${PageTitle} sub=${html`${x.org.name} · <${Status} kind="need" value=${x.status} />`}
      actions=${html`<a class="btn" href=${mine ? '#/my/needs' : '#/'}>${mine ? '我的需求' : '返回检索'}</a>`}>${x.title}</${PageTitle}>
    ${x.status === 'rejected' && x.reject_reason ? html`<${Notice} tone="warn">审核意见：${x.reject_reason}</${Notice}>` : ''}
    <div class="layout-main-side">
      <div>
        <${Card} title="需求描述"><p style="white-space:pre-wrap;margin:0">${x.description || '—'}</p></${Card}>
        <${Card} title="基本信息"><${Facts} rows=${[
          ['技术领域', x.domain_label], ['所属行业', x.industry], ['所在地区', x.region_code ? html`<${RegionName} code=${x.region_code} />` : null],
          ['预算', html`<span class="price">${budgetText(x.budget_min_fen, x.budget_max_fen)}</span>`], ['截止日期', date(x.deadline)],
          ['最低技术成熟度', x.trl_min ? 'TRL ' + TRL_TEXT[x.trl_min] : '不限'],
          ['合作方式', x.cooperation_modes.map((m) => m.label || m.code).join('、')], ['关键词', x.keywords.join('、')],
          ['发布日期', date(x.published_at)]]} /></${Card}>
        ${mine && ['open', 'matched', 'submitted', 'closed', 'expired'].includes(x.status) ? html`<${Matches} kind="need" id=${x.id} me=${me} />` : ''}
      </div>
      <aside>
        <${Card} title="联系方式"><${Facts} rows=${[['需求单位', x.org.name], ['联系人', x.contact.name], ['电话', x.contact.phone], ['邮箱', x.contact.email]]} /></${Card}>
        ${mine ? html`<${Card} title="本单位操作"><${ErrorBox} error=${err} /><div class="page-actions">
          ${['draft', 'rejected'].includes(x.status) ? html`<a class="btn" href=${'#/my/needs/' + x.id + '/edit'}>修改</a>` : ''}
          ${x.status === 'draft' ? html`<${ActionButton} class="btn btn-primary" onClick=${() => act(() => api.post('/needs/{id}/submit', { path: { id: x.id } }))}>提交发布</${ActionButton}>` : ''}
          ${x.status === 'open' ? html`<${ActionButton} class="btn btn-success" confirm="确认已与合作方对接成功？需求将标为“已对接”，不再公开征集。" onClick=${() => act(() => api.post('/needs/{id}/close', { path: { id: x.id }, body: { outcome: 'matched' } }))}>已对接成功</${ActionButton}>
            <${ActionButton} class="btn btn-warn" confirm="关闭后不再接受对接，确定关闭？" onClick=${() => act(() => api.post('/needs/{id}/close', { path: { id: x.id }, body: { outcome: 'closed' } }))}>关闭需求</${ActionButton}>` : ''}
        </div>${x.status === 'submitted' ? html`<p class="small muted" style="margin:0">已提交，等待平台审核；审核通过后向公众发布。匹配结果已可查看。</p>` : ''}</${Card}>` : ''}
        ${me && (me.role === 'member' || me.role === 'broker') && !mine && x.status === 'open' ? html`<${InquiryStart} body=${{ need_id: x.id }} title="响应需求" hint="向需求单位说明可提供的技术和合作方式。" />` : ''}
        ${me && (me.role === 'reviewer' || me.role === 'admin') && x.status === 'submitted' ? html`<${ReviewActions} kind="needs" id=${x.id} reload=${r.reload} />` : ''}
      </aside>
    </div>`;
}

// --- notices (公示) -------------------------------------------------------------------------------
const OBJECTION_LABELS = { name: '异议人姓名或单位', contact: '联系方式', body: '异议内容' };
/** @param {{n: import('../api-types').Schema<'Notice'>}} props */
function NoticeItem({ n }) {
  const [open, setOpen] = useState(false);
  const [f, setF] = useState({ name: '', contact: '', body: '' });
  const [err, setErr] = useState(null);
  const [sent, setSent] = useState(false);
  const fe = fieldErrors(err);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  return html`<div class="hit notice" data-id=${n.id}>
    <h3><a href=${'#/results/' + n.result_id}>${n.result_title}</a> <${Status} kind="notice" value=${n.status} /></h3>
    <div class="meta"><span>持有单位：${n.holder_name}</span>
      <span class="price">拟交易价格 ${wanText(n.price_fen)}</span><span>公示期 ${date(n.starts_at)} 至 ${date(n.ends_at)}</span>
      <span>异议 ${n.objections} 件${n.upheld_objections ? `（成立 ${n.upheld_objections} 件）` : ''}</span></div>
    ${n.status === 'active' ? (sent ? html`<${Notice} tone="success">异议已提交，平台审核员将审查处理。</${Notice}>` : open ? html`<div class="form">
        <${ErrorSummary} err=${err} labels=${OBJECTION_LABELS} />
        <div class="form-grid">
          <${Field} label=${OBJECTION_LABELS.name} name="name" errors=${fe} required><${TextInput} value=${f.name} onInput=${set('name')} maxlength="100" /></${Field}>
          <${Field} label=${OBJECTION_LABELS.contact} name="contact" errors=${fe} required help="电话或电子邮箱，不公开。"><${TextInput} value=${f.contact} onInput=${set('contact')} maxlength="200" /></${Field}>
          <${Field} wide label=${OBJECTION_LABELS.body} name="body" errors=${fe} required><${TextArea} rows=${3} value=${f.body} onInput=${set('body')} /></${Field}>
        </div>
        <${ActionButton} class="btn btn-small btn-primary" onClick=${async () => {
          setErr(null); try { await api.post('/notices/{id}/objections', { path: { id: n.id }, body: f }); setSent(true); } catch (e) { setErr(e); }
        }}>提交异议</${ActionButton}></div>` : html`<button class="btn btn-small" onClick=${() => setOpen(true)}>提出异议</button>`) : ''}
  </div>`;
}

export function Notices() {
  /** @type {[import('../api-types').Schema<'NoticeStatus'>, any]} */
  const [status, setStatus] = useState('active');
  const paged = usePaged((cursor) => api.get('/notices', { query: { status, limit: 20, cursor } }), [status]);
  return html`<${PageTitle} sub="国有高校、科研院所以协议定价转化科技成果，在公示期内公示成果名称和拟交易价格，任何人可提出异议。">科技成果转化公示</${PageTitle}>
    <div class="card">
      <${Tabs} value=${status} onChange=${setStatus} tabs=${[['active', '公示中'], ['passed', '公示期满'], ['failed', '异议成立']]} />
      <${ErrorBox} error=${paged.error} onRetry=${paged.reload} />
      ${!paged.loading && !paged.error && !paged.items.length ? html`<${Empty}>没有${STATUS.notice[status]}的公示</${Empty}>` : ''}
      ${paged.items.map((n) => html`<${NoticeItem} n=${n} />`)}
      <${More} paged=${paged} />
    </div>`;
}

// --- certificate verification --------------------------------------------------------------------
export const CERT_HANDOFF = 'yz.verify.cert';   // sessionStorage: a certificate handed over by the certificate screen

export function Verify({ params }) {
  const raw = params.no ? String(params.no) : '';
  const no = /^\d{16}$/.test(raw) ? raw : null;
  const [input, setInput] = useState(raw);
  const [certText, setCertText] = useState('');
  const [verdict, setVerdict] = useState(null);
  const [verr, setVerr] = useState(null);
  const facts = useLoad(() => (no ? api.get('/certificates/{registration_no}', { path: { registration_no: no } }) : Promise.resolve(null)), [no]);
  const check = async (text) => {
    setVerr(null); setVerdict(null);
    let cert;
    try { cert = JSON.parse(text); } catch { setVerr('内容不完整或格式不对：请粘贴证明上“签名数据”一栏的全部内容（以 {"payload": 开头）。'); return; }
    if (!cert || typeof cert !== 'object' || !cert.payload || !cert.signature) { setVerr('缺少证明内容或签名：请粘贴“签名数据”一栏的全部内容。'); return; }
    try {
      const r = await api.post('/certificates/verify', { body: { payload: cert.payload, algorithm: String(cert.algorithm), key_id: String(cert.key_id), signature: String(cert.signature) }, anonymous: true });
      setVerdict({ ...r, no: cert.payload.registration_no });
    } catch (e) { setVerr(problemText(e)); }
  };
  useEffect(() => {
    const handed = sessionStorage.getItem(CERT_HANDOFF);
    if (handed) {
      sessionStorage.removeItem(CERT_HANDOFF);
      setCertText(handed);
      check(handed);
    }
  }, []);
  const go = (e) => {
    e.preventDefault();
    const m = /(\d{16})/.exec(input);
    if (m) navigate('/verify/' + m[1]);
    else if (input.trim().startsWith('{')) { setCertText(input); check(input); }
    else navigate('/verify/' + encodeURIComponent(input.trim()));
  };
  const f = facts.data;
  return html`<${PageTitle} sub="核验技术合同登记证明的真伪：按登记编号查询登记信息，或粘贴证明数据核验登记机构的数字签名。">技术合同登记证明核验</${PageTitle}>
    <div class="card">
      <form class="searchbar" onSubmit=${go}>
        <input type="text" name="no" placeholder="16 位登记编号，或证明二维码中的核验地址" value=${input} onInput=${(e) => setInput(e.currentTarget.value)} aria-label="登记编号或核验地址" />
        <button class="btn btn-primary" type="submit" style="background:var(--blue);border-color:var(--blue)">查询</button>
      </form>
      ${raw && !no ? html`<${Malformed} text=${raw} />` : ''}
    </div>
    ${verdict ? html`<div class=${'verdict ' + (verdict.valid ? 'ok' : 'bad')} data-valid=${String(verdict.valid)} data-testid="verdict">
      <div class="icon">${verdict.valid ? '✓' : '✕'}</div>
      <div><h2>${verdict.valid ? '证明真实有效' : '证明未通过核验'}</h2>
        <div>${REASON_ZH[verdict.reason] || '无法核验此证明。'}</div>
        ${verdict.no ? html`<div class="small muted">登记编号 ${verdict.no}</div>` : ''}</div></div>` : ''}
    ${no ? html`<${Card} title=${'登记编号 ' + no}>
      ${facts.loading ? html`<${Loading} />` : facts.error ? (facts.error.status === 404
        ? html`<div class="verdict bad" data-testid="facts-missing"><div class="icon">✕</div><div><h2>查无此登记</h2><div>登记机构的登记簿中没有此编号，请核对编号。</div></div></div>`
        : html`<${ErrorBox} error=${facts.error} />`) : html`
        <div class=${'verdict ' + (f.status === 'registered' ? 'ok' : 'bad')} data-testid="facts" data-status=${f.status}>
          <div class="icon">${f.status === 'registered' ? '✓' : '!'}</div>
          <div><h2>${f.status === 'registered' ? '登记簿中存在此登记，状态：已登记' : '此登记已注销'}</h2>
            <div class="small">以下为登记簿记载的公开信息，可与纸质证明逐项比对。</div></div></div>
        <${Facts} rows=${[['合同名称', f.title], ['合同类别', [f.contract_type_label, f.contract_subtype_label].filter(Boolean).join(' · ')],
          ['卖方', f.seller_name], ['买方', f.buyer_name], ['合同成交额', yuan(f.contract_amount_fen) + ' 元'], ['技术交易额', yuan(f.technical_amount_fen) + ' 元'],
          ['登记机构', f.office && f.office.name], ['登记日期', date(f.registered_on)], f.cancelled_at ? ['注销日期', date(f.cancelled_at)] : null]} />`}
    </${Card}>` : ''}
    <${Card} title="核验数字签名">
      <p class="small muted">粘贴证明上“签名数据”一栏的全部内容。平台用登记机构公布的公钥核验签名，内容被改动的证明无法通过核验。</p>
      <${Field} label="签名数据"><${TextArea} rows=${6} value=${certText} onInput=${setCertText} name="certificate" placeholder='{"payload":{…},"algorithm":"Ed25519","key_id":"…","signature":"…"}' /></${Field}>
      ${verr ? html`<div class="alert alert-error" role="alert" style="margin-top:8px">${verr}</div>` : ''}
      <div class="form-actions"><${ActionButton} class="btn btn-primary" onClick=${() => check(certText)}>核验签名</${ActionButton}>
        <a class="btn" href="/api/v1/certificates/keys" target="_blank" rel="noopener">登记机构公钥</a></div>
    </${Card}>`;
}

// What is wrong with a number that is not one: said in words, with what a
// registration number looks like.
function Malformed({ text }) {
  const t = String(text).trim();
  const digits = t.replace(/\D/g, '');
  let why;
  if (/[^\d\s-]/.test(t)) why = '只能包含数字，不能有字母、汉字或其他符号';
  else if (digits.length < 16) why = `只有 ${digits.length} 位数字，少了 ${16 - digits.length} 位`;
  else why = `有 ${digits.length} 位数字，多了 ${digits.length - 16} 位`;
  return html`<div class="alert alert-error" role="alert" style="margin-top:12px" data-testid="malformed">
    <b>“${t.length > 40 ? t.slice(0, 40) + '…' : t}”不是有效的登记编号：</b>${why}。
    <div class="small" style="margin-top:4px">登记编号共 16 位数字：前 4 位是登记年份，中间 6 位是登记机构所在地的行政区划代码，后 6 位是顺序号，例如 2025511900000123。请对照纸质证明核对，或扫描证明上的二维码。</div></div>`;
}

/** @type {Record<import('../api-types').Schema<'VerifyResult'>['reason'], string>} */
const REASON_ZH = {
  'genuine and current': '签名有效，内容与登记簿一致，为现行有效的登记证明。',
  'unknown key_id': '签名密钥不属于任何登记机构。',
  'the signature does not match the payload': '签名与证明内容不符：证明内容可能被改动。',
  'the payload is not canonical JSON': '证明内容格式不规范，无法核验。',
  'no registration with this number exists': '登记簿中没有此登记编号。',
  'unsupported algorithm (only Ed25519)': '不支持的签名算法。',
  'the key does not belong to the office named in the certificate': '签名密钥与证明所列登记机构不符。',
  'the signature is genuine but the registration was cancelled (注销)': '签名真实，但该登记已注销。',
  'genuine, but superseded by an amendment (变更); ask for the current certificate': '签名真实，但该登记已办理变更，请向当事人索取现行证明。',
};
