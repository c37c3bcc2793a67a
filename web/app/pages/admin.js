// Administration (管理员): users (find, create staff accounts, change role,
// office or region, disable), organisations (verify pending ones, edit),
// registry offices (create, edit, which regions each one serves, the seal
// image printed on their PDF documents) and the
// audit trail with its chain check.  Loaded only when an admin opens one of
// these screens.
import { useState, useEffect, useRef } from 'preact/hooks';
import { api, request, listAll, regionChildren } from '../api.js';
import {
  html, date, dateTime, Loading, ErrorBox, ErrorSummary, Empty, Card, PageTitle, Field, TextInput, TextArea, Select, RegionPicker,
  RegionName, useLoad, usePaged, More, navigate, ActionButton, fieldErrors, Notice, Tabs, Facts, ROLE_TEXT, STATUS, Status,
  OrgTypeSelect,
} from '../ui.js';

/** @typedef {import('../api-types').Schema<'User'>} User */
/** @typedef {import('../api-types').Schema<'Org'>} Org */
/** @typedef {import('../api-types').Schema<'RegistryOffice'>} RegistryOffice */
/** @typedef {import('../api-types').Schema<'Role'>} Role */

const ROLES = /** @type {Role[]} */ (['member', 'broker', 'reviewer', 'officer', 'bureau', 'admin']);
const ROLE_ITEMS = ROLES.map((r) => ({ code: r, label: ROLE_TEXT[r] }));
const ROLE_HELP = {
  member: '单位用户：发布成果和需求、签订技术合同，须选择所属单位。',
  broker: '技术经纪人：为单位提供对接服务，须选择所属单位。',
  reviewer: '平台审核员：审核成果、需求和单位认证。',
  officer: '登记员：审查所属登记机构受理的合同，须选择登记机构。',
  bureau: '科技局：查看本地区（含下级）的统计，须选择地区。',
  admin: '管理员：管理账号、单位和登记机构。',
};
const USER_LABELS = { email: '电子邮箱', display_name: '姓名', phone: '电话', password: '初始密码', role: '角色', org_id: '所属单位', office_id: '登记机构', region_code: '管辖地区', active: '账号状态' };

// --- shared: names of offices and organisations ------------------------------------------
function useOffices() {
  const r = useLoad(() => api.get('/offices').then((x) => x.items), []);
  return r.data || [];
}
/** @type {Map<number, Promise<Org>>} */
const orgCache = new Map();
function orgById(id) {
  if (!orgCache.has(id)) orgCache.set(id, api.get('/orgs/{id}', { path: { id } }).catch(() => null));
  return orgCache.get(id);
}
function OrgName({ id }) {
  const [n, setN] = useState('');
  useEffect(() => { let live = true; if (id) orgById(id).then((o) => { if (live && o) setN(o.name); }); return () => { live = false; }; }, [id]);
  return id ? html`<span>${n || '单位 ' + id}</span>` : '—';
}
// What a user belongs to: the organisation, the office or the region.
function Scope({ u, offices }) {
  if (u.role === 'member' || u.role === 'broker') return html`<${OrgName} id=${u.org_id} />`;
  if (u.role === 'officer') { const o = offices.find((x) => x.id === u.office_id); return o ? o.name : '—'; }
  if (u.role === 'bureau') return html`<${RegionName} code=${u.region_code} />`;
  return html`<span class="muted">全平台</span>`;
}

// An organisation, found by name or credit code among all of them (admin).
function OrgPicker({ value, onChange, ...rest }) {
  const [q, setQ] = useState('');
  const [hits, setHits] = useState([]);
  useEffect(() => {
    const t = q.trim();
    if (!t) { setHits([]); return undefined; }
    let live = true;
    const timer = setTimeout(() => api.get('/orgs', { query: { q: t, limit: 10 } }).then((r) => { if (live) setHits(r.items); }, () => {}), 250);
    return () => { live = false; clearTimeout(timer); };
  }, [q]);
  return html`<div class="org-picker">
    ${value ? html`<p style="margin:0 0 6px">已选：<b><${OrgName} id=${value} /></b> <button type="button" class="btn btn-small" onClick=${() => onChange(null)}>更换</button></p>` : html`
      <input type="search" value=${q} onInput=${(e) => setQ(e.currentTarget.value)} placeholder="单位名称或统一社会信用代码" ...${rest} />
      ${hits.length ? html`<ul class="org-hits">${hits.map((o) => html`<li data-org=${o.id}><div><b>${o.name}</b>
        <div class="small muted">${[o.org_type_label, o.region_name, o.credit_code, STATUS.org[o.status]].filter(Boolean).join(' · ')}</div></div>
        <button type="button" class="btn btn-small btn-primary" onClick=${() => { onChange(o.id); setQ(''); }}>选择</button></li>`)}</ul>` : ''}`}
  </div>`;
}

// The fields a role needs, checked here so that the message sits beside the field.
function roleProblems(f) {
  const e = {};
  if ((f.role === 'member' || f.role === 'broker') && !f.org_id) e.org_id = ['此角色须选择所属单位'];
  if (f.role === 'officer' && !f.office_id) e.office_id = ['登记员须选择登记机构'];
  if (f.role === 'bureau' && !f.region_code) e.region_code = ['科技局用户须选择管辖地区'];
  return e;
}

