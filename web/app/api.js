// api.js — the one place that talks to the server (/api/v1).
//
// * The session: the refresh token lives in the HttpOnly cookie yz_refresh
//   (signed in with "session": "cookie"; no script can read it) and the
//   access token in this module's memory only.  A new tab or a reload signs
//   in silently with one POST /auth/refresh; on a 401 the same refresh runs
//   once (single flight, and one tab at a time through the Web Locks API:
//   two tabs spending the same cookie at once would look like a replay and
//   end the sign-in) and the request is retried.  localStorage keeps only
//   the fact that this browser signed in (no secret), so an anonymous
//   visitor's page does not ask for a refresh it cannot get.
// * Errors are RFC 9457 problem+json: they become an ApiError carrying
//   status, detail and errors[{field, code, message}] for the forms.

const BASE = '/api/v1';
const K_HINT = 'yz.signed-in';

/** @typedef {import('./api-types').Schema<'Problem'>} Problem */
/** @typedef {import('./api-types').Schema<'FieldError'>} FieldError */

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {Problem | null} problem
   * @param {string} path
   */
  constructor(status, problem, path) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    /** @type {Partial<Problem>} */
    this.problem = problem || {};
    /** @type {FieldError[]} */
    this.errors = (problem && Array.isArray(problem.errors)) ? problem.errors : [];
    this.path = path;
    /** @type {number | null} seconds, from Retry-After (429, 503) */
    this.retryAfter = null;
    // the router's own 404 (no route) vs. an object that does not exist
    this.unavailable = status === 404 && (!problem || problem.detail === 'no such resource' || problem.detail === undefined);
  }
}

// --- session ---------------------------------------------------------------
const listeners = new Set();
let access = null;          // the access token, in memory only
export const session = {
  /** @type {import('./api-types').Me | null} GET /me, once signed in */
  me: null,
  get access() { return access; },
  signedIn() { return !!access; },
  subscribe(fn) { listeners.add(fn); return () => listeners.delete(fn); },
  changed() { listeners.forEach((fn) => fn(session.me)); },
};
function hint(on) {
  try { if (on) localStorage.setItem(K_HINT, '1'); else localStorage.removeItem(K_HINT); } catch { /* private mode */ }
}
function hinted() {
  try { return localStorage.getItem(K_HINT) === '1'; } catch { return false; }
}

// POST /auth/refresh with the cookie: one at a time in this tab, and in this
// browser (the cookie rotates; the next tab must send the new one).
let refreshing = null;
async function refreshTokens() {
  if (!refreshing) {
    const once = async () => {
      const r = await fetch(BASE + '/auth/refresh', {
        method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: '{}',
        credentials: 'same-origin',
      });
      if (!r.ok) {
        access = null; hint(false);
        if (session.me) { session.me = null; session.changed(); }
        return false;
      }
      access = (await r.json()).access_token;
      hint(true);
      return true;
    };
    const locks = typeof navigator !== 'undefined' && navigator.locks;
    refreshing = (locks ? locks.request('yz-refresh', once) : once())
      .catch(() => false)
      .finally(() => { setTimeout(() => { refreshing = null; }, 0); });
  }
  return refreshing;
}

/** A new tab or a reload: sign in again from the cookie, silently. */
export async function restoreSession() {
  if (!hinted()) return null;
  if (await refreshTokens()) return loadMe();
  return null;
}

async function parse(r, path) {
  const ct = r.headers.get('Content-Type') || '';
  if (r.status === 204) return null;
  if (!r.ok) {
    let problem = null;
    if (ct.includes('json')) { try { problem = await r.json(); } catch { /* empty */ } }
    const e = new ApiError(r.status, problem, path);
    const ra = Number(r.headers.get('Retry-After'));
    if (ra > 0) e.retryAfter = ra;
    throw e;
  }
  if (ct.includes('json')) return r.json();
  return r.text();
}

/** @typedef {import('./api-types').Method} Method */

// Fill a path template ('/results/{id}') from opts.path; each value is
// percent-encoded.
function fill(path, params) {
  return path.replace(/\{([a-z_]+)\}/g, (_, k) => {
    const v = params && params[k];
    if (v === undefined || v === null || v === '') throw new Error('path parameter ' + k + ' missing for ' + path);
    return encodeURIComponent(String(v));
  });
}

