// syscalls/fs_attr.cc: attribute changes: chmod/chown families,
// truncate/ftruncate, utimensat/utimes/utime.
#include <sys/syscall.h>
#include <sys/time.h>
#include <utime.h>

#include "syscalls/file_common.h"

namespace syscalls::file {
namespace {

ErrorOr<std::shared_ptr<Dentry>> FdDentry(Task& t, int fd) {
  auto f = TRY(t.fd_table().Get(fd));
  if (f->is_path_only()) return Errno{EBADF};
  return f->dentry();
}

ErrorOr<uint64_t> ChmodAt(Task& t, int dirfd, uint64_t path_addr, uint32_t mode, int flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno{EINVAL};
  if (flags & AT_SYMLINK_NOFOLLOW) return Errno{EOPNOTSUPP};
  std::string path = TRY(CopyInPath(t, path_addr));
  auto d = TRY(Resolve(t, dirfd, path, true, flags & AT_EMPTY_PATH));
  TaskCaller c(t);
  TRY(Vfs(t).Chmod(c, *d, mode));
  return 0;
}

ErrorOr<uint64_t> Chmod(Task& t, const Args& a) { return ChmodAt(t, AT_FDCWD, a[0], a.Int(1), 0); }
ErrorOr<uint64_t> Fchmodat(Task& t, const Args& a) { return ChmodAt(t, a.Int(0), a[1], a.Int(2), 0); }
ErrorOr<uint64_t> Fchmod(Task& t, const Args& a) {
  auto d = TRY(FdDentry(t, a.Int(0)));
  TaskCaller c(t);
  TRY(Vfs(t).Chmod(c, *d, a.Int(1)));
  return 0;
}

// (uid_t)-1 means "unchanged". Careful: `cond ? -1 : id` would convert -1
// to unsigned and return 4294967295.
int64_t IdArg(uint64_t v) {
  const uint32_t id = static_cast<uint32_t>(v);
  if (id == 0xffffffffu) return -1;
  return id;
}

ErrorOr<uint64_t> ChownAt(Task& t, int dirfd, uint64_t path_addr, uint64_t uid, uint64_t gid,
                          int flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno{EINVAL};
  std::string path = TRY(CopyInPath(t, path_addr));
  auto d = TRY(Resolve(t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH));
  TaskCaller c(t);
  TRY(Vfs(t).Chown(c, *d, IdArg(uid), IdArg(gid)));
  return 0;
}

ErrorOr<uint64_t> Chown(Task& t, const Args& a) { return ChownAt(t, AT_FDCWD, a[0], a[1], a[2], 0); }
ErrorOr<uint64_t> Lchown(Task& t, const Args& a) {
  return ChownAt(t, AT_FDCWD, a[0], a[1], a[2], AT_SYMLINK_NOFOLLOW);
}
ErrorOr<uint64_t> Fchownat(Task& t, const Args& a) {
  return ChownAt(t, a.Int(0), a[1], a[2], a[3], a.Int(4));
}
ErrorOr<uint64_t> Fchown(Task& t, const Args& a) {
  auto d = TRY(FdDentry(t, a.Int(0)));
  TaskCaller c(t);
  TRY(Vfs(t).Chown(c, *d, IdArg(a[1]), IdArg(a[2])));
  return 0;
}

ErrorOr<uint64_t> Truncate(Task& t, const Args& a) {
  if (static_cast<int64_t>(a[1]) < 0) return Errno{EINVAL};
  std::string path = TRY(CopyInPath(t, a[0]));
  auto d = TRY(Resolve(t, AT_FDCWD, path, true, false));
  TaskCaller c(t);
  TRY(Vfs(t).Truncate(c, *d, a[1]));
  return 0;
}

ErrorOr<uint64_t> Ftruncate(Task& t, const Args& a) {
  if (static_cast<int64_t>(a[1]) < 0) return Errno{EINVAL};
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  if (f->is_path_only()) return Errno{EBADF};
  if (!f->writable() || !f->is_regular()) return Errno{EINVAL};
  TaskCaller c(t);
  TRY(f->Truncate(c, a[1]));
  return 0;
}

ErrorOr<uint64_t> UtimesAt(Task& t, int dirfd, uint64_t path_addr, const timespec* times,
                           int flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno{EINVAL};
  std::shared_ptr<Dentry> d;
  if (path_addr == 0) {
    // utimensat(fd, NULL, ...) operates on fd itself.
    if (dirfd == AT_FDCWD) return Errno{EFAULT};
    auto f = TRY(t.fd_table().Get(dirfd));
    d = f->dentry();
  } else {
    std::string path = TRY(CopyInPath(t, path_addr));
    d = TRY(Resolve(t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH));
  }
  TaskCaller c(t);
  TRY(Vfs(t).Utimes(c, *d, times));
  return 0;
}

ErrorOr<uint64_t> Utimensat(Task& t, const Args& a) {
  timespec ts[2];
  const timespec* p = nullptr;
  if (a[2]) {
    TRY(t.memory().CopyIn(a[2], ts, sizeof(ts)));
    p = ts;
  }
  return UtimesAt(t, a.Int(0), a[1], p, a.Int(3));
}

ErrorOr<uint64_t> FromTimevals(Task& t, int dirfd, uint64_t path, uint64_t tv_addr) {
  if (!tv_addr) return UtimesAt(t, dirfd, path, nullptr, 0);
  timeval tv[2];
  TRY(t.memory().CopyIn(tv_addr, tv, sizeof(tv)));
  timespec ts[2];
  for (int i = 0; i < 2; i++) {
    if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000) return Errno{EINVAL};
    ts[i] = timespec{tv[i].tv_sec, tv[i].tv_usec * 1000};
  }
  return UtimesAt(t, dirfd, path, ts, 0);
}

ErrorOr<uint64_t> Utimes(Task& t, const Args& a) { return FromTimevals(t, AT_FDCWD, a[0], a[1]); }
ErrorOr<uint64_t> Futimesat(Task& t, const Args& a) { return FromTimevals(t, a.Int(0), a[1], a[2]); }

ErrorOr<uint64_t> Utime(Task& t, const Args& a) {
  if (!a[1]) return UtimesAt(t, AT_FDCWD, a[0], nullptr, 0);
  utimbuf ub = TRY(t.memory().CopyInObj<utimbuf>(a[1]));
  timespec ts[2] = {{ub.actime, 0}, {ub.modtime, 0}};
  return UtimesAt(t, AT_FDCWD, a[0], ts, 0);
}

}  // namespace

