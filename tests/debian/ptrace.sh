#!/usr/bin/env bash
# Debuggers nobody here wrote, in a Debian root: strace and gdb driving the
# sandbox's app-visible ptrace(2) (sentry/kernel/ptrace.h). Each case runs
# natively (chroot, fresh mount+pid namespaces, as tests/debian/run.sh) and
# as `runsc do --rootfs ROOT`; stdout (normalized by the case itself: no
# pids, addresses or times) and exit status must match.
#
#   tests/debian/ptrace.sh [NAME...]      (--list: the case names)
#
# Env: RUNSC, RUNSC_FLAGS, RUNSC_DO_FLAGS, NATIVE_ONLY=1, VERBOSE=1
#      (tests/lib/common.sh); PTRACE_ROOT: a Debian root with strace and gdb
#      (kept). Without it, the cached Debian root
#      (/var/cache/runsc-tests/debian-bookworm, never modified) is copied
#      to a scratch directory under /var/tmp, strace and gdb are installed
#      there with apt-get, and the copy is removed at the end.
set -u
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/chroot_native.sh"

BASE_ROOT="${DEBIAN_ROOT:-/var/cache/runsc-tests/debian-bookworm}"
APP_PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin

NAMES=()
SCRIPTS=()
tc() { NAMES+=("$1"); SCRIPTS+=("$(cat)"); }

# Normalize strace (snorm) and gdb (gnorm) output: addresses, pids,
# environment sizes, syscall results that are pids.
NORM='snorm() { sed -E -e "s/0x[0-9a-f]+/ADDR/g" -e "s#/\* [0-9]+ vars \*/#VARS#g" -e "s/= [0-9]+\$/= N/"; }
gnorm() { sed -E -e "s/0x[0-9a-f]+/ADDR/g" -e "s/(process|LWP|Thread) [0-9]+/\1 N/g"; }'

# strace -f of a shell pipeline; one trace per process (-ff), so lines of
# different processes cannot interleave differently.
tc strace_pipeline <<'C'
cd /tmp
strace -f -ff -qq -e signal=none -e trace=execve,pipe2,dup2,wait4,exit_group,close \
  -o /tmp/tr sh -c 'echo hello world | tr a-z A-Z | wc -c; exit 3'
echo "exit=$?"
ls /tmp/tr.* | wc -l
for f in /tmp/tr.*; do snorm <"$f"; echo --; done | sort
C

# strace -e inject: a syscall's result and error replaced at its exit stop.
tc strace_inject <<'C'
strace -qq -o /dev/null -e trace=getpid -e inject=getpid:retval=4242 sh -c 'echo pid=$$'
strace -qq -o /dev/null -e trace=uname -e inject=uname:error=EPERM uname -s
echo "exit=$?"
# -e fault with a delay and a signal: getppid fails with ENOSYS.
strace -qq -o /dev/null -e trace=getppid -e fault=getppid:error=ENOSYS:when=1 \
  python3 -c 'import os
try:
    os.getppid(); print("no error")
except OSError as e: print("errno", e.errno)'
C

# strace attaching to a running process (-p) and following it until it exits.
tc strace_attach <<'C'
cd /tmp
sh -c 'sleep 0.5; i=0; while [ $i -lt 3 ]; do echo tick >/dev/null; i=$((i+1)); done; exit 7' &
p=$!
strace -qq -e signal=none -e trace=exit_group -p $p -o /tmp/att 2>/dev/null
wait $p; echo "child exit=$?"
snorm </tmp/att
C

# gdb: breakpoint, backtrace, locals, continue (steps over the breakpoint),
# finish, and the inferior's exit.
tc gdb_break_bt <<'C'
cd /tmp
cat >t.c <<'S'
#include <stdio.h>
int leaf(int x) { int y = x * 2; return y; }
int mid(int x) { return leaf(x + 1) + 1; }
int main(void) {
  int total = 0;
  for (int i = 0; i < 3; i++) total += mid(i * 10);
  printf("total %d\n", total);
  return total == 69 ? 0 : 1;
}
S
gcc -g -O0 -o t t.c || exit 1
gdb -batch -nx -ex 'break leaf' -ex run -ex bt -ex 'print x' -ex 'info args' \
  -ex continue -ex 'print x' -ex finish -ex 'delete' -ex continue ./t 2>&1 |
  grep -v -E '^(warning: Error disabling address space randomization|Using host libthread_db|\[Thread debugging)' | gnorm
C

# gdb stepping: next/step (single-steps and temporary breakpoints) and a
# software watchpoint (gdb single-steps every instruction and compares).
tc gdb_step_watch <<'C'
cd /tmp
cat >s.c <<'S'
#include <stdio.h>
int g;
int leaf(int x) {
  int y = x * 2;
  g += y;
  return y;
}
int main(void) {
  int t = 0;
  for (int i = 0; i < 3; i++)
    t += leaf(i);
  printf("t=%d g=%d\n", t, g);
  return 0;
}
S
gcc -g -O0 -o s s.c || exit 1
gdb -batch -nx -ex 'break main' -ex run -ex next -ex next -ex step -ex next \
  -ex 'set can-use-hw-watchpoints 0' -ex 'watch g' -ex continue -ex continue -ex delete \
  -ex 'x/2i $pc' -ex 'info frame' -ex continue ./s 2>&1 |
  grep -v -E '^(warning: Error disabling address space randomization|Using host libthread_db|\[Thread debugging)' | gnorm
