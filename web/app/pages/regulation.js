// Regulatory data (管理员): the working-day calendar of a year (a year view,
// whether it is provisional or confirmed from the State Council's notice, the
// holidays and 调休 days, confirm with the notice as source), the regulatory
// settings and the code lists — every change citing its source, with its
// history from the audit trail.  Loaded only when an admin opens one of them.
import { useState, useEffect } from 'preact/hooks';
import { api } from '../api.js';
import {
  html, date, dateTime, Loading, ErrorBox, ErrorSummary, Card, PageTitle, Field, TextInput, TextArea, Select,
  useLoad, navigate, ActionButton, fieldErrors, Notice, Tabs, todayCN,
} from '../ui.js';

/** @typedef {import('../api-types').Schema<'Calendar'>} Calendar */
/** @typedef {import('../api-types').Schema<'CalendarDay'>} CalendarDay */
/** @typedef {import('../api-types').Schema<'Setting'>} Setting */
/** @typedef {import('../api-types').Schema<'CodeItem'>} CodeItem */

const WEEK = ['一', '二', '三', '四', '五', '六', '日'];
const pad = (n) => String(n).padStart(2, '0');
const iso = (y, m, d) => `${y}-${pad(m)}-${pad(d)}`;
const isoDow = (s) => { const d = new Date(s + 'T00:00:00Z').getUTCDay(); return d === 0 ? 7 : d; };

// The history of an object from the audit trail: when, who, what, the source cited.
const ACTION_TEXT = { create: '新增', update: '修改', confirm: '确认' };
function History({ entity, id, describe, reloadKey }) {
  const r = useLoad(() => api.get('/audit', { query: { entity, id, limit: 100 } }), [entity, id, reloadKey]);
  if (r.loading) return html`<${Loading} />`;
  if (r.error) return html`<${ErrorBox} error=${r.error} />`;
  const items = [...(r.data.items || [])].reverse();
  if (!items.length) return html`<p class="muted small" data-state="none">尚无修改记录（为系统初始数据）</p>`;
  return html`<div class="table-wrap" tabindex="0"><table class="list stack" data-testid="history"><thead><tr>
      <th>时间</th><th>操作</th><th>内容</th><th>依据</th><th>操作人</th></tr></thead><tbody>
    ${items.map((e) => html`<tr>
      <td data-label="时间" class="nowrap">${dateTime(e.at)}</td>
      <td data-label="操作">${ACTION_TEXT[e.action] || '修改'}</td>
      <td data-label="内容">${describe(e.before, e.after)}</td>
      <td data-label="依据">${(e.after && e.after.source) || '—'}</td>
      <td data-label="操作人">${e.actor_user_id ? '用户 ' + e.actor_user_id : '系统'}</td></tr>`)}</tbody></table></div>`;
}

// --- the calendar ---------------------------------------------------------------------------

function Month({ year, month, byDay }) {
  const first = isoDow(iso(year, month, 1));
  const n = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const cells = [];
  for (let i = 1; i < first; i++) cells.push(null);
  for (let d = 1; d <= n; d++) cells.push(d);
  while (cells.length % 7) cells.push(null);
  const weeks = [];
  for (let i = 0; i < cells.length; i += 7) weeks.push(cells.slice(i, i + 7));
  return html`<table class="month">
    <caption>${month} 月</caption>
    <thead><tr>${WEEK.map((w) => html`<th scope="col">${w}</th>`)}</tr></thead>
    <tbody>${weeks.map((wk) => html`<tr>${wk.map((d, i) => {
      if (!d) return html`<td></td>`;
      const day = iso(year, month, d);
      const x = byDay.get(day);
      const cls = x ? (x.kind === 'holiday' ? 'cal-holiday' : 'cal-workday') : i >= 5 ? 'cal-weekend' : '';
      return html`<td class=${cls} data-day=${day} title=${x ? x.name : ''}>${d}</td>`;
    })}</tr>`)}</tbody></table>`;
}

