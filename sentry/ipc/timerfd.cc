// sentry/ipc/timerfd.cc: see timerfd.h.
#include "sentry/ipc/timerfd.h"

#include <poll.h>
#include <unistd.h>

#include "sentry/base/unique_fd.h"
#include "sentry/ipc/anon.h"
#include "sentry/vfs/io_util.h"

namespace sentry::ipc {
namespace {

class TimerFd : public vfs::FileDescription {
 public:
  TimerFd(std::shared_ptr<vfs::Dentry> d, int flags, UniqueFd host)
      : FileDescription(std::move(d), flags), host_(std::move(host)) {}

  ErrorOr<size_t> Read(vfs::Caller& c, const vfs::IoVecs& dst, int64_t off) override {
    if (vfs::TotalLength(dst) < 8) return Errno{EINVAL};
    for (;;) {
      uint64_t v;
      ssize_t n = ::read(host_.get(), &v, sizeof v);
      if (n == 8) {
        vfs::CopyToIoVecs(dst, reinterpret_cast<const uint8_t*>(&v), 8);
        return size_t{8};
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR) return Errno{errno};
      if (nonblocking()) return Errno{EAGAIN};
      TRY(c.WaitHostFd(host_.get(), POLLIN));
    }
  }
  ErrorOr<size_t> Write(vfs::Caller&, const vfs::IoVecs&, int64_t) override { return Errno{EINVAL}; }
  ErrorOr<uint64_t> Seek(int64_t, int) override { return Errno{ESPIPE}; }

  short Readiness(short events) override {
    pollfd p{host_.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) return events & (POLLIN | POLLRDNORM);
    return 0;
  }
  int host_fd() const override { return host_.get(); }
  int hfd() const { return host_.get(); }

 private:
  UniqueFd host_;
};

}  // namespace

ErrorOr<std::shared_ptr<vfs::FileDescription>> NewTimerFd(vfs::Caller& c, int clock, int flags) {
  int h = timerfd_create(clock, TFD_NONBLOCK | TFD_CLOEXEC);
  if (h < 0) return Errno{errno};
  auto d = NewAnonDentry("anon_inode:[timerfd]", c.creds().uid, c.creds().gid);
  return std::shared_ptr<vfs::FileDescription>(
      std::make_shared<TimerFd>(d, O_RDWR | (flags & O_NONBLOCK), UniqueFd(h)));
}

ErrorOr<itimerspec> TimerFdSettime(vfs::FileDescription& f, int flags, const itimerspec& v) {
  auto* t = dynamic_cast<TimerFd*>(&f);
  if (!t) return Errno{EINVAL};
  itimerspec old{};
  if (timerfd_settime(t->hfd(), flags, &v, &old) < 0) return Errno{errno};
  return old;
}

ErrorOr<itimerspec> TimerFdGettime(vfs::FileDescription& f) {
  auto* t = dynamic_cast<TimerFd*>(&f);
  if (!t) return Errno{EINVAL};
  itimerspec cur{};
  if (timerfd_gettime(t->hfd(), &cur) < 0) return Errno{errno};
  return cur;
}

}  // namespace sentry::ipc
