#!/usr/bin/env bash
# What the citizen's first page downloads (wasm + JS glue + CSS + HTML) after a release build:
# each file raw, gzip -9 and the build's brotli copy (what the server sends to a browser that
# accepts br), then the bytes on the wire as Chromium counts them against the real server.
# Budget: 200 KB on the wire. The demo token (dist/demo*) and the review console (dist/admin*)
# are separate downloads that only those who ask for them fetch.
# Usage: bench/size.sh [--no-build]   (CERTRENEW_BIN: the server binary, target/debug/certrenew)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = "--no-build" ] || scripts/build-web >/dev/null
total_gz=0
total_br=0
# The content-named files (scripts/hash-assets.mjs) by their fixed names.
asset() { python3 -c 'import json,sys; print(json.load(open("dist/assets.json"))[sys.argv[1]])' "$1"; }
# boot.js carries the wasm glue (scripts/build-web bundles web.js into it).
for f in "dist/$(asset web_bg.wasm)" "dist/$(asset boot.js)" "dist/$(asset style.css)" dist/index.html; do
  raw=$(wc -c <"$f"); gz=$(gzip -9c "$f" | wc -c); br=$(wc -c <"$f.br")
  total_gz=$((total_gz + gz)); total_br=$((total_br + br))
  printf '%-22s %9d raw %9d gzip %9d brotli\n' "$f" "$raw" "$gz" "$br"
done
printf '%-22s %13s %9d gzip %9d brotli\n' "total" "" "$total_gz" "$total_br"
bin=${CERTRENEW_BIN:-target/debug/certrenew}
[ -x "$bin" ] || cargo build --locked -q -p certrenew-server --bin certrenew
scripts/setup e2e
node bench/wire.mjs "$bin"
