// The back office in Chromium: accounts with roles (made by `certrenew admin create --role`); a
// reviewer approves and finds an installed order by its operator's name, its timeline shows
// every transition in order; an operator revokes its certificate with a reason and `openssl
// ocsp` then reports it revoked; an auditor sees everything but each change it tries is refused
// by the server (403), not just hidden.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyForOrder, artifacts, base, data, newPage, root } from './harness.mjs';

const bin = process.env.CERTRENEW_BIN || join(root, 'target/debug/certrenew');
const PASSWORD = 'e2e console password';

function account(name, role) {
  const made = spawnSync(bin, ['admin', 'create', name, '--role', role, '--data', data], { env: { ...process.env, CERTRENEW_ADMIN_PASSWORD: PASSWORD } });
  assert.equal(made.status, 0, String(made.stderr));
}

async function login(context, name) {
  const page = await context.newPage();
  await page.goto(`${base}/admin.html`);
  await page.fill('#username', name);
  await page.fill('#password', PASSWORD);
  await page.click('#login-submit');
  await page.waitForSelector('#orders');
  return page;
}

async function openOrder(page, query, number) {
  await page.fill('#orders-search', query);
  await page.dispatchEvent('#orders-search', 'change');
  await page.click('#orders-search-submit');
  await page.click(`#found-${number} .open-order`);
  await page.waitForSelector(`#order-page-${number}`);
}

