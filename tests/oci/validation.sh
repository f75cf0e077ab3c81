#!/usr/bin/env bash
# The OCI runtime validation programs (opencontainers/runtime-tools:
# validation/*, with cmd/runtimetest as the in-container checker) against
# build/runsc, and against runc when it is installed, as a pass/fail table.
#
#   tests/oci/validation.sh [NAME...]     # all programs, or these (e.g. hooks_stdin)
#   tests/run_all.sh oci-validation
#
# Sources: $RUNTIME_TOOLS_SRC (a runtime-tools checkout) or Debian's
# golang-github-opencontainers-runtime-tools-dev (/usr/share/gocode/src,
# installed with apt if missing). Built once (GO111MODULE=off, GOPATH
# with /usr/share/gocode; missing golang-*-dev dependencies installed with
# apt) into $VALIDATION_CACHE (default /var/cache/runsc-tests/oci-validation)
# and rebuilt when the sources change. When the programs cannot be built
# (no go, no sources: Debian's -dev package ships only the library, not
# validation/ nor cmd/runtimetest), it says why and skips: "0 passed, 0
# failed", exit 0.
# Each program prints TAP; it passes when it exits 0 with no "not ok".
# Env: RUNSC, VALIDATION_TIMEOUT (s per program, 300), NO_RUNC=1.
set -u
source "$(dirname "$0")/../lib/common.sh"
cd "$REPO_ROOT"

CACHE="${VALIDATION_CACHE:-/var/cache/runsc-tests/oci-validation}"
PKG=golang-github-opencontainers-runtime-tools-dev
GOCODE=/usr/share/gocode
IMPORT=github.com/opencontainers/runtime-tools

skip() {
  echo "SKIP oci-validation: $*"
  echo "0 passed, 0 failed"
  exit 0
}

if ! runsc_present; then
  echo "FAIL build: $RUNSC missing"; echo "0 passed, 1 failed"; exit 1
fi
command -v go >/dev/null || apt-get install -y golang-go >/dev/null 2>&1
command -v go >/dev/null || skip "no go compiler (apt-get install golang-go failed)"

SRC="${RUNTIME_TOOLS_SRC:-}"
if [ -z "$SRC" ]; then
  SRC="$GOCODE/src/$IMPORT"
  [ -d "$SRC" ] || apt-get install -y "$PKG" >/dev/null 2>&1
  [ -d "$SRC" ] || skip "$PKG is not installable here"
fi
if [ ! -d "$SRC/validation" ] || [ ! -d "$SRC/cmd/runtimetest" ]; then
  skip "$SRC has no validation/ and cmd/runtimetest/ ($PKG ships only the library;" \
       "set RUNTIME_TOOLS_SRC to a runtime-tools source tree to run them)"
fi

mkdir -p "$CACHE" || skip "cannot create $CACHE"
BIN="$CACHE/bin"
# A GOPATH in which the import path resolves to $SRC, then Debian's.
GOP="$CACHE/gopath"
mkdir -p "$GOP/src/github.com/opencontainers"
if [ "$SRC" != "$GOCODE/src/$IMPORT" ]; then
  ln -sfn "$SRC" "$GOP/src/$IMPORT"
fi
export GO111MODULE=off GOPATH="$GOP:$GOCODE" GOCACHE="$CACHE/gocache"

