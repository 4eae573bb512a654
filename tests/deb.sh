#!/usr/bin/env bash
# The Debian package on this machine: dpkg -i, the unit as systemd would run it (systemctl when
# systemd runs here; else its ExecStart as its User with its UMask and no new privileges), /readyz,
# then dpkg -r and dpkg -P — the data directory (CA key, database) must outlive both.
# Usage: tests/deb.sh [PACKAGE.deb]   (default: scripts/build-deb --profile dev)
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1;34m[deb]\033[0m %s\n' "$*"; }
fail() { printf '\033[1;31m[deb] FAIL:\033[0m %s\n' "$*" >&2; exit 1; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

deb=${1:-$(scripts/build-deb --profile dev | tail -1)}
[ -f "$deb" ] || fail "no package at $deb"
log "package $deb ($(stat -c %s "$deb") bytes)"

# A real installation here is not ours to touch.
if dpkg-query -W -f='${Status}' certrenew 2>/dev/null | grep -q installed || [ -e /var/lib/certrenew ]; then
  fail "certrenew is already installed (or /var/lib/certrenew exists) on this machine; the package test will not touch it"
fi

pid=""
cleanup() {
  [ -n "$pid" ] && $SUDO kill "$pid" 2>/dev/null || true
  if [ -d /run/systemd/system ]; then $SUDO systemctl stop certrenew 2>/dev/null || true; fi
  $SUDO dpkg -P certrenew >/dev/null 2>&1 || true
  $SUDO rm -rf /var/lib/certrenew
  getent passwd certrenew >/dev/null && $SUDO userdel certrenew || true
}
trap cleanup EXIT

# What the package holds and needs.
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/certrenew ./usr/share/certrenew/web/index.html ./usr/share/certrenew/web/admin.html \
  ./etc/certrenew/certrenew.toml ./usr/lib/systemd/system/certrenew.service; do
  grep -q " $f\$" <<<"$contents" || grep -q " ${f/usr\/lib/lib}\$" <<<"$contents" || fail "$f not in the package"
done
depends=$(dpkg-deb -f "$deb" Depends)
grep -q libssl <<<"$depends" || fail "Depends ($depends) does not name OpenSSL, which the binary links"
dpkg-deb -f "$deb" Conffiles >/dev/null 2>&1 || true

log "dpkg -i"
$SUDO dpkg -i "$deb" >/tmp/certrenew-dpkg.log 2>&1 || { cat /tmp/certrenew-dpkg.log; fail "dpkg -i"; }
unit=$(ls /usr/lib/systemd/system/certrenew.service /lib/systemd/system/certrenew.service 2>/dev/null | head -1)
[ -n "$unit" ] || fail "no unit installed"
[ "$(getent passwd certrenew | cut -d: -f7)" = /usr/sbin/nologin ] || fail "no system user certrenew with nologin"
[ "$(stat -c '%U %a' /var/lib/certrenew)" = "certrenew 700" ] || fail "/var/lib/certrenew: $(stat -c '%U %a' /var/lib/certrenew)"
[ "$(stat -c '%U %a' /etc/certrenew/env)" = "root 600" ] || fail "/etc/certrenew/env: $(stat -c '%U %a' /etc/certrenew/env)"
[ -L /etc/systemd/system/multi-user.target.wants/certrenew.service ] || fail "the unit is not enabled"
dpkg-query -W -f='${Conffiles}' certrenew | grep -q /etc/certrenew/certrenew.toml || fail "the config file is not a conffile"
# The unit as systemd reads it (offline check: syntax, sections, the binary it names).
systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"
for d in 'User=certrenew' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'StateDirectory=certrenew' 'UMask=0077'; do
  grep -qx "$d" "$unit" || fail "$unit lacks $d"
done

# The operator's means of setting a value: the secrets/environment file (a free port here).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "CERTRENEW_LISTEN=127.0.0.1:$port" | $SUDO tee -a /etc/certrenew/env >/dev/null

exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit"); group=$(sed -n 's/^Group=//p' "$unit")
if [ -d /run/systemd/system ]; then
  log "systemd runs here: systemctl start certrenew"
  $SUDO systemctl daemon-reload
  $SUDO systemctl start certrenew
  pid_of() { systemctl show -p MainPID --value certrenew; }
else
  log "no systemd here: the unit's ExecStart as $user:$group, UMask 0077, no new privileges, no capabilities"
  # EnvironmentFile=: KEY=value lines, comments skipped.
  mapfile -t unit_env < <($SUDO grep -E '^[A-Za-z_][A-Za-z0-9_]*=' /etc/certrenew/env)
  $SUDO env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "${unit_env[@]}" setpriv --reuid="$user" --regid="$group" --init-groups \
    --no-new-privs --inh-caps=-all --bounding-set=-all \
    -- sh -c "umask 0077; cd /var/lib/certrenew; exec $exec_start" >/tmp/certrenew-unit.log 2>&1 &
  pid=$!
  pid_of() { echo "$pid"; }
fi

ready=""
for _ in $(seq 150); do
  if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; then ready=1; break; fi
  sleep 0.2
done
[ -n "$ready" ] || { cat /tmp/certrenew-unit.log 2>/dev/null; fail "/readyz did not answer 200"; }
log "/readyz: $(curl -s "http://127.0.0.1:$port/readyz")"
# The process runs as the unit's user, serves the packaged web app, keeps its data private.
[ "$(ps -o user= -p "$(pid_of)" | tr -d ' ')" = "$user" ] || fail "the server does not run as $user"
curl -sf "http://127.0.0.1:$port/" | grep -q '<html' || fail "GET / does not serve the packaged web app"
curl -sf "http://127.0.0.1:$port/admin.html" | grep -q '<html' || fail "GET /admin.html"
[ -f /var/lib/certrenew/certrenew.db ] || fail "no database in /var/lib/certrenew: $(ls /var/lib/certrenew)"
bad=$(find /var/lib/certrenew -type f \( ! -user "$user" -o -perm /077 \) -printf '%p %u %m\n')
[ -z "$bad" ] || fail "data files not private to $user: $bad"
# The administration commands read the same config file.
$SUDO setpriv --reuid="$user" --regid="$group" --init-groups -- \
  /usr/bin/certrenew --config /etc/certrenew/certrenew.toml check >/dev/null || fail "certrenew check as $user"

if [ -d /run/systemd/system ]; then $SUDO systemctl stop certrenew; else $SUDO kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; fi

log "dpkg -r: the program goes, the data and the config stay"
$SUDO dpkg -r certrenew >/dev/null
[ ! -e /usr/bin/certrenew ] || fail "/usr/bin/certrenew still there after dpkg -r"
[ -f /var/lib/certrenew/certrenew.db ] && [ -f /var/lib/certrenew/ca.key ] || fail "dpkg -r removed the data"
[ -f /etc/certrenew/certrenew.toml ] || fail "dpkg -r removed the conffile"
log "dpkg -P: the config goes, the data stays"
$SUDO dpkg -P certrenew >/dev/null
[ ! -e /etc/certrenew ] || fail "/etc/certrenew still there after dpkg -P"
[ -f /var/lib/certrenew/certrenew.db ] && [ -f /var/lib/certrenew/ca.key ] || fail "dpkg -P removed the data"
log "passed: installed, ran as $user, /readyz 200, removed and purged with /var/lib/certrenew kept"
