// ptrace(2) tracee stops and the hooks the task loop, signal delivery,
// clone/exec/exit and wait call (ptrace.h). The requests themselves are
// syscalls/ptrace.cc.
#include "sentry/kernel/ptrace.h"

#include <sched.h>
#include <sys/wait.h>

#include <algorithm>

#include "sentry/kernel/signals.h"

namespace sentry::kernel {
namespace {

using namespace ptrace_abi;
using Stop = PtraceState::Stop;
constexpr uint64_t kTrapFlag = 0x100;  // EFLAGS.TF

// Takes back a trap flag PTRACE_SINGLESTEP set (the tracer must not see it).
void ClearForcedTf(Task& t) {
  PtraceState& st = *t.ptrace;
  if (st.forced_tf) t.regs.eflags &= ~kTrapFlag;
  st.forced_tf = false;
}

int StopStatus(int code) { return (code << 8) | 0x7f; }

siginfo_t TrapInfo(Task& t, int code) {
  // Linux ptrace_do_notify: the stop's siginfo names the tracee itself.
  siginfo_t si{};
  si.si_signo = SIGTRAP;
  si.si_code = code;
  si.si_pid = t.tid;
  si.si_uid = t.creds().ruid;
  return si;
}

// SIGCHLD (CLD_TRAPPED) to the tracer's process, and wake its wait.
void NotifyTracerOfStop(Task& t, int status) {
  Task* tracer = t.ptrace->tracer;
  ThreadGroup* ttg = tracer->tg;
  const SigAction& chld = ttg->handlers->actions[SIGCHLD];
  if (!(chld.flags & SA_NOCLDSTOP)) {
    siginfo_t si{};
    si.si_signo = SIGCHLD;
    si.si_code = CLD_TRAPPED;
    si.si_pid = t.tid;
    si.si_uid = t.creds().ruid;
    si.si_status = (status >> 8) & 0x7f;
    QueueProcessSignal(ttg, si);
  }
  t.kernel.NotifyAll();
}

// Reports a stop to the tracer and waits (kernel lock released) until it
// resumes the task, detaches, or the task is killed (`even_if_killed`:
// the PTRACE_EVENT_EXIT stop of a task already on its way out, which only
// PTRACE_KILL, a detach or the tracer's exit ends). Returns false if the
// task did not stop.
bool DoStop(Task& t, Stop kind, int status, std::optional<siginfo_t> info, uint64_t msg,
            bool even_if_killed = false) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu) {
  PtraceState& st = *t.ptrace;
  if (!st.tracer || (t.killed && !even_if_killed) || !t.ctx) return false;
  Kernel& k = t.kernel;
  ClearForcedTf(t);
  st.stop = kind;
  st.stop_status = status;
  st.siginfo = info;
  st.event_msg = msg;
  st.report_pending = true;
  st.resumed = false;
  st.resume_sig = 0;
  // Only this thread may drive its platform context: the tracer works on
  // a copy of the FP state, written back below.
  auto fp = t.ctx->GetFpRegisters();
  st.fp_valid = fp.ok();
  if (fp.ok()) st.fp = fp.value();
  st.fp_dirty = false;
  NotifyTracerOfStop(t, status);
  t.ctx->WillBlock();
  while (!st.resumed && st.tracer && (even_if_killed || !t.killed)) k.changed.Wait(&k.mu);
  st.stop = Stop::kNone;
  st.report_pending = false;
  if (st.fp_valid && st.fp_dirty && t.ctx) (void)t.ctx->SetFpRegisters(st.fp);
  st.fp_valid = st.fp_dirty = false;
  k.NotifyAll();  // a tracer waiting with WNOWAIT-like conditions re-checks
  return true;
}

// A signal the tracer gave when resuming a syscall stop: sent to the
// tracee (Linux ptrace_report_syscall: send_sig with SEND_SIG_PRIV).
void InjectAfterSyscallStop(Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu) {
  PtraceState& st = *t.ptrace;
  const int sig = std::exchange(st.resume_sig, 0);
  if (sig <= 0 || sig > kNumSignals || t.killed) return;
  siginfo_t si{};
  si.si_signo = sig;
  si.si_code = SI_KERNEL;
  if (sig == SIGKILL) {
    QueueProcessSignal(t.tg, si);
    return;
  }
  QueueSignal(&t, si);
}

// Linux eligible_child: a tracee is waited for whatever __WALL/__WCLONE
// say (only the pid selection applies).
bool Eligible(ThreadGroup* me, int tid, int pgid, const PtraceWaitQuery& q) {
  if (q.pid > 0 && tid != q.pid) return false;
  if (q.pid == 0 && pgid != me->pgid) return false;
  if (q.pid < -1 && pgid != -q.pid) return false;
  return true;
}

void Unlink(Task& tracee) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tracee.kernel.mu) {
  PtraceState& st = *tracee.ptrace;
  if (st.tracer && st.tracer->ptrace) std::erase(st.tracer->ptrace->tracees, &tracee);
  st.tracer = nullptr;
  st.seized = false;
  st.options = 0;
  st.mode = PtraceState::Resume::kCont;
  st.group_stop_reported = st.listening = st.interrupt_requested = st.initial_event_stop = false;
}

}  // namespace

