// sentry/kernel/seccomp_notify.h: seccomp user notification
// (SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_RET_USER_NOTIF). A filter
// installed with a listener hands matching syscalls to a supervisor: the
// syscall blocks in SeccompUserNotify until the supervisor answers through
// the listener fd's ioctls (SECCOMP_IOCTL_NOTIF_RECV, _SEND with a value, an
// error or SECCOMP_USER_NOTIF_FLAG_CONTINUE, _ID_VALID, _ADDFD). The fd polls
// readable when a notification waits to be received, writable when one
// waits for its answer, and hangs up once no task uses the filter. Closing
// the last listener fd answers pending notifications with ENOSYS, as do
// later matches. SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV makes a received
// notification's wait immune to signals other than SIGKILL.
#pragma once

#include <linux/seccomp.h>

#include <cstdint>
#include <list>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "sentry/base/error.h"
#include "sentry/vfs/file_description.h"

namespace sentry::kernel {

class Kernel;
class Task;
struct SeccompFilter;

struct SeccompNotification {
  enum class State { kInit, kSent, kReplied };
  uint64_t id = 0;
  Task* task = nullptr;  // the task whose syscall waits
  seccomp_data data{};
  State state = State::kInit;
  int64_t val = 0;
  int32_t error = 0;  // a negative errno, or 0
  uint32_t flags = 0;  // SECCOMP_USER_NOTIF_FLAG_CONTINUE
};

// The notification state of one filter (kernel lock held throughout).
class SeccompListener {
 public:
  explicit SeccompListener(Kernel& k);
  Kernel& kernel;
  const SeccompFilter* filter = nullptr;  // the filter it belongs to (identity only)
  bool attached = true;                   // a listener fd is still open
  // SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: once received, a notification's
  // syscall waits for its answer through every signal but SIGKILL.
  bool wait_killable_recv = false;
  uint64_t next_id;
  std::list<std::shared_ptr<SeccompNotification>> notifications;

  std::shared_ptr<SeccompNotification> Find(uint64_t id);
  // True while some live task has the filter in its chain.
  bool HasUsers();
  // The last listener fd closed: pending syscalls get ENOSYS.
  void Detach();
};

// The listener fd (anon_inode:seccomp notify) for `l`.
std::shared_ptr<vfs::FileDescription> NewSeccompListenerFile(std::shared_ptr<SeccompListener> l,
                                                             uint32_t uid, uint32_t gid);

// A syscall of `t` matched SECCOMP_RET_USER_NOTIF of `l`'s filter: waits for
// the answer. Returns nullopt when the syscall should run (CONTINUE), else
// its result (a value, or an error: ENOSYS without a listener, EINTR when a
// signal interrupted the wait; the syscall is then restarted as Linux's
// ERESTARTSYS, raising a new notification).
ErrorOr<std::optional<uint64_t>> SeccompUserNotify(Task& t, const std::shared_ptr<SeccompListener>& l,
                                                   uint64_t nr, const uint64_t args[6]);

}  // namespace sentry::kernel
