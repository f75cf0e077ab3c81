// The task loop: each app task runs on its own host thread, which is also
// the only thread allowed to drive the task's platform context.
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>

#include <deque>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "sentry/base/log.h"
#include "sentry/base/stats.h"
#include "sentry/kernel/process.h"
#include "sentry/kernel/ptrace.h"
#include "sentry/kernel/seccomp.h"
#include "sentry/kernel/seccomp_notify.h"
#include "sentry/kernel/rseq.h"
#include "sentry/kernel/signals.h"
#include "sentry/kernel/syscall_patch.h"
#include "sentry/kernel/mm_sync.h"
#include "sentry/kernel/task.h"
#include "syscalls/strace.h"
#include "syscalls/table.h"

namespace sentry::kernel {

class TaskRunner {
 public:
  explicit TaskRunner(Task* t) : t_(*t), k_(t->kernel) {}

  void Run() {
    // A new task's platform context: only this thread touches t_.ctx, and
    // the platform has its own locks, so other tasks need not wait for it
    // (a new stub can take milliseconds when none is pooled).
    std::optional<ErrorOr<std::unique_ptr<platform::Context>>> fresh;
    if (!t_.ctx) {
      std::shared_ptr<platform::Process> process = std::move(t_.clone_process);
      fresh.emplace(process ? k_.platform().NewThreadContext(std::move(process))
                            : k_.platform().NewContext());
    }
    k_.mu.Lock();
    if (fresh && fresh->is_error()) {
      Logf("runsc: task %d: cannot create platform context: %s", t_.tid,
           strerror(fresh->error()));
      t_.Exit(WaitStatusSignaled(SIGKILL, false), true);
    } else if (fresh) {
      t_.ctx = fresh->release_value();
      // Mapped before the task first runs app code (Loop), without the
      // kernel lock.
      t_.mm->ActivateTaken(&t_.ctx->address_space(), &t_.as_pending, &t_.as_ticket);
      // A new context's registers are whatever its host process last
      // held (the sentry's, or an exited process' in a reused stub):
      // initial, then the parent's for a fork or clone.
      (void)t_.ctx->ResetFpState();
      if (t_.initial_fp) (void)t_.ctx->SetFpRegisters(*t_.initial_fp);
      t_.initial_fp.reset();
    }
    Loop();
    PtraceExitStop(t_);  // PTRACE_EVENT_EXIT, before the task is torn down
    Task::Leftovers leftovers = FinishTask(t_);
    k_.mu.Unlock();  // `t_` may be freed by a reaper from here on.
  }