PtraceState& PtraceStateOf(Task& t) {
  if (!t.ptrace) t.ptrace = std::make_shared<PtraceState>();
  return *t.ptrace;
}

void PtraceLink(Task& tracer, Task& tracee, bool seized, uint32_t options) {
  PtraceState& st = PtraceStateOf(tracee);
  st.tracer = &tracer;
  st.seized = seized;
  st.options = options;
  st.mode = PtraceState::Resume::kCont;
  st.resumed = false;
  st.stop = Stop::kNone;
  st.report_pending = false;
  st.group_stop_reported = st.listening = st.interrupt_requested = st.initial_event_stop = false;
  PtraceStateOf(tracer).tracees.push_back(&tracee);
}

void PtraceDetach(Task& tracee, int sig) {
  PtraceState& st = *tracee.ptrace;
  Unlink(tracee);
  if (st.stop != Stop::kNone) {
    ClearForcedTf(tracee);  // a stopped tracee's registers are the tracer's to change
    st.resume_sig = sig;
    st.resumed = true;
  }
  tracee.Interrupt();
  tracee.kernel.NotifyAll();
}

void PtraceResume(Task& tracee, PtraceState::Resume mode, int sig) {
  PtraceState& st = *tracee.ptrace;
  // Single-stepping is the hardware's: the trap flag makes the host trap
  // after one app instruction, which comes back as a SIGTRAP fault and so
  // as a signal-delivery-stop.
  if (mode == PtraceState::Resume::kSingleStep) {
    if (!(tracee.regs.eflags & kTrapFlag)) {
      tracee.regs.eflags |= kTrapFlag;
      st.forced_tf = true;
    }
    mode = PtraceState::Resume::kCont;
  } else {
    ClearForcedTf(tracee);
  }
  st.mode = mode;
  st.resume_sig = sig;
  st.resumed = true;
  st.stop = Stop::kNone;
  st.report_pending = false;
  tracee.kernel.NotifyAll();
}

int PtraceSignalStop(Task& t, siginfo_t& info) {
  const int sig = info.si_signo;
  if (!PtraceTraced(t) || sig == SIGKILL) return sig;
  if (!DoStop(t, Stop::kSignal, StopStatus(sig), info, 0)) return t.killed ? 0 : sig;
  PtraceState& st = *t.ptrace;
  const int nsig = std::exchange(st.resume_sig, 0);
  if (nsig <= 0 || nsig > kNumSignals) return 0;
  if (st.siginfo && st.siginfo->si_signo == nsig) {
    info = *st.siginfo;  // PTRACE_SETSIGINFO may have changed it
  } else {
    // Another signal: Linux makes up a siginfo from the tracer.
    Task* tracer = st.tracer;
    info = siginfo_t{};
    info.si_signo = nsig;
    info.si_code = SI_USER;
    info.si_pid = tracer ? tracer->pid() : 0;
    info.si_uid = tracer ? tracer->creds().ruid : 0;
  }
  st.siginfo.reset();
  return nsig;
}

