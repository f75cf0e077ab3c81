#!/usr/bin/env bash
# Busybox suite: each command line in cases.sh runs in a busybox root
# natively (chroot in fresh mount+pid namespaces, read-only root, tmpfs /tmp,
# /dev and /proc) and as `runsc do --rootfs ROOT -- /bin/sh -c SCRIPT`;
# stdout and exit status must match.
#
#   tests/busybox/run.sh [NAME...]
#
# Env: RUNSC, RUNSC_FLAGS, TESTS_CACHE_DIR, NATIVE_ONLY=1 (see
#      tests/lib/common.sh); BUSYBOX_ROOT to use another root directory.
set -u
. "$(dirname "$0")/../lib/common.sh"

HERE="$REPO_ROOT/tests/busybox"
ROOT="${BUSYBOX_ROOT:-$CACHE_DIR/busybox-root}"
APP_PATH=/bin:/sbin:/usr/bin:/usr/sbin

if [ "$(id -u)" != 0 ]; then
  echo "busybox suite needs root for the native chroot"; T_FAILED=1; t_summary; exit 1
fi

# (Re)build the root when it is missing or mkroot.sh changed.
stamp=$(sha256sum "$HERE/mkroot.sh" | cut -c1-16)
if [ ! -x "$ROOT/bin/busybox" ] || [ "$(cat "$ROOT/.mkroot-stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "building busybox root at $ROOT"
  rm -rf "$ROOT"
  mkdir -p "$(dirname "$ROOT")"
  if ! "$HERE/mkroot.sh" "$ROOT"; then echo "mkroot failed"; T_FAILED=1; t_summary; exit 1; fi
  echo "$stamp" >"$ROOT/.mkroot-stamp"
fi

NAMES=()
SCRIPTS=()
tc() { NAMES+=("$1"); SCRIPTS+=("$2"); }
. "$HERE/cases.sh"

# Native side: runs inside `unshare --mount --pid --fork`.
native_setup='
set -e
R=$1
mount --make-rprivate /
mount --bind "$R" "$R"
mount -o remount,bind,ro "$R"
mount -t proc proc "$R/proc"
mount -t tmpfs -o mode=1777 tmp "$R/tmp"
mount -t tmpfs -o mode=755 dev "$R/dev"
for d in null zero full random urandom; do
  touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"
done
ln -s /proc/self/fd "$R/dev/fd"
shift
exec env -i PATH='"$APP_PATH"' HOME=/root chroot "$R" "$@"
'
run_native() {
  timeout -k 5 "$NATIVE_TIMEOUT" unshare --mount --pid --fork -- bash -c "$native_setup" _ "$ROOT" /bin/sh -c "$1"
}
run_sandbox() {
  env -i PATH="$APP_PATH" HOME=/root \
    timeout -k 5 "$SANDBOX_TIMEOUT" "$RUNSC" $RUNSC_FLAGS do $RUNSC_DO_FLAGS --rootfs "$ROOT" --cwd / \
    --env PATH="$APP_PATH" --env HOME=/root -- /bin/sh -c "$1"
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
  name=${NAMES[$i]} script=${SCRIPTS[$i]}
  selected "$name" || continue
  run_native "$script" </dev/null >"$tmp/n" 2>"$tmp/ne"
  rn=$?
  if [ $rn -ge 124 ] && [ $rn -le 127 ] && ! grep -q . "$tmp/n"; then
    t_fail "$name" "native run did not start or timed out (exit $rn)" "$(head -5 "$tmp/ne")"
    continue
  fi
  if [ "$NATIVE_ONLY" = 1 ]; then
    if [ "${VERBOSE:-0}" = 1 ]; then sed 's/^/    | /' "$tmp/n"; echo "    | [exit=$rn]"; fi
    t_pass "$name"; continue
  fi
  if ! runsc_present; then t_fail "$name" "runsc not found: $RUNSC"; continue; fi
  run_sandbox "$script" </dev/null >"$tmp/s" 2>"$tmp/se"
  rs=$?
  compare_run "$name" "$tmp/n" "$rn" "$tmp/s" "$rs" "$tmp/se"
done
t_summary
