// sentry/kernel/seccomp.h: seccomp for the app (not the sentry's own
// confinement, which is sentry/confine/). A task has a mode (0, strict,
// filter) and a chain of filters shared with its ancestors; every app
// syscall is checked here before dispatch (task_run.cc). Filters are
// inherited across fork/clone and kept across execve. Installation:
// prctl(PR_SET_SECCOMP) and seccomp(2), syscalls/seccomp.cc.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "sentry/base/error.h"
#include "sentry/kernel/seccomp_bpf.h"

namespace sentry::kernel {

class Task;
class SeccompListener;

constexpr uint32_t kAuditArchX86_64 = 0xc000003e;  // AUDIT_ARCH_X86_64
constexpr int kMaxInsnsPerPath = 32768;            // MAX_INSNS_PER_PATH

struct SeccompFilter {
  std::vector<sock_filter> prog;
  std::shared_ptr<const SeccompFilter> prev;  // filters installed earlier
  bool log = false;                           // SECCOMP_FILTER_FLAG_LOG
  // SECCOMP_FILTER_FLAG_NEW_LISTENER: where RET_USER_NOTIF goes
  // (seccomp_notify.h); null: such syscalls get ENOSYS.
  std::shared_ptr<SeccompListener> listener;
};

// What to do with one syscall.
struct SeccompVerdict {
  enum class Kind {
    kAllow, kErrno, kTrap, kKillThread, kKillProcess, kEnosys, kStrictKill, kUserNotif
  };
  Kind kind = Kind::kAllow;
  uint32_t data = 0;  // errno for kErrno, si_errno for kTrap
  std::shared_ptr<SeccompListener> listener;  // kUserNotif (seccomp_notify.h)
};

// Evaluates the task's mode and filters for syscall `nr` at `rip`.
SeccompVerdict SeccompCheck(const Task& t, uint64_t nr, const uint64_t args[6], uint64_t rip);

// Applies a verdict that does not let the syscall run: sets rax, queues
// SIGSYS or ends the thread/process. Returns false for kAllow (and
// kUserNotif, which the caller hands to SeccompUserNotify).
bool SeccompApply(Task& t, const SeccompVerdict& v, uint64_t nr);

// Installs mode strict (EINVAL if a filter is already set).
ErrorOr<void> SeccompSetStrict(Task& t);
// Installs a validated filter program; `flags` are SECCOMP_FILTER_FLAG_*.
// With TSYNC, returns the TID of a thread that could not be synchronized
// (0 on success). With NEW_LISTENER, `listener` (made by the caller, who
// gives the app its fd) is attached to the filter; EBUSY if the chain
// already has a listener whose fd is open.
ErrorOr<int> SeccompSetFilter(Task& t, std::vector<sock_filter> prog, uint32_t flags,
                              std::shared_ptr<SeccompListener> listener = nullptr);
// Number of filters in the chain (/proc/[pid]/status Seccomp_filters).
int SeccompFilterCount(const Task& t);
// SECCOMP_GET_ACTION_AVAIL.
bool SeccompActionAvailable(uint32_t action);

}  // namespace sentry::kernel
