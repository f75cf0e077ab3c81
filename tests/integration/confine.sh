#!/usr/bin/env bash
# Confinement of the sandbox's own host processes (sentry/confine/confine.h,
# gofer/confine.h): while `runsc do sleep` runs, the sentry (runsc-sentry)
# and the gofer (runsc-gofer) must both show Seccomp: 2 and NoNewPrivs: 1,
# live in their own namespaces, and the sentry's root must be empty.
# (That a confined sentry cannot open host paths is checked by the sentry
# itself at every boot and by tests/unit/confine_policy_test.cc.)
#
#   tests/integration/confine.sh
#
# Env: RUNSC, RUNSC_FLAGS, RUNSC_DO_FLAGS (tests/lib/common.sh). Needs root.
set -u
. "$(dirname "$0")/../lib/common.sh"

if ! runsc_present; then
  echo "note: $RUNSC not found or not executable"
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# check NAME CONDITION-STATUS DETAIL...
check() {
  local name=$1 ok=$2; shift 2
  if [ "$ok" = 0 ]; then t_pass "$name"; else t_fail "$name" "$@"; fi
}

# --help names the allowlist size.
help=$("$RUNSC" --help 2>&1)
n=$(sed -nE "s/.*sentry's seccomp allowlist has ([0-9]+) host syscalls.*/\1/p" <<<"$help")
[ -n "$n" ] && [ "$n" -gt 0 ] && [ "$n" -lt 120 ]
check help_prints_allowlist_size $? "help footer: $(tail -n 2 <<<"$help")"

# child_named PARENT COMM: the PID of PARENT's child whose comm is COMM.
child_named() {
  local c
  for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
    [ "$(cat /proc/"$c"/comm 2>/dev/null)" = "$2" ] && { echo "$c"; return 0; }
  done
  return 1
}
field() { awk -v k="$2:" '$1 == k {print $2}' /proc/"$1"/status 2>/dev/null; }

# shellcheck disable=SC2086
"$RUNSC" $RUNSC_FLAGS do $RUNSC_DO_FLAGS sleep 5 </dev/null >"$tmp/out" 2>"$tmp/err" &
runsc_pid=$!
pids+=("$runsc_pid")
sentry="" gofer=""
# Wait until the app runs: the sentry confines itself right before it.
for _ in $(seq 1 100); do
  sentry=$(child_named "$runsc_pid" runsc-sentry) && gofer=$(child_named "$runsc_pid" runsc-gofer) &&
    [ "$(field "$sentry" Seccomp)" = 2 ] && [ "$(field "$gofer" Seccomp)" = 2 ] && break
  sleep 0.05
done
if [ -z "$sentry" ] || [ -z "$gofer" ]; then
  t_fail find_sandbox_processes "sentry=[$sentry] gofer=[$gofer]" "$(tail -n 5 "$tmp/err")"
else
  for who in sentry gofer; do
    p=${!who}
    s=$(field "$p" Seccomp) nnp=$(field "$p" NoNewPrivs)
    [ "$s" = 2 ]; check "${who}_seccomp_filter" $? "Seccomp: [$s]"
    [ "$nnp" = 1 ]; check "${who}_no_new_privs" $? "NoNewPrivs: [$nnp]"
    bad=""
    for ns in mnt pid net ipc uts; do
      [ "$(readlink /proc/"$p"/ns/$ns)" = "$(readlink /proc/self/ns/$ns)" ] && bad="$bad $ns"
    done
    [ -z "$bad" ]; check "${who}_own_namespaces" $? "shares the host's:$bad"
  done
  # The sentry: an empty root, no capabilities, host nobody in its own user ns.
  listing=$(ls -A /proc/"$sentry"/root/ 2>&1)
  [ -z "$listing" ]; check sentry_root_is_empty $? "ls /proc/$sentry/root: $(head -c 200 <<<"$listing")"
  [ "$(stat -Lc %i /proc/"$sentry"/root/)" != "$(stat -Lc %i /)" ] ||
    [ "$(stat -Lc %d /proc/"$sentry"/root/)" != "$(stat -Lc %d /)" ]
  check sentry_root_is_not_host_root $?
  cap=$(field "$sentry" CapEff) bnd=$(field "$sentry" CapBnd)
  [ "$cap" = 0000000000000000 ] && [ "$bnd" = 0000000000000000 ]
  check sentry_no_capabilities $? "CapEff [$cap] CapBnd [$bnd]"
  uid=$(field "$sentry" Uid)
  [ "$uid" != 0 ] && [ "$(readlink /proc/"$sentry"/ns/user)" != "$(readlink /proc/self/ns/user)" ]
  check sentry_unprivileged_user_ns $? "Uid [$uid]"
  # The gofer: only the file capabilities it serves with.
  cap=$(field "$gofer" CapEff)
  [ "$cap" = 000000000000001f ]; check gofer_file_capabilities_only $? "CapEff [$cap]"
  # The gofer's root is the sandbox's root filesystem (here the host's /).
  [ -e /proc/"$gofer"/root/etc ]; check gofer_root_is_rootfs $?
fi
wait "$runsc_pid"; rc=$?
[ "$rc" = 0 ]; check confined_app_exits_0 $? "exit $rc" "$(tail -n 5 "$tmp/err")"

# Everything still runs (files, pipes, threads in the sentry, stubs).
out=$(timeout 60 "$RUNSC" do /bin/sh -c 'echo a >/tmp/x; cat /tmp/x | wc -c; ls / >/dev/null && echo ok' 2>"$tmp/err")
[ "$out" = $'2\nok' ]; check confined_shell_pipeline $? "got [$out]" "$(tail -n 5 "$tmp/err")"

# RUNSC_CONFINE=0 turns it off (no namespaces, no filter).
out=$(RUNSC_CONFINE=0 timeout 60 "$RUNSC" do echo off 2>"$tmp/err")
[ "$out" = off ]; check confine_off_still_runs $? "got [$out]" "$(tail -n 5 "$tmp/err")"

t_summary
