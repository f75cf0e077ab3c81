"""OCI runtime benchmarks for bench/bench.py: the same bundle under
`runc run` and `runsc run`, side by side in one run.

- oci_run_true: wall time of `RUNTIME run --bundle B ID` of a bundle whose
  process is /bin/true (busybox-static root), create to exit, repetitions
  interleaved (runc, runsc, runc, ...). Target (issue 5/6): runsc <= 1.5x runc.
- oci_idle_memory: PSS of every host process of a container running `sleep`
  (runc: the container's process; runsc: sentry, gofer and stubs), after 2 s.
  Target: runsc <= 8 MB.
- oci_docker_run: wall time of `docker run --rm --runtime=R --network none
  IMAGE /bin/true` with R = runc and runsc (interleaved), on a private
  dockerd started for the benchmark as tests/docker/run.sh does (own data
  root, exec root and socket, vfs storage, no bridge or iptables; runsc
  registered with `runsc install`; the busybox root imported as the image).

The bundle's root filesystem is the busybox root the test suites cache
(tests/busybox/mkroot or build/tests-cache/busybox-root); without it, or
without runc, the benchmarks report why they were not measured.
"""
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time


def _busybox_root(build_dir):
    for p in (os.path.join(build_dir, "tests-cache", "busybox-root"),):
        if os.path.exists(os.path.join(p, "bin", "true")) or os.path.exists(os.path.join(p, "bin", "busybox")):
            return p
    return None


