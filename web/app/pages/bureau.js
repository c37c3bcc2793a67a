// Bureau (科技局): the statistics dashboard — totals against plan targets with
// the year-end projection, breakdowns by contract type, domain and region,
// outflow (输出, seller in the region) against inflow (吸纳, buyer in the region)
// — plan targets, the annual export and subsidy runs (后补助).
//
// Figures come from GET /stats/contracts and GET /targets/progress.  Where a
// server does not serve those yet (404), statsSource() falls back to
// aggregating GET /contracts (registered contracts of the bureau's region
// subtree) in the browser, with the same shapes, and the page says so.
import { useState, useEffect, useRef } from 'preact/hooks';
import { api, download, region as regionInfo } from '../api.js';
import {
  html, yuan, wan, bigMoney, date, dateTime, yearCN, monthCN, Status, Loading, ErrorBox, Unavailable, Empty, Card, PageTitle, Facts,
  Field, Select, CodeSelect, MoneyInput, useLoad, useCodes, labelOf, ActionButton, fieldErrors, problemText, errorText, ErrorSummary, Notice, Tabs, toFen, fenToInput,
} from '../ui.js';

// --- ECharts, loaded on first use -------------------------------------------------
let echartsP = null;
function loadECharts() {
  const w = /** @type {any} */ (window);
  if (w.echarts) return Promise.resolve(w.echarts);
  if (!echartsP) {
    echartsP = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = '/vendor/echarts/echarts.common.min.js';
      s.onload = () => resolve(w.echarts);
      s.onerror = () => { echartsP = null; reject(new Error('图表库加载失败')); };
      document.head.appendChild(s);
    });
  }
  return echartsP;
}
export function Chart({ option, height = 320, label }) {
  const el = useRef(null);
  const inst = useRef(null);
  useEffect(() => {
    let alive = true;
    const onResize = () => inst.current && inst.current.resize();
    loadECharts().then((ec) => {
      if (!alive || !el.current) return;
      inst.current = ec.init(el.current, null, { renderer: 'canvas' });
      inst.current.setOption(option, true);
      window.addEventListener('resize', onResize);
    });
    return () => { alive = false; window.removeEventListener('resize', onResize); if (inst.current) inst.current.dispose(); inst.current = null; };
  }, []);
  useEffect(() => { if (inst.current) inst.current.setOption(option, true); }, [option]);
  return html`<div class="chart" ref=${el} style=${'height:' + height + 'px'} role="img" aria-label=${label}></div>`;
}
const PALETTE = ['#0b4a8b', '#c0392b', '#2e8b57', '#d68910', '#6c3483', '#17a2b8', '#7f8c8d', '#a04000', '#1f618d', '#148f77', '#b7950b'];
// One colour per meaning on every chart, given to the series itself so that
// the legend's mark is the line or bar it names.
const C = { out: '#0b4a8b', in: '#2e8b57', actual: '#0b4a8b', projection: '#b35c00', target: '#c0392b' };
const paint = (color) => ({ color, itemStyle: { color }, lineStyle: { color } });
// One unit per chart: 亿元 when its largest amount reaches 1 亿元, else 万元;
// the axis, its ticks and the tooltip all say it (ticks were in 亿 while the
// axis said 万元).
function unitFor(...fens) {
  const max = Math.max(0, ...fens.flat().filter((x) => x != null).map(Number));
  return max >= 1e10 ? { name: '亿元', div: 1e10 } : { name: '万元', div: 1e6 };
}
const amt = (fen, u) => (fen == null ? null : Math.round((Number(fen) / u.div) * 100) / 100);
const moneyAxis = (u) => ({ type: 'value', name: u.name, axisLabel: { formatter: (v) => Number(v).toLocaleString('zh-CN') } });
const tip = (u) => (v) => (v == null ? '—' : Number(v).toLocaleString('zh-CN', { maximumFractionDigits: 2 }) + ' ' + u.name);

// --- the figures --------------------------------------------------------------------
/** @typedef {import('../api-types').Schema<'Stats'>} Stats */
/**
 * @param {{year: number, region: string, by?: import('../api-types').Query<'/stats/contracts', 'get'>['by'], flow?: 'out' | 'in'}} p
 * @returns {Promise<Stats>}
 */
function stats({ year, region, by, flow = 'out' }) {
  return api.get('/stats/contracts', { query: { year, region, flow, ...(by && by !== 'year' ? { by } : {}) } });
}
const METRICS = {
  contract_amount: { label: '技术合同成交额', unit: 'fen' }, technical_amount: { label: '技术交易额', unit: 'fen' },
  contracts: { label: '登记合同数', unit: 'count' }, results_transferred: { label: '引进转化科技成果', unit: 'count' },
};
const fmtMetric = (m, v) => (v === null || v === undefined ? '—' : METRICS[m] && METRICS[m].unit === 'count' ? v + (m === 'contracts' ? ' 份' : ' 项') : bigMoney(v));

