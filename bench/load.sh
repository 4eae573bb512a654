#!/usr/bin/env bash
# Complete renewals against the release server on loopback (SQLite by default; pass a postgres://
# URL as $CERTRENEW_DATABASE to measure PostgreSQL). Auto-approve stands in for the reviewer.
# Usage: bench/load.sh [CLIENTS] [RENEWALS] [--legacy]   (--legacy: certificates the CA never recorded)
# CERTRENEW_BIN: another server binary (bench/ab.sh); BENCH_CRYPTO=0 leaves out the crypto costs.
# BENCH_PAY=alipay-mock: pay through Alipay's SDK as a mock gateway (tests/e2e/alipay-mock.mjs,
# keys made here) instead of the sandbox's notices; bench/pay.sh prints both figures.
# BENCH_DATA=DIR: the server's data directory (kept afterwards; bench/backup.sh copies it live).
# The CA key in SoftHSM: eval "$(tests/softhsm.sh start)"; export CERTRENEW_CA_PIN=$CERTRENEW_TEST_PKCS11_PIN
#   CERTRENEW_CA_KEY_URI="pkcs11:token=$CERTRENEW_TEST_PKCS11_TOKEN;object=bench?module-path=$CERTRENEW_TEST_PKCS11" bench/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-100}; renewals=${2:-3000}
cargo build -q --release --locked -p certrenew-server --bin certrenew --example load --example crypto_cost
data=${BENCH_DATA:-$(mktemp -d)}; port=18181; mkdir -p "$data"
db_args=(); [ -n "${CERTRENEW_DATABASE:-}" ] && db_args=(--database "$CERTRENEW_DATABASE")
# The CA key in an HSM: CERTRENEW_CA_KEY_URI=pkcs11:… and CERTRENEW_CA_PIN (see tests/softhsm.sh).
[ -n "${CERTRENEW_CA_KEY_URI:-}" ] && db_args+=(--ca-key-uri "$CERTRENEW_CA_KEY_URI")
pay_args=(); load_pay=(); mock_pid=""
if [ "${BENCH_PAY:-sandbox}" = alipay-mock ]; then
  scripts/setup e2e >/dev/null
  mkdir -p "$data/mock"
  for k in app alipay; do
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$data/mock/$k.key" 2>/dev/null
    openssl pkey -in "$data/mock/$k.key" -pubout -out "$data/mock/$k.pub"
  done
  (cd tests/e2e && exec env MOCK_APP_ID=2021009900000001 MOCK_SELLER_ID=2088009900000001 \
    MOCK_APP_PUBLIC_KEY="$data/mock/app.pub" MOCK_ALIPAY_PRIVATE_KEY="$data/mock/alipay.key" \
    MOCK_ALIPAY_PUBLIC_KEY="$data/mock/alipay.pub" node alipay-mock.mjs >"$data/mock/out" 2>"$data/mock/log") &
  mock_pid=$!
  for _ in $(seq 100); do grep -q '^listening' "$data/mock/out" 2>/dev/null && break; sleep 0.1; done
  mock="http://127.0.0.1:$(sed -n 's/^listening //p' "$data/mock/out")"
  pay_args=(--alipay-app-id 2021009900000001 --alipay-seller-id 2088009900000001 \
    --alipay-private-key "$data/mock/app.key" --alipay-public-key "$data/mock/alipay.pub" --alipay-gateway "$mock/gateway.do")
  load_pay=(--alipay-mock "$mock")
  echo "paying through Alipay's SDK as a mock gateway at $mock"
fi
RUST_LOG=warn "${CERTRENEW_BIN:-target/release/certrenew}" serve --data "$data" --listen 127.0.0.1:$port --auto-approve --demo --rate-limit 0 "${db_args[@]}" "${pay_args[@]}" >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid $mock_pid 2>/dev/null; [ -n "${BENCH_DATA:-}" ] || rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/v1/prices" >/dev/null && break; sleep 0.1; done
target/release/examples/load --url "http://127.0.0.1:$port" --data "$data" --clients "$clients" --renewals "$renewals" --server-pid $pid "${load_pay[@]}" ${3:-}
if [ "${BENCH_CRYPTO:-1}" = 1 ]; then
  echo "cost of each cryptographic operation in a renewal (one core):"
  target/release/examples/crypto_cost
fi
