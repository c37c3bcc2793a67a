// Technology contracts (技术合同): the list, the form a seller fills in to apply
// for registration (认定登记), the contract page with its workflow, payments,
// attachments, amendment / cancellation requests, and the printable
// certificate (技术合同登记证明) with its QR code.
import { useState, useEffect, useRef } from 'preact/hooks';
import { api, request, listAll, download } from '../api.js';
import {
  html, yuan, wan, wanText, date, dateTime, todayCN, Status, STATUS, Loading, ErrorBox, ErrorSummary, Empty, Card, PageTitle, Facts, Field,
  TextInput, TextArea, Select, CodeSelect, MoneyInput, RegionPicker, RegionName, useLoad, useCodes, labelOf, usePaged, More, navigate,
  ActionButton, fieldErrors, fieldLabel, Notice, Tabs, OrgTypeSelect,
} from '../ui.js';
import { CERT_HANDOFF } from './public.js';

export const CONTRACT_LABELS = {
  title: '合同名称', contract_type: '合同类别', contract_subtype: '合同子类别', is_import: '技术进口', seller: '卖方', buyer: '买方',
  intermediary: '中介方', 'seller.org_id': '卖方单位', 'seller.name': '卖方名称', 'seller.org_type': '卖方单位类型', 'seller.region_code': '卖方所在地区',
  'seller.credit_code': '卖方统一社会信用代码', 'buyer.org_id': '买方单位', 'buyer.name': '买方名称', 'buyer.org_type': '买方单位类型',
  'buyer.region_code': '买方所在地区', 'buyer.credit_code': '买方统一社会信用代码', 'intermediary.name': '中介方名称',
  'intermediary.org_type': '中介方单位类型', 'intermediary.region_code': '中介方地区', 'intermediary.credit_code': '中介方信用代码',
  signed_on: '签订日期', effective_on: '生效日期', end_on: '终止日期', contract_amount_fen: '合同成交额', technical_amount_fen: '技术交易额',
  non_technical_items: '非技术性费用', payment_schedule: '付款计划', domain: '技术领域', socio_economic_objective: '社会经济目标',
  ip_type: '知识产权类型', plan_source: '计划来源', result_id: '关联成果', need_id: '关联需求', broker_user_id: '技术经纪人',
  related_party: '是否关联交易', related_contract_id: '相关的技术转让、许可或开发合同', fiscal_subsidy: '已享受财政资金补贴',
};

// The parties' roles under a contract type (开发: 研究开发方 / 委托方, 转让: 让与方 / 受让方, ...): the code
// list's extra.party_roles, the one place the server's certificate takes them from too.
/** @param {import('../api-types').CodeItem[]} types */
export function partyRoles(types, type, subtype) {
  const of = (code) => { const it = types.find((x) => x.code === code); return it && it.extra && it.extra.party_roles; };
  return of(subtype) || of(type) || { seller: '卖方', buyer: '买方' };
}
// Consulting and service contracts may serve a transfer, licence or development contract (VAT).
/** @param {import('../api-types').CodeItem[]} types */
const relatedAllowed = (types, type) => { const it = types.find((x) => x.code === type); return !!(it && it.extra && it.extra.vat_exempt_if_related); };

// How many contracts match, as the server counted them on the first page: exactly (共 N 份), or only
// that they are more than its cap (N 份以上).
/** @param {{total?: {value: number, exact: boolean} | null}} props */
export function ContractCount({ total }) {
  if (!total) return '';
  const n = html`<b class="num" data-testid="contract-total">${total.value.toLocaleString('zh-CN')}</b>`;
  return total.exact ? html`共 ${n} 份` : html`${n} 份以上`;
}

// --- list ------------------------------------------------------------------------------------------
/** @typedef {import('../api-types').Schema<'Contract'>} Contract */
export function ContractList({ me }) {
  /** @type {[import('../api-types').Schema<'ContractStatus'> | '', any]} */
  const [status, setStatus] = useState(me.role === 'bureau' ? 'registered' : '');
  const paged = usePaged((cursor) => api.get('/contracts', { query: { status: status || undefined, limit: 20, cursor } }), [status]);
  const tabs = me.role === 'bureau' ? [['registered', '已登记'], ['cancelled', '已注销']]
    : [['', '全部'], ['draft', '草稿'], ['submitted', '审查中'], ['returned', '退回补正'], ['registered', '已登记'], ['refused', '不予登记'], ['cancelled', '已注销']];
  const sub = me.role === 'bureau' ? '本辖区（含下级地区）卖方或买方所在的已登记技术合同。' : me.role === 'officer' ? '本登记机构受理的申请。'
    : '本单位作为当事人的技术合同。卖方（技术进口为境内买方）在合同生效后、履行完毕前申请认定登记。';
  return html`<${PageTitle} sub=${sub} actions=${me.role === 'member' ? html`<a class="btn btn-primary" href="#/contracts/new">＋ 新建合同并申请登记</a>` : ''}>技术合同</${PageTitle}>
    <div class="card">
      <${Tabs} value=${status} onChange=${setStatus} tabs=${tabs} />
      <${ErrorBox} error=${paged.error} onRetry=${paged.reload} />
      ${!paged.loading && !paged.error && !paged.items.length ? html`<${Empty}>暂无${status ? STATUS.contract[status] : ''}合同</${Empty}>` : ''}
      ${paged.items.length ? html`<${ContractTable} items=${paged.items} />` : ''}
      <${More} paged=${paged} />
    </div>`;
}
/** @param {{items: Contract[], link?: (c: Contract) => string}} props */
export function ContractTable({ items, link = (c) => '#/contracts/' + c.id }) {
  return html`<div class="table-wrap" tabindex="0"><table class="list stack"><thead><tr><th>合同名称</th><th>卖方</th><th>买方</th><th>类别</th>
    <th class="right">成交额（万元）</th><th>状态</th><th>登记编号</th></tr></thead><tbody>
    ${items.map((c) => html`<tr data-id=${c.id} class=${c.overdue ? 'overdue' : ''}>
      <td data-label="合同"><a href=${link(c)}>${c.title}</a></td>
      <td data-label="卖方">${c.seller && c.seller.name}</td><td data-label="买方">${c.buyer && c.buyer.name}</td>
      <td data-label="类别" class="nowrap">${c.contract_subtype_label || c.contract_type_label || '—'}</td>
      <td data-label="成交额" class="right num">${wan(c.contract_amount_fen)}</td>
      <td data-label="状态"><${Status} kind="contract" value=${c.status} />${c.overdue ? html` <span class="flag flag-overdue">超期</span>` : ''}</td>
      <td data-label="登记编号" class="num">${c.registration_no || '—'}</td></tr>`)}
  </tbody></table></div>`;
}

