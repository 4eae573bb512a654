// A mock WeChat Pay APIv3 on loopback, built on wechatpay-axios-plugin (npm), a WeChat Pay SDK we
// did not write: its Rsa/Formatter verify the Authorization header of every request certrenew
// signs; answers and notices are signed with its Rsa and Formatter, notices encrypted with its
// AesGcm, and each is checked by the SDK's own response verifier (and decrypted again) before it
// leaves. Its books (trades, refunds, which requests verified) are readable by the test.
//
// env: MOCK_MCHID, MOCK_APPID, MOCK_MERCHANT_SERIAL, MOCK_MERCHANT_PUBLIC_KEY (file: the
// merchant's public key), MOCK_PLATFORM_PRIVATE_KEY and MOCK_PLATFORM_PUBLIC_KEY (files: "WeChat
// Pay's" key pair), MOCK_PUBLIC_KEY_ID (PUB_KEY_ID_…), MOCK_APIV3_KEY (file, 32 characters).
// Prints "listening PORT" once it listens on 127.0.0.1.
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import wechatpay from 'wechatpay-axios-plugin';

const { Rsa, Aes, Formatter, Decorator } = wechatpay;

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const mchid = env('MOCK_MCHID');
const appid = env('MOCK_APPID');
const merchantSerial = env('MOCK_MERCHANT_SERIAL');
const merchantPublic = Rsa.from(readFileSync(env('MOCK_MERCHANT_PUBLIC_KEY'), 'utf8'), Rsa.KEY_TYPE_PUBLIC);
const platformPrivate = Rsa.from(readFileSync(env('MOCK_PLATFORM_PRIVATE_KEY'), 'utf8'), Rsa.KEY_TYPE_PRIVATE);
const platformPublic = Rsa.from(readFileSync(env('MOCK_PLATFORM_PUBLIC_KEY'), 'utf8'), Rsa.KEY_TYPE_PUBLIC);
const keyId = env('MOCK_PUBLIC_KEY_ID');
const apiv3 = readFileSync(env('MOCK_APIV3_KEY'), 'utf8').trim();
// What a merchant's SDK does with an answer: the same verifier our adapter's checks mirror.
const sdkVerifier = Decorator.responseVerifier({ [keyId]: platformPublic });

const trades = new Map(); // out_trade_no -> { transaction_id, total, notify_url, trade_state, refunds: Map }
const refunds = new Map(); // out_refund_no -> refund record
const books = { verified: {}, refused: {}, notices: [], refundNotices: [] };
let failRefunds = 0;
let processingRefunds = 0;

const rfc3339 = () => `${new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 19)}+08:00`;

// Signed headers over a body, as WeChat Pay sends them; `over` bends one for a test.
function signed(body, over = {}) {
  const timestamp = String(Formatter.timestamp() + Number(over.skew ?? 0));
  const nonce = Formatter.nonce();
  const serial = over.serial ?? keyId;
  const signature = Rsa.sign(Formatter.response(timestamp, nonce, body), platformPrivate);
  return {
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Serial': serial,
    'Wechatpay-Signature': signature,
    'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
  };
}

function sdkAccepts(path, status, headers, body) {
  const out = sdkVerifier.call({ url: path, validateStatus: (s) => s >= 200 && s < 300 }, body, headers, status);
  if (out instanceof Error) throw new Error(`the SDK refuses the mock's answer: ${out.message}`);
}

function reply(res, path, status, value) {
  const body = value === undefined ? '' : JSON.stringify(value);
  const headers = signed(body);
  sdkAccepts(path, status, headers, body);
  res.writeHead(status, { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) });
  res.end(body);
}

const error = (code, message) => ({ code, message });

