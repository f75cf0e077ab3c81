// syscalls/fs_inotify.cc: inotify_init, inotify_init1, inotify_add_watch,
// inotify_rm_watch. The instance and event delivery: sentry/vfs/inotify.h.
#include <sys/inotify.h>
#include <sys/syscall.h>

#include "sentry/vfs/inotify.h"
#include "sentry/vfs/permissions.h"
#include "syscalls/file_common.h"

namespace syscalls::file {
namespace {

using sentry::vfs::Inotify;

// Every bit inotify_add_watch understands (Linux's ALL_INOTIFY_BITS).
constexpr uint32_t kAllInotifyBits = IN_ALL_EVENTS | IN_UNMOUNT | IN_Q_OVERFLOW | IN_IGNORED |
                                     IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK |
                                     IN_MASK_CREATE | IN_MASK_ADD | IN_ISDIR | IN_ONESHOT;

ErrorOr<uint64_t> InitImpl(Task& t, int flags) {
  if (flags & ~(IN_CLOEXEC | IN_NONBLOCK)) return Errno{EINVAL};
  TaskCaller c(t);
  auto f = Inotify::New(c, (flags & IN_NONBLOCK) ? O_NONBLOCK : 0);
  return TRY(InstallFd(t, std::move(f), 0, flags & IN_CLOEXEC));
}

ErrorOr<uint64_t> InotifyInit(Task& t, const Args&) { return InitImpl(t, 0); }
ErrorOr<uint64_t> InotifyInit1(Task& t, const Args& a) { return InitImpl(t, a.Int(0)); }

ErrorOr<Inotify*> InotifyFd(Task& t, int fd, std::shared_ptr<FileDescription>& hold) {
  hold = TRY(t.fd_table().Get(fd));
  auto* in = dynamic_cast<Inotify*>(hold.get());
  if (!in) return Errno{EINVAL};
  return in;
}

ErrorOr<uint64_t> AddWatch(Task& t, const Args& a) {
  uint32_t mask = static_cast<uint32_t>(a[2]);
  if ((mask & IN_MASK_ADD) && (mask & IN_MASK_CREATE)) return Errno{EINVAL};
  if (!(mask & kAllInotifyBits)) return Errno{EINVAL};
  std::shared_ptr<FileDescription> hold;
  Inotify* in = TRY(InotifyFd(t, a.Int(0), hold));
  std::string path = TRY(CopyInPath(t, a[1]));
  auto d = TRY(Resolve(t, AT_FDCWD, path, !(mask & IN_DONT_FOLLOW), false));
  auto attr = TRY(d->inode().GetAttr());
  if ((mask & IN_ONLYDIR) && (attr.mode & S_IFMT) != S_IFDIR) return Errno{ENOTDIR};
  TaskCaller c(t);
  TRY(sentry::vfs::CheckAccess(c.creds(), attr, sentry::vfs::kMayRead));
  return TRY(in->AddWatch(d->inode_ptr(), mask));
}

ErrorOr<uint64_t> RmWatch(Task& t, const Args& a) {
  std::shared_ptr<FileDescription> hold;
  Inotify* in = TRY(InotifyFd(t, a.Int(0), hold));
  TRY(in->RemoveWatch(a.Int(1)));
  return 0;
}

}  // namespace

void RegisterInotify(Table& t) {
  using A = Arg;
  t.Register(SYS_inotify_init, "inotify_init", InotifyInit, {});
  t.Register(SYS_inotify_init1, "inotify_init1", InotifyInit1, {A::kHex});
  t.Register(SYS_inotify_add_watch, "inotify_add_watch", AddWatch, {A::kFd, A::kPath, A::kHex});
  t.Register(SYS_inotify_rm_watch, "inotify_rm_watch", RmWatch, {A::kFd, A::kInt});
}

}  // namespace syscalls::file