export function CalendarAdmin({ query }) {
  const thisYear = Number(todayCN().slice(0, 4));
  const year = Number(query.year) || thisYear + 1;
  const r = useLoad(() => api.get('/codes/calendar', { query: { year } }), [year]);
  const [days, setDays] = useState(/** @type {CalendarDay[]} */ ([]));
  const [source, setSource] = useState('');
  const [note, setNote] = useState('');
  const [add, setAdd] = useState(/** @type {CalendarDay} */ ({ day: '', kind: 'holiday', name: '' }));
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState(null);
  const [hist, setHist] = useState(0);
  useEffect(() => {
    if (!r.data) return;
    setDays(r.data.items.map((x) => ({ day: x.day, kind: x.kind, name: x.name })));
    setSource(r.data.source || '');
    setNote(r.data.note || '');
  }, [r.data]);
  const years = [thisYear - 1, thisYear, thisYear + 1, thisYear + 2];
  const head = html`<${PageTitle} sub="法定节假日与调休上班日。审查期限按此日历计算工作日；未经确认的年度按工作日（扣除法定节日）计算并标注“期限暂定”。"
      actions=${html`<label class="inline-select">年度 <select aria-label="年度" value=${year} onChange=${(e) => navigate('/admin/calendar?year=' + e.currentTarget.value)}>
        ${years.map((y) => html`<option value=${y} selected=${y === year}>${y} 年</option>`)}</select></label>`}>工作日历</${PageTitle}>`;
  if (r.loading) return html`${head}<${Loading} />`;
  if (r.error) return html`${head}<${ErrorBox} error=${r.error} onRetry=${r.reload} />`;
  const cal = r.data;
  const byDay = new Map(days.map((d) => [d.day, d]));
  const save = async (status) => {
    setErr(null); setSaved(null);
    try {
      const x = await api.put('/calendar/{year}', {
        path: { year }, body: { status, source, note: note || null, days: [...days].sort((a, b) => (a.day < b.day ? -1 : 1)) },
        headers: { 'If-Match': `"${cal.version}"` },
      });
      r.set(x);
      setSaved(x.deadlines_recounted);
      setHist((h) => h + 1);
    } catch (e) { setErr(e); }
  };
  const addDay = () => {
    if (!add.day || !add.name.trim()) return;
    setDays([...days.filter((d) => d.day !== add.day), { day: add.day, kind: add.kind, name: add.name.trim() }]);
    setAdd({ day: '', kind: add.kind, name: add.name });
  };
  const holidays = days.filter((d) => d.kind === 'holiday').length;
  const workdays = days.filter((d) => d.kind === 'workday').length;
  const fe = fieldErrors(err);
  return html`${head}
    ${cal.status === 'confirmed'
      ? html`<div class="alert alert-success" data-testid="calendar-status" data-status="confirmed"><b>${year} 年日历已确认。</b>依据：${cal.source}${cal.confirmed_at ? `（${date(cal.confirmed_at)} 确认）` : ''}</div>`
      : html`<div class="alert alert-warn" role="status" data-testid="calendar-status" data-status="provisional"><b>${year} 年日历为暂定。</b>
          ${cal.items.length ? '目前只有法定节日，尚无调休安排。' : '尚未录入任何节假日。'}国务院办公厅发布该年部分节假日安排的通知后，请逐日录入放假与调休上班日，以通知文号为依据确认。确认前，跨入该年的审查期限按工作日计算并标注“期限暂定”。
          ${cal.source ? html`<div class="small">当前依据：${cal.source}</div>` : ''}</div>`}
    ${saved !== null ? html`<div class="alert alert-success" role="status" data-testid="calendar-saved">已保存。${saved ? `已按新日历重新计算 ${saved} 件待审申请的审查期限。` : '没有待审申请的审查期限需要调整。'}</div>` : ''}
    <div class="kpis">
      <div class="kpi"><div class="k">全年工作日</div><div class="v" data-testid="working-days">${cal.working_days}<small>天</small></div></div>
      <div class="kpi"><div class="k">放假日（含周末）</div><div class="v">${holidays}<small>天</small></div></div>
      <div class="kpi"><div class="k">调休上班日</div><div class="v">${workdays}<small>天</small></div></div>
    </div>
    <${Card} title=${`${year} 年全年视图`}>
      <p class="small muted"><span class="legend cal-holiday">放假</span> <span class="legend cal-workday">调休上班</span> <span class="legend cal-weekend">周末</span>（尚未保存的修改也会显示）</p>
      <div class="year-view">${[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((m) => html`<${Month} year=${year} month=${m} byDay=${byDay} />`)}</div>
    </${Card}>
    <${Card} title="放假与调休日期">
      <div class="form-grid">
        <${Field} label="日期" name="new-day"><input type="date" value=${add.day} min=${iso(year, 1, 1)} max=${iso(year, 12, 31)}
          onInput=${(e) => setAdd({ ...add, day: e.currentTarget.value })} /></${Field}>
        <${Field} label="类型" name="new-kind"><${Select} value=${add.kind} empty=${false} onChange=${(v) => setAdd({ ...add, kind: v === 'workday' ? 'workday' : 'holiday' })}
          items=${[{ code: 'holiday', label: '放假' }, { code: 'workday', label: '调休上班（周六或周日）' }]} /></${Field}>
        <${Field} label="名称" name="new-name"><${TextInput} value=${add.name} placeholder="如：春节、春节调休上班" onInput=${(v) => setAdd({ ...add, name: v })} /></${Field}>
      </div>
      <div class="form-actions"><button class="btn" type="button" onClick=${addDay} disabled=${!add.day || !add.name.trim()}>加入此日期</button></div>
      ${!days.length ? html`<p class="muted small" data-state="none">该年度没有节假日记录</p>` : html`<div class="table-wrap" tabindex="0"><table class="list stack" data-testid="calendar-days"><thead><tr>
        <th>日期</th><th>星期</th><th>类型</th><th>名称</th><th></th></tr></thead><tbody>
        ${[...days].sort((a, b) => (a.day < b.day ? -1 : 1)).map((d) => html`<tr data-day=${d.day}>
          <td data-label="日期" class="nowrap">${d.day}</td><td data-label="星期">周${WEEK[isoDow(d.day) - 1]}</td>
          <td data-label="类型">${d.kind === 'holiday' ? html`<span class="badge badge-red">放假</span>` : html`<span class="badge badge-blue">调休上班</span>`}</td>
          <td data-label="名称">${d.name}</td>
          <td data-label="操作"><button class="btn btn-small btn-danger" type="button" aria-label=${'删除 ' + d.day}
            onClick=${() => setDays(days.filter((x) => x.day !== d.day))}>删除</button></td></tr>`)}</tbody></table></div>`}
    </${Card}>
    <${Card} title="依据与确认">
      <${ErrorSummary} err=${err} labels=${{ source: '依据', note: '备注', status: '状态', days: '日期' }} />
      <div class="form-grid">
        <${Field} label="依据（通知文号与日期）" name="source" errors=${fe} required wide
          help="确认时填写国务院办公厅关于该年部分节假日安排的通知文号，如“国办发明电〔2026〕×号”。">
          <${TextInput} value=${source} onInput=${setSource} /></${Field}>
        <${Field} label="备注" name="note" errors=${fe} wide><${TextArea} rows=${2} value=${note} onInput=${setNote} /></${Field}>
      </div>
      <div class="form-actions">
        <${ActionButton} class="btn" onClick=${() => save('provisional')}>保存为暂定</${ActionButton}>
        <${ActionButton} class="btn btn-primary" confirm=${`确认 ${year} 年日历与国务院通知一致？确认后，跨入该年的审查期限将按此日历重新计算。`}
          onClick=${() => save('confirmed')}>按国务院通知确认</${ActionButton}>
      </div>
    </${Card}>
    <${Card} title="修改记录"><${History} entity="calendar" id=${String(year)} reloadKey=${hist}
      describe=${(b, a) => (a ? `${a.status === 'confirmed' ? '已确认' : '暂定'}，${(a.items || []).length} 个日期` : '—')} /></${Card}>`;
}

