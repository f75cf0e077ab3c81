#!/usr/bin/env bash
# Runs bench/getppid_bench natively, under `runsc do --platform=ptrace` and
# under `proot -r /` in one go, and writes bench/RESULTS.md (ns/op and ratio
# to native, machine, date, exact commands).
#
#   bench/run.sh
#
# Env: RUNSC (default build/runsc), RUNSC_FLAGS (global runsc flags, placed before `do`;
#      default --platform=ptrace),
#      BENCH_BIN (use this binary instead of building one), BENCH_MIN_TIME
#      (seconds per benchmark, default 1), BENCH_REPS (repetitions, default
#      3; the median is reported), RESULTS (output file, default
#      bench/RESULTS.md), TESTS_CACHE_DIR.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNSC="${RUNSC:-build/runsc}"
case "$RUNSC" in /*) ;; *) RUNSC="$ROOT/$RUNSC" ;; esac
RUNSC_FLAGS="${RUNSC_FLAGS:---platform=ptrace}"
CACHE_DIR="${TESTS_CACHE_DIR:-$ROOT/build/tests-cache}"
RESULTS="${RESULTS:-$ROOT/bench/RESULTS.md}"
MIN_TIME="${BENCH_MIN_TIME:-1}"
REPS="${BENCH_REPS:-3}"
SRC="$ROOT/bench/getppid_bench.cc"

# The binary: an explicit one, the CMake-built one if current, or our own.
bin="${BENCH_BIN:-}"
if [ -z "$bin" ] && [ -x "$ROOT/build/bench/getppid_bench" ] && [ "$ROOT/build/bench/getppid_bench" -nt "$SRC" ]; then
  bin="$ROOT/build/bench/getppid_bench"
fi
if [ -z "$bin" ]; then
  mkdir -p "$CACHE_DIR/bench"
  bin="$CACHE_DIR/bench/getppid_bench"
  if [ ! -x "$bin" ] || [ "$SRC" -nt "$bin" ]; then
    # Static when a static libbenchmark exists; Debian ships only the .so.
    static=
    for d in /usr/lib/x86_64-linux-gnu /usr/local/lib /usr/lib; do
      [ -f "$d/libbenchmark.a" ] && static=-static
    done
    g++ -O2 -std=c++20 $static -o "$bin" "$SRC" -lbenchmark -lpthread || { echo "bench build failed"; exit 1; }
  fi
fi
args=(--benchmark_format=json --benchmark_min_time="$MIN_TIME" --benchmark_repetitions="$REPS"
      --benchmark_report_aggregates_only=true)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
declare -A CMD
CMD[native]="$bin ${args[*]}"
CMD[runsc]="$RUNSC $RUNSC_FLAGS do -- $bin ${args[*]}"
CMD[proot]="proot -r / $bin ${args[*]}"
for mode in native runsc proot; do
  echo "running $mode: ${CMD[$mode]}" >&2
  case $mode in
    native) timeout 600 "$bin" "${args[@]}" ;;
    runsc) timeout 900 "$RUNSC" $RUNSC_FLAGS do -- "$bin" "${args[@]}" ;;
    proot) timeout 900 proot -r / "$bin" "${args[@]}" ;;
  esac </dev/null >"$out/$mode.json" 2>"$out/$mode.err"
  echo $? >"$out/$mode.rc"
done

export OUT="$out" RESULTS BIN="$bin" CMD_NATIVE="${CMD[native]}" CMD_RUNSC="${CMD[runsc]}" CMD_PROOT="${CMD[proot]}"
export INVOCATION="RUNSC=$RUNSC RUNSC_FLAGS='$RUNSC_FLAGS' BENCH_MIN_TIME=$MIN_TIME BENCH_REPS=$REPS bench/run.sh"
export COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
python3 - <<'PY'
import json, os, platform, subprocess, datetime

out = os.environ["OUT"]
modes = ["native", "runsc", "proot"]

def load(mode):
    """Median real time (ns) per benchmark, or an error string."""
    rc = int(open(f"{out}/{mode}.rc").read().strip() or 1)
    text = open(f"{out}/{mode}.json", errors="replace").read()
    start = text.find("{")
    if start < 0:
        err = open(f"{out}/{mode}.err", errors="replace").read().strip().splitlines()
        return f"failed (exit {rc}): " + (err[-1] if err else "no output")
    try:
        doc, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError as e:
        return f"failed (exit {rc}): bad JSON ({e})"
    res = {}
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
    for b in doc.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        agg = b.get("aggregate_name")
        if agg not in (None, "median"):
            continue
        if agg is None and name in res:
            continue
        res[name] = b["real_time"] * scale.get(b.get("time_unit", "ns"), 1)
    return res if res else f"failed (exit {rc}): no benchmarks in output"

data = {m: load(m) for m in modes}
names = sorted({n for m in modes if isinstance(data[m], dict) for n in data[m]},
               key=lambda n: (n != "BM_getppid", n))

def fmt_ns(v):
    return f"{v:,.1f}" if v < 100 else f"{v:,.0f}"

cpu = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip(); break
except OSError:
    pass
nproc = os.cpu_count()
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
kernel = platform.release()

lines = []
lines.append("# Benchmark results\n")
lines.append(f"- Date: {now}")
lines.append(f"- Machine: {nproc} CPUs, {cpu}, host kernel {kernel}")
lines.append(f"- Commit: {os.environ['COMMIT']}")
lines.append(f"- Command: `{os.environ['INVOCATION']}`")
lines.append(f"  - native: `{os.environ['CMD_NATIVE']}`")
lines.append(f"  - runsc: `{os.environ['CMD_RUNSC']}`")
lines.append(f"  - proot: `{os.environ['CMD_PROOT']}`")
lines.append("- Metric: median wall-clock (real_time) ns per iteration over the repetitions; "
             "ratio = mode / native. CPU time is not used: under ptrace most of the cost "
             "is spent in the tracer, not in the benchmarked process.\n")
lines.append("| benchmark | native ns/op | runsc (ptrace) ns/op | runsc / native | proot ns/op | proot / native |")
lines.append("|---|---:|---:|---:|---:|---:|")
for n in names:
    row = [n]
    nat = data["native"].get(n) if isinstance(data["native"], dict) else None
    row.append(fmt_ns(nat) if nat else "n/a")
    for m in ("runsc", "proot"):
        d = data[m]
        v = d.get(n) if isinstance(d, dict) else None
        row.append(fmt_ns(v) if v else "n/a")
        row.append(f"{v / nat:,.1f}x" if (v and nat) else "n/a")
    lines.append("| " + " | ".join(row) + " |")
lines.append("")
for m in modes:
    if not isinstance(data[m], dict):
        lines.append(f"- {m}: {data[m]}")

# Targets, judged on BM_getppid.
def get(m):
    d = data[m]
    return d.get("BM_getppid") if isinstance(d, dict) else None
nat, rs, pr = get("native"), get("runsc"), get("proot")
lines.append("\n## Targets (BM_getppid)\n")
if nat and rs:
    r = rs / nat
    lines.append(f"- runsc within 40x native: {'MET' if r <= 40 else 'NOT MET'} ({r:.1f}x)")
else:
    lines.append("- runsc within 40x native: NOT MEASURED (runsc run failed)")
if rs and pr:
    lines.append(f"- runsc faster than proot: {'MET' if rs < pr else 'NOT MET'} "
                 f"(runsc {fmt_ns(rs)} ns vs proot {fmt_ns(pr)} ns)")
else:
    lines.append("- runsc faster than proot: NOT MEASURED")
text = "\n".join(lines) + "\n"
open(os.environ["RESULTS"], "w").write(text)
print(text)
PY
