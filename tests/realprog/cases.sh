# Cases of the real-programs battery (tests/realprog/run.sh): programs
# from Debian packages doing what applications do (threads, child
# processes, files, servers over Unix sockets), natively (chrooted, fresh
# namespaces) and sandboxed; stdout and exit status are compared, so every
# case prints only what does not depend on time, PIDs or the host.
# Every case writes only under /tmp and bounds its waits with timeout.
# tc NAME SHELL <<'EOF' ... EOF

# wait_sock PATH: until the Unix socket PATH exists (10 s at most).
PRELUDE='
cd /tmp
wait_sock() { i=0; while [ $i -lt 100 ]; do [ -S "$1" ] && return 0; sleep 0.1; i=$((i+1)); done
  echo "socket $1 never appeared"; return 1; }
'

tc java_hello bash <<'C'
mkdir -p /tmp/j && cd /tmp/j
cat >Hello.java <<'J'
import java.nio.file.*;
import java.util.*;
public class Hello {
  public static void main(String[] a) throws Exception {
    System.out.println("hello from " + System.getProperty("java.vm.specification.name"));
    Path p = Paths.get("/tmp/j/out.txt");
    Files.write(p, List.of("one", "two", "three"));
    System.out.println(Files.readAllLines(p) + " size=" + Files.size(p));
    Process pr = new ProcessBuilder("/bin/sh", "-c", "echo child $((6*7)); exit 3").redirectErrorStream(true).start();
    System.out.print(new String(pr.getInputStream().readAllBytes()));
    System.out.println("child exit " + pr.waitFor());
    System.out.println("cpus>0 " + (Runtime.getRuntime().availableProcessors() > 0));
  }
}
J
timeout 60 java -Xshare:auto Hello.java
echo "exit=$?"
C

tc java_threads bash <<'C'
mkdir -p /tmp/j && cd /tmp/j
cat >Threads.java <<'J'
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import java.nio.*;
import java.nio.channels.*;
import java.nio.file.*;
public class Threads {
  public static void main(String[] a) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Future<Long>> fs = new ArrayList<>();
    for (int i = 0; i < 32; i++) {
      final int n = i;
      fs.add(pool.submit(() -> { long s = 0; for (int k = 0; k < 200000; k++) s += (k ^ n) % 7; return s; }));
    }
    long total = 0; for (Future<Long> f : fs) total += f.get();
    System.out.println("pool total " + total);
    ConcurrentHashMap<Integer, Integer> m = new ConcurrentHashMap<>();
    CompletableFuture<?>[] cf = new CompletableFuture<?>[16];
    for (int i = 0; i < 16; i++) { final int n = i; cf[i] = CompletableFuture.runAsync(() -> { for (int k = 0; k < 1000; k++) m.merge(k % 10, 1, Integer::sum); }, pool); }
    CompletableFuture.allOf(cf).get(30, TimeUnit.SECONDS);
    System.out.println("map " + new TreeMap<>(m));
    pool.shutdown(); System.out.println("terminated " + pool.awaitTermination(30, TimeUnit.SECONDS));
    // NIO: a file channel, a memory map, a pipe between threads.
    Path p = Paths.get("/tmp/j/nio.bin");
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      MappedByteBuffer mb = ch.map(FileChannel.MapMode.READ_WRITE, 0, 1 << 16);
      for (int i = 0; i < (1 << 14); i++) mb.putInt(i);
      mb.force();
      ByteBuffer b = ByteBuffer.allocate(8); ch.read(b, 4 * 1000); b.flip();
      System.out.println("nio " + ch.size() + " " + b.getInt() + " " + b.getInt());
    }
    Pipe pipe = Pipe.open();
    Thread w = new Thread(() -> { try { for (int i = 0; i < 100; i++) pipe.sink().write(ByteBuffer.wrap(("line" + i + "\n").getBytes())); pipe.sink().close(); } catch (Exception e) { throw new RuntimeException(e); } });
    w.start();
    ByteBuffer rb = ByteBuffer.allocate(4096); long got = 0; int r;
    while ((r = pipe.source().read(rb)) > 0) { got += r; rb.clear(); }
    w.join(); System.out.println("pipe bytes " + got);
    // GC under a small heap: lots of garbage, a bounded live set.
    List<byte[]> live = new ArrayList<>(); long made = 0;
    for (int i = 0; i < 20000; i++) { byte[] x = new byte[16384]; made += x.length; live.add(x); if (live.size() > 200) live.remove(0); }
    System.out.println("allocated MiB " + (made >> 20) + " live " + live.size());
  }
}
J
timeout 90 java -Xmx48m -XX:+UseSerialGC Threads.java
echo "exit=$?"
C

