// The whole renewal in real Chromium against the real server: demo token (virtual token compiled
// to WASM, behind the CCID reader code), apply, pay in the sandbox cashier, review, install.
// Run by scripts/test through `node --test`; screenshots go to $ARTIFACTS (default target/e2e).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, base, newPage, counter, createReviewer, adminApprove, fillForm } from './harness.mjs';

test('full renewal W3→W11 with the demo token', { timeout: 180000 }, async () => {
  const { context, page, requests, shot } = await newPage('renewal');
  const u = counter(page);
  const cached = new Map();
  page.on('response', r => cached.set(new URL(r.url()).pathname, r.headers()['cache-control']));
  await page.goto(base);
  await page.waitForSelector('#start');
  await shot('start');
  // Assets are named by their content and kept for good; the page itself is asked again.
  assert.equal(cached.get('/'), 'no-cache');
  // Three: the wasm, its glue bundled into boot.js (one request less), the style sheet.
  const assets = [...cached.keys()].filter(p => /^\/(web_bg|web|boot|style)\.[0-9a-f]{16}\.(wasm|js|css)$/.test(p));
  assert.equal(assets.length, 3, `content-named assets: ${[...cached.keys()]}`);
  for (const p of assets) assert.equal(cached.get(p), 'public, max-age=31536000, immutable', p);
  // The demo token is a separate download, fetched only when asked for.
  assert.equal(requests.some(r => /\/demo_bg\.[0-9a-f]{16}\.wasm$/.test(r.url)), false, 'demo token not loaded up front');
  await u.click('#use-demo');
  await page.waitForSelector('#token', { timeout: 30000 });
  assert.equal(requests.some(r => /\/demo_bg\.[0-9a-f]{16}\.wasm$/.test(r.url)), true, 'demo token loaded on request');
  await page.waitForSelector('#demo-badge');
  const oldNotAfter = await page.textContent('#cert-not-after');
  await shot('token');
  await u.click('#apply');
  await page.waitForSelector('#agreement');
  assert.equal(await page.isDisabled('#agreement-next'), true, 'next needs the tick');
  await u.click('#accept');
  await shot('agreement');
  await u.click('#agreement-next');
  await page.waitForSelector('#pin');
  assert.equal((await page.textContent('#pin-tries')).includes('3'), true);
  await u.fill('#pin-input', '123456');
  await shot('pin');
  await u.click('#pin-confirm');
  await page.waitForSelector('#form');
  await u.fill('#operator-id_number', '11010519491231002X');
  await u.fill('#operator-name', '张三');
  await u.fill('#operator-mobile', '13800138000');
  await u.fill('#operator-email', 'ops@supplier.cn');
  await u.fill('#recipient-name', '李四');
  await u.fill('#recipient-mobile', '13900139000');
  await u.fill('#recipient-address', '深圳市福田区某路1号');
  assert.equal(await page.textContent('#fee'), '200.00');
  await shot('form');
  await u.click('#form-submit');
  await page.waitForSelector('#order', { timeout: 20000 });
  const number = (await page.textContent('#order-number')).trim();
  assert.match(number, /^01\d{15}$/);
  await shot('order');
  await u.click('#pay-now');
  await u.fill('#invoice-title', '深圳市某医疗器械有限公司');
  await u.fill('#taxpayer-id', '91350100M000100Y43');
  await u.click('#payment-submit');
  await page.waitForSelector('#cashier-link');
  await shot('cashier-link');
  // The sandbox cashier opens in a new tab, as the real one would.
  const [cashier] = await Promise.all([context.waitForEvent('page'), u.click('#cashier-link')]);
  await cashier.waitForSelector('#pay');
  await cashier.screenshot({ path: join(artifacts, 'renewal-cashier.png') });
  await cashier.click('#pay');
  u.actions++;
  await cashier.waitForSelector('#result');
  await cashier.close();
  await page.waitForSelector('#under-review', { timeout: 20000 });
  const actionsToPaid = u.actions;
  await shot('under-review');
  // The reviewer approves in the review console, in another tab.
  await createReviewer();
  const console_ = await context.newPage();
  await console_.goto(`${base}/admin.html`);
  await console_.fill('#username', 'reviewer');
  await console_.fill('#password', 'e2e reviewer password');
  await console_.click('#login-submit');
  await console_.waitForSelector(`#order-${number}`);
  // Money of a wrong amount would be listed here for a person to settle; none in this run.
  await console_.waitForSelector('#discrepancies-empty');
  assert.match(await console_.textContent(`#order-${number}`), /110\*+002X/, 'ID number masked in the queue');
  await console_.fill('#search', number);
  await console_.screenshot({ path: join(artifacts, 'renewal-review-console.png'), fullPage: true });
  await console_.click(`#order-${number} .approve`);
  await console_.waitForSelector('#queue-empty');
  await console_.close();
  await page.waitForSelector('#install', { timeout: 20000 });
  await shot('install');
  await u.fill('#install-pin', '123456');
  await u.click('#install-button');
  await page.waitForSelector('#done', { timeout: 30000 });
  await shot('done');
  const newNotAfter = await page.textContent('#cert-not-after');
  assert.notEqual(newNotAfter, oldNotAfter);
  assert.equal(Number(newNotAfter.slice(0, 4)), Number(oldNotAfter.slice(0, 4)) + 1, 'validity extended by 12 months');
  assert.match(await page.textContent('#invoice-number'), /^\d{20}$/);
  // The token itself now holds the new certificate: reload, the page reads it from the token.
  await page.reload();
  await page.click('#use-demo');
  await page.waitForSelector('#token');
  assert.equal(await page.textContent('#cert-not-after'), newNotAfter);
  // The PIN never left the browser.
  for (const r of requests) assert.equal(r.body.includes('123456') || r.url.includes('123456'), false, `PIN in ${r.url}`);
  console.log(`user actions from token inserted to order paid, first renewal: ${actionsToPaid}`);

  // Next year's renewal (the window is widened for the test): the details come back after the PIN.
  const again = counter(page);
  await again.click('#apply');
  await again.click('#accept');
  await again.click('#agreement-next');
  await again.fill('#pin-input', '123456');
  await again.click('#pin-confirm');
  await page.waitForSelector('#form');
  // The ID number comes back masked, as a hint: typed again, never sent whole by the server.
  assert.equal(await page.inputValue('#operator-id_number'), '');
  assert.equal(await page.getAttribute('#operator-id_number', 'placeholder'), '110***********002X');
  await again.fill('#operator-id_number', '11010519491231002X');
  assert.equal(await page.inputValue('#recipient-address'), '深圳市福田区某路1号');
  await shot('form-prefilled');
  await again.click('#form-submit');
  await page.waitForSelector('#order', { timeout: 20000 });
  await again.click('#pay-now');
  assert.equal(await page.inputValue('#taxpayer-id'), '91350100M000100Y43');
  await again.click('#payment-submit');
  await page.waitForSelector('#cashier-link');
  const [cashier2] = await Promise.all([context.waitForEvent('page'), again.click('#cashier-link')]);
  await cashier2.click('#pay');
  again.actions++;
  await cashier2.waitForSelector('#result');
  await cashier2.close();
  await page.waitForSelector('#under-review', { timeout: 20000 });
  console.log(`user actions from token inserted to order paid, a later renewal: ${again.actions}`);
  for (const r of requests) assert.equal(r.body.includes('123456') || r.url.includes('123456'), false, `PIN in ${r.url}`);
  await context.close();
});

