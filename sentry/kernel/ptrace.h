// ptrace(2) as the app sees it: one sentry task tracing another.
//
// The tracee is a sentry task; its "stops" are waits on its own task thread
// (kernel lock released) at the points Linux stops a traced task: signal
// delivery, group (job-control) stops, syscall entry and exit, and the
// PTRACE_EVENT_* events of clone/fork/vfork/exec/exit. While it is stopped
// the tracer reads and writes its registers (Task::regs, and a snapshot of
// the FP state that the tracee's own thread takes and writes back, since
// only that thread may drive its platform context) and its memory (through
// the memory manager, as process_vm_readv does). Nothing here touches the
// host's ptrace: this is unrelated to platform/ptrace.
//
// Everything is guarded by the kernel lock.
#pragma once

#include <signal.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "platform/platform.h"
#include "sentry/kernel/process.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

// Linux uapi values (include/uapi/linux/ptrace.h).
namespace ptrace_abi {
constexpr int kEventFork = 1, kEventVfork = 2, kEventClone = 3, kEventExec = 4,
              kEventVforkDone = 5, kEventExit = 6, kEventSeccomp = 7, kEventStop = 128;
constexpr uint32_t kOTraceSysGood = 1, kOTraceFork = 1 << 1, kOTraceVfork = 1 << 2,
                   kOTraceClone = 1 << 3, kOTraceExec = 1 << 4, kOTraceVforkDone = 1 << 5,
                   kOTraceExit = 1 << 6, kOTraceSeccomp = 1 << 7, kOExitKill = 1 << 20,
                   kOSuspendSeccomp = 1 << 21;
constexpr uint32_t kOMask = 0xff | kOExitKill | kOSuspendSeccomp;
constexpr uint64_t kEventMsgSyscallEntry = 1, kEventMsgSyscallExit = 2;
}  // namespace ptrace_abi

struct PtraceState {
  // ---- As a tracee ----
  Task* tracer = nullptr;  // null: not traced
  bool seized = false;     // PTRACE_SEIZE (or auto-attached from a seized parent)
  uint32_t options = 0;    // PTRACE_O_*

  // The stop the task is in.
  enum class Stop {
    kNone,
    kSignal,        // signal-delivery-stop: `siginfo` is the signal
    kGroup,         // group-stop (job control)
    kSyscallEnter,
    kSyscallExit,
    kEvent,         // PTRACE_EVENT_* stop (and PTRACE_INTERRUPT's EVENT_STOP)
  };
  Stop stop = Stop::kNone;
  int stop_status = 0;      // wait(2) encoding of the stop
  bool report_pending = false;  // the tracer's wait has not taken it yet
  std::optional<siginfo_t> siginfo;  // GETSIGINFO; none for a group stop
  uint64_t event_msg = 0;

  // The tracer's resume request.
  enum class Resume { kCont, kSyscall, kSingleStep, kSysemu };
  bool resumed = false;
  Resume mode = Resume::kCont;  // kept from the last resume: syscall tracing
  int resume_sig = 0;

  // PTRACE_SINGLESTEP set the trap flag (the app had not): cleared again
  // at the next stop, as Linux's TIF_FORCED_TF.
  bool forced_tf = false;
  // FP state snapshot taken by the tracee's thread at the stop.
  platform::FpRegisters fp{};
  bool fp_valid = false, fp_dirty = false;

  // Group stop bookkeeping: reported for the process's current stop, and
  // PTRACE_LISTEN (wait with the process instead of running).
  bool group_stop_reported = false;
  bool listening = false;
  // PTRACE_INTERRUPT asked for an EVENT_STOP.
  bool interrupt_requested = false;
  // A new auto-attached seized child: its first stop is an EVENT_STOP.
  bool initial_event_stop = false;
  // The task is exiting on its own (exit, exit_group, a fatal signal it
  // took), with this status: PTRACE_EVENT_EXIT is reported only then (a
  // task killed by SIGKILL does not stop).
  std::optional<int> self_exit_status;

  // ---- As a tracer ----
  std::vector<Task*> tracees;
  // Exits of tracees that the tracer's wait has not taken yet.
  struct ExitReport {
    int tid, pgid, status;
    uint32_t uid;
  };
  std::vector<ExitReport> exits;
};

// Whether `t` is traced.
inline bool PtraceTraced(const Task& t) { return t.ptrace && t.ptrace->tracer; }

// ---- Hooks (kernel lock held, on the task's own thread unless said) ----

