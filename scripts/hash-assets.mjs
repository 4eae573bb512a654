// Names the app's assets by their content (`web_bg.<16 hex digits of SHA-256>.wasm`) and rewrites
// every reference to them, so the server can let browsers keep them for a year (Cache-Control:
// immutable, server/src/edge.rs) while the pages, under fixed names, are asked again each time.
// A file's hash covers the names of the files it loads, so a new wasm renames its glue, the glue
// renames boot.js, and the page picks up the new boot.js.
// Writes DIR/assets.json (fixed name → content name) for the kiosk bundler and the benches.
// Usage: node scripts/hash-assets.mjs DIR
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

const dir = process.argv[2] || 'dist';
// Leaves first. Each entry: the file, and the files whose names it contains.
const assets = [
  ['web_bg.wasm', []], ['admin_bg.wasm', []], ['demo_bg.wasm', []], ['style.css', []],
  ['web.js', ['web_bg.wasm']], ['admin.js', ['admin_bg.wasm']], ['demo.js', ['demo_bg.wasm']],
  // boot.js: the glue bundled in (scripts/build-web), or importing web.js where esbuild is absent.
  ['boot.js', readFileSync(join(dir, 'boot.js'), 'utf8').includes('web_bg.wasm') ? ['web_bg.wasm', 'demo.js'] : ['web.js', 'demo.js']],
  ['admin-boot.js', ['admin.js']],
];
const pages = [['index.html', ['style.css', 'boot.js']], ['admin.html', ['style.css', 'admin-boot.js']]];
const named = {};

// A reference is the name between a quote or a slash and a quote: './web.js', "web_bg.wasm".
// Each must be found: a build that renamed a file but left a reference to the old name would
// serve a page that cannot start, so that fails here instead.
function rewrite(file, deps) {
  let text = readFileSync(join(dir, file), 'utf8');
  for (const dep of deps) {
    const escaped = dep.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const re = new RegExp(`(['"/])${escaped}(['"])`, 'g');
    if (!re.test(text)) throw new Error(`${file} does not reference ${dep}`);
    text = text.replace(re, `$1${named[dep]}$2`);
  }
  return text;
}

for (const [file, deps] of assets) {
  const body = deps.length ? Buffer.from(rewrite(file, deps)) : readFileSync(join(dir, file));
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  const dot = file.lastIndexOf('.');
  named[file] = `${file.slice(0, dot)}.${hash}${file.slice(dot)}`;
  writeFileSync(join(dir, file), body);
  renameSync(join(dir, file), join(dir, named[file]));
}
for (const [file, deps] of pages) writeFileSync(join(dir, file), rewrite(file, deps));
writeFileSync(join(dir, 'assets.json'), `${JSON.stringify(named, null, 2)}\n`);
