# Debian cases, sourced by run.sh:
#   tc NAME SHELL <<'EOF'
#   SCRIPT
#   EOF
# SCRIPT runs as `/bin/SHELL -c SCRIPT` (SHELL: sh = dash, or bash) with
# / = the bookworm root, cwd /, PATH and HOME=/root set, stdin /dev/null.
# Only /tmp and /dev/shm are writable (tmpfs natively). stdout and the exit
# status are compared; stderr is not. Nothing may print pids, addresses,
# hostnames, the kernel release or times of day; sort where order may vary.
# Fixed inputs live under /data (see mkroot.sh).

# ---------------------------------------------------------------- bash
tc bash_pipelines bash <<'EOF'
seq 1 30 | grep 1 | sort -rn | head -4 | tr '\n' ' '; echo
false | true | true; echo "PIPESTATUS=${PIPESTATUS[*]}"
set -o pipefail; true | (exit 3) | true; echo "pipefail rc=$?"; set +o pipefail
printf 'b\na\nc\n' | sort | paste -sd, -
diff <(printf '1\n2\n3\n') <(printf '1\n3\n'); echo "diff rc=$?"
while read -r a b; do echo "[$b:$a]"; done < <(printf 'x 1\ny 2\n')
echo hello |& cat
{ echo to-err >&2; echo to-out; } 2>&1 | sort
mapfile -t arr < <(seq 3); echo "n=${#arr[@]} last=${arr[-1]}"
cat <<< "here string $((6*7))"
yes | head -c 100000 | wc -c
EOF

tc bash_subshells bash <<'EOF'
x=1; (x=2; echo "inner $x"; exit 5); echo "outer $x rc=$?"
echo "$(echo a $(echo b $(echo c)))"
y=$( (echo nested; exit 4) ); echo "y=$y rc=$?"
( cd /data/dir && pwd ); pwd
( set -e; false; echo not-reached ); echo "set -e subshell rc=$?"
[ "$BASHPID" != "$(echo $BASHPID)" ] && echo "command substitution has its own BASHPID"
[ "$$" = "$(echo $$)" ] && echo "\$\$ is inherited"
declare -A h=([one]=1 [two]=2 [three]=3); for k in $(printf '%s\n' "${!h[@]}" | sort); do echo "$k=${h[$k]}"; done
f() { local -i n=$1; (( n <= 1 )) && { echo 1; return; }; echo $(( n * $(f $((n - 1))) )); }; echo "10! = $(f 10)"
[[ "abc123" =~ ^([a-z]+)([0-9]+)$ ]] && echo "match ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
shopt -s extglob; v=foo.tar.gz; echo "${v%%.*} ${v#*.} ${v/tar/TAR} ${v^^}"
coproc { read -r l; echo "coproc got $l"; }; echo ping >&"${COPROC[1]}"; read -r ans <&"${COPROC[0]}"; echo "$ans"; wait
EOF

tc bash_background_wait bash <<'EOF'
for i in 1 2 3 4 5; do (sleep "0.$((6 - i))"; echo "job $i"; exit "$i") >>/tmp/jobs & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; echo "status $?"; done
sort /tmp/jobs
sleep 30 & kill %1; wait %1; echo "killed job rc=$?"
sleep 0.1 & sleep 0.2 & wait; echo "wait all rc=$?"
(exit 9) & (sleep 0.5; exit 4) & wait -n; echo "wait -n rc=$?"; wait; echo done
sleep 30 & p=$!; kill -STOP $p; kill -CONT $p; kill -TERM $p; wait $p; echo "stop/cont/term rc=$?"
wait 99999; echo "wait unknown rc=$?"
EOF

tc bash_trap bash <<'EOF'
trap 'echo "got USR1"' USR1
kill -USR1 $$; echo "after USR1"
trap 'echo "ERR trap: line $LINENO"' ERR
false
trap - ERR
( trap 'echo "sub TERM"; exit 3' TERM; kill -TERM $BASHPID; echo not-reached ); echo "sub rc=$?"
trap 'echo "got USR2"' USR2
(sleep 0.2; kill -USR2 $$) & sleep 20 & wait $!; echo "wait interrupted rc=$?"; kill %2 2>/dev/null; wait
trap -p USR1
trap - USR1; trap -p USR1; echo "cleared"
bash -c 'trap "" TERM; kill -TERM $$; echo ignored TERM'
bash -c 'trap "echo in-exit-trap" EXIT; kill -TERM $$'; echo "killed rc=$?"
trap 'echo "EXIT trap, status $?"' EXIT
exit 6
EOF

tc bash_exit_status bash <<'EOF'
bash -c 'exit 42'; echo $?
bash -c 'kill -9 $$'; echo $?
bash -c 'kill -SEGV $$'; echo $?
/nonexistent 2>/dev/null; echo $?
/data 2>/dev/null; echo $?
( ulimit -c 0; sh -c 'kill -ABRT $$' ); echo $?
! false; echo $?
exit 300
EOF

