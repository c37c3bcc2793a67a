// Shared helpers of the browser journeys: Debian's Chromium through
// playwright-core, sign-in through the login form, the API for expected
// values, screenshots into tests/e2e/artifacts/.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
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
export async function signIn(page, who) {
  await go(page, '/login');
  // A hash change made while the app is still starting after a reload can be
  // lost to its first render; open the sign-in page again as a person would.
  const email = page.locator('input[name=email]');
  try { await email.waitFor({ timeout: 5000 }); } catch { await page.reload(); await email.waitFor(); }
  await page.fill('input[name=email]', ACCOUNTS[who] || who);
  await page.fill('input[name=password]', PASSWORD);
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/me') && r.status() === 200),
    page.click('form button[type=submit]'),
  ]);
  await page.waitForFunction(() => !location.hash.startsWith('#/login'));
}
export async function signOut(page) {
  await page.evaluate(() => sessionStorage.clear());
  await go(page, '/');
  await page.reload();
  await page.waitForLoadState('networkidle');   // the app has started before the next navigation
}

export async function shot(page, name) {
  const path = join(ARTIFACTS, name + '.png');
  await page.screenshot({ path, fullPage: true });
  return path;
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
