// Member screens (universities, institutes, enterprises, brokers): publishing
// results and needs with forms that explain each field and show the server's
// field errors beside it; my results / needs with their states; and the
// reviewer's queue.  Deals, auctions and the message centre are in deals.js.
import { useState, useEffect } from 'preact/hooks';
import { api, listAll } from '../api.js';
import {
  html, wanText, date, dateTime, Status, STATUS, Loading, ErrorBox, ErrorSummary, Empty, Card, PageTitle, Field, TextInput, TextArea,
  Select, CodeSelect, CodeChecks, ListInput, MoneyInput, RegionPicker, useLoad, useCodes, usePaged, More, navigate,
  ActionButton, fieldErrors, fieldLabel, problemText, Notice, Tabs, Facts,
} from '../ui.js';

const TRL_ITEMS = [
  ['1', 'TRL 1 · 基本原理被发现'], ['2', 'TRL 2 · 形成技术概念'], ['3', 'TRL 3 · 关键功能的概念验证'],
  ['4', 'TRL 4 · 实验室环境验证'], ['5', 'TRL 5 · 相关环境中验证'], ['6', 'TRL 6 · 相关环境中原型演示'],
  ['7', 'TRL 7 · 实际环境中样机演示'], ['8', 'TRL 8 · 系统完成并通过验证'], ['9', 'TRL 9 · 实际应用并定型'],
].map(([code, label]) => ({ code, label }));

// Errors of nested rows ("ip_records.0.number") that no cell shows, listed
// under the rows editor with the row named.
function RowErrors({ fe, prefix, labels, shown = [] }) {
  const keys = Object.keys(fe).filter((k) => (k === prefix || k.startsWith(prefix + '.')) && !shown.includes(k));
  return keys.map((k) => fe[k].map((t) => html`<div class="field-error" role="alert">${fieldLabel(k, labels)}：${t}</div>`));
}

// --- research result form ---------------------------------------------------------------
const RESULT_LABELS = {
  title: '成果名称', summary: '成果简介', keywords: '关键词', completers: '完成人', domain: '技术领域', industries: '适用行业',
  trl: '技术成熟度', maturity: '成果阶段', ip_records: '知识产权', 'ip_records.type': '类型', 'ip_records.number': '编号',
  'ip_records.status': '状态', transfer_modes: '转化方式', pricing_mode: '定价方式', asking_price_fen: '挂牌价格',
  region_code: '所在地区', contact: '联系方式', 'contact.name': '联系人', 'contact.phone': '联系电话', 'contact.email': '联系邮箱',
};
const EMPTY_RESULT = {
  title: '', summary: '', keywords: [], completers: [], domain: null, industries: [], trl: null, maturity: null, ip_records: [],
  transfer_modes: [], pricing_mode: 'negotiated', asking_price_fen: null, region_code: null, contact: { name: '', phone: '', email: '' },
};
/**
 * The form's state as the body of POST /results (and PATCH).
 * @returns {import('../api-types').Body<'/results', 'post'>}
 */
function resultBody(f) {
  const c = {};
  for (const k of ['name', 'phone', 'email']) if (f.contact && f.contact[k]) c[k] = f.contact[k].trim();
  return {
    title: f.title.trim(), summary: f.summary, keywords: f.keywords, completers: f.completers, domain: f.domain, industries: f.industries,
    trl: f.trl ? Number(f.trl) : null, maturity: f.maturity,
    ip_records: f.ip_records.filter((r) => r.type || r.number).map((r) => ({ type: r.type || '', number: r.number || null, status: r.status || null })),
    transfer_modes: f.transfer_modes, pricing_mode: f.pricing_mode, asking_price_fen: f.asking_price_fen ?? null,
    contact: c, ...(f.region_code ? { region_code: f.region_code } : {}),
  };
}

