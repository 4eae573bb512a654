#!/usr/bin/env bash
# Interleaved A/B of two servers under bench/load.sh's load. This VM's speed drifts by ±20 % over
# minutes, so only runs taken in turns compare. A and B: server binaries or git revisions (built
# in worktrees under target/ab). The load generator is this tree's, the same for both.
# Usage: bench/ab.sh A B [ROUNDS=3] [CLIENTS=100] [RENEWALS=3000]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${3:-3}; clients=${4:-100}; renewals=${5:-3000}
server_of() {
  if [ -f "$1" ] && [ -x "$1" ]; then echo "$1"; return; fi
  local rev out wt
  rev=$(git rev-parse --short "$1^{commit}")
  out=target/ab/certrenew-$rev; wt=target/ab/tree-$rev
  if [ ! -x "$out" ]; then
    git worktree add -q --detach "$wt" "$rev"
    echo "building the server at $rev …" >&2
    (cd "$wt" && CARGO_TARGET_DIR=../build cargo build -q --release --locked -p certrenew-server --bin certrenew)
    cp target/ab/build/release/certrenew "$out"
    git worktree remove --force "$wt"
  fi
  echo "$out"
}
a=$(server_of "$1"); b=$(server_of "$2")
printf '%-4s %-5s %10s %14s %12s %12s\n' run side renewals/s "server ms/ren" "p50 ms mean" "p99 ms max"
for r in $(seq "$rounds"); do
  for side in A B; do
    bin=$a; [ $side = B ] && bin=$b
    CERTRENEW_BIN=$bin BENCH_CRYPTO=0 bench/load.sh "$clients" "$renewals" 2>/dev/null | awk -v r="$r" -v s="$side" '
      /^renewals per second/ { rate = $4 }
      /^CPU per renewal/ { server = $5 }
      /^POST / { n++; p50 += $(NF-1); if ($NF > p99) p99 = $NF }
      END { printf "%-4s %-5s %10s %14s %12.1f %12.1f\n", r, s, rate, server, p50 / n, p99 }'
  done
done
