// Self-service: an organisation's sign-up (a new organisation with its
// credit code, or joining one with an invitation code), and the signed-in
// user's profile — e-mail of the message centre, password change, the
// organisation's contact details, invitations for colleagues.
import { useState } from 'preact/hooks';
import { api, login, logout, ApiError } from '../api.js';
import {
  html, dateTime, Loading, ErrorBox, ErrorSummary, Card, PageTitle, Field, TextInput, TextArea, Select, RegionPicker, RegionName,
  useLoad, navigate, ActionButton, fieldErrors, Notice, Tabs, Facts, ROLE_TEXT, Status,
  OrgTypeSelect,
} from '../ui.js';

const SIGNUP_LABELS = {
  display_name: '您的姓名', email: '电子邮箱', password: '密码', invitation_code: '邀请码', org: '单位信息',
  'org.name': '单位名称', 'org.org_type': '单位类型', 'org.credit_code': '统一社会信用代码', 'org.region_code': '所在地区',
  'org.state_funded': '国有高校院所', 'org.contact_phone': '联系电话', 'org.contact_name': '联系人',
};
// org_type codes that need no credit code: natural person, other
const NO_CREDIT_CODE = ['400', '900'];
const CREDIT_RE = /^[0-9A-HJ-NP-RTUWXY]{18}$/;

