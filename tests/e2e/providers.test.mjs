// The whole renewal in Chromium paid through each provider's SDK as a mock gateway: Alipay's
// official SDK (alipay-mock.mjs) and wechatpay-axios-plugin (wechat-mock.mjs), on loopback, with
// keys made here. The QR code shown is the one the mock returned; "the phone pays" by calling
// the mock, whose signed notice the server verifies; then review and install as usual.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyForOrder, artifacts, base, newPage, adminApprove, createReviewer, setup } from './harness.mjs';

const keys = mkdtempSync(join(tmpdir(), 'certrenew-providers-'));
const mocks = {};
const children = [];

function pair(name) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const priv = join(keys, `${name}.key`);
  const pub = join(keys, `${name}.pub`);
  writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  return [priv, pub];
}

async function startMock(script, env) {
  const child = spawn('node', [script], { cwd: new URL('.', import.meta.url).pathname, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const m = line.match(/^listening (\d+)$/);
    if (m) return `http://127.0.0.1:${m[1]}`;
  }
  throw new Error(`${script} did not start`);
}

setup.beforeServer = async () => {
  const [app, appPub] = pair('alipay-app');
  const [alipay, alipayPub] = pair('alipay');
  mocks.alipay = await startMock('alipay-mock.mjs', {
    MOCK_APP_ID: '2021009900000001', MOCK_SELLER_ID: '2088009900000001', MOCK_APP_PUBLIC_KEY: appPub,
    MOCK_ALIPAY_PRIVATE_KEY: alipay, MOCK_ALIPAY_PUBLIC_KEY: alipayPub,
  });
  const [merchant, merchantPub] = pair('wechat-merchant');
  const [platform, platformPub] = pair('wechat-platform');
  const apiv3 = join(keys, 'apiv3.key');
  writeFileSync(apiv3, 'e2eapiv3keye2eapiv3keye2eapiv3ke\n');
  const keyId = 'PUB_KEY_ID_0119000091912025110100000000000002';
  mocks.wechat = await startMock('wechat-mock.mjs', {
    MOCK_MCHID: '1900009191', MOCK_APPID: 'wxd678efh567hg6787', MOCK_MERCHANT_SERIAL: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
    MOCK_MERCHANT_PUBLIC_KEY: merchantPub, MOCK_PLATFORM_PRIVATE_KEY: platform, MOCK_PLATFORM_PUBLIC_KEY: platformPub,
    MOCK_PUBLIC_KEY_ID: keyId, MOCK_APIV3_KEY: apiv3,
  });
  return [
    '--alipay-app-id', '2021009900000001', '--alipay-private-key', app, '--alipay-public-key', alipayPub,
    '--alipay-seller-id', '2088009900000001', '--alipay-gateway', `${mocks.alipay}/gateway.do`,
    '--wechat-mchid', '1900009191', '--wechat-appid', 'wxd678efh567hg6787', '--wechat-serial', '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
    '--wechat-private-key', merchant, '--wechat-apiv3-key', apiv3, '--wechat-public-key', platformPub,
    '--wechat-public-key-id', keyId, '--wechat-base-url', mocks.wechat,
  ];
};

after(() => {
  for (const c of children) c.kill();
  rmSync(keys, { recursive: true, force: true });
});

const books = async (mock) => (await fetch(`${mocks[mock]}/_test/books`)).json();

for (const [mock, method, qrPrefix] of [['alipay', 'alipay_qr', 'https://qr.alipay.com/mock'], ['wechat', 'wechat_native', 'weixin://wxpay/bizpayurl?pr=mock']]) {
  test(`full renewal paid through the ${mock} SDK's mock gateway (${method})`, { timeout: 180000 }, async () => {
    const { context, page, shot } = await newPage(`provider-${mock}`);
    await page.goto(base);
    await page.click('#use-demo');
    await page.waitForSelector('#token', { timeout: 30000 });
    const oldNotAfter = await page.textContent('#cert-not-after');
    const number = await applyForOrder(page);
    await page.click('#pay-now');
    // Every configured method is offered; this one is chosen.
    for (const m of ['alipay_qr', 'alipay_page', 'wechat_native']) await page.waitForSelector(`#method-${m}`);
    await page.check(`#method-${method}`);
    await page.fill('#invoice-title', '深圳市某医疗器械有限公司');
    await page.fill('#taxpayer-id', '91350100M000100Y43');
    await page.click('#payment-submit');
    await page.waitForSelector('#qr-payload');
    const qr = (await page.textContent('#qr-payload')).trim();
    assert.ok(qr.startsWith(qrPrefix), qr);
    const tradeNo = qr.slice(qrPrefix.length);
    assert.ok((await books(mock)).trades[tradeNo], 'the QR code is the one the mock returned for this trade');
    // A WeChat code opens only in WeChat: no cashier link to follow in the browser.
    assert.equal(await page.isVisible('#cashier-link'), mock === 'alipay');
    assert.match(await page.textContent('#scan-to-pay'), mock === 'alipay' ? /支付宝/ : /微信/);
    await shot('qr');
    // The phone pays: the mock marks the trade paid and sends its signed notice.
    const paid = await (await fetch(`${mocks[mock]}/_test/pay?out_trade_no=${tradeNo}`, { method: 'POST' })).json();
    assert.ok([200, 204].includes(paid.delivered.status), JSON.stringify(paid.delivered));
    await page.waitForSelector('#under-review', { timeout: 20000 });
    await adminApprove(number);
    await page.waitForSelector('#install', { timeout: 20000 });
    await page.fill('#install-pin', '123456');
    await page.click('#install-button');
    await page.waitForSelector('#done', { timeout: 30000 });
    await shot('done');
    assert.notEqual(await page.textContent('#cert-not-after'), oldNotAfter);
    const b = await books(mock);
    assert.deepEqual(b.refused, {}, 'every request the SDK saw verified');
    await context.close();
  });
}

test('a rejection refunds through the WeChat Pay mock, the console following the refund', { timeout: 180000 }, async () => {
  const { context, page } = await newPage('provider-refund');
  const number = await applyForOrder(page);
  await page.click('#pay-now');
  await page.check('#method-wechat_native');
  await page.fill('#invoice-title', '深圳市某医疗器械有限公司');
  await page.fill('#taxpayer-id', '91350100M000100Y43');
  await page.click('#payment-submit');
  await page.waitForSelector('#qr-payload');
  const trade = (await page.textContent('#qr-payload')).trim().replace('weixin://wxpay/bizpayurl?pr=mock', '');
  await fetch(`${mocks.wechat}/_test/pay?out_trade_no=${trade}`, { method: 'POST' });
  await page.waitForSelector('#under-review', { timeout: 20000 });
  // WeChat Pay is busy for the first three refund calls: the refund waits, retried with backoff.
  await fetch(`${mocks.wechat}/_test/fail-refunds?n=3`, { method: 'POST' });
  await createReviewer();
  const admin = await context.newPage();
  await admin.goto(`${base}/admin.html`);
  await admin.fill('#username', 'reviewer');
  await admin.fill('#password', 'e2e reviewer password');
  await admin.click('#login-submit');
  await admin.waitForSelector('#refunds-empty');
  await admin.fill(`#order-${number} .reason`, '营业执照信息不符');
  await admin.click(`#order-${number} .reject`);
  await page.waitForSelector('#rejected', { timeout: 20000 });
  // The console shows the refund under way, with WeChat Pay's transaction id and its last answer.
  // (The panel follows by itself, every 5 s.)
  const row = `#refund-R${trade}`;
  await admin.waitForSelector(row, { timeout: 20000 });
  const { trades } = await books('wechat');
  assert.match(await admin.textContent(row), new RegExp(trades[trade].transaction_id));
  assert.match(await admin.textContent(`${row} .refund-status`), /退款中/);
  await admin.screenshot({ path: join(artifacts, 'provider-refund-console.png'), fullPage: true });
  // The job asks again until WeChat Pay takes it: the money is back once.
  let refunds = {};
  for (let i = 0; i < 100 && Object.keys(refunds).length === 0; i++) {
    await new Promise((r) => setTimeout(r, 300));
    refunds = (await books('wechat')).trades[trade].refunds;
  }
  assert.deepEqual(Object.values(refunds), [trades[trade].total]);
  await admin.waitForSelector('#refunds-empty', { timeout: 20000 });
  await context.close();
});
