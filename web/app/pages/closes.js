// Year-end close (年度结账) for the bureau: freeze a past year's statistics for
// the region, see the frozen figures and when they were closed, the later
// changes listed as adjustments, and this year's adjustments to prior years;
// an admin reopens a closed year with a reason.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import {
  html, wan, dateTime, Loading, ErrorBox, ErrorSummary, Card, PageTitle, Field, TextArea, useLoad, navigate,
  ActionButton, fieldErrors, todayCN, RegionName,
} from '../ui.js';

const KIND_TEXT = { cancellation: '注销登记', amendment: '变更登记', payment: '到账金额', registration: '补登记（含历史导入）', removal: '删除' };
const signed = (n) => (n > 0 ? '+' : '') + n;
const signedWan = (fen) => (fen > 0 ? '+' : '') + wan(fen);

function Figures({ t, testid }) {
  return html`<div class="kpis" data-testid=${testid}>
    <div class="kpi"><div class="k">登记合同</div><div class="v" data-testid="close-count">${t.count}<small>份</small></div></div>
    <div class="kpi"><div class="k">合同成交额</div><div class="v">${wan(t.contract_amount_fen)}<small>万元</small></div></div>
    <div class="kpi"><div class="k">技术交易额</div><div class="v">${wan(t.technical_amount_fen)}<small>万元</small></div></div>
    <div class="kpi"><div class="k">实际到账额</div><div class="v">${wan(t.received_amount_fen)}<small>万元</small></div></div>
  </div>`;
}

function Adjustments({ year, region, reloadKey }) {
  const r = useLoad(() => api.get('/stats/adjustments', { query: { year, region, limit: 100 } }), [year, region, reloadKey]);
  if (r.loading) return html`<${Loading} />`;
  if (r.error) return html`<${ErrorBox} error=${r.error} onRetry=${r.reload} />`;
  if (!r.data.items.length) return html`<p class="muted small" data-state="none">结账后没有调整</p>`;
  return html`<div class="table-wrap" tabindex="0"><table class="list stack" data-testid="adjustments"><thead><tr>
      <th>时间</th><th>登记编号</th><th>调整原因</th><th class="right">件数</th><th class="right">合同成交额（万元）</th>
      <th class="right">技术交易额（万元）</th><th class="right">到账额（万元）</th></tr></thead><tbody>
    ${r.data.items.map((a) => html`<tr data-contract=${a.contract_id} data-kind=${a.kind}>
      <td data-label="时间" class="nowrap">${dateTime(a.at)}</td>
      <td data-label="登记编号" class="num"><a href=${'#/contracts/' + a.contract_id}>${a.registration_no || '—'}</a></td>
      <td data-label="原因">${KIND_TEXT[a.kind] || '调整'}（${a.made_in} 年）</td>
      <td data-label="件数" class="right num">${signed(a.count)}</td>
      <td data-label="成交额" class="right num">${signedWan(a.contract_amount_fen)}</td>
      <td data-label="技术交易额" class="right num">${signedWan(a.technical_amount_fen)}</td>
      <td data-label="到账额" class="right num">${signedWan(a.received_amount_fen)}</td></tr>`)}</tbody></table></div>`;
}

function Reopen({ close, done }) {
  const [reason, setReason] = useState('');
  const [err, setErr] = useState(null);
  const fe = fieldErrors(err);
  return html`<div class="form" data-testid="reopen">
    <${ErrorSummary} err=${err} labels=${{ reason: '重新打开的原因' }} />
    <${Field} label="重新打开的原因" name="reason" errors=${fe} required help="重新打开后该年度统计恢复为实时数据（包含结账后的全部调整），需重新结账才能再次冻结。">
      <${TextArea} rows=${2} value=${reason} onInput=${setReason} /></${Field}>
    <div class="form-actions"><${ActionButton} class="btn btn-danger" confirm="确定重新打开该年度的统计？"
      onClick=${async () => { setErr(null); try { done(await api.post('/stats/closes/{id}/reopen', { path: { id: close.id }, body: { reason } })); } catch (e) { setErr(e); } }}>重新打开</${ActionButton}></div>
  </div>`;
}

