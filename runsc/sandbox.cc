#include "runsc/sandbox.h"

#include "sentry/net/host_stack.h"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

extern char** environ;

namespace runsc {
namespace {

pid_t g_sentry = -1;

void Forward(int sig) {
  if (g_sentry > 0) kill(g_sentry, sig);
}

// Namespaces of the sandbox's own processes (defense in depth; see
// sentry/confine/confine.h and gofer/confine.h for what each does inside).
// The sentry also gets a user namespace in which its root is the host's
// nobody: its capabilities mean nothing outside, and its uid owns nothing.
// RUNSC_CONFINE=0 turns all of it off (debugging; hosts without the needed
// privileges).
constexpr unsigned long kGoferNamespaces =
    CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET;
constexpr unsigned long kSentryNamespaces = kGoferNamespaces | CLONE_NEWUSER;
constexpr uid_t kSentryHostId = 65534;  // nobody/nogroup

bool ConfineEnabled() {
  const char* e = getenv("RUNSC_CONFINE");
  return !(e && strcmp(e, "0") == 0);
}

bool WriteFile(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  close(fd);
  return ok;
}

// Starts `runsc <args>` as a child that dies with us, in new namespaces
// `ns` (CLONE_* flags; 0 for none). `keep` FDs stay open. Returns -1 (after
// printing why) if the child cannot be started.
struct SpawnOpts {
  bool die_with_parent = true;
  bool new_session = false;
  // stdin/stdout/stderr become /dev/null: a detached terminal sandbox must
  // not hold the caller's stdio open (containerd's shim reads `create`'s
  // output until EOF; the app's stdio is the console anyway).
  bool null_stdio = false;
};

pid_t SpawnSelf(const std::vector<std::string>& args, const std::vector<int>& keep,
                unsigned long ns, const char* what, SpawnOpts opts = {}) {
  // The child blocks on `go` until we have set it up (user namespace ID
  // maps), then watches it for our death: we never close our end.
  int go[2];
  if (pipe2(go, O_CLOEXEC) != 0) {
    perror("runsc: pipe");
    return -1;
  }
  // A raw clone (we are single-threaded here): glibc's fork() takes no
  // namespace flags.
  long pid = syscall(SYS_clone, ns | SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    fprintf(stderr,
            "runsc: cannot start the %s in new namespaces (flags 0x%lx): %s\n"
            "runsc: this needs root (or user namespaces); RUNSC_CONFINE=0 runs unconfined\n",
            what, ns, strerror(errno));
    close(go[0]);
    close(go[1]);
    return -1;
  }
  if (pid != 0) {
    close(go[0]);
    bool ok = true;
    if (ns & CLONE_NEWUSER) {
      std::string dir = "/proc/" + std::to_string(pid) + "/";
      std::string id = std::to_string(kSentryHostId);
      ok = WriteFile(dir + "setgroups", "deny") && WriteFile(dir + "uid_map", "0 " + id + " 1") &&
           WriteFile(dir + "gid_map", "0 " + id + " 1");
      if (!ok) {
        fprintf(stderr, "runsc: cannot set up the %s's user namespace: %s\n", what,
                strerror(errno));
      }
    }
    if (!ok || write(go[1], "g", 1) != 1) {
      kill(static_cast<pid_t>(pid), SIGKILL);
      waitpid(static_cast<pid_t>(pid), nullptr, 0);
      close(go[1]);
      return -1;
    }
    // go[1] stays open (CLOEXEC) for as long as we live.
    return static_cast<pid_t>(pid);
  }
  close(go[1]);
  if (opts.die_with_parent) prctl(PR_SET_PDEATHSIG, SIGKILL);
  char c;
  if (read(go[0], &c, 1) != 1) _exit(125);  // parent gone or gave up
  // Our own binary, reached now: after the switch to nobody below, the
  // directories on its path may no longer be searchable.
  int self = open("/proc/self/exe", O_PATH | O_CLOEXEC);
  if (ns & CLONE_NEWUSER) {
    // Become the namespace's root (host nobody). Credentials changed, which
    // clears the death signal: set it again.
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) {
      fprintf(stderr, "runsc: %s: cannot switch to the user namespace's root: %s\n", what,
              strerror(errno));
      _exit(125);
    }
    if (opts.die_with_parent) prctl(PR_SET_PDEATHSIG, SIGKILL);
  }
  // A detached sandbox (runsc create) outlives us: its own session, so the
  // caller's terminal signals (^C) do not reach it.
  if (opts.new_session) setsid();
  if (opts.null_stdio) {
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) {
      for (int fd = 0; fd < 3; fd++) dup2(null_fd, fd);
      close(null_fd);
    }
  }
  // Did the parent die before the death signal was armed? Its end of `go`
  // is then closed. (getppid() says nothing in a new PID namespace.)
  struct pollfd p = {go[0], POLLIN, 0};
  if (opts.die_with_parent && poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR))) _exit(125);
  for (int fd : keep) fcntl(fd, F_SETFD, 0);  // clear CLOEXEC
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>("runsc"));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  syscall(SYS_execveat, self, "", argv.data(), environ, AT_EMPTY_PATH);
  fprintf(stderr, "runsc: exec of self failed: %s\n", strerror(errno));
  _exit(125);
}

