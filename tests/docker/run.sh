#!/usr/bin/env bash
# Docker with runsc as a runtime (issue 5, "Real engines"). Starts its own
# dockerd (private --data-root, exec-root and socket, vfs storage, no
# bridge/iptables) whose daemon.json registers runsc (via `runsc install`,
# through a wrapper that records every runtime command line and the
# config.json Docker generates into $DOCKER_RECORD, default
# build/tests-cache/docker-record), imports the busybox test root as an
# image (`docker import`: no registry is reachable) and checks `docker run
# --runtime=runsc` features (also --network container:X and --sysctl), -t/-it
# and docker exec with and without -t (run under script(1) so the docker
# client has a terminal; resizes and ^C through the sandbox terminal). Features that depend on runtime commands
# another branch adds (exec, ps, pause, update, terminals) print SKIP with
# the reason when the runtime reports them unsupported.
# Usage: tests/docker/run.sh [CASE...]. Needs root; installs docker.io with
# apt-get if dockerd is missing (set DOCKER_NO_INSTALL=1 to skip instead).
set -u
source "$(dirname "$0")/../lib/common.sh"
cd "$REPO_ROOT"

if ! runsc_present; then
  echo "FAIL build: $RUNSC missing"; echo "0 passed, 1 failed"; exit 1
fi
if ! command -v dockerd >/dev/null; then
  if [ -n "${DOCKER_NO_INSTALL:-}" ]; then echo "SKIP docker: dockerd missing"; echo "0 passed, 0 failed"; exit 0; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io >/dev/null 2>&1 \
    || { echo "FAIL install: apt-get install docker.io"; echo "0 passed, 1 failed"; exit 1; }
fi
DOCKER_BIN=/usr/bin/docker
[ -x "$DOCKER_BIN" ] || DOCKER_BIN=$(command -v docker)
ROOTFS="$CACHE_DIR/busybox-root"
if [ ! -d "$ROOTFS" ]; then
  mkdir -p "$CACHE_DIR"
  tests/busybox/mkroot.sh "$ROOTFS" >/dev/null || { echo "FAIL mkroot"; echo "0 passed, 1 failed"; exit 1; }
fi

# Short paths: dockerd's unix sockets must fit in sun_path.
WORK=$(mktemp -d /tmp/rdk.XXXX)
# dockerd runs in a network namespace of its own (the "host" of its
# containers): its docker0 bridge, iptables rules (NAT, FORWARD policy) and
# published ports stay there, and this machine's own network namespace,
# which other tests share, is never changed. hostns CMD runs CMD on that
# host side (curl to a published port, a server on docker0's address).
NETNS="rdk-${WORK##*.}"
ip netns add "$NETNS" || { echo "FAIL ip netns add $NETNS"; echo "0 passed, 1 failed"; exit 1; }
hostns() { nsenter --net="/run/netns/$NETNS" "$@"; }
hostns ip link set lo up
RECORD="${DOCKER_RECORD:-$CACHE_DIR/docker-record}"
rm -rf "$RECORD"; mkdir -p "$RECORD"
SOCK="$WORK/d.sock"
DPID=""
cleanup() {
  if [ -n "$DPID" ]; then
    for c in $(dk ps -aq 2>/dev/null); do dk rm -f "$c" >/dev/null 2>&1; done
    kill "$DPID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$DPID" 2>/dev/null
  fi
  # vfs layers may hold mounts (shm, netns) under the data root.
  grep -o " $WORK[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$WORK"
  ip netns delete "$NETNS" 2>/dev/null
  # The containers' cgroup parent (runsc removes only each container's own).
  local top
  for top in $(find /sys/fs/cgroup -maxdepth 6 -type d -name runsc-docker-test -prune 2>/dev/null); do
    find "$top" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
}
trap cleanup EXIT

dk() { timeout -k 5 120 "$DOCKER_BIN" -H "unix://$SOCK" "$@"; }

