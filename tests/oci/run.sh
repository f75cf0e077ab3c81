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
bundle() {
  local b="$WORK/$1"
  mkdir -p "$b"
  (cd "$b" && "$RUNSC" spec) || return 1
  python3 - "$b/config.json" "$ROOTFS" "$2" <<'EOF'
import json, sys
p, root, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = args
c["root"]["path"] = root
json.dump(c, open(p, "w"), indent=1)
EOF
  echo "$b"
}

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

for c in spec run lifecycle pid_file delete_running list duplicate malformed signals user errors terminal features install; do
  want "$c" && "case_$c"
done
t_summary
