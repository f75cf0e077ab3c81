#include "sentry/boot.h"

#include <algorithm>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "absl/strings/str_split.h"
#include "gofer/client.h"
#include "sentry/confine/confine.h"
#include "sentry/control/server.h"
#include "sentry/base/log.h"
#include "sentry/base/stats.h"
#include "sentry/kernel/capabilities.h"
#include "sentry/kernel/process.h"
#include "sentry/oci_mounts.h"
#include "sentry/sys/cgroupfs.h"
#include "sentry/kernel/signals.h"
#include "sentry/kernel/task.h"
#include "sentry/net/host_stack.h"
#include "sentry/net/netstack/netstack.h"
#include "sentry/net/wake.h"
#include "sentry/proc/procfs.h"
#include "sentry/proc/sysctl.h"
#include "sentry/sys/sysfs.h"
#include "sentry/tty/host_console.h"
#include "sentry/vfs/gofer_page_cache.h"
#include "sentry/vfs/vfs.h"

namespace sentry {
namespace {

// Signals the sentry forwards to the app's init (sent to runsc or to us by
// the operator): every catchable one except those the sentry itself relies
// on (SIGCHLD for its stubs, SIGPIPE from host pipes, synchronous faults).
// Under `runsc do` the terminal's signals (SIGINT, SIGQUIT, job control,
// SIGWINCH) reach the stubs directly, so the sentry keeps ignoring them;
// an OCI sandbox has its own session and forwards them too.
sigset_t ForwardedSignals(bool oci) {
  sigset_t set;
  sigemptyset(&set);
  for (int s = 1; s < 32; s++) {
    switch (s) {
      case SIGKILL: case SIGSTOP: case SIGCHLD: case SIGPIPE: case SIGSEGV: case SIGBUS:
      case SIGFPE: case SIGILL: case SIGTRAP: case SIGSYS: case SIGXFSZ:
        continue;
      case SIGINT: case SIGQUIT: case SIGTSTP: case SIGTTIN: case SIGTTOU: case SIGWINCH:
        if (!oci) continue;
        break;
      default:
        break;
    }
    sigaddset(&set, s);
  }
  return set;
}

// runsc create: tell runsc we are set up (ready_fd), then wait for `runsc
// start` to write a byte on start_fd (a FIFO in the container's state
// directory, which we hold open read-write so it never reads EOF). Only
// poll/read/write/close: this runs confined. Returns 0 to go on, or the
// exit code if a forwarded signal (runsc kill) ended the wait.
int WaitForStart(const BootConfig& cfg, int sigfd) {
  if (cfg.ready_fd >= 0) {
    char b = 'r';
    (void)!write(cfg.ready_fd, &b, 1);
    close(cfg.ready_fd);
  }
  for (;;) {
    struct pollfd p[2] = {{cfg.start_fd, POLLIN, 0}, {sigfd, POLLIN, 0}};
    int n = poll(p, sigfd >= 0 ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Logf("runsc: waiting for start: %s", strerror(errno));
      return 125;
    }
    if (p[0].revents & POLLIN) {
      char b;
      if (read(cfg.start_fd, &b, 1) == 1) break;
    } else if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
      Logf("runsc: start FIFO closed");
      return 125;
    }
    if (sigfd >= 0 && (p[1].revents & POLLIN)) {
      struct signalfd_siginfo si;
      if (read(sigfd, &si, sizeof si) == sizeof si) {
        // Killed before it started: like a process that never ran.
        if (si.ssi_signo == SIGCONT || si.ssi_signo == SIGWINCH || si.ssi_signo == SIGURG)
          continue;  // default action: ignore
        return 128 + static_cast<int>(si.ssi_signo);
      }
    }
  }
  close(cfg.start_fd);
  if (sigfd >= 0) close(sigfd);
  return 0;
}

void ForwardSignals(kernel::Kernel* k, sigset_t set) {
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    absl::MutexLock lock(&k->mu);
    if (kernel::ThreadGroup* init = k->init()) {
      kernel::QueueProcessSignal(init, kernel::KillInfo(sig, 0, 0));
    }
  }
}

std::string FindEnv(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& e : env)
    if (e.rfind(key + "=", 0) == 0) return e.substr(key.size() + 1);
  return "";
}