// Our Authorization header, checked with the SDK's Formatter and Rsa.
function verifyRequest(req, url, body) {
  const auth = req.headers.authorization ?? '';
  const scheme = 'WECHATPAY2-SHA256-RSA2048 ';
  if (!auth.startsWith(scheme)) return 'no WECHATPAY2-SHA256-RSA2048 Authorization';
  const parts = {};
  for (const m of auth.slice(scheme.length).matchAll(/(\w+)="([^"]*)"/g)) parts[m[1]] = m[2];
  if (parts.mchid !== mchid) return 'another merchant';
  if (parts.serial_no !== merchantSerial) return 'another certificate serial';
  if (Math.abs(Formatter.timestamp() - Number(parts.timestamp)) > 300) return 'timestamp too far off';
  const message = Formatter.request(req.method, `${url.pathname}${url.search}`, parts.timestamp, parts.nonce_str, body);
  return Rsa.verify(message, parts.signature ?? '', merchantPublic) ? null : 'signature does not verify';
}

// A signed, encrypted notice; `over` bends it (another merchant, amount, key, serial, time).
function notice(eventType, originalType, resource, over = {}) {
  const nonce = Formatter.nonce(12);
  const aad = originalType;
  const plaintext = JSON.stringify(resource);
  const key = over.key ?? apiv3;
  const ciphertext = Aes.AesGcm.encrypt(plaintext, key, nonce, aad);
  if (Aes.AesGcm.decrypt(ciphertext, key, nonce, aad) !== plaintext) throw new Error('the SDK cannot open its own notice');
  const body = JSON.stringify({
    id: `EV-${randomBytes(8).toString('hex')}`,
    create_time: rfc3339(),
    resource_type: 'encrypt-resource',
    event_type: eventType,
    summary: eventType === 'TRANSACTION.SUCCESS' ? '支付成功' : '退款成功',
    resource: { original_type: originalType, algorithm: 'AEAD_AES_256_GCM', ciphertext, associated_data: aad, nonce },
  });
  const headers = signed(body, over);
  if (!over.skew && !over.serial) sdkAccepts('/notify', 200, headers, body);
  return { headers, body };
}

function transaction(id, t, over = {}) {
  return {
    appid: over.appid ?? appid,
    mchid: over.mchid ?? mchid,
    out_trade_no: id,
    transaction_id: t.transaction_id,
    trade_type: 'NATIVE',
    trade_state: over.trade_state ?? t.trade_state,
    trade_state_desc: t.trade_state,
    bank_type: 'OTHERS',
    success_time: t.success_time,
    payer: { openid: 'o-mock' },
    amount: { total: Number(over.total ?? t.total), payer_total: Number(over.total ?? t.total), currency: 'CNY', payer_currency: 'CNY' },
  };
}

const refundView = (r) => ({
  refund_id: r.refund_id, out_refund_no: r.out_refund_no, transaction_id: r.transaction_id, out_trade_no: r.out_trade_no,
  channel: 'ORIGINAL', user_received_account: '支付用户零钱', create_time: r.create_time, status: r.status,
  amount: { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund, currency: 'CNY' },
});

async function send(url, n) {
  try {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...n.headers }, body: n.body });
    return { status: r.status, text: await r.text() };
  } catch (e) {
    return { status: 0, text: String(e) };
  }
}

async function finishRefund(r) {
  r.status = 'SUCCESS';
  const n = notice('REFUND.SUCCESS', 'refund', {
    mchid, out_trade_no: r.out_trade_no, transaction_id: r.transaction_id, out_refund_no: r.out_refund_no,
    refund_id: r.refund_id, refund_status: 'SUCCESS', success_time: rfc3339(), user_received_account: '支付用户零钱',
    amount: { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund },
  });
  books.refundNotices.push({ out_refund_no: r.out_refund_no, delivered: await send(r.notify_url, n) });
}