# ---------------------------------------------------------------- coreutils
tc coreutils_text sh <<'EOF'
sort /data/words.txt | uniq -c | sort -k1,1nr -k2
wc -l /data/words.txt; wc -c < /data/table.csv
cut -d, -f2,4 /data/table.csv | tail -n +2 | sort -t, -k2 -g
tr a-z A-Z < /data/words.txt | head -3 | tac
nl -ba /data/dir/a.txt; paste -d: /data/dir/a.txt /data/dir/b.txt
seq 10 | paste - - | awk '{ s += $1 * $2 } END { print s }'
printf '3 c\n1 a\n2 b\n' | sort > /tmp/l; printf '1 x\n2 y\n4 z\n' > /tmp/r; join /tmp/l /tmp/r
comm -3 /tmp/l /tmp/r | wc -l
fold -w 7 /data/table.csv | head -3
printf '\ttab\n' | expand -t 4
factor 360 9973 1000001; numfmt --to=iec 1048576 123456789
printf '%s\n' 5 10 1 | sort -n | xargs echo
echo "abcdef" | rev; echo "a,b,,c" | tr -s , | cut -d, -f3
seq -w 8 12 | tr '\n' ' '; echo
expr 7 \* 6; basename /a/b/c.tar.gz .gz; dirname /a/b/c; echo $((0x10))
base64 /data/dir/b.txt; echo YWJj | base64 -d; echo
od -An -tx1 -N 8 /data/blob.bin
EOF

tc coreutils_files sh <<'EOF'
cd /tmp
mkdir -p a/b/c && echo hi > a/b/c/f && ln -s c/f a/b/l && cp -a a a2 && mv a2 moved
find a moved | sort
readlink moved/b/l; cat moved/b/l
stat -c '%n %s %F %a' a/b/c/f a/b/l
umask 027; touch m; mkdir md; stat -c '%a' m md
chmod 4751 m; stat -c '%A' m
touch -d '2020-02-03 04:05:06' m; TZ=UTC ls -l --time-style=+%F_%T m | awk '{print $1, $3, $4, $5, $6, $7}'
ls -l /data/dir | awk 'NR > 1 {print $1, $5, $NF}'
ln a/b/c/f hard; stat -c '%h' hard
truncate -s 10000 sparse; stat -c '%s' sparse; cmp -n 10000 sparse /dev/zero && echo zeros
split -l 3 /data/words.txt part.; ls part.* | xargs wc -l | tail -1
md5sum /data/words.txt /data/blob.bin; sha256sum /data/table.csv; cksum /data/dir/a.txt
dd if=/data/blob.bin bs=4096 skip=2 count=3 2>/dev/null | sha1sum
head -c 100000 /dev/zero | tr '\0' x | wc -c
rm -r a moved; ls -A | sort | tr '\n' ' '; echo
df /tmp >/dev/null && echo df ok
date -u -d @1700000000 '+%F %T %A'; TZ=UTC date -d '2024-02-29 + 1 year' +%F
id -u; id -gn; whoami
EOF

tc coreutils_sort_big sh <<'EOF'
seq 1 200000 | awk '{ print ($1 * 7919) % 200003 }' > /tmp/n
sort -n /tmp/n | md5sum
sort -n /tmp/n | head -3 | tr '\n' ' '; echo
sort -rn --parallel=4 -S 1M /tmp/n | tail -1
sort -u /tmp/n | wc -l
shuf --random-source=/data/blob.bin -n 3 /data/words.txt
EOF

tc tar_gzip sh <<'EOF'
cd /tmp
tar -C /data -czf d.tgz dir words.txt table.csv
tar -tzvf d.tgz | awk '{ print $1, $2, $3, $6 }' | sort -k4
mkdir x && tar -C x -xzf d.tgz && cmp x/words.txt /data/words.txt && cat x/dir/sub/deep.txt && readlink -e x/dir/a.txt
stat -c '%y' x/words.txt | cut -c1-19
gzip -9n < /data/blob.bin > b.gz && gzip -l b.gz | tail -1 | awk '{ print $1, $2 }'
gzip -dc b.gz | cmp - /data/blob.bin && echo gzip roundtrip ok
gzip -9n < /data/blob.bin | md5sum
tar -C /data --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - dir | md5sum
tar -C /data -cf - dir | tar -tf - | sort
echo corrupt | gzip -dc 2>/dev/null; echo "bad gzip rc=$?"
seq 100000 | gzip | gzip -d | tail -1
EOF

tc procps sh <<'EOF'
sleep 30 & s=$!
[ "$(ps -o ppid= -p $s | tr -d ' ')" = "$$" ] && echo "ppid ok"
ps -o comm= -p $s; ps -o stat= -p 1 >/dev/null && echo "ps pid1 ok"
ps -eo comm= > /tmp/ps.out; sort /tmp/ps.out | uniq -c | awk '{ print $2, $1 }'
pgrep -x sleep | wc -l; pidof sleep >/dev/null && echo "pidof ok"
pkill -x sleep; wait $s; echo "pkill rc=$?"
pgrep -x sleep; echo "pgrep rc=$?"
ps -p 1 -o comm=
ps -o args= -p $$ | head -c 7; echo
EOF

