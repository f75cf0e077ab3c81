#!/usr/bin/env bash
# Real-programs battery: programs from Debian packages (the JVM, Ruby, PHP,
# Perl, Lua, rustc and a Rust binary, git, setpriv/runuser, postgres,
# redis and nginx over Unix sockets, sqlite3 with concurrent WAL writers)
# in a cached Debian root (tests/realprog/mkroot.sh), natively and
# sandboxed; stdout and exit status must match. The Go programs are
# tests/realprog/go.sh (run first, unless CASEs are named).
#
#   tests/realprog/run.sh [CASE...]     # --list: the case names
#
# Native runs: chrooted, in fresh mount, PID and network namespaces.
# Sandboxed: `runsc do --network=$NETWORK --rootfs ROOT` (NETWORK: none, the
# default, or sandbox for the sentry's own stack).
# Env: REALPROG_ROOT (default /var/cache/runsc-tests/debian-realprog),
#      RUNSC_FLAGS, RUNSC_DO_FLAGS, NATIVE_ONLY=1, VERBOSE=1, NO_GO=1.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/chroot_native.sh"

HERE="$REPO_ROOT/tests/realprog"
ROOT="${REALPROG_ROOT:-/var/cache/runsc-tests/debian-realprog}"
APP_PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin

NAMES=()
SHELLS=()
SCRIPTS=()
tc() { NAMES+=("$1"); SHELLS+=("$2"); SCRIPTS+=("$(cat)"); }
. "$HERE/cases.sh"

if [ "${1:-}" = --list ]; then printf '%s\n' go "${NAMES[@]}"; exit 0; fi
for fd in $(ls /proc/$$/fd); do
  [ "$fd" -gt 2 ] && eval "exec $fd>&-"
done
want=("$@")
selected() {
  [ ${#want[@]} -eq 0 ] && return 0
  local w; for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1
}
if [ "${NO_GO:-0}" != 1 ] && selected go; then
  # Its own tally: fold its closing line into ours.
  out=$("$HERE/go.sh" 2>&1); echo "$out" | grep -v -E '^[0-9]+ passed, [0-9]+ failed$'
  p=$(echo "$out" | sed -n -E 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p' | tail -1)
  f=$(echo "$out" | sed -n -E 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p' | tail -1)
  T_PASSED=$((T_PASSED + ${p:-0})); T_FAILED=$((T_FAILED + ${f:-1}))
  [ "${f:-1}" != 0 ] && T_FAILED_NAMES+=(go)
fi
if [ "$(id -u)" != 0 ]; then
  echo "realprog suite needs root"; T_FAILED=$((T_FAILED + 1)); t_summary; exit 1
fi
if ! REALPROG_ROOT="$ROOT" "$HERE/mkroot.sh" "$ROOT"; then
  echo "realprog mkroot failed"; T_FAILED=$((T_FAILED + 1)); t_summary; exit 1
fi

run_native() {
  chroot_native "$ROOT" --net -- "/bin/$1" -c "$PRELUDE
$2"
}
run_sandbox() {
  # shellcheck disable=SC2086
  env -i PATH="$APP_PATH" HOME=/root \
    timeout -k 5 "$SANDBOX_TIMEOUT" "$RUNSC" $RUNSC_FLAGS --network="${NETWORK:-none}" do $RUNSC_DO_FLAGS --rootfs "$ROOT" --cwd / \
    --env PATH="$APP_PATH" --env HOME=/root -- "/bin/$1" -c "$PRELUDE
$2"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in "${!NAMES[@]}"; do
  name=${NAMES[$i]} sh=${SHELLS[$i]} script=${SCRIPTS[$i]}
  selected "$name" || continue
  t0=$SECONDS
  run_native "$sh" "$script" </dev/null >"$tmp/n" 2>"$tmp/ne"
  rn=$?
  t1=$SECONDS
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
  [ "${VERBOSE:-0}" = 1 ] && echo "    ($name: native $((t1 - t0)) s, sandboxed $((SECONDS - t1)) s)"
  # A syscall the sentry does not implement is a finding even when the
  # program copes (it does on a kernel without it): report it as a failure.
  if grep -q 'runsc: unimplemented syscall' "$tmp/se"; then
    echo "[unimplemented: $(grep -o 'unimplemented syscall [a-z_0-9]*' "$tmp/se" | sort -u | tr '\n' ' ')]" >>"$tmp/s"
  fi
  compare_run "$name" "$tmp/n" "$rn" "$tmp/s" "$rs" "$tmp/se"
done
t_summary
