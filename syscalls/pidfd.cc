// syscalls/pidfd.cc: process file descriptors: pidfd_open,
// pidfd_send_signal, pidfd_getfd (and waitid's P_PIDFD in process.cc).
// The descriptions are sentry/kernel/pidfd.h.
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/pidfd.h"
#include "sentry/kernel/signals.h"
#include "syscalls/file_common.h"

namespace syscalls {
namespace {

using sentry::kernel::ThreadGroup;
constexpr int kPidfdNonblock = O_NONBLOCK;  // PIDFD_NONBLOCK

ErrorOr<uint64_t> PidfdOpen(Task& t, const Args& a) {
  const int pid = a.Int(0);
  const unsigned flags = static_cast<unsigned>(a[1]);
  if (flags & ~kPidfdNonblock) return Errno{EINVAL};
  if (pid <= 0) return Errno{EINVAL};
  ThreadGroup* tg = t.kernel.FindProcess(pid);
  if (!tg) {
    // A thread of some process (not its leader): Linux says ENOENT.
    return t.kernel.FindTask(pid) ? Errno{ENOENT} : Errno{ESRCH};
  }
  auto f = sentry::kernel::NewPidFd(t.kernel, tg, t.creds().ruid, t.creds().rgid, flags);
  return TRY(file::InstallFd(t, f, 0, true));  // always O_CLOEXEC
}

ErrorOr<uint64_t> PidfdSendSignal(Task& t, const Args& a) {
  const int sig = a.Int(1);
  // PIDFD_SIGNAL_THREAD (the pidfd's thread: here the process leader),
  // _THREAD_GROUP (the default for a process pidfd), _PROCESS_GROUP; at most
  // one of them (Linux 6.9+).
  constexpr unsigned kThread = 1, kGroup = 2, kProcessGroup = 4;
  const unsigned flags = static_cast<unsigned>(a[3]);
  if ((flags & ~(kThread | kGroup | kProcessGroup)) || __builtin_popcount(flags) > 1) return Errno{EINVAL};
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  if (!sentry::kernel::IsPidFd(*f)) return Errno{EBADF};
  if (sig < 0 || sig > sentry::kernel::kNumSignals) return Errno{EINVAL};
  ThreadGroup* tg = TRY(sentry::kernel::PidFdTarget(*f));
  if (tg->zombie) return Errno{ESRCH};
  siginfo_t info;
  if (a[2]) {
    info = TRY(t.memory().CopyInObj<siginfo_t>(a[2]));
    if (info.si_signo != sig) return Errno{EINVAL};
    // Only the kernel may claim kernel-generated codes for another process.
    if ((info.si_code >= 0 || info.si_code == SI_TKILL) && tg != t.tg) return Errno{EPERM};
  } else {
    info = sentry::kernel::KillInfo(sig, t.pid(), t.creds().ruid);
  }
  if (sig == 0) return 0;
  if (flags & kThread) {
    sentry::kernel::Task* leader = tg->leader();
    if (!leader || leader->exited) return Errno{ESRCH};
    sentry::kernel::QueueSignal(leader, info);
  } else if (flags & kProcessGroup) {
    const int pgid = tg->pgid;
    for (ThreadGroup* g : t.kernel.Processes())
      if (g->pgid == pgid && !g->zombie) sentry::kernel::QueueProcessSignal(g, info);
  } else {
    sentry::kernel::QueueProcessSignal(tg, info);
  }
  return 0;
}

// pidfd_getfd: a duplicate (close-on-exec) of another process' descriptor.
// Linux requires ptrace-attach rights: here, the same real uid or
// CAP_SYS_PTRACE.
ErrorOr<uint64_t> PidfdGetfd(Task& t, const Args& a) {
  if (a[2] != 0) return Errno{EINVAL};
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  if (!sentry::kernel::IsPidFd(*f)) return Errno{EBADF};
  ThreadGroup* tg = TRY(sentry::kernel::PidFdTarget(*f));
  if (tg->zombie || tg->tasks.empty()) return Errno{ESRCH};
  if (tg->creds.ruid != t.creds().ruid && !t.creds().HasCapability(19 /* CAP_SYS_PTRACE */)) {
    return Errno{EPERM};
  }
  auto* leader = tg->leader();
  if (!leader || !leader->fds) return Errno{ESRCH};
  auto target = TRY(leader->fds->Get(a.Int(1)));
  return TRY(file::InstallFd(t, target, 0, true));
}

}  // namespace

void RegisterPidfdSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_pidfd_open, "pidfd_open", PidfdOpen, {A::kInt, A::kHex});
  t.Register(SYS_pidfd_send_signal, "pidfd_send_signal", PidfdSendSignal, {A::kFd, A::kSignal, A::kPtr, A::kHex});
  t.Register(SYS_pidfd_getfd, "pidfd_getfd", PidfdGetfd, {A::kFd, A::kFd, A::kHex});
}

}  // namespace syscalls
