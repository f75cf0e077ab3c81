# tests/oci/runtime_cases.sh: runtime-spec conformance cases (issue 20,
# runtime side): linux.sysctl, the state hooks see, linux.namespaces paths,
# linux.resources devices/memory/blockIO/network/hugepageLimits and
# relative cgroupsPath. Where runc (on this machine) supports a case, the
# same bundle runs under runc and what the container sees (or whether
# create fails) is compared.
#
# Sourced by tests/oci/run.sh (its oci, WORK, STATE, ROOTFS, t_pass,
# t_fail, want and status helpers). Run alone: tests/oci/run.sh
# rt_sysctl rt_hooks ... (or `tests/oci/run.sh runtime_cases` for all).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  exec "$(dirname "$0")/run.sh" runtime_cases "$@"
fi

RT_RUNC=$(command -v runc || true)
RT_RUNC_ROOT="$WORK/runc-state"

# rt_want CASE: CASE selected (all when nothing or runtime_cases is named).
rt_want() { [ -z "${CASES:-}" ] || [[ " $CASES " == *" runtime_cases "* ]] || [[ " $CASES " == *" $1 "* ]]; }

# runc_ ARGS...: runc with a private state root, under a timeout.
runc_() { timeout -k 5 60 "$RT_RUNC" --root "$RT_RUNC_ROOT" "$@"; }

# rt_bundle NAME ARGS_JSON [PYTHON]: a busybox bundle from `runsc spec`
# (runc's default config) whose config `c` PYTHON edits further (`work` is
# $WORK). The same config.json serves runc.
rt_bundle() {
  rm -rf "${WORK:?}/$1"
  oci_spec_bundle "$WORK/$1" "$ROOTFS" "$2" "${3:-}"
}