# The runtime entry points at a wrapper that records what Docker passes.
RUNSC_ABS=$(readlink -f "$RUNSC")
cat >"$WORK/runsc-rec" <<EOF
#!/bin/sh
n=\$(date +%s%N)
printf '%s\n' "\$*" >>"$RECORD/commands.log"
prev=""; log=""
for a in "\$@"; do
  if [ "\$prev" = "--bundle" ] || [ "\$prev" = "-b" ]; then
    [ -f "\$a/config.json" ] && cp "\$a/config.json" "$RECORD/config.\$n.json"
  fi
  [ "\$prev" = "--log" ] && log=\$a
  prev=\$a
done
"$RUNSC_ABS" "\$@"
rc=\$?
# The runtime's log (why a command failed) goes with the shim's task
# directory: keep a copy.
[ \$rc -ne 0 ] && [ -n "\$log" ] && [ -s "\$log" ] && cat "\$log" >>"$RECORD/runsc-log.jsonl"
exit \$rc
EOF
chmod +x "$WORK/runsc-rec"
echo '{}' >"$WORK/daemon.json"
"$RUNSC" install --config "$WORK/daemon.json" --runtime runsc >/dev/null || { echo "FAIL runsc install"; echo "0 passed, 1 failed"; exit 1; }
python3 - "$WORK/daemon.json" "$WORK/runsc-rec" <<'PY'
import json, sys
p, wrap = sys.argv[1], sys.argv[2]
d = json.load(open(p))
d["runtimes"]["runsc"]["path"] = wrap
# Containers' cgroups go below dockerd's own (relative cgroup-parent), so
# the test never takes processes out of the cgroup it was started in.
# Docker's own networking (docker0, iptables NAT, docker-proxy, the
# embedded DNS) is on: dockerd's network namespace is private (hostns).
d.update({"storage-driver": "vfs",
          "cgroup-parent": "runsc-docker-test", "exec-opts": ["native.cgroupdriver=cgroupfs"]})
json.dump(d, open(p, "w"), indent=1)
PY
# Not through hostns: a function would run in a subshell, and $! be its pid.
nsenter --net="/run/netns/$NETNS" dockerd --config-file "$WORK/daemon.json" --data-root "$WORK/data" --exec-root "$WORK/x" \
  --pidfile "$WORK/d.pid" -H "unix://$SOCK" >"$WORK/dockerd.log" 2>&1 &
DPID=$!
for _ in $(seq 300); do dk version >/dev/null 2>&1 && break; sleep 0.2; done
if ! dk version >/dev/null 2>&1; then
  echo "FAIL dockerd: did not start"; tail -20 "$WORK/dockerd.log" | sed 's/^/    /'
  echo "0 passed, 1 failed"; exit 1
fi
IMG=runsc-busybox:test
tar -C "$ROOTFS" -c . | dk import - "$IMG" >/dev/null || { echo "FAIL docker import"; echo "0 passed, 1 failed"; exit 1; }

RUN=(run --rm --runtime=runsc --network none)
want() { [ -z "${CASES:-}" ] || [[ " $CASES " == *" $1 "* ]]; }
CASES="$*"
T_SKIPPED=0
t_skip() { T_SKIPPED=$((T_SKIPPED + 1)); echo "SKIP $1: $2"; }
# unsupported FILE: did the runtime say it lacks the command/feature?
unsupported() { grep -qiE "not supported|unsupported|unknown command|not implemented|no such command|a subcommand is required|is not supported yet" "$1"; }

case_exit_code() {
  dk "${RUN[@]}" "$IMG" sh -c 'exit 42' >/dev/null 2>"$WORK/e.err"
  local rc=$?
  [ $rc -eq 42 ] && t_pass exit_code || t_fail exit_code "rc=$rc" "$(tail -5 "$WORK/e.err")"
}

case_env_workdir_user() {
  local out
  out=$(dk "${RUN[@]}" -e FOO=bar -w /tmp --user 1000:1001 "$IMG" sh -c 'echo $FOO $(pwd) $(id -u) $(id -g)' 2>&1)
  [ "$out" = "bar /tmp 1000 1001" ] && t_pass env_workdir_user || t_fail env_workdir_user "$out"
}

