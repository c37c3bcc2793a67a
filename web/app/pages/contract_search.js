// Contract search (合同检索) for the registration officer, the bureau and the
// admin: a search box (registration number, title, party names, credit codes),
// filters (status, type, year, region, amount range, overdue) and a sort, over
// the contracts in the caller's scope.  The search is in the address
// (#/search/contracts?q=…), so it can be kept, shared and reloaded.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import {
  html, Loading, ErrorBox, ErrorSummary, Empty, PageTitle, Field, Select, CodeSelect, MoneyInput, RegionPicker, usePaged,
  More, navigate, fieldErrors, todayCN,
} from '../ui.js';
import { ContractTable, ContractCount } from './contracts.js';

const SORTS = [
  { code: 'newest', label: '最新创建在前' }, { code: 'oldest', label: '最早创建在前' },
  { code: 'amount_desc', label: '成交额从高到低' }, { code: 'amount_asc', label: '成交额从低到高' },
  { code: 'registered', label: '最近登记在前（仅已登记）' },
];
const STATUSES = [
  { code: 'submitted', label: '审查中' }, { code: 'returned', label: '退回补正' }, { code: 'registered', label: '已登记' },
  { code: 'refused', label: '不予登记' }, { code: 'cancelled', label: '已注销' }, { code: 'draft', label: '草稿' },
];
const LABELS = { q: '检索词', status: '状态', type: '合同类别', year: '登记年度', region: '地区', amount_min: '成交额下限',
  amount_max: '成交额上限', overdue: '是否超期', sort: '排序', cursor: '翻页' };
const KEYS = ['q', 'status', 'type', 'year', 'region', 'amount_min', 'amount_max', 'overdue', 'sort'];

export function ContractSearch({ query, me }) {
  const [total, setTotal] = useState(/** @type {{value: number, exact: boolean} | null} */ (null));
  const [f, setF] = useState(() => Object.fromEntries(KEYS.map((k) => [k, query[k] || ''])));
  const set = (k) => (v) => setF({ ...f, [k]: v ?? '' });
  const asked = KEYS.map((k) => query[k] || '').join('|');
  const paged = usePaged((cursor) => api.get('/contracts', {
    query: {
      q: query.q || undefined, status: /** @type {any} */ (query.status || undefined), type: query.type || undefined,
      year: query.year ? Number(query.year) : undefined, region: query.region || undefined,
      amount_min: query.amount_min ? Number(query.amount_min) : undefined,
      amount_max: query.amount_max ? Number(query.amount_max) : undefined,
      overdue: query.overdue === 'true' ? 'true' : undefined, sort: /** @type {any} */ (query.sort || undefined),
      limit: 20, cursor: cursor || undefined,
    },
  }).then((page) => { if (!cursor) setTotal(page.total || null); return page; }), [asked]);
  const go = (e) => {
    e.preventDefault();
    const qs = new URLSearchParams(Object.entries(f).filter(([, v]) => v !== '' && v !== null && v !== undefined)).toString();
    navigate('/search/contracts' + (qs ? '?' + qs : ''));
  };
  const thisYear = Number(todayCN().slice(0, 4));
  const years = Array.from({ length: 15 }, (_, i) => ({ code: String(thisYear - i), label: `${thisYear - i} 年` }));
  const scope = me.role === 'officer' ? '本登记机构受理的申请' : me.role === 'bureau' ? '本辖区（含下级地区）卖方或买方所在的登记合同' : '全部合同';
  const fe = fieldErrors(paged.error);
  return html`<${PageTitle} sub=${`在${scope}中检索：登记编号（完整或前几位）、合同名称、当事人名称、统一社会信用代码。`}>合同检索</${PageTitle}>
    <form class="card form" role="search" onSubmit=${go}>
      <div class="searchbar">
        <label class="sr-only" for="contract-q">检索词</label>
        <input id="contract-q" type="search" name="q" value=${f.q} placeholder="登记编号、合同名称、当事人或信用代码" onInput=${(e) => set('q')(e.currentTarget.value)} />
        <button class="btn btn-primary" type="submit">检索</button>
      </div>
      <div class="form-grid filters">
        <${Field} label="状态" name="status" errors=${fe}><${Select} value=${f.status} items=${STATUSES} empty="全部" onChange=${set('status')} /></${Field}>
        <${Field} label="合同类别" name="type" errors=${fe}><${CodeSelect} list="contract_types" value=${f.type} empty="全部" onChange=${set('type')} /></${Field}>
        <${Field} label="登记年度" name="year" errors=${fe}><${Select} value=${f.year} items=${years} empty="全部" onChange=${set('year')} /></${Field}>
        <${Field} label="排序" name="sort" errors=${fe}><${Select} value=${f.sort || 'newest'} items=${SORTS} empty=${false} onChange=${set('sort')} /></${Field}>
        <${Field} label="成交额下限" name="amount_min" errors=${fe}><${MoneyInput} scale=${10000} value=${f.amount_min === '' ? null : Number(f.amount_min)}
          onChange=${(v) => set('amount_min')(v === null || v === undefined ? '' : String(v))} /></${Field}>
        <${Field} label="成交额上限" name="amount_max" errors=${fe}><${MoneyInput} scale=${10000} value=${f.amount_max === '' ? null : Number(f.amount_max)}
          onChange=${(v) => set('amount_max')(v === null || v === undefined ? '' : String(v))} /></${Field}>
        <${Field} label="卖方或买方所在地区" name="region" errors=${fe} group><${RegionPicker} value=${f.region || null} onChange=${(v) => set('region')(v || '')} /></${Field}>
        <${Field} label="是否超期" name="overdue" errors=${fe}><label class="check"><input type="checkbox" checked=${f.overdue === 'true'}
          onChange=${(e) => set('overdue')(e.currentTarget.checked ? 'true' : '')} /> 只看已超过审查期限的申请</label></${Field}>
      </div>
      <div class="form-actions"><button class="btn btn-primary" type="submit">检索</button>
        <button class="btn" type="button" onClick=${() => { setF(Object.fromEntries(KEYS.map((k) => [k, '']))); navigate('/search/contracts'); }}>清空条件</button></div>
    </form>
    <div class="card" data-testid="contract-results">
      ${paged.error ? html`<${ErrorSummary} err=${paged.error} labels=${LABELS} />` : ''}
      ${paged.loading && !paged.items.length ? html`<${Loading} />` : ''}
      ${!paged.loading && !paged.error && !paged.items.length ? html`<${Empty}>没有符合条件的合同</${Empty}>` : ''}
      ${paged.items.length ? html`<p class="small muted" data-testid="result-count"><${ContractCount} total=${total} />${total ? '，' : ''}已列出 ${paged.items.length} 份${paged.more ? '，还有更多' : ''}</p>
        <${ContractTable} items=${paged.items} link=${(c) => (me.role === 'officer' && c.status === 'submitted' ? '#/registry/' + c.id : '#/contracts/' + c.id)} />` : ''}
      ${paged.items.length ? html`<${More} paged=${paged} />` : ''}
    </div>`;
}