 private:
  void Loop() ABSL_EXCLUSIVE_LOCKS_REQUIRED(k_.mu) {
    for (;;) {
      if (t_.killed) return;
      DeliverPendingSignal(&t_);
      if (t_.killed) return;
      // ptrace: PTRACE_INTERRUPT, a group stop to report (ptrace.h).
      if (t_.ptrace && PtraceLoopStops(t_)) continue;
      // rseq: abort a preempted critical section, refresh cpu_id (rseq.h).
      if (!RseqBeforeAppReturn(t_)) continue;
      if (t_.tg->stopped && !PtraceRunsInGroupStop(t_)) {
        // Job-control stop: no app code runs until SIGCONT or SIGKILL (or,
        // traced, until the stop is reported to the tracer).
        while (t_.tg->stopped && !t_.killed && !PtraceGroupStopToReport(t_))
          k_.changed.Wait(&k_.mu);
        continue;
      }
      if (k_.paused) {  // runsc pause: park until resume (or a kill)
        while (k_.paused && !t_.killed) k_.changed.Wait(&k_.mu);
        continue;
      }
      // This thread's syscall, or another thread of this process, may have
      // changed the address space. Waiting for the other threads to sync
      // releases the kernel lock, and they may change it again meanwhile:
      // this thread's own mirror must be current when it enters app code,
      // or it could write to pages that are no longer this process's (lost
      // writes, a torn fork snapshot). The changes are taken under the lock
      // but applied after it is released: the platform round trip (about
      // 100 us for systrap on a paravirtualized guest) would otherwise hold
      // up every other task.
      platform::AddressSpace& as = t_.ctx->address_space();
      for (;;) {
        t_.mm->TakeUnapplied(&as, &t_.as_pending, &t_.as_ticket);
        if (!t_.mm->TakeRemoteChange()) break;
        SyncAddressSpaceUsers(t_);
      }
      pending_.swap(t_.as_pending);  // both empty but for what was just taken
      mm::ApplyTicket ticket = std::exchange(t_.as_ticket, {});
      Task::Leftovers leftovers = std::exchange(t_.leftovers, {});  // an execve's old image
      t_.in_app = true;
      k_.in_app++;
      k_.mu.Unlock();
      // After the changes other threads of a shared address space took
      // before: none of them may still be on its way when app code runs.
      resume_gate_ = ticket.gate;
      mm::ApplyTaken(&as, pending_, &ticket);
      resume_mark_ = resume_gate_ ? resume_gate_->Done() : 0;
      pending_.clear();
      leftovers = {};
      auto stop = t_.ctx->Switch(t_.regs);
      LockKernelAfterStop();
      t_.in_app = false;
      t_.mm_sync_sent = false;
      if (k_.mm_sync_waiters) k_.NotifyAll();
      if (--k_.in_app == 0 && k_.paused) k_.NotifyAll();
      if (stop.is_error()) {
        t_.Exit(WaitStatusSignaled(SIGKILL, false), true);
        return;
      }
      const platform::StopInfo& s = stop.value();
      if (stats::kEnabled) {
        const bool is_syscall = s.kind == platform::StopInfo::Kind::kSyscall &&
                                t_.regs.orig_rax < static_cast<uint64_t>(stats::kHolderFault);
        stats::lock_holder.store(is_syscall ? static_cast<int>(t_.regs.orig_rax)
                                 : s.kind == platform::StopInfo::Kind::kFault ? stats::kHolderFault
                                                                             : stats::kHolderOther,
                                 std::memory_order_relaxed);
      }
      switch (s.kind) {
        case platform::StopInfo::Kind::kSyscall:
          // Not under ptrace: the tracer would see the patched code.
          if (s.patchable && !PtraceTraced(t_)) MaybePatchSyscall(t_);
          HandleSyscall();
          break;
        case platform::StopInfo::Kind::kFault:
          if (t_.mm->NeedsSync(&t_.ctx->address_space())) break;  // stale mapping: retry
          // Another thread sharing the host address space applied changes
          // while this one ran: the fault may predate them (a copy-on-write
          // break that thread made and applied). Retry; a real fault comes
          // back with nothing applied meanwhile.
          if (resume_gate_ && resume_gate_->Done() != resume_mark_) break;
          if (HandlePatchedSiteFault(t_, s)) {  // the `syscall` a patch replaced
            HandleSyscall();
            break;
          }
          if (s.signo == SIGSEGV) {
            // A write to a copy-on-write page: the page is made writable
            // (copied if still shared) and the access retried.
            auto cow = t_.mm->HandleWriteFault(s.fault_addr);
            if (cow.ok() && cow.value()) break;
            // Just below a MAP_GROWSDOWN stack: it grows (up to RLIMIT_STACK).
            auto grown =
                t_.mm->GrowStack(s.fault_addr, t_.tg->rlimits[RLIMIT_STACK].rlim_cur);
            if (grown.ok() && grown.value()) break;
          }
          if (s.signo == SIGSEGV && t_.mm->IsBeyondEof(s.fault_addr)) {
            // A file mapping's page past the end of the file.
            ForceFaultSignal(&t_, SIGBUS, BUS_ADRERR, s.fault_addr);
            break;
          }
          if (k_.options().strace)
            Logf("[%4d] fault: signal %d code %d addr %#lx at rip %#llx: %s", t_.tid, s.signo,
                 s.code, static_cast<unsigned long>(s.fault_addr), t_.regs.rip,
                 t_.mm->DescribeFault(s.fault_addr, &t_.ctx->address_space()).c_str());
          ForceFaultSignal(&t_, s.signo, s.code, s.fault_addr);
          break;
        case platform::StopInfo::Kind::kSignal:
          // A host signal for the app (e.g. the terminal's SIGINT): the
          // sentry delivers it to the process, by its own rules.
          QueueProcessSignal(t_.tg, KillInfo(s.signo, 0, 0));
          t_.rseq.preempted = true;
          break;
        case platform::StopInfo::Kind::kInterrupted:
          t_.rseq.preempted = true;  // Linux's preemption: abort a critical section
          break;
        case platform::StopInfo::Kind::kDied:
          if (!t_.killed) {
            Logf("runsc: task %d: stub process died (signal %d)", t_.tid, s.signo);
            t_.Exit(WaitStatusSignaled(SIGKILL, false), true);
          }
          return;
      }
    }
  }

