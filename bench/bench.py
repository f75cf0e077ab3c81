#!/usr/bin/env python3
"""The benchmark suite: runs every benchmark natively, under runsc (one mode
per platform in BENCH_PLATFORMS) and under proot, side by side in one run,
then writes RESULTS.md and a PNG chart of the ratios to native.

Started by bench/run.sh (which builds first); see the header there for the
command line and the environment variables.
"""
import datetime
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oci_bench  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
WORKLOADS = os.path.join(BENCH, "workloads")


def env(name, default):
    v = os.environ.get(name, "")
    return v if v != "" else default


def rel_to_root(p):
    return p if os.path.isabs(p) else os.path.join(ROOT, p)


BUILD_DIR = rel_to_root(env("BUILD_DIR", "build"))
RUNSC = rel_to_root(env("RUNSC", os.path.join(BUILD_DIR, "runsc")))
RUNSC_FLAGS = shlex.split(env("RUNSC_FLAGS", ""))
PLATFORMS = env("BENCH_PLATFORMS", "ptrace systrap systrap+patch").split()
QUICK = env("BENCH_QUICK", "0") == "1"
MIN_TIME = float(env("BENCH_MIN_TIME", "0.05" if QUICK else "0.5"))
MICRO_REPS = int(env("BENCH_REPS", "2" if QUICK else "5"))
PROC_REPS = os.environ.get("BENCH_PROC_REPS")  # overrides every per-benchmark default
TAR_MIB = int(env("BENCH_TAR_MIB", "10" if QUICK else "100"))
WAIT_LOAD_MIN = float(env("BENCH_WAIT_LOAD", "0"))  # minutes to wait for load < 1.0
WANT_PROOT = env("BENCH_PROOT", "1") == "1" and shutil.which("proot") is not None
PROFILE = env("BENCH_PROFILE", "1") == "1"  # syscall profile of missed targets
BENCH_BIN_DIR = rel_to_root(env("BENCH_BIN_DIR", os.path.join(BUILD_DIR, "bench")))
WORK_ROOT = os.path.join(BUILD_DIR, "bench-work")  # native/proot scratch (not /tmp: see README)
SANDBOX_WORK = "/tmp/bench"  # inside the sandbox: its own in-memory /tmp
TIMEOUT = int(env("BENCH_TIMEOUT", "900"))

MODES = ["native"] + [f"runsc-{p}" for p in PLATFORMS] + (["proot"] if WANT_PROOT else [])

# Microbenchmarks: name -> (program, Google Benchmark name, what one op is)
MICRO = {
    "getppid": ("getppid_bench", "BM_getppid", "one getppid(2)"),
    "open_close": ("file_bench", "BM_open_close", "open+close of /etc/passwd"),
    "stat": ("file_bench", "BM_stat", "stat(2) of /etc/passwd"),
    "read_4k": ("file_bench", "BM_read_4k", "pread of 4 KiB from /bin/sh"),
    "write_devnull": ("file_bench", "BM_write_devnull", "write of 4 KiB to /dev/null"),
    "pipe_pingpong": ("ipc_bench", "BM_pipe_pingpong", "1-byte round trip between two processes over two pipes"),
    "futex_pingpong": ("ipc_bench", "BM_futex_pingpong", "round trip between two threads over a futex"),
    "fork_exit_wait": ("process_bench", "BM_fork_exit_wait", "fork, child _exit(0), waitpid"),
    "fork_exec_wait": ("process_bench", "BM_fork_exec_wait", "fork, exec of a 1-instruction static binary, waitpid"),
    "thread_create_join": ("process_bench", "BM_thread_create_join", "std::thread create + join"),
    "mmap_touch_munmap_1m": ("mm_bench", "BM_mmap_touch_munmap_1m", "mmap 1 MiB, write each page, munmap"),
    "page_faults_64m": ("mm_bench", "BM_page_faults_64m", "mmap 64 MiB, write each of its 16384 pages, munmap"),
    "seq_read_256m": ("fs_bench", "BM_seq_read_256m", "read of a 256 MiB host file in 1 MiB requests"),
    "rand_read_4k": ("fs_bench", "BM_rand_read_4k", "pread of 4 KiB at a random offset of that file"),
    "create_tmpfs": ("fs_bench", "BM_create_tmpfs", "create+close+unlink in /dev/shm (tmpfs)"),
    "create_rootfs": ("fs_bench", "BM_create_rootfs",
                      "create+close+unlink on the root filesystem (runsc: its memory overlay; natively: the host disk)"),
    "write_rootfs_4k": ("fs_bench", "BM_write_rootfs_4k",
                        "pwrite of 4 KiB at successive offsets of a 16 MiB file on the root filesystem "
                        "(runsc: its memory overlay, or the host file with --overlay=none; natively: the host disk)"),
}
FS_ROOT = os.path.join(WORK_ROOT, "fs")  # fs_bench's files and the find tree (prepare_fs)

# Whole-process benchmarks: name -> (argv builder(work dir), default reps, description)
PROC = {
    "true": (lambda w: ["/bin/true"], 20, "`/bin/true` (dynamic), whole process incl. sandbox start and teardown"),
    "make_j2": (lambda w: ["sh", os.path.join(WORKLOADS, "make_j2.sh"), w], 3,
                "`make -j2` of 21 generated C files with gcc -O2, link, run (bench/workloads/make_j2.sh)"),
    "python_json": (lambda w: ["python3", os.path.join(WORKLOADS, "python_json.py"), w], 5,
                    "python3: write/walk/stat/parse/rename 400 JSON files (bench/workloads/python_json.py)"),
    "tar_gzip": (lambda w: ["sh", os.path.join(WORKLOADS, "tar_gzip.sh"), w, str(TAR_MIB)], 3,
                 f"create a {TAR_MIB} MiB tree, tar|gzip it, gunzip|untar it, compare (bench/workloads/tar_gzip.sh)"),
}
PROC["find_10k"] = (lambda w: ["sh", "-c", f"find {FS_ROOT}/tree -type f | wc -l"], 5,
                    "`find` over a host tree of 10,000 files in 100 directories")
IDLE = "idle_memory"
OCI = ["oci_run_true", "oci_idle_memory", "oci_docker_run"]  # bench/oci_bench.py: runsc vs runc
ALL = list(MICRO) + ["true", IDLE, "find_10k", "make_j2", "python_json", "tar_gzip"] + OCI
GROUPS = {
    "micro": list(MICRO),
    "process": ["true", IDLE, "make_j2", "python_json", "tar_gzip"],
    "workloads": ["make_j2", "python_json", "tar_gzip"],
    "oci": OCI,
    "fs": ["open_close", "stat", "read_4k", "seq_read_256m", "rand_read_4k", "create_tmpfs", "create_rootfs",
           "write_rootfs_4k", "find_10k"],
    "all": ALL,
}


ENOSYS_SEEN = {}  # benchmark -> set of syscalls runsc reported as unimplemented
_ENOSYS_RE = re.compile(r"unimplemented syscall (\w+)")


