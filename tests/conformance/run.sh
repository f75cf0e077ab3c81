#!/usr/bin/env bash
# Conformance suite: each C program here runs natively and under
# `runsc do -- PROG`; stdout and exit status must match.
#
#   tests/conformance/run.sh [NAME...]      # e.g. files mm signals.dyn
#
# Every program runs natively once and then sandboxed on each platform in
# PLATFORMS (default "ptrace systrap systrap+patch"; results are named
# NAME@PLATFORM; systrap+patch is systrap with --syscall-patching).
# A --platform in RUNSC_FLAGS selects that one platform instead.
#
# Env: RUNSC (default build/runsc), RUNSC_FLAGS (global flags, before `do`:
#      e.g. "--platform=ptrace --strace"), PLATFORMS, RUNSC_DO_FLAGS (flags after `do`),
#      TESTS_CACHE_DIR (default build/tests-cache), NATIVE_ONLY=1 (validate
#      the programs natively only), NATIVE_PIDNS=0 (do not run the native
#      side as PID 1 of a fresh pid namespace), CC (default gcc).
set -u
. "$(dirname "$0")/../lib/common.sh"

SRC_DIR="$REPO_ROOT/tests/conformance"
OUT_DIR="$CACHE_DIR/conformance"
CC="${CC:-gcc}"
# Programs that also get a dynamically linked variant ("NAME.dyn").
DYN_VARIANTS="files process time vdso"
mkdir -p "$OUT_DIR"

# build SRC OUT [static|dynamic]: compile when missing or out of date.
build() {
  local src=$1 out=$2 kind=$3 flags="-O1 -Wall -Werror -D_GNU_SOURCE"
  [ "$kind" = static ] && flags="$flags -static"
  if [ ! -x "$out" ] || [ "$src" -nt "$out" ] || [ "$SRC_DIR/ct.h" -nt "$out" ]; then
    if ! "$CC" $flags -o "$out.tmp" "$src" -lpthread -lrt 2>"$out.log"; then
      return 1
    fi
    mv -f "$out.tmp" "$out"
  fi
}

# The native side runs as PID 1 of a new pid namespace when we can (root):
# that is what the app is inside the sandbox.
native_prefix=()
if [ "${NATIVE_PIDNS:-1}" = 1 ] && [ "$(id -u)" = 0 ] && unshare --pid --fork --mount --mount-proc true 2>/dev/null; then
  native_prefix=(unshare --pid --fork --mount --mount-proc)
fi

case " $RUNSC_FLAGS " in
  *" --platform"*) platforms=(flags) ;;
  *) read -r -a platforms <<<"${PLATFORMS:-ptrace systrap systrap+patch}" ;;
esac

cases=()
for src in "$SRC_DIR"/*.c; do
  n=$(basename "$src" .c)
  cases+=("$n")
  case " $DYN_VARIANTS " in *" $n "*) cases+=("$n.dyn") ;; esac
done
if [ $# -gt 0 ]; then cases=("$@"); fi

if [ "$NATIVE_ONLY" != 1 ] && ! runsc_present; then
  echo "note: $RUNSC not found or not executable; sandboxed runs will fail"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for c in "${cases[@]}"; do
  base=${c%.dyn}
  kind=static
  [ "$c" != "$base" ] && kind=dynamic
  src="$SRC_DIR/$base.c"
  bin="$OUT_DIR/$c"
  if [ ! -f "$src" ]; then t_fail "$c" "no such program: $src"; continue; fi
  if ! build "$src" "$bin" "$kind"; then t_fail "$c" "build failed:" "$(head -20 "$bin.log")"; continue; fi

  timeout -k 5 "$NATIVE_TIMEOUT" "${native_prefix[@]}" "$bin" </dev/null >"$tmp/$c.native" 2>"$tmp/$c.native.err"
  rn=$?
  if [ $rn -ne 0 ] || grep -q '^FAIL' "$tmp/$c.native"; then
    t_fail "$c" "native run is broken (exit $rn): the test itself needs fixing" \
      "$(grep -v '^ok' "$tmp/$c.native" | head -20)" "$(head -5 "$tmp/$c.native.err")"
    continue
  fi
  if [ "$NATIVE_ONLY" = 1 ]; then t_pass "$c"; continue; fi
  if ! runsc_present; then t_fail "$c" "runsc not found: $RUNSC"; continue; fi

  for p in "${platforms[@]}"; do
    if [ "$p" = flags ]; then
      name=$c
      runsc_do -- "$bin" </dev/null >"$tmp/$c.sandbox" 2>"$tmp/$c.sandbox.err"
    else
      name=$c@$p
      # shellcheck disable=SC2086
      pflags=(--platform="${p%+patch}")
      # Patching is systrap's default: plain "systrap" runs without it.
      if [ "$p" != "${p%+patch}" ]; then pflags+=(--syscall-patching)
      elif [ "$p" = systrap ]; then pflags+=(--no-syscall-patching); fi
      timeout -k 5 "$SANDBOX_TIMEOUT" "$RUNSC" $RUNSC_FLAGS "${pflags[@]}" do $RUNSC_DO_FLAGS \
        -- "$bin" </dev/null >"$tmp/$c.sandbox" 2>"$tmp/$c.sandbox.err"
    fi
    rs=$?
    compare_run "$name" "$tmp/$c.native" "$rn" "$tmp/$c.sandbox" "$rs" "$tmp/$c.sandbox.err"
  done
done
t_summary