test('switching language on every screen', { timeout: 180000 }, async () => {
  const { context, page, shot } = await newPage('lang');
  // On each screen: the switch turns the screen's own words to English and back.
  const check = async (sel, zh, en) => {
    await page.waitForSelector(sel);
    assert.equal((await page.textContent(sel)).trim(), zh, `${sel} in Chinese`);
    await page.click('#lang-switch');
    assert.equal((await page.textContent(sel)).trim(), en, `${sel} in English`);
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    await shot(sel.slice(1));
    await page.click('#lang-switch');
    assert.equal((await page.textContent(sel)).trim(), zh);
  };
  // The choice is remembered: a reload keeps English (before: back to Chinese), until switched back.
  await page.goto(base);
  await page.waitForSelector('#use-demo');
  await page.click('#lang-switch');
  await page.reload();
  await page.waitForSelector('#use-demo');
  assert.equal((await page.textContent('#use-demo')).trim(), 'Try with a demo token', 'English after a reload');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await page.click('#lang-switch');
  await page.reload();
  await page.waitForSelector('#use-demo');
  await check('#use-demo', '使用演示令牌体验', 'Try with a demo token');
  await page.click('#use-demo');
  await check('#apply', '申请续期', 'Apply for renewal');
  await page.click('#apply');
  await check('#agreement-next', '下一步', 'Next');
  await page.click('#accept');
  await page.click('#agreement-next');
  await check('#pin h2', '请输入证书密码（PIN）', 'Enter the certificate PIN');
  await page.fill('#pin-input', '123456');
  await page.click('#pin-confirm');
  await check('#form-submit', '提交', 'Submit');
  await fillForm(page);
  await page.click('#form-submit');
  await check('#pay-now', '立即支付', 'Pay now');
  const number = (await page.textContent('#order-number')).trim();
  await page.click('#pay-now');
  await check('#payment-submit', '提交', 'Submit');
  await page.fill('#invoice-title', '某公司');
  await page.fill('#taxpayer-id', '91350100M000100Y43');
  await page.click('#payment-submit');
  await check('#cashier-link', '前往收银台支付', 'Go to the cashier');
  const href = await page.getAttribute('#cashier-link', 'href');
  assert.equal((await fetch(`${href}/pay`, { method: 'POST' })).status, 200);
  await check('#under-review', '已支付，等待管理员审核。', "Paid; waiting for the administrator's review.");
  await adminApprove(number);
  await check('#install-button', '安装证书', 'Install certificate');
  await page.fill('#install-pin', '123456');
  await page.click('#install-button');
  await check('#done h2', '续期完成', 'Renewal complete');
  await context.close();
});

