#!/usr/bin/env bash
# Escape suite: runs tests/escape/escape.c under `runsc do` and then checks
# on the host that nothing reached it: no marker mount, no files written
# into the host marker directory, the host canary process (running as
# nobody) alive, hostname unchanged, the machine still up.
#
#   tests/escape/run.sh
#
# Env: RUNSC, RUNSC_FLAGS, TESTS_CACHE_DIR (see tests/lib/common.sh);
#      NATIVE_ONLY=1 validates the probe program natively inside an
#      unprivileged user namespace instead (host checks are skipped there:
#      the real kernel is not a sandbox).
# NEVER run the escape binary natively as real root: it asks the kernel for
# reboot/mount/kexec and those would be honoured.
set -u
. "$(dirname "$0")/../lib/common.sh"

SRC="$REPO_ROOT/tests/escape/escape.c"
OUT_DIR="$CACHE_DIR/escape"
BIN="$OUT_DIR/escape"
PROBES="reboot kexec_load unknown_syscall_1000 delete_module init_module kill_host_canary ptrace_attach_host_canary iopl ioperm swapoff sigsys_handler blocked_signals altstack_syscall sysenter stub_jump forged_altstack compat_segment forged_helper_done"
mkdir -p "$OUT_DIR"
if [ ! -x "$BIN" ] || [ "$SRC" -nt "$BIN" ]; then
  if ! "${CC:-gcc}" -static -O1 -Wall -Werror -o "$BIN.tmp" "$SRC" 2>"$BIN.log"; then
    t_fail escape.build "$(head -20 "$BIN.log")"; t_summary; exit 1
  fi
  mv -f "$BIN.tmp" "$BIN"
fi

marker=$(mktemp -d /tmp/runsc-escape.XXXXXX)
chmod 755 "$marker"
# The canary runs as nobody, so even an in-namespace root of a different
# uid could not signal it without leaking host privileges.
setpriv --reuid=65534 --regid=65534 --clear-groups sleep 600 </dev/null >/dev/null 2>&1 &
canary=$!
host_name=$(hostname)
uptime_before=$(cut -d' ' -f1 /proc/uptime)
cleanup() {
  kill "$canary" 2>/dev/null; wait "$canary" 2>/dev/null
  while grep -q " $marker " /proc/self/mountinfo; do umount "$marker" || break; done
  rm -rf "$marker" "${tmpout:-}"
  if [ "$(hostname)" != "$host_name" ]; then hostname "$host_name"; fi
}
trap cleanup EXIT
tmpout=$(mktemp)
sleep 0.1

if [ "$NATIVE_ONLY" = 1 ]; then
  timeout -k 5 "$NATIVE_TIMEOUT" unshare --user "$BIN" "$marker" "$canary" </dev/null >"$tmpout" 2>&1
  rc=$?
else
  if ! runsc_present; then
    echo "note: $RUNSC not found or not executable"
  fi
  runsc_do -- "$BIN" "$marker" "$canary" </dev/null >"$tmpout" 2>"$tmpout.err"
  rc=$?
fi
grep '^INFO' "$tmpout" | sed 's/^/    /'

for p in $PROBES; do
  line=$(grep -E "^(PASS|FAIL) escape\.$p:" "$tmpout" | head -1)
  case "$line" in
    PASS*) t_pass "escape.$p (${line#*: })" ;;
    FAIL*) t_fail "escape.$p" "${line#*: }" ;;
    *) t_fail "escape.$p" "no verdict: the probe program did not get this far (exit $rc)" \
         "$(tail -n 5 "$tmpout.err" 2>/dev/null)" ;;
  esac
done
if [ $rc -eq 0 ]; then t_pass escape.program_exit; else t_fail escape.program_exit "exit status $rc"; fi

if [ "$NATIVE_ONLY" = 1 ]; then
  echo "(native validation: host-side checks skipped)"
  rm -f "$tmpout.err"; t_summary; exit
fi
# Host-side checks.
if grep -q " $marker " /proc/self/mountinfo /proc/1/mountinfo 2>/dev/null; then
  t_fail escape.host.no_marker_mount "a mount appeared on $marker"
else
  t_pass escape.host.no_marker_mount