// --- users ------------------------------------------------------------------------------
export function Users() {
  const [q, setQ] = useState('');
  const [text, setText] = useState('');
  const [role, setRole] = useState('');
  const [active, setActive] = useState('');
  const offices = useOffices();
  const paged = usePaged((cursor) => api.get('/users', { query: { q: q || undefined, role: role || undefined,
    active: active === 'true' || active === 'false' ? active : undefined, limit: 20, cursor } }), [q, role, active]);
  const [creating, setCreating] = useState(false);
  return html`<${PageTitle} sub="查找账号，新建工作人员账号，调整角色、登记机构或管辖地区，停用离职人员的账号。"
      actions=${html`<button class="btn btn-primary" onClick=${() => setCreating(!creating)}>${creating ? '收起' : '＋ 新建账号'}</button>`}>用户管理</${PageTitle}>
    ${creating ? html`<${UserCreate} offices=${offices} done=${(u) => { setCreating(false); navigate('/admin/users/' + u.id + '?created=1'); }} />` : ''}
    <div class="card">
      <form class="toolbar filters-row" role="search" onSubmit=${(e) => { e.preventDefault(); setQ(text.trim()); }}>
        <label class="inline">查找 <input type="search" name="q" value=${text} onInput=${(e) => setText(e.currentTarget.value)} placeholder="邮箱或姓名" /></label>
        <label class="inline">角色 <select value=${role} onChange=${(e) => setRole(e.currentTarget.value)}>
          <option value="">全部角色</option>${ROLE_ITEMS.map((r) => html`<option value=${r.code}>${r.label}</option>`)}</select></label>
        <label class="inline">状态 <select value=${active} onChange=${(e) => setActive(e.currentTarget.value)}>
          <option value="">全部</option><option value="true">启用</option><option value="false">已停用</option></select></label>
        <button class="btn" type="submit">查找</button>
      </form>
      <${ErrorBox} error=${paged.error} onRetry=${paged.reload} />
      ${!paged.loading && !paged.error && !paged.items.length ? html`<${Empty}>没有符合条件的账号</${Empty}>` : ''}
      ${paged.items.length ? html`<div class="table-wrap" tabindex="0"><table class="list stack" data-testid="users"><thead><tr><th>姓名</th><th>电子邮箱</th><th>角色</th><th>所属</th><th>状态</th><th>最近登录</th><th><span class="sr-only">操作</span></th></tr></thead><tbody>
        ${paged.items.map((u) => html`<tr data-id=${u.id}>
          <td data-label="姓名">${u.display_name}</td><td data-label="邮箱">${u.email}</td>
          <td data-label="角色">${ROLE_TEXT[u.role]}</td><td data-label="所属"><${Scope} u=${u} offices=${offices} /></td>
          <td data-label="状态">${u.active ? html`<span class="badge badge-green">启用</span>` : html`<span class="badge badge-grey">已停用</span>`}</td>
          <td data-label="最近登录" class="nowrap">${u.last_login_at ? dateTime(u.last_login_at) : '从未'}</td>
          <td data-label="操作" class="nowrap"><a class="btn btn-small" href=${'#/admin/users/' + u.id}>编辑</a></td></tr>`)}
      </tbody></table></div>` : ''}
      <${More} paged=${paged} />
    </div>`;
}