// --- settings ------------------------------------------------------------------------------

// The parts of the object settings, in Chinese.
const PART_TEXT = {
  max: '次数上限', window_s: '时间窗（秒）', shared_term: '共同关键词', shared_terms_max: '关键词得分上限',
  title_similarity: '标题相似', same_domain: '同一技术领域', same_county: '同一县区', same_city: '同一城市',
  same_province: '同一省份', trl_fit: '成熟度匹配', mode_fit: '合作方式匹配', price_fit: '价格匹配',
};
function valueText(v, labels) {
  if (Array.isArray(v)) return v.length ? v.map((x) => (labels && labels.get(x)) || x).join('、') : '（空）';
  if (v && typeof v === 'object') return Object.entries(v).map(([k, x], i) => `${PART_TEXT[k] || '第 ' + (i + 1) + ' 项'}：${x}`).join('；');
  return (typeof v === 'string' && labels && labels.get(v)) || String(v);
}
function ruleText(rule) {
  if (!rule) return '';
  const p = [];
  if (rule.min !== undefined || rule.max !== undefined) p.push(`取值 ${rule.min ?? 0} 至 ${rule.max ?? '不限'}`);
  if (rule.list) p.push('须为代码表中的代码');
  return p.join('，');
}

function SettingEditor({ s, done }) {
  const simple = typeof s.value === 'number';
  const [text, setText] = useState(simple ? String(s.value) : JSON.stringify(s.value));
  const [source, setSource] = useState('');
  const [err, setErr] = useState(null);
  const save = async () => {
    setErr(null);
    let value;
    if (simple) value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : text;
    else {
      try { value = JSON.parse(text); } catch { setErr(new Error('格式不正确')); return; }
    }
    try {
      done(await api.put('/settings/{key}', { path: { key: s.key }, body: { value, source }, headers: { 'If-Match': `"${s.version}"` } }));
    } catch (e) { setErr(e); }
  };
  const fe = fieldErrors(err);
  return html`<div class="form setting-editor" data-key=${s.key}>
    <${ErrorSummary} err=${err} labels=${{ value: '取值', source: '依据' }} />
    <div class="form-grid">
      <${Field} label=${'新取值' + (simple ? '' : '（结构与现值相同）')} name="value" errors=${fe} help=${ruleText(s.rule)}>
        ${simple ? html`<input type="text" inputmode="numeric" value=${text} onInput=${(e) => setText(e.currentTarget.value)} />`
          : html`<textarea rows="3" value=${text} onInput=${(e) => setText(e.currentTarget.value)}></textarea>`}
      </${Field}>
      <${Field} label="依据（法规、文件或决定）" name="source" errors=${fe} required><${TextInput} value=${source} onInput=${setSource} /></${Field}>
    </div>
    <div class="form-actions"><${ActionButton} class="btn btn-primary" onClick=${save}>保存</${ActionButton}>
      <button class="btn" type="button" onClick=${() => done(null)}>取消</button></div>
  </div>`;
}

