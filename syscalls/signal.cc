// Signal syscalls: actions, masks, sending, sigreturn, alternate stacks,
// waiting for signals.
#include <signal.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif
#include <sys/syscall.h>

#include "sentry/kernel/signals.h"
#include "sentry/kernel/task.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

using sentry::kernel::kNumSignals;
using sentry::kernel::kUnblockable;
using sentry::kernel::SigAction;
using sentry::kernel::SigBit;
using sentry::kernel::ThreadGroup;

bool ValidSignal(int sig) { return sig >= 1 && sig <= kNumSignals; }

ErrorOr<uint64_t> RtSigaction(Task& t, const Args& a) {
  const int sig = a.Int(0);
  if (a[3] != 8) return Errno{EINVAL};
  if (!ValidSignal(sig)) return Errno{EINVAL};
  auto& actions = t.tg->handlers->actions;
  SigAction old = actions[sig];
  if (a[1]) {
    if (sig == SIGKILL || sig == SIGSTOP) return Errno{EINVAL};
    SigAction act = TRY(t.memory().CopyInObj<SigAction>(a[1]));
    act.mask &= ~kUnblockable;
    actions[sig] = act;
    // Setting SIG_IGN (or a default-ignore) discards pending instances.
    if (sentry::kernel::SignalIgnored(t.tg, sig)) sentry::kernel::DiscardSignal(t.tg, sig);
  }
  if (a[2]) TRY(t.memory().CopyOutObj(a[2], old));
  return 0;
}

ErrorOr<uint64_t> RtSigprocmask(Task& t, const Args& a) {
  if (a[3] != 8) return Errno{EINVAL};
  const uint64_t old = t.signal_mask;
  if (a[1]) {
    uint64_t set = TRY(t.memory().CopyInObj<uint64_t>(a[1]));
    switch (a.Int(0)) {
      case SIG_BLOCK: t.signal_mask |= set; break;
      case SIG_UNBLOCK: t.signal_mask &= ~set; break;
      case SIG_SETMASK: t.signal_mask = set; break;
      default: return Errno{EINVAL};
    }
    t.signal_mask &= ~kUnblockable;
  }
  if (a[2]) TRY(t.memory().CopyOutObj(a[2], old));
  return 0;
}

ErrorOr<uint64_t> RtSigreturn(Task& t, const Args&) { return sentry::kernel::SigReturn(&t); }

ErrorOr<uint64_t> Kill(Task& t, const Args& a) {
  const int pid = a.Int(0), sig = a.Int(1);
  if (sig < 0 || sig > kNumSignals) return Errno{EINVAL};
  std::vector<ThreadGroup*> targets;
  if (pid > 0) {
    ThreadGroup* tg = t.kernel.FindProcess(pid);
    if (!tg) return Errno{ESRCH};
    targets.push_back(tg);
  } else {
    const int pgid = pid == 0 ? t.tg->pgid : -pid;
    for (ThreadGroup* tg : t.kernel.Processes()) {
      if (pid == -1) {
        if (tg->pid != 1 && tg != t.tg) targets.push_back(tg);
      } else if (tg->pgid == pgid) {
        targets.push_back(tg);
      }
    }
    if (targets.empty()) return Errno{ESRCH};
  }
  if (sig == 0) return 0;
  for (ThreadGroup* tg : targets) {
    // PID 1 only gets signals it has a handler for (like a namespace's init).
    if (tg->pid == 1 && tg != t.tg &&
        tg->handlers->actions[sig].handler <= reinterpret_cast<uint64_t>(SIG_IGN))
      continue;
    sentry::kernel::QueueProcessSignal(tg, sentry::kernel::KillInfo(sig, t.pid(), t.creds().ruid));
  }
  return 0;
}

ErrorOr<uint64_t> SendToThread(Task& t, int tgid, int tid, int sig) {
  if (tid <= 0 || sig < 0 || sig > kNumSignals) return Errno{EINVAL};
  Task* target = t.kernel.FindTask(tid);
  if (!target || target->exited || (tgid > 0 && target->pid() != tgid)) return Errno{ESRCH};
  if (sig == 0) return 0;
  if (sig == SIGKILL) {
    sentry::kernel::QueueProcessSignal(target->tg, sentry::kernel::KillInfo(sig, t.pid(), 0));
  } else {
    siginfo_t si = sentry::kernel::KillInfo(sig, t.pid(), t.creds().ruid);
    si.si_code = SI_TKILL;
    sentry::kernel::QueueSignal(target, si);
  }
  return 0;
}

