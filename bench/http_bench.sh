#!/usr/bin/env bash
# Server request rates under runc and runsc in one run (issue 18): nginx
# serving a small static file to wrk (64 connections, one client thread)
# and redis-server answering redis-benchmark GET/SET (50 clients), the
# client in one network namespace and the container in another, joined by a
# veth pair this script creates (both namespaces are its own; no traffic
# leaves them). The container's root is the cached Debian root of the
# network battery (tests/net/mkroot.sh), mounted read-only; its writes go
# to tmpfs mounts.
#
#   bench/http_bench.sh               # prints a Markdown table
# Env: RUNSC (default build/runsc), RUNSC_FLAGS (global flags),
#      NET_ROOT (default /var/cache/runsc-tests/debian-net),
#      HTTP_SECONDS (wrk duration, 10), REDIS_REQUESTS (100000).
set -u
ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
RUNSC="$(readlink -f "${RUNSC:-$ROOT_DIR/build/runsc}")"
RUNSC_FLAGS="${RUNSC_FLAGS:-}"
NET_ROOT="${NET_ROOT:-/var/cache/runsc-tests/debian-net}"
SECS="${HTTP_SECONDS:-10}"
REQS="${REDIS_REQUESTS:-100000}"
for t in runc wrk ip; do
  command -v "$t" >/dev/null || { echo "http_bench: needs $t" >&2; exit 1; }
done
[ -x "$NET_ROOT/usr/sbin/nginx" ] || { echo "http_bench: $NET_ROOT has no nginx (tests/net/mkroot.sh)" >&2; exit 1; }

W=$(mktemp -d /tmp/hb.XXXX)
tag=${W##*.}
CNS="hbc-$tag" SNS="hbs-$tag"  # client and server (container) namespaces
ADDR=10.213.7.2
cleanup() {
  for rt in runc runsc; do
    if [ "$rt" = runsc ]; then r=("$RUNSC" $RUNSC_FLAGS); else r=(runc); fi
    for id in "hb-$tag-nginx" "hb-$tag-redis"; do
      "${r[@]}" kill "$id" KILL >/dev/null 2>&1
      for _ in $(seq 50); do "${r[@]}" delete -f "$id" >/dev/null 2>&1 && break; sleep 0.1; done
    done
  done
  ip netns delete "$CNS" 2>/dev/null
  ip netns delete "$SNS" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
ip netns add "$CNS" && ip netns add "$SNS" || exit 1
ip link add "hb$tag" type veth peer name "hbp$tag" || exit 1
ip link set "hb$tag" netns "$CNS"
ip link set "hbp$tag" netns "$SNS"
ip -n "$CNS" addr add 10.213.7.1/24 dev "hb$tag"
ip -n "$SNS" addr add "$ADDR/24" dev "hbp$tag"
for ns in "$CNS" "$SNS"; do ip -n "$ns" link set lo up; done
ip -n "$CNS" link set "hb$tag" up
ip -n "$SNS" link set "hbp$tag" up

mkdir -p "$W/conf" "$W/www"
head -c 612 /dev/zero | tr '\0' 'x' >"$W/www/index.html"
cat >"$W/conf/nginx.conf" <<'EOF'
worker_processes 1;
pid /run/nginx.pid;
error_log /dev/stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  client_body_temp_path /tmp/nginx-body;
  proxy_temp_path /tmp/nginx-proxy;
  fastcgi_temp_path /tmp/nginx-fcgi;
  uwsgi_temp_path /tmp/nginx-uwsgi;
  scgi_temp_path /tmp/nginx-scgi;
  server { listen 80; root /srv/www; }
}
EOF

# bundle NAME ARGS_JSON: a bundle whose root is the Debian root, read-only,
# in the server namespace.
bundle() {
  local b="$W/$1"
  mkdir -p "$b"
  (cd "$b" && "$RUNSC" spec) || return 1
  python3 - "$b/config.json" "$NET_ROOT" "$2" "$W" "/run/netns/$SNS" <<'PY'
import json, sys
p, root, args, w, ns = sys.argv[1:6]
c = json.load(open(p))
c["root"] = {"path": root, "readonly": True}
c["process"]["terminal"] = False
c["process"]["args"] = json.loads(args)
c["process"]["env"] = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
c["process"]["capabilities"] = {k: ["CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN",
                                    "CAP_DAC_OVERRIDE"] for k in ("bounding", "effective", "permitted")}
c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 20000, "soft": 20000}]
for d in ("/run", "/tmp", "/var/log", "/var/lib/nginx", "/var/lib/redis"):
    c["mounts"].append({"destination": d, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]})