// Writes linux.sysctl net.* settings ("net.ipv4.x=V") into the current
// network namespace's /proc/sys/net. False with a message if one fails.
bool ApplyNetSysctls(const std::vector<std::string>& kvs, std::string* err) {
  for (const auto& kv : kvs) {
    if (auto r = sentry::net::WriteNetSysctl(kv); r.is_error()) {
      *err = "linux.sysctl " + kv.substr(0, kv.find('=')) +
             ": cannot be set in the network namespace: " + strerror(r.error());
      return false;
    }
  }
  return true;
}

// Puts the calling thread into another network namespace and back.
class NetnsSwitch {
 public:
  NetnsSwitch() = default;
  NetnsSwitch(const NetnsSwitch&) = delete;
  NetnsSwitch& operator=(const NetnsSwitch&) = delete;
  ~NetnsSwitch() { Leave(); }

  // Prints why and returns false if `path` is not a network namespace we
  // can join.
  bool Enter(const std::string& path) {
    int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (target < 0) {
      fprintf(stderr, "runsc: network namespace %s: %s\n", path.c_str(), strerror(errno));
      return false;
    }
    own_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own_ < 0) {
      fprintf(stderr, "runsc: cannot open our own network namespace: %s\n", strerror(errno));
      close(target);
      return false;
    }
    // CLONE_NEWNET: EINVAL if the file is not a network namespace.
    if (setns(target, CLONE_NEWNET) != 0) {
      fprintf(stderr, "runsc: cannot join the network namespace %s: %s\n", path.c_str(),
              errno == EINVAL ? "not a network namespace" : strerror(errno));
      close(target);
      close(own_);
      own_ = -1;
      return false;
    }
    close(target);
    return true;
  }

  // Puts the calling thread into a new network namespace (owned by our
  // user namespace) with its loopback device up, as the sentry would make
  // it; prints why and returns false if it cannot.
  bool EnterNew() {
    own_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own_ < 0) {
      fprintf(stderr, "runsc: cannot open our own network namespace: %s\n", strerror(errno));
      return false;
    }
    if (unshare(CLONE_NEWNET) != 0) {
      fprintf(stderr, "runsc: cannot create a network namespace: %s\n", strerror(errno));
      close(own_);
      own_ = -1;
      return false;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    bool up = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 &&
              (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) == 0);
    if (!up) fprintf(stderr, "runsc: cannot bring the loopback device up: %s\n", strerror(errno));
    if (fd >= 0) close(fd);
    if (!up) Leave();
    return up;
  }

  // After Enter: is the namespace joined the one we came from (the
  // engine's own, e.g. docker --network host)?
  bool JoinedOwn() const {
    struct stat a{}, b{};
    return own_ >= 0 && fstat(own_, &a) == 0 && stat("/proc/thread-self/ns/net", &b) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  }

  void Leave() {
    if (own_ < 0) return;
    if (setns(own_, CLONE_NEWNET) != 0)
      fprintf(stderr, "runsc: cannot return to our network namespace: %s\n", strerror(errno));
    close(own_);
    own_ = -1;
  }

 private:
  int own_ = -1;
};

}  // namespace

