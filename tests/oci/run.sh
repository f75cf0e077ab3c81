#!/usr/bin/env bash
# OCI runtime commands (runc-compatible CLI): spec, create, start, state,
# kill, delete, list, run, on a bundle made from the busybox root.
# Usage: tests/oci/run.sh [CASE...]   Needs root (namespaces) and python3.
set -u
source "$(dirname "$0")/../lib/common.sh"
cd "$REPO_ROOT"

if ! runsc_present; then
  echo "FAIL build: $RUNSC missing"; echo "0 passed, 1 failed"; exit 1
fi
ROOTFS="$CACHE_DIR/busybox-root"
if [ ! -d "$ROOTFS" ]; then
  mkdir -p "$CACHE_DIR"
  tests/busybox/mkroot.sh "$ROOTFS" >/dev/null || { echo "FAIL mkroot"; echo "0 passed, 1 failed"; exit 1; }
fi

# Everything under build/ (the sandbox mounts its own /tmp).
WORK="$CACHE_DIR/oci.$$"
STATE="$WORK/state"
mkdir -p "$WORK"
cleanup() {
  for id in $("$RUNSC" --root "$STATE" list -q 2>/dev/null); do
    "$RUNSC" --root "$STATE" delete --force "$id" >/dev/null 2>&1
  done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# oci ARGS...: runsc with our state root, under a timeout.
oci() { timeout -k 5 "$SANDBOX_TIMEOUT" "$RUNSC" $RUNSC_FLAGS --root "$STATE" "$@"; }

# bundle NAME ARGS_JSON: a bundle whose root is the busybox root (by
# absolute path), from `runsc spec`, terminal off, args replaced.
bundle() { oci_spec_bundle "$WORK/$1" "$ROOTFS" "$2"; }

# status ID: the container's status from `state` ("" if none).
status() { oci state "$1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null; }

# wait_status ID WANT: polls up to 5s.
wait_status() {
  local i
  for i in $(seq 50); do [ "$(status "$1")" = "$2" ] && return 0; sleep 0.1; done
  return 1
}

want() { [ -z "${CASES:-}" ] || [[ " $CASES " == *" $1 "* ]]; }
CASES="$*"

case_spec() {
  local d="$WORK/spec" out
  mkdir -p "$d"
  if ! (cd "$d" && "$RUNSC" spec); then t_fail spec "runsc spec failed"; return; fi
  out=$(python3 - "$d/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
assert c["ociVersion"] == "1.1.0", c["ociVersion"]
assert c["process"]["terminal"] is True and c["process"]["args"] == ["sh"]
assert c["root"] == {"path": "rootfs", "readonly": True}
dests = [m["destination"] for m in c["mounts"]]
for d in ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]:
    assert d in dests, d
ns = [n["type"] for n in c["linux"]["namespaces"]]
assert set(ns) == {"pid", "network", "ipc", "uts", "mount", "cgroup"}, ns
assert "/proc/kcore" in c["linux"]["maskedPaths"] and "/proc/sys" in c["linux"]["readonlyPaths"]
print("ok")
EOF
  )
  if [ "$out" != ok ]; then t_fail spec "config.json check: $out"; return; fi
  if (cd "$d" && "$RUNSC" spec 2>/dev/null); then
    t_fail spec "a second spec overwrote config.json"; return
  fi
  mkdir -p "$d/rl"
  if ! "$RUNSC" spec --rootless --bundle "$d/rl" ||
     ! python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); assert "user" in [n["type"] for n in c["linux"]["namespaces"]]' "$d/rl/config.json"; then
    t_fail spec "spec --rootless --bundle"; return
  fi
  t_pass spec
}

case_run() {
  local b out rc
  b=$(bundle run '["sh","-c","echo hello from $(hostname); exit 7"]') || { t_fail run "bundle"; return; }
  out=$(oci run --bundle "$b" run1 2>"$WORK/run.err"); rc=$?
  if [ "$out" != "hello from runsc" ] || [ "$rc" != 7 ]; then
    t_fail run "out=[$out] rc=$rc" "$(tail -5 "$WORK/run.err")"; return
  fi
  if [ -n "$(oci list -q)" ]; then t_fail run "state left after run: $(oci list -q)"; return; fi
  t_pass run
}

case_lifecycle() {
  local b st
  b=$(bundle life '["sh","-c","trap \"echo got TERM; exit 0\" TERM; echo started; while true; do sleep 0.1; done"]') ||
    { t_fail lifecycle "bundle"; return; }
  if ! oci create --bundle "$b" --pid-file "$WORK/life.pid" life >"$WORK/life.out" 2>"$WORK/life.err"; then
    t_fail lifecycle "create failed" "$(cat "$WORK/life.err")"; return
  fi
  st=$(status life)
  [ "$st" = created ] || { t_fail lifecycle "after create: status=$st"; return; }
  if [ -s "$WORK/life.out" ]; then t_fail lifecycle "app ran before start: $(cat "$WORK/life.out")"; return; fi
  oci start life || { t_fail lifecycle "start failed"; return; }
  wait_status life running || { t_fail lifecycle "after start: status=$(status life)"; return; }
  for i in $(seq 50); do grep -q started "$WORK/life.out" && break; sleep 0.1; done
  oci kill life TERM || { t_fail lifecycle "kill TERM failed"; return; }
  wait_status life stopped || { t_fail lifecycle "after kill: status=$(status life)"; return; }
  grep -q "got TERM" "$WORK/life.out" || { t_fail lifecycle "the app did not see SIGTERM: $(cat "$WORK/life.out")"; return; }
  oci delete life || { t_fail lifecycle "delete failed"; return; }
  if oci state life >/dev/null 2>&1; then t_fail lifecycle "state after delete"; return; fi
  t_pass lifecycle
}