// Helpers for the shorter scenarios: a fresh browser context is a fresh demo token.
async function toToken(page, query = '') {
  await page.goto(base + '/' + query);
  await page.click('#use-demo');
  await page.waitForSelector('#token', { timeout: 30000 });
}

async function toPin(page, query) {
  await toToken(page, query);
  await page.click('#apply');
  await page.click('#accept');
  await page.click('#agreement-next');
  await page.waitForSelector('#pin');
}

async function toForm(page, query) {
  await toPin(page, query);
  await page.fill('#pin-input', '123456');
  await page.click('#pin-confirm');
  await page.waitForSelector('#form');
}

async function toOrder(page, query) {
  await toForm(page, query);
  await fillForm(page);
  await page.click('#form-submit');
  await page.waitForSelector('#order', { timeout: 20000 });
}

test('wrong PIN: tries left shown, last-try warning, then blocked', { timeout: 180000 }, async () => {
  const { context, page, shot } = await newPage('wrong-pin');
  await toPin(page);
  for (const left of [2, 1]) {
    await page.fill('#pin-input', '000000');
    await page.click('#pin-confirm');
    await page.waitForFunction((n) => document.querySelector('#pin-tries strong')?.textContent === String(n), left);
  }
  assert.ok(await page.isVisible('#pin-last-try'), 'warned before the last try');
  await shot('last-try');
  await page.fill('#pin-input', '000000');
  await page.click('#pin-confirm');
  await page.waitForSelector('#pin-blocked');
  assert.equal(await page.isDisabled('#pin-confirm'), true);
  await shot('blocked');
  await context.close();
});

test('cancel before payment', { timeout: 180000 }, async () => {
  const { context, page } = await newPage('cancel');
  await toOrder(page);
  await page.click('#cancel');
  await page.waitForSelector('#closed');
  await context.close();
});

test('the field errors show in place and block submission', { timeout: 180000 }, async () => {
  const { context, page } = await newPage('form');
  await toForm(page);
  await page.fill('#operator-id_number', '110105194912310021');
  await page.dispatchEvent('#operator-id_number', 'change');
  assert.equal(await page.textContent('#operator-id_number-error'), '校验位不正确，请核对号码');
  await page.click('#form-submit');
  assert.ok(await page.isVisible('#form'), 'still on the form');
  assert.ok(await page.isVisible('#operator-mobile-error'));
  await context.close();
});