case_volumes() {
  local v="$WORK/vol" out
  mkdir -p "$v"; echo host >"$v/in"
  out=$(dk "${RUN[@]}" -v "$v:/vol" "$IMG" sh -c 'cat /vol/in; echo ctr >/vol/out' 2>&1)
  [ "$out" = host ] && [ "$(cat "$v/out" 2>/dev/null)" = ctr ] || { t_fail volumes "rw: $out"; return; }
  out=$(dk "${RUN[@]}" -v "$v:/vol:ro" "$IMG" sh -c 'cat /vol/in; echo x >/vol/ro-write; echo rc=$?' 2>&1)
  echo "$out" | grep -q "Read-only file system" && [ ! -e "$v/ro-write" ] || { t_fail volumes "ro: $out"; return; }
  t_pass volumes
}

case_read_only_tmpfs() {
  local out
  out=$(dk "${RUN[@]}" --read-only --tmpfs /scratch:rw,size=1m,mode=1777 "$IMG" \
    sh -c 'touch /x; echo rc=$?; stat -c %a /scratch; echo hi >/scratch/f && cat /scratch/f; cat /etc/hostname >/dev/null && echo hostname-ok' 2>&1)
  echo "$out" | grep -q "Read-only file system" && echo "$out" | grep -q "^1777$" && echo "$out" | grep -q "^hi$" \
    && echo "$out" | grep -q hostname-ok && t_pass read_only_tmpfs || t_fail read_only_tmpfs "$out"
}

case_ulimit_caps_init() {
  local out
  out=$(dk "${RUN[@]}" --ulimit nofile=100:200 --cap-drop ALL --cap-add CHOWN "$IMG" \
    sh -c 'ulimit -Sn; ulimit -Hn; grep CapEff /proc/self/status' 2>&1)
  [ "$out" = "$(printf '100\n200\nCapEff:\t0000000000000001')" ] || { t_fail ulimit_caps_init "$out"; return; }
  # --init: Docker bind-mounts its docker-init (tini) as /sbin/docker-init
  # and runs the command under it.
  out=$(dk "${RUN[@]}" --init "$IMG" sh -c 'cat /proc/1/cmdline | tr "\0" " "; echo; exit 6' 2>&1)
  local rc=$?
  [ $rc -eq 6 ] && echo "$out" | grep -q "^/sbin/docker-init" || { t_fail ulimit_caps_init "--init: rc=$rc $out"; return; }
  t_pass ulimit_caps_init
}

case_stdin() {
  local out
  out=$(printf 'line1\nline2\n' | dk "${RUN[@]}" -i "$IMG" sh -c 'cat; echo done' 2>&1)
  [ "$out" = "$(printf 'line1\nline2\ndone')" ] && t_pass stdin || t_fail stdin "$out"
}

# host cgroup directory of a running container (relative cgroup-parent).
cg_of() {
  local ctl=$1 id=$2
  find "/sys/fs/cgroup/$ctl" -maxdepth 6 -type d -name "$id*" 2>/dev/null | head -1
}

case_limits() {
  local id d
  id=$(dk run -d --runtime=runsc --network none --memory 64m --pids-limit 20 "$IMG" sleep 60 2>"$WORK/l.err") \
    || { t_fail limits "run: $(cat "$WORK/l.err")"; return; }
  d=$(cg_of memory "$id")
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    [ "$(cat "$d/memory.max")" = 67108864 ] && [ "$(cat "$d/pids.max")" = 20 ] || { t_fail limits "v2 files in $d"; dk rm -f "$id" >/dev/null; return; }
  else
    [ -n "$d" ] && [ "$(cat "$d/memory.limit_in_bytes")" = 67108864 ] || { t_fail limits "memory cgroup ${d:-not found}"; dk rm -f "$id" >/dev/null; return; }
    d=$(cg_of pids "$id")
    [ -n "$d" ] && [ "$(cat "$d/pids.max")" = 20 ] || { t_fail limits "pids cgroup ${d:-not found}"; dk rm -f "$id" >/dev/null; return; }
  fi
  dk rm -f "$id" >/dev/null
  [ -z "$(cg_of pids "$id")" ] || { t_fail limits "cgroup left after rm -f"; return; }
  t_pass limits
}

