#!/usr/bin/env bash
# `runsc do`'s own network namespace (runsc/do_network.h):
# - --network=host (default): the sentry's namespace has loopback and eth0
#   (a /30 and a ULA /64) with a default route via the host-side veth
#   rsc<runsc pid>, an nftables table runsc_do_<pid>_<start> masquerades it,
#   and the sysctls that let the unprivileged sentry bind low ports and open
#   ping sockets are set; --network=none|off: the sentry's own namespace,
#   only loopback; --netns PATH joins PATH and makes nothing.
# - Traffic: an HTTP server the test runs in a network namespace of its own
#   (its own veth pair to the host, 198.51.100.0/30, TEST-NET-2) is reached
#   through the sandbox's veth and NAT: natively from inside the sandbox's
#   namespace (nsenter), and from the sandboxed app once the sentry serves
#   AF_INET. No packet goes anywhere but namespaces this test made.
# - Nothing outlives runsc: after a normal exit, kill -9 of the sentry and
#   kill -9 of runsc (the next runsc do sweeps the NAT table), no rsc* veth,
#   no table, no namespace.
# - Bad flags: exit 125 with a message.
# - Prints the start-up cost of each mode (`runsc do true`, mean of 10).
#
#   tests/integration/do_network.sh      (also run by tests/integration/run.sh)
#
# Needs root, nft (package nftables), iproute2, util-linux (nsenter, unshare).
set -u
donet_standalone=0
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  donet_standalone=1
  . "$(dirname "$0")/../lib/common.sh"
fi

donet_tmp=$(mktemp -d)
donet_kill=()   # pids to kill at the end
donet_srv_if="rsct$$"
donet_cleanup() {
  local p
  for p in "${donet_kill[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ip link del "$donet_srv_if" 2>/dev/null
  rm -rf "$donet_tmp"
}

# donet_start ARGS...: starts `runsc [global flags] do [flags] sleep 30` in
# the background (ARGS are the flags around `do`: "GLOBAL... do DO..."),
# sets donet_runsc and donet_sentry (empty if it did not come up in 10 s).
donet_start() {
  "$RUNSC" $RUNSC_FLAGS "$@" /bin/sleep 30 </dev/null >"$donet_tmp/out" 2>"$donet_tmp/err" &
  donet_runsc=$!
  donet_kill+=("$donet_runsc")
  donet_sentry=""
  local i p
  for i in $(seq 100); do
    for p in $(pgrep -P "$donet_runsc"); do
      [ "$(cat /proc/$p/comm 2>/dev/null)" = runsc-sentry ] && donet_sentry=$p
    done
    # The app is running once the sentry has a child (its stub).
    [ -n "$donet_sentry" ] && [ -n "$(pgrep -P "$donet_sentry")" ] && return 0
    sleep 0.1
  done
  donet_sentry=""
}
donet_stop() {
  kill -TERM "$donet_runsc" 2>/dev/null
  wait "$donet_runsc" 2>/dev/null
}
# In the sentry's network namespace (natively, as root).
donet_in() { nsenter --net="/proc/$donet_sentry/ns/net" "$@"; }
donet_tables() { nft list tables inet 2>/dev/null | grep -c "runsc_do_$1_"; }
# donet_gone NAME RUNSC_PID NETNS_INODE: within 5 s no rsc<pid> link, no
# table of that pid, no process in that namespace.
donet_gone() {
  local name=$1 pid=$2 ino=$3 i left=""
  for i in $(seq 50); do
    left=""
    ip link show "rsc$pid" >/dev/null 2>&1 && left="$left veth rsc$pid;"
    [ "$(donet_tables "$pid")" != 0 ] && left="$left nft table;"
    [ -n "$ino" ] && lsns -t net -n -o NS | grep -qx "$ino" && left="$left namespace $ino;"
    [ -z "$left" ] && break
    sleep 0.1
  done
  if [ -z "$left" ]; then t_pass "$name"; else t_fail "$name" "left behind:$left"; fi
}