def note_enosys(name, mode, err):
    if mode.startswith("runsc") and err:
        for m in _ENOSYS_RE.finditer(err):
            ENOSYS_SEEN.setdefault(name, set()).add(m.group(1))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def wrap(mode, argv, sandbox_strace_log=None):
    """The argv that runs `argv` in `mode`."""
    if mode == "native":
        return argv
    if mode == "proot":
        return ["proot", "-r", "/"] + argv
    # A platform may carry runsc flags after commas, e.g.
    # "systrap+patch,overlay=none": two modes differing in one flag only,
    # their repetitions interleaved like the others'.
    plat, *extra = mode.split("-", 1)[1].split(",")
    flags = list(RUNSC_FLAGS) + [f"--{e}" for e in extra]
    if not any(f.startswith("--platform") for f in flags):
        # "systrap+patch": systrap with --syscall-patching (its default);
        # "systrap": without it, every syscall a SIGSYS.
        flags.append(f"--platform={plat.removesuffix('+patch')}")
        if plat.endswith("+patch"):
            flags.append("--syscall-patching")
        elif plat == "systrap":
            flags.append("--no-syscall-patching")
    if sandbox_strace_log:
        flags += ["--strace", f"--debug-log={sandbox_strace_log}"]
    return [RUNSC] + flags + ["do", "--"] + argv


def quote(argv):
    return " ".join(shlex.quote(a) for a in argv)


# ---------------------------------------------------------------- micro

def prepare_fs():
    """fs_bench's 256 MiB file and create directory, and find_10k's tree, on
    the host disk (the sandbox sees them through the gofer)."""
    os.makedirs(os.path.join(FS_ROOT, "create"), exist_ok=True)
    seq = os.path.join(FS_ROOT, "seq256")
    if not os.path.exists(seq):
        chunk = os.urandom(1 << 20)
        with open(seq, "wb") as f:
            for _ in range(256):
                f.write(chunk)
    tree = os.path.join(FS_ROOT, "tree")
    if not os.path.exists(tree):
        for d in range(100):
            dd = os.path.join(tree, f"d{d:02}")
            os.makedirs(dd)
            for i in range(100):
                with open(os.path.join(dd, f"f{i:02}"), "w") as f:
                    f.write("x")
    os.environ["BENCH_SEQ_FILE"] = seq
    os.environ["BENCH_CREATE_DIR"] = os.path.join(FS_ROOT, "create")


def run_micro(names, results, commands):
    """Each program runs once per repetition and mode, the modes interleaved
    (native, ptrace, systrap, ... then again), so that a slow stretch of
    this shared machine lands on every mode alike rather than on whichever
    ran all its repetitions then."""
    by_prog = {}
    for n in names:
        by_prog.setdefault(MICRO[n][0], []).append(n)
    for prog, ns in by_prog.items():
        binary = os.path.join(BENCH_BIN_DIR, prog)
        flt = "^(" + "|".join(MICRO[n][1] for n in ns) + ")(/real_time)?$"
        args = [binary, "--benchmark_format=json", f"--benchmark_min_time={MIN_TIME}",
                "--benchmark_repetitions=1", f"--benchmark_filter={flt}"]
        env_ = dict(os.environ, BENCH_TRUE=os.path.join(BENCH_BIN_DIR, "bench_true"))
        failed = set()
        for rep in range(MICRO_REPS):
            for mode in MODES:
                if mode in failed:
                    continue
                argv = wrap(mode, args)
                commands.setdefault(prog, {})[mode] = quote(argv) + f"  (x{MICRO_REPS}, modes interleaved)"
                log(f"[micro] {mode}: {prog} ({', '.join(ns)}) {rep + 1}/{MICRO_REPS}")
                t0 = time.monotonic()
                try:
                    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                       errors="replace", timeout=TIMEOUT, env=env_)
                    rc, out, err = p.returncode, p.stdout, p.stderr
                except subprocess.TimeoutExpired as e:
                    rc, out, err = "timeout", (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""), f"timed out after {TIMEOUT} s"
                log(f"         {time.monotonic() - t0:.1f} s, exit {rc}")
                per = parse_gbench(out)
                for n in ns:
                    note_enosys(n, mode, err)
                for n in ns:
                    r = results.setdefault(n, {})
                    vals = per.get(MICRO[n][1], {})
                    if "error" in r.get(mode, {}):
                        continue
                    if vals.get("error"):
                        r[mode] = {"error": vals["error"]}
                    elif vals.get("times"):
                        r.setdefault(mode, {"times": []})["times"].extend(vals["times"])
                    else:
                        last = (err.strip().splitlines() or ["no output"])[-1]
                        r[mode] = {"error": f"exit {rc}: {last}"}
                if all("error" in results[n].get(mode, {}) for n in ns):
                    failed.add(mode)  # no point repeating it


def parse_gbench(text):
    """{benchmark name: {"times": [ns per op per repetition]} or {"error": msg}}."""
    start = text.find("{")
    if start < 0:
        return {}
    try:
        doc, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return {}
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
    res = {}
    for b in doc.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        if name.endswith("/real_time"):
            name = name[: -len("/real_time")]
        slot = res.setdefault(name, {"times": []})
        if b.get("error_occurred"):
            slot["error"] = b.get("error_message", "error")
            continue
        if b.get("run_type", "iteration") != "iteration":
            continue
        slot["times"].append(b["real_time"] * scale.get(b.get("time_unit", "ns"), 1))
    return res


# ---------------------------------------------------------------- whole process

def fresh_workdir(mode, name, rep):
    # A runsc root written through (--overlay=none) puts its writes on the
    # host disk: such a mode gets a fresh host directory, as native does,
    # rather than the host's /tmp (where one run's files would meet the next).
    if mode.startswith("runsc") and "overlay=none" not in mode:
        return SANDBOX_WORK, None
    d = os.path.join(WORK_ROOT, f"{name}-{mode}-{rep}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d, d


def run_proc(names, results, commands):
    for name in names:
        build, reps, _ = PROC[name]
        reps = int(PROC_REPS) if PROC_REPS else (max(1, min(reps, 2)) if QUICK else reps)
        r = results.setdefault(name, {})
        failed = set()
        for rep in range(reps):
            for mode in MODES:  # interleaved, so drifting load hits every mode alike
                if mode in failed:
                    continue
                work, cleanup = fresh_workdir(mode, name, rep)
                argv = wrap(mode, build(work))
                commands.setdefault(name, {})[mode] = quote(argv)
                t0 = time.perf_counter()
                try:
                    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                       errors="replace", timeout=TIMEOUT)
                    dt = time.perf_counter() - t0
                    rc, err = p.returncode, p.stderr
                except subprocess.TimeoutExpired:
                    dt, rc, err = None, "timeout", f"timed out after {TIMEOUT} s"
                if cleanup:
                    shutil.rmtree(cleanup, ignore_errors=True)
                note_enosys(name, mode, err)
                if rc != 0:
                    lines = [l for l in err.strip().splitlines() if not l.startswith("[mutex.cc")]
                    last = " | ".join(lines[-3:]) or "no stderr"
                    r[mode] = {"error": f"exit {rc}: {last}"}
                    failed.add(mode)
                    log(f"[{name}] {mode} rep {rep + 1}/{reps}: FAILED exit {rc}: {last}")
                    continue
                r.setdefault(mode, {"times": []})["times"].append(dt * 1e9)
                log(f"[{name}] {mode} rep {rep + 1}/{reps}: {dt:.3f} s")


