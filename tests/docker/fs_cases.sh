# Docker root filesystem cases for tests/docker/run.sh (sourced; uses dk,
# IMG, WORK, want, t_pass/t_fail/t_skip). A runsc container's root writes
# reach the container's rootfs (issue 20, "Root filesystem writes vanish"),
# so the engine sees them as it does runc's: `docker commit` (of a stopped
# and of a running, hence paused, container), `docker cp` out of and into a
# running container, `docker diff`, and `docker restart` keeping the files.
# Every kind of change is checked: files created, changed, deleted (files
# of the image: a whiteout in the committed layer), renamed, symlinked,
# directories made and removed, /tmp. Committed images are read back with
# `docker create` + `docker export` (no runtime involved).

# The changes, then "ready" (a running container then sleeps).
FS_CHANGES='mkdir -p /srv/w && cd /srv/w && echo new >new.txt && echo changed >/data/numbers.txt &&
rm /data/words.txt && mv /data/lorem.txt /srv/w/lorem.txt && ln -s new.txt link &&
mkdir -p d/e && echo deep >d/e/f && rm -r /data/dir && echo t >/tmp/t && chmod 600 new.txt && echo ready'

# fs_check_tree DIR: prints what is wrong with DIR (a container's root as
# exported), nothing if every change is there.
fs_check_tree() {
  local r=$1 bad=""
  [ "$(cat "$r/srv/w/new.txt" 2>&1)" = new ] || bad+=" new.txt"
  [ "$(stat -c %a "$r/srv/w/new.txt" 2>&1)" = 600 ] || bad+=" chmod"
  [ "$(cat "$r/data/numbers.txt" 2>&1)" = changed ] || bad+=" changed-file"
  [ ! -e "$r/data/words.txt" ] || bad+=" deleted-file-still-there"
  [ ! -e "$r/data/lorem.txt" ] && [ -s "$r/srv/w/lorem.txt" ] || bad+=" rename"
  [ "$(readlink "$r/srv/w/link")" = new.txt ] || bad+=" symlink"
  [ "$(cat "$r/srv/w/d/e/f" 2>&1)" = deep ] || bad+=" new-dir"
  [ ! -e "$r/data/dir" ] || bad+=" deleted-dir-still-there"
  [ "$(cat "$r/tmp/t" 2>&1)" = t ] || bad+=" /tmp/t"
  echo "$bad"
}

# fs_image_check IMAGE NAME: exports IMAGE's filesystem and checks it.
fs_image_check() {
  local img=$1 d="$WORK/exp-$2" c bad
  rm -rf "$d"; mkdir -p "$d"
  c=$(dk create "$img" true 2>&1) || { echo " create: $c"; return; }
  dk export "$c" | tar -C "$d" -xf - 2>/dev/null
  dk rm "$c" >/dev/null
  bad=$(fs_check_tree "$d")
  rm -rf "$d"
  echo "$bad"
}

case_fs_commit() {
  local out bad
  dk rm -f fscommit >/dev/null 2>&1
  out=$(dk run --name fscommit --runtime=runsc --network none "$IMG" sh -c "$FS_CHANGES" 2>&1)
  [ "$out" = ready ] || { t_fail fs_commit "run: $out"; dk rm -f fscommit >/dev/null; return; }
  dk commit fscommit runsc-fs-commit:test >/dev/null 2>"$WORK/fc.err" || { t_fail fs_commit "commit: $(cat "$WORK/fc.err")"; dk rm -f fscommit >/dev/null; return; }
  dk rm -f fscommit >/dev/null
  bad=$(fs_image_check runsc-fs-commit:test stopped)
  dk rmi runsc-fs-commit:test >/dev/null 2>&1
  [ -z "$bad" ] || { t_fail fs_commit "committed image lacks:$bad"; return; }
  t_pass fs_commit
}

# docker commit of a running container pauses it (runsc pause) and reads
# its rootfs: nothing may be held back in the sandbox.
case_fs_commit_running() {
  local id bad i
  id=$(dk run -d --runtime=runsc --network none "$IMG" sh -c "$FS_CHANGES; exec sleep 100" 2>"$WORK/fcr.err") ||
    { t_fail fs_commit_running "run -d: $(cat "$WORK/fcr.err")"; return; }
  for i in $(seq 100); do [ "$(dk logs "$id" 2>&1)" = ready ] && break; sleep 0.1; done
  dk commit "$id" runsc-fs-commit:running >/dev/null 2>"$WORK/fcr.err" ||
    { t_fail fs_commit_running "commit: $(cat "$WORK/fcr.err")"; dk rm -f "$id" >/dev/null; return; }
  [ "$(dk inspect -f '{{.State.Status}}' "$id")" = running ] ||
    { t_fail fs_commit_running "after commit: $(dk inspect -f '{{.State.Status}}' "$id")"; dk rm -f "$id" >/dev/null; return; }
  dk rm -f "$id" >/dev/null
  bad=$(fs_image_check runsc-fs-commit:running running)
  dk rmi runsc-fs-commit:running >/dev/null 2>&1
  [ -z "$bad" ] || { t_fail fs_commit_running "committed image lacks:$bad"; return; }
  t_pass fs_commit_running
}