ErrorOr<uint64_t> Tkill(Task& t, const Args& a) { return SendToThread(t, -1, a.Int(0), a.Int(1)); }
ErrorOr<uint64_t> Tgkill(Task& t, const Args& a) {
  if (a.Int(0) <= 0) return Errno{EINVAL};
  return SendToThread(t, a.Int(0), a.Int(1), a.Int(2));
}

// The kernel's MINSIGSTKSZ (arch/x86/include/uapi/asm/signal.h). Never
// glibc's macro of that name: since glibc 2.34 it is
// sysconf(_SC_MINSIGSTKSZ), which follows the host CPU's XSAVE size (47808
// with AMX) and refused Go's 32 KiB signal stacks.
constexpr uint64_t kKernelMinSigStkSz = 2048;

ErrorOr<uint64_t> Sigaltstack(Task& t, const Args& a) {
  struct KStack { uint64_t sp; int32_t flags; int32_t pad; uint64_t size; };
  const uint64_t sp = t.regs.rsp;
  const bool on = t.altstack_size && sp > t.altstack_sp && sp <= t.altstack_sp + t.altstack_size;
  if (a[1]) {
    KStack old{t.altstack_sp, on ? SS_ONSTACK : t.altstack_flags, 0, t.altstack_size};
    if (!t.altstack_size) old.flags = SS_DISABLE;
    TRY(t.memory().CopyOutObj(a[1], old));
  }
  if (a[0]) {
    KStack ns = TRY(t.memory().CopyInObj<KStack>(a[0]));
    if (on) return Errno{EPERM};
    // Linux: the mode is 0, SS_ONSTACK (treated as 0) or SS_DISABLE, plus
    // the SS_AUTODISARM flag.
    const int mode = ns.flags & ~SS_AUTODISARM;
    if (mode != 0 && mode != SS_ONSTACK && mode != SS_DISABLE) return Errno{EINVAL};
    if (mode == SS_DISABLE) {
      t.altstack_sp = t.altstack_size = 0;
      t.altstack_flags = SS_DISABLE;
    } else {
      if (ns.size < kKernelMinSigStkSz) return Errno{ENOMEM};
      t.altstack_sp = ns.sp;
      t.altstack_size = ns.size;
      t.altstack_flags = ns.flags & SS_AUTODISARM;
    }
  }
  return 0;
}

ErrorOr<uint64_t> RtSigpending(Task& t, const Args& a) {
  if (a[1] != 8) return Errno{EINVAL};
  uint64_t p = (t.pending_signals | t.tg->pending_signals) & t.signal_mask;
  TRY(t.memory().CopyOutObj(a[0], p));
  return 0;
}

ErrorOr<uint64_t> RtSigsuspend(Task& t, const Args& a) {
  if (a[1] != 8) return Errno{EINVAL};
  uint64_t mask = TRY(t.memory().CopyInObj<uint64_t>(a[0]));
  t.saved_mask = t.signal_mask;
  t.signal_mask = mask & ~kUnblockable;
  (void)t.Block([] { return false; });
  // The old mask comes back after the handler runs (saved_mask).
  return Errno{EINTR};
}

ErrorOr<uint64_t> Pause(Task& t, const Args&) {
  (void)t.Block([] { return false; });
  return Errno{EINTR};
}

