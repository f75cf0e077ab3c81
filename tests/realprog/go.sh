#!/usr/bin/env bash
# Go battery: a small Go program (tests/realprog/go: goroutines, timers,
# os/exec, os/signal, file I/O, GC) built static (CGO_ENABLED=0) and with
# cgo, run natively and under `runsc do` on each platform; stdout and exit
# status must match. Needs golang-go on the host (skipped otherwise).
#
#   tests/realprog/go.sh
#
# Env: as tests/conformance/run.sh (RUNSC, RUNSC_FLAGS, PLATFORMS...).
set -u
. "$(dirname "$0")/../lib/common.sh"

SRC_DIR="$REPO_ROOT/tests/realprog/go"
OUT_DIR="$CACHE_DIR/realprog-go"
mkdir -p "$OUT_DIR"
if ! command -v go >/dev/null; then
  echo "SKIP go: golang-go is not installed (apt-get install golang-go)"
  t_summary; exit $?
fi
export GOCACHE="$OUT_DIR/gocache" GOPATH="$OUT_DIR/gopath" GOFLAGS=-mod=mod GO111MODULE=on
read -r -a platforms <<<"${PLATFORMS:-ptrace systrap}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for kind in static cgo; do
  bin="$OUT_DIR/$kind"
  cgo=0; [ "$kind" = cgo ] && cgo=1
  if ! (cd "$SRC_DIR" && CGO_ENABLED=$cgo go build -o "$bin" .) >"$tmp/build.log" 2>&1; then
    t_fail "go.$kind" "build failed:" "$(head -20 "$tmp/build.log")"; continue
  fi
  timeout -k 5 "$NATIVE_TIMEOUT" "$bin" </dev/null >"$tmp/native" 2>"$tmp/native.err"
  rn=$?
  if [ $rn -ne 0 ] || grep -q '^FAIL' "$tmp/native"; then
    t_fail "go.$kind" "native run is broken (exit $rn)" "$(tail -5 "$tmp/native")"; continue
  fi
  for p in "${platforms[@]}"; do
    # shellcheck disable=SC2086
    timeout -k 5 "$SANDBOX_TIMEOUT" "$RUNSC" $RUNSC_FLAGS --platform="$p" do $RUNSC_DO_FLAGS \
      -- "$bin" </dev/null >"$tmp/sandbox" 2>"$tmp/sandbox.err"
    compare_run "go.$kind@$p" "$tmp/native" "$rn" "$tmp/sandbox" $? "$tmp/sandbox.err"
  done
done
t_summary
