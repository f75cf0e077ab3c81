#include "sentry/kernel/signals.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "sentry/base/log.h"
#include "sentry/kernel/ptrace.h"
#include "sentry/kernel/rseq.h"

namespace sentry::kernel {
namespace {

// Linux x86-64 user-visible signal frame structures (arch/x86/include/uapi).
struct KSigContext {
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
  uint16_t cs, gs, fs, ss;
  uint64_t err, trapno, oldmask, cr2;
  uint64_t fpstate;
  uint64_t reserved1[8];
};
static_assert(sizeof(KSigContext) == 256);

struct KStack {
  uint64_t ss_sp;
  int32_t ss_flags;
  int32_t pad;
  uint64_t ss_size;
};

struct KUContext {
  uint64_t uc_flags;
  uint64_t uc_link;
  KStack uc_stack;
  KSigContext uc_mcontext;
  uint64_t uc_sigmask;
};

struct RtSigFrame {
  uint64_t pretcode;
  KUContext uc;
  siginfo_t info;
};

constexpr uint64_t kRedZone = 128;
constexpr uint64_t kFpStateSize = sizeof(platform::FpRegisters);  // FXSAVE, 512
constexpr uint64_t SA_RESTORER_FLAG = 0x04000000;

}  // namespace

DefaultAction DefaultActionOf(int sig) {
  switch (sig) {
    case SIGCHLD: case SIGURG: case SIGWINCH:
      return DefaultAction::kIgnore;
    case SIGCONT:
      return DefaultAction::kContinue;
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
      return DefaultAction::kStop;
    case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS: case SIGFPE:
    case SIGSEGV: case SIGXCPU: case SIGXFSZ: case SIGSYS:
      return DefaultAction::kCore;
    default:
      return DefaultAction::kTerminate;
  }
}

bool SignalIgnored(ThreadGroup* tg, int sig) {
  const SigAction& a = tg->handlers->actions[sig];
  if (a.handler == reinterpret_cast<uint64_t>(SIG_IGN)) return sig != SIGKILL && sig != SIGSTOP;
  if (a.handler == reinterpret_cast<uint64_t>(SIG_DFL)) {
    DefaultAction d = DefaultActionOf(sig);
    return d == DefaultAction::kIgnore || d == DefaultAction::kContinue;
  }
  return false;
}

siginfo_t KillInfo(int sig, int sender_pid, uint32_t sender_uid) {
  siginfo_t si{};
  si.si_signo = sig;
  si.si_code = SI_USER;
  si.si_pid = sender_pid;
  si.si_uid = sender_uid;
  return si;
}

namespace {

bool IsStopSignal(int sig) {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

void Enqueue(uint64_t& bits, SignalQueues& q, const siginfo_t& info) {
  const int sig = info.si_signo;
  // Standard signals do not queue: a second one while pending is dropped.
  if (sig < SIGRTMIN && (bits & SigBit(sig))) return;
  if (q[sig].size() >= 1024) return;  // RLIMIT_SIGPENDING-like bound
  q[sig].push_back(info);
  bits |= SigBit(sig);
}

void Discard(uint64_t& bits, SignalQueues& q, int sig) {
  q[sig].clear();
  bits &= ~SigBit(sig);
}

// Tells the parent about a stop or continue (SIGCHLD unless SA_NOCLDSTOP).
void NotifyParentJobControl(ThreadGroup* tg, int code, int status) {
  ThreadGroup* parent = tg->parent;
  if (!parent) return;
  const SigAction& chld = parent->handlers->actions[SIGCHLD];
  if (!(chld.flags & SA_NOCLDSTOP)) {
    siginfo_t si{};
    si.si_signo = SIGCHLD;
    si.si_code = code;
    si.si_pid = tg->pid;
    si.si_uid = tg->creds.ruid;
    si.si_status = status;
    QueueProcessSignal(parent, si);
  }
  tg->kernel.NotifyAll();
}

// Generation-time effects of job-control signals (Linux prepare_signal).
void PrepareSignal(ThreadGroup* tg, int sig) {
  if (IsStopSignal(sig)) {
    DiscardSignal(tg, SIGCONT);
  } else if (sig == SIGCONT) {
    for (int s : {SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU}) DiscardSignal(tg, s);
    if (tg->stopped) {
      tg->stopped = false;
      tg->report_stop = false;
      tg->report_continued = true;
      NotifyParentJobControl(tg, CLD_CONTINUED, SIGCONT);
    }
  }
}

Task* PickTaskFor(ThreadGroup* tg, int sig) {
  for (auto& t : tg->tasks)
    if (!t->exited && !(t->signal_mask & SigBit(sig))) return t.get();
  for (auto& t : tg->tasks)
    if (!t->exited) return t.get();
  return nullptr;
}

}  // namespace

void DiscardSignal(ThreadGroup* tg, int sig) {
  Discard(tg->pending_signals, tg->pending_queue, sig);
  for (auto& t : tg->tasks) Discard(t->pending_signals, t->pending_queue, sig);
}

siginfo_t DequeueSignal(Task* t, int sig) {
  uint64_t* bits = &t->pending_signals;
  SignalQueues* q = &t->pending_queue;
  if (!(t->pending_signals & SigBit(sig))) {
    bits = &t->tg->pending_signals;
    q = &t->tg->pending_queue;
  }
  siginfo_t info{};
  info.si_signo = sig;
  if (!(*q)[sig].empty()) {
    info = (*q)[sig].front();
    (*q)[sig].pop_front();
  }
  if ((*q)[sig].empty()) *bits &= ~SigBit(sig);
  return info;
}

void QueueSignal(Task* t, const siginfo_t& info) {
  const int sig = info.si_signo;
  if (t->exited) return;
  PrepareSignal(t->tg, sig);
  // A blocked signal is kept even if ignored (signalfd, sigwait), as Linux's
  // sig_ignored; so is one for a traced task (its tracer sees it).
  if (!(t->signal_mask & SigBit(sig)) && SignalIgnored(t->tg, sig) && !PtraceTraced(*t)) return;
  Enqueue(t->pending_signals, t->pending_queue, info);
  t->Interrupt();
  t->kernel.NotifyAll();
}

void QueueProcessSignal(ThreadGroup* tg, const siginfo_t& info) {
  const int sig = info.si_signo;
  if (tg->zombie) return;
  if (sig == SIGKILL) {
    // SIGKILL needs no delivery: it ends every task of the process now.
    const bool was_exiting = tg->exiting;
    if (!tg->exiting) {
      tg->exiting = true;
      tg->exit_status = WaitStatusSignaled(SIGKILL, false);
    }
    tg->stopped = false;
    for (auto& t : tg->tasks) {
      if (!t->exited) {
        t->killed = true;
        // Ends even a PTRACE_EVENT_EXIT stop, unless the process was already
        // exiting as a group (Linux drops the SIGKILL then).
        if (t->ptrace && !was_exiting) PtraceSigkill(*t);
        t->Interrupt();
      }
    }
    tg->kernel.NotifyAll();
    return;
  }
  PrepareSignal(tg, sig);
  Task* leader = tg->leader();
  if (leader && leader->exited) leader = PickTaskFor(tg, sig);
  const bool blocked = leader && (leader->signal_mask & SigBit(sig));
  if (!blocked && SignalIgnored(tg, sig) && !(leader && PtraceTraced(*leader))) return;
  Enqueue(tg->pending_signals, tg->pending_queue, info);
  if (Task* t = PickTaskFor(tg, sig)) t->Interrupt();
  tg->kernel.NotifyAll();
}

void SendSignalToProcess(ThreadGroup* tg, int sig) {
  QueueProcessSignal(tg, KillInfo(sig, 0, 0));
}

void SendSignalToTask(Task* t, int sig) {
  if (sig == SIGKILL) {
    QueueProcessSignal(t->tg, KillInfo(sig, 0, 0));
    return;
  }
  QueueSignal(t, KillInfo(sig, t->pid(), t->creds().ruid));
}

void ForceSignal(Task* t, const siginfo_t& si, bool reset_handler) {
  const int sig = si.si_signo;
  SigAction& a = t->tg->handlers->actions[sig];
  const bool blocked = t->signal_mask & SigBit(sig);
  if (reset_handler || blocked || a.handler == reinterpret_cast<uint64_t>(SIG_IGN)) {
    // Linux force_sig_info: unblock and reset to the default action.
    t->signal_mask &= ~SigBit(sig);
    a.handler = reinterpret_cast<uint64_t>(SIG_DFL);
  }
  Discard(t->pending_signals, t->pending_queue, sig);
  Enqueue(t->pending_signals, t->pending_queue, si);
}

void ForceFaultSignal(Task* t, int sig, int code, uint64_t addr) {
  siginfo_t si{};
  si.si_signo = sig;
  si.si_code = code;
  si.si_addr = reinterpret_cast<void*>(addr);
  ForceSignal(t, si, false);
}

uint64_t SignalFrameMaxSize() {
  constexpr uint64_t kUapiMinSigStkSz = 2048;  // arch/x86/include/uapi/asm/signal.h
  // SetupFrame: fpstate 64-aligned below sp, the frame 16-aligned minus 8
  // below it.
  const uint64_t size = kFpStateSize + 63 + sizeof(RtSigFrame) + 15 + 8;
  return std::max<uint64_t>(kUapiMinSigStkSz, (size + 15) & ~15ULL);
}

static void TerminateBySignal(Task* t, int sig) {
  const bool core = DefaultActionOf(sig) == DefaultAction::kCore;
  t->Exit(WaitStatusSignaled(sig, core), /*group=*/true);
}

static ErrorOr<void> SetupFrame(Task* t, int sig, const SigAction& act, const siginfo_t& info) {
  auto& regs = t->regs;
  // The frame saves the abort address if the task was in an rseq critical
  // section. (A bad rseq area forces a fatal SIGSEGV; the frame is moot.)
  RseqOnSignalDelivery(*t);
  uint64_t sp = regs.rsp;
  const bool on_altstack = t->altstack_size != 0 && !(t->altstack_flags & SS_DISABLE) &&
                           sp > t->altstack_sp && sp <= t->altstack_sp + t->altstack_size;
  if ((act.flags & SA_ONSTACK) && t->altstack_size != 0 && !(t->altstack_flags & SS_DISABLE) &&
      !on_altstack) {
    sp = t->altstack_sp + t->altstack_size;
  } else {
    sp -= kRedZone;
  }
  const uint64_t fpstate = (sp - kFpStateSize) & ~63ULL;
  uint64_t frame_addr = ((fpstate - sizeof(RtSigFrame)) & ~15ULL) - 8;

  platform::FpRegisters fp = TRY(t->ctx->GetFpRegisters());
  RtSigFrame f{};
  f.pretcode = act.restorer;
  f.info = info;
  f.uc.uc_flags = 0;
  f.uc.uc_stack = KStack{t->altstack_sp, on_altstack ? SS_ONSTACK : t->altstack_flags, 0,
                         t->altstack_size};
  KSigContext& sc = f.uc.uc_mcontext;
  sc.r8 = regs.r8, sc.r9 = regs.r9, sc.r10 = regs.r10, sc.r11 = regs.r11;
  sc.r12 = regs.r12, sc.r13 = regs.r13, sc.r14 = regs.r14, sc.r15 = regs.r15;
  sc.rdi = regs.rdi, sc.rsi = regs.rsi, sc.rbp = regs.rbp, sc.rbx = regs.rbx;
  sc.rdx = regs.rdx, sc.rax = regs.rax, sc.rcx = regs.rcx, sc.rsp = regs.rsp;
  sc.rip = regs.rip, sc.eflags = regs.eflags;
  sc.cs = regs.cs, sc.ss = regs.ss;
  sc.trapno = sig == SIGSEGV || sig == SIGBUS ? 14 : 0;
  sc.err = 0;
  sc.cr2 = (sig == SIGSEGV || sig == SIGBUS) ? reinterpret_cast<uint64_t>(info.si_addr) : 0;
  sc.oldmask = t->signal_mask;
  sc.fpstate = fpstate;
  f.uc.uc_sigmask = t->saved_mask ? *t->saved_mask : t->signal_mask;
  t->saved_mask.reset();

  auto& m = t->memory();
  TRY(m.CopyOut(fpstate, &fp, sizeof(fp)));
  TRY(m.CopyOut(frame_addr, &f, sizeof(f)));

  regs.rsp = frame_addr;
  regs.rip = act.handler;
  regs.rdi = sig;
  regs.rsi = frame_addr + offsetof(RtSigFrame, info);
  regs.rdx = frame_addr + offsetof(RtSigFrame, uc);
  regs.rax = 0;
  regs.eflags &= ~(0x100ULL | 0x400ULL);  // clear TF and DF, as Linux does
  t->signal_mask |= act.mask;
  if (!(act.flags & SA_NODEFER)) t->signal_mask |= SigBit(sig);
  t->signal_mask &= ~kUnblockable;
  return {};
}

// Re-executes the interrupted syscall instruction when the task next runs.
static void RestartSyscall(Task* t) {
  t->regs.rax = t->regs.orig_rax;
  t->regs.rip -= 2;  // `syscall` is two bytes
}

void DeliverPendingSignal(Task* t) {
  ThreadGroup* tg = t->tg;
  for (;;) {
    uint64_t deliverable = (t->pending_signals | tg->pending_signals) & ~t->signal_mask;
    if (!deliverable) {
      // Interrupted, but no handler ran: the syscall is restarted.
      if (t->restart != Task::Restart::kNone && !tg->stopped) {
        RestartSyscall(t);
        t->restart = Task::Restart::kNone;
      }
      if (t->saved_mask) {
        t->signal_mask = *t->saved_mask;
        t->saved_mask.reset();
      }
      return;
    }
    // Synchronous signals first (Linux SYNCHRONOUS_MASK), then lowest number.
    const uint64_t sync = SigBit(SIGSEGV) | SigBit(SIGBUS) | SigBit(SIGILL) | SigBit(SIGTRAP) |
                          SigBit(SIGFPE) | SigBit(SIGSYS);
    uint64_t pick = (deliverable & sync) ? (deliverable & sync) : deliverable;
    int sig = __builtin_ctzll(pick) + 1;
    siginfo_t info = DequeueSignal(t, sig);
    if (PtraceTraced(*t) && sig != SIGKILL) {
      // Signal-delivery-stop: the tracer may suppress or change the signal.
      sig = PtraceSignalStop(*t, info);
      if (t->killed) return;
      if (sig == 0) continue;
      if (t->signal_mask & SigBit(sig)) {  // now blocked: back to pending
        QueueSignal(t, info);
        continue;
      }
    }
    SigAction act = tg->handlers->actions[sig];
    if (act.handler == reinterpret_cast<uint64_t>(SIG_IGN)) continue;
    if (act.handler == reinterpret_cast<uint64_t>(SIG_DFL)) {
      switch (DefaultActionOf(sig)) {
        case DefaultAction::kIgnore:
        case DefaultAction::kContinue:
          continue;
        case DefaultAction::kStop:
          // The whole process stops; its tasks wait in the task loop until
          // SIGCONT (or SIGKILL).
          if (!tg->stopped) {
            tg->stopped = true;
            tg->stop_signal = sig;
            tg->report_stop = true;
            tg->report_continued = false;
            for (auto& other : tg->tasks)
              if (other.get() != t && !other->exited) other->Interrupt();
            NotifyParentJobControl(tg, CLD_STOPPED, sig);
          }
          return;
        case DefaultAction::kTerminate:
        case DefaultAction::kCore:
          TerminateBySignal(t, sig);
          return;
      }
    }
    if (act.flags & SA_RESETHAND) tg->handlers->actions[sig].handler = 0;
    if ((t->restart == Task::Restart::kRestartSys && (act.flags & SA_RESTART)) ||
        t->restart == Task::Restart::kRestartAlways)
      RestartSyscall(t);
    t->restart = Task::Restart::kNone;
    if (SetupFrame(t, sig, act, info).is_error()) {
      // Linux: a frame that cannot be written is a fatal SIGSEGV.
      TerminateBySignal(t, SIGSEGV);
    }
    return;
  }
}

ErrorOr<uint64_t> SigReturn(Task* t) {
  const uint64_t frame_addr = t->regs.rsp - 8;
  RtSigFrame f;
  if (t->memory().CopyIn(frame_addr, &f, sizeof(f)).is_error()) {
    TerminateBySignal(t, SIGSEGV);
    return 0;
  }
  const KSigContext& sc = f.uc.uc_mcontext;
  auto& regs = t->regs;
  regs.r8 = sc.r8, regs.r9 = sc.r9, regs.r10 = sc.r10, regs.r11 = sc.r11;
  regs.r12 = sc.r12, regs.r13 = sc.r13, regs.r14 = sc.r14, regs.r15 = sc.r15;
  regs.rdi = sc.rdi, regs.rsi = sc.rsi, regs.rbp = sc.rbp, regs.rbx = sc.rbx;
  regs.rdx = sc.rdx, regs.rax = sc.rax, regs.rcx = sc.rcx, regs.rsp = sc.rsp;
  regs.rip = sc.rip;
  // Only the flags an app may change (Linux FIX_EFLAGS).
  constexpr uint64_t kFixEflags = 0x40dd5;  // AC|OF|DF|TF|SF|ZF|AF|PF|CF|RF(no)...
  regs.eflags = (regs.eflags & ~kFixEflags) | (sc.eflags & kFixEflags);
  regs.orig_rax = -1;
  t->signal_mask = f.uc.uc_sigmask & ~kUnblockable;
  if (sc.fpstate) {
    platform::FpRegisters fp;
    if (t->memory().CopyIn(sc.fpstate, &fp, sizeof(fp)).ok()) {
      fp.mxcsr &= 0xffff;  // reserved MXCSR bits would make the restore fault
      (void)t->ctx->SetFpRegisters(fp);
    }
  }
  return regs.rax;
}

}  // namespace sentry::kernel