// Save, then submit.  When a new draft made by "save and submit" cannot be
// submitted, it is deleted again: the form keeps what was typed, and no
// half-finished draft is left behind in 我的成果 / 我的需求.
async function saveAndSubmit({ id, create, update, submit, remove }) {
  if (id) {
    await update(id);
    return submit(id);
  }
  const x = await create();
  try {
    return await submit(x.id);
  } catch (e) {
    await remove(x.id).catch(() => {});
    throw e;
  }
}

// Listings of an organisation not yet verified can be saved, not submitted.
const isVerified = (me) => !me.org || me.org.status === 'verified';
function UnverifiedNotice() {
  return html`<${Notice} tone="warn">本单位尚未通过平台认证：现在可以先保存草稿，认证通过后再提交审核。认证一般在一个工作日内完成。</${Notice}>`;
}

export function ResultForm({ params, me }) {
  const editing = !!params.id;
  const verified = isVerified(me);
  const [f, setF] = useState(null);
  const [loadErr, setLoadErr] = useState(null);
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState(null);
  useEffect(() => {
    if (!editing) { setF({ ...EMPTY_RESULT, region_code: me.org ? me.org.region_code : null }); return; }
    api.get('/results/{id}', { path: { id: params.id } }).then((x) => setF({
      ...EMPTY_RESULT, ...x, id: x.id, contact: { ...EMPTY_RESULT.contact, ...(x.contact || {}) }, trl: x.trl ? String(x.trl) : null,
      transfer_modes: x.transfer_modes.map((m) => m.code), ip_records: x.ip_records.map((r) => ({ type: r.type, number: r.number || '', status: r.status || null })),
    }), setLoadErr);
  }, [params.id]);
  if (loadErr) return html`<${PageTitle}>修改科技成果</${PageTitle}><${ErrorBox} error=${loadErr} />`;
  if (!f) return html`<${Loading} />`;
  const fe = fieldErrors(err);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const setC = (k) => (v) => setF({ ...f, contact: { ...f.contact, [k]: v } });
  const save = async (submit) => {
    setErr(null); setSaved(null);
    let x;
    try {
      const body = resultBody(f);
      if (submit) {
        x = await saveAndSubmit({
          id: f.id,
          create: () => api.post('/results', { body }),
          update: (id) => api.patch('/results/{id}', { path: { id }, body }),
          submit: (id) => api.post('/results/{id}/submit', { path: { id } }),
          remove: (id) => api.del('/results/{id}', { path: { id } }),
        });
      } else {
        x = f.id ? await api.patch('/results/{id}', { path: { id: f.id }, body }) : await api.post('/results', { body });
        setF((old) => ({ ...old, id: x.id }));
      }
    } catch (e) {
      setErr(e);
      window.scrollTo({ top: 0, behavior: 'smooth' });
      return;
    }
    if (submit) navigate('/my/results?submitted=' + x.id);
    else setSaved(x);
  };
  return html`<${PageTitle} sub="带 * 的为提交审核时的必填项；草稿可随时保存。审核通过后成果向公众公开，可被检索和匹配。"
      actions=${html`<a class="btn" href="#/my/results">我的成果</a>`}>${editing ? '修改科技成果' : '发布科技成果'}</${PageTitle}>
    <form class="form" onSubmit=${(e) => { e.preventDefault(); if (verified) save(true); else save(false); }} novalidate>
      ${verified ? '' : html`<${UnverifiedNotice} />`}
      <${ErrorSummary} err=${err} labels=${RESULT_LABELS} />
      ${saved ? html`<${Notice} tone="success">草稿已保存（编号 ${saved.id}）。</${Notice}>` : ''}
      <${Card} title="成果内容"><div class="form-grid">
        <${Field} wide label="成果名称" name="title" errors=${fe} required help="简明反映技术内容，不超过 200 字，如“富硒茶叶低温萃取与速溶粉制备技术”。">
          <${TextInput} name="title" value=${f.title} onInput=${set('title')} maxlength="200" /></${Field}>
        <${Field} wide label="成果简介" name="summary" errors=${fe} required help=${`技术原理、主要技术指标、创新点、应用领域和前景，不超过 2000 字（已写 ${[...(f.summary || '')].length} 字）。`}>
          <${TextArea} name="summary" rows=${7} value=${f.summary} onInput=${set('summary')} /></${Field}>
        <${Field} label="关键词" name="keywords" errors=${fe} help="3–8 个，用逗号或顿号分隔；用于检索和与技术需求的匹配。">
          <${ListInput} name="keywords" value=${f.keywords} onChange=${set('keywords')} placeholder="如：富硒茶，低温萃取，速溶茶粉" /></${Field}>
        <${Field} label="完成人" name="completers" errors=${fe} help="按贡献排序，用逗号分隔。">
          <${ListInput} name="completers" value=${f.completers} onChange=${set('completers')} /></${Field}>
        <${Field} label="技术领域" name="domain" errors=${fe} required help="按技术市场统计的技术领域选择其一。">
          <${CodeSelect} name="domain" list="domains" value=${f.domain} onChange=${set('domain')} /></${Field}>
        <${Field} label="适用行业" name="industries" errors=${fe} help="可多个，用逗号分隔，如：茶叶加工，饮料制造。">
          <${ListInput} name="industries" value=${f.industries} onChange=${set('industries')} /></${Field}>
        <${Field} label="技术成熟度（TRL）" name="trl" errors=${fe} required help="技术就绪水平 1–9 级：实验室验证为 4 级，实际环境样机为 7 级，已定型应用为 9 级。">
          <${Select} name="trl" items=${TRL_ITEMS} value=${f.trl} onChange=${set('trl')} /></${Field}>
        <${Field} label="成果阶段" name="maturity" errors=${fe} help="初期（实验室阶段）、中期（小试/中试）或成熟（可产业化）。">
          <${CodeSelect} name="maturity" list="maturity_stages" value=${f.maturity} onChange=${set('maturity')} /></${Field}>
        <${Field} wide label="所在地区" name="region_code" errors=${fe} required group help="成果持有单位或实施地所在地区（选到区县更便于就近匹配）。">
          <${RegionPicker} name="region_code" value=${f.region_code} onChange=${set('region_code')} /></${Field}>
      </div></${Card}>
      <${Card} title="知识产权">
        <p class="small muted" style="margin-top:0">列出成果涉及的专利、软件著作权等。专利号含校验位，如 ZL2023 1 0123456.6；软件著作权登记号如 2023SR0123456。</p>
        <${IpRows} rows=${f.ip_records} onChange=${set('ip_records')} fe=${fe} />
        <${RowErrors} fe=${fe} prefix="ip_records" labels=${RESULT_LABELS} shown=${f.ip_records.flatMap((_, i) => ['type', 'number', 'status'].map((k) => `ip_records.${i}.${k}`))} />
      </${Card}>
      <${Card} title="转化方式与价格"><div class="form-grid">
        <${Field} wide label="转化方式" name="transfer_modes" errors=${fe} required group help="可多选：转让、许可、作价投资、合作实施等。">
          <${CodeChecks} list="transfer_modes" value=${f.transfer_modes} onChange=${set('transfer_modes')} /></${Field}>
        <${Field} label="定价方式" name="pricing_mode" errors=${fe} required
          help="协议定价：双方协商（国有单位须公示拟交易价）；挂牌交易：按标价成交；拍卖：公开竞价，价高者得。">
          <${CodeSelect} name="pricing_mode" list="pricing_modes" value=${f.pricing_mode} onChange=${set('pricing_mode')} /></${Field}>
        <${Field} label=${f.pricing_mode === 'listed' ? '挂牌价格' : f.pricing_mode === 'auction' ? '参考价格' : '参考价格'} name="asking_price_fen" errors=${fe}
            required=${f.pricing_mode === 'listed'} help=${f.pricing_mode === 'listed' ? '挂牌交易须填写价格。' : f.pricing_mode === 'auction' ? '成果发布后，在成果页面设置保留价、加价幅度和截止时间，开启竞价。' : '留空表示“面议”。'}>
            <${MoneyInput} name="asking_price_fen" scale=${10000} value=${f.asking_price_fen} onChange=${set('asking_price_fen')} placeholder="面议" /></${Field}>
      </div></${Card}>
      <${Card} title="联系方式"><div class="form-grid">
        <${Field} label="联系人" name="contact.name" errors=${fe}><${TextInput} name="contact.name" value=${f.contact.name} onInput=${setC('name')} /></${Field}>
        <${Field} label="联系电话" name="contact.phone" errors=${fe} help="如 0827-5251234"><${TextInput} name="contact.phone" value=${f.contact.phone} onInput=${setC('phone')} /></${Field}>
        <${Field} label="联系邮箱" name="contact.email" errors=${fe}><${TextInput} name="contact.email" value=${f.contact.email} onInput=${setC('email')} /></${Field}>
      </div></${Card}>
      <div class="form-actions">
        ${verified ? html`<button class="btn btn-primary" type="submit">保存并提交审核</button>
        <${ActionButton} class="btn" onClick=${() => save(false)}>保存草稿</${ActionButton}>`
          : html`<${ActionButton} class="btn btn-primary" onClick=${() => save(false)}>保存草稿</${ActionButton}>`}
        <a class="btn" href="#/my/results">取消</a>
      </div>
    </form>`;
}

