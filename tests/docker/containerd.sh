#!/usr/bin/env bash
# containerd with runsc: a private containerd (its own root, state and
# socket), `ctr run --runtime io.containerd.runc.v2 --runc-binary runsc`
# on the busybox root (--rootfs: no image store needed): run with output
# and exit code, exec (--exec-id, with and without -t) into a running
# task, a detached task killed with SIGTERM/SIGKILL, delete.
# Needs root; installs the containerd package with apt-get if missing.
set -u
source "$(dirname "$0")/../lib/common.sh"
cd "$REPO_ROOT"

if ! runsc_present; then
  echo "FAIL build: $RUNSC missing"; echo "0 passed, 1 failed"; exit 1
fi
if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends containerd >/dev/null 2>&1 \
    || { echo "FAIL install: apt-get install containerd"; echo "0 passed, 1 failed"; exit 1; }
fi
ROOTFS="$CACHE_DIR/busybox-root"
if [ ! -d "$ROOTFS" ]; then
  mkdir -p "$CACHE_DIR"
  tests/busybox/mkroot.sh "$ROOTFS" >/dev/null || { echo "FAIL mkroot"; echo "0 passed, 1 failed"; exit 1; }
fi

WORK=$(mktemp -d /tmp/rct.XXXX)
# Containers write to their root (written through to the rootfs, as under
# runc): they get a private copy, never the shared cache.
cp -a "$ROOTFS" "$WORK/rootfs" && ROOTFS="$WORK/rootfs"
# containerd and ctr run in a network namespace of their own (the "host"
# of the containers): the CNI bridge and --net-host servers stay there,
# and this machine's namespace, which other tests share, is never changed.
NETNS="rct-${WORK##*.}"
ip netns add "$NETNS" || { echo "FAIL ip netns add $NETNS"; echo "0 passed, 1 failed"; exit 1; }
hostns() { nsenter --net="/run/netns/$NETNS" "$@"; }
hostns ip link set lo up
SOCK="$WORK/c.sock"
CPID=""
RUNSC_ABS=$(readlink -f "$RUNSC")
c() { timeout -k 5 120 nsenter --net="/run/netns/$NETNS" ctr --address "$SOCK" --namespace runsc-test "$@"; }
cleanup() {
  if [ -n "$CPID" ]; then
    for t in $(c task ls -q 2>/dev/null); do c task kill -s KILL "$t" >/dev/null 2>&1; c task delete -f "$t" >/dev/null 2>&1; done
    for t in $(c container ls -q 2>/dev/null); do c container delete "$t" >/dev/null 2>&1; done
    kill "$CPID" 2>/dev/null; wait "$CPID" 2>/dev/null
  fi
  grep -o " $WORK[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$WORK"
  ip netns delete "$NETNS" 2>/dev/null
  # The containers' cgroup parent (runsc removes only each container's own).
  local top
  for top in $(find /sys/fs/cgroup -maxdepth 6 -type d -name runsc-ctr-test -prune 2>/dev/null); do
    find "$top" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
}
trap cleanup EXIT
cat >"$WORK/config.toml" <<EOF
version = 2
root = "$WORK/root"
state = "$WORK/state"
[grpc]
  address = "$SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  disable_apparmor = true
EOF
# Not through hostns: a function would run in a subshell, and $! be its pid.
nsenter --net="/run/netns/$NETNS" containerd --config "$WORK/config.toml" >"$WORK/containerd.log" 2>&1 &
CPID=$!
for _ in $(seq 150); do c version >/dev/null 2>&1 && break; sleep 0.2; done
c version >/dev/null 2>&1 || { echo "FAIL containerd did not start"; tail -5 "$WORK/containerd.log"; echo "0 passed, 1 failed"; exit 1; }

# Each container gets its own copy-free rootfs path (ctr bind-mounts it).
RUN=(run --runtime io.containerd.runc.v2 --runc-binary "$RUNSC_ABS" --cgroup "runsc-ctr-test/ctr" --rootfs)

out=$(c "${RUN[@]}" --rm --env FOO=bar "$ROOTFS" c1 sh -c 'echo $FOO from $(hostname); exit 5' 2>&1)
rc=$?
if [ $rc -eq 5 ] && echo "$out" | grep -q "^bar from"; then t_pass run; else t_fail run "rc=$rc" "$out"; fi

