// Registration officer (登记员): the queue (overdue first, integrity flags
// visible), the review screen with register / return (补正) / refuse (不予登记
// with the official grounds), and the office's processed registrations.
import { useState } from 'preact/hooks';
import { api, listAll } from '../api.js';
import {
  html, yuan, wan, date, dateTime, Status, Loading, ErrorBox, Unavailable, Empty, Card, PageTitle, Facts, Field, TextArea, Select,
  CodeSelect, MoneyInput, useLoad, useCodes, labelOf, navigate, ActionButton, fieldErrors, problemText, Notice, Tabs, ErrorSummary,
} from '../ui.js';
import { PartyRows, AmountFacts, ClassFacts, WorkflowFacts, ContractTable, ContractCount, CONTRACT_LABELS, Attachments } from './contracts.js';

const EXPERT_FEN = 500000000;   // shown only; the server decides from its settings
const FLAG_TEXT = { duplicate: '疑似重复登记', split: '疑似拆分合同', near_subsidy_threshold: '金额略高于补助门槛', just_above_threshold: '金额略高于补助门槛', related_parties: '买卖双方疑似关联' };
export function Flags({ flags }) {
  if (!flags || !flags.length) return html`<span class="muted small">无</span>`;
  return flags.map((f) => html`<span class="flag" data-flag=${f.code} title=${f.detail}>${f.label || FLAG_TEXT[f.code] || f.code}</span>`);
}

export function Queue({ me }) {
  const r = useLoad(() => api.get('/registry/queue', { query: { limit: 100 } }), []);
  const [only, setOnly] = useState('all');
  if (r.loading) return html`<${PageTitle}>登记审查队列</${PageTitle}><${Loading} />`;
  if (r.error) return html`<${PageTitle}>登记审查队列</${PageTitle}>${r.error.unavailable ? html`<${Unavailable} what="登记审查队列" />` : html`<${ErrorBox} error=${r.error} onRetry=${r.reload} />`}`;
  const all = r.data.items || [];
  const overdue = all.filter((x) => x.overdue);
  const flagged = all.filter((x) => (x.flags || []).length);
  const shown = only === 'overdue' ? overdue : only === 'flagged' ? flagged : all;
  const cal = r.data.calendar;
  return html`<${PageTitle} sub=${html`${me.office ? me.office.name : ''}：已受理、待审查的登记申请。超期的排在最前，其次按审查期限先后。`}
      actions=${html`<button class="btn" onClick=${r.reload}>刷新</button>`}>登记审查队列</${PageTitle}>
    ${cal && (cal.unconfirmed_years.length || cal.provisional_deadlines) ? html`<div class="alert alert-warn" role="status" data-testid="calendar-warning">
      <b>${cal.unconfirmed_years.length ? cal.unconfirmed_years.join('、') + ' 年的节假日安排尚未确认。' : '部分审查期限为暂定。'}</b>
      审查期限跨入未确认年度的申请，按工作日（扣除法定节日、不含调休）计算并标注“期限暂定”；管理员按国务院通知确认该年度日历后，期限自动重新计算。
      本机构有 <b data-testid="provisional-count">${cal.provisional_deadlines}</b> 件申请的审查期限为暂定。</div>` : ''}
    <div class="kpis">
      <div class="kpi"><div class="k">待审查</div><div class="v" data-testid="queue-count">${all.length}<small>件</small></div></div>
      <div class="kpi" style="border-top-color:var(--red)"><div class="k">已超期</div><div class="v" style="color:var(--red)">${overdue.length}<small>件</small></div></div>
      <div class="kpi" style="border-top-color:var(--amber)"><div class="k">有核查提示</div><div class="v">${flagged.length}<small>件</small></div></div>
      <div class="kpi" style="border-top-color:var(--green)"><div class="k">需专家评审（≥500 万元）</div><div class="v">${all.filter((x) => x.technical_amount_fen >= EXPERT_FEN).length}<small>件</small></div></div>
    </div>
    <div class="card">
      <${Tabs} value=${only} onChange=${setOnly} tabs=${[['all', `全部（${all.length}）`], ['overdue', `超期（${overdue.length}）`], ['flagged', `有核查提示（${flagged.length}）`]]} />
      ${!shown.length ? html`<${Empty}>没有待审查的申请</${Empty}>` : html`<div class="table-wrap" tabindex="0"><table class="list stack queue"><thead><tr>
        <th>期限</th><th>合同名称</th><th>卖方 / 买方</th><th>类别</th><th class="right">技术交易额（万元）</th><th>申请时间</th><th>核查提示</th><th></th></tr></thead><tbody>
        ${shown.map((x) => html`<tr class=${x.overdue ? 'overdue' : ''} data-id=${x.id}>
          <td data-label="期限" class="nowrap">${x.overdue ? html`<span class="flag flag-overdue">超期 ${-x.working_days_left} 个工作日</span>` : html`<span>剩 <b>${x.working_days_left}</b> 个工作日</span>`}
            <div class="small muted">至 ${date(x.due_on)}</div>
            ${x.calendar_provisional ? html`<span class="badge badge-amber" data-testid="due-provisional" title="审查期限跨入节假日安排尚未确认的年度，按工作日计算">期限暂定</span>` : ''}</td>
          <td data-label="合同"><a href=${'#/registry/' + x.id}>${x.title}</a>
            ${x.return_reason || x.returned_at ? html` <span class="badge badge-amber">补正后重新提交</span>` : ''}
            ${x.technical_amount_fen >= EXPERT_FEN ? html` <span class="badge badge-blue">专家评审</span>` : ''}</td>
          <td data-label="当事人">${x.seller.name}<div class="small muted">${x.buyer.name}</div></td>
          <td data-label="类别" class="nowrap">${x.contract_subtype_label || x.contract_type_label || '—'}</td>
          <td data-label="技术交易额" class="right num">${wan(x.technical_amount_fen)}</td>
          <td data-label="申请" class="nowrap">${date(x.submitted_at)}</td>
          <td data-label="核查">${x.attachments === 0 ? html`<span class="flag flag-overdue" data-flag="no_scan">无扫描件</span>` : ''}
            ${x.attachments !== 0 || (x.flags || []).length ? html`<${Flags} flags=${x.flags} />` : ''}</td>
          <td data-label="操作"><a class="btn btn-small btn-primary" href=${'#/registry/' + x.id}>审查</a></td>
        </tr>`)}</tbody></table></div>`}
    </div>`;
}

