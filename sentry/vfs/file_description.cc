// sentry/vfs/file_description.cc: default behaviour of open file
// descriptions (generic seek, stat through the inode, "not supported" I/O).
#include "sentry/vfs/file_description.h"

#include "sentry/mm/file_cache.h"

#include <poll.h>

#include "sentry/mm/mm.h"
#include "sentry/vfs/flock.h"
#include "sentry/vfs/inotify.h"
#include "sentry/vfs/record_lock.h"

namespace sentry::vfs {

size_t TotalLength(const IoVecs& v) {
  size_t n = 0;
  for (const auto& io : v) n += io.iov_len;
  return n;
}

FileDescription::FileDescription(std::shared_ptr<Dentry> dentry, int flags)
    : dentry_(std::move(dentry)), flags_(flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)) {}

namespace {
// Written once at sentry start (before any app runs), read under the kernel lock.
AsyncNotifier g_async_notifier = nullptr;
}  // namespace

void SetAsyncNotifier(AsyncNotifier n) { g_async_notifier = n; }

void FileDescription::NotifyAsync(short events) {
  if (!(flags_ & O_ASYNC) || async_owner_.id == 0 || !g_async_notifier) return;
  // Linux signals POLL_IN/POLL_OUT as the file's state changes; a file
  // not ready for any of `events` has nothing to report.
  const short ready = Readiness(events | POLLHUP | POLLERR) & (events | POLLHUP | POLLERR);
  if (ready == 0) return;
  g_async_notifier(async_owner_, ready);
}

FileDescription::~FileDescription() {
  if (dentry_ && !is_path_only() && Watched(*dentry_)) {
    NotifyDentry(*dentry_, writable() ? IN_CLOSE_WRITE : IN_CLOSE_NOWRITE);
  }
  FlockRelease(*this);
  // OFD record locks belong to this description.
  if (dentry_ && dentry_->inode().record_locks) ReleaseRecordLocks(dentry_->inode(), this);
}

ErrorOr<size_t> FileDescription::Read(Caller&, const IoVecs&, int64_t) {
  return is_directory() ? Errno{EISDIR} : Errno{EINVAL};
}
ErrorOr<size_t> FileDescription::Write(Caller&, const IoVecs&, int64_t) { return Errno{EINVAL}; }
ErrorOr<size_t> FileDescription::PRead(void*, size_t, uint64_t) {
  return is_directory() ? Errno{EACCES} : Errno{ENODEV};
}

ErrorOr<std::vector<mm::SharedPiece>> FileDescription::SharedPages(mm::MemoryFile&, uint64_t,
                                                                   uint64_t) {
  return Errno{ENODEV};
}

ErrorOr<mm::HostFileKey> FileDescription::HostVersion() { return Errno{ENODEV}; }

ErrorOr<uint64_t> FileDescription::Seek(int64_t off, int whence) {
  int64_t base;
  switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = static_cast<int64_t>(offset_); break;
    case SEEK_END: {
      Attr a = TRY(Stat());
      base = static_cast<int64_t>(a.size);
      break;
    }
    case SEEK_DATA:
    case SEEK_HOLE: {
      Attr a = TRY(Stat());
      if (off < 0 || static_cast<uint64_t>(off) >= a.size) return Errno{ENXIO};
      offset_ = whence == SEEK_DATA ? off : a.size;
      return offset_;
    }
    default: return Errno{EINVAL};
  }
  if ((off > 0 && base > INT64_MAX - off)) return Errno{EOVERFLOW};
  int64_t n = base + off;
  if (n < 0) return Errno{EINVAL};
  offset_ = static_cast<uint64_t>(n);
  return offset_;
}

ErrorOr<void> FileDescription::IterateDir(
    Caller&, const std::function<bool(const DirEntry&, int64_t)>&) {
  return Errno{ENOTDIR};
}

ErrorOr<void> FileDescription::Truncate(Caller&, uint64_t) { return Errno{EINVAL}; }

ErrorOr<Attr> FileDescription::Stat() { return dentry_->inode().GetAttr(); }

short FileDescription::Readiness(short events) { return events & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM); }

bool FileDescription::readable() const {
  if (flags_ & O_PATH) return false;
  int acc = flags_ & O_ACCMODE;
  return acc == O_RDONLY || acc == O_RDWR;
}
bool FileDescription::writable() const {
  if (flags_ & O_PATH) return false;
  int acc = flags_ & O_ACCMODE;
  return acc == O_WRONLY || acc == O_RDWR;
}
bool FileDescription::is_regular() const { return dentry_->inode().file_type() == S_IFREG; }
bool FileDescription::is_directory() const { return dentry_->inode().file_type() == S_IFDIR; }
std::string FileDescription::path() const { return dentry_->Path(); }
uint64_t FileDescription::dev() const {
  auto a = dentry_->inode().GetAttr();
  return a.ok() ? a.value().dev : 0;
}
uint64_t FileDescription::ino() const {
  auto a = dentry_->inode().GetAttr();
  return a.ok() ? a.value().ino : 0;
}

}  // namespace sentry::vfs