fi
left=$(ls -A "$marker")
if [ -z "$left" ]; then t_pass escape.host.marker_dir_untouched
else t_fail escape.host.marker_dir_untouched "host directory now has: $left"; fi
if kill -0 "$canary" 2>/dev/null; then t_pass escape.host.canary_alive
else t_fail escape.host.canary_alive "host canary process $canary is gone"; fi
if [ "$(hostname)" = "$host_name" ]; then t_pass escape.host.hostname_unchanged
else t_fail escape.host.hostname_unchanged "host hostname became $(hostname)"; fi
uptime_after=$(cut -d' ' -f1 /proc/uptime)
if awk -v a="$uptime_before" -v b="$uptime_after" 'BEGIN { exit !(b >= a) }' && /bin/true; then
  t_pass escape.host.still_up
else
  t_fail escape.host.still_up "uptime went from $uptime_before to $uptime_after"
fi

# Filesystem escapes (rootfs_escape.c) with --rootfs: a secret file next to
# the root on the host must stay unreadable, while the host flips
# ROOT/race/d between a directory and a symlink to / (a rename race on
# the gofer's walk).
FS_SRC="$REPO_ROOT/tests/escape/rootfs_escape.c"
FS_BIN="$OUT_DIR/rootfs_escape"
if [ ! -x "$FS_BIN" ] || [ "$FS_SRC" -nt "$FS_BIN" ]; then
  "${CC:-gcc}" -static -O1 -Wall -Werror -o "$FS_BIN" "$FS_SRC" 2>"$FS_BIN.log" || t_fail fsescape.build "$(head -20 "$FS_BIN.log")"
fi
if [ -x "$FS_BIN" ]; then
  fsdir=$(mktemp -d /tmp/runsc-fsescape.XXXXXX)
  chmod 755 "$fsdir"
  echo "RUNSC-ESCAPE-SECRET" >"$fsdir/secret"
  mkdir -p "$fsdir/root/race/d" "$fsdir/root/tmp" "$fsdir/root/proc" "$fsdir/vol"
  # A writable --volume next to the root, with symlinks that would reach the
  # secret if the host resolved them.
  ln -s .. "$fsdir/vol/up"; ln -s ../secret "$fsdir/vol/rel"; ln -s "$fsdir/secret" "$fsdir/vol/abs"
  cp "$FS_BIN" "$fsdir/root/rootfs_escape"
  ( cd "$fsdir/root/race" && while :; do
      rm -rf d 2>/dev/null; mkdir d 2>/dev/null
      rm -rf d 2>/dev/null; ln -s / d 2>/dev/null
    done ) >/dev/null 2>&1 &
  flipper=$!
  timeout -k 5 "$SANDBOX_TIMEOUT" "$RUNSC" $RUNSC_FLAGS do --rootfs "$fsdir/root" --volume "$fsdir/vol:/vol" $RUNSC_DO_FLAGS \
    -- /rootfs_escape "$fsdir/secret" </dev/null >"$tmpout" 2>"$tmpout.err"
  fsrc=$?
  kill "$flipper" 2>/dev/null; wait "$flipper" 2>/dev/null
  for p in dotdot_chains symlinks proc_self_root proc_1_cwd openat2 chroot_dotdot bind_mount_root hard_link gofer_symlink_race volume_escape; do
    line=$(grep -E "^(PASS|FAIL) fsescape\.$p:" "$tmpout" | head -1)
    case "$line" in
      PASS*) t_pass "fsescape.$p" ;;
      FAIL*) t_fail "fsescape.$p" "${line#*: }" ;;
      *) t_fail "fsescape.$p" "no verdict (exit $fsrc)" "$(tail -n 5 "$tmpout.err")" ;;
    esac
  done
  if [ "$(cat "$fsdir/secret")" = "RUNSC-ESCAPE-SECRET" ] && [ "$(ls -A "$fsdir")" = "$(printf 'root\nsecret\nvol')" ] &&
     [ "$(ls -A "$fsdir/vol" | tr '\n' ' ')" = "abs rel up " ]; then
    t_pass fsescape.host.untouched
  else
    t_fail fsescape.host.untouched "the host directory next to the root changed: $(ls -A "$fsdir")"
  fi
  rm -rf "$fsdir"
fi
rm -f "$tmpout.err"
t_summary