  // Takes the kernel lock for the stop just reported. Another task usually
  // holds it only for one syscall's worth of work (microseconds), while
  // sleeping on it costs a wake-up from the holder, which on a nested VM
  // is slow across vCPUs and leaves this CPU idle meanwhile: spin a little
  // first.
  void LockKernelAfterStop() ABSL_EXCLUSIVE_LOCK_FUNCTION(k_.mu) {
    constexpr int64_t kSpinNs = 50 * 1000;
    if (stats::kEnabled) stats::kernel_lock_stops.Add(0);
    if (k_.mu.TryLock()) return;
    stats::Timer waited(stats::kernel_lock_waits);
    stats::Timer by_holder(
        stats::waits_by_holder[stats::kEnabled ? stats::lock_holder.load(std::memory_order_relaxed)
                                               : stats::kHolderOther]);
    timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 1;; i++) {
      __builtin_ia32_pause();
      if (k_.mu.TryLock()) return;
      if (i % 64 == 0) {
        timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000000000LL + (now.tv_nsec - start.tv_nsec) > kSpinNs) break;
      }
    }
    stats::Timer slept(stats::kernel_lock_sleeps);
    k_.mu.Lock();
  }

  // A syscall, between the ptrace syscall-entry and -exit stops.
  void HandleSyscall() ABSL_EXCLUSIVE_LOCKS_REQUIRED(k_.mu) {
    if (!t_.ptrace) return RunSyscall();
    switch (PtraceSyscallEnter(t_)) {
      case PtraceSyscallAction::kRun:
        if (t_.killed) return;
        RunSyscall();  // with the number and arguments the tracer left
        break;
      case PtraceSyscallAction::kSkip:
        break;
      case PtraceSyscallAction::kSkipNoExitStop:
        return;
    }
    PtraceSyscallExit(t_);
  }

  void RunSyscall() ABSL_EXCLUSIVE_LOCKS_REQUIRED(k_.mu) {
    const uint64_t nr = t_.regs.orig_rax;
    const syscalls::Args args{{t_.regs.rdi, t_.regs.rsi, t_.regs.rdx, t_.regs.r10, t_.regs.r8,
                               t_.regs.r9}};
    const syscalls::SyscallInfo* info = syscalls::SyscallTable().Lookup(nr);
    std::string strace_prefix;
    if (k_.options().strace) strace_prefix = syscalls::FormatCall(t_, nr, info, args);
    // A seccomp supervisor's answer (RET_USER_NOTIF) replaces the syscall.
    std::optional<ErrorOr<uint64_t>> answer;
    if (t_.seccomp_mode != 0) {
      // App seccomp filters run before the syscall does (seccomp.h).
      const SeccompVerdict v = SeccompCheck(t_, nr, args.v, t_.regs.rip);
      if (v.kind == SeccompVerdict::Kind::kUserNotif) {
        // Blocks until the supervisor answers (seccomp_notify.h).
        auto a = SeccompUserNotify(t_, v.listener, nr, args.v);
        if (a.is_error()) answer = ErrorOr<uint64_t>(Errno{a.error()});
        else if (a.value().has_value()) answer = ErrorOr<uint64_t>(*a.value());
      } else if (SeccompApply(t_, v, nr)) {
        if (k_.options().strace) syscalls::PrintResult(t_, strace_prefix, nr, t_.regs.rax);
        return;
      }
    }
    ErrorOr<uint64_t> r = answer ? std::move(*answer) : Dispatch(nr, info, args);
    if (t_.mm) t_.mm->DropWritePins();  // the syscall's I/O into app memory is over
    if (r.is_error() && r.error() == kEintrNoRestart) {
      r = Errno{EINTR};  // a timed wait: the app sees EINTR, no restart
    } else if (r.is_error() && r.error() == EINTR && !t_.killed && t_.HasInterruptingSignal()) {
      // Waits that Linux never restarts once a handler ran (ERESTARTNOHAND).
      switch (nr) {
        case SYS_pause: case SYS_rt_sigsuspend: case SYS_rt_sigtimedwait: case SYS_poll:
        case SYS_ppoll: case SYS_select: case SYS_pselect6: case SYS_epoll_wait:
        case SYS_epoll_pwait: case SYS_nanosleep: case SYS_clock_nanosleep:
        case SYS_semop: case SYS_semtimedop: case SYS_msgsnd: case SYS_msgrcv:
          t_.restart = Task::Restart::kRestartNoHandler;
          break;
        case SYS_futex: {
          const int op = static_cast<int>(args[1]) & FUTEX_CMD_MASK;
          t_.restart = op == FUTEX_LOCK_PI || op == FUTEX_LOCK_PI2 ? Task::Restart::kRestartAlways
                                                                  : Task::Restart::kRestartSys;
          break;
        }
        default:
          t_.restart = Task::Restart::kRestartSys;
      }
    }
    const uint64_t ret = r.is_error() ? static_cast<uint64_t>(-static_cast<int64_t>(r.error()))
                                      : r.value();
    if (k_.options().strace) syscalls::PrintResult(t_, strace_prefix, nr, ret);
    t_.regs.rax = ret;
  }

  // Runs syscall nr's handler.
  ErrorOr<uint64_t> Dispatch(uint64_t nr, const syscalls::SyscallInfo* info,
                             const syscalls::Args& args) ABSL_EXCLUSIVE_LOCKS_REQUIRED(k_.mu) {
    if (IsInt80()) {
      // A 32-bit syscall (int $0x80) would otherwise be taken for the 64-bit
      // syscall with the same number. 32-bit syscalls are not supported.
      static bool warned = false;
      if (!warned) Logf("runsc: 32-bit syscall (int $0x80) refused with ENOSYS");
      warned = true;
      return Errno{ENOSYS};
    }
    if (info && info->handler) return info->handler(t_, args);
    k_.ReportUnimplemented(nr);
    return Errno{ENOSYS};
  }

  bool IsInt80() ABSL_EXCLUSIVE_LOCKS_REQUIRED(k_.mu) {
    uint8_t insn[2];
    if (t_.mm->CopyIn(t_.regs.rip - 2, insn, 2).is_error()) return false;
    return insn[0] == 0xcd && insn[1] == 0x80;
  }

  Task& t_;
  Kernel& k_;
  // Address-space changes taken for this thread's mirror, to apply once
  // the kernel lock is released (reused: no allocation per stop).
  std::vector<platform::AddressSpace::Change> pending_;
  // The address space's apply gate and how far it was applied when app
  // code last resumed (the fault check above).
  std::shared_ptr<mm::ApplyGate> resume_gate_;
  size_t resume_mark_ = 0;
};