test('reviewer, operator and auditor in the console: find, timeline, revoke, refusals', { timeout: 240000 }, async () => {
  account('reviewer2', 'reviewer');
  account('operator2', 'operator');
  account('auditor2', 'auditor');
  const { context, page, shot } = await newPage('console');
  // An order renewed all the way, for an operator with a name to search by.
  const number = await applyForOrder(page, '欧阳明');
  await page.click('#pay-now');
  await page.fill('#invoice-title', '深圳市某医疗器械有限公司');
  await page.fill('#taxpayer-id', '91350100M000100Y43');
  await page.click('#payment-submit');
  await page.waitForSelector('#cashier-link');
  const href = await page.getAttribute('#cashier-link', 'href');
  assert.equal((await fetch(`${href}/pay`, { method: 'POST' })).status, 200);
  await page.waitForSelector('#under-review', { timeout: 20000 });

  // The auditor's approve is refused by the server; the reviewer's goes through.
  const auditor = await login(await context.browser().newContext(), 'auditor2');
  await auditor.waitForSelector(`#order-${number}`);
  await auditor.click(`#order-${number} .approve`);
  await auditor.waitForSelector('#queue-message');
  assert.match(await auditor.textContent('#queue-message'), /无权/);
  const reviewer = await login(await context.browser().newContext(), 'reviewer2');
  await reviewer.click(`#order-${number} .approve`);
  await reviewer.waitForSelector('#queue-empty');
  await page.waitForSelector('#install', { timeout: 20000 });
  await page.fill('#install-pin', '123456');
  await page.click('#install-button');
  await page.waitForSelector('#done', { timeout: 30000 });

  // Found by the operator's name; the timeline, every transition in order.
  await openOrder(reviewer, '欧阳明', number);
  const steps = await reviewer.$$eval('#timeline .step', (rows) => rows.map((r) => r.dataset.to));
  assert.deepEqual(steps, ['awaiting_payment', 'paid', 'under_review', 'approved', 'issued', 'installed']);
  assert.equal((await reviewer.textContent('#order-page-id')).trim(), '11010519491231002X', 'a reviewer sees the ID number');
  await reviewer.screenshot({ path: join(artifacts, 'console-order-page.png'), fullPage: true });

  // The operator revokes the new certificate with a reason, after confirming.
  const operator = await login(await context.browser().newContext(), 'operator2');
  await openOrder(operator, '欧阳明', number);
  const issued = await operator.$eval('#certificates tr.certificate:nth-child(2)', (r) => r.id.replace('cert-', ''));
  await operator.click(`#cert-${issued} .revoke`);
  await operator.selectOption(`#cert-${issued} .revoke-reason`, 'key_compromise');
  await operator.click(`#cert-${issued} .revoke-confirm`);
  await operator.waitForFunction((id) => document.querySelector(`#cert-${id} .cert-state`)?.textContent.includes('已吊销'), issued);
  await operator.screenshot({ path: join(artifacts, 'console-revoked.png'), fullPage: true });
  // Listed among the revocations, with its reason; the operator sends the notices again.
  await operator.waitForSelector(`#revoked-${issued}`, { timeout: 15000 });
  assert.match(await operator.textContent(`#revoked-${issued} .reason`), /密钥泄露/);
  // Its page: who revoked it and why, the order that issued it, its PEM.
  await operator.click(`#revoked-${issued} .open-certificate`);
  await operator.waitForSelector('#certificate-page');
  const revokedLine = await operator.textContent('#certificate-revoked');
  assert.match(revokedLine, /密钥泄露/);
  assert.match(revokedLine, /operator2/);
  assert.match(await operator.textContent('#certificate-orders'), new RegExp(number));
  assert.match(await operator.textContent('#certificate-pem'), /^-----BEGIN CERTIFICATE-----/);
  const notices = await operator.$$eval('#notices .notice-row', (rows) => rows.length);
  await operator.click('#resend-notices');
  await operator.waitForFunction((n) => document.querySelectorAll('#notices .notice-row').length === n + 2, notices);
  // …and OpenSSL's OCSP client hears it from the responder.
  const dir = mkdtempSync(join(tmpdir(), 'certrenew-ocsp-'));
  try {
    const ca = Buffer.from(await (await fetch(`${base}/api/v1/ca`)).arrayBuffer());
    writeFileSync(join(dir, 'ca.der'), ca);
    spawnSync('openssl', ['x509', '-inform', 'DER', '-in', join(dir, 'ca.der'), '-out', join(dir, 'ca.pem')]);
    const ocsp = spawnSync('openssl', ['ocsp', '-issuer', join(dir, 'ca.pem'), '-serial', `0x${issued}`, '-url', `${base}/api/v1/ocsp`, '-CAfile', join(dir, 'ca.pem')], { encoding: 'utf8' });
    assert.match(ocsp.stdout, new RegExp(`0x${issued}: revoked`, 'i'), ocsp.stdout + ocsp.stderr);
    assert.match(ocsp.stdout, /Reason: keyCompromise/, ocsp.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // The auditor sees the same page, masked, and every change it asks for is a 403.
  await openOrder(auditor, '欧阳明', number);
  assert.match(await auditor.textContent('#order-page-id'), /\*/, 'masked for an auditor');
  const renewed = await auditor.$eval('#certificates tr.certificate:nth-child(1)', (r) => r.id.replace('cert-', ''));
  await auditor.click(`#cert-${renewed} .revoke`);
  await auditor.click(`#cert-${renewed} .revoke-confirm`);
  await auditor.waitForSelector('#order-page-message');
  assert.match(await auditor.textContent('#order-page-message'), /无权/);
  assert.match(await auditor.textContent(`#cert-${renewed} .cert-state`), /有效/);
  await auditor.screenshot({ path: join(artifacts, 'console-auditor-refused.png'), fullPage: true });
  const login2 = await fetch(`${base}/api/v1/admin/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'auditor2', password: PASSWORD }) });
  const { csrf } = await login2.json();
  const session = login2.headers.get('set-cookie').split(';')[0];
  for (const [path, body] of [[`/admin/orders/${number}/approve`, {}], [`/admin/orders/${number}/reject`, { reason: 'x' }],
    [`/admin/certificates/${renewed}/revoke`, { reason: 'unspecified' }], [`/admin/refunds/R${'P'.padEnd(25, '0')}/retry`, {}]]) {
    const r = await fetch(`${base}/api/v1${path}`, { method: 'POST', headers: { cookie: session, 'x-csrf-token': csrf, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(r.status, 403, path);
  }
  // The dashboard, as drawn, says what the database says: one renewal today, its fee kept.
  const board = await login(await context.browser().newContext(), 'auditor2');
  await board.waitForSelector('#dashboard');
  assert.equal((await board.textContent('#renewals-30d')).trim(), '1');
  assert.equal((await board.textContent('#revenue-30d')).trim(), '200.00');
  const bars = await board.$$eval('#chart-renewals .bar', (rs) => rs.map((r) => Number(r.dataset.value)));
  assert.equal(bars.length, 30);
  assert.deepEqual(bars.slice(-1), [1]);
  assert.equal(bars.reduce((a, b) => a + b, 0), 1);
  const months = await board.$$eval('#chart-revenue-month .bar', (rs) => rs.map((r) => Number(r.dataset.value)));
  assert.deepEqual([months.length, months.at(-1)], [12, 20000]);
  assert.equal((await board.textContent('#orders-by-state tr[data-state="installed"] .count')).trim(), '1');
  await board.screenshot({ path: join(artifacts, 'console-dashboard.png'), fullPage: true });
  const csv = await fetch(`${base}/api/v1/admin/export/invoices.csv`, { headers: { cookie: session } });
  const lines = (await csv.text()).trim().split('\r\n');
  assert.equal(lines.length, 2, 'a header and the one invoice');
  await shot('done');
  await context.close();
});