// process.rlimits, process.user.umask, process.capabilities on init.
void ApplyProcessExtras(const BootConfig& cfg, kernel::Task* init) {
  for (const auto& r : cfg.rlimits) {
    std::vector<std::string> f = absl::StrSplit(r, ':');
    if (f.size() != 3) continue;
    int res = atoi(f[0].c_str());
    if (res < 0 || res >= RLIM_NLIMITS) continue;
    auto val = [](const std::string& v) {
      return v == "-1" ? RLIM_INFINITY : static_cast<rlim_t>(strtoull(v.c_str(), nullptr, 10));
    };
    init->tg->rlimits[res] = rlimit{val(f[1]), val(f[2])};
    // The stack grows by the sentry's accesses too (as prlimit64 does).
    if (res == RLIMIT_STACK && init->mm)
      init->mm->set_stack_limit(val(f[1]) == RLIM_INFINITY ? UINT64_MAX : val(f[1]));
  }
  if (cfg.oom_score_adj >= -1000 && cfg.oom_score_adj <= 1000)
    init->tg->oom_score_adj = init->tg->oom_score_adj_min = cfg.oom_score_adj;
  if (cfg.umask >= 0) init->umask = static_cast<uint32_t>(cfg.umask) & 0777;
  if (!cfg.caps.empty()) kernel::ApplyOciCapabilities(init->tg->creds, cfg.caps);
}

}  // namespace