function randomPassword() {
  const a = new Uint8Array(12);
  crypto.getRandomValues(a);
  return 'Yz-' + Array.from(a, (b) => 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'[b % 56]).join('');
}

function UserCreate({ offices, done }) {
  const [f, setF] = useState({ email: '', display_name: '', phone: '', password: randomPassword(), role: /** @type {Role} */ ('reviewer'), org_id: null, office_id: null, region_code: null });
  const [err, setErr] = useState(null);
  const [local, setLocal] = useState({});
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const fe = { ...fieldErrors(err), ...local };
  const save = async () => {
    setErr(null);
    const lp = roleProblems(f);
    setLocal(lp);
    if (Object.keys(lp).length) return;
    /** @type {import('../api-types').Body<'/users', 'post'>} */
    const body = { email: f.email.trim(), password: f.password, role: f.role, phone: f.phone.trim() || null,
      ...(f.display_name.trim() ? { display_name: f.display_name.trim() } : {}),
      org_id: f.role === 'member' || f.role === 'broker' ? f.org_id : null,
      office_id: f.role === 'officer' ? Number(f.office_id) : null,
      region_code: f.role === 'bureau' ? f.region_code : null };
    try { done(await api.post('/users', { body })); } catch (e) { setErr(e); }
  };
  return html`<${Card} title="新建账号" class="form">
    <${ErrorSummary} err=${err} labels=${USER_LABELS} />
    <div class="form-grid">
      <${Field} label="电子邮箱" name="email" errors=${fe} required help="用于登录，不能与已有账号重复。"><${TextInput} name="email" value=${f.email} onInput=${set('email')} type="email" /></${Field}>
      <${Field} label="姓名" name="display_name" errors=${fe} help="留空时显示邮箱。"><${TextInput} name="display_name" value=${f.display_name} onInput=${set('display_name')} maxlength="100" /></${Field}>
      <${Field} label="角色" name="role" errors=${fe} required help=${ROLE_HELP[f.role]}><${Select} name="role" items=${ROLE_ITEMS} value=${f.role} onChange=${set('role')} empty=${false} /></${Field}>
      <${Field} label="电话" name="phone" errors=${fe}><${TextInput} name="phone" value=${f.phone} onInput=${set('phone')} /></${Field}>
      ${f.role === 'member' || f.role === 'broker' ? html`<${Field} wide label="所属单位" name="org_id" errors=${fe} required><${OrgPicker} value=${f.org_id} onChange=${set('org_id')} /></${Field}>` : ''}
      ${f.role === 'officer' ? html`<${Field} label="登记机构" name="office_id" errors=${fe} required>
        <${Select} name="office_id" items=${offices.filter((o) => o.active).map((o) => ({ code: String(o.id), label: o.name }))} value=${f.office_id ? String(f.office_id) : ''} onChange=${set('office_id')} /></${Field}>` : ''}
      ${f.role === 'bureau' ? html`<${Field} wide label="管辖地区" name="region_code" errors=${fe} required help="科技局查看此地区及其下级地区的统计。"><${RegionPicker} name="region_code" value=${f.region_code} onChange=${set('region_code')} levels=${2} /></${Field}>` : ''}
      <${Field} label="初始密码" name="password" errors=${fe} required help="10 至 128 个字符；请通过安全的渠道告知本人，并提醒其登录后修改。">
        <${TextInput} name="password" value=${f.password} onInput=${set('password')} autocomplete="new-password" /></${Field}>
    </div>
    <${ActionButton} class="btn btn-primary" onClick=${save}>创建账号</${ActionButton}>
  </${Card}>`;
}

export function UserEdit({ params, query, me }) {
  const r = useLoad(() => api.get('/users/{id}', { path: { id: params.id } }), [params.id]);
  const offices = useOffices();
  const [f, setF] = useState(null);
  const [err, setErr] = useState(null);
  const [local, setLocal] = useState({});
  const [saved, setSaved] = useState(!!query.created);
  useEffect(() => { if (r.data) setF({ ...r.data, phone: r.data.phone || '' }); }, [r.data]);
  if (r.loading || (!f && !r.error)) return html`<${Loading} />`;
  if (r.error) return html`<${PageTitle}>编辑用户</${PageTitle}><${ErrorBox} error=${r.error} />`;
  const u = r.data;
  const self = String(u.id) === String(me.id);
  const set = (k) => (v) => { setF({ ...f, [k]: v }); setSaved(false); };
  const fe = { ...fieldErrors(err), ...local };
  const save = async (patch) => {
    setErr(null); setSaved(false);
    const next = { ...f, ...(patch || {}) };
    const lp = roleProblems(next);
    setLocal(lp);
    if (Object.keys(lp).length) return;
    /** @type {import('../api-types').Body<'/users/{id}', 'patch'>} */
    const body = patch || { display_name: f.display_name, phone: f.phone.trim() || null,
      ...(self ? {} : { role: f.role }),
      org_id: f.role === 'member' || f.role === 'broker' ? f.org_id : null,
      office_id: f.role === 'officer' ? Number(f.office_id) : null,
      region_code: f.role === 'bureau' ? f.region_code : null };
    try {
      const x = await api.patch('/users/{id}', { path: { id: u.id }, body, headers: { 'If-Match': '"' + u.version + '"' } });
      r.set(x); setSaved(true);
    } catch (e) { setErr(e); }
  };
  return html`<${PageTitle} sub=${u.email} actions=${html`<a class="btn" href="#/admin/users">返回用户列表</a>
      <a class="btn" href=${'#/admin/audit?entity=user&id=' + u.id}>操作记录</a>`}>${u.display_name}</${PageTitle}>
    ${saved ? html`<${Notice} tone="success">${query.created ? '账号已创建。' : '已保存。'}</${Notice}>` : ''}
    <div class="layout-main-side">
      <${Card} title="账号信息" class="form">
        <${ErrorSummary} err=${err} labels=${USER_LABELS} />
        <div class="form-grid">
          <${Field} label="姓名" name="display_name" errors=${fe} required><${TextInput} name="display_name" value=${f.display_name} onInput=${set('display_name')} maxlength="100" /></${Field}>
          <${Field} label="电话" name="phone" errors=${fe}><${TextInput} name="phone" value=${f.phone} onInput=${set('phone')} /></${Field}>
          <${Field} label="角色" name="role" errors=${fe} required help=${self ? '不能修改自己的角色。' : ROLE_HELP[f.role]}>
            <${Select} name="role" items=${ROLE_ITEMS} value=${f.role} onChange=${set('role')} empty=${false} disabled=${self} /></${Field}>
          ${f.role === 'member' || f.role === 'broker' ? html`<${Field} wide label="所属单位" name="org_id" errors=${fe} required><${OrgPicker} value=${f.org_id} onChange=${set('org_id')} /></${Field}>` : ''}
          ${f.role === 'officer' ? html`<${Field} label="登记机构" name="office_id" errors=${fe} required>
            <${Select} name="office_id" items=${offices.map((o) => ({ code: String(o.id), label: o.name + (o.active ? '' : '（已停用）') }))} value=${f.office_id ? String(f.office_id) : ''} onChange=${set('office_id')} /></${Field}>` : ''}
          ${f.role === 'bureau' ? html`<${Field} wide label="管辖地区" name="region_code" errors=${fe} required><${RegionPicker} name="region_code" value=${f.region_code} onChange=${set('region_code')} levels=${2} /></${Field}>` : ''}
        </div>
        <${ActionButton} class="btn btn-primary" onClick=${() => save(null)}>保存</${ActionButton}>
      </${Card}>
      <aside>
        <${Card} title="状态">
          <${Facts} rows=${[['账号状态', u.active ? '启用' : '已停用'], ['创建时间', dateTime(u.created_at)], ['最近登录', u.last_login_at ? dateTime(u.last_login_at) : '从未登录']]} />
          ${self ? html`<p class="small muted">不能停用自己的账号。</p>` : u.active
            ? html`<${ActionButton} class="btn btn-danger" confirm="停用后此账号不能登录，已登录的会话立即失效。确定停用？" onClick=${() => save({ active: false })}>停用账号</${ActionButton}>`
            : html`<${ActionButton} class="btn btn-success" onClick=${() => save({ active: true })}>重新启用</${ActionButton}>`}
        </${Card}>
      </aside>
    </div>`;
}

// --- organisations ------------------------------------------------------------------------
const ORG_LABELS = {
  name: '单位名称', name_en: '英文名称', org_type: '单位类型', credit_code: '统一社会信用代码', region_code: '所在地区', state_funded: '国有高校院所',
  description: '单位简介', address: '地址', website: '网址', contact_name: '联系人', contact_phone: '联系电话', contact_email: '联系邮箱',
  webhook_url: '消息推送地址', note: '审核意见', decision: '认证结论',
};
export function Orgs({ me }) {
  /** @type {[import('../api-types').Schema<'OrgStatus'> | '', any]} */
  const [status, setStatus] = useState('pending');
  const [q, setQ] = useState('');
  const [text, setText] = useState('');
  const paged = usePaged((cursor) => api.get('/orgs', { query: { status: status || undefined, q: q || undefined, limit: 20, cursor } }), [status, q]);
  return html`<${PageTitle} sub="认证新注册的单位：核对名称、单位类型和统一社会信用代码与营业执照或法人证书一致。">${me.role === 'admin' ? '单位管理' : '单位认证'}</${PageTitle}>
    <div class="card">
      <${Tabs} value=${status} onChange=${setStatus} tabs=${[['pending', '待认证'], ['verified', '已认证'], ['rejected', '未通过'], ['', '全部']]} />
      <form class="toolbar filters-row" role="search" onSubmit=${(e) => { e.preventDefault(); setQ(text.trim()); }}>
        <label class="inline">查找 <input type="search" name="q" value=${text} onInput=${(e) => setText(e.currentTarget.value)} placeholder="单位名称或统一社会信用代码" /></label>
        <button class="btn" type="submit">查找</button>
      </form>
      <${ErrorBox} error=${paged.error} onRetry=${paged.reload} />
      ${!paged.loading && !paged.error && !paged.items.length ? html`<${Empty}>没有${status ? STATUS.org[status] + '的' : ''}单位</${Empty}>` : ''}
      ${paged.items.map((o) => html`<${OrgRow} o=${o} admin=${me.role === 'admin'} />`)}
      <${More} paged=${paged} />
    </div>`;
}

/** @param {{o: Org, admin: boolean}} props */
export function OrgRow({ o, admin }) {
  const [note, setNote] = useState('');
  const [err, setErr] = useState(null);
  const [done, setDone] = useState(null);
  const decide = async (decision) => {
    setErr(null);
    try { await api.post('/orgs/{id}/verify', { path: { id: o.id }, body: { decision, note: note.trim() || null } }); setDone(decision); } catch (e) { setErr(e); }
  };
  return html`<div class="hit org-row" data-id=${o.id} data-status=${done || o.status}>
    <h3>${o.name} <${Status} kind="org" value=${done || o.status} /></h3>
    <div class="meta"><span>${o.org_type_label || o.org_type}</span><span>${o.region_name || o.region_code}</span>
      <span>统一社会信用代码 ${o.credit_code || '无'}</span>${o.state_funded ? html`<span>国有高校院所</span>` : ''}<span>注册于 ${date(o.created_at)}</span></div>
    ${o.verification_note ? html`<p class="small muted">审核意见：${o.verification_note}</p>` : ''}
    ${done ? html`<${Notice} tone=${done === 'verified' ? 'success' : 'warn'}>${done === 'verified' ? '已认证通过。' : '已退回。'}</${Notice}>` : html`
      <div class="form org-decision">
        <${Field} label="审核意见" name="note" errors=${fieldErrors(err)} help="退回时必填，注册人将看到此意见。"><${TextInput} value=${note} onInput=${setNote} /></${Field}>
        <${ErrorBox} error=${err && !err.errors.length ? err : null} />
        <div class="page-actions">
          ${o.status !== 'verified' ? html`<${ActionButton} class="btn btn-success" onClick=${() => decide('verified')}>认证通过</${ActionButton}>` : ''}
          ${o.status !== 'rejected' ? html`<${ActionButton} class="btn btn-danger" onClick=${() => decide('rejected')}>${o.status === 'verified' ? '撤销认证' : '退回'}</${ActionButton}>` : ''}
          ${admin ? html`<a class="btn" href=${'#/admin/orgs/' + o.id}>编辑</a>
            <a class="btn" href=${'#/admin/audit?entity=org&id=' + o.id}>操作记录</a>` : ''}
        </div></div>`}
  </div>`;
}

export function OrgEdit({ params }) {
  const r = useLoad(() => api.get('/orgs/{id}', { path: { id: params.id } }), [params.id]);
  const [f, setF] = useState(null);
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => { if (r.data) setF({ ...r.data }); }, [r.data]);
  if (r.loading || (!f && !r.error)) return html`<${Loading} />`;
  if (r.error) return html`<${PageTitle}>编辑单位</${PageTitle}><${ErrorBox} error=${r.error} />`;
  const o = r.data;
  const fe = fieldErrors(err);
  const set = (k) => (v) => { setF({ ...f, [k]: v }); setSaved(false); };
  const t = (v) => (v && String(v).trim()) || null;
  const save = async () => {
    setErr(null);
    /** @type {import('../api-types').Body<'/orgs/{id}', 'patch'>} */
    const body = { name: f.name.trim(), name_en: t(f.name_en), org_type: f.org_type, credit_code: t(f.credit_code) ? f.credit_code.trim().toUpperCase() : null,
      region_code: f.region_code, state_funded: !!f.state_funded, description: t(f.description), address: t(f.address), website: t(f.website),
      contact_name: t(f.contact_name), contact_phone: t(f.contact_phone), contact_email: t(f.contact_email) };
    try {
      const x = await api.patch('/orgs/{id}', { path: { id: o.id }, body, headers: { 'If-Match': '"' + o.version + '"' } });
      r.set(x); setSaved(true);
    } catch (e) { setErr(e); }
  };
  return html`<${PageTitle} sub=${html`<${Status} kind="org" value=${o.status} />`} actions=${html`<a class="btn" href="#/admin/orgs">返回单位列表</a>
      <a class="btn" href=${'#/admin/audit?entity=org&id=' + o.id}>操作记录</a>`}>${o.name}</${PageTitle}>
    ${saved ? html`<${Notice} tone="success">已保存。${o.status === 'pending' ? '修改了名称、类型或统一社会信用代码的单位需重新认证。' : ''}</${Notice}>` : ''}
    <${Card} title="单位信息" class="form">
      <${ErrorSummary} err=${err} labels=${ORG_LABELS} />
      <p class="small muted">修改名称、单位类型或统一社会信用代码后，单位须重新认证。</p>
      <div class="form-grid">
        <${Field} wide label="单位名称" name="name" errors=${fe} required><${TextInput} name="name" value=${f.name} onInput=${set('name')} maxlength="200" /></${Field}>
        <${Field} label="单位类型" name="org_type" errors=${fe} required><${OrgTypeSelect} name="org_type" value=${f.org_type} onChange=${set('org_type')} /></${Field}>
        <${Field} label="统一社会信用代码" name="credit_code" errors=${fe} help="18 位，最后一位是校验位；自然人可不填。"><${TextInput} name="credit_code" value=${f.credit_code || ''} onInput=${set('credit_code')} maxlength="18" /></${Field}>
        <${Field} wide label="所在地区" name="region_code" errors=${fe} required><${RegionPicker} name="region_code" value=${f.region_code} onChange=${set('region_code')} /></${Field}>
        <${Field} label="国有高校院所" name="state_funded" errors=${fe} group help="以协议定价转让成果前须公示。">
          <label class="check"><input type="checkbox" checked=${!!f.state_funded} onChange=${(e) => set('state_funded')(e.currentTarget.checked)} /> 是</label></${Field}>
        <${Field} label="英文名称" name="name_en" errors=${fe}><${TextInput} name="name_en" value=${f.name_en || ''} onInput=${set('name_en')} /></${Field}>
        <${Field} label="联系人" name="contact_name" errors=${fe}><${TextInput} name="contact_name" value=${f.contact_name || ''} onInput=${set('contact_name')} /></${Field}>
        <${Field} label="联系电话" name="contact_phone" errors=${fe}><${TextInput} name="contact_phone" value=${f.contact_phone || ''} onInput=${set('contact_phone')} /></${Field}>
        <${Field} label="联系邮箱" name="contact_email" errors=${fe}><${TextInput} name="contact_email" value=${f.contact_email || ''} onInput=${set('contact_email')} /></${Field}>
        <${Field} label="网址" name="website" errors=${fe} help="以 https:// 或 http:// 开头。"><${TextInput} name="website" value=${f.website || ''} onInput=${set('website')} /></${Field}>
        <${Field} wide label="地址" name="address" errors=${fe}><${TextInput} name="address" value=${f.address || ''} onInput=${set('address')} /></${Field}>
        <${Field} wide label="单位简介" name="description" errors=${fe}><${TextArea} name="description" rows=${3} value=${f.description || ''} onInput=${set('description')} /></${Field}>
      </div>
      <${ActionButton} class="btn btn-primary" onClick=${save}>保存</${ActionButton}>
    </${Card}>`;
}

