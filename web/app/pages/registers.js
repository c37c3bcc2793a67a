// Registers (登记) of technology-transfer demonstration institutions and of
// technology brokers, kept by the bureau for its region (an admin for all):
// who recognised an organisation at which level, when, under which document;
// a broker's trainings and certifications.  Entries are never edited: a
// wrong or revoked one is withdrawn with a reason and stays in the history.
// Subsidy lines pay by them (后补助: fixed amounts by level, per certified broker).
import { useState, useEffect } from 'preact/hooks';
import { api } from '../api.js';
import {
  html, date, Loading, ErrorBox, Empty, Card, PageTitle, Field, CodeSelect, ActionButton, fieldErrors, ErrorSummary, Tabs, todayCN,
  usePaged, More,
} from '../ui.js';

const LABELS = {
  org_id: '单位', level: '认定级别', recognised_by: '认定部门', recognised_on: '认定日期', document_no: '认定文号', evidence: '证明材料',
  user_id: '技术经纪人', kind: '登记类别', course: '培训课程', hours: '培训学时', certificate_no: '证书编号', issuer: '发证（培训）单位',
  obtained_on: '取得日期', note: '备注', reason: '撤销原因',
};

export function Registers({ me }) {
  const [tab, setTab] = useState('institutions');
  return html`<${PageTitle} sub="登记技术转移示范机构的认定情况和技术经纪人的培训、持证情况；后补助按示范机构级别和持证技术经纪人计算奖励。登记有误或被撤销的，撤销登记并写明原因，原登记留档可查。">示范机构与经纪人登记</${PageTitle}>
    <${Tabs} value=${tab} onChange=${setTab} tabs=${[['institutions', '技术转移示范机构'], ['brokers', '技术经纪人']]} />
    ${tab === 'institutions' ? html`<${Institutions} me=${me} />` : html`<${Brokers} me=${me} />`}`;
}

// --- a reason, then withdraw ---------------------------------------------------------------
function Withdraw({ what, send, id, done }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [err, setErr] = useState(null);
  if (!open) return html`<button type="button" class="btn btn-small" onClick=${() => setOpen(true)}>撤销登记</button>`;
  const fe = fieldErrors(err);
  return html`<div class="form" data-withdraw=${id}>
    <${Field} label=${'撤销原因（' + what + '）'} name="reason" errors=${fe} required>
      <input type="text" name="reason" value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} placeholder="如：认定文件已撤销、录入错误" /></${Field}>
    <${ActionButton} class="btn btn-small btn-primary" onClick=${async () => {
      setErr(null);
      try { await send(reason); setOpen(false); done(); } catch (e) { setErr(e); }
    }}>确认撤销</${ActionButton}> <button type="button" class="btn btn-small" onClick=${() => setOpen(false)}>取消</button>
    ${err && !Object.keys(fe).length ? html`<${ErrorBox} error=${err} />` : ''}
  </div>`;
}

function State({ x }) {
  return x.withdrawn
    ? html`<span class="badge badge-red">已撤销</span><div class="small muted">${x.withdrawn_reason}（${date(x.withdrawn_at)}）</div>`
    : html`<span class="badge badge-green">有效</span>`;
}