export function Signup() {
  const [mode, setMode] = useState('org');
  const [f, setF] = useState({ display_name: '', email: '', password: '', password2: '', invitation_code: '',
    org: { name: '', org_type: null, credit_code: '', region_code: null, state_funded: false, contact_phone: '' } });
  const [err, setErr] = useState(null);
  const [local, setLocal] = useState({});
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const setO = (k) => (v) => setF({ ...f, org: { ...f.org, [k]: v } });
  const fe = { ...fieldErrors(err), ...local };
  const academic = f.org.org_type && /^02/.test(f.org.org_type);
  const submit = async (e) => {
    e.preventDefault();
    setErr(null);
    // what the server refuses without naming the field is checked here, beside the field
    const lp = {};
    if (f.password !== f.password2) lp.password2 = ['两次输入的密码不一致'];
    if (mode === 'org') {
      const cc = f.org.credit_code.trim().toUpperCase();
      if (!NO_CREDIT_CODE.includes(f.org.org_type || '') && !cc) lp['org.credit_code'] = ['单位须填写统一社会信用代码（自然人和“其他”类型除外）'];
      else if (cc && !CREDIT_RE.test(cc)) lp['org.credit_code'] = ['应为 18 位数字或大写字母（不含 I、O、Z、S、V）'];
    }
    setLocal(lp);
    if (Object.keys(lp).length) return;
    /** @type {import('../api-types').Body<'/auth/register', 'post'>} */
    const body = mode === 'org'
      ? { display_name: f.display_name.trim(), email: f.email.trim(), password: f.password,
        org: { name: f.org.name.trim(), org_type: f.org.org_type || '', region_code: f.org.region_code || '',
          credit_code: f.org.credit_code.trim() ? f.org.credit_code.trim().toUpperCase() : null, state_funded: !!(academic && f.org.state_funded),
          contact_name: f.display_name.trim() || null, contact_phone: f.org.contact_phone.trim() || null } }
      : { display_name: f.display_name.trim(), email: f.email.trim(), password: f.password, invitation_code: f.invitation_code.trim() };
    try {
      await api.post('/auth/register', { body, anonymous: true });
      await login(f.email.trim(), f.password);
      navigate('/profile?welcome=' + mode);
    } catch (x) { setErr(x); window.scrollTo({ top: 0, behavior: 'smooth' }); }
  };
  return html`<${PageTitle} sub="高校、科研院所和企业注册单位账号后，可发布科技成果与技术需求、在线洽谈、申请技术合同登记。">注册单位账号</${PageTitle}>
    <form class="form narrow-wide" onSubmit=${submit} novalidate>
      <${Tabs} value=${mode} onChange=${setMode} tabs=${[['org', '新单位注册'], ['invite', '凭邀请码加入本单位']]} />
      <${ErrorSummary} err=${err} labels=${SIGNUP_LABELS} />
      <${Card} title="您的账号"><div class="form-grid">
        <${Field} label="您的姓名" name="display_name" errors=${fe} required><${TextInput} name="display_name" value=${f.display_name} onInput=${set('display_name')} maxlength="100" autocomplete="name" /></${Field}>
        <${Field} label="电子邮箱" name="email" errors=${fe} required help="用于登录。"><${TextInput} name="email" type="email" value=${f.email} onInput=${set('email')} autocomplete="email" /></${Field}>
        <${Field} label="密码" name="password" errors=${fe} required help="10 至 128 个字符。"><${TextInput} name="password" type="password" value=${f.password} onInput=${set('password')} autocomplete="new-password" /></${Field}>
        <${Field} label="再次输入密码" name="password2" errors=${fe} required><${TextInput} name="password2" type="password" value=${f.password2} onInput=${set('password2')} autocomplete="new-password" /></${Field}>
      </div></${Card}>
      ${mode === 'invite' ? html`<${Card} title="加入本单位">
        <${Field} label="邀请码" name="invitation_code" errors=${fe} required help="由本单位已注册的同事在“账号”页生成，以 inv_ 开头，有效期 14 天。">
          <${TextInput} name="invitation_code" value=${f.invitation_code} onInput=${set('invitation_code')} autocomplete="off" /></${Field}>
      </${Card}>` : html`<${Card} title="单位信息"><div class="form-grid">
        <${Field} wide label="单位名称" name="org.name" errors=${fe} required help="与营业执照或法人证书一致的全称。"><${TextInput} name="org.name" value=${f.org.name} onInput=${setO('name')} maxlength="200" /></${Field}>
        <${Field} label="单位类型" name="org.org_type" errors=${fe} required><${OrgTypeSelect} name="org.org_type" value=${f.org.org_type} onChange=${setO('org_type')} /></${Field}>
        <${Field} label="统一社会信用代码" name="org.credit_code" errors=${fe} required=${!NO_CREDIT_CODE.includes(f.org.org_type || '')}
          help="18 位，最后一位是校验位，如 91511900MA62A8JX0W。"><${TextInput} name="org.credit_code" value=${f.org.credit_code} onInput=${setO('credit_code')} maxlength="18" /></${Field}>
        <${Field} wide label="所在地区" name="org.region_code" errors=${fe} required><${RegionPicker} name="org.region_code" value=${f.org.region_code} onChange=${setO('region_code')} /></${Field}>
        <${Field} label="联系电话" name="org.contact_phone" errors=${fe}><${TextInput} name="org.contact_phone" value=${f.org.contact_phone} onInput=${setO('contact_phone')} /></${Field}>
        ${academic ? html`<${Field} label="国有高校院所" name="org.state_funded" errors=${fe} group help="国有高校、科研院所以协议定价转让成果前须公示拟交易价格。">
          <label class="check"><input type="checkbox" checked=${f.org.state_funded} onChange=${(e) => setO('state_funded')(e.currentTarget.checked)} /> 是国有高校或科研院所</label></${Field}>` : ''}
      </div>
      <p class="small muted">注册后由平台审核员核对单位信息。认证前可以先填写并保存成果和需求的草稿；认证通过后即可提交审核、申请技术合同登记。</p></${Card}>`}
      <div class="form-actions"><button class="btn btn-primary" type="submit">注册并登录</button><a class="btn" href="#/login">已有账号，去登录</a></div>
    </form>`;
}

// --- profile ------------------------------------------------------------------------------------
const PW_LABELS = { current_password: '当前密码', new_password: '新密码' };
export function Profile({ me, query }) {
  return html`<${PageTitle} sub=${me.email}>账号</${PageTitle}>
    ${query.welcome ? html`<${Notice} tone="success">注册成功，欢迎使用驿站。${query.welcome === 'org' ? '单位信息正在等待平台认证；认证前可以先保存草稿，认证通过后提交审核。' : ''}
      <a href=${'#' + (me.org && /^02/.test(me.org.org_type) ? '/my/results/new' : '/my/needs/new')}>${me.org && /^02/.test(me.org.org_type) ? '填写第一项科技成果' : '填写技术需求'}</a></${Notice}>` : ''}
    <div class="layout-main-side">
      <div>
        <${Card} title="个人信息"><${Facts} rows=${[['姓名', me.display_name], ['电子邮箱', me.email], ['角色', ROLE_TEXT[me.role]],
          me.org ? ['所属单位', html`${me.org.name} <${Status} kind="org" value=${me.org.status} />`] : null,
          me.office ? ['登记机构', me.office.name] : null, me.region_code ? ['管辖地区', html`<${RegionName} code=${me.region_code} />`] : null]} /></${Card}>
        ${me.org && (me.role === 'member') ? html`<${OrgContact} id=${me.org.id} />` : ''}
      </div>
      <aside>
        <${MailOptIn} me=${me} />
        <${PasswordChange} />
        ${me.org && me.role === 'member' ? html`<${Invite} id=${me.org.id} />` : ''}
      </aside>
    </div>`;
}