// IP status: the values the server takes (IpRecordInput.status).
/** The spec's three states of a record, in Chinese. @type {{code: NonNullable<import('../api-types').Schema<'IpRecordInput'>['status']>, label: string}[]} */
const IP_STATUS_ITEMS = [{ code: 'filed', label: '已申请' }, { code: 'granted', label: '已授权' }, { code: 'lapsed', label: '已失效' }];
const IP_EXAMPLE = { patent: 'ZL2023 1 0123456.6', software_copyright: '2023SR0123456' };
function IpRows({ rows, onChange, fe }) {
  const types = useCodes('ip_types');
  const upd = (i, k, v) => onChange(rows.map((r, j) => (j === i ? { ...r, [k]: v } : r)));
  const errs = (i, k) => (fe[`ip_records.${i}.${k}`] || []).map((t) => html`<div class="field-error" role="alert">${t}</div>`);
  return html`<div class="rows-editor">
    ${rows.map((r, i) => html`<div class="row" data-row=${i} role="group" aria-label=${`知识产权第 ${i + 1} 项`}>
      <div class="cell" data-field=${`ip_records.${i}.type`}><${Select} items=${types.filter((t) => t.code !== 'none')} value=${r.type} onChange=${(v) => upd(i, 'type', v)} empty="类型" aria-label=${`知识产权第 ${i + 1} 项：类型`} />${errs(i, 'type')}</div>
      <div class="cell" data-field=${`ip_records.${i}.number`}><input type="text" placeholder=${'编号，如 ' + (IP_EXAMPLE[r.type] || 'ZL2023 1 0123456.6')} value=${r.number || ''} onInput=${(e) => upd(i, 'number', e.currentTarget.value)} aria-label=${`知识产权第 ${i + 1} 项：编号`} />${errs(i, 'number')}</div>
      <div class="cell" data-field=${`ip_records.${i}.status`}><${Select} items=${IP_STATUS_ITEMS} value=${r.status} onChange=${(v) => upd(i, 'status', v)} empty="状态" aria-label=${`知识产权第 ${i + 1} 项：状态`} />${errs(i, 'status')}</div>
      <button type="button" class="btn btn-small" onClick=${() => onChange(rows.filter((_, j) => j !== i))}>删除</button>
    </div>`)}
    <button type="button" class="btn btn-small" onClick=${() => onChange([...rows, { type: 'patent', number: '', status: null }])}>＋ 添加知识产权</button>
  </div>`;
}

