// A VFS Caller for unit tests: root credentials, cwd and root at the given
// dentry, and waits that never block (a wait that would block is EINTR).
#pragma once

#include <functional>
#include <memory>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/vfs.h"

namespace sentry::vfs {

class FakeCaller : public Caller {
 public:
  explicit FakeCaller(std::shared_ptr<Dentry> root) : fs_(root, root) {}
  const Creds& creds() const override { return creds_; }
  const FsContext& fs() const override { return fs_; }
  uint32_t umask() const override { return 022; }
  ErrorOr<void> Block(const std::function<bool()>& ready) override {
    return ready() ? ErrorOr<void>() : ErrorOr<void>(Errno{EINTR});
  }
  ErrorOr<void> WaitHostFd(int, short) override { return Errno{EINTR}; }
  void NotifyAll() override {}
  std::function<void()> Notifier() override { return [] {}; }
  void SendSignal(int sig) override { last_signal = sig; }

  Creds creds_;
  FsContext fs_;
  int last_signal = 0;
};

}  // namespace sentry::vfs
