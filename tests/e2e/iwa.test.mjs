// The kiosk app's signed web bundle, checked with Google's own tools from the npm registry:
// wbn parses our b2 bundle and, rebuilding it from the parsed responses, writes our exact bytes;
// wbn-sign — signing our unsigned bundle
// with the same Ed25519 key — must produce exactly our bytes (Ed25519 is deterministic), which
// checks our integrity block, signed data and web bundle id against an independent
// implementation. Also: two builds give identical bytes, and our own inspector verifies it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wbn from 'wbn';
import * as wbnSign from 'wbn-sign';

const root = new URL('../../', import.meta.url).pathname;
const tool = process.env.CERTRENEW_KIOSK_BIN || join(root, 'target/debug/certrenew-kiosk');
const run = (...args) => execFileSync(tool, args, { cwd: root, encoding: 'utf8' });

test('the kiosk bundle: reproducible, signed, and read the same by independent tools', () => {
  const dir = mkdtempSync(join(tmpdir(), 'certrenew-iwa-'));
  try {
    const key = join(dir, 'test-key.pem');
    const id = run('keygen', '--out', key).trim();
    const api = 'https://renew.ca.example.cn';
    const build = (out) => { run('bundle', '--key', key, '--api', api, '--version', '1.2.3', '--out', out); return readFileSync(out); };
    const signed = build(join(dir, 'a.swbn'));
    const again = build(join(dir, 'b.swbn'));
    const sha = (b) => createHash('sha256').update(b).digest('hex');
    assert.equal(sha(again), sha(signed), 'same inputs, same bytes');
    assert.match(run('inspect', join(dir, 'a.swbn')), new RegExp(`isolated-app://${id}/ \\(signature verified\\)`));

    const pem = readFileSync(key, 'utf8');
    const privateKey = wbnSign.parsePemKey(pem);
    assert.equal(new wbnSign.WebBundleId(privateKey).serialize(), id, 'web bundle id from the key');

    // The unsigned bundle starts where its magic (array of 5, bytes(8) "🌐📦") does.
    const at = signed.indexOf(Buffer.from([0x85, 0x48, 0xf0, 0x9f, 0x8c, 0x90, 0xf0, 0x9f, 0x93, 0xa6]));
    assert.ok(at > 0);
    const unsigned = signed.subarray(at);
    return new wbnSign.IntegrityBlockSigner(unsigned, id, [new wbnSign.NodeCryptoSigningStrategy(privateKey)]).sign().then(({ signedWebBundle }) => {
      assert.equal(sha(Buffer.from(signedWebBundle)), sha(signed), 'wbn-sign produces our exact bytes');

      const bundle = new wbn.Bundle(unsigned);
      assert.equal(bundle.version, 'b2');
      // Google's builder, given the same responses in the same order, writes our exact bytes.
      const builder = new wbn.BundleBuilder();
      for (const u of bundle.urls) { const r = bundle.getResponse(u); builder.addExchange(u, r.status, r.headers, r.body); }
      assert.equal(sha(Buffer.from(builder.createBundle())), sha(unsigned), 'wbn builds our exact bundle');
      // Assets under the names the build gave them by content (dist/assets.json).
      const assets = JSON.parse(readFileSync(join(root, 'dist/assets.json'), 'utf8'));
      const named = ['boot.js', 'web.js', 'web_bg.wasm', 'demo.js', 'demo_bg.wasm', 'style.css'].map(n => `/${assets[n]}`);
      for (const n of named) assert.match(n, /^\/[a-z_-]+\.[0-9a-f]{16}\.[a-z]+$/);
      for (const u of ['/', '/index.html', ...named, '/icon-256.png', '/.well-known/manifest.webmanifest']) {
        assert.ok(bundle.urls.includes(u), `${u} in the bundle`);
      }
      const manifest = JSON.parse(Buffer.from(bundle.getResponse('/.well-known/manifest.webmanifest').body).toString());
      assert.equal(manifest.version, '1.2.3');
      assert.deepEqual(manifest.permissions_policy['usb-unrestricted'], ['self']);
      assert.deepEqual(manifest.permissions_policy['smart-card'], ['self']);
      const html = Buffer.from(bundle.getResponse('/index.html').body).toString();
      assert.match(html, /<meta name="certrenew-api" content="https:\/\/renew\.ca\.example\.cn">/);
      assert.match(html, /<meta name="certrenew-mode" content="kiosk">/);
      // The IWA Content Security Policy allows no inline script: the page boots from a file.
      assert.ok(html.includes(`<script type="module" src="${assets['boot.js']}"></script>`));
      assert.equal(/<script(?![^>]*src=)[^>]*>/.test(html), false, 'no inline script');
      assert.equal(bundle.getResponse(`/${assets['web_bg.wasm']}`).headers['content-type'], 'application/wasm');

      // A flipped byte in the app's code is caught.
      const tampered = Buffer.from(signed);
      tampered[tampered.length - 1000] ^= 1;
      const bad = join(dir, 'bad.swbn');
      execFileSync('sh', ['-c', `cat > "${bad}"`], { input: tampered });
      assert.throws(() => run('inspect', bad), /signature does not verify/);
    });
  } finally {
    setTimeout(() => rmSync(dir, { recursive: true, force: true }), 0);
  }
});
