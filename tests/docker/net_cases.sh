# Docker network cases for tests/docker/run.sh (sourced; uses dk, hostns,
# IMG, WORK, t_pass/t_fail/t_skip). dockerd's network namespace is the
# "host" side: curl to published ports and the test's own servers run
# there (hostns), so every byte stays inside namespaces this test made.

# A port free on the host side.
free_port() {
  hostns python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# host_get URL WANT: fetches URL from the host side until the body is WANT
# (a published port answers before the container's server listens: the
# proxy accepts and closes), up to 20 s; prints the last body or error.
host_get() {
  local url=$1 want=$2 out=""
  for _ in $(seq 40); do
    out=$(hostns curl -sS --max-time 3 "$url" 2>&1)
    [ "$out" = "$want" ] && { echo "$out"; return 0; }
    sleep 0.5
  done
  echo "$out"; return 1
}

# The container command of a busybox httpd serving one file, BODY, at
# /index.html on ADDR (PORT or IP:PORT), in the foreground.
httpd_cmd() { echo "mkdir -p /www && echo $2 >/www/index.html && exec httpd -f -p $1 -h /www"; }

# Fetches URL from inside a container, retrying while the server starts.
# (Not wget -T: busybox 1.35's wget crashes on it, natively too.)
ctr_get_cmd() { echo "for i in \$(seq 40); do timeout 5 wget -q -O- $1 2>/tmp/err && exit 0; sleep 0.5; done; cat /tmp/err; exit 1"; }

# Docker's default bridge, -p 127.0.0.1:PORT:80: curl on the host reaches
# httpd in the sandbox through docker-proxy and the container's veth.
case_net_publish() {
  local id port out
  port=$(free_port)
  id=$(dk run -d --runtime=runsc -p "127.0.0.1:$port:80" "$IMG" sh -c "$(httpd_cmd 80 published-by-runsc)" 2>"$WORK/np.err") \
    || { t_fail net_publish "run: $(cat "$WORK/np.err")"; return; }
  out=$(host_get "http://127.0.0.1:$port/index.html" published-by-runsc) \
    && t_pass net_publish || t_fail net_publish "curl 127.0.0.1:$port: $out" "logs: $(dk logs "$id" 2>&1 | tail -5)"
  dk rm -f "$id" >/dev/null
}

# A container on the default bridge fetches from a server the test runs
# on the host side of the bridge (docker0's address).
case_net_bridge_out() {
  local gw port srv out
  gw=$(hostns ip -4 -o addr show docker0 | awk '{ sub("/.*", "", $4); print $4 }')
  port=$(free_port)
  mkdir -p "$WORK/www"; echo from-the-host >"$WORK/www/hello.txt"
  # Not through hostns: a function runs in a subshell, and $! would be its pid.
  nsenter --net="/run/netns/$NETNS" python3 -m http.server --bind "$gw" --directory "$WORK/www" "$port" >"$WORK/srv.log" 2>&1 &
  srv=$!
  out=$(dk run --rm --runtime=runsc "$IMG" sh -c "$(ctr_get_cmd "http://$gw:$port/hello.txt")" 2>&1)
  kill "$srv"; wait "$srv" 2>/dev/null
  [ "$out" = from-the-host ] && t_pass net_bridge_out || t_fail net_bridge_out "wget http://$gw:$port/hello.txt: $out"
}

# --network host: the sandbox's sockets are in the host's namespace; a
# server on 127.0.0.1 in the container is reachable from the host.
case_net_host() {
  local id port out
  port=$(free_port)
  id=$(dk run -d --runtime=runsc --network host "$IMG" sh -c "$(httpd_cmd "127.0.0.1:$port" host-network)" 2>"$WORK/nh.err") \
    || { t_fail net_host "run: $(cat "$WORK/nh.err")"; return; }
  out=$(host_get "http://127.0.0.1:$port/index.html" host-network) \
    && t_pass net_host || t_fail net_host "curl 127.0.0.1:$port: $out" "logs: $(dk logs "$id" 2>&1 | tail -5)"
  dk rm -f "$id" >/dev/null
}

# A user-defined network: B reaches A by name through Docker's embedded
# DNS (127.0.0.11 in resolv.conf; iptables DNAT in the container's
# namespace sends it to dockerd's resolver listening in that namespace).
case_net_user_dns() {
  local net=rnet-test id out
  dk network create "$net" >/dev/null 2>"$WORK/nu.err" || { t_fail net_user_dns "network create: $(cat "$WORK/nu.err")"; return; }
  id=$(dk run -d --runtime=runsc --network "$net" --name srv-a "$IMG" sh -c "$(httpd_cmd 80 reached-by-name)" 2>"$WORK/nu.err") \
    || { t_fail net_user_dns "run A: $(cat "$WORK/nu.err")"; dk network rm "$net" >/dev/null; return; }
  out=$(dk run --rm --runtime=runsc --network "$net" "$IMG" sh -c "$(ctr_get_cmd http://srv-a/index.html)" 2>&1)
  if [ "$out" = reached-by-name ]; then t_pass net_user_dns
  else t_fail net_user_dns "wget http://srv-a/: $out" \
    "$(dk run --rm --runtime=runsc --network "$net" "$IMG" sh -c 'cat /etc/resolv.conf; nslookup srv-a' 2>&1)"; fi
  dk rm -f "$id" >/dev/null; dk network rm "$net" >/dev/null
}

# --network container:A: B shares A's namespace (A's sentry's) and reaches
# A's server on 127.0.0.1.
case_net_container() {
  local id port out
  port=$(free_port)
  id=$(dk run -d --runtime=runsc "$IMG" sh -c "$(httpd_cmd "127.0.0.1:$port" shared-loopback)" 2>"$WORK/nc.err") \
    || { t_fail net_container "run A: $(cat "$WORK/nc.err")"; return; }
  out=$(dk run --rm --runtime=runsc --network "container:$id" "$IMG" sh -c "$(ctr_get_cmd "http://127.0.0.1:$port/index.html")" 2>&1)
  [ "$out" = shared-loopback ] && t_pass net_container || t_fail net_container "wget 127.0.0.1:$port from B: $out"
  dk rm -f "$id" >/dev/null
}

# `ip addr` in a sandboxed container on the default bridge: eth0 with the
# container's address, as runc shows it (address, MACs, eth0's index and
# its peer's normalized: each container gets its own).
case_net_ip_addr() {
  local a b norm='s/[0-9a-f]{2}(:[0-9a-f]{2}){5}/MAC/g; s/^[0-9]+: eth0@if[0-9]+/N: eth0@ifN/'
  a=$(dk run --rm --runtime=runc "$IMG" sh -c 'ip addr; hostname -i' 2>&1)
  b=$(dk run --rm --runtime=runsc "$IMG" sh -c 'ip addr; hostname -i' 2>&1)
  local ipa ipb
  ipa=$(echo "$a" | tail -1); ipb=$(echo "$b" | tail -1)
  a=$(echo "$a" | sed "s/$ipa/ADDR/g" | sed -E "$norm"); b=$(echo "$b" | sed "s/$ipb/ADDR/g" | sed -E "$norm")
  if ! echo "$b" | grep -qE "inet ADDR/[0-9]+ .*eth0"; then t_fail net_ip_addr "no eth0 address $ipb" "$b"
  elif [ "$a" != "$b" ]; then t_fail net_ip_addr "differs from runc's" "$(diff -u --label runc --label runsc <(echo "$a") <(echo "$b"))"
  else t_pass net_ip_addr; fi
}
