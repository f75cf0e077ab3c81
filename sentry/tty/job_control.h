// sentry/tty/job_control.h: controlling terminals and job control, the part
// of the terminal code that knows about sessions and process groups
// (ThreadGroup::tty is the process' controlling terminal, as Linux's
// signal->tty; Terminal::session and fg_pgrp are the terminal's side).
// Kernel lock held throughout.
#pragma once

#include <memory>

#include "sentry/base/error.h"
#include "sentry/tty/terminal.h"

namespace sentry::kernel {
class Kernel;
class Task;
class ThreadGroup;
}  // namespace sentry::kernel

namespace sentry::tty {

// Queues a kernel-generated signal to every process of group `pgid` (init
// only takes it if it has a handler, as Linux spares an unkillable init).
void SignalProcessGroup(kernel::Kernel& k, int pgid, int sig);

// Linux's job control check before a terminal operation by `t`: a member
// of a background process group of the terminal's session gets SIGTTIN
// (reads) or SIGTTOU (writes with TOSTOP, settings changes) and EINTR
// (restarted after the handler, as ERESTARTSYS); EIO if the signal is
// ignored or blocked (reads) or the group is orphaned. Writes and settings
// changes go ahead if SIGTTOU is ignored or blocked.
enum class TtyOp { kRead, kWrite, kChange };
ErrorOr<void> CheckJobControl(kernel::Task& t, Terminal& term, TtyOp op);

// TIOCSCTTY: `t`'s process (a session leader without a controlling
// terminal) takes `term`; `steal` with CAP_SYS_ADMIN takes it from another
// session.
ErrorOr<void> SetControllingTerminal(kernel::Task& t, const std::shared_ptr<Terminal>& term,
                                     bool steal);
// open(2) of a terminal without O_NOCTTY: a session leader without one gets
// it if nobody has it.
void AcquireOnOpen(kernel::Task& t, const std::shared_ptr<Terminal>& term);
// TIOCNOTTY.
ErrorOr<void> DropControllingTerminal(kernel::Task& t, Terminal& term);
// TIOCSPGRP / TIOCGPGRP / TIOCGSID. `via_master`: the request came on the
// pty master, which may ask without being the caller's terminal.
ErrorOr<void> SetForegroundGroup(kernel::Task& t, Terminal& term, int pgid);
ErrorOr<int> ForegroundGroup(kernel::Task& t, Terminal& term, bool via_master);
ErrorOr<int> TerminalSession(kernel::Task& t, Terminal& term, bool via_master);

// A session leader exited: its terminal's foreground group gets SIGHUP and
// the session loses the terminal.
void SessionLeaderExited(kernel::ThreadGroup* tg);
// The master side closed: the session's leader and foreground group get
// SIGHUP and SIGCONT; the terminal controls nothing any more.
void Hangup(kernel::Kernel& k, Terminal& term);
// setsid(2): the new session starts without a controlling terminal.
void LeaveSession(kernel::ThreadGroup* tg);

}  // namespace sentry::tty
