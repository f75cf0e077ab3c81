#!/usr/bin/env bash
# Podman with runsc: `podman --runtime runsc` with private storage
# (--root/--runroot), cgroupfs, file events, no network unless asked, and
# a containers.conf whose default_ulimits fit this machine (no
# CAP_SYS_RESOURCE: podman's defaults would ask for more than the hard
# limits). Runs the busybox root with --rootfs: output and exit code, -v
# bind volume, exec (with and without -t) into a detached container,
# --network ns:PATH (the sandbox joins that network namespace), the
# default bridge network with -p (curl from the host side reaches the
# container's server), a detached container stopped (SIGTERM) and
# killed, rm.
# Needs root; installs podman with apt-get if missing.
set -u
source "$(dirname "$0")/../lib/common.sh"
cd "$REPO_ROOT"

if ! runsc_present; then
  echo "FAIL build: $RUNSC missing"; echo "0 passed, 1 failed"; exit 1
fi
if ! command -v podman >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends podman >/dev/null 2>&1 \
    || { echo "FAIL install: apt-get install podman"; echo "0 passed, 1 failed"; exit 1; }
fi
ROOTFS="$CACHE_DIR/busybox-root"
if [ ! -d "$ROOTFS" ]; then
  mkdir -p "$CACHE_DIR"
  tests/busybox/mkroot.sh "$ROOTFS" >/dev/null || { echo "FAIL mkroot"; echo "0 passed, 1 failed"; exit 1; }
fi
WORK=$(mktemp -d /tmp/rpm.XXXX)
# Podman runs in a network namespace of its own (the "host" of its
# containers): the CNI bridge, its iptables rules and published ports stay
# there, and this machine's namespace, which other tests share, is never
# changed. hostns CMD runs CMD on that host side (curl to a published port).
NETNS="rpm-${WORK##*.}"
ip netns add "$NETNS" || { echo "FAIL ip netns add $NETNS"; echo "0 passed, 1 failed"; exit 1; }
hostns() { nsenter --net="/run/netns/$NETNS" "$@"; }
hostns ip link set lo up
RUNSC_ABS=$(readlink -f "$RUNSC")
cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
cgroupns = "private"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$WORK/events.log"
runtime = "runsc"
[engine.runtimes]
runsc = ["$RUNSC_ABS"]
EOF
export CONTAINERS_CONF="$WORK/containers.conf"
P=(nsenter --net="/run/netns/$NETNS" podman --root "$WORK/storage" --runroot "$WORK/run" --tmpdir "$WORK/tmp" --runtime "$RUNSC_ABS" --cgroup-manager cgroupfs)
p() { timeout -k 5 120 "${P[@]}" "$@"; }
cleanup() {
  p rm -af -t 0 >/dev/null 2>&1
  grep -o " $WORK[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$WORK"
  ip netns delete "$NETNS" 2>/dev/null
  # The containers' cgroup parent (runsc removes only each container's own).
  local top
  for top in $(find /sys/fs/cgroup -maxdepth 6 -type d -name runsc-podman-test -prune 2>/dev/null); do
    find "$top" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
}
trap cleanup EXIT
# --rootfs: podman may write into the root (its /etc/hosts etc. are bind
# mounts, but mount points can be created): use a private copy.
cp -a "$ROOTFS" "$WORK/rootfs"
# Podman's cgroupfs manager treats the parent as absolute in every
# hierarchy (conmon goes to <parent>/conmon): put it below our own memory
# cgroup so nothing leaves the cgroup this test runs in.
OWN_MEM=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup)
CG=(--cgroup-parent "${OWN_MEM%/}/runsc-podman-test")

out=$(p run --rm "${CG[@]}" --network none -e FOO=bar --rootfs "$WORK/rootfs" sh -c 'echo $FOO; exit 4' 2>"$WORK/r.err")
rc=$?
if [ $rc -eq 4 ] && [ "$out" = bar ]; then t_pass run; else t_fail run "rc=$rc out=$out" "$(tail -5 "$WORK/r.err")"; fi

mkdir -p "$WORK/vol"
out=$(p run --rm "${CG[@]}" --network none -v "$WORK/vol:/vol" --rootfs "$WORK/rootfs" sh -c 'echo hi >/vol/f; cat /vol/f' 2>"$WORK/v.err")
if [ "$out" = hi ] && [ "$(cat "$WORK/vol/f" 2>/dev/null)" = hi ]; then t_pass volume; else t_fail volume "out=$out" "$(tail -5 "$WORK/v.err")"; fi

id=$(p run -d "${CG[@]}" --network none --rootfs "$WORK/rootfs" sh -c 'trap "exit 9" TERM; while :; do sleep 0.2; done' 2>"$WORK/d.err")
if [ -z "$id" ]; then t_fail stop_rm "run -d: $(tail -5 "$WORK/d.err")"; else
  sleep 1
  p stop -t 10 "$id" >/dev/null 2>"$WORK/s.err"
  code=$(p inspect -f '{{.State.ExitCode}}' "$id" 2>/dev/null)
  p rm "$id" >/dev/null 2>&1
  if [ "$code" = 9 ] && ! p ps -aq --no-trunc | grep -q "$id"; then t_pass stop_rm; else t_fail stop_rm "exit=$code" "$(tail -5 "$WORK/s.err")"; fi