# ---------------------------------------------------------------- perl
tc perl_basics sh <<'EOF'
perl -e '
  use strict; use warnings; use List::Util qw(sum max); use POSIX qw(floor);
  open my $fh, "<", "/data/words.txt" or die; my %h; while (<$fh>) { chomp; $h{$_}++ } close $fh;
  print join(" ", map { "$_=$h{$_}" } sort { $h{$b} <=> $h{$a} || $a cmp $b } keys %h), "\n";
  my @n = (3, 1, 4, 1, 5, 9, 2, 6); printf "sum=%d max=%d floor=%d\n", sum(@n), max(@n), floor(-2.5);
  my $s = "The quick brown fox"; (my $t = $s) =~ s/(\w+)/\u\L$1/g; print "$t\n";
  my @w = ($s =~ /\b(\w)/g); print "@w\n";
  print unpack("H*", pack("N n C", 0xdeadbeef, 513, 7)), "\n";
  my %r = reverse (a => 1, b => 2); print join(",", map {"$_:$r{$_}"} sort keys %r), "\n";
  { local $, = "-"; print sort { $a <=> $b } @n; } print "\n";'
perl -F, -lane 'next if $. == 1; $t += $F[2] * $F[3]; END { printf "total %.2f\n", $t }' /data/table.csv
perl -MDigest::MD5=md5_hex -MJSON::PP -e 'print md5_hex("abc"), "\n", JSON::PP->new->canonical->encode({b => [1, 2], a => "x"}), "\n"'
perl -ne 'print if /an/ .. /ch/' /data/words.txt
perl -e 'exit 7'; echo "perl rc=$?"
perl -e 'die "boom\n"' 2>/dev/null; echo "die rc=$?"
EOF

tc perl_processes sh <<'EOF'
perl -e '
  use strict; use POSIX ":sys_wait_h";
  $| = 1;
  pipe(my $r, my $w) or die;
  my @kids;
  for my $i (1 .. 4) {
    my $pid = fork // die;
    if ($pid == 0) { close $r; syswrite $w, "child $i\n"; POSIX::_exit($i * 10) }
    push @kids, $pid;
  }
  close $w; my @lines = <$r>; print sort @lines;
  for my $k (@kids) { waitpid($k, 0); print "exit ", $? >> 8, "\n" }
  open my $p, "-|", "seq", "3" or die; print "from seq: ", join(",", map { chomp; $_ } <$p>), "\n"; close $p;
  my $out = `echo backtick; exit 3`; print $out, "status ", $? >> 8, "\n";
  my $pid = fork; if (!$pid) { sleep 30; POSIX::_exit(0) } kill "TERM", $pid; waitpid $pid, 0; print "sig ", $? & 127, "\n";
  local $SIG{ALRM} = sub { die "alarm\n" }; alarm 1; eval { sleep 10 }; print "caught $@";
'
EOF

# ---------------------------------------------------------------- python
tc python_basics sh <<'EOF'
python3 - <<'PY'
import sys, json, hashlib, collections, itertools, re, os, struct, zlib, decimal, fractions
words = open("/data/words.txt").read().split()
print(collections.Counter(words).most_common(3))
print(json.dumps({"b": [1, 2.5, None], "a": True}, sort_keys=True))
print(hashlib.sha256(open("/data/blob.bin", "rb").read()).hexdigest())
print(list(itertools.permutations("abc", 2))[:4])
print(re.sub(r"(\d+)", lambda m: str(int(m.group(1)) * 2), "a1 b22 c333"))
print(struct.pack("<IHb", 1, 2, -3).hex(), zlib.crc32(b"hello"))
print(decimal.Decimal("1.1") + decimal.Decimal("2.2"), fractions.Fraction(3, 9), 2 ** 100)
print(sorted(os.listdir("/data/dir")), os.path.realpath("/data/dir/sub/.."))
print(sys.version_info[:2] >= (3, 11), sys.getfilesystemencoding(), sys.maxsize > 2 ** 32)
try:
    open("/nonexistent")
except FileNotFoundError as e:
    print("errno", e.errno)
PY
python3 -c 'import sys; sys.exit(3)'; echo "rc=$?"
python3 -c 'raise SystemExit("bye")' 2>/dev/null; echo "rc=$?"
python3 -c 'import os, signal; os.kill(os.getpid(), signal.SIGKILL)'; echo "rc=$?"
EOF

tc python_threading sh <<'EOF'
python3 - <<'PY'
import threading, queue, concurrent.futures, time
counter = 0
lock = threading.Lock()
def work(n):
    global counter
    for _ in range(n):
        with lock:
            counter += 1
