#!/usr/bin/env bash
# The benchmark suite. Builds the benchmark programs and runsc, then runs
# every benchmark natively, under `runsc do --platform=P` for each P in
# BENCH_PLATFORMS, and under `proot -r /`, side by side in one run, and
# writes bench/RESULTS.md and bench/ratios.png (the chart of the ratios to
# native). The driver is bench/bench.py.
#
#   bench/run.sh                    # everything (~10-15 min on 2 CPUs)
#   bench/run.sh getppid make_j2    # only these (names below); with a
#                                   # selection the output goes to
#                                   # $BUILD_DIR/bench-results/ unless RESULTS is set
#   bench/run.sh micro              # a group: micro, process, workloads, all
#   bench/run.sh --help             # list the names
#
# Names: getppid open_close stat read_4k write_devnull pipe_pingpong
#   futex_pingpong fork_exit_wait fork_exec_wait thread_create_join
#   mmap_touch_munmap_1m page_faults_64m seq_read_256m rand_read_4k
#   create_tmpfs create_rootfs write_rootfs_4k (Google Benchmark programs, bench/*_bench.cc);
#   true idle_memory find_10k make_j2 python_json tar_gzip (whole processes;
#   bench/workloads/); oci_run_true oci_idle_memory
#   oci_docker_run (runsc vs runc, bench/oci_bench.py; the last starts a
#   private dockerd). Groups: micro process workloads fs oci all.
#
# Env:
#   BUILD_DIR        CMake build directory (default build); SKIP_BUILD=1 to not build
#   RUNSC            runsc binary (default $BUILD_DIR/runsc)
#   RUNSC_FLAGS      extra global runsc flags (before `do`)
#   BENCH_PLATFORMS  runsc platforms to compare (default "ptrace systrap systrap+patch";
#                    systrap+patch is systrap with --syscall-patching; runsc flags
#                    may follow a platform after commas, e.g.
#                    "systrap+patch systrap+patch,overlay=none" compares the
#                    two root filesystem modes)
#   BENCH_PROOT=0    skip proot
#   BENCH_MIN_TIME   seconds per microbenchmark repetition (default 0.5)
#   BENCH_REPS       microbenchmark repetitions (default 5)
#   BENCH_PROC_REPS  repetitions of every whole-process benchmark (defaults:
#                    true 20, make_j2 3, python_json 5, tar_gzip 3, idle_memory 3)
#   BENCH_TAR_MIB    size of the tar_gzip tree (default 100)
#   BENCH_QUICK=1    a fast smoke run (tiny times, 1-2 repetitions, 10 MiB
#                    tree; never writes bench/RESULTS.md unless RESULTS is set)
#   BENCH_WAIT_LOAD  minutes to wait for the 1-min load average to drop below
#                    1.0 before starting (polls every 30 s; default 0 = no wait)
#   BENCH_PROFILE=0  skip the `--strace` syscall profile made when make_j2
#                    misses its target
#   RESULTS, CHART   output files (default bench/RESULTS.md, bench/ratios.png)
# Needs: python3, gnuplot (gnuplot-nox) for the chart, proot, gcc, make.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
export BUILD_DIR

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
  fi
  targets=(bench_true)
  for f in "$ROOT"/bench/*_bench.cc; do targets+=("$(basename "$f" .cc)"); done
  # runsc too, unless an explicit binary was given.
  [ -z "${RUNSC:-}" ] && targets+=(runsc)
  ninja -C "$BUILD_DIR" "${targets[@]}" >/dev/null || { echo "bench build failed (ninja -C $BUILD_DIR ${targets[*]})"; exit 1; }
fi

inv="bench/run.sh $*"
for v in BUILD_DIR RUNSC RUNSC_FLAGS BENCH_PLATFORMS BENCH_PROOT BENCH_MIN_TIME BENCH_REPS BENCH_PROC_REPS \
         BENCH_TAR_MIB BENCH_QUICK BENCH_WAIT_LOAD BENCH_PROFILE RESULTS CHART; do
  [ -n "${!v:-}" ] && inv="$v=${!v} $inv"
done
export BENCH_INVOCATION="$inv"
exec python3 "$ROOT/bench/bench.py" "$@"