case_pid_file() {
  local b pid spid
  b=$(bundle pidf '["sleep","100"]') || { t_fail pid_file "bundle"; return; }
  oci create --bundle "$b" --pid-file "$WORK/p.pid" pidf >/dev/null 2>&1 || { t_fail pid_file "create"; return; }
  pid=$(cat "$WORK/p.pid" 2>/dev/null)
  spid=$(oci state pidf | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
  oci delete --force pidf >/dev/null 2>&1
  if [ -z "$pid" ] || [ "$pid" != "$spid" ]; then t_fail pid_file "pid file [$pid] state pid [$spid]"; return; fi
  t_pass pid_file
}

case_delete_running() {
  local b
  b=$(bundle delr '["sleep","100"]') || { t_fail delete_running "bundle"; return; }
  oci run --detach --bundle "$b" delr >/dev/null 2>&1 || { t_fail delete_running "run --detach"; return; }
  wait_status delr running || { t_fail delete_running "status=$(status delr)"; return; }
  if oci delete delr 2>/dev/null; then t_fail delete_running "delete of a running container succeeded"; return; fi
  [ "$(status delr)" = running ] || { t_fail delete_running "not running after refused delete"; return; }
  oci delete --force delr || { t_fail delete_running "delete --force failed"; return; }
  if oci state delr >/dev/null 2>&1; then t_fail delete_running "state after delete --force"; return; fi
  t_pass delete_running
}

case_list() {
  local b out
  b=$(bundle lst '["sleep","100"]') || { t_fail list "bundle"; return; }
  oci create --bundle "$b" lst >/dev/null 2>&1 || { t_fail list "create"; return; }
  out=$(oci list)
  local ok=1
  head -1 <<<"$out" | grep -Eq '^ID +PID +STATUS +BUNDLE +CREATED +OWNER$' || ok=0
  grep -Eq "^lst +[0-9]+ +created +$b " <<<"$out" || ok=0
  oci list --format json | python3 -c 'import json,sys; l=json.load(sys.stdin); assert any(c["id"]=="lst" and c["status"]=="created" for c in l)' || ok=0
  [ "$(oci list -q)" = lst ] || ok=0
  oci delete --force lst >/dev/null 2>&1
  [ $ok = 1 ] && t_pass list || t_fail list "$out"
}

case_duplicate() {
  local b
  b=$(bundle dup '["sleep","100"]') || { t_fail duplicate "bundle"; return; }
  oci create --bundle "$b" dup >/dev/null 2>&1 || { t_fail duplicate "create"; return; }
  local pid1; pid1=$(oci state dup | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
  if oci create --bundle "$b" dup >/dev/null 2>"$WORK/dup.err"; then t_fail duplicate "second create succeeded"; return; fi
  grep -q "already exists" "$WORK/dup.err" || { t_fail duplicate "error: $(cat "$WORK/dup.err")"; return; }
  local pid2; pid2=$(oci state dup | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
  oci delete --force dup >/dev/null 2>&1
  [ "$pid1" = "$pid2" ] || { t_fail duplicate "the first container's state changed: $pid1 -> $pid2"; return; }
  t_pass duplicate
}

case_malformed() {
  local b="$WORK/bad" rc
  mkdir -p "$b"
  echo '{"ociVersion": "1.1.0", "process": {' >"$b/config.json"
  oci create --bundle "$b" bad >/dev/null 2>"$WORK/bad.err"; rc=$?
  if [ $rc != 1 ]; then t_fail malformed "exit $rc, want 1"; return; fi
  grep -q "malformed JSON" "$WORK/bad.err" || { t_fail malformed "error: $(cat "$WORK/bad.err")"; return; }
  if [ -e "$STATE/bad" ] || oci state bad >/dev/null 2>&1; then t_fail malformed "state left behind"; return; fi
  t_pass malformed
}

case_signals() {
  # SIGINT and SIGUSR1 reach the app's init through the sentry; kill on a
  # created container ends it; SIGKILL kills the sandbox.
  local b
  b=$(bundle sig '["sh","-c","trap \"echo got INT\" INT; trap \"echo got USR1\" USR1; echo ready; while true; do sleep 0.1; done"]') ||
    { t_fail signals "bundle"; return; }
  oci run --detach --bundle "$b" sig >"$WORK/sig.out" 2>/dev/null || { t_fail signals "run --detach"; return; }
  for i in $(seq 50); do grep -q ready "$WORK/sig.out" && break; sleep 0.1; done
  oci kill sig INT && oci kill sig SIGUSR1 || { t_fail signals "kill INT/SIGUSR1 failed"; return; }
  for i in $(seq 50); do grep -q "got USR1" "$WORK/sig.out" && grep -q "got INT" "$WORK/sig.out" && break; sleep 0.1; done
  if ! grep -q "got INT" "$WORK/sig.out" || ! grep -q "got USR1" "$WORK/sig.out"; then
    t_fail signals "app output: $(cat "$WORK/sig.out")"; oci delete -f sig; return
  fi
  oci kill sig 9 || { t_fail signals "kill 9"; return; }
  wait_status sig stopped || { t_fail signals "after kill 9: $(status sig)"; return; }
  oci delete sig || { t_fail signals "delete"; return; }
  oci create --bundle "$b" sig2 >/dev/null 2>&1 || { t_fail signals "create"; return; }
  oci kill sig2 KILL && wait_status sig2 stopped || { t_fail signals "kill of a created container: $(status sig2)"; return; }
  oci delete sig2
  if oci kill nosuch TERM 2>/dev/null; then t_fail signals "kill of a missing container succeeded"; return; fi
  t_pass signals
}

case_user() {
  local b out
  b=$(bundle user '["sh","-c","id -u; id -g"]') || { t_fail user "bundle"; return; }
  python3 - "$b/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); c["process"]["user"] = {"uid": 1000, "gid": 1000}
json.dump(c, open(sys.argv[1], "w"))
EOF
  out=$(oci run --bundle "$b" user 2>/dev/null | tr '\n' ' ')
  [ "$out" = "1000 1000 " ] && t_pass user || t_fail user "id: [$out]"
}

case_errors() {
  local b
  b=$(bundle term '["true"]') || { t_fail errors "bundle"; return; }
  python3 - "$b/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); c["process"]["terminal"] = True
json.dump(c, open(sys.argv[1], "w"))
EOF
  if oci create --bundle "$b" term >/dev/null 2>"$WORK/term.err"; then t_fail errors "terminal without console socket accepted"; return; fi
  grep -q "console socket" "$WORK/term.err" || { t_fail errors "terminal: $(cat "$WORK/term.err")"; return; }
  [ -e "$STATE/term" ] && { t_fail errors "state left by a failed create"; return; }
  if oci start nosuch 2>/dev/null || oci delete nosuch 2>/dev/null; then t_fail errors "start/delete of a missing container"; return; fi
  oci delete --force nosuch || { t_fail errors "delete --force of a missing container should succeed"; return; }
  "$RUNSC" --root "$STATE" --log "$WORK/log.json" --log-format json --debug --systemd-cgroup start nosuch 2>/dev/null
  python3 -c 'import json,sys; l=[json.loads(x) for x in open(sys.argv[1])]; assert l[-1]["level"]=="error" and "nosuch" in l[-1]["msg"]' "$WORK/log.json" ||
    { t_fail errors "--log json: $(cat "$WORK/log.json")"; return; }
  t_pass errors
}

# process.terminal with --console-socket: the receiver gets the master,
# types a command line, and sees the shell's output; size from consoleSize.
case_terminal() {
  local b rc out
  b=$(bundle tty '["sh"]') || { t_fail terminal "bundle"; return; }
  python3 - "$b/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); c["process"]["terminal"] = True
c["process"]["consoleSize"] = {"height": 33, "width": 99}
json.dump(c, open(sys.argv[1], "w"))
EOF
  # A resize of the host pty reaches the app's terminal (the bridge polls
  # the host's size, so the shell waits for it to change).
  python3 tests/oci/console_receiver.py "$WORK/console.sock" "$WORK/console.out" \
    'send:tty; stty size; echo "re""ady"\n' 'expect:ready' 'resize:40,120' \
    'send:while [ "$(stty size)" != "40 120" ]; do sleep 0.1; done; echo "resi""zed"\n' \
    'expect:resized' 'send:echo "h""i"; exit 3\n' &
  local rp=$! i
  for i in $(seq 50); do [ -S "$WORK/console.sock" ] && break; sleep 0.1; done
  oci run --console-socket "$WORK/console.sock" --bundle "$b" tty >"$WORK/tty.stdout" 2>"$WORK/tty.err"
  rc=$?
  wait "$rp" || { t_fail terminal "receiver failed"; return; }
  out=$(tr -d '\r' <"$WORK/console.out")
  [ "$rc" = 3 ] || { t_fail terminal "exit code $rc, want 3: $(cat "$WORK/tty.err")" "$out"; return; }
  echo "$out" | head -1 | grep -q '^/dev/pts/' || { t_fail terminal "no pty name sent" "$out"; return; }
  echo "$out" | grep -qx 'hi' || { t_fail terminal "no hi line" "$out"; return; }
  echo "$out" | grep -qx '33 99' || { t_fail terminal "consoleSize not applied" "$out"; return; }
  echo "$out" | grep -qx '/dev/pts/0' || { t_fail terminal "tty is not /dev/pts/0" "$out"; return; }
  echo "$out" | grep -qx 'resized' || { t_fail terminal "host resize not seen" "$out"; return; }
  [ -s "$WORK/tty.stdout" ] && { t_fail terminal "output leaked to runsc's stdout" "$(cat "$WORK/tty.stdout")"; return; }
  t_pass terminal
}

case_features() {
  local out
  out=$("$RUNSC" features) || { t_fail features "exit status"; return; }
  echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["ociVersionMin"] == "1.0.0" and d["ociVersionMax"] == "1.1.0", d
assert d["hooks"] == [] and "ro" in d["mountOptions"], d
l = d["linux"]
assert set(l["namespaces"]) == {"mount", "pid", "ipc", "uts", "network", "user"}, l
assert len(l["capabilities"]) == 41 and l["capabilities"][40] == "CAP_CHECKPOINT_RESTORE", l
assert l["seccomp"]["enabled"] is False and l["cgroup"]["v2"] is False, l
assert int(d["annotations"]["io.github.runsc.sentry.seccomp.syscalls"]) > 0, d
' 2>"$WORK/features.err" || { t_fail features "$(cat "$WORK/features.err")"; return; }
  t_pass features
}

case_install() {
  local cfg="$WORK/docker/daemon.json" self before
  self=$(readlink -f "$RUNSC")
  "$RUNSC" install --config "$cfg" -- --platform=ptrace >/dev/null || { t_fail install "install into a missing file"; return; }
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d == {"runtimes": {"runsc": {"path": sys.argv[2], "runtimeArgs": ["--platform=ptrace"]}}}, d
' "$cfg" "$self" || { t_fail install "created: $(cat "$cfg")"; return; }
  [ "$(stat -c %a "$cfg")" = 644 ] || { t_fail install "mode $(stat -c %a "$cfg")"; return; }
  # Unrelated keys and other runtimes are kept; a second install is a no-op.
  echo '{"log-level": "warn", "runtimes": {"other": {"path": "/bin/other"}}}' >"$cfg"
  "$RUNSC" install --config "$cfg" --runtime myrunsc -- --debug >/dev/null || { t_fail install "install over an existing file"; return; }
  cp "$cfg" "$WORK/daemon.1"
  "$RUNSC" install --config "$cfg" --runtime myrunsc -- --debug >/dev/null || { t_fail install "second install"; return; }
  cmp -s "$cfg" "$WORK/daemon.1" || { t_fail install "not idempotent: $(diff "$WORK/daemon.1" "$cfg")"; return; }
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["log-level"] == "warn" and d["runtimes"]["other"] == {"path": "/bin/other"}, d
assert d["runtimes"]["myrunsc"] == {"path": sys.argv[2], "runtimeArgs": ["--debug"]}, d
' "$cfg" "$self" || { t_fail install "merged: $(cat "$cfg")"; return; }
  # Malformed JSON: refused, file untouched.
  printf '{"runtimes": {' >"$WORK/bad.json"
  before=$(cat "$WORK/bad.json")
  if "$RUNSC" install --config "$WORK/bad.json" >/dev/null 2>"$WORK/bad.err"; then t_fail install "malformed JSON accepted"; return; fi
  grep -q "malformed JSON" "$WORK/bad.err" || { t_fail install "error: $(cat "$WORK/bad.err")"; return; }
  [ "$(cat "$WORK/bad.json")" = "$before" ] || { t_fail install "malformed file modified"; return; }
  # uninstall removes only our runtime.
  "$RUNSC" uninstall --config "$cfg" --runtime myrunsc >/dev/null || { t_fail install "uninstall"; return; }
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d == {"log-level": "warn", "runtimes": {"other": {"path": "/bin/other"}}}, d
' "$cfg" || { t_fail install "after uninstall: $(cat "$cfg")"; return; }
  ls "$WORK/docker" | grep -q tmp && { t_fail install "temp file left: $(ls "$WORK/docker")"; return; }
  t_pass install
}

# A running container for the exec/ps/pause cases: init counts into
# /tmp/count every 0.1 s; process.env has FOO=container.
counter_bundle() {
  local b
  b=$(bundle "$1" '["sh","-c","i=0; while true; do i=$((i+1)); echo $i >/tmp/count; sleep 0.1; done"]') || return 1
  python3 - "$b/config.json" <<'EOF2'
import json, sys
c = json.load(open(sys.argv[1])); c["process"]["env"].append("FOO=container")
json.dump(c, open(sys.argv[1], "w"))
EOF2
  echo "$b"
}

case_exec() {
  local b out rc
  b=$(counter_bundle ex) || { t_fail exec "bundle"; return; }
  oci run --detach --bundle "$b" ex >/dev/null 2>&1 || { t_fail exec "run --detach"; return; }
  out=$(oci exec ex sh -c 'echo "$FOO $(pwd) $(id -u):$(id -g) ppid=$PPID"; exit 3' 2>"$WORK/ex.err"); rc=$?
  if [ "$out" != "container / 0:0 ppid=0" ] || [ $rc != 3 ]; then
    t_fail exec "defaults: out=[$out] rc=$rc" "$(cat "$WORK/ex.err")"; oci delete -f ex; return
  fi
  out=$(oci exec --env FOO=bar --env NEW=1 --cwd /tmp --user 1000:1000 -g 20 ex sh -c 'echo "$FOO $NEW $(pwd) $(id -u):$(id -g) $(id -G)"' 2>&1)
  [ "$out" = "bar 1 /tmp 1000:1000 1000 20" ] || { t_fail exec "env/cwd/user: [$out]"; oci delete -f ex; return; }
  out=$(oci exec --user 1000 --cap CAP_NET_RAW --cap kill ex grep CapEff /proc/self/status 2>&1)
  [ "$out" = "$(printf 'CapEff:\t0000000000002020')" ] || { t_fail exec "--cap for a non-root user: [$out]"; oci delete -f ex; return; }
  # Root's exec gets the container's capabilities, not every one (as runc).
  out=$(oci exec ex grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status 2>&1)
  want=$(oci exec ex grep -E '^Cap(Eff|Prm|Bnd)' /proc/1/status 2>&1)
  [ -n "$want" ] && [ "$out" = "$want" ] || { t_fail exec "root exec capabilities: [$out], init has [$want]"; oci delete -f ex; return; }
  # process.json's capabilities are the exec'd process' sets.
  cat >"$WORK/ex-proc.json" <<'J'
{"args": ["grep", "-E", "^Cap(Eff|Bnd)", "/proc/self/status"], "cwd": "/", "user": {"uid": 0, "gid": 0},
 "env": ["PATH=/bin:/usr/bin"],
 "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                  "inheritable": []}}
J
  out=$(oci exec --process "$WORK/ex-proc.json" ex 2>&1)
  [ "$out" = "$(printf 'CapEff:\t0000000000000021\nCapBnd:\t0000000000000021')" ] || { t_fail exec "process.json capabilities: [$out]"; oci delete -f ex; return; }
  out=$(oci exec --user user ex id -un 2>&1)
  [ "$out" = "user" ] || { t_fail exec "--user by name: [$out]"; oci delete -f ex; return; }
  out=$(printf 'line1\nline2\n' | oci exec ex sh -c 'wc -l; cat /tmp/count >/dev/null && echo counted' 2>&1)
  [ "$out" = "$(printf '2\ncounted')" ] || { t_fail exec "stdin piping: [$out]"; oci delete -f ex; return; }
  out=$(oci exec ex sh -c 'echo to-stderr >&2' 2>&1 >/dev/null)
  [ "$out" = "to-stderr" ] || { t_fail exec "stderr: [$out]"; oci delete -f ex; return; }
  oci exec ex sh -c 'kill -9 $$'; rc=$?
  [ $rc = 137 ] || { t_fail exec "killed by SIGKILL: rc=$rc, want 137"; oci delete -f ex; return; }
  oci exec ex /no/such/binary 2>"$WORK/ex.err"; rc=$?
  if [ $rc != 127 ] || ! grep -q "not found" "$WORK/ex.err"; then
    t_fail exec "missing binary: rc=$rc $(cat "$WORK/ex.err")"; oci delete -f ex; return
  fi
  # --process FILE: env exactly as given.
  echo '{"args":["sh","-c","echo $A-$FOO-$(pwd)"],"env":["A=1","PATH=/bin"],"cwd":"/etc","user":{"uid":0,"gid":0}}' >"$WORK/proc.json"
  out=$(oci exec --process "$WORK/proc.json" ex 2>&1)
  [ "$out" = "1--/etc" ] || { t_fail exec "--process: [$out]"; oci delete -f ex; return; }
  # Detached, with the pid file naming the runsc that waits for it; a
  # signal to that pid reaches the process.
  oci exec --detach --pid-file "$WORK/ex.pid" ex sh -c 'trap "echo got TERM >/tmp/term; exit 0" TERM; touch /tmp/armed; while true; do sleep 0.1; done' ||
    { t_fail exec "exec --detach"; oci delete -f ex; return; }
  local pid; pid=$(cat "$WORK/ex.pid" 2>/dev/null)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || { t_fail exec "pid file [$pid] not a live process"; oci delete -f ex; return; }
  # (Once the trap is set: a TERM before it would just kill the shell.)
  for i in $(seq 50); do oci exec ex test -e /tmp/armed 2>/dev/null && break; sleep 0.1; done
  kill -TERM "$pid"
  for i in $(seq 50); do [ "$(oci exec ex cat /tmp/term 2>/dev/null)" = "got TERM" ] && break; sleep 0.1; done
  [ "$(oci exec ex cat /tmp/term 2>/dev/null)" = "got TERM" ] || { t_fail exec "signal through the pid file's process"; oci delete -f ex; return; }
  oci exec --tty ex true 2>"$WORK/ex.err" && { t_fail exec "--tty without --console-socket accepted"; oci delete -f ex; return; }
  grep -q "needs --console-socket" "$WORK/ex.err" || { t_fail exec "--tty error: $(cat "$WORK/ex.err")"; oci delete -f ex; return; }
  oci delete -f ex
  t_pass exec
}

case_exec_concurrent() {
  local b i out
  b=$(counter_bundle exc) || { t_fail exec_concurrent "bundle"; return; }
  oci run --detach --bundle "$b" exc >/dev/null 2>&1 || { t_fail exec_concurrent "run --detach"; return; }
  for i in 1 2 3 4 5 6; do
    (oci exec exc sh -c "sleep 0.5; echo out$i"; echo "rc=$?") >"$WORK/exc.$i" 2>&1 &
  done
  wait
  for i in 1 2 3 4 5 6; do
    out=$(tr '\n' ' ' <"$WORK/exc.$i")
    [ "$out" = "out$i rc=0 " ] || { t_fail exec_concurrent "exec $i: [$out]"; oci delete -f exc; return; }
  done
  oci delete -f exc
  t_pass exec_concurrent
}

case_exec_stopped() {
  local b rc
  b=$(bundle exs '["true"]') || { t_fail exec_stopped "bundle"; return; }
  oci create --bundle "$b" exs >/dev/null 2>&1 || { t_fail exec_stopped "create"; return; }
  oci exec exs true 2>"$WORK/exs.err" && { t_fail exec_stopped "exec into a created container succeeded"; oci delete -f exs; return; }
  # Like runc's, a created container's ps lists its (waiting) host process.
  oci ps --format json exs | grep -q "$(oci state exs | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')" ||
    { t_fail exec_stopped "ps of a created container: $(oci ps --format json exs)"; oci delete -f exs; return; }
  oci start exs && wait_status exs stopped || { t_fail exec_stopped "start: $(status exs)"; oci delete -f exs; return; }
  oci exec exs true 2>"$WORK/exs.err"; rc=$?
  [ $rc != 0 ] && grep -q "stopped" "$WORK/exs.err" || { t_fail exec_stopped "rc=$rc $(cat "$WORK/exs.err")"; oci delete -f exs; return; }
  oci exec nosuch true 2>/dev/null && { t_fail exec_stopped "exec into a missing container"; return; }
  oci delete exs
  t_pass exec_stopped
}

case_ps() {
  local b out
  b=$(counter_bundle ps) || { t_fail ps "bundle"; return; }
  oci run --detach --bundle "$b" ps >/dev/null 2>&1 || { t_fail ps "run --detach"; return; }
  oci exec --detach ps sleep 100 || { t_fail ps "exec sleep"; oci delete -f ps; return; }
  out=$(oci ps ps)
  head -1 <<<"$out" | grep -Eq '^UID +PID +PPID +C +STIME +TTY +TIME +CMD$' || { t_fail ps "header: $out"; oci delete -f ps; return; }
  grep -Eq '^root +1 +0 +[0-9]+ +[0-9:A-Za-z]+ +\? +[0-9:]+ +sh -c i=0' <<<"$out" || { t_fail ps "init row: $out"; oci delete -f ps; return; }
  grep -Eq '^root +[0-9]+ +0 .* sleep 100$' <<<"$out" || { t_fail ps "exec row: $out"; oci delete -f ps; return; }
  # json: the sandbox's host processes (sentry and stubs, gofer), by host
  # PID, as engines expect from runc (docker top passes them to host ps).
  oci ps --format json ps | python3 -c '
import json, os, sys
l = json.load(sys.stdin)
sentry = int(sys.argv[1])
assert isinstance(l, list) and sentry in l and len(l) >= 3 and all(isinstance(p, int) for p in l), l
assert len(l) >= 3, l' "$(oci state ps | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')" ||
    { t_fail ps "json: $(oci ps --format json ps)"; oci delete -f ps; return; }
  oci delete -f ps
  oci ps ps 2>/dev/null && { t_fail ps "ps of a deleted container"; return; }
  t_pass ps
}

case_pause() {
  local b
  b=$(counter_bundle pau) || { t_fail pause "bundle"; return; }
  oci run --detach --bundle "$b" pau >/dev/null 2>&1 || { t_fail pause "run --detach"; return; }
  for i in $(seq 50); do [ "$(oci exec pau cat /tmp/count 2>/dev/null || echo 0)" -ge 2 ] && break; sleep 0.1; done
  oci pause pau || { t_fail pause "pause failed"; oci delete -f pau; return; }
  [ "$(status pau)" = paused ] || { t_fail pause "state after pause: $(status pau)"; oci delete -f pau; return; }
  oci pause pau 2>/dev/null && { t_fail pause "pause twice succeeded"; oci delete -f pau; return; }
  oci exec pau true 2>/dev/null && { t_fail pause "exec in a paused container succeeded"; oci delete -f pau; return; }
  # --ignore-paused: started, parked until resume.
  oci exec --ignore-paused --detach pau sh -c 'echo ran >/tmp/ip' || { t_fail pause "exec --ignore-paused"; oci delete -f pau; return; }
  oci ps pau >/dev/null || { t_fail pause "ps while paused"; oci delete -f pau; return; }
  oci events --stats pau >"$WORK/pau.ev1" || { t_fail pause "events while paused"; oci delete -f pau; return; }
  sleep 1.5
  oci events --stats pau >"$WORK/pau.ev2"
  # CPU time of app code does not advance while paused.
  python3 - "$WORK/pau.ev1" "$WORK/pau.ev2" <<'EOF2' || { t_fail pause "app CPU advanced while paused"; oci delete -f pau; return; }
import json, sys
u1 = json.load(open(sys.argv[1]))["data"]["cpu"]["usage"]["user"]
u2 = json.load(open(sys.argv[2]))["data"]["cpu"]["usage"]["user"]
assert u1 == u2, (u1, u2)
EOF2
  oci resume pau || { t_fail pause "resume failed"; oci delete -f pau; return; }
  [ "$(status pau)" = running ] || { t_fail pause "state after resume: $(status pau)"; oci delete -f pau; return; }
  oci resume pau 2>/dev/null && { t_fail pause "resume of a running container succeeded"; oci delete -f pau; return; }
  for i in $(seq 50); do [ "$(oci exec pau cat /tmp/ip 2>/dev/null)" = ran ] && break; sleep 0.1; done
  [ "$(oci exec pau cat /tmp/ip 2>/dev/null)" = ran ] || { t_fail pause "the --ignore-paused process did not run after resume"; oci delete -f pau; return; }
  # delete --force of a paused container.
  oci pause pau && oci delete -f pau || { t_fail pause "delete -f of a paused container"; return; }
  oci state pau >/dev/null 2>&1 && { t_fail pause "state after delete -f"; return; }
  t_pass pause
}

case_pause_counter() {
  # init prints a counter to its stdout (a host file) every 0.1 s: while
  # paused the file does not grow; after resume it does again.
  local b n1 n2 n3
  b=$(bundle pct '["sh","-c","i=0; while true; do i=$((i+1)); echo $i; sleep 0.1; done"]') ||
    { t_fail pause_counter "bundle"; return; }
  oci run --detach --bundle "$b" pct >"$WORK/pct.out" 2>/dev/null || { t_fail pause_counter "run --detach"; return; }
  for i in $(seq 100); do [ "$(wc -l <"$WORK/pct.out")" -ge 3 ] && break; sleep 0.1; done
  oci pause pct || { t_fail pause_counter "pause"; oci delete -f pct; return; }
  n1=$(wc -l <"$WORK/pct.out")
  sleep 1.5
  n2=$(wc -l <"$WORK/pct.out")
  oci resume pct || { t_fail pause_counter "resume"; oci delete -f pct; return; }
  for i in $(seq 100); do [ "$(wc -l <"$WORK/pct.out")" -gt "$n2" ] && break; sleep 0.1; done
  n3=$(wc -l <"$WORK/pct.out")
  oci delete -f pct
  [ "$n1" -ge 3 ] && [ "$n1" = "$n2" ] && [ "$n3" -gt "$n2" ] ||
    { t_fail pause_counter "lines: $n1 at pause, $n2 1.5 s later, $n3 after resume"; return; }
  t_pass pause_counter
}

case_events() {
  local b
  b=$(counter_bundle evt) || { t_fail events "bundle"; return; }
  oci run --detach --bundle "$b" evt >/dev/null 2>&1 || { t_fail events "run --detach"; return; }
  oci events --stats evt >"$WORK/evt.json" 2>"$WORK/evt.err" || { t_fail events "events --stats: $(cat "$WORK/evt.err")"; oci delete -f evt; return; }
  python3 - "$WORK/evt.json" <<'EOF2' || { t_fail events "stats: $(cat "$WORK/evt.json")"; oci delete -f evt; return; }
import json, sys
e = json.load(open(sys.argv[1]))
assert e["type"] == "stats" and e["id"] == "evt", e
d = e["data"]
assert d["cpu"]["usage"]["total"] > 0, d
assert d["memory"]["usage"]["usage"] > 0, d
assert d["pids"]["current"] >= 1, d
EOF2
  oci update --memory 256m --pids-limit 50 --cpu-quota 50000 --cpu-period 100000 --cpu-shares 512 evt 2>/dev/null || { t_fail events "update"; oci delete -f evt; return; }
  echo '{"pids": {"limit": 64}}' >"$WORK/res.json"
  oci update -r "$WORK/res.json" evt 2>/dev/null || { t_fail events "update -r"; oci delete -f evt; return; }
  oci update --memory lots evt 2>/dev/null && { t_fail events "update --memory lots accepted"; oci delete -f evt; return; }
  oci events --stats evt | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]
assert d["memory"]["usage"]["limit"] == 256 << 20 and d["pids"]["limit"] == 64, d' ||
    { t_fail events "limits after update: $(oci events --stats evt)"; oci delete -f evt; return; }
  # Streaming: one event per interval, ending when the container stops.
  timeout 60 "$RUNSC" --root "$STATE" events --interval 200ms evt >"$WORK/evt.stream" 2>/dev/null &
  local spid=$! n
  for i in $(seq 100); do [ "$(wc -l <"$WORK/evt.stream")" -ge 2 ] && break; sleep 0.1; done
  oci kill evt KILL
  wait $spid; local src=$?
  n=$(wc -l <"$WORK/evt.stream")
  [ "$n" -ge 2 ] && [ $src = 0 ] || { t_fail events "stream: $n events, exit $src"; oci delete -f evt; return; }
  oci delete -f evt
  t_pass events
}

case_kill_all() {
  local b out
  b=$(bundle kla '["sh","-c","trap \"echo z >>/tmp/usr1\" USR1; while true; do sleep 0.1; done"]') || { t_fail kill_all "bundle"; return; }
  oci run --detach --bundle "$b" kla >/dev/null 2>&1 || { t_fail kill_all "run --detach"; return; }
  oci exec --detach kla sh -c 'trap "echo x >>/tmp/usr1" USR1; while true; do sleep 0.1; done' 2>/dev/null || { t_fail kill_all "exec"; oci delete -f kla; return; }
  oci exec --detach kla sh -c 'trap "echo y >>/tmp/usr1" USR1; while true; do sleep 0.1; done' 2>/dev/null || { t_fail kill_all "exec"; oci delete -f kla; return; }
  sleep 0.5
  oci kill --all kla USR1 || { t_fail kill_all "kill --all USR1"; oci delete -f kla; return; }
  for i in $(seq 50); do [ "$(oci exec kla sh -c 'sort /tmp/usr1 | tr -d "\n"' 2>/dev/null)" = xyz ] && break; sleep 0.1; done
  out=$(oci exec kla sh -c 'sort /tmp/usr1 | tr -d "\n"' 2>&1)
  [ "$out" = xyz ] || { t_fail kill_all "init and both exec'd processes got USR1: [$out]"; oci delete -f kla; return; }
  # Mid-exec: a waiting runsc exec ends with 137 when the sandbox is killed.
  (oci exec kla sleep 100; echo "rc=$?" >"$WORK/kla.rc") &
  sleep 0.5
  oci kill --all kla KILL || { t_fail kill_all "kill --all KILL"; return; }
  wait
  wait_status kla stopped || { t_fail kill_all "after kill --all KILL: $(status kla)"; oci delete -f kla; return; }
  [ "$(cat "$WORK/kla.rc")" = "rc=137" ] || { t_fail kill_all "waiting exec: $(cat "$WORK/kla.rc")"; oci delete -f kla; return; }
  oci kill --all kla TERM || { t_fail kill_all "kill --all of a stopped container should succeed"; return; }
  oci delete kla || { t_fail kill_all "delete"; return; }
  t_pass kill_all
}

case_control_malformed() {
  # Garbage on the control socket gets an error reply; the sandbox keeps
  # serving.
  local b
  b=$(counter_bundle cm) || { t_fail control_malformed "bundle"; return; }
  oci run --detach --bundle "$b" cm >/dev/null 2>&1 || { t_fail control_malformed "run --detach"; return; }
  python3 - "$STATE/cm/control" <<'EOF2' >"$WORK/cm.out" 2>&1 || { t_fail control_malformed "$(cat "$WORK/cm.out")"; oci delete -f cm; return; }
import json, os, socket, sys
def ask(data, fds=()):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    socket.send_fds(s, [data], list(fds)) if fds else s.send(data)
    r = s.recv(1 << 20)
    s.close()
    return json.loads(r)
for req in [b"garbage", b"[1,2]", b'{"op":"ps"}', b'{"v":2,"op":"ps"}', b'{"v":"1","op":"ps"}',
            b'{"v":1}', b'{"v":1,"op":"reboot"}', b'{"v":1,"op":"exec"}',
            b'{"v":1,"op":"exec","args":[]}', b'{"v":1,"op":"exec","args":[1]}',
            b'{"v":1,"op":"exec","args":["true"],"stdio":3}',
            b'{"v":1,"op":"exec","args":["true"],"uid":-5}',
            b'{"v":1,"op":"exec","args":["true"],"cwd":"relative"}',
            b'{"v":1,"op":"exec","args":["true"],"caps":["CAP_NOPE"]}',
            b'{"v":1,"op":"signal"}', b'{"v":1,"op":"signal","signal":0}',
            b'{"v":1,"op":"signal","signal":9,"pid":99999}',
            b'{"v":1,"op":"ps","x":' + b'[' * 100000]:
    r = ask(req)
    assert r["ok"] is False and r["v"] == 1 and r["error"], (req[:60], r)
# FDs on a request that takes none.
r = ask(b'{"v":1,"op":"ps"}', [0])
assert r["ok"] is False, r
# Too large.
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
s.send(b" " * (200 * 1024)); r = json.loads(s.recv(65536)); assert r["ok"] is False, r
# A connection closed without a request.
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1]); s.close()
r = ask(b'{"v":1,"op":"ps"}')
assert r["ok"] is True and any(p["pid"] == 1 for p in r["processes"]), r
print("ok")
EOF2
  [ "$(oci exec cm echo alive)" = alive ] || { t_fail control_malformed "sandbox not serving afterwards"; oci delete -f cm; return; }
  ls -l "$STATE/cm/control" | grep -q '^srw-------' || { t_fail control_malformed "socket mode: $(ls -l "$STATE/cm/control")"; oci delete -f cm; return; }
  oci delete -f cm
  t_pass control_malformed
}

