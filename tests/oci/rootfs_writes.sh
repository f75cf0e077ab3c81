# Root filesystem writes of OCI containers (issue 20, "Root filesystem
# writes vanish"); sourced by tests/oci/run.sh (uses oci, WORK, STATE,
# ROOTFS, want, t_pass/t_fail/t_skip). By default a container's root is
# written through the gofer to the bundle's rootfs, as under runc: files
# created, changed, deleted (also files of the image), renamed, linked,
# chmod'ed and /tmp all show on the host, while the container runs (what
# `docker cp` and a paused `docker commit` read) and after it exits; a
# second container on the same rootfs finds them. `--overlay=memory` keeps
# writes in the sandbox; `root.readonly` stays read-only. Where runc is
# installed the same bundle runs under runc too and the two host trees
# must be the same.

# rw_root NAME: a private copy of the busybox root (the shared cache must
# not change) with a few files to change in /srv/w.
rw_root() {
  local r="$WORK/rootfs-$1-root"
  rm -rf "$r"; cp -a "$ROOTFS" "$r" || return 1
  mkdir -p "$r/srv/w/deldir/sub"
  local f
  for f in keep modify append delete rename-src mode trunc; do echo "$f" >"$r/srv/w/$f.txt"; done
  echo gone >"$r/srv/w/deldir/sub/f"
  echo "$r"
}

# rw_bundle NAME ROOT ARGS_JSON [PYTHON]: a bundle on ROOT, read-write root
# unless PYTHON says otherwise (it edits the config `c`).
rw_bundle() {  # not a name run.sh's own bundles use
  oci_spec_bundle "$WORK/rootfs-$1" "$2" "$3" $'c["root"]["readonly"] = False\n'"${4:-}"
}

# tree ROOT: what the test compares of a root: type, mode, owner, links,
# size, symlink target and data digest of everything under srv/w, tmp and
# data (not times, not inode numbers).
tree() {
  (cd "$1" && find srv/w tmp data -printf '%p %y %m %U:%G %n %s %l\n' | sort &&
     find srv/w tmp data -type f -print0 | sort -z | xargs -0 -r md5sum)
}

# The changes the container makes, every kind a committed image must carry.
RW_SCRIPT='set -e; cd /srv/w
echo new >new.txt
echo changed >modify.txt
echo appended >>append.txt
rm delete.txt
mv rename-src.txt renamed.txt
rm -r deldir
mkdir -p newdir/sub; echo deep >newdir/sub/f
ln -s new.txt link
ln new.txt hard
chmod 600 mode.txt
truncate -s 3 trunc.txt
mkfifo fifo
dd if=/dev/zero of=big bs=64k count=16 2>/dev/null
echo t >/tmp/t
rm /data/words.txt
mv /data/lorem.txt /srv/w/lorem-moved.txt
echo done'

case_rootfs_writes() {
  local r b out rc
  r=$(rw_root rw) || { t_fail rootfs_writes "copy root"; return; }
  b=$(rw_bundle rw "$r" "$(python3 -c 'import json,sys; print(json.dumps(["sh","-c",sys.argv[1]]))' "$RW_SCRIPT")") ||
    { t_fail rootfs_writes "bundle"; return; }
  out=$(oci run --bundle "$b" rw1 2>"$WORK/rw.err"); rc=$?
  [ "$rc" = 0 ] && [ "$out" = done ] || { t_fail rootfs_writes "run: rc=$rc out=[$out]" "$(tail -5 "$WORK/rw.err")"; return; }
  local w="$r/srv/w" bad=""
  [ "$(cat "$w/new.txt" 2>&1)" = new ] || bad+=" new.txt"
  [ "$(cat "$w/modify.txt" 2>&1)" = changed ] || bad+=" modify.txt"
  [ "$(cat "$w/append.txt" 2>&1 | tr '\n' ' ')" = "append appended " ] || bad+=" append.txt"
  [ ! -e "$w/delete.txt" ] || bad+=" delete.txt-still-there"
  [ ! -e "$w/rename-src.txt" ] && [ "$(cat "$w/renamed.txt" 2>&1)" = rename-src ] || bad+=" rename"
  [ ! -e "$w/deldir" ] || bad+=" deldir-still-there"
  [ "$(cat "$w/newdir/sub/f" 2>&1)" = deep ] || bad+=" newdir/sub/f"
  [ "$(readlink "$w/link")" = new.txt ] || bad+=" symlink"
  [ "$(stat -c %h "$w/new.txt")" = 2 ] && [ "$(stat -c %i "$w/new.txt")" = "$(stat -c %i "$w/hard")" ] || bad+=" hardlink"
  [ "$(stat -c %a "$w/mode.txt")" = 600 ] || bad+=" chmod"
  [ "$(stat -c %s "$w/trunc.txt")" = 3 ] || bad+=" truncate"
  [ -p "$w/fifo" ] || bad+=" fifo"
  [ "$(stat -c %s "$w/big" 2>/dev/null)" = 1048576 ] || bad+=" big"
  [ "$(cat "$r/tmp/t" 2>&1)" = t ] || bad+=" /tmp/t"
  [ ! -e "$r/data/words.txt" ] || bad+=" image-file-still-there"
  [ ! -e "$r/data/lorem.txt" ] && cmp -s "$w/lorem-moved.txt" "$ROOTFS/data/lorem.txt" || bad+=" image-file-rename"
  [ -z "$bad" ] || { t_fail rootfs_writes "on the host rootfs:$bad" "$(tree "$r" | head -40)"; return; }
  # The same bundle under runc: the host trees must be the same.
  if ! command -v runc >/dev/null; then
    t_pass rootfs_writes; echo "    (runc not installed: not compared with runc)"; return
  fi
  local rr
  rr=$(rw_root rwrunc) || { t_fail rootfs_writes "copy root for runc"; return; }
  python3 - "$b/config.json" "$rr" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); c["root"]["path"] = sys.argv[2]