export function Done() {
  /** @type {[import('../api-types').Schema<'ContractStatus'>, any]} */
  const [status, setStatus] = useState('registered');
  const r = useLoad(() => api.get('/contracts', { query: { status, limit: 50 } }), [status]);
  return html`<${PageTitle} sub="本登记机构已办结的申请。">已办登记</${PageTitle}>
    <div class="card">
      <${Tabs} value=${status} onChange=${setStatus} tabs=${[['registered', '已登记'], ['returned', '退回补正'], ['refused', '不予登记'], ['cancelled', '已注销']]} />
      ${r.loading ? html`<${Loading} />` : r.error ? html`<${ErrorBox} error=${r.error} />` : !(r.data.items || []).length ? html`<${Empty} />`
        : html`<p class="small muted" data-testid="result-count"><${ContractCount} total=${r.data.total} /></p><${ContractTable} items=${r.data.items} />`}
    </div>`;
}

// Whether the signed contract's scan is attached: the officer sees it before deciding.
function ScanStatus({ n }) {
  return n
    ? html`<div class="alert alert-success" data-testid="scan-status" data-scan="yes">已附签章合同扫描件 ${n} 个文件，见下方“合同附件”。</div>`
    : html`<div class="alert alert-warn" data-testid="scan-status" data-scan="no" role="status"><b>未附签章合同扫描件。</b>可退回补正，要求申请人上传后再予登记；确需先行登记的，须在“认定登记”中写明理由，理由记入审计日志。</div>`;
}

