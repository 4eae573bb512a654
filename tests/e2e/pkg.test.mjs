// The npm package in Chromium: its example page reads the certificate from the virtual token
// through the package's WebUSB + CCID code, and its TypeScript types describe what it exports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { chromium } from 'playwright-core';

const root = new URL('../../pkg/', import.meta.url).pathname;
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
let server, browser, base;

before(async () => {
  server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    try {
      const body = await readFile(join(root, path));
      res.writeHead(200, { 'content-type': types[path.slice(path.lastIndexOf('.'))] || 'application/octet-stream' });
      res.end(body);
    } catch { res.writeHead(404); res.end(); }
  });
  await new Promise(r => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
});

after(async () => { await browser?.close(); server?.close(); });

test('the package example reads the certificate from a token', { timeout: 60000 }, async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(e.message));
  await page.goto(`${base}/example/index.html`);
  await page.click('#demo');
  await page.waitForSelector('[data-field="subject"]', { timeout: 20000 });
  assert.equal(await page.textContent('[data-field="subject"]'), 'CN=示例用户 Demo');
  assert.equal(await page.textContent('[data-field="transport"]'), 'webusb');
  assert.equal(await page.textContent('[data-field="serial"]'), '01020304');
  assert.equal(Number(await page.textContent('[data-field="days left"]')) >= 364, true);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the package ships TypeScript types and a package.json', () => {
  const dts = readFileSync(join(root, 'dist/certrenew_token_bridge.d.ts'), 'utf8');
  for (const name of ['class Token', 'fromUsbDevice', 'fromSmartCard', 'requestUsb', 'readCertificate', 'summarizeCertificate']) {
    assert.ok(dts.includes(name), `${name} in the types`);
  }
  const pkg = JSON.parse(readFileSync(join(root, 'dist/package.json'), 'utf8'));
  assert.equal(pkg.types, 'certrenew_token_bridge.d.ts');
});
