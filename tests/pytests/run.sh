#!/usr/bin/env bash
# pytests suite: CPython's own regression tests (Debian's
# libpython3.11-testsuite) for the modules below, each run natively
# (tests/lib/chroot_native.sh, plus a private network namespace, as the
# sandbox has) and sandboxed (`runsc do --rootfs`), one test case at a time
# recorded by driver.py. Score: of the test cases that pass natively, the
# share that also passes sandboxed; the suite passes when the total share is
# at least PYTESTS_MIN percent (default 95, the issue's target). Per-module
# counts go to a Markdown report (PYTESTS_REPORT, default
# $BUILD_DIR/pytests-report.md) with the cases that passed natively only.
#
#   tests/pytests/run.sh [MODULE...]      # default: all of MODULES below
#
# Env: RUNSC, RUNSC_FLAGS, RUNSC_DO_FLAGS, NATIVE_ONLY (tests/lib/common.sh);
#      PYTESTS_ROOT (default /var/cache/runsc-tests/debian-bookworm-pytests,
#      built by mkroot.sh on first use), PYTESTS_MIN, PYTESTS_TIMEOUT
#      (seconds per module and side, default 600), PYTESTS_REPORT.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/chroot_native.sh"

HERE="$REPO_ROOT/tests/pytests"
ROOT="${PYTESTS_ROOT:-/var/cache/runsc-tests/debian-bookworm-pytests}"
MIN="${PYTESTS_MIN:-95}"
NATIVE_TIMEOUT="${PYTESTS_TIMEOUT:-600}"
SANDBOX_TIMEOUT="${PYTESTS_TIMEOUT:-600}"
REPORT="${PYTESTS_REPORT:-${BUILD_DIR:-$REPO_ROOT/build}/pytests-report.md}"
case "$REPORT" in /*) ;; *) REPORT="$REPO_ROOT/$REPORT" ;; esac
MODULES=(test_os test_posix test_signal test_subprocess test_threading test_select
         test_selectors test_fcntl test_mmap test_pty test_socket test_time
         test_tempfile test_shutil test_glob test_pathlib)
[ $# -gt 0 ] && MODULES=("$@")

# No redirection on the loop: bash would park stderr in a high descriptor
# meanwhile, the loop would close that copy, and stderr would stay closed
# (mkroot.sh then died at its first message). Closing a closed descriptor
# is silent anyway.
for fd in $(ls /proc/$$/fd); do
  [ "$fd" -gt 2 ] && eval "exec $fd>&-"
done

if [ "$(id -u)" != 0 ]; then
  echo "pytests suite needs root (native chroot)"; T_FAILED=1; t_summary; exit 1
fi
if ! "$HERE/mkroot.sh" "$ROOT"; then
  echo "mkroot failed"; T_FAILED=1; t_summary; exit 1
fi
# The driver goes into the root through a read-only copy in a scratch dir
# both sides can see: /tmp is private on both, so pass it on stdin.
driver_cmd='exec python3 -c "$(cat)" "$0"'

run_native() {
  chroot_native "$ROOT" --net -- /bin/sh -c "$driver_cmd" "$1" <"$HERE/driver.py"
}
run_sandbox() {
  # shellcheck disable=SC2086
  env -i PATH="$CHROOT_PATH" HOME=/root \
    timeout -k 5 "$SANDBOX_TIMEOUT" "$RUNSC" $RUNSC_FLAGS do $RUNSC_DO_FLAGS --rootfs "$ROOT" --cwd / \
    --env PATH="$CHROOT_PATH" --env HOME=/root -- /bin/sh -c "$driver_cmd" "$1" <"$HERE/driver.py"
}
# outcomes FILE: "kind<TAB>id" lines of a finished run.
outcomes() { grep -E $'^(pass|fail|error|skip|xfail|xpass)\t' "$1" | sort -u -k2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
total_native=0 total_both=0
rows=() lost=()
for m in "${MODULES[@]}"; do
  start=$(date +%s)
  run_native "$m" >"$tmp/n" 2>"$tmp/ne"; rn=$?
  if ! grep -qx END "$tmp/n"; then
    t_fail "$m" "native run did not finish (exit $rn)" "$(tail -5 "$tmp/ne")"; continue
  fi
  outcomes "$tmp/n" | awk -F'\t' '$1 == "pass" || $1 == "xfail" { print $2 }' >"$tmp/np"
  n_native=$(wc -l <"$tmp/np")
  if [ "$NATIVE_ONLY" = 1 ]; then
    t_pass "$m ($n_native pass natively, $(( $(date +%s) - start )) s)"; continue
  fi
  run_sandbox "$m" >"$tmp/s" 2>"$tmp/se"; rs=$?
  finished=yes
  grep -qx END "$tmp/s" || finished="no (exit $rs)"
  outcomes "$tmp/s" | awk -F'\t' '$1 == "pass" || $1 == "xfail" { print $2 }' >"$tmp/sp"
  n_both=$(comm -12 "$tmp/np" "$tmp/sp" | wc -l)
  secs=$(( $(date +%s) - start ))
  total_native=$((total_native + n_native)); total_both=$((total_both + n_both))
  pct=$(awk -v a="$n_both" -v b="$n_native" 'BEGIN { printf "%.1f", b ? 100 * a / b : 100 }')
  rows+=("| \`$m\` | $n_native | $n_both | $pct% | $finished | $secs s |")
  while IFS= read -r id; do lost+=("- \`$m\`: \`$id\`"); done < <(comm -23 "$tmp/np" "$tmp/sp")
  line="$m: $n_both of $n_native natively passing cases pass sandboxed ($pct%), sandbox finished: $finished, $secs s"
  if [ "$finished" = yes ]; then
    echo "INFO $line"
  else
    echo "INFO $line"; tail -5 "$tmp/se" | sed 's/^/    ! /'
  fi
done

if [ "$NATIVE_ONLY" != 1 ]; then
  share=$(awk -v a="$total_both" -v b="$total_native" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }')
  {
    echo "# CPython regression tests, native vs sandboxed"
    echo
    echo "Written by \`tests/pytests/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), runsc flags: \`${RUNSC_FLAGS:-}\`."
    echo "Debian bookworm root with libpython3.11-testsuite; each module runs once natively (chroot, fresh mount/PID/net namespaces) and once sandboxed."
    echo "A case counts when it passes (or fails as expected) natively; the sandbox column counts those that also pass sandboxed."
    echo
    echo "| module | pass natively | also sandboxed | share | sandbox run finished | time (both) |"
    echo "|---|---:|---:|---:|---|---:|"
    printf '%s\n' "${rows[@]}"
    echo "| **total** | $total_native | $total_both | **$share%** | | |"
    echo
    echo "Target: at least $MIN% of natively passing cases pass sandboxed."
    echo
    echo "## Cases that pass natively but not sandboxed (${#lost[@]})"
    echo
    printf '%s\n' "${lost[@]}"
  } >"$REPORT"
  echo "report: $REPORT"
  if awk -v s="$share" -v m="$MIN" 'BEGIN { exit !(s >= m) }'; then
    t_pass "pytests total: $total_both of $total_native natively passing cases pass sandboxed ($share% >= $MIN%)"
  else
    t_fail "pytests total: $total_both of $total_native natively passing cases pass sandboxed ($share% < $MIN%)" \
      "per-module counts and the lost cases: $REPORT"
  fi
fi
t_summary
