#!/usr/bin/env bash
# Renewals/s paying through the sandbox's notices and through Alipay's SDK as a mock gateway
# (bench/load.sh both ways, same machine, one after the other), printed side by side.
# Usage: bench/pay.sh [CLIENTS] [RENEWALS]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-50}; renewals=${2:-1000}
rate() { grep -oE 'renewals per second: [0-9]+' | grep -oE '[0-9]+$'; }
sandbox=$(BENCH_CRYPTO=0 bench/load.sh "$clients" "$renewals" | tee /dev/stderr | rate)
mock=$(BENCH_CRYPTO=0 BENCH_PAY=alipay-mock bench/load.sh "$clients" "$renewals" | tee /dev/stderr | rate)
echo "renewals/s with $clients clients, $renewals renewals: sandbox $sandbox, Alipay SDK mock gateway $mock"