// --- form -----------------------------------------------------------------------------------------------
const EMPTY_PARTY = { org_id: null, name: '', org_type: null, region_code: null, credit_code: '' };
function emptyContract(me) {
  return {
    title: '', contract_type: null, contract_subtype: null, is_import: false, sellerIsMe: true,
    seller: { ...EMPTY_PARTY, org_id: me.org ? me.org.id : null }, buyer: { ...EMPTY_PARTY }, intermediary: null,
    signed_on: '', effective_on: '', end_on: '', contract_amount_fen: null, non_technical_items: [], payment_schedule: [],
    domain: null, socio_economic_objective: null, ip_type: null, plan_source: null, result_id: '', need_id: '',
    related_party: 'none', fiscal_subsidy: false, related_contract_id: '',
  };
}
/** @returns {import('../api-types').Schema<'PartyInput'>} */
function partyBody(p, mineId) {
  if (p.org_id && (p.org_id === mineId || p.linked)) return { org_id: Number(p.org_id) };
  return {
    name: (p.name || '').trim(), org_type: p.org_type || null, region_code: p.region_code || null,
    ...(p.org_id ? { org_id: Number(p.org_id) } : {}),
    credit_code: p.credit_code ? p.credit_code.trim().toUpperCase() : null,
  };
}
function itemsSum(items) {
  return items.reduce((s, x) => s + (Number.isInteger(x.amount_fen) ? x.amount_fen : 0), 0);
}
/** @returns {import('../api-types').Body<'/contracts', 'post'>} */
function contractBody(f, me) {
  const mine = me.org ? me.org.id : null;
  /** @type {import('../api-types').Body<'/contracts', 'post'>} */
  const b = {
    title: f.title.trim(), contract_type: f.contract_type, contract_subtype: f.contract_subtype, is_import: !!f.is_import,
    seller: partyBody(f.seller, mine), buyer: partyBody(f.buyer, mine),
    signed_on: f.signed_on || null, effective_on: f.effective_on || null, end_on: f.end_on || null,
    contract_amount_fen: f.contract_amount_fen ?? 0,
    non_technical_items: f.non_technical_items.filter((x) => x.item || x.amount_fen).map((x) => ({ item: (x.item || '').trim(), amount_fen: x.amount_fen ?? 0 })),
    payment_schedule: f.payment_schedule.filter((x) => x.due_on || x.amount_fen).map((x) => {
      const o = { due_on: x.due_on || '', amount_fen: x.amount_fen ?? 0 };
      if (x.note) o.note = x.note;
      return o;
    }),
    domain: f.domain, socio_economic_objective: f.socio_economic_objective, ip_type: f.ip_type, plan_source: f.plan_source,
    result_id: f.result_id ? Number(f.result_id) : null, need_id: f.need_id ? Number(f.need_id) : null,
    related_party: f.related_party || 'none', fiscal_subsidy: !!f.fiscal_subsidy,
    related_contract_id: f.related_contract_id ? Number(f.related_contract_id) : null,
  };
  b.technical_amount_fen = Math.max(0, b.contract_amount_fen - itemsSum(b.non_technical_items));
  b.intermediary = f.intermediary && f.intermediary.name ? partyBody(f.intermediary, mine) : null;
  return b;
}
function fromContract(c, me) {
  const p = (x) => ({ ...EMPTY_PARTY, ...(x || {}), credit_code: (x && x.credit_code) || '' });
  return {
    ...emptyContract(me), ...c, sellerIsMe: !!(me.org && c.seller && c.seller.org_id === me.org.id),
    seller: p(c.seller), buyer: p(c.buyer), intermediary: c.intermediary ? p(c.intermediary) : null,
    signed_on: c.signed_on || '', effective_on: c.effective_on || '', end_on: c.end_on || '',
    result_id: c.result_id || '', need_id: c.need_id || '', related_contract_id: c.related_contract_id || '',
    non_technical_items: c.non_technical_items || [], payment_schedule: c.payment_schedule || [],
  };
}

function PartyEditor({ prefix, p, onChange, fe, mine, me, title }) {
  const set = (k) => (v) => onChange({ ...p, [k]: v });
  const [manual, setManual] = useState(!!(p.name && !p.org_id));
  const errs = (keys) => keys.map((k) => (fe[prefix + '.' + k] || []).map((t) => html`<div class="field-error" role="alert">${t}</div>`));
  if (mine) {
    return html`<div class="party" data-party=${prefix}><h3>${title}（本单位）</h3>
      <p style="margin:0">${me.org.name}</p><p class="small muted">单位类型、地区和统一社会信用代码取自本单位的登记信息。</p>
      ${errs(['org_id', 'org_type', 'region_code', 'credit_code', 'name'])}</div>`;
  }
  if (p.org_id && !manual) {
    return html`<div class="party" data-party=${prefix} data-org=${p.org_id}><h3>${title}</h3>
      <p style="margin:0"><b data-testid=${prefix + '-name'}>${p.name}</b></p>
      <p class="small muted" style="margin:4px 0">${p.credit_code ? '统一社会信用代码 ' + p.credit_code : ''}${p.region_code ? html` · <${RegionName} code=${p.region_code} />` : ''}</p>
      <p class="small muted">已关联平台上的单位：合同保存后，对方单位的用户也能看到并确认此合同。</p>
      ${errs(['org_id', 'org_type', 'region_code', 'credit_code', 'name'])}
      <button type="button" class="btn btn-small" onClick=${() => onChange({ ...EMPTY_PARTY })}>更换${title.replace(/（.*/, '')}</button></div>`;
  }
  return html`<div class="party" data-party=${prefix}><h3>${title}</h3>
    ${!manual ? html`<${OrgSearch} prefix=${prefix} me=${me} onPick=${(o) => onChange({ ...EMPTY_PARTY, org_id: o.id, name: o.name, org_type: o.org_type,
        region_code: o.region_code, credit_code: o.credit_code || '', linked: true })} />
      ${errs(['org_id', 'name'])}
      <p class="small">对方尚未在平台注册？<button type="button" class="btn btn-small" onClick=${() => setManual(true)}>手工填写对方信息</button></p>` : html`
    <div class="form-grid">
    <${Field} wide label="名称" name=${prefix + '.name'} errors=${fe} required help="与合同签章一致的单位全称或自然人姓名。">
      <${TextInput} name=${prefix + '.name'} value=${p.name} onInput=${set('name')} /></${Field}>
    <${Field} label="单位类型" name=${prefix + '.org_type'} errors=${fe} required help="技术合同登记统计用的单位类型代码。">
      <${OrgTypeSelect} name=${prefix + '.org_type'} value=${p.org_type} onChange=${set('org_type')} /></${Field}>
    <${Field} label="统一社会信用代码" name=${prefix + '.credit_code'} errors=${fe} help="18 位，最后一位是校验位，如 91511900MA62A8JX0W；自然人和境外单位可不填。">
      <${TextInput} name=${prefix + '.credit_code'} value=${p.credit_code} onInput=${set('credit_code')} maxlength="18" /></${Field}>
    <${Field} wide label="所在地区" name=${prefix + '.region_code'} errors=${fe} required help="境外当事人可不选。">
      <${RegionPicker} name=${prefix + '.region_code'} value=${p.region_code} onChange=${set('region_code')} /></${Field}>
    </div>
    <p class="small"><button type="button" class="btn btn-small" onClick=${() => { setManual(false); onChange({ ...EMPTY_PARTY }); }}>改为在平台上查找</button></p>`}
  </div>`;
}

