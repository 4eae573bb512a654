#!/usr/bin/env bash
# The virtual token against tools we did not write, through pcscd + vpcd:
# OpenSC (opensc-tool, pkcs15-tool, pkcs11-tool), yubico-piv-tool and ykman.
# Every step checks what the tool printed or produced, not only that it ran.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
R="Virtual PCD 00 00"
pass=0; fail=0
ok() { pass=$((pass+1)); printf '  ok   %s\n' "$1"; }
bad() { fail=$((fail+1)); printf '  FAIL %s\n' "$1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/       /'; true; }
# expect NAME PATTERN COMMAND...: the command succeeds and its output matches PATTERN.
expect() {
  local name=$1 pat=$2; shift 2
  local out; if out=$("$@" 2>&1) && grep -qE -- "$pat" <<<"$out"; then ok "$name"; else bad "$name" "$out"; fi
}
# refuse NAME PATTERN COMMAND...: the output matches PATTERN (the tool reports the refusal).
refuse() {
  local name=$1 pat=$2; shift 2
  local out; out=$("$@" 2>&1) || true
  if grep -qE -- "$pat" <<<"$out"; then ok "$name"; else bad "$name" "$out"; fi
}

cargo build -q --locked -p token --bin vtoken
pkill -x pcscd 2>/dev/null && sleep 0.5 || true
pcscd -f >"$work/pcscd.log" 2>&1 &
pcscd_pid=$!
target/debug/vtoken vpcd --state "$work/token.state" >"$work/vtoken.log" 2>&1 &
vtoken_pid=$!
trap 'kill $vtoken_pid $pcscd_pid 2>/dev/null; rm -rf "$work"' EXIT
# Wait (bounded) until pcscd sees the card.
for _ in $(seq 50); do opensc-tool -l 2>/dev/null | grep -q "Yes .*Virtual PCD 00 00" && break; sleep 0.2; done

echo "OpenSC"
expect "opensc-tool reads the ATR" "3b:85:80:01:80:73:c0:21:c0:d6" opensc-tool -r "$R" -a
expect "opensc-tool identifies a PIV card" "Personal Identity Verification Card" opensc-tool -r "$R" -n

echo "yubico-piv-tool"
expect "status shows version and serial" "Version:[[:space:]]+5\.4\.3" yubico-piv-tool -r "$R" -a status
expect "verify-pin with the right PIN" "Successfully verified PIN" yubico-piv-tool -r "$R" -a verify-pin -P 123456
refuse "verify-pin with a wrong PIN is refused, tries shown" "2 tries left" yubico-piv-tool -r "$R" -a verify-pin -P 000000
expect "the right PIN restores the counter" "Successfully verified PIN" yubico-piv-tool -r "$R" -a verify-pin -P 123456
refuse "a wrong management key is refused" "Failed authentication" \
  yubico-piv-tool -r "$R" --key=A1A2A3A4A5A6A7A8A1A2A3A4A5A6A7A8A1A2A3A4A5A6A7A8 -s 9c -a generate -o "$work/x.pem"

# A CA of our own; certificates for the token's keys with `openssl x509 -req -force_pubkey`
# (yubico-piv-tool's selfsign-certificate fails with OpenSSL 3 on Debian 12).
openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca.key"
openssl req -new -x509 -key "$work/ca.key" -subj "/CN=Interop CA" -days 30 -out "$work/ca.crt"
openssl req -new -key "$work/ca.key" -utf8 -subj "/CN=张三/O=深圳市某医疗器械有限公司/C=CN" -out "$work/req.csr"
for spec in "9a ECCP256 ECDSA" "9c RSA2048 RSA"; do
  set -- $spec; slot=$1 alg=$2 kind=$3
  expect "generate $alg in $slot" "Successfully generated" yubico-piv-tool -r "$R" -s "$slot" -A "$alg" -a generate -o "$work/$slot.pub"
  grep -q "BEGIN PUBLIC KEY" "$work/$slot.pub" && ok "generated $alg public key is PEM" || bad "generated $alg public key is PEM"
  openssl x509 -req -in "$work/req.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -force_pubkey "$work/$slot.pub" \
    -days 30 -out "$work/$slot.crt" 2>/dev/null
  expect "import-certificate into $slot" "Successfully imported" yubico-piv-tool -r "$R" -s "$slot" -a import-certificate -i "$work/$slot.crt"
  yubico-piv-tool -r "$R" -s "$slot" -a read-certificate -o "$work/$slot.back" >/dev/null 2>&1 || true
  if cmp -s "$work/$slot.crt" "$work/$slot.back"; then ok "read-certificate from $slot is byte-identical"; else bad "read-certificate from $slot is byte-identical"; fi
  expect "test-signature with $slot ($kind)" "Successful $kind verification" \
    yubico-piv-tool -r "$R" -s "$slot" -a verify-pin -P 123456 -a test-signature -i "$work/$slot.crt"
done

echo "OpenSC PKCS#15 and PKCS#11"
expect "pkcs15-tool lists both certificates" "Certificate for Digital Signature" pkcs15-tool -r 0 --list-certificates
pkcs15-tool -r 0 --read-certificate 01 2>/dev/null | openssl x509 -outform der -out "$work/p15.der" 2>/dev/null || true
openssl x509 -in "$work/9a.crt" -outform der -out "$work/9a.der"
if cmp -s "$work/p15.der" "$work/9a.der"; then ok "pkcs15-tool reads the 9A certificate unchanged"; else bad "pkcs15-tool reads the 9A certificate unchanged"; fi
module=$(ls /usr/lib/*/opensc-pkcs11.so 2>/dev/null | head -1)
echo "renewal application" >"$work/data"
expect "pkcs11-tool logs in and signs (ECDSA-SHA256)" "Using signature algorithm ECDSA-SHA256" \
  pkcs11-tool --module "$module" --login --pin 123456 --sign --id 01 -m ECDSA-SHA256 --signature-format openssl \
  -i "$work/data" -o "$work/sig"
expect "openssl verifies the PKCS#11 signature" "Verified OK" openssl dgst -sha256 -verify "$work/9a.pub" -signature "$work/sig" "$work/data"
expect "pkcs11-tool signs with RSA (SHA256-RSA-PKCS)" "SHA256-RSA-PKCS" \
  pkcs11-tool --module "$module" --login --pin 123456 --sign --id 02 -m SHA256-RSA-PKCS -i "$work/data" -o "$work/rsig"
expect "openssl verifies the RSA signature" "Verified OK" openssl dgst -sha256 -verify "$work/9c.pub" -signature "$work/rsig" "$work/data"
refuse "pkcs11-tool with a wrong PIN is refused" "CKR_PIN_INCORRECT" \
  pkcs11-tool --module "$module" --login --pin 999999 --sign --id 01 -m ECDSA-SHA256 -i "$work/data" -o "$work/sig2"
expect "PIN counter back to full after a right PIN" "Successfully verified PIN" yubico-piv-tool -r "$R" -a verify-pin -P 123456

echo "ykman"
if command -v ykman >/dev/null; then
  expect "ykman piv info shows the PIV version" "PIV version:[[:space:]]+5\.4\.3" ykman --reader "Virtual PCD 00 00" piv info
  # ykman stores a random AES-192 management key on the token, protected by the PIN; our client
  # then finds it (ADMIN DATA flag, PRINTED object after VERIFY PIN, GET METADATA) and uses it.
  expect "ykman stores a PIN-protected management key" "^$|." \
    ykman --reader "$R" piv access change-management-key --protect -a aes192 \
      -m 010203040506070801020304050607080102030405060708 -P 123456 -f
  expect "ykman piv info reports the key as PIN-protected" "protected by PIN" ykman --reader "$R" piv info
  cargo build -q --locked -p token --example pin_protected_key
  expect "our client authenticates with the key ykman stored" "authenticated with the PIN-protected management key \(Aes192\)" \
    target/debug/examples/pin_protected_key "$work/token.state"
  refuse "the default management key no longer works" "Failed authentication" \
    yubico-piv-tool -r "$R" -s 9e -a generate -o "$work/y.pem"
else
  bad "ykman is installed" "scripts/setup could not install yubikey-manager"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