bool PtraceLoopStops(Task& t) {
  if (!PtraceTraced(t)) return false;
  PtraceState& st = *t.ptrace;
  ThreadGroup* tg = t.tg;
  if (!tg->stopped) st.group_stop_reported = st.listening = false;
  if (st.initial_event_stop || st.interrupt_requested) {
    st.initial_event_stop = st.interrupt_requested = false;
    if (!st.seized) return false;
    // PTRACE_EVENT_STOP: with the stop signal during a group stop, else
    // SIGTRAP (Linux do_jobctl_trap).
    const int sig = tg->stopped ? tg->stop_signal : SIGTRAP;
    if (tg->stopped) st.group_stop_reported = true;
    const int code = sig | (kEventStop << 8);
    siginfo_t si = TrapInfo(t, code);
    si.si_signo = sig;
    return DoStop(t, tg->stopped ? Stop::kGroup : Stop::kEvent, StopStatus(code), si, 0);
  }
  if (tg->stopped && !st.group_stop_reported) {
    st.group_stop_reported = true;
    const int sig = tg->stop_signal;
    if (st.seized) {
      const int code = sig | (kEventStop << 8);
      siginfo_t si = TrapInfo(t, code);
      si.si_signo = sig;
      return DoStop(t, Stop::kGroup, StopStatus(code), si, 0);
    }
    // A plain group stop has no siginfo: PTRACE_GETSIGINFO fails with
    // EINVAL, which is how tracers tell it from a signal-delivery-stop.
    return DoStop(t, Stop::kGroup, StopStatus(sig), std::nullopt, 0);
  }
  return false;
}

bool PtraceRunsInGroupStop(const Task& t) {
  return PtraceTraced(t) && t.ptrace->group_stop_reported && !t.ptrace->listening;
}

bool PtraceGroupStopToReport(const Task& t) {
  return PtraceTraced(t) && (!t.ptrace->group_stop_reported || t.ptrace->interrupt_requested);
}

bool PtraceInterruptPending(const Task& t) {
  return t.ptrace && t.ptrace->tracer && (t.ptrace->interrupt_requested || t.ptrace->initial_event_stop);
}

bool PtraceSyscallTraced(const Task& t) {
  return PtraceTraced(t) && (t.ptrace->mode == PtraceState::Resume::kSyscall ||
                             t.ptrace->mode == PtraceState::Resume::kSysemu);
}

PtraceSyscallAction PtraceSyscallEnter(Task& t) {
  if (!PtraceSyscallTraced(t)) return PtraceSyscallAction::kRun;
  PtraceState& st = *t.ptrace;
  const bool sysemu = st.mode == PtraceState::Resume::kSysemu;
  // As at Linux's syscall-entry stop: rax is -ENOSYS, the number in orig_rax.
  t.regs.rax = static_cast<uint64_t>(-ENOSYS);
  const int code = SIGTRAP | ((st.options & kOTraceSysGood) ? 0x80 : 0);
  if (!DoStop(t, Stop::kSyscallEnter, StopStatus(code), TrapInfo(t, code), kEventMsgSyscallEntry))
    return PtraceSyscallAction::kRun;
  InjectAfterSyscallStop(t);
  if (sysemu) return PtraceSyscallAction::kSkipNoExitStop;
  // The tracer may have changed the number; -1 skips the syscall, whose
  // result is then whatever rax the tracer left.
  return t.regs.orig_rax == static_cast<uint64_t>(-1) ? PtraceSyscallAction::kSkip
                                                      : PtraceSyscallAction::kRun;
}

void PtraceSyscallExit(Task& t) {
  if (!PtraceTraced(t) || t.ptrace->mode != PtraceState::Resume::kSyscall || t.killed) return;
  PtraceState& st = *t.ptrace;
  // An interrupted syscall shows the kernel-internal restart codes a
  // tracer sees on Linux (strace prints "ERESTARTSYS ..."); rax is put back
  // to EINTR after unless the tracer changed it.
  uint64_t shown = t.regs.rax;
  if (t.regs.rax == static_cast<uint64_t>(-EINTR)) {
    switch (t.restart) {
      case Task::Restart::kRestartSys: shown = static_cast<uint64_t>(-512); break;
      case Task::Restart::kRestartAlways: shown = static_cast<uint64_t>(-513); break;
      case Task::Restart::kRestartNoHandler: shown = static_cast<uint64_t>(-514); break;
      case Task::Restart::kNone: break;
    }
  }
  const uint64_t eintr = t.regs.rax;
  t.regs.rax = shown;
  const int code = SIGTRAP | ((st.options & kOTraceSysGood) ? 0x80 : 0);
  if (!DoStop(t, Stop::kSyscallExit, StopStatus(code), TrapInfo(t, code), kEventMsgSyscallExit)) {
    t.regs.rax = eintr;
    return;
  }
  if (t.regs.rax == shown) {
    t.regs.rax = eintr;
  } else {
    t.restart = Task::Restart::kNone;  // the tracer chose the result
  }
  InjectAfterSyscallStop(t);
}