/**
 * One request.  `path` is the spec's path template under /api/v1
 * ('/results/{id}'); opts.path fills it, opts.query becomes the query string
 * (empty values left out), opts.body is sent as JSON; opts.bodyRaw (a Blob)
 * as it is; opts.raw answers the Response itself (2xx only).
 * @param {string} method
 * @param {keyof import('./api-types').ApiPaths} path
 * @param {{path?: object, query?: object, body?: any, bodyRaw?: Blob, headers?: Record<string, string>, raw?: boolean, anonymous?: boolean}} [opts]
 * @returns {Promise<any>}
 */
export async function request(method, path, opts = {}) {
  let url = BASE + fill(path, opts.path);
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    const s = q.toString();
    if (s) url += '?' + s;
  }
  const send = async () => {
    /** @type {Record<string, string>} */
    const headers = { Accept: 'application/json', ...(opts.headers || {}) };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    const tok = session.access;
    if (tok && !opts.anonymous) headers.Authorization = 'Bearer ' + tok;
    const body = opts.bodyRaw !== undefined ? opts.bodyRaw : opts.body !== undefined ? JSON.stringify(opts.body) : undefined;
    return fetch(url, { method, headers, body });
  };
  let r = await send();
  if (r.status === 401 && access && !opts.anonymous) {
    if (await refreshTokens()) r = await send();
  }
  if (opts.raw) {
    if (!r.ok) await parse(r, path);
    return r;
  }
  return parse(r, path);
}

// The typed client: each method takes the spec's path template and answers
// the operation's success body, so the type check holds every call to the
// spec (tests/typecheck).  POST, PUT and PATCH send {} when no body is given.
export const api = {
  /**
   * @template {import('./api-types').PathsWith<'get'>} P
   * @param {P} path
   * @param {import('./api-types').Opts<P, 'get'>} [opts]
   * @returns {Promise<import('./api-types').Resp<P, 'get'>>}
   */
  get: (path, opts = {}) => request('GET', path, opts),
  /**
   * @template {import('./api-types').PathsWith<'post'>} P
   * @param {P} path
   * @param {import('./api-types').Opts<P, 'post'>} [opts]
   * @returns {Promise<import('./api-types').Resp<P, 'post'>>}
   */
  post: (path, opts = {}) => request('POST', path, { ...opts, body: opts.body === undefined ? {} : opts.body }),
  /**
   * @template {import('./api-types').PathsWith<'patch'>} P
   * @param {P} path
   * @param {import('./api-types').Opts<P, 'patch'>} [opts]
   * @returns {Promise<import('./api-types').Resp<P, 'patch'>>}
   */
  patch: (path, opts = {}) => request('PATCH', path, { ...opts, body: opts.body === undefined ? {} : opts.body }),
  /**
   * @template {import('./api-types').PathsWith<'put'>} P
   * @param {P} path
   * @param {import('./api-types').Opts<P, 'put'>} [opts]
   * @returns {Promise<import('./api-types').Resp<P, 'put'>>}
   */
  put: (path, opts = {}) => request('PUT', path, { ...opts, body: opts.body === undefined ? {} : opts.body }),
  /**
   * @template {import('./api-types').PathsWith<'delete'>} P
   * @param {P} path
   * @param {import('./api-types').Opts<P, 'delete'>} [opts]
   * @returns {Promise<import('./api-types').Resp<P, 'delete'>>}
   */
  del: (path, opts = {}) => request('DELETE', path, opts),
};

/** The file name a Content-Disposition header gives (RFC 8187 `filename*` first). */
export function fileNameOf(cd, fallback) {
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(cd || '');
  if (star) { try { return decodeURIComponent(star[1].trim()); } catch { /* below */ } }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(cd || '');
  return plain ? plain[1] : fallback;
}

/**
 * GET a file (an export, a PDF) and hand it to the browser as a download,
 * named as the server names it.  Errors are thrown as ApiError.
 * @template {import('./api-types').PathsWith<'get'>} P
 * @param {P} path
 * @param {import('./api-types').Opts<P, 'get'>} opts
 * @param {string} fallbackName
 */