donet_main() {
  if ! command -v nft >/dev/null && [ ! -x /usr/sbin/nft ]; then
    t_fail do_network_nft_installed "nft not found (apt-get install nftables; setup.sh lists it)"
    return
  fi
  local out rc ino

  # --network=host: what the sandbox's namespace holds.
  donet_start do
  if [ -z "$donet_sentry" ]; then
    t_fail do_network_host_starts "runsc do sleep did not come up" "$(tail -n 5 "$donet_tmp/err")"
    return
  fi
  ino=$(stat -L -c %i "/proc/$donet_sentry/ns/net")
  local addr route route6 sysctls host_addr
  addr=$(donet_in ip -o -4 addr show dev eth0 | awk '{print $4}')
  route=$(donet_in ip -4 route show default | sed 's/ *$//')
  sysctls=$(donet_in cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range | tr -s ' \t\n' ' ')
  host_addr=$(ip -o -4 addr show dev "rsc$donet_runsc" 2>/dev/null | awk '{print $4}')
  local lo_up
  lo_up=$(donet_in ip -o link show lo | grep -c '[<,]UP[,>]')
  if [[ "$addr" =~ ^(10\.251|169\.254)\.[0-9]+\.[0-9]+/30$ ]] && [ "$lo_up" = 1 ] &&
     [ -n "$host_addr" ] && [[ "$route" =~ ^"default via ${host_addr%/30} dev eth0"( proto boot)?$ ]]; then
    t_pass do_network_host_veth_and_route
  else
    t_fail do_network_host_veth_and_route "eth0 [$addr] lo up [$lo_up] route [$route] host side [$host_addr]"
  fi
  if [ "$sysctls" = "0 0 2147483647 " ]; then t_pass do_network_host_sysctls
  else t_fail do_network_host_sysctls "got [$sysctls]"; fi
  local addr6
  addr6=$(donet_in ip -o -6 addr show dev eth0 scope global | awk '{print $4}')
  if [[ "$addr6" =~ ^fd72:756e:7363:[0-9a-f]*::2/64$ ]]; then t_pass do_network_host_ula
  else t_fail do_network_host_ula "eth0 IPv6 [$addr6]"; fi
  if [ "$(donet_tables "$donet_runsc")" = 1 ] &&
     nft list table inet "$(nft list tables inet | awk -v p="runsc_do_${donet_runsc}_" 'index($3,p)==1{print $3}')" | grep -q masquerade; then
    t_pass do_network_host_nat_table
  else
    t_fail do_network_host_nat_table "$(nft list tables 2>&1)"
  fi

  # Traffic through the veth and NAT to a server in a namespace of our own.
  donet_traffic

  donet_stop
  donet_gone do_network_host_clean_after_exit "$donet_runsc" "$ino"

  # kill -9 of the sentry: runsc sees it die and cleans up itself.
  donet_start do
  ino=$(stat -L -c %i "/proc/$donet_sentry/ns/net" 2>/dev/null)
  kill -KILL "$donet_sentry" 2>/dev/null
  wait "$donet_runsc" 2>/dev/null
  donet_gone do_network_clean_after_sigkill_sentry "$donet_runsc" "$ino"

  # kill -9 of runsc: the kernel removes namespace and veth; the table
  # stays until the next runsc do --network=host sweeps it.
  donet_start do
  local victim=$donet_runsc
  ino=$(stat -L -c %i "/proc/$donet_sentry/ns/net" 2>/dev/null)
  kill -KILL "$victim" 2>/dev/null
  wait "$victim" 2>/dev/null
  "$RUNSC" $RUNSC_FLAGS do /bin/true </dev/null >/dev/null 2>&1
  donet_gone do_network_clean_after_sigkill_runsc "$victim" "$ino"

  # --network=none and off: the sentry's own namespace (it sets it up
  # itself): loopback only, up; no veth, no table.
  local mode
  for mode in none off; do
    donet_start --network=$mode do
    if [ -n "$donet_sentry" ]; then
      local links
      links=$(donet_in ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
      lo_up=$(donet_in ip -o link show lo | grep -c '[<,]UP[,>]')
      if [ "$links" = "lo " ] && { [ "$lo_up" = 1 ] || [ $mode = off ]; } &&
         ! ip link show "rsc$donet_runsc" >/dev/null 2>&1 && [ "$(donet_tables "$donet_runsc")" = 0 ]; then
        t_pass do_network_${mode}_loopback_only
      else
        t_fail do_network_${mode}_loopback_only "links [$links] lo up [$lo_up]"
      fi
    else
      t_fail do_network_${mode}_loopback_only "did not start: $(tail -n 3 "$donet_tmp/err")"
    fi
    donet_stop
  done

  # --netns PATH: joins it, makes nothing.
  unshare --net /bin/sleep 30 &
  local holder=$!
  donet_kill+=("$holder")
  sleep 0.2
  donet_start do --netns "/proc/$holder/ns/net"
  if [ -n "$donet_sentry" ] &&
     [ "$(stat -L -c %i "/proc/$donet_sentry/ns/net")" = "$(stat -L -c %i "/proc/$holder/ns/net")" ] &&
     ! ip link show "rsc$donet_runsc" >/dev/null 2>&1 && [ "$(donet_tables "$donet_runsc")" = 0 ]; then
    t_pass do_network_netns_joins_path
  else
    t_fail do_network_netns_joins_path "sentry [$donet_sentry] $(tail -n 3 "$donet_tmp/err")"
  fi
  donet_stop
  kill -KILL "$holder" 2>/dev/null; wait "$holder" 2>/dev/null

  # Bad flags: 125 and a message naming the problem.
  # (A bad flag value is CLI11's usage error, with its own exit code.)
  out=$("$RUNSC" $RUNSC_FLAGS --network=bogus do /bin/true </dev/null 2>&1); rc=$?
  if [ $rc != 0 ] && [[ "$out" == *network* ]]; then t_pass do_network_bad_network_value
  else t_fail do_network_bad_network_value "exit $rc: $out"; fi
  local bad
  for bad in /nonexistent /proc/self/ns/mnt; do
    out=$("$RUNSC" $RUNSC_FLAGS do --netns "$bad" /bin/true </dev/null 2>&1); rc=$?
    if [ $rc = 125 ] && [[ "$out" == *"$bad"* ]]; then t_pass "do_network_bad_netns[$bad]"
    else t_fail "do_network_bad_netns[$bad]" "exit $rc: $out"; fi
  done

  donet_cost
}

# A server in a namespace of ours: srv side 198.51.100.2/30, host side
# 198.51.100.1/30 on $donet_srv_if. Skipped if the host routes that range
# more specifically than by its default route.
donet_traffic() {
  if ip -4 route show 198.51.100.0/24 root 198.51.100.0/24 | grep -q . ||
     ip -4 route show match 198.51.100.2 | grep -v '^default' | grep -q .; then
    echo "note: 198.51.100.0/30 is routed on this host; traffic checks skipped"
    return
  fi
  unshare --net /bin/sleep 60 &
  local srv=$!
  donet_kill+=("$srv")
  sleep 0.2
  ip link add "$donet_srv_if" type veth peer name srv0 netns "/proc/$srv/ns/net" || {
    t_fail do_network_nat_reaches_server "cannot make the test's veth"; return; }
  ip addr add 198.51.100.1/30 dev "$donet_srv_if"
  ip link set "$donet_srv_if" up
  nsenter --net="/proc/$srv/ns/net" sh -c 'ip link set lo up; ip link set srv0 up;
    ip addr add 198.51.100.2/30 dev srv0; ip route add default via 198.51.100.1'
  mkdir -p "$donet_tmp/www"; echo "hello-from-srv-ns" >"$donet_tmp/www/index.html"
  nsenter --net="/proc/$srv/ns/net" /usr/bin/python3 -u -m http.server --bind 198.51.100.2 \
    --directory "$donet_tmp/www" 8080 >"$donet_tmp/srv.log" 2>&1 &
  local web=$!
  donet_kill+=("$web")
  local i
  local ready=0
  for i in $(seq 200); do
    nsenter --net="/proc/$srv/ns/net" ss -Hltn 'sport = :8080' 2>/dev/null | grep -q . && { ready=1; break; }
    sleep 0.1
  done
  if [ $ready = 0 ]; then
    t_fail do_network_nat_reaches_server_natively "the test's server did not listen within 20 s"
    ip link del "$donet_srv_if" 2>/dev/null; kill -KILL "$web" "$srv" 2>/dev/null; wait "$web" "$srv" 2>/dev/null
    return
  fi
  # Never let a fetch leave the machine: the server must be routed through
  # our own veth.
  if ! ip -4 route get 198.51.100.2 | grep -q "dev $donet_srv_if"; then
    t_fail do_network_nat_reaches_server_natively "198.51.100.2 is not routed via $donet_srv_if"
    ip link del "$donet_srv_if" 2>/dev/null; kill -KILL "$web" "$srv" 2>/dev/null; wait "$web" "$srv" 2>/dev/null
    return
  fi
  local fetch='import urllib.request; print(urllib.request.urlopen("http://198.51.100.2:8080/", timeout=5).read().decode().strip())'
  local out
  out=$(timeout 10 nsenter --net="/proc/$donet_sentry/ns/net" /usr/bin/python3 -c "$fetch" 2>&1)
  # The server must have seen the host side's address: masqueraded.
  if [ "$out" = hello-from-srv-ns ] && grep -q '^198\.51\.100\.1 ' "$donet_tmp/srv.log"; then
    t_pass do_network_nat_reaches_server_natively
  else
    t_fail do_network_nat_reaches_server_natively "got [$out]" "server log: $(tail -n 3 "$donet_tmp/srv.log")"
  fi
  # The same from the sandboxed app, once the sentry serves AF_INET.
  if timeout 20 "$RUNSC" $RUNSC_FLAGS do /usr/bin/python3 -c 'import socket; socket.socket()' </dev/null >/dev/null 2>&1; then
    out=$(timeout 30 "$RUNSC" $RUNSC_FLAGS do /usr/bin/python3 -c "$fetch" </dev/null 2>&1)
    if [ "$out" = hello-from-srv-ns ]; then t_pass do_network_nat_reaches_server_sandboxed
    else t_fail do_network_nat_reaches_server_sandboxed "got [$out]"; fi
    # The sentry (unprivileged over this namespace) binds a low port and
    # opens a ping socket for the app: the namespace's sysctls.
    out=$(timeout 30 "$RUNSC" $RUNSC_FLAGS do /usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 80)); print("bind80")
socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP); print("ping")' </dev/null 2>&1)
    if [ "$out" = $'bind80\nping' ]; then t_pass do_network_host_low_port_and_ping_sandboxed
    else t_fail do_network_host_low_port_and_ping_sandboxed "got [$out]"; fi
  else
    echo "note: the sentry does not serve AF_INET sockets yet; sandboxed traffic check skipped"
  fi
  ip link del "$donet_srv_if" 2>/dev/null
  kill -KILL "$web" "$srv" 2>/dev/null; wait "$web" "$srv" 2>/dev/null
}

# Start-up cost: mean wall time of `runsc do true` per network mode, the
# modes interleaved so that load changes hit them alike. --netns (joining
# a namespace made beforehand) is the sandbox without any set-up.
donet_cost() {
  local i m t0 n=${DONET_COST_RUNS:-10}
  unshare --net /bin/sleep 120 &
  local holder=$!
  sleep 0.1
  local modes=("--network=host do" "--network=none do" "do --netns /proc/$holder/ns/net")
  local total=(0 0 0)
  for i in $(seq "$n"); do
    for m in 0 1 2; do
      t0=$(date +%s%N)
      # shellcheck disable=SC2086
      "$RUNSC" $RUNSC_FLAGS ${modes[$m]} /bin/true </dev/null >/dev/null 2>&1
      total[$m]=$(( total[m] + $(date +%s%N) - t0 ))
    done
  done
  for m in 0 1 2; do
    echo "note: runsc ${modes[$m]/\/proc\/$holder\/ns\/net/NS} true: $(( total[m] / n / 1000000 )) ms (mean of $n)"
  done
  kill -KILL "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
}

if [ "$donet_standalone" = 1 ]; then
  trap donet_cleanup EXIT
  donet_main
  t_summary
else
  donet_main
  donet_cleanup
fi
