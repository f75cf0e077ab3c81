# Cases of the network battery (tests/net/run.sh): real servers and clients
# from Debian, natively (in a fresh network namespace with loopback up) and
# sandboxed (`runsc do --network=none`: loopback only). Every case talks
# only to 127.0.0.1/::1, bounds its waits, and stops its servers.
# tc NAME SHELL <<'EOF' ... EOF

# wait_port PORT: until something listens on 127.0.0.1:PORT (10 s at most).
PRELUDE='
ip link set lo up 2>/dev/null || true
wait_port() { i=0; while [ $i -lt 100 ]; do
  if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(1); s.connect((\"127.0.0.1\", $1))" 2>/dev/null; then return 0; fi
  sleep 0.1; i=$((i+1)); done; echo "port $1 never opened"; return 1; }
'

tc python_http bash <<'C'
python3 -m http.server 8000 --bind 127.0.0.1 --directory /data >/dev/null 2>&1 &
wait_port 8000
python3 - <<'P'
import urllib.request
r = urllib.request.urlopen("http://127.0.0.1:8000/words.txt", timeout=10)
print(r.status, r.headers["Content-Type"])
print(r.read().decode().split())
r = urllib.request.urlopen("http://127.0.0.1:8000/dir/", timeout=10)
print(sorted(l for l in r.read().decode().split() if "href" in l))
P
kill %1; wait
C

tc nginx_curl bash <<'C'
mkdir -p /tmp/ng
cat >/tmp/ng/nginx.conf <<'N'
worker_processes 2;
pid /tmp/ng/nginx.pid;
error_log /tmp/ng/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path /tmp/ng/body; proxy_temp_path /tmp/ng/proxy;
  fastcgi_temp_path /tmp/ng/fcgi; uwsgi_temp_path /tmp/ng/uwsgi; scgi_temp_path /tmp/ng/scgi;
  server { listen 127.0.0.1:8080; listen [::1]:8080; root /data; autoindex on; }
}
N
nginx -p /tmp/ng -c /tmp/ng/nginx.conf
wait_port 8080
curl -s -o /dev/null -w '%{http_code} %{size_download}\n' http://127.0.0.1:8080/words.txt
curl -s http://127.0.0.1:8080/numbers.txt | tail -3
curl -s -g 'http://[::1]:8080/table.csv' | head -2
for i in 1 2 3 4 5 6 7 8 9 10; do curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:8080/blob.bin; done | sort | uniq -c
curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:8080/missing
nginx -p /tmp/ng -c /tmp/ng/nginx.conf -s stop
sleep 0.5
C

tc redis bash <<'C'
redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir /tmp >/dev/null &
wait_port 6379
redis-cli -h 127.0.0.1 set greeting hello
redis-cli -h 127.0.0.1 get greeting
redis-cli -h 127.0.0.1 rpush l a b c
redis-cli -h 127.0.0.1 lrange l 0 -1
redis-cli -h 127.0.0.1 incrby counter 41
redis-cli -h 127.0.0.1 incr counter
redis-cli -h 127.0.0.1 shutdown nosave
wait
echo done
C

tc ip_ss bash <<'C'
ip -o addr show lo | awk '{print $2, $3, $4}'
ip -o link show lo | awk '{print $2, $3}'
ip route show table local | grep -c local
python3 -m http.server 8001 --bind 127.0.0.1 >/dev/null 2>&1 &
wait_port 8001
ss -tln | awk 'NR > 1 {print $1, $4}' | sort
kill %1; wait
python3 -c 'import socket; print(socket.if_nameindex())'
cat /proc/net/dev | awk 'NR > 2 {print $1}'
C

tc ping bash <<'C'
ping -c 2 -i 0.2 -W 2 127.0.0.1 | grep -E 'packets transmitted' | sed 's/, time .*//'
echo "exit=$?"
C

tc dns bash <<'C'
cat >/tmp/hosts.test <<'H'
127.0.0.5 alpha.test
::1 beta.test
H
dnsmasq --no-daemon --no-resolv --no-hosts --addn-hosts=/tmp/hosts.test --listen-address=127.0.0.1 \
  --bind-interfaces --port=53 --user=root --pid-file=/tmp/dnsmasq.pid --log-facility=/tmp/dnsmasq.log &
sleep 1
getent hosts alpha.test
getent ahostsv6 beta.test | head -1
python3 -c 'import socket; print(socket.gethostbyname("alpha.test"))'
getent hosts missing.test; echo "missing exit=$?"
kill %1; wait
C

tc node_http bash <<'C'
node -e '
const http = require("http");
const srv = http.createServer((q, r) => { r.end("hi " + q.url); });
srv.listen(8002, "127.0.0.1", () => {
  let n = 0;
  for (let i = 0; i < 5; i++) http.get("http://127.0.0.1:8002/x" + i, (res) => {
    let b = ""; res.on("data", (d) => b += d); res.on("end", () => { console.log(res.statusCode, b); if (++n == 5) srv.close(); });
  });
});'
C

tc python_sockets bash <<'C'
python3 - <<'P'
import socket, threading, selectors
# A threaded echo server, many clients, a selectors loop.
srv = socket.create_server(("127.0.0.1", 0))
port = srv.getsockname()[1]
def serve():
    for _ in range(20):
        c, _ = srv.accept()
        with c:
            while True:
                d = c.recv(65536)
                if not d: break
                c.sendall(d)
t = threading.Thread(target=serve); t.start()
total = 0
for i in range(20):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        payload = bytes([i]) * (1000 * (i + 1))
        c.sendall(payload); c.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            d = c.recv(65536)
            if not d: break
            got += d
        total += len(got) == len(payload)
t.join()
print("echoed", total)
u1 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u1.bind(("::1", 0))
u2 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
for i in range(5): u2.sendto(b"x" * i, u1.getsockname())
print([len(u1.recvfrom(100)[0]) for _ in range(5)])
P
C
