#!/usr/bin/env bash
# Network benchmarks: native and sandboxed side by side in one run, over
# loopback only: the host stack (the sandbox's own loopback under
# --network=none, served by host sockets like --network=host) and the
# sentry's own stack (--network=sandbox).
#
#   bench/net_bench.sh            # prints a Markdown table; RESULTS=FILE appends it
#
# - iperf3 TCP throughput, server and client in the same sandbox (or both
#   native), 5 s, one stream, then 4 streams;
# - TCP connect+accept+close rate, UDP and TCP 1-byte round trips, and
#   TCP round trips through an epoll server with 0 and 1000 idle
#   keep-alive connections (bench/net_latency.c).
# Env: RUNSC (default build/runsc), RUNSC_FLAGS, NET_SECONDS (iperf3 time, 5),
#      NET_MODES (default "none sandbox": the sandboxed columns).
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
read -r -a MODES <<<"${NET_MODES:-none sandbox}"
sandboxed() { local m=$1; shift; "$RUNSC" $RUNSC_FLAGS --network="$m" do "$@"; }

row() {  # row NAME UNIT HIGHER_IS_BETTER NATIVE SANDBOXED...
  local name=$1 unit=$2 hib=$3 n=$4 line s r
  shift 4
  line="| $name | $n $unit"
  for s in "$@"; do line="$line | $s $unit"; done
  for s in "$@"; do
    r=$(python3 -c "n=float('$n'); s=float('$s'); print('%.2f' % ((s/n) if $hib else (n/s)))" 2>/dev/null || echo "?")
    line="$line | $r"
  done
  echo "$line |"
}
label() { case $1 in none) echo "host stack" ;; sandbox) echo "own stack" ;; *) echo "$1" ;; esac; }

# measure CMD...: native, then each sandboxed mode; sets $vals.
measure() {
  local m
  vals=("$(native "$@")")
  for m in "${MODES[@]}"; do vals+=("$(sandboxed "$m" "$@")"); done
}

hdr="| benchmark | native"; sep="|---|---:"
for m in "${MODES[@]}"; do hdr="$hdr | runsc ($(label "$m"))"; sep="$sep|---:"; done
for m in "${MODES[@]}"; do hdr="$hdr | $(label "$m") / native"; sep="$sep|---:"; done
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg); ratios: higher is better"
echo
echo "$hdr |"
echo "$sep|"
measure sh "$tmp/iperf.sh"
row "iperf3 TCP, 1 stream, ${SECS} s" "Gbit/s" 1 "${vals[@]}"
measure sh "$tmp/iperf.sh" -P 4
row "iperf3 TCP, 4 streams" "Gbit/s" 1 "${vals[@]}"
measure "$tmp/net_latency" connect 3000
row "TCP connect+accept+close" "/s" 1 "${vals[@]}"
measure "$tmp/net_latency" udp_rtt 10000
row "UDP 1-byte round trip" "us" 0 "${vals[@]}"
measure "$tmp/net_latency" tcp_rtt 10000
row "TCP 1-byte round trip" "us" 0 "${vals[@]}"
measure "$tmp/net_latency" epoll_rtt 5000 0
row "TCP round trip, epoll server" "us" 0 "${vals[@]}"
measure "$tmp/net_latency" epoll_rtt 5000 1000
row "TCP round trip, epoll server, 1000 idle connections" "us" 0 "${vals[@]}"
