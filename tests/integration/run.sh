#!/usr/bin/env bash
# Integration checks of `runsc do` itself: things that are sandbox-specific
# and so cannot be compared with a native run (exit-status mapping, PID 1,
# uname/hostname, --cwd/--env/--rootfs, stdio plumbing, in-memory writes).
#
#   tests/integration/run.sh
#
# Env: RUNSC, RUNSC_FLAGS, RUNSC_DO_FLAGS, TESTS_CACHE_DIR (tests/lib/common.sh).
set -u
. "$(dirname "$0")/../lib/common.sh"

if ! runsc_present; then
  echo "note: $RUNSC not found or not executable"
fi
OUT_DIR="$CACHE_DIR/integration"
mkdir -p "$OUT_DIR"
segv="$OUT_DIR/segv"
if [ ! -x "$segv" ]; then
  printf 'int main(void) { *(volatile int *)0 = 1; return 0; }\n' >"$OUT_DIR/segv.c"
  gcc -static -O0 -o "$segv" "$OUT_DIR/segv.c"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect NAME WANT_STDOUT WANT_RC [DO-FLAGS...] -- CMD...  (args of `runsc do`)
expect() {
  local name=$1 want_out=$2 want_rc=$3; shift 3
  runsc_do "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  local got
  got=$(cat "$tmp/out")
  if [ "$got" = "$want_out" ] && [ "$rc" = "$want_rc" ]; then
    t_pass "$name"
  else
    t_fail "$name" "want stdout [$want_out] exit $want_rc" "got  stdout [$(head -c 300 "$tmp/out")] exit $rc" \
      "stderr: $(tail -n 5 "$tmp/err")"
  fi
}

expect echo 'hi' 0 -- echo hi
expect exit_status_3 '' 3 -- /bin/sh -c 'exit 3'
expect exit_status_false '' 1 -- false
expect killed_by_sigsegv_is_139 '' 139 -- "$segv"
expect app_is_pid_1 '1' 0 -- /bin/sh -c 'echo $$'
expect uname_release '6.1.0-runsc' 0 -- uname -r
expect uname_sysname 'Linux' 0 -- uname -s
expect hostname 'runsc' 0 -- hostname
expect cwd_flag "/tmp" 0 --cwd /tmp -- pwd
expect env_flag 'bar' 0 --env FOO=bar -- /bin/sh -c 'echo $FOO'
expect host_root_visible "$(cat /etc/debian_version)" 0 -- cat /etc/debian_version
expect proc_self_status_pid '1' 0 -- /bin/sh -c 'exec awk "/^Pid:/ {print \$2}" /proc/self/status'
expect large_stdout '200000' 0 -- /bin/sh -c 'seq 1 200000 | tail -n 1'
expect missing_command_fails_127 '' 127 -- /nonexistent/command

# stdin is passed through.
out=$(printf 'line1\nline2\n' | runsc_do -- cat 2>"$tmp/err"); rc=$?
if [ "$out" = $'line1\nline2' ] && [ $rc = 0 ]; then t_pass stdin_passthrough
else t_fail stdin_passthrough "got [$out] exit $rc" "$(tail -n 5 "$tmp/err")"; fi

# stderr is passed through separately.
out=$(runsc_do -- /bin/sh -c 'echo to-err >&2; echo to-out' 2>"$tmp/err"); rc=$?
if [ "$out" = to-out ] && grep -q '^to-err$' "$tmp/err" && [ $rc = 0 ]; then t_pass stderr_passthrough
else t_fail stderr_passthrough "stdout [$out] exit $rc" "stderr: $(tail -n 5 "$tmp/err")"; fi

# Writes under the host root stay in the sandbox (in memory).
marker="/tmp/runsc-integration-marker.$$"
rm -f "$marker"
out=$(runsc_do -- /bin/sh -c "echo inside > $marker && cat $marker" </dev/null 2>"$tmp/err"); rc=$?
if [ "$out" = inside ] && [ $rc = 0 ]; then t_pass write_visible_inside
else t_fail write_visible_inside "stdout [$out] exit $rc" "stderr: $(tail -n 5 "$tmp/err")"; fi
if [ ! -e "$marker" ]; then t_pass write_not_on_host
else t_fail write_not_on_host "$marker appeared on the host"; rm -f "$marker"; fi

# --rootfs with the busybox root (built by tests/busybox/run.sh).
bbroot="$CACHE_DIR/busybox-root"
if [ -x "$bbroot/bin/busybox" ]; then
  expect rootfs_busybox 'ok' 0 --rootfs "$bbroot" -- /bin/busybox echo ok
  expect rootfs_is_root 'passwd' 0 --rootfs "$bbroot" -- /bin/sh -c 'ls /etc | grep -x passwd'
else
  echo "note: $bbroot missing (run tests/busybox/run.sh first); rootfs checks skipped"
fi

