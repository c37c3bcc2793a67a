// errors.js — what a person reads when the server refuses something.
//
// The server answers RFC 9457 problems with errors[] of {field, code,
// message}; `message` and `detail` are English, for developers.  A person
// sees only Chinese: the text for the code (CODE_TEXT, one entry per code of
// FieldError.code in api/openapi.yaml — the type check fails when one is
// missing), the field named by its label (知识产权第 1 项：状态), and a
// sentence for the status.  Numbers the server's message carries (a length
// limit, a range, a minimum bid) are taken over; its words never are.
import { ApiError } from './api.js';

/** @type {Record<import('./api-types').ErrorCode, string>} */
export const CODE_TEXT = {
  already_withdrawn: '该条登记已撤销',
  before_effective: '不能早于生效日期',
  before_signing: '不能早于签订日期',
  auction_ended: '竞价已截止，不能再出价',
  below_received: '不能低于已到账金额',
  computed: '该指标由已登记技术合同自动计算，不能填报',
  does_not_add_up: '各项金额合计与总额不符',
  duplicate: '与已有内容重复',
  exceeds_contract: '不能超过合同成交额',
  expired: '已过期',
  forbidden_address: '不能指向内网或本机地址',
  forbidden_field: '您无权修改此项',
  forbidden_host: '不允许使用此主机地址',
  inactive: '已停用',
  https_required: '须以 https:// 开头',
  inquiry_closed: '洽谈已结束（已达成、已拒绝或已过期），不能再报价、接受或回复',
  invalid: '取值无效',
  invalid_character: '含有不允许的控制字符',
  invalid_credit_code: '统一社会信用代码不正确（格式或校验位不符）',
  invalid_date: '日期无效，应为“年-月-日”',
  invalid_encoding: '文字编码不正确',
  invalid_format: '格式不正确',
  invalid_number: '编号不正确（格式或校验位不符）',
  invalid_transition: '当前状态下不能进行此操作',
  invalid_year: '年度无效',
  key_reused: '重复提交的内容与第一次不同，请刷新页面后重试',
  no_budget: '尚未设定该年度的预算',
  no_data: '该年度没有可计算的数据',
  no_office: '所在地区没有技术合同登记机构',
  no_org: '账号没有所属单位',
  no_overlap: '与政策适用地区没有交集',
  no_searchable_character: '请至少输入一个汉字、字母或数字',
  none_apply: '没有适用的补助政策',
  not_a_party: '本单位须为合同一方',
  not_a_subtype: '子类别不属于所选类别',
  not_allowed: '此类合同不能填写此项',
  not_broker: '该用户不是技术经纪人',
  not_deletable: '当前状态下不能删除',
  not_editable: '当前状态下不能修改',
  not_for_kind: '此项不适用于所选登记类别',
  not_for_party: '此项不适用于所选补助对象',
  not_future: '须为今天以后的日期',
  not_increasing: '各档金额须逐档递增',
  not_top_level: '须选择一级类别',
  not_transfer_or_development: '须为技术转让、许可或开发合同',
  not_verified: '单位尚未通过认证',
  not_with_tiers: '分段累进时不能同时设置此项',
  not_yet_effective: '合同尚未生效',
  one_of: '须且只能填写其中一项',
  out_of_order: '下限不能大于上限',
  out_of_range: '超出允许范围',
  out_of_scope: '超出您的管辖范围',
  other_parties: '须为同一卖方与买方之间的合同',
  own: '不能选择本单位自己的项目',
  policy_not_valid: '政策在该年度无效',
  referenced: '已被其他记录引用，不能删除',
  required: '此项为必填项',
  self: '不能修改自己的角色或停用自己的账号',
  too_long: '内容过长',
  too_short: '内容过短',
  too_low: '低于允许的最低值',
  too_many: '数量超过上限',
  unknown: '不存在或不可用',
  unknown_code: '不在代码表中，请从列表中选择',
  unknown_field: '不接受此项',
  unknown_region: '不是有效的行政区划代码',
  userinfo: '地址中不能包含用户名或密码',
  weak_password: '密码长度应为 10 至 128 个字符',
  wrong_password: '当前密码不正确',
  wrong_type: '类型不正确',
};

// Numbers the server's English message carries, put into Chinese.
function detailOf(e) {
  const m = String(e.message || '');
  let x;
  if (e.code === 'too_long' && (x = /at most (\d+)/.exec(m))) return `，最多 ${x[1]} 个字`;
  if (e.code === 'too_many' && (x = /at most (\d+)/.exec(m))) return `，最多 ${x[1]} 项`;
  if (e.code === 'out_of_range' && (x = /from (-?\d+) to (-?\d+)/.exec(m))) return `，应在 ${x[1]} 至 ${x[2]} 之间`;
  if (e.code === 'too_low' && (x = /at least (\d+) fen/.exec(m))) return `，至少 ${yuanOf(x[1])} 元`;
  return '';
}
function yuanOf(fen) {
  const n = BigInt(fen);
  return String(n / 100n).replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '.' + String(n % 100n).padStart(2, '0');
}

/** @param {{code: string, message?: string}} e */
export function errorText(e) {
  return (CODE_TEXT[e.code] || '填写有误') + detailOf(e);
}