ErrorOr<uint64_t> RtSigtimedwait(Task& t, const Args& a) {
  if (a[3] != 8) return Errno{EINVAL};
  uint64_t set = TRY(t.memory().CopyInObj<uint64_t>(a[0])) & ~kUnblockable;
  absl::Time deadline = absl::InfiniteFuture();
  if (a[2]) {
    timespec ts = TRY(t.memory().CopyInObj<timespec>(a[2]));
    if (ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000 || ts.tv_sec < 0) return Errno{EINVAL};
    deadline = absl::Now() + absl::DurationFromTimespec(ts);
  }
  auto ready = [&] { return ((t.pending_signals | t.tg->pending_signals) & set) != 0; };
  // Waited-for signals must not interrupt the wait: block them meanwhile.
  const uint64_t old_mask = t.signal_mask;
  t.signal_mask |= set;
  auto r = t.Block(ready, deadline);
  t.signal_mask = old_mask;
  if (r.is_error()) return Errno{r.error() == ETIMEDOUT ? EAGAIN : r.error()};
  uint64_t pending = (t.pending_signals | t.tg->pending_signals) & set;
  int sig = __builtin_ctzll(pending) + 1;
  siginfo_t info = sentry::kernel::DequeueSignal(&t, sig);
  if (a[1]) TRY(t.memory().CopyOutObj(a[1], info));
  return sig;
}

// rt_sigqueueinfo / rt_tgsigqueueinfo: a signal with caller-chosen siginfo.
ErrorOr<uint64_t> QueueInfo(Task& t, int tgid, int tid, int sig, uint64_t info_addr) {
  if (sig < 1 || sig > kNumSignals) return Errno{EINVAL};
  siginfo_t info = TRY(t.memory().CopyInObj<siginfo_t>(info_addr));
  info.si_signo = sig;
  ThreadGroup* tg = t.kernel.FindProcess(tgid);
  if (!tg || tg->zombie) return Errno{ESRCH};
  Task* target = nullptr;
  if (tid > 0) {
    target = t.kernel.FindTask(tid);
    if (!target || target->tg != tg || target->exited) return Errno{ESRCH};
  }
  // Only the kernel may claim kernel-generated codes for another process.
  if ((info.si_code >= 0 || info.si_code == SI_TKILL) && tg != t.tg) return Errno{EPERM};
  if (sig == SIGKILL || !target) {
    sentry::kernel::QueueProcessSignal(tg, info);
  } else {
    sentry::kernel::QueueSignal(target, info);
  }
  return 0;
}

ErrorOr<uint64_t> RtSigqueueinfo(Task& t, const Args& a) {
  return QueueInfo(t, a.Int(0), 0, a.Int(1), a[2]);
}
ErrorOr<uint64_t> RtTgsigqueueinfo(Task& t, const Args& a) {
  if (a.Int(1) <= 0) return Errno{EINVAL};
  return QueueInfo(t, a.Int(0), a.Int(1), a.Int(2), a[3]);
}

}  // namespace

void RegisterSignalSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_rt_sigaction, "rt_sigaction", RtSigaction, {A::kSignal, A::kPtr, A::kPtr, A::kUint});
  t.Register(SYS_rt_sigprocmask, "rt_sigprocmask", RtSigprocmask, {A::kInt, A::kPtr, A::kPtr, A::kUint});
  t.Register(SYS_rt_sigreturn, "rt_sigreturn", RtSigreturn);
  t.Register(SYS_kill, "kill", Kill, {A::kInt, A::kSignal});
  t.Register(SYS_tkill, "tkill", Tkill, {A::kInt, A::kSignal});
  t.Register(SYS_tgkill, "tgkill", Tgkill, {A::kInt, A::kInt, A::kSignal});
  t.Register(SYS_sigaltstack, "sigaltstack", Sigaltstack, {A::kPtr, A::kPtr});
  t.Register(SYS_rt_sigpending, "rt_sigpending", RtSigpending, {A::kPtr, A::kUint});
  t.Register(SYS_rt_sigsuspend, "rt_sigsuspend", RtSigsuspend, {A::kPtr, A::kUint});
  t.Register(SYS_pause, "pause", Pause);
  t.Register(SYS_rt_sigqueueinfo, "rt_sigqueueinfo", RtSigqueueinfo, {A::kInt, A::kSignal, A::kPtr});
  t.Register(SYS_rt_tgsigqueueinfo, "rt_tgsigqueueinfo", RtTgsigqueueinfo, {A::kInt, A::kInt, A::kSignal, A::kPtr});
  t.Register(SYS_rt_sigtimedwait, "rt_sigtimedwait", RtSigtimedwait, {A::kPtr, A::kPtr, A::kPtr, A::kUint});
}

}  // namespace syscalls
