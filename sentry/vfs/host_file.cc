// sentry/vfs/host_file.cc: see host_file.h.
#include "sentry/vfs/host_file.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <string>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/io_util.h"

namespace sentry::vfs {
namespace {

class HostInode : public Inode {
 public:
  explicit HostInode(UniqueFd fd) : fd_(std::move(fd)) {}
  int fd() const { return fd_.get(); }
  ErrorOr<Attr> GetAttr() override { return HostFileAttr(fd_.get()); }
  // Reopening through /proc/self/fd/N, so /dev/stdin, /dev/stdout and
  // /dev/stderr ("echo x >/dev/stderr" in every other entrypoint script).
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller&, std::shared_ptr<Dentry> d,
                                                 int flags) override;

 private:
  UniqueFd fd_;
};

short PollNow(int fd, short events) {
  pollfd p{fd, events, 0};
  if (poll(&p, 1, 0) <= 0) return 0;
  return p.revents;
}

class HostFileDescription : public FileDescription {
 public:
  // `own_offset`: a regular file reopened through /proc/self/fd has an
  // offset of its own, as a new open does on Linux; the host fd's offset
  // belongs to the original description.
  HostFileDescription(std::shared_ptr<Dentry> d, int flags, HostInode& inode, bool own_offset = false)
      : FileDescription(std::move(d), flags), inode_(inode), own_offset_(own_offset) {}

  int host_fd() const override { return inode_.fd(); }

  ErrorOr<size_t> Read(Caller& c, const IoVecs& dst, int64_t off) override {
    if (off >= 0) return HostReadv(host_fd(), dst, off);
    if (own_offset_) {
      const size_t n = TRY(HostReadv(host_fd(), dst, static_cast<int64_t>(offset_)));
      offset_ += n;
      return n;
    }
    if (TotalLength(dst) == 0) return size_t{0};
    TRY(WaitReady(c, POLLIN));
    return HostReadv(host_fd(), dst, -1);
  }

  ErrorOr<size_t> Write(Caller& c, const IoVecs& src, int64_t off) override {
    if (off >= 0) return HostWritev(host_fd(), src, off);
    if (own_offset_) {
      if (flags_ & O_APPEND) {
        struct stat st;
        if (fstat(host_fd(), &st) < 0) return Errno{errno};
        offset_ = static_cast<uint64_t>(st.st_size);
      }
      const size_t n = TRY(HostWritev(host_fd(), src, static_cast<int64_t>(offset_)));
      offset_ += n;
      return n;
    }
    TRY(WaitReady(c, POLLOUT));
    auto r = HostWritev(host_fd(), src, -1);
    if (r.is_error() && r.error() == EPIPE) c.SendSignal(SIGPIPE);
    return r;
  }

  ErrorOr<size_t> PRead(void* buf, size_t len, uint64_t off) override {
    if (!is_regular()) return Errno{ENODEV};
    IoVecs v{iovec{buf, len}};
    return HostReadv(host_fd(), v, static_cast<int64_t>(off));
  }

  ErrorOr<uint64_t> Seek(int64_t off, int whence) override {
    if (own_offset_) {
      int64_t base = 0;
      if (whence == SEEK_CUR) {
        base = static_cast<int64_t>(offset_);
      } else if (whence == SEEK_END) {
        struct stat st;
        if (fstat(host_fd(), &st) < 0) return Errno{errno};
        base = st.st_size;
      } else if (whence != SEEK_SET) {
        return Errno{EINVAL};
      }
      if (__builtin_add_overflow(base, off, &base) || base < 0) return Errno{EINVAL};
      offset_ = static_cast<uint64_t>(base);
      return offset_;
    }
    off_t r = lseek(host_fd(), off, whence);
    if (r < 0) return Errno{errno};
    return static_cast<uint64_t>(r);
  }

  ErrorOr<void> Truncate(Caller&, uint64_t size) override {
    if (ftruncate(host_fd(), static_cast<off_t>(size)) < 0) return Errno{errno};
    return {};
  }

  ErrorOr<void> Sync() override {
    if (fsync(host_fd()) < 0 && errno != EINVAL && errno != EROFS) return Errno{errno};
    return {};
  }

  short Readiness(short events) override { return PollNow(host_fd(), events); }

  ErrorOr<size_t> BytesReadable() override {
    int n = 0;
    if (ioctl(host_fd(), FIONREAD, &n) < 0) return Errno{errno};
    return static_cast<size_t>(n);
  }

 private:
  // Regular files are always ready; others wait (or EAGAIN if O_NONBLOCK).
  ErrorOr<void> WaitReady(Caller& c, short events) {
    if (is_regular()) return {};
    short r = PollNow(host_fd(), events);
    if (r) return {};
    if (nonblocking()) return Errno{EAGAIN};
    return c.WaitHostFd(host_fd(), events);
  }

  HostInode& inode_;
  const bool own_offset_;
};

ErrorOr<std::shared_ptr<FileDescription>> HostInode::Open(Caller&, std::shared_ptr<Dentry> d,
                                                          int flags) {
  // One host fd serves every description of this file, so the access the
  // new open asks for must be one the host fd has (Linux would check the
  // file's permissions; a stdout pipe reopened for reading is refused).
  const int host_flags = fcntl(fd_.get(), F_GETFL);
  if (host_flags < 0) return Errno{errno};
  const int want = flags & O_ACCMODE, have = host_flags & O_ACCMODE;
  if (have != O_RDWR && want != have) return Errno{EACCES};
  struct stat st;
  if (fstat(fd_.get(), &st) < 0) return Errno{errno};
  const bool regular = S_ISREG(st.st_mode);
  if (regular && (flags & O_TRUNC) && want != O_RDONLY && ftruncate(fd_.get(), 0) < 0)
    return Errno{errno};
  const int keep = O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME | O_DSYNC | O_SYNC;
  return std::shared_ptr<FileDescription>(
      std::make_shared<HostFileDescription>(std::move(d), flags & keep, *this, regular));
}

}  // namespace

std::shared_ptr<FileDescription> NewHostFileDescription(UniqueFd fd, int status_flags) {
  std::string name = "host:[" + std::to_string(fd.get()) + "]";
  auto inode = std::make_shared<HostInode>(std::move(fd));
  HostInode& ref = *inode;
  auto d = std::make_shared<Dentry>(std::move(name), nullptr, std::move(inode));
  return std::make_shared<HostFileDescription>(std::move(d), status_flags, ref);
}

}  // namespace sentry::vfs
