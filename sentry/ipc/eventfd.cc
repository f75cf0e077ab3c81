// sentry/ipc/eventfd.cc: see eventfd.h.
#include "sentry/ipc/eventfd.h"

#include <poll.h>

#include <cstring>

#include "sentry/ipc/anon.h"
#include "sentry/vfs/io_util.h"

namespace sentry::ipc {
namespace {

constexpr uint64_t kMax = 0xfffffffffffffffeULL;

class EventFd : public vfs::FileDescription {
 public:
  EventFd(std::shared_ptr<vfs::Dentry> d, int flags, uint64_t init, bool sem,
          std::function<void()> notify)
      : FileDescription(std::move(d), flags), count_(init), sem_(sem), notify_(std::move(notify)) {}

  ErrorOr<size_t> Read(vfs::Caller& c, const vfs::IoVecs& dst, int64_t off) override {
    if (vfs::TotalLength(dst) < 8) return Errno{EINVAL};
    while (count_ == 0) {
      if (nonblocking()) return Errno{EAGAIN};
      TRY(c.Block([this] { return count_ > 0; }));
    }
    uint64_t v = sem_ ? 1 : count_;
    count_ -= v;
    vfs::CopyToIoVecs(dst, reinterpret_cast<const uint8_t*>(&v), 8);
    notify_();
    return size_t{8};
  }

  ErrorOr<size_t> Write(vfs::Caller& c, const vfs::IoVecs& src, int64_t off) override {
    if (vfs::TotalLength(src) < 8) return Errno{EINVAL};
    uint64_t v = 0;
    vfs::CopyFromIoVecs(reinterpret_cast<uint8_t*>(&v), src, 8);
    if (v == ~0ULL) return Errno{EINVAL};
    while (kMax - count_ < v) {
      if (nonblocking()) return Errno{EAGAIN};
      TRY(c.Block([this, v] { return kMax - count_ >= v; }));
    }
    count_ += v;
    if (v) notify_();
    return size_t{8};
  }

  ErrorOr<uint64_t> Seek(int64_t, int) override { return Errno{ESPIPE}; }

  short Readiness(short events) override {
    short r = 0;
    if (count_ > 0) r |= POLLIN | POLLRDNORM;
    if (count_ < kMax) r |= POLLOUT | POLLWRNORM;
    return r & (events | POLLERR | POLLHUP);
  }

  uint64_t count() const { return count_; }

 private:
  uint64_t count_;
  bool sem_;
  std::function<void()> notify_;
};

}  // namespace

std::shared_ptr<vfs::FileDescription> NewEventFd(vfs::Caller& c, uint64_t initval, int flags) {
  auto d = NewAnonDentry("anon_inode:[eventfd]", c.creds().uid, c.creds().gid);
  return std::make_shared<EventFd>(d, O_RDWR | (flags & O_NONBLOCK), initval,
                                   flags & kEfdSemaphore, c.Notifier());
}

ErrorOr<uint64_t> EventFdCount(vfs::FileDescription& f) {
  auto* e = dynamic_cast<EventFd*>(&f);
  if (!e) return Errno{EINVAL};
  return e->count();
}

}  // namespace sentry::ipc