// --- my results ---------------------------------------------------------------------------------
export function MyResults({ me, query }) {
  /** @type {[import('../api-types').Schema<'ResultStatus'> | '', any]} */
  const [status, setStatus] = useState('');
  // the server filters: this organisation's results (mine=true), in the state chosen
  const paged = usePaged((cursor) => api.get('/results', { query: { mine: me.org ? 'true' : undefined, status: status || undefined, limit: 20, cursor } }), [status]);
  const items = paged.items;
  return html`<${PageTitle} sub=${me.org ? me.org.name : ''} actions=${html`<a class="btn btn-primary" href="#/my/results/new">＋ 发布科技成果</a>`}>我的科技成果</${PageTitle}>
    ${query.submitted ? html`<${Notice} tone="success">成果已提交审核，审核通过后将向公众发布。</${Notice}>` : ''}
    <div class="card">
      <${Tabs} value=${status} onChange=${setStatus} tabs=${[['', '全部'], ['draft', '草稿'], ['submitted', '待审核'], ['published', '已发布'], ['rejected', '已退回'], ['under_notice', '公示中'], ['withdrawn', '已撤回']]} />
      <${ErrorBox} error=${paged.error} onRetry=${paged.reload} />
        ${!paged.loading && !paged.error && !items.length ? html`<${Empty}>还没有${status ? STATUS.result[status] + '的' : ''}成果。<a href="#/my/results/new">发布第一项成果</a></${Empty}>` : ''}
        ${items.length ? html`<div class="table-wrap" tabindex="0"><table class="list stack"><thead><tr><th>成果名称</th><th>状态</th><th>技术领域</th><th>价格</th><th>更新时间</th><th></th></tr></thead><tbody>
          ${items.map((x) => html`<tr data-id=${x.id}>
            <td data-label="成果"><a href=${'#/results/' + x.id}>${x.title}</a>${x.reject_reason && x.status === 'rejected' ? html`<div class="small" style="color:var(--red)">退回理由：${x.reject_reason}</div>` : ''}</td>
            <td data-label="状态"><${Status} kind="result" value=${x.status} /></td>
            <td data-label="领域">${x.domain_label || '—'}</td>
            <td data-label="价格" class="nowrap">${wanText(x.asking_price_fen)}</td>
            <td data-label="更新" class="nowrap">${date(x.updated_at)}</td>
            <td data-label="操作" class="nowrap">${['draft', 'rejected'].includes(x.status) ? html`<a class="btn btn-small" href=${'#/my/results/' + x.id + '/edit'}>修改</a>` : html`<a class="btn btn-small" href=${'#/results/' + x.id}>查看</a>`}</td>
          </tr>`)}</tbody></table></div>` : ''}
        <${More} paged=${paged} />
    </div>`;
}