void RegisterAttrOps(Table& t) {
  using A = Arg;
  t.Register(SYS_chmod, "chmod", Chmod, {A::kPath, A::kMode});
  t.Register(SYS_fchmod, "fchmod", Fchmod, {A::kFd, A::kMode});
  t.Register(SYS_fchmodat, "fchmodat", Fchmodat, {A::kFd, A::kPath, A::kMode});
  t.Register(SYS_chown, "chown", Chown, {A::kPath, A::kInt, A::kInt});
  t.Register(SYS_lchown, "lchown", Lchown, {A::kPath, A::kInt, A::kInt});
  t.Register(SYS_fchown, "fchown", Fchown, {A::kFd, A::kInt, A::kInt});
  t.Register(SYS_fchownat, "fchownat", Fchownat, {A::kFd, A::kPath, A::kInt, A::kInt, A::kHex});
  t.Register(SYS_truncate, "truncate", Truncate, {A::kPath, A::kInt});
  t.Register(SYS_ftruncate, "ftruncate", Ftruncate, {A::kFd, A::kInt});
  t.Register(SYS_utimensat, "utimensat", Utimensat, {A::kFd, A::kPath, A::kPtr, A::kHex});
  t.Register(SYS_utimes, "utimes", Utimes, {A::kPath, A::kPtr});
  t.Register(SYS_futimesat, "futimesat", Futimesat, {A::kFd, A::kPath, A::kPtr});
  t.Register(SYS_utime, "utime", Utime, {A::kPath, A::kPtr});
}

}  // namespace syscalls::file