// The labels of the codes a setting may list (its rule's code list), fetched
// side by side; `loading` stays true until they are here, so a value is never
// shown as its bare code first.
function useLabels() {
  const r = useLoad(async () => {
    const m = new Map();
    const lists = /** @type {const} */ (['plan_sources', 'org_types', 'tax_vat_bases']);
    const got = await Promise.all(lists.map((list) => api.get('/codes/{list}', { path: { list } })));
    for (const g of got) for (const c of g.items) m.set(c.code, c.label);
    return m;
  }, []);
  return { labels: r.data, loading: r.loading };
}

export function SettingsAdmin() {
  const r = useLoad(() => api.get('/settings'), []);
  const { labels, loading: labelsLoading } = useLabels();
  const [editing, setEditing] = useState(/** @type {string | null} */ (null));
  const [open, setOpen] = useState(/** @type {string | null} */ (null));
  const [hist, setHist] = useState(0);
  const head = html`<${PageTitle} sub="审查时限、专家评审门槛、公示期、税率、限流等随法规调整的参数。每次修改须注明依据，并记入审计日志。">规则参数</${PageTitle}>`;
  if (r.loading || labelsLoading) return html`${head}<${Loading} />`;
  if (r.error) return html`${head}<${ErrorBox} error=${r.error} onRetry=${r.reload} />`;
  const items = r.data.items;
  return html`${head}<div class="card"><div class="table-wrap" tabindex="0"><table class="list stack" data-testid="settings"><thead><tr>
      <th>参数</th><th>现值</th><th>依据</th><th>更新</th><th></th></tr></thead><tbody>
    ${items.map((s) => html`<tr data-key=${s.key}>
      <td data-label="参数">${s.description}</td>
      <td data-label="现值" class="num" data-testid="setting-value">${valueText(s.value, labels)}</td>
      <td data-label="依据" class="small">${s.source || html`<span class="muted">初始值</span>`}</td>
      <td data-label="更新" class="nowrap small">${date(s.updated_at)}</td>
      <td data-label="操作" class="nowrap"><button class="btn btn-small" type="button" onClick=${() => setEditing(editing === s.key ? null : s.key)}>修改</button>
        <button class="btn btn-small" type="button" onClick=${() => setOpen(open === s.key ? null : s.key)}>记录</button></td>
    </tr>
    ${editing === s.key ? html`<tr class="row-editor"><td colspan="5"><${SettingEditor} s=${s} done=${(x) => {
      setEditing(null);
      if (x) { r.set({ ...r.data, items: items.map((y) => (y.key === x.key ? x : y)) }); setHist((h) => h + 1); }
    }} /></td></tr>` : ''}
    ${open === s.key ? html`<tr><td colspan="5"><${History} entity="setting" id=${s.key} reloadKey=${hist}
      describe=${(b, a) => `${b ? valueText(b.value, labels) : '—'} → ${a ? valueText(a.value, labels) : '—'}`} /></td></tr>` : ''}`)}
  </tbody></table></div></div>`;
}

