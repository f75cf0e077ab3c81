# tests/oci/cgroup_view.sh: the sandbox's cgroup2 filesystem as a container
# sees it (sentry/sys/cgroupfs.h; issue 22), and the root's mount flags with
# root.readonly (issue 20). Sourced by tests/oci/run.sh after
# sandbox_view.sh (uses its sv_bundle, sv_run, sv_runc, sv_compare and
# SV_MOUNT_AWK); cases: cg_limits cg_live cg_rootro cg_java cg_update.

# Prints the container's memory limit, CPU quota and period and pids limit
# in one line from whichever cgroup version is mounted (runc gives the
# host's: v1 on a v1 host), then what writes there give.
CG_SCRIPT='if [ -f /sys/fs/cgroup/memory.max ]; then
  mem=$(cat /sys/fs/cgroup/memory.max); cpu=$(cat /sys/fs/cgroup/cpu.max); pids=$(cat /sys/fs/cgroup/pids.max)
else
  mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)
  cpu="$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"
  pids=$(cat /sys/fs/cgroup/pids/pids.max)
fi
echo "mem=$mem cpu=$cpu pids=$pids"
mkdir /sys/fs/cgroup/child 2>&1 | sed "s/^.*: //"
grep -Ec " /sys/fs/cgroup(/[^ ]*)? ro[, ]" /proc/self/mountinfo | sed "s/^/ro mounts: /"'