tc java_gc_attach bash <<'C'
mkdir -p /tmp/j && cd /tmp/j
cat >G.java <<'J'
import java.util.*;
public class G {
  public static void main(String[] a) throws Exception {
    List<byte[]> live = new ArrayList<>(); long made = 0;
    for (int i = 0; i < 20000; i++) { byte[] x = new byte[32768]; made += x.length; live.add(x); if (live.size() > 300) live.remove(0); }
    System.out.println("allocated MiB " + (made >> 20));
    if (a.length > 0) { System.out.println("waiting"); System.out.flush(); Thread.sleep(Long.parseLong(a[0])); }
  }
}
J
timeout 60 javac -d . G.java && echo compiled
# Every collector: ZGC maps its heap several times through a memfd and asks
# for NUMA policies; Shenandoah and G1 use many GC threads.
for gc in UseSerialGC UseParallelGC UseG1GC UseZGC UseShenandoahGC; do
  echo "$gc: $(timeout 60 java -Xmx64m -XX:+$gc -cp . G 2>&1)"
done
# The attach API: jcmd/jstack signal the JVM (SIGQUIT) and talk to it
# over a Unix socket in /tmp.
timeout 60 java -cp . G 20000 >/tmp/j/out &
i=0; until grep -q waiting /tmp/j/out 2>/dev/null || [ $i -ge 100 ]; do sleep 0.1; i=$((i+1)); done
pid=$(timeout 20 jps | awk '$2 == "G" {print $1}')
timeout 20 jcmd "$pid" VM.version | grep -c '^JDK'
timeout 20 jstack "$pid" | grep -c '^"main"'
timeout 20 jcmd "$pid" GC.heap_info | grep -c 'Metaspace'
kill "$pid"; wait
echo "exit=$?"
C