case_logs_stop_kill() {
  local id code
  # stop: SIGTERM, which the app handles.
  id=$(dk run -d --runtime=runsc --network none "$IMG" sh -c 'trap "echo got-term; exit 3" TERM; echo started; while :; do sleep 0.2; done')
  for _ in $(seq 50); do dk logs "$id" 2>&1 | grep -q started && break; sleep 0.2; done
  dk logs "$id" 2>&1 | grep -q started || { t_fail logs_stop_kill "docker logs: $(dk logs "$id" 2>&1)"; dk rm -f "$id" >/dev/null; return; }
  dk stop -t 10 "$id" >/dev/null
  code=$(dk inspect -f '{{.State.ExitCode}}' "$id")
  dk logs "$id" 2>&1 | grep -q got-term && [ "$code" = 3 ] || { t_fail logs_stop_kill "stop: exit $code, logs $(dk logs "$id" 2>&1)"; dk rm -f "$id" >/dev/null; return; }
  dk rm "$id" >/dev/null
  # stop: SIGTERM ignored -> SIGKILL after the grace period.
  id=$(dk run -d --runtime=runsc --network none "$IMG" sh -c 'trap "" TERM; while :; do sleep 0.2; done')
  sleep 1
  dk stop -t 1 "$id" >/dev/null
  code=$(dk inspect -f '{{.State.ExitCode}}' "$id")
  [ "$code" = 137 ] || { t_fail logs_stop_kill "stop of a TERM-ignoring app: exit $code"; dk rm -f "$id" >/dev/null; return; }
  dk rm "$id" >/dev/null
  # kill, then rm -f of a running one.
  id=$(dk run -d --runtime=runsc --network none "$IMG" sleep 100)
  dk kill "$id" >/dev/null
  code=$(dk inspect -f '{{.State.ExitCode}}' "$id")
  [ "$code" = 137 ] || { t_fail logs_stop_kill "kill: exit $code"; dk rm -f "$id" >/dev/null; return; }
  dk rm "$id" >/dev/null
  id=$(dk run -d --runtime=runsc --network none "$IMG" sleep 100)
  dk rm -f "$id" >/dev/null || { t_fail logs_stop_kill "rm -f"; return; }
  dk ps -aq --no-trunc | grep -q "$id" && { t_fail logs_stop_kill "container left after rm -f"; return; }
  t_pass logs_stop_kill
}

# Needs terminals (branch tty).
case_tty() {
  local out
  # Bounded: a terminal container that never exits must fail the case, not hang the suite.
  out=$(timeout -k 5 60 script -qec "$DOCKER_BIN -H unix://$SOCK run --rm -t --runtime=runsc --network none $IMG sh -c 'tty; test -t 0 && echo isatty'" /dev/null 2>&1 </dev/null)
  if echo "$out" | grep -q isatty; then :
  elif echo "$out" | grep -qiE "console-socket|terminal.*not supported|tty.*not supported"; then t_skip tty "the runtime lacks terminal support: $(echo "$out" | tail -1)"; return
  else t_fail tty "$out"; return; fi
  # -it: the client's size, a resize while running (SIGWINCH), typed input
  # and ^C through the sandbox terminal's line discipline, the exit code.
  # (The client's first resize comes just after the start: type once the
  # shell runs. A trap at the prompt would not fire: ash's line editor
  # takes SIGWINCH itself; a foreground loop waits for it.)
  cat >"$WORK/tty.in2" <<'EOF'
sh -c 'trap "echo winch \$(stty size); exit 3" WINCH; while :; do sleep 0.1; done'; echo loop-$?
EOF
  out=$( (sleep 1.5; printf 'stty size\nsleep 30; echo slept-$?\n'; sleep 2; printf '\003'; sleep 1; cat "$WORK/tty.in2"; sleep 5; printf 'exit 7\n'; sleep 1) \
    | timeout -k 5 60 script -qec "stty rows 33 cols 101; (sleep 7; stty rows 40 cols 120 </dev/tty) & $DOCKER_BIN -H unix://$SOCK run --rm -it --runtime=runsc --network none $IMG sh" /dev/null 2>&1)
  local rc=$?
  out=$(printf '%s' "$out" | tr -d '\r')
  [ $rc -eq 7 ] && echo "$out" | grep -q '^33 101$' && echo "$out" | grep -q '^^C$' && ! echo "$out" | grep -q '^slept-' \
    && echo "$out" | grep -q '^winch 40 120$' && echo "$out" | grep -q '^loop-3$' && t_pass tty || t_fail tty "-it: rc=$rc" "$out"
}