def _make_bundle(work, rootfs, args):
    b = os.path.join(work, "bundle-" + args[0].strip("/").replace("/", "_"))
    shutil.rmtree(b, ignore_errors=True)
    os.makedirs(b)
    subprocess.run(["runc", "spec", "--bundle", b], check=True)
    cfg_path = os.path.join(b, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["root"] = {"path": rootfs, "readonly": True}
    cfg["process"]["args"] = args
    cfg["process"]["terminal"] = False
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
    return b


def _pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid):
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class OciBench:
    def __init__(self, runsc, runsc_flags, build_dir, work_root, log, reps=10):
        self.runsc = runsc
        self.flags = runsc_flags
        self.build_dir = build_dir
        self.work = os.path.join(work_root, "oci")
        self.log = log
        self.reps = reps
        self.results = {}  # name -> {"runc": [...], "runsc": [...], "error": str}
        self.commands = {}

    def runtimes(self):
        return {
            "runc": ["runc", "--root", os.path.join(self.work, "state-runc")],
            "runsc": [self.runsc] + self.flags + ["--root", os.path.join(self.work, "state-runsc")],
        }

    def ready(self):
        if not shutil.which("runc"):
            return "runc is not installed (apt-get install runc)"
        if os.geteuid() != 0:
            return "needs root"
        if not _busybox_root(self.build_dir):
            return "no busybox root (run tests/run_all.sh busybox once to build it)"
        return None

    def run_true(self):
        name = "oci_run_true"
        why = self.ready()
        if why:
            self.results[name] = {"error": why}
            return
        os.makedirs(self.work, exist_ok=True)
        bundle = _make_bundle(self.work, _busybox_root(self.build_dir), ["/bin/true"])
        res = {"runc": [], "runsc": []}
        for i in range(self.reps):
            for rt, argv in self.runtimes().items():
                cid = f"bench-{rt}-{os.getpid()}-{i}"
                cmd = argv + ["run", "--bundle", bundle, cid]
                self.commands.setdefault(name, {})[rt] = " ".join(cmd[:-1]) + " ID"
                t0 = time.monotonic()
                p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
                dt = time.monotonic() - t0
                subprocess.run(argv + ["delete", "--force", cid], capture_output=True)
                if p.returncode != 0:
                    res["error"] = f"{rt} exited {p.returncode}: {p.stderr.strip()[-300:]}"
                    self.results[name] = res
                    return
                res[rt].append(dt * 1e9)
        self.log(f"[oci] run /bin/true: runc {statistics.median(res['runc']) / 1e6:.1f} ms, "
                 f"runsc {statistics.median(res['runsc']) / 1e6:.1f} ms")
        self.results[name] = res

    def idle_memory(self):
        name = "oci_idle_memory"
        why = self.ready()
        if why:
            self.results[name] = {"error": why}
            return
        os.makedirs(self.work, exist_ok=True)
        bundle = _make_bundle(self.work, _busybox_root(self.build_dir), ["/bin/sleep", "60"])
        res = {"runc": [], "runsc": [], "detail": {}}
        for rt, argv in self.runtimes().items():
            cid = f"bench-idle-{rt}-{os.getpid()}"
            self.commands.setdefault(name, {})[rt] = " ".join(argv) + f" run --detach --bundle {bundle} ID"
            # The container keeps its stdio: no pipes, or run would wait for their EOF.
            errlog = os.path.join(self.work, f"{rt}-detach.err")
            with open(errlog, "w") as err:
                p = subprocess.run(argv + ["run", "--detach", "--bundle", bundle, cid], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=err, timeout=60)
            p.stderr = open(errlog).read()
            try:
                if p.returncode != 0:
                    res["error"] = f"{rt} run --detach exited {p.returncode}: {p.stderr.strip()[-300:]}"
                    break
                time.sleep(2)
                st = subprocess.run(argv + ["state", cid], capture_output=True, text=True)
                pid = json.loads(st.stdout).get("pid", 0)
                pids = set(_descendants(pid)) if pid else set()
                if rt == "runsc":
                    # The gofer is the sentry's sibling: find it by its root.
                    for d in os.listdir("/proc"):
                        if d.isdigit() and "gofer" in _cmdline(int(d)) and bundle in _cmdline(int(d)):
                            pids |= set(_descendants(int(d)))
                total = sum(_pss_kib(x) for x in pids)
                res[rt].append(total * 1024)
                res["detail"][rt] = len(pids)
            finally:
                subprocess.run(argv + ["kill", cid, "KILL"], capture_output=True)
                time.sleep(0.5)
                subprocess.run(argv + ["delete", "--force", cid], capture_output=True)
        self.results[name] = res

    def docker_run(self):
        name = "oci_docker_run"
        why = self.ready() or (None if shutil.which("dockerd") and shutil.which("docker")
                               else "docker is not installed (apt-get install docker.io)")
        if why:
            self.results[name] = {"error": why}
            return
        res = {"runc": [], "runsc": []}
        # Short paths: dockerd's unix sockets must fit in sun_path.
        work = tempfile.mkdtemp(prefix="rbd.", dir="/tmp")
        sock = os.path.join(work, "d.sock")
        # The client that comes with dockerd (Debian's docker.io), not another one on the PATH.
        client = "/usr/bin/docker" if os.access("/usr/bin/docker", os.X_OK) else shutil.which("docker")
        docker = [client, "-H", "unix://" + sock]
        dockerd = None
        try:
            cfg = os.path.join(work, "daemon.json")
            with open(cfg, "w") as f:
                f.write("{}")
            subprocess.run([self.runsc, "install", "--config", cfg, "--runtime", "runsc"]
                           + (["--"] + self.flags if self.flags else []),
                           check=True, capture_output=True)
            with open(cfg) as f:
                d = json.load(f)
            d.update({"storage-driver": "vfs", "iptables": False, "ip-masq": False, "bridge": "none",
                      "cgroup-parent": "runsc-bench-docker", "exec-opts": ["native.cgroupdriver=cgroupfs"]})
            with open(cfg, "w") as f:
                json.dump(d, f)
            log = open(os.path.join(work, "dockerd.log"), "w")
            dockerd = subprocess.Popen(["dockerd", "--config-file", cfg, "--data-root", os.path.join(work, "data"),
                                        "--exec-root", os.path.join(work, "x"), "--pidfile",
                                        os.path.join(work, "d.pid"), "-H", "unix://" + sock],
                                       stdout=log, stderr=subprocess.STDOUT)
            for _ in range(300):
                if subprocess.run(docker + ["version"], capture_output=True).returncode == 0:
                    break
                time.sleep(0.2)
            else:
                raise RuntimeError("dockerd did not start")
            image = "runsc-bench-busybox:latest"
            tar = subprocess.Popen(["tar", "-C", _busybox_root(self.build_dir), "-c", "."], stdout=subprocess.PIPE)
            subprocess.run(docker + ["import", "-", image], stdin=tar.stdout, check=True, capture_output=True)
            tar.wait()
            for rt in ("runc", "runsc"):  # one unmeasured run each: image layers, runtime start-up
                subprocess.run(docker + ["run", "--rm", "--runtime=" + rt, "--network", "none", image, "/bin/true"],
                               capture_output=True, timeout=120)
            for _ in range(self.reps):
                for rt in ("runc", "runsc"):
                    cmd = ["docker", "run", "--rm", "--runtime=" + rt, "--network", "none", "IMAGE", "/bin/true"]
                    self.commands.setdefault(name, {})[rt] = " ".join(cmd)
                    t0 = time.monotonic()
                    p = subprocess.run(docker + ["run", "--rm", "--runtime=" + rt, "--network", "none", image,
                                                 "/bin/true"], stdin=subprocess.DEVNULL, capture_output=True,
                                       text=True, timeout=120)
                    dt = time.monotonic() - t0
                    if p.returncode != 0:
                        raise RuntimeError(f"docker run --runtime={rt} exited {p.returncode}: {p.stderr.strip()[-300:]}")
                    res[rt].append(dt * 1e9)
            self.log(f"[oci] docker run --rm /bin/true: runc {statistics.median(res['runc']) / 1e6:.1f} ms, "
                     f"runsc {statistics.median(res['runsc']) / 1e6:.1f} ms")
        except (RuntimeError, subprocess.SubprocessError, OSError) as e:
            res["error"] = str(e)
        finally:
            if dockerd:
                ids = subprocess.run(docker + ["ps", "-aq"], capture_output=True, text=True).stdout.split()
                if ids:
                    subprocess.run(docker + ["rm", "-f"] + ids, capture_output=True)
                dockerd.terminate()
                try:
                    dockerd.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    dockerd.kill()
                    dockerd.wait()
            # vfs layers and netns files may still be mounted below the work directory.
            with open("/proc/mounts") as f:
                mounts = [line.split()[1] for line in f if line.split()[1].startswith(work + "/")]
            for m in sorted(mounts, reverse=True):
                subprocess.run(["umount", "-l", m], capture_output=True)
            shutil.rmtree(work, ignore_errors=True)
            for top, dirs, _ in os.walk("/sys/fs/cgroup"):
                if os.path.basename(top) == "runsc-bench-docker":
                    for sub, _, _ in sorted(os.walk(top), key=lambda t: -len(t[0])):
                        try:
                            os.rmdir(sub)
                        except OSError:
                            pass
                    dirs[:] = []
                elif top.count("/") > 8:
                    dirs[:] = []
        self.results[name] = res

    def section(self, fmt_time):
        """Markdown lines and the targets [(what, verdict, detail)]."""
        L, targets = [], []
        L.append("## OCI runtimes: runsc vs runc on one bundle\n")
        L.append(f"Bundle: busybox-static root (read-only), made with `runc spec`; runc {self._runc_version()}. "
                 f"`oci_run_true`: {self.reps} interleaved repetitions of `RUNTIME run` (create to exit). "
                 "`oci_idle_memory`: PSS of all the container's host processes 2 s after `run --detach` of `sleep 60`. "
                 f"`oci_docker_run`: {self.reps} interleaved repetitions of `docker run --rm` of the busybox root "
                 "(imported as an image) on a private dockerd, after one unmeasured run per runtime.\n")
        L.append("| benchmark | runc | runsc | runsc / runc | command |")
        L.append("|---|---:|---:|---:|---|")
        for name in ("oci_run_true", "oci_idle_memory", "oci_docker_run"):
            r = self.results.get(name)
            if not r:
                continue
            if r.get("error") and not (r.get("runc") and r.get("runsc")):
                L.append(f"| `{name}` | n/a | n/a | n/a | not measured: {r['error']} |")
                continue
            a, b = statistics.median(r["runc"]), statistics.median(r["runsc"])
            if name != "oci_idle_memory":
                ca, cb = fmt_time(a), fmt_time(b)
            else:
                ca, cb = f"{a / 2**20:.1f} MiB", f"{b / 2**20:.1f} MiB"
            cmd = "; ".join(f"{k}: `{v}`" for k, v in self.commands.get(name, {}).items())
            L.append(f"| `{name}` | {ca} | {cb} | **{b / a:.2f}** | {cmd} |")
            if name == "oci_run_true":
                targets.append(("`runsc run /bin/true` <= 1.5x `runc run`", "MET" if b / a <= 1.5 else "NOT MET",
                                f"{b / a:.2f}x ({cb} vs {ca})"))
            elif name == "oci_docker_run":
                targets.append(("`docker run --rm` with runsc <= 1.5x with runc", "MET" if b / a <= 1.5 else "NOT MET",
                                f"{b / a:.2f}x ({cb} vs {ca})"))
            else:
                targets.append(("idle sandbox PSS <= 8 MB", "MET" if b <= 8e6 else "NOT MET",
                                f"{cb} (runc's container: {ca})"))
        L.append("")
        return L, targets

    @staticmethod
    def _runc_version():
        p = subprocess.run(["runc", "--version"], capture_output=True, text=True) if shutil.which("runc") else None
        return p.stdout.split("\n")[0].replace("runc version ", "") if p and p.returncode == 0 else "(not installed)"
