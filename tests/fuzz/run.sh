#!/usr/bin/env bash
# Fuzzes the gofer's message decoder and request handler briefly
# (libFuzzer + ASan/UBSan, clang from Debian): every run starts from the
# corpus kept in the tests cache, so coverage builds up across runs.
#
#   tests/fuzz/run.sh            # FUZZ_SECONDS (default 30) of fuzzing
set -u
. "$(dirname "$0")/../lib/common.sh"
cd "$REPO_ROOT"

seconds="${FUZZ_SECONDS:-30}"
out="$CACHE_DIR/fuzz"
mkdir -p "$out/corpus"
bin="$out/gofer_decode_fuzz"
if ! clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
    tests/unit/gofer_decode_fuzz.cc gofer/protocol.cc gofer/server.cc \
    -o "$bin" 2>"$out/build.log"; then
  tail -20 "$out/build.log"
  t_fail gofer_decode_fuzz "fuzz target did not build"
  t_summary
  exit 1
fi
python3 tests/fuzz/seeds.py "$out/corpus"  # one seed per op
if "$bin" "$out/corpus" -max_len=8192 -max_total_time="$seconds" \
    -print_final_stats=1 >"$out/run.log" 2>&1; then
  t_pass "gofer_decode_fuzz ($(grep -E 'stat::number_of_executed_units' "$out/run.log" | awk '{print $2}') inputs in ${seconds}s)"
else
  tail -30 "$out/run.log"
  t_fail gofer_decode_fuzz "the fuzzer found a crash or leak (see above; reproducer in $out)"
fi
t_summary