test('expired certificate: the offline route, no application', { timeout: 180000 }, async () => {
  const { context, page, shot } = await newPage('expired');
  // The page believes it is 40 days later than the server: the 30-day demo certificate expired.
  await page.addInitScript(() => {
    const shift = 40 * 86400 * 1000;
    const RealDate = Date;
    globalThis.Date = class extends RealDate {
      constructor(...a) { super(...(a.length ? a : [RealDate.now() + shift])); }
      static now() { return RealDate.now() + shift; }
    };
  });
  await toToken(page);
  await page.waitForSelector('#expired');
  assert.equal(await page.$('#apply'), null);
  await shot('offline-route');
  await context.close();
});

test('protected smart-card class: the browser refuses, the page says what to do', { timeout: 180000 }, async () => {
  const { context, page, shot } = await newPage('protected');
  await page.addInitScript(() => {
    // A smart-card class (0x0B) token as Chromium presents it to an ordinary page.
    const config = [9, 2, 0x5d, 0, 1, 1, 0, 0x80, 50, 9, 4, 0, 0, 3, 0x0b, 0, 0, 0,
      54, 0x21, 0x10, 0x01, 0, 7, 2, 0, 0, 0, 0xa0, 0x0f, 0, 0, 0xa0, 0x0f, 0, 0, 0, 0x80, 0x25, 0, 0, 0x80, 0x25, 0, 0, 0,
      0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0, 4, 0, 0, 0x0c, 0, 0, 0xff, 0xff, 0, 0, 0, 1];
    const device = {
      vendorId: 0x1050, productId: 0x0407, opened: false,
      configuration: { interfaces: [{ interfaceNumber: 0, alternate: { interfaceClass: 0x0b, endpoints: [
        { endpointNumber: 1, direction: 'out', type: 'bulk' }, { endpointNumber: 2, direction: 'in', type: 'bulk' }] } }] },
      open: async () => {},
      controlTransferIn: async () => ({ status: 'ok', data: new DataView(new Uint8Array(config).buffer) }),
      claimInterface: async () => { throw new DOMException('The requested interface implements a protected class.', 'SecurityError'); },
    };
    Object.defineProperty(navigator, 'usb', { value: { requestDevice: async () => device, getDevices: async () => [device] } });
  });
  await page.goto(base);
  await page.click('#connect-usb');
  await page.waitForSelector('#error');
  assert.match(await page.textContent('#error'), /自助终端/);
  await shot('protected-class');
  await context.close();
});

for (const [transport, query] of [['webusb', ''], ['smartcard', '?transport=smartcard']]) {
test(`token pulled during install, put back, install resumed (${transport})`, { timeout: 180000 }, async () => {
  const { context, page, shot } = await newPage(`pulled-${transport}`);
  await toToken(page, query);
  // The page says which transport carries the APDUs.
  assert.equal(await page.getAttribute('#transport', 'data-transport'), `via_${transport}`);
  await toOrder(page, query);
  const number = (await page.textContent('#order-number')).trim();
  await page.click('#pay-now');
  await page.fill('#invoice-title', '某公司');
  await page.fill('#taxpayer-id', '91350100M000100Y43');
  await page.click('#payment-submit');
  await page.waitForSelector('#cashier-link');
  const href = await page.getAttribute('#cashier-link', 'href');
  const pay = await fetch(`${href}/pay`, { method: 'POST' });
  assert.equal(pay.status, 200);
  await page.waitForSelector('#under-review', { timeout: 20000 });
  await adminApprove(number);
  await page.waitForSelector('#install', { timeout: 20000 });
  // Pull the token the moment the CA has issued the certificate, before it is written.
  let pulled = false;
  await page.route('**/certificate', async (route) => {
    const response = await route.fetch();
    if (!pulled) { pulled = true; await page.evaluate(() => window.certrenewDemo.unplug()); }
    await route.fulfill({ response });
  });
  await page.fill('#install-pin', '123456');
  await page.click('#install-button');
  await page.waitForSelector('#error');
  assert.match(await page.textContent('#error'), /令牌已拔出/);
  await shot('pulled');
  await page.evaluate(() => window.certrenewDemo.plug());
  await page.click('#error button');
  await page.fill('#install-pin', '123456');
  await page.click('#install-button');
  await page.waitForSelector('#done', { timeout: 30000 });
  await shot('resumed');
  await context.close();
});
}