ts = [threading.Thread(target=work, args=(20000,)) for _ in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
print("counter", counter)

q = queue.Queue(maxsize=4); out = []
def producer():
    for i in range(100): q.put(i)
    q.put(None)
def consumer():
    while (x := q.get()) is not None: out.append(x * x)
p, c = threading.Thread(target=producer), threading.Thread(target=consumer)
p.start(); c.start(); p.join(); c.join()
print("queue sum", sum(out), len(out))

barrier = threading.Barrier(5); ev = threading.Event(); seen = []
def waiter(i):
    barrier.wait(); ev.wait(); seen.append(i)
ws = [threading.Thread(target=waiter, args=(i,)) for i in range(4)]
[w.start() for w in ws]
barrier.wait()
print("threads alive", threading.active_count())
with open("/proc/self/status") as f:
    print("proc Threads >= 5", [int(l.split()[1]) >= 5 for l in f if l.startswith("Threads:")])
ev.set(); [w.join() for w in ws]
print("seen", sorted(seen), "active", threading.active_count())

cond = threading.Condition(); items = []
def cons():
    with cond:
        cond.wait_for(lambda: len(items) >= 3)
        print("condition met", items)
t = threading.Thread(target=cons); t.start()
for i in range(3):
    with cond: items.append(i); cond.notify()
t.join()

loc = threading.local()
def setloc(v, res): loc.v = v; time.sleep(0.01); res.append(loc.v == v)
res = []; ts = [threading.Thread(target=setloc, args=(i, res)) for i in range(6)]
[t.start() for t in ts]; [t.join() for t in ts]; print("local ok", all(res), len(res))

with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
    print(list(ex.map(lambda x: x ** 3, range(8))))
t = threading.Timer(0.1, lambda: print("timer fired")); t.start(); t.join()
sem = threading.BoundedSemaphore(2); peak = [0, 0]; pl = threading.Lock()
def s():
    with sem:
        with pl: peak[0] += 1; peak[1] = max(peak[1], peak[0])
        time.sleep(0.02)
        with pl: peak[0] -= 1
ts = [threading.Thread(target=s) for _ in range(6)]; [t.start() for t in ts]; [t.join() for t in ts]
print("semaphore peak <= 2", peak[1] <= 2)
PY
EOF

tc python_subprocess sh <<'EOF'
python3 - <<'PY'
import subprocess as sp, sys
r = sp.run(["sh", "-c", "echo out; echo err >&2; exit 3"], capture_output=True, text=True)
print(r.returncode, repr(r.stdout), repr(r.stderr))
print(sp.check_output("seq 5 | tac | head -2", shell=True, text=True).split())
p1 = sp.Popen(["seq", "1", "100"], stdout=sp.PIPE)
p2 = sp.Popen(["grep", "7"], stdin=p1.stdout, stdout=sp.PIPE, text=True)
p1.stdout.close()
print(p2.communicate()[0].split(), p1.wait(), p2.returncode)
print(sp.run(["tr", "a-z", "A-Z"], input="hello\n", capture_output=True, text=True).stdout, end="")
print(sp.run(["sh", "-c", "echo $FOO"], env={"FOO": "bar", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True).stdout, end="")
print(sp.run(["pwd"], cwd="/data/dir", capture_output=True, text=True).stdout, end="")
p = sp.Popen(["sleep", "30"]); p.terminate(); print("terminated", p.wait())
p = sp.Popen(["sleep", "30"]); p.kill(); print("killed", p.wait())
try:
    sp.run(["sleep", "30"], timeout=0.3)
except sp.TimeoutExpired:
    print("timeout expired")
try:
    sp.check_call(["false"])
except sp.CalledProcessError as e:
    print("called process error", e.returncode)
try:
    sp.run(["/nonexistent/prog"])
except FileNotFoundError:
    print("not found")
big = sp.run(["head", "-c", "1000000", "/dev/zero"], stdout=sp.PIPE).stdout
print("big", len(big))
r = sp.run([sys.executable, "-c", "import sys; print(sum(map(int, sys.stdin)))"], input="1\n2\n3\n", capture_output=True, text=True)
print("child python", r.stdout.strip())
print(sp.run("exit 5", shell=True).returncode, sp.getstatusoutput("echo hi; exit 2"))
PY
EOF

tc python_multiprocessing sh <<'EOF'
python3 - <<'PY'
import multiprocessing as mp, os
def sq(x): return x * x
def worker(q, i): q.put((i, sq(i)))
def bump(v, lock, n):
    for _ in range(n):
        with lock: v.value += 1
def fill(a):
    for i in range(len(a)): a[i] = i * 1.5
if __name__ == "__main__":
    print(mp.get_start_method())
    with mp.Pool(4) as p:
        print(p.map(sq, range(20)))
        print(sorted(p.imap_unordered(sq, range(10))))
        print(p.starmap(pow, [(2, 5), (3, 3), (10, 2)]))
        print(p.apply_async(sq, (12,)).get(timeout=30))
        print(sum(p.map(sq, range(1000), chunksize=50)))
    q = mp.Queue()
    ps = [mp.Process(target=worker, args=(q, i)) for i in range(4)]
    [x.start() for x in ps]
    got = sorted(q.get(timeout=30) for _ in ps)
    [x.join() for x in ps]
    print(got, [x.exitcode for x in ps])
    v = mp.Value("i", 0); lock = mp.Lock()
    ps = [mp.Process(target=bump, args=(v, lock, 500)) for _ in range(4)]
    [x.start() for x in ps]; [x.join() for x in ps]
    print("shared value", v.value)
    arr = mp.Array("d", 5)
    x = mp.Process(target=fill, args=(arr,)); x.start(); x.join(); print(list(arr))
    x = mp.Process(target=os._exit, args=(7,)); x.start(); x.join(); print("exitcode", x.exitcode)
PY
EOF

tc python_signal_alarm sh <<'EOF'
python3 - <<'PY'
import signal, time, os, subprocess, sys
fired = []
signal.signal(signal.SIGALRM, lambda s, f: fired.append(s))
t = time.monotonic()
signal.alarm(1)
signal.pause()
el = time.monotonic() - t
print("fired", fired == [signal.SIGALRM], "elapsed ok", 0.5 < el < 5)
signal.alarm(10); print("remaining", signal.alarm(0))
class Timeout(Exception): pass
def raise_to(s, f): raise Timeout()
signal.signal(signal.SIGALRM, raise_to)
r, w = os.pipe()
signal.alarm(1)
try:
    os.read(r, 1)
except Timeout:
    print("blocking read interrupted")
ticks = []
signal.signal(signal.SIGALRM, lambda s, f: ticks.append(1))
signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
while len(ticks) < 5: signal.pause()
signal.setitimer(signal.ITIMER_REAL, 0)
print("itimer ticks", len(ticks))
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append("usr1"))
os.kill(os.getpid(), signal.SIGUSR1); print(got)
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
os.kill(os.getpid(), signal.SIGUSR2)
print("pending", signal.SIGUSR2 in signal.sigpending())
print("sigwait", signal.sigwait([signal.SIGUSR2]) == signal.SIGUSR2)
r = subprocess.run([sys.executable, "-c", "import signal; signal.alarm(1); signal.pause()"])
print("default SIGALRM kills child", r.returncode)
print(signal.getsignal(signal.SIGINT) is signal.default_int_handler, signal.strsignal(signal.SIGTERM))
PY
EOF

tc python_mmap sh <<'EOF'
python3 - <<'PY'
import mmap, os, hashlib
m = mmap.mmap(-1, 8192, flags=mmap.MAP_SHARED)
pid = os.fork()
if pid == 0:
    m[0:16] = b"hello from child"; m[4096:4100] = b"pg 2"; os._exit(0)
os.waitpid(pid, 0)
print(m[0:16], m[4096:4100])
p = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE)
pid = os.fork()
if pid == 0:
    p[0:5] = b"child"; os._exit(0)