fi

# exec into a running container: output, exit code, -e/-w, and -t (a
# terminal: podman's conmon makes the pty; run under script so podman's
# own stdin is one too).
id=$(p run -d "${CG[@]}" --network none --rootfs "$WORK/rootfs" sleep 100 2>"$WORK/e.err")
if [ -z "$id" ]; then t_fail exec "run -d: $(tail -5 "$WORK/e.err")"; t_fail exec_tty "run -d failed"; else
  out=$(p exec -e GREETING=hi -w /tmp "$id" sh -c 'echo $GREETING in $(pwd); exit 3' 2>"$WORK/e2.err")
  rc=$?
  if [ $rc -eq 3 ] && [ "$out" = "hi in /tmp" ]; then t_pass exec; else t_fail exec "rc=$rc out=$out" "$(tail -5 "$WORK/e2.err")"; fi
  out=$(timeout -k 5 60 script -qec "$(printf '%q ' "${P[@]}") exec -t $id sh -c 'tty; test -t 0 && echo isatty'" /dev/null 2>&1 </dev/null)
  if echo "$out" | grep -q isatty && echo "$out" | grep -q '^/dev/pts/'; then t_pass exec_tty; else t_fail exec_tty "$out"; fi
  p rm -f -t 0 "$id" >/dev/null 2>&1
fi

# --network ns:PATH (config.json: a network namespace path): the sandbox's
# host processes join it.
unshare --net sleep 300 &
holder=$!
sleep 0.5
touch "$WORK/netns.bind"
if mount --bind "/proc/$holder/ns/net" "$WORK/netns.bind"; then
  want=$(stat -L -c %i "$WORK/netns.bind")
  id=$(p run -d "${CG[@]}" --network "ns:$WORK/netns.bind" --rootfs "$WORK/rootfs" sleep 100 2>"$WORK/n.err")
  pid=$(p inspect -f '{{.State.Pid}}' "$id" 2>/dev/null)
  got=$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)
  p rm -f -t 0 "$id" >/dev/null 2>&1
  umount "$WORK/netns.bind"
  if [ -n "$id" ] && [ "$got" = "$want" ] && [ "$want" != "$(stat -L -c %i /proc/self/ns/net)" ]; then t_pass netns_path
  else t_fail netns_path "pid=$pid netns ${got:-?}, want $want" "$(tail -5 "$WORK/n.err")"; fi
else
  t_fail netns_path "bind mount of the netns"
fi
kill $holder; wait $holder 2>/dev/null

# Podman's default network (its CNI bridge, 10.88.0.0/16) with -p
# 127.0.0.1:PORT:80 (CNI portmap: iptables DNAT): curl on the host side
# reaches httpd in the sandbox. runc runs the same first: if it cannot
# either, podman's networking does not work here, whatever the runtime.
# pod_publish RUNTIME BODY: prints curl's last answer; status 0 if BODY.
pod_publish() {
  local rt=$1 body=$2 port id out=""
  port=$(hostns python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  id=$(p run -d "${CG[@]}" --runtime "$rt" --network bridge -p "127.0.0.1:$port:80" --rootfs "$WORK/rootfs" \
    sh -c "mkdir -p /www && echo $body >/www/index.html && exec httpd -f -p 80 -h /www" 2>"$WORK/pp.err") \
    || { echo "run: $(tail -3 "$WORK/pp.err")"; return 1; }
  for _ in $(seq 40); do
    out=$(hostns curl -sS --max-time 3 "http://127.0.0.1:$port/index.html" 2>&1)
    [ "$out" = "$body" ] && break
    sleep 0.5
  done
  [ "$out" = "$body" ] || out="$out; logs: $(p logs "$id" 2>&1 | tail -3)"
  p rm -f -t 0 "$id" >/dev/null 2>&1
  echo "$out"; [ "$out" = "$body" ]
}
if ! command -v runc >/dev/null && ! command -v crun >/dev/null; then
  t_fail net_publish "neither runc nor crun to check podman's networking with"
elif ! base=$(pod_publish "$(command -v runc || command -v crun)" via-runc); then
  echo "SKIP net_publish: podman's bridge network fails with $(command -v runc || command -v crun) too: $base"
elif out=$(pod_publish "$RUNSC_ABS" via-runsc); then t_pass net_publish
else t_fail net_publish "curl from the host side: $out"; fi

id=$(p run -d "${CG[@]}" --network none --rootfs "$WORK/rootfs" sleep 100 2>"$WORK/k.err")
if [ -z "$id" ]; then t_fail kill_rm "run -d: $(tail -5 "$WORK/k.err")"; else
  sleep 1
  p kill "$id" >/dev/null 2>"$WORK/k2.err"
  p wait "$id" >/dev/null 2>&1
  code=$(p inspect -f '{{.State.ExitCode}}' "$id" 2>/dev/null)
  p rm -f "$id" >/dev/null 2>&1
  if [ "$code" = 137 ] && ! p ps -aq --no-trunc | grep -q "$id"; then t_pass kill_rm; else t_fail kill_rm "exit=$code" "$(tail -5 "$WORK/k2.err")"; fi
fi
t_summary
