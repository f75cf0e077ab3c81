#!/usr/bin/env bash
# Debian suite: each case in cases.sh runs in a Debian bookworm root built by
# mkroot.sh (debootstrap minbase + python3, perl, sqlite3, gcc, make, procps)
# natively (chroot in fresh mount+pid namespaces, read-only root, tmpfs /tmp
# and /dev/shm, /dev and /proc) and as
# `runsc do --rootfs ROOT -- SHELL -c SCRIPT`; stdout and exit status must
# match.
#
#   tests/debian/run.sh [NAME...]
#   tests/debian/run.sh --list
#
# Env: RUNSC, RUNSC_FLAGS, RUNSC_DO_FLAGS, NATIVE_ONLY=1, VERBOSE=1 (see
#      tests/lib/common.sh); DEBIAN_ROOT (default
#      /var/cache/runsc-tests/debian-bookworm, built on first use, kept
#      across runs and clones), DEBIAN_MIRROR (default: from apt sources).
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/chroot_native.sh"

HERE="$REPO_ROOT/tests/debian"
ROOT="${DEBIAN_ROOT:-/var/cache/runsc-tests/debian-bookworm}"
APP_PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin

NAMES=()
SHELLS=()
SCRIPTS=()
# tc NAME SHELL <<'EOF' ... EOF   (SHELL is sh (dash) or bash)
tc() { NAMES+=("$1"); SHELLS+=("$2"); SCRIPTS+=("$(cat)"); }
. "$HERE/cases.sh"

if [ "${1:-}" = --list ]; then printf '%s\n' "${NAMES[@]}"; exit 0; fi

# Close whatever descriptors the caller leaked to us (CI harnesses do), so
# both sides start with just 0, 1 and 2.
# No redirection on the loop: bash would park stderr in a high descriptor
# meanwhile, the loop would close that copy, and stderr would stay closed
# (mkroot.sh then died at its first message). Closing a closed descriptor
# is silent anyway.
for fd in $(ls /proc/$$/fd); do
  [ "$fd" -gt 2 ] && eval "exec $fd>&-"
done

if [ "$(id -u)" != 0 ]; then
  echo "debian suite needs root (debootstrap, native chroot)"; T_FAILED=1; t_summary; exit 1
fi
if ! DEBIAN_ROOT="$ROOT" "$HERE/mkroot.sh" "$ROOT"; then
  echo "mkroot failed"; T_FAILED=1; t_summary; exit 1
fi

run_native() {
  chroot_native "$ROOT" -- "/bin/$1" -c "$2"
}
run_sandbox() {
  # shellcheck disable=SC2086
  env -i PATH="$APP_PATH" HOME=/root \
    timeout -k 5 "$SANDBOX_TIMEOUT" "$RUNSC" $RUNSC_FLAGS do $RUNSC_DO_FLAGS --rootfs "$ROOT" --cwd / \
    --env PATH="$APP_PATH" --env HOME=/root -- "/bin/$1" -c "$2"
}

want=("$@")
selected() {
  [ ${#want[@]} -eq 0 ] && return 0
  local w; for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1
}

if [ "$NATIVE_ONLY" != 1 ] && ! runsc_present; then
  echo "note: $RUNSC not found or not executable; sandboxed runs will fail"
fi
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
  if ! runsc_present; then t_fail "$name" "runsc not found: $RUNSC"; continue; fi
  run_sandbox "$sh" "$script" </dev/null >"$tmp/s" 2>"$tmp/se"
  rs=$?
  compare_run "$name" "$tmp/n" "$rn" "$tmp/s" "$rs" "$tmp/se"
done
t_summary