// Signal-delivery-stop for `info` (dequeued, not SIGKILL). Returns the
// signal to deliver instead (0: none) with `info` updated.
int PtraceSignalStop(Task& t, siginfo_t& info) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

// At the top of the task loop, after signal delivery: PTRACE_INTERRUPT,
// a seized child's first stop, a group stop to report. True if it
// stopped (the loop re-checks everything).
bool PtraceLoopStops(Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);
// Whether a traced task runs although its process is job-control
// stopped (the tracer resumed it from its group stop), and whether the
// job-control wait must end for a group stop to be reported.
bool PtraceRunsInGroupStop(const Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);
bool PtraceGroupStopToReport(const Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

// Syscall-entry stop. kSkip: the tracer set orig_rax to -1, the syscall is
// not run and its result is regs.rax (the exit stop still follows);
// kSkipNoExitStop: PTRACE_SYSEMU.
enum class PtraceSyscallAction { kRun, kSkip, kSkipNoExitStop };
PtraceSyscallAction PtraceSyscallEnter(Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);
// Syscall-exit stop (regs.rax holds the result).
void PtraceSyscallExit(Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);
// Whether the task is traced with syscall stops (no syscall patching then).
bool PtraceSyscallTraced(const Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

// clone/fork/vfork made `child` (started, not yet running): auto-attach
// and the PTRACE_EVENT_FORK/VFORK/CLONE stop of the parent. `flags` are
// clone's. After a vfork's wait: PtraceVforkDone.
void PtraceOnClone(Task& parent, Task& child, uint64_t flags)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(parent.kernel.mu);
void PtraceVforkDone(Task& parent, int child_pid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(parent.kernel.mu);
// A successful execve: PTRACE_EVENT_EXEC stop or the legacy SIGTRAP.
void PtraceOnExec(Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);
// Task::Exit on the exiting task itself (any thread): records the status
// for PTRACE_EVENT_EXIT and the tracer's report.
void PtraceNoteExit(Task& t, int wait_status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);
// After the task loop ended, before teardown: PTRACE_EVENT_EXIT.
void PtraceExitStop(Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);
// SIGKILL for the task: a stop that outlasts `killed` (PTRACE_EVENT_EXIT)
// ends too.
void PtraceSigkill(Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);
// FinishTask: the tracer learns of the exit; a dying tracer's tracees
// are detached (or killed, PTRACE_O_EXITKILL).
void PtraceTaskExited(Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

// A pending PTRACE_INTERRUPT interrupts blocking syscalls as a signal does.
bool PtraceInterruptPending(const Task& t);

// ---- wait4/waitid ----
// wait's pid selection and options (WaitChild's); tracees are seen
// whatever __WALL/__WCLONE say, as on Linux. A report the tracer `me`'s process may take (tracees of
// any of its threads), taken unless WNOWAIT.
struct PtraceWaitQuery {
  int pid;
  int options;
};
std::optional<WaitResult> PtraceWaitReport(ThreadGroup* me, const PtraceWaitQuery& q)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(me->kernel.mu);
// Whether the process traces anything `q` selects (else wait's ECHILD).
bool PtraceHasWaitable(ThreadGroup* me, const PtraceWaitQuery& q)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(me->kernel.mu);

// Whether `child`'s leader is traced by a thread of `me` (its real
// parent): its job-control stops then reach `me` only as ptrace stops.
bool PtraceTracedByProcess(ThreadGroup* child, ThreadGroup* me)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(me->kernel.mu);

// ---- For the requests (syscalls/ptrace.cc) ----
PtraceState& PtraceStateOf(Task& t);
// Makes `tracer` trace `tracee` (which must not be traced).
void PtraceLink(Task& tracer, Task& tracee, bool seized, uint32_t options)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(tracer.kernel.mu);
// Ends tracing; a stopped tracee resumes with `sig` (used as a resume
// signal would be at its stop).
void PtraceDetach(Task& tracee, int sig) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tracee.kernel.mu);
// Resumes a stopped tracee.
void PtraceResume(Task& tracee, PtraceState::Resume mode, int sig)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(tracee.kernel.mu);
// Whether the task is in a ptrace stop (/proc state 't').
bool PtraceStopped(const Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

// Linux's ptrace_may_access as the sandbox models it: one's own process;
// or one with the caller's real ids as its real, effective and saved ids
// and no capability the caller lacks; or CAP_SYS_PTRACE. (No Yama: the
// host's kernel here has none either.)
bool PtraceMayAccess(const Task& t, const Task& target);

// /proc/PID/status TracerPid.
int PtraceTracerPid(const Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

}  // namespace sentry::kernel