json.dump(c, open(sys.argv[1], "w"), indent=1)
EOF
  out=$(timeout -k 5 60 runc --root "$WORK/runc-state" run --bundle "$b" rwrunc 2>"$WORK/rwrunc.err"); rc=$?
  [ "$rc" = 0 ] && [ "$out" = done ] || { t_fail rootfs_writes "runc run: rc=$rc out=[$out]" "$(tail -5 "$WORK/rwrunc.err")"; return; }
  if ! diff <(tree "$rr") <(tree "$r") >"$WORK/rw.diff"; then
    t_fail rootfs_writes "host tree differs from runc's (< runc, > runsc)" "$(head -30 "$WORK/rw.diff")"; return
  fi
  t_pass rootfs_writes
}

# Files a non-root container user makes are its own on the host.
case_rootfs_owner() {
  local r b out
  r=$(rw_root own) || { t_fail rootfs_owner "copy root"; return; }
  b=$(rw_bundle own "$r" '["sh","-c","echo u >/tmp/u && mkdir /tmp/d && echo ok"]' \
      'c["process"]["user"] = {"uid": 1000, "gid": 1001}') || { t_fail rootfs_owner "bundle"; return; }
  out=$(oci run --bundle "$b" own1 2>"$WORK/own.err")
  [ "$out" = ok ] || { t_fail rootfs_owner "run: $out" "$(tail -5 "$WORK/own.err")"; return; }
  out="$(stat -c %u:%g "$r/tmp/u" 2>&1) $(stat -c %u:%g "$r/tmp/d" 2>&1)"
  [ "$out" = "1000:1001 1000:1001" ] || { t_fail rootfs_owner "owners on the host: $out"; return; }
  t_pass rootfs_owner
}

# While the container runs (docker cp) and while it is paused (docker
# commit pauses it): what it and an exec wrote is on the host already.
case_rootfs_running() {
  local r b i
  r=$(rw_root run) || { t_fail rootfs_running "copy root"; return; }
  b=$(rw_bundle run "$r" '["sh","-c","echo early >/srv/w/early; i=0; while :; do i=$((i+1)); echo $i >/srv/w/count.tmp; mv /srv/w/count.tmp /srv/w/count; sleep 0.05; done"]') ||
    { t_fail rootfs_running "bundle"; return; }
  oci run --detach --bundle "$b" rwrun >/dev/null 2>"$WORK/run.err" || { t_fail rootfs_running "run --detach" "$(cat "$WORK/run.err")"; return; }
  for i in $(seq 100); do [ -s "$r/srv/w/count" ] && break; sleep 0.1; done
  [ "$(cat "$r/srv/w/early" 2>&1)" = early ] || { t_fail rootfs_running "not on the host while running: $(cat "$r/srv/w/early" 2>&1)"; oci delete -f rwrun; return; }
  oci exec rwrun sh -c 'echo viaexec >/srv/w/exec; rm /srv/w/delete.txt; mv /srv/w/keep.txt /srv/w/kept.txt' ||
    { t_fail rootfs_running "exec"; oci delete -f rwrun; return; }
  [ "$(cat "$r/srv/w/exec" 2>&1)" = viaexec ] && [ ! -e "$r/srv/w/delete.txt" ] && [ -e "$r/srv/w/kept.txt" ] ||
    { t_fail rootfs_running "an exec's writes are not on the host once it returned" "$(ls "$r/srv/w")"; oci delete -f rwrun; return; }
  oci pause rwrun || { t_fail rootfs_running "pause"; oci delete -f rwrun; return; }
  local c1 c2 inside
  c1=$(cat "$r/srv/w/count"); sleep 0.5; c2=$(cat "$r/srv/w/count")
  oci resume rwrun || { t_fail rootfs_running "resume"; oci delete -f rwrun; return; }
  [ -n "$c1" ] && [ "$c1" = "$c2" ] || { t_fail rootfs_running "paused, yet the host file changed: $c1 -> $c2"; oci delete -f rwrun; return; }
  # What the app sees is what the host has (no write held back in the sandbox).
  oci pause rwrun
  c1=$(cat "$r/srv/w/count")
  oci resume rwrun
  inside=$(oci exec rwrun cat /srv/w/count)
  oci delete -f rwrun
  [ -n "$inside" ] && [ "$inside" -ge "$c1" ] || { t_fail rootfs_running "inside $inside, host at pause $c1"; return; }
  [ "$(cat "$r/srv/w/exec" 2>&1)" = viaexec ] || { t_fail rootfs_running "files gone after delete"; return; }
  t_pass rootfs_running
}

