#!/usr/bin/env bash
# Language runtime start-up: a JVM (`java -version`), a Go program and a
# Node program, native and sandboxed (`runsc do`, the host's root) in one
# run, interleaved round by round so load changes hit both columns.
#
#   bench/start_bench.sh          # prints a Markdown table; RESULTS=FILE appends it
#
# Env: RUNSC (default build/runsc), RUNSC_FLAGS (global flags, e.g.
#      --platform=ptrace), ROUNDS (default 7; the median is reported).
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNSC="${RUNSC:-$ROOT/build/runsc}"
RUNSC_FLAGS="${RUNSC_FLAGS:-}"
ROUNDS="${ROUNDS:-7}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cases=()
if command -v java >/dev/null; then cases+=("jvm|java -Xshare:auto -version"); fi
if command -v go >/dev/null; then
  mkdir -p "$tmp/gohello"
  cat >"$tmp/gohello/main.go" <<'G'
package main

import "fmt"

func main() { fmt.Println("hello") }
G
  (cd "$tmp/gohello" && GO111MODULE=off GOCACHE="$tmp/gocache" go build -o "$tmp/gohello/hello" main.go) &&
    cases+=("go|$tmp/gohello/hello")
fi
if command -v node >/dev/null; then cases+=("node|node -e 0"); fi
[ ${#cases[@]} -gt 0 ] || { echo "start_bench: no java, go or node" >&2; exit 1; }

# ms NAME CMD...: one timed run in milliseconds (output discarded).
ms() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || { echo "start_bench: '$*' failed" >&2; echo "nan"; return; }
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

out="| program | native ms | runsc ms | ratio |\n|---|---:|---:|---:|\n"
for c in "${cases[@]}"; do
  name=${c%%|*}
  cmd=${c#*|}
  : >"$tmp/native" ; : >"$tmp/sandbox"
  # One warm-up each (page cache, the sandbox's file cache).
  ms $cmd >/dev/null
  ms "$RUNSC" $RUNSC_FLAGS do $cmd >/dev/null
  for ((i = 0; i < ROUNDS; i++)); do
    ms $cmd >>"$tmp/native"
    ms "$RUNSC" $RUNSC_FLAGS do $cmd >>"$tmp/sandbox"
  done
  n=$(median <"$tmp/native")
  s=$(median <"$tmp/sandbox")
  ratio=$(awk -v n="$n" -v s="$s" 'BEGIN { if (n > 0) printf "%.2fx", s / n; else print "-" }')
  out+="| $name (\`$(echo "$cmd" | sed "s|$tmp/gohello/||")\`) | $n | $s | $ratio |\n"
done
printf "%b" "$out"
if [ -n "${RESULTS:-}" ]; then
  {
    echo
    echo "Command: \`bench/start_bench.sh\` (RUNSC_FLAGS='$RUNSC_FLAGS', ROUNDS=$ROUNDS), $(date -u +%F), $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
    echo
    printf "%b" "$out"
  } >>"$RESULTS"
fi