// The e-mail opt-in (PATCH /me): which events go by e-mail, and to which address.
function MailOptIn({ me }) {
  const [on, setOn] = useState(!!me.email_notifications);
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState('');
  const toggle = async (v) => {
    setErr(null); setSaved('');
    try {
      const x = await api.patch('/me', { body: { email_notifications: v } });
      setOn(x.email_notifications);
      me.email_notifications = x.email_notifications;
      setSaved(x.email_notifications ? '已开启邮件通知。' : '已关闭邮件通知。');
    } catch (e) { setErr(e); }
  };
  return html`<${Card} title="邮件通知" class="form">
    <p class="small muted">开启后，以下消息除在“消息”页显示外，还会发送到您的邮箱：退回补正（含补正期限）、补正期限前三个工作日的提醒、登记完成、不予登记、收到交易意向、洽谈达成一致、竞价成交、出价被超过、公示收到异议。</p>
    <p>收件邮箱：<strong data-testid="mail-address">${me.email}</strong></p>
    <${Field} label="邮件通知" name="email_notifications" errors=${fieldErrors(err)} group>
      <label class="check"><input type="checkbox" role="switch" checked=${on} data-testid="mail-switch"
        onChange=${(e) => toggle(e.currentTarget.checked)} /> 将消息同时发送到我的邮箱</label></${Field}>
    ${saved ? html`<${Notice} tone="success">${saved}</${Notice}>` : ''}
    <${ErrorBox} error=${err && !err.errors.length ? err : null} />
  </${Card}>`;
}

function PasswordChange() {
  const [f, setF] = useState({ current_password: '', new_password: '', again: '' });
  const [err, setErr] = useState(null);
  const [local, setLocal] = useState({});
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const fe = { ...fieldErrors(err), ...local };
  const save = async () => {
    setErr(null);
    if (f.new_password !== f.again) { setLocal({ again: ['两次输入的新密码不一致'] }); return; }
    setLocal({});
    try {
      await api.post('/me/password', { body: { current_password: f.current_password, new_password: f.new_password } });
      await logout();          // every session ended with the change: sign in again
      navigate('/login?changed=1');
    } catch (e) { setErr(e); }
  };
  return html`<${Card} title="修改密码" class="form" >
    <${ErrorSummary} err=${err && err instanceof ApiError && !err.errors.length ? err : null} labels=${PW_LABELS} />
    <${Field} label="当前密码" name="current_password" errors=${fe} required><${TextInput} type="password" name="current_password" value=${f.current_password} onInput=${set('current_password')} autocomplete="current-password" /></${Field}>
    <${Field} label="新密码" name="new_password" errors=${fe} required help="10 至 128 个字符。修改后所有设备需重新登录。"><${TextInput} type="password" name="new_password" value=${f.new_password} onInput=${set('new_password')} autocomplete="new-password" /></${Field}>
    <${Field} label="再次输入新密码" name="again" errors=${fe} required><${TextInput} type="password" name="again" value=${f.again} onInput=${set('again')} autocomplete="new-password" /></${Field}>
    <${ActionButton} class="btn btn-primary" onClick=${save}>修改密码</${ActionButton}>
  </${Card}>`;
}

