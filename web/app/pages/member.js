// Member screens (universities, institutes, enterprises, brokers): publishing
// results and needs with forms that explain each field and show the server's
// field errors beside it; my results / needs with their states; inquiries;
// auctions; notifications; and the reviewer's queue.
import { useState, useEffect } from 'preact/hooks';
import { api, ApiError, listAll } from '../api.js';
import { normResult, normNeed } from '../model.js';
import {
  html, wanText, date, dateTime, Status, STATUS, Loading, ErrorBox, Unavailable, Empty, Card, PageTitle, Field, TextInput, TextArea,
  Select, CodeSelect, CodeChecks, ListInput, MoneyInput, RegionPicker, useLoad, useCodes, labelOf, usePaged, More, navigate,
  ActionButton, fieldErrors, problemText, errorText, Notice, Tabs, Facts,
} from '../ui.js';

const TRL_ITEMS = [
  ['1', 'TRL 1 · 基本原理被发现'], ['2', 'TRL 2 · 形成技术概念'], ['3', 'TRL 3 · 关键功能的概念验证'],
  ['4', 'TRL 4 · 实验室环境验证'], ['5', 'TRL 5 · 相关环境中验证'], ['6', 'TRL 6 · 相关环境中原型演示'],
  ['7', 'TRL 7 · 实际环境中样机演示'], ['8', 'TRL 8 · 系统完成并通过验证'], ['9', 'TRL 9 · 实际应用并定型'],
].map(([code, label]) => ({ code, label }));

// The errors the server sent, listed at the top with the fields' names.
function ErrorSummary({ err, labels }) {
  if (!err) return null;
  if (!(err instanceof ApiError) || !err.errors.length) return html`<${ErrorBox} error=${err} />`;
  return html`<div class="alert alert-error error-summary" role="alert"><b>${problemText(err)}</b>
    <ul>${err.errors.map((e) => html`<li>${fieldLabel(labels, e.field)}${e.field ? '：' : ''}${errorText(e)}</li>`)}</ul></div>`;
}
function fieldLabel(labels, f) {
  if (!f) return '';
  if (labels[f]) return labels[f];
  const m = /^([a-z_]+)\.(\d+)\.([a-z_]+)$/.exec(f);
  if (m && labels[m[1]]) return `${labels[m[1]]}第 ${Number(m[2]) + 1} 行 ${labels[m[1] + '.' + m[3]] || m[3]}`;
  const head = f.split('.')[0];
  return labels[f] || (labels[head] ? labels[head] + ' ' + f.slice(head.length + 1) : f);
}
// Errors of nested rows ("ip_records.0.number") shown under the rows editor.
function RowErrors({ fe, prefix, labels }) {
  const keys = Object.keys(fe).filter((k) => k === prefix || k.startsWith(prefix + '.'));
  return keys.map((k) => fe[k].map((t) => html`<div class="field-error" role="alert">${fieldLabel(labels, k)}：${t}</div>`));
}

