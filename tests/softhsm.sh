#!/usr/bin/env bash
# A throw-away SoftHSM token (an HSM implementation we did not write) for the tests of the CA key
# held in PKCS #11; prints the settings the tests read.
# Usage: eval "$(tests/softhsm.sh start)"   ...   tests/softhsm.sh stop
set -euo pipefail
dir=${CERTRENEW_HSM_DIR:-/tmp/certrenew-softhsm}
module=/usr/lib/softhsm/libsofthsm2.so
case ${1:-start} in
  start)
    rm -rf "$dir"; mkdir -p "$dir/tokens"
    printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir" >"$dir/softhsm2.conf"
    SOFTHSM2_CONF=$dir/softhsm2.conf softhsm2-util --init-token --free --label certrenew-test \
      --pin 123456 --so-pin 12345678 >/dev/null
    echo "export SOFTHSM2_CONF=$dir/softhsm2.conf"
    echo "export CERTRENEW_TEST_PKCS11=$module CERTRENEW_TEST_PKCS11_TOKEN=certrenew-test CERTRENEW_TEST_PKCS11_PIN=123456"
    ;;
  stop)
    rm -rf "$dir"
    ;;
esac