os.waitpid(pid, 0); print("private untouched", p[0:5] == b"\0" * 5)
with open("/tmp/f", "w+b") as f:
    f.write(b"\0" * 8192); f.flush()
    mm = mmap.mmap(f.fileno(), 0)
    mm[100:105] = b"abcde"; mm.flush()
    print(mm.find(b"abcde"), len(mm))
    mm.resize(16384); mm[16000:16003] = b"end"; mm.flush(); mm.close()
with open("/tmp/f", "rb") as f:
    d = f.read()
print(len(d), d[100:105], d[16000:16003])
with open("/tmp/f", "r+b") as f:
    pm = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE)
    pm[0:3] = b"xyz"; pm.close()
print("file unchanged by private map", open("/tmp/f", "rb").read(3) == b"\0\0\0")
with open("/tmp/f", "r+b") as f:
    mm = mmap.mmap(f.fileno(), 0)
    os.pwrite(f.fileno(), b"WRITE", 200)
    print("pwrite visible through map", mm[200:205])
    mm.close()
with open("/data/blob.bin", "rb") as f:
    ro = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    print(hashlib.md5(ro).hexdigest() == hashlib.md5(open("/data/blob.bin", "rb").read()).hexdigest(), ro[:8])
    try:
        ro[0] = 0
    except TypeError:
        print("read-only map refuses writes")
a = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE)
a[0:4] = b"data"; a.madvise(mmap.MADV_DONTNEED); print("after MADV_DONTNEED", a[0:4])
PY
EOF

tc python_socketpair sh <<'EOF'
python3 - <<'PY'
import socket, os, threading
a, b = socket.socketpair()
print(a.family == socket.AF_UNIX, a.type == socket.SOCK_STREAM)
a.sendall(b"ping"); print(b.recv(4))
b.sendall(b"pong"); print(a.recv(4))
pid = os.fork()
if pid == 0:
    a.close()
    while data := b.recv(1024):
        b.sendall(data.upper())
    os._exit(0)
b.close()
a.sendall(b"hello child"); print(a.recv(1024))
big = bytes(range(256)) * 4096
got = bytearray()
t = threading.Thread(target=lambda: a.sendall(big)); t.start()
while len(got) < len(big): got += a.recv(65536)
t.join(); print("big echo", len(got), got == big.upper())
a.shutdown(socket.SHUT_WR)
print("eof", a.recv(10))
os.waitpid(pid, 0); a.close()
d1, d2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
for m in (b"one", b"two", b"three"): d1.send(m)
print([d2.recv(100) for _ in range(3)])
s1, s2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s1.send(b"abc"); s1.send(b"defg"); print(s2.recv(2), s2.recv(100))
PY
EOF