// --- research result form ---------------------------------------------------------------
const RESULT_LABELS = {
  title: '成果名称', summary: '成果简介', keywords: '关键词', completers: '完成人', domain: '技术领域', industries: '适用行业',
  trl: '技术成熟度', maturity: '成果阶段', ip_records: '知识产权', 'ip_records.type': '类型', 'ip_records.number': '编号',
  'ip_records.status': '状态', transfer_modes: '转化方式', pricing_mode: '定价方式', asking_price_fen: '挂牌价格', auction: '拍卖条件',
  'auction.starting_price_fen': '起拍价', 'auction.reserve_price_fen': '保留价', 'auction.min_increment_fen': '加价幅度',
  'auction.ends_at': '截止时间', 'auction.extension_minutes': '延时分钟', region_code: '所在地区', contact: '联系方式',
  'contact.name': '联系人', 'contact.phone': '联系电话', 'contact.email': '联系邮箱', broker_user_id: '技术经纪人',
};
const EMPTY_RESULT = {
  title: '', summary: '', keywords: [], completers: [], domain: null, industries: [], trl: null, maturity: null, ip_records: [],
  transfer_modes: [], pricing_mode: 'negotiated', asking_price_fen: null, auction: null, region_code: null, contact: { name: '', phone: '', email: '' },
};
function resultBody(f) {
  const b = {
    title: f.title.trim(), summary: f.summary, keywords: f.keywords, completers: f.completers, domain: f.domain, industries: f.industries,
    trl: f.trl ? Number(f.trl) : null, maturity: f.maturity, ip_records: f.ip_records.filter((r) => r.type || r.number).map((r) => {
      const o = { type: r.type || '', number: r.number || '' };
      if (r.status) o.status = r.status;
      return o;
    }),
    transfer_modes: f.transfer_modes, pricing_mode: f.pricing_mode, region_code: f.region_code,
    asking_price_fen: f.pricing_mode === 'auction' ? null : f.asking_price_fen ?? null,
  };
  const c = {};
  for (const k of ['name', 'phone', 'email']) if (f.contact && f.contact[k]) c[k] = f.contact[k].trim();
  b.contact = c;
  if (f.pricing_mode === 'auction') {
    const a = f.auction || {};
    const o = { starting_price_fen: a.starting_price_fen ?? 0, ends_at: a.ends_at_local ? new Date(a.ends_at_local).toISOString() : '' };
    if (a.reserve_price_fen != null) o.reserve_price_fen = a.reserve_price_fen;
    if (a.min_increment_fen != null) o.min_increment_fen = a.min_increment_fen;
    if (a.extension_minutes !== '' && a.extension_minutes != null) o.extension_minutes = Number(a.extension_minutes);
    b.auction = o;
  }
  if (!b.region_code) delete b.region_code;
  return b;
}
function localDT(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function ResultForm({ params, me }) {
  const editing = !!params.id;
  const [f, setF] = useState(null);
  const [loadErr, setLoadErr] = useState(null);
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState(null);
  useEffect(() => {
    if (!editing) { setF({ ...EMPTY_RESULT, region_code: me.org ? me.org.region_code : null }); return; }
    api.get('/results/' + params.id).then(normResult).then((x) => setF({
      ...EMPTY_RESULT, ...x, contact: { ...EMPTY_RESULT.contact, ...(x.contact || {}) }, trl: x.trl ? String(x.trl) : null,
      auction: x.auction ? { ...x.auction, ends_at_local: localDT(x.auction.ends_at) } : null,
    }), setLoadErr);
  }, [params.id]);
  if (loadErr) return html`<${PageTitle}>修改科技成果</${PageTitle}><${ErrorBox} error=${loadErr} />`;
  if (!f) return html`<${Loading} />`;
  const fe = fieldErrors(err);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const setC = (k) => (v) => setF({ ...f, contact: { ...f.contact, [k]: v } });
  const setA = (k) => (v) => setF({ ...f, auction: { ...(f.auction || {}), [k]: v } });
  const save = async (submit) => {
    setErr(null); setSaved(null);
    let x;
    try {
      x = editing || f.id ? await api.patch('/results/' + (f.id || params.id), resultBody(f)) : await api.post('/results', resultBody(f));
      setF((old) => ({ ...old, id: x.id }));
      if (submit) x = await api.post('/results/' + x.id + '/submit');
    } catch (e) {
      setErr(e);
      window.scrollTo({ top: 0, behavior: 'smooth' });
      return;
    }
    if (submit) navigate('/my/results?submitted=' + x.id);
    else setSaved(x);
  };
  if (err instanceof ApiError && err.unavailable) return html`<${PageTitle}>发布科技成果</${PageTitle}><${Unavailable} what="科技成果发布" />`;
  return html`<${PageTitle} sub="带 * 的为提交审核时的必填项；草稿可随时保存。审核通过后成果向公众公开，可被检索和匹配。"
      actions=${html`<a class="btn" href="#/my/results">我的成果</a>`}>${editing ? '修改科技成果' : '发布科技成果'}</${PageTitle}>
    <form class="form" onSubmit=${(e) => { e.preventDefault(); save(true); }} novalidate>
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
        <${Field} label="技术领域" name="domain" errors=${fe} required help="按技术市场统计的 11 个技术领域选择其一。">
          <${CodeSelect} name="domain" list="domains" value=${f.domain} onChange=${set('domain')} /></${Field}>
        <${Field} label="适用行业" name="industries" errors=${fe} help="可多个，用逗号分隔，如：茶叶加工，饮料制造。">
          <${ListInput} name="industries" value=${f.industries} onChange=${set('industries')} /></${Field}>
        <${Field} label="技术成熟度（TRL）" name="trl" errors=${fe} required help="技术就绪水平 1–9 级：实验室验证为 4 级，实际环境样机为 7 级，已定型应用为 9 级。">
          <${Select} name="trl" items=${TRL_ITEMS} value=${f.trl} onChange=${set('trl')} /></${Field}>
        <${Field} label="成果阶段" name="maturity" errors=${fe} help="初期（实验室阶段）、中期（小试/中试）或成熟（可产业化）。">
          <${CodeSelect} name="maturity" list="maturity_stages" value=${f.maturity} onChange=${set('maturity')} /></${Field}>
        <${Field} wide label="所在地区" name="region_code" errors=${fe} required help="成果持有单位或实施地所在地区（选到区县更便于就近匹配）。">
          <${RegionPicker} name="region_code" value=${f.region_code} onChange=${set('region_code')} /></${Field}>
      </div></${Card}>
      <${Card} title="知识产权">
        <p class="small muted" style="margin-top:0">列出成果涉及的专利、软件著作权等，如专利号 ZL2023 1 0123456.7。</p>
        <${IpRows} rows=${f.ip_records} onChange=${set('ip_records')} />
        <${RowErrors} fe=${fe} prefix="ip_records" labels=${RESULT_LABELS} />
      </${Card}>
      <${Card} title="转化方式与价格"><div class="form-grid">
        <${Field} wide label="转化方式" name="transfer_modes" errors=${fe} required help="可多选：转让、许可、作价投资、合作实施等。">
          <${CodeChecks} list="transfer_modes" value=${f.transfer_modes} onChange=${set('transfer_modes')} /></${Field}>
        <${Field} label="定价方式" name="pricing_mode" errors=${fe} required
          help="协议定价：双方协商（国有单位须公示拟交易价）；挂牌交易：按标价成交；拍卖：公开竞价，价高者得。">
          <${CodeSelect} name="pricing_mode" list="pricing_modes" value=${f.pricing_mode} onChange=${set('pricing_mode')} /></${Field}>
        ${f.pricing_mode !== 'auction' ? html`<${Field} label=${f.pricing_mode === 'listed' ? '挂牌价格' : '参考价格'} name="asking_price_fen" errors=${fe}
            required=${f.pricing_mode === 'listed'} help=${f.pricing_mode === 'listed' ? '挂牌交易须填写价格。' : '留空表示“面议”。'}>
            <${MoneyInput} name="asking_price_fen" scale=${10000} value=${f.asking_price_fen} onChange=${set('asking_price_fen')} placeholder="面议" /></${Field}>` : ''}
      </div>
      ${f.pricing_mode === 'auction' ? html`<div class="form-grid form-section">
        <${Field} label="起拍价" name="auction.starting_price_fen" errors=${fe} required><${MoneyInput} scale=${10000} value=${f.auction && f.auction.starting_price_fen} onChange=${setA('starting_price_fen')} /></${Field}>
        <${Field} label="保留价" name="auction.reserve_price_fen" errors=${fe} help="不向竞买人公开；最高出价未达保留价则流拍。"><${MoneyInput} scale=${10000} value=${f.auction && f.auction.reserve_price_fen} onChange=${setA('reserve_price_fen')} /></${Field}>
        <${Field} label="加价幅度" name="auction.min_increment_fen" errors=${fe}><${MoneyInput} scale=${10000} value=${f.auction && f.auction.min_increment_fen} onChange=${setA('min_increment_fen')} /></${Field}>
        <${Field} label="截止时间" name="auction.ends_at" errors=${fe} required><input type="datetime-local" value=${f.auction ? f.auction.ends_at_local || '' : ''} onInput=${(e) => setA('ends_at_local')(e.currentTarget.value)} /></${Field}>
        <${Field} label="延时（分钟）" name="auction.extension_minutes" errors=${fe} help="截止前此时段内有人出价，截止时间顺延，防止“最后一秒”出价。"><input type="number" min="0" max="60" value=${f.auction && f.auction.extension_minutes != null ? f.auction.extension_minutes : 5} onInput=${(e) => setA('extension_minutes')(e.currentTarget.value)} /></${Field}>
      </div>` : ''}
      </${Card}>
      <${Card} title="联系方式"><div class="form-grid">
        <${Field} label="联系人" name="contact.name" errors=${fe}><${TextInput} name="contact.name" value=${f.contact.name} onInput=${setC('name')} /></${Field}>
        <${Field} label="联系电话" name="contact.phone" errors=${fe}><${TextInput} name="contact.phone" value=${f.contact.phone} onInput=${setC('phone')} /></${Field}>
        <${Field} label="联系邮箱" name="contact.email" errors=${fe}><${TextInput} name="contact.email" value=${f.contact.email} onInput=${setC('email')} /></${Field}>
      </div></${Card}>
      <div class="form-actions">
        <button class="btn btn-primary" type="submit">保存并提交审核</button>
        <${ActionButton} class="btn" onClick=${() => save(false)}>保存草稿</${ActionButton}>
        <a class="btn" href="#/my/results">取消</a>
      </div>
    </form>`;
}

function IpRows({ rows, onChange }) {
  const types = useCodes('ip_types');
  const upd = (i, k, v) => onChange(rows.map((r, j) => (j === i ? { ...r, [k]: v } : r)));
  return html`<div class="rows-editor">
    ${rows.map((r, i) => html`<div class="row" data-row=${i}>
      <${Select} items=${types.filter((t) => t.code !== 'none')} value=${r.type} onChange=${(v) => upd(i, 'type', v)} empty="类型" aria-label="知识产权类型" />
      <input type="text" placeholder="编号，如 ZL2023 1 0123456.7" value=${r.number || ''} onInput=${(e) => upd(i, 'number', e.currentTarget.value)} aria-label="编号" />
      <input type="text" placeholder="状态，如 已授权 / 实审中" value=${r.status || ''} onInput=${(e) => upd(i, 'status', e.currentTarget.value)} aria-label="状态" />
      <button type="button" class="btn btn-small" onClick=${() => onChange(rows.filter((_, j) => j !== i))}>删除</button>
    </div>`)}
    <button type="button" class="btn btn-small" onClick=${() => onChange([...rows, { type: 'patent', number: '', status: '' }])}>＋ 添加知识产权</button>
  </div>`;
}

// --- my results ---------------------------------------------------------------------------------
export function MyResults({ me, query }) {
  const [status, setStatus] = useState('');
  const orgId = me.org && me.org.id;
  const paged = usePaged((cursor) => api.get('/results', { org_id: orgId, status, limit: 20, cursor }), [status]);
  const items = paged.items.map(normResult).filter((x) => !orgId || x.holder_org_id === orgId);
  return html`<${PageTitle} sub=${me.org ? me.org.name : ''} actions=${html`<a class="btn btn-primary" href="#/my/results/new">＋ 发布科技成果</a>`}>我的科技成果</${PageTitle}>
    ${query.submitted ? html`<${Notice} tone="success">成果已提交审核，审核通过后将向公众发布。</${Notice}>` : ''}
    <div class="card">
      <${Tabs} value=${status} onChange=${setStatus} tabs=${[['', '全部'], ['draft', '草稿'], ['submitted', '待审核'], ['published', '已发布'], ['rejected', '已退回'], ['under_notice', '公示中'], ['withdrawn', '已撤回']]} />
      ${paged.error && paged.error.unavailable ? html`<${Unavailable} what="科技成果管理" />` : html`
        <${ErrorBox} error=${paged.error} onRetry=${paged.reload} />
        ${!paged.loading && !paged.error && !items.length ? html`<${Empty}>还没有${status ? STATUS.result[status] + '的' : ''}成果。<a href="#/my/results/new">发布第一项成果</a></${Empty}>` : ''}
        ${items.length ? html`<div class="table-wrap"><table class="list stack"><thead><tr><th>成果名称</th><th>状态</th><th>技术领域</th><th>价格</th><th>更新时间</th><th></th></tr></thead><tbody>
          ${items.map((x) => html`<tr data-id=${x.id}>
            <td data-label="成果"><a href=${'#/results/' + x.id}>${x.title}</a>${x.reject_reason && x.status === 'rejected' ? html`<div class="small" style="color:var(--red)">退回理由：${x.reject_reason}</div>` : ''}</td>
            <td data-label="状态"><${Status} kind="result" value=${x.status} /></td>
            <td data-label="领域">${x.domain_label || '—'}</td>
            <td data-label="价格" class="nowrap">${wanText(x.asking_price_fen)}</td>
            <td data-label="更新" class="nowrap">${date(x.updated_at)}</td>
            <td data-label="操作" class="nowrap">${['draft', 'rejected'].includes(x.status) ? html`<a class="btn btn-small" href=${'#/my/results/' + x.id + '/edit'}>修改</a>` : html`<a class="btn btn-small" href=${'#/results/' + x.id}>查看</a>`}</td>
          </tr>`)}</tbody></table></div>` : ''}
        <${More} paged=${paged} />`}
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
  const [f, setF] = useState(null);
  const [loadErr, setLoadErr] = useState(null);
  const [err, setErr] = useState(null);
  const [saved, setSaved] = useState(null);
  useEffect(() => {
    if (!editing) { setF({ ...EMPTY_NEED, region_code: me.org ? me.org.region_code : null }); return; }
    api.get('/needs/' + params.id).then(normNeed).then((x) => setF({ ...EMPTY_NEED, ...x, industry: x.industry || '', deadline: x.deadline || '',
      contact: { ...EMPTY_NEED.contact, ...(x.contact || {}) } }), setLoadErr);
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
      x = editing || f.id ? await api.patch('/needs/' + (f.id || params.id), needBody(f)) : await api.post('/needs', needBody(f));
      setF((old) => ({ ...old, id: x.id }));
      if (submit) x = await api.post('/needs/' + x.id + '/submit');
    } catch (e) { setErr(e); window.scrollTo({ top: 0, behavior: 'smooth' }); return; }
    if (submit) navigate('/needs/' + x.id);
    else setSaved(x);
  };
  if (err instanceof ApiError && err.unavailable) return html`<${PageTitle}>发布技术需求</${PageTitle}><${Unavailable} what="技术需求发布" />`;
  return html`<${PageTitle} sub="描述越具体，平台匹配到的科技成果越准确。发布后可查看匹配的成果及匹配理由，并直接发起洽谈。"
      actions=${html`<a class="btn" href="#/my/needs">我的需求</a>`}>${editing ? '修改技术需求' : '发布技术需求'}</${PageTitle}>
    <form class="form" onSubmit=${(e) => { e.preventDefault(); save(true); }} novalidate>
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
        <${Field} wide label="所在地区" name="region_code" errors=${fe} required><${RegionPicker} name="region_code" value=${f.region_code} onChange=${set('region_code')} /></${Field}>
        <${Field} label="预算下限" name="budget_min_fen" errors=${fe} help="上下限都留空表示“面议”。"><${MoneyInput} name="budget_min_fen" scale=${10000} value=${f.budget_min_fen} onChange=${set('budget_min_fen')} /></${Field}>
        <${Field} label="预算上限" name="budget_max_fen" errors=${fe}><${MoneyInput} name="budget_max_fen" scale=${10000} value=${f.budget_max_fen} onChange=${set('budget_max_fen')} /></${Field}>
        <${Field} wide label="期望的合作方式" name="cooperation_modes" errors=${fe} required><${CodeChecks} list="cooperation_modes" value=${f.cooperation_modes} onChange=${set('cooperation_modes')} /></${Field}>
      </div></${Card}>
      <${Card} title="联系方式"><div class="form-grid">
        <${Field} label="联系人" name="contact.name" errors=${fe}><${TextInput} name="contact.name" value=${f.contact.name} onInput=${setC('name')} /></${Field}>
        <${Field} label="联系电话" name="contact.phone" errors=${fe}><${TextInput} name="contact.phone" value=${f.contact.phone} onInput=${setC('phone')} /></${Field}>
        <${Field} label="联系邮箱" name="contact.email" errors=${fe}><${TextInput} name="contact.email" value=${f.contact.email} onInput=${setC('email')} /></${Field}>
      </div></${Card}>
      <div class="form-actions">
        <button class="btn btn-primary" type="submit">发布需求</button>
        <${ActionButton} class="btn" onClick=${() => save(false)}>保存草稿</${ActionButton}>
        <a class="btn" href="#/my/needs">取消</a>
      </div>
    </form>`;
}

export function MyNeeds({ me }) {
  const [status, setStatus] = useState('');
  const orgId = me.org && me.org.id;
  const paged = usePaged((cursor) => api.get('/needs', { org_id: orgId, status, limit: 20, cursor }), [status]);
  const items = paged.items.map(normNeed).filter((x) => !orgId || x.org_id === orgId);
  return html`<${PageTitle} sub=${me.org ? me.org.name : ''} actions=${html`<a class="btn btn-primary" href="#/my/needs/new">＋ 发布技术需求</a>`}>我的技术需求</${PageTitle}>
    <div class="card">
      <${Tabs} value=${status} onChange=${setStatus} tabs=${[['', '全部'], ['draft', '草稿'], ['submitted', '待审核'], ['open', '征集中'], ['matched', '已对接'], ['closed', '已关闭'], ['expired', '已过期']]} />
      ${paged.error && paged.error.unavailable ? html`<${Unavailable} what="技术需求管理" />` : html`
        <${ErrorBox} error=${paged.error} onRetry=${paged.reload} />
        ${!paged.loading && !paged.error && !items.length ? html`<${Empty}>还没有技术需求。<a href="#/my/needs/new">发布需求</a></${Empty}>` : ''}
        ${items.length ? html`<div class="table-wrap"><table class="list stack"><thead><tr><th>需求名称</th><th>状态</th><th>技术领域</th><th>截止日期</th><th></th></tr></thead><tbody>
          ${items.map((x) => html`<tr data-id=${x.id}>
            <td data-label="需求"><a href=${'#/needs/' + x.id}>${x.title}</a></td>
            <td data-label="状态"><${Status} kind="need" value=${x.status} /></td>
            <td data-label="领域">${x.domain_label || '—'}</td>
            <td data-label="截止" class="nowrap">${date(x.deadline)}</td>
            <td data-label="操作" class="nowrap"><a class="btn btn-small" href=${'#/needs/' + x.id}>${['open', 'matched'].includes(x.status) ? '查看匹配' : '查看'}</a></td>
          </tr>`)}</tbody></table></div>` : ''}
        <${More} paged=${paged} />`}
    </div>`;
}

// --- inquiries ----------------------------------------------------------------------------------
// The server's inquiry: {result|need: {id,title}, seller, buyer, initiator_org_id, status,
// agreed_price_fen, last_activity_at, messages[], notice, contract_id}.
function inquiryView(x) {
  const subject = x.result || x.need || {};
  const from = x.initiator_org_id === (x.seller && x.seller.id) ? x.seller : x.buyer;
  const to = from === x.seller ? x.buyer : x.seller;
  return { ...x, subject_title: subject.title, result_id: x.result && x.result.id, need_id: x.need && x.need.id,
    from_org_name: from && from.name, to_org_name: to && to.name, updated_at: x.last_activity_at,
    orgName: (id) => (x.seller && x.seller.id === id ? x.seller.name : x.buyer && x.buyer.id === id ? x.buyer.name : '') };
}

export function Inquiries() {
  const [status, setStatus] = useState('');
  const paged = usePaged((cursor) => api.get('/inquiries', { status, limit: 20, cursor }), [status]);
  return html`<${PageTitle} sub="与成果持有单位或需求单位的合作洽谈。达成一致后可直接起草技术合同。">洽谈</${PageTitle}>
    <div class="card">
      <${Tabs} value=${status} onChange=${setStatus} tabs=${[['', '全部'], ['open', '洽谈中'], ['agreed', '已达成'], ['declined', '已拒绝'], ['expired', '已过期']]} />
      ${paged.error && paged.error.unavailable ? html`<${Unavailable} what="在线洽谈" />` : html`
        <${ErrorBox} error=${paged.error} onRetry=${paged.reload} />
        ${!paged.loading && !paged.error && !paged.items.length ? html`<${Empty}>暂无洽谈。在成果或需求页面可发起洽谈。</${Empty}>` : ''}
        ${paged.items.length ? html`<div class="table-wrap"><table class="list stack"><thead><tr><th>标的</th><th>发起方</th><th>接收方</th><th>状态</th><th>更新</th></tr></thead><tbody>
          ${paged.items.map(inquiryView).map((x) => html`<tr><td data-label="标的"><a href=${'#/inquiries/' + x.id}>${x.subject_title || (x.result_id ? '成果 #' + x.result_id : '需求 #' + x.need_id)}</a></td>
            <td data-label="发起方">${x.from_org_name}</td><td data-label="接收方">${x.to_org_name}</td>
            <td data-label="状态"><${Status} kind="inquiry" value=${x.status} /></td><td data-label="更新" class="nowrap">${dateTime(x.updated_at)}</td></tr>`)}
        </tbody></table></div>` : ''}
        <${More} paged=${paged} />`}
    </div>`;
}

export function InquiryPage({ params, me }) {
  const r = useLoad(() => api.get('/inquiries/' + params.id), [params.id]);
  const [text, setText] = useState('');
  const [price, setPrice] = useState(null);
  const [err, setErr] = useState(null);
  if (r.loading) return html`<${Loading} />`;
  if (r.error) return html`<${PageTitle}>洽谈</${PageTitle}><${ErrorBox} error=${r.error} />`;
  const x = inquiryView(r.data);
  const myOrg = me.org && me.org.id;
  const fe = fieldErrors(err);
  const act = async (fn) => { setErr(null); try { await fn(); r.reload(); } catch (e) { setErr(e); } };
  return html`<${PageTitle} sub=${html`${x.from_org_name} → ${x.to_org_name} · <${Status} kind="inquiry" value=${x.status} />`}
      actions=${html`<a class="btn" href="#/inquiries">全部洽谈</a>`}>${x.subject_title || '洽谈'}</${PageTitle}>
    <div class="layout-main-side">
      <${Card} title="洽谈记录">
        <div class="messages">${(x.messages || []).map((m) => html`<div class=${'msg' + (m.author_org_id === myOrg ? ' mine' : '')}>
          <div class="by">${m.author_name || x.orgName(m.author_org_id)} · ${dateTime(m.created_at)}${m.price_fen != null ? ' · 报价 ' + wanText(m.price_fen) : ''}</div><div style="white-space:pre-wrap">${m.body}</div></div>`)}
          ${!(x.messages || []).length ? html`<${Empty}>暂无消息</${Empty}>` : ''}</div>
        ${x.status === 'open' ? html`<div class="form">
          <${Field} label="回复" name="body" errors=${fe}><${TextArea} rows=${3} value=${text} onInput=${setText} /></${Field}>
          <${ActionButton} class="btn btn-primary" onClick=${() => act(async () => { await api.post('/inquiries/' + x.id + '/messages', { body: text }); setText(''); })}>发送</${ActionButton}>
        </div>` : ''}
      </${Card}>
      <aside>
        <${Card} title="洽谈信息"><${Facts} rows=${[['标的', x.result_id ? html`<a href=${'#/results/' + x.result_id}>科技成果</a>` : html`<a href=${'#/needs/' + x.need_id}>技术需求</a>`],
          ['发起方', x.from_org_name], ['接收方', x.to_org_name], ['达成价格', x.agreed_price_fen != null ? wanText(x.agreed_price_fen) : '—'],
          ['公示', x.notice ? (x.notice.status === 'active' ? '公示中，至 ' + dateTime(x.notice.ends_at) : x.notice.status === 'passed' ? '公示期满无异议' : '异议成立，未成交') : '—'],
          ['最近活动', dateTime(x.last_activity_at)], ['发起时间', dateTime(x.created_at)]]} /></${Card}>
        <${ErrorBox} error=${err && !err.errors.length ? err : null} />
        ${x.status === 'open' ? html`<${Card} title="结束洽谈" class="form">
          <${Field} label="约定价格" name="price_fen" errors=${fe} help="达成一致时必填（万元）。国有高校、科研院所以协议定价转让的，将先进行公示。"><${MoneyInput} scale=${10000} value=${price} onChange=${setPrice} /></${Field}>
          <div class="page-actions">
            <${ActionButton} class="btn btn-success" onClick=${() => act(() => api.post('/inquiries/' + x.id + '/agree', { price_fen: price }))}>达成一致</${ActionButton}>
            <${ActionButton} class="btn btn-danger" confirm="确定拒绝并结束此次洽谈？" onClick=${() => act(() => api.post('/inquiries/' + x.id + '/decline', {}))}>拒绝</${ActionButton}>
          </div></${Card}>` : ''}
        ${x.status === 'agreed' ? html`<${Card} title="下一步">${x.contract_id
            ? html`<p class="small">双方已达成一致，技术合同草稿已自动生成（各方、标的与价格已带入），请卖方完善后申请认定登记。</p>
                <a class="btn btn-primary" href=${'#/contracts/' + x.contract_id}>查看合同草稿</a>`
            : html`<p class="small">双方已达成一致。${x.notice && x.notice.status === 'active' ? '公示期满且无异议后，将自动生成技术合同草稿。' : ''}</p>`}</${Card}>` : ''}
      </aside>
    </div>`;
}

// --- auctions ------------------------------------------------------------------------------------
export function Auctions() {
  const r = useLoad(async () => (await listAll('/results', { status: 'published' }, 500)).map(normResult).filter((x) => x.pricing_mode === 'auction'), []);
  return html`<${PageTitle} sub="以拍卖方式转让的科技成果，公开竞价，价高者得；截止前出价可触发延时。">成果竞价</${PageTitle}>
    <div class="card">
      ${r.loading ? html`<${Loading} />` : r.error ? (r.error.unavailable ? html`<${Unavailable} what="成果竞价" />` : html`<${ErrorBox} error=${r.error} />`)
        : !r.data.length ? html`<${Empty}>当前没有竞价中的成果</${Empty}>`
        : html`<div class="table-wrap"><table class="list stack"><thead><tr><th>成果</th><th>持有单位</th><th class="right">起拍价</th><th>截止时间</th></tr></thead><tbody>
          ${r.data.map((x) => html`<tr><td data-label="成果"><a href=${'#/results/' + x.id}>${x.title}</a></td><td data-label="单位">${x.holder_org_name}</td>
            <td data-label="起拍价" class="right num">${x.auction ? wanText(x.auction.starting_price_fen) : '—'}</td><td data-label="截止">${x.auction ? dateTime(x.auction.ends_at) : '—'}</td></tr>`)}
        </tbody></table></div>`}
    </div>`;
}

// --- notifications and saved searches ------------------------------------------------------------------
export function Notifications() {
  const subs = useLoad(() => api.get('/subscriptions', { limit: 50 }), []);
  const notes = usePaged((cursor) => api.get('/notifications', { limit: 20, cursor }), []);
  return html`<${PageTitle} sub="订阅的检索条件有新发布的成果或需求时，会在此推送。">消息与订阅</${PageTitle}>
    <div class="grid2">
      <${Card} title="推送消息">${notes.error && notes.error.unavailable ? html`<${Unavailable} what="消息推送" />` : html`
        <${ErrorBox} error=${notes.error} />
        ${!notes.loading && !notes.error && !notes.items.length ? html`<${Empty}>暂无消息</${Empty}>` : ''}
        ${notes.items.map((n) => html`<div class="hit"><a href=${'#/' + (n.kind === 'need' ? 'needs/' : 'results/') + (n.item_id ?? n.ref_id)}
            onClick=${() => { if (!n.read_at) api.post('/notifications/' + n.id + '/read').catch(() => {}); }}>${n.title}</a>
          <div class="meta"><span>${n.kind === 'need' ? '技术需求' : '科技成果'}</span>${n.subscription ? html`<span>订阅：${n.subscription.name}</span>` : ''}
            <span>${dateTime(n.created_at)}</span>${!n.read_at ? html`<span class="badge badge-blue">未读</span>` : ''}</div></div>`)}
        <${More} paged=${notes} />`}</${Card}>
      <${Card} title="我的订阅">${subs.loading ? html`<${Loading} />` : subs.error ? (subs.error.unavailable ? html`<${Unavailable} what="检索订阅" />` : html`<${ErrorBox} error=${subs.error} />`)
        : !(subs.data.items || []).length ? html`<${Empty}>在检索页设置条件后可保存为订阅</${Empty}>`
        : subs.data.items.map((s) => html`<div class="hit"><b>${s.name}</b> <span class="muted small">${s.query ? Object.entries(s.query).filter(([, v]) => v !== null && v !== '').map(([k, v]) => (k === 'q' ? '“' + v + '”' : v)).join(' · ') : ''}</span>
            <${ActionButton} class="btn btn-small" onClick=${async () => { await api.del('/subscriptions/' + s.id); subs.reload(); }}>取消订阅</${ActionButton}></div>`)}</${Card}>
    </div>`;
}

// --- reviewer -------------------------------------------------------------------------------------
export function ReviewQueue() {
  const results = useLoad(async () => (await listAll('/results', { status: 'submitted' }, 500)).map(normResult), []);
  const needs = useLoad(async () => (await listAll('/needs', { status: 'submitted' }, 500)).map(normNeed), []);
  const [msg, setMsg] = useState(null);
  const approve = async (kind, id) => {
    setMsg(null);
    try { await api.post(`/${kind}/${id}/approve`); setMsg({ tone: 'success', text: '已审核通过并发布。' }); (kind === 'results' ? results : needs).reload(); } catch (e) { setMsg({ tone: 'error', text: problemText(e) }); }
  };
  const table = (r, kind) => (r.loading ? html`<${Loading} />` : r.error ? (r.error.unavailable ? html`<${Unavailable} what="发布审核" />` : html`<${ErrorBox} error=${r.error} />`)
    : !r.data.length ? html`<${Empty}>没有待审核的${kind === 'results' ? '成果' : '需求'}</${Empty}>`
    : html`<div class="table-wrap"><table class="list stack"><thead><tr><th>名称</th><th>发布单位</th><th>技术领域</th><th>提交时间</th><th></th></tr></thead><tbody>
      ${r.data.map((x) => html`<tr data-id=${x.id}><td data-label="名称"><a href=${`#/${kind}/${x.id}`}>${x.title}</a></td>
        <td data-label="单位">${x.holder_org_name || x.org_name}</td><td data-label="领域">${x.domain_label || '—'}</td>
        <td data-label="提交" class="nowrap">${dateTime(x.submitted_at || x.updated_at)}</td>
        <td data-label="操作" class="nowrap"><a class="btn btn-small" href=${`#/${kind}/${x.id}`}>审阅</a>
          <${ActionButton} class="btn btn-small btn-success" onClick=${() => approve(kind, x.id)}>通过</${ActionButton}></td></tr>`)}
    </tbody></table></div>`);
  return html`<${PageTitle} sub="审阅发布单位提交的科技成果与技术需求：内容完整、真实，不含涉密或违法信息的予以发布；否则退回并说明理由。">发布审核</${PageTitle}>
    ${msg ? html`<div class=${'alert alert-' + msg.tone}>${msg.text}</div>` : ''}
    <${Card} title="待审核的科技成果">${table(results, 'results')}</${Card}>
    <${Card} title="待审核的技术需求">${table(needs, 'needs')}</${Card}>`;
}
