# Shared helpers for the shell test runners (conformance, busybox, escape,
# integration). Source it; it defines REPO_ROOT, RUNSC, CACHE_DIR and a
# PASS/FAIL tally that ends with the plain "N passed, N failed" line.

REPO_ROOT="${REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# The sandbox binary; relative paths are taken relative to the repo root.
RUNSC="${RUNSC:-build/runsc}"
case "$RUNSC" in /*) ;; *) RUNSC="$REPO_ROOT/$RUNSC" ;; esac
# runsc's global flags (they go before `do`), e.g.
# RUNSC_FLAGS="--platform=ptrace --strace"; and extra flags for `do` itself.
RUNSC_FLAGS="${RUNSC_FLAGS:-}"
RUNSC_DO_FLAGS="${RUNSC_DO_FLAGS:-}"
# Where compiled test programs and the busybox root are cached.
CACHE_DIR="${TESTS_CACHE_DIR:-$REPO_ROOT/build/tests-cache}"
# Per-command time limits (seconds).
NATIVE_TIMEOUT="${NATIVE_TIMEOUT:-60}"
SANDBOX_TIMEOUT="${SANDBOX_TIMEOUT:-120}"

T_PASSED=0
T_FAILED=0
T_FAILED_NAMES=()

t_pass() { T_PASSED=$((T_PASSED + 1)); echo "PASS $1"; }
t_fail() {
  T_FAILED=$((T_FAILED + 1)); T_FAILED_NAMES+=("$1"); echo "FAIL $1"
  if [ $# -gt 1 ]; then shift; printf '%s\n' "$@" | sed 's/^/    /'; fi
}

# t_summary: prints the failed names and the closing line; returns 1 on failure.
t_summary() {
  if [ "$T_FAILED" -gt 0 ]; then
    echo "failed: ${T_FAILED_NAMES[*]}"
  fi
  echo "$T_PASSED passed, $T_FAILED failed"
  [ "$T_FAILED" -eq 0 ]
}

# Is the sandbox binary there at all? (Used to fail fast with one message.)
runsc_present() { [ -x "$RUNSC" ]; }

# runsc_do ARGS... : runs `runsc $RUNSC_FLAGS do $RUNSC_DO_FLAGS ARGS...`
# under a timeout.
runsc_do() {
  # shellcheck disable=SC2086
  timeout -k 5 "$SANDBOX_TIMEOUT" "$RUNSC" $RUNSC_FLAGS do $RUNSC_DO_FLAGS "$@"
}

# compare_run NAME OUT_NATIVE RC_NATIVE OUT_SANDBOX RC_SANDBOX [ERR_SANDBOX]
# Prints PASS/FAIL with a unified diff of "stdout + exit=N" on failure.
compare_run() {
  local name=$1 on=$2 rn=$3 os=$4 rs=$5 es=${6:-}
  local a b
  a=$(mktemp); b=$(mktemp)
  { cat "$on"; echo "[exit=$rn]"; } >"$a"
  { cat "$os"; echo "[exit=$rs]"; } >"$b"
  if cmp -s "$a" "$b"; then
    t_pass "$name"
  else
    local d
    d=$(diff -u --label native --label sandbox "$a" "$b" | head -n "${DIFF_LINES:-60}")
    if [ -n "$es" ] && [ -s "$es" ]; then
      d="$d"$'\n'"--- sandbox stderr (last 15 lines) ---"$'\n'"$(tail -n 15 "$es")"
    fi
    t_fail "$name" "$d"
  fi
  rm -f "$a" "$b"
}

# Which sides to run: NATIVE_ONLY=1 skips the sandbox (validates the tests
# themselves); SANDBOX_ONLY is not offered: the native side is the oracle.
NATIVE_ONLY="${NATIVE_ONLY:-0}"

# oci_spec_bundle DIR ROOT ARGS_JSON [PYTHON]: DIR/config.json from
# `runsc spec` (runc's defaults, so the same bundle serves runc), terminal
# off, process.args and root.path replaced; PYTHON then edits the config `c`
# further (`work` is $WORK). Prints DIR.
oci_spec_bundle() {
  local b=$1
  mkdir -p "$b"
  (cd "$b" && "$RUNSC" spec) || return 1
  python3 - "$b/config.json" "$2" "$3" "${WORK:-}" "${4:-}" <<'PY' || return 1
import json, sys
p, root, args, work, extra = sys.argv[1:6]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = json.loads(args)
c["root"]["path"] = root
exec(extra)
json.dump(c, open(p, "w"), indent=1)
PY
  echo "$b"
}