// Find the other party among the organisations registered here, by name or
// credit code (GET /orgs/directory).
function OrgSearch({ prefix, me, onPick }) {
  const [q, setQ] = useState('');
  const [hits, setHits] = useState(null);
  const [err, setErr] = useState(null);
  useEffect(() => {
    const t = q.trim();
    if ([...t].length < 2) { setHits(null); return undefined; }
    let live = true;
    const timer = setTimeout(() => {
      api.get('/orgs/directory', { query: { q: t } }).then((r) => { if (live) { setHits(r.items.filter((o) => !me.org || o.id !== me.org.id)); setErr(null); } },
        (e) => { if (live) setErr(e); });
    }, 250);
    return () => { live = false; clearTimeout(timer); };
  }, [q]);
  return html`<div class="org-search">
    <${Field} label="查找对方单位" name=${prefix + '.search'} help="输入单位名称中的两个字以上，或 18 位统一社会信用代码。">
      <input type="search" name=${prefix + '.search'} value=${q} onInput=${(e) => setQ(e.currentTarget.value)} placeholder="如：巴中、91511900MA62A8JX0W" autocomplete="off" /></${Field}>
    <${ErrorBox} error=${err} />
    ${hits && !hits.length ? html`<p class="small muted" role="status">没有找到已认证的单位。可换个关键词，或手工填写对方信息。</p>` : ''}
    ${hits && hits.length ? html`<ul class="org-hits" aria-label="查找结果">${hits.map((o) => html`<li data-org=${o.id}>
        <div><b>${o.name}</b><div class="small muted">${[o.org_type_label, o.region_name, o.credit_code].filter(Boolean).join(' · ')}</div></div>
        <button type="button" class="btn btn-small btn-primary" onClick=${() => onPick(o)}>选择</button></li>`)}</ul>` : ''}
  </div>`;
}
// One of this organisation's results or needs (the server filters: mine=true).
function MineSelect({ kind, value, onChange, ...rest }) {
  const r = useLoad(() => (kind === 'results' ? listAll('/results', { query: { mine: 'true' } }, 300) : listAll('/needs', { query: { mine: 'true' } }, 300))
    .then((items) => items.filter((x) => x.status !== 'draft' && x.status !== 'rejected').map((x) => ({ code: String(x.id), label: x.title }))), [kind]);
  const items = r.data || [];
  const cur = value ? String(value) : '';
  const shown = cur && !items.some((x) => x.code === cur) ? [...items, { code: cur, label: '（编号 ' + cur + '）' }] : items;
  return html`<${Select} items=${shown} value=${cur} onChange=${(v) => onChange(v || '')} empty="不关联" ...${rest} />`;
}

// The transfer, licence or development contracts between the same two parties that a consulting or
// service contract may serve (the server checks the same).
function RelatedContractSelect({ f, me, value, onChange, ...rest }) {
  const types = useCodes('contract_types');
  const r = useLoad(() => listAll('/contracts', {}, 500), []);
  const key = (p) => (p && (p.org_id ? 'org:' + p.org_id : p.credit_code ? 'cc:' + p.credit_code : 'n:' + (p.name || ''))) || '';
  const mine = me.org ? me.org.id : null;
  const sellerKey = f.sellerIsMe ? 'org:' + mine : key(f.seller);
  const buyerKey = f.sellerIsMe ? key(f.buyer) : 'org:' + mine;
  const exempt = (t) => { const it = types.find((x) => x.code === t); return !!(it && it.extra && it.extra.vat_exempt); };
  const items = (r.data || []).filter((c) => c.id !== f.id && exempt(c.contract_type) && key(c.seller) === sellerKey && key(c.buyer) === buyerKey)
    .map((c) => ({ code: String(c.id), label: `${c.title}（${c.contract_type_label}${c.registration_no ? '，' + c.registration_no : ''}）` }));
  const cur = value ? String(value) : '';
  const shown = cur && !items.some((x) => x.code === cur) ? [...items, { code: cur, label: '（合同编号 ' + cur + '）' }] : items;
  return html`<${Select} items=${shown} value=${cur} onChange=${(v) => onChange(v || '')} empty=${items.length ? '不关联' : '双方之间没有技术转让、许可或开发合同'} ...${rest} />`;
}

function MoneyRows({ rows, onChange, kind }) {
  const upd = (i, k, v) => onChange(rows.map((r, j) => (j === i ? { ...r, [k]: v } : r)));
  if (kind === 'items') {
    return html`<div class="rows-editor">${rows.map((r, i) => html`<div class="row two" data-row=${i}>
        <input type="text" placeholder="项目，如 检测设备" value=${r.item || ''} onInput=${(e) => upd(i, 'item', e.currentTarget.value)} aria-label=${`非技术性费用第 ${i + 1} 项：项目`} />
        <${MoneyInput} value=${r.amount_fen} onChange=${(v) => upd(i, 'amount_fen', v)} aria-label=${`非技术性费用第 ${i + 1} 项：金额`} />
        <button type="button" class="btn btn-small" onClick=${() => onChange(rows.filter((_, j) => j !== i))}>删除</button></div>`)}
      <button type="button" class="btn btn-small" onClick=${() => onChange([...rows, { item: '', amount_fen: null }])}>＋ 添加非技术性费用</button></div>`;
  }
  return html`<div class="rows-editor">${rows.map((r, i) => html`<div class="row" data-row=${i}>
      <input type="date" value=${r.due_on || ''} onInput=${(e) => upd(i, 'due_on', e.currentTarget.value)} aria-label=${`付款计划第 ${i + 1} 项：日期`} />
      <${MoneyInput} value=${r.amount_fen} onChange=${(v) => upd(i, 'amount_fen', v)} aria-label=${`付款计划第 ${i + 1} 项：金额`} />
      <input type="text" placeholder="说明，如 验收合格后支付" value=${r.note || ''} onInput=${(e) => upd(i, 'note', e.currentTarget.value)} aria-label=${`付款计划第 ${i + 1} 项：说明`} />
      <button type="button" class="btn btn-small" onClick=${() => onChange(rows.filter((_, j) => j !== i))}>删除</button></div>`)}
    <button type="button" class="btn btn-small" onClick=${() => onChange([...rows, { due_on: '', amount_fen: null, note: '' }])}>＋ 添加付款节点</button></div>`;
}
function RowErrors({ fe, prefix }) {
  return Object.keys(fe).filter((k) => k.startsWith(prefix + '.')).map((k) => fe[k].map((t) => html`<div class="field-error" role="alert">${fieldLabel(k, CONTRACT_LABELS)}：${t}</div>`));
}