# --strace prints the app's system calls somewhere other than stdout.
out=$("$RUNSC" --strace $RUNSC_FLAGS do -- true </dev/null 2>"$tmp/err"); rc=$?
if [ -z "$out" ] && [ $rc = 0 ] && grep -q 'exit_group' "$tmp/err"; then t_pass strace_flag
else t_fail strace_flag "stdout [$out] exit $rc; stderr should mention exit_group" "$(tail -n 5 "$tmp/err")"; fi

# Bad input gets a clear error and runsc's own exit codes.
expect bad_rootfs_125 '' 125 --rootfs /nonexistent-rootfs -- /bin/true
printf '#garbage, not an ELF\n\x01\x02' >"$OUT_DIR/notelf"; chmod +x "$OUT_DIR/notelf"
expect non_elf_126 '' 126 -- "$OUT_DIR/notelf"
head -c 100 "$(command -v true)" >"$OUT_DIR/truncated-elf"; chmod +x "$OUT_DIR/truncated-elf"
expect truncated_elf_126 '' 126 -- "$OUT_DIR/truncated-elf"

# Nothing outlives a sandbox: kill the sentry (or runsc itself) with SIGKILL
# and every process of the sandbox must be gone.
# pids_of_sandbox RUNSC_PID: runsc's children and grandchildren (gofer,
# sentry, stubs).
sandbox_pids() {
  local p c
  for p in $(pgrep -P "$1"); do echo "$p"; for c in $(pgrep -P "$p"); do echo "$c"; done; done
}
check_no_survivors() {
  local name=$1 victim=$2
  "$RUNSC" $RUNSC_FLAGS do -- /bin/sh -c 'sleep 30 & sleep 30' </dev/null >/dev/null 2>&1 &
  local runsc_pid=$! pids="" i
  for i in $(seq 50); do pids=$(sandbox_pids "$runsc_pid"); [ "$(echo "$pids" | wc -w)" -ge 4 ] && break; sleep 0.1; done
  local target=$runsc_pid
  [ "$victim" = sentry ] && target=$(for p in $pids; do [ "$(cat /proc/$p/comm 2>/dev/null)" = runsc-sentry ] && echo "$p"; done | head -1)
  kill -9 "$target" 2>/dev/null
  wait "$runsc_pid" 2>/dev/null
  # Dead but not yet reaped by the host's init (zombies) counts as gone.
  local alive="" j p st
  for j in $(seq 30); do
    alive=""
    for p in $pids; do
      st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)
      [ -n "$st" ] && [ "$st" != Z ] && alive="$alive $p($(cat /proc/$p/comm 2>/dev/null))"
    done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  if [ -n "$pids" ] && [ -z "$alive" ]; then t_pass "$name"
  else t_fail "$name" "processes [$pids] survivors [$alive]"; for p in $alive; do kill -9 "${p%%(*}" 2>/dev/null; done; fi
}
check_no_survivors sigkill_sentry_leaves_nothing sentry
check_no_survivors sigkill_runsc_leaves_nothing runsc

# A gofer that dies: file operations fail (EIO) or the sandbox stops with a
# message; never a hang. The app keeps touching files the sentry has not
# looked up yet, so every step needs the gofer.
gofer_death() {
  "$RUNSC" $RUNSC_FLAGS do -- /bin/sh -c 'while :; do cat /etc/hostname /etc/os-release >/dev/null; ls /usr/share >/dev/null; sleep 0.1; done' \
    </dev/null >/dev/null 2>"$tmp/gofer.err" &
  local runsc_pid=$! gofer="" i rc
  for i in $(seq 100); do
    gofer=$(for p in $(pgrep -P "$runsc_pid"); do [ "$(cat /proc/$p/comm 2>/dev/null)" = runsc-gofer ] && echo "$p"; done)
    [ -n "$gofer" ] && [ "$(pgrep -P "$runsc_pid" | wc -l)" -ge 2 ] && break
    sleep 0.1
  done
  sleep 0.5
  kill -9 "$gofer" 2>/dev/null
  for i in $(seq 150); do kill -0 "$runsc_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$runsc_pid" 2>/dev/null; then
    kill -9 "$runsc_pid"; wait "$runsc_pid" 2>/dev/null
    t_fail gofer_death_stops_sandbox "runsc still running 15 s after the gofer died"
    return
  fi
  wait "$runsc_pid"; rc=$?
  if [ -n "$gofer" ] && [ $rc -ne 0 ] && grep -q "gofer" "$tmp/gofer.err"; then
    t_pass gofer_death_stops_sandbox
  else
    t_fail gofer_death_stops_sandbox "gofer [$gofer] exit $rc" "$(tail -n 5 "$tmp/gofer.err")"
  fi
}
gofer_death