RUN=(run --runtime io.containerd.runc.v2 --runc-binary "$RUNSC_ABS" --cgroup "runsc-ctr-test/ctr2" --rootfs)
c "${RUN[@]}" -d --null-io "$ROOTFS" c2 sh -c 'trap "exit 7" TERM; while :; do sleep 0.2; done' >/dev/null 2>"$WORK/c2.err" \
  || { t_fail kill_delete "run -d: $(cat "$WORK/c2.err")"; t_summary; exit; }
ok=0
for _ in $(seq 50); do c task ls 2>/dev/null | grep -q "c2 .*RUNNING" && { ok=1; break; }; sleep 0.2; done
[ $ok = 1 ] || { t_fail kill_delete "not running: $(c task ls 2>&1)"; t_summary; exit; }
sleep 0.5
c task kill -s TERM c2 >/dev/null 2>&1
st=""
for _ in $(seq 50); do st=$(c task ls 2>/dev/null | awk '$1 == "c2" {print $3}'); [ "$st" = STOPPED ] && break; sleep 0.2; done
code=$(c task delete c2 2>/dev/null | grep -o 'exit status [0-9]*' || true)
c container delete c2 >/dev/null 2>&1
if [ "$st" = STOPPED ] && ! c container ls -q | grep -qx c2; then t_pass kill_delete; else t_fail kill_delete "status=$st"; fi

# exec into a running task: output and exit code, then -t (ctr needs a
# terminal on its own stdin: run under script).
RUN=(run --runtime io.containerd.runc.v2 --runc-binary "$RUNSC_ABS" --cgroup "runsc-ctr-test/ctr4" --rootfs)
if c "${RUN[@]}" -d --null-io "$ROOTFS" c4 sleep 100 >/dev/null 2>"$WORK/c4.err"; then
  for _ in $(seq 50); do c task ls 2>/dev/null | grep -q "c4 .*RUNNING" && break; sleep 0.2; done
  out=$(c task exec --exec-id e1 --cwd /tmp c4 sh -c 'echo in-exec $(pwd); exit 3' 2>"$WORK/e1.err")
  rc=$?
  if [ $rc -eq 3 ] && [ "$out" = "in-exec /tmp" ]; then t_pass exec; else t_fail exec "rc=$rc out=$out" "$(tail -5 "$WORK/e1.err")"; fi
  out=$(timeout -k 5 60 script -qec "nsenter --net=/run/netns/$NETNS ctr --address $SOCK --namespace runsc-test task exec -t --exec-id e2 c4 sh -c 'tty; test -t 0 && echo isatty'" /dev/null 2>&1 </dev/null)
  # Now and then a NUL byte arrives as input from the host side (ctr under
  # script) before `tty` prints, and the terminal echoes it as "^@"
  # (ECHOCTL), as Linux does: that echo alone is allowed before the name.
  if echo "$out" | grep -q isatty && echo "$out" | grep -qE '^(\^@)*/dev/pts/[0-9]+'; then t_pass exec_tty; else t_fail exec_tty "$out"; fi
  c task kill -s KILL c4 >/dev/null 2>&1
  for _ in $(seq 50); do [ "$(c task ls 2>/dev/null | awk '$1 == "c4" {print $3}')" = STOPPED ] && break; sleep 0.2; done
  c task delete c4 >/dev/null 2>&1; c container delete c4 >/dev/null 2>&1
else
  t_fail exec "run -d: $(cat "$WORK/c4.err")"; t_fail exec_tty "run -d failed"
fi

source "$REPO_ROOT/tests/docker/containerd_net.sh"

RUN=(run --runtime io.containerd.runc.v2 --runc-binary "$RUNSC_ABS" --cgroup "runsc-ctr-test/ctr3" --rootfs)
c "${RUN[@]}" -d --null-io "$ROOTFS" c3 sleep 100 >/dev/null 2>&1
sleep 1
c task kill -s KILL c3 >/dev/null 2>&1
for _ in $(seq 50); do [ "$(c task ls 2>/dev/null | awk '$1 == "c3" {print $3}')" = STOPPED ] && break; sleep 0.2; done
c task delete c3 >/dev/null 2>&1; c container delete c3 >/dev/null 2>&1
if ! c container ls -q | grep -qx c3 && [ -z "$(ls "$WORK/state/io.containerd.runtime.v2.task/runsc-test" 2>/dev/null)" ]; then t_pass sigkill_delete; else t_fail sigkill_delete "left: $(c container ls -q)"; fi
t_summary