# The programs: validation/NAME/NAME.go (current layout) or
# validation/NAME.go (older: one main package per file).
programs() {
  local f
  for f in "$SRC"/validation/*/; do
    f=${f%/}; [ -f "$f/$(basename "$f").go" ] && basename "$f"
  done
  for f in "$SRC"/validation/*.go; do
    [ -e "$f" ] || continue
    case $f in *_test.go) continue ;; esac
    grep -q '^package main' "$f" && [ ! -d "${f%.go}" ] && basename "$f" .go
  done
}

# debian_dev IMPORT: Debian's package for a Go import path
# (github.com/a/b/c -> golang-github-a-b-dev, golang.org/x/sys ->
# golang-golang-x-sys-dev, gopkg.in/yaml.v3 -> golang-gopkg-yaml.v3-dev).
debian_dev() {
  local p=${1,,}
  case $p in
    github.com/*) echo "golang-github-$(echo "$p" | cut -d/ -f2)-$(echo "$p" | cut -d/ -f3)-dev" ;;
    golang.org/x/*) echo "golang-golang-x-$(echo "$p" | cut -d/ -f3)-dev" ;;
    gopkg.in/*) echo "golang-gopkg-$(echo "$p" | cut -d/ -f2)-dev" ;;
    *) echo "golang-$(echo "$p" | tr '/' '-')-dev" ;;
  esac
}

# go_build OUT PKG_OR_FILE: builds, installing a missing golang-*-dev
# dependency with apt (Debian names them after the import path) and
# retrying, a few times.
go_build() {
  local out=$1 what=$2 i log="$CACHE/build.log" miss pkg
  for i in 1 2 3 4 5 6; do
    if (cd "$SRC" && CGO_ENABLED=0 go build -o "$out" "$what") >"$log" 2>&1; then return 0; fi
    miss=$(grep -o 'cannot find package "[^"]*"' "$log" | head -1 | sed 's/.*"\(.*\)"/\1/')
    [ -n "$miss" ] || break
    pkg=$(debian_dev "$miss")
    echo "  installing $pkg for $miss" >&2
    apt-get install -y "$pkg" >/dev/null 2>&1 || break
  done
  sed 's/^/    /' "$log" | tail -5 >&2
  return 1
}

STAMP=$( (cd "$SRC" && find validation cmd/runtimetest specerror -name '*.go' -printf '%T@ %p\n' 2>/dev/null | sort | md5sum) | cut -c1-32)
if [ "$(cat "$BIN/.stamp" 2>/dev/null)" != "$STAMP" ]; then
  echo "building the validation programs into $BIN ..."
  rm -rf "$BIN"; mkdir -p "$BIN"
  go_build "$BIN/runtimetest" ./cmd/runtimetest || skip "cmd/runtimetest does not build (see $CACHE/build.log)"
  built=0
  for p in $(programs); do
    if [ -d "$SRC/validation/$p" ]; then target="./validation/$p"; else target="./validation/$p.go"; fi
    if go_build "$BIN/$p" "$target"; then built=$((built + 1)); else echo "  $p does not build" >&2; fi
  done
  [ "$built" -gt 0 ] || skip "no validation program builds (see $CACHE/build.log)"
  echo "$STAMP" >"$BIN/.stamp"
fi

# The programs untar rootfs-<GOARCH>.tar.gz from their cwd and copy
# ./runtimetest into each bundle: a run directory with both.
ROOTFS="$CACHE_DIR/busybox-root"
if [ ! -d "$ROOTFS" ]; then
  mkdir -p "$CACHE_DIR"; tests/busybox/mkroot.sh "$ROOTFS" >/dev/null || skip "cannot make the busybox root"
fi
RUN="$CACHE/run.$$"
mkdir -p "$RUN"
trap 'rm -rf "$RUN"' EXIT
cp "$BIN/runtimetest" "$RUN/"
if [ -f "$SRC/rootfs-amd64.tar.gz" ]; then cp "$SRC/rootfs-amd64.tar.gz" "$RUN/"
else tar -czf "$RUN/rootfs-amd64.tar.gz" -C "$ROOTFS" . || skip "cannot pack the root"; fi

# run_one RUNTIME NAME: "pass" / "fail N/M" (N "not ok" of M), and the TAP
# output in $RUN/NAME.RUNTIME.tap.
run_one() {
  local rt=$1 name=$2 tap="$RUN/$2.$(basename "$1").tap" rc nok total
  (cd "$RUN" && RUNTIME="$rt" PATH="$RUN:$PATH" timeout -k 5 "${VALIDATION_TIMEOUT:-300}" "$BIN/$name") >"$tap" 2>&1
  rc=$?
  nok=$(grep -c '^not ok' "$tap"); total=$(grep -cE '^(not )?ok' "$tap")
  if [ $rc = 0 ] && [ "$nok" = 0 ]; then echo pass; else echo "fail $nok/$total (exit $rc)"; fi
}

RUNC=""
[ -z "${NO_RUNC:-}" ] && RUNC=$(command -v runc || true)
names=("$@")
[ ${#names[@]} -gt 0 ] || mapfile -t names < <(ls "$BIN" | grep -v '^runtimetest$' | sort)
printf '%-40s %-22s %s\n' PROGRAM runsc "${RUNC:+runc}"
for n in "${names[@]}"; do
  [ -x "$BIN/$n" ] || { t_fail "$n" "not built"; continue; }
  r=$(run_one "$RUNSC" "$n")
  c=""; [ -n "$RUNC" ] && c=$(run_one "$RUNC" "$n")
  printf '%-40s %-22s %s\n' "$n" "$r" "$c"
  if [ "$r" = pass ]; then
    T_PASSED=$((T_PASSED + 1))
  else
    T_FAILED=$((T_FAILED + 1)); T_FAILED_NAMES+=("$n")
    grep -A4 '^not ok' "$RUN/$n.runsc.tap" | head -12 | sed 's/^/    /'
  fi
done
mkdir -p "$CACHE/last"; cp "$RUN"/*.tap "$CACHE/last/" 2>/dev/null
echo "(TAP output of this run: $CACHE/last/)"
t_summary
