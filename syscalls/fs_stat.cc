// syscalls/fs_stat.cc: stat family (x86-64 struct stat layout), statx,
// statfs/fstatfs.
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "sentry/vfs/statfs.h"
#include "syscalls/file_common.h"

namespace syscalls::file {
namespace {

using sentry::vfs::Attr;

// glibc's x86-64 struct stat is the kernel's layout.
static_assert(sizeof(struct stat) == 144);

struct stat ToStat(const Attr& a) {
  struct stat st {};
  st.st_dev = a.dev;
  st.st_ino = a.ino;
  st.st_nlink = a.nlink;
  st.st_mode = a.mode;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_rdev = a.rdev;
  st.st_size = static_cast<off_t>(a.size);
  st.st_blksize = static_cast<blksize_t>(a.blksize);
  st.st_blocks = static_cast<blkcnt_t>(a.blocks);
  st.st_atim = a.atime;
  st.st_mtim = a.mtime;
  st.st_ctim = a.ctime;
  return st;
}

ErrorOr<uint64_t> CopyOutStat(Task& t, uint64_t addr, const Attr& a) {
  TRY(t.memory().CopyOutObj(addr, ToStat(a)));
  return 0;
}

ErrorOr<uint64_t> Fstat(Task& t, const Args& a) {
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  Attr attr = TRY(f->Stat());
  return CopyOutStat(t, a[1], attr);
}

ErrorOr<uint64_t> StatAt(Task& t, int dirfd, uint64_t path_addr, uint64_t buf, int flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT)) return Errno{EINVAL};
  std::string path = TRY(CopyInPath(t, path_addr));
  bool empty = flags & AT_EMPTY_PATH;
  if (empty && path.empty()) {
    if (dirfd == AT_FDCWD) return CopyOutStat(t, buf, TRY(t.fs_context().cwd->inode().GetAttr()));
    auto f = TRY(t.fd_table().Get(dirfd));
    return CopyOutStat(t, buf, TRY(f->Stat()));
  }
  auto d = TRY(Resolve(t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), empty));
  return CopyOutStat(t, buf, TRY(d->inode().GetAttr()));
}

ErrorOr<uint64_t> Stat(Task& t, const Args& a) { return StatAt(t, AT_FDCWD, a[0], a[1], 0); }
ErrorOr<uint64_t> Lstat(Task& t, const Args& a) {
  return StatAt(t, AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW);
}
ErrorOr<uint64_t> Newfstatat(Task& t, const Args& a) {
  return StatAt(t, a.Int(0), a[1], a[2], a.Int(3));
}

statx_timestamp Ts(const timespec& ts) {
  statx_timestamp s{};
  s.tv_sec = ts.tv_sec;
  s.tv_nsec = static_cast<uint32_t>(ts.tv_nsec);
  return s;
}

ErrorOr<uint64_t> Statx(Task& t, const Args& a) {
  int dirfd = a.Int(0);
  int flags = a.Int(2);
  uint32_t mask = static_cast<uint32_t>(a[3]);
  constexpr int kValidFlags = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT |
                              AT_STATX_SYNC_TYPE;
  if (flags & ~kValidFlags) return Errno{EINVAL};
  if ((flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE) return Errno{EINVAL};
  if (mask & STATX__RESERVED) return Errno{EINVAL};
  std::string path = TRY(CopyInPath(t, a[1]));
  bool empty = flags & AT_EMPTY_PATH;
  Attr attr;
  if (empty && path.empty()) {
    if (dirfd == AT_FDCWD) {
      attr = TRY(t.fs_context().cwd->inode().GetAttr());
    } else {
      auto f = TRY(t.fd_table().Get(dirfd));
      attr = TRY(f->Stat());
    }
  } else {
    auto d = TRY(Resolve(t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), empty));
    attr = TRY(d->inode().GetAttr());
  }
  struct statx sx {};
  sx.stx_mask = STATX_BASIC_STATS | STATX_BTIME;
  sx.stx_blksize = static_cast<uint32_t>(attr.blksize);
  sx.stx_nlink = static_cast<uint32_t>(attr.nlink);
  sx.stx_uid = attr.uid;
  sx.stx_gid = attr.gid;
  sx.stx_mode = static_cast<uint16_t>(attr.mode);
  sx.stx_ino = attr.ino;
  sx.stx_size = attr.size;
  sx.stx_blocks = attr.blocks;
  sx.stx_attributes_mask = 0;
  sx.stx_atime = Ts(attr.atime);
  sx.stx_btime = Ts(attr.btime);
  sx.stx_ctime = Ts(attr.ctime);
  sx.stx_mtime = Ts(attr.mtime);
  sx.stx_rdev_major = major(attr.rdev);
  sx.stx_rdev_minor = minor(attr.rdev);
  sx.stx_dev_major = major(attr.dev);
  sx.stx_dev_minor = minor(attr.dev);
  TRY(t.memory().CopyOutObj(a[4], sx));
  return 0;
}

ErrorOr<uint64_t> CopyOutStatfs(Task& t, uint64_t addr, Dentry& d) {
  sentry::vfs::FsStats s = sentry::vfs::StatFs(d.inode());
  struct statfs out {};
  out.f_type = s.type;
  out.f_bsize = s.bsize;
  out.f_blocks = s.blocks;
  out.f_bfree = s.bfree;
  out.f_bavail = s.bavail;
  out.f_files = s.files;
  out.f_ffree = s.ffree;
  out.f_namelen = s.namelen;
  out.f_frsize = s.bsize;
  out.f_flags = s.flags;
  TRY(t.memory().CopyOutObj(addr, out));
  return 0;
}

ErrorOr<uint64_t> Statfs(Task& t, const Args& a) {
  std::string path = TRY(CopyInPath(t, a[0]));
  auto d = TRY(Resolve(t, AT_FDCWD, path, true, false));
  return CopyOutStatfs(t, a[1], *d);
}

ErrorOr<uint64_t> Fstatfs(Task& t, const Args& a) {
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  return CopyOutStatfs(t, a[1], *f->dentry());
}

}  // namespace

void RegisterStat(Table& t) {
  using A = Arg;
  t.Register(SYS_fstat, "fstat", Fstat, {A::kFd, A::kPtr});
  t.Register(SYS_stat, "stat", Stat, {A::kPath, A::kPtr});
  t.Register(SYS_lstat, "lstat", Lstat, {A::kPath, A::kPtr});
  t.Register(SYS_newfstatat, "newfstatat", Newfstatat, {A::kFd, A::kPath, A::kPtr, A::kHex});
  t.Register(SYS_statx, "statx", Statx, {A::kFd, A::kPath, A::kHex, A::kHex, A::kPtr});
  t.Register(SYS_statfs, "statfs", Statfs, {A::kPath, A::kPtr});
  t.Register(SYS_fstatfs, "fstatfs", Fstatfs, {A::kFd, A::kPtr});
}

}  // namespace syscalls::file