const ORG_CONTACT_LABELS = { contact_name: '联系人', contact_phone: '联系电话', contact_email: '联系邮箱', website: '网址', address: '地址', description: '单位简介' };
function OrgContact({ id }) {
  const r = useLoad(() => api.get('/orgs/{id}', { path: { id } }), [id]);
  const [f, setF] = useState(null);
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState(false);
  if (r.loading) return html`<${Card} title="单位信息"><${Loading} /></${Card}>`;
  if (r.error) return html`<${Card} title="单位信息"><${ErrorBox} error=${r.error} /></${Card}>`;
  const o = r.data;
  const v = f || o;
  const set = (k) => (x) => { setF({ ...v, [k]: x }); setSaved(false); };
  const fe = fieldErrors(err);
  const t = (x) => (x && String(x).trim()) || null;
  const save = async () => {
    setErr(null);
    try {
      const x = await api.patch('/orgs/{id}', { path: { id }, headers: { 'If-Match': '"' + o.version + '"' },
        body: { contact_name: t(v.contact_name), contact_phone: t(v.contact_phone), contact_email: t(v.contact_email), website: t(v.website), address: t(v.address), description: t(v.description) } });
      r.set(x); setF(null); setSaved(true);
    } catch (e) { setErr(e); }
  };
  return html`<${Card} title="单位信息" class="form">
    <${Facts} rows=${[['单位名称', o.name], ['单位类型', o.org_type_label], ['统一社会信用代码', o.credit_code], ['所在地区', o.region_name],
      ['认证状态', html`<${Status} kind="org" value=${o.status} />${o.verification_note ? html`<span class="small muted"> ${o.verification_note}</span>` : ''}`]]} />
    <p class="small muted">名称、类型、统一社会信用代码和地区如需更正，请联系平台管理员。</p>
    ${saved ? html`<${Notice} tone="success">联系方式已保存。</${Notice}>` : ''}
    <${ErrorSummary} err=${err} labels=${ORG_CONTACT_LABELS} />
    <div class="form-grid">
      <${Field} label="联系人" name="contact_name" errors=${fe}><${TextInput} value=${v.contact_name || ''} onInput=${set('contact_name')} /></${Field}>
      <${Field} label="联系电话" name="contact_phone" errors=${fe}><${TextInput} value=${v.contact_phone || ''} onInput=${set('contact_phone')} /></${Field}>
      <${Field} label="联系邮箱" name="contact_email" errors=${fe}><${TextInput} value=${v.contact_email || ''} onInput=${set('contact_email')} /></${Field}>
      <${Field} label="网址" name="website" errors=${fe} help="以 https:// 或 http:// 开头。"><${TextInput} value=${v.website || ''} onInput=${set('website')} /></${Field}>
      <${Field} wide label="地址" name="address" errors=${fe}><${TextInput} value=${v.address || ''} onInput=${set('address')} /></${Field}>
      <${Field} wide label="单位简介" name="description" errors=${fe}><${TextArea} rows=${3} value=${v.description || ''} onInput=${set('description')} /></${Field}>
    </div>
    <${ActionButton} class="btn btn-primary" onClick=${save}>保存联系方式</${ActionButton}>
  </${Card}>`;
}

function Invite({ id }) {
  const [role, setRole] = useState('member');
  const [uses, setUses] = useState('1');
  const [inv, setInv] = useState(null);
  const [err, setErr] = useState(null);
  const make = async () => {
    setErr(null); setInv(null);
    try { setInv(await api.post('/orgs/{id}/invitations', { path: { id }, body: { role: role === 'broker' ? 'broker' : 'member', max_uses: Number(uses) } })); } catch (e) { setErr(e); }
  };
  return html`<${Card} title="邀请同事加入" class="form">
    <p class="small muted">生成邀请码发给同事，同事在注册页选择“凭邀请码加入本单位”。邀请码只显示这一次。</p>
    <${Field} label="同事的角色" name="role" errors=${fieldErrors(err)}><${Select} items=${[{ code: 'member', label: '单位用户' }, { code: 'broker', label: '技术经纪人' }]} value=${role} onChange=${setRole} empty=${false} /></${Field}>
    <${Field} label="可用人数" name="max_uses" errors=${fieldErrors(err)} help="1 至 100 人。"><input type="number" min="1" max="100" value=${uses} onInput=${(e) => setUses(e.currentTarget.value)} /></${Field}>
    <${ErrorBox} error=${err && !err.errors.length ? err : null} />
    <${ActionButton} class="btn" onClick=${make}>生成邀请码</${ActionButton}>
    ${inv ? html`<div class="alert alert-success" style="margin-top:10px" data-testid="invitation"><div>邀请码（${inv.max_uses} 人可用，${dateTime(inv.expires_at)} 前有效）：</div>
      <code class="invite-code">${inv.code}</code></div>` : ''}
  </${Card}>`;
}
