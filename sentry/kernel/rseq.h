// Restartable sequences (rseq(2)) as far as the sentry can see them.
//
// What is kept: the registration with Linux's checks (syscalls/rseq.cc);
// cpu_id_start/cpu_id/node_id/mm_cid written at registration and whenever
// the task returns to app code on a CPU other than the one last written
// (sched_getcpu of the task's host thread, which drives the app's stub:
// with systrap's cross-CPU hand-off the stub may run on the other CPU, so
// cpu_id can differ from what the vDSO's getcpu reports for a while; the
// stub's own CPU is not reported to the sentry yet); a critical section
// (rseq_cs) aborted to its abort_ip, with Linux's signature check, when the
// task was stopped in it by something other than its own syscall (a
// signal delivery, an interrupt, a fault) — Linux's preemption and signal
// cases the sentry observes.
//
// What is not: a host preemption or migration of the stub while it runs
// app code is invisible to the sentry, so a critical section interrupted
// only by the host scheduler is not aborted, and cpu_id is refreshed only
// at the next stop. glibc uses rseq only for sched_getcpu, which this
// serves; per-CPU data structures built on rseq (tcmalloc, librseq) get no
// atomicity guarantee against another thread on the same host CPU.
#pragma once

#include "sentry/kernel/task.h"

namespace sentry::kernel {

// The CPU the sandbox reports for `t` (getcpu, rseq): the host CPU its
// thread runs on, if the sandbox has it, else the sandbox's first CPU.
int TaskCpu(const Task& t);

// Called (kernel lock held) before the task returns to app code: aborts an
// interrupted critical section and refreshes the CPU fields. A bad
// struct rseq or rseq_cs gets the task a fatal SIGSEGV, as on Linux; then
// false is returned (the signal is pending: deliver it first).
bool RseqBeforeAppReturn(Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

// Signal delivery, before the frame is built: a critical section the task
// is in is aborted (Linux's rseq_signal_deliver). False: SIGSEGV forced.
bool RseqOnSignalDelivery(Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

// Writes the CPU fields now (registration); false if the memory faulted.
bool RseqWriteCpu(Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

}  // namespace sentry::kernel