// Labels of fields that many forms share; a form passes its own on top.
const COMMON_LABELS = {
  title: '名称', name: '名称', email: '电子邮箱', password: '密码', current_password: '当前密码', new_password: '新密码',
  display_name: '姓名', phone: '电话', region_code: '所在地区', region: '地区', credit_code: '统一社会信用代码',
  org_type: '单位类型', org: '单位', invitation_code: '邀请码', role: '角色', office_id: '登记机构', org_id: '单位',
  status: '状态', reason: '理由', note: '说明', detail: '说明', year: '年度', q: '检索词', limit: '每页条数',
  cursor: '翻页位置', kind: '类别', domain: '技术领域', mode: '方式', trl_min: '最低成熟度', trl_max: '最高成熟度',
  price_max: '价格上限', price_min: '价格下限', since: '发布日期', sort: '排序', amount_fen: '金额',
  indicator: '指标', evidence: '佐证材料', value: '实际完成', metric: '指标', from_year: '起始年度', target: '目标值', source: '依据文件',
  'Idempotency-Key': '重复提交保护', 'If-Match': '数据版本', body: '内容', text: '内容', id: '此记录',
};

/**
 * A field path of the server ("ip_records[0].status", "seller.credit_code",
 * also "ip_records.0.status") as a person reads it: 知识产权第 1 项：状态.
 * Unknown names become 此项, never the path.
 * @param {string} path
 * @param {Record<string, string>} [labels]
 */
export function fieldLabel(path, labels = {}) {
  if (!path) return '';
  const L = { ...COMMON_LABELS, ...labels };
  const segs = String(path).replace(/\[(\d+)\]/g, '.$1').split('.').filter(Boolean);
  const names = segs.filter((s) => !/^\d+$/.test(s));
  const whole = names.join('.');
  if (names.length === segs.length && L[whole]) return L[whole];
  const out = [];
  let key = '';
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    if (/^\d+$/.test(s)) { out.push(`第 ${Number(s) + 1} 项`); continue; }
    key = key ? key + '.' + s : s;
    const lab = L[key] || (i === segs.length - 1 || i === segs.length - 2 ? L[s] : null);
    if (lab) out.push((out.length ? '：' : '') + lab);
  }
  return out.join('') || '此项';
}

/**
 * The field problems of an error, one entry per field.  Submitting a listing
 * with several required fields empty is refused with one entry whose message
 * names them all ("complete these fields before submitting: domain, trl"):
 * each of those fields gets its own entry, so each is marked.
 * @param {any} err
 * @returns {{field: string, code: string, message: string}[]}
 */
export function problems(err) {
  if (!(err instanceof ApiError)) return [];
  const out = [];
  for (const e of err.errors) {
    const m = e.code === 'required' && /before submitting: ([a-z_., [\]0-9]+)$/.exec(e.message || '');
    if (m) for (const f of m[1].split(/,\s*/)) out.push({ ...e, field: f, message: '' });
    else out.push(e);
  }
  return out;
}

/**
 * ApiError → {field path: [texts]} for the fields of a form.  Keys are the
 * server's paths with [i] written .i (a form's Field name="ip_records.0.status").
 * @param {any} err
 * @returns {Record<string, string[]>}
 */
export function fieldErrors(err) {
  /** @type {Record<string, string[]>} */
  const out = {};
  for (const e of problems(err)) {
    const k = (e.field || '').replace(/\[(\d+)\]/g, '.$1');
    (out[k] = out[k] || []).push(errorText(e));
  }
  return out;
}

const STATUS_TEXT = {
  400: '提交的内容有误', 401: '请先登录', 403: '您没有进行此操作的权限', 404: '未找到，或您无权查看',
  405: '不支持此操作', 408: '请求超时，请重试', 409: '当前状态不允许此操作，或与已有记录冲突',
  412: '数据已被他人修改，请刷新后重试', 413: '内容过大', 415: '文件类型不受支持', 422: '填写的内容未通过校验',
  428: '请刷新页面后重试', 429: '操作过于频繁，请稍后再试', 431: '请求过大', 500: '服务器内部错误，请稍后重试',
  501: '服务器暂不支持此操作', 503: '服务暂时不可用，请稍后再试', 504: '服务器响应超时，请稍后重试',
};

/** "3 分钟" for a Retry-After in seconds. */
export function waitText(seconds) {
  const s = Math.max(1, Math.ceil(Number(seconds) || 0));
  if (s < 60) return s + ' 秒';
  if (s < 3600) return Math.ceil(s / 60) + ' 分钟';
  return Math.ceil(s / 3600) + ' 小时';
}

/**
 * The sentence for the top of a form or a screen.
 * @param {any} err
 */
export function problemText(err) {
  if (!err) return '';
  if (!(err instanceof ApiError)) return '网络连接失败，请检查网络后重试';
  const base = STATUS_TEXT[err.status] || '请求未成功（错误 ' + err.status + '）';
  if ((err.status === 429 || err.status === 503) && err.retryAfter) {
    return `${err.status === 429 ? '操作过于频繁' : '服务暂时不可用'}，请在 ${waitText(err.retryAfter)}后再试`;
  }
  return base;
}