export function ContractForm({ params, query, me }) {
  const types = useCodes('contract_types');
  const editing = !!params.id;
  const [f, setF] = useState(null);
  const [loadErr, setLoadErr] = useState(null);
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState(null);
  useEffect(() => {
    (async () => {
      if (editing) { setF(fromContract(await api.get('/contracts/{id}', { path: { id: params.id } }), me)); return; }
      const f0 = emptyContract(me);
      if (query.result_id) f0.result_id = query.result_id;
      setF(f0);
    })().catch(setLoadErr);
  }, [params.id]);
  if (loadErr) return html`<${PageTitle}>技术合同</${PageTitle}><${ErrorBox} error=${loadErr} />`;
  if (!f) return html`<${Loading} />`;
  const fe = fieldErrors(err);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const total = f.contract_amount_fen ?? 0;
  const items = itemsSum(f.non_technical_items);
  const tech = total - items;
  const flip = (sellerIsMe) => {
    const mineP = { ...EMPTY_PARTY, org_id: me.org.id };
    const other = sellerIsMe ? f.seller.org_id === me.org.id ? f.buyer : f.seller : f.buyer.org_id === me.org.id ? f.seller : f.buyer;
    setF({ ...f, sellerIsMe, seller: sellerIsMe ? mineP : other, buyer: sellerIsMe ? other : mineP });
  };
  const save = async (apply) => {
    setErr(null); setSaved(null);
    let c;
    try {
      const id = f.id || params.id;
      const body = contractBody(f, me);
      if (apply && !id) {
        // a new draft that cannot be submitted is deleted again: no stray drafts
        const made = await api.post('/contracts', { body });
        try { c = await api.post('/contracts/{id}/submit', { path: { id: made.id } }); } catch (e) {
          await api.del('/contracts/{id}', { path: { id: made.id } }).catch(() => {});
          throw e;
        }
      } else {
        c = id ? await api.patch('/contracts/{id}', { path: { id }, body }) : await api.post('/contracts', { body });
        setF((old) => ({ ...old, id: c.id }));
        if (apply) c = await api.post('/contracts/{id}/submit', { path: { id: c.id } });
      }
    } catch (e) { setErr(e); window.scrollTo({ top: 0, behavior: 'smooth' }); return; }
    if (apply) navigate('/contracts/' + c.id + '?applied=1');
    else setSaved(c);
  };
  return html`<${PageTitle} sub="按合同文本如实填写。提交申请后，由卖方所在地的技术合同登记机构在 15 个工作日内（技术交易额 500 万元以上的 30 个工作日）完成审查。"
      actions=${html`<a class="btn" href="#/contracts">技术合同</a>`}>${editing ? '修改技术合同' : '新建技术合同'}</${PageTitle}>
    <form class="form" onSubmit=${(e) => { e.preventDefault(); save(true); }} novalidate>
      <${ErrorSummary} err=${err} labels=${CONTRACT_LABELS} />
      ${saved ? html`<${Notice} tone="success">已保存为草稿（编号 ${saved.id}）。<a href=${'#/contracts/' + saved.id}>查看合同</a></${Notice}>` : ''}
      <${Card} title="合同概况"><div class="form-grid">
        <${Field} wide label="合同名称" name="title" errors=${fe} required help="与合同文本首页一致，不超过 300 字。"><${TextInput} name="title" value=${f.title} onInput=${set('title')} maxlength="300" /></${Field}>
        <${Field} label="合同类别" name="contract_type" errors=${fe} required help="技术开发、转让、许可、咨询或服务；登记员审查时可依据合同内容调整。">
          <${CodeSelect} name="contract_type" list="contract_types" top value=${f.contract_type} onChange=${(v) => setF({ ...f, contract_type: v, contract_subtype: null })} /></${Field}>
        <${Field} label="合同子类别" name="contract_subtype" errors=${fe} required help="先选择合同类别。">
          <${CodeSelect} name="contract_subtype" list="contract_types" parent=${f.contract_type || '__none__'} value=${f.contract_subtype} onChange=${set('contract_subtype')} /></${Field}>
        <${Field} label="签订日期" name="signed_on" errors=${fe} required><input type="date" name="signed_on" value=${f.signed_on} onInput=${(e) => set('signed_on')(e.currentTarget.value)} /></${Field}>
        <${Field} label="生效日期" name="effective_on" errors=${fe} required help="合同生效后方可申请登记。"><input type="date" name="effective_on" value=${f.effective_on} onInput=${(e) => set('effective_on')(e.currentTarget.value)} /></${Field}>
        <${Field} label="终止日期" name="end_on" errors=${fe} required help="履行期满的合同不予登记。"><input type="date" name="end_on" value=${f.end_on} onInput=${(e) => set('end_on')(e.currentTarget.value)} /></${Field}>
        <${Field} label="技术进口" name="is_import" errors=${fe} group help="卖方在境外时勾选，由境内买方申请登记。">
          <label class="check"><input type="checkbox" checked=${f.is_import} onChange=${(e) => set('is_import')(e.currentTarget.checked)} /> 技术进口合同</label></${Field}>
      </div></${Card}>
      <${Card} title="合同当事人" actions=${html`<label class="check"><input type="checkbox" checked=${!f.sellerIsMe} onChange=${(e) => flip(!e.currentTarget.checked)} /> 本单位为买方（委托方）</label>`}>
        <div class="grid2">
          <${PartyEditor} prefix="seller" title=${'卖方（' + partyRoles(types, f.contract_type, f.contract_subtype).seller + '）'} p=${f.seller} fe=${fe} mine=${f.sellerIsMe} me=${me} onChange=${set('seller')} />
          <${PartyEditor} prefix="buyer" title=${'买方（' + partyRoles(types, f.contract_type, f.contract_subtype).buyer + '）'} p=${f.buyer} fe=${fe} mine=${!f.sellerIsMe} me=${me} onChange=${set('buyer')} />
        </div>
        <div class="form-section">
          ${f.intermediary ? html`<${PartyEditor} prefix="intermediary" title="中介方（技术中介服务机构）" p=${f.intermediary} fe=${fe} onChange=${set('intermediary')} />
            <button type="button" class="btn btn-small" onClick=${() => set('intermediary')(null)}>移除中介方</button>`
            : html`<button type="button" class="btn btn-small" onClick=${() => set('intermediary')({ ...EMPTY_PARTY })}>＋ 添加中介方</button>`}
        </div>
      </${Card}>
      <${Card} title="金额"><div class="form-grid">
        <${Field} label="合同成交额" name="contract_amount_fen" errors=${fe} required help="合同约定的全部价款、报酬或使用费，单位：元。">
          <${MoneyInput} name="contract_amount_fen" value=${f.contract_amount_fen} onChange=${set('contract_amount_fen')} /></${Field}>
        <${Field} label="技术交易额（自动计算）" name="technical_amount_fen" errors=${fe} help="= 合同成交额 − 非技术性费用（设备、仪器、零部件、原材料等）。">
          <div class=${'num' + (tech < 0 ? ' field-error' : '')} style="padding:8px 0;font-weight:600" data-testid="technical-amount">${yuan(tech)} 元</div></${Field}>
        <${Field} wide label="非技术性费用" name="non_technical_items" errors=${fe} help="合同价款中不属于技术交易的部分，逐项列明。">
          <${MoneyRows} kind="items" rows=${f.non_technical_items} onChange=${set('non_technical_items')} />
          <${RowErrors} fe=${fe} prefix="non_technical_items" /></${Field}>
        <${Field} wide label="付款计划" name="payment_schedule" errors=${fe} help="各期付款日期与金额，合计不超过合同成交额。">
          <${MoneyRows} kind="schedule" rows=${f.payment_schedule} onChange=${set('payment_schedule')} />
          <${RowErrors} fe=${fe} prefix="payment_schedule" /></${Field}>
      </div></${Card}>
      <${Card} title="统计分类"><div class="form-grid">
        <${Field} label="技术领域" name="domain" errors=${fe} required><${CodeSelect} name="domain" list="domains" value=${f.domain} onChange=${set('domain')} /></${Field}>
        <${Field} label="知识产权类型" name="ip_type" errors=${fe} required help="合同标的涉及的知识产权；不涉及的选“未涉及知识产权”。"><${CodeSelect} name="ip_type" list="ip_types" value=${f.ip_type} onChange=${set('ip_type')} /></${Field}>
        <${Field} label="计划来源" name="plan_source" errors=${fe} required help="合同标的所属科技计划的级别，不属于计划项目的选“计划外”。"><${CodeSelect} name="plan_source" list="plan_sources" value=${f.plan_source} onChange=${set('plan_source')} /></${Field}>
        <${Field} label="社会经济目标" name="socio_economic_objective" errors=${fe}><${CodeSelect} name="socio_economic_objective" list="socio_economic_objectives" value=${f.socio_economic_objective} onChange=${set('socio_economic_objective')} /></${Field}>
        <${Field} label="关联科技成果" name="result_id" errors=${fe} help="合同标的是本单位在平台发布的成果时选择。">
          <${MineSelect} kind="results" value=${f.result_id} onChange=${set('result_id')} /></${Field}>
        <${Field} label="关联技术需求" name="need_id" errors=${fe} help="合同因本单位在平台发布的需求而签订时选择。">
          <${MineSelect} kind="needs" value=${f.need_id} onChange=${set('need_id')} /></${Field}>
      </div></${Card}>
      <${Card} title="税收与补助"><div class="form-grid">
        <${Field} label="是否关联交易" name="related_party" errors=${fe} required help="双方存在控股、投资等关联关系时如实选择；100% 关联方之间的技术转让所得不享受企业所得税减免。">
          <${CodeSelect} name="related_party" list="related_party_kinds" value=${f.related_party} onChange=${(v) => set('related_party')(v || 'none')} empty=${false} /></${Field}>
        <${Field} label="财政资金" name="fiscal_subsidy" errors=${fe} group help="合同项目已获得财政资金补贴的，不再参与“已享受财政资金补贴的项目不参与奖励”的后补助。">
          <label class="check"><input type="checkbox" name="fiscal_subsidy" checked=${f.fiscal_subsidy} onChange=${(e) => set('fiscal_subsidy')(e.currentTarget.checked)} /> 已享受财政资金补贴</label></${Field}>
        ${relatedAllowed(types, f.contract_type) ? html`<${Field} wide label="相关的技术转让、许可或开发合同" name="related_contract_id" errors=${fe}
            help="为帮助对方掌握所转让或委托开发的技术而提供的咨询、服务，与该合同双方相同、价款开在同一张发票上的，免征增值税。">
          <${RelatedContractSelect} name="related_contract_id" f=${f} me=${me} value=${f.related_contract_id} onChange=${set('related_contract_id')} /></${Field}>` : ''}
      </div></${Card}>
      <div class="form-actions">
        <button class="btn btn-primary" type="submit">保存并申请登记</button>
        <${ActionButton} class="btn" onClick=${() => save(false)}>保存草稿</${ActionButton}>
        <a class="btn" href=${f.id ? '#/contracts/' + f.id : '#/contracts'}>取消</a>
      </div>
    </form>`;
}