function api(method, path, body, res) {
  let m;
  if (method === 'POST' && path === '/v3/pay/transactions/native') {
    const b = JSON.parse(body);
    if (b.appid !== appid || b.mchid !== mchid) return reply(res, path, 400, error('APPID_MCHID_NOT_MATCH', 'appid和mch_id不匹配'));
    const total = b.amount?.total;
    if (!b.out_trade_no || !b.description || !b.notify_url || !Number.isInteger(total) || total <= 0 || b.amount.currency !== 'CNY') {
      return reply(res, path, 400, error('PARAM_ERROR', '参数错误'));
    }
    const t = trades.get(b.out_trade_no);
    if (t && t.trade_state !== 'NOTPAY') return reply(res, path, 400, error('ORDERPAID', '订单已支付'));
    if (t && t.total !== total) return reply(res, path, 400, error('INVALID_REQUEST', '参数与首次请求时不一致'));
    if (!t) trades.set(b.out_trade_no, { transaction_id: `4200${randomBytes(12).toString('hex')}`, total, notify_url: b.notify_url, trade_state: 'NOTPAY', description: b.description, time_expire: b.time_expire, refunds: new Map() });
    return reply(res, path, 200, { code_url: `weixin://wxpay/bizpayurl?pr=mock${b.out_trade_no}` });
  }
  if (method === 'GET' && (m = path.match(/^\/v3\/pay\/transactions\/out-trade-no\/([^/?]+)\?mchid=(\w+)$/))) {
    const t = trades.get(m[1]);
    if (m[2] !== mchid) return reply(res, path, 400, error('MCH_NOT_EXISTS', '商户号不存在'));
    return t ? reply(res, path, 200, transaction(m[1], t)) : reply(res, path, 404, error('ORDER_NOT_EXIST', '订单不存在'));
  }
  if (method === 'POST' && (m = path.match(/^\/v3\/pay\/transactions\/out-trade-no\/([^/?]+)\/close$/))) {
    const t = trades.get(m[1]);
    if (JSON.parse(body).mchid !== mchid) return reply(res, path, 400, error('PARAM_ERROR', '参数错误'));
    if (!t) return reply(res, path, 404, error('ORDER_NOT_EXIST', '订单不存在'));
    if (t.trade_state === 'NOTPAY') t.trade_state = 'CLOSED';
    return t.trade_state === 'CLOSED' ? reply(res, path, 204) : reply(res, path, 400, error('ORDERPAID', '订单已支付'));
  }
  if (method === 'POST' && path === '/v3/refund/domestic/refunds') {
    if (failRefunds > 0) {
      failRefunds -= 1;
      return reply(res, path, 500, error('SYSTEM_ERROR', '系统繁忙'));
    }
    const b = JSON.parse(body);
    const t = trades.get(b.out_trade_no);
    if (!t) return reply(res, path, 404, error('RESOURCE_NOT_EXISTS', '订单不存在'));
    const known = refunds.get(b.out_refund_no);
    if (known) return reply(res, path, 200, refundView(known));
    const done = [...t.refunds.values()].reduce((a, r) => a + r.refund, 0);
    const refund = b.amount?.refund;
    if (!['SUCCESS', 'REFUND'].includes(t.trade_state)) return reply(res, path, 403, error('TRADE_STATE_ERROR', '订单状态错误'));
    if (b.amount?.total !== t.total || !Number.isInteger(refund) || refund <= 0 || done + refund > t.total || b.amount.currency !== 'CNY') {
      return reply(res, path, 400, error('INVALID_REQUEST', '退款金额错误'));
    }
    const r = {
      refund_id: `5030${randomBytes(12).toString('hex')}`, out_refund_no: b.out_refund_no, transaction_id: t.transaction_id,
      out_trade_no: b.out_trade_no, create_time: rfc3339(), status: 'PROCESSING', total: t.total, refund, notify_url: b.notify_url,
    };
    refunds.set(r.out_refund_no, r);
    t.refunds.set(r.out_refund_no, r);
    t.trade_state = 'REFUND';
    if (processingRefunds > 0) {
      processingRefunds -= 1;
      return reply(res, path, 200, refundView(r));
    }
    r.status = 'SUCCESS';
    reply(res, path, 200, refundView(r));
    // Sent after the answer, as WeChat Pay does.
    setTimeout(() => finishRefund(r), 10);
    return undefined;
  }
  if (method === 'GET' && (m = path.match(/^\/v3\/refund\/domestic\/refunds\/([^/?]+)$/))) {
    const r = refunds.get(m[1]);
    return r ? reply(res, path, 200, refundView(r)) : reply(res, path, 404, error('RESOURCE_NOT_EXISTS', '退款单不存在'));
  }
  return reply(res, path, 404, error('NOT_FOUND', '接口不存在'));
}

