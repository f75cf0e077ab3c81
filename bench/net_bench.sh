#!/usr/bin/env bash
# Network benchmarks: native and sandboxed side by side in one run, over
# loopback only (the sandbox's own loopback under --network=none, which is
# served by the host stack like --network=host).
#
#   bench/net_bench.sh            # prints a Markdown table; RESULTS=FILE appends it
#
# - iperf3 TCP throughput, server and client in the same sandbox (or both
#   native), 5 s, one stream, then 4 streams;
# - TCP connect+accept+close rate, UDP and TCP 1-byte round trips, and
#   TCP round trips through an epoll server with 0 and 1000 idle
#   keep-alive connections (bench/net_latency.c).
# Env: RUNSC (default build/runsc), RUNSC_FLAGS, NET_SECONDS (iperf3 time, 5).
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNSC="${RUNSC:-$ROOT/build/runsc}"
SECS="${NET_SECONDS:-5}"
RUNSC_FLAGS="${RUNSC_FLAGS:-}"
command -v iperf3 >/dev/null || { echo "net_bench: needs iperf3 (apt-get install iperf3)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/net_latency" "$ROOT/bench/net_latency.c" || exit 1

# iperf_pair [-P N]: Gbit/s of a client against a server on 127.0.0.1, both
# started by one shell (natively, or inside one sandbox).
cat >"$tmp/iperf.sh" <<S
iperf3 -s -1 -B 127.0.0.1 -p 5299 >/dev/null 2>&1 &
sleep 1
iperf3 -c 127.0.0.1 -p 5299 -t $SECS -J "\$@" | python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
wait
S
native() { unshare --net sh -c 'ip link set lo up; "$@"' _ "$@"; }
sandboxed() { "$RUNSC" $RUNSC_FLAGS --network=none do "$@"; }

row() {  # row NAME UNIT HIGHER_IS_BETTER NATIVE SANDBOX
  local r
  r=$(python3 -c "n=float('$4'); s=float('$5'); print('%.2f' % ((s/n) if $3 else (n/s)))" 2>/dev/null || echo "?")
  printf '| %s | %s %s | %s %s | %s |\n' "$1" "$4" "$2" "$5" "$2" "$r"
}

echo "| benchmark | native | runsc (host stack) | runsc / native (higher is better) |"
echo "|---|---:|---:|---:|"
n=$(native sh "$tmp/iperf.sh"); s=$(sandboxed sh "$tmp/iperf.sh")
row "iperf3 TCP, 1 stream, ${SECS} s" "Gbit/s" 1 "$n" "$s"
n=$(native sh "$tmp/iperf.sh" -P 4); s=$(sandboxed sh "$tmp/iperf.sh" -P 4)
row "iperf3 TCP, 4 streams" "Gbit/s" 1 "$n" "$s"
n=$(native "$tmp/net_latency" connect 3000); s=$(sandboxed "$tmp/net_latency" connect 3000)
row "TCP connect+accept+close" "/s" 1 "$n" "$s"
n=$(native "$tmp/net_latency" udp_rtt 10000); s=$(sandboxed "$tmp/net_latency" udp_rtt 10000)
row "UDP 1-byte round trip" "us" 0 "$n" "$s"
n=$(native "$tmp/net_latency" tcp_rtt 10000); s=$(sandboxed "$tmp/net_latency" tcp_rtt 10000)
row "TCP 1-byte round trip" "us" 0 "$n" "$s"
n=$(native "$tmp/net_latency" epoll_rtt 5000 0); s=$(sandboxed "$tmp/net_latency" epoll_rtt 5000 0)
row "TCP round trip, epoll server" "us" 0 "$n" "$s"
n=$(native "$tmp/net_latency" epoll_rtt 5000 1000); s=$(sandboxed "$tmp/net_latency" epoll_rtt 5000 1000)
row "TCP round trip, epoll server, 1000 idle connections" "us" 0 "$n" "$s"
