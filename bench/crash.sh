#!/usr/bin/env bash
# kill -9 of the server in the middle of a load run, restart on the same data, then check that
# every order is in a legal state, no paid order is lost and no order was issued twice
# (`certrenew check`), and that renewals work again.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release --locked -p certrenew-server --bin certrenew --example load
data=$(mktemp -d); port=18182
db_args=(); [ -n "${CERTRENEW_DATABASE:-}" ] && db_args=(--database "$CERTRENEW_DATABASE")
start() {
  RUST_LOG=warn target/release/certrenew serve --data "$data" --listen 127.0.0.1:$port --auto-approve --demo --rate-limit 0 "${db_args[@]}" >>"$data/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/v1/prices" >/dev/null && return; sleep 0.1; done
  echo "server did not start"; exit 1
}
trap 'kill -9 $pid 2>/dev/null; rm -rf "$data"' EXIT
start
target/release/examples/load --url "http://127.0.0.1:$port" --data "$data" --clients 50 --renewals 3000 >"$data/load1.log" 2>&1 &
load=$!
# Crash once renewals are under way (preparing the tokens takes a while).
for _ in $(seq 600); do grep -q '^renewing' "$data/load1.log" && break; sleep 0.1; done
sleep "${CRASH_AFTER:-1}"
kill -9 $pid
wait $load || true
echo "before the crash: $(grep -E '^renewals:' "$data/load1.log" || echo 'load generator stopped by the crash')"
start
target/release/certrenew check --data "$data" "${db_args[@]}" | tee "$data/check.log"
# A crash before any order was written proves nothing.
grep -qE '^[1-9][0-9]* orders checked, 0 violations' "$data/check.log" || { echo "FAIL: no orders to check, or violations"; exit 1; }
target/release/examples/load --url "http://127.0.0.1:$port" --data "$data" --clients 10 --renewals 100 | tee "$data/load2.log" | head -2
grep -q '^renewals: 100 complete, 0 failed' "$data/load2.log" || { echo "FAIL: renewals after the restart"; exit 1; }