export function ReviewScreen({ params, me }) {
  const r = useLoad(() => api.get('/contracts/{id}', { path: { id: params.id } }), [params.id]);
  const files = useLoad(() => api.get('/contracts/{id}/attachments', { path: { id: params.id } }).then((x) => x.items.length), [params.id]);
  const [done, setDone] = useState(null);
  if (r.loading) return html`<${Loading} />`;
  if (r.error) return html`<${PageTitle}>登记审查</${PageTitle}><${ErrorBox} error=${r.error} />`;
  const c = r.data;
  const after = (x, what) => { r.set(x); setDone(what); window.scrollTo({ top: 0, behavior: 'smooth' }); };
  return html`<${PageTitle} sub=${html`${c.seller.name} → ${c.buyer.name} · <${Status} kind="contract" value=${c.status} />`}
      actions=${html`<a class="btn" href="#/registry">返回队列</a><a class="btn" href=${'#/contracts/' + c.id}>合同详情</a>`}>${c.title}</${PageTitle}>
    ${done === 'register' ? html`<div class="verdict ok" data-testid="registered"><div class="icon">✓</div><div><h2>已予登记</h2>
      <div>登记编号 <b class="num" data-testid="registration-no">${c.registration_no}</b></div>
      <div class="page-actions" style="margin-top:8px"><a class="btn btn-primary" href=${'#/certificate/' + c.id}>打印登记证明</a><a class="btn" href="#/registry">返回队列</a></div></div></div>` : ''}
    ${done === 'return' ? html`<${Notice} tone="warn">已退回申请人补正。<a href="#/registry">返回队列</a></${Notice}>` : ''}
    ${done === 'refuse' ? html`<${Notice} tone="error">已作出不予登记决定。<a href="#/registry">返回队列</a></${Notice}>` : ''}
    ${c.status === 'submitted' && files.data !== undefined ? html`<${ScanStatus} n=${files.data} />` : ''}
    ${c.flags && c.flags.length ? html`<div class="alert alert-warn"><b>核查提示：</b>${c.flags.map((f) => html`<div><span class="flag" data-flag=${f.code}>${f.label || FLAG_TEXT[f.code] || f.code}</span>${f.detail}</div>`)}</div>` : ''}
    <div class="layout-main-side">
      <div>
        <${Card} title="当事人"><${PartyRows} c=${c} /></${Card}>
        <${Card} title="金额"><${AmountFacts} c=${c} /></${Card}>
        <${Card} title="分类与期限"><${ClassFacts} c=${c} /></${Card}>
        <${Attachments} c=${c} me=${me} party=${false} />
      </div>
      <aside><${Card} title="申请"><${WorkflowFacts} c=${c} />${c.return_reason ? html`<p class="small">上次补正要求：${c.return_reason}</p>` : ''}</${Card}></aside>
    </div>
    ${c.status === 'submitted' ? html`<h2 style="margin-top:8px">审查结论</h2>
      <div class="review-actions">
        <${RegisterPanel} c=${c} scans=${files.data} after=${(x) => after(x, 'register')} />
        <${ReturnPanel} c=${c} after=${(x) => after(x, 'return')} />
        <${RefusePanel} c=${c} after=${(x) => after(x, 'refuse')} />
      </div>` : ''}`;
}

const REVIEW_LABELS = { ...CONTRACT_LABELS, note: '核定意见', reason: '补正说明', ground: '不予登记理由', detail: '具体说明', no_scan_reason: '未附扫描件的登记理由' };
function ErrorList({ err }) {
  return html`<${ErrorSummary} err=${err} labels=${REVIEW_LABELS} />`;
}

function RegisterPanel({ c, scans, after }) {
  const [noScan, setNoScan] = useState('');
  const [type, setType] = useState(c.contract_type);
  const [sub, setSub] = useState(c.contract_subtype);
  const [items, setItems] = useState(c.non_technical_items || []);
  const [note, setNote] = useState('');
  const [err, setErr] = useState(null);
  const fe = fieldErrors(err);
  const sum = items.reduce((s, x) => s + (Number.isInteger(x.amount_fen) ? x.amount_fen : 0), 0);
  const tech = c.contract_amount_fen - sum;
  const changed = JSON.stringify(items) !== JSON.stringify(c.non_technical_items || []);
  const upd = (i, k, v) => setItems(items.map((x, j) => (j === i ? { ...x, [k]: v } : x)));
  const go = async () => {
    setErr(null);
    /** @type {import('../api-types').Body<'/contracts/{id}/register', 'post'>} */
    const body = {};
    if (type !== c.contract_type) body.contract_type = type;
    if (sub !== c.contract_subtype) body.contract_subtype = sub;
    if (changed) { body.non_technical_items = items.map((x) => ({ item: x.item, amount_fen: x.amount_fen ?? 0 })); body.technical_amount_fen = tech; }
    if (note) body.note = note;
    if (scans === 0) body.no_scan_reason = noScan.trim() || null;
    try { after(await api.post('/contracts/{id}/register', { path: { id: c.id }, body })); } catch (e) { setErr(e); }
  };
  return html`<section class="card register-card form" data-panel="register"><h2>认定登记</h2>
    <p class="small muted">核定合同类别与技术交易额后予以登记，系统按本机构、本年度顺序编号并签发登记证明。</p>
    <${Field} label="核定合同类别" name="contract_type" errors=${fe}><${CodeSelect} list="contract_types" top value=${type} onChange=${(v) => { setType(v); setSub(null); }} /></${Field}>
    <${Field} label="核定子类别" name="contract_subtype" errors=${fe}><${CodeSelect} list="contract_types" parent=${type || '__none__'} value=${sub} onChange=${setSub} /></${Field}>
    <${Field} label="核减的非技术性费用" name="non_technical_items" errors=${fe} help="从合同成交额中扣除的设备、材料等费用。">
      <div class="rows-editor">${items.map((x, i) => html`<div class="row two"><input type="text" value=${x.item} onInput=${(e) => upd(i, 'item', e.currentTarget.value)} aria-label=${`核减费用第 ${i + 1} 项：项目`} />
        <${MoneyInput} value=${x.amount_fen} onChange=${(v) => upd(i, 'amount_fen', v)} aria-label=${`核减费用第 ${i + 1} 项：金额`} /><button type="button" class="btn btn-small" onClick=${() => setItems(items.filter((_, j) => j !== i))}>删除</button></div>`)}
        <button type="button" class="btn btn-small" onClick=${() => setItems([...items, { item: '', amount_fen: null }])}>＋ 添加</button></div></${Field}>
    <${Field} label="核定技术交易额" name="technical_amount_fen" errors=${fe}><div class="num" style="font-weight:700;font-size:17px">${yuan(tech)} 元</div></${Field}>
    <${Field} label="核定意见" name="note" errors=${fe} help="核定了什么、依据是什么（如核减的设备费），将印在登记证明上。"><${TextArea} name="note" rows=${2} value=${note} onInput=${setNote} maxlength="1000" /></${Field}>
    ${scans === 0 ? html`<${Field} label="未附扫描件仍予登记的理由" name="no_scan_reason" errors=${fe} required
        help="申请未附签章合同扫描件。写明理由（如已当面核验原件）后方可登记；理由记入审计日志。">
      <${TextArea} rows=${2} name="no_scan_reason" value=${noScan} onInput=${setNoScan} maxlength="500" /></${Field}>` : ''}
    <${ErrorList} err=${err} />
    <${ActionButton} class="btn btn-success" onClick=${go} confirm="确认予以登记？登记后将生成登记编号和登记证明。">予以登记</${ActionButton}>
  </section>`;
}

