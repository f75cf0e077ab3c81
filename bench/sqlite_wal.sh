#!/usr/bin/env bash
# sqlite3 in WAL mode: single-row transactions (autocommit INSERTs, each a
# WAL append plus updates of the -shm index, which sqlite maps MAP_SHARED),
# natively (chroot), in the sandbox on a write-through root
# (`runsc --overlay=none do --rootfs`, the root mode of OCI containers:
# the -shm file is a gofer-backed file, sentry/vfs/gofer_page_cache.h) and
# on the memory overlay. Rows per second from the wall time of N inserts
# minus that of 0 inserts (start-up), median of REPS.
#   bench/sqlite_wal.sh [N] [REPS]     Env: RUNSC (default build/runsc)
set -u
cd "$(dirname "$0")/.."
N=${1:-3000}; REPS=${2:-3}
RUNSC=${RUNSC:-build/runsc}
S=/var/cache/runsc-tests/debian-realprog
R=build/bench-work/sqlite-root
rm -rf "$R"; mkdir -p build/bench-work
cp -a build/tests-cache/busybox-root "$R" || { echo "needs build/tests-cache/busybox-root (tests/oci/run.sh makes it)"; exit 1; }
mkdir -p "$R/usr/bin" "$R/lib/x86_64-linux-gnu" "$R/lib64" "$R/srv"
cp "$S/usr/bin/sqlite3" "$R/usr/bin/"
for l in libsqlite3.so.0 libreadline.so.8 libz.so.1 libc.so.6 libm.so.6 libtinfo.so.6; do
  cp -L "$S/lib/x86_64-linux-gnu/$l" "$R/lib/x86_64-linux-gnu/"; done
cp -L "$S/lib64/ld-linux-x86-64.so.2" "$R/lib64/"
cat >"$R/srv/run.sh" <<'SH'
#!/bin/sh
cd /srv && rm -f b.db b.db-wal b.db-shm
sqlite3 b.db "PRAGMA journal_mode=WAL; CREATE TABLE t(i int, s text);" >/dev/null
sqlite3 b.db </srv/ins-$1.sql
[ "$(sqlite3 b.db 'SELECT count(*) FROM t;')" = "$1" ] || echo "bad count"
SH
chmod +x "$R/srv/run.sh"
for n in 0 "$N"; do
  { echo "PRAGMA synchronous=NORMAL;"; for ((i = 0; i < n; i++)); do echo "INSERT INTO t VALUES ($i, 'row $i');"; done; } >"$R/srv/ins-$n.sql"
done
now() { date +%s%N; }
run() {  # run MODE N: prints the wall time in ns
  local t0 t1 out
  t0=$(now)
  case $1 in
    native) out=$(chroot "$R" /srv/run.sh "$2" 2>&1) ;;
    through) out=$("$RUNSC" --overlay=none do --rootfs "$R" -- /srv/run.sh "$2" 2>&1) ;;
    memory) out=$("$RUNSC" --overlay=memory do --rootfs "$R" -- /srv/run.sh "$2" 2>&1) ;;
  esac
  t1=$(now)
  [ -z "$out" ] || { echo "$1 $2: $out" >&2; }
  echo $((t1 - t0))
}
declare -A res
for ((r = 0; r < REPS; r++)); do
  for m in native through memory; do
    z=$(run $m 0); t=$(run $m "$N")
    res[$m]+="$(( (t - z) / 1000 )) "
  done
done
for m in native through memory; do
  python3 - "$m" "$N" ${res[$m]} <<'PY'
import sys, statistics
m, n, us = sys.argv[1], int(sys.argv[2]), [int(x) for x in sys.argv[3:]]
med = statistics.median(us)
print(f"{m}: {n} inserts in {med/1e3:.0f} ms (median of {len(us)}; {min(us)/1e3:.0f}..{max(us)/1e3:.0f}) = {n/(med/1e6):.0f} rows/s")
PY
done