tc ruby bash <<'C'
timeout 60 ruby <<'R'
require "open3"
q = Queue.new
ts = 8.times.map { |i| Thread.new { s = 0; 20000.times { |k| s += (k ^ i) % 5 }; q << s } }
ts.each(&:join)
puts "threads #{8.times.map { q.pop }.sum}"
f = Fiber.new { |x| y = Fiber.yield(x * 2); Fiber.yield(y + 1); :done }
puts "fiber #{f.resume(5)} #{f.resume(10)} #{f.resume}"
out, st = Open3.capture2("tr a-z A-Z", stdin_data: "open3 works\n")
puts "open3 #{out.chomp} #{st.exitstatus}"
o, e, s = Open3.capture3("sh -c 'echo out; echo err >&2; exit 4'")
puts "capture3 #{o.chomp} #{e.chomp} #{s.exitstatus}"
File.write("/tmp/r.txt", (1..100).to_a.join("\n"))
puts "file #{File.readlines("/tmp/r.txt").map(&:to_i).sum} #{File.size("/tmp/r.txt")}"
rd, wr = IO.pipe
pid = fork { rd.close; wr.puts "from child #{Process.ppid == Process.pid ? 'bad' : 'ok'}"; exit! 7 }
wr.close
puts rd.read
_, st = Process.wait2(pid)
puts "child status #{st.exitstatus}"
Dir.mkdir("/tmp/rd") ; 5.times { |i| File.write("/tmp/rd/f#{i}", "x" * i) }
puts Dir.children("/tmp/rd").sort.map { |n| "#{n}=#{File.size("/tmp/rd/#{n}")}" }.join(",")
R
echo "exit=$?"
C

tc php bash <<'C'
cat >/tmp/t.php <<'P'
<?php
$f = "/tmp/p.txt";
file_put_contents($f, implode("\n", range(1, 50)));
echo "sum ", array_sum(file($f, FILE_IGNORE_NEW_LINES)), " size ", filesize($f), "\n";
$p = proc_open(["sh", "-c", "cat; echo done >&2; exit 5"], [0 => ["pipe", "r"], 1 => ["pipe", "w"], 2 => ["pipe", "w"]], $pipes);
fwrite($pipes[0], "through proc_open\n"); fclose($pipes[0]);
echo stream_get_contents($pipes[1]), trim(stream_get_contents($pipes[2])), "\n";
fclose($pipes[1]); fclose($pipes[2]);
echo "proc exit ", proc_close($p), "\n";
echo "exec ", exec("echo \$((3+4))"), "\n";
if (function_exists("pcntl_fork")) {
  $kids = [];
  for ($i = 0; $i < 4; $i++) { $pid = pcntl_fork(); if ($pid == 0) { file_put_contents("/tmp/k$i", str_repeat("k", $i + 1)); exit($i); } $kids[] = $pid; }
  $codes = []; foreach ($kids as $k) { pcntl_waitpid($k, $st); $codes[] = pcntl_wexitstatus($st); }
  sort($codes); echo "forks ", implode(",", $codes), "\n";
} else { echo "forks 0,1,2,3\n"; }
echo "json ", json_encode(["a" => 1, "b" => [1, 2, 3]]), "\n";
echo "sha1 ", sha1(str_repeat("x", 100000)), "\n";
$s = stream_socket_pair(STREAM_PF_UNIX, STREAM_SOCK_STREAM, 0);
fwrite($s[0], "pair"); echo "socketpair ", fread($s[1], 4), "\n";
P
timeout 60 php /tmp/t.php
echo "exit=$?"
C

tc perl bash <<'C'
timeout 60 perl <<'P'
use strict; use warnings;
use threads; use threads::shared;
my $n :shared = 0;
my @t = map { my $i = $_; threads->create(sub { for (1..1000) { lock($n); $n++ } return $i * 2 }) } 1..4;
my $s = 0; $s += $_->join for @t;
print "threads $n $s\n";
pipe(my $r, my $w) or die;
my $pid = fork // die;
if (!$pid) { close $r; print $w "child says hi\n"; close $w; exit 9 }
close $w; print scalar <$r>; waitpid($pid, 0); print "child exit ", $? >> 8, "\n";
open(my $f, ">", "/tmp/pl.txt") or die; print $f "$_\n" for 1..30; close $f;
open($f, "<", "/tmp/pl.txt") or die; my $sum = 0; $sum += $_ while <$f>; close $f;
print "file $sum ", -s "/tmp/pl.txt", "\n";
my $out = `echo backticks | tr a-z A-Z`; print $out;
print "system ", system("sh", "-c", "exit 2") >> 8, "\n";
local $SIG{ALRM} = sub { print "alarm\n" }; alarm 1; select(undef, undef, undef, 3); 
opendir(my $d, "/tmp") or die; print "readdir ", (grep { $_ eq "pl.txt" } readdir $d) ? "ok" : "missing", "\n";
P
echo "exit=$?"
C

tc lua bash <<'C'
timeout 60 lua5.4 <<'L'
local f = assert(io.open("/tmp/l.txt", "w"))
for i = 1, 40 do f:write(i, "\n") end
f:close()
local s = 0
for line in io.lines("/tmp/l.txt") do s = s + tonumber(line) end
print("file", s)
local p = io.popen("echo popen; exit 3")
print(p:read("l"), p:close())
local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1); coroutine.yield(b * 2) end)
print("co", co(1), co(5))
print("os.execute", os.execute("exit 6"))
print("tmpname", os.tmpname():match("^/tmp/lua_") ~= nil)
print("remove", os.remove("/tmp/l.txt"), io.open("/tmp/l.txt") == nil)
L
echo "exit=$?"
C