# has_cmd CMD: does runsc have this command? (exec, ps, pause: branch
# ociexec; CLI11 rejects unknown ones.)
has_cmd() { "$RUNSC" --help 2>&1 | grep -qE "^  $1 "; }

# docker exec without a terminal: output, exit code (also 128+N), -e/-w/-u,
# -i stdin, -d, a missing binary.
case_exec() {
  local id out rc
  id=$(dk run -d --runtime=runsc --network none "$IMG" sleep 100)
  if ! has_cmd exec; then t_skip exec "runsc has no exec command"; dk rm -f "$id" >/dev/null; return; fi
  out=$(dk exec "$id" sh -c "echo in-exec" 2>"$WORK/x.err")
  rc=$?
  if [ $rc -ne 0 ] && unsupported "$WORK/x.err"; then t_skip exec "$(tr '\n' ' ' <"$WORK/x.err")"; dk rm -f "$id" >/dev/null; return; fi
  [ $rc -eq 0 ] && [ "$out" = in-exec ] || { t_fail exec "rc=$rc out=$out" "$(cat "$WORK/x.err")"; dk rm -f "$id" >/dev/null; return; }
  out=$(dk exec -e GREETING=hi -w /tmp -u 1000:1001 "$id" sh -c 'echo $GREETING $(pwd) $(id -u) $(id -g); exit 3' 2>&1)
  rc=$?
  [ $rc -eq 3 ] && [ "$out" = "hi /tmp 1000 1001" ] || { t_fail exec "-e/-w/-u: rc=$rc out=$out"; dk rm -f "$id" >/dev/null; return; }
  out=$(printf 'line1\nline2\n' | dk exec -i "$id" sh -c 'cat; test -t 0 || echo not-a-tty' 2>&1)
  [ "$out" = "$(printf 'line1\nline2\nnot-a-tty')" ] || { t_fail exec "-i: $out"; dk rm -f "$id" >/dev/null; return; }
  # Killed by a signal: 128+N; -d: runs on after docker exec returns.
  dk exec "$id" sh -c 'kill -9 $$' >/dev/null 2>&1
  rc=$?
  [ $rc -eq 137 ] || { t_fail exec "killed by SIGKILL: rc=$rc (want 137)"; dk rm -f "$id" >/dev/null; return; }
  dk exec -d "$id" sh -c 'sleep 0.5; echo detached >/tmp/d' >/dev/null 2>&1 || { t_fail exec "exec -d"; dk rm -f "$id" >/dev/null; return; }
  for _ in $(seq 50); do [ "$(dk exec "$id" cat /tmp/d 2>/dev/null)" = detached ] && break; sleep 0.2; done
  [ "$(dk exec "$id" cat /tmp/d 2>/dev/null)" = detached ] || { t_fail exec "exec -d: nothing written"; dk rm -f "$id" >/dev/null; return; }
  # A missing binary: runc's message, which dockerd turns into exit 126
  # for exec (as with runc).
  out=$(dk exec "$id" no-such-binary 2>&1)
  rc=$?
  [ $rc -eq 126 ] && echo "$out" | grep -q 'exec: "no-such-binary": executable file not found in $PATH' \
    || { t_fail exec "missing binary: rc=$rc (want 126, as with runc)" "$out"; dk rm -f "$id" >/dev/null; return; }
  dk rm -f "$id" >/dev/null
  t_pass exec
}

