// ui.js — shared pieces: html tag, formatting (money in fen, dates), form
// fields that show the server's field errors beside them, status badges,
// loading / error / 「尚未开放」 states, and small hooks.
import { h, Fragment, cloneElement, toChildArray } from 'preact';
import { useState, useEffect, useRef, useCallback } from 'preact/hooks';
import htm from 'htm';
import { codes, regionChildren, region as regionInfo, ApiError } from './api.js';
import { problemText, fieldLabel, errorText, problems } from './errors.js';

export const html = htm.bind(h);
export { Fragment };

// --- formatting ------------------------------------------------------------------
const grp = (s) => s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
// integer fen → "12,345.67" (exact: no floating point)
export function yuan(fen) {
  if (fen === null || fen === undefined || fen === '') return '—';
  const n = BigInt(fen);
  const neg = n < 0n;
  const a = neg ? -n : n;
  return (neg ? '-' : '') + grp(String(a / 100n)) + '.' + String(a % 100n).padStart(2, '0');
}
export const yuanText = (fen) => (fen === null || fen === undefined ? '面议' : yuan(fen) + ' 元');
// fen → "1,234.57 万元" (rounded half up to 0.01 万元 = 100 元)
export function wan(fen, digits = 2) {
  if (fen === null || fen === undefined) return '—';
  const n = BigInt(fen);
  const neg = n < 0n;
  const a = neg ? -n : n;
  const unit = 1000000n / 10n ** BigInt(digits);    // fen per last digit
  const r = (a + unit / 2n) / unit;
  const d = 10n ** BigInt(digits);
  const s = grp(String(r / d)) + (digits ? '.' + String(r % d).padStart(digits, '0') : '');
  return (neg ? '-' : '') + s;
}
export const wanText = (fen) => (fen === null || fen === undefined ? '面议' : wan(fen) + ' 万元');
// big amounts: 亿元 above 1 亿
export function bigMoney(fen) {
  if (fen === null || fen === undefined) return '—';
  const n = Number(fen) / 100;
  if (Math.abs(n) >= 1e8) return (n / 1e8).toFixed(2) + ' 亿元';
  return wan(fen) + ' 万元';
}
// decimal text in yuan (or 万元 with scale 10000) → integer fen, or null when
// blank, or NaN when not a number.  String arithmetic: no float rounding.
export function toFen(text, scale = 1) {
  if (text === null || text === undefined) return null;
  const s = String(text).replace(/[,，\s]/g, '');
  if (s === '') return null;
  const m = /^(\d+)(?:\.(\d*))?$/.exec(s);
  if (!m) return NaN;
  const digits = scale === 10000 ? 6 : 2;
  const frac = (m[2] || '').padEnd(digits, '0');
  if (frac.length > digits && /[1-9]/.test(frac.slice(digits))) return NaN;
  const v = BigInt(m[1]) * 10n ** BigInt(digits) + BigInt(frac.slice(0, digits) || '0');
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return NaN;
  return Number(v);
}
// fen → decimal text for an input (yuan, or 万元 with scale 10000)
export function fenToInput(fen, scale = 1) {
  if (fen === null || fen === undefined || fen === '') return '';
  const digits = scale === 10000 ? 6 : 2;
  const n = BigInt(fen);
  const d = 10n ** BigInt(digits);
  let frac = String(n % d).padStart(digits, '0').replace(/0+$/, '');
  return String(n / d) + (frac ? '.' + frac : '');
}

