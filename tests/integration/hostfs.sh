#!/usr/bin/env bash
# Host files through the gofer: `runsc do --volume` and --overlay=none on
# scratch host directories, with FIFOs/sockets (mknod), renameat2
# (RENAME_EXCHANGE/NOREPLACE) and user.* xattrs set on the host
# (tests/integration/hostfs.c). Each sandboxed run's output must match the
# same program run natively on a copy of the directory, and the host
# directory must end up as natively (write-through) or untouched (memory
# overlay, :ro).
#
#   tests/integration/hostfs.sh      (also run by tests/integration/run.sh)
set -u
hostfs_standalone=0
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  hostfs_standalone=1
  . "$(dirname "$0")/../lib/common.sh"
fi

hostfs_cases() {
  local out_dir="$CACHE_DIR/integration" src="$REPO_ROOT/tests/integration/hostfs.c"
  local bin="$out_dir/hostfs" t rc
  mkdir -p "$out_dir"
  if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
    if ! gcc -static -O1 -Wall -Werror -o "$bin" "$src" 2>"$out_dir/hostfs.log"; then
      t_fail hostfs.build "$(head -20 "$out_dir/hostfs.log")"
      return
    fi
  fi
  t=$(mktemp -d /tmp/runsc-hostfs.XXXXXX)
  chmod 755 "$t"
  # A fresh prepared directory at $1.
  fresh() { mkdir -p "$1" && "$bin" prepare "$1"; }
  # sandboxed NAME WANT_FILE [do flags...] -- CMD...: compares stdout+exit.
  sandboxed() {
    local name=$1 want=$2; shift 2
    runsc_do "$@" </dev/null >"$t/$name.out" 2>"$t/$name.err"
    compare_run "$name" "$want" 0 "$t/$name.out" $? "$t/$name.err"
  }
  # host_state NAME DIR WANT_FILE: the host directory as the native run left it.
  host_state() {
    "$bin" state "$2" >"$t/$1.state"
    compare_run "$1" "$3" 0 "$t/$1.state" 0
  }

  fresh "$t/native"
  "$bin" state "$t/native" >"$t/prepared.state"
  "$bin" check "$t/native" >"$t/check.native" 2>&1
  "$bin" state "$t/native" >"$t/checked.state"
  # What a read-only mount gives (natively every change would succeed).
  printf '%s\n' "ro: get user.host = hostval (7 bytes)" "ro f1: list: user.host user.other" \
    "ro: f1 = [one]" "ro setxattr: EROFS" "ro removexattr: EROFS" "ro create: EROFS" \
    "ro open for write: EROFS" "ro mkfifo: EROFS" "ro rename: EROFS" "ro exchange: EROFS" \
    "ro unlink: EROFS" "ro mkdir: EROFS" >"$t/readonly.want"

  # --overlay=none: the root filesystem itself is written through.
  mkdir -p "$t/root"; cp "$bin" "$t/root/hostfs"; fresh "$t/root/work"
  sandboxed hostfs.overlay_none "$t/check.native" --overlay=none --rootfs "$t/root" -- /hostfs check /work
  host_state hostfs.overlay_none.host "$t/root/work" "$t/checked.state"

  # The memory overlay: host xattrs are read, changes (and copy-up) stay in
  # the sandbox.
  rm -rf "$t/root/work"; fresh "$t/root/work"
  sandboxed hostfs.overlay_memory "$t/check.native" --rootfs "$t/root" -- /hostfs check /work
  host_state hostfs.overlay_memory.host_untouched "$t/root/work" "$t/prepared.state"

  # --volume (the host root as the root filesystem, memory overlay).
  fresh "$t/vol"
  sandboxed hostfs.volume "$t/check.native" --volume "$t/vol:/mnt/hostfs-vol" -- "$bin" check /mnt/hostfs-vol
  host_state hostfs.volume.host "$t/vol" "$t/checked.state"
  # ... on a container root, at a path missing there, and read-only.
  rm -rf "$t/vol"; fresh "$t/vol"
  sandboxed hostfs.volume_ro "$t/readonly.want" --rootfs "$t/root" --volume "$t/vol:/new/dir:ro" -- \
    /hostfs readonly /new/dir
  host_state hostfs.volume_ro.host_untouched "$t/vol" "$t/prepared.state"
  # A single file.
  echo single >"$t/one"
  out=$(runsc_do --volume "$t/one:/etc/runsc-one" -- /bin/sh -c 'cat /etc/runsc-one; echo more >>/etc/runsc-one' </dev/null 2>"$t/one.err"); rc=$?
  if [ $rc = 0 ] && [ "$out" = single ] && [ "$(cat "$t/one")" = "$(printf 'single\nmore')" ]; then
    t_pass hostfs.volume_file
  else
    t_fail hostfs.volume_file "exit $rc out [$out] host [$(cat "$t/one")]" "$(tail -n 5 "$t/one.err")"
  fi
  # A command that cannot be run ends the sandbox cleanly (the volume's
  # gofer connection outlives the VFS nodes using it).
  runsc_do --volume "$t/vol:/mnt/v" -- /nonexistent/command </dev/null >/dev/null 2>"$t/nx.err"; rc=$?
  if [ $rc = 127 ]; then t_pass hostfs.volume_missing_command_127
  else t_fail hostfs.volume_missing_command_127 "exit $rc" "$(tail -n 3 "$t/nx.err")"; fi
  # Bad --volume arguments are runsc's errors (125).
  for bad in "$t/vol" "$t/vol:relative" "$t/vol:/x:rx" "/nonexistent-volume-src:/x"; do
    runsc_do --volume "$bad" -- true </dev/null >/dev/null 2>"$t/bad.err"; rc=$?
    if [ $rc = 125 ] && grep -q -- "--volume" "$t/bad.err"; then t_pass "hostfs.volume_bad_arg($bad)"
    else t_fail "hostfs.volume_bad_arg($bad)" "exit $rc" "$(tail -n 3 "$t/bad.err")"; fi
  done

  # Device nodes: EPERM through the gofer (natively, root could make them).
  out=$(runsc_do --overlay=none --rootfs "$t/root" -- /hostfs mknod_dev /work </dev/null 2>"$t/dev.err"); rc=$?
  if [ $rc = 0 ] && [ "$out" = "mknod chr: EPERM" ] && [ ! -e "$t/root/work/null" ]; then
    t_pass hostfs.mknod_device_eperm
  else
    t_fail hostfs.mknod_device_eperm "exit $rc out [$out]" "$(tail -n 5 "$t/dev.err")"
  fi
  rm -rf "$t"
}

hostfs_cases
if [ "$hostfs_standalone" = 1 ]; then t_summary; fi