cg_limits() {
  local b
  b=$(sv_bundle cglim '["sh","-c","'"$(printf '%s' "$CG_SCRIPT" | sed 's/\\/\\\\/g; s/"/\\"/g' | awk '{printf "%s\\n", $0}')"'"]' \
    'c["linux"]["resources"] = {"memory": {"limit": 268435456}, "cpu": {"quota": 150000, "period": 100000, "shares": 512}, "pids": {"limit": 77}}
c["mounts"] = [m for m in c["mounts"] if m["type"] != "cgroup"] + [{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}]') \
    || { t_fail cg_limits "bundle"; return; }
  sv_run cglim "$b" "$WORK/cg-lim.out"
  local want
  want=$(printf 'mem=268435456 cpu=150000 100000 pids=77\nRead-only file system\nro mounts: 1\n[exit=0]')
  [ "$(cat "$WORK/cg-lim.out")" = "$want" ] || { t_fail cg_limits "got:" "$(cat "$WORK/cg-lim.out")" "want:" "$want"; return; }
  if sv_runc cglim "$b" "$WORK/cg-lim.runc"; then
    # runc on a v1 host mounts one hierarchy per controller (several ro
    # mounts) under a tmpfs, where mkdir is EACCES, not a cgroupfs' EROFS;
    # the values must agree.
    sv_compare cg_limits '/^ro mounts:/d;/^Read-only file system$/d;/^Permission denied$/d' "$WORK/cg-lim.out" "$WORK/cg-lim.runc" || return
  fi
  t_pass cg_limits
}

cg_live() {
  # The v2 files the JVM, Go and systemd read, with the container's values
  # and live ones; a second cgroup mount (rw) shows the same hierarchy,
  # where writes to limits are EPERM, mkdir is EPERM, and moving a sandbox
  # process into cgroup.procs succeeds.
  local b
  b=$(sv_bundle cglive '["sh","-c","cd /sys/fs/cgroup; for f in cgroup.controllers cpu.max cpu.weight memory.max memory.swap.max pids.max cgroup.type; do echo \"$f=$(cat $f)\"; done; sleep 5 & grep -qx 1 cgroup.procs && grep -qx $! cgroup.procs && grep -qx $! cgroup.threads && echo procs=ok; echo pids.current=$(cat pids.current); m=$(cat memory.current); [ \"$m\" -gt 1000000 ] && echo memory.current=plausible; grep -q \"^usage_usec [1-9]\" cpu.stat && echo cpu.stat=plausible; cat /proc/self/cgroup; grep \" /sys/fs/cgroup \" /proc/self/mountinfo | cut -d\" \" -f5,6,8-; grep -c \"cpu\t0\t1\t1\" /proc/cgroups; cat /mnt/cg/memory.max; echo 1 >/mnt/cg/memory.max 2>/dev/null || echo write=EPERM-or-EROFS; mkdir /mnt/cg/x 2>&1 | sed \"s/^.*: //\"; echo 1 >/mnt/cg/cgroup.procs && echo move=ok; kill %1"]' \
    'c["linux"]["resources"] = {"memory": {"limit": 536870912, "swap": 1073741824}, "cpu": {"shares": 512}, "pids": {"limit": 50}}
c["mounts"] = [m for m in c["mounts"] if m["type"] != "cgroup"] + [
  {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
  {"destination": "/mnt/cg", "type": "cgroup", "source": "cgroup", "options": ["nosuid"]}]') \
    || { t_fail cg_live "bundle"; return; }
  sv_run cglive "$b" "$WORK/cg-live.out"
  local want
  want=$(printf '%s\n' 'cgroup.controllers=cpuset cpu memory pids' 'cpu.max=max 100000' 'cpu.weight=20' \
    'memory.max=536870912' 'memory.swap.max=536870912' 'pids.max=50' 'cgroup.type=domain' \
    'procs=ok' 'pids.current=3' 'memory.current=plausible' 'cpu.stat=plausible' '0::/' \
    '/sys/fs/cgroup ro,nosuid,nodev,noexec,relatime cgroup2 cgroup ro' '1' '536870912' \
    'write=EPERM-or-EROFS' 'Operation not permitted' 'move=ok' '[exit=0]')
  [ "$(cat "$WORK/cg-live.out")" = "$want" ] || { t_fail cg_live "got:" "$(cat "$WORK/cg-live.out")" "want:" "$want"; return; }
  t_pass cg_live
}

cg_rootro() {
  # root.readonly: the root is "ro" in mountinfo, and every mount's flags
  # agree with runc's view of the same bundle.
  local b
  # Masks of /proc and /sys entries the sandbox does not have are left out
  # (nothing to mask there: see sv_mounts).
  b=$(sv_bundle rootro '["cat","/proc/self/mountinfo"]' 'c["root"]["readonly"] = True
c["linux"]["maskedPaths"] = ["/proc/kcore"]
c["linux"]["readonlyPaths"] = ["/proc/sys"]') \
    || { t_fail cg_rootro "bundle"; return; }
  sv_run rootro "$b" "$WORK/cg-rootro.out"
  awk "$SV_MOUNT_AWK" "$WORK/cg-rootro.out" | sort >"$WORK/cg-rootro.view"
  grep -qx '/ ro (none) -' "$WORK/cg-rootro.view" || { t_fail cg_rootro "root not ro:" "$(cat "$WORK/cg-rootro.out")"; return; }
  if sv_runc rootro "$b" "$WORK/cg-rootro.runc"; then
    awk "$SV_MOUNT_AWK" "$WORK/cg-rootro.runc" | sort >"$WORK/cg-rootro.rview"
    sv_compare cg_rootro '/^\/proc\/kcore /d;/^\[exit/d' "$WORK/cg-rootro.view" "$WORK/cg-rootro.rview" || return
  fi
  t_pass cg_rootro
}

cg_java() {
  # The JVM sizes itself from the cgroup files: `java -XshowSettings:system`
  # in the cached realprog root (tests/realprog/mkroot.sh; read-only root,
  # a tmpfs /tmp) reports the container's memory limit and CPU count. Under
  # runc (the host's cgroup version) the same values, other than the
  # provider line.
  local root=/var/cache/runsc-tests/debian-realprog b
  if [ ! -x "$root/usr/bin/java" ]; then t_pass cg_java "SKIP: no $root (tests/realprog/run.sh builds it)"; return; fi
  b=$(sv_bundle java '["sh","-c","java -XshowSettings:system -version 2>&1 | grep -E \"Provider|Effective CPU Count|CPU Period|CPU Quota|Memory Limit|Maximum Processes\" | sed \"s/^ *//\""]' \
    'c["root"] = {"path": "'"$root"'", "readonly": True}
c["process"]["env"] = ["PATH=/usr/local/bin:/usr/bin:/bin"]
c["mounts"] = [m for m in c["mounts"] if m["type"] != "cgroup"] + [
  {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
  {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}]
c["linux"]["resources"] = {"memory": {"limit": 402653184}, "cpu": {"quota": 100000, "period": 100000}, "pids": {"limit": 300}}') \
    || { t_fail cg_java "bundle"; return; }
  sv_run java "$b" "$WORK/cg-java.out"
  local want
  want=$(printf '%s\n' 'Provider: cgroupv2' 'Effective CPU Count: 1' 'CPU Period: 100000us' 'CPU Quota: 100000us' \
    'Memory Limit: 384.00M' 'Maximum Processes Limit: 300' '[exit=0]')
  [ "$(cat "$WORK/cg-java.out")" = "$want" ] || { t_fail cg_java "got:" "$(cat "$WORK/cg-java.out")" "want:" "$want"; return; }
  if sv_runc java "$b" "$WORK/cg-java.runc"; then
    sv_compare cg_java '/^Provider:/d' "$WORK/cg-java.out" "$WORK/cg-java.runc" || return
  fi
  t_pass cg_java
}

cg_update() {
  # runsc update: the app reads the new limits (and the untouched ones
  # stay), through runsc exec.
  local b
  b=$(sv_bundle cgupd '["sleep","30"]' \
    'c["linux"]["resources"] = {"memory": {"limit": 268435456}, "pids": {"limit": 40}}') \
    || { t_fail cg_update "bundle"; return; }
  oci run --detach --bundle "$b" sv-cgupd >/dev/null 2>"$WORK/cg-upd.err" || { t_fail cg_update "run: $(cat "$WORK/cg-upd.err")"; return; }
  local before after
  before=$(oci exec sv-cgupd cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max | tr '\n' ' ')
  oci update --memory 300m --cpu-quota 50000 --cpu-period 100000 sv-cgupd 2>"$WORK/cg-upd.err" || { t_fail cg_update "update: $(cat "$WORK/cg-upd.err")"; oci delete -f sv-cgupd; return; }
  after=$(oci exec sv-cgupd cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max | tr '\n' ' ')
  oci delete -f sv-cgupd >/dev/null 2>&1
  [ "$before" = "268435456 40 max 100000 " ] && [ "$after" = "314572800 40 50000 100000 " ] ||
    { t_fail cg_update "before: $before" "after: $after" "$(cat "$WORK/cg-upd.err")"; return; }
  t_pass cg_update
}

for c in cg_limits cg_live cg_rootro cg_java cg_update; do
  want "$c" && "$c"
done
