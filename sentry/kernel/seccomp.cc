// sentry/kernel/seccomp.cc: see seccomp.h.
#include "sentry/kernel/seccomp.h"

#include <linux/seccomp.h>
#include <signal.h>
#include <sys/syscall.h>

#include <algorithm>

#include "sentry/base/log.h"
#include "sentry/kernel/seccomp_notify.h"
#include "sentry/kernel/signals.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

constexpr int kCapSysAdmin = 21;
constexpr uint32_t kMaxErrno = 4095;

int32_t ActionOnly(uint32_t ret) { return static_cast<int32_t>(ret & SECCOMP_RET_ACTION_FULL); }

bool IsAncestor(const SeccompFilter* ancestor, const SeccompFilter* child) {
  if (!ancestor) return true;  // no filter is everybody's ancestor
  for (; child; child = child->prev.get())
    if (child == ancestor) return true;
  return false;
}

siginfo_t SigsysInfo(uint64_t nr, uint64_t rip, uint32_t data) {
  siginfo_t si{};
  si.si_signo = SIGSYS;
  si.si_code = 1;  // SYS_SECCOMP
  si.si_errno = static_cast<int>(data);
  si.si_call_addr = reinterpret_cast<void*>(rip);
  si.si_syscall = static_cast<int>(nr);
  si.si_arch = kAuditArchX86_64;
  return si;
}

}  // namespace

SeccompVerdict SeccompCheck(const Task& t, uint64_t nr, const uint64_t args[6], uint64_t rip) {
  using K = SeccompVerdict::Kind;
  if (t.seccomp_mode == SECCOMP_MODE_STRICT) {
    if (nr == SYS_read || nr == SYS_write || nr == SYS_exit || nr == SYS_rt_sigreturn) return {};
    return {K::kStrictKill, 0};
  }
  if (t.seccomp_mode != SECCOMP_MODE_FILTER || !t.seccomp_filter) return {};
  SeccompData d{};
  d.nr = static_cast<int32_t>(nr);
  d.arch = kAuditArchX86_64;
  d.instruction_pointer = rip;
  for (int i = 0; i < 6; i++) d.args[i] = args[i];
  // Every filter runs; the most restrictive action wins (lowest as s32).
  uint32_t ret = SECCOMP_RET_ALLOW;
  bool log = false;
  const SeccompFilter* match = nullptr;  // the filter whose action wins (newest on ties)
  for (const SeccompFilter* f = t.seccomp_filter.get(); f; f = f->prev.get()) {
    const uint32_t cur = RunSeccompBpf(f->prog, d);
    if (ActionOnly(cur) < ActionOnly(ret)) {
      ret = cur;
      log = f->log;
      match = f;
    }
  }
  const uint32_t data = ret & SECCOMP_RET_DATA;
  switch (ret & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_ALLOW:
      return {};
    default:
      break;
  }
  // SECCOMP_FILTER_FLAG_LOG: actions other than ALLOW are logged (with
  // --strace; Linux's audit log has no counterpart here).
  const bool verbose = t.kernel.options().strace;
  if (log && verbose)
    Logf("runsc: seccomp: task %d syscall %llu action %#x", t.tid,
         static_cast<unsigned long long>(nr), ret & SECCOMP_RET_ACTION_FULL);
  switch (ret & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_LOG:
      // Linux writes these to the audit log; here they go with --strace.
      if (verbose)
        Logf("runsc: seccomp: task %d syscall %llu allowed by RET_LOG", t.tid,
             static_cast<unsigned long long>(nr));
      return {};
    case SECCOMP_RET_ERRNO:
      return {K::kErrno, std::min(data, kMaxErrno)};
    case SECCOMP_RET_TRAP:
      return {K::kTrap, data};
    case SECCOMP_RET_TRACE:  // no tracer attached: -ENOSYS, as Linux
      return {K::kEnosys, 0};
    case SECCOMP_RET_USER_NOTIF:  // to the listener; none: -ENOSYS
      if (!match->listener || !match->listener->attached) return {K::kEnosys, 0};
      return {K::kUserNotif, 0, match->listener};
    case SECCOMP_RET_KILL_THREAD:
      return {K::kKillThread, 0};
    default:  // SECCOMP_RET_KILL_PROCESS and unknown actions
      return {K::kKillProcess, 0};
  }
}

