// main.js — the shell: hash router (#/path?query), header with the role's
// navigation, sign-in.  The server serves files only (no SPA fallback), so
// every screen lives behind '#'.  Certificate QR codes point at #/verify/<no>.
import { render } from 'preact';
import { useState, useEffect, useRef } from 'preact/hooks';
import { session, restoreSession, login, logout, ApiError } from './api.js';
import { html, Field, problemText, fieldErrors, PageTitle, Loading, ErrorBox, navigate, ROLE_TEXT } from './ui.js';
import { waitText } from './errors.js';
import * as pub from './pages/public.js';
import { UnreadBadge } from './notify.js';

// --- routes --------------------------------------------------------------------------
// Public screens come with the page; each role's screens are a module loaded
// on first use (dynamic import), so an anonymous visitor downloads none of
// them, and ECharts is fetched only by the screens that draw a chart.
const MODULES = {
  member: () => import('./pages/member.js'),
  contracts: () => import('./pages/contracts.js'),
  officer: () => import('./pages/officer.js'),
  bureau: () => import('./pages/bureau.js'),
  admin: () => import('./pages/admin.js'),
  account: () => import('./pages/account.js'),
  regulation: () => import('./pages/regulation.js'),
  search: () => import('./pages/contract_search.js'),
  closes: () => import('./pages/closes.js'),
  deals: () => import('./pages/deals.js'),
  imports: () => import('./pages/imports.js'),
  registers: () => import('./pages/registers.js'),
};
/** @typedef {keyof typeof MODULES} ModuleName */
/** @typedef {{pattern: string, comp?: any, lazy?: [ModuleName, string], roles?: string[]}} Route */

const MEMBERS = ['member', 'broker', 'admin'];
const SIGNED_IN = ['member', 'broker', 'reviewer', 'officer', 'bureau', 'admin'];
/** @type {Route[]} */
const ROUTES = [
  { pattern: '/', comp: pub.Home },
  { pattern: '/login', comp: Login },
  { pattern: '/results/:id', comp: pub.ResultPage },
  { pattern: '/needs/:id', comp: pub.NeedPage },
  { pattern: '/notices', comp: pub.Notices },
  { pattern: '/verify', comp: pub.Verify },
  { pattern: '/verify/:no', comp: pub.Verify },
  { pattern: '/my/results', lazy: ['member', 'MyResults'], roles: MEMBERS },
  { pattern: '/my/results/new', lazy: ['member', 'ResultForm'], roles: MEMBERS },
  { pattern: '/my/results/:id/edit', lazy: ['member', 'ResultForm'], roles: MEMBERS },
  { pattern: '/my/needs', lazy: ['member', 'MyNeeds'], roles: MEMBERS },
  { pattern: '/my/needs/new', lazy: ['member', 'NeedForm'], roles: MEMBERS },
  { pattern: '/my/needs/:id/edit', lazy: ['member', 'NeedForm'], roles: MEMBERS },
  { pattern: '/inquiries', lazy: ['deals', 'Inquiries'], roles: MEMBERS },
  { pattern: '/inquiries/:id', lazy: ['deals', 'InquiryPage'], roles: MEMBERS },
  { pattern: '/auctions', lazy: ['deals', 'Auctions'] },
  { pattern: '/notifications', lazy: ['deals', 'Notifications'], roles: SIGNED_IN },
  { pattern: '/review', lazy: ['member', 'ReviewQueue'], roles: ['reviewer', 'admin'] },
  { pattern: '/review/objections', lazy: ['deals', 'ObjectionQueue'], roles: ['reviewer', 'admin'] },
  { pattern: '/contracts', lazy: ['contracts', 'ContractList'], roles: ['member', 'broker', 'officer', 'bureau', 'admin'] },
  { pattern: '/contracts/new', lazy: ['contracts', 'ContractForm'], roles: ['member', 'admin'] },
  { pattern: '/contracts/:id', lazy: ['contracts', 'ContractPage'], roles: ['member', 'broker', 'officer', 'bureau', 'admin'] },
  { pattern: '/contracts/:id/edit', lazy: ['contracts', 'ContractForm'], roles: ['member', 'admin'] },
  { pattern: '/certificate/:id', lazy: ['contracts', 'CertificateView'], roles: ['member', 'broker', 'officer', 'bureau', 'admin'] },
  { pattern: '/registry', lazy: ['officer', 'Queue'], roles: ['officer', 'admin'] },
  { pattern: '/registry/done', lazy: ['officer', 'Done'], roles: ['officer', 'admin'] },
  { pattern: '/registry/import', lazy: ['imports', 'Import'], roles: ['officer', 'admin'] },
  { pattern: '/registry/:id', lazy: ['officer', 'ReviewScreen'], roles: ['officer', 'admin'] },
  { pattern: '/bureau', lazy: ['bureau', 'Dashboard'], roles: ['bureau', 'admin'] },
  { pattern: '/bureau/exports', lazy: ['bureau', 'Exports'], roles: ['bureau', 'admin'] },
  { pattern: '/bureau/subsidies', lazy: ['bureau', 'Subsidies'], roles: ['bureau', 'admin'] },
  { pattern: '/bureau/targets', lazy: ['bureau', 'Targets'], roles: ['bureau', 'admin'] },
  { pattern: '/bureau/registers', lazy: ['registers', 'Registers'], roles: ['bureau', 'admin'] },
  { pattern: '/admin/users', lazy: ['admin', 'Users'], roles: ['admin'] },
  { pattern: '/admin/users/:id', lazy: ['admin', 'UserEdit'], roles: ['admin'] },
  { pattern: '/admin/orgs', lazy: ['admin', 'Orgs'], roles: ['reviewer', 'admin'] },
  { pattern: '/admin/orgs/:id', lazy: ['admin', 'OrgEdit'], roles: ['admin'] },
  { pattern: '/admin/offices', lazy: ['admin', 'Offices'], roles: ['admin'] },
  { pattern: '/admin/audit', lazy: ['admin', 'Audit'], roles: ['admin', 'bureau'] },
  { pattern: '/signup', lazy: ['account', 'Signup'] },
  { pattern: '/profile', lazy: ['account', 'Profile'], roles: SIGNED_IN },
  { pattern: '/search/contracts', lazy: ['search', 'ContractSearch'], roles: ['officer', 'bureau', 'admin'] },
  { pattern: '/bureau/closes', lazy: ['closes', 'YearClose'], roles: ['bureau', 'admin'] },
  { pattern: '/admin/calendar', lazy: ['regulation', 'CalendarAdmin'], roles: ['admin'] },
  { pattern: '/admin/settings', lazy: ['regulation', 'SettingsAdmin'], roles: ['admin'] },
  { pattern: '/admin/codes', lazy: ['regulation', 'CodesAdmin'], roles: ['admin'] },
];

