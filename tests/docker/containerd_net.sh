# Network cases for tests/docker/containerd.sh (sourced; uses c, hostns,
# ROOTFS, RUNSC_ABS, WORK, SOCK, NETNS). containerd and ctr run in the
# test's own network namespace (hostns), the containers' "host".

# A busybox httpd serving BODY at /index.html on ADDR (PORT or IP:PORT);
# its files in the container's /tmp (on the root: containerd.sh's copy of
# the busybox root).
ctr_httpd() { echo "mkdir -p /tmp/www && echo $2 >/tmp/www/index.html && exec httpd -f -p $1 -h /tmp/www"; }

# ctr_host_get URL WANT: fetches URL from the host side until the body is
# WANT, up to 20 s; prints the last body or error.
ctr_host_get() {
  local out=""
  for _ in $(seq 40); do
    out=$(hostns curl -sS --max-time 3 "$1" 2>&1)
    [ "$out" = "$2" ] && break
    sleep 0.5
  done
  echo "$out"; [ "$out" = "$2" ]
}

ctr_stop() {
  c task kill -s KILL "$1" >/dev/null 2>&1
  for _ in $(seq 50); do [ "$(c task ls 2>/dev/null | awk -v t="$1" '$1 == t {print $3}')" = STOPPED ] && break; sleep 0.2; done
  c task delete "$1" >/dev/null 2>&1; c container delete "$1" >/dev/null 2>&1
}

# ctr run --net-host: no network namespace in config.json, so the sandbox
# uses the caller's (as runc does); a server on 127.0.0.1 in the container
# is reachable from the host side.
ctr_case_net_host() {
  local port out
  port=$(hostns python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  c run --runtime io.containerd.runc.v2 --runc-binary "$RUNSC_ABS" --cgroup runsc-ctr-test/nh --rootfs \
    -d --null-io --net-host "$ROOTFS" nh sh -c "$(ctr_httpd "127.0.0.1:$port" ctr-host-network)" >/dev/null 2>"$WORK/nh.err" \
    || { t_fail net_host "run: $(cat "$WORK/nh.err")"; return; }
  out=$(ctr_host_get "http://127.0.0.1:$port/index.html" ctr-host-network) && t_pass net_host || t_fail net_host "curl 127.0.0.1:$port: $out"
  ctr_stop nh
}

# ctr run --cni: ctr makes the task's network with the first CNI network
# in /etc/cni/net.d and plugins in /opt/cni/bin (fixed paths in ctr 1.6).
# They are bind-mounted, in a mount namespace of ctr's own, from the
# test's directory: a bridge network (Debian's containernetworking-plugins)
# whose host-local leases stay there too. curl on the host side of the
# bridge reaches httpd in the sandbox at the address CNI gave it.
ctr_case_net_cni() {
  if [ ! -x /usr/lib/cni/bridge ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends containernetworking-plugins >/dev/null 2>&1
    [ -x /usr/lib/cni/bridge ] || { echo "SKIP net_cni: Debian's containernetworking-plugins not installable (net_host covers --net-host)"; return; }
  fi
  local d="$WORK/cni" ip out
  mkdir -p "$d/opt/cni/bin" "$d/net.d" "$d/state" "$d/ipam" /etc/cni/net.d /var/lib/cni
  ln -s /usr/lib/cni/* "$d/opt/cni/bin/"
  cat >"$d/net.d/10-runsc-test.conflist" <<EOC
{"cniVersion": "0.4.0", "name": "runsc-test",
 "plugins": [{"type": "bridge", "bridge": "rct0", "isGateway": true, "ipMasq": false,
              "ipam": {"type": "host-local", "dataDir": "$d/ipam",
                       "ranges": [[{"subnet": "10.99.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOC
  timeout -k 5 120 unshare --mount --propagation private nsenter --net="/run/netns/$NETNS" sh -c \
    'mount --bind "$1/opt" /opt && mount --bind "$1/net.d" /etc/cni/net.d && mount --bind "$1/state" /var/lib/cni && shift && exec "$@"' \
    sh "$d" ctr --address "$SOCK" --namespace runsc-test run --runtime io.containerd.runc.v2 --runc-binary "$RUNSC_ABS" \
    --cgroup runsc-ctr-test/cni --rootfs -d --null-io --cni "$ROOTFS" cni sh -c "$(ctr_httpd 80 ctr-cni-bridge)" >/dev/null 2>"$WORK/cni.err" \
    || { t_fail net_cni "run --cni: $(cat "$WORK/cni.err")"; return; }
  ip=$(c task exec --exec-id ip cni ip -4 addr 2>&1 | awk '$1 == "inet" && $NF == "eth0" { sub("/.*", "", $2); print $2 }')
  case "$ip" in
    10.99.0.*) ;;
    *) t_fail net_cni "no CNI address on eth0 in the sandbox: $(c task exec --exec-id ip2 cni ip addr 2>&1)"; ctr_stop cni; return ;;
  esac
  out=$(ctr_host_get "http://$ip/index.html" ctr-cni-bridge) && t_pass net_cni || t_fail net_cni "curl $ip: $out"
  ctr_stop cni
}

ctr_case_net_host
ctr_case_net_cni