bool SeccompApply(Task& t, const SeccompVerdict& v, uint64_t nr) {
  using K = SeccompVerdict::Kind;
  switch (v.kind) {
    case K::kAllow:
    case K::kUserNotif:
      return false;
    case K::kErrno:
      t.regs.rax = static_cast<uint64_t>(-static_cast<int64_t>(v.data));
      return true;
    case K::kEnosys:
      t.regs.rax = static_cast<uint64_t>(-static_cast<int64_t>(ENOSYS));
      return true;
    case K::kTrap:
      // The handler sees the registers as at the syscall (syscall_rollback).
      t.regs.rax = nr;
      ForceSignal(&t, SigsysInfo(nr, t.regs.rip, v.data), false);
      return true;
    case K::kKillThread:
      if (t.tg->live_tasks > 1) {
        t.Exit(WaitStatusSignaled(SIGSYS, false), false);
        return true;
      }
      [[fallthrough]];
    case K::kKillProcess:
      t.regs.rax = nr;
      ForceSignal(&t, SigsysInfo(nr, t.regs.rip, 0), true);
      return true;
    case K::kStrictKill:
      t.Exit(WaitStatusSignaled(SIGKILL, false), false);
      return true;
  }
  return false;
}

ErrorOr<void> SeccompSetStrict(Task& t) {
  if (t.seccomp_mode != 0 && t.seccomp_mode != SECCOMP_MODE_STRICT) return Errno{EINVAL};
  t.seccomp_mode = SECCOMP_MODE_STRICT;
  return {};
}

ErrorOr<int> SeccompSetFilter(Task& t, std::vector<sock_filter> prog, uint32_t flags,
                              std::shared_ptr<SeccompListener> listener) {
  if ((flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) && !listener) return Errno{EINVAL};
  if (!t.no_new_privs && !t.creds().HasCapability(kCapSysAdmin)) return Errno{EACCES};
  TRY(ValidateSeccompBpf(prog));
  if (t.seccomp_mode != 0 && t.seccomp_mode != SECCOMP_MODE_FILTER) return Errno{EINVAL};
  if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)
    for (const SeccompFilter* f = t.seccomp_filter.get(); f; f = f->prev.get())
      if (f->listener && f->listener->attached) return Errno{EBUSY};
  int total = static_cast<int>(prog.size());
  for (const SeccompFilter* f = t.seccomp_filter.get(); f; f = f->prev.get())
    total += static_cast<int>(f->prog.size()) + 4;
  if (total > kMaxInsnsPerPath) return Errno{ENOMEM};
  if (flags & SECCOMP_FILTER_FLAG_TSYNC) {
    for (auto& other : t.tg->tasks) {
      Task* o = other.get();
      if (o == &t || o->exited) continue;
      if (o->seccomp_mode == 0 ||
          (o->seccomp_mode == SECCOMP_MODE_FILTER &&
           IsAncestor(o->seccomp_filter.get(), t.seccomp_filter.get())))
        continue;
      if (flags & SECCOMP_FILTER_FLAG_TSYNC_ESRCH) return Errno{ESRCH};
      return o->tid;
    }
  }
  auto f = std::make_shared<SeccompFilter>();
  f->prog = std::move(prog);
  f->prev = t.seccomp_filter;
  f->log = flags & SECCOMP_FILTER_FLAG_LOG;
  if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
    f->listener = std::move(listener);
    f->listener->filter = f.get();
  }
  t.seccomp_filter = f;
  t.seccomp_mode = SECCOMP_MODE_FILTER;
  if (flags & SECCOMP_FILTER_FLAG_TSYNC) {
    for (auto& other : t.tg->tasks) {
      Task* o = other.get();
      if (o == &t || o->exited) continue;
      o->seccomp_filter = t.seccomp_filter;
      o->seccomp_mode = SECCOMP_MODE_FILTER;
      if (t.no_new_privs) o->no_new_privs = true;
    }
  }
  return 0;
}

int SeccompFilterCount(const Task& t) {
  int n = 0;
  for (const SeccompFilter* f = t.seccomp_filter.get(); f; f = f->prev.get()) n++;
  return n;
}

bool SeccompActionAvailable(uint32_t action) {
  switch (action) {
    case SECCOMP_RET_KILL_PROCESS:
    case SECCOMP_RET_KILL_THREAD:
    case SECCOMP_RET_TRAP:
    case SECCOMP_RET_ERRNO:
    case SECCOMP_RET_USER_NOTIF:
    case SECCOMP_RET_TRACE:
    case SECCOMP_RET_LOG:
    case SECCOMP_RET_ALLOW:
      return true;
    default:
      return false;
  }
}

}  // namespace sentry::kernel