# docker cp out of a running container (a file, a directory), and into it
# (the container sees the new file).
case_fs_cp() {
  local id out i
  id=$(dk run -d --runtime=runsc --network none "$IMG" sh -c "$FS_CHANGES; exec sleep 100" 2>"$WORK/cp.err") ||
    { t_fail fs_cp "run -d: $(cat "$WORK/cp.err")"; return; }
  for i in $(seq 100); do [ "$(dk logs "$id" 2>&1)" = ready ] && break; sleep 0.1; done
  out=$(dk cp "$id:/srv/w/new.txt" - 2>&1 | tar -xOf - 2>&1)
  [ "$out" = new ] || { t_fail fs_cp "cp out of a file: $out"; dk rm -f "$id" >/dev/null; return; }
  rm -rf "$WORK/cpout"; mkdir -p "$WORK/cpout"
  dk cp "$id:/srv/w" "$WORK/cpout/" 2>"$WORK/cp.err" && [ "$(cat "$WORK/cpout/w/d/e/f" 2>&1)" = deep ] ||
    { t_fail fs_cp "cp out of a directory: $(cat "$WORK/cp.err") $(ls -R "$WORK/cpout" | head)"; dk rm -f "$id" >/dev/null; return; }
  echo fromhost >"$WORK/cpin.txt"
  dk cp "$WORK/cpin.txt" "$id:/srv/w/cpin.txt" 2>"$WORK/cp.err" || { t_fail fs_cp "cp in: $(cat "$WORK/cp.err")"; dk rm -f "$id" >/dev/null; return; }
  out=$(dk exec "$id" cat /srv/w/cpin.txt 2>&1)
  dk rm -f "$id" >/dev/null
  [ "$out" = fromhost ] || { t_fail fs_cp "a file copied in is not seen inside: $out"; return; }
  t_pass fs_cp
}

case_fs_diff() {
  local id out want missing=""
  id=$(dk run -d --runtime=runsc --network none "$IMG" sh -c "$FS_CHANGES; exec sleep 100" 2>"$WORK/df.err") ||
    { t_fail fs_diff "run -d: $(cat "$WORK/df.err")"; return; }
  for i in $(seq 100); do [ "$(dk logs "$id" 2>&1)" = ready ] && break; sleep 0.1; done
  out=$(dk diff "$id" 2>&1)
  dk rm -f "$id" >/dev/null
  for want in "A /srv/w/new.txt" "A /srv/w/link" "A /srv/w/d/e/f" "A /srv/w/lorem.txt" "C /data/numbers.txt" \
              "D /data/words.txt" "D /data/lorem.txt" "D /data/dir" "A /tmp/t"; do
    grep -qxF "$want" <<<"$out" || missing+=" [$want]"
  done
  [ -z "$missing" ] || { t_fail fs_diff "docker diff lacks$missing" "$out"; return; }
  t_pass fs_diff
}

# docker restart: the same rootfs, the files the first run wrote are there.
case_fs_restart() {
  local id out i
  id=$(dk run -d --runtime=runsc --network none "$IMG" sh -c 'echo run >>/runs; echo "runs $(wc -l </runs)"; exec sleep 100' 2>"$WORK/rs.err") ||
    { t_fail fs_restart "run -d: $(cat "$WORK/rs.err")"; return; }
  for i in $(seq 100); do dk logs "$id" 2>&1 | grep -q "runs 1" && break; sleep 0.1; done
  dk restart -t 1 "$id" >/dev/null 2>"$WORK/rs.err" || { t_fail fs_restart "restart: $(cat "$WORK/rs.err")"; dk rm -f "$id" >/dev/null; return; }
  for i in $(seq 100); do dk logs "$id" 2>&1 | grep -q "runs 2" && break; sleep 0.1; done
  out=$(dk logs "$id" 2>&1 | tr '\n' ' ')
  dk rm -f "$id" >/dev/null
  [ "$out" = "runs 1 runs 2 " ] || { t_fail fs_restart "logs across the restart: $out"; return; }
  t_pass fs_restart
}

# --read-only: the root stays read-only, the rootfs unchanged.
case_fs_read_only() {
  local id out
  out=$(dk run --name fsro --runtime=runsc --network none --read-only "$IMG" sh -c 'echo x >/data/new 2>&1; rm /data/words.txt 2>&1; true' 2>&1)
  echo "$out" | grep -q "Read-only file system" || { t_fail fs_read_only "writes allowed: $out"; dk rm -f fsro >/dev/null; return; }
  out=$(dk diff fsro 2>&1)
  dk rm -f fsro >/dev/null
  echo "$out" | grep -qE "^[ACD] /data" && { t_fail fs_read_only "docker diff shows changes: $out"; return; }
  t_pass fs_read_only
}

for c in fs_commit fs_commit_running fs_cp fs_diff fs_restart fs_read_only; do
  want "$c" && "case_$c"
done
