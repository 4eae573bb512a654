#!/usr/bin/env bash
# `certrenew backup` taken while bench/load.sh renews, then `certrenew restore` into a fresh
# directory: the restored server must start (/readyz), `certrenew check` must pass, and the last
# order confirmed before the backup began must be there, installed. Prints the figures.
# Usage: bench/backup.sh [CLIENTS] [RENEWALS]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-20}; renewals=${2:-3000}
cargo build -q --release --locked -p certrenew-server --bin certrenew --example load --example crypto_cost
bin=target/release/certrenew
work=$(mktemp -d); load_pid=""; srv=""
trap 'kill $srv 2>/dev/null; [ -n "$load_pid" ] && kill -- -$load_pid 2>/dev/null; rm -rf "$work"' EXIT
# Its own process group, so the whole load (script, server, generator) can be stopped.
set -m
BENCH_CRYPTO=0 BENCH_DATA="$work/live" bench/load.sh "$clients" "$renewals" >"$work/load.out" 2>&1 &
load_pid=$!
set +m
# The newest order whose installation was confirmed, read without writing (python's sqlite3).
last_installed() {
  python3 - "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
row = db.execute("SELECT order_number, (SELECT COUNT(*) FROM audit WHERE to_status = 'installed') "
                 "FROM audit WHERE to_status = 'installed' ORDER BY id DESC LIMIT 1").fetchone()
print(*(row or ("", 0)))
PY
}
installed=0
for _ in $(seq 600); do
  [ -f "$work/live/certrenew.db" ] && read -r last installed < <(last_installed "$work/live/certrenew.db") || true
  [ "${installed:-0}" -ge 200 ] && break
  sleep 0.1
done
[ "${installed:-0}" -ge 200 ] || { cat "$work/load.out"; echo "FAIL: the load did not get going"; exit 1; }
read -r last before < <(last_installed "$work/live/certrenew.db")
t0=$(date +%s%N)
"$bin" backup "$work/backup" --data "$work/live"
t1=$(date +%s%N)
read -r _ after < <(last_installed "$work/live/certrenew.db")
kill -0 $load_pid 2>/dev/null || { cat "$work/load.out"; echo "FAIL: the load ended before the backup did; give it more renewals"; exit 1; }
kill -- -$load_pid 2>/dev/null || true; wait $load_pid 2>/dev/null || true; load_pid=""

"$bin" restore "$work/backup" --data "$work/restored"
"$bin" check --data "$work/restored"
port=18182
RUST_LOG=warn "$bin" serve --data "$work/restored" --listen 127.0.0.1:$port --demo >"$work/restored.log" 2>&1 &
srv=$!
ok=""
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && { ok=1; break; }; sleep 0.1; done
[ -n "$ok" ] || { cat "$work/restored.log"; echo "FAIL: the restored server is not ready"; exit 1; }
status=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT status FROM orders WHERE number = ?', (sys.argv[2],)).fetchone()[0])" "$work/restored/certrenew.db" "$last")
[ "$status" = installed ] || { echo "FAIL: order $last is '$status' in the restored copy"; exit 1; }
read -r _ restored < <(last_installed "$work/restored/certrenew.db")
size=$(stat -c %s "$work/backup/certrenew.db")
echo "backup under load: $(( (t1 - t0) / 1000000 )) ms for a $(( size / 1024 )) KiB database;" \
  "renewals installed before $before, in the copy $restored, after the copy $after ($(( after - before )) during it)"
echo "restored: certrenew check passed, /readyz 200, last order confirmed before the backup ($last) installed there"
