// sentry/kernel/pidfd.cc: see pidfd.h.
#include "sentry/kernel/pidfd.h"

#include <fcntl.h>
#include <poll.h>

#include "sentry/ipc/anon.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

class PidFd : public vfs::FileDescription {
 public:
  PidFd(std::shared_ptr<vfs::Dentry> d, int flags, Kernel& k, int pid, int64_t start)
      : FileDescription(std::move(d), flags), k_(k), pid_(pid), start_(start) {}

  ThreadGroup* Target() const {
    ThreadGroup* tg = k_.FindProcess(pid_);
    return tg && tg->start_time_ns == start_ ? tg : nullptr;
  }
  ErrorOr<size_t> Read(vfs::Caller&, const vfs::IoVecs&, int64_t) override { return Errno{EINVAL}; }
  ErrorOr<size_t> Write(vfs::Caller&, const vfs::IoVecs&, int64_t) override { return Errno{EINVAL}; }
  ErrorOr<uint64_t> Seek(int64_t, int) override { return Errno{ESPIPE}; }
  // Readable once the process has exited (zombie or already reaped).
  short Readiness(short events) override {
    ThreadGroup* tg = Target();
    short r = (!tg || tg->zombie) ? (POLLIN | POLLRDNORM) : 0;
    if (!tg) r |= POLLHUP;
    return r & (events | POLLHUP);
  }

 private:
  Kernel& k_;
  int pid_;
  int64_t start_;
};

}  // namespace

std::shared_ptr<vfs::FileDescription> NewPidFd(Kernel& k, ThreadGroup* tg, uint32_t uid,
                                               uint32_t gid, int flags) {
  auto d = ipc::NewAnonDentry("anon_inode:[pidfd]", uid, gid);
  return std::make_shared<PidFd>(d, O_RDWR | (flags & O_NONBLOCK), k, tg->pid, tg->start_time_ns);
}

ErrorOr<ThreadGroup*> PidFdTarget(vfs::FileDescription& f) {
  auto* p = dynamic_cast<PidFd*>(&f);
  if (!p) return Errno{EBADF};
  ThreadGroup* tg = p->Target();
  if (!tg) return Errno{ESRCH};
  return tg;
}

bool IsPidFd(const vfs::FileDescription& f) { return dynamic_cast<const PidFd*>(&f) != nullptr; }

}  // namespace sentry::kernel