export function YearClose({ query, me }) {
  const thisYear = Number(todayCN().slice(0, 4));
  const year = Number(query.year) || thisYear - 1;
  const region = query.region || (me.role === 'bureau' ? me.region_code : '000000');
  const [note, setNote] = useState('');
  const [err, setErr] = useState(null);
  const [tick, setTick] = useState(0);
  const stats = useLoad(() => api.get('/stats/contracts', { query: { year, region } }), [year, region, tick]);
  const now = useLoad(() => api.get('/stats/contracts', { query: { year: thisYear, region } }), [region, tick]);
  const closes = useLoad(() => api.get('/stats/closes', { query: { year } }), [year, tick]);
  const years = Array.from({ length: 8 }, (_, i) => thisYear - 1 - i);
  const head = html`<${PageTitle} sub="结账后，该年度的统计数据冻结；此后的注销、变更、到账和补登记作为调整列出，并在发生年度显示为对以前年度的调整。"
      actions=${html`<label class="inline-select">年度 <select aria-label="年度" onChange=${(e) => navigate('/bureau/closes?year=' + e.currentTarget.value)}>
        ${years.map((y) => html`<option value=${y} selected=${y === year}>${y} 年</option>`)}</select></label>`}>年度结账</${PageTitle}>`;
  if (stats.loading || closes.loading) return html`${head}<${Loading} />`;
  if (stats.error) return html`${head}<${ErrorBox} error=${stats.error} onRetry=${stats.reload} />`;
  const s = stats.data;
  const mine = (closes.data ? closes.data.items : []).filter((c) => c.status === 'closed' && c.id === s.close_id);
  const close = mine[0];
  const doClose = async () => {
    setErr(null);
    try {
      await api.post('/stats/closes', { body: { year, region_code: region, note: note || null } });
      setTick((t) => t + 1);
    } catch (e) { setErr(e); }
  };
  const prior = now.data ? now.data.prior_year_adjustments : [];
  return html`${head}
    <p class="muted">地区：${region === '000000' ? '全国' : html`<${RegionName} code=${region} />`}（含下级地区，卖方所在地统计）</p>
    ${s.closed
      ? html`<div class="alert alert-success" data-testid="close-status" data-status="closed"><b>${year} 年已结账</b>，${dateTime(s.closed_at)} 冻结。
          以下为结账时的数据${s.adjustments_after_close && s.adjustments_after_close.changes ? `；结账后有 ${s.adjustments_after_close.changes} 项调整，见下表` : ''}。</div>`
      : html`<div class="alert alert-info" data-testid="close-status" data-status="open"><b>${year} 年尚未结账</b>：以下为实时数据，会随注销、变更、到账而变化。</div>`}
    <${Figures} t=${s.total} testid="close-figures" />
    ${s.closed && s.adjustments_after_close ? html`<${Card} title="结账后的调整（不计入上方冻结数据）">
        <p class="small" data-testid="adjustment-sum">合计：件数 ${signed(s.adjustments_after_close.count)}，合同成交额 ${signedWan(s.adjustments_after_close.contract_amount_fen)} 万元，技术交易额 ${signedWan(s.adjustments_after_close.technical_amount_fen)} 万元</p>
        <${Adjustments} year=${year} region=${region} reloadKey=${tick} /></${Card}>` : ''}
    ${!s.closed ? html`<${Card} title="结账">
        <${ErrorSummary} err=${err} labels=${{ year: '年度', region_code: '地区', note: '备注' }} />
        <${Field} label="备注" name="note" errors=${fieldErrors(err)}><${TextArea} rows=${2} value=${note} onInput=${setNote} /></${Field}>
        <div class="form-actions"><${ActionButton} class="btn btn-primary" confirm=${`结账后 ${year} 年的统计数据将冻结，此后的变化只作为调整列出。确定结账？`}
          onClick=${doClose}>结账（冻结 ${year} 年数据）</${ActionButton}></div></${Card}>` : ''}
    ${close && me.role === 'admin' ? html`<${Card} title="重新打开"><${Reopen} close=${close} done=${() => setTick((t) => t + 1)} /></${Card}>` : ''}
    <${Card} title=${`${thisYear} 年对以前年度的调整`}>
      ${!prior.length ? html`<p class="muted small" data-state="none">本年度尚无对已结账年度的调整</p>` : html`<div class="table-wrap" tabindex="0"><table class="list stack" data-testid="prior-adjustments">
        <thead><tr><th>调整的年度</th><th class="right">项数</th><th class="right">件数</th><th class="right">合同成交额（万元）</th><th class="right">技术交易额（万元）</th></tr></thead>
        <tbody>${prior.map((p) => html`<tr data-year=${p.year}><td data-label="年度">${p.year} 年</td><td data-label="项数" class="right num">${p.changes}</td>
          <td data-label="件数" class="right num">${signed(p.count)}</td><td data-label="成交额" class="right num">${signedWan(p.contract_amount_fen)}</td>
          <td data-label="技术交易额" class="right num">${signedWan(p.technical_amount_fen)}</td></tr>`)}</tbody></table></div>`}
    </${Card}>`;
}