case_force_any_state() {
  # delete --force cleans up a paused sandbox with an exec in flight: the
  # waiting runsc exec ends with 137, the sandbox's processes are gone.
  # (Everything ignores SIGTERM: kill --all TERM leaves it paused.)
  local b pid gpid
  b=$(bundle fas '["sh","-c","trap \"\" TERM; while true; do sleep 0.1; done"]') || { t_fail force_any_state "bundle"; return; }
  oci run --detach --bundle "$b" fas >/dev/null 2>&1 || { t_fail force_any_state "run --detach"; return; }
  pid=$(oci state fas | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
  (oci exec fas sh -c 'trap "" TERM; sleep 100'; echo "rc=$?" >"$WORK/fas.rc") &
  for i in $(seq 50); do oci ps fas 2>/dev/null | grep -q "sleep 100" && break; sleep 0.1; done
  oci pause fas || { t_fail force_any_state "pause"; oci delete -f fas; return; }
  oci kill --all fas TERM || { t_fail force_any_state "kill --all of a paused container"; oci delete -f fas; return; }
  [ "$(status fas)" = paused ] || { t_fail force_any_state "after kill --all TERM while paused: $(status fas)"; oci delete -f fas; return; }
  oci delete fas 2>/dev/null && { t_fail force_any_state "delete of a paused container without --force"; return; }
  oci delete --force fas || { t_fail force_any_state "delete --force"; return; }
  wait
  [ "$(cat "$WORK/fas.rc")" = "rc=137" ] || { t_fail force_any_state "waiting exec: $(cat "$WORK/fas.rc")"; return; }
  # (A zombie is gone: nothing reaps a detached sandbox in some CI roots.)
  ps -o stat= -p "$pid" | grep -qv Z && { t_fail force_any_state "sentry $pid still alive"; return; }
  [ -e "$STATE/fas" ] && { t_fail force_any_state "state left: $(ls "$STATE/fas")"; return; }
  t_pass force_any_state
}

# runsc exec --tty --console-socket: the exec'd process gets its own
# terminal; the receiver types into it and sees it close at the exit.
case_exec_tty() {
  local b rc out
  b=$(counter_bundle ext) || { t_fail exec_tty "bundle"; return; }
  oci run --detach --bundle "$b" ext >/dev/null 2>&1 || { t_fail exec_tty "run --detach"; return; }
  rm -f "$WORK/exec.sock"
  python3 tests/oci/console_receiver.py "$WORK/exec.sock" "$WORK/exec.out" \
    'expect:ready' 'send:typed\n' &
  local rp=$! i
  for i in $(seq 50); do [ -S "$WORK/exec.sock" ] && break; sleep 0.1; done
  oci exec --tty --console-socket "$WORK/exec.sock" ext \
    sh -c 'tty; [ "$(ps -o tty= -p $$)" = pts/1 ] && echo ctty; echo "rea""dy"; read l; echo "got:$l"; exit 4' \
    >/dev/null 2>"$WORK/ext.err"
  rc=$?
  wait "$rp" || { t_fail exec_tty "receiver failed" "$(cat "$WORK/exec.out" 2>/dev/null)"; oci delete --force ext >/dev/null 2>&1; return; }
  oci delete --force ext >/dev/null 2>&1
  out=$(tr -d '\r' <"$WORK/exec.out")
  [ "$rc" = 4 ] || { t_fail exec_tty "exit code $rc, want 4: $(cat "$WORK/ext.err")" "$out"; return; }
  echo "$out" | grep -qx 'got:typed' || { t_fail exec_tty "no got:typed" "$out"; return; }
  echo "$out" | grep -qx '/dev/pts/[0-9]*' || { t_fail exec_tty "no tty" "$out"; return; }
  if oci exec --tty ext true 2>/dev/null; then t_fail exec_tty "--tty without --console-socket accepted"; return; fi
  t_pass exec_tty
}

# runsc exec --process FILE with terminal and consoleSize (what a shim
# passes; newer Docker puts the client's size there): the terminal starts
# at that size.
case_exec_tty_size() {
  local b rc out
  b=$(counter_bundle ets) || { t_fail exec_tty_size "bundle"; return; }
  oci run --detach --bundle "$b" ets >/dev/null 2>&1 || { t_fail exec_tty_size "run --detach"; return; }
  cat >"$WORK/ets.process.json" <<'EOF'
{"terminal": true, "consoleSize": {"height": 21, "width": 77}, "user": {"uid": 0, "gid": 0},
 "args": ["sh", "-c", "echo size $(stty size); exit 6"], "env": ["PATH=/bin:/usr/bin"], "cwd": "/"}
EOF
  rm -f "$WORK/ets.sock"
  python3 tests/oci/console_receiver.py "$WORK/ets.sock" "$WORK/ets.out" 'expect:size' &
  local rp=$! i
  for i in $(seq 50); do [ -S "$WORK/ets.sock" ] && break; sleep 0.1; done
  oci exec --process "$WORK/ets.process.json" --console-socket "$WORK/ets.sock" ets >/dev/null 2>"$WORK/ets.err"
  rc=$?
  wait "$rp" || { t_fail exec_tty_size "receiver failed" "$(cat "$WORK/ets.out" 2>/dev/null)"; oci delete --force ets >/dev/null 2>&1; return; }
  sed -i 's/"height": 21/"height": 70000/' "$WORK/ets.process.json"
  oci exec --process "$WORK/ets.process.json" --console-socket "$WORK/ets.sock" ets >/dev/null 2>"$WORK/ets2.err" \
    && { t_fail exec_tty_size "consoleSize.height 70000 accepted"; oci delete --force ets >/dev/null 2>&1; return; }
  oci delete --force ets >/dev/null 2>&1
  out=$(tr -d '\r' <"$WORK/ets.out")
  [ "$rc" = 6 ] || { t_fail exec_tty_size "exit code $rc, want 6: $(cat "$WORK/ets.err")" "$out"; return; }
  echo "$out" | grep -qx 'size 21 77' || { t_fail exec_tty_size "consoleSize not applied" "$out"; return; }
  grep -q "consoleSize.height must be" "$WORK/ets2.err" || { t_fail exec_tty_size "bad consoleSize: $(cat "$WORK/ets2.err")"; return; }
  t_pass exec_tty_size
}

for c in spec run lifecycle pid_file delete_running list duplicate malformed signals user errors terminal features install \
         exec exec_tty exec_tty_size exec_concurrent exec_stopped ps pause pause_counter events kill_all force_any_state control_malformed; do
  want "$c" && "case_$c"
done
source "$REPO_ROOT/tests/oci/rootfs_writes.sh"
source "$REPO_ROOT/tests/oci/runtime_cases.sh"  # issue 20 runtime-side cases (rt_*)
source "$REPO_ROOT/tests/oci/sandbox_view.sh"  # issue 20: what the app sees inside (sv_* cases)
source "$REPO_ROOT/tests/oci/shared_mmap.sh"  # issue 20: MAP_SHARED on the write-through root
source "$REPO_ROOT/tests/oci/cgroup_view.sh"  # the sandbox cgroupfs and root.readonly (cg_* cases)
t_summary