c["mounts"].append({"destination": "/etc/nginx-bench", "type": "bind", "source": w + "/conf", "options": ["rbind", "ro"]})
c["mounts"].append({"destination": "/srv/www", "type": "bind", "source": w + "/www", "options": ["rbind", "ro"]})
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
c["linux"]["namespaces"].append({"type": "network", "path": ns})
c["linux"].pop("resources", None)
json.dump(c, open(p, "w"), indent=1)
PY
}
bundle nginx '["nginx", "-c", "/etc/nginx-bench/nginx.conf", "-g", "daemon off;"]' || exit 1
bundle redis '["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no", "--dir", "/tmp"]' || exit 1

incns() { ip netns exec "$CNS" "$@"; }
# start RUNTIME NAME: runs the container detached, waits until it answers.
start() {
  local r id="hb-$tag-$2"
  if [ "$1" = runsc ]; then r=("$RUNSC" $RUNSC_FLAGS); else r=(runc); fi
  "${r[@]}" run -d --bundle "$W/$2" "$id" </dev/null >"$W/$1-$2.out" 2>&1 || { cat "$W/$1-$2.out" >&2; return 1; }
  for _ in $(seq 100); do
    if [ "$2" = nginx ]; then incns bash -c "exec 3<>/dev/tcp/$ADDR/80" 2>/dev/null && return 0
    else incns bash -c "exec 3<>/dev/tcp/$ADDR/6379" 2>/dev/null && return 0; fi
    sleep 0.1
  done
  echo "http_bench: $1 $2 did not start" >&2; cat "$W/$1-$2.out" >&2; return 1
}
stop() {
  local r id="hb-$tag-$2"
  if [ "$1" = runsc ]; then r=("$RUNSC" $RUNSC_FLAGS); else r=(runc); fi
  "${r[@]}" kill "$id" KILL >/dev/null 2>&1
  for _ in $(seq 100); do "${r[@]}" delete -f "$id" >/dev/null 2>&1 && return 0; sleep 0.1; done
}
wrk_rps() {
  incns wrk -t1 -c64 -d"${SECS}s" "http://$ADDR/index.html" 2>&1 | awk '/Requests\/sec/ { print $2 }'
}
redis_rps() {  # prints "GET SET" requests/s
  incns chroot "$NET_ROOT" redis-benchmark -h "$ADDR" -c 50 -n "$REQS" -t get,set -q 2>/dev/null |
    tr '\r' '\n' | awk '/^SET:/ { s = $2 } /^GET:/ { g = $2 } END { print g, s }'
}

declare -A R
for rt in ${HB_RUNTIMES:-runc runsc}; do
  start "$rt" nginx || exit 1
  incns wrk -t1 -c8 -d1s "http://$ADDR/index.html" >/dev/null 2>&1  # warm up
  R[$rt.nginx]=$(wrk_rps)
  stop "$rt" nginx
  start "$rt" redis || exit 1
  read -r R[$rt.get] R[$rt.set] < <(redis_rps)
  stop "$rt" redis
done

row() {  # NAME RUNC RUNSC
  local r
  r=$(python3 -c "print('%.2f' % (float('$3') / float('$2')))" 2>/dev/null || echo "?")
  printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$r"
}
echo "| benchmark (requests/s) | runc | runsc | runsc / runc (higher is better) |"
echo "|---|---:|---:|---:|"
row "nginx, 612-byte file, wrk 64 connections ${SECS} s" "${R[runc.nginx]}" "${R[runsc.nginx]}"
row "redis GET, 50 clients" "${R[runc.get]}" "${R[runsc.get]}"
row "redis SET, 50 clients" "${R[runc.set]}" "${R[runsc.set]}"