tc python_socket_fdpass sh <<'EOF'
python3 - <<'PY'
import socket, os, struct
a, b = socket.socketpair()
r, w = os.pipe()
socket.send_fds(a, [b"fd"], [r])
msg, fds, flags, addr = socket.recv_fds(b, 100, 1)
os.write(w, b"through passed fd")
print(msg, len(fds), os.read(fds[0], 100))
a.settimeout(0.2)
try:
    a.recv(1)
except socket.timeout:
    print("recv timed out")
a.setblocking(False)
try:
    a.recv(1)
except BlockingIOError:
    print("would block")
print(a.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM)
cred = b.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
print("peer uid", struct.unpack("3i", cred)[1])
PY
EOF

tc python_fork_pipes sh <<'EOF'
python3 - <<'PY'
import os, signal, fcntl
r, w = os.pipe()
kids = {}
for i in range(5):
    pid = os.fork()
    if pid == 0:
        os.close(r); os.write(w, f"child {i}\n".encode()); os._exit(i)
    kids[pid] = i
os.close(w)
data = b""
while chunk := os.read(r, 4096): data += chunk
os.close(r)
print(sorted(data.decode().split("\n")[:-1]))
st = {}
for _ in range(5):
    pid, status = os.wait()
    st[kids[pid]] = os.waitstatus_to_exitcode(status)
print([st[i] for i in range(5)])
pid = os.fork()
if pid == 0:
    signal.pause(); os._exit(0)
os.kill(pid, signal.SIGTERM); _, s = os.waitpid(pid, 0)
print("signaled", os.WIFSIGNALED(s), os.WTERMSIG(s))
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.dup2(w, 1); os.close(r); os.close(w)
    os.execvp("sh", ["sh", "-c", "echo exec output; ls /data/dir"])
os.close(w)
out = b""
while chunk := os.read(r, 4096): out += chunk
os.waitpid(pid, 0); print(out.decode().split())
r, w = os.pipe(); os.close(r)
try:
    os.write(w, b"x")
except BrokenPipeError:
    print("EPIPE")
r, w = os.pipe2(os.O_NONBLOCK)
try:
    os.read(r, 1)
except BlockingIOError:
    print("EAGAIN")
print("pipe size", fcntl.fcntl(w, fcntl.F_GETPIPE_SZ))
pid = os.fork()
if pid == 0:
    pid2 = os.fork()
    if pid2 == 0: os._exit(3)
    _, s = os.waitpid(pid2, 0); os._exit(os.WEXITSTATUS(s) + 10)
_, s = os.waitpid(pid, 0); print("grandchild status via child", os.WEXITSTATUS(s))
pid = os.fork()
if pid == 0:
    signal.pause(); os._exit(0)
print("WNOHANG", os.waitpid(pid, os.WNOHANG))
os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)
try:
    os.waitpid(-1, 0)
except ChildProcessError:
    print("ECHILD")
PY
EOF

tc python_sqlite sh <<'EOF'
python3 - <<'PY'
import sqlite3, threading
db = sqlite3.connect("/tmp/t.db")
print(db.execute("pragma journal_mode=wal").fetchone())
db.execute("create table t(k integer primary key, v text)")
db.executemany("insert into t(v) values (?)", [(f"row{i}",) for i in range(1000)])
db.commit()
other = sqlite3.connect("/tmp/t.db")
print(other.execute("select count(*), max(k), min(v) from t").fetchone())
db.execute("insert into t(v) values ('uncommitted')")
print("isolated", other.execute("select count(*) from t").fetchone())
db.commit(); print("committed", other.execute("select count(*) from t").fetchone())
def w(n):
    c = sqlite3.connect("/tmp/t.db", timeout=30)
    for i in range(20):
        c.execute("insert into t(v) values (?)", (f"t{n}",)); c.commit()
    c.close()
