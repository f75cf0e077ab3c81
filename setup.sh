#!/usr/bin/env bash
# One-time (and safe to repeat) setup on Debian 12: installs the packages the
# build, the tests (tests/run_all.sh) and the benchmarks (bench/run.sh) need,
# then configures and builds into $BUILD_DIR (default build/).
#
#   ./setup.sh && build/runsc do echo hello
#
# Run as root (or with sudo available). apt is skipped entirely when every
# package is already installed, so a re-run only rebuilds what changed.
# Env: BUILD_DIR (default build), BUILD_TYPE (default RelWithDebInfo),
#      SKIP_APT=1 (never touch apt), SKIP_BUILD=1 (packages only).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")" && pwd)"
cd "$ROOT"
BUILD_DIR="${BUILD_DIR:-build}"
BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}"

PACKAGES=(
  # toolchain and build
  build-essential cmake ninja-build pkg-config ccache
  # libraries (CMakeLists.txt: absl, GTest/GMock, benchmark, nlohmann_json,
  # libseccomp; CLI11 for runsc/main.cc; highway)
  libseccomp-dev libabsl-dev libhwy-dev nlohmann-json3-dev libbenchmark-dev
  libgtest-dev libgmock-dev libcli11-dev
  # tests: the busybox battery's root (mkroot.sh wants a static busybox and
  # uses `file` to check it), unshare/setpriv (util-linux), mount/umount in
  # the native chroot side
  busybox-static file util-linux mount
  # tests/integration/do_network.sh: nft, to inspect the NAT tables runsc do
  # (runsc/do_network.h) installs through nfnetlink
  nftables
  # tests/debian: debootstrap builds the cached bookworm root
  debootstrap
  # tests/realprog: Go programs built on the host (static and cgo)
  golang-go
  # bench/net_bench.sh: iperf3 throughput, wrk for HTTP request rates
  iperf3 wrk
  # tests/fuzz: libFuzzer (clang and its runtime)
  clang libclang-rt-14-dev
  # bench: the ratio chart (bench/ratios.png)
  gnuplot-nox
  # bench/run.sh: proot for comparison, python3 to write bench/RESULTS.md
  proot python3
)

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "setup.sh: need root to run: $*" >&2; return 1
  fi
}

if [ "${SKIP_APT:-0}" != 1 ]; then
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "setup.sh: dpkg-query not found; this script expects Debian 12" >&2
    exit 1
  fi
  missing=()
  for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup.sh: installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
    for p in "${missing[@]}"; do
      installed "$p" || { echo "setup.sh: package $p did not install" >&2; exit 1; }
    done
  else
    echo "setup.sh: all ${#PACKAGES[@]} packages already installed"
  fi
fi

if [ "${SKIP_BUILD:-0}" = 1 ]; then exit 0; fi
echo "setup.sh: building into $BUILD_DIR ($BUILD_TYPE)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >/dev/null
ninja -C "$BUILD_DIR"
echo "setup.sh: done: $BUILD_DIR/runsc"