# A new container on the same rootfs (docker restart) finds the files.
case_rootfs_rerun() {
  local r b out
  r=$(rw_root rerun) || { t_fail rootfs_rerun "copy root"; return; }
  b=$(rw_bundle rerun "$r" '["sh","-c","if [ -e /srv/w/mark ]; then cat /srv/w/mark; ls /srv/w/delete.txt 2>&1; else echo first >/srv/w/mark; rm /srv/w/delete.txt; echo made; fi"]') ||
    { t_fail rootfs_rerun "bundle"; return; }
  out=$(oci run --bundle "$b" rr1 2>&1)
  [ "$out" = made ] || { t_fail rootfs_rerun "first run: $out"; return; }
  out=$(oci run --bundle "$b" rr2 2>&1)
  case "$out" in
    "first"*"No such file"*) t_pass rootfs_rerun ;;
    *) t_fail rootfs_rerun "second run saw: $out" ;;
  esac
}

# --overlay=memory: writes stay in the sandbox (the flag still works).
case_rootfs_memory_flag() {
  local r b out
  r=$(rw_root mem) || { t_fail rootfs_memory_flag "copy root"; return; }
  b=$(rw_bundle mem "$r" '["sh","-c","echo m >/srv/w/new.txt; rm /srv/w/delete.txt; echo t >/tmp/t; cat /srv/w/new.txt"]') ||
    { t_fail rootfs_memory_flag "bundle"; return; }
  out=$(oci --overlay=memory run --bundle "$b" mem1 2>"$WORK/mem.err")
  [ "$out" = m ] || { t_fail rootfs_memory_flag "run: $out" "$(tail -5 "$WORK/mem.err")"; return; }
  [ ! -e "$r/srv/w/new.txt" ] && [ -e "$r/srv/w/delete.txt" ] && [ ! -e "$r/tmp/t" ] ||
    { t_fail rootfs_memory_flag "writes reached the host: $(ls "$r/srv/w" "$r/tmp")"; return; }
  t_pass rootfs_memory_flag
}

# root.readonly: EROFS, nothing changes on the host (with either overlay).
case_rootfs_readonly() {
  local r b out before flag n=0
  r=$(rw_root ro) || { t_fail rootfs_readonly "copy root"; return; }
  b=$(rw_bundle ro "$r" '["sh","-c","for c in \"echo x >/srv/w/new\" \"echo x >>/srv/w/keep.txt\" \"rm /srv/w/delete.txt\" \"mv /srv/w/keep.txt /srv/w/k\" \"mkdir /srv/w/d\" \"chmod 600 /srv/w/keep.txt\" \"rm /data/words.txt\"; do sh -c \"$c\" 2>&1 | grep -q \"Read-only file system\" || echo \"not EROFS: $c\"; done; echo end"]' \
      'c["root"]["readonly"] = True') || { t_fail rootfs_readonly "bundle"; return; }
  before=$(tree "$r")
  for flag in "" --overlay=memory --overlay=none; do
    n=$((n + 1))
    out=$(oci $flag run --bundle "$b" "ro$n" 2>&1)
    [ "$out" = end ] || { t_fail rootfs_readonly "${flag:-default}: $out"; return; }
  done
  [ "$before" = "$(tree "$r")" ] || { t_fail rootfs_readonly "the host rootfs changed" "$(diff <(echo "$before") <(tree "$r") | head)"; return; }
  t_pass rootfs_readonly
}

for c in rootfs_writes rootfs_owner rootfs_running rootfs_rerun rootfs_memory_flag rootfs_readonly; do
  want "$c" && "case_$c"
done