// --- registry offices -----------------------------------------------------------------------
const OFFICE_LABELS = { name: '机构名称', region_code: '服务地区', active: '状态' };
export function Offices() {
  const r = useLoad(() => api.get('/offices').then((x) => x.items), []);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState(null);
  const [sealOf, setSealOf] = useState(null);
  const offices = r.data || [];
  return html`<${PageTitle} sub="每个登记机构受理其所在地区（含下级地区）卖方的技术合同登记申请；一个地区只能有一个在用的登记机构。"
      actions=${html`<button class="btn btn-primary" onClick=${() => { setCreating(!creating); setEditing(null); }}>${creating ? '收起' : '＋ 新建登记机构'}</button>`}>登记机构</${PageTitle}>
    ${creating ? html`<${OfficeForm} done=${() => { setCreating(false); r.reload(); }} />` : ''}
    ${editing ? html`<${OfficeForm} office=${editing} done=${() => { setEditing(null); r.reload(); }} />` : ''}
    ${sealOf ? html`<${SealCard} key=${sealOf.id} office=${sealOf} done=${() => setSealOf(null)} />` : ''}
    <${Card} title="登记机构列表">
      ${r.loading ? html`<${Loading} />` : r.error ? html`<${ErrorBox} error=${r.error} />` : !offices.length ? html`<${Empty}>尚无登记机构</${Empty}>` : html`
        <div class="table-wrap" tabindex="0"><table class="list stack" data-testid="offices"><thead><tr><th>名称</th><th>服务地区</th><th>状态</th><th><span class="sr-only">操作</span></th></tr></thead><tbody>
        ${offices.map((o) => html`<tr data-id=${o.id}><td data-label="名称">${o.name}</td><td data-label="地区"><${RegionName} code=${o.region_code} />及下级地区</td>
          <td data-label="状态">${o.active ? html`<span class="badge badge-green">在用</span>` : html`<span class="badge badge-grey">已停用</span>`}</td>
          <td data-label="操作" class="nowrap"><button class="btn btn-small" onClick=${() => { setEditing(o); setCreating(false); setSealOf(null); window.scrollTo(0, 0); }}>编辑</button>
            <button class="btn btn-small" data-seal=${o.id} onClick=${() => { setSealOf(o); setEditing(null); setCreating(false); window.scrollTo(0, 0); }}>印章</button>
            <a class="btn btn-small" href=${'#/admin/audit?entity=office&id=' + o.id}>操作记录</a></td></tr>`)}
        </tbody></table></div>`}
    </${Card}>
    <${Coverage} offices=${offices} />`;
}

