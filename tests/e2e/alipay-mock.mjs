// A mock Alipay gateway on loopback, built on Alipay's official Node SDK (npm alipay-sdk): the
// SDK verifies every request certrenew signs, and the answers and notices this mock signs are
// checked by the same SDK before they leave. Its books (trades, refunds, which requests verified)
// are readable by the test that started it.
//
// env: MOCK_APP_ID, MOCK_SELLER_ID, MOCK_APP_PUBLIC_KEY (file: the merchant app's public key),
// MOCK_ALIPAY_PRIVATE_KEY and MOCK_ALIPAY_PUBLIC_KEY (files: "Alipay's" key pair). Certificate
// mode: MOCK_APP_CERT, MOCK_ALIPAY_CERT, MOCK_ROOT_CERT (files): the SDK computes the SNs, every
// request must carry them and every answer names Alipay's. Prints "listening PORT" once it
// listens on 127.0.0.1.
import { createServer } from 'node:http';
import { createSign, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AlipaySdk } from 'alipay-sdk';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const appId = env('MOCK_APP_ID');
const sellerId = env('MOCK_SELLER_ID');
const alipayPrivate = readFileSync(env('MOCK_ALIPAY_PRIVATE_KEY'), 'utf8');
// Checks the merchant's requests: the SDK with the app's public key as the key to verify with.
const merchant = new AlipaySdk({ appId, privateKey: alipayPrivate, alipayPublicKey: readFileSync(env('MOCK_APP_PUBLIC_KEY'), 'utf8') });
// Checks what this mock signs, as a merchant using the SDK would.
const self = new AlipaySdk({ appId, privateKey: alipayPrivate, alipayPublicKey: readFileSync(env('MOCK_ALIPAY_PUBLIC_KEY'), 'utf8') });

// Certificate mode: the SNs as the SDK computes them from the certificates (appCertSn, …).
const certMode = process.env.MOCK_APP_CERT
  ? new AlipaySdk({ appId, privateKey: alipayPrivate, appCertPath: env('MOCK_APP_CERT'), alipayPublicCertPath: env('MOCK_ALIPAY_CERT'), alipayRootCertPath: env('MOCK_ROOT_CERT') }).config
  : null;
const snsHold = (p) => !certMode || (p.app_cert_sn === certMode.appCertSn && p.alipay_root_cert_sn === certMode.alipayRootCertSn);

const trades = new Map(); // out_trade_no -> { trade_no, total, subject, notify_url, status, refunds: Map }
const books = { verified: {}, refused: {}, notices: [] };
let failRefunds = 0;

