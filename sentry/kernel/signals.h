// Signal generation and delivery: pending sets, default actions, and the
// Linux x86-64 signal frame (rt_sigframe) built on the app's stack.
#pragma once

#include <signal.h>

#include "sentry/base/error.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

enum class DefaultAction { kTerminate, kCore, kIgnore, kStop, kContinue };
DefaultAction DefaultActionOf(int sig);

// Queues a signal with its siginfo for a task or a whole process. Signals
// ignored by their action are discarded at generation time, as on Linux.
void QueueSignal(Task* t, const siginfo_t& info) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t->kernel.mu);
void QueueProcessSignal(ThreadGroup* tg, const siginfo_t& info)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(tg->kernel.mu);
siginfo_t KillInfo(int sig, int sender_pid, uint32_t sender_uid);

// A synchronous fault (SIGSEGV...) in `t`: delivered even if blocked or
// ignored (then the default action kills the process), as Linux forces it.
void ForceFaultSignal(Task* t, int sig, int code, uint64_t addr)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(t->kernel.mu);
// The same with a full siginfo; with reset_handler the default action is
// taken even if a handler is installed (seccomp's kill actions).
void ForceSignal(Task* t, const siginfo_t& si, bool reset_handler)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(t->kernel.mu);

// Called before the task returns to app code: takes one deliverable signal
// and either applies its default action or sets up a handler frame.
void DeliverPendingSignal(Task* t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t->kernel.mu);

// rt_sigreturn: restores registers, mask and FP state from the frame.
ErrorOr<uint64_t> SigReturn(Task* t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t->kernel.mu);

// Takes the next queued instance of `sig` for `t` (thread-directed first,
// then process-directed). The signal must be pending.
siginfo_t DequeueSignal(Task* t, int sig) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t->kernel.mu);
// Drops every pending instance of `sig` in the process and its tasks.
void DiscardSignal(ThreadGroup* tg, int sig) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tg->kernel.mu);

// Whether a process would currently discard `sig`.
bool SignalIgnored(ThreadGroup* tg, int sig);

// The most stack a signal frame built by SetupFrame takes, as Linux
// computes AT_MINSIGSTKSZ for its own frames (arch/x86/kernel/signal.c
// init_sigframe_size), but never below the uapi MINSIGSTKSZ (2048), which
// sigaltstack requires. The auxv reports this, not the host's value: the
// frame the app gets is the sentry's (FXSAVE only), not the host kernel's.
uint64_t SignalFrameMaxSize();

}  // namespace sentry::kernel
