// Shared helpers of the browser journeys: Debian's Chromium through
// playwright-core, sign-in through the login form, the API for expected
// values, screenshots into tests/e2e/artifacts/.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BASE = process.env.E2E_BASE_URL || 'http://127.0.0.1:8080';
export const PASSWORD = process.env.E2E_PASSWORD || '';
export const ARTIFACTS = process.env.E2E_ARTIFACTS || join(dirname(fileURLToPath(import.meta.url)), 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

export const ACCOUNTS = {
  university: 'univ@demo.yizhan.cn',
  enterprise: 'enterprise@demo.yizhan.cn',
  broker: 'broker@demo.yizhan.cn',
  reviewer: 'reviewer@demo.yizhan.cn',
  officer: 'officer@demo.yizhan.cn',
  bureau: 'bureau@demo.yizhan.cn',
  admin: 'admin@demo.yizhan.cn',
};

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

// One browser per test file, a fresh profile each time.
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'yizhan-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.E2E_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--lang=zh-CN'],
    viewport: DESKTOP,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
  });
  const errors = [];
  context.on('page', (p) => watch(p, errors));
  for (const p of context.pages()) watch(p, errors);
  return {
    context,
    errors,
    async page(viewport = DESKTOP) {
      const p = context.pages().find((x) => x.url() === 'about:blank') || await context.newPage();
      await p.setViewportSize(viewport);
      return p;
    },
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
function watch(page, errors) {
  page.on('pageerror', (e) => errors.push('pageerror: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push('console: ' + m.text()); });
  page.on('dialog', (d) => d.accept().catch(() => {}));   // the app asks before irreversible steps
}

export async function go(page, hash) {
  await page.goto(BASE + '/#' + hash);
}

// Sign in through the form, as a person would.
export async function signIn(page, who, password = PASSWORD) {
  await go(page, '/login');
  // A hash change made while the app is still starting after a reload can be
  // lost to its first render; open the sign-in page again as a person would.
  const email = page.locator('input[name=email]');
  try { await email.waitFor({ timeout: 5000 }); } catch { await page.reload(); await email.waitFor(); }
  await page.fill('input[name=email]', ACCOUNTS[who] || who);
  await page.fill('input[name=password]', password);
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/me') && r.status() === 200),
    page.click('form button[type=submit]'),
  ]);
  await page.waitForFunction(() => !location.hash.startsWith('#/login'));
}
// Sign out as a person does: the 退出 button in the header.
export async function signOut(page) {
  const out = page.locator('header .who button', { hasText: '退出' });
  if (await out.count()) {
    await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/logout')), out.click()]);
  }
  await go(page, '/');
  await page.locator('header a', { hasText: '登录' }).waitFor();
  await page.waitForLoadState('networkidle');   // the app has started before the next navigation
}

export async function shot(page, name) {
  const path = join(ARTIFACTS, name + '.png');
  await page.screenshot({ path, fullPage: true });
  return path;
}

// --- every screen a journey visits: settled, accessible, Chinese ---------------------------
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// The screen has rendered: no spinner in the main area, no request in flight.
export async function settle(page) {
  await page.locator('main#main').waitFor();
  await page.waitForFunction(() => !document.querySelector('main .loading'), null, { timeout: 15000 });
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.waitForFunction(() => !document.querySelector('main .loading'), null, { timeout: 15000 });
}

// axe-core on the page as it is: critical and serious violations fail.
export async function axe(page, label) {
  // evaluated through the DevTools protocol: the page's Content-Security-Policy allows no inline script
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(AXE_SOURCE);
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'critical' || v.impact === 'serious')
      .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  });
  if (res.length) throw new Error(`axe on ${label}: ${res.length} critical/serious violation(s)\n  ` + res.join('\n  '));
}