// --- contract page ------------------------------------------------------------------------------------
export function PartyRows({ c }) {
  const types = useCodes('org_types');
  const roles = c.party_roles || { seller: '卖方', buyer: '买方' };
  const row = (role, p) => p && html`<tr><td data-label="角色">${role}</td><td data-label="名称">${p.name}${p.org_id ? html` <span class="muted small">#${p.org_id}</span>` : ''}</td>
    <td data-label="单位类型">${p.org_type ? p.org_type + ' ' + labelOf(types, p.org_type) : '—'}</td>
    <td data-label="地区"><${RegionName} code=${p.region_code} /></td><td data-label="信用代码" class="num">${p.credit_code || '—'}</td></tr>`;
  return html`<div class="table-wrap" tabindex="0"><table class="list stack"><thead><tr><th>当事人</th><th>名称</th><th>单位类型</th><th>地区</th><th>统一社会信用代码</th></tr></thead>
    <tbody>${row(`卖方（${roles.seller}）`, c.seller)}${row(`买方（${roles.buyer}）`, c.buyer)}${row('中介方', c.intermediary)}</tbody></table></div>`;
}
export function AmountFacts({ c }) {
  return html`<${Facts} rows=${[['合同成交额', html`<span class="num">${yuan(c.contract_amount_fen)} 元</span>`],
    ['技术交易额', html`<span class="num">${yuan(c.technical_amount_fen)} 元</span>`], ['实际到账额', html`<span class="num">${yuan(c.received_amount_fen)} 元</span>`],
    ['非技术性费用', (c.non_technical_items || []).length ? c.non_technical_items.map((x) => `${x.item} ${yuan(x.amount_fen)} 元`).join('；') : '无']]} />
    ${(c.payment_schedule || []).length ? html`<h3 style="margin-top:14px">付款计划</h3><div class="table-wrap" tabindex="0"><table class="list"><thead><tr><th>日期</th><th class="right">金额（元）</th><th>说明</th></tr></thead><tbody>
      ${c.payment_schedule.map((p) => html`<tr><td class="nowrap">${p.due_on}</td><td class="right num">${yuan(p.amount_fen)}</td><td>${p.note || ''}</td></tr>`)}</tbody></table></div>` : ''}`;
}
export function ClassFacts({ c }) {
  const seo = useCodes('socio_economic_objectives');
  const ps = useCodes('plan_sources');
  return html`<${Facts} rows=${[['合同类别', [c.contract_type_label, c.contract_subtype_label].filter(Boolean).join(' · ')], ['技术领域', c.domain_label],
    ['知识产权', c.ip_type_label], ['计划来源', labelOf(ps, c.plan_source)], ['社会经济目标', labelOf(seo, c.socio_economic_objective)],
    ['签订日期', date(c.signed_on)], ['生效日期', date(c.effective_on)], ['终止日期', date(c.end_on)], ['技术进口', c.is_import ? '是' : '否'],
    ['关联成果', c.result_id ? html`<a href=${'#/results/' + c.result_id}>#${c.result_id}</a>` : null], ['关联需求', c.need_id ? html`<a href=${'#/needs/' + c.need_id}>#${c.need_id}</a>` : null],
    ['是否关联交易', c.related_party_label], ['已享受财政资金补贴', c.fiscal_subsidy ? '是' : '否'],
    c.related_contract_id ? ['相关的技术转让、许可或开发合同', html`<a href=${'#/contracts/' + c.related_contract_id}>#${c.related_contract_id}</a>`] : null,
    c.registration_note ? ['核定意见', c.registration_note] : null]} />`;
}
export function WorkflowFacts({ c }) {
  return html`<${Facts} rows=${[['状态', html`<${Status} kind="contract" value=${c.status} />`], ['登记机构', c.office_name],
    ['申请时间', dateTime(c.submitted_at)], ['审查期限', c.due_on ? html`${date(c.due_on)}${c.overdue ? html` <span class="flag flag-overdue">已超期</span>` : ''}` : null],
    c.registration_no ? ['登记编号', html`<b class="num" data-testid="registration-no">${c.registration_no}</b>`] : null,
    c.registered_at ? ['登记时间', dateTime(c.registered_at)] : null, c.cancelled_at ? ['注销时间', dateTime(c.cancelled_at)] : null]} />`;
}

export function ContractPage({ params, query, me }) {
  const r = useLoad(() => api.get('/contracts/{id}', { path: { id: params.id } }), [params.id]);
  const [err, setErr] = useState(null);
  if (r.loading) return html`<${Loading} />`;
  if (r.error) return html`<${PageTitle}>技术合同</${PageTitle}><${ErrorBox} error=${r.error} />`;
  const c = r.data;
  const myOrg = me.org && me.org.id;
  const party = myOrg && [c.seller && c.seller.org_id, c.buyer && c.buyer.org_id].includes(myOrg);
  const applicant = myOrg && (c.is_import ? c.buyer.org_id : c.seller.org_id) === myOrg;
  const act = async (fn) => { setErr(null); try { const x = await fn(); if (x && x.id) r.set(x); else r.reload(); } catch (e) { setErr(e); } };
  return html`<${PageTitle} sub=${html`${c.seller.name} → ${c.buyer.name}`}
      actions=${html`<a class="btn" href=${me.role === 'officer' ? '#/registry' : '#/contracts'}>返回</a>`}>${c.title}</${PageTitle}>
    ${query.applied ? html`<${Notice} tone="success">登记申请已提交至 ${c.office_name || '登记机构'}，审查期限至 ${date(c.due_on)}。</${Notice}>` : ''}
    ${c.status === 'returned' ? html`<${Notice} tone="warn"><b>登记机构要求补正：</b>${c.return_reason}<br />${c.correction_due_on ? html`请于 <b data-testid="correction-due">${c.correction_due_on}</b> 前按要求修改后重新提交，审查期限重新计算。` : '请按要求修改后重新提交，审查期限重新计算。'}</${Notice}>` : ''}
    ${c.status === 'refused' ? html`<${Notice} tone="error"><b>不予登记：</b>${c.refusal_ground_label || c.refusal_ground}${c.refusal_detail ? '。' + c.refusal_detail : ''}</${Notice}>` : ''}
    ${c.pending_change ? html`<${Notice} tone="info">有待登记机构确认的${c.pending_change.kind === 'amend' ? '变更' : '注销'}申请（${dateTime(c.pending_change.requested_at)}）：${c.pending_change.reason}</${Notice}>` : ''}
    <${ErrorBox} error=${err && !(err.errors && err.errors.length) ? err : null} />
    ${err && err.errors && err.errors.length ? html`<${ErrorSummary} err=${err} />` : ''}
    <div class="layout-main-side aside-first">
      <div>
        <${Card} title="当事人"><${PartyRows} c=${c} /></${Card}>
        <${Card} title="金额"><${AmountFacts} c=${c} /></${Card}>
        <${Card} title="分类与期限"><${ClassFacts} c=${c} /></${Card}>
        ${c.status === 'registered' || c.status === 'cancelled' ? html`<${Payments} c=${c} me=${me} reload=${r.reload} />` : ''}
        ${c.status === 'registered' || c.status === 'cancelled' ? html`<${ChangeHistory} c=${c} />` : ''}
        <${Attachments} c=${c} me=${me} party=${party} />
      </div>
      <aside>
        <${Card} title="登记"><${WorkflowFacts} c=${c} />
          <div class="page-actions" style="margin-top:12px">
            ${party && ['draft', 'returned'].includes(c.status) ? html`<a class="btn" href=${'#/contracts/' + c.id + '/edit'}>修改</a>` : ''}
            ${applicant && ['draft', 'returned'].includes(c.status) ? html`<${ActionButton} class="btn btn-primary" onClick=${() => act(() => api.post('/contracts/{id}/submit', { path: { id: c.id } }))}>${c.status === 'returned' ? '重新提交' : '申请登记'}</${ActionButton}>` : ''}
            ${party && c.status === 'draft' ? html`<${ActionButton} class="btn btn-danger" confirm="删除此草稿？" onClick=${async () => { setErr(null); try { await api.del('/contracts/{id}', { path: { id: c.id } }); navigate('/contracts'); } catch (e) { setErr(e); } }}>删除</${ActionButton}>` : ''}
            ${(me.role === 'officer' || me.role === 'admin') && c.status === 'submitted' ? html`<a class="btn btn-primary" href=${'#/registry/' + c.id}>审查</a>` : ''}
            ${c.status === 'registered' ? html`<a class="btn btn-primary" href=${'#/certificate/' + c.id}>登记证明</a>` : ''}
            ${c.status === 'registered' ? html`<${ActionButton} class="btn" data-pdf="certificate" onClick=${() => pdf(c, 'certificate').catch(setErr)}>登记证明 PDF</${ActionButton}>` : ''}
            ${c.status !== 'draft' ? html`<${ActionButton} class="btn" data-pdf="form" onClick=${() => pdf(c, 'form').catch(setErr)}>登记表 PDF</${ActionButton}>` : ''}
          </div></${Card}>
        ${applicant && c.status === 'registered' && !c.pending_change ? html`<${ChangeRequest} c=${c} act=${act} />` : ''}
        ${(me.role === 'officer' || me.role === 'admin') && c.pending_change ? html`<${ChangeDecision} c=${c} act=${act} />` : ''}
      </aside>
    </div>`;
}

// The official documents as PDF (drawn by the server): the certificate of a
// registered contract, the registration form (技术合同登记表) of any but a draft.
/** @param {{id: number, registration_no?: string | null}} c @param {'certificate' | 'form'} which */
export function pdf(c, which) {
  return which === 'certificate'
    ? download('/contracts/{id}/certificate', { path: { id: c.id }, query: { format: 'pdf' } }, `登记证明-${c.registration_no || c.id}.pdf`)
    : download('/contracts/{id}/registration-form', { path: { id: c.id } }, `技术合同登记表-${c.registration_no || c.id}.pdf`);
}

function ChangeRequest({ c, act }) {
  const [kind, setKind] = useState('');
  const [reason, setReason] = useState('');
  const [amount, setAmount] = useState(c.contract_amount_fen);
  if (!kind) {
    return html`<${Card} title="变更与注销"><p class="small muted">已登记合同的金额、类别等发生变化时申请变更登记；合同解除的申请注销登记。均由登记机构确认。</p>
      <div class="page-actions"><button class="btn" onClick=${() => setKind('amend')}>申请变更登记</button><button class="btn btn-warn" onClick=${() => setKind('cancel')}>申请注销登记</button></div></${Card}>`;
  }
  return html`<${Card} title=${kind === 'amend' ? '申请变更登记' : '申请注销登记'} class="form">
    ${kind === 'amend' ? html`<${Field} label="变更后的合同成交额" help="本表单只变更金额；技术交易额按非技术性费用相应调整。"><${MoneyInput} value=${amount} onChange=${setAmount} /></${Field}>` : ''}
    <${Field} label="理由" required><${TextArea} rows=${3} value=${reason} onInput=${setReason} /></${Field}>
    <div class="page-actions">
      <${ActionButton} class="btn btn-primary" onClick=${() => act(() => {
        const items = (c.non_technical_items || []).reduce((s, x) => s + x.amount_fen, 0);
        return kind === 'amend'
          ? api.post('/contracts/{id}/amend', { path: { id: c.id }, body: { reason, changes: { contract_amount_fen: amount ?? 0, technical_amount_fen: Math.max(0, (amount ?? 0) - items) } } })
          : api.post('/contracts/{id}/cancel', { path: { id: c.id }, body: { reason } });
      })}>提交申请</${ActionButton}>
      <button class="btn" onClick=${() => setKind('')}>取消</button></div></${Card}>`;
}
function ChangeDecision({ c, act }) {
  const [note, setNote] = useState('');
  const x = c.pending_change;
  const decide = (decision) => act(() => {
    const body = { change_id: x.id, decision, note: note || null };
    return x.kind === 'amend' ? api.post('/contracts/{id}/amend', { path: { id: c.id }, body }) : api.post('/contracts/{id}/cancel', { path: { id: c.id }, body });
  });
  return html`<${Card} title=${x.kind === 'amend' ? '确认变更登记' : '确认注销登记'} class="form">
    <p class="small">理由：${x.reason}</p>
    ${x.kind === 'amend' ? html`<${ChangeList} c=${c} changes=${x.changes} />` : ''}
    <${Field} label="意见"><${TextArea} rows=${2} value=${note} onInput=${setNote} /></${Field}>
    <div class="page-actions"><${ActionButton} class="btn btn-success" onClick=${() => decide('confirm')}>确认</${ActionButton}>
      <${ActionButton} class="btn btn-danger" onClick=${() => decide('reject')}>驳回</${ActionButton}></div></${Card}>`;
}

// What an amendment asks to change, each field by its label, old → new.
function ChangeList({ c, changes }) {
  const lists = { contract_type: useCodes('contract_types'), contract_subtype: useCodes('contract_types'), domain: useCodes('domains'),
    ip_type: useCodes('ip_types'), plan_source: useCodes('plan_sources'), socio_economic_objective: useCodes('socio_economic_objectives') };
  const show = (k, v) => (v == null ? '（空）' : lists[k] ? labelOf(lists[k], v) || '（代码已停用）' : /_fen$/.test(k) ? yuan(v) + ' 元'
    : Array.isArray(v) ? (k === 'non_technical_items' ? v.map((i) => `${i.item} ${yuan(i.amount_fen)} 元`).join('；') || '无'
      : v.map((i) => `${i.due_on} ${yuan(i.amount_fen)} 元`).join('；') || '无')
    : String(v));
  return html`<dl class="facts changes" data-testid="requested-changes">${Object.entries(changes || {}).map(([k, v]) => html`<div class="fact">
    <dt>${CONTRACT_LABELS[k] || '其他'}</dt><dd>${show(k, c[k])} → <b>${show(k, v)}</b></dd></div>`)}</dl>`;
}

const CHANGE_STATUS = { pending: '待确认', confirmed: '已确认', rejected: '已驳回' };

// Every amendment / cancellation request with the office's decision and note,
// so the applicant sees why a request was rejected.
function ChangeHistory({ c }) {
  const r = useLoad(() => api.get('/contracts/{id}/changes', { path: { id: c.id } }),
    [c.id, c.status, c.version, c.pending_change ? c.pending_change.id : 0]);
  if (r.loading || r.error || !(r.data.items || []).length) return null;
  return html`<${Card} title="变更与注销记录"><div class="table-wrap" tabindex="0"><table class="list" data-testid="changes"><thead><tr>
      <th>申请时间</th><th>类型</th><th>理由</th><th>结果</th><th>登记机构意见</th><th>处理时间</th></tr></thead><tbody>
    ${r.data.items.map((x) => html`<tr data-id=${x.id} data-status=${x.status}><td>${dateTime(x.requested_at)}</td>
      <td>${x.kind === 'amend' ? '变更' : '注销'}</td><td>${x.reason}</td>
      <td><span class=${'flag flag-' + x.status}>${CHANGE_STATUS[x.status] || x.status}</span></td>
      <td class="note">${x.decision_note || ''}</td><td>${x.decided_at ? dateTime(x.decided_at) : ''}</td></tr>`)}
    </tbody></table></div></${Card}>`;
}

function Payments({ c, me, reload }) {
  const r = useLoad(() => api.get('/contracts/{id}/payments', { path: { id: c.id } }), [c.id, c.received_amount_fen]);
  const [amount, setAmount] = useState(null);
  const [on, setOn] = useState(todayCN());
  const [err, setErr] = useState(null);
  const fe = fieldErrors(err);
  const canAdd = c.status === 'registered' && ((me.org && c.seller.org_id === me.org.id) || me.role === 'officer');
  return html`<${Card} title="实际到账">
    ${r.loading ? html`<${Loading} />` : r.error ? html`<${ErrorBox} error=${r.error} />` : !(r.data.items || []).length ? html`<p class="muted">尚无到账记录。</p>`
      : html`<div class="table-wrap" tabindex="0"><table class="list"><thead><tr><th>到账日期</th><th class="right">金额（元）</th><th>说明</th></tr></thead><tbody>
        ${r.data.items.map((p) => html`<tr><td>${p.received_on}</td><td class="right num">${yuan(p.amount_fen)}</td><td>${p.note || ''}</td></tr>`)}</tbody></table></div>`}
    ${canAdd ? html`<div class="form form-section"><div class="form-grid">
      <${Field} label="到账金额" name="amount_fen" errors=${fe}><${MoneyInput} value=${amount} onChange=${setAmount} /></${Field}>
      <${Field} label="到账日期" name="received_on" errors=${fe}><input type="date" value=${on} onInput=${(e) => setOn(e.currentTarget.value)} /></${Field}></div>
      <${ErrorBox} error=${err && !err.errors.length ? err : null} />
      <${ActionButton} class="btn btn-small btn-primary" onClick=${async () => {
        setErr(null);
        try { await api.post('/contracts/{id}/payments', { path: { id: c.id }, body: { amount_fen: amount ?? 0, received_on: on } }); setAmount(null); reload(); } catch (e) { setErr(e); }
      }}>记录到账</${ActionButton}></div>` : ''}
  </${Card}>`;
}

export function Attachments({ c, me, party }) {
  const r = useLoad(() => api.get('/contracts/{id}/attachments', { path: { id: c.id } }), [c.id]);
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const file = useRef(null);
  // before and after submission; not once refused or cancelled
  const canUpload = party && ['draft', 'submitted', 'returned', 'registered'].includes(c.status);
  const upload = async () => {
    const fl = file.current && file.current.files[0];
    if (!fl) return;
    setErr(null); setBusy(true);
    try {
      await request('POST', '/contracts/{id}/attachments', { path: { id: c.id }, query: { filename: fl.name }, raw: true, headers: { 'Content-Type': fl.type || 'application/octet-stream' }, bodyRaw: fl });
      file.current.value = '';
      r.reload();
    } catch (e) { setErr(e); } finally { setBusy(false); }
  };
  const download = async (a) => {
    try {
      const resp = await request('GET', '/contracts/{id}/attachments/{aid}', { path: { id: c.id, aid: a.id }, raw: true });
      const url = URL.createObjectURL(await resp.blob());
      const link = document.createElement('a');
      link.href = url; link.download = a.filename || 'contract'; link.click();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) { setErr(e); }
  };
  return html`<${Card} title="合同附件（签章扫描件）">
    ${r.loading ? html`<${Loading} />` : r.error ? html`<${ErrorBox} error=${r.error} />` : !(r.data.items || []).length ? html`<p class="muted">尚未上传。申请登记需附签章完整的合同文本扫描件（PDF、PNG 或 JPEG）。</p>`
      : html`<ul class="files">${r.data.items.map((a) => html`<li><a href="#" onClick=${(e) => { e.preventDefault(); download(a); }}>${a.filename}</a>
          <span class="muted small"> ${a.content_type} · ${Math.max(1, Math.ceil(a.size_bytes / 1024))} KB</span></li>`)}</ul>`}
    <${ErrorBox} error=${err} />
    ${canUpload ? html`<div class="page-actions"><input type="file" ref=${file} accept="application/pdf,image/png,image/jpeg" aria-label="选择合同文本扫描件（PDF 或图片）" />
      <button class="btn btn-small" disabled=${busy} onClick=${upload}>${busy ? '上传中…' : '上传'}</button></div>` : ''}
  </${Card}>`;
}

// --- the printable certificate ---------------------------------------------------------------------------
export function CertificateView({ params }) {
  const [err, setErr] = useState(null);
  const r = useLoad(async () => {
    const [htmlText, cert] = await Promise.all([
      request('GET', '/contracts/{id}/certificate', { path: { id: params.id }, query: { format: 'html' }, raw: true }).then((x) => x.text()),
      request('GET', '/contracts/{id}/certificate', { path: { id: params.id }, raw: true }).then((x) => x.text()),
    ]);
    return { htmlText, cert };
  }, [params.id]);
  if (r.loading) return html`<${Loading} text="正在生成登记证明…" />`;
  if (r.error) return html`<${PageTitle}>技术合同登记证明</${PageTitle}><${ErrorBox} error=${r.error} />`;
  let no = '';
  try { no = JSON.parse(r.data.cert).payload.registration_no; } catch { /* shown anyway */ }
  const openWindow = () => {
    const url = URL.createObjectURL(new Blob([r.data.htmlText], { type: 'text/html;charset=utf-8' }));
    window.open(url, '_blank', 'noopener');
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  };
  const saveJson = () => {
    const url = URL.createObjectURL(new Blob([r.data.cert], { type: 'application/json' }));
    const a = document.createElement('a'); a.href = url; a.download = `登记证明-${no || params.id}.json`; a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  };
  const verify = () => { sessionStorage.setItem(CERT_HANDOFF, r.data.cert); navigate('/verify/' + no); };
  return html`<${PageTitle} sub=${'登记编号 ' + no + '。证明由登记机构数字签名，扫描二维码或在核验页粘贴签名数据即可核验真伪。'}
      actions=${html`<button class="btn btn-primary" onClick=${openWindow}>新窗口打开并打印</button>
        <${ActionButton} class="btn" data-pdf="certificate" onClick=${() => pdf({ id: Number(params.id), registration_no: no }, 'certificate').catch(setErr)}>下载 PDF</${ActionButton}>
        <button class="btn" onClick=${saveJson}>下载签名数据</button><button class="btn" onClick=${verify} data-testid="verify-this">核验此证明</button>
        <a class="btn" href=${'#/contracts/' + params.id}>返回合同</a>`}>技术合同登记证明</${PageTitle}>
    ${err ? html`<${ErrorBox} error=${err} />` : ''}
    <iframe class="cert-frame" title="技术合同登记证明" sandbox="allow-scripts allow-modals" srcdoc=${r.data.htmlText}></iframe>`;
}
