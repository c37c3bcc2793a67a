// Importing past contracts (历史导入) — the registration officer's screen:
// download the template, choose a CSV or Excel file, check it (nothing is
// written: every problem by row and column), import it (all or nothing), and
// see the office's earlier imports.  POST /imports/contracts (?dry_run=true),
// GET /imports/contracts, GET /imports/contracts/template.
import { useState, useRef } from 'preact/hooks';
import { api, request, download } from '../api.js';
import { html, wan, dateTime, Loading, ErrorBox, Empty, Card, PageTitle, Facts, Notice, useLoad } from '../ui.js';

/** @typedef {import('../api-types').Schema<'ImportReport'>} Report */
/** @typedef {{row: number, column: string, message: string}} RowError */

const ENCODING = { 'utf-8': 'UTF-8', 'utf-8-bom': 'UTF-8（带 BOM）', gb18030: 'GB18030' };

/** @param {{errors: RowError[], total: number}} props */
function ErrorTable({ errors, total }) {
  return html`<div data-testid="import-errors">
    <p class="alert alert-error" role="alert">发现 <b>${total}</b> 个问题，未导入任何合同。请在文件中逐条修改后重新检查。${total > errors.length ? `（以下列出前 ${errors.length} 个）` : ''}</p>
    <div class="table-wrap" tabindex="0"><table class="list stack"><thead><tr><th>行</th><th>列</th><th>问题</th></tr></thead><tbody>
      ${errors.map((e) => html`<tr data-row=${e.row} data-column=${e.column}>
        <td data-label="行" class="nowrap">${e.row ? `第 ${e.row} 行` : '文件'}</td>
        <td data-label="列">${e.column || '—'}</td>
        <td data-label="问题">${e.message}</td></tr>`)}
    </tbody></table></div></div>`;
}

/** @param {{report: Report}} props */
function Summary({ report }) {
  const s = report.summary;
  return html`<div data-testid="import-summary"><${Facts} rows=${[
    ['文件', `${report.format === 'xlsx' ? 'Excel 工作簿（XLSX）' : 'CSV'}${report.encoding ? ` · ${ENCODING[report.encoding] || report.encoding} 编码` : ''}，${report.rows} 行数据`],
    ['合同', html`<b data-testid="import-count">${s.contracts}</b> 份`],
    ['合同成交额', `${wan(s.contract_amount_fen)} 万元`],
    ['技术交易额', `${wan(s.technical_amount_fen)} 万元`],
    ['登记年度', s.years.map((y) => html`<span class="badge">${y.year} 年 ${y.contracts} 份 · ${wan(y.contract_amount_fen)} 万元</span> `)],
  ]} /></div>`;
}