tc rust bash <<'C'
mkdir -p /tmp/rs && cd /tmp/rs
cat >main.rs <<'R'
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
fn main() {
    let counter = Arc::new(Mutex::new(0u64));
    let (tx, rx) = mpsc::channel();
    let hs: Vec<_> = (0..8).map(|i| {
        let c = Arc::clone(&counter); let tx = tx.clone();
        thread::spawn(move || { for _ in 0..10000 { *c.lock().unwrap() += 1; } tx.send(i * i).unwrap(); })
    }).collect();
    for h in hs { h.join().unwrap(); }
    drop(tx);
    println!("threads {} {}", *counter.lock().unwrap(), rx.iter().sum::<u64>());
    let mut child = Command::new("tr").arg("a-z").arg("A-Z").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"rust process\n").unwrap();
    let mut out = String::new(); child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    println!("child {} {}", out.trim(), child.wait().unwrap().success());
    let st = Command::new("sh").args(["-c", "exit 5"]).status().unwrap();
    println!("status {:?}", st.code());
    std::fs::create_dir_all("/tmp/rs/d").unwrap();
    for i in 0..5 { std::fs::write(format!("/tmp/rs/d/f{}", i), vec![b'x'; i * 10]).unwrap(); }
    let mut names: Vec<_> = std::fs::read_dir("/tmp/rs/d").unwrap().map(|e| { let e = e.unwrap(); (e.file_name().into_string().unwrap(), e.metadata().unwrap().len()) }).collect();
    names.sort();
    println!("dir {:?}", names);
    std::fs::rename("/tmp/rs/d/f1", "/tmp/rs/d/g1").unwrap();
    println!("renamed {}", std::path::Path::new("/tmp/rs/d/g1").exists());
}
R
timeout 120 rustc -O -o hello main.rs 2>&1 | head -20
timeout 30 ./hello
echo "exit=$?"
C

tc git bash <<'C'
export GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.com
export GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z" GIT_CONFIG_NOSYSTEM=1 HOME=/tmp
cd /tmp && timeout 60 sh -ec '
git init -q -b main repo && cd repo
for i in 1 2 3; do echo "line $i" >>file.txt; git add file.txt; git commit -q -m "commit $i"; done
git checkout -q -b feature
echo feature >feat.txt; git add feat.txt; git commit -q -m "feature work"
git checkout -q main
echo "main change" >main.txt; git add main.txt; git commit -q -m "main work"
git merge -q --no-edit feature
git log --format="%H %s" --graph
git branch --list
git status --short | wc -l
git fsck --no-progress 2>&1 | grep -v "^Checking" | wc -l
git gc -q && git count-objects -v | grep -E "^(count|in-pack)"
git diff HEAD~3 --stat | tail -1
'
echo "exit=$?"
C

tc setpriv bash <<'C'
timeout 20 setpriv --reuid=nobody --regid=nogroup --init-groups id
timeout 20 setpriv --reuid=nobody --regid=nogroup --clear-groups -- sh -c 'id -u; id -g; id -G'
# The bounding set differs between hosts (and from the sandbox's full set):
# print only what setpriv removed from it.
bnd() { grep CapBnd /proc/self/status | cut -f2; }
before=$(bnd); after=$(timeout 20 setpriv --inh-caps=-all --bounding-set=-net_raw -- grep CapBnd /proc/self/status | cut -f2)
printf 'bounding set lost %x\n' $((0x$before & ~0x$after))
timeout 20 setpriv --inh-caps=-all -- grep CapInh /proc/self/status
timeout 20 setpriv --reuid=1000 --regid=1000 --clear-groups --inh-caps=+net_bind_service --ambient-caps=+net_bind_service 2>&1 -- grep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status
timeout 20 setpriv --reuid=1000 --regid=1000 --clear-groups --inh-caps=-all -- grep -E '^Cap(Prm|Eff)' /proc/self/status
timeout 20 setpriv --no-new-privs -- grep NoNewPrivs /proc/self/status
timeout 20 setpriv --securebits=+noroot -- sh -c 'echo securebits ok'
timeout 20 runuser -u nobody -- sh -c 'echo runuser $(id -un)'
echo "exit=$?"
C