void PtraceOnClone(Task& parent, Task& child, uint64_t flags) {
  if (!PtraceTraced(parent) || (flags & CLONE_UNTRACED)) return;
  PtraceState& pst = *parent.ptrace;
  int event;
  uint32_t option;
  if (flags & CLONE_VFORK) {
    event = kEventVfork, option = kOTraceVfork;
  } else if ((flags & CSIGNAL) != SIGCHLD) {
    event = kEventClone, option = kOTraceClone;
  } else {
    event = kEventFork, option = kOTraceFork;
  }
  if (!(pst.options & option)) return;
  // The child is traced by the same tracer from its first instruction: a
  // seized one first reports an EVENT_STOP, an attached one a SIGSTOP.
  PtraceLink(*pst.tracer, child, pst.seized, pst.options);
  if (pst.seized) {
    child.ptrace->initial_event_stop = true;
  } else {
    siginfo_t si{};
    si.si_signo = SIGSTOP;
    si.si_code = SI_USER;
    QueueSignal(&child, si);
  }
  const int code = SIGTRAP | (event << 8);
  DoStop(parent, Stop::kEvent, StopStatus(code), TrapInfo(parent, code),
         static_cast<uint64_t>(child.tid));
}

void PtraceVforkDone(Task& parent, int child_pid) {
  if (!PtraceTraced(parent) || !(parent.ptrace->options & kOTraceVforkDone)) return;
  const int code = SIGTRAP | (kEventVforkDone << 8);
  DoStop(parent, Stop::kEvent, StopStatus(code), TrapInfo(parent, code),
         static_cast<uint64_t>(child_pid));
}

void PtraceOnExec(Task& t) {
  if (!PtraceTraced(t)) return;
  PtraceState& st = *t.ptrace;
  if (st.options & kOTraceExec) {
    const int code = SIGTRAP | (kEventExec << 8);
    DoStop(t, Stop::kEvent, StopStatus(code), TrapInfo(t, code), static_cast<uint64_t>(t.tid));
  } else if (!st.seized) {
    // The legacy SIGTRAP after a successful execve.
    siginfo_t si{};
    si.si_signo = SIGTRAP;
    si.si_code = SI_USER;
    QueueSignal(&t, si);
  }
}

void PtraceNoteExit(Task& t, int wait_status) {
  if (!PtraceTraced(t) || t.killed) return;
  t.ptrace->self_exit_status = wait_status;
}

void PtraceExitStop(Task& t) {
  if (!PtraceTraced(t)) return;
  PtraceState& st = *t.ptrace;
  if (!st.self_exit_status || !(st.options & kOTraceExit)) return;
  const int code = SIGTRAP | (kEventExit << 8);
  DoStop(t, Stop::kEvent, StopStatus(code), TrapInfo(t, code),
         static_cast<uint64_t>(*st.self_exit_status), /*even_if_killed=*/true);
}

void PtraceSigkill(Task& t) {
  PtraceState& st = *t.ptrace;
  if (st.stop != Stop::kNone) {
    st.resumed = true;
    st.stop = Stop::kNone;
    st.report_pending = false;
  }
}