// --- institutions ----------------------------------------------------------------------------
function Institutions({ me }) {
  const list = usePaged((cursor) => api.get('/institution-recognitions', { query: { limit: 50, ...(cursor ? { cursor } : {}) } }), []);
  const [adding, setAdding] = useState(false);
  return html`<${Card} title="技术转移示范机构登记" actions=${html`<button class="btn btn-small" onClick=${() => setAdding(!adding)}>${adding ? '收起' : '＋ 登记认定'}</button>`}>
    ${adding ? html`<${RecognitionForm} done=${() => { setAdding(false); list.reload(); }} />` : ''}
    ${list.error ? html`<${ErrorBox} error=${list.error} />` : !list.loading && !list.items.length ? html`<${Empty}>本辖区尚无登记的技术转移示范机构。</${Empty}>` : html`
    <div class="table-wrap" tabindex="0"><table class="list stack" data-register="institutions"><thead><tr><th>单位</th><th>级别</th><th>认定部门</th><th>认定日期</th><th>文号与证明材料</th><th>状态</th><th><span class="sr-only">操作</span></th></tr></thead><tbody>
      ${list.items.map((x) => html`<tr data-id=${x.id}><td data-label="单位">${x.org_name}<div class="small muted">${x.org_region_name || ''}</div></td>
        <td data-label="级别">${x.level_label}</td><td data-label="认定部门">${x.recognised_by}</td><td data-label="认定日期" class="nowrap">${date(x.recognised_on)}</td>
        <td data-label="文号与材料" class="small">${x.document_no || '—'}<div class="muted">${x.evidence}</div></td>
        <td data-label="状态"><${State} x=${x} /></td>
        <td data-label="操作">${x.withdrawn ? '' : html`<${Withdraw} what=${x.org_name} id=${x.id} done=${list.reload}
          send=${(reason) => api.post('/institution-recognitions/{id}/withdraw', { path: { id: x.id }, body: { reason } })} />`}</td></tr>`)}
    </tbody></table></div>`}
    <${More} paged=${list} />
  </${Card}>`;
}

// An organisation found by name or credit code (GET /orgs?q=).
function OrgFind({ value, onPick, ...rest }) {
  const [q, setQ] = useState('');
  const [hits, setHits] = useState([]);
  useEffect(() => {
    const t = q.trim();
    if (!t) { setHits([]); return undefined; }
    let live = true;
    const timer = setTimeout(() => api.get('/orgs', { query: { q: t, limit: 10 } }).then((r) => { if (live) setHits(r.items); }, () => {}), 250);
    return () => { live = false; clearTimeout(timer); };
  }, [q]);
  if (value) return html`<p style="margin:0" data-picked=${value.id}>已选：<b>${value.name}</b> <button type="button" class="btn btn-small" onClick=${() => onPick(null)}>更换</button></p>`;
  return html`<div class="org-picker"><input type="search" value=${q} onInput=${(e) => setQ(e.currentTarget.value)} placeholder="单位名称或统一社会信用代码" ...${rest} />
    ${hits.length ? html`<ul class="org-hits">${hits.map((o) => html`<li data-org=${o.id}><div><b>${o.name}</b>
      <div class="small muted">${[o.org_type_label, o.region_name].filter(Boolean).join(' · ')}</div></div>
      <button type="button" class="btn btn-small btn-primary" onClick=${() => { onPick(o); setQ(''); }}>选择</button></li>`)}</ul>` : ''}</div>`;
}

function RecognitionForm({ done }) {
  const [org, setOrg] = useState(null);
  const [f, setF] = useState({ level: 'city', recognised_by: '', recognised_on: todayCN(), document_no: '', evidence: '', note: '' });
  const [err, setErr] = useState(null);
  const [noOrg, setNoOrg] = useState(false);
  const fe = fieldErrors(err);
  if (noOrg) fe.org_id = ['请先选择被认定的单位'];
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const inp = (k, extra = {}) => html`<input type="text" name=${k} value=${f[k]} onInput=${(e) => set(k)(e.currentTarget.value)} ...${extra} />`;
  const save = async () => {
    setErr(null);
    setNoOrg(!org);
    if (!org) return;
    const body = { org_id: org.id, level: f.level, recognised_by: f.recognised_by, recognised_on: f.recognised_on,
      document_no: f.document_no || null, evidence: f.evidence, note: f.note || null };
    try { await api.post('/institution-recognitions', { body }); done(); } catch (e) { setErr(e); }
  };
  return html`<div class="form form-section" style="margin-bottom:16px" data-form="recognition">
    <${ErrorSummary} err=${err} labels=${LABELS} />
    <div class="form-grid">
      <${Field} wide label="单位" name="org_id" errors=${fe} required><${OrgFind} value=${org} onPick=${(o) => { setOrg(o); setNoOrg(false); }} name="org_search" /></${Field}>
      <${Field} label="认定级别" name="level" errors=${fe} required><${CodeSelect} list="institution_levels" name="level" value=${f.level} onChange=${set('level')} empty=${false} /></${Field}>
      <${Field} label="认定部门" name="recognised_by" errors=${fe} required>${inp('recognised_by', { placeholder: '如：科学技术部、河南省科学技术厅' })}</${Field}>
      <${Field} label="认定日期" name="recognised_on" errors=${fe} required><input type="date" name="recognised_on" value=${f.recognised_on} onInput=${(e) => set('recognised_on')(e.currentTarget.value)} /></${Field}>
      <${Field} label="认定文号" name="document_no" errors=${fe}>${inp('document_no', { placeholder: '如：国科发火〔2023〕1号' })}</${Field}>
      <${Field} wide label="证明材料" name="evidence" errors=${fe} required help="认定文件名称、条目或网址，便于核查。">${inp('evidence')}</${Field}>
      <${Field} wide label="备注" name="note" errors=${fe}>${inp('note')}</${Field}>
    </div>
    <${ActionButton} class="btn btn-primary" onClick=${save}>保存登记</${ActionButton}></div>`;
}