// --- technology need form --------------------------------------------------------------------------
const NEED_LABELS = {
  title: '需求名称', description: '需求描述', trl_min: '最低技术成熟度', keywords: '关键词', domain: '技术领域', industry: '所属行业', region_code: '所在地区',
  budget_min_fen: '预算下限', budget_max_fen: '预算上限', deadline: '截止日期', cooperation_modes: '合作方式',
  'contact.name': '联系人', 'contact.phone': '联系电话', 'contact.email': '联系邮箱', contact: '联系方式',
};
const EMPTY_NEED = { title: '', description: '', keywords: [], domain: null, industry: '', region_code: null, budget_min_fen: null,
  budget_max_fen: null, deadline: '', cooperation_modes: [], contact: { name: '', phone: '', email: '' } };
/** @returns {import('../api-types').Body<'/needs', 'post'>} */
function needBody(f) {
  const c = {};
  for (const k of ['name', 'phone', 'email']) if (f.contact && f.contact[k]) c[k] = f.contact[k].trim();
  const b = {
    title: f.title.trim(), description: f.description, keywords: f.keywords, domain: f.domain, industry: f.industry || null,
    region_code: f.region_code, budget_min_fen: f.budget_min_fen ?? null, budget_max_fen: f.budget_max_fen ?? null,
    deadline: f.deadline || null, cooperation_modes: f.cooperation_modes, contact: c,
    ...(f.trl_min ? { trl_min: Number(f.trl_min) } : {}),
  };
  if (!b.region_code) delete b.region_code;
  return b;
}
export function NeedForm({ params, me }) {
  const editing = !!params.id;
  const verified = isVerified(me);
  const [f, setF] = useState(null);
  const [loadErr, setLoadErr] = useState(null);
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState(null);
  useEffect(() => {
    if (!editing) { setF({ ...EMPTY_NEED, region_code: me.org ? me.org.region_code : null }); return; }
    api.get('/needs/{id}', { path: { id: params.id } }).then((x) => setF({ ...EMPTY_NEED, ...x, id: x.id, industry: x.industry || '', deadline: x.deadline || '',
      cooperation_modes: x.cooperation_modes.map((m) => m.code), contact: { ...EMPTY_NEED.contact, ...(x.contact || {}) } }), setLoadErr);
  }, [params.id]);
  if (loadErr) return html`<${PageTitle}>修改技术需求</${PageTitle}><${ErrorBox} error=${loadErr} />`;
  if (!f) return html`<${Loading} />`;
  const fe = fieldErrors(err);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const setC = (k) => (v) => setF({ ...f, contact: { ...f.contact, [k]: v } });
  const save = async (submit) => {
    setErr(null); setSaved(null);
    let x;
    try {
      const body = needBody(f);
      if (submit) {
        x = await saveAndSubmit({
          id: f.id,
          create: () => api.post('/needs', { body }),
          update: (id) => api.patch('/needs/{id}', { path: { id }, body }),
          submit: (id) => api.post('/needs/{id}/submit', { path: { id } }),
          remove: (id) => api.del('/needs/{id}', { path: { id } }),
        });
      } else {
        x = f.id ? await api.patch('/needs/{id}', { path: { id: f.id }, body }) : await api.post('/needs', { body });
        setF((old) => ({ ...old, id: x.id }));
      }
    } catch (e) { setErr(e); window.scrollTo({ top: 0, behavior: 'smooth' }); return; }
    if (submit) navigate('/needs/' + x.id);
    else setSaved(x);
  };
  return html`<${PageTitle} sub="描述越具体，平台匹配到的科技成果越准确。发布后可查看匹配的成果及匹配理由，并直接发起洽谈。"
      actions=${html`<a class="btn" href="#/my/needs">我的需求</a>`}>${editing ? '修改技术需求' : '发布技术需求'}</${PageTitle}>
    <form class="form" onSubmit=${(e) => { e.preventDefault(); if (verified) save(true); else save(false); }} novalidate>
      ${verified ? '' : html`<${UnverifiedNotice} />`}
      <${ErrorSummary} err=${err} labels=${NEED_LABELS} />
      ${saved ? html`<${Notice} tone="success">草稿已保存（编号 ${saved.id}）。</${Notice}>` : ''}
      <${Card} title="需求内容"><div class="form-grid">
        <${Field} wide label="需求名称" name="title" errors=${fe} required help="一句话说明要解决的技术问题，不超过 200 字。">
          <${TextInput} name="title" value=${f.title} onInput=${set('title')} maxlength="200" /></${Field}>
        <${Field} wide label="需求描述" name="description" errors=${fe} required help=${`现状与问题、期望达到的技术指标、应用场景、已有条件，不超过 4000 字（已写 ${[...(f.description || '')].length} 字）。`}>
          <${TextArea} name="description" rows=${7} value=${f.description} onInput=${set('description')} /></${Field}>
        <${Field} label="关键词" name="keywords" errors=${fe} help="3–8 个，用逗号分隔，用于匹配科技成果。">
          <${ListInput} name="keywords" value=${f.keywords} onChange=${set('keywords')} /></${Field}>
        <${Field} label="技术领域" name="domain" errors=${fe} required><${CodeSelect} name="domain" list="domains" value=${f.domain} onChange=${set('domain')} /></${Field}>
        <${Field} label="所属行业" name="industry" errors=${fe}><${TextInput} name="industry" value=${f.industry} onInput=${set('industry')} placeholder="如：茶叶加工" /></${Field}>
        <${Field} label="最低技术成熟度" name="trl_min" errors=${fe} help="希望成果至少达到的 TRL 等级，用于匹配；可不选。">
          <${Select} name="trl_min" items=${TRL_ITEMS} value=${f.trl_min ? String(f.trl_min) : null} onChange=${set('trl_min')} empty="不限" /></${Field}>
        <${Field} label="截止日期" name="deadline" errors=${fe} help="过期后需求自动关闭。"><input type="date" name="deadline" value=${f.deadline} onInput=${(e) => set('deadline')(e.currentTarget.value)} /></${Field}>
        <${Field} wide label="所在地区" name="region_code" errors=${fe} required group><${RegionPicker} name="region_code" value=${f.region_code} onChange=${set('region_code')} /></${Field}>
        <${Field} label="预算下限" name="budget_min_fen" errors=${fe} help="上下限都留空表示“面议”。"><${MoneyInput} name="budget_min_fen" scale=${10000} value=${f.budget_min_fen} onChange=${set('budget_min_fen')} /></${Field}>
        <${Field} label="预算上限" name="budget_max_fen" errors=${fe}><${MoneyInput} name="budget_max_fen" scale=${10000} value=${f.budget_max_fen} onChange=${set('budget_max_fen')} /></${Field}>
        <${Field} wide label="期望的合作方式" name="cooperation_modes" errors=${fe} required group><${CodeChecks} list="cooperation_modes" value=${f.cooperation_modes} onChange=${set('cooperation_modes')} /></${Field}>
      </div></${Card}>
      <${Card} title="联系方式"><div class="form-grid">
        <${Field} label="联系人" name="contact.name" errors=${fe}><${TextInput} name="contact.name" value=${f.contact.name} onInput=${setC('name')} /></${Field}>
        <${Field} label="联系电话" name="contact.phone" errors=${fe}><${TextInput} name="contact.phone" value=${f.contact.phone} onInput=${setC('phone')} /></${Field}>
        <${Field} label="联系邮箱" name="contact.email" errors=${fe}><${TextInput} name="contact.email" value=${f.contact.email} onInput=${setC('email')} /></${Field}>
      </div></${Card}>
      <div class="form-actions">
        ${verified ? html`<button class="btn btn-primary" type="submit">发布需求</button>
        <${ActionButton} class="btn" onClick=${() => save(false)}>保存草稿</${ActionButton}>`
          : html`<${ActionButton} class="btn btn-primary" onClick=${() => save(false)}>保存草稿</${ActionButton}>`}
        <a class="btn" href="#/my/needs">取消</a>
      </div>
    </form>`;
}