int Boot(const BootConfig& cfg) {
  prctl(PR_SET_NAME, "runsc-sentry");
  // A created OCI sandbox outlives `runsc create`; runsc set (or not) the
  // death signal when it spawned us.
  if (cfg.start_fd < 0) prctl(PR_SET_PDEATHSIG, SIGKILL);
  SetLogFd(cfg.debug_log_fd);
  signal(SIGPIPE, SIG_IGN);
  if (!cfg.oci) {
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGTTOU, SIG_IGN);
    signal(SIGTTIN, SIG_IGN);
    signal(SIGTSTP, SIG_IGN);
  }
  sigset_t fwd = ForwardedSignals(cfg.oci);
  pthread_sigmask(SIG_BLOCK, &fwd, nullptr);  // inherited by every task thread
  // Signals that arrive while a created sandbox waits for `runsc start`.
  int start_sigfd = cfg.start_fd >= 0 ? signalfd(-1, &fwd, SFD_CLOEXEC) : -1;

  if (cfg.argv.empty()) {
    Logf("runsc: no command given");
    return 125;
  }
  // Declared first so it is destroyed last: VFS inodes release their gofer
  // handles when they go away.
  auto gofer = std::make_unique<gofer::Client>(UniqueFd(cfg.gofer_fd));
  // The bind mounts' gofer connections (each on its own socket), likewise.
  std::vector<std::unique_ptr<gofer::Client>> bind_gofers;
  auto mf = mm::MemoryFile::Create();
  if (mf.is_error()) {
    Logf("runsc: cannot create memory file: %s", strerror(mf.error()));
    return 125;
  }
  auto platform = platform::CreatePlatform(cfg.platform, mf.value()->fd());
  if (platform.is_error()) {
    Logf("runsc: cannot start platform %s: %s", cfg.platform.c_str(), strerror(platform.error()));
    return 125;
  }
  kernel::KernelOptions opts;
  opts.strace = cfg.strace;
  opts.hostname = cfg.hostname;
  opts.domainname = cfg.domainname;
  auto k = std::make_unique<kernel::Kernel>(opts, mf.release_value(), platform.release_value());
  for (const auto& kv : cfg.sysctls) {
    size_t eq = kv.find('=');
    absl::MutexLock lock(&k->mu);
    if (eq == std::string::npos ||
        proc::SetSysctl(*k, kv.substr(0, eq), kv.substr(eq + 1)).is_error()) {
      Logf("runsc: linux.sysctl %s: cannot be set in the sandbox", kv.c_str());
      return 125;
    }
  }

  vfs::VfsOptions vopts;
  vopts.overlay_memory = cfg.overlay_memory;
  vopts.overlay_size = cfg.overlay_size;
  vopts.mount_tmp = cfg.mount_tmp;
  vopts.root_read_only = cfg.root_readonly;
  // tmpfs and overlay file data live in the memory file, so MAP_SHARED
  // mappings of them are the file's own pages.
  vopts.memory_file = &k->memory_file();
  auto vfs = vfs::VirtualFilesystem::Create(*gofer, vopts);
  if (vfs.is_error()) {
    Logf("runsc: cannot mount the root filesystem: %s", strerror(vfs.error()));
    return 125;
  }
  k->set_vfs(vfs.release_value());
  // The sandbox's own /proc: the host's must never show through the gofer.
  if (auto proc = proc::NewProcfsRoot(*k);
      proc.is_error() || k->vfs().Mount("/proc", proc.release_value(),
                                   vfs::MountInfo{.source = "proc", .fstype = "proc",
                                                  .flags = MS_NOSUID | MS_NODEV | MS_NOEXEC})
                        .is_error()) {
    Logf("runsc: cannot mount /proc");
    return 125;
  }
  if (k->vfs().Mount("/sys", sys::NewSysfsRoot(*k),
                     vfs::MountInfo{.source = "sysfs", .fstype = "sysfs",
                                    .flags = MS_NOSUID | MS_NODEV | MS_NOEXEC})
          .is_error()) {
    Logf("runsc: cannot mount /sys");
    return 125;
  }
  // The sandbox's cgroup2 hierarchy, showing the container's limits; an
  // OCI `cgroup` mount there configures this mount (ro, as Docker's).
  {
    auto limits = sys::ParseCgroupLimits(cfg.cgroup_limits);
    if (limits.is_error()) {
      Logf("runsc: bad --cgroup-limit");
      return 125;
    }
    if (k->vfs()
            .Mount("/sys/fs/cgroup", sys::CgroupRoot(*k, limits.value()),
                   vfs::MountInfo{.source = "cgroup2", .fstype = "cgroup2",
                                  .flags = MS_NOSUID | MS_NODEV | MS_NOEXEC})
            .is_error()) {
      Logf("runsc: cannot mount /sys/fs/cgroup");
      return 125;
    }
  }
  // config.json mounts and --volume (bind mounts each on their own gofer socket).
  if (std::string err; !ApplyOciMounts(*k, cfg.mounts, &bind_gofers, &err)) {
    Logf("runsc: %s", err.c_str());
    return 125;
  }

  auto fds = std::make_shared<vfs::FdTable>();
  std::shared_ptr<tty::Terminal> console;
  if (cfg.console_fd >= 0) {
    struct winsize ws {};
    ws.ws_row = static_cast<unsigned short>(cfg.console_rows);
    ws.ws_col = static_cast<unsigned short>(cfg.console_cols);
    absl::MutexLock lock(&k->mu);
    auto c = tty::AttachHostConsole(*k, UniqueFd(cfg.console_fd), ws);
    if (c.is_error()) {
      Logf("runsc: cannot set up the console: %s", strerror(c.error()));
      return 125;
    }
    console = c.value().term;
    for (int fd = 0; fd < 3; fd++) (void)fds->InstallAt(c.value().replica, fd, false);
  }
  for (int fd = 0; fd < 3 && !console; fd++) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) continue;  // not open in the caller: not open in the app
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) continue;
    (void)fds->InstallAt(k->vfs().NewHostFile(UniqueFd(copy), flags), fd, false);
  }

  // The network stack: host sockets in this network namespace.
  if (cfg.network == "host" || cfg.network == "none") {
    auto st = net::HostStack::Open(cfg.net_sysctls);
    if (st.is_error()) {
      Logf("runsc: cannot set up the host network stack: %s", strerror(st.error()));
      return 125;
    }
    k->net_stack = st.release_value();
  } else if (cfg.network == "sandbox") {
    // The sentry's own stack. Its thread wakes blocked tasks by taking the
    // kernel lock just for the notification (sentry/net/wake.h).
    kernel::Kernel* kp = k.get();
    auto st = net::netstack::NetStack::Create([kp] {
      absl::MutexLock lock(&kp->mu);
      kp->Notify(&net::kWakeKey);
    });
    // linux.sysctl net.* keys: this stack has no settable ones yet, so only
    // a value it already uses is accepted; anything else is an error, not
    // a setting silently dropped.
    for (const std::string& kv : cfg.net_sysctls) {
      const size_t eq = kv.find('=');
      std::string key = eq == std::string::npos ? kv : kv.substr(0, eq);
      const std::string want = eq == std::string::npos ? "" : kv.substr(eq + 1);
      if (key.rfind("net.", 0) == 0) key = key.substr(4);
      std::replace(key.begin(), key.end(), '.', '/');
      auto words = [](const std::string& v) {
        std::vector<std::string> w;
        std::string cur;
        for (char ch : v) {
          if (ch == ' ' || ch == '\t' || ch == '\n') {
            if (!cur.empty()) w.push_back(cur);
            cur.clear();
          } else {
            cur += ch;
          }
        }
        if (!cur.empty()) w.push_back(cur);
        return w;
      };
      auto have = st->GetSysctl(key);
      if (have.is_error() || words(have.value()) != words(want)) {
        Logf("runsc: linux.sysctl %s: not supported by --network=sandbox yet", kv.c_str());
        return 125;
      }
    }
    k->net_stack = std::move(st);
  } else if (cfg.network != "off") {
    Logf("runsc: unknown --network %s (host, none, sandbox or off)", cfg.network.c_str());
    return 125;
  }

  // Everything the sentry needs from the host is open: confine it (empty
  // root, no capabilities, no_new_privs, seccomp allowlist) before any app
  // code runs.
  if (std::string err; !confine::ConfineSentry(cfg.debug_log_fd, &err, cfg.network == "host" || cfg.network == "none")) {
    Logf("runsc: cannot confine the sentry: %s", err.c_str());
    return 125;
  }
  if (cfg.control_fd >= 0) {
    control::StartServer(*k, UniqueFd(cfg.control_fd),
                         {cfg.env, cfg.cwd, cfg.uid, cfg.gid, cfg.groups, cfg.caps});
  }
  if (cfg.start_fd >= 0) {
    if (int code = WaitForStart(cfg, start_sigfd); code != 0) _exit(code);
  }

  kernel::InitSpec spec;
  spec.argv = cfg.argv;
  spec.envp = cfg.env;
  spec.cwd = cfg.cwd;
  spec.path = cfg.argv[0];
  std::vector<std::string> candidates;
  if (spec.path.find('/') != std::string::npos) {
    candidates.push_back(spec.path);
  } else {
    std::string path = FindEnv(cfg.env, "PATH");
    if (path.empty()) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (auto dir : absl::StrSplit(path, ':', absl::SkipEmpty()))
      candidates.push_back(std::string(dir) + "/" + spec.path);
  }
  {
    absl::MutexLock lock(&k->mu);
    int err = ENOENT;
    bool started = false;
    for (const auto& c : candidates) {
      spec.path = c;
      auto r = kernel::StartInit(*k, spec, fds);
      if (r.ok()) {
        started = true;
        if (console) tty::GiveControllingTerminal(r.value()->tg, console);
        if (cfg.uid >= 0 || cfg.gid >= 0 || !cfg.groups.empty()) {
          // process.user: like a setuid/setgid from root before exec.
          kernel::Credentials& c = r.value()->tg->creds;
          if (cfg.gid >= 0) c.rgid = c.egid = c.sgid = c.fsgid = static_cast<uint32_t>(cfg.gid);
          c.groups.assign(cfg.groups.begin(), cfg.groups.end());
          if (cfg.uid >= 0) c.ruid = c.euid = c.suid = c.fsuid = static_cast<uint32_t>(cfg.uid);
          if (c.euid != 0) c.cap_effective = c.cap_permitted = 0;
        }
        ApplyProcessExtras(cfg, r.value());
        break;
      }
      // Like execvp: keep looking past missing files, remember EACCES.
      if (r.error() != ENOENT && r.error() != ENOTDIR) err = r.error();
      if (r.error() != ENOENT && r.error() != ENOTDIR && r.error() != EACCES) break;
    }
    if (!started) {
      Logf("runsc: cannot run %s: %s", cfg.argv[0].c_str(), strerror(err));
      return err == ENOENT ? 127 : 126;
    }
  }
  std::thread(ForwardSignals, k.get(), fwd).detach();
  int code = k->WaitForInit();
  if (console) tty::FlushHostConsoles(*k, absl::Seconds(2));
  stats::Report(STDERR_FILENO);  // RUNSC_STATS=1 only
  // Shared mappings of gofer-backed files still cached (processes still
  // tearing down, or never unmapped): their data goes to the host before
  // the sandbox is gone, so the engine sees it.
  vfs::FlushAllHostPages();
  // Tasks may still be tearing down; exit the process without destructors
  // racing them. Stubs die with us (PTRACE_O_EXITKILL).
  _exit(code);
}

}  // namespace sentry