// --- brokers -------------------------------------------------------------------------------
function Brokers({ me }) {
  const [q, setQ] = useState('');
  const [term, setTerm] = useState('');
  useEffect(() => { const t = setTimeout(() => setTerm(q.trim()), 250); return () => clearTimeout(t); }, [q]);
  const list = usePaged((cursor) => api.get('/broker-register', { query: { limit: 50, ...(term ? { q: term } : {}), ...(cursor ? { cursor } : {}) } }), [term]);
  const [open, setOpen] = useState(null);
  return html`<${Card} title="技术经纪人名册">
    <${Field} label="查找技术经纪人" name="broker_q"><input type="search" name="broker_q" value=${q} onInput=${(e) => setQ(e.currentTarget.value)} placeholder="姓名或所在单位" /></${Field}>
    ${list.error ? html`<${ErrorBox} error=${list.error} />` : !list.loading && !list.items.length ? html`<${Empty}>没有找到技术经纪人。</${Empty}>` : html`
    <div class="table-wrap" tabindex="0"><table class="list stack" data-register="brokers"><thead><tr><th>技术经纪人</th><th>所在单位</th><th>培训</th><th>持证情况</th><th><span class="sr-only">操作</span></th></tr></thead><tbody>
      ${list.items.map((b) => html`<tr data-user=${b.user_id}><td data-label="经纪人">${b.name}</td><td data-label="所在单位">${b.employer_name || '—'}</td>
        <td data-label="培训">${b.trainings ? `${b.trainings} 次，共 ${b.training_hours} 学时` : '未登记'}</td>
        <td data-label="持证">${b.certified && b.certification ? html`<span class="badge badge-green">已持证</span><div class="small muted">${b.certification.certificate_no}（${b.certification.issuer}，${date(b.certification.obtained_on)}）</div>` : html`<span class="badge">未持证</span>`}</td>
        <td data-label="操作"><button type="button" class="btn btn-small" onClick=${() => setOpen(open === b.user_id ? null : b.user_id)}>${open === b.user_id ? '收起' : '登记与记录'}</button></td></tr>
        ${open === b.user_id ? html`<tr class="detail"><td colspan="5"><${BrokerDetail} broker=${b} changed=${list.reload} /></td></tr>` : ''}`)}
    </tbody></table></div>`}
    <${More} paged=${list} />
  </${Card}>`;
}