export function MyNeeds({ me }) {
  /** @type {[import('../api-types').Schema<'NeedStatus'> | '', any]} */
  const [status, setStatus] = useState('');
  const paged = usePaged((cursor) => api.get('/needs', { query: { mine: me.org ? 'true' : undefined, status: status || undefined, limit: 20, cursor } }), [status]);
  const items = paged.items;
  return html`<${PageTitle} sub=${me.org ? me.org.name : ''} actions=${html`<a class="btn btn-primary" href="#/my/needs/new">＋ 发布技术需求</a>`}>我的技术需求</${PageTitle}>
    <div class="card">
      <${Tabs} value=${status} onChange=${setStatus} tabs=${[['', '全部'], ['draft', '草稿'], ['submitted', '待审核'], ['open', '征集中'], ['matched', '已对接'], ['closed', '已关闭'], ['expired', '已过期']]} />
      <${ErrorBox} error=${paged.error} onRetry=${paged.reload} />
        ${!paged.loading && !paged.error && !items.length ? html`<${Empty}>还没有技术需求。<a href="#/my/needs/new">发布需求</a></${Empty}>` : ''}
        ${items.length ? html`<div class="table-wrap" tabindex="0"><table class="list stack"><thead><tr><th>需求名称</th><th>状态</th><th>技术领域</th><th>截止日期</th><th></th></tr></thead><tbody>
          ${items.map((x) => html`<tr data-id=${x.id}>
            <td data-label="需求"><a href=${'#/needs/' + x.id}>${x.title}</a></td>
            <td data-label="状态"><${Status} kind="need" value=${x.status} /></td>
            <td data-label="领域">${x.domain_label || '—'}</td>
            <td data-label="截止" class="nowrap">${date(x.deadline)}</td>
            <td data-label="操作" class="nowrap"><a class="btn btn-small" href=${'#/needs/' + x.id}>${['open', 'matched'].includes(x.status) ? '查看匹配' : '查看'}</a></td>
          </tr>`)}</tbody></table></div>` : ''}
        <${More} paged=${paged} />
    </div>`;
}