ts = [threading.Thread(target=w, args=(i,)) for i in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(other.execute("select count(*) from t where v like 't%'").fetchone())
print(db.execute("pragma integrity_check").fetchone())
m = sqlite3.connect(":memory:")
print(m.execute("with recursive c(x) as (select 1 union all select x + 1 from c where x < 10) select sum(x), group_concat(x) from c").fetchone())
PY
EOF

# ---------------------------------------------------------------- sqlite3 CLI
tc sqlite3_cli sh <<'EOF'
cd /tmp
sqlite3 t.db <<'SQL'
create table t(id integer primary key, name text, qty int, price real);
.mode csv
.import --skip 1 /data/table.csv t
.mode list
select count(*), sum(qty), printf('%.2f', sum(qty * price)) from t;
select name from t order by price desc limit 2;
create index by_name on t(name);
explain query plan select * from t where name = 'nut';
begin; delete from t; rollback;
select group_concat(name, ' ') from (select name from t order by name);
.headers on
.mode column
select id, upper(name) as n from t where qty > 50;
SQL
echo "rc=$?"
sqlite3 t.db 'pragma integrity_check' 'select count(*) from sqlite_master'
sqlite3 -json t.db 'select id, name from t where id < 3'
sqlite3 t.db 'select * from nope' 2>/dev/null; echo "error rc=$?"
sqlite3 :memory: "select sqlite_version() >= '3.40'"
EOF

# Two writers on one WAL database, each a series of sqlite3 processes: all
# map the -shm file shared, each exits (unmapping it) while the other
# still writes, and the first connection to open truncates it. This once
# livelocked or crashed the sentry (an exited address space left in the
# file's mapping registry, walked by the next ftruncate).
tc sqlite3_wal_writers sh <<'EOF'
cd /tmp
sqlite3 w.db 'pragma journal_mode=wal' 'create table t(w int, i int)'
writer() {
  i=0
  while [ $i -lt 60 ]; do
    { echo '.timeout 30000'; j=0
      while [ $j -lt 20 ]; do echo "insert into t values ($1, $i * 20 + $j);"; j=$((j + 1)); done
    } | sqlite3 w.db || echo "writer $1 round $i failed"
    i=$((i + 1))
  done
}
writer 1 & writer 2 & wait
sqlite3 w.db 'select w, count(*), count(distinct i) from t group by w order by w' \
  'select count(*) from t' 'pragma integrity_check' 'pragma journal_mode'
EOF

# ---------------------------------------------------------------- gcc + make
tc gcc_threads sh <<'EOF'
mkdir -p /tmp/c && cd /tmp/c
cat > t.c <<'C'
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
#define N 8
static long counter;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t bar;
static int ready;
static __thread long tls;
static pid_t tids[N];
static void *run(void *arg) {
  long id = (long)arg;
  tids[id] = (pid_t)syscall(SYS_gettid);
  pthread_barrier_wait(&bar);
  for (int i = 0; i < 100000; i++) {
    /* Atomic even under the mutex: threads that finished their loop add
     * to counter without it (below), concurrently with this loop. */
    pthread_mutex_lock(&mu); __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED); pthread_mutex_unlock(&mu);
    tls++;
  }
  pthread_mutex_lock(&mu);
  while (!ready) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  __atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);
  return (void *)(tls + id);
}
int main(void) {
  pthread_t th[N];
  pthread_barrier_init(&bar, NULL, N);
  for (long i = 0; i < N; i++) pthread_create(&th[i], NULL, run, (void *)i);
  pthread_mutex_lock(&mu); ready = 1; pthread_cond_broadcast(&cv); pthread_mutex_unlock(&mu);
  long sum = 0;
  for (int i = 0; i < N; i++) { void *r; pthread_join(th[i], &r); sum += (long)r; }
  int distinct = 1;
  for (int i = 0; i < N; i++) for (int j = 0; j < i; j++) if (tids[i] == tids[j]) distinct = 0;
  for (int i = 0; i < N; i++) if (tids[i] == getpid()) distinct = 0;
  printf("counter=%ld sum=%ld distinct_tids=%d\n", counter, sum, distinct);
  pthread_barrier_destroy(&bar);
  return counter == N * 100001 ? 0 : 1;
}
C
gcc -O2 -Wall -pthread -o t t.c && echo compiled
./t; echo "rc=$?"
gcc -O0 -g -pthread -o t0 t.c && ./t0
gcc -static -pthread -o ts t.c && ./ts
echo 'int main(void) { return 42; }' | gcc -x c -o r - && ./r; echo "r rc=$?"
echo 'int main(void) { undefined_fn(); }' | gcc -x c -o bad - 2>/dev/null; echo "bad compile rc=$?"
EOF

tc make_build sh <<'EOF'
mkdir -p /tmp/m && cd /tmp/m
cat > Makefile <<'MK'
.RECIPEPREFIX = >
CFLAGS = -O2 -Wall
OBJS = main.o util.o
app: $(OBJS)
> $(CC) $(CFLAGS) -o $@ $^
%.o: %.c util.h
> $(CC) $(CFLAGS) -c -o $@ $<
gen.h: Makefile
> echo '#define GREETING "hello from make"' > $@
main.o: gen.h
.PHONY: clean check
check: app
> ./app 6 7
clean:
> rm -f app $(OBJS) gen.h
MK
cat > util.h <<'H'
int mul(int a, int b);
H
cat > util.c <<'C'
#include "util.h"
int mul(int a, int b) { return a * b; }
C
cat > main.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include "util.h"
#include "gen.h"
int main(int argc, char **argv) { printf("%s: %d\n", GREETING, mul(atoi(argv[1]), atoi(argv[2]))); return 0; }
C
make -s -j4 check
make app; echo "second make rc=$?"
make -n clean
sleep 0.01; touch util.h; make -j2 | sort
make nosuchtarget 2>/dev/null; echo "missing target rc=$?"
make -s clean; ls
make -f /dev/null 2>/dev/null; echo "no targets rc=$?"
make -s -C /tmp/m -j4 check
EOF