/** @param {{office?: RegistryOffice, done: () => void}} props */
function OfficeForm({ office, done }) {
  const [f, setF] = useState({ name: office ? office.name : '', region_code: office ? office.region_code : null, active: office ? office.active : true });
  const [err, setErr] = useState(null);
  const fe = fieldErrors(err);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const save = async () => {
    setErr(null);
    try {
      if (office) await api.patch('/offices/{id}', { path: { id: office.id }, body: { name: f.name.trim(), region_code: f.region_code, active: f.active } });
      else await api.post('/offices', { body: { name: f.name.trim(), region_code: f.region_code } });
      done();
    } catch (e) { setErr(e); }
  };
  return html`<${Card} title=${office ? '编辑登记机构' : '新建登记机构'} class="form">
    <${ErrorSummary} err=${err} labels=${OFFICE_LABELS} />
    <div class="form-grid">
      <${Field} wide label="机构名称" name="name" errors=${fe} required help="如：巴中市技术合同登记处"><${TextInput} name="name" value=${f.name} onInput=${set('name')} maxlength="200" /></${Field}>
      <${Field} wide label="服务地区" name="region_code" errors=${fe} required help="受理此地区及其下级地区卖方的登记申请。"><${RegionPicker} name="region_code" value=${f.region_code} onChange=${set('region_code')} /></${Field}>
      ${office ? html`<${Field} label="状态" name="active" errors=${fe} group><label class="check"><input type="checkbox" checked=${f.active} onChange=${(e) => set('active')(e.currentTarget.checked)} /> 在用</label></${Field}>` : ''}
    </div>
    <div class="page-actions"><${ActionButton} class="btn btn-primary" onClick=${save}>保存</${ActionButton}><button class="btn" onClick=${done}>取消</button></div>
  </${Card}>`;
}