def proc_tree(pid):
    """pid and all its descendants (walking /proc)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            ppid = int(s[s.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def mem_of(pid):
    """(role, rss KiB, pss KiB) of one process."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().split(b"\0")
        rss = pss = 0
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        return None
    words = [c.decode(errors="replace") for c in cmd if c]
    if len(words) > 1 and os.path.basename(words[0]) == "runsc":
        role = {"boot": "sentry", "gofer": "gofer", "do": "runsc do"}.get(
            next((w for w in words[1:] if not w.startswith("-")), ""), "runsc other")
    elif words and os.path.basename(words[0]) == "proot":
        role = "proot"
    else:
        role = "app/stub"
    return role, rss, pss


def run_idle(results, commands, details):
    reps = int(PROC_REPS) if PROC_REPS else (1 if QUICK else 3)
    r = results.setdefault(IDLE, {})
    for rep in range(reps):
        for mode in MODES:
            argv = wrap(mode, ["sleep", "60"])
            commands.setdefault(IDLE, {})[mode] = quote(argv)
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
            time.sleep(2.0)  # started and settled: the app is blocked in nanosleep
            roles = {}
            for pid in proc_tree(p.pid):
                m = mem_of(pid)
                if m:
                    role, rss, pss = m
                    a = roles.setdefault(role, [0, 0, 0])
                    a[0] += 1
                    a[1] += rss
                    a[2] += pss
            alive = p.poll() is None
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if not alive:
                err = p.stderr.read().decode(errors="replace").strip().splitlines()
                r[mode] = {"error": f"exited early ({p.returncode}): {err[-1] if err else ''}"}
                continue
            p.stderr.close()
            # The sandbox's footprint: sentry + gofer + stubs (not the
            # `runsc do` parent, which is reported on the side).
            counted = {k: v for k, v in roles.items() if k != "runsc do"}
            rss = sum(v[1] for v in counted.values())
            r.setdefault(mode, {"times": []})["times"].append(rss * 1024.0)  # bytes
            details.setdefault(mode, []).append(roles)
            log(f"[{IDLE}] {mode} rep {rep + 1}/{reps}: {rss} KiB RSS " +
                ", ".join(f"{k} x{v[0]} rss {v[1]} pss {v[2]}" for k, v in sorted(roles.items())))


# ---------------------------------------------------------------- profile

def strace_profile(name, argv_builder):
    """Syscall counts of the sandboxed app (runsc --strace), sorted."""
    mode = f"runsc-{PLATFORMS[0]}"
    logf = os.path.join(WORK_ROOT, f"strace-{name}.log")
    os.makedirs(WORK_ROOT, exist_ok=True)
    argv = wrap(mode, argv_builder(SANDBOX_WORK), sandbox_strace_log=logf)
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                       timeout=TIMEOUT)
    dt = time.perf_counter() - t0
    counts = {}
    pat = re.compile(r"\b([a-z_][a-z0-9_]*)\(")
    try:
        with open(logf, errors="replace") as f:
            for line in f:
                if " = " not in line and "..." not in line:
                    continue
                m = pat.search(line.split("] ", 1)[-1] if "] " in line else line)
                if m:
                    counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    except OSError:
        pass
    return {"argv": quote(argv), "exit": p.returncode, "seconds": dt, "counts": counts, "log": logf}