// No English reaches a person: three English words in a row in the visible
// text fail (names of codes, field paths and server messages are English).
export const ENGLISH_RUN = /\b[A-Za-z][A-Za-z'-]*[ ,;:]+[A-Za-z][A-Za-z'-]*[ ,;:]+[A-Za-z][A-Za-z'-]*\b/;
export async function chineseOnly(page, label) {
  // e-mail addresses and web addresses are data, not English
  // codes shown as codes (<code>: an invitation code) are data too
  const text = (await page.evaluate(() => {
    let t = document.body.innerText;
    for (const c of document.querySelectorAll('code')) if (c.innerText) t = t.split(c.innerText).join(' ');
    return t;
  })).replace(/\S+@\S+|\bhttps?:\/\/\S+/g, ' ');
  const m = ENGLISH_RUN.exec(text);
  if (m) throw new Error(`English on ${label}: "${m[0]}" in …${text.slice(Math.max(0, m.index - 40), m.index + 60).replace(/\s+/g, ' ')}…`);
  for (const re of [/\/api\/v1\//, /\b[a-z]+_[a-z_]+\b/, /\b[a-z_]+\[\d+\]/]) {
    const x = re.exec(text);
    if (x) throw new Error(`an API path, code or field path on ${label}: "${x[0]}"`);
  }
}

// A screen as a person sees it, on the desktop and on a phone: settled, axe
// clean, in Chinese, with a screenshot of each (artifacts/<name>.png and
// <name>-phone.png).  Returns to the viewport it found.
export const visited = [];
export async function screen(page, name) {
  const t0 = Date.now();
  await settle(page);
  const vp = page.viewportSize();
  await axe(page, name);
  await chineseOnly(page, name);
  await shot(page, name);
  await page.setViewportSize(vp.width > 600 ? PHONE : DESKTOP);
  await page.waitForTimeout(100);
  await axe(page, name + ' (' + (vp.width > 600 ? 'phone' : 'desktop') + ')');
  await shot(page, name + (vp.width > 600 ? '-phone' : '-desktop'));
  await page.setViewportSize(vp);
  visited.push({ name, route: await page.evaluate(() => document.querySelector('main#main')?.dataset.route || ''), ms: Date.now() - t0 });
}
// go + screen
export async function visit(page, hash, name) {
  await go(page, hash);
  await screen(page, name);
}

// The API directly, for setting expectations (not to drive the journey).
export async function apiLogin(who) {
  const r = await fetch(BASE + '/api/v1/auth/login', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: ACCOUNTS[who] || who, password: PASSWORD }),
  });
  if (!r.ok) throw new Error(`login ${who}: ${r.status} ${await r.text()}`);
  return (await r.json()).access_token;
}
// The suite signs the same demo accounts in more often than the per-account
// limit (login_limit_per_account: 10 in 15 minutes) allows; a journey that is
// not about that limit starts with the sign-in counters forgotten, in the
// suite's own database (E2E_DATABASE_URL, set by run.sh; nothing without it).
export function forgetSignIns() {
  const url = process.env.E2E_DATABASE_URL;
  if (!url) return;
  execFileSync(process.env.E2E_PSQL || 'psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c',
    "DELETE FROM rate_limits WHERE key LIKE 'login\\_limit\\_%'"], { stdio: ['ignore', 'ignore', 'inherit'] });
}
export async function apiGet(path, token) {
  const r = await fetch(BASE + '/api/v1' + path, { headers: token ? { Authorization: 'Bearer ' + token } : {} });
  const body = r.headers.get('content-type')?.includes('json') ? await r.json() : await r.text();
  return { status: r.status, body };
}
export async function apiAll(path, token) {
  const out = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const r = await apiGet(path + sep + 'limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''), token);
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status}`);
    out.push(...r.body.items);
    cursor = r.body.next_cursor;
  } while (cursor);
  return out;
}
// Is the endpoint served?  (the router answers 404 "no such resource" otherwise)
export async function served(method, path, token) {
  const r = await fetch(BASE + '/api/v1' + path, {
    method, headers: { ...(token ? { Authorization: 'Bearer ' + token } : {}), ...(method !== 'GET' ? { 'Content-Type': 'application/json' } : {}) },
    body: method !== 'GET' ? '{}' : undefined,
  });
  const b = await r.json().catch(() => ({}));       // always read the body: an unread one holds the socket
  if (r.status !== 404) return true;
  return b.detail !== 'no such resource';
}

export function todayCN(offsetDays = 0) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(d);
}
export function yearCN(iso) {
  return Number(new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric' }).format(iso ? new Date(iso) : new Date()));
}
// fen → "1,234.57" 万元 text, as the page shows it (half up to 0.01 万元)
export function wanText(fen) {
  const n = BigInt(fen);
  const r = (n + 5000n) / 10000n;        // in units of 0.01 万元 = 10,000 fen
  const s = String(r / 100n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return s + '.' + String(r % 100n).padStart(2, '0');
}

// A fresh unified social credit code (GB 32100-2015) with a right check
// character; `wrong` gives the same code with a wrong one.
const CC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const CC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
export function creditCode(prefix = '12', region = '511900') {
  let s = prefix + region;
  while (s.length < 17) s += CC_ALPHABET[Math.floor(Math.random() * CC_ALPHABET.length)];
  const total = [...s].reduce((t, c, i) => t + CC_ALPHABET.indexOf(c) * CC_WEIGHTS[i], 0);
  const check = CC_ALPHABET[(31 - (total % 31)) % 31];
  const wrong = CC_ALPHABET[(CC_ALPHABET.indexOf(check) + 1) % 31];
  return { good: s + check, wrong: s + wrong };
}