// The seal image (印章) of an office: printed over its name at the foot of the
// PDF certificates and registration forms it issues.  A PNG, 64 to 4,096
// pixels a side (a transparent background prints best).
const SEAL_REFUSED = {
  413: '图片文件过大，请压缩后再上传。',
  415: '印章须为 PNG 格式的图片。',
  422: '图片边长须在 64 至 4096 像素之间。',
};
/** @param {{office: RegistryOffice, done: () => void}} props */
function SealCard({ office, done }) {
  const file = useRef(null);
  const [url, setUrl] = useState(/** @type {string | null} */ (null)); // null: loading, '': none
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState('');
  const [hint, setHint] = useState('');
  const load = async () => {
    try {
      const resp = await request('GET', '/offices/{id}/seal', { path: { id: office.id }, raw: true });
      setUrl(URL.createObjectURL(await resp.blob()));
    } catch (e) {
      if (e.status === 404) setUrl(''); else setErr(e);
    }
  };
  useEffect(() => { load(); }, [office.id]);
  useEffect(() => () => { if (url) URL.revokeObjectURL(url); }, [url]);
  const upload = async () => {
    setErr(null); setSaved(''); setHint('');
    const f = file.current && file.current.files[0];
    if (!f) { setSaved(''); setHint('请先选择印章图片（PNG 格式）。'); return; }
    try {
      await request('PUT', '/offices/{id}/seal', { path: { id: office.id }, bodyRaw: f, headers: { 'Content-Type': 'image/png' } });
      setSaved('印章已上传，此后生成的登记证明和登记表将加盖此印章。');
      file.current.value = '';
      await load();
    } catch (e) { setErr(e); }
  };
  const remove = async () => {
    setErr(null); setSaved('');
    try { await api.del('/offices/{id}/seal', { path: { id: office.id } }); setSaved('印章已删除，文件上的盖章处留空。'); setUrl(''); } catch (e) { setErr(e); }
  };
  return html`<${Card} title=${'印章：' + office.name} class="form">
    <p class="small muted">印章图片印在本机构出具的登记证明和登记表（PDF）落款处。请上传 PNG 格式、边长 64 至 4096 像素的图片，透明背景效果最好。</p>
    ${saved ? html`<${Notice} tone="success">${saved}</${Notice}>` : ''}
    ${hint || SEAL_REFUSED[err && err.status] ? html`<div class="alert alert-error" role="alert" data-testid="seal-error">${hint || SEAL_REFUSED[err.status]}</div>` : html`<${ErrorBox} error=${err} />`}
    <div data-testid="seal-current">${url === null ? html`<${Loading} />` : url ? html`<img class="seal-preview" src=${url} alt=${office.name + '的印章'} width="160" height="160" />` : html`<${Empty}>尚未上传印章</${Empty}>`}</div>
    <div class="field"><label for="seal-file">印章图片（PNG）</label>
      <input type="file" id="seal-file" name="seal-file" ref=${file} accept="image/png" /></div>
    <div class="page-actions"><${ActionButton} class="btn btn-primary" data-action="seal-upload" onClick=${upload}>${url ? '更换印章' : '上传印章'}</${ActionButton}>
      ${url ? html`<${ActionButton} class="btn btn-danger" data-action="seal-delete" confirm="删除此印章？" onClick=${remove}>删除印章</${ActionButton}>` : ''}
      <button class="btn" onClick=${done}>关闭</button></div>
  </${Card}>`;
}