// --- code lists ----------------------------------------------------------------------------

function CodeEditor({ list, item, tops, done }) {
  const [f, setF] = useState({
    code: item ? item.code : '', label: item ? item.label : '', label_en: item ? item.label_en : '',
    parent_code: item ? item.parent_code : null, sort: item ? String(item.sort) : '', active: item ? item.active : true, source: '',
  });
  const [err, setErr] = useState(null);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const save = async () => {
    setErr(null);
    /** @type {import('../api-types').Schema<'CodeInput'>} */
    const body = { label: f.label, label_en: f.label_en, parent_code: f.parent_code || null, active: f.active, source: f.source };
    if (f.sort.trim() !== '') body.sort = Number(f.sort);
    try {
      done(await api.put('/codes/{list}/{code}', { path: { list, code: f.code }, body, headers: { 'If-Match': `"${item ? item.version : 0}"` } }));
    } catch (e) { setErr(e); }
  };
  const fe = fieldErrors(err);
  return html`<div class="form code-editor">
    <${ErrorSummary} err=${err} labels=${{ code: '代码', label: '名称', label_en: '英文名称', parent_code: '上级', sort: '排序', active: '状态', source: '依据' }} />
    <div class="form-grid">
      <${Field} label="代码" name="code" errors=${fe} required help=${item ? '代码不可更改' : '小写字母、数字或下划线；单位类型为三位数字'}>
        <input type="text" value=${f.code} readonly=${!!item} onInput=${(e) => set('code')(e.currentTarget.value)} /></${Field}>
      <${Field} label="名称" name="label" errors=${fe} required><${TextInput} value=${f.label} onInput=${set('label')} /></${Field}>
      <${Field} label="英文名称" name="label_en" errors=${fe}><${TextInput} value=${f.label_en} onInput=${set('label_en')} /></${Field}>
      <${Field} label="上级" name="parent_code" errors=${fe}><${Select} value=${f.parent_code} empty="（一级）" onChange=${set('parent_code')}
        items=${tops.filter((t) => !item || t.code !== item.code)} /></${Field}>
      <${Field} label="排序" name="sort" errors=${fe}><input type="text" inputmode="numeric" value=${f.sort} onInput=${(e) => set('sort')(e.currentTarget.value)} /></${Field}>
      <${Field} label="状态" name="active" errors=${fe}><label class="check"><input type="checkbox" checked=${f.active} onChange=${(e) => set('active')(e.currentTarget.checked)} /> 启用</label></${Field}>
      <${Field} label="依据（法规或标准）" name="source" errors=${fe} required wide><${TextInput} value=${f.source} onInput=${set('source')} /></${Field}>
    </div>
    <div class="form-actions"><${ActionButton} class="btn btn-primary" onClick=${save}>保存</${ActionButton}>
      <button class="btn" type="button" onClick=${() => done(null)}>取消</button></div>
  </div>`;
}