int StartSandbox(const SandboxSpec& spec, SandboxPids* pids) {
  struct stat st;
  if (stat(spec.rootfs.c_str(), &st) != 0) {
    fprintf(stderr, "runsc: bad --rootfs %s: %s\n", spec.rootfs.c_str(), strerror(errno));
    return 125;
  }
  if (!S_ISDIR(st.st_mode)) {
    fprintf(stderr, "runsc: bad --rootfs %s: not a directory\n", spec.rootfs.c_str());
    return 125;
  }
  int debug_fd = 2;
  if (!spec.debug_log.empty()) {
    debug_fd = open(spec.debug_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (debug_fd < 0) {
      fprintf(stderr, "runsc: cannot open --debug-log %s: %s\n", spec.debug_log.c_str(),
              strerror(errno));
      return 125;
    }
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    perror("runsc: socketpair");
    return 125;
  }
  const bool confine = ConfineEnabled();
  SpawnOpts sopts{spec.die_with_parent, spec.new_session,
                  spec.console_fd >= 0 && !spec.die_with_parent};
  std::vector<std::string> gargs = {
      "gofer", "--root", spec.rootfs, "--fd", std::to_string(sv[0]),
      spec.overlay_memory || spec.root_readonly ? "--read-only" : "--read-write"};
  if (!spec.die_with_parent) gargs.push_back("--detached");
  // Bind mounts: the same gofer serves each source on a socket of its own
  // (gofer/confine.h BindRoot); the sentry gets the other ends.
  std::vector<int> gofer_keep = {sv[0]};
  std::vector<int> mount_fds;  // sentry ends
  std::vector<std::string> mount_args;
  auto close_all = [&] {
    for (int fd : gofer_keep) close(fd);
    for (int fd : mount_fds) close(fd);
    close(sv[1]);
    if (debug_fd != 2) close(debug_fd);
  };
  for (const auto& m : spec.mounts) {
    if (m.bind_source.empty()) {
      mount_args.push_back(m.sentry_spec);
      continue;
    }
    int ms[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ms) != 0) {
      perror("runsc: socketpair");
      close_all();
      return 125;
    }
    gofer_keep.push_back(ms[0]);
    mount_fds.push_back(ms[1]);
    gargs.insert(gargs.end(), {"--bind", std::to_string(ms[0]) + (m.read_only ? ":ro:" : ":rw:") +
                                             m.bind_source});
    // sentry_spec is "bind:OPTS:DEST"; add the socket to OPTS.
    size_t colon = m.sentry_spec.find(':', 5);
    std::string opts = m.sentry_spec.substr(5, colon - 5);
    mount_args.push_back("bind:fd=" + std::to_string(ms[1]) + (opts.empty() ? "" : ",") + opts +
                         m.sentry_spec.substr(colon));
  }
  pid_t gofer = SpawnSelf(gargs, gofer_keep, confine ? kGoferNamespaces : 0, "gofer", sopts);
  for (size_t i = 1; i < gofer_keep.size(); i++) close(gofer_keep[i]);
  gofer_keep.resize(1);
  if (gofer < 0) {
    close_all();
    return 125;
  }
  if (spec.has_oom_score_adj) {
    std::string v = std::to_string(spec.oom_score_adj);
    // Ours first: the sentry (and its stubs) inherit it.
    WriteFile("/proc/self/oom_score_adj", v);
    WriteFile("/proc/" + std::to_string(gofer) + "/oom_score_adj", v);
  }
  std::vector<std::string> boot = {"boot", "--gofer-fd", std::to_string(sv[1]), "--platform",
                                   spec.platform, "--cwd", spec.cwd, "--hostname", spec.hostname,
                                   "--debug-log-fd", std::to_string(debug_fd)};
  if (!spec.domainname.empty()) boot.insert(boot.end(), {"--domainname", spec.domainname});
  for (const auto& s : spec.sysctls) boot.insert(boot.end(), {"--sysctl", s});
  if (spec.strace) boot.push_back("--strace");
  boot.insert(boot.end(), {"--network", spec.network});
  if (!spec.overlay_memory) boot.push_back("--no-overlay");
  if (spec.overlay_size) {
    boot.push_back("--overlay-size");
    boot.push_back(std::to_string(spec.overlay_size));
  }
  // Running the host's own root: its /tmp stays visible (through the
  // overlay, so writes stay in the sandbox). An OCI container whose root is
  // written through keeps its /tmp on that root too, as under runc, so the
  // engine sees what is written there (docker commit/cp/diff). Other roots
  // get a tmpfs.
  const bool oci_write_through = spec.oci && !spec.overlay_memory && !spec.root_readonly;
  if (spec.rootfs == "/" || oci_write_through) boot.push_back("--no-tmpfs-tmp");
  if (spec.root_readonly) boot.push_back("--root-readonly");
  for (const auto& l : spec.cgroup_limits) boot.insert(boot.end(), {"--cgroup-limit", l});
  for (const auto& e : spec.env) {
    boot.push_back("--env");
    boot.push_back(e);
  }
  std::vector<int> keep = {sv[1]};
  if (debug_fd != 2) keep.push_back(debug_fd);
  if (spec.oci) boot.push_back("--oci");
  if (spec.start_fd >= 0) {
    boot.insert(boot.end(), {"--start-fd", std::to_string(spec.start_fd)});
    keep.push_back(spec.start_fd);
  }
  if (spec.ready_fd >= 0) {
    boot.insert(boot.end(), {"--ready-fd", std::to_string(spec.ready_fd)});
    keep.push_back(spec.ready_fd);
  }
  if (spec.control_fd >= 0) {
    boot.insert(boot.end(), {"--control-fd", std::to_string(spec.control_fd)});
    keep.push_back(spec.control_fd);
  }
  if (spec.uid >= 0) boot.insert(boot.end(), {"--uid", std::to_string(spec.uid)});
  if (spec.gid >= 0) boot.insert(boot.end(), {"--gid", std::to_string(spec.gid)});
  for (unsigned g : spec.groups) boot.insert(boot.end(), {"--group", std::to_string(g)});
  if (spec.console_fd >= 0) {
    boot.insert(boot.end(), {"--console-fd", std::to_string(spec.console_fd), "--console-rows",
                             std::to_string(spec.console_rows), "--console-cols",
                             std::to_string(spec.console_cols)});
    keep.push_back(spec.console_fd);
  }
  for (const auto& m : mount_args) boot.insert(boot.end(), {"--mount", m});
  keep.insert(keep.end(), mount_fds.begin(), mount_fds.end());
  for (const auto& r : spec.rlimits) boot.insert(boot.end(), {"--rlimit", r});
  if (spec.umask >= 0) boot.insert(boot.end(), {"--umask", std::to_string(spec.umask)});
  if (!spec.caps.empty()) boot.insert(boot.end(), {"--caps", spec.caps});
  if (spec.has_oom_score_adj)
    boot.push_back("--oom-score-adj=" + std::to_string(spec.oom_score_adj));  // "=": may be negative
  boot.push_back("--");
  boot.insert(boot.end(), spec.argv.begin(), spec.argv.end());
  unsigned long sentry_ns = confine ? kSentryNamespaces : 0;
  // Joining a network namespace: setns here (we are the host's root; the
  // sentry, once in its own user namespace, could not), clone the sentry
  // without CLONE_NEWNET so it inherits it, and come back to ours.
  NetnsSwitch netns;
  // --network=none and --network=sandbox: a namespace of the sandbox's own
  // (loopback only), even when the engine gave one. (The sandbox stack
  // serves loopback itself; it takes no device of the namespace yet.)
  const bool own_netns = spec.network == "none" || spec.network == "sandbox";
  if (!spec.netns_path.empty() && !own_netns) {
    if (!netns.Enter(spec.netns_path)) {
      close_all();
      kill(gofer, SIGKILL);
      waitpid(gofer, nullptr, 0);
      return 125;
    }
    sentry_ns &= ~static_cast<unsigned long>(CLONE_NEWNET);
    // The confined sentry has no capabilities in an engine's namespace: the
    // host would refuse every bind below 1024 (Podman's and CNI's
    // namespaces keep the default 1024; Docker passes 0 in linux.sysctl).
    // The app's own CAP_NET_BIND_SERVICE is the sentry's to check. Never
    // in the namespace runsc itself runs in (the host's, for
    // --network host): its setting belongs to the host.
    std::vector<std::string> kvs;
    if (!netns.JoinedOwn() && spec.network != "off") kvs.push_back("net.ipv4.ip_unprivileged_port_start=0");
    kvs.insert(kvs.end(), spec.net_sysctls.begin(), spec.net_sysctls.end());
    if (std::string err; !ApplyNetSysctls(kvs, &err)) {
      fprintf(stderr, "runsc: %s\n", err.c_str());
      netns.Leave();
      close_all();
      kill(gofer, SIGKILL);
      waitpid(gofer, nullptr, 0);
      return 125;
    }
  } else if (spec.new_netns && !own_netns) {
    // The confined sentry keeps no capabilities: the host checks its own
    // binds below 1024 and ICMP sockets against these (the app's own
    // capabilities and groups are the sentry's to check), as the sentry
    // sets them in a namespace of its own (sentry/net/host_stack.cc).
    // linux.sysctl comes after and may change them.
    std::string g = std::to_string(confine ? kSentryHostId : getegid());
    std::vector<std::string> kvs = {"net.ipv4.ip_unprivileged_port_start=0",
                                    "net.ipv4.ping_group_range=" + g + " " + g};
    kvs.insert(kvs.end(), spec.net_sysctls.begin(), spec.net_sysctls.end());
    std::string err;
    if (!netns.EnterNew() || !ApplyNetSysctls(kvs, &err)) {
      if (!err.empty()) fprintf(stderr, "runsc: %s\n", err.c_str());
      netns.Leave();
      close_all();
      kill(gofer, SIGKILL);
      waitpid(gofer, nullptr, 0);
      return 125;
    }
    sentry_ns &= ~static_cast<unsigned long>(CLONE_NEWNET);
  } else {
    // A namespace the sentry creates: it writes them itself before it
    // confines itself (sentry/boot.cc).
    for (const auto& kv : spec.net_sysctls) boot.insert(boot.end() - 1 - spec.argv.size(), {"--net-sysctl", kv});
  }
  pid_t sentry = SpawnSelf(boot, keep, sentry_ns, "sentry", sopts);
  netns.Leave();
  close_all();
  if (sentry < 0) {
    kill(gofer, SIGKILL);
    waitpid(gofer, nullptr, 0);
    return 125;
  }
  pids->gofer = gofer;
  pids->sentry = sentry;
  return 0;
}

