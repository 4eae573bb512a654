#!/usr/bin/env bash
# Lints every kind of object the CA signs with pkilint (PyPI), which we did not write: the files
# server/tests/pki_objects.rs leaves in DIR (CERTRENEW_PKI_OUT during `cargo test`). Fails on any
# finding above INFO. Usage: tests/pkilint.sh DIR
set -euo pipefail
dir=${1:?usage: tests/pkilint.sh DIR}
python3 -c 'import pkilint' 2>/dev/null || python3 -m pip install -q pkilint
shopt -s nullglob
files=("$dir"/*.der)
[ ${#files[@]} -ge 18 ] || { echo "pkilint: expected at least 18 objects in $dir, found ${#files[@]}" >&2; exit 1; }
bad=0
for f in "${files[@]}"; do
  name=$(basename "$f" .der)
  case $name in
    *-ca-cert|*-cert) out=$(python3 -m pkilint.bin.lint_pkix_cert lint -s NOTICE -f TEXT "$f" 2>&1 || true) ;;
    *crl-*) out=$(python3 -m pkilint.bin.lint_crl lint -t CRL -p PKIX -s NOTICE -f TEXT "$f" 2>&1 || true) ;;
    *ocsp-*) out=$(python3 -m pkilint.bin.lint_ocsp_response lint -s NOTICE -f TEXT "$f" 2>&1 || true) ;;
    *) continue ;;
  esac
  if [ -n "$(printf '%s' "$out" | tr -d '[:space:]')" ]; then
    printf 'pkilint: %s\n%s\n' "$name" "$out"
    bad=$((bad + 1))
  else
    printf 'pkilint: %-32s no finding above INFO\n' "$name"
  fi
done
[ "$bad" -eq 0 ] || { echo "pkilint: $bad of ${#files[@]} objects have findings above INFO" >&2; exit 1; }
echo "pkilint: ${#files[@]} objects, no finding above INFO"
