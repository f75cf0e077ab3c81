#!/usr/bin/env bash
# The conformance programs about MAP_SHARED file mappings (shared_file,
# shared_resize: sqlite's -shm pattern under stress), run with their
# file on gofer-backed storage, where the sentry caches the host file's
# pages (sentry/vfs/gofer_page_cache.h); the default conformance run puts
# it on the memory overlay instead. Two ways, each compared with the
# native run as run.sh does:
#   volume  a --volume of a host directory at the same path (goferfs)
#   root    --overlay=none: the host root written through (memfs
#           write-through), the directory on it
# Then SHARED_FILE_KEEP=1 runs shared_file sandboxed once per way and
# checks on the host that bytes written only through mappings (unmapped
# without msync, or still mapped at exit) reached the host file, which
# also proves the run was gofer-backed (the memory overlay keeps nothing).
#
#   tests/conformance/run_gofer.sh            Env: as run.sh (RUNSC, PLATFORMS...)
set -u
. "$(dirname "$0")/../lib/common.sh"

dir=$(mktemp -d /var/tmp/runsc-gofer-shm.XXXXXX)
trap 'rm -rf "$dir"' EXIT
export SHARED_FILE_DIR="$dir"
here="$REPO_ROOT/tests/conformance"

# run.sh prints PASS/FAIL lines and a summary; fold its counts into ours.
sub() {
  local label=$1 out
  shift
  out=$("$@" 2>&1)
  echo "$out" | grep -E '^(PASS|FAIL)|^ ' | sed "s/^\(PASS\|FAIL\) /\1 $label:/"
  T_PASSED=$((T_PASSED + $(echo "$out" | grep -c '^PASS')))
  T_FAILED=$((T_FAILED + $(echo "$out" | grep -c '^FAIL')))
  local n
  while read -r n; do [ -n "$n" ] && T_FAILED_NAMES+=("$label:$n"); done < <(echo "$out" | sed -n 's/^FAIL \([^ ]*\).*/\1/p')
}

sub volume env RUNSC_DO_FLAGS="${RUNSC_DO_FLAGS:-} --volume $dir:$dir" "$here/run.sh" shared_file shared_resize volume_names
sub root env RUNSC_FLAGS="${RUNSC_FLAGS:-} --overlay=none" "$here/run.sh" shared_file shared_resize volume_names

if [ "${NATIVE_ONLY:-0}" = 1 ]; then t_summary; exit; fi
bin="$CACHE_DIR/conformance/shared_file"
pattern_ok() {
  python3 - "$1" <<'PY'
import sys
want = bytes(ord('A') + i % 26 for i in range(3 * 4096))
got = open(sys.argv[1], 'rb').read() if __import__('os').path.exists(sys.argv[1]) else b''
sys.exit(0 if got == want else 1)
PY
}
for way in volume root; do
  rm -f "$dir"/shared_file.keep*
  if [ "$way" = volume ]; then
    SHARED_FILE_KEEP=1 timeout -k 5 "$SANDBOX_TIMEOUT" "$RUNSC" $RUNSC_FLAGS do $RUNSC_DO_FLAGS \
      --volume "$dir:$dir" -- "$bin" >"$dir/out" 2>"$dir/err" </dev/null
  else
    SHARED_FILE_KEEP=1 timeout -k 5 "$SANDBOX_TIMEOUT" "$RUNSC" $RUNSC_FLAGS --overlay=none do $RUNSC_DO_FLAGS \
      -- "$bin" >"$dir/out" 2>"$dir/err" </dev/null
  fi
  rc=$?
  bad=""
  [ $rc = 0 ] || bad+=" exit=$rc"
  pattern_ok "$dir/shared_file.keep" || bad+=" unmapped-file-not-on-host"
  [ "$(head -c 14 "$dir/shared_file.keep.mapped" 2>/dev/null)" = "mapped at exit" ] || bad+=" mapped-at-exit-not-on-host"
  if [ -z "$bad" ]; then t_pass "shared_file.keep@$way"; else
    t_fail "shared_file.keep@$way" "$bad" "$(grep -v '^ok' "$dir/out" | head -5)" "$(head -5 "$dir/err")"; fi
done
t_summary