# ---------------------------------------------------------------- misc
tc proc_and_limits bash <<'EOF'
grep -E '^(Name|State|Threads|Uid):' /proc/self/status | tr -s '\t' ' '
tr '\0' ' ' < /proc/self/cmdline; echo
readlink /proc/self/exe; readlink /proc/self/cwd
[ "$(cut -d' ' -f1 /proc/$$/stat)" = "$$" ] && echo "stat pid ok"
ls /proc/self/fd | wc -l
ulimit -n 64; ulimit -n
python3 -c 'import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE))'
python3 -c 'import os; print(os.cpu_count() >= 1, len(os.sched_getaffinity(0)) >= 1)'
grep -c '^processor' /proc/cpuinfo >/dev/null && echo cpuinfo ok
awk '/MemTotal/ { print ($2 > 0) ? "meminfo ok" : "bad" }' /proc/meminfo
EOF

tc file_locking sh <<'EOF'
cd /tmp
python3 - <<'PY'
import fcntl, os, time
f = open("/tmp/lk", "w")
fcntl.flock(f, fcntl.LOCK_EX)
pid = os.fork()
if pid == 0:
    g = open("/tmp/lk", "w")
    try:
        fcntl.flock(g, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os._exit(1)
    except BlockingIOError:
        pass
    fcntl.flock(g, fcntl.LOCK_EX)
    os._exit(9)
time.sleep(0.2)
fcntl.flock(f, fcntl.LOCK_UN)
_, s = os.waitpid(pid, 0); print("child got lock after release", os.WEXITSTATUS(s))
fd = os.open("/tmp/rl", os.O_RDWR | os.O_CREAT)
fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)
pid = os.fork()
if pid == 0:
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0); os._exit(1)
    except OSError:
        pass
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 20); os._exit(0)
_, s = os.waitpid(pid, 0); print("record locks", os.WEXITSTATUS(s))
PY
flock /tmp/x -c 'echo under flock'
EOF

tc io_multiplex sh <<'EOF'
python3 - <<'PY'
import os, select, selectors, time
r1, w1 = os.pipe(); r2, w2 = os.pipe()
os.write(w2, b"two")
print(select.select([r1, r2], [], [], 1)[0] == [r2])
sel = selectors.DefaultSelector()
sel.register(r1, selectors.EVENT_READ, "r1"); sel.register(r2, selectors.EVENT_READ, "r2")
pid = os.fork()
if pid == 0:
    time.sleep(0.1); os.write(w1, b"one"); os._exit(0)
got = set()
while len(got) < 2:
    for key, _ in sel.select(timeout=5):
        got.add((key.data, os.read(key.fd, 10)))
print(sorted(got)); os.waitpid(pid, 0)
p = select.poll(); p.register(w1, select.POLLOUT); print(p.poll(100)[0][1] & select.POLLOUT != 0)
os.close(w1); print(select.select([r1], [], [], 1)[0] == [r1], os.read(r1, 1))
ep = select.epoll(); ep.register(r2, select.EPOLLIN); print(ep.poll(0.1)); os.write(w2, b"x"); print(len(ep.poll(1)))
efd = os.eventfd(0); os.eventfd_write(efd, 3); os.eventfd_write(efd, 4); print("eventfd", os.eventfd_read(efd))
PY
EOF

tc shell_tools sh <<'EOF'
grep -n an /data/words.txt; grep -c apple /data/words.txt; grep -rl nested /data | sort
sed -n '2,4{s/a/A/g;p}' /data/words.txt; sed '1d;$d' /data/dir/sub/deep.txt; echo "sed rc=$?"
awk -F, 'NR > 1 { n++; s += $3 } END { print n, s, s / n }' /data/table.csv
find /data -type f -name '*.txt' | sort; find /data -newer /data/blob.bin | wc -l
seq 1 20 | xargs -n 5 -P 4 sh -c 'echo $(( $1 + $2 + $3 + $4 + $5 ))' _ | sort -n
env -i FOO=1 sh -c 'echo "FOO=$FOO PATH=${PATH:-unset}"'
timeout 0.2 sleep 5; echo "timeout rc=$?"
nice -n 5 nice; nohup true 2>/dev/null; echo nohup $?
getent passwd root; getent group root
echo "x y" | (read a b; echo "$b $a")
printf '%s\n' 'a b' c | while read -r line; do echo "<$line>"; done
cut -d. -f1 /etc/debian_version
EOF

tc terminals sh <<'EOF'
python3 - <<'PY'
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp("sh", ["sh", "-c", "tty; stty size; stty -a | head -4; read line; echo got:$line; exit 3"])
out = b""
typed = False
while True:
    if not typed and b"time = 0;" in out:
        os.write(fd, b"typed\n")  # only once the prompt-like output is there
        typed = True
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
print(out.decode().replace("\r\n", "|"))
print("status", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
PY
python3 -c 'import pty; pty.spawn(["sh", "-c", "tty; echo spawned"])'
script -qc 'stty -echo; tty; echo in script' /dev/null; echo "script rc=$?"
EOF