export function CodesAdmin({ query }) {
  const lists = useLoad(() => api.get('/codes'), []);
  const list = query.list || 'contract_types';
  const r = useLoad(() => request(list), [list]);
  const [editing, setEditing] = useState(/** @type {string | null} */ (null));
  const [saved, setSaved] = useState('');
  function request(l) { return api.get('/codes/{list}', { path: { list: /** @type {any} */ (l) }, query: { include_inactive: 'true' } }); }
  const head = html`<${PageTitle} sub="合同类别、技术领域、单位类型、不予登记理由等代码表。代码一经使用不可删除，可停用；每次修改须注明依据。"
      actions=${lists.data ? html`<label class="inline-select">代码表 <select aria-label="代码表" onChange=${(e) => navigate('/admin/codes?list=' + e.currentTarget.value)}>
        ${lists.data.items.map((l) => html`<option value=${l.list} selected=${l.list === list}>${l.label}</option>`)}</select></label>` : ''}>代码表</${PageTitle}>`;
  if (r.loading) return html`${head}<${Loading} />`;
  if (r.error) return html`${head}<${ErrorBox} error=${r.error} onRetry=${r.reload} />`;
  const items = r.data.items;
  const tops = items.filter((x) => !x.parent_code && x.active);
  const labelOf = (c) => (items.find((x) => x.code === c) || { label: '' }).label;
  const after = (x) => {
    setEditing(null);
    if (x) { setSaved(x.label); r.reload(); }
  };
  return html`${head}
    ${saved ? html`<div class="alert alert-success" role="status" data-testid="code-saved">已保存“${saved}”。</div>` : ''}
    <${Card} title=${r.data.label} actions=${html`<button class="btn btn-small btn-primary" type="button" onClick=${() => setEditing('')}>新增代码</button>`}>
      <p class="small muted">${r.data.description}</p>
      ${editing === '' ? html`<${CodeEditor} list=${list} item=${null} tops=${tops} done=${after} />` : ''}
      <div class="table-wrap" tabindex="0"><table class="list stack" data-testid="codes"><thead><tr>
        <th>名称</th><th>上级</th><th class="right">排序</th><th>状态</th><th>依据</th><th></th></tr></thead><tbody>
        ${items.map((c) => html`<tr data-code=${c.code} class=${c.active ? '' : 'muted'}>
          <td data-label="名称">${c.parent_code ? '　' : ''}${c.label}</td>
          <td data-label="上级">${c.parent_code ? labelOf(c.parent_code) : '—'}</td>
          <td data-label="排序" class="right num">${c.sort}</td>
          <td data-label="状态">${c.active ? html`<span class="badge badge-green">启用</span>` : html`<span class="badge badge-grey">已停用</span>`}</td>
          <td data-label="依据" class="small">${c.source || html`<span class="muted">初始数据</span>`}</td>
          <td data-label="操作"><button class="btn btn-small" type="button" aria-label=${'修改 ' + c.label} onClick=${() => setEditing(c.code)}>修改</button></td>
        </tr>
        ${editing === c.code ? html`<tr class="row-editor"><td colspan="6"><${CodeEditor} list=${list} item=${c} tops=${tops} done=${after} />
          <h3 class="small">修改记录</h3><${History} entity="code" id=${list + '/' + c.code}
            describe=${(b, a) => (a ? `${a.label}${a.active ? '' : '（停用）'}` : '—')} /></td></tr>` : ''}`)}
      </tbody></table></div>
    </${Card}>`;
}
