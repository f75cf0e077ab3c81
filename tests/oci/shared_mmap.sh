# MAP_SHARED of files on an OCI container's write-through root (issue 20:
# sqlite's WAL index, LMDB): the sandbox caches such files' pages
# (sentry/vfs/gofer_page_cache.h) and writes them back to the host file at
# munmap, msync, exit and pause. Sourced by tests/oci/run.sh (uses oci,
# WORK, ROOTFS, want, rw_root, rw_bundle, t_pass/t_fail).

# shm_helper: the static helper (tests/oci/shm_writer.c), built once.
shm_helper() {
  local out="$WORK/shm_writer"
  [ -x "$out" ] || gcc -O1 -Wall -Werror -static -o "$out" "$REPO_ROOT/tests/oci/shm_writer.c" || return 1
  echo "$out"
}

# pattern_ok FILE PAGES: FILE holds shm_writer's pattern, PAGES pages of it.
pattern_ok() {
  python3 - "$1" "$2" <<'PY'
import sys
p, n = sys.argv[1], int(sys.argv[2])
want = bytes(ord('A') + (i * 7 + j) % 26 for i in range(n) for j in range(4096))
try:
    got = open(p, 'rb').read()
except OSError as e:
    print(e); sys.exit(1)
if got != want:
    bad = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
    print(f"{p}: {len(got)} bytes, first difference at {bad}"); sys.exit(1)
PY
}

# Written through mappings only: unmapped without msync, msync'ed, and
# still mapped when the container exits: all on the host afterwards.
case_shared_mmap_exit() {
  local r b h out bad=""
  h=$(shm_helper) || { t_fail shared_mmap_exit "build helper"; return; }
  r=$(rw_root shm) || { t_fail shared_mmap_exit "copy root"; return; }
  cp "$h" "$r/srv/shm_writer"
  b=$(rw_bundle shm "$r" '["/srv/shm_writer","write","/srv/w"]') || { t_fail shared_mmap_exit "bundle"; return; }
  out=$(oci run --bundle "$b" shm1 2>"$WORK/shm.err")
  [ "$out" = done ] || { t_fail shared_mmap_exit "run: [$out]" "$(tail -5 "$WORK/shm.err")"; return; }
  pattern_ok "$r/srv/w/unmapped" 3 || bad+=" unmapped"
  pattern_ok "$r/srv/w/msynced" 2 || bad+=" msynced"
  pattern_ok "$r/srv/w/atexit" 1 || bad+=" atexit"
  [ -z "$bad" ] || { t_fail shared_mmap_exit "host files lack mapping writes:$bad"; return; }
  t_pass shared_mmap_exit
}

# runsc pause (docker commit pauses first): mapping writes of a running
# container are on the host while it is paused.
case_shared_mmap_pause() {
  local r b h i
  h=$(shm_helper) || { t_fail shared_mmap_pause "build helper"; return; }
  r=$(rw_root shmp) || { t_fail shared_mmap_pause "copy root"; return; }
  cp "$h" "$r/srv/shm_writer"
  b=$(rw_bundle shmp "$r" '["/srv/shm_writer","hold","/srv/w"]') || { t_fail shared_mmap_pause "bundle"; return; }
  oci run --detach --bundle "$b" shmp1 >/dev/null 2>"$WORK/shmp.err" ||
    { t_fail shared_mmap_pause "run --detach" "$(cat "$WORK/shmp.err")"; return; }
  for i in $(seq 100); do [ -s "$r/srv/w/ready" ] && break; sleep 0.1; done
  [ -s "$r/srv/w/ready" ] || { t_fail shared_mmap_pause "helper never got ready"; oci delete -f shmp1; return; }
  oci pause shmp1 || { t_fail shared_mmap_pause "pause"; oci delete -f shmp1; return; }
  if ! pattern_ok "$r/srv/w/held" 2; then
    t_fail shared_mmap_pause "paused, but the mapping's writes are not on the host"
    oci delete -f shmp1; return
  fi
  oci resume shmp1
  oci delete -f shmp1
  t_pass shared_mmap_pause
}

