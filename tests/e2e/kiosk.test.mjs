// Kiosk mode in a 1080×1920 portrait window: the whole renewal with the on-screen PIN pad and
// QR payment, and the idle timeout that forgets a person who walked away mid-form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base, newPage, adminApprove, fillForm } from './harness.mjs';

const portrait = { width: 1080, height: 1920 };

async function typePin(page, pad, pin) {
  for (const d of pin) await page.click(`#${pad}-${d}`);
}

// From the start screen to the form, with the demo token and the pad.
async function kioskToForm(page) {
  await page.click('#use-demo');
  await page.waitForSelector('#token', { timeout: 30000 });
  await page.click('#apply');
  await page.click('#accept');
  await page.click('#agreement-next');
  await page.waitForSelector('#pin-pad');
  await typePin(page, 'pin-pad', '123456');
  await page.click('#pin-confirm');
  await page.waitForSelector('#form');
}

test('kiosk: full renewal with the PIN pad and QR payment', { timeout: 180000 }, async () => {
  const { context, page, requests, shot } = await newPage('kiosk', portrait);
  await page.goto(`${base}/?kiosk&transport=smartcard&idle=600`);
  await page.waitForSelector('#shell.kiosk');
  // Touch targets: at least 72 CSS pixels high.
  const h = await page.evaluate(() => document.querySelector('#use-demo').getBoundingClientRect().height);
  assert.ok(h >= 72, `button height ${h}`);
  await shot('start');
  await page.click('#use-demo');
  await page.waitForSelector('#token', { timeout: 30000 });
  const oldNotAfter = await page.textContent('#cert-not-after');
  await shot('token');
  await page.click('#apply');
  await page.click('#accept');
  await page.click('#agreement-next');
  await page.waitForSelector('#pin-pad');
  // The PIN field takes no typing (no system keyboard pops up); the pad fills it.
  assert.notEqual(await page.getAttribute('#pin-input', 'readonly'), null);
  await typePin(page, 'pin-pad', '123459');
  await page.click('#pin-pad-back');
  await page.click('#pin-pad-6');
  assert.equal(await page.inputValue('#pin-input'), '123456');
  await shot('pin-pad');
  await page.click('#pin-confirm');
  await page.waitForSelector('#form');
  await fillForm(page);
  await shot('form');
  await page.click('#form-submit');
  await page.waitForSelector('#order', { timeout: 20000 });
  const number = (await page.textContent('#order-number')).trim();
  await page.click('#pay-now');
  await page.fill('#invoice-title', '深圳市某医疗器械有限公司');
  await page.fill('#taxpayer-id', '91350100M000100Y43');
  await page.click('#payment-submit');
  // QR only: no link out of the kiosk.
  await page.waitForSelector('#qr');
  assert.equal(await page.$('#cashier-link'), null);
  const payload = await page.getAttribute('#qr', 'data-payload');
  const modules = await page.evaluate(() => document.querySelector('#qr path').getAttribute('d').split('M').length - 1);
  assert.ok(modules > 100, `QR has ${modules} dark modules`);
  await shot('qr');
  // The customer's phone scans the code and pays.
  const paid = await fetch(`${payload}/pay`, { method: 'POST' });
  assert.equal(paid.status, 200);
  await page.waitForSelector('#under-review', { timeout: 20000 });
  await page.waitForSelector('#print-receipt');
  await shot('paid');
  await adminApprove(number);
  await page.waitForSelector('#install-pad', { timeout: 20000 });
  await typePin(page, 'install-pad', '123456');
  await page.click('#install-button');
  await page.waitForSelector('#done', { timeout: 30000 });
  assert.notEqual(await page.textContent('#cert-not-after'), oldNotAfter);
  // The receipt prints the details and none of the controls.
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.isVisible('#print-receipt'), false);
  assert.equal(await page.isVisible('#order-number, #invoice-number'), true);
  await shot('receipt-print');
  await page.emulateMedia({ media: 'screen' });
  await shot('done');
  for (const r of requests) assert.equal(r.body.includes('123456') || r.url.includes('123456'), false, `PIN in ${r.url}`);
  await context.close();
});

test('kiosk: idle mid-form returns to the start and forgets the person', { timeout: 180000 }, async () => {
  const { context, page, shot } = await newPage('kiosk-idle', portrait);
  await page.goto(`${base}/?kiosk&idle=4`);
  await kioskToForm(page);
  await page.fill('#operator-id_number', '11010519491231002X');
  await page.fill('#operator-mobile', '13800138000');
  await page.dispatchEvent('#operator-mobile', 'change');
  assert.ok(await page.evaluate(() => Object.keys(localStorage).some(k => k.startsWith('certrenew.'))), 'something was stored');
  await shot('form-filled');
  // Walk away.
  await page.waitForSelector('#start', { timeout: 15000 });
  await shot('wiped');
  const html = await page.content();
  for (const secret of ['11010519491231002X', '13800138000', '张三']) assert.equal(html.includes(secret), false, `${secret} still on the page`);
  const stored = await page.evaluate(() => [...Object.keys(localStorage), ...Object.keys(sessionStorage)]);
  assert.deepEqual(stored.filter(k => k.startsWith('certrenew.')), [], 'storage wiped');
  // Nothing comes back on the way in again: a fresh token, an empty form.
  await kioskToForm(page);
  assert.equal(await page.inputValue('#operator-id_number'), '');
  await context.close();
});
