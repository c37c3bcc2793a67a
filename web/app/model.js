// model.js — marketplace objects in one shape for the screens, whichever
// form the server sends: api/openapi.yaml's (holder_org_id, codes in arrays,
// match score 0..1 with {factor, score, detail}) or the served one (holder
// {id, name}, arrays of {code, label}, match points with {code, points,
// message}).  Screens read only the normalised fields below.

const codesOf = (arr) => (arr || []).map((m) => (typeof m === 'string' ? m : m && m.code)).filter(Boolean);
const labelsOf = (arr) => (arr || []).map((m) => (typeof m === 'string' ? null : m && m.label)).filter(Boolean);

export function normResult(x) {
  if (!x) return x;
  const holder = x.holder || {};
  return {
    ...x,
    holder_org_id: x.holder_org_id ?? holder.id ?? null,
    holder_org_name: x.holder_org_name ?? holder.name ?? '',
    holder_org_type: holder.org_type ?? null,
    transfer_modes: codesOf(x.transfer_modes),
    transfer_mode_labels: labelsOf(x.transfer_modes),
    ip_records: (x.ip_records || []).map((r) => ({ ...r })),
  };
}

export function normNeed(x) {
  if (!x) return x;
  const org = x.org || {};
  return {
    ...x,
    org_id: x.org_id ?? org.id ?? null,
    org_name: x.org_name ?? org.name ?? '',
    cooperation_modes: codesOf(x.cooperation_modes),
    cooperation_mode_labels: labelsOf(x.cooperation_modes),
  };
}

// A search hit or a match's item: {kind, id, title, snippet, org_name, domain_label, region_name, trl, price_fen, published_at}
export function normHit(h) {
  if (!h) return h;
  const holder = h.holder || {};
  const isNeed = h.kind === 'need';
  return {
    ...h,
    org_name: h.org_name ?? holder.name ?? '',
    trl: h.trl ?? h.trl_min ?? null,
    price_fen: h.price_fen !== undefined ? h.price_fen : isNeed ? (h.budget_max_fen ?? h.budget_min_fen ?? null) : (h.asking_price_fen ?? null),
    mode_labels: labelsOf(h.modes),
  };
}

// Reason weights of the served scoring (setting match_weights); a reason's bar
// is its points against its factor's maximum.
const REASON_MAX = { shared_terms: 40, title_similarity: 20, same_domain: 20, same_region: 10, trl_fit: 10, mode_fit: 5, price_fit: 5 };
const REASON_TEXT = {
  shared_terms: '关键词', title_similarity: '标题', same_domain: '技术领域', same_region: '地区', trl_fit: '成熟度', mode_fit: '合作方式', price_fit: '价格',
  text: '文本相似', domain: '技术领域', region: '地区', trl: '成熟度', mode: '合作方式', price: '价格',
};
export function normMatch(m, otherKind) {
  const item = normHit(m.item || m);
  const pointsScale = m.item !== undefined || (typeof m.score === 'number' && m.score > 1);
  return {
    kind: item.kind || otherKind,
    id: item.id,
    title: item.title,
    org_name: item.org_name,
    item,
    points: pointsScale ? m.score : Math.round((m.score || 0) * 100),
    reasons: (m.reasons || []).map((r) => {
      const code = r.code || r.factor;
      const share = r.points !== undefined ? Math.min(1, r.points / (REASON_MAX[code] || 20)) : (r.score || 0);
      return { code, label: REASON_TEXT[code] || code, share, points: r.points, text: r.message || r.detail || '' };
    }),
  };
}