// Coverage: for the cities of a province, the office that receives their
// applications (the nearest office at or above the city) — or none.
function Coverage({ offices }) {
  const [prov, setProv] = useState('510000');
  const provinces = useLoad(() => regionChildren(), []);
  const cities = useLoad(() => regionChildren(prov), [prov]);
  const active = offices.filter((o) => o.active);
  const serving = (code) => active.filter((o) => code === o.region_code || code.startsWith(prefixOf(o.region_code)))
    .sort((a, b) => prefixOf(b.region_code).length - prefixOf(a.region_code).length)[0];
  const list = cities.data || [];
  const gaps = list.filter((c) => !serving(c.code));
  return html`<${Card} title="覆盖范围">
    <p class="small muted">查看一个省份的各市（州）由哪个登记机构受理；没有登记机构的地区，卖方无法申请登记。</p>
    <label class="inline">省份 <select value=${prov} onChange=${(e) => setProv(e.currentTarget.value)}>
      ${(provinces.data || []).map((p) => html`<option value=${p.code} selected=${p.code === prov}>${p.name}</option>`)}</select></label>
    ${cities.loading ? html`<${Loading} />` : html`
      <p data-testid="coverage-summary">${list.length - gaps.length} / ${list.length} 个市（州）有登记机构受理${gaps.length ? '；未覆盖：' + gaps.map((c) => c.name).join('、') : '，已全部覆盖'}。</p>
      <div class="table-wrap" tabindex="0"><table class="list" data-testid="coverage"><thead><tr><th>地区</th><th>受理的登记机构</th></tr></thead><tbody>
      ${list.map((c) => { const o = serving(c.code); return html`<tr data-code=${c.code} data-covered=${o ? 'yes' : 'no'}><td>${c.name}</td>
        <td>${o ? o.name : html`<span class="flag flag-overdue">无登记机构</span>`}</td></tr>`; })}</tbody></table></div>`}
  </${Card}>`;
}
function prefixOf(code) {
  if (!code || code === '000000') return '';
  if (code.endsWith('0000')) return code.slice(0, 2);
  if (code.endsWith('00')) return code.slice(0, 4);
  return code;
}

// --- audit trail ----------------------------------------------------------------------------
const ENTITY = { org: '单位', user: '用户', office: '登记机构', invitation: '邀请码', contract: '技术合同', result: '科技成果', need: '技术需求', inquiry: '洽谈', notice: '公示', policy: '补助政策', subsidy_run: '补助测算', target: '计划目标' };
const ACTION = {
  create: '创建', update: '修改', delete: '删除', verified: '认证通过', rejected: '认证未通过', register: '注册', password_change: '修改密码',
  submit: '提交', approve: '审核通过', reject: '退回', withdraw: '撤回', close: '关闭', attach: '上传附件', detach: '删除附件',
  return: '退回补正', refuse: '不予登记', amend_request: '申请变更', amend_confirmed: '确认变更', amend_rejected: '驳回变更',
  cancel_request: '申请注销', cancel_confirmed: '确认注销', cancel_rejected: '驳回注销', payment: '记录到账',
  seal_upload: '上传印章', seal_delete: '删除印章',
};
const FIELD_ZH = { ...USER_LABELS, ...ORG_LABELS, status: '状态', version: '版本', verified_at: '认证时间', verification_note: '审核意见', last_login_at: '最近登录',
  updated_at: '修改时间', title: '名称', max_uses: '可用次数', expires_at: '有效期至' };
const CHAIN_REASON = {
  'link to the previous entry does not match': '与前一条记录的链接不符：记录顺序被改动。',
  'an entry before this one was deleted': '此前有记录被删除。',
  'entry content does not match its hash': '记录内容与其摘要不符：内容被改动。',
};
const CODE_WORDS = { contract_amount: '技术合同成交额', technical_amount: '技术交易额', contracts: '登记合同数', results_transferred: '转化科技成果数',
  member: '单位用户', broker: '技术经纪人', amend: '变更', cancel: '注销' };
function valueText(k, v) {
  if (v === null || v === undefined) return '（空）';
  if (k === 'status' && typeof v === 'string') return STATUS.org[v] || STATUS.contract[v] || STATUS.result[v] || STATUS.need[v] || '（已变更）';
  if (k === 'role' && typeof v === 'string') return ROLE_TEXT[v] || '（已变更）';
  // a code is shown by its name, never as the code
  if (typeof v === 'string' && /^[a-z][a-z0-9_]*$/.test(v)) return CODE_WORDS[v] || '（已变更）';
  if (typeof v === 'boolean') return v ? '是' : '否';
  if (typeof v === 'object') return '（已变更）';
  return String(v);
}
function changes(before, after) {
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])]
    .filter((k) => !['updated_at', 'version'].includes(k) && JSON.stringify((before || {})[k]) !== JSON.stringify((after || {})[k]));
  return keys.map((k) => ({ k, label: FIELD_ZH[k] || '其他信息', from: before ? valueText(k, before[k]) : null, to: after ? valueText(k, after[k]) : null }));
}

