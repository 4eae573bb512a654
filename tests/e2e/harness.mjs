// Shared by the e2e files: starts the real server (demo mode) and Debian's Chromium once per file,
// and gives pages that record their requests and take numbered screenshots.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const root = new URL('../../', import.meta.url).pathname;
export const artifacts = process.env.ARTIFACTS || join(root, 'target/e2e');
mkdirSync(artifacts, { recursive: true });
const port = 18300 + Math.floor(Math.random() * 500);
export const base = `http://127.0.0.1:${port}`;
let server, browser;
export let data;
// A test file may start what the server talks to first and give it more flags: set
// `setup.beforeServer` to an async function returning them (called in the harness's `before`).
export const setup = { beforeServer: null };

async function waitForServer() {
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(`${base}/api/v1/prices`)).ok) return; } catch {}
    await new Promise(r => setTimeout(r, 100));
  }
  throw new Error('server did not start');
}

before(async () => {
  data = mkdtempSync(join(tmpdir(), 'certrenew-e2e-'));
  const bin = process.env.CERTRENEW_BIN || join(root, 'target/debug/certrenew');
  // Node runs a top-level `before` as soon as it is registered: yield once, so the importing
  // file has set `setup` by now.
  await new Promise((r) => setImmediate(r));
  const extra = setup.beforeServer ? await setup.beforeServer() : [];
  server = spawn(bin, ['serve', '--demo', '--data', data, '--listen', `127.0.0.1:${port}`, '--web', join(root, 'dist'), '--rate-limit', '0', '--renewal-window-days', '400', ...extra], { stdio: 'inherit' });
  await waitForServer();
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  server?.kill();
  rmSync(data, { recursive: true, force: true });
});

export async function newPage(name, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const requests = [];
  page.on('request', r => requests.push({ url: r.url(), body: r.postData() || '' }));
  page.on('pageerror', e => { throw new Error(`page error: ${e.message}`); });
  let n = 0;
  const shot = async (label) => page.screenshot({ path: join(artifacts, `${name}-${String(++n).padStart(2, '0')}-${label}.png`), fullPage: true });
  return { context, page, requests, shot };
}

// Counts what a person does: clicks, taps and fields typed.
export function counter(page) {
  const c = { actions: 0 };
  c.click = async (sel) => { c.actions++; await page.click(sel); };
  c.fill = async (sel, v) => { c.actions++; await page.fill(sel, v); await page.dispatchEvent(sel, 'change'); };
  c.select = async (sel, v) => { c.actions++; await page.selectOption(sel, v); };
  return c;
}

export async function createReviewer() {
  const { spawnSync } = await import('node:child_process');
  const bin = process.env.CERTRENEW_BIN || join(root, 'target/debug/certrenew');
  const made = spawnSync(bin, ['admin', 'create', 'reviewer', '--data', data], { env: { ...process.env, CERTRENEW_ADMIN_PASSWORD: 'e2e reviewer password' } });
  assert.equal(made.status, 0, String(made.stderr));
}

// Approval through the console's API, for scenarios about other things.
export async function adminApprove(number) {
  await createReviewer();
  const login = await fetch(`${base}/api/v1/admin/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'reviewer', password: 'e2e reviewer password' }) });
  assert.equal(login.status, 200);
  const { csrf } = await login.json();
  const cookie = login.headers.get('set-cookie').split(';')[0];
  const r = await fetch(`${base}/api/v1/admin/orders/${number}/approve`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
  assert.equal(r.status, 200, await r.text());
}


// The application form with valid details (the people are made up; the numbers pass the checks).
export async function fillForm(page) {
  for (const [sel, v] of [['#operator-id_number', '11010519491231002X'], ['#operator-name', '张三'], ['#operator-mobile', '13800138000'],
    ['#operator-email', 'ops@supplier.cn'], ['#recipient-name', '李四'], ['#recipient-mobile', '13900139000'], ['#recipient-address', '深圳市福田区某路1号']]) {
    await page.fill(sel, v);
    await page.dispatchEvent(sel, 'change');
  }
}

// From the start page to an order: the demo token, the agreement, the PIN, the form (with
// `operatorName` when given). Gives the order number.
export async function applyForOrder(page, operatorName) {
  await page.goto(base);
  await page.click('#use-demo');
  await page.waitForSelector('#token', { timeout: 30000 });
  await page.click('#apply');
  await page.click('#accept');
  await page.click('#agreement-next');
  await page.fill('#pin-input', '123456');
  await page.click('#pin-confirm');
  await page.waitForSelector('#form');
  await fillForm(page);
  if (operatorName) {
    await page.fill('#operator-name', operatorName);
    await page.dispatchEvent('#operator-name', 'change');
  }
  await page.click('#form-submit');
  await page.waitForSelector('#order', { timeout: 20000 });
  return (await page.textContent('#order-number')).trim();
}
