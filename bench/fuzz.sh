#!/usr/bin/env bash
# Feeds every parser of token/browser/network input with random cases (default 1,000,000 each)
# and prints how many ran and how long each took. CI runs the same properties with 256 cases.
# Usage: bench/fuzz.sh [CASES]
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${1:-1000000}
export PROPTEST_CASES=$cases PROPTEST_MAX_SHRINK_ITERS=1000
run() {
  local pkg=$1 target=$2 filter=$3 start end
  start=$(date +%s.%N)
  cargo test -q --release -p "$pkg" $target -- --exact "$filter" 2>&1 | grep -q "1 passed" \
    || { echo "FAILED or not found: $pkg $filter"; exit 1; }
  end=$(date +%s.%N)
  printf '%-60s %9d cases  %6.1f s\n' "$pkg $filter" "$cases" "$(echo "$end - $start" | bc)"
}
cargo test -q --release -p ccid -p token -p certrenew-server --no-run 2>/dev/null
run ccid --lib apdu::tests::parsing_random_bytes_never_panics
run ccid --lib tlv::tests::random_bytes_never_panic
run ccid --lib msg::tests::random_bytes_never_panic
run ccid --lib reader::tests::random_replies_never_panic_or_hang
run token "--test fuzz" the_applet_answers_every_apdu_with_a_status
run token "--test fuzz" certificate_and_csr_parsers_never_panic
run certrenew-server "--test notice_fuzz" changed_notices_never_panic_and_never_pass
run certrenew-server --lib ocsp::tests::damaged_or_random_requests_never_panic
