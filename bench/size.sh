#!/usr/bin/env bash
# Gzip size of what the citizen flow downloads (wasm + JS glue + CSS + HTML) after a release
# build. Budget: 250 KB. The demo token (dist/demo*) and the review console (dist/admin*) are
# separate downloads that only those who ask for them fetch.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = "--no-build" ] || scripts/build-web >/dev/null
total=0
for f in dist/web_bg.wasm dist/web.js dist/boot.js dist/style.css dist/index.html; do
  raw=$(wc -c <"$f"); gz=$(gzip -9c "$f" | wc -c); total=$((total + gz))
  printf '%-22s %9d raw %9d gzip\n' "$f" "$raw" "$gz"
done
printf '%-22s %29d gzip (budget 250000: 250 KB)\n' "total" "$total"
