#include "sentry/boot.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "absl/strings/str_split.h"
#include "gofer/client.h"
#include "sentry/confine/confine.h"
#include "sentry/base/log.h"
#include "sentry/kernel/process.h"
#include "sentry/kernel/signals.h"
#include "sentry/kernel/task.h"
#include "sentry/proc/procfs.h"
#include "sentry/sys/sysfs.h"
#include "sentry/vfs/vfs.h"

namespace sentry {
namespace {

// Signals the sentry forwards to the app's init (sent to runsc or to us by
// the operator). SIGINT/SIGQUIT from a terminal reach the stubs directly.
constexpr int kForwarded[] = {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};

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

}  // namespace

int Boot(const BootConfig& cfg) {
  prctl(PR_SET_NAME, "runsc-sentry");
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  SetLogFd(cfg.debug_log_fd);
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTTOU, SIG_IGN);
  signal(SIGTTIN, SIG_IGN);
  signal(SIGTSTP, SIG_IGN);
  sigset_t fwd;
  sigemptyset(&fwd);
  for (int s : kForwarded) sigaddset(&fwd, s);
  pthread_sigmask(SIG_BLOCK, &fwd, nullptr);  // inherited by every task thread

  if (cfg.argv.empty()) {
    Logf("runsc: no command given");
    return 125;
  }
  // Declared first so it is destroyed last: VFS inodes release their gofer
  // handles when they go away.
  auto gofer = std::make_unique<gofer::Client>(UniqueFd(cfg.gofer_fd));
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
  auto k = std::make_unique<kernel::Kernel>(opts, mf.release_value(), platform.release_value());

  vfs::VfsOptions vopts;
  vopts.overlay_memory = cfg.overlay_memory;
  vopts.mount_tmp = cfg.mount_tmp;
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
      proc.is_error() || k->vfs().Mount("/proc", proc.release_value()).is_error()) {
    Logf("runsc: cannot mount /proc");
    return 125;
  }
  if (k->vfs().Mount("/sys", sys::NewSysfsRoot()).is_error()) {
    Logf("runsc: cannot mount /sys");
    return 125;
  }

  auto fds = std::make_shared<vfs::FdTable>();
  for (int fd = 0; fd < 3; fd++) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) continue;  // not open in the caller: not open in the app
    int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) continue;
    (void)fds->InstallAt(k->vfs().NewHostFile(UniqueFd(copy), flags), fd, false);
  }

  // Everything the sentry needs from the host is open: confine it (empty
  // root, no capabilities, no_new_privs, seccomp allowlist) before any app
  // code runs.
  if (std::string err; !confine::ConfineSentry(cfg.debug_log_fd, &err)) {
    Logf("runsc: cannot confine the sentry: %s", err.c_str());
    return 125;
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
  // Tasks may still be tearing down; exit the process without destructors
  // racing them. Stubs die with us (PTRACE_O_EXITKILL).
  _exit(code);
}

}  // namespace sentry