function ReturnPanel({ c, after }) {
  const reasons = useCodes('return_reasons');
  const [picked, setPicked] = useState([]);
  const [detail, setDetail] = useState('');
  const [err, setErr] = useState(null);
  const toggle = (code) => setPicked(picked.includes(code) ? picked.filter((x) => x !== code) : [...picked, code]);
  const go = async () => {
    setErr(null);
    const labels = reasons.filter((x) => picked.includes(x.code)).map((x) => x.label);
    const reason = [labels.length ? '需补正：' + labels.join('；') : '', detail.trim()].filter(Boolean).join('。');
    try { after(await api.post('/contracts/{id}/return', { path: { id: c.id }, body: { reason } })); } catch (e) { setErr(e); }
  };
  return html`<section class="card return-card form" data-panel="return"><h2>退回补正</h2>
    <p class="small muted">材料不全或需更正的，退回申请人补正；补正后重新提交的，审查期限重新计算。</p>
    <div class="field"><label>补正事项</label><div class="checks" style="flex-direction:column;gap:2px">
      ${reasons.map((x) => html`<label class="check"><input type="checkbox" value=${x.code} checked=${picked.includes(x.code)} onChange=${() => toggle(x.code)} /> ${x.label}</label>`)}</div></div>
    <${Field} label="补正说明" name="reason" errors=${fieldErrors(err)}><${TextArea} rows=${3} value=${detail} onInput=${setDetail} placeholder="具体说明需要补正的内容" /></${Field}>
    <${ErrorList} err=${err} />
    <${ActionButton} class="btn btn-warn" onClick=${go}>退回补正</${ActionButton}>
  </section>`;
}

function RefusePanel({ c, after }) {
  const grounds = useCodes('refusal_grounds');
  const [ground, setGround] = useState(null);
  const [detail, setDetail] = useState('');
  const [err, setErr] = useState(null);
  const fe = fieldErrors(err);
  const go = async () => {
    setErr(null);
    try { after(await api.post('/contracts/{id}/refuse', { path: { id: c.id }, body: { ground: ground || '', detail: detail || null } })); } catch (e) { setErr(e); }
  };
  return html`<section class="card refuse-card form" data-panel="refuse"><h2>不予登记</h2>
    <p class="small muted">依据《技术合同认定登记管理办法》《技术合同认定规则》，不符合登记条件的，书面说明理由。</p>
    <${Field} label="不予登记理由" name="ground" errors=${fe} required>
      <${Select} name="ground" items=${grounds} value=${ground} onChange=${setGround} empty="请选择法定理由" /></${Field}>
    <${Field} label="具体说明" name="detail" errors=${fe}><${TextArea} rows=${3} value=${detail} onInput=${setDetail} /></${Field}>
    <${ErrorList} err=${err} />
    <${ActionButton} class="btn btn-danger" onClick=${go} confirm="确认作出不予登记决定？">不予登记</${ActionButton}>
  </section>`;
}