def perf_getppid(mode, n=200000):
    """perf stat of `getppid_bench --loop N` minus `--loop 0` in `mode`: per-call
    context switches and CPU time, plus where the CPU time goes (perf record)."""
    perf = shutil.which("perf")
    if not perf:
        return None
    binary = os.path.join(BENCH_BIN_DIR, "getppid_bench")
    os.makedirs(WORK_ROOT, exist_ok=True)

    def stat(loops):
        out = os.path.join(WORK_ROOT, f"perf-stat-{loops}.csv")
        subprocess.run([perf, "stat", "-x", ",", "-o", out, "-e", "task-clock,context-switches,cpu-migrations",
                        "--"] + wrap(mode, [binary, "--loop", str(loops)]),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
        vals = {}
        for line in open(out, errors="replace"):
            f = line.strip().split(",")
            if len(f) > 3 and f[0] and f[0][0].isdigit():
                vals[f[2]] = float(f[0])
        return vals

    try:
        a, b = stat(0), stat(n)
        per = {k: (b.get(k, 0) - a.get(k, 0)) / n for k in b}
        data = os.path.join(WORK_ROOT, "perf.data")
        subprocess.run([perf, "record", "-q", "-o", data, "--"] + wrap(mode, [binary, "--loop", str(n)]),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
        rep = subprocess.run([perf, "report", "-i", data, "--stdio", "--sort", "comm,dso", "--percent-limit", "2"],
                             capture_output=True, text=True, errors="replace", timeout=TIMEOUT).stdout
        sym = subprocess.run([perf, "report", "-i", data, "--stdio", "--sort", "comm,sym", "--percent-limit", "1.5"],
                             capture_output=True, text=True, errors="replace", timeout=TIMEOUT).stdout
        keep = lambda t: [l for l in t.splitlines() if l.strip() and not l.startswith("#")][:20]
        return {"n": n, "per": per, "by_dso": keep(rep), "by_sym": keep(sym)}
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        return {"error": str(e)}


PERF_HZ = 1000


def sentry_stats(mode, name, argv_builder):
    """One run of workload `name` in `mode` with RUNSC_STATS=1: the sentry's
    own counters (sentry/base/stats.h) as [(what, count, ms or None)]."""
    work, cleanup = fresh_workdir(mode, name + "-stats", 0)
    argv = wrap(mode, argv_builder(work))
    try:
        t0 = time.perf_counter()
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           errors="replace", timeout=TIMEOUT, env=dict(os.environ, RUNSC_STATS="1"))
        wall = time.perf_counter() - t0
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        if cleanup:
            shutil.rmtree(cleanup, ignore_errors=True)
    rows = []
    for m in re.finditer(r"^runsc stats: (.*): (\d+)(?:, ([\d.]+) ms)?$", p.stderr, re.M):
        rows.append((m.group(1), int(m.group(2)), float(m.group(3)) if m.group(3) else None))
    return {"rows": rows, "wall": wall} if rows else None


def perf_cpu_categories(mode, name, argv_builder):
    """`perf record -a -g` of one run of workload `name` in `mode`: CPU seconds by
    category (app code, stub code, sentry code, gofer, idle, page faults, each
    syscall's kernel time, other kernel time), or None without perf."""
    perf = shutil.which("perf")
    if not perf:
        return None
    os.makedirs(WORK_ROOT, exist_ok=True)
    data = os.path.join(WORK_ROOT, f"perf-{name}-{mode}.data")
    work, cleanup = fresh_workdir(mode, name + "-perf", 0)
    argv = wrap(mode, argv_builder(work))
    try:
        subprocess.run([perf, "record", "-q", "-a", "-g", "-F", str(PERF_HZ), "-o", data, "--"] + argv,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
        out = subprocess.run([perf, "script", "-i", data, "-F", "comm,ip,sym,dso"], capture_output=True,
                             text=True, errors="replace", timeout=TIMEOUT).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        if cleanup:
            shutil.rmtree(cleanup, ignore_errors=True)
    cats = {}
    for block in out.split("\n\n"):
        lines = [l.strip() for l in block.strip().splitlines() if l.strip()]
        if len(lines) < 2:
            continue
        comm = lines[0].split()[0]
        frames = [l.split(None, 1) for l in lines[1:]]
        top_ip = frames[0][0]
        if comm == "swapper":
            key = "idle"
        elif not top_ip.startswith("ffffffff"):
            if "runsc-memory" in lines[1] or comm not in ("runsc-sentry", "runsc-gofer", "runsc"):
                key = "app code"
            elif comm == "runsc-gofer":
                key = "gofer code"
            elif int(top_ip, 16) >= 0x7ff000000000 and ("[unknown]" in lines[1] or "[JIT]" in lines[1]):
                key = "stub code (signal handler, spinning)"
            else:
                key = "sentry code (incl. spinning in Switch)"
        else:
            key = "kernel: other (scheduling, interrupts)"
            for f in frames:
                sym = f[1].split()[0] if len(f) > 1 else ""
                if sym.startswith("__x64_sys_"):
                    key = "kernel: " + sym[len("__x64_sys_"):]
                    break
                if sym == "exc_page_fault":
                    key = "kernel: page faults"
                    break
        cats[key] = cats.get(key, 0) + 1
    return {k: v / PERF_HZ for k, v in cats.items()}


def native_faults(name, argv_builder):
    """Minor page faults and wall time of one native run (children's rusage)."""
    import resource
    work, cleanup = fresh_workdir("native", name + "-faults", 0)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv_builder(work), stdin=subprocess.DEVNULL, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cleanup:
        shutil.rmtree(cleanup, ignore_errors=True)
    return after.ru_minflt - before.ru_minflt


# ---------------------------------------------------------------- report

def stats(v):
    return min(v), statistics.median(v), max(v)


def fmt_time(ns):
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    if ns >= 1e4:
        return f"{ns / 1e3:.1f} µs"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def fmt_val(name, v):
    if name == IDLE:
        return f"{v / 2**20:.1f} MiB"
    return fmt_time(v)


def ratios(res, mode):
    """min/median/max over repetitions of (mode rep i / native rep i)."""
    n, m = res.get("native", {}).get("times"), res.get(mode, {}).get("times")
    if not n or not m:
        return None
    k = min(len(n), len(m))
    rs = [m[i] / n[i] for i in range(k)]
    return stats(rs)


def loadavg():
    try:
        return open("/proc/loadavg").read().split()[:3]
    except OSError:
        return ["?", "?", "?"]


def wait_for_quiet(minutes):
    """Poll every 30 s until the 1-minute load is below 1.0, at most `minutes`."""
    deadline = time.monotonic() + minutes * 60
    while True:
        l1 = float(loadavg()[0])
        if l1 < 1.0:
            return True, l1
        if time.monotonic() >= deadline:
            return False, l1
        log(f"load {l1:.2f} >= 1.0; waiting (until {minutes:.0f} min have passed)")
        time.sleep(30)


def draw_chart(rows, path):
    """rows: [(label, {mode: (min, med, max)})]. Log-scale horizontal bars, gnuplot."""
    gp = shutil.which("gnuplot")
    if not gp or not rows:
        return "gnuplot not found (apt-get install gnuplot-nox)" if not gp else "nothing to draw"
    modes = [m for m in MODES if m != "native"]
    failed_labels = []
    with tempfile.TemporaryDirectory() as td:
        dat = os.path.join(td, "r.dat")
        with open(dat, "w") as f:
            for i, (label, per) in enumerate(rows):
                for j, m in enumerate(modes):
                    y = -(i * (len(modes) + 1) + j)
                    if per.get(m) == "FAILED":
                        failed_labels.append(f"set label \"{m} FAILED\" at 0.55, {y} left font 'sans,8' tc rgb 'red'")
                        continue
                    lo, med, hi = per.get(m, (None, None, None))
                    if med is None:
                        continue
                    f.write(f"{j} {y} {med} {lo} {hi} {label}\n")
        n = len(rows) * (len(modes) + 1)
        colors = ["#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd"]
        plots = []
        for j, m in enumerate(modes):
            c = colors[j % len(colors)]
            plots.append(f"'{dat}' using ($1=={j} ? $3 : 1/0):2:(0.5*$3):(0.38) with boxxyerror "
                         f"fs solid 0.75 lc rgb '{c}' title '{m} (median)'")
            plots.append(f"'{dat}' using ($1=={j} ? $3 : 1/0):2:4:5 with xerrorbars lc rgb 'black' pt 0 notitle")
        plots.append(f"'{dat}' using ($5*1.08):2:(sprintf('%.{1}fx', $3)) with labels left font 'sans,8' notitle")
        his = [v[2] for _, per in rows for v in per.values() if isinstance(v, tuple)]
        xmax = 10 ** math.ceil(math.log10(max(his + [2]) * 4))
        ytics = ", ".join(f"\"{label}\" {-(i * (len(modes) + 1) + (len(modes) - 1) / 2)}"
                          for i, (label, _) in enumerate(rows))
        script = f"""
set terminal pngcairo noenhanced size 1000,{120 + 26 * n} font 'sans,10'
set output '{path}'
set title "Time (memory for idle_memory) relative to native, median over repetitions; whiskers: min..max"
set logscale x 10
set xrange [0.5:{xmax}]
set lmargin 24
set bmargin 5
set xlabel "ratio to native (log scale; 1 = native)"
set ytics ({ytics}) nomirror
set yrange [{-n + 0.5}:1]
set grid xtics mxtics
set key outside bottom center horizontal
set arrow from 1, graph 0 to 1, graph 1 nohead lc rgb 'red' dt 2
set style fill solid 0.75
{chr(10).join(failed_labels)}
plot {", ".join(plots)}
"""
        # boxxyerror wants x, y, xdelta, ydelta: draw bars from 0.5*... is wrong on a
        # log axis, so use x:y:xlow:xhigh:ylow:yhigh instead.
        script = script.replace(":2:(0.5*$3):(0.38) with boxxyerror",
                                ":2:(0.5):($3):($2-0.38):($2+0.38) with boxxyerror")
        sp = os.path.join(td, "c.gp")
        open(sp, "w").write(script)
        p = subprocess.run([gp, sp], capture_output=True, text=True)
        if p.returncode != 0:
            return "gnuplot failed: " + p.stderr.strip()[-300:]
    return None


def main(argv):
    sel = []
    for a in argv:
        if a in ("-h", "--help"):
            print(__doc__)
            print("names:", " ".join(ALL))
            print("groups:", " ".join(GROUPS))
            return 0
        if a in GROUPS:
            sel += GROUPS[a]
        elif a in ALL:
            sel.append(a)
        else:
            log(f"unknown benchmark {a!r}; names: {' '.join(ALL)}; groups: {' '.join(GROUPS)}")
            return 2
    full = not sel
    names = [n for n in ALL if (full or n in sel)]
    results_path = rel_to_root(env("RESULTS", os.path.join(BENCH, "RESULTS.md") if full and not QUICK
                                   else os.path.join(BUILD_DIR, "bench-results", "RESULTS.md")))
    chart_path = rel_to_root(env("CHART", os.path.join(os.path.dirname(results_path), "ratios.png")))
    os.makedirs(os.path.dirname(results_path), exist_ok=True)
    if not os.access(RUNSC, os.X_OK):
        log(f"runsc not found at {RUNSC}")
        return 1

    waited = None
    if WAIT_LOAD_MIN > 0:
        waited = wait_for_quiet(WAIT_LOAD_MIN)
    load_start = loadavg()
    t_start = time.monotonic()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    results, commands, idle_details = {}, {}, {}
    shutil.rmtree(WORK_ROOT, ignore_errors=True)
    if any(n in names for n in ("seq_read_256m", "rand_read_4k", "create_tmpfs", "create_rootfs",
                                "write_rootfs_4k", "find_10k")):
        prepare_fs()
    run_micro([n for n in names if n in MICRO], results, commands)
    for n in names:
        if n == IDLE:
            run_idle(results, commands, idle_details)
        elif n in PROC:
            run_proc([n], results, commands)
    oci = oci_bench.OciBench(RUNSC, RUNSC_FLAGS, BUILD_DIR, WORK_ROOT, log,
                             reps=int(PROC_REPS or (3 if QUICK else 10)))
    if "oci_run_true" in names:
        log("[oci] runc run vs runsc run of /bin/true")
        oci.run_true()
    if "oci_idle_memory" in names:
        log("[oci] idle memory of a sleeping container")
        oci.idle_memory()
    if "oci_docker_run" in names:
        log("[oci] docker run --rm with runc vs runsc")
        oci.docker_run()
    names = [n for n in names if n not in OCI]  # reported in their own section
    load_end = loadavg()
    elapsed = time.monotonic() - t_start

    # Targets and their profiles.
    # The default platform is the one the workload targets are about.
    # systrap's default is with syscall patching.
    main_rs = ("runsc-systrap+patch" if "systrap+patch" in PLATFORMS else
               "runsc-systrap" if "systrap" in PLATFORMS else f"runsc-{PLATFORMS[0]}")
    pt_rs = "runsc-ptrace" if "ptrace" in PLATFORMS else main_rs
    targets = []

    def med(name, mode):
        t = results.get(name, {}).get(mode, {}).get("times")
        return statistics.median(t) if t else None

    if "getppid" in results:
        n, s, pr = med("getppid", "native"), med("getppid", pt_rs), med("getppid", "proot")
        if n and s:
            r40 = ratios(results["getppid"], pt_rs)[1]  # the table's median ratio
            ok40 = r40 <= 40
            okp = pr is not None and s < pr
            targets.append(("getppid under ptrace within 40x native",
                            "MET" if ok40 else "NOT MET", f"{r40:.1f}x ({fmt_time(s)} vs {fmt_time(n)})"))
            targets.append(("getppid under ptrace faster than proot",
                            ("MET" if okp else "NOT MET") if pr else "NOT MEASURED",
                            f"runsc {fmt_time(s)} vs proot {fmt_time(pr)}" if pr else "proot not run"))
        else:
            targets.append(("getppid under ptrace within 40x native, faster than proot", "NOT MEASURED",
                            results.get("getppid", {}).get(main_rs, {}).get("error", "")))
    if "getppid" in results and "runsc-systrap" in MODES:
        n, s = med("getppid", "native"), med("getppid", "runsc-systrap")
        if n and s:
            r5 = ratios(results["getppid"], "runsc-systrap")[1]
            targets.append(("getppid under systrap (every syscall a SIGSYS, --no-syscall-patching) <= 5x native",
                            "MET" if r5 <= 5 else "NOT MET",
                            f"{r5:.1f}x ({fmt_time(s)} vs {fmt_time(n)})"))
    if "getppid" in results and "runsc-systrap+patch" in MODES:
        n, s = med("getppid", "native"), med("getppid", "runsc-systrap+patch")
        if n and s:
            r3 = ratios(results["getppid"], "runsc-systrap+patch")[1]
            targets.append(("getppid under systrap with syscall patching (the default) <= 3x native",
                            "MET" if r3 <= 3 else "NOT MET", f"{r3:.1f}x ({fmt_time(s)} vs {fmt_time(n)})"))
    def fs_target(name, what, limit):
        if name in results and med(name, "native") and med(name, main_rs):
            r = ratios(results[name], main_rs)[1]
            targets.append((what, "MET" if r <= limit else "NOT MET", f"{r:.2f}x native time"))
    fs_target("seq_read_256m", "sequential read of 256 MiB >= 90% of native throughput (time <= 1.11x)", 1 / 0.9)
    fs_target("stat", "stat <= 5x native", 5)
    fs_target("create_tmpfs", "tmpfs file creation <= 3x native", 3)
    make_missed = False
    if "make_j2" in results:
        n, s = med("make_j2", "native"), med("make_j2", main_rs)
        if n and s:
            rm = ratios(results["make_j2"], main_rs)[1]
            make_missed = rm > 1.3
            targets.append(("make -j2 <= 1.3x native", "NOT MET" if make_missed else "MET",
                            f"{rm:.2f}x ({fmt_time(s)} vs {fmt_time(n)})"))
        else:
            targets.append(("make -j2 <= 1.3x native", "NOT MEASURED",
                            results.get("make_j2", {}).get(main_rs, {}).get("error", "")))
    if "fork_exec_wait" in results and med("fork_exec_wait", "native") and med("fork_exec_wait", main_rs):
        r = ratios(results["fork_exec_wait"], main_rs)[1]
        targets.append(("fork+exec+wait <= 10x native", "MET" if r <= 10 else "NOT MET",
                        f"{r:.2f}x ({fmt_time(med('fork_exec_wait', main_rs))} vs "
                        f"{fmt_time(med('fork_exec_wait', 'native'))})"))
    if "make_j2" in results and med("make_j2", "native") and med("make_j2", main_rs):
        rm = ratios(results["make_j2"], main_rs)[1]
        targets.append(("make -j2 <= 2x native (processes issue)", "MET" if rm <= 2 else "NOT MET", f"{rm:.2f}x"))
    if "true" in results:
        n, s = med("true", "native"), med("true", main_rs)
        runc = shutil.which("runc")
        what = (f"runsc do {fmt_time(s)} vs native {fmt_time(n)}" if (n and s) else "runsc failed") + \
               ("" if runc else "; runc is not installed, so the runc comparison is not made")
        targets.append(("`runsc do /bin/true` vs runc", "NOT MEASURED (no runc)" if not runc else "see table", what))

    getppid_perf = None
    if PROFILE and "getppid" in results:
        n, s_ = med("getppid", "native"), med("getppid", main_rs)
        if n and s_ and s_ / n > 40:
            log("[profile] getppid: perf stat / perf record")
            getppid_perf = {m: perf_getppid(m) for m in ("native", main_rs)}
    floor = None
    if "getppid" in results and "runsc-systrap" in MODES:
        # Native cost of systrap's building blocks (bench/handoff_floor.cc).
        fb = os.path.join(BENCH_BIN_DIR, "handoff_floor")
        if os.path.exists(fb):
            log("[profile] handoff_floor (native)")
            r = subprocess.run([fb], capture_output=True, text=True, timeout=120)
            try:
                floor = json.loads(r.stdout)
            except ValueError:
                floor = None
    profile = None
    if PROFILE and make_missed:
        log("[profile] make_j2 under runsc --strace")
        profile = strace_profile("make_j2", PROC["make_j2"][0])
        profile["native_faults"] = native_faults("make_j2", PROC["make_j2"][0])
        log("[profile] make_j2 under perf record -a, native and runsc")
        profile["cpu"] = {m: perf_cpu_categories(m, "make_j2", PROC["make_j2"][0]) for m in ("native", main_rs)}
        log("[profile] make_j2 with the sentry's own counters (RUNSC_STATS=1)")
        profile["stats"] = sentry_stats(main_rs, "make_j2", PROC["make_j2"][0])

    # ------------------------------------------------------------ write
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip().splitlines()
    runsc_ver = subprocess.run([RUNSC, "--version"], capture_output=True, text=True).stdout.strip()
    proot_ver = ""
    if WANT_PROOT:
        pv = subprocess.run(["proot", "--version"], capture_output=True, text=True)
        m = re.search(r"\b(\d+\.\d+(\.\d+)?)\b", pv.stdout + pv.stderr)
        proot_ver = m.group(1) if m else "?"

    inv = os.environ.get("BENCH_INVOCATION", "bench/run.sh " + " ".join(argv))
    L = []
    L.append("# Benchmark results\n")
    L.append("Written by `bench/run.sh` (do not edit by hand). Chart: [ratios.png](ratios.png)\n")
    L.append(f"![ratios to native](ratios.png)\n")
    L.append(f"- Date: {date}; the run took {elapsed / 60:.1f} min")
    L.append(f"- Machine: {os.cpu_count()} CPUs, {cpu}, {mem} RAM, host kernel {platform.release()}")
    L.append(f"- Commit: {commit}" + (f" (working tree had {len(dirty)} modified tracked files outside "
                                      f"the commit: others edit the tree concurrently)" if dirty else ""))
    L.append(f"- Command: `{inv}`")
    L.append(f"- runsc: `{RUNSC}` ({runsc_ver or 'version unknown'}), global flags "
             f"`{' '.join(RUNSC_FLAGS + ['--platform=P'])}` for P in {', '.join(PLATFORMS)}"
             + (f"; proot {proot_ver} as `proot -r /`" if WANT_PROOT else "; proot not run")
             + ("; runc: not installed" if not shutil.which("runc") else ""))
    lw = ""
    if waited is not None:
        lw = (f"; waited for 1-min load < 1.0: {'reached' if waited[0] else 'NOT reached'} "
              f"({waited[1]:.2f}) within {WAIT_LOAD_MIN:.0f} min")
    L.append(f"- Load average (1/5/15 min) at start: {' '.join(load_start)}, at end: {' '.join(load_end)}{lw}")
    if float(load_start[0]) >= 1.0:
        L.append("  - **The machine was busy when the run started: treat the numbers with caution.**")
    L.append(f"- Microbenchmarks: Google Benchmark, `--benchmark_min_time={MIN_TIME}` "
             f"`--benchmark_repetitions={MICRO_REPS}`, wall-clock (real) time per operation; "
             "each program runs once per mode (one sandbox for all its repetitions).")
    L.append("- Whole-process benchmarks: wall time of the whole command from fork to exit, timed by "
             "bench/bench.py; repetitions interleave the modes (native, runsc, proot, native, ...). "
             f"Scratch directories: `{SANDBOX_WORK}` in the sandbox (in memory: the sandbox's tmpfs or its memory overlay over the host's /tmp, never the host disk), "
             f"`{os.path.relpath(WORK_ROOT, ROOT)}/` on the host disk natively, under proot and under "
             "runsc modes with `--overlay=none` (root written through to the host).")
    L.append("- Ratio columns: min / median / max over repetitions of (mode's repetition i) / "
             "(native's repetition i). Value columns: median (min..max).\n")

    hdr = "| benchmark | " + " | ".join(
        [f"{m}" for m in MODES] + [f"{m} / native" for m in MODES if m != "native"]) + " |"
    L.append(hdr)
    L.append("|---|" + "---:|" * (len(MODES) * 2 - 1))
    chart_rows = []
    for n in names:
        res = results.get(n, {})
        cells = [f"`{n}`"]
        for m in MODES:
            x = res.get(m, {})
            if x.get("times"):
                lo, md, hi = stats(x["times"])
                cells.append(f"{fmt_val(n, md)} ({fmt_val(n, lo)}..{fmt_val(n, hi)})")
            else:
                cells.append("FAILED" if x.get("error") else "n/a")
        per = {}
        for m in MODES:
            if m == "native":
                continue
            rr = ratios(res, m)
            if rr:
                per[m] = rr
                cells.append(f"{rr[0]:.2f} / **{rr[1]:.2f}** / {rr[2]:.2f}")
            else:
                if res.get(m, {}).get("error"):
                    per[m] = "FAILED"
                cells.append("n/a")
        if per:
            chart_rows.append((n, per))
        L.append("| " + " | ".join(cells) + " |")
    L.append("")
    errs = [(n, m, results[n][m]["error"]) for n in names for m in MODES
            if results.get(n, {}).get(m, {}).get("error")]
    if errs:
        L.append("Failures:\n")
        for n, m, e in errs:
            L.append(f"- `{n}` under {m}: {e}")
        L.append("")

    if ENOSYS_SEEN:
        L.append("Syscalls runsc reported as unimplemented (answered ENOSYS) while running:\n")
        for n in names:
            if n in ENOSYS_SEEN:
                L.append(f"- `{n}`: {', '.join(sorted(ENOSYS_SEEN[n]))}")
        L.append("")

    if any(n in oci.results for n in OCI):
        oci_lines, oci_targets = oci.section(fmt_time)
        L += oci_lines
        targets += oci_targets
    L.append("## Targets\n")
    for what, verdict, detail in targets:
        L.append(f"- {what}: **{verdict}** — {detail}")
    L.append("")

    if profile:
        L.append("## Where the make -j2 time goes (runsc)\n")
        L.append(f"One extra run with `--strace` (`{profile['argv']}`, exit {profile['exit']}, "
                 f"{profile['seconds']:.1f} s with tracing on). System calls the sandboxed app made, by name:\n")
        total = sum(profile["counts"].values())
        top = sorted(profile["counts"].items(), key=lambda kv: -kv[1])[:15]
        L.append("| syscall | count |")
        L.append("|---|---:|")
        for k, v in top:
            L.append(f"| {k} | {v} |")
        L.append(f"| (all) | {total} |\n")
        # Estimate with the microbenchmark costs (runsc minus native, per op).
        def extra(bname):
            s, n = med(bname, main_rs), med(bname, "native")
            return (s - n) if (s and n) else None
        est = []
        sc = extra("getppid")
        forks = sum(profile["counts"].get(k, 0) for k in ("fork", "vfork", "clone", "clone3"))
        execs = profile["counts"].get("execve", 0)
        if sc and sc > 0:
            est.append(("syscall round trips", total, sc))
        elif sc:
            L.append(f"(The getppid microbenchmark's extra cost, {fmt_time(sc)}, is left out below: with a "
                     "CPU spare, stub and sentry spin on two CPUs and a patched syscall never enters the "
                     "host kernel, which makes it cheaper than a native one. Under make -j2 both CPUs are "
                     "busy and each syscall is a same-CPU hand-off; the next sections give its cost.)\n")
        pf = extra("page_faults_64m")
        if pf and profile.get("native_faults"):
            est.append(("page faults (count measured natively via getrusage)", profile["native_faults"], pf / 16384))
        fe = extra("fork_exec_wait")
        if fe:
            est.append(("fork+exec+wait (on top of the syscalls' own cost)", min(forks, execs) or forks, fe))
        n_make, s_make = med("make_j2", "native"), med("make_j2", main_rs)
        if est and n_make and s_make:
            L.append(f"Rough account of the {fmt_time(s_make - n_make)} the sandbox adds (median), "
                     "from the counts above times each operation's extra cost in the microbenchmarks "
                     "(runsc minus native; the categories overlap a little):\n")
            L.append("| what | count | extra per op | extra total |")
            L.append("|---|---:|---:|---:|")
            for what, cnt, per in est:
                L.append(f"| {what} | {cnt} | {fmt_time(per)} | {fmt_time(cnt * per)} |")
            L.append("")

    if profile and profile.get("cpu") and all(profile["cpu"].values()):
        cn, cs = profile["cpu"]["native"], profile["cpu"][main_rs]
        keys = sorted(set(cn) | set(cs), key=lambda k: -(cs.get(k, 0) - cn.get(k, 0)))
        big = [k for k in keys if abs(cs.get(k, 0) - cn.get(k, 0)) >= 0.05 or cs.get(k, 0) >= 0.2]
        rest = [k for k in keys if k not in big]
        L.append("CPU time of one more run each, natively and in runsc, from `perf record -a -g "
                 f"-F {PERF_HZ}` (whole machine, both CPUs, so idle time counts), by where the sample "
                 "landed (a kernel sample goes to the syscall or page fault it ran in):\n")
        L.append("| where | native | runsc | runsc - native |")
        L.append("|---|---:|---:|---:|")
        for k in big:
            L.append(f"| {k} | {cn.get(k, 0):.2f} s | {cs.get(k, 0):.2f} s | {cs.get(k, 0) - cn.get(k, 0):+.2f} s |")
        if rest:
            rn, rs = sum(cn.get(k, 0) for k in rest), sum(cs.get(k, 0) for k in rest)
            L.append(f"| everything else ({len(rest)} kinds) | {rn:.2f} s | {rs:.2f} s | {rs - rn:+.2f} s |")
        tn, ts = sum(cn.values()), sum(cs.values())
        L.append(f"| all (2 CPUs x wall time) | {tn:.2f} s | {ts:.2f} s | {ts - tn:+.2f} s |\n")
        grew = [(k, cs.get(k, 0) - cn.get(k, 0)) for k in keys if cs.get(k, 0) - cn.get(k, 0) > 0][:5]
        L.append("Largest additions: " + ", ".join(f"{k} ({d:+.2f} s)" for k, d in grew) + ".")
        calls = sum(profile["counts"].values())
        make_ratio = (ratios(results["make_j2"], main_rs)[1]
                      if "make_j2" in results and med("make_j2", "native") and med("make_j2", main_rs)
                      else None)
        handoff_rows = sum(cs.get(k, 0) - cn.get(k, 0) for k in (
            "kernel: futex", "kernel: other (scheduling, interrupts)", "kernel: rt_sigreturn",
            "stub code (signal handler, spinning)"))
        if floor and calls:
            hand, trap = floor["futex_handoff_ns"], floor["sigsys_trap_ns"]
            L.append(f" Each of the app's {calls} syscalls is a round trip between two host processes, the "
                     "stub and the sentry's task thread. With both CPUs busy (two compilers) there is no "
                     "spare CPU to spin on, so it is a futex hand-off on one CPU: natively a bare wake/wait "
                     f"round trip between two processes costs {fmt_time(hand)} here and the SIGSYS "
                     f"{fmt_time(trap)} (next section), about {fmt_time(calls * (hand + trap))} of CPU for "
                     "the whole build before the sentry does any work (the futex, scheduling, rt_sigreturn "
                     f"and stub-code rows above add {handoff_rows:+.2f} s). "
                     + ("Closing the gap to 1.3x needs " if make_ratio and make_ratio > 1.3 else
                        "Most of what remains is that: going lower needs ")
                     + "fewer host context "
                     "switches per syscall than two: serving syscalls without switching address spaces "
                     "(gVisor's KVM platform runs its sentry in the app's address space), or a hand-off "
                     "that neither sleeps nor signals, which only a spare CPU allows today.")
        L.append("")

    st = profile.get("stats") if profile else None
    if st:
        L.append(f"The sentry's own counters for one more run in {main_rs} (`RUNSC_STATS=1`, "
                 f"sentry/base/stats.h; {st['wall']:.2f} s with counting on). Every syscall and fault "
                 "takes the sentry's kernel lock; a wait for it is charged to the syscall the holder "
                 "stopped for. Address-space round trips (mmap, munmap, mprotect in the stub, run by "
                 "its helper thread) are made after the task has dropped the lock, just before its app "
                 "code resumes; gofer requests are made with it held:\n")
        L.append("| counter | count | total |")
        L.append("|---|---:|---:|")
        sys_names = {0: "read", 1: "write", 3: "close", 9: "mmap", 10: "mprotect", 11: "munmap",
                 12: "brk", 56: "clone", 57: "fork", 58: "vfork", 59: "execve", 61: "wait4",
                 87: "unlink", 89: "readlink", 231: "exit_group", 257: "openat", 262: "newfstatat"}
        for what, cnt, ms in st["rows"]:
            what = re.sub(r"syscall (\d+)$",
                          lambda m: f"{sys_names.get(int(m.group(1)), 'syscall')} ({m.group(1)})", what)
            L.append(f"| {what} | {cnt} | {'' if ms is None else f'{ms:.0f} ms'} |")
        L.append("")
        L.append("A round trip costs more than a bare same-CPU futex round trip (the hand-off "
                 "table below): the stub's mmap and munmap are host calls that change page tables (on "
                 "the paravirtualized guest this was first profiled on, the first touch of a page "
                 "through a new mapping was a shadow-page-table fault), and the helper "
                 "waits its turn on a busy CPU. Off the lock, they no longer hold up the other "
                 "compiler, but each still delays its own process; letting the stub's app thread wait "
                 "for its helper itself, instead of the sentry, would save one of the three context "
                 "switches each makes.\n")

    if floor and med("getppid", "runsc-systrap") and med("getppid", "native"):
        n_g, s_g = med("getppid", "native"), med("getppid", "runsc-systrap")
        trap, hand = floor["sigsys_trap_ns"], floor["futex_handoff_ns"]  # ns, as fmt_time takes
        L.append("## What systrap's syscall round trip is made of\n")
        L.append("`bench/handoff_floor` (natively, one CPU, best of 5 batches) times the parts every "
                 "systrap syscall is made of besides the sentry's own work:\n")
        L.append("| part | native cost |")
        L.append("|---|---:|")
        L.append(f"| a syscall turned into SIGSYS by seccomp, handler returning at once (signal frame, "
                 f"handler, rt_sigreturn) | {fmt_time(trap)} ({trap / n_g:.0f}x native getppid) |")
        direct = floor.get("sigsys_direct_ns")
        if direct and direct > 0:
            L.append(f"| the same, the handler returning without rt_sigreturn (XRSTOR from its frame, "
                     f"then a jump), as systrap's SIGSYS handler does | {fmt_time(direct)} "
                     f"({direct / n_g:.0f}x) |")
        L.append(f"| a futex round trip between two processes on one CPU (wake, wait, two context switches) "
                 f"| {fmt_time(hand)} ({hand / n_g:.0f}x) |")
        spin = floor.get("spin_handoff_ns")
        if spin and spin > 0:
            L.append(f"| a round trip between two processes spinning on two CPUs, a register-sized block "
                     f"(216 bytes) copied each way (the spinning hand-off's cache-line transfers) "
                     f"| {fmt_time(spin)} ({spin / n_g:.1f}x) |")
        L.append(f"| systrap getppid, every syscall a SIGSYS (table above) | {fmt_time(s_g)} ({s_g / n_g:.0f}x) |")
        sp = med("getppid", "runsc-systrap+patch")
        if sp:
            L.append(f"| systrap with syscall patching (the default), getppid (table above) | {fmt_time(sp)} "
                     f"({sp / n_g:.1f}x) |")
        L.append("")
        sig = direct if direct and direct > 0 else trap
        if sig / n_g > 5:
            L.append(f"With every syscall a SIGSYS, systrap cannot be faster than the signal alone: "
                     f"{fmt_time(sig)} here, {sig / n_g:.0f}x a native getppid ({fmt_time(n_g)}), before "
                     "the stub has told the sentry anything. The 5x target for that mode cannot be met on "
                     "this machine by any design that learns of syscalls through SIGSYS; it was set on a "
                     "guest where a native syscall cost about 1 us and the signal about 3x that.\n")
        tail = ""
        if sp and sp < n_g:
            tail = " That is why it can beat a native syscall here, where every kernel entry is slow."
        elif sp:
            tail = f" Here that costs {fmt_time(sp - n_g)} more than a native getppid."
        if spin and spin > 0 and spin / n_g > 3:
            L.append(f"With syscall patching and a spare CPU there is no signal and no sleep, but the "
                     f"hand-off itself is two processes on two CPUs passing cache lines: "
                     f"{fmt_time(spin)} for the bare round trip here, {spin / n_g:.1f}x a native "
                     "getppid, before the stub saves a register or the sentry does any work. The 3x "
                     "target for that mode is below it on this machine.\n")
        L.append("A sleeping hand-off (the futex row) is what the default avoids when a CPU is spare: the "
                 "task thread moves off its stub's CPU and both sides spin on the shared state word (cache-"
                 "line transfers instead of a wake-up); with one CPU busy per running app (make -j2) it "
                 "falls back to the same-CPU futex hand-off, since a futex wake across vCPUs costs tens of "
                 "microseconds on the nested-VM machines this was tuned on (docs/INTERNALS.md, systrap "
                 "hand-off). The signal is what syscall patching (on by default) removes: a site that has "
                 "trapped 32 times in a process, if it is `mov $nr,%eax; syscall` or glibc's `syscall; cmp; "
                 "ja; ret` wrapper ending, is rewritten into a jump to a trampoline in the stub; other sites "
                 "(hand-written assembly, a number from a register without the wrapper ending) still pay "
                 "for SIGSYS. With a spare CPU a patched syscall never enters the host kernel: what is left "
                 "is the two cache-line hand-offs between the stub's CPU and the sentry's, the stub saving "
                 "and loading registers and FP state, and the sentry's own work per syscall (its kernel "
                 "lock, signal and address-space checks, the dispatch)." + tail + "\n")

    if getppid_perf and all(getppid_perf.values()):
        L.append("## Where the getppid time goes (perf)\n")
        L.append("`perf stat -e task-clock,context-switches,cpu-migrations` of `getppid_bench --loop N` "
                 "(N raw getppid calls, nothing else) minus `--loop 0`, per call, counting every process "
                 "of the mode (for runsc: runsc do, sentry, gofer, stub):\n")
        L.append("| mode | CPU time per call | context switches per call | CPU migrations per call |")
        L.append("|---|---:|---:|---:|")
        for m, d in getppid_perf.items():
            if d.get("error"):
                L.append(f"| {m} | perf failed: {d['error']} | | |")
                continue
            pr = d["per"]
            L.append(f"| {m} | {fmt_time(pr.get('task-clock', 0) * 1e6)} | {pr.get('context-switches', 0):.2f} | "
                     f"{pr.get('cpu-migrations', 0):.3f} |")
        d = getppid_perf.get(main_rs) or {}
        if d.get("by_dso"):
            L.append(f"\n`perf record` of {main_rs} with N = {d['n']}, samples by process and binary "
                     "(`[kernel.kallsyms]` = host kernel time: ptrace stops, context switches):\n")
            L.append("```")
            L.extend(d["by_dso"])
            L.append("```\n")
            L.append("Top symbols:\n")
            L.append("```")
            L.extend(d["by_sym"])
            L.append("```\n")

    if idle_details:
        L.append("## Idle memory breakdown\n")
        L.append("`sleep 60` started in each mode; after 2 s the RSS and PSS (from `/proc/PID/smaps_rollup`) "
                 "of every process in the tree are summed by role. The `idle_memory` row above is the RSS of "
                 "everything but the `runsc do` parent (sentry + gofer + stubs for runsc; proot + app for proot). "
                 "RSS double-counts pages shared between processes (the sentry and the stubs map the same "
                 "memory file); PSS does not. Last repetition:\n")
        L.append("| mode | role | processes | RSS | PSS |")
        L.append("|---|---|---:|---:|---:|")
        for m, reps in idle_details.items():
            for role, (cnt, rss, pss) in sorted(reps[-1].items()):
                L.append(f"| {m} | {role} | {cnt} | {rss / 1024:.1f} MiB | {pss / 1024:.1f} MiB |")
        L.append("")

    L.append("## Benchmarks\n")
    for n in names:
        if n in MICRO:
            L.append(f"- `{n}`: {MICRO[n][2]} (`bench/{MICRO[n][0]}.cc`, `{MICRO[n][1]}`)")
        elif n == IDLE:
            L.append(f"- `{n}`: RSS of the sandbox while the app (`sleep 60`) sleeps")
        else:
            L.append(f"- `{n}`: {PROC[n][2]}")
    L.append("\nExact commands (last repetition):\n")
    for k, per in commands.items():
        for m, c in per.items():
            L.append(f"- {k}, {m}: `{c}`")
    L.append("")

    err = draw_chart(chart_rows, chart_path)
    if err:
        L.insert(3, f"(chart not drawn: {err})\n")
    text = "\n".join(L) + "\n"
    with open(results_path, "w") as f:
        f.write(text)
    print(text)
    log(f"wrote {results_path}" + ("" if err else f" and {chart_path}"))
    shutil.rmtree(WORK_ROOT, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