// --- reviewer -------------------------------------------------------------------------------------
export function ReviewQueue() {
  const results = useLoad(() => listAll('/results', { query: { status: 'submitted' } }, 500), []);
  const needs = useLoad(() => listAll('/needs', { query: { status: 'submitted' } }, 500), []);
  const [msg, setMsg] = useState(null);
  const approve = async (kind, id) => {
    setMsg(null);
    try {
      if (kind === 'results') await api.post('/results/{id}/approve', { path: { id } });
      else await api.post('/needs/{id}/approve', { path: { id } });
      setMsg({ tone: 'success', text: '已审核通过并发布。' });
      (kind === 'results' ? results : needs).reload();
    } catch (e) { setMsg({ tone: 'error', text: problemText(e) }); }
  };
  const table = (rows, r, kind) => (r.loading ? html`<${Loading} />` : r.error ? html`<${ErrorBox} error=${r.error} />`
    : !rows.length ? html`<${Empty}>没有待审核的${kind === 'results' ? '成果' : '需求'}</${Empty}>`
    : html`<div class="table-wrap" tabindex="0"><table class="list stack"><thead><tr><th>名称</th><th>发布单位</th><th>技术领域</th><th>提交时间</th><th><span class="sr-only">操作</span></th></tr></thead><tbody>
      ${rows.map((x) => html`<tr data-id=${x.id}><td data-label="名称"><a href=${`#/${kind}/${x.id}`}>${x.title}</a></td>
        <td data-label="单位">${x.org_name}</td><td data-label="领域">${x.domain_label || '—'}</td>
        <td data-label="提交" class="nowrap">${dateTime(x.submitted_at || x.updated_at)}</td>
        <td data-label="操作" class="nowrap"><a class="btn btn-small" href=${`#/${kind}/${x.id}`}>审阅</a>
          <${ActionButton} class="btn btn-small btn-success" onClick=${() => approve(kind, x.id)}>通过</${ActionButton}></td></tr>`)}
    </tbody></table></div>`);
  const rows = (r, org) => (r.data || []).map((x) => ({ id: x.id, title: x.title, org_name: org(x).name, domain_label: x.domain_label, submitted_at: x.submitted_at, updated_at: x.updated_at }));
  return html`<${PageTitle} sub="审阅发布单位提交的科技成果与技术需求：内容完整、真实，不含涉密或违法信息的予以发布；否则退回并说明理由。">发布审核</${PageTitle}>
    ${msg ? html`<div class=${'alert alert-' + msg.tone} role="status">${msg.text}</div>` : ''}
    <${Card} title="待审核的科技成果">${table(rows(results, (x) => x.holder), results, 'results')}</${Card}>
    <${Card} title="待审核的技术需求">${table(rows(needs, (x) => x.org), needs, 'needs')}</${Card}>`;
}
