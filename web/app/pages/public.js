// Public screens: search home with filters and facets, result and need pages
// (with the actions each role has on them), public notices (公示), and
// certificate verification (#/verify/<registration_no>, where QR codes point).
import { useState, useEffect } from 'preact/hooks';
import { api, ApiError, session } from '../api.js';
import { normResult, normNeed, normHit, normMatch } from '../model.js';
import {
  html, yuan, yuanText, wanText, bigMoney, date, dateTime, Status, Loading, ErrorBox, Unavailable, Empty, Card, PageTitle,
  Facts, Field, CodeSelect, RegionPicker, RegionName, MoneyInput, useLoad, useCodes, labelOf, usePaged, More, navigate,
  ActionButton, fieldErrors, problemText, TextArea, Notice, toFen, todayCN,
} from '../ui.js';

const IP_STATUS = { granted: '已授权', pending: '审查中', filed: '已受理', applied: '已申请', registered: '已登记', expired: '已失效', valid: '有效' };
const TRL_TEXT = ['', '1 基本原理', '2 技术概念', '3 概念验证', '4 实验室验证', '5 相关环境验证', '6 原型演示', '7 实际环境演示', '8 系统完成', '9 实际应用'];

// --- search home ---------------------------------------------------------------------------
const FILTER_KEYS = ['q', 'kind', 'domain', 'region', 'trl_min', 'trl_max', 'mode', 'price_max', 'holder_type', 'since', 'sort'];

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
  const paged = usePaged((cursor) => api.get('/search', { ...q, limit: 20, cursor }), [key]);
  const unavailable = paged.error instanceof ApiError && paged.error.unavailable;
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
          <${Field} label="技术成熟度（TRL）">
            <div style="display:flex;gap:6px;align-items:center">
              <select aria-label="最低 TRL" onChange=${(e) => setQ({ trl_min: e.currentTarget.value })}>
                <option value="">不限</option>${[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => html`<option value=${n} selected=${String(n) === q.trl_min}>${n}</option>`)}</select>
              <span>—</span>
              <select aria-label="最高 TRL" onChange=${(e) => setQ({ trl_max: e.currentTarget.value })}>
                <option value="">不限</option>${[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => html`<option value=${n} selected=${String(n) === q.trl_max}>${n}</option>`)}</select>
            </div></${Field}>
          <${Field} label=${q.kind === 'need' ? '合作方式' : '转化方式'}><${CodeSelect} list=${modeList} value=${q.mode} onChange=${(v) => setQ({ mode: v || '' })} empty="不限" /></${Field}>
          <${Field} label="价格上限" help="成果的挂牌价或需求的预算下限；面议的也列出">
            <${MoneyInput} scale=${10000} value=${q.price_max ? Number(q.price_max) : null} onChange=${() => {}}
              onBlur=${(e) => { const f = toFen(e.currentTarget.value, 10000); setQ({ price_max: Number.isNaN(f) || f === null ? '' : String(f) }); }} /></${Field}>
          <${Field} label="发布单位类型"><${CodeSelect} list="org_types" top value=${q.holder_type} onChange=${(v) => setQ({ holder_type: v || '' })} empty="不限" /></${Field}>
          <${Field} label="发布日期不早于"><input type="date" value=${q.since} onChange=${(e) => setQ({ since: e.currentTarget.value })} /></${Field}>
          <button class="btn btn-small" onClick=${() => navigate('/')}>清除全部条件</button>
        </div>
        ${res && res.facets ? html`<div class=${'card filters' + (showFilters ? '' : ' collapsed')}><${Facets} facets=${res.facets} q=${q} setQ=${setQ} /></div>` : ''}
      </aside>
      <section>
        ${unavailable ? html`<${Unavailable} what="全文检索" /><${Latest} />` : html`
          <div class="card">
            <div class="toolbar">
              <div>${res ? html`共 <b class="num" data-testid="search-total">${res.total ? res.total.value : paged.items.length}</b> 条${res.total && !res.total.exact ? '（约）' : ''}` : ''}</div>
              <span class="page-actions">${me ? html`<${Subscribe} q=${q} />` : ''}
              <select aria-label="排序" style="width:auto" onChange=${(e) => setQ({ sort: e.currentTarget.value })}>
                <option value="" selected=${!q.sort}>按相关度</option>
                <option value="recent" selected=${q.sort === 'recent'}>按发布时间</option>
              </select></span>
            </div>
            <${ErrorBox} error=${paged.error} onRetry=${paged.reload} />
            ${!paged.loading && !paged.error && !paged.items.length ? html`<${Empty}>没有找到符合条件的成果或需求，请换个关键词或放宽筛选条件。</${Empty}>` : ''}
            <div class="hits">${paged.items.map((it) => html`<${Hit} it=${normHit(it)} />`)}</div>
            <${More} paged=${paged} />
          </div>`}
        <div class="grid2">
          <${NoticesBox} />
          <${VerifyBox} />
        </div>
      </section>
    </div>`;
}

// Save the current search: new matching listings are pushed as notifications.
function Subscribe({ q }) {
  const [state, setState] = useState(null);
  const save = async () => {
    const body = { name: q.q || '检索订阅' };
    for (const k of ['q', 'kind', 'domain', 'region', 'mode', 'holder_type']) if (q[k]) body[k] = q[k];
    for (const k of ['trl_min', 'trl_max', 'price_max']) if (q[k]) body[k] = Number(q[k]);
    try { await api.post('/subscriptions', body); setState('ok'); } catch (e) { setState(e); }
  };
  if (state === 'ok') return html`<span class="small" style="color:var(--green)">已订阅，<a href="#/notifications">查看消息</a></span>`;
  if (state instanceof ApiError && state.unavailable) return html`<span class="small muted">订阅尚未开放</span>`;
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

function Hit({ it }) {
  const href = (it.kind === 'need' ? '#/needs/' : '#/results/') + it.id;
  return html`<article class="hit" data-kind=${it.kind} data-id=${it.id}>
    <h3><span class=${'kind-tag kind-' + it.kind}>${it.kind === 'need' ? '需求' : '成果'}</span><a href=${href}>${it.title}</a></h3>
    ${it.snippet ? html`<p class="snippet" dangerouslySetInnerHTML=${{ __html: safeSnippet(it.snippet) }}></p>` : ''}
    <div class="meta">
      ${it.org_name ? html`<span>${it.org_name}</span>` : ''}
      ${it.domain_label ? html`<span>${it.domain_label}</span>` : ''}
      ${it.region_name ? html`<span>${it.region_name}</span>` : ''}
      ${it.trl ? html`<span>TRL ${it.trl}</span>` : ''}
      <span class="price">${it.kind === 'need' ? (it.price_fen == null ? '预算面议' : '预算 ' + wanText(it.price_fen)) : wanText(it.price_fen)}</span>
      ${it.published_at ? html`<span>${date(it.published_at)}</span>` : ''}
    </div>
  </article>`;
}
// Snippets may mark matches with <b>/<mark>; everything else is escaped.
function safeSnippet(s) {
  const esc = String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return esc.replace(/&lt;(\/?)(b|mark|em)&gt;/g, '<$1mark>');
}

// Without the search endpoint: the newest published results and open needs.
function Latest() {
  const r = useLoad(() => api.get('/results', { limit: 10 }), []);
  const n = useLoad(() => api.get('/needs', { limit: 10 }), []);
  return html`<div class="grid2">
    <${Card} title="最新科技成果">${r.loading ? html`<${Loading} />` : r.error ? html`<${ErrorBox} error=${r.error} />`
      : (r.data.items || []).map(normResult).map((x) => html`<${Hit} it=${{ kind: 'result', id: x.id, title: x.title, org_name: x.holder_org_name, domain_label: x.domain_label, region_name: x.region_name, trl: x.trl, price_fen: x.asking_price_fen, published_at: x.published_at }} />`)}</${Card}>
    <${Card} title="最新技术需求">${n.loading ? html`<${Loading} />` : n.error ? html`<${ErrorBox} error=${n.error} />`
      : (n.data.items || []).map(normNeed).map((x) => html`<${Hit} it=${{ kind: 'need', id: x.id, title: x.title, org_name: x.org_name, domain_label: x.domain_label, region_name: x.region_name, price_fen: x.budget_max_fen ?? x.budget_min_fen, published_at: x.published_at }} />`)}</${Card}>
  </div>`;
}

function NoticesBox() {
  const r = useLoad(() => api.get('/notices', { status: 'active', limit: 5 }), []);
  return html`<${Card} title="当前公示" actions=${html`<a href="#/notices">全部公示 ›</a>`}>
    ${r.loading ? html`<${Loading} />` : r.error ? html`<${ErrorBox} error=${r.error} />`
      : !(r.data.items || []).length ? html`<${Empty}>当前没有公示</${Empty}>`
      : html`<ul class="plain">${r.data.items.map((n) => html`<li><a href=${'#/results/' + n.result_id}>${n.result_title}</a>
          <span class="muted small"> ${n.holder_org_name} · 拟交易价 ${wanText(n.proposed_price_fen)} · 至 ${date(n.ends_on)}</span></li>`)}</ul>`}
  </${Card}>`;
}

function VerifyBox() {
  const [no, setNo] = useState('');
  const go = (e) => { e.preventDefault(); const m = /(\d{16})/.exec(no); if (m) navigate('/verify/' + m[1]); else navigate('/verify'); };
  return html`<${Card} title="技术合同登记证明核验">
    <p class="muted small">输入 16 位登记编号，或粘贴证明上二维码的核验地址。</p>
    <form class="searchbar" onSubmit=${go}><input type="text" placeholder="登记编号或核验地址" value=${no} onInput=${(e) => setNo(e.currentTarget.value)} aria-label="登记编号" />
      <button class="btn btn-primary" type="submit" style="background:var(--blue);border-color:var(--blue)">核验</button></form>
  </${Card}>`;
}

// --- result page -----------------------------------------------------------------------------
export function ResultPage({ params, me }) {
  const r = useLoad(() => api.get('/results/' + params.id).then(normResult), [params.id]);
  const modes = useCodes('transfer_modes');
  const ipTypes = useCodes('ip_types');
  if (r.loading) return html`<${Loading} />`;
  if (r.error) return html`<${PageTitle}>科技成果</${PageTitle}><${ErrorBox} error=${r.error} />`;
  const x = r.data;
  const mine = me && me.org && me.org.id === x.holder_org_id;
  const canInquire = me && (me.role === 'member' || me.role === 'broker') && !mine && ['published', 'under_notice'].includes(x.status);
  return html`
    <${PageTitle} sub=${html`${x.holder_org_name} · <${Status} kind="result" value=${x.status} />`}
      actions=${html`<a class="btn" href="#/">返回检索</a>`}>${x.title}</${PageTitle}>
    ${x.status === 'rejected' && x.reject_reason ? html`<${Notice} tone="warn">审核意见：${x.reject_reason}</${Notice}>` : ''}
    <div class="layout-main-side">
      <div>
        <${Card} title="成果简介"><p style="white-space:pre-wrap;margin:0">${x.summary || '—'}</p></${Card}>
        <${Card} title="基本信息">
          <${Facts} rows=${[
            ['技术领域', x.domain_label || x.domain], ['技术成熟度', x.trl ? 'TRL ' + TRL_TEXT[x.trl] : null],
            ['成果阶段', x.maturity_label || x.maturity], ['所在地区', x.region_name || (x.region_code && html`<${RegionName} code=${x.region_code} />`)],
            ['转化方式', (x.transfer_modes || []).map((c) => labelOf(modes, c)).join('、')],
            ['定价方式', x.pricing_mode_label || x.pricing_mode],
            ['价格', html`<span class="price">${x.pricing_mode === 'auction' && x.auction ? '起拍价 ' + wanText(x.auction.starting_price_fen) : wanText(x.asking_price_fen)}</span>`],
            ['关键词', (x.keywords || []).join('、')], ['完成人', (x.completers || []).join('、')],
            ['适用行业', (x.industries || []).join('、')], ['发布日期', date(x.published_at)],
          ]} />
          ${(x.ip_records || []).length ? html`<h3 style="margin-top:14px">知识产权</h3>
            <table class="list"><thead><tr><th>类型</th><th>编号</th><th>状态</th></tr></thead><tbody>
            ${x.ip_records.map((p) => html`<tr><td>${p.type_label || labelOf(ipTypes, p.type)}</td><td>${p.number}</td><td>${IP_STATUS[p.status] || p.status || '—'}</td></tr>`)}</tbody></table>` : ''}
        </${Card}>
        ${x.pricing_mode === 'auction' ? html`<${Auction} result=${x} me=${me} mine=${mine} />` : ''}
        ${mine ? html`<${Matches} kind="result" id=${x.id} me=${me} />` : ''}
        ${['under_notice', 'transacted', 'published'].includes(x.status) && x.notice_required !== false ? html`<${ResultNotices} id=${x.id} />` : ''}
      </div>
      <aside>
        <${Card} title="联系方式">
          <${Facts} rows=${[['持有单位', x.holder_org_name], ['联系人', x.contact && x.contact.name], ['电话', x.contact && x.contact.phone], ['邮箱', x.contact && x.contact.email]]} />
        </${Card}>
        ${canInquire ? html`<${InquiryStart} body=${{ result_id: x.id }} title="发起洽谈" hint="向成果持有单位表达合作意向，双方可在平台内洽谈。" />` : ''}
        ${!me && ['published', 'under_notice'].includes(x.status) ? html`<${Card} title="合作意向"><p class="small">登录后可向持有单位发起洽谈。</p><a class="btn btn-primary" href=${'#/login?next=' + encodeURIComponent('/results/' + x.id)}>登录</a></${Card}>` : ''}
        ${mine ? html`<${OwnerActions} x=${x} reload=${r.reload} set=${r.set} />` : ''}
        ${me && (me.role === 'reviewer' || me.role === 'admin') && x.status === 'submitted' ? html`<${ReviewActions} path=${'/results/' + x.id} reload=${r.reload} />` : ''}
      </aside>
    </div>`;
}

function OwnerActions({ x, set }) {
  const [err, setErr] = useState(null);
  const act = async (path, body) => {
    setErr(null);
    try { set(normResult(await api.post('/results/' + x.id + path, body))); } catch (e) { setErr(e); }
  };
  return html`<${Card} title="本单位操作">
    <${ErrorBox} error=${err} />
    <div class="page-actions">
      ${['draft', 'rejected'].includes(x.status) ? html`<a class="btn" href=${'#/my/results/' + x.id + '/edit'}>修改</a>` : ''}
      ${x.status === 'draft' ? html`<${ActionButton} class="btn btn-primary" onClick=${() => act('/submit')}>提交审核</${ActionButton}>` : ''}
      ${x.status === 'published' ? html`<${ActionButton} class="btn btn-warn" confirm="撤回后公众将无法查看此成果，确定撤回？" onClick=${() => act('/withdraw', {})}>撤回</${ActionButton}>` : ''}
    </div>${x.status === 'submitted' ? html`<p class="small muted" style="margin:0">已提交，等待平台审核。</p>` : ''}
    ${x.status === 'published' && x.pricing_mode === 'negotiated' ? html`<${NoticeStart} id=${x.id} />` : ''}
  </${Card}>`;
}

function NoticeStart({ id }) {
  const [f, setF] = useState({ proposed_price_fen: null, buyer_name: '', period_days: 15, note: '' });
  const [err, setErr] = useState(null);
  const [done, setDone] = useState(null);
  const fe = fieldErrors(err);
  if (done) return html`<${Notice} tone="success">公示已发布，公示期至 ${date(done.ends_on)}。</${Notice}>`;
  return html`<div class="form-section form"><h3>发起公示</h3>
    <p class="small muted">国有高校院所以协议定价转化成果，须公示成果名称和拟交易价格（默认 15 日），公示期满方可签订合同。</p>
    <${ErrorBox} error=${err && !err.errors.length ? err : null} />
    <${Field} label="拟交易价格" name="proposed_price_fen" errors=${fe} required><${MoneyInput} scale=${10000} value=${f.proposed_price_fen} onChange=${(v) => setF({ ...f, proposed_price_fen: v })} /></${Field}>
    <${Field} label="拟受让方" name="buyer_name" errors=${fe}><input type="text" value=${f.buyer_name} onInput=${(e) => setF({ ...f, buyer_name: e.currentTarget.value })} /></${Field}>
    <${Field} label="公示天数" name="period_days" errors=${fe}><input type="number" min="1" max="90" value=${f.period_days} onInput=${(e) => setF({ ...f, period_days: Number(e.currentTarget.value) })} /></${Field}>
    <${ActionButton} class="btn btn-primary" onClick=${async () => {
      setErr(null);
      const body = { proposed_price_fen: f.proposed_price_fen ?? 0, period_days: f.period_days };
      if (f.buyer_name) body.buyer_name = f.buyer_name;
      try { setDone(await api.post('/results/' + id + '/notices', body)); } catch (e) { setErr(e); }
    }}>发布公示</${ActionButton}>
  </div>`;
}

export function ReviewActions({ path, reload, after }) {
  const [reason, setReason] = useState('');
  const [err, setErr] = useState(null);
  const fe = fieldErrors(err);
  const act = async (verb, body) => {
    setErr(null);
    try { await api.post(path + '/' + verb, body); if (after) after(verb); else reload(); } catch (e) { setErr(e); }
  };
  return html`<${Card} title="发布审核" class="form">
    <${ErrorBox} error=${err && !err.errors.length ? err : null} />
    <${ActionButton} class="btn btn-success" onClick=${() => act('approve')} style="width:100%;margin-bottom:12px">审核通过并发布</${ActionButton}>
    <${Field} label="退回理由" name="reason" errors=${fe} help="退回时必填，发布单位可据此修改后重新提交。">
      <${TextArea} rows=${3} value=${reason} onInput=${setReason} name="reason" /></${Field}>
    <${ActionButton} class="btn btn-danger" onClick=${() => act('reject', { reason })}>退回</${ActionButton}>
  </${Card}>`;
}

export function InquiryStart({ body, title, hint }) {
  const [msg, setMsg] = useState('');
  const [err, setErr] = useState(null);
  const fe = fieldErrors(err);
  if (err instanceof ApiError && err.unavailable) return html`<${Card} title=${title}><${Unavailable} what="在线洽谈" /></${Card}>`;
  return html`<${Card} title=${title} class="form inquiry-start">
    <p class="small muted">${hint}</p>
    <${ErrorBox} error=${err && !err.errors.length ? err : null} />
    <${Field} label="留言" name="message" errors=${fe} required>
      <${TextArea} rows=${4} value=${msg} onInput=${setMsg} name="message" placeholder="简要说明合作意向、应用场景和希望的合作方式" /></${Field}>
    <${ActionButton} class="btn btn-primary" onClick=${async () => {
      setErr(null);
      try { const inq = await api.post('/inquiries', { ...body, message: msg }); navigate('/inquiries/' + inq.id); } catch (e) { setErr(e); }
    }}>发送洽谈请求</${ActionButton}>
  </${Card}>`;
}

// Ranked matches with the reasons behind each score.
export function Matches({ kind, id, me }) {
  const other = kind === 'need' ? 'result' : 'need';
  const r = useLoad(() => api.get(`/${kind === 'need' ? 'needs' : 'results'}/${id}/matches`, { limit: 10 })
    .then((p) => (p.items || []).map((m) => normMatch(m, other))), [kind, id]);
  const [open, setOpen] = useState(null);
  return html`<${Card} title=${kind === 'need' ? '匹配的科技成果' : '匹配的技术需求'} class="matches">
    <p class="small muted" style="margin-top:0">按关键词、标题相似度、技术领域、地区、成熟度、合作方式和价格综合打分，分数越高越契合；每项得分的理由列在下方。</p>
    ${r.loading ? html`<${Loading} />` : r.error ? html`<${ErrorBox} error=${r.error} />`
      : !r.data.length ? html`<${Empty}>暂未找到匹配项，可补充关键词后再看。</${Empty}>`
      : r.data.map((m) => html`<div class="match" data-id=${m.id} data-kind=${m.kind}>
          <div class="match-head">
            <div><span class=${'kind-tag kind-' + m.kind}>${m.kind === 'need' ? '需求' : '成果'}</span>
              <a href=${'#/' + (m.kind === 'need' ? 'needs/' : 'results/') + m.id}><b>${m.title}</b></a>
              ${m.org_name ? html`<span class="muted small"> · ${m.org_name}</span>` : ''}</div>
            <span class="score" title="匹配得分">${m.points}<small> 分</small></span>
          </div>
          <ul class="reasons">${m.reasons.map((x) => html`<li data-reason=${x.code}>
            <span>${x.label}</span>
            <span class="bar-track"><span class="bar-fill" style=${'display:block;width:' + Math.round(x.share * 100) + '%'}></span></span>
            <span class="small">${x.text}${x.points !== undefined ? html` <span class="muted">+${x.points}</span>` : ''}</span></li>`)}</ul>
          ${me && (me.role === 'member' || me.role === 'broker') ? html`<div style="margin-top:8px">
            ${open === m.id ? html`<${InquiryStart} body=${m.kind === 'result' ? { result_id: m.id } : { need_id: m.id }}
                title=${'向「' + (m.org_name || '对方单位') + '」发起洽谈'} hint=${m.kind === 'result' ? '洽谈请求将发送给成果持有单位。' : '洽谈请求将发送给需求单位。'} />`
              : html`<button class="btn btn-small btn-primary" onClick=${() => setOpen(m.id)}>发起洽谈</button>`}</div>` : ''}
        </div>`)}
  </${Card}>`;
}

function ResultNotices({ id }) {
  const r = useLoad(() => api.get('/notices', { result_id: id, limit: 5 }), [id]);
  if (r.loading || (r.error && r.error.unavailable) || (r.data && !(r.data.items || []).length)) return null;
  if (r.error) return html`<${ErrorBox} error=${r.error} />`;
  return html`<${Card} title="公示信息">${r.data.items.map((n) => html`<${NoticeItem} n=${n} />`)}</${Card}>`;
}

// Auction (拍卖/竞价): its terms from GET /results/{id}/auction, the bids the caller may
// see, and for other members the bid form (the minimum next bid comes from the server).
function Auction({ result, me, mine }) {
  const auc = useLoad(() => api.get('/results/' + result.id + '/auction'), [result.id]);
  const bids = useLoad(() => (me ? api.get('/results/' + result.id + '/bids') : Promise.resolve({ items: [] })), [result.id]);
  const [amount, setAmount] = useState(null);
  const [err, setErr] = useState(null);
  const fe = fieldErrors(err);
  if (auc.loading) return html`<${Card} title="竞价"><${Loading} /></${Card}>`;
  if (auc.error) return html`<${Card} title="竞价">${auc.error.status === 404 ? html`<p class="muted">持有单位尚未开启竞价。</p>` : html`<${ErrorBox} error=${auc.error} />`}</${Card}>`;
  const a = auc.data;
  const ended = a.status === 'closed' || new Date(a.ends_at) < new Date();
  const canBid = me && me.role === 'member' && !mine && !ended;
  const items = (bids.data && bids.data.items) || [];
  const window = a.extension_window_s ? `截止前 ${Math.round(a.extension_window_s / 60)} 分钟内出价，截止时间顺延 ${Math.round(a.extension_s / 60)} 分钟` : '不延时';
  return html`<${Card} title="竞价" class="auction">
    <${Facts} rows=${[['加价幅度', wanText(a.increment_fen)], ['截止时间', dateTime(a.ends_at)], ['延时规则', window],
      ['当前最高价', a.best_bid_fen != null ? html`<span class="price">${wanText(a.best_bid_fen)}</span>` : '尚无出价'],
      ['出价次数', a.bids], ['保留价', a.reserve_fen != null ? wanText(a.reserve_fen) : a.reserve_met == null ? '—' : a.reserve_met ? '已达到' : '尚未达到'],
      ['状态', a.status === 'closed' ? (a.winner ? '已成交：' + a.winner.org.name + ' ' + wanText(a.winner.amount_fen) : '已结束，未达保留价') : ended ? '已截止，等待结算' : (a.leading ? '竞价中 · 您当前领先' : '竞价中')]]} />
    ${items.length ? html`<div class="table-wrap" style="margin-top:12px"><table class="list"><thead><tr><th>出价单位</th><th class="right">出价</th><th>时间</th></tr></thead>
      <tbody>${items.map((b) => html`<tr><td>${b.bidder ? b.bidder.name : '竞买人'}</td><td class="right num">${wanText(b.amount_fen)}</td><td>${dateTime(b.created_at)}</td></tr>`)}</tbody></table></div>` : ''}
    ${canBid ? html`<div class="form form-section" style="margin-top:12px">
      <${Field} label="我的出价" name="amount_fen" errors=${fe} help=${'不低于 ' + wanText(a.minimum_next_bid_fen)}>
        <${MoneyInput} scale=${10000} value=${amount} onChange=${setAmount} /></${Field}>
      <${ErrorBox} error=${err && !err.errors.length ? err : null} />
      <${ActionButton} class="btn btn-primary" confirm="出价提交后不可撤回，确认出价？" onClick=${async () => {
        setErr(null);
        try { await api.post('/results/' + result.id + '/bids', { amount_fen: amount ?? 0 }); setAmount(null); auc.reload(); bids.reload(); } catch (e) { setErr(e); }
      }}>出价</${ActionButton}></div>` : ended ? html`<p class="muted">竞价已截止。</p>` : ''}
  </${Card}>`;
}

// --- need page ---------------------------------------------------------------------------------
export function NeedPage({ params, me }) {
  const r = useLoad(() => api.get('/needs/' + params.id).then(normNeed), [params.id]);
  const coop = useCodes('cooperation_modes');
  const [err, setErr] = useState(null);
  if (r.loading) return html`<${Loading} />`;
  if (r.error) return html`<${PageTitle}>技术需求</${PageTitle}><${ErrorBox} error=${r.error} />`;
  const x = r.data;
  const mine = me && me.org && me.org.id === x.org_id;
  const budget = x.budget_min_fen == null && x.budget_max_fen == null ? '面议'
    : x.budget_min_fen != null && x.budget_max_fen != null ? `${wanText(x.budget_min_fen)} ～ ${wanText(x.budget_max_fen)}`
    : x.budget_min_fen != null ? `${wanText(x.budget_min_fen)} 以上` : `${wanText(x.budget_max_fen)} 以内`;
  const act = async (path, body) => { setErr(null); try { r.set(normNeed(await api.post('/needs/' + x.id + path, body))); } catch (e) { setErr(e); } };
  return html`
    <${PageTitle} sub=${html`${x.org_name} · <${Status} kind="need" value=${x.status} />`}
      actions=${html`<a class="btn" href=${mine ? '#/my/needs' : '#/'}>${mine ? '我的需求' : '返回检索'}</a>`}>${x.title}</${PageTitle}>
    ${x.status === 'rejected' && x.reject_reason ? html`<${Notice} tone="warn">审核意见：${x.reject_reason}</${Notice}>` : ''}
    <div class="layout-main-side">
      <div>
        <${Card} title="需求描述"><p style="white-space:pre-wrap;margin:0">${x.description || '—'}</p></${Card}>
        <${Card} title="基本信息"><${Facts} rows=${[
          ['技术领域', x.domain_label || x.domain], ['所属行业', x.industry], ['所在地区', x.region_name || (x.region_code && html`<${RegionName} code=${x.region_code} />`)],
          ['预算', html`<span class="price">${budget}</span>`], ['截止日期', date(x.deadline)],
          ['合作方式', (x.cooperation_modes || []).map((c) => labelOf(coop, c)).join('、')], ['关键词', (x.keywords || []).join('、')],
          ['发布日期', date(x.published_at)]]} /></${Card}>
        ${mine && ['open', 'matched', 'submitted', 'closed', 'expired'].includes(x.status) ? html`<${Matches} kind="need" id=${x.id} me=${me} />` : ''}
      </div>
      <aside>
        <${Card} title="联系方式"><${Facts} rows=${[['需求单位', x.org_name], ['联系人', x.contact && x.contact.name], ['电话', x.contact && x.contact.phone], ['邮箱', x.contact && x.contact.email]]} /></${Card}>
        ${mine ? html`<${Card} title="本单位操作"><${ErrorBox} error=${err} /><div class="page-actions">
          ${['draft', 'rejected'].includes(x.status) ? html`<a class="btn" href=${'#/my/needs/' + x.id + '/edit'}>修改</a>` : ''}
          ${x.status === 'draft' ? html`<${ActionButton} class="btn btn-primary" onClick=${() => act('/submit')}>提交发布</${ActionButton}>` : ''}
          ${['open', 'matched'].includes(x.status) ? html`<${ActionButton} class="btn btn-warn" confirm="关闭后不再接受对接，确定关闭？" onClick=${() => act('/close', {})}>关闭需求</${ActionButton}>` : ''}
        </div>${x.status === 'submitted' ? html`<p class="small muted" style="margin:0">已提交，等待平台审核；审核通过后向公众发布。匹配结果已可查看。</p>` : ''}</${Card}>` : ''}
        ${me && (me.role === 'member' || me.role === 'broker') && !mine && x.status === 'open' ? html`<${InquiryStart} body=${{ need_id: x.id }} title="响应需求" hint="向需求单位说明可提供的技术和合作方式。" />` : ''}
        ${me && (me.role === 'reviewer' || me.role === 'admin') && x.status === 'submitted' ? html`<${ReviewActions} path=${'/needs/' + x.id} reload=${r.reload} />` : ''}
      </aside>
    </div>`;
}

// --- notices (公示) -------------------------------------------------------------------------------
function NoticeItem({ n }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState('');
  const [err, setErr] = useState(null);
  const [sent, setSent] = useState(false);
  return html`<div class="hit notice" data-id=${n.id}>
    <h3><a href=${'#/results/' + n.result_id}>${n.result_title}</a> <${Status} kind="notice" value=${n.status} /></h3>
    <div class="meta"><span>持有单位：${n.holder_org_name}</span>${n.buyer_name ? html`<span>拟受让方：${n.buyer_name}</span>` : ''}
      <span class="price">拟交易价格 ${wanText(n.proposed_price_fen)}</span><span>公示期 ${date(n.starts_on)} 至 ${date(n.ends_on)}</span>
      <span>异议 ${n.objection_count || 0} 件</span></div>
    ${n.note ? html`<p class="snippet">${n.note}</p>` : ''}
    ${n.status === 'active' && session.me ? (sent ? html`<${Notice} tone="success">异议已提交。</${Notice}>` : open ? html`<div class="form">
        <${Field} label="异议内容" name="text" errors=${fieldErrors(err)} required><${TextArea} rows=${3} value=${text} onInput=${setText} /></${Field}>
        <${ErrorBox} error=${err && !err.errors.length ? err : null} />
        <${ActionButton} class="btn btn-small btn-primary" onClick=${async () => {
          setErr(null); try { await api.post('/notices/' + n.id + '/objections', { text }); setSent(true); } catch (e) { setErr(e); }
        }}>提交异议</${ActionButton}></div>` : html`<button class="btn btn-small" onClick=${() => setOpen(true)}>提出异议</button>`) : ''}
  </div>`;
}

export function Notices() {
  const [status, setStatus] = useState('active');
  const paged = usePaged((cursor) => api.get('/notices', { status, limit: 20, cursor }), [status]);
  return html`<${PageTitle} sub="国有高校、科研院所以协议定价转化科技成果，在公示期内公示成果名称和拟交易价格，任何人可提出异议。">科技成果转化公示</${PageTitle}>
    <div class="card">
      <div class="tabs">${[['active', '公示中'], ['ended', '已结束']].map(([k, l]) => html`<button class=${'tab' + (status === k ? ' active' : '')} onClick=${() => setStatus(k)}>${l}</button>`)}</div>
      ${paged.error && paged.error.unavailable ? html`<${Unavailable} what="成果公示" />` : html`
        <${ErrorBox} error=${paged.error} onRetry=${paged.reload} />
        ${!paged.loading && !paged.error && !paged.items.length ? html`<${Empty}>没有${status === 'active' ? '正在进行的' : '已结束的'}公示</${Empty}>` : ''}
        ${paged.items.map((n) => html`<${NoticeItem} n=${n} />`)}
        <${More} paged=${paged} />`}
    </div>`;
}

// --- certificate verification --------------------------------------------------------------------
export const CERT_HANDOFF = 'yz.verify.cert';   // sessionStorage: a certificate handed over by the certificate screen

export function Verify({ params }) {
  const no = params.no && /^\d{16}$/.test(params.no) ? params.no : null;
  const [input, setInput] = useState(params.no || '');
  const [certText, setCertText] = useState('');
  const [verdict, setVerdict] = useState(null);
  const [verr, setVerr] = useState(null);
  const facts = useLoad(() => (no ? api.get('/certificates/' + no) : Promise.resolve(null)), [no]);
  const check = async (text) => {
    setVerr(null); setVerdict(null);
    let cert;
    try { cert = JSON.parse(text); } catch { setVerr('不是有效的 JSON：请粘贴完整的证明数据（以 {"payload": 开头）。'); return; }
    if (!cert || typeof cert !== 'object' || !cert.payload || !cert.signature) { setVerr('缺少 payload 或 signature：请粘贴完整的证明数据。'); return; }
    try {
      const r = await api.post('/certificates/verify', { payload: cert.payload, algorithm: cert.algorithm, key_id: cert.key_id, signature: cert.signature }, { anonymous: true });
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
  };
  const f = facts.data;
  return html`<${PageTitle} sub="核验技术合同登记证明的真伪：按登记编号查询登记信息，或粘贴证明数据核验登记机构的 Ed25519 数字签名。">技术合同登记证明核验</${PageTitle}>
    <div class="card">
      <form class="searchbar" onSubmit=${go}>
        <input type="text" name="no" placeholder="16 位登记编号，或证明二维码中的核验地址" value=${input} onInput=${(e) => setInput(e.currentTarget.value)} aria-label="登记编号或核验地址" />
        <button class="btn btn-primary" type="submit" style="background:var(--blue);border-color:var(--blue)">查询</button>
      </form>
      ${params.no && !no ? html`<div class="alert alert-error" style="margin-top:12px">登记编号应为 16 位数字。</div>` : ''}
    </div>
    ${verdict ? html`<div class=${'verdict ' + (verdict.valid ? 'ok' : 'bad')} data-valid=${String(verdict.valid)} data-testid="verdict">
      <div class="icon">${verdict.valid ? '✓' : '✕'}</div>
      <div><h2>${verdict.valid ? (verdict.registration_status === 'registered' || !verdict.registration_status ? '证明真实有效' : '签名真实') : '证明未通过核验'}</h2>
        <div>${reasonText(verdict.reason)}</div>
        ${verdict.no ? html`<div class="small muted">登记编号 ${verdict.no}</div>` : ''}</div></div>` : ''}
    ${no ? html`<${Card} title=${'登记编号 ' + no}>
      ${facts.loading ? html`<${Loading} />` : facts.error ? (facts.error.status === 404 && !facts.error.unavailable
        ? html`<div class="verdict bad" data-testid="facts-missing"><div class="icon">✕</div><div><h2>查无此登记</h2><div>登记机构的登记簿中没有此编号，请核对编号。</div></div></div>`
        : html`<${ErrorBox} error=${facts.error} />`) : html`
        <div class=${'verdict ' + (f.status === 'registered' ? 'ok' : 'bad')} data-testid="facts" data-status=${f.status}>
          <div class="icon">${f.status === 'registered' ? '✓' : '!'}</div>
          <div><h2>${f.status === 'registered' ? '登记簿中存在此登记，状态：已登记' : '此登记已注销'}</h2>
            <div class="small">以下为登记簿记载的公开信息，可与纸质证明逐项比对。</div></div></div>
        <${Facts} rows=${[['合同名称', f.title], ['合同类别', [f.contract_type_label, f.contract_subtype_label].filter(Boolean).join(' · ')],
          ['卖方', f.seller_name], ['买方', f.buyer_name], ['合同成交额', yuan(f.contract_amount_fen) + ' 元'], ['技术交易额', yuan(f.technical_amount_fen) + ' 元'],
          ['登记机构', f.office && f.office.name], ['登记日期', date(f.registered_on || f.registered_at)], f.cancelled_at ? ['注销日期', date(f.cancelled_at)] : null]} />`}
    </${Card}>` : ''}
    <${Card} title="核验数字签名">
      <p class="small muted">粘贴证明上“签名数据”一栏的全部内容（JSON）。平台用登记机构公布的公钥核验签名，内容被改动的证明无法通过核验。</p>
      <${TextArea} rows=${6} value=${certText} onInput=${setCertText} name="certificate" placeholder='{"payload":{…},"algorithm":"Ed25519","key_id":"…","signature":"…"}' />
      ${verr ? html`<div class="alert alert-error" style="margin-top:8px">${verr}</div>` : ''}
      <div class="form-actions"><${ActionButton} class="btn btn-primary" onClick=${() => check(certText)}>核验签名</${ActionButton}>
        <a class="btn" href="/api/v1/certificates/keys" target="_blank" rel="noopener">登记机构公钥</a></div>
    </${Card}>`;
}
function reasonText(r) {
  const M = {
    'genuine and current': '签名有效，内容与登记簿一致，为现行有效的登记证明。',
    'unknown key_id': '签名密钥不属于任何登记机构。',
    'the signature does not match the payload': '签名与证明内容不符：证明内容可能被改动。',
    'the payload is not canonical JSON': '证明内容格式不规范，无法核验。',
    'no registration with this number exists': '登记簿中没有此登记编号。',
    'unsupported algorithm (only Ed25519)': '不支持的签名算法。',
    'the key does not belong to the office named in the certificate': '签名密钥与证明所列登记机构不符。',
  };
  if (!r) return '';
  if (M[r]) return M[r];
  if (/cancelled/.test(r)) return '签名真实，但该登记已注销。';
  if (/superseded/.test(r)) return '签名真实，但该登记已办理变更，请向当事人索取现行证明。';
  return r;
}