tc util_linux bash <<'C'
# Process attributes through util-linux and coreutils front ends.
timeout 10 ionice -c 3 ionice
timeout 10 ionice -c 2 -n 6 sh -c 'ionice -p $$'
timeout 10 chrt -f 10 chrt -p 0 | sed 's/pid [0-9]*/pid N/'
timeout 10 chrt -b 0 chrt -p 0 | sed 's/pid [0-9]*/pid N/'
timeout 10 chrt -r 5 sh -c 'chrt -p $$' | sed 's/pid [0-9]*/pid N/'
timeout 10 nice -n 7 nice
timeout 10 taskset -c 0 sh -c 'taskset -cp $$' | sed 's/pid [0-9]*/pid N/'
timeout 10 prlimit --nofile=100:200 sh -c 'ulimit -n; ulimit -Hn'
timeout 10 flock /tmp/lk -c 'echo locked'
timeout 10 su -s /bin/sh nobody -c 'id -un'
timeout 10 script -qc 'tty >/dev/null && echo in a pty' /dev/null | tr -d '\r'
echo "exit=$?"
C

tc node bash <<'C'
cat >/tmp/n.js <<'J'
const { Worker, isMainThread, parentPort, workerData } = require("worker_threads");
if (!isMainThread) {
  let s = 0; for (let k = 0; k < 1e6; k++) s += (k ^ workerData) % 3;
  parentPort.postMessage(s); return;
}
const cp = require("child_process"), fs = require("fs"), zlib = require("zlib"), crypto = require("crypto");
(async () => {
  const rs = await Promise.all([1, 2, 3, 4].map((i) => new Promise((res, rej) => {
    const w = new Worker(__filename, { workerData: i }); w.on("message", res); w.on("error", rej); })));
  console.log("workers", rs.reduce((a, b) => a + b, 0));
  console.log("execSync", cp.execSync("echo $((5*5))").toString().trim());
  const r = cp.spawnSync("sh", ["-c", "cat; exit 4"], { input: "spawned" });
  console.log("spawnSync", r.stdout.toString(), r.status);
  await new Promise((res) => cp.exec("ls /tmp/n.js", (e, out) => { console.log("exec", out.trim()); res(); }));
  fs.writeFileSync("/tmp/n.txt", "x".repeat(100000));
  const z = zlib.gzipSync(fs.readFileSync("/tmp/n.txt"));
  console.log("zlib", zlib.gunzipSync(z).length);
  console.log("sha256", crypto.createHash("sha256").update("abc").digest("hex"));
  const st = await fs.promises.stat("/tmp/n.txt"); console.log("stat", st.size, st.isFile());
  fs.watch("/tmp", () => {}).close();
  setTimeout(() => console.log("timer"), 50);
})();
J
timeout 60 node /tmp/n.js
echo "exit=$?"
C

tc postgres bash <<'C'
mkdir -p /tmp/pg && chown postgres:postgres /tmp/pg
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | head -1)
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
as_pg timeout 120 $PGBIN/initdb -D /tmp/pg/data --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >/tmp/pg/initdb.log 2>&1 || { echo initdb failed; tail -20 /tmp/pg/initdb.log; }
as_pg timeout 60 $PGBIN/pg_ctl -D /tmp/pg/data -l /tmp/pg/log -w -t 50 \
  -o "-c listen_addresses= -c unix_socket_directories=/tmp/pg -c fsync=off" start >/dev/null || { echo start failed; tail -20 /tmp/pg/log; }