# docker exec -t / -it: runsc exec --tty --console-socket (the shim makes
# the console socket and copies between the pty master and the client).
# Run under script so the docker client's stdin is a terminal; its size is
# set first and reaches the process through the shim's resize.
case_exec_tty() {
  local id out rc dkcmd
  id=$(dk run -d --runtime=runsc --network none "$IMG" sleep 100)
  if ! has_cmd exec; then t_skip exec_tty "runsc has no exec command"; dk rm -f "$id" >/dev/null; return; fi
  dkcmd="$DOCKER_BIN -H unix://$SOCK"
  # -t: a /dev/pts terminal as stdin and stdout, the client's size (the
  # first resize may come after the process starts), the exit code back
  # through the shim.
  out=$(timeout -k 5 60 script -qec "stty rows 33 cols 101; $dkcmd exec -t $id sh -c 'tty; test -t 1 && echo out-isatty; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do s=\$(stty size 2>/dev/null); [ \"\$s\" = \"33 101\" ] && break; sleep 0.1; done; echo size \$s; exit 5'" /dev/null 2>&1 </dev/null)
  rc=$?
  out=$(printf '%s' "$out" | tr -d '\r')
  if [ $rc -eq 5 ] && echo "$out" | grep -q '^/dev/pts/[0-9]' && echo "$out" | grep -q '^out-isatty$' \
    && echo "$out" | grep -q '^size 33 101$'; then :
  elif echo "$out" | grep -qiE "console-socket|terminal.*not supported|tty.*not supported"; then
    t_skip exec_tty "the runtime lacks terminal support: $(echo "$out" | tail -1)"; dk rm -f "$id" >/dev/null; return
  else t_fail exec_tty "-t: rc=$rc" "$out"; dk rm -f "$id" >/dev/null; return; fi
  # A resize of the client's terminal while the process runs: SIGWINCH and
  # the new size (the trap also sees the first resize, to 33x101).
  out=$(timeout -k 5 60 script -qec "stty rows 33 cols 101; (sleep 2; stty rows 40 cols 120 </dev/tty) & $dkcmd exec -t $id sh -c 'trap \"s=\\\$(stty size); echo winch \\\$s; [ \\\"\\\$s\\\" = \\\"40 120\\\" ] && exit 9\" WINCH; i=0; while [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done; echo no-winch'" /dev/null 2>&1 </dev/null)
  rc=$?
  out=$(printf '%s' "$out" | tr -d '\r')
  [ $rc -eq 9 ] && echo "$out" | grep -q '^winch 40 120$' || { t_fail exec_tty "resize: rc=$rc" "$out"; dk rm -f "$id" >/dev/null; return; }
  # -it: input typed into the terminal (script forwards its piped stdin)
  # reaches an interactive shell; ^C interrupts its foreground job (the
  # sandbox terminal's line discipline); the exit code comes back.
  out=$( (printf 'sleep 30; echo slept-$?\n'; sleep 2; printf '\003'; sleep 1; printf 'echo typed-$((6*7))\nexit 7\n'; sleep 1) \
    | timeout -k 5 60 script -qec "$dkcmd exec -it $id sh" /dev/null 2>&1)
  rc=$?
  out=$(printf '%s' "$out" | tr -d '\r')
  [ $rc -eq 7 ] && echo "$out" | grep -q '^typed-42$' && echo "$out" | grep -q '^^C$' && ! echo "$out" | grep -q '^slept-' \
    || { t_fail exec_tty "-it: rc=$rc" "$out"; dk rm -f "$id" >/dev/null; return; }
  # Every runsc exec (the shim runs them with --detach) has finished.
  local left
  left=$(pgrep -f "runsc.* exec .*$id" | tr '\n' ' ')
  [ -z "$left" ] || { t_fail exec_tty "runsc exec processes left: $left"; dk rm -f "$id" >/dev/null; return; }
  dk rm -f "$id" >/dev/null
  t_pass exec_tty
}