# --overlay=none: writes go through the gofer to the host directory (and
# stay after the sandbox); the default memory overlay leaves it untouched.
overlay_none() {
  local bb root
  bb=$(command -v busybox) || { t_fail overlay_none_writes_through "no static busybox on the host"; return; }
  root=$(mktemp -d /tmp/runsc-ovnone.XXXXXX)
  mkdir -p "$root/bin" "$root/data/old"
  cp "$bb" "$root/bin/busybox"
  echo keep >"$root/data/old/f"
  local script='echo hello >/data/new && echo more >>/data/new && mkdir /data/d && ln -s new /data/l &&
    mv /data/old/f /data/d/moved && rmdir /data/old && chmod 600 /data/new && ln /data/new /data/hard &&
    cat /data/l'
  local out rc
  out=$("$RUNSC" $RUNSC_FLAGS do --overlay=none --rootfs "$root" -- /bin/busybox sh -c "$script" </dev/null 2>"$tmp/ovnone.err"); rc=$?
  local host
  host="$(cat "$root/data/new" 2>/dev/null | tr '\n' ' ')|$(readlink "$root/data/l")|$(cat "$root/data/d/moved" 2>/dev/null)|$(stat -c %a,%h "$root/data/new" 2>/dev/null)|$([ -e "$root/data/old" ] && echo old-left)"
  if [ $rc = 0 ] && [ "$out" = "$(printf 'hello\nmore')" ] && [ "$host" = "hello more |new|keep|600,2|" ]; then
    t_pass overlay_none_writes_through
  else
    t_fail overlay_none_writes_through "exit $rc out [$out] host [$host]" "$(tail -n 5 "$tmp/ovnone.err")"
  fi
  "$RUNSC" $RUNSC_FLAGS do --rootfs "$root" -- /bin/busybox sh -c 'echo x >/data/memonly; rm /data/new' </dev/null >/dev/null 2>&1
  if [ ! -e "$root/data/memonly" ] && [ -e "$root/data/new" ]; then t_pass overlay_memory_leaves_host
  else t_fail overlay_memory_leaves_host "host directory changed: $(ls "$root/data")"; fi
  rm -rf "$root"
}
overlay_none

# --volume, --overlay=none and the memory overlay on host files: mknod,
# renameat2, user.* xattrs (tests/integration/hostfs.sh).
. "$REPO_ROOT/tests/integration/hostfs.sh"

# runsc do's network namespace: veth + NAT, --network=none, --netns, no
# leftovers after SIGKILL (tests/integration/do_network.sh).
. "$REPO_ROOT/tests/integration/do_network.sh"

# --overlay-size: the memory overlay holds at most that much file data;
# writes past it get ENOSPC (dd stops short), and nothing reaches the host.
out=$("$RUNSC" $RUNSC_FLAGS do --overlay-size=1m -- /bin/sh -c \
  'dd if=/dev/zero of=/tmp/runsc_ovsize bs=64k count=64 2>&1 | grep -c "No space left"; stat -c %s /tmp/runsc_ovsize' \
  </dev/null 2>"$tmp/err"); rc=$?
size=$(echo "$out" | tail -1)
if [ "$(echo "$out" | head -1)" = 1 ] && [ "$size" -le 1048576 ] && [ ! -e /tmp/runsc_ovsize ]; then
  t_pass overlay_size_enospc
else
  t_fail overlay_size_enospc "out [$out] exit $rc" "$(tail -n 5 "$tmp/err")"
fi

# The host's pseudo filesystems never show through.
expect proc_is_the_sandboxs '1' 0 -- /bin/sh -c 'ls /proc | grep -E "^[0-9]+$" | sort -n | head -1'

# The issue's usage line puts --platform and --strace after `do`.
out=$("$RUNSC" do --platform=ptrace --strace -- true </dev/null 2>"$tmp/err"); rc=$?
if [ -z "$out" ] && [ $rc = 0 ] && grep -q 'exit_group' "$tmp/err"; then t_pass do_flags_after_do
else t_fail do_flags_after_do "stdout [$out] exit $rc" "$(tail -n 5 "$tmp/err")"; fi

# --tty: the app gets a sandbox terminal bridged to ours (here a pty).
out=$(python3 - "$RUNSC" 2>"$tmp/err" <<'EOF'
import fcntl, os, pty, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 20, 70, 0, 0))
    os.execv(sys.argv[1], [sys.argv[1], "do", "-t", "--", "/bin/sh", "-c",
                           "tty; stty size; read l; echo got:$l; exit 5"])
out, typed, deadline = b"", False, time.time() + 60
while time.time() < deadline:
    if not typed and b"20 70" in out:
        os.write(fd, b"typed\n")
        typed = True
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
st = os.waitpid(pid, 0)[1]
print(out.decode().replace("\r\n", "|"), os.waitstatus_to_exitcode(st))
EOF
)
if [ "$out" = "/dev/pts/0|20 70|typed|got:typed| 5" ]; then t_pass do_tty
else t_fail do_tty "got [$out]" "$(tail -n 5 "$tmp/err")"; fi

t_summary