async function read(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

const json = (res, v, status = 200) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(v)); };

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const body = await read(req);
    if (url.pathname.startsWith('/v3/')) {
      const path = `${url.pathname}${url.search}`;
      const route = `${req.method} ${url.pathname.replace(/\/out-trade-no\/[^/]+/, '/out-trade-no/{id}').replace(/\/refunds\/[^/]+$/, '/refunds/{id}')}`;
      const why = verifyRequest(req, url, body);
      const tally = why ? books.refused : books.verified;
      tally[route] = (tally[route] ?? 0) + 1;
      if (why) return reply(res, path, 401, error('SIGN_ERROR', `签名错误: ${why}`));
      return api(req.method, path, body, res);
    }
    // The test's side: the payer pays, notices are made, the books are read, faults injected.
    const id = url.searchParams.get('out_trade_no');
    const t = trades.get(id);
    const q = Object.fromEntries([...url.searchParams].filter(([k]) => k !== 'out_trade_no'));
    if (url.pathname === '/_test/pay') {
      if (!t || t.trade_state !== 'NOTPAY') return json(res, { error: 'not payable' }, 409);
      t.trade_state = 'SUCCESS';
      t.success_time = rfc3339();
      const n = notice('TRANSACTION.SUCCESS', 'transaction', transaction(id, t));
      const delivered = q.drop === '1' ? null : await send(t.notify_url, n);
      books.notices.push({ out_trade_no: id, delivered });
      return json(res, { notice: n, delivered });
    }
    if (url.pathname === '/_test/resend') {
      // The paid trade's notice, (re)sent now: one that was held back, or a repeat.
      if (!t || !['SUCCESS', 'REFUND'].includes(t.trade_state)) return json(res, { error: 'not paid' }, 409);
      const delivered = await send(t.notify_url, notice('TRANSACTION.SUCCESS', 'transaction', transaction(id, t, { trade_state: 'SUCCESS' })));
      books.notices.push({ out_trade_no: id, delivered });
      return json(res, { delivered });
    }
    if (url.pathname === '/_test/notice') {
      if (!t) return json(res, { error: 'no trade' }, 404);
      const over = { ...q };
      return json(res, notice(q.event_type ?? 'TRANSACTION.SUCCESS', 'transaction', transaction(id, { ...t, trade_state: 'SUCCESS' }, over), over));
    }
    if (url.pathname === '/_test/fail-refunds') {
      failRefunds = Number(q.n ?? 1);
      return json(res, { failRefunds });
    }
    if (url.pathname === '/_test/processing-refunds') {
      processingRefunds = Number(q.n ?? 1);
      return json(res, { processingRefunds });
    }
    if (url.pathname === '/_test/finish-refund') {
      const r = refunds.get(q.out_refund_no);
      if (!r) return json(res, { error: 'no refund' }, 404);
      await finishRefund(r);
      return json(res, books.refundNotices.at(-1));
    }
    if (url.pathname === '/_test/books') {
      const out = {};
      for (const [k, v] of trades) out[k] = { ...v, refunds: Object.fromEntries([...v.refunds].map(([n, r]) => [n, r.refund])) };
      return json(res, { trades: out, ...books });
    }
    return json(res, { error: 'not found' }, 404);
  } catch (e) {
    res.writeHead(500);
    return res.end(String(e?.stack ?? e));
  }
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
