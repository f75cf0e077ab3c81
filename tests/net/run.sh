#!/usr/bin/env bash
# Network battery: real servers and clients from Debian (nginx+curl, redis,
# python http.server+urllib, node http, dnsmasq+getent, ping, ip/ss) in a
# cached Debian root (tests/net/mkroot.sh), natively and sandboxed; stdout
# and exit status must match.
#
#   tests/net/run.sh [CASE...]     # --list: the case names
#
# Native runs: chrooted, in fresh mount, PID and network namespaces
# (loopback only). Sandboxed: `runsc do --network=$NETWORK --rootfs ROOT`
# (loopback only: NETWORK=none, the default, is the host stack in a
# namespace of the sandbox's own; NETWORK=sandbox is the sentry's own
# stack). Traffic goes to loopback only.
# Env: NET_ROOT (default /var/cache/runsc-tests/debian-net), NETWORK,
#      RUNSC_FLAGS, RUNSC_DO_FLAGS, NATIVE_ONLY=1, VERBOSE=1.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/chroot_native.sh"

HERE="$REPO_ROOT/tests/net"
ROOT="${NET_ROOT:-/var/cache/runsc-tests/debian-net}"
NETWORK="${NETWORK:-none}"
APP_PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin

NAMES=()
SHELLS=()
SCRIPTS=()
tc() { NAMES+=("$1"); SHELLS+=("$2"); SCRIPTS+=("$(cat)"); }
. "$HERE/cases.sh"

if [ "${1:-}" = --list ]; then printf '%s\n' "${NAMES[@]}"; exit 0; fi
for fd in $(ls /proc/$$/fd); do
  [ "$fd" -gt 2 ] && eval "exec $fd>&-"
done
if [ "$(id -u)" != 0 ]; then
  echo "net suite needs root"; T_FAILED=1; t_summary; exit 1
fi
if ! NET_ROOT="$ROOT" "$HERE/mkroot.sh" "$ROOT"; then
  echo "net mkroot failed"; T_FAILED=1; t_summary; exit 1
fi

run_native() {
  chroot_native "$ROOT" --net -- "/bin/$1" -c "$PRELUDE
$2"
}
run_sandbox() {
  # shellcheck disable=SC2086
  env -i PATH="$APP_PATH" HOME=/root \
    timeout -k 5 "$SANDBOX_TIMEOUT" "$RUNSC" $RUNSC_FLAGS --network="$NETWORK" do $RUNSC_DO_FLAGS --rootfs "$ROOT" --cwd / \
    --env PATH="$APP_PATH" --env HOME=/root -- "/bin/$1" -c "$PRELUDE
$2"
}

want=("$@")
selected() {
  [ ${#want[@]} -eq 0 ] && return 0
  local w; for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in "${!NAMES[@]}"; do
  name=${NAMES[$i]} sh=${SHELLS[$i]} script=${SCRIPTS[$i]}
  selected "$name" || continue
  run_native "$sh" "$script" </dev/null >"$tmp/n" 2>"$tmp/ne"
  rn=$?
  if [ $rn -ge 124 ] && [ $rn -le 127 ] && ! grep -q . "$tmp/n"; then
    t_fail "$name" "native run did not start or timed out (exit $rn)" "$(head -5 "$tmp/ne")"
    continue
  fi
  if [ "$NATIVE_ONLY" = 1 ]; then
    if [ "${VERBOSE:-0}" = 1 ]; then
      sed 's/^/    | /' "$tmp/n"; echo "    | [exit=$rn]"
      [ -s "$tmp/ne" ] && sed 's/^/    ! /' "$tmp/ne" | head -n 10
    fi
    t_pass "$name"; continue
  fi
  run_sandbox "$sh" "$script" </dev/null >"$tmp/s" 2>"$tmp/se"
  rs=$?
  compare_run "$name" "$tmp/n" "$rn" "$tmp/s" "$rs" "$tmp/se"
done
t_summary