// A role screen: its module is fetched on first use (the browser keeps it).
/** @type {Map<string, any>} */
const loaded = new Map();
function LazyScreen({ lazy, props }) {
  const [mod, name] = lazy;
  const [C, setC] = useState(() => loaded.get(mod + '.' + name) || null);
  const [err, setErr] = useState(null);
  useEffect(() => {
    if (C) return;
    let live = true;
    MODULES[mod]().then((m) => {
      loaded.set(mod + '.' + name, m[name]);
      if (live) setC(() => m[name]);
    }, (e) => { if (live) setErr(e); });
    return () => { live = false; };
  }, [mod, name]);
  if (err) return html`<${ErrorBox} error=${err} />`;
  if (!C) return html`<${Loading} />`;
  return html`<${C} ...${props} />`;
}

function match(path) {
  const segs = path.split('/').filter(Boolean);
  for (const r of ROUTES) {
    const ps = r.pattern.split('/').filter(Boolean);
    if (ps.length !== segs.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < ps.length && ok; i++) {
      if (ps[i].startsWith(':')) params[ps[i].slice(1)] = decodeURIComponent(segs[i]);
      else ok = ps[i] === segs[i];
    }
    if (ok) return { route: r, params };
  }
  return null;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  return { path: path || '/', query: Object.fromEntries(new URLSearchParams(qs || '')) };
}