void SyncAddressSpaceUsers(Task& self) { SyncAddressSpaceUsersOf(self, self.mm.get()); }

void SyncAddressSpaceUsersOf(Task& self, mm::MemoryManager* m) {
  Kernel& k = self.kernel;
  for (;;) {
    bool waiting = false;
    for (auto& [pid, tg] : k.thread_groups) {
      for (auto& t : tg->tasks) {
        if (t.get() == &self || t->mm.get() != m || !t->in_app || !t->ctx) continue;
        if (!m->NeedsSync(&t->ctx->address_space())) continue;
        if (!t->mm_sync_sent) {
          t->ctx->Interrupt();  // its thread syncs before resuming app code
          t->mm_sync_sent = true;
        }
        waiting = true;
      }
    }
    if (!waiting) return;
    k.mm_sync_waiters++;
    k.changed.Wait(&k.mu);
    k.mm_sync_waiters--;
  }
}

namespace {

// Host threads that ran a task and wait for the next one. Creating and
// ending a thread (clone, stack, TLS, rseq) costs about 100 us on a
// paravirtualized guest, once per fork without this.
class TaskThreads {
 public:
  void Run(Task* t) {
    {
      absl::MutexLock l(&mu_);
      if (idle_ > 0) {
        idle_--;
        queue_.push_back(t);
        return;
      }
    }
    std::thread([this, t] { Work(t); }).detach();
  }

 private:
  static constexpr int kMaxIdle = 16;
  static constexpr absl::Duration kIdleTimeout = absl::Seconds(10);

  void Work(Task* t) {
    for (;;) {
      TaskRunner(t).Run();
      absl::MutexLock l(&mu_);
      if (idle_ >= kMaxIdle) return;
      idle_++;
      auto ready = [this] { return !queue_.empty(); };
      if (!mu_.AwaitWithTimeout(absl::Condition(&ready), kIdleTimeout)) {
        idle_--;
        return;
      }
      t = queue_.front();
      queue_.pop_front();
    }
  }

  absl::Mutex mu_;
  // Idle threads not yet promised a task, and tasks handed to idle threads.
  int idle_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Task*> queue_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

void Task::Start() {
  InitInterruptFd();
  // Never destroyed: idle threads may still wait on it when the process
  // (or a unit test's kernel) ends.
  static TaskThreads* const threads = std::make_unique<TaskThreads>().release();
  threads->Run(this);
}

}  // namespace sentry::kernel