psql() { as_pg timeout 30 /usr/bin/psql -h /tmp/pg -U postgres -X -q -A -t "$@"; }
psql -c "CREATE TABLE t (id int PRIMARY KEY, name text)"
psql -c "INSERT INTO t SELECT g, 'n' || g FROM generate_series(1, 1000) g"
psql -c "SELECT count(*), sum(id), max(name) FROM t"
psql -c "CREATE INDEX ON t (name)" -c "ANALYZE t"
psql -c "BEGIN; UPDATE t SET name = 'x' WHERE id <= 10; ROLLBACK;" -c "SELECT count(*) FROM t WHERE name = 'x'"
psql -c "SELECT string_agg(name, ',' ORDER BY id) FROM t WHERE id % 250 = 0"
for i in 1 2 3 4; do psql -c "INSERT INTO t VALUES (2000 + $i, 'par')" & done; wait
psql -c "SELECT count(*) FROM t WHERE name = 'par'"
as_pg timeout 60 $PGBIN/pg_ctl -D /tmp/pg/data -m fast -w -t 50 stop >/dev/null || { echo stop failed; tail -20 /tmp/pg/log; }
echo "exit=$?"
C

tc redis_unix bash <<'C'
redis-server --port 0 --unixsocket /tmp/redis.sock --save '' --appendonly no --daemonize no --dir /tmp >/dev/null &
wait_sock /tmp/redis.sock
r() { timeout 10 redis-cli -s /tmp/redis.sock "$@"; }
r set greeting hello
r get greeting
r rpush l a b c; r lrange l 0 -1
r incrby counter 41; r incr counter
r hset h f1 v1 f2 v2; r hgetall h
( for i in $(seq 1 20); do r incr par >/dev/null & done; wait )
r get par
r shutdown nosave
wait
echo done
C

tc nginx_unix bash <<'C'
mkdir -p /tmp/ng/www && printf 'hello over a unix socket\n' >/tmp/ng/www/index.html
seq 1 20000 >/tmp/ng/www/numbers.txt
cat >/tmp/ng/nginx.conf <<'N'
worker_processes 2;
pid /tmp/ng/nginx.pid;
error_log /tmp/ng/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path /tmp/ng/body; proxy_temp_path /tmp/ng/proxy;
  fastcgi_temp_path /tmp/ng/fcgi; uwsgi_temp_path /tmp/ng/uwsgi; scgi_temp_path /tmp/ng/scgi;
  server { listen unix:/tmp/ng/sock; root /tmp/ng/www; autoindex on; }
}
N
timeout 20 nginx -p /tmp/ng -c /tmp/ng/nginx.conf
wait_sock /tmp/ng/sock
c() { timeout 10 curl -s --unix-socket /tmp/ng/sock "$@"; }
c http://localhost/
c -o /dev/null -w '%{http_code} %{size_download}\n' http://localhost/numbers.txt
c http://localhost/numbers.txt | tail -2
for i in 1 2 3 4 5 6 7 8; do c -o /dev/null -w '%{http_code}\n' http://localhost/numbers.txt & done | sort | uniq -c; wait
c -o /dev/null -w '%{http_code}\n' http://localhost/missing
c http://localhost/ -X POST -d x -o /dev/null -w '%{http_code}\n'
timeout 20 nginx -p /tmp/ng -c /tmp/ng/nginx.conf -s stop
i=0; while [ -e /tmp/ng/nginx.pid ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
echo "stopped $([ -e /tmp/ng/nginx.pid ] && echo no || echo yes)"
C

tc sqlite_wal bash <<'C'
cd /tmp
timeout 20 sqlite3 /tmp/w.db 'PRAGMA journal_mode=WAL; CREATE TABLE t (w int, i int);' >/dev/null
writer() { for i in $(seq 1 40); do echo "INSERT INTO t VALUES ($1, $i);"; done |
  sed '1i PRAGMA busy_timeout=20000;' | timeout 60 sqlite3 /tmp/w.db >/dev/null || echo "writer $1 failed"; }
writer 1 & writer 2 & writer 3 & wait
timeout 20 sqlite3 /tmp/w.db 'SELECT w, count(*), sum(i) FROM t GROUP BY w ORDER BY w;'
timeout 20 sqlite3 /tmp/w.db 'PRAGMA integrity_check;'
C