// --- navigation per role -------------------------------------------------------------
const isAcademic = (me) => me && me.org && /^02/.test(me.org.org_type);
function navFor(me) {
  const common = [['/', '成果与需求'], ['/notices', '公示'], ['/verify', '证书核验']];
  if (!me) return common;
  switch (me.role) {
    case 'member':
    case 'broker':
      return isAcademic(me)
        ? [['/', '成果与需求'], ['/my/results', '我的成果'], ['/my/results/new', '发布成果'], ['/inquiries', '洽谈'],
          ['/contracts', '技术合同'], ['/my/needs', '我的需求'], ['/notices', '公示'], ['/verify', '证书核验']]
        : [['/', '成果与需求'], ['/my/needs', '我的需求'], ['/my/needs/new', '发布需求'], ['/inquiries', '洽谈'],
          ['/auctions', '竞价'], ['/contracts', '技术合同'], ['/my/results', '我的成果'], ['/notices', '公示'], ['/verify', '证书核验']];
    case 'reviewer':
      return [['/review', '发布审核'], ['/review/objections', '公示异议'], ['/admin/orgs', '单位认证'], ...common];
    case 'officer':
      return [['/registry', '登记审查'], ['/registry/done', '已办登记'], ['/registry/import', '历史导入'], ['/search/contracts', '合同检索'],
        ['/verify', '证书核验'], ['/', '成果与需求']];
    case 'bureau':
      return [['/bureau', '统计看板'], ['/bureau/targets', '计划目标'], ['/bureau/exports', '年报导出'],
        ['/bureau/subsidies', '后补助'], ['/bureau/registers', '机构与经纪人'], ['/bureau/closes', '年度结账'], ['/contracts', '登记合同'], ['/search/contracts', '合同检索'], ['/admin/audit', '审计'], ['/verify', '证书核验']];
    case 'admin':
      return [['/admin/users', '用户'], ['/admin/orgs', '单位'], ['/admin/offices', '登记机构'], ['/admin/audit', '审计'],
        ['/admin/calendar', '工作日历'], ['/admin/settings', '规则参数'], ['/admin/codes', '代码表'],
        ['/review', '审核'], ['/registry', '登记'], ['/bureau', '统计'], ['/bureau/registers', '机构与经纪人'], ['/bureau/closes', '年度结账'], ['/contracts', '合同'], ['/search/contracts', '合同检索'], ['/', '成果与需求'], ['/verify', '核验']];
    default:
      return common;
  }
}
export function homeFor(me) {
  if (!me) return '/';
  return { reviewer: '/review', officer: '/registry', bureau: '/bureau', admin: '/admin/users' }[me.role] ||
    (isAcademic(me) ? '/my/results' : '/my/needs');
}

function Header({ me, path }) {
  const nav = navFor(me);
  const active = (to) => (to === '/' ? path === '/' : path === to || path.startsWith(to + '/')) &&
    !nav.some(([o]) => o !== to && o.length > to.length && (path === o || path.startsWith(o + '/')));
  return html`<header class="site-header">
    <div class="bar">
      <a class="brand" href="#/"><span class="seal">驿</span><span class="brand-text"><b>驿站</b><small>技术转移与技术合同登记服务平台</small></span></a>
      <div class="who">
        ${me ? html`<a class="who-name" href="#/profile" title="账号与密码" data-role=${me.role}><span class="role-chip">${ROLE_TEXT[me.role] || me.role}</span>
            ${me.org ? me.org.name : me.office ? me.office.name : me.display_name}</a>
            <${UnreadBadge} me=${me} path=${path} />
            <button class="btn btn-small btn-ghost" onClick=${async () => { await logout(); navigate('/'); }}>退出</button>`
          : html`<a class="btn btn-small btn-ghost" href="#/signup">注册</a><a class="btn btn-small btn-light" href="#/login">登录</a>`}
      </div>
    </div>
    <${NavBar} items=${nav.map(([to, label]) => ({ to, label, on: active(to) }))} path=${path} />
  </header>`;
}

// The navigation; on a narrow screen it scrolls sideways: a fade and an
// arrow at the edge that has more show that it does, a tap on the arrow
// scrolls on, and the active item is brought into view.
function NavBar({ items, path }) {
  const ref = useRef(null);
  const [edge, setEdge] = useState({ left: false, right: false });
  const measure = () => {
    const el = ref.current;
    if (!el) return;
    const left = el.scrollLeft > 2, right = el.scrollLeft + el.clientWidth < el.scrollWidth - 2;
    setEdge((e) => (e.left === left && e.right === right ? e : { left, right }));
  };
  useEffect(() => {
    const el = ref.current;
    const on = el && el.querySelector('a.active');
    if (on && on.scrollIntoView) on.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    measure();
    // a resize, and the end of a smooth scroll, can change which edge has more
    const ro = typeof ResizeObserver === 'function' && el ? new ResizeObserver(measure) : null;
    if (ro) ro.observe(el);
    window.addEventListener('resize', measure);
    if (el) el.addEventListener('scrollend', measure);
    return () => {
      window.removeEventListener('resize', measure);
      if (el) el.removeEventListener('scrollend', measure);
      if (ro) ro.disconnect();
    };
  }, [path, items.length]);
  const by = (dir) => { const el = ref.current; if (el) el.scrollBy({ left: dir * el.clientWidth * 0.6, behavior: 'smooth' }); };
  return html`<div class=${'nav-wrap' + (edge.left ? ' more-left' : '') + (edge.right ? ' more-right' : '')} data-scrolls=${edge.left || edge.right ? 'yes' : 'no'}>
    <button class="nav-more nav-more-left" tabindex="-1" aria-hidden="true" onClick=${() => by(-1)}>‹</button>
    <nav class="nav" aria-label="主导航" ref=${ref} onScroll=${measure}>${items.map((x) => html`<a href=${'#' + x.to} class=${x.on ? 'active' : ''} aria-current=${x.on ? 'page' : undefined}>${x.label}</a>`)}</nav>
    <button class="nav-more nav-more-right" tabindex="-1" aria-hidden="true" onClick=${() => by(1)}>›</button>
  </div>`;
}