export function Import({ me }) {
  const file = useRef(null);
  const [picked, setPicked] = useState('');
  /** @type {[Report | null, any]} */
  const [report, setReport] = useState(null);
  /** @type {[RowError[] | null, any]} */
  const [rowErrors, setRowErrors] = useState(null);
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState('');
  const batches = useLoad(() => api.get('/imports/contracts', { query: { limit: 20 } }), []);

  /** @param {boolean} dry */
  const send = async (dry) => {
    const fl = file.current && file.current.files[0];
    if (!fl) return;
    setErr(null); setBusy(dry ? 'check' : 'import'); setRowErrors(null);
    if (dry) setReport(null);
    try {
      const resp = await request('POST', '/imports/contracts', {
        query: { dry_run: dry ? 'true' : 'false', filename: fl.name.slice(0, 200) }, raw: true,
        headers: { 'Content-Type': fl.type || 'application/octet-stream' }, bodyRaw: fl,
      });
      /** @type {Report} */
      const rep = await resp.json();
      setReport(rep);
      if (!dry) batches.reload();
    } catch (e) {
      // a real import with problems: the same table as a check gives
      if (e.status === 422 && e.errors && e.errors.length && 'row' in e.errors[0]) setRowErrors(/** @type {any} */ (e.errors));
      else setErr(e);
    } finally { setBusy(''); }
  };
  /** @param {'xlsx' | 'csv'} format */
  const template = async (format) => {
    setErr(null);
    try { await download('/imports/contracts/template', { query: { format } }, `历史合同导入模板.${format}`); } catch (e) { setErr(e); }
  };
  const done = report && report.batch;
  const items = (batches.data && batches.data.items) || [];
  return html`<${PageTitle} sub=${html`${me.office ? me.office.name + '：' : ''}把原系统或 Excel 中已经登记的技术合同导入本系统。导入的合同保留原登记编号和登记日期，立即计入统计和计划目标；登记证明注明“历史导入”，不由本系统签发。`}>历史合同导入</${PageTitle}>
    <${Card} title="第一步：按模板整理文件">
      <p>每行一份合同，第一行为列名。必填：登记编号、合同名称、合同类别、卖方名称、卖方统一社会信用代码、卖方所在地区代码、买方名称、买方统一社会信用代码、买方所在地区代码、签订日期、登记日期、合同成交额（元）、技术交易额（元）、技术领域。类别、领域等可填名称或代码。模板的“填写说明”页逐列说明。</p>
      <div class="page-actions">
        <button class="btn" data-template="xlsx" onClick=${() => template('xlsx')}>下载 Excel 模板</button>
        <button class="btn" data-template="csv" onClick=${() => template('csv')}>下载 CSV 模板</button>
      </div>
    </${Card}>
    <${Card} title="第二步：检查并导入">
      <p class="muted small">支持 Excel 工作簿（.xlsx）和 CSV 文件（UTF-8 或 GB18030 编码，Excel“另存为 CSV”即可）。先“检查”：逐行核对，不写入任何数据；检查无误后“导入”，全部合同一次登记，有任何问题则一份也不导入。</p>
      <div class="field">
        <label for="import-file">导入文件</label>
        <input type="file" id="import-file" name="import-file" ref=${file} accept=".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
          onChange=${(e) => { setPicked(e.currentTarget.files[0] ? e.currentTarget.files[0].name : ''); setReport(null); setRowErrors(null); setErr(null); }} />
      </div>
      <div class="page-actions">
        <button class="btn" data-action="check" disabled=${!picked || !!busy} onClick=${() => send(true)}>${busy === 'check' ? '正在检查…' : '检查（不写入）'}</button>
        <button class="btn btn-primary" data-action="import" disabled=${!picked || !!busy || (report && !report.valid)} onClick=${() => send(false)}>${busy === 'import' ? '正在导入…' : '导入'}</button>
      </div>
      <${ErrorBox} error=${err} />
      ${busy ? html`<${Loading} text=${busy === 'check' ? '正在逐行检查文件…' : '正在导入…'} />` : ''}
      ${report && !done ? html`<div data-testid="import-report" data-valid=${String(report.valid)}>
          ${report.valid ? html`<${Notice} tone="success">检查通过：${report.summary.contracts} 份合同都可以导入。确认后点击“导入”。</${Notice}>` : ''}
          <${Summary} report=${report} />
          ${report.errors_total ? html`<${ErrorTable} errors=${report.errors} total=${report.errors_total} />` : ''}
        </div>` : ''}
      ${rowErrors ? html`<${ErrorTable} errors=${rowErrors} total=${rowErrors.length} />` : ''}
      ${done ? html`<div data-testid="import-done">
          <${Notice} tone="success">已导入 <b>${report.batch.contracts}</b> 份合同（导入批次 ${report.batch.id}），登记编号 ${report.batch.first_registration_no} 至 ${report.batch.last_registration_no}。</${Notice}>
          <${Summary} report=${report} />
          <a class="btn" href="#/registry/done">查看已办登记</a>
        </div>` : ''}
    </${Card}>
    <${Card} title="导入记录">
      ${batches.loading ? html`<${Loading} />` : batches.error ? html`<${ErrorBox} error=${batches.error} />` : !items.length ? html`<${Empty}>还没有导入过历史合同</${Empty}>`
        : html`<div class="table-wrap" tabindex="0"><table class="list stack" data-testid="import-batches"><thead><tr>
            <th>时间</th><th>文件</th><th class="right">合同（份）</th><th class="right">合同成交额（万元）</th><th>登记编号</th></tr></thead><tbody>
          ${items.map((b) => html`<tr data-batch=${b.id}>
            <td data-label="时间" class="nowrap">${dateTime(b.created_at)}</td>
            <td data-label="文件">${b.filename || '（未命名）'}</td>
            <td data-label="合同" class="right num">${b.contracts}</td>
            <td data-label="成交额" class="right num">${wan(b.contract_amount_fen)}</td>
            <td data-label="登记编号" class="small">${b.first_registration_no} 至 ${b.last_registration_no}</td></tr>`)}
          </tbody></table></div>`}
    </${Card}>`;
}
