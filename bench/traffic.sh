#!/usr/bin/env bash
# APDUs and bytes that the token receives for two jobs, our client against OpenSC and
# yubico-piv-tool, all against the same virtual token (counted inside the token).
# Jobs: A = read certificate + verify PIN + sign; B = write a ~2 KB certificate.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup interop >/dev/null
work=$(mktemp -d); R="Virtual PCD 00 00"
cargo build -q --release --locked -p token --bin vtoken --example traffic
pkill -x pcscd 2>/dev/null && sleep 0.5 || true
pcscd -f >/dev/null 2>&1 & pcscd_pid=$!
target/release/vtoken vpcd --stats "$work/stats" >/dev/null 2>&1 & vtoken_pid=$!
trap 'kill $vtoken_pid $pcscd_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do opensc-tool -l 2>/dev/null | grep -q "Yes .*Virtual PCD 00 00" && break; sleep 0.2; done

# Provision: a P-256 key in 9A and a certificate for it.
yubico-piv-tool -r "$R" -s 9a -A ECCP256 -a generate -o "$work/9a.pub" >/dev/null 2>&1
openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca.key"
openssl req -new -x509 -key "$work/ca.key" -subj "/CN=Bench CA" -days 30 -out "$work/ca.crt"
openssl req -new -key "$work/ca.key" -subj "/CN=Bench/O=certrenew" -out "$work/r.csr"
openssl x509 -req -in "$work/r.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -force_pubkey "$work/9a.pub" -days 30 -out "$work/9a.crt" 2>/dev/null
ou=$(printf 'x%.0s' $(seq 60)); long=$(for i in $(seq 25); do printf '/OU=%s' "$ou"; done)
openssl req -new -key "$work/ca.key" -subj "/CN=Bench$long" -out "$work/big.csr"
openssl x509 -req -in "$work/big.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -force_pubkey "$work/9a.pub" -days 30 -out "$work/big.crt" 2>/dev/null
yubico-piv-tool -r "$R" -s 9a -a import-certificate -i "$work/9a.crt" >/dev/null 2>&1
read_len=$(openssl x509 -in "$work/9a.crt" -outform der | wc -c)
write_len=$(openssl x509 -in "$work/big.crt" -outform der | wc -c)
echo "data" > "$work/data"

counts() { cat "$work/stats"; }
measure() { # measure LABEL COMMAND...: prints the APDUs/bytes the command caused
  local before after; before=$(counts); "${@:2}" >/dev/null 2>&1 || { echo "$1 failed" >&2; exit 1; }; after=$(counts)
  read -r a0 i0 o0 <<<"$before"; read -r a1 i1 o1 <<<"$after"
  printf '%-48s %6d %9d %9d\n' "$1" $((a1-a0)) $((i1-i0)) $((o1-o0))
}
module=$(ls /usr/lib/*/opensc-pkcs11.so | head -1)
printf '%-48s %6s %9s %9s\n' "job / client" "APDUs" "bytes in" "bytes out"
echo "A: read certificate ($read_len B) + verify PIN + sign"
measure "  yubico-piv-tool (read-certificate)" yubico-piv-tool -r "$R" -s 9a -a read-certificate -o "$work/out.pem"
measure "  yubico-piv-tool (verify-pin, test-signature)" yubico-piv-tool -r "$R" -s 9a -a verify-pin -P 123456 -a test-signature -i "$work/9a.crt"
measure "  OpenSC pkcs11-tool (login, sign)" pkcs11-tool --module "$module" --login --pin 123456 --sign --id 01 -m ECDSA-SHA256 -i "$work/data" -o "$work/sig"
target/release/examples/traffic "$read_len" "$write_len" | awk '$1=="read+verify+sign" {printf "%-48s %6d %9d %9d\n", "  certrenew ccid (select, read, verify, sign)", $2, $3, $4}'
echo "B: write a certificate ($write_len B)"
measure "  yubico-piv-tool (import-certificate)" yubico-piv-tool -r "$R" -s 9a -a import-certificate -i "$work/big.crt"
target/release/examples/traffic "$read_len" "$write_len" | awk '$1=="write-2k-cert" {printf "%-48s %6d %9d %9d\n", "  certrenew ccid (select, auth, put data)", $2, $3, $4}'