function Login({ query }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true); setErr(null);
    try {
      const me = await login(email.trim(), password);
      navigate(query.next || homeFor(me));
    } catch (x) { setErr(x); } finally { setBusy(false); }
  };
  const fe = fieldErrors(err);
  return html`<div class="login-wrap">
    <${PageTitle} sub="高校院所、企业、登记机构与科技局工作人员使用单位账号登录">登录</${PageTitle}>
    <form class="card form narrow" onSubmit=${submit}>
      ${query.changed ? html`<div class="alert alert-success" role="status">密码已修改，请用新密码登录。</div>` : ''}
      ${err ? html`<div class="alert alert-error" role="alert" data-testid="login-error">${loginErrorText(err)}</div>` : ''}
      <${Field} label="电子邮箱" name="email" errors=${fe} required>
        <input type="email" name="email" autocomplete="username" value=${email} onInput=${(e) => setEmail(e.currentTarget.value)} required />
      </${Field}>
      <${Field} label="密码" name="password" errors=${fe} required>
        <input type="password" name="password" autocomplete="current-password" value=${password} onInput=${(e) => setPassword(e.currentTarget.value)} required />
      </${Field}>
      <div class="form-actions"><button class="btn btn-primary" type="submit" disabled=${busy}>${busy ? '登录中…' : '登录'}</button></div>
      <p class="muted small">还没有账号？<a href="#/signup">注册单位账号</a>（新单位注册，或凭同事给的邀请码加入本单位）。公众无需登录即可检索成果与需求、查看公示、核验登记证明。</p>
    </form>
  </div>`;
}

function loginErrorText(err) {
  if (err instanceof ApiError && err.status === 401) return '邮箱或密码不正确。';
  if (err instanceof ApiError && err.status === 429) {
    const when = err.retryAfter ? new Date(Date.now() + err.retryAfter * 1000) : null;
    const at = when ? new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hour12: false }).format(when) : '';
    return err.retryAfter
      ? `登录失败次数过多，为保护账号已暂停登录。请在 ${waitText(err.retryAfter)}后（约 ${at}）再试。`
      : '登录失败次数过多，为保护账号已暂停登录，请稍后再试。';
  }
  return problemText(err);
}

function Forbidden({ me, path }) {
  if (!me) {
    return html`<div class="card narrow"><h2>请先登录</h2><p>此页面需要登录后使用。</p>
      <a class="btn btn-primary" href=${'#/login?next=' + encodeURIComponent(path)}>登录</a></div>`;
  }
  return html`<div class="card narrow"><h2>无权访问</h2><p>当前账号（${ROLE_TEXT[me.role] || me.role}）不能使用此页面。</p>
    <a class="btn" href=${'#' + homeFor(me)}>返回工作台</a></div>`;
}

function App() {
  const [route, setRoute] = useState(parseHash());
  const [me, setMe] = useState(session.me);
  const [ready, setReady] = useState(false);
  useEffect(() => {
    const onHash = () => { setRoute(parseHash()); window.scrollTo(0, 0); };
    window.addEventListener('hashchange', onHash);
    const off = session.subscribe((m) => setMe(m));
    restoreSession().finally(() => setReady(true));
    return () => { window.removeEventListener('hashchange', onHash); off(); };
  }, []);
  const m = match(route.path);
  let body;
  if (!ready) body = html`<${Loading} />`;
  else if (!m) body = html`<div class="card narrow"><h2>页面不存在</h2><p>此地址没有对应的页面，可能已变更或输入有误。</p><a class="btn" href="#/">返回首页</a></div>`;
  else if (m.route.roles && (!me || !m.route.roles.includes(me.role))) body = html`<${Forbidden} me=${me} path=${route.path} />`;
  else {
    const props = { params: m.params, query: route.query, me, path: route.path };
    const C = m.route.comp;
    body = C ? html`<${C} key=${route.path} ...${props} />` : html`<${LazyScreen} key=${route.path} lazy=${m.route.lazy} props=${props} />`;
  }
  return html`<${Header} me=${me} path=${route.path} />
    <main id="main" class="container" data-route=${m ? m.route.pattern : ''}>${body}</main>
    <footer class="site-footer"><div class="container">
      <span>驿站 · 区域技术转移服务平台</span>
      <span><a href="#/verify">登记证明核验</a> · <a href="/docs" target="_blank" rel="noopener">接口文档</a></span>
    </div></footer>`;
}

render(html`<${App} />`, document.getElementById('app'));
