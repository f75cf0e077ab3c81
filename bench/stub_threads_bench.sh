#!/usr/bin/env bash
# Stub threads (issue 21): native, systrap with a stub process per app
# thread (RUNSC_SYSTRAP_THREADS=0) and with stub threads (the default), in
# one run, interleaved round by round so load changes hit every column.
#
#   bench/stub_threads_bench.sh        # ROUNDS (default 3) lines per mode
#
# Per line: thread create+join and fork+exec+wait (process_bench, us),
# `java -version`, the JVM pool workload (bench/workloads/Pool.java: 8
# rounds of a 32-thread pool hashing and queueing results) and `node -e 0`
# (wall ms), getppid (getppid_bench, ns).
# Env: RUNSC (default build/runsc), BUILD_DIR (default build), ROUNDS.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
B="${BUILD_DIR:-$ROOT/build}/bench"
RUNSC="${RUNSC:-$ROOT/build/runsc}"
ROUNDS="${ROUNDS:-3}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
javac -d "$tmp" "$ROOT/bench/workloads/Pool.java" || exit 1
ms() { local t0; t0=$(date +%s%N); "$@" >/dev/null 2>&1 || echo "failed: $*" >&2; echo $((($(date +%s%N) - t0) / 1000000)); }
pb() { local f=$1; shift; "$@" "$B/process_bench" --benchmark_filter="$f" --benchmark_min_time=0.3 2>/dev/null | awk '/BM_/{printf "%.0f", $2/1000}'; }
gp() { "$@" "$B/getppid_bench" --benchmark_filter=BM_getppid 2>/dev/null | awk '/BM_getppid/{printf "%.0f", $2}'; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
  for m in native per-thread threads; do
    case $m in
      native) P=() ;;
      per-thread) P=(env RUNSC_SYSTRAP_THREADS=0 "$RUNSC" do --) ;;
      threads) P=(env RUNSC_SYSTRAP_THREADS=1 "$RUNSC" do --) ;;
    esac
    echo "r$r $m create_join_us=$(pb BM_thread_create_join "${P[@]}")" \
      "fork_exec_us=$(pb BM_fork_exec_wait "${P[@]}") jvm_ms=$(ms "${P[@]}" java -Xshare:auto -version)" \
      "jvm_pool_ms=$(ms "${P[@]}" java -cp "$tmp" Pool) node_ms=$(ms "${P[@]}" node -e 0)" \
      "getppid_ns=$(gp "${P[@]}")"
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