function BrokerDetail({ broker, changed }) {
  const list = usePaged((cursor) => api.get('/broker-qualifications', { query: { user_id: broker.user_id, limit: 50, ...(cursor ? { cursor } : {}) } }), [broker.user_id]);
  const reload = () => { list.reload(); changed(); };
  return html`<div data-broker=${broker.user_id}>
    <h3 style="margin:4px 0">${broker.name} 的登记记录</h3>
    ${list.loading ? html`<${Loading} />` : list.error ? html`<${ErrorBox} error=${list.error} />` : !list.items.length ? html`<p class="small muted">尚无培训或持证记录。</p>` : html`
    <ul class="plain" data-entries>${list.items.map((x) => html`<li data-id=${x.id} style="margin-bottom:8px">
      <b>${x.kind === 'training' ? '培训' : '持证'}</b> ${x.kind === 'training' ? `${x.course}，${x.hours} 学时` : `证书编号 ${x.certificate_no}`}；${x.issuer}；${date(x.obtained_on)}
      <div class="small muted">证明材料：${x.evidence}</div> <${State} x=${x} />
      ${x.withdrawn ? '' : html` <${Withdraw} what=${broker.name} id=${x.id} done=${reload}
        send=${(reason) => api.post('/broker-qualifications/{id}/withdraw', { path: { id: x.id }, body: { reason } })} />`}</li>`)}</ul>`}
    <${QualificationForm} broker=${broker} done=${reload} />
  </div>`;
}

function QualificationForm({ broker, done }) {
  const [f, setF] = useState({ kind: 'certification', course: '', hours: '', certificate_no: '', issuer: '', obtained_on: todayCN(), evidence: '' });
  const [err, setErr] = useState(null);
  const fe = fieldErrors(err);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const inp = (k, extra = {}) => html`<input type="text" name=${k} value=${f[k]} onInput=${(e) => set(k)(e.currentTarget.value)} ...${extra} />`;
  const save = async () => {
    setErr(null);
    /** @type {import('../api-types').Schema<'BrokerQualificationCreate'>} */
    const body = { user_id: broker.user_id, kind: /** @type {any} */ (f.kind), issuer: f.issuer, obtained_on: f.obtained_on, evidence: f.evidence };
    if (f.kind === 'training') {
      body.course = f.course;
      const h = Number(f.hours);
      body.hours = f.hours === '' || Number.isNaN(h) ? null : h;
      if (f.certificate_no) body.certificate_no = f.certificate_no;
    } else {
      body.certificate_no = f.certificate_no;
    }
    try { await api.post('/broker-qualifications', { body }); setF({ ...f, course: '', hours: '', certificate_no: '', evidence: '' }); done(); } catch (e) { setErr(e); }
  };
  return html`<div class="form form-section" data-form="qualification">
    <h4 style="margin:8px 0">新增登记</h4>
    <${ErrorSummary} err=${err} labels=${LABELS} />
    <div class="form-grid">
      <${Field} label="登记类别" name="kind" errors=${fe} required><select name="kind" value=${f.kind} onChange=${(e) => set('kind')(e.currentTarget.value)}>
        <option value="certification" selected=${f.kind === 'certification'}>持证（技术经纪人证书）</option><option value="training" selected=${f.kind === 'training'}>培训</option></select></${Field}>
      ${f.kind === 'training' ? html`
        <${Field} label="培训课程" name="course" errors=${fe} required>${inp('course', { placeholder: '如：技术经纪人（初级）培训' })}</${Field}>
        <${Field} label="培训学时" name="hours" errors=${fe} required><input type="text" inputmode="decimal" name="hours" value=${f.hours} onInput=${(e) => set('hours')(e.currentTarget.value)} /></${Field}>` : html`
        <${Field} label="证书编号" name="certificate_no" errors=${fe} required>${inp('certificate_no')}</${Field}>`}
      <${Field} label=${f.kind === 'training' ? '培训单位' : '发证单位'} name="issuer" errors=${fe} required>${inp('issuer', { placeholder: '如：中国科学技术交流中心' })}</${Field}>
      <${Field} label=${f.kind === 'training' ? '结业日期' : '发证日期'} name="obtained_on" errors=${fe} required><input type="date" name="obtained_on" value=${f.obtained_on} onInput=${(e) => set('obtained_on')(e.currentTarget.value)} /></${Field}>
      <${Field} wide label="证明材料" name="evidence" errors=${fe} required help="证书或结业证明的名称、编号或网址，便于核查。">${inp('evidence')}</${Field}>
    </div>
    <${ActionButton} class="btn btn-primary" onClick=${save}>保存登记</${ActionButton}></div>`;
}