// --- dashboard ----------------------------------------------------------------------------
function yearsBack(n) {
  const y = Number(new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric' }).format(new Date()));
  return Array.from({ length: n }, (_, i) => y - i);
}

export function Dashboard({ me, query }) {
  const years = yearsBack(7);
  const [year, setYear] = useState(Number(query.year) || years[0]);
  const [flow, setFlow] = useState(/** @type {'out' | 'in'} */ ('out'));
  const regionCode = me.region_code || '000000';
  const rname = useLoad(() => (regionCode === '000000' ? Promise.resolve({ name: '全国' }) : regionInfo(regionCode)), [regionCode]);
  const data = useLoad(async () => {
    const base = { year, region: regionCode };
    const [outT, inT, byType, byDomain, byMonthOut, byMonthIn, byRegionOut, byRegionIn, progress] = await Promise.all([
      stats({ ...base, flow: 'out' }), stats({ ...base, flow: 'in' }),
      stats({ ...base, flow, by: 'type' }), stats({ ...base, flow, by: 'domain' }),
      stats({ ...base, flow: 'out', by: 'month' }), stats({ ...base, flow: 'in', by: 'month' }),
      stats({ ...base, flow: 'out', by: 'region' }), stats({ ...base, flow: 'in', by: 'region' }),
      api.get('/targets/progress', { query: { year, region: regionCode } }),
    ]);
    return { outT, inT, byType, byDomain, byMonthOut, byMonthIn, byRegionOut, byRegionIn, progress };
  }, [year, flow, regionCode]);
  const trend = useLoad(async () => Promise.all(years.slice().reverse().map(async (y) => {
    const [o, i] = await Promise.all([stats({ year: y, region: regionCode, flow: 'out' }), stats({ year: y, region: regionCode, flow: 'in' })]);
    return { year: y, out: o.total, in: i.total };
  })), [regionCode]);
  const regionName = rname.data ? rname.data.name : regionCode;
  return html`<${PageTitle} sub=${html`${regionName}（${regionCode}）及下级地区 · 已登记技术合同（注销的不计，变更的按最新金额）`}
      actions=${html`<select aria-label="年度" style="width:auto" onChange=${(e) => setYear(Number(e.currentTarget.value))}>
          ${years.map((y) => html`<option value=${y} selected=${y === year}>${y} 年</option>`)}</select>
        <a class="btn" href=${'#/bureau/exports?year=' + year}>导出年报</a>`}>技术市场统计看板</${PageTitle}>
    ${data.loading ? html`<${Loading} text="正在汇总统计数据…" />` : data.error ? html`<${ErrorBox} error=${data.error} onRetry=${data.reload} />` : html`
      <${Kpis} d=${data.data} year=${year} />
      <div class="grid2">
        <${Card} title="合同成交额：累计与全年预计"><${Cumulative} d=${data.data} year=${year} /></${Card}>
        <${Card} title="输出与吸纳（按月）"><${MonthlyFlows} d=${data.data} /></${Card}>
      </div>
      <div class="toolbar"><span class="muted small">以下分类统计口径：</span>
        <${Tabs} value=${flow} onChange=${setFlow} tabs=${[['out', '技术输出（卖方在本地区）'], ['in', '技术吸纳（买方在本地区）']]} /></div>
      <div class="grid2">
        <${Card} title="按合同类别"><${ByType} s=${data.data.byType} /></${Card}>
        <${Card} title="按技术领域"><${ByDomain} s=${data.data.byDomain} /></${Card}>
      </div>
      <${Card} title="按地区：输出与吸纳"><${ByRegion} o=${data.data.byRegionOut} i=${data.data.byRegionIn} /></${Card}>
      <${Card} title="统计报表（全国技术市场统计口径）"><${SurveyTables} year=${year} region=${regionCode} flow=${flow} /></${Card}>
    `}
    <${Card} title="历年输出与吸纳">${trend.loading ? html`<${Loading} />` : trend.error ? html`<${ErrorBox} error=${trend.error} />` : html`<${Trend} rows=${trend.data} />`}</${Card}>`;
}

function Kpis({ d, year }) {
  const t = d.outT.total;
  const prog = Object.fromEntries(d.progress.items.map((x) => [x.metric, x]));
  const card = (metric, value, unitText, extra) => {
    const p = prog[metric] || {};
    const target = p.target;
    const pct = target ? Math.min(100, (Number(p.actual ?? 0) / target) * 100) : 0;
    const ppct = target && p.projection != null ? Math.min(100, (Number(p.projection) / target) * 100) : 0;
    return html`<div class="kpi" data-metric=${metric}>
      <div class="k">${METRICS[metric] ? METRICS[metric].label : metric}${extra || ''}</div>
      <div class="v" data-testid=${'kpi-' + metric}>${value}<small>${unitText}</small></div>
      <div class="t">${target ? html`目标 ${fmtMetric(metric, target)} · 完成 <b>${((Number(p.actual ?? 0) / target) * 100).toFixed(1)}%</b>` : '本年度未设定计划目标'}</div>
      ${p.projection != null ? html`<div class="t">全年预计 ${fmtMetric(metric, p.projection)}${target ? `（${((p.projection / target) * 100).toFixed(0)}%）` : ''}</div>` : ''}
      ${target ? html`<div class="progress" title="斜纹为按当前进度推算的全年预计"><div class="p-proj" style=${'width:' + ppct + '%'}></div><div class="p-actual" style=${'width:' + pct + '%'}></div></div>` : ''}
    </div>`;
  };
  const rt = prog.results_transferred;
  return html`<div class="kpis" data-year=${year}>
    ${card('contracts', String(t.count), ' 份')}
    ${card('contract_amount', wan(t.contract_amount_fen), ' 万元')}
    ${card('technical_amount', wan(t.technical_amount_fen), ' 万元')}
    <div class="kpi" data-metric="received"><div class="k">实际到账额</div><div class="v" data-testid="kpi-received">${wan(t.received_amount_fen)}<small> 万元</small></div>
      <div class="t">吸纳（买方在本地区）${d.inT.total.count} 份，${bigMoney(d.inT.total.contract_amount_fen)}</div>
      ${rt ? html`<div class="t" data-testid="kpi-results_transferred">引进转化科技成果 ${rt.actual} 项${rt.target ? ` / 目标 ${rt.target} 项` : ''}</div>` : ''}</div>
  </div>
  <p class="source-note">以上为技术输出口径（卖方在本地区登记的合同）。全年预计 = 本年实际 ÷ 已过天数占全年比例（${(Number(d.progress.elapsed_share) * 100).toFixed(1)}%）。</p>`;
}

function monthly(s) {
  const m = Array(12).fill(0);
  for (const g of s.groups || []) { const k = Number(g.key); if (k >= 1 && k <= 12) m[k - 1] += Number(g.contract_amount_fen); }
  return m;
}
function Cumulative({ d, year }) {
  const m = monthly(d.byMonthOut);
  let run = 0;
  const cum = m.map((v) => (run += v));
  const p = d.progress.items.find((x) => x.metric === 'contract_amount') || /** @type {any} */ ({});
  const now = new Date();
  const cy = Number(new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric' }).format(now));
  const lastMonth = year < cy ? 12 : year > cy ? 0 : Number(new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', month: 'numeric' }).format(now));
  const projFen = p.projection != null && lastMonth < 12 ? cum.map((v, i) => (i < lastMonth - 1 ? null
    : i === lastMonth - 1 ? v : cum[lastMonth - 1] + ((Number(p.projection) - cum[lastMonth - 1]) * (i - lastMonth + 1)) / (12 - lastMonth + 1 || 1))) : [];
  const u = unitFor(cum, projFen, [p.target]);
  const option = {
    tooltip: { trigger: 'axis', valueFormatter: tip(u) },
    legend: { top: 0 }, grid: { left: 64, right: 16, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: Array.from({ length: 12 }, (_, i) => i + 1 + '月') }, yAxis: moneyAxis(u),
    series: [
      { name: '累计成交额', type: 'line', data: cum.map((v, i) => (i < lastMonth ? amt(v, u) : null)), areaStyle: { opacity: 0.12, color: C.actual }, symbolSize: 6, ...paint(C.actual) },
      { name: '全年预计', type: 'line', data: projFen.map((v) => amt(v, u)), symbol: 'none', ...paint(C.projection), lineStyle: { color: C.projection, type: 'dashed' } },
      ...(p.target ? [{ name: '计划目标', type: 'line', data: [], ...paint(C.target), markLine: { symbol: 'none', lineStyle: { color: C.target, type: 'solid', width: 2 },
        label: { formatter: '目标 ' + bigMoney(p.target), position: 'insideEndTop' }, data: [{ yAxis: amt(p.target, u) }] } }] : []),
    ],
  };
  return html`<${Chart} option=${option} label=${'合同成交额累计曲线（' + u.name + '）'} />`;
}
function MonthlyFlows({ d }) {
  const out = monthly(d.byMonthOut), inn = monthly(d.byMonthIn);
  const u = unitFor(out, inn);
  const option = {
    tooltip: { trigger: 'axis', valueFormatter: tip(u) }, legend: { top: 0 },
    grid: { left: 64, right: 16, top: 36, bottom: 28 }, xAxis: { type: 'category', data: Array.from({ length: 12 }, (_, i) => i + 1 + '月') }, yAxis: moneyAxis(u),
    series: [{ name: '技术输出', type: 'bar', data: out.map((v) => amt(v, u)), ...paint(C.out) }, { name: '技术吸纳', type: 'bar', data: inn.map((v) => amt(v, u)), ...paint(C.in) }],
  };
  return html`<${Chart} option=${option} label=${'按月输出与吸纳（' + u.name + '）'} />`;
}
function GroupTable({ groups, total }) {
  return html`<div class="table-wrap" tabindex="0"><table class="list"><thead><tr><th>分类</th><th class="right">份数</th><th class="right">成交额（万元）</th><th class="right">技术交易额（万元）</th></tr></thead><tbody>
    ${groups.map((g) => html`<tr data-key=${g.key}><td>${g.label || g.key}</td><td class="right num">${g.count}</td><td class="right num">${wan(g.contract_amount_fen)}</td><td class="right num">${wan(g.technical_amount_fen)}</td></tr>`)}
    ${total ? html`<tr><th>合计</th><th class="right num">${total.count}</th><th class="right num">${wan(total.contract_amount_fen)}</th><th class="right num">${wan(total.technical_amount_fen)}</th></tr>` : ''}
  </tbody></table></div>`;
}
function ByType({ s }) {
  if (!s.groups.length) return html`<${Empty}>本年度无登记合同</${Empty}>`;
  const u = unitFor(s.groups.map((g) => g.contract_amount_fen));
  const option = {
    color: PALETTE, tooltip: { trigger: 'item', formatter: (p) => `${p.name}<br/>${tip(u)(p.value)}（${p.percent}%）` },
    legend: { bottom: 0 }, series: [{ type: 'pie', radius: ['38%', '66%'], center: ['50%', '45%'], label: { formatter: '{b}\n{d}%' },
      data: s.groups.map((g) => ({ name: g.label || g.key, value: amt(g.contract_amount_fen, u) })) }],
  };
  return html`<${Chart} option=${option} height=${300} label="按合同类别" /><${GroupTable} groups=${s.groups} total=${s.total} />`;
}
function ByDomain({ s }) {
  if (!s.groups.length) return html`<${Empty}>本年度无登记合同</${Empty}>`;
  const gs = [...s.groups].sort((a, b) => a.contract_amount_fen - b.contract_amount_fen);
  const u = unitFor(gs.map((g) => g.contract_amount_fen));
  const option = {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: tip(u) },
    grid: { left: 8, right: 24, top: 28, bottom: 24, containLabel: true }, xAxis: moneyAxis(u),
    yAxis: { type: 'category', data: gs.map((g) => g.label || g.key), axisLabel: { width: 110, overflow: 'truncate' } },
    series: [{ name: '合同成交额', type: 'bar', data: gs.map((g) => amt(g.contract_amount_fen, u)), barMaxWidth: 22, ...paint(C.out) }],
  };
  return html`<${Chart} option=${option} height=${Math.max(220, 36 * gs.length + 60)} label=${'按技术领域（' + u.name + '）'} />`;
}
function ByRegion({ o, i }) {
  const keys = [...new Set([...o.groups, ...i.groups].map((g) => g.key))];
  const label = (k) => ([...o.groups, ...i.groups].find((g) => g.key === k) || {}).label || k;
  if (!keys.length) return html`<${Empty}>本年度无登记合同</${Empty}>`;
  const val = (s, k) => { const g = s.groups.find((x) => x.key === k); return g ? g : { count: 0, contract_amount_fen: 0, technical_amount_fen: 0 }; };
  const u = unitFor(keys.map((k) => val(o, k).contract_amount_fen), keys.map((k) => val(i, k).contract_amount_fen));
  const option = {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: tip(u) },
    legend: { top: 0 }, grid: { left: 64, right: 16, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: keys.map(label), axisLabel: { interval: 0, rotate: keys.length > 6 ? 30 : 0 } }, yAxis: moneyAxis(u),
    series: [{ name: '技术输出（卖方）', type: 'bar', data: keys.map((k) => amt(val(o, k).contract_amount_fen, u)), ...paint(C.out) },
      { name: '技术吸纳（买方）', type: 'bar', data: keys.map((k) => amt(val(i, k).contract_amount_fen, u)), ...paint(C.in) }],
  };
  return html`<${Chart} option=${option} label=${'按地区输出与吸纳（' + u.name + '）'} />
    <div class="table-wrap" tabindex="0"><table class="list"><thead><tr><th>地区</th><th class="right">输出份数</th><th class="right">输出成交额（万元）</th><th class="right">吸纳份数</th><th class="right">吸纳成交额（万元）</th></tr></thead><tbody>
    ${keys.map((k) => html`<tr><td>${label(k)}</td><td class="right num">${val(o, k).count}</td><td class="right num">${wan(val(o, k).contract_amount_fen)}</td>
      <td class="right num">${val(i, k).count}</td><td class="right num">${wan(val(i, k).contract_amount_fen)}</td></tr>`)}
    <tr><th>合计</th><th class="right num">${o.total.count}</th><th class="right num">${wan(o.total.contract_amount_fen)}</th><th class="right num">${i.total.count}</th><th class="right num">${wan(i.total.contract_amount_fen)}</th></tr>
    </tbody></table></div>
    <p class="source-note">一份合同的卖方和买方都在本地区时，同时计入输出和吸纳。</p>`;
}
// The tables of the national survey: socio-economic objective, seller and
// buyer category (for the chosen flow), and the flow table (both flows).
const SURVEY = [['socio_economic_objective', '按社会经济目标'], ['seller_category', '按卖方类别'], ['buyer_category', '按买方类别'], ['partner', '流向']];
function SurveyTables({ year, region, flow }) {
  const [by, setBy] = useState('socio_economic_objective');
  return html`<div class="toolbar"><${Tabs} value=${by} onChange=${setBy} tabs=${SURVEY} /></div>
    ${by === 'partner' ? html`<${FlowsPanel} year=${year} region=${region} />` : html`<${SurveyPanel} year=${year} region=${region} flow=${flow} by=${by} />`}`;
}
function SurveyPanel({ year, region, flow, by }) {
  const d = useLoad(() => stats({ year, region, flow, by }), [year, region, flow, by]);
  return html`<div data-survey=${by} data-flow=${flow} aria-live="polite">
    ${d.loading ? html`<${Loading} />` : d.error ? html`<${ErrorBox} error=${d.error} onRetry=${d.reload} />`
    : d.data.groups.length ? html`<${GroupTable} groups=${d.data.groups} total=${d.data.total} />
        <p class="source-note">${flow === 'out' ? '技术输出口径（卖方在本地区）' : '技术吸纳口径（买方在本地区）'}${by === 'socio_economic_objective' ? '' : '；单位类型按全国统计口径归入企业、科研机构、高等院校、其他'}。</p>`
    : html`<${Empty}>本年度无登记合同</${Empty}>`}</div>`;
}
function FlowsPanel({ year, region }) {
  const d = useLoad(() => api.get('/stats/flows', { query: { year, region } }), [year, region]);
  return html`<div data-survey="partner" data-flow="both" aria-live="polite">
    ${d.loading ? html`<${Loading} />` : d.error ? html`<${ErrorBox} error=${d.error} onRetry=${d.reload} />`
    : html`<${FlowTable} rows=${d.data.rows} total=${d.data.total} head="去向／来源" />
        <p class="source-note">输出：卖方在本地区的合同按买方所在地计（去向）；吸纳：买方在本地区的合同按卖方所在地计（来源）。本省其他地区单列为“（本地区外）”，境外单位计入“境外”。</p>`}</div>`;
}
function Trend({ rows }) {
  const u = unitFor(rows.map((r) => r.out.contract_amount_fen), rows.map((r) => r.in.contract_amount_fen));
  const option = {
    tooltip: { trigger: 'axis', valueFormatter: tip(u) }, legend: { top: 0 },
    grid: { left: 64, right: 16, top: 36, bottom: 28 }, xAxis: { type: 'category', data: rows.map((r) => r.year + '') }, yAxis: moneyAxis(u),
    series: [{ name: '技术输出', type: 'bar', data: rows.map((r) => amt(r.out.contract_amount_fen, u)), ...paint(C.out) },
      { name: '技术吸纳', type: 'bar', data: rows.map((r) => amt(r.in.contract_amount_fen, u)), ...paint(C.in) }],
  };
  return html`<${Chart} option=${option} height=${280} label=${'历年输出与吸纳（' + u.name + '）'} />`;
}

// --- plan targets -------------------------------------------------------------------------------
// Every indicator of the code list indicators (GET /targets/progress):
// the computed ones from contracts, the others with the actual the bureau
// enters (PUT /targets/actuals, a note and evidence); cumulative targets over
// from_year…year; one form sets a yearly or cumulative target.
/** @param {any} it an indicator (progress item or cumulative entry) @param {number | null | undefined} v */
const fmtInd = (it, v) => (v === null || v === undefined ? '—' : it.unit === 'fen' ? bigMoney(v) : `${v} ${it.measure_word || ''}`.trim());
/** @param {any} it @param {string} text the input: 万元 for an amount, an integer otherwise; null empty, NaN bad */
const parseInd = (it, text) => {
  if (text === undefined || text === null || String(text).trim() === '') return null;
  if (it.unit === 'fen') return toFen(text, 10000);
  return /^\d+$/.test(String(text).trim()) ? Number(String(text).trim()) : NaN;
};
const badValue = (it) => (it.unit === 'fen' ? '请输入金额（万元），如 500 或 12.5' : '请输入不小于 0 的整数');
function Bar({ share }) {
  const pct = share === null || share === undefined ? 0 : Math.min(100, share * 100);
  return html`<div class="progress" role="progressbar" aria-label="完成进度" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${Math.round(pct)}>
    <div class="p-actual" style=${'width:' + pct + '%'}></div></div>`;
}
const pctText = (share) => (share === null || share === undefined ? '' : (share * 100).toFixed(1) + '%');

export function Targets({ me }) {
  const years = yearsBack(10);
  const [year, setYear] = useState(years[0]);
  const region = me.region_code || '000000';
  const p = useLoad(() => api.get('/targets/progress', { query: { year, region } }), [year]);
  const items = (p.data && p.data.items) || [];
  const byCode = Object.fromEntries(items.map((i) => [i.metric, i]));
  const entered = items.filter((i) => !i.computed);
  // the actual form
  const [act, setAct] = useState({ indicator: '', value: '', note: '', evidence: '' });
  const [actErr, setActErr] = useState(/** @type {Record<string, string[]>} */ ({}));
  const [actFail, setActFail] = useState(null);
  const [ok, setOk] = useState('');
  // the target form
  const [tg, setTg] = useState({ metric: '', from_year: '', year: '', target: '', note: '', source: '' });
  const [tgErr, setTgErr] = useState(/** @type {Record<string, string[]>} */ ({}));
  const [tgFail, setTgFail] = useState(null);
  const actRef = useRef(null);
  const tgRef = useRef(null);
  const focusForm = (ref) => setTimeout(() => ref.current && ref.current.scrollIntoView({ block: 'start' }), 0);

  const saveActual = async () => {
    setOk(''); setActFail(null);
    const it = byCode[act.indicator];
    /** @type {Record<string, string[]>} */
    const errs = {};
    if (!it) errs.indicator = ['请选择指标'];
    const v = it ? parseInd(it, act.value) : null;
    if (it && v === null) errs.value = ['请填写实际完成值'];
    else if (it && Number.isNaN(v)) errs.value = [badValue(it)];
    if (!act.note.trim()) errs.note = ['请填写说明'];
    if (!act.evidence.trim()) errs.evidence = ['请填写佐证材料（文号、标题或存档编号）'];
    setActErr(errs);
    if (Object.keys(errs).length) return;
    try {
      await api.put('/targets/actuals', { body: { region_code: region, year, indicator: act.indicator, value: v, note: act.note, evidence: act.evidence } });
      setOk(`已保存「${it.label}」${year} 年实际完成。`);
      setAct({ indicator: '', value: '', note: '', evidence: '' });
      p.reload();
    } catch (e) { setActErr(fieldErrors(e)); setActFail(e); }
  };
  const saveTarget = async () => {
    setOk(''); setTgFail(null);
    const it = byCode[tg.metric];
    /** @type {Record<string, string[]>} */
    const errs = {};
    if (!it) errs.metric = ['请选择指标'];
    const y = Number(tg.year || year);
    const y0 = Number(tg.from_year || y);
    if (y0 > y) errs.from_year = ['起始年度不能晚于截止年度'];
    else if (y - y0 > 10) errs.from_year = ['累计期限最长 11 年'];
    const v = it ? parseInd(it, tg.target) : null;
    if (it && v === null) errs.target = ['请填写目标值'];
    else if (it && Number.isNaN(v)) errs.target = [badValue(it)];
    setTgErr(errs);
    if (Object.keys(errs).length) return;
    try {
      await api.put('/targets', { body: { region_code: region, metric: tg.metric, from_year: y0, year: y, target: v,
        note: tg.note.trim() || null, source: tg.source.trim() || null } });
      setOk(`已保存「${it.label}」${y0 === y ? y + ' 年' : y0 + '—' + y + ' 年累计'}目标。`);
      setTg({ metric: '', from_year: '', year: '', target: '', note: '', source: '' });
      p.reload();
    } catch (e) { setTgErr(fieldErrors(e)); setTgFail(e); }
  };
  const d = p.data;
  return html`<${PageTitle} sub="各项计划指标的年度目标、累计目标与完成进度：技术合同类指标由已登记合同自动计算，其余指标由科技局填报实际完成并附佐证材料。"
      actions=${html`<select aria-label="年度" style="width:auto" onChange=${(e) => setYear(Number(e.currentTarget.value))}>${years.map((y) => html`<option value=${y} selected=${y === year}>${y} 年</option>`)}</select>`}>计划目标</${PageTitle}>
    ${ok ? html`<${Notice} tone="success">${ok}</${Notice}>` : ''}
    ${p.loading ? html`<${Loading} />` : p.error ? html`<${ErrorBox} error=${p.error} onRetry=${p.reload} />` : html`
    ${d.cumulative.length ? html`<${Card} title=${`累计目标（含 ${year} 年）`}>
      <div class="cumulative-targets" data-testid="cumulative-targets">${d.cumulative.map((c) => html`
        <div class="cumulative" data-metric=${c.metric} data-from=${c.from_year} data-to=${c.year}>
          <div><b>${c.label}</b> <span class="muted small">${c.from_year}—${c.year} 年累计${c.complete ? '' : `（截至 ${year} 年）`}</span></div>
          <div>目标 ${fmtInd(c, c.target)} · 已完成 <b data-testid="cumulative-actual">${fmtInd(c, c.actual)}</b>${c.share !== null ? html` · <b>${pctText(c.share)}</b>` : ''}</div>
          <${Bar} share=${c.share} />
          <div class="small muted">${c.years.map((y) => `${y.year} 年 ${y.actual === null ? '未填报' : fmtInd(c, y.actual)}${y.closed ? '（已结账）' : ''}`).join('；')}</div>
          ${c.note || c.source ? html`<div class="small muted">${c.note || ''}${c.source ? `（${c.source}）` : ''}</div>` : ''}
        </div>`)}</div>
    </${Card}>` : ''}
    <${Card} title=${`${year} 年度指标`}>
      <div class="table-wrap" tabindex="0"><table class="list stack" data-testid="indicators"><thead><tr><th>指标</th><th>年度目标</th><th>实际完成</th><th>进度</th><th><span class="sr-only">操作</span></th></tr></thead><tbody>
      ${items.map((it) => html`<tr data-metric=${it.metric} data-computed=${it.computed ? 'true' : 'false'}>
        <td data-label="指标">${it.label} <span class=${'badge ' + (it.computed ? 'badge-blue' : 'badge-amber')}>${it.computed ? '自动计算' : '科技局填报'}</span>
          ${it.note ? html`<div class="small muted">${it.note}</div>` : ''}</td>
        <td data-label="年度目标">${it.target === null ? html`<span class="muted">未设定</span>` : fmtInd(it, it.target)}</td>
        <td data-label="实际完成"><span data-testid="actual">${it.actual === null ? html`<span class="muted">未填报</span>` : fmtInd(it, it.actual)}</span>
          ${it.entry ? html`<div class="small muted">佐证：${it.entry.evidence}</div>` : ''}</td>
        <td data-label="进度">${it.target ? html`<span data-testid="share">${pctText(it.share)}</span><${Bar} share=${it.share} />` : html`<span class="muted">—</span>`}</td>
        <td data-label=""><div class="card-actions">
          ${!it.computed && region !== '000000' ? html`<button class="btn btn-small" aria-label=${`填报：${it.label}`}
            onClick=${() => { setAct({ ...act, indicator: it.metric }); setActErr({}); focusForm(actRef); }}>填报</button>` : ''}
          <button class="btn btn-small" aria-label=${`设定目标：${it.label}`}
            onClick=${() => { setTg({ ...tg, metric: it.metric, year: String(year), from_year: String(year) }); setTgErr({}); focusForm(tgRef); }}>设定目标</button>
        </div></td></tr>`)}
      </tbody></table></div>
    </${Card}>
    ${region !== '000000' ? html`<section class="card" ref=${actRef} data-testid="actual-form"><header class="card-head"><h2>填报 ${year} 年实际完成</h2></header>
      <p class="muted small">每次填报都会留存记录并写入审计日志；以最新一次填报为准。</p>
      <div class="form-grid">
        <${Field} label="指标" name="indicator" errors=${actErr} required>
          <${Select} value=${act.indicator} onChange=${(v) => setAct({ ...act, indicator: v || '' })} items=${entered.map((i) => ({ code: i.metric, label: i.label }))} /></${Field}>
        <${Field} label=${byCode[act.indicator] && byCode[act.indicator].unit === 'fen' ? '实际完成（万元）' : `实际完成${byCode[act.indicator] && byCode[act.indicator].measure_word ? '（' + byCode[act.indicator].measure_word + '）' : ''}`} name="value" errors=${actErr} required>
          <input type="text" inputmode="decimal" value=${act.value} onInput=${(e) => setAct({ ...act, value: e.currentTarget.value })} /></${Field}>
        <${Field} label="说明" name="note" errors=${actErr} required wide>
          <textarea rows="2" value=${act.note} onInput=${(e) => setAct({ ...act, note: e.currentTarget.value })} placeholder="数据来源与统计口径"></textarea></${Field}>
        <${Field} label="佐证材料" name="evidence" errors=${actErr} required wide help="文件文号、标题、存档编号或链接">
          <input type="text" value=${act.evidence} onInput=${(e) => setAct({ ...act, evidence: e.currentTarget.value })} /></${Field}>
      </div>
      ${actFail && !Object.keys(actErr).length ? html`<${ErrorSummary} err=${actFail} />` : ''}
      <div class="page-actions" style="margin-top:12px"><${ActionButton} class="btn btn-primary" onClick=${saveActual}>保存实际完成</${ActionButton}></div>
    </section>` : ''}
    <section class="card" ref=${tgRef} data-testid="target-form"><header class="card-head"><h2>设定目标</h2></header>
      <p class="muted small">起始年度与截止年度相同为年度目标；早于截止年度为累计目标，完成进度按各年度实际完成合计。</p>
      <div class="form-grid">
        <${Field} label="指标" name="metric" errors=${tgErr} required>
          <${Select} value=${tg.metric} onChange=${(v) => setTg({ ...tg, metric: v || '' })} items=${items.map((i) => ({ code: i.metric, label: i.label }))} /></${Field}>
        <${Field} label="起始年度" name="from_year" errors=${tgErr}>
          <input type="number" min="2000" max="2100" value=${tg.from_year} placeholder=${String(year)} onInput=${(e) => setTg({ ...tg, from_year: e.currentTarget.value })} /></${Field}>
        <${Field} label="截止年度" name="year" errors=${tgErr}>
          <input type="number" min="2000" max="2100" value=${tg.year} placeholder=${String(year)} onInput=${(e) => setTg({ ...tg, year: e.currentTarget.value })} /></${Field}>
        <${Field} label=${byCode[tg.metric] && byCode[tg.metric].unit === 'fen' ? '目标值（万元）' : '目标值'} name="target" errors=${tgErr} required>
          <input type="text" inputmode="decimal" value=${tg.target} onInput=${(e) => setTg({ ...tg, target: e.currentTarget.value })} /></${Field}>
        <${Field} label="说明" name="note" errors=${tgErr} wide>
          <input type="text" value=${tg.note} onInput=${(e) => setTg({ ...tg, note: e.currentTarget.value })} /></${Field}>
        <${Field} label="依据文件" name="source" errors=${tgErr} wide help="方案名称或文号">
          <input type="text" value=${tg.source} onInput=${(e) => setTg({ ...tg, source: e.currentTarget.value })} /></${Field}>
      </div>
      ${tgFail && !Object.keys(tgErr).length ? html`<${ErrorSummary} err=${tgFail} />` : ''}
      <div class="page-actions" style="margin-top:12px"><${ActionButton} class="btn btn-primary" onClick=${saveTarget}>保存目标</${ActionButton}></div>
    </section>`}`;
}

// --- annual export ----------------------------------------------------------------------------------
// The file name the server gives (RFC 6266: filename* in UTF-8 first).
export function Exports({ me, query }) {
  const years = yearsBack(7);
  const [year, setYear] = useState(Number(query.year) || years[0]);
  const region = me.region_code || '000000';
  const preview = useLoad(() => api.get('/exports/annual', { query: { year, region, format: 'json' } }), [year]);
  const [err, setErr] = useState(null);
  /** @param {'csv' | 'xlsx' | 'json'} format */
  const annual = async (format) => {
    setErr(null);
    try { await download('/exports/annual', { query: { year, region, format } }, `技术市场统计年报-${year}.${format}`); } catch (e) { setErr(e); }
  };
  /** @type {('csv' | 'xlsx' | 'json')[]} */
  const formats = ['xlsx', 'csv', 'json'];
  return html`<${PageTitle} sub="按年度和地区导出技术市场统计年报：各表合计相互一致，并与登记合同明细一致。CSV 为带 BOM 的 UTF-8，可直接用 Excel 打开。"
      actions=${html`<select aria-label="年度" style="width:auto" onChange=${(e) => setYear(Number(e.currentTarget.value))}>${years.map((y) => html`<option value=${y} selected=${y === year}>${y} 年</option>`)}</select>`}>年报导出</${PageTitle}>
    <${Card} title=${year + ' 年度技术市场统计'}>
      <div class="page-actions" style="margin-top:12px">
        ${formats.map((f) => html`<button class="btn btn-primary" data-format=${f} onClick=${() => annual(f)}>导出 ${({ xlsx: 'Excel 表格', csv: 'CSV 文件', json: 'JSON 数据' })[f]}</button>`)}
      </div>
      <${ErrorBox} error=${err} />
    </${Card}>
    <${NationalExport} key=${year} year=${year} region=${region} />
    ${preview.data ? html`<${Card} title="内容预览">${preview.data.tables.map((t) => html`<h3 style="margin-top:12px">${t.title}</h3>
        <${FlowTable} rows=${t.rows} total=${t.total} />`)}</${Card}>`
      : preview.error ? html`<${ErrorBox} error=${preview.error} />` : html`<${Loading} />`}`;
}

// The national reporting export: the registered contracts of a period in the
// layout of the national 技术合同登记表 (GET /exports/national).
function NationalExport({ year, region }) {
  const [from, setFrom] = useState(`${year}-01-01`);
  const [to, setTo] = useState(`${year}-12-31`);
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState('');
  /** @param {'xlsx' | 'gb18030' | 'utf-8'} kind */
  const get = async (kind) => {
    setErr(null); setBusy(kind);
    const q = kind === 'xlsx' ? { from, to, region, format: /** @type {'xlsx'} */ ('xlsx') }
      : { from, to, region, format: /** @type {'csv'} */ ('csv'), encoding: kind };
    try { await download('/exports/national', { query: q }, `技术合同登记表-${from}-${to}.${kind === 'xlsx' ? 'xlsx' : 'csv'}`); } catch (e) { setErr(e); } finally { setBusy(''); }
  };
  const fe = fieldErrors(err);
  return html`<${Card} title="全国技术合同登记表（报送格式）">
    <p class="muted small">所选期间内本地区登记机构登记的技术合同，每份合同一行，列名与国家技术合同管理与服务系统的登记表一致，代码列为国家代码；已注销的登记不列入。</p>
    <div class="form-row" data-testid="national-export">
      <${Field} label="登记日期自" name="from" errors=${fe}><input type="date" name="from" value=${from} onInput=${(e) => setFrom(e.currentTarget.value)} /></${Field}>
      <${Field} label="至" name="to" errors=${fe}><input type="date" name="to" value=${to} onInput=${(e) => setTo(e.currentTarget.value)} /></${Field}>
    </div>
    <div class="page-actions" style="margin-top:12px">
      <button class="btn btn-primary" data-national="xlsx" disabled=${!!busy} onClick=${() => get('xlsx')}>${busy === 'xlsx' ? '正在生成…' : '导出 Excel 表格'}</button>
      <button class="btn" data-national="gb18030" disabled=${!!busy} onClick=${() => get('gb18030')}>${busy === 'gb18030' ? '正在生成…' : '导出 CSV（GB18030）'}</button>
      <button class="btn" data-national="utf-8" disabled=${!!busy} onClick=${() => get('utf-8')}>${busy === 'utf-8' ? '正在生成…' : '导出 CSV（UTF-8）'}</button>
    </div>
    <${ErrorBox} error=${err} />
  </${Card}>`;
}
// an export table: rows with both flows side by side
function FlowTable({ rows, total, head = '分类' }) {
  return html`<div class="table-wrap" tabindex="0"><table class="list"><thead><tr><th>${head}</th><th class="right">输出份数</th><th class="right">输出成交额（万元）</th><th class="right">输出技术交易额（万元）</th>
    <th class="right">吸纳份数</th><th class="right">吸纳成交额（万元）</th></tr></thead><tbody>
    ${[...rows, { key: 'total', label: '合计', out: total.out, in: total.in, total: true }].map((r) => {
      const o = r.out, i = r.in;
      const C = r.total ? 'th' : 'td';
      return html`<tr data-key=${r.total ? undefined : r.key}><${C}>${r.label || r.key}</${C}><${C} class="right num">${o.count}</${C}><${C} class="right num">${wan(o.contract_amount_fen)}</${C}><${C} class="right num">${wan(o.technical_amount_fen)}</${C}>
        <${C} class="right num">${i.count}</${C}><${C} class="right num">${wan(i.contract_amount_fen)}</${C}></tr>`;
    })}</tbody></table></div>`;
}

// --- subsidies (后补助) -------------------------------------------------------------------------------
// Policies are data (rules: lines, budget); a run computes every recipient's
// award for a year with the reasons, stored and shown here.
const PARTY = { seller: '卖方（技术输出方）', buyer: '买方（技术吸纳方）', broker: '技术经纪人', office: '登记机构', institution: '技术转移示范机构' };
const LEVEL = { national: '国家级', provincial: '省级', city: '市级' };
const BASE = { contract_amount: '合同成交额', technical_amount: '技术交易额', received_amount: '实际到账额' };
const EXCLUDE = { government_funded: '财政资金项目', related_parties: '关联方交易', already_subsidised: '已享受其他补助' };
/** @param {import('../api-types').Schema<'SubsidyRuleLine'> | import('../api-types').Schema<'SubsidyFixedLine'>} l */
function lineText(l) {
  if (l.label) return l.label;
  if (!('rate' in l)) {
    if (l.amount_by_level_fen) return '新认定示范机构：' + Object.entries(l.amount_by_level_fen).map(([k, v]) => `${LEVEL[k] || k} ${wan(v)} 万元`).join('、');
    return `新取得证书的技术经纪人每人 ${wan(l.amount_per_broker_fen || 0)} 万元`;
  }
  const rate = 'flat_bp' in l.rate ? (l.rate.flat_bp / 100).toFixed(2) + '%' : 'per_contract_fen' in l.rate ? `每份合同 ${wan(l.rate.per_contract_fen)} 万元` : '分段累进';
  return `${PARTY[l.party]} · ${l.base_year === 'previous' ? '上年' : '当年'}${BASE[l.base]} × ${rate}`;
}
function budgetText(b, year) {
  if (b == null) return '不限';
  if (typeof b === 'number') return wan(b) + ' 万元';
  return b[String(year)] != null ? wan(b[String(year)]) + ' 万元' : '本年度未设';
}

export function Subsidies({ me }) {
  const years = yearsBack(7);
  const [year, setYear] = useState(years[0]);
  const [tab, setTab] = useState('run');
  const policies = useLoad(() => api.get('/subsidy-policies', { query: { limit: 100 } }), []);
  const runs = useLoad(() => api.get('/subsidy-runs', { query: { year, limit: 20 } }), [year]);
  const [picked, setPicked] = useState([]);
  const [run, setRun] = useState(null);
  const [err, setErr] = useState(null);
  const [showNew, setShowNew] = useState(false);
  const start = async () => {
    setErr(null); setRun(null);
    try { setRun(await api.post('/subsidy-runs', { body: { year, policy_ids: picked } })); runs.reload(); } catch (e) { setErr(e); }
  };
  const open = async (id) => { setErr(null); try { setRun(await api.get('/subsidy-runs/{id}', { path: { id } })); } catch (e) { setErr(e); } };
  const items = (policies.data && policies.data.items) || [];
  const inForce = (p) => p.valid_from_year <= year && (p.valid_to_year == null || p.valid_to_year >= year) && p.active;
  return html`<${PageTitle} sub="按补助政策测算各单位、技术经纪人的后补助金额及计算依据；同样的数据测算结果相同，已注销的登记在下次测算中追回。"
      actions=${html`<select aria-label="年度" style="width:auto" onChange=${(e) => { setYear(Number(e.currentTarget.value)); setPicked([]); setRun(null); }}>${years.map((y) => html`<option value=${y} selected=${y === year}>${y} 年</option>`)}</select>`}>后补助测算</${PageTitle}>
    <${Tabs} value=${tab} onChange=${setTab} tabs=${[['run', '补助测算'], ['tax', '税收优惠估算']]} />
    ${tab === 'tax' ? html`<${TaxRelief} year=${year} region=${me.region_code || '000000'} />` : html`
    <${Card} title="补助政策" actions=${html`<button class="btn btn-small" onClick=${() => setShowNew(!showNew)}>${showNew ? '收起' : '＋ 新增政策'}</button>`}>
      ${showNew ? html`<${PolicyForm} year=${year} region=${me.region_code || '000000'} done=${() => { setShowNew(false); policies.reload(); }} />` : ''}
      ${policies.loading ? html`<${Loading} />` : policies.error ? html`<${ErrorBox} error=${policies.error} />` : !items.length ? html`<${Empty}>本辖区尚无补助政策，可新增政策后测算。</${Empty}>` : html`
        <div class="table-wrap" tabindex="0"><table class="list stack"><thead><tr><th><span class="sr-only">选择</span></th><th>政策</th><th>地区</th><th>有效年度</th><th>补助规则</th><th>预算</th></tr></thead><tbody>
        ${items.map((p) => html`<tr data-id=${p.id}><td><input type="checkbox" disabled=${!inForce(p)} checked=${picked.includes(p.id)} aria-label=${'选择政策：' + p.name}
            onChange=${() => setPicked(picked.includes(p.id) ? picked.filter((x) => x !== p.id) : [...picked, p.id])} /></td>
          <td data-label="政策">${p.name}${p.source ? html`<div class="small muted">${p.source}</div>` : ''}</td>
          <td data-label="地区">${p.region_name}</td>
          <td data-label="有效年度" class="nowrap">${p.valid_from_year}–${p.valid_to_year ?? '长期'}${inForce(p) ? '' : html`<div class="small muted">${year} 年不适用</div>`}</td>
          <td data-label="规则" class="small">${p.rules.lines.map((l) => html`<div>${lineText(l)}</div>`)}</td>
          <td data-label="预算" class="nowrap">${budgetText(p.rules.budget_fen, year)}</td></tr>`)}</tbody></table></div>
        <div class="form-actions"><${ActionButton} class="btn btn-primary" disabled=${!picked.length} onClick=${start}>按所选政策测算 ${year} 年补助</${ActionButton}></div>`}
      <${ErrorBox} error=${err} />
    </${Card}>
    ${runs.data && runs.data.items.length ? html`<${Card} title=${year + ' 年已有测算'}><div class="table-wrap" tabindex="0"><table class="list"><thead><tr><th>测算</th><th>时间</th><th class="right">补助合计（元）</th><th class="right">追回（元）</th><th><span class="sr-only">操作</span></th></tr></thead><tbody>
      ${runs.data.items.map((r) => html`<tr><td>第 ${r.id} 次</td><td>${dateTime(r.created_at)}</td><td class="right num">${yuan(r.total_awarded_fen)}</td>
        <td class="right num">${yuan(-r.total_clawback_fen)}</td><td><button class="btn btn-small" onClick=${() => open(r.id)}>查看</button></td></tr>`)}</tbody></table></div></${Card}>` : ''}
    ${run ? html`<${RunView} run=${run} />` : ''}`}`;
}

/** @param {{run: import('../api-types').Schema<'SubsidyRun'>}} props */
function RunView({ run }) {
  return html`<${Card} title=${'测算结果（第 ' + run.id + ' 次）'} actions=${html`<span class="small muted" title="相同输入得到相同摘要">摘要 ${run.digest.slice(0, 12)}</span>`}>
    <${Facts} rows=${[['年度', run.year], ['补助合计', html`<b>${yuan(run.total_awarded_fen)} 元</b>`], ['追回合计', yuan(-run.total_clawback_fen) + ' 元'], ['测算时间', dateTime(run.created_at)]]} />
    ${run.policies.map((p) => html`<div class="form-section" style="margin-top:14px"><h3>${p.name}${p.scope_region_name ? ' · ' + p.scope_region_name : ''}</h3>
      <p class="small muted">申请合计 ${yuan(p.claims_fen)} 元${p.budget_fen != null ? `，预算 ${yuan(p.budget_fen)} 元` : ''}${p.pro_rated ? '，已按预算折算' : ''}；核定 ${yuan(p.awarded_fen)} 元${p.clawback_fen ? `，追回 ${yuan(-p.clawback_fen)} 元` : ''}。</p>
      ${p.previous_run_id != null && p.parties.length ? html`<h4 style="margin:10px 0 4px">各补助对象较上次测算的变化</h4>
        <div class="table-wrap" tabindex="0"><table class="list stack" data-parties><thead><tr><th>补助对象</th><th>类别</th><th class="right">上次（元）</th><th class="right">本次（元）</th><th class="right">净变化（元）</th><th class="right">追回（元）</th></tr></thead><tbody>
        ${p.parties.map((x) => html`<tr data-key=${x.recipient_key}><td data-label="对象">${x.name}</td><td data-label="类别">${PARTY[x.party]}</td>
          <td data-label="上次" class="right num">${yuan(x.previous_amount_fen ?? 0)}</td><td data-label="本次" class="right num">${yuan(x.amount_fen)}</td>
          <td data-label="净变化" class="right num">${yuan(x.change_fen ?? 0)}</td><td data-label="追回" class="right num">${x.clawback_fen ? yuan(-x.clawback_fen) : '—'}</td></tr>`)}</tbody></table></div>
        <p class="small muted">只有本次补助较上次减少的对象才追回，且追回金额不超过减少额。</p>` : ''}
      ${!p.awards.length ? html`<${Empty}>没有符合条件的补助对象</${Empty}>` : html`<div class="table-wrap" tabindex="0"><table class="list stack"><thead><tr><th>补助对象</th><th>类别</th><th class="right">计算基数（元）</th><th class="right">补助（元）</th><th class="right">较上次（元）</th><th>依据</th></tr></thead><tbody>
        ${p.awards.map((a) => html`<tr><td data-label="对象">${a.recipient.name}</td>
          <td data-label="类别">${a.kind === 'clawback' ? html`<span class="badge badge-red">追回</span>` : PARTY[a.party]}</td>
          <td data-label="基数" class="right num">${yuan(a.base_total_fen)}</td><td data-label="补助" class="right num">${yuan(a.amount_fen)}</td>
          <td data-label="较上次" class="right num">${a.change_fen != null ? yuan(a.change_fen) : '—'}</td>
          <td data-label="依据" class="small">${reasonsText(a)}</td></tr>`)}</tbody></table></div>`}</div>`)}
  </${Card}>`;
}
/** @param {import('../api-types').Schema<'SubsidyAward'>} a */
function reasonsText(a) {
  const r = a.reasons;
  if ('clawback' in r) {
    const c = r.clawback;
    return `登记 ${c.registration_no || ''} 已注销：上次测算中该合同占 ${yuan(c.previous_share_fen)} 元，本次补助较上次减少 ${yuan(c.net_fall_fen ?? c.previous_share_fen)} 元，追回 ${yuan(c.taken_fen ?? c.previous_share_fen)} 元（追回不超过减少额）`;
  }
  if (!('rate' in r)) {
    const parts = [];
    if (r.recognition) parts.push(`${r.recognition.recognised_on} 由${r.recognition.recognised_by}认定为${r.recognition.level_label}${r.recognition.document_no ? '（' + r.recognition.document_no + '）' : ''}`);
    if (r.certification) parts.push(`${r.certification.obtained_on} 取得证书 ${r.certification.certificate_no || ''}（${r.certification.issuer}）`);
    if (r.note && r.note.startsWith('already_awarded')) parts.push('该级别已奖励过，不重复奖励');
    else if (r.note) parts.push('本次已不符合条件');
    if (r.pro_rating) parts.push('超预算按比例折算');
    return parts.join('；') || '定额奖励';
  }
  const parts = [`计入合同 ${r.contracts_counted} 份`];
  if (r.contracts_excluded) parts.push(`排除 ${r.contracts_excluded} 份（${[...new Set(r.excluded.map((x) => EXCLUDE[x.reason]))].join('、')}）`);
  if (r.threshold && r.threshold.threshold_fen) parts.push(`年度门槛 ${yuan(r.threshold.threshold_fen)} 元${r.threshold.met ? '（已达到）' : '（未达到）'}`);
  if ('flat_bp' in r.rate) parts.push(`比例 ${(r.rate.flat_bp / 100).toFixed(2)}%`);
  else if ('per_contract_fen' in r.rate) parts.push(`每份合同 ${yuan(r.rate.per_contract_fen)} 元`);
  else parts.push('分段累进');
  if (r.certified_brokers_only) parts.push('仅计持证技术经纪人促成的合同');
  if (r.contracts_capped) parts.push(`${r.contracts_capped} 份按单笔上限 ${yuan(r.cap_per_contract_fen)} 元封顶`);
  if (r.year_capped) parts.push(`按年度上限 ${yuan(r.cap_per_year_fen)} 元封顶`);
  if (r.pro_rating) parts.push('超预算按比例折算');
  return parts.join('；');
}

const VAT_REASON = { exempt_type: '免征', related_to_exempt_contract: '免征（与技术转让、开发相关）', not_related: '不免征（未关联技术转让、开发合同）', not_exempt_type: '不免征' };
const CIT_REASON = {
  qualifying: '计入技术转让所得', not_transfer_type: '非技术转让合同', seller_not_cit_payer: '卖方为自然人，不计',
  ip_not_qualifying: '所转让的技术不在优惠范围（如技术秘密、专利申请权）', licence_too_short: '许可期限不足 5 年', wholly_related_party: '100% 关联方之间的转让，不享受',
};
function TaxRelief({ year, region }) {
  const r = useLoad(() => api.get('/tax-relief', { query: { year, region } }), [year]);
  const [open, setOpen] = useState(null);
  if (r.loading) return html`<${Loading} />`;
  if (r.error) return html`<${ErrorBox} error=${r.error} />`;
  const { items, assumptions: a, totals } = r.data;
  return html`<${Card} title=${year + ' 年技术合同税收优惠估算'}>
    <p class="small muted">按登记合同和下列规则估算卖方可享受的减免额；规则与税率为可调整的数据，每条注明依据。</p>
    <ul class="rules" data-testid="tax-assumptions">${a.statements.map((x) => html`<li data-rule=${x.code}><b>${x.text}</b>${x.source ? html`<div class="small muted">依据：${x.source}</div>` : ''}</li>`)}</ul>
    ${!items.length ? html`<${Empty} />` : html`<div class="table-wrap" tabindex="0"><table class="list stack"><thead><tr><th>卖方</th><th class="right">合同</th>
        <th class="right">免税基础（元）</th><th class="right">免征增值税（元）</th><th class="right">技术转让所得（元）</th><th class="right">所得税减免（元）</th><th class="right">合计（元）</th><th><span class="sr-only">明细</span></th></tr></thead><tbody>
      ${items.map((x) => html`<tr data-seller=${x.seller.key}><td data-label="卖方">${x.seller.name}</td><td data-label="合同" class="right num">${x.contracts}</td>
        <td data-label="免税基础" class="right num">${yuan(x.vat_exempt_amount_fen)}${x.vat_non_technical_fen ? html`<div class="small muted">不含设备材料 ${yuan(x.vat_non_technical_fen)}</div>` : ''}</td>
        <td data-label="增值税" class="right num">${yuan(x.vat_saved_fen)}</td>
        <td data-label="转让所得" class="right num">${yuan(x.cit_transfer_income_fen)}</td>
        <td data-label="所得税" class="right num">${yuan(x.cit_relief_fen)}</td>
        <td data-label="合计" class="right num"><b>${yuan(x.total_relief_fen)}</b></td>
        <td data-label=""><button class="btn btn-small" aria-expanded=${open === x.seller.key} onClick=${() => setOpen(open === x.seller.key ? null : x.seller.key)}>${open === x.seller.key ? '收起' : '逐份合同'}</button></td></tr>
        ${open === x.seller.key ? html`<tr class="detail"><td colspan="8"><div class="table-wrap" tabindex="0"><table class="list"><thead><tr><th>登记编号</th><th>子类别</th><th class="right">技术交易额（元）</th><th>增值税</th><th>企业所得税</th></tr></thead><tbody>
          ${x.details.map((d) => html`<tr data-contract=${d.contract_id}><td class="num">${d.registration_no}</td><td>${d.contract_subtype_label}</td><td class="right num">${yuan(d.technical_amount_fen)}</td>
            <td data-vat=${d.vat_reason}>${VAT_REASON[d.vat_reason] || d.vat_reason}</td><td data-cit=${d.cit_reason}>${CIT_REASON[d.cit_reason] || d.cit_reason}</td></tr>`)}</tbody></table></div></td></tr>` : ''}`)}
      <tr><th>合计（${totals.sellers} 个卖方）</th><th class="right num">${totals.contracts}</th><th class="right num">${yuan(totals.vat_exempt_amount_fen)}</th><th class="right num">${yuan(totals.vat_saved_fen)}</th>
        <th class="right num">${yuan(totals.cit_transfer_income_fen)}</th><th class="right num">${yuan(totals.cit_relief_fen)}</th><th class="right num">${yuan(totals.total_relief_fen)}</th><th></th></tr>
      </tbody></table></div>`}
    <p class="source-note">${a.note}</p>
  </${Card}>`;
}

const POLICY_LABELS = {
  name: '政策名称', valid_from_year: '起始年度', valid_to_year: '截止年度', source: '政策依据', rules: '补助规则', 'rules.lines': '补助规则',
  'rules.lines.party': '补助对象', 'rules.lines.base': '计算基数', 'rules.lines.base_year': '基数年度', 'rules.lines.rate': '补助比例',
  'rules.lines.rate.flat_bp': '补助比例', 'rules.lines.threshold_fen': '年度门槛', 'rules.lines.cap_per_contract_fen': '单笔合同上限',
  'rules.lines.cap_per_org_year_fen': '每个对象每年上限', 'rules.lines.cap_per_broker_year_fen': '每个对象每年上限',
  'rules.lines.contract_types': '适用合同类别', 'rules.lines.exclude': '不予补助的情形', 'rules.budget_fen': '总预算',
};
function PolicyForm({ year, region, done }) {
  const types = useCodes('contract_types');
  const [f, setF] = useState({ name: '', valid_from_year: year, valid_to_year: '', source: '', party: 'seller', base: 'technical_amount', base_year: 'same',
    contract_types: [], threshold_fen: null, rate_pct: '1', cap_per_contract_fen: null, cap_per_org_year_fen: null, exclude: [], budget_fen: null, note: '' });
  const [err, setErr] = useState(null);
  const fe = fieldErrors(err);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const toggle = (k, c) => set(k)(f[k].includes(c) ? f[k].filter((x) => x !== c) : [...f[k], c]);
  const save = async () => {
    setErr(null);
    const bp = toFen(f.rate_pct);    // a percentage with two decimals → basis points
    /** @type {import('../api-types').Schema<'SubsidyRuleLine'>} */
    const line = { party: /** @type {any} */ (f.party), base: /** @type {any} */ (f.base), base_year: /** @type {any} */ (f.base_year), rate: { flat_bp: Number.isNaN(bp) || bp === null ? 0 : bp } };
    if (f.contract_types.length) line.contract_types = f.contract_types;
    if (f.threshold_fen != null) line.threshold_fen = f.threshold_fen;
    if (f.cap_per_contract_fen != null) line.cap_per_contract_fen = f.cap_per_contract_fen;
    if (f.cap_per_org_year_fen != null) line[f.party === 'broker' ? 'cap_per_broker_year_fen' : 'cap_per_org_year_fen'] = f.cap_per_org_year_fen;
    if (f.exclude.length) line.exclude = f.exclude;
    /** @type {import('../api-types').Schema<'SubsidyRules'>} */
    const rules = { lines: [line] };
    if (f.budget_fen != null) rules.budget_fen = f.budget_fen;
    if (f.note) rules.note = f.note;
    const body = { name: f.name, region_code: region, valid_from_year: Number(f.valid_from_year), valid_to_year: f.valid_to_year ? Number(f.valid_to_year) : null,
      source: f.source || null, rules };
    try { await api.post('/subsidy-policies', { body }); done(); } catch (e) { setErr(e); }
  };
  const tops = types.filter((x) => !x.parent_code);
  const opts = (o) => Object.entries(o).map(([code, label]) => ({ code, label }));
  const L = 'rules.lines.0.';
  return html`<div class="form form-section" style="margin-bottom:16px">
    <${ErrorSummary} err=${err} labels=${POLICY_LABELS} />
    <div class="form-grid">
    <${Field} wide label="政策名称" name="name" errors=${fe} required><input type="text" value=${f.name} onInput=${(e) => set('name')(e.currentTarget.value)} placeholder="如：巴中市技术合同交易后补助" /></${Field}>
    <${Field} label="起始年度" name="valid_from_year" errors=${fe} required><input type="number" value=${f.valid_from_year} onInput=${(e) => set('valid_from_year')(e.currentTarget.value)} /></${Field}>
    <${Field} label="截止年度" name="valid_to_year" errors=${fe} help="留空表示长期有效。"><input type="number" value=${f.valid_to_year} onInput=${(e) => set('valid_to_year')(e.currentTarget.value)} /></${Field}>
    <${Field} wide label="政策依据" name="source" errors=${fe}><input type="text" value=${f.source} onInput=${(e) => set('source')(e.currentTarget.value)} placeholder="文件名称和条款" /></${Field}>
    <${Field} label="补助对象" name=${L + 'party'} errors=${fe}><${Select} items=${opts(PARTY)} value=${f.party} onChange=${set('party')} empty=${false} /></${Field}>
    <${Field} label="计算基数" name=${L + 'base'} errors=${fe}><${Select} items=${opts(BASE)} value=${f.base} onChange=${set('base')} empty=${false} /></${Field}>
    <${Field} label="基数年度" name=${L + 'base_year'} errors=${fe}><${Select} items=${[{ code: 'same', label: '补助当年' }, { code: 'previous', label: '上一年度' }]} value=${f.base_year} onChange=${set('base_year')} empty=${false} /></${Field}>
    <${Field} label="补助比例（%）" name=${L + 'rate.flat_bp'} errors=${fe}><input type="text" inputmode="decimal" value=${f.rate_pct} onInput=${(e) => set('rate_pct')(e.currentTarget.value)} /></${Field}>
    <${Field} label="年度门槛" name=${L + 'threshold_fen'} errors=${fe} help="补助对象全年基数合计达到此数才享受。"><${MoneyInput} scale=${10000} value=${f.threshold_fen} onChange=${set('threshold_fen')} /></${Field}>
    <${Field} label="单笔合同上限" name=${L + 'cap_per_contract_fen'} errors=${fe}><${MoneyInput} scale=${10000} value=${f.cap_per_contract_fen} onChange=${set('cap_per_contract_fen')} /></${Field}>
    <${Field} label="每个对象每年上限" name=${L + (f.party === 'broker' ? 'cap_per_broker_year_fen' : 'cap_per_org_year_fen')} errors=${fe}><${MoneyInput} scale=${10000} value=${f.cap_per_org_year_fen} onChange=${set('cap_per_org_year_fen')} /></${Field}>
    <${Field} label="总预算" name="rules.budget_fen" errors=${fe} help="补助总额超过预算时按比例折算。"><${MoneyInput} scale=${10000} value=${f.budget_fen} onChange=${set('budget_fen')} /></${Field}>
    <${Field} wide group label="适用合同类别" name=${L + 'contract_types'} errors=${fe} help="不选表示全部类别。"><div class="checks">${tops.map((t) => html`<label class="check"><input type="checkbox" checked=${f.contract_types.includes(t.code)} onChange=${() => toggle('contract_types', t.code)} /> ${t.label}</label>`)}</div></${Field}>
    <${Field} wide group label="不予补助的情形" name=${L + 'exclude'} errors=${fe}><div class="checks">${Object.entries(EXCLUDE).map(([c, l]) => html`<label class="check"><input type="checkbox" checked=${f.exclude.includes(c)} onChange=${() => toggle('exclude', c)} /> ${l}</label>`)}</div></${Field}>
  </div>
  <${ActionButton} class="btn btn-primary" onClick=${save}>保存政策</${ActionButton}></div>`;
}