// The object of an entry, as a person reads it (a plan target's id is
// region/year/metric).
function objectText(entity, id) {
  const kind = ENTITY[entity] || '对象';
  if (/^\d+$/.test(id)) return kind + ' ' + id;
  const parts = String(id).split('/');
  if (entity === 'target' && parts.length === 3) return `${kind} ${parts[0]} · ${parts[1]} 年 · ${CODE_WORDS[parts[2]] || '指标'}`;
  return kind + ' ' + String(id).replace(/[a-z][a-z0-9_]*/g, (w) => CODE_WORDS[w] || '…');
}

export function Audit({ query }) {
  const [entity, setEntity] = useState(query.entity || '');
  const [id, setId] = useState(query.id || '');
  const [shown, setShown] = useState({ entity: query.entity || '', id: query.id || '' });
  const [idErr, setIdErr] = useState(null);
  // the address is the look-up: a link or a typed address to another object
  // (or back to the whole log) shows that one
  useEffect(() => {
    const e = query.entity || '', i = query.id || '';
    setEntity(e); setId(i);
    setShown((s) => (s.entity === e && s.id === i ? s : { entity: e, id: i }));
  }, [query.entity, query.id]);
  const one = !!(shown.entity && shown.id);
  const paged = usePaged((cursor) => api.get('/audit', { query: { entity: shown.entity || undefined, id: shown.id || undefined, limit: 30, cursor } }),
    [shown.entity, shown.id]);
  const [chain, setChain] = useState(null);
  const [chainErr, setChainErr] = useState(null);
  const look = (e) => {
    e.preventDefault();
    const i = id.trim();
    if (i && !entity) { setIdErr('按编号查看时请选择对象类型'); return; }
    setIdErr(null); setShown({ entity, id: i });
    navigate('/admin/audit' + (entity ? `?entity=${entity}` + (i ? `&id=${i}` : '') : ''));
  };
  return html`<${PageTitle} sub="审计日志只能追加，每条记录的摘要链接前一条：任何改动或删除都会在校验中发现。">审计日志</${PageTitle}>
    <${Card} title="校验审计链">
      <p class="small muted">从第一条记录起逐条重算摘要和链接，记录越多耗时越长。</p>
      <${ActionButton} class="btn btn-primary" onClick=${async () => { setChain(null); setChainErr(null); try { setChain(await api.get('/audit/verify')); } catch (e) { setChainErr(e); } }}>校验审计链</${ActionButton}>
      <${ErrorBox} error=${chainErr} />
      ${chain ? html`<div class=${'verdict ' + (chain.valid ? 'ok' : 'bad')} data-testid="chain" data-valid=${String(chain.valid)} style="margin-top:12px">
        <div class="icon">${chain.valid ? '✓' : '✕'}</div>
        <div><h2>${chain.valid ? '审计链完整' : '审计链被破坏'}</h2>
          <div>${chain.valid ? `已校验全部 ${chain.checked} 条记录，未发现改动或删除。` : `前 ${chain.checked} 条完好；第 ${chain.first_broken_id} 号记录起链条中断：${CHAIN_REASON[chain.reason] || ''}`}</div></div></div>` : ''}
    </${Card}>
    <${Card} title=${one ? `${objectText(shown.entity, shown.id)} 的操作记录（按时间先后）` : '最近的操作（最新在前）'}>
      <form class="toolbar filters-row" onSubmit=${look}>
        <label class="inline">对象类型 <select value=${entity} onChange=${(e) => setEntity(e.currentTarget.value)}>
          <option value="">全部</option>${Object.entries(ENTITY).map(([k, l]) => html`<option value=${k} selected=${k === entity}>${l}</option>`)}</select></label>
        <label class="inline">编号 <input type="text" inputmode="numeric" name="id" value=${id} onInput=${(e) => setId(e.currentTarget.value)} aria-invalid=${idErr ? 'true' : undefined} placeholder="可不填" /></label>
        <button class="btn" type="submit">查看</button>
      </form>
      ${idErr ? html`<div class="field-error" role="alert">${idErr}</div>` : ''}
      <${ErrorBox} error=${paged.error} />
      ${!paged.loading && !paged.error && !paged.items.length ? html`<${Empty}>没有操作记录</${Empty}>` : ''}
      ${paged.items.length ? html`<div class="table-wrap" tabindex="0"><table class="list" data-testid="audit"><thead><tr><th>序号</th><th>时间</th><th>对象</th><th>操作人</th><th>操作</th><th>变化</th></tr></thead><tbody>
        ${paged.items.map((a) => html`<tr data-id=${a.id}><td class="num">${a.id}</td><td class="nowrap">${dateTime(a.at)}</td>
          <td class="nowrap">${one ? objectText(a.entity, a.entity_id) : html`<a href=${`#/admin/audit?entity=${a.entity}&id=${encodeURIComponent(a.entity_id)}`}
            onClick=${() => { setEntity(a.entity); setId(a.entity_id); setShown({ entity: a.entity, id: a.entity_id }); }}>${objectText(a.entity, a.entity_id)}</a>`}</td>
          <td>${a.actor_user_id ? html`<a href=${'#/admin/users/' + a.actor_user_id}>${ROLE_TEXT[a.actor_role] || '用户'} ${a.actor_user_id}</a>` : '系统或注册人'}</td>
          <td>${ACTION[a.action] || '其他操作'}</td>
          <td class="small">${changes(a.before, a.after).slice(0, 8).map((c) => html`<div>${c.label}：${c.from !== null ? c.from + ' → ' : ''}${c.to !== null ? c.to : '（删除）'}</div>`)}</td></tr>`)}
      </tbody></table></div>` : ''}
      <${More} paged=${paged} />
    </${Card}>`;
}