const yuan = (fen) => `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
const fen = (s) => (/^\d+(\.\d{1,2})?$/.test(s) ? Math.round(Number(s) * 100) : NaN);
const rsa2 = (text) => createSign('RSA-SHA256').update(text, 'utf8').sign(alipayPrivate, 'base64');
const now = () => {
  const d = new Date(Date.now() + 8 * 3600e3).toISOString();
  return `${d.slice(0, 10)} ${d.slice(11, 19)}`;
};

function answer(method, content) {
  const key = `${method.replaceAll('.', '_')}_response`;
  const text = JSON.stringify(content);
  const sign = rsa2(text);
  const sn = certMode ? `"alipay_cert_sn":"${certMode.alipayCertSn}",` : '';
  const body = `{"${key}":${text},${sn}"sign":"${sign}"}`;
  self.checkResponseSign(body, key, sign, 'mock'); // throws if the SDK would not accept it
  return body;
}
const fail = (sub_code, sub_msg, code = '40004') => ({ code, msg: 'Business Failed', sub_code, sub_msg });

function signedNotice(fields) {
  const p = { notify_time: now(), notify_type: 'trade_status_sync', notify_id: randomBytes(8).toString('hex'), app_id: appId, seller_id: sellerId, ...fields, sign_type: 'RSA2' };
  const text = Object.keys(p).filter((k) => k !== 'sign' && k !== 'sign_type' && p[k] !== '').sort().map((k) => `${k}=${p[k]}`).join('&');
  p.sign = rsa2(text);
  if (!self.checkNotifySignV2(p)) throw new Error('the SDK refuses the notice');
  return p;
}

function noticeFor(id, t, over = {}) {
  return signedNotice({ out_trade_no: id, trade_no: t.trade_no, trade_status: 'TRADE_SUCCESS', total_amount: yuan(t.total), ...over });
}

async function send(url, params) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() });
  return { status: r.status, text: await r.text() };
}

function openTrade(biz, notifyUrl) {
  const total = fen(biz.total_amount ?? '');
  if (!biz.out_trade_no || !(total > 0) || !biz.subject) return fail('ACQ.INVALID_PARAMETER', '参数无效');
  const t = trades.get(biz.out_trade_no);
  if (t && t.total !== total) return fail('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改');
  if (!t) trades.set(biz.out_trade_no, { trade_no: `2026${randomBytes(8).toString('hex')}`, total, subject: biz.subject, notify_url: notifyUrl, status: 'WAIT_BUYER_PAY', refunds: new Map() });
  return null;
}

function gateway(method, p) {
  const biz = JSON.parse(p.biz_content ?? '{}');
  const id = biz.out_trade_no;
  const t = trades.get(id);
  const ok = (more) => ({ code: '10000', msg: 'Success', ...more });
  switch (method) {
    case 'alipay.trade.precreate':
      return openTrade(biz, p.notify_url) ?? ok({ out_trade_no: id, qr_code: `https://qr.alipay.com/mock${id}` });
    case 'alipay.trade.query':
      return t ? ok({ out_trade_no: id, trade_no: t.trade_no, trade_status: t.status, total_amount: yuan(t.total) }) : fail('ACQ.TRADE_NOT_EXIST', '交易不存在');
    case 'alipay.trade.close':
      if (!t) return fail('ACQ.TRADE_NOT_EXIST', '交易不存在');
      if (t.status === 'WAIT_BUYER_PAY') t.status = 'TRADE_CLOSED';
      return t.status === 'TRADE_CLOSED' ? ok({ out_trade_no: id, trade_no: t.trade_no }) : fail('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
    case 'alipay.trade.refund': {
      if (failRefunds > 0) {
        failRefunds -= 1;
        return fail('ACQ.SYSTEM_ERROR', '系统繁忙', '20000');
      }
      if (!t) return fail('ACQ.TRADE_NOT_EXIST', '交易不存在');
      const amount = fen(biz.refund_amount ?? '');
      const done = [...t.refunds.values()].reduce((a, b) => a + b, 0);
      if (t.refunds.has(biz.out_request_no)) return ok({ out_trade_no: id, trade_no: t.trade_no, fund_change: 'N', refund_fee: yuan(done) });
      if (t.status !== 'TRADE_SUCCESS') return fail('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
      if (!(amount > 0) || !biz.out_request_no || done + amount > t.total) return fail('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
      t.refunds.set(biz.out_request_no, amount);
      if (done + amount === t.total) t.status = 'TRADE_CLOSED';
      return ok({ out_trade_no: id, trade_no: t.trade_no, fund_change: 'Y', refund_fee: yuan(done + amount) });
    }
    case 'alipay.trade.fastpay.refund.query': {
      if (!t) return fail('ACQ.TRADE_NOT_EXIST', '交易不存在');
      const r = t.refunds.get(biz.out_request_no);
      return r === undefined
        ? ok({ out_trade_no: id, out_request_no: biz.out_request_no })
        : ok({ out_trade_no: id, trade_no: t.trade_no, out_request_no: biz.out_request_no, total_amount: yuan(t.total), refund_amount: yuan(r), refund_status: 'REFUND_SUCCESS' });
    }
    default:
      return fail('isv.invalid-method', '不存在的方法名');
  }
}

async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

function params(url, text) {
  const p = Object.fromEntries(url.searchParams);
  for (const [k, v] of new URLSearchParams(text)) {
    if (k in p) return null;
    p[k] = v;
  }
  return p;
}

const json = (res, v, status = 200) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(v)); };

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const p = params(url, await body(req));
    if (url.pathname === '/gateway.do') {
      const method = p?.method ?? '';
      // The official SDK decides whether the merchant's signature holds.
      const good = p && p.app_id === appId && p.sign_type === 'RSA2' && snsHold(p) && merchant.checkNotifySignV2(p);
      const tally = good ? books.verified : books.refused;
      tally[method] = (tally[method] ?? 0) + 1;
      if (req.method === 'GET') {
        // page.pay: the payer's browser arrives with the signed request.
        const refused = !good || method !== 'alipay.trade.page.pay' || openTrade(JSON.parse(p.biz_content ?? '{}'), p.notify_url);
        res.writeHead(refused ? 403 : 200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(refused ? '<p id=refused>验签失败</p>' : '<p id=cashier>支付宝收银台（模拟）</p>');
        return;
      }
      const content = good ? gateway(method, p) : fail('isv.invalid-signature', '验签出错', '40002');
      res.writeHead(200, { 'content-type': 'application/json;charset=utf-8' });
      res.end(answer(method || 'error', content));
      return;
    }
    // The test's side: the payer pays, the books are read, faults are injected.
    const id = url.searchParams.get('out_trade_no');
    const t = trades.get(id);
    if (url.pathname === '/_test/pay') {
      if (!t || t.status !== 'WAIT_BUYER_PAY') return json(res, { error: 'not payable' }, 409);
      t.status = 'TRADE_SUCCESS';
      const notice = noticeFor(id, t);
      const delivered = url.searchParams.get('drop') === '1' ? null : await send(t.notify_url, notice);
      books.notices.push({ out_trade_no: id, delivered });
      return json(res, { notice, delivered });
    }
    if (url.pathname === '/_test/resend') {
      // The paid trade's notice, (re)sent now: one that was held back, or a repeat.
      if (!t || t.status !== 'TRADE_SUCCESS') return json(res, { error: 'not paid' }, 409);
      const delivered = await send(t.notify_url, noticeFor(id, t));
      books.notices.push({ out_trade_no: id, delivered });
      return json(res, { delivered });
    }
    if (url.pathname === '/_test/notice') {
      // A notice signed with the genuine key, fields overridden (app id, seller, amount…).
      if (!t) return json(res, { error: 'no trade' }, 404);
      return json(res, noticeFor(id, t, Object.fromEntries([...url.searchParams].filter(([k]) => k !== 'out_trade_no'))));
    }
    if (url.pathname === '/_test/fail-refunds') {
      failRefunds = Number(url.searchParams.get('n') ?? 1);
      return json(res, { failRefunds });
    }
    if (url.pathname === '/_test/books') {
      const out = {};
      for (const [k, v] of trades) out[k] = { ...v, refunds: Object.fromEntries(v.refunds) };
      return json(res, { trades: out, ...books, certMode: certMode && { app: certMode.appCertSn, root: certMode.alipayRootCertSn, alipay: certMode.alipayCertSn } });
    }
    json(res, { error: 'not found' }, 404);
  } catch (e) {
    res.writeHead(500);
    res.end(String(e?.stack ?? e));
  }
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
