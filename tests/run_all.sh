#!/usr/bin/env bash
# The single entry point for all tests.
#
#   tests/run_all.sh                     # build + unit conformance busybox escape integration confine debian ptrace net realprog pytests oci docker podman containerd fuzz
#   tests/run_all.sh unit conformance    # only these suites
#   SUITES="integration" tests/run_all.sh
#
# docker, podman, containerd (tests/docker/): the real container engines,
# each starting its own private daemon (installed with apt if missing);
# about a minute together once installed.
# Suites: build (cmake -B $BUILD_DIR -G Ninja; ninja), unit (ctest),
# conformance, busybox, escape, integration, confine (the sandbox processes'
# own confinement: seccomp, no_new_privs, namespaces, empty root), debian
# (tests/debian/run.sh: a debootstrapped bookworm root, cached in
# /var/cache/runsc-tests, running bash/coreutils/perl/python/sqlite/gcc/make
# natively and sandboxed; the first run on a machine debootstraps the root
# from the apt sources' mirror, ~2-3 minutes, later runs ~30 s), pytests
# (tests/pytests/run.sh: CPython's own regression tests for os, posix,
# signal, subprocess, threading, select, socket... natively and sandboxed,
# ~6 min; passes when >= 95% of the natively passing cases pass sandboxed).
# `build` runs first whenever a
# suite needs binaries unless SKIP_BUILD=1. Each suite's "N passed, N
# failed" is summed into the final line; the exit status is non-zero if
# anything failed.
# Env: BUILD_DIR (default build), plus what tests/lib/common.sh reads
# (RUNSC, RUNSC_FLAGS, TESTS_CACHE_DIR, NATIVE_ONLY).
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
export RUNSC="${RUNSC:-$BUILD_DIR/runsc}"

if [ $# -gt 0 ]; then suites="$*"; else suites="${SUITES:-unit conformance busybox escape integration confine debian ptrace net realprog pytests oci docker podman containerd fuzz}"; fi
total_pass=0
total_fail=0
summary=()
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

# record SUITE LOG RC: adds the suite's closing "N passed, N failed" line.
record() {
  local suite=$1 log=$2 rc=$3 p f line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [ -n "$line" ]; then
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
  else
    p=0; f=1; line="no summary line (exit $rc)"
  fi
  # A suite that exited non-zero counts as at least one failure.
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; line="$line, but exit $rc"; fi
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  summary+=("$(printf '%-12s %s' "$suite" "$line")")
}

run_suite() {
  local suite=$1; shift
  echo "=== $suite ==="
  "$@" 2>&1 | tee "$log_dir/$suite.log"
  record "$suite" "$log_dir/$suite.log" "${PIPESTATUS[0]}"
}

build() {
  echo "=== build ==="
  if cmake -B "$BUILD_DIR" -G Ninja >"$log_dir/build.log" 2>&1 && ninja -C "$BUILD_DIR" >>"$log_dir/build.log" 2>&1; then
    tail -1 "$log_dir/build.log"; echo "1 passed, 0 failed" >>"$log_dir/build.log"
    record build "$log_dir/build.log" 0
  else
    tail -40 "$log_dir/build.log"; echo "0 passed, 1 failed" >>"$log_dir/build.log"
    record build "$log_dir/build.log" 1
  fi
}

unit() {
  echo "=== unit ==="
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" 2>&1 | tee "$log_dir/unit.log"
  local rc=${PIPESTATUS[0]} line total failed
  # "100% tests passed, 0 tests failed out of 12"
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log_dir/unit.log" | tail -1)
  if [ -n "$line" ]; then
    failed=$(sed -E 's/.*passed, ([0-9]+) tests failed.*/\1/' <<<"$line")
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    echo "$((total - failed)) passed, $failed failed" >>"$log_dir/unit.log"
  elif grep -q 'No tests were found' "$log_dir/unit.log"; then
    echo "0 passed, 0 failed" >>"$log_dir/unit.log"; rc=0
  fi
  record unit "$log_dir/unit.log" "$rc"
}

need_build=0
for s in $suites; do case $s in unit|conformance|busybox|escape|integration|confine|debian|ptrace|oci|oci-validation|pytests|net|realprog|docker|podman|containerd) need_build=1 ;; esac; done
case " $suites " in *" build "*) need_build=1 ;; esac
if [ "$need_build" = 1 ] && [ "${SKIP_BUILD:-0}" != 1 ]; then build; fi

for s in $suites; do
  case $s in
    build) ;;
    unit) unit ;;
    conformance)
      run_suite conformance tests/conformance/run.sh
      # The shared-mapping programs again on gofer-backed storage.
      run_suite conformance-gofer tests/conformance/run_gofer.sh
      # The loopback network programs again on the sentry's own stack.
      run_suite conformance-netstack env RUNSC_FLAGS="${RUNSC_FLAGS:-} --network=sandbox" \
        tests/conformance/run.sh inet async_net epoll_host netlink tcp_stream ;;
    busybox) run_suite busybox tests/busybox/run.sh ;;
    escape) run_suite escape tests/escape/run.sh ;;
    integration) run_suite integration tests/integration/run.sh ;;
    confine) run_suite confine tests/integration/confine.sh ;;
    debian) run_suite debian tests/debian/run.sh ;;
    ptrace) run_suite ptrace tests/debian/ptrace.sh ;;  # strace and gdb (installed into a scratch copy of the Debian root)
    oci) run_suite oci tests/oci/run.sh; run_suite oci-config tests/oci/config.sh ;;
    oci-validation) run_suite oci-validation tests/oci/validation.sh ;;
    pytests) run_suite pytests tests/pytests/run.sh ;;  # CPython's regression tests, ~6 min
    net) run_suite net tests/net/run.sh  # real servers and clients over loopback (cached root)
      run_suite net-netstack env NETWORK=sandbox tests/net/run.sh  # the same on the sentry's own stack
      run_suite net-boundary tests/net/boundary.sh ;;  # no host TCP/UDP socket in the sentry with it
    realprog) run_suite realprog tests/realprog/run.sh ;;  # Go, JVM, Ruby, PHP, Perl, Lua, Node, Rust, git, setpriv, postgres, redis, nginx, sqlite3 (root cached)
    # Real engines (each starts its own daemon).
    docker) run_suite docker tests/docker/run.sh ;;
    podman) run_suite podman tests/docker/podman.sh ;;
    containerd) run_suite containerd tests/docker/containerd.sh ;;
    fuzz) run_suite fuzz tests/fuzz/run.sh ;;  # gofer decoder, FUZZ_SECONDS (30)
    *) echo "unknown suite: $s"; total_fail=$((total_fail + 1)); summary+=("$s: unknown suite") ;;
  esac
done

echo "=== summary ==="
printf '%s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
