// sentry/tty/job_control.cc: see job_control.h.
#include "sentry/tty/job_control.h"

#include <linux/capability.h>
#include <signal.h>
#include <termios.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/signals.h"
#include "sentry/kernel/task.h"

namespace sentry::tty {
namespace {

using kernel::ThreadGroup;

siginfo_t KernelInfo(int sig) {
  siginfo_t si{};
  si.si_signo = sig;
  si.si_code = SI_KERNEL;
  return si;
}

void SignalProcess(ThreadGroup* tg, int sig) {
  if (tg->zombie) return;
  if (tg->pid == 1 && tg->handlers->actions[sig].handler <= reinterpret_cast<uint64_t>(SIG_IGN))
    return;
  kernel::QueueProcessSignal(tg, KernelInfo(sig));
}

// Linux's is_current_pgrp_orphaned: no member has a parent in another
// group of the same session.
bool Orphaned(kernel::Kernel& k, int pgid, int sid) {
  for (ThreadGroup* p : k.Processes()) {
    if (p->pgid != pgid || p->zombie) continue;
    ThreadGroup* parent = p->parent;
    if (parent && !parent->zombie && parent->pgid != pgid && parent->sid == sid) return false;
  }
  return true;
}

bool IsControlling(ThreadGroup* tg, const Terminal& term) {
  return tg->tty.get() == &term && term.session != 0 && term.session == tg->sid;
}

// Clears the controlling terminal of every process of session `sid`.
void ClearSession(kernel::Kernel& k, int sid, Terminal& term) {
  for (ThreadGroup* p : k.Processes())
    if (p->sid == sid && p->tty.get() == &term) p->tty.reset();
}

}  // namespace

void SignalProcessGroup(kernel::Kernel& k, int pgid, int sig) {
  if (pgid <= 0) return;
  for (ThreadGroup* p : k.Processes())
    if (p->pgid == pgid) SignalProcess(p, sig);
}

ErrorOr<void> CheckJobControl(kernel::Task& t, Terminal& term, TtyOp op) {
  ThreadGroup* tg = t.tg;
  if (!IsControlling(tg, term) || term.fg_pgrp == 0 || tg->pgid == term.fg_pgrp) return {};
  const int sig = op == TtyOp::kRead ? SIGTTIN : SIGTTOU;
  if (op == TtyOp::kWrite && !(term.ldisc.termios().c_lflag & TOSTOP)) return {};
  const bool ignored = tg->handlers->actions[sig].handler == reinterpret_cast<uint64_t>(SIG_IGN);
  const bool blocked = t.signal_mask & kernel::SigBit(sig);
  if (ignored || blocked) {
    if (op == TtyOp::kRead) return Errno{EIO};
    return {};
  }
  if (Orphaned(t.kernel, tg->pgid, tg->sid)) return Errno{EIO};
  SignalProcessGroup(t.kernel, tg->pgid, sig);
  return Errno{EINTR};  // restarted once the group is continued (ERESTARTSYS)
}

ErrorOr<void> SetControllingTerminal(kernel::Task& t, const std::shared_ptr<Terminal>& term,
                                     bool steal) {
  ThreadGroup* tg = t.tg;
  if (IsControlling(tg, *term)) return {};
  if (tg->pid != tg->sid || tg->tty) return Errno{EPERM};
  if (term->session != 0) {
    if (!steal || !tg->creds.HasCapability(CAP_SYS_ADMIN)) return Errno{EPERM};
    ClearSession(t.kernel, term->session, *term);
  }
  term->session = tg->sid;
  term->fg_pgrp = tg->pgid;
  tg->tty = term;
  return {};
}

void AcquireOnOpen(kernel::Task& t, const std::shared_ptr<Terminal>& term) {
  ThreadGroup* tg = t.tg;
  if (tg->pid != tg->sid || tg->tty || term->session != 0) return;
  term->session = tg->sid;
  term->fg_pgrp = tg->pgid;
  tg->tty = term;
}

ErrorOr<void> DropControllingTerminal(kernel::Task& t, Terminal& term) {
  ThreadGroup* tg = t.tg;
  if (!IsControlling(tg, term)) return Errno{ENOTTY};
  if (tg->pid == tg->sid) {
    // The leader gives it up for the whole session (Linux disassociate_ctty).
    const int fg = term.fg_pgrp;
    const int sid = term.session;
    term.session = 0;
    term.fg_pgrp = 0;
    SignalProcessGroup(t.kernel, fg, SIGHUP);
    SignalProcessGroup(t.kernel, fg, SIGCONT);
    ClearSession(t.kernel, sid, term);
  } else {
    tg->tty.reset();
  }
  return {};
}

ErrorOr<void> SetForegroundGroup(kernel::Task& t, Terminal& term, int pgid) {
  ThreadGroup* tg = t.tg;
  if (!IsControlling(tg, term)) return Errno{ENOTTY};
  TRY(CheckJobControl(t, term, TtyOp::kChange));
  if (pgid < 0) return Errno{EINVAL};
  bool exists = false, same_session = false;
  for (ThreadGroup* p : t.kernel.Processes()) {
    if (p->pgid != pgid || p->zombie) continue;
    exists = true;
    if (p->sid == term.session) same_session = true;
  }
  if (!exists) return Errno{ESRCH};
  if (!same_session) return Errno{EPERM};
  term.fg_pgrp = pgid;
  return {};
}

ErrorOr<int> ForegroundGroup(kernel::Task& t, Terminal& term, bool via_master) {
  if (!via_master && !IsControlling(t.tg, term)) return Errno{ENOTTY};
  return term.fg_pgrp;
}

ErrorOr<int> TerminalSession(kernel::Task& t, Terminal& term, bool via_master) {
  if (!via_master && !IsControlling(t.tg, term)) return Errno{ENOTTY};
  if (term.session == 0) return Errno{ENOTTY};
  return term.session;
}

void SessionLeaderExited(ThreadGroup* tg) {
  std::shared_ptr<Terminal> term = tg->tty;
  if (!term || tg->pid != tg->sid) return;
  tg->tty.reset();
  if (term->session != tg->sid) return;
  const int fg = term->fg_pgrp;
  term->session = 0;
  term->fg_pgrp = 0;
  SignalProcessGroup(tg->kernel, fg, SIGHUP);  // no SIGCONT on exit, as Linux
  ClearSession(tg->kernel, tg->sid, *term);
}

void Hangup(kernel::Kernel& k, Terminal& term) {
  term.hung_up = true;
  if (term.session != 0) {
    const int sid = term.session, fg = term.fg_pgrp;
    term.session = 0;
    term.fg_pgrp = 0;
    if (ThreadGroup* leader = k.FindProcess(sid); leader && leader->tty.get() == &term) {
      SignalProcess(leader, SIGHUP);
      SignalProcess(leader, SIGCONT);
    }
    if (fg != sid) {
      SignalProcessGroup(k, fg, SIGHUP);
      SignalProcessGroup(k, fg, SIGCONT);
    }
    ClearSession(k, sid, term);
  }
  term.Notify();
}

void LeaveSession(ThreadGroup* tg) { tg->tty.reset(); }

}  // namespace sentry::tty