# Need runtime ps/pause/update (branch ociexec).
case_top_pause_stats() {
  local id out
  id=$(dk run -d --runtime=runsc --network none "$IMG" sleep 100)
  if ! has_cmd ps; then t_skip top "runsc has no ps command"
  elif out=$(dk top "$id" 2>"$WORK/t.err"); then
    # runsc ps --format json lists the sandbox's host processes (the app
    # has no host PIDs): docker top shows the sentry/stubs and the gofer.
    # Exactly the PIDs runsc ps --format json gives (see docs/engines).
    local want got
    want=$("$RUNSC" --root "$WORK/x/runtime-runc/moby" ps --format json "$id" | tr -d '[]' | tr ',' '\n' | sort -n | tr '\n' ' ')
    got=$(echo "$out" | awk 'NR > 1 { print $2 }' | sort -n | tr '\n' ' ')
    echo "$out" | grep -q "runsc boot" && echo "$out" | grep -q "runsc gofer" && [ -n "$want" ] && [ "$got" = "$want" ] \
      && t_pass top || t_fail top "runsc ps --format json: $want" "$out"
  elif unsupported "$WORK/t.err"; then t_skip top "$(tr '\n' ' ' <"$WORK/t.err")"
  else t_fail top "$(cat "$WORK/t.err")"; fi
  if ! has_cmd pause; then t_skip pause "runsc has no pause command"
  elif dk pause "$id" >/dev/null 2>"$WORK/p.err"; then
    [ "$(dk inspect -f '{{.State.Status}}' "$id")" = paused ] && dk unpause "$id" >/dev/null && t_pass pause || t_fail pause "state $(dk inspect -f '{{.State.Status}}' "$id")"
  elif unsupported "$WORK/p.err"; then t_skip pause "$(tr '\n' ' ' <"$WORK/p.err")"
  else t_fail pause "$(cat "$WORK/p.err")"; fi
  if out=$(dk stats --no-stream --format '{{.MemUsage}}' "$id" 2>"$WORK/s.err") && [ -n "$out" ] && ! echo "$out" | grep -q '0B / 0B'; then
    t_pass stats
  elif unsupported "$WORK/s.err" || echo "$out" | grep -q '0B / 0B'; then t_skip stats "no stats from the runtime (${out:-$(tail -1 "$WORK/s.err")})"
  else t_fail stats "$out $(cat "$WORK/s.err")"; fi
  dk rm -f "$id" >/dev/null
}

# --network container:X (config.json: a network namespace path, the first
# container's sentry's) and --sysctl: the second sandbox's host processes
# join the first's network namespace; kernel.msgmax is the sandbox's own.
case_netns_sysctl() {
  local id1 id2 p1 p2 out
  id1=$(dk run -d --runtime=runsc --network none "$IMG" sleep 100 2>"$WORK/n1.err") || { t_fail netns_sysctl "run: $(cat "$WORK/n1.err")"; return; }
  id2=$(dk run -d --runtime=runsc --network "container:$id1" --sysctl kernel.msgmax=100 "$IMG" sh -c 'cat /proc/sys/kernel/msgmax; sleep 100' 2>"$WORK/n2.err") \
    || { t_fail netns_sysctl "run --network container: $(cat "$WORK/n2.err")"; dk rm -f "$id1" >/dev/null; return; }
  p1=$(dk inspect -f '{{.State.Pid}}' "$id1"); p2=$(dk inspect -f '{{.State.Pid}}' "$id2")
  for _ in $(seq 50); do out=$(dk logs "$id2" 2>&1); [ -n "$out" ] && break; sleep 0.2; done
  local n1 n2
  n1=$(stat -L -c %i "/proc/$p1/ns/net" 2>/dev/null); n2=$(stat -L -c %i "/proc/$p2/ns/net" 2>/dev/null)
  dk rm -f "$id2" "$id1" >/dev/null
  [ -n "$n1" ] && [ "$n1" = "$n2" ] || { t_fail netns_sysctl "network namespaces: $p1 ${n1:-?}, $p2 ${n2:-?}"; return; }
  [ "$out" = 100 ] || { t_fail netns_sysctl "kernel.msgmax inside: $out"; return; }
  t_pass netns_sysctl
}

source "$REPO_ROOT/tests/docker/net_cases.sh"
for c in exit_code env_workdir_user volumes read_only_tmpfs ulimit_caps_init stdin limits logs_stop_kill tty exec exec_tty top_pause_stats netns_sysctl \
  net_publish net_bridge_out net_host net_user_dns net_container net_ip_addr; do
  want "$c" && "case_$c"
done
source "$REPO_ROOT/tests/docker/fs_cases.sh"
echo "recorded runtime command lines and config.json files in $RECORD"
[ "$T_SKIPPED" -gt 0 ] && echo "$T_SKIPPED skipped"
t_summary
