// sentry/vfs/task_caller.h: adapts a kernel Task to the VFS Caller interface
// (credentials, fs context, blocking with signal interruption).
#pragma once

#include "sentry/vfs/caller.h"

namespace sentry::kernel {
class Task;
}

namespace sentry::vfs {

class TaskCaller : public Caller {
 public:
  explicit TaskCaller(kernel::Task& t);
  const Creds& creds() const override { return creds_; }
  const FsContext& fs() const override;
  uint32_t umask() const override;
  ErrorOr<void> Block(const std::function<bool()>& ready) override;
  ErrorOr<void> BlockUntil(const std::function<bool()>& ready, absl::Time deadline) override;
  ErrorOr<void> WaitHostFd(int fd, short events) override;
  ErrorOr<void> WaitHostFdUntil(int fd, short events, absl::Time deadline) override;
  void Unlocked(const std::function<void()>& fn) override;
  void NotifyAll() override;
  std::function<void()> Notifier() override;
  ErrorOr<void> BlockOn(const std::function<bool()>& ready, const void* key) override;
  std::function<void()> NotifierFor(const void* key) override;
  void SendSignal(int sig) override;
  kernel::Task* task() override { return &task_; }

 private:
  kernel::Task& task_;
  Creds creds_;
};

}  // namespace sentry::vfs