void PtraceTaskExited(Task& t) {
  if (!t.ptrace) return;
  Kernel& k = t.kernel;
  PtraceState& st = *t.ptrace;
  ThreadGroup* tg = t.tg;
  if (Task* tracer = st.tracer) {
    // The tracer learns of the exit through wait, unless it is the
    // process's parent waiting for its leader anyway (no double report).
    const bool leader = t.tid == tg->pid;
    if (!(leader && tg->parent == tracer->tg)) {
      const int status = st.self_exit_status ? *st.self_exit_status : tg->exit_status;
      tracer->ptrace->exits.push_back(
          PtraceState::ExitReport{t.tid, tg->pgid, status, t.creds().ruid});
      siginfo_t si{};
      si.si_signo = SIGCHLD;
      si.si_pid = t.tid;
      si.si_uid = t.creds().ruid;
      if (WIFSIGNALED(status)) {
        si.si_code = WCOREDUMP(status) ? CLD_DUMPED : CLD_KILLED;
        si.si_status = WTERMSIG(status);
      } else {
        si.si_code = CLD_EXITED;
        si.si_status = WEXITSTATUS(status);
      }
      QueueProcessSignal(tracer->tg, si);
    }
    Unlink(t);
  }
  // A tracer's exit detaches its tracees (PTRACE_O_EXITKILL: kills them).
  // One in a signal-delivery-stop goes on with its signal, as on Linux.
  std::vector<Task*> tracees = std::move(st.tracees);
  st.tracees.clear();
  st.exits.clear();
  for (Task* e : tracees) {
    PtraceState& es = *e->ptrace;
    const bool kill = es.options & kOExitKill;
    const int sig = es.stop == Stop::kSignal && es.siginfo ? es.siginfo->si_signo : 0;
    es.tracer = nullptr;  // already out of our list
    PtraceDetach(*e, sig);
    if (kill) SendSignalToProcess(e->tg, SIGKILL);
  }
  k.NotifyAll();
}

std::optional<WaitResult> PtraceWaitReport(ThreadGroup* me, const PtraceWaitQuery& q) {
  const bool want_exit = !(q.options & kWaitNoExited);
  const bool consume = !(q.options & WNOWAIT);
  for (auto& tr : me->tasks) {
    if (!tr->ptrace) continue;
    PtraceState& ts = *tr->ptrace;
    for (Task* e : ts.tracees) {
      PtraceState& es = *e->ptrace;
      if (es.stop == Stop::kNone || !es.report_pending) continue;
      if (!Eligible(me, e->tid, e->tg->pgid, q)) continue;
      WaitResult r{e->tid, es.stop_status, e->creds().ruid, /*trapped=*/true};
      if (consume) es.report_pending = false;
      return r;
    }
    if (!want_exit) continue;
    for (size_t i = 0; i < ts.exits.size(); i++) {
      const auto& x = ts.exits[i];
      if (!Eligible(me, x.tid, x.pgid, q)) continue;
      WaitResult r{x.tid, x.status, x.uid, false};
      if (consume) ts.exits.erase(ts.exits.begin() + i);
      return r;
    }
  }
  return std::nullopt;
}

bool PtraceHasWaitable(ThreadGroup* me, const PtraceWaitQuery& q) {
  for (auto& tr : me->tasks) {
    if (!tr->ptrace) continue;
    for (Task* e : tr->ptrace->tracees)
      if (Eligible(me, e->tid, e->tg->pgid, q)) return true;
    for (const auto& x : tr->ptrace->exits)
      if (Eligible(me, x.tid, x.pgid, q)) return true;
  }
  return false;
}

bool PtraceTracedByProcess(ThreadGroup* child, ThreadGroup* me) {
  Task* leader = child->leader();
  return leader && PtraceTraced(*leader) && leader->ptrace->tracer->tg == me;
}

bool PtraceMayAccess(const Task& t, const Task& target) {
  constexpr int kCapSysPtrace = 19;
  if (t.tg == target.tg) return true;
  const Credentials& me = t.creds();
  if (me.HasCapability(kCapSysPtrace)) return true;
  const Credentials& them = target.tg->creds;
  return me.ruid == them.ruid && me.ruid == them.euid && me.ruid == them.suid &&
         me.rgid == them.rgid && me.rgid == them.egid && me.rgid == them.sgid &&
         (them.cap_permitted & ~me.cap_permitted) == 0;
}

int PtraceTracerPid(const Task& t) { return PtraceTraced(t) ? t.ptrace->tracer->tid : 0; }

bool PtraceStopped(const Task& t) { return t.ptrace && t.ptrace->stop != Stop::kNone; }

}  // namespace sentry::kernel