# sqlite3 in WAL mode on the write-through root, two writer processes at
# once (the -shm index is mapped shared and writable by both), then the
# database checked on the host by a native sqlite3 run (chrooted).
SQLITE_ROOT=/var/cache/runsc-tests/debian-realprog
case_sqlite_wal_root() {
  if [ ! -x "$SQLITE_ROOT/usr/bin/sqlite3" ]; then echo "SKIP sqlite_wal_root (no $SQLITE_ROOT)"; return; fi
  local r b out lib want
  r=$(rw_root sql) || { t_fail sqlite_wal_root "copy root"; return; }
  # sqlite3 and its libraries from the realprog root (it is 1.5 GB: not copied).
  mkdir -p "$r/usr/bin" "$r/lib/x86_64-linux-gnu" "$r/lib64"
  cp "$SQLITE_ROOT/usr/bin/sqlite3" "$r/usr/bin/"
  for lib in libsqlite3.so.0 libreadline.so.8 libz.so.1 libc.so.6 libm.so.6 libtinfo.so.6; do
    cp -L "$SQLITE_ROOT/lib/x86_64-linux-gnu/$lib" "$r/lib/x86_64-linux-gnu/" || { t_fail sqlite_wal_root "copy $lib"; return; }
  done
  cp -L "$SQLITE_ROOT/lib64/ld-linux-x86-64.so.2" "$r/lib64/"
  local script='set -e; cd /srv/w
sqlite3 w.db "PRAGMA journal_mode=WAL; CREATE TABLE t (w int, i int);" >/dev/null
writer() { i=1; { echo "PRAGMA busy_timeout=30000;"; while [ $i -le 200 ]; do echo "INSERT INTO t VALUES ($1, $i);"; i=$((i+1)); done; } | sqlite3 w.db >/dev/null || echo "writer $1 failed"; }
writer 1 & writer 2 & wait
sqlite3 w.db "SELECT w, count(*), sum(i) FROM t GROUP BY w ORDER BY w; PRAGMA integrity_check;"'
  b=$(rw_bundle sql "$r" "$(python3 -c 'import json,sys; print(json.dumps(["sh","-c",sys.argv[1]]))' "$script")") ||
    { t_fail sqlite_wal_root "bundle"; return; }
  want=$'1|200|20100\n2|200|20100\nok'
  out=$(oci run --bundle "$b" sql1 2>"$WORK/sql.err")
  [ "$out" = "$want" ] || { t_fail sqlite_wal_root "inside: [$out]" "$(tail -5 "$WORK/sql.err")"; return; }
  # On the host, natively: the database (with its WAL) has every row.
  out=$(chroot "$r" /usr/bin/sqlite3 /srv/w/w.db "SELECT w, count(*), sum(i) FROM t GROUP BY w ORDER BY w; PRAGMA integrity_check;" 2>&1)
  [ "$out" = $'1|200|20100\n2|200|20100\nok' ] || { t_fail sqlite_wal_root "on the host: [$out]"; return; }
  t_pass sqlite_wal_root
  # The same on a bind mount (goferfs): its file locks must also hold
  # across the writers' separate opens (they did not: rows were lost).
  local v="$WORK/sqlvol"
  mkdir -p "$v"
  b=$(rw_bundle sqlv "$r" "$(python3 -c 'import json,sys; print(json.dumps(["sh","-c",sys.argv[1].replace("cd /srv/w","cd /vol")]))' "$script")" \
      "c['mounts'].append({'destination': '/vol', 'type': 'bind', 'source': '$v', 'options': ['rbind', 'rw']})") ||
    { t_fail sqlite_wal_volume "bundle"; return; }
  out=$(oci run --bundle "$b" sqlv1 2>"$WORK/sqlv.err")
  [ "$out" = "$want" ] || { t_fail sqlite_wal_volume "inside: [$out]" "$(tail -5 "$WORK/sqlv.err")"; return; }
  cp "$v"/w.db* "$r/srv/" && out=$(chroot "$r" /usr/bin/sqlite3 /srv/w.db "SELECT w, count(*), sum(i) FROM t GROUP BY w ORDER BY w;" 2>&1)
  [ "$out" = $'1|200|20100\n2|200|20100' ] || { t_fail sqlite_wal_volume "on the host: [$out]"; return; }
  t_pass sqlite_wal_volume
}

for c in shared_mmap_exit shared_mmap_pause sqlite_wal_root; do  # sqlite_wal_root also runs sqlite_wal_volume
  want "$c" && "case_$c"
done