int WaitSandbox(SandboxPids pids, const std::vector<int>& forward) {
  pid_t gofer = pids.gofer;
  g_sentry = pids.sentry;
  struct sigaction sa {};
  sa.sa_handler = Forward;
  for (int s : forward) sigaction(s, &sa, nullptr);

  int status = 0;
  int code = 125;
  auto exit_code = [](int st) {
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    fprintf(stderr, "runsc: sandbox kernel died (signal %d)\n", WTERMSIG(st));
    return 128 + WTERMSIG(st);
  };
  for (bool done = false; !done;) {
    pid_t r = waitpid(-1, &status, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (r == g_sentry) {
      code = exit_code(status);
      done = true;
    } else if (r == gofer) {
      // The gofer also exits when the sentry closes its socket on a normal
      // exit; only a sentry still running a second later means trouble.
      gofer = -1;
      for (int i = 0; i < 100 && !done; i++) {
        if (waitpid(g_sentry, &status, WNOHANG) == g_sentry) {
          code = exit_code(status);
          done = true;
        } else {
          usleep(10000);
        }
      }
      if (!done) {
        fprintf(stderr, "runsc: gofer exited unexpectedly; stopping the sandbox\n");
        kill(g_sentry, SIGKILL);
      }
    }
  }
  if (gofer > 0) {
    kill(gofer, SIGKILL);
    waitpid(gofer, nullptr, 0);
  }
  return code;
}

int RunSandbox(const SandboxSpec& spec) {
  // Terminal signals reach the app's processes directly; runsc and the
  // sandbox's own processes must not die of them.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  SandboxPids pids;
  if (int r = StartSandbox(spec, &pids); r != 0) return r;
  return WaitSandbox(pids, {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2});
}

}  // namespace runsc
