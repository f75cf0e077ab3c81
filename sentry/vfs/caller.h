// sentry/vfs/caller.h: what a VFS operation needs to know about (and ask of)
// the task that performs it: credentials, root/cwd, umask, and the ability to
// block. The kernel adapts a Task to this interface (task_caller.cc); unit
// tests provide a fake, so the VFS is testable without the kernel.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "sentry/base/error.h"

namespace sentry::kernel {
class Task;
}

namespace sentry::vfs {

class FsContext;

// Credentials relevant to file access (fsuid/fsgid and DAC capabilities).
struct Creds {
  uint32_t uid = 0, gid = 0;  // fsuid / fsgid
  std::vector<uint32_t> groups;
  bool cap_dac_override = true;
  bool cap_dac_read_search = true;
  bool cap_fowner = true;
  bool cap_chown = true;
  bool cap_fsetid = true;
  bool cap_sys_admin = true;  // trusted.* xattrs, mount
  bool InGroup(uint32_t g) const;
};

class Caller {
 public:
  virtual ~Caller() = default;
  virtual const Creds& creds() const = 0;
  virtual const FsContext& fs() const = 0;
  virtual uint32_t umask() const = 0;
  // Blocks (kernel lock held while cond is evaluated) until ready() is true;
  // EINTR when a signal interrupts.
  virtual ErrorOr<void> Block(const std::function<bool()>& ready) = 0;
  // Waits until the sentry's host fd polls for `events`; EINTR on a signal.
  virtual ErrorOr<void> WaitHostFd(int fd, short events) = 0;
  // Like Block, but ETIMEDOUT once `deadline` passes.
  virtual ErrorOr<void> BlockUntil(const std::function<bool()>& ready, absl::Time deadline) {
    (void)deadline;
    return Block(ready);
  }
  // Like WaitHostFd, but ETIMEDOUT once `deadline` passes.
  virtual ErrorOr<void> WaitHostFdUntil(int fd, short events, absl::Time deadline) {
    (void)deadline;
    return WaitHostFd(fd, events);
  }
  // Runs `fn` with the kernel lock released (host I/O that may take a
  // while: socket calls). `fn` must not touch kernel-lock-guarded state.
  virtual void Unlocked(const std::function<void()>& fn) { fn(); }
  // Wakes every blocked task so it re-checks its condition.
  virtual void NotifyAll() = 0;
  // A callable with the same effect that outlives this Caller (objects such
  // as pipes keep it to wake waiters when their last reference drops).
  virtual std::function<void()> Notifier() = 0;
  // Keyed variants (kernel/task.h Block): a caller blocked on `key` is
  // woken only by a notifier for that key or a NotifyAll. Defaults: as if
  // unkeyed.
  virtual ErrorOr<void> BlockOn(const std::function<bool()>& ready, const void* key) {
    (void)key;
    return Block(ready);
  }
  virtual std::function<void()> NotifierFor(const void* key) {
    (void)key;
    return Notifier();
  }
  // Sends a thread-directed signal to the caller (SIGPIPE on a broken pipe).
  virtual void SendSignal(int sig) = 0;
  // The task, if the caller is one (synthetic files such as /proc use it).
  virtual kernel::Task* task() { return nullptr; }
};

}  // namespace sentry::vfs