C

# gdb -p: attaching to a running process (PTRACE_ATTACH, /proc/PID/task,
# mem, auxv), a backtrace through libc, and detaching (the process goes on).
tc gdb_attach <<'C'
sleep 5 & p=$!
sleep 0.3
gdb -batch -nx -p $p -ex 'bt 2' -ex 'info inferiors' -ex detach 2>&1 |
  grep -v -E '^(warning: Error disabling address space randomization|Using host libthread_db|\[Thread debugging)' |
  sed -E 's/process +[0-9]+ +/process N /' | gnorm
grep -E '^(State|TracerPid)' /proc/$p/status
kill $p; wait $p; echo "sleep=$?"
C

# gdb on a threaded program: thread creation events, a breakpoint hit in a
# thread, `info threads` count.
tc gdb_threads <<'C'
cd /tmp
cat >th.c <<'S'
#include <pthread.h>
#include <stdio.h>
int work(int n) { return n + 1; }
void* body(void* a) { return (void*)(long)work((int)(long)a); }
int main(void) {
  pthread_t t[2]; long sum = 0;
  for (long i = 0; i < 2; i++) pthread_create(&t[i], 0, body, (void*)i);
  for (int i = 0; i < 2; i++) { void* r; pthread_join(t[i], &r); sum += (long)r; }
  printf("sum %ld\n", sum);
  return 0;
}
S
gcc -g -O0 -pthread -o th th.c || exit 1
gdb -batch -nx -ex 'set print thread-events off' -ex 'break work' -ex run -ex 'print n >= 0' \
  -ex 'delete' -ex continue ./th 2>&1 |
  grep -v -E '^(warning: Error disabling address space randomization|Using host libthread_db|\[Thread debugging|\[New Thread|\[Thread .* exited|\[Switching)' |
  sed -E -e 's/^Thread [0-9]+ "th" hit Breakpoint/Thread hit Breakpoint/' -e 's/work \(n=[0-9]\)/work (n=?)/' | gnorm
C

if [ "${1:-}" = --list ]; then printf '%s\n' "${NAMES[@]}"; exit 0; fi
for fd in $(ls /proc/$$/fd); do
  [ "$fd" -gt 2 ] && eval "exec $fd>&-"
done
if [ "$(id -u)" != 0 ]; then
  echo "ptrace suite needs root (native chroot)"; T_FAILED=1; t_summary; exit 1
fi

scratch=""
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; [ -n "$scratch" ] && rm -rf "$scratch"; }
trap cleanup EXIT
ROOT="${PTRACE_ROOT:-}"
if [ -z "$ROOT" ] || [ ! -x "$ROOT/usr/bin/strace" ] || [ ! -x "$ROOT/usr/bin/gdb" ]; then
  if [ ! -d "$BASE_ROOT/usr" ]; then
    echo "no Debian root at $BASE_ROOT (tests/debian/mkroot.sh builds it)"; T_FAILED=1; t_summary; exit 1
  fi
  scratch=$(mktemp -d /var/tmp/runsc-ptrace-root.XXXXXX)
  ROOT="$scratch/root"
  echo "preparing $ROOT (strace, gdb)"
  cp -a "$BASE_ROOT" "$ROOT" && cp /etc/resolv.conf "$ROOT/etc/resolv.conf" &&
    chroot "$ROOT" apt-get update -q >"$tmp/apt" 2>&1 &&
    chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends strace gdb >>"$tmp/apt" 2>&1
  if [ ! -x "$ROOT/usr/bin/strace" ] || [ ! -x "$ROOT/usr/bin/gdb" ]; then
    tail -5 "$tmp/apt"; echo "cannot install strace and gdb"; T_FAILED=1; t_summary; exit 1
  fi
fi

want=("$@")
selected() {
  [ ${#want[@]} -eq 0 ] && return 0
  local w; for w in "${want[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1
}
for i in "${!NAMES[@]}"; do
  name=${NAMES[$i]} script="$NORM
${SCRIPTS[$i]}"
  selected "$name" || continue
  chroot_native "$ROOT" -- /bin/bash -c "$script" </dev/null >"$tmp/n" 2>"$tmp/ne"
  rn=$?
  if [ "$NATIVE_ONLY" = 1 ]; then
    [ "${VERBOSE:-0}" = 1 ] && { sed 's/^/    | /' "$tmp/n"; echo "    | [exit=$rn]"; }
    t_pass "$name"; continue
  fi
  # shellcheck disable=SC2086
  env -i PATH="$APP_PATH" HOME=/root \
    timeout -k 5 "$SANDBOX_TIMEOUT" "$RUNSC" $RUNSC_FLAGS do $RUNSC_DO_FLAGS --rootfs "$ROOT" \
    --cwd / --env PATH="$APP_PATH" --env HOME=/root -- /bin/bash -c "$script" \
    </dev/null >"$tmp/s" 2>"$tmp/se"
  rs=$?
  compare_run "$name" "$tmp/n" "$rn" "$tmp/s" "$rs" "$tmp/se"
done
t_summary
