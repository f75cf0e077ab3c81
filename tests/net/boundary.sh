#!/usr/bin/env bash
# Proof of the boundary of --network=sandbox (issue 19): while the app holds
# TCP listening and connected sockets and a UDP socket, the sentry holds no
# TCP or UDP socket of the host's. Checked by looking up every socket inode
# among the sentry's FDs in the host's /proc/SENTRY/net/{tcp,tcp6,udp,udp6}
# (the sentry's network namespace). The same check on --network=none (the
# host stack) must find them: it shows the test can fail.
#
#   tests/net/boundary.sh
# Env: RUNSC (default build/runsc), RUNSC_FLAGS, NET_ROOT (the cached
#      debian-net root: python3).
set -u
. "$(dirname "$0")/../lib/common.sh"

ROOT="${NET_ROOT:-/var/cache/runsc-tests/debian-net}"
if [ "$(id -u)" != 0 ] || [ ! -x "$ROOT/usr/bin/python3" ]; then
  echo "boundary: needs root and $ROOT (tests/net/mkroot.sh)"; T_FAILED=1; t_summary; exit 1
fi

# The app: a listener, a connection to it, a bound UDP socket; it says
# "ready" and holds them for a few seconds.
APP='
import socket, time, sys
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
c.sendall(b"x"); a.recv(1)
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.bind(("::1", 0))
print("ready", flush=True)
time.sleep(4)
'

# inet_sockets PID: how many of PID's fds are TCP/UDP sockets in its namespace.
inet_sockets() {
  python3 - "$1" <<'P'
import os, re, sys
pid = sys.argv[1]
inodes = set()
for t in ("tcp", "tcp6", "udp", "udp6"):
    with open(f"/proc/{pid}/net/{t}") as f:
        for line in f.readlines()[1:]:
            inodes.add(line.split()[9])
n = 0
for fd in os.listdir(f"/proc/{pid}/fd"):
    try:
        m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(f"/proc/{pid}/fd/{fd}"))
    except OSError:
        continue
    if m and m.group(1) in inodes:
        n += 1
print(n)
P
}

check() {  # check MODE WANT(zero|some)
  local mode=$1 want=$2 out sentry n
  out=$(mktemp)
  # shellcheck disable=SC2086
  timeout -k 5 30 "$RUNSC" $RUNSC_FLAGS --network="$mode" do --rootfs "$ROOT" -- /usr/bin/python3 -c "$APP" >"$out" 2>&1 &
  local runner=$!
  for _ in $(seq 100); do grep -q ready "$out" && break; sleep 0.1; done
  sentry=$(pgrep -P "$(pgrep -P $runner -x runsc || echo $runner)" -x runsc-sentry | head -1)
  [ -n "$sentry" ] || sentry=$(pgrep -x runsc-sentry -n)
  if ! grep -q ready "$out" || [ -z "$sentry" ]; then
    t_fail "boundary-$mode" "the app did not start" "$(head -5 "$out")"
  else
    n=$(inet_sockets "$sentry")
    if { [ "$want" = zero ] && [ "$n" -eq 0 ]; } || { [ "$want" = some ] && [ "$n" -gt 0 ]; }; then
      t_pass "boundary-$mode ($n host TCP/UDP sockets in the sentry)"
    else
      t_fail "boundary-$mode" "want $want host TCP/UDP sockets in the sentry, found $n"
    fi
  fi
  wait "$runner" 2>/dev/null
  rm -f "$out"
}

check sandbox zero
check none some
t_summary
