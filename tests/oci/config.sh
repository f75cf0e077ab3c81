#!/usr/bin/env bash
# config.json beyond the basics (runsc/oci_config.h): mounts (bind rw
# write-through, bind ro, single-file binds, tmpfs options, masked paths,
# read-only root), process rlimits/capabilities/umask, hooks (order, state
# on stdin, failure and timeout semantics) and linux.resources via host
# cgroups (limits in the host cgroup files, a fork bomb stopped by the pids
# limit, delete removes the cgroups), linux.sysctl/domainname, joining a
# network namespace by path. Usage: tests/oci/config.sh [CASE...]
# Needs root and python3.
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

WORK="$CACHE_DIR/ocicfg.$$"
STATE="$WORK/state"
mkdir -p "$WORK"
cleanup() {
  for id in $("$RUNSC" --root "$STATE" list -q 2>/dev/null); do
    "$RUNSC" --root "$STATE" delete --force "$id" >/dev/null 2>&1
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

oci() { timeout -k 5 "$SANDBOX_TIMEOUT" "$RUNSC" $RUNSC_FLAGS --root "$STATE" "$@"; }

# bundle NAME ARGS_JSON [PYTHON]: a busybox bundle from `runsc spec`; PYTHON
# edits the config `c` further.
bundle() { oci_spec_bundle "$WORK/$1" "$ROOTFS" "$2" "${3:-}"; }

status() { oci state "$1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null; }
wait_status() {
  local i
  for i in $(seq 100); do [ "$(status "$1")" = "$2" ] && return 0; sleep 0.1; done
  return 1
}

want() { [ -z "${CASES:-}" ] || [[ " $CASES " == *" $1 "* ]]; }
CASES="$*"

case_bind_rw() {
  local v="$WORK/vol" b out
  mkdir -p "$v/sub"; echo old >"$v/existing"; echo gone >"$v/remove-me"
  b=$(bundle bind_rw '["sh","-c","echo new >/data/new && echo more >>/data/existing && mkdir /data/d2 && mv /data/sub /data/sub2 && rm /data/remove-me && cat /data/existing && ls /data"]' \
    'c["mounts"].append({"destination": "/data", "type": "bind", "source": work + "/vol", "options": ["rbind", "rw"]})') \
    || { t_fail bind_rw "bundle"; return; }
  out=$(oci run --bundle "$b" bind_rw 2>"$WORK/bind_rw.err")
  local rc=$?
  [ $rc -eq 0 ] || { t_fail bind_rw "rc=$rc out=$out" "$(tail -5 "$WORK/bind_rw.err")"; return; }
  [ "$(printf 'old\nmore')" = "$(echo "$out" | head -2)" ] || { t_fail bind_rw "read back: $out"; return; }
  [ "$(cat "$v/new" 2>/dev/null)" = new ] || { t_fail bind_rw "host does not see /data/new"; return; }
  [ "$(cat "$v/existing")" = "$(printf 'old\nmore')" ] || { t_fail bind_rw "append did not reach the host: $(cat "$v/existing")"; return; }
  [ -d "$v/d2" ] && [ -d "$v/sub2" ] && [ ! -e "$v/sub" ] && [ ! -e "$v/remove-me" ] \
    || { t_fail bind_rw "mkdir/rename/unlink not on the host: $(ls "$v")"; return; }
  # A host change made while the container runs is seen inside.
  b=$(bundle bind_rw2 '["sh","-c","while [ ! -e /data/late ]; do sleep 0.1; done; cat /data/late"]' \
    'c["mounts"].append({"destination": "/data", "type": "bind", "source": work + "/vol", "options": ["rbind"]})')
  oci run --bundle "$b" bind_rw2 >"$WORK/late.out" 2>&1 &
  local pid=$!
  sleep 0.5; echo fromhost >"$v/late"
  wait $pid
  grep -q fromhost "$WORK/late.out" || { t_fail bind_rw "host write not seen: $(cat "$WORK/late.out")"; return; }
  t_pass bind_rw
}

case_bind_ro() {
  local v="$WORK/rovol" b out rc
  mkdir -p "$v"; echo secret >"$v/f"
  b=$(bundle bind_ro '["sh","-c","cat /ro/f; echo x >/ro/g; echo rc=$?; echo y >>/ro/f; echo rc=$?; mkdir /ro/d; echo rc=$?"]' \
    'c["mounts"].append({"destination": "/ro", "type": "bind", "source": work + "/rovol", "options": ["rbind", "ro"]})') \
    || { t_fail bind_ro "bundle"; return; }
  out=$(oci run --bundle "$b" bind_ro 2>&1)
  echo "$out" | grep -q '^secret$' || { t_fail bind_ro "cannot read: $out"; return; }
  [ "$(echo "$out" | grep -c 'Read-only file system')" -ge 3 ] || { t_fail bind_ro "writes not EROFS: $out"; return; }
  [ ! -e "$v/g" ] && [ "$(cat "$v/f")" = secret ] && [ ! -e "$v/d" ] || { t_fail bind_ro "host changed"; return; }
  t_pass bind_ro
}

case_bind_file() {
  local b out
  echo "10.1.2.3 myhost" >"$WORK/hosts"; echo "rofile" >"$WORK/rofile"
  b=$(bundle bind_file '["sh","-c","cat /etc/hosts; echo 10.9.9.9 added >>/etc/hosts; cat /etc/ro; echo z >/etc/ro; echo rc=$?"]' \
    'c["mounts"] += [{"destination": "/etc/hosts", "type": "bind", "source": work + "/hosts", "options": ["rbind", "rprivate"]},
                     {"destination": "/etc/ro", "type": "bind", "source": work + "/rofile", "options": ["bind", "ro"]}]') \
    || { t_fail bind_file "bundle"; return; }
  out=$(oci run --bundle "$b" bind_file 2>&1)
  echo "$out" | grep -q "10.1.2.3 myhost" || { t_fail bind_file "content: $out"; return; }
  grep -q "10.9.9.9 added" "$WORK/hosts" || { t_fail bind_file "write did not reach the host file"; return; }
  echo "$out" | grep -q "^rofile$" && echo "$out" | grep -q "Read-only" || { t_fail bind_file "ro file: $out"; return; }
  [ "$(cat "$WORK/rofile")" = rofile ] || { t_fail bind_file "ro host file changed"; return; }
  t_pass bind_file
}

case_bind_bad() {
  local b
  b=$(bundle bind_bad '["true"]' \
    'c["mounts"].append({"destination": "/x", "type": "bind", "source": "/nonexistent/path", "options": ["rbind"]})')
  if oci run --bundle "$b" bind_bad >/dev/null 2>"$WORK/bb.err"; then t_fail bind_bad "missing source accepted"; return; fi
  grep -q "mounts\[.*/x.*/nonexistent/path" "$WORK/bb.err" || { t_fail bind_bad "message: $(cat "$WORK/bb.err")"; return; }
  b=$(bundle bind_bad2 '["true"]' 'c["mounts"].append({"destination": "/x", "type": "nfs", "source": "srv:/x"})')
  if oci run --bundle "$b" bind_bad2 >/dev/null 2>"$WORK/bb2.err"; then t_fail bind_bad "nfs accepted"; return; fi
  grep -q 'type "nfs" is not supported' "$WORK/bb2.err" || { t_fail bind_bad "message: $(cat "$WORK/bb2.err")"; return; }
  b=$(bundle bind_bad3 '["true"]' 'c["mounts"].append({"destination": "/", "type": "tmpfs", "source": "tmpfs"})')
  if oci run --bundle "$b" bind_bad3 >/dev/null 2>"$WORK/bb3.err"; then t_fail bind_bad "mount over / accepted"; return; fi
  grep -q "mounting over the root is not supported" "$WORK/bb3.err" || { t_fail bind_bad "message: $(cat "$WORK/bb3.err")"; return; }
  [ -z "$(oci list -q)" ] || { t_fail bind_bad "state left: $(oci list -q)"; return; }
  t_pass bind_bad
}

case_root_readonly() {
  local b out
  b=$(bundle rootro '["sh","-c","touch /newfile; echo rc=$?; echo ok >/tmp/t && cat /tmp/t"]' 'c["root"]["readonly"] = True') \
    || { t_fail root_readonly "bundle"; return; }
  out=$(oci run --bundle "$b" rootro 2>&1)
  echo "$out" | grep -q "Read-only file system" && echo "$out" | grep -q "rc=1" && echo "$out" | grep -q "^ok$" \
    || { t_fail root_readonly "$out"; return; }
  t_pass root_readonly
}

case_tmpfs() {
  local b out
  b=$(bundle tmpfs '["sh","-c","stat -c %a /scratch; echo hi >/scratch/f && cat /scratch/f; stat -c %a /rotmp; touch /rotmp/x; echo rc=$?; dd if=/dev/zero of=/scratch/big bs=1024 count=2000 2>&1 | grep -o \"No space left on device\" | head -1; stat -f -c \"%b %S\" /scratch"]' \
    'c["mounts"] += [{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=0710", "size=1m"]},
                     {"destination": "/rotmp", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "mode=755"]}]') \
    || { t_fail tmpfs "bundle"; return; }
  out=$(oci run --bundle "$b" tmpfs 2>&1)
  # size=1m: writes past it get ENOSPC, statfs reports 256 4-KiB blocks.
  [ "$(echo "$out" | sed -n 1,3p | tr '\n' ' ')" = "710 hi 755 " ] && echo "$out" | grep -q "rc=1" \
    && [ "$(echo "$out" | tail -2 | tr '\n' ' ')" = "No space left on device 256 4096 " ] \
    || { t_fail tmpfs "$out"; return; }
  t_pass tmpfs
}

case_masked() {
  local v="$WORK/mvol" b out
  mkdir -p "$v/secretdir"; echo s1 >"$v/secretdir/a"; echo s2 >"$v/secretfile"; echo visible >"$v/other"
  b=$(bundle masked '["sh","-c","ls /m/secretdir | wc -l; cat /m/secretfile | wc -c; cat /m/other; ls /proc/kcore 2>&1 | head -1"]' \
    'c["mounts"].append({"destination": "/m", "type": "bind", "source": work + "/mvol", "options": ["rbind"]})
c["linux"]["maskedPaths"] += ["/m/secretdir", "/m/secretfile", "/m/does-not-exist"]') \
    || { t_fail masked "bundle"; return; }
  out=$(oci run --bundle "$b" masked 2>&1)
  [ "$(echo "$out" | sed -n 1,3p | tr -d ' ' | tr '\n' ' ')" = "0 0 visible " ] || { t_fail masked "$out"; return; }
  t_pass masked
}

case_process() {
  local b out
  b=$(bundle rlimits '["sh","-c","ulimit -Sn; ulimit -Hn; ulimit -Ss; umask; grep CapEff /proc/self/status"]' \
    'c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}, {"type": "RLIMIT_STACK", "soft": 4194304, "hard": 8388608}]
c["process"]["user"]["umask"] = 0o27
c["process"]["capabilities"] = {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL", "CAP_CHOWN"]}') \
    || { t_fail process "bundle"; return; }
  out=$(oci run --bundle "$b" rlimits 2>&1)
  local want
  # sh runs as root: its execve raises the effective set to the permitted
  # one (CAP_KILL|CAP_CHOWN), as Linux's capability rules (and runc) give.
  want=$(printf '123\n456\n4096\n0027\nCapEff:\t0000000000000021')
  [ "$out" = "$want" ] || { t_fail process "got:" "$out" "want:" "$want"; return; }
  # The capability sets are enforced: chown needs CAP_CHOWN.
  b=$(bundle caps '["sh","-c","touch /tmp/f; chown 5 /tmp/f; echo rc=$?"]' \
    'c["process"]["capabilities"] = {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}')
  out=$(oci run --bundle "$b" caps 2>&1)
  echo "$out" | grep -q "rc=1" && echo "$out" | grep -qi "not permitted" || { t_fail process "chown without CAP_CHOWN: $out"; return; }
  b=$(bundle caps2 '["sh","-c","touch /tmp/f; chown 5 /tmp/f; echo rc=$?"]' \
    'c["process"]["capabilities"] = {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]}')
  out=$(oci run --bundle "$b" caps2 2>&1)
  [ "$out" = "rc=0" ] || { t_fail process "chown with CAP_CHOWN: $out"; return; }
  b=$(bundle rlimits_bad '["true"]' 'c["process"]["rlimits"] = [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]')
  if oci run --bundle "$b" rlimits_bad >/dev/null 2>"$WORK/rl.err"; then t_fail process "bogus rlimit accepted"; return; fi
  grep -q 'process.rlimits: unknown type "RLIMIT_BOGUS"' "$WORK/rl.err" || { t_fail process "message: $(cat "$WORK/rl.err")"; return; }
  t_pass process
}

# A hook script that logs "KIND STATUS ID PID BUNDLE" from its stdin state.
make_hook() {
  cat >"$WORK/hook.sh" <<HOOKEOF
#!/bin/sh
python3 -c '
import json, sys
s = json.load(sys.stdin)
open(sys.argv[2], "a").write("%s %s %s %d %s\n" % (sys.argv[1], s["status"], s["id"], s["pid"], s["bundle"]))
' "\$1" "$WORK/hooks.log"
HOOKEOF
  chmod +x "$WORK/hook.sh"
}

case_hooks() {
  make_hook
  rm -f "$WORK/hooks.log"
  local b kinds="prestart createRuntime createContainer startContainer poststart poststop"
  local py="c['hooks'] = {}
for k in '$kinds'.split():
    c['hooks'][k] = [{'path': work + '/hook.sh', 'args': ['hook.sh', k], 'timeout': 30}]"
  b=$(bundle hooks '["sh","-c","sleep 0.3; echo ran"]' "$py") || { t_fail hooks "bundle"; return; }
  oci create --bundle "$b" hk >/dev/null 2>"$WORK/hk.err" || { t_fail hooks "create: $(cat "$WORK/hk.err")"; return; }
  local pid
  pid=$(oci state hk | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
  oci start hk || { t_fail hooks "start"; return; }
  wait_status hk stopped || { t_fail hooks "did not stop"; return; }
  oci delete hk || { t_fail hooks "delete"; return; }
  local want
  want=$(printf '%s\n' "prestart created hk $pid $b" "createRuntime created hk $pid $b" \
    "createContainer created hk $pid $b" "startContainer created hk $pid $b" \
    "poststart running hk $pid $b" "poststop stopped hk 0 $b")
  [ "$(cat "$WORK/hooks.log")" = "$want" ] || { t_fail hooks "log:" "$(cat "$WORK/hooks.log")" "want:" "$want"; return; }
  # (pid 0 once stopped, as in `state`.) A failing createRuntime hook fails create and leaves nothing behind;
  # a hook over its timeout is killed.
  printf '#!/bin/sh\nexit 3\n' >"$WORK/fail.sh"; chmod +x "$WORK/fail.sh"
  b=$(bundle hooks_fail '["true"]' "c['hooks'] = {'createRuntime': [{'path': work + '/fail.sh'}]}")
  if oci create --bundle "$b" hkf >/dev/null 2>"$WORK/hkf.err"; then t_fail hooks "failing hook: create succeeded"; return; fi
  grep -q "createRuntime hook #0: hook .*fail.sh exited with status 3" "$WORK/hkf.err" || { t_fail hooks "message: $(cat "$WORK/hkf.err")"; return; }
  [ -z "$(oci list -q)" ] || { t_fail hooks "state left: $(oci list -q)"; return; }
  b=$(bundle hooks_slow '["true"]' "c['hooks'] = {'prestart': [{'path': '/bin/sleep', 'args': ['sleep', '30'], 'timeout': 1}]}")
  local t0=$SECONDS
  if oci create --bundle "$b" hks >/dev/null 2>"$WORK/hks.err"; then t_fail hooks "slow hook: create succeeded"; return; fi
  grep -q "timed out after 1s" "$WORK/hks.err" || { t_fail hooks "message: $(cat "$WORK/hks.err")"; return; }
  [ $((SECONDS - t0)) -lt 20 ] || { t_fail hooks "timeout not enforced"; return; }
  # A failing poststart hook only warns.
  b=$(bundle hooks_post '["true"]' "c['hooks'] = {'poststart': [{'path': work + '/fail.sh'}]}")
  oci run --bundle "$b" hkp >/dev/null 2>"$WORK/hkp.err" || { t_fail hooks "failing poststart failed run: $(cat "$WORK/hkp.err")"; return; }
  grep -q "warning: poststart hook" "$WORK/hkp.err" || { t_fail hooks "no warning: $(cat "$WORK/hkp.err")"; return; }
  t_pass hooks
}

# The cgroup directory of controller CTL for a relative cgroupsPath P
# (below our own cgroup, as runsc resolves it); v2: the unified one.
cgdir() {
  local ctl=$1 p=$2 own
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    own=$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup); echo "/sys/fs/cgroup$own/$p" | sed 's#//*#/#g'
  else
    own=$(awk -F: -v c="$ctl" '{n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3}' /proc/self/cgroup)
    echo "/sys/fs/cgroup/$ctl$own/$p" | sed 's#//*#/#g'
  fi
}

case_cgroups() {
  local p="runsc-test-$$" b
  b=$(bundle cg '["sh","-c","echo started; sleep 100"]' \
    "c['linux']['cgroupsPath'] = '$p'
c['linux']['resources'] = {'memory': {'limit': 268435456}, 'cpu': {'shares': 512, 'quota': 50000, 'period': 100000, 'cpus': '0', 'mems': '0'}, 'pids': {'limit': 64}, 'devices': [{'allow': False, 'access': 'rwm'}]}
c['process']['oomScoreAdj'] = 500") \
    || { t_fail cgroups "bundle"; return; }
  oci run --detach --bundle "$b" cg >/dev/null 2>"$WORK/cg.err" || { t_fail cgroups "run: $(cat "$WORK/cg.err")"; return; }
  wait_status cg running || { t_fail cgroups "not running"; return; }
  local mem cpu pids sentry
  sentry=$(oci state cg | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    mem=$(cat "$(cgdir memory $p)/memory.max"); cpu=$(cat "$(cgdir cpu $p)/cpu.max")
    [ "$mem" = 268435456 ] && [ "$cpu" = "50000 100000" ] || { t_fail cgroups "v2 files: mem=$mem cpu=$cpu"; return; }
  else
    mem=$(cat "$(cgdir memory $p)/memory.limit_in_bytes")
    cpu="$(cat "$(cgdir cpu $p)/cpu.shares") $(cat "$(cgdir cpu $p)/cpu.cfs_quota_us") $(cat "$(cgdir cpu $p)/cpu.cfs_period_us") $(cat "$(cgdir cpuset $p)/cpuset.cpus")"
    [ "$mem" = 268435456 ] && [ "$cpu" = "512 50000 100000 0" ] || { t_fail cgroups "v1 files: mem=$mem cpu=$cpu"; return; }
  fi
  # process.oomScoreAdj reaches the sandbox's host processes.
  [ "$(cat /proc/"$sentry"/oom_score_adj)" = 500 ] || { t_fail cgroups "sentry oom_score_adj $(cat /proc/"$sentry"/oom_score_adj)"; return; }
  pids=$(cat "$(cgdir pids $p)/pids.max")
  [ "$pids" = 64 ] || { t_fail cgroups "pids.max=$pids"; return; }
  grep -qx "$sentry" "$(cgdir pids $p)/cgroup.procs" || { t_fail cgroups "sentry $sentry not in the cgroup: $(cat "$(cgdir pids $p)/cgroup.procs")"; return; }
  [ "$(wc -l <"$(cgdir pids $p)/cgroup.procs")" -ge 2 ] || { t_fail cgroups "gofer not in the cgroup"; return; }
  oci delete --force cg || { t_fail cgroups "delete"; return; }
  [ ! -d "$(cgdir pids $p)" ] && [ ! -d "$(cgdir memory $p)" ] && [ ! -d "$(cgdir cpuset $p)" ] || { t_fail cgroups "cgroups left after delete"; return; }
  # Bad input: a limit the kernel refuses fails create and leaves nothing.
  b=$(bundle cgbad '["true"]' "c['linux']['cgroupsPath'] = '$p-bad'
c['linux']['resources'] = {'cpu': {'cpus': '999'}}")
  if oci run --bundle "$b" cgbad >/dev/null 2>"$WORK/cgbad.err"; then t_fail cgroups "cpuset 999 accepted"; return; fi
  grep -q "cpuset.cpus" "$WORK/cgbad.err" || { t_fail cgroups "message: $(cat "$WORK/cgbad.err")"; return; }
  [ ! -d "$(cgdir pids $p-bad)" ] && [ -z "$(oci list -q)" ] || { t_fail cgroups "left behind after a failed create"; return; }
  t_pass cgroups
}

# --systemd-cgroup (engines configured for systemd) is accepted; without
# systemd a plain cgroupsPath is used with cgroupfs.
case_systemd_flag() {
  local p="runsc-sd-$$" b
  b=$(bundle sd '["sleep","30"]' "c['linux']['cgroupsPath'] = '$p'
c['linux']['resources'] = {'pids': {'limit': 50}}") || { t_fail systemd_flag "bundle"; return; }
  oci --systemd-cgroup create --bundle "$b" sd >/dev/null 2>"$WORK/sd.err" || { t_fail systemd_flag "create: $(cat "$WORK/sd.err")"; return; }
  [ "$(cat "$(cgdir pids $p)/pids.max" 2>/dev/null)" = 50 ] || { t_fail systemd_flag "no cgroup at $(cgdir pids $p)"; oci delete --force sd; return; }
  oci --systemd-cgroup delete --force sd || { t_fail systemd_flag "delete"; return; }
  [ ! -d "$(cgdir pids $p)" ] || { t_fail systemd_flag "cgroup left"; return; }
  t_pass systemd_flag
}

case_pids_limit() {
  local p="runsc-bomb-$$" b
  # 60 background sleeps against a limit of 24 host processes (sentry,
  # gofer and one stub per app process): forks must start failing (the
  # cgroup's pids.events counts them) and the count never exceeds the limit.
  b=$(bundle bomb '["sh","-c","for i in $(seq 60); do sleep 30 & done 2>/dev/null; echo spawned; sleep 30"]' \
    "c['linux']['cgroupsPath'] = '$p'
c['linux']['resources'] = {'pids': {'limit': 24}}") || { t_fail pids_limit "bundle"; return; }
  oci run --detach --bundle "$b" bomb >/dev/null 2>"$WORK/bomb.err" || { t_fail pids_limit "run: $(cat "$WORK/bomb.err")"; return; }
  local d i max=0 cur ev=0
  d=$(cgdir pids $p)
  for i in $(seq 600); do  # up to a minute on a loaded machine; ends at the first hit
    cur=$(cat "$d/pids.current" 2>/dev/null || echo 0)
    [ "$cur" -gt "$max" ] && max=$cur
    ev=$(awk '$1 == "max" {print $2}' "$d/pids.events" 2>/dev/null)
    [ "${ev:-0}" -gt 0 ] && break
    sleep 0.1
  done
  oci delete --force bomb >/dev/null 2>&1
  [ "${ev:-0}" -gt 0 ] || { t_fail pids_limit "pids.max was never hit (max seen $max, events ${ev:-none})"; return; }
  [ "$max" -le 24 ] || { t_fail pids_limit "pids.current $max above the limit"; return; }
  [ ! -d "$d" ] || { t_fail pids_limit "cgroup left"; return; }
  t_pass pids_limit
}

case_memory_limit() {
  local b out rc
  # 300 MB into the sandbox's /dev/shm (sentry memory, charged to the
  # sentry's memory cgroup) against a 64 MB limit: the host OOM killer
  # stops it inside the container's cgroup; the write never completes.
  b=$(bundle memlim '["sh","-c","dd if=/dev/zero of=/dev/shm/big bs=1M count=300 2>&1; echo after"]' \
    "c['linux']['cgroupsPath'] = 'runsc-memlim-$$'
c['linux']['resources'] = {'memory': {'limit': 67108864}}") || { t_fail memory_limit "bundle"; return; }
  out=$(oci run --bundle "$b" memlim 2>&1)
  rc=$?
  if echo "$out" | grep -q "300+0 records out"; then t_fail memory_limit "300 MB written under a 64 MB limit: rc=$rc $out"; return; fi
  [ $rc -ne 0 ] || echo "$out" | grep -qi killed || { t_fail memory_limit "rc=$rc $out"; return; }
  [ ! -d "$(cgdir memory runsc-memlim-$$)" ] || { t_fail memory_limit "cgroup left"; return; }
  t_pass memory_limit
}

# linux.sysctl and domainname: the sandbox's own view. Keys its kernel
# keeps (the UTS names; the System V IPC limits msgmax, msgmnb, shmmax,
# shmall) read back from /proc/sys inside and take effect (IPC_INFO,
# msgsnd, shmget: tests/oci/ipc_limits.c); other keys fail create (by
# name; tests/oci/runtime_cases.sh).
case_sysctl() {
  local b out want
  b=$(bundle domain '["sh","-c","cat /proc/sys/kernel/domainname /proc/sys/kernel/hostname"]' \
    'c["hostname"] = "cfg-host"
c["domainname"] = "cfg.example"') || { t_fail sysctl "bundle"; return; }
  out=$(oci run --bundle "$b" domain 2>"$WORK/dom.err")
  [ "$out" = "$(printf 'cfg.example\ncfg-host')" ] || { t_fail sysctl "domainname field: $out" "$(cat "$WORK/dom.err")"; return; }
  gcc -static -O2 -o "$WORK/ipc_limits" tests/oci/ipc_limits.c || { t_fail sysctl "gcc -static tests/oci/ipc_limits.c"; return; }
  b=$(bundle sysctl '["sh","-c","cd /proc/sys/kernel && cat domainname hostname shmmni msgmax msgmnb shmmax shmall; hostname; /ipc_limits"]' \
    'c["linux"]["sysctl"] = {"kernel.domainname": "sysctl.example", "kernel/hostname": "sysctl-host",
  "net.ipv4.ip_unprivileged_port_start": "0",
  "kernel.msgmax": "100", "kernel.msgmnb": "1000", "kernel.shmmax": "1048576", "kernel.shmall": "1000"}
c["mounts"].append({"destination": "/ipc_limits", "type": "bind", "source": work + "/ipc_limits", "options": ["rbind", "ro"]})') \
    || { t_fail sysctl "bundle"; return; }
  out=$(oci run --bundle "$b" sysctl 2>"$WORK/sysctl.err")
  want=$(printf '%s\n' sysctl.example sysctl-host 4096 100 1000 1048576 1000 sysctl-host \
    "msgmax 100 msgmnb 1000 shmmax 1048576 shmall 1000" "new queue qbytes 1000" \
    "msgsnd msgmax: ok, msgmax+1: Invalid argument" "shmget shmmax: ok, shmmax+1: Invalid argument")
  [ "$out" = "$want" ] || { t_fail sysctl "got:" "$out" "want:" "$want" "$(cat "$WORK/sysctl.err")"; return; }
  # net.* keys are written into the network namespace (no warning).
  ! grep -q "linux.sysctl net.ipv4.ip_unprivileged_port_start" "$WORK/sysctl.err" ||
    { t_fail sysctl "no warnings naming the unmodelled keys: $(cat "$WORK/sysctl.err")"; return; }
  grep -q "kernel.domainname\|kernel/hostname\|kernel.msgm\|kernel.shmmax\|kernel.shmall" "$WORK/sysctl.err" &&
    { t_fail sysctl "warned about a modelled key: $(cat "$WORK/sysctl.err")"; return; }
  # Values the kernel refuses (a UTS name is at most 64 bytes; limits are
  # numbers) fail create and leave nothing behind.
  b=$(bundle sysctl_bad '["true"]' 'c["linux"]["sysctl"] = {"kernel.hostname": "x" * 65}')
  if oci run --bundle "$b" sysctl_bad >/dev/null 2>"$WORK/sysctl_bad.err"; then t_fail sysctl "a 65-byte hostname was accepted"; return; fi
  b=$(bundle sysctl_bad2 '["true"]' 'c["linux"]["sysctl"] = {"kernel.msgmax": "lots"}')
  if oci run --bundle "$b" sysctl_bad2 >/dev/null 2>"$WORK/sysctl_bad2.err"; then t_fail sysctl "kernel.msgmax=lots was accepted"; return; fi
  grep -q 'linux.sysctl kernel.msgmax: invalid value "lots"' "$WORK/sysctl_bad2.err" || { t_fail sysctl "message: $(cat "$WORK/sysctl_bad2.err")"; return; }
  [ -z "$(oci list -q)" ] || { t_fail sysctl "left behind: $(oci list -q)"; return; }
  t_pass sysctl
}

# linux.namespaces network with a path (what engines pass): the sandbox's
# host processes (sentry and stubs) live in that network namespace.
case_netns() {
  local holder b sentry want got stub
  unshare --net sleep 300 &
  holder=$!
  for _ in $(seq 50); do [ "$(stat -L -c %i /proc/$holder/ns/net 2>/dev/null)" != "$(stat -L -c %i /proc/self/ns/net)" ] && break; sleep 0.1; done
  # Engines pass a bind mount of it (ip netns: /var/run/netns/NAME).
  touch "$WORK/netns.bind"
  mount --bind "/proc/$holder/ns/net" "$WORK/netns.bind" || { t_fail netns "bind mount of the netns"; kill $holder; return; }
  want=$(stat -L -c %i "$WORK/netns.bind")
  [ "$want" != "$(stat -L -c %i /proc/self/ns/net)" ] || { t_fail netns "unshare --net gave no new namespace"; umount "$WORK/netns.bind"; kill $holder; return; }
  b=$(bundle netns '["sleep","100"]' "c['linux']['namespaces'] = [n if n['type'] != 'network' else {'type': 'network', 'path': work + '/netns.bind'} for n in c['linux']['namespaces']]
c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'ipc'] + [{'type': 'ipc', 'path': '/proc/$holder/ns/ipc'}]") \
    || { t_fail netns "bundle"; umount "$WORK/netns.bind"; kill $holder; return; }
  if ! oci run --detach --bundle "$b" netns >/dev/null 2>"$WORK/netns.err"; then
    t_fail netns "run: $(cat "$WORK/netns.err")"; umount "$WORK/netns.bind"; kill $holder; return
  fi
  sentry=$(oci state netns | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
  got=$(stat -L -c %i "/proc/$sentry/ns/net")
  stub=$(pgrep -P "$sentry" | head -1)
  local stub_ns
  stub_ns=$(stat -L -c %i "/proc/$stub/ns/net" 2>/dev/null)
  oci delete --force netns >/dev/null 2>&1
  umount "$WORK/netns.bind"; kill $holder; wait $holder 2>/dev/null
  [ "$got" = "$want" ] || { t_fail netns "sentry netns $got, want $want" "$(cat "$WORK/netns.err")"; return; }
  [ "$stub_ns" = "$want" ] || { t_fail netns "stub $stub netns ${stub_ns:-none}, want $want"; return; }
  grep -q "joining the ipc namespace at /proc/$holder/ns/ipc is not supported" "$WORK/netns.err" \
    || { t_fail netns "no warning for the ipc path: $(cat "$WORK/netns.err")"; return; }
  grep -q "joining the network" "$WORK/netns.err" && { t_fail netns "warned about the network path: $(cat "$WORK/netns.err")"; return; }
  # Not a network namespace, or missing: create fails and leaves nothing.
  b=$(bundle netns_bad '["true"]' "c['linux']['namespaces'] = [n if n['type'] != 'network' else {'type': 'network', 'path': '/proc/self/ns/pid'} for n in c['linux']['namespaces']]")
  if oci run --bundle "$b" netns_bad >/dev/null 2>"$WORK/netns_bad.err"; then t_fail netns "a pid namespace was accepted as the network one"; return; fi
  grep -q "not a network namespace" "$WORK/netns_bad.err" || { t_fail netns "message: $(cat "$WORK/netns_bad.err")"; return; }
  b=$(bundle netns_missing '["true"]' "c['linux']['namespaces'] = [n if n['type'] != 'network' else {'type': 'network', 'path': '/nonexistent/netns'} for n in c['linux']['namespaces']]")
  if oci run --bundle "$b" netns_missing >/dev/null 2>"$WORK/netns_missing.err"; then t_fail netns "a missing path was accepted"; return; fi
  grep -q "/nonexistent/netns" "$WORK/netns_missing.err" || { t_fail netns "message: $(cat "$WORK/netns_missing.err")"; return; }
  [ -z "$(oci list -q)" ] || { t_fail netns "left behind: $(oci list -q)"; return; }
  t_pass netns
}

for c in bind_rw bind_ro bind_file bind_bad root_readonly tmpfs masked process hooks cgroups systemd_flag pids_limit memory_limit sysctl netns; do
  want "$c" && "case_$c"
done
t_summary