export async function download(path, opts, fallbackName) {
  const resp = await request('GET', path, { ...opts, raw: true });
  const blob = await resp.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileNameOf(resp.headers.get('Content-Disposition'), fallbackName);
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/**
 * All pages of a list operation (for aggregation in the browser).
 * @template {import('./api-types').PathsWith<'get'>} P
 * @param {P} path
 * @param {import('./api-types').Opts<P, 'get'>} [opts]
 * @param {number} [max]
 * @returns {Promise<import('./api-types').Item<P>[]>}
 */
export async function listAll(path, opts = {}, max = 5000) {
  const out = [];
  let cursor = null;
  do {
    const page = await request('GET', path, { ...opts, query: { ...(opts.query || {}), limit: 100, cursor } });
    out.push(...(page.items || []));
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}

export async function login(email, password) {
  const r = await fetch(BASE + '/auth/login', {
    method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ email, password, session: 'cookie' }), credentials: 'same-origin',
  });
  const t = await parse(r, '/auth/login');
  access = t.access_token;
  hint(true);
  await loadMe();
  return session.me;
}

export async function loadMe() {
  if (!access) { session.me = null; session.changed(); return null; }
  try {
    session.me = await api.get('/me');
  } catch (e) {
    if (e.status === 401) { access = null; hint(false); }
    session.me = null;
  }
  session.changed();
  return session.me;
}

export async function logout() {
  access = null;
  hint(false);
  session.me = null;
  session.changed();
  try {
    await fetch(BASE + '/auth/logout', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}', credentials: 'same-origin' });
  } catch { /* offline: the cookie expires by itself */ }
}

// --- code lists and regions (cached for the page's life) -------------------------
/** @type {Map<string, Promise<import('./api-types').CodeItem[]>>} */
const codeCache = new Map();
/**
 * @param {import('./api-types').CodeListName} list
 * @returns {Promise<import('./api-types').CodeItem[]>}
 */
export function codes(list) {
  if (!codeCache.has(list)) {
    codeCache.set(list, api.get('/codes/{list}', { path: { list } }).then((r) => r.items || []).catch((e) => { codeCache.delete(list); throw e; }));
  }
  return codeCache.get(list);
}
export async function codeLabel(list, code) {
  if (!code) return '';
  const items = await codes(list);
  const it = items.find((x) => x.code === code);
  return it ? it.label : code;
}

/** @typedef {import('./api-types').Item<'/codes/regions'>} Region */
/** @type {Map<string, Promise<Region[]>>} */
const regionKids = new Map();
/**
 * @param {string} [parent]
 * @returns {Promise<Region[]>}
 */
export function regionChildren(parent) {
  const k = parent || '';
  if (!regionKids.has(k)) {
    regionKids.set(k, api.get('/codes/regions', { query: parent ? { parent } : {} })
      .then((r) => r.items || []).catch((e) => { regionKids.delete(k); throw e; }));
  }
  return regionKids.get(k);
}
/** @type {Map<string, Promise<import('./api-types').Resp<'/codes/regions/{code}', 'get'>>>} */
const regionInfo = new Map();
/**
 * @param {string} code
 * @returns {Promise<import('./api-types').Resp<'/codes/regions/{code}', 'get'>>}
 */
export function region(code) {
  if (!code) return Promise.resolve(null);
  if (!regionInfo.has(code)) {
    regionInfo.set(code, api.get('/codes/regions/{code}', { path: { code } }).catch(() => null));
  }
  return regionInfo.get(code);
}

// Is region code `c` inside the subtree of `root`?  (GB/T 2260: a province
// XX0000 holds XX…, a prefecture XXYY00 holds XXYY…; 000000 is the country.)
export function regionPrefix(root) {
  if (!root || root === '000000') return '';
  if (root.endsWith('0000')) return root.slice(0, 2);
  if (root.endsWith('00')) return root.slice(0, 4);
  return root;
}
export function inRegion(code, root) {
  return !!code && code.startsWith(regionPrefix(root));
}
