// Bytes on the wire for the citizen's first page, as Chromium counts them (encodedDataLength:
// headers and compressed bodies), with the real server serving dist/. Prints one line per file
// and the total. Usage: node bench/wire.mjs [CERTRENEW_BIN]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../', import.meta.url).pathname;
const { chromium } = await import(join(root, 'tests/e2e/node_modules/playwright-core/index.mjs'));
const bin = process.argv[2] || process.env.CERTRENEW_BIN || join(root, 'target/debug/certrenew');
const port = 18900 + Math.floor(Math.random() * 90);
const base = `http://127.0.0.1:${port}`;
const data = mkdtempSync(join(tmpdir(), 'certrenew-wire-'));
const server = spawn(bin, ['serve', '--demo', '--data', data, '--listen', `127.0.0.1:${port}`, '--web', join(root, 'dist')], { stdio: 'ignore' });
let browser;
try {
  let up = false;
  for (let i = 0; i < 200 && !up; i++) {
    try { up = (await fetch(`${base}/api/v1/prices`)).ok; } catch { await new Promise(r => setTimeout(r, 100)); }
  }
  if (!up) throw new Error('server did not start');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  const page = await (await browser.newContext()).newPage();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  const urls = new Map();
  const sizes = new Map();
  cdp.on('Network.requestWillBeSent', e => urls.set(e.requestId, e.request.url));
  cdp.on('Network.loadingFinished', e => sizes.set(e.requestId, e.encodedDataLength));
  await page.goto(`${base}/`, { waitUntil: 'networkidle' });
  await page.waitForSelector('#use-demo', { timeout: 20000 });
  let total = 0;
  for (const [id, bytes] of sizes) {
    total += bytes;
    console.log(`${urls.get(id).replace(base, '').padEnd(40)} ${String(bytes).padStart(9)} on the wire`);
  }
  console.log(`${'first page, on the wire (Chromium)'.padEnd(40)} ${String(total).padStart(9)} (budget 200000: 200 KB)`);
  if (total > 200000) process.exitCode = 1;
} finally {
  await browser?.close();
  server.kill();
  rmSync(data, { recursive: true, force: true });
}