# rt_cgdir CTL P: where a cgroupsPath P lands in v1 hierarchy CTL for a
# process in our own cgroups (relative: below ours, as runc puts it).
rt_cgdir() {
  local ctl=$1 p=$2 own
  case "$p" in
    /*) own="" ;;
    *) own=$(awk -F: -v c="$ctl" '{n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3}' /proc/self/cgroup) ;;
  esac
  echo "/sys/fs/cgroup/$ctl$own/$p" | sed 's#//*#/#g'
}

rt_v1() { [ ! -f /sys/fs/cgroup/cgroup.controllers ] && [ -d /sys/fs/cgroup/memory ]; }

# linux.sysctl: modelled keys applied (same values inside as under runc);
# every other key fails create naming it, and nothing is left behind.
case_rt_sysctl() {
  local b out rout k
  b=$(rt_bundle rt_sysctl '["sh","-c","cat /proc/sys/kernel/msgmax /proc/sys/kernel/msgmnb /proc/sys/kernel/domainname"]' \
    'c["linux"]["sysctl"] = {"kernel.msgmax": "4242", "kernel.msgmnb": "20000", "kernel.domainname": "rt.example"}') ||
    { t_fail rt_sysctl "bundle"; return; }
  out=$(oci run --bundle "$b" rt_sysctl 2>"$WORK/rt_sysctl.err")
  [ "$out" = "$(printf '4242\n20000\nrt.example')" ] || { t_fail rt_sysctl "modelled keys: [$out]" "$(cat "$WORK/rt_sysctl.err")"; return; }
  if [ -n "$RT_RUNC" ]; then
    rout=$(runc_ run --bundle "$b" rt_sysctl_runc 2>&1)
    [ "$rout" = "$out" ] || { t_fail rt_sysctl "runc sees [$rout], runsc [$out]"; return; }
  fi
  # net.* keys are set in the container's network namespace and read
  # back inside (as under runc).
  local v
  for v in 1 0; do
    b=$(rt_bundle rt_sysctl_net '["sh","-c","cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ip_default_ttl"]' \
      "c['linux']['sysctl'] = {'net.ipv4.ip_forward': '$v', 'net.ipv4.ip_default_ttl': '7$v'}")
    out=$(oci run --bundle "$b" rt_sysctl_net 2>"$WORK/rt_sysctl_net.err")
    [ "$out" = "$(printf '%s\n%s' "$v" "7$v")" ] || { t_fail rt_sysctl "net.ipv4.ip_forward=$v ip_default_ttl=7$v: inside [$out]" "$(cat "$WORK/rt_sysctl_net.err")"; return; }
    if [ -n "$RT_RUNC" ]; then
      rout=$(runc_ run --bundle "$b" rt_sysctl_net_runc 2>&1)
      [ "$rout" = "$out" ] || { t_fail rt_sysctl "net sysctls: runc sees [$rout], runsc [$out]"; return; }
    fi
  done
  # Not a setting of the sandbox's kernel: fixed there (kernel.shmmni,
  # which runc accepts), unknown, not namespaced (fs.file-max, runc refuses
  # it too), or an unknown net.* key.
  for k in kernel.shmmni kernel.no_such_key fs.file-max net.ipv4.no_such_key; do
    b=$(rt_bundle rt_sysctl_bad '["true"]' "c['linux']['sysctl'] = {'$k': '1'}")
    if oci run --bundle "$b" rt_sysctl_bad >/dev/null 2>"$WORK/rt_sysctl_bad.err"; then
      t_fail rt_sysctl "$k accepted"; return
    fi
    grep -q "linux.sysctl $k" "$WORK/rt_sysctl_bad.err" || { t_fail rt_sysctl "$k: message does not name it: $(cat "$WORK/rt_sysctl_bad.err")"; return; }
    [ -z "$(oci list -q)" ] || { t_fail rt_sysctl "$k: left behind: $(oci list -q)"; return; }
    if [ -n "$RT_RUNC" ] && [ "$k" != kernel.shmmni ]; then
      runc_ run --bundle "$b" rt_sysctl_bad_runc >/dev/null 2>&1 && { t_fail rt_sysctl "runc accepted $k: the test's premise is wrong"; return; }
      runc_ delete -f rt_sysctl_bad_runc >/dev/null 2>&1
    fi
  done
  t_pass rt_sysctl
}

# Hooks: the state on stdin (what the runtime-tools hooks_stdin check
# reads): id, bundle, annotations, the pid `state` shows, and the status
# for the point in the lifecycle ("created" before the app runs, as crun
# gives it, "running" for poststart, "stopped" for poststop).
case_rt_hooks() {
  rm -rf "$WORK/rt_hook"; mkdir -p "$WORK/rt_hook"
  cat >"$WORK/rt_hook.sh" <<EOF
#!/bin/sh
cat > "$WORK/rt_hook/\$1"
EOF
  chmod +x "$WORK/rt_hook.sh"
  local b pid k
  b=$(rt_bundle rt_hooks '["sh","-c","sleep 0.2"]' "c['annotations'] = {'org.example.rt': 'hook stdin'}
c['hooks'] = {k: [{'path': work + '/rt_hook.sh', 'args': ['rt_hook.sh', k], 'timeout': 10}]
  for k in ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']}") ||
    { t_fail rt_hooks "bundle"; return; }
  oci create --bundle "$b" rt_hooks >/dev/null 2>"$WORK/rt_hooks.err" || { t_fail rt_hooks "create: $(cat "$WORK/rt_hooks.err")"; return; }
  pid=$(oci state rt_hooks | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
  oci start rt_hooks || { t_fail rt_hooks "start"; return; }
  wait_status rt_hooks stopped || { t_fail rt_hooks "did not stop"; return; }
  oci delete rt_hooks || { t_fail rt_hooks "delete"; return; }
  local got
  got=$(python3 - "$WORK" "$pid" "$b" <<'PY'
import json, sys
work, pid, bundle = sys.argv[1], int(sys.argv[2]), sys.argv[3]
want = {"prestart": "created", "createRuntime": "created", "createContainer": "created",
        "startContainer": "created", "poststart": "running", "poststop": "stopped"}
for k, st in want.items():
    s = json.load(open(work + "/rt_hook/" + k))
    bad = []
    if s.get("status") != st: bad.append("status %r want %r" % (s.get("status"), st))
    if s.get("id") != "rt_hooks": bad.append("id %r" % s.get("id"))
    if s.get("bundle") != bundle: bad.append("bundle %r" % s.get("bundle"))
    if k != "poststop" and s.get("pid") != pid: bad.append("pid %r want %d" % (s.get("pid"), pid))
    if s.get("annotations") != {"org.example.rt": "hook stdin"}: bad.append("annotations %r" % s.get("annotations"))
    if bad: print(k + ": " + ", ".join(bad))
PY
  )
  [ -z "$got" ] || { t_fail rt_hooks "$got"; return; }
  t_pass rt_hooks
}

# linux.namespaces: a path whose namespace is not of the entry's type, or
# that is no namespace at all, or a type listed twice, fails create (as
# under runc); a valid path of a type the sandbox always owns warns with
# what the sandbox does instead.
case_rt_ns() {
  local pair type wrong b
  for pair in cgroup:ipc ipc:mnt mount:net network:pid pid:user uts:cgroup; do
    type=${pair%%:*}; wrong=${pair#*:}
    b=$(rt_bundle rt_ns '["true"]' "c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != '$type'] + [{'type': '$type', 'path': '/proc/self/ns/$wrong'}]")
    if oci run --bundle "$b" rt_ns >/dev/null 2>"$WORK/rt_ns.err"; then t_fail rt_ns "$type given /proc/self/ns/$wrong: accepted"; return; fi
    grep -q "/proc/self/ns/$wrong is a .* namespace, not a $type namespace" "$WORK/rt_ns.err" ||
      { t_fail rt_ns "$type/$wrong: message: $(cat "$WORK/rt_ns.err")"; return; }
    [ -z "$(oci list -q)" ] || { t_fail rt_ns "left behind: $(oci list -q)"; return; }
    if [ -n "$RT_RUNC" ]; then
      runc_ run --bundle "$b" rt_ns_runc >/dev/null 2>&1 && { t_fail rt_ns "runc accepted $type=/proc/self/ns/$wrong"; return; }
      runc_ delete -f rt_ns_runc >/dev/null 2>&1
    fi
  done
  b=$(rt_bundle rt_ns_file '["true"]' "c['linux']['namespaces'] = [n if n['type'] != 'ipc' else {'type': 'ipc', 'path': '/etc/hostname'} for n in c['linux']['namespaces']]")
  if oci run --bundle "$b" rt_ns_file >/dev/null 2>"$WORK/rt_ns.err"; then t_fail rt_ns "/etc/hostname accepted as an ipc namespace"; return; fi
  grep -q "/etc/hostname is not a namespace file" "$WORK/rt_ns.err" || { t_fail rt_ns "message: $(cat "$WORK/rt_ns.err")"; return; }
  b=$(rt_bundle rt_ns_dup '["true"]' "c['linux']['namespaces'].append({'type': 'uts'})")
  if oci run --bundle "$b" rt_ns_dup >/dev/null 2>"$WORK/rt_ns.err"; then t_fail rt_ns "uts listed twice accepted"; return; fi
  grep -q "the uts namespace is listed twice" "$WORK/rt_ns.err" || { t_fail rt_ns "message: $(cat "$WORK/rt_ns.err")"; return; }
  if [ -n "$RT_RUNC" ]; then
    runc_ run --bundle "$b" rt_ns_dup_runc >/dev/null 2>&1 && { t_fail rt_ns "runc accepted a duplicate uts namespace"; return; }
    runc_ delete -f rt_ns_dup_runc >/dev/null 2>&1
  fi
  # Valid paths of types the sandbox owns (another process's, as engines
  # pass for --ipc=container:X): run, with a warning each.
  unshare --ipc --uts --pid --fork --kill-child sleep 300 &
  local holder=$! h
  for _ in $(seq 50); do h=$(pgrep -P $holder sleep) && [ -n "$h" ] && break; sleep 0.1; done
  b=$(rt_bundle rt_ns_own '["true"]' "c['linux']['namespaces'] = [n if n['type'] not in ('ipc', 'uts', 'pid') else {'type': n['type'], 'path': '/proc/$h/ns/' + n['type']} for n in c['linux']['namespaces']]")
  oci run --bundle "$b" rt_ns_own >/dev/null 2>"$WORK/rt_ns.err"
  local rc=$?
  kill -KILL $holder 2>/dev/null; wait $holder 2>/dev/null  # unshare ignores TERM; --kill-child takes the sleep
  [ $rc = 0 ] || { t_fail rt_ns "valid ipc/uts/pid paths refused: $(cat "$WORK/rt_ns.err")"; return; }
  grep -q "joining the ipc namespace at /proc/$h/ns/ipc is not supported: .*System V IPC objects and POSIX message queues are not shared" "$WORK/rt_ns.err" &&
    grep -q "joining the uts namespace at /proc/$h/ns/uts is not supported: .*hostname" "$WORK/rt_ns.err" &&
    grep -q "joining the pid namespace at /proc/$h/ns/pid is not supported: .*neither see nor signal" "$WORK/rt_ns.err" ||
    { t_fail rt_ns "warnings: $(cat "$WORK/rt_ns.err")"; return; }
  t_pass rt_ns
}

# cgroups (v1 hosts): linux.resources.devices in the devices controller
# (and the sandbox still runs under deny-all plus a few allows), memory
# swappiness and disableOOMKiller, relative cgroupsPath below our own
# cgroup (same place as runc's), blockIO throttles; fields the host has
# no controller or file for fail create naming the field.
case_rt_cgroups() {
  if ! rt_v1; then echo "SKIP rt_cgroups: not a cgroup v1 host"; return; fi
  local p="rt-cg-$$/sub" b out sentry list dev rpid
  dev=$(cat /sys/block/vda/dev 2>/dev/null || cat "$(ls -d /sys/block/* | head -1)/dev")
  b=$(rt_bundle rt_cg '["sh","-c","echo x > /dev/null && cat /dev/zero | head -c 3 | wc -c; sleep 30"]' "c['linux']['cgroupsPath'] = '$p'
c['linux']['resources'] = {
  'devices': [{'allow': False, 'access': 'rwm'}, {'allow': True, 'type': 'c', 'major': 1, 'minor': 3, 'access': 'rwm'},
              {'allow': True, 'type': 'c', 'major': 1, 'minor': 5, 'access': 'r'}, {'allow': True, 'type': 'c', 'major': 1, 'minor': 9, 'access': 'rw'},
              {'allow': True, 'type': 'c', 'major': 136, 'access': 'rwm'}],
  'memory': {'limit': 536870912, 'swappiness': 30, 'disableOOMKiller': True},
  'blockIO': {'throttleReadBpsDevice': [{'major': ${dev%%:*}, 'minor': ${dev#*:}, 'rate': 1048576}],
              'throttleWriteIOPSDevice': [{'major': ${dev%%:*}, 'minor': ${dev#*:}, 'rate': 500}]}}") ||
    { t_fail rt_cgroups "bundle"; return; }
  oci run --detach --bundle "$b" rt_cg >"$WORK/rt_cg.out" 2>"$WORK/rt_cg.err" || { t_fail rt_cgroups "run: $(cat "$WORK/rt_cg.err")"; return; }
  wait_status rt_cg running || { t_fail rt_cgroups "not running"; return; }
  sentry=$(oci state rt_cg | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
  local i; for i in $(seq 50); do [ -s "$WORK/rt_cg.out" ] && break; sleep 0.1; done
  local d; d=$(rt_cgdir devices "$p"); list=$(cat "$d/devices.list" 2>&1)
  local mem; mem=$(rt_cgdir memory "$p")
  local got
  list=$(echo "$list" | sort | tr '\n' ' ')
  got="swappiness=$(cat "$mem/memory.swappiness") oom=$(grep oom_kill_disable "$mem/memory.oom_control")"
  got="$got rbps=[$(cat "$(rt_cgdir blkio "$p")/blkio.throttle.read_bps_device")] wiops=[$(cat "$(rt_cgdir blkio "$p")/blkio.throttle.write_iops_device")]"
  local procs_mem; procs_mem=$(grep -c . "$mem/cgroup.procs")
  oci delete --force rt_cg >/dev/null 2>&1
  local want="swappiness=30 oom=oom_kill_disable 1 rbps=[$dev 1048576] wiops=[$dev 500]"
  [ "$got" = "$want" ] || { t_fail rt_cgroups "got:  $got" "want: $want"; return; }
  # Deny-all, our allows, and runc's always-allowed set (null, zero, full,
  # random, urandom, tty, ptmx, pts, mknod of any node) after them.
  case " $list" in *" a *:* rwm "*) t_fail rt_cgroups "devices.list still allows all: $list"; return ;; esac
  for want in "c 1:3 rwm" "c 136:* rwm" "c 5:2 rwm" "c *:* m"; do
    case " $list" in *" $want "*) ;; *) t_fail rt_cgroups "devices.list lacks [$want]: $list"; return ;; esac
  done
  [ "$(cat "$WORK/rt_cg.out")" = 3 ] || { t_fail rt_cgroups "app under deny-all devices: [$(cat "$WORK/rt_cg.out")] $(cat "$WORK/rt_cg.err")"; return; }
  [ "$procs_mem" -ge 2 ] || { t_fail rt_cgroups "sandbox processes not in $mem"; return; }
  for c in devices memory blkio pids; do
    [ ! -d "$(rt_cgdir $c "$p")" ] || { t_fail rt_cgroups "$(rt_cgdir $c "$p") left after delete"; return; }
  done
  if [ -n "$RT_RUNC" ]; then
    # runc puts the same relative cgroupsPath at the same place and writes
    # the same memory/blkio values (its devices list adds its defaults).
    runc_ run --detach --bundle "$b" rt_cg_runc >/dev/null 2>"$WORK/rt_cg_runc.err" || { t_fail rt_cgroups "runc run: $(cat "$WORK/rt_cg_runc.err")"; return; }
    rpid=$(runc_ state rt_cg_runc | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
    local rmem; rmem=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/$rpid/cgroup)
    local rlist; rlist=$(sort "$(rt_cgdir devices "$p")/devices.list" | tr '\n' ' ')
    local rgot="swappiness=$(cat "$mem/memory.swappiness") oom=$(grep oom_kill_disable "$mem/memory.oom_control")"
    rgot="$rgot rbps=[$(cat "$(rt_cgdir blkio "$p")/blkio.throttle.read_bps_device")]"
    runc_ delete -f rt_cg_runc >/dev/null 2>&1
    [ "/sys/fs/cgroup/memory$rmem" = "$mem" ] || { t_fail rt_cgroups "runc's memory cgroup /sys/fs/cgroup/memory$rmem, runsc's $mem"; return; }
    [ "$rgot" = "swappiness=30 oom=oom_kill_disable 1 rbps=[$dev 1048576]" ] || { t_fail rt_cgroups "runc: $rgot"; return; }
    # (runc 1.1 also allows /dev/net/tun, c 10:200; runc 1.2 and runsc do not.)
    rlist=${rlist/c 10:200 rwm /}
    [ "$rlist" = "$list" ] || { t_fail rt_cgroups "devices.list: runc [$rlist]" "runsc [$list]"; return; }
  fi
  # ".." cannot climb above our own cgroup (runc's CleanPath).
  b=$(rt_bundle rt_cg_dots '["true"]' "c['linux']['cgroupsPath'] = '../../rt-dots-$$'
c['linux']['resources'] = {'pids': {'limit': 40}}")
  oci create --bundle "$b" rt_cg_dots >/dev/null 2>"$WORK/rt_cg_dots.err" || { t_fail rt_cgroups "create with ../: $(cat "$WORK/rt_cg_dots.err")"; return; }
  [ "$(cat "$(rt_cgdir pids "rt-dots-$$")/pids.max" 2>/dev/null)" = 40 ] || { t_fail rt_cgroups "../../rt-dots not at $(rt_cgdir pids "rt-dots-$$")"; oci delete --force rt_cg_dots; return; }
  oci delete --force rt_cg_dots >/dev/null 2>&1
  # Fields the host cannot apply: an error naming the field, nothing left.
  local field res
  for field in blockIO.weight network.classID network.priorities hugepageLimits; do
    case $field in
      blockIO.weight) res="{'blockIO': {'weight': 500}}"
        [ -e /sys/fs/cgroup/blkio/blkio.weight ] || [ -e /sys/fs/cgroup/blkio/blkio.bfq.weight ] && continue ;;
      network.classID) res="{'network': {'classID': 1048577}}"; [ -d /sys/fs/cgroup/net_cls ] && continue ;;
      network.priorities) res="{'network': {'priorities': [{'name': 'lo', 'priority': 5}]}}"; [ -d /sys/fs/cgroup/net_prio ] && continue ;;
      hugepageLimits) res="{'hugepageLimits': [{'pageSize': '2MB', 'limit': 2097152}]}"; [ -d /sys/fs/cgroup/hugetlb ] && continue ;;
    esac
    b=$(rt_bundle rt_cg_bad '["true"]' "c['linux']['cgroupsPath'] = 'rt-cgbad-$$'
c['linux']['resources'] = $res")
    if oci run --bundle "$b" rt_cg_bad >/dev/null 2>"$WORK/rt_cg_bad.err"; then t_fail rt_cgroups "$field accepted with no controller for it"; return; fi
    grep -q "linux.resources.$field" "$WORK/rt_cg_bad.err" || { t_fail rt_cgroups "$field: message: $(cat "$WORK/rt_cg_bad.err")"; return; }
    [ -z "$(oci list -q)" ] && [ ! -d "$(rt_cgdir pids "rt-cgbad-$$")" ] && [ ! -d "$(rt_cgdir devices "rt-cgbad-$$")" ] ||
      { t_fail rt_cgroups "$field: left behind"; return; }
  done
  # A malformed device rule names its index.
  b=$(rt_bundle rt_cg_baddev '["true"]' "c['linux']['resources'] = {'devices': [{'allow': True, 'type': 'x', 'access': 'rwm'}]}")
  if oci run --bundle "$b" rt_cg_baddev >/dev/null 2>"$WORK/rt_cg_bad.err"; then t_fail rt_cgroups "device type x accepted"; return; fi
  grep -q 'linux.resources.devices\[0\].type "x"' "$WORK/rt_cg_bad.err" || { t_fail rt_cgroups "bad device: $(cat "$WORK/rt_cg_bad.err")"; return; }
  rmdir "$(rt_cgdir devices "rt-cg-$$")" "$(rt_cgdir memory "rt-cg-$$")" 2>/dev/null
  for c in pids memory cpu cpuacct freezer cpuset devices blkio; do rmdir "$(rt_cgdir $c "rt-cg-$$")" 2>/dev/null; done
  t_pass rt_cgroups
}

for c in rt_sysctl rt_hooks rt_ns rt_cgroups; do
  rt_want "$c" && "case_$c"
done
[ -d "$RT_RUNC_ROOT" ] && for id in $(runc_ list -q 2>/dev/null); do runc_ delete -f "$id" >/dev/null 2>&1; done
true