export function date(s) {
  if (!s) return '—';
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return s;
  const d = new Date(s);
  if (isNaN(d.getTime())) return s;
  // shown in China time
  return new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(d).replace(/\//g, '-');
}
export function dateTime(s) {
  if (!s) return '—';
  const d = new Date(s);
  if (isNaN(d.getTime())) return s;
  return new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false })
    .format(d).replace(/\//g, '-');
}
export function todayCN() {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date());
}
export function yearCN(s) {
  if (!s) return null;
  return Number(new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric' }).format(new Date(s)));
}
export function monthCN(s) {
  if (!s) return null;
  return Number(new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', month: 'numeric' }).format(new Date(s)));
}

// --- statuses --------------------------------------------------------------------
export const STATUS = {
  result: { draft: '草稿', submitted: '待审核', published: '已发布', rejected: '已退回', withdrawn: '已撤回', under_notice: '公示中', transacted: '已成交' },
  need: { draft: '草稿', submitted: '待审核', open: '征集中', matched: '已对接', closed: '已关闭', expired: '已过期', rejected: '已退回' },
  contract: { draft: '草稿', submitted: '审查中', returned: '退回补正', refused: '不予登记', registered: '已登记', cancelled: '已注销' },
  inquiry: { open: '洽谈中', agreed: '已达成', declined: '已拒绝', expired: '已过期' },
  notice: { active: '公示中', passed: '公示期满', failed: '异议成立' },
  bid: { leading: '领先', outbid: '被超出', won: '中标', lost: '未中标' },
  run: { pending: '排队中', running: '计算中', completed: '已完成', failed: '失败' },
  org: { pending: '待认证', verified: '已认证', rejected: '未通过' },
};
const TONE = {
  draft: 'grey', submitted: 'blue', published: 'green', rejected: 'red', withdrawn: 'grey', under_notice: 'amber',
  transacted: 'green', open: 'green', matched: 'blue', closed: 'grey', expired: 'grey', returned: 'amber',
  refused: 'red', registered: 'green', cancelled: 'grey', agreed: 'green', declined: 'red', active: 'amber',
  ended: 'grey', passed: 'green', leading: 'green', outbid: 'amber', won: 'green', lost: 'grey', completed: 'green', failed: 'red',
  pending: 'blue', running: 'blue', verified: 'green',
};
export function Status({ kind, value }) {
  const label = (STATUS[kind] && STATUS[kind][value]) || value;
  return html`<span class=${'badge badge-' + (TONE[value] || 'grey')} data-status=${value}>${label}</span>`;
}

export const ROLE_TEXT = { member: '单位用户', broker: '技术经纪人', reviewer: '平台审核员', officer: '登记员', bureau: '科技局', admin: '管理员' };

// --- field errors: one table, in errors.js ---------------------------------------------
export { errorText, fieldErrors, fieldLabel, problemText } from './errors.js';

// --- small components ------------------------------------------------------------
export function Loading({ text = '加载中…' }) {
  return html`<div class="loading" role="status"><span class="spinner"></span>${text}</div>`;
}
export function Unavailable({ what = '此功能', note }) {
  return html`<div class="unavailable" data-state="unavailable">
    <strong>${what}尚未开放</strong>
    <p>服务器尚未提供此功能的接口，开放后此处将自动显示。${note ? html`<br />${note}` : ''}</p>
  </div>`;
}
export function ErrorBox({ error, onRetry }) {
  if (!error) return null;
  if (error instanceof ApiError && error.unavailable) return html`<${Unavailable} />`;
  return html`<div class="alert alert-error" role="alert">${problemText(error)}
    ${error instanceof ApiError && error.problem.request_id ? html`<span class="muted small"> 请求编号 ${error.problem.request_id}</span>` : ''}
    ${onRetry ? html` <button class="btn btn-small" onClick=${onRetry}>重试</button>` : ''}</div>`;
}
/**
 * The server's field problems listed at the top of a form, each field named
 * by its label; other problems as one sentence.
 * @param {{err: any, labels?: Record<string, string>}} props
 */
export function ErrorSummary({ err, labels = {} }) {
  if (!err) return null;
  if (!(err instanceof ApiError) || !err.errors.length) return html`<${ErrorBox} error=${err} />`;
  return html`<div class="alert alert-error error-summary" role="alert"><b>${problemText(err)}</b>
    <ul>${problems(err).map((e) => html`<li>${e.field ? fieldLabel(e.field, labels) + '：' : ''}${errorText(e)}</li>`)}</ul></div>`;
}
export function Empty({ children }) {
  return html`<div class="empty">${children || '暂无数据'}</div>`;
}
export function Card({ title, actions, children, class: cls }) {
  return html`<section class=${'card ' + (cls || '')}>
    ${title || actions ? html`<header class="card-head"><h2>${title}</h2><div class="card-actions">${actions}</div></header>` : ''}
    ${children}
  </section>`;
}
export function PageTitle({ children, sub, actions }) {
  useEffect(() => {
    const t = Array.isArray(children) ? children.filter((x) => typeof x === 'string').join('') : children;
    if (typeof t === 'string') document.title = t + ' · 驿站技术转移服务平台';
  }, [children]);
  return html`<div class="page-title"><div><h1>${children}</h1>${sub ? html`<p class="sub">${sub}</p>` : ''}</div>
    ${actions ? html`<div class="page-actions">${actions}</div>` : ''}</div>`;
}
export function Facts({ rows }) {
  return html`<dl class="facts">${rows.filter(Boolean).map(([k, v]) => html`<div class="fact"><dt>${k}</dt><dd>${v === null || v === undefined || v === '' ? '—' : v}</dd></div>`)}</dl>`;
}
export function Notice({ tone = 'info', children }) {
  return html`<div class=${'alert alert-' + tone}>${children}</div>`;
}

// --- data hooks ----------------------------------------------------------------------
/**
 * Load once per change of deps: {data, error, loading, reload, set}.
 * @template T
 * @param {() => Promise<T> | T} fn
 * @param {any[]} [deps]
 * @returns {{data: T, error: any, loading: boolean, reload: () => void, set: (data: T) => void}}
 */
export function useLoad(fn, deps = []) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const seq = useRef(0);
  const run = useCallback(() => {
    const my = ++seq.current;
    setState((s) => ({ ...s, loading: true, error: null }));
    Promise.resolve().then(fn).then(
      (data) => { if (my === seq.current) setState({ data, error: null, loading: false }); },
      (error) => { if (my === seq.current) setState({ data: undefined, error, loading: false }); },
    );
  }, deps);
  useEffect(() => { run(); }, [run]);
  return { ...state, reload: run, set: (data) => setState({ data, error: null, loading: false }) };
}
/**
 * @param {import('./api-types').CodeListName} list
 * @returns {import('./api-types').CodeItem[]}
 */
export function useCodes(list) {
  const [items, setItems] = useState([]);
  useEffect(() => { codes(list).then(setItems, () => setItems([])); }, [list]);
  return items;
}
export function labelOf(items, code) {
  const it = items.find((x) => x.code === code);
  return it ? it.label : code || '';
}

// --- form fields ---------------------------------------------------------------------
let fieldSeq = 0;
/**
 * <Field label help errors name required>{control}</Field>: the label is tied
 * to the one control inside (its id is set here), or, for a group of
 * controls (checkboxes, the region picker; `group`), names the group.  The
 * server's errors for `name` (keyed by field path, see fieldErrors) are shown
 * beside it and described to screen readers.
 */
export function Field({ label, help, errors, name, required, children, wide, group = false }) {
  const [id] = useState(() => 'f' + ++fieldSeq);
  const errs = (errors && name && errors[name]) || [];
  const kids = toChildArray(children).filter((c) => typeof c !== 'string' || c.trim());
  const one = kids.length === 1 && typeof kids[0] === 'object' ? /** @type {any} */ (kids[0]) : null;
  // a control that is itself several (checkboxes, the region picker, a labelled checkbox) names a group
  const single = !group && one && ![RegionPicker, CodeChecks, 'label', 'div'].includes(one.type);
  const described = [help ? id + '-help' : '', errs.length ? id + '-err' : ''].filter(Boolean).join(' ') || undefined;
  const control = single
    ? cloneElement(/** @type {import('preact').VNode<any>} */ (kids[0]), { id, 'aria-describedby': described, 'aria-invalid': errs.length ? 'true' : undefined })
    : children;
  const head = html`${label}${required ? html`<span class="req" aria-hidden="true">*</span>` : ''}`;
  return html`<div class=${'field' + (errs.length ? ' has-error' : '') + (wide ? ' wide' : '')} data-field=${name}
      role=${single ? undefined : 'group'} aria-labelledby=${single ? undefined : id + '-label'} aria-describedby=${single ? undefined : described}>
    ${single ? html`<label for=${id}>${head}</label>` : html`<div class="label" id=${id + '-label'}>${head}</div>`}
    ${control}
    ${help ? html`<div class="help" id=${id + '-help'}>${help}</div>` : ''}
    ${errs.length ? html`<div id=${id + '-err'}>${errs.map((t) => html`<div class="field-error" role="alert">${t}</div>`)}</div>` : ''}
  </div>`;
}
export function TextInput({ value, onInput, ...rest }) {
  return html`<input type="text" value=${value ?? ''} onInput=${(e) => onInput(e.currentTarget.value)} ...${rest} />`;
}
export function TextArea({ value, onInput, rows = 4, ...rest }) {
  return html`<textarea rows=${rows} value=${value ?? ''} onInput=${(e) => onInput(e.currentTarget.value)} ...${rest}></textarea>`;
}
/** @param {{value?: any, onChange: (v: any) => void, items: {code: string, label: string}[], empty?: string | false, [k: string]: any}} props */
export function Select({ value, onChange, items, empty = '请选择', ...rest }) {
  return html`<select value=${value ?? ''} onChange=${(e) => onChange(e.currentTarget.value || null)} ...${rest}>
    ${empty !== false ? html`<option value="">${empty}</option>` : ''}
    ${items.map((it) => html`<option value=${it.code} selected=${it.code === value}>${it.label}</option>`)}
  </select>`;
}
// Code list select; `group` renders two-level lists with optgroups; `parent`
// limits to the children of one code; `top` to the top level.
export function CodeSelect({ list, value, onChange, parent, top, empty, ...rest }) {
  const items = useCodes(list);
  let shown = items;
  if (parent !== undefined) shown = items.filter((x) => x.parent_code === parent);
  else if (top) shown = items.filter((x) => !x.parent_code);
  return html`<${Select} value=${value} onChange=${onChange} items=${shown} empty=${empty} ...${rest} />`;
}
export function CodeChecks({ list, value = [], onChange }) {
  const items = useCodes(list);
  const toggle = (c) => onChange(value.includes(c) ? value.filter((x) => x !== c) : [...value, c]);
  return html`<div class="checks">${items.map((it) => html`<label class="check">
    <input type="checkbox" checked=${value.includes(it.code)} onChange=${() => toggle(it.code)} value=${it.code} /> ${it.label}</label>`)}</div>`;
}
// comma / 、 / space separated text ↔ array of strings
export function ListInput({ value = [], onChange, placeholder, ...rest }) {
  const [text, setText] = useState((value || []).join('，'));
  useEffect(() => {
    const cur = splitList(text);
    if (cur.join('|') !== (value || []).join('|')) setText((value || []).join('，'));
  }, [value]);
  return html`<input type="text" value=${text} placeholder=${placeholder}
    onInput=${(e) => { setText(e.currentTarget.value); onChange(splitList(e.currentTarget.value)); }} ...${rest} />`;
}
export const splitList = (t) => String(t || '').split(/[,，、;；\s]+/).map((s) => s.trim()).filter(Boolean);

// money input in yuan (scale 1) or 万元 (scale 10000); value is fen or null
export function MoneyInput({ value, onChange, scale = 1, placeholder, ...rest }) {
  const [text, setText] = useState(fenToInput(value, scale));
  useEffect(() => {
    const f = toFen(text, scale);
    if (!(f === value || (Number.isNaN(f) && value === undefined))) setText(fenToInput(value, scale));
  }, [value]);
  return html`<span class="money-input"><input type="text" inputmode="decimal" value=${text} placeholder=${placeholder}
    onInput=${(e) => { const t = e.currentTarget.value; setText(t); const f = toFen(t, scale); onChange(Number.isNaN(f) ? undefined : f); }} ...${rest} />
    <span class="unit">${scale === 10000 ? '万元' : '元'}</span></span>`;
}

// The organisation types (two levels, the code shown with the label).
export function OrgTypeSelect({ value, onChange, name, ...rest }) {
  const items = useCodes('org_types');
  const tops = items.filter((x) => !x.parent_code);
  return html`<select name=${name} value=${value || ''} onChange=${(e) => onChange(e.currentTarget.value || null)} ...${rest}>
    <option value="">请选择</option>
    ${tops.map((t) => {
      const kids = items.filter((x) => x.parent_code === t.code);
      return kids.length ? html`<optgroup label=${t.code + ' ' + t.label}>${kids.map((k) => html`<option value=${k.code} selected=${k.code === value}>${k.code} ${k.label}</option>`)}</optgroup>`
        : html`<option value=${t.code} selected=${t.code === value}>${t.code} ${t.label}</option>`;
    })}</select>`;
}

// Region picker: province → prefecture → county, cascading from the code list.
export function RegionPicker({ value, onChange, levels = 3, name }) {
  const [path, setPath] = useState([]);        // codes chosen at each level
  const [opts, setOpts] = useState([[], [], []]);
  useEffect(() => {
    let live = true;
    (async () => {
      const info = value ? await regionInfo(value) : null;
      const p = info && info.path ? info.path.map((x) => x.code) : [];
      const lists = [await regionChildren(null)];
      for (let i = 0; i < Math.min(p.length, levels - 1); i++) lists.push(await regionChildren(p[i]).catch(() => []));
      while (lists.length < 3) lists.push([]);
      if (live) { setPath(p); setOpts(lists); }
    })().catch(() => {});
    return () => { live = false; };
  }, [value]);
  const pick = async (level, code) => {
    if (!code) {
      onChange(level === 0 ? null : path[level - 1]);
      return;
    }
    onChange(code);
  };
  const names = ['省/自治区/直辖市', '市/地区', '区/县'];
  return html`<div class="region-picker" data-name=${name}>
    ${[0, 1, 2].slice(0, levels).map((lv) => (lv === 0 || (opts[lv] && opts[lv].length) ? html`
      <select aria-label=${names[lv]} onChange=${(e) => pick(lv, e.currentTarget.value)}>
        <option value="">${lv === 0 ? '选择' + names[0] : '（全部）' + names[lv]}</option>
        ${(opts[lv] || []).map((r) => html`<option value=${r.code} selected=${path[lv] === r.code}>${r.name}</option>`)}
      </select>` : ''))}
  </div>`;
}
export function RegionName({ code }) {
  const [n, setN] = useState(code || '');
  useEffect(() => {
    let live = true;
    if (code) regionInfo(code).then((r) => { if (live && r) setN(r.path ? r.path.map((x) => x.name).join(' ') : r.name); });
    return () => { live = false; };
  }, [code]);
  return code ? html`<span title=${code}>${n}</span>` : '—';
}

// A button that runs an async action, disables itself meanwhile.
export function ActionButton({ onClick, children, class: cls = 'btn', confirm: ask, ...rest }) {
  const [busy, setBusy] = useState(false);
  return html`<button class=${cls} disabled=${busy || rest.disabled} ...${rest} onClick=${async (e) => {
    e.preventDefault();
    if (ask && !window.confirm(ask)) return;
    setBusy(true);
    try { await onClick(e); } finally { setBusy(false); }
  }}>${busy ? '处理中…' : children}</button>`;
}

export function Tabs({ tabs, value, onChange }) {
  return html`<div class="tabs" role="tablist">${tabs.map(([k, label]) => html`
    <button role="tab" class=${'tab' + (k === value ? ' active' : '')} aria-selected=${k === value} onClick=${() => onChange(k)}>${label}</button>`)}</div>`;
}

/**
 * A list with keyset pagination ("加载更多"); `extra` is the last page as
 * the server sent it (search totals and facets).
 * @template {{items: any[], next_cursor?: string | null}} P
 * @param {(cursor: string | null) => Promise<P>} fetchPage
 * @param {any[]} [deps]
 * @returns {{items: P['items'], more: (() => Promise<void>) | null, reload: () => Promise<void>, loading: boolean, error: any, extra: P | null, setItems: (items: P['items']) => void}}
 */
export function usePaged(fetchPage, deps = []) {
  const [items, setItems] = useState([]);
  const [cursor, setCursor] = useState(null);
  const [state, setState] = useState({ loading: true, error: null, extra: null });
  const load = useCallback(async (reset) => {
    setState((s) => ({ ...s, loading: true, error: null }));
    try {
      const page = await fetchPage(reset ? null : cursor);
      setItems((old) => (reset ? page.items || [] : [...old, ...(page.items || [])]));
      setCursor(page.next_cursor || null);
      setState({ loading: false, error: null, extra: page });
    } catch (error) {
      if (reset) setItems([]);
      setState({ loading: false, error, extra: null });
    }
  }, [cursor, ...deps]);
  useEffect(() => { load(true); }, deps);
  return { items, more: cursor ? () => load(false) : null, reload: () => load(true), ...state, setItems };
}
export function More({ paged }) {
  if (paged.loading) return html`<${Loading} />`;
  if (!paged.more) return null;
  return html`<div class="more"><button class="btn" onClick=${paged.more}>加载更多</button></div>`;
}

export function navigate(path) {
  if (location.hash !== '#' + path) location.hash = '#' + path;
}
export function Link({ to, children, ...rest }) {
  return html`<a href=${'#' + to} ...${rest}>${children}</a>`;
}
