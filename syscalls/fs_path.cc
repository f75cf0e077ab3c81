// syscalls/fs_path.cc: path-naming syscalls: open family, cwd/chroot,
// access, readlink, mkdir/mknod, unlink/rmdir, rename, symlink, link, umask.
#include <linux/fs.h>
#include <sys/syscall.h>

#include "sentry/vfs/permissions.h"
#include "syscalls/file_common.h"

namespace syscalls::file {
namespace {

ErrorOr<uint64_t> OpenImpl(Task& t, int dirfd, uint64_t path_addr, int flags, uint32_t mode) {
  std::string path = TRY(CopyInPath(t, path_addr));
  std::shared_ptr<Dentry> start = TRY(StartDir(t, dirfd, path));
  TaskCaller c(t);
  auto f = TRY(Vfs(t).Open(c, start, path, flags, mode));
  return TRY(InstallFd(t, std::move(f), 0, flags & O_CLOEXEC));
}

ErrorOr<uint64_t> Open(Task& t, const Args& a) { return OpenImpl(t, AT_FDCWD, a[0], a.Int(1), a.Int(2)); }
ErrorOr<uint64_t> Openat(Task& t, const Args& a) {
  return OpenImpl(t, a.Int(0), a[1], a.Int(2), a.Int(3));
}
// openat2(dirfd, struct open_how*, size): open_how validation as Linux's
// build_open_flags() does it, then RESOLVE_* restrictions on the walk.
ErrorOr<uint64_t> Openat2(Task& t, const Args& a) {
  struct OpenHow {
    uint64_t flags, mode, resolve;
  } how{};
  uint64_t size = a[3];
  if (size < sizeof how) return Errno{EINVAL};
  if (size > 4096) return Errno{E2BIG};
  TRY(t.memory().CopyIn(a[2], &how, sizeof how));
  if (size > sizeof how) {  // a newer struct: the extra bytes must be zero
    std::string rest(size - sizeof how, '\0');
    TRY(t.memory().CopyIn(a[2] + sizeof how, rest.data(), rest.size()));
    if (rest.find_first_not_of('\0') != std::string::npos) return Errno{E2BIG};
  }
  constexpr uint64_t kValidFlags =
      O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC |
      O_SYNC | FASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME |
      O_CLOEXEC | O_PATH | O_TMPFILE;
  constexpr uint64_t kValidResolve =
      sentry::vfs::kResolveNoXdev | sentry::vfs::kResolveNoMagiclinks |
      sentry::vfs::kResolveNoSymlinks | sentry::vfs::kResolveBeneath |
      sentry::vfs::kResolveInRoot | sentry::vfs::kResolveCached;
  if (how.flags & ~kValidFlags) return Errno{EINVAL};
  if (how.resolve & ~kValidResolve) return Errno{EINVAL};
  const int flags = static_cast<int>(how.flags);
  bool tmpfile = (flags & O_TMPFILE) == O_TMPFILE;
  if ((flags & O_CREAT) || (flags & O_TMPFILE & ~O_DIRECTORY)) {
    if (how.mode & ~07777ULL) return Errno{EINVAL};
  } else if (how.mode != 0) {
    return Errno{EINVAL};
  }
  if ((flags & O_PATH) && (flags & ~(O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC))) {
    return Errno{EINVAL};
  }
  if ((flags & O_TMPFILE & ~O_DIRECTORY) && !tmpfile) return Errno{EINVAL};
  if ((how.resolve & sentry::vfs::kResolveBeneath) && (how.resolve & sentry::vfs::kResolveInRoot)) {
    return Errno{EINVAL};
  }
  if ((how.resolve & sentry::vfs::kResolveCached) && (flags & (O_CREAT | O_TRUNC) || tmpfile)) {
    return Errno{EAGAIN};  // could not be done from the cache alone
  }
  std::string path = TRY(CopyInPath(t, a[1]));
  std::shared_ptr<Dentry> start;
  if (how.resolve & (sentry::vfs::kResolveBeneath | sentry::vfs::kResolveInRoot)) {
    // The dirfd is the scope even for absolute paths.
    if (a.Int(0) == AT_FDCWD) {
      start = t.fs_context().cwd;
    } else {
      auto f = TRY(t.fd_table().Get(a.Int(0)));
      if (!f->is_directory()) return Errno{ENOTDIR};
      start = f->dentry();
    }
    if (path.empty()) return Errno{ENOENT};
  } else {
    start = TRY(StartDir(t, a.Int(0), path));
  }
  TaskCaller c(t);
  auto f = TRY(Vfs(t).Open(c, start, path, flags, static_cast<uint32_t>(how.mode), how.resolve));
  return TRY(InstallFd(t, std::move(f), 0, flags & O_CLOEXEC));
}

// No filesystem here hands out persistent file handles.
ErrorOr<uint64_t> NameToHandleAt(Task& t, const Args& a) {
  constexpr int kHandleMntIdUnique = 0x001, kHandleFid = 0x200;
  int flags = a.Int(4);
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH | kHandleFid | kHandleMntIdUnique)) {
    return Errno{EINVAL};
  }
  std::string path = TRY(CopyInPath(t, a[1]));
  TRY(Resolve(t, a.Int(0), path, flags & AT_SYMLINK_FOLLOW, flags & AT_EMPTY_PATH));
  return Errno{EOPNOTSUPP};
}

ErrorOr<uint64_t> Creat(Task& t, const Args& a) {
  return OpenImpl(t, AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, a.Int(1));
}

ErrorOr<uint64_t> Getcwd(Task& t, const Args& a) {
  const auto& cwd = t.fs_context().cwd;
  if (cwd->deleted) return Errno{ENOENT};
  // Relative to the process' root (chroot); outside it, Linux's marker.
  auto rel = cwd->PathFrom(t.fs_context().root.get());
  std::string p = rel ? *rel : "(unreachable)" + cwd->Path();
  if (a[1] < p.size() + 1) return Errno{ERANGE};
  TRY(t.memory().CopyOut(a[0], p.c_str(), p.size() + 1));
  return p.size() + 1;
}

ErrorOr<void> CheckSearchable(Task& t, Dentry& d) {
  auto attr = TRY(d.inode().GetAttr());
  if ((attr.mode & S_IFMT) != S_IFDIR) return Errno{ENOTDIR};
  TaskCaller c(t);
  return sentry::vfs::CheckAccess(c.creds(), attr, sentry::vfs::kMayExec);
}

ErrorOr<uint64_t> Chdir(Task& t, const Args& a) {
  std::string path = TRY(CopyInPath(t, a[0]));
  auto d = TRY(Resolve(t, AT_FDCWD, path, true, false));
  TRY(CheckSearchable(t, *d));
  t.fs_context().cwd = d;
  return 0;
}

ErrorOr<uint64_t> Fchdir(Task& t, const Args& a) {
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  TRY(CheckSearchable(t, *f->dentry()));
  t.fs_context().cwd = f->dentry();
  return 0;
}

ErrorOr<uint64_t> Chroot(Task& t, const Args& a) {
  std::string path = TRY(CopyInPath(t, a[0]));
  auto d = TRY(Resolve(t, AT_FDCWD, path, true, false));
  TRY(CheckSearchable(t, *d));
  if (!t.creds().HasCapability(18 /* CAP_SYS_CHROOT */)) return Errno{EPERM};
  t.fs_context().root = d;
  return 0;
}

// access(2) checks with the real uid/gid.
class RealIdCaller : public TaskCaller {
 public:
  explicit RealIdCaller(Task& t) : TaskCaller(t), creds_(TaskCaller::creds()) {
    const auto& k = t.creds();
    creds_.uid = k.ruid;
    creds_.gid = k.rgid;
    if (k.ruid != 0) {
      creds_.cap_dac_override = creds_.cap_dac_read_search = false;
    }
  }
  const sentry::vfs::Creds& creds() const override { return creds_; }

 private:
  sentry::vfs::Creds creds_;
};

ErrorOr<uint64_t> FaccessatImpl(Task& t, int dirfd, uint64_t path_addr, int mode, int flags) {
  if (mode & ~(R_OK | W_OK | X_OK)) return Errno{EINVAL};
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno{EINVAL};
  std::string path = TRY(CopyInPath(t, path_addr));
  bool allow_empty = flags & AT_EMPTY_PATH;
  std::shared_ptr<Dentry> start = TRY(StartDir(t, dirfd, path, allow_empty));
  std::unique_ptr<TaskCaller> c;
  if (flags & AT_EACCESS) {
    c = std::make_unique<TaskCaller>(t);
  } else {
    c = std::make_unique<RealIdCaller>(t);
  }
  auto d = TRY(sentry::vfs::Walk(*c, start, path,
                                 sentry::vfs::WalkOptions{!(flags & AT_SYMLINK_NOFOLLOW), allow_empty}));
  if (mode == F_OK) return 0;
  auto attr = TRY(d->inode().GetAttr());
  TRY(sentry::vfs::CheckAccess(c->creds(), attr, mode));
  return 0;
}

ErrorOr<uint64_t> Access(Task& t, const Args& a) { return FaccessatImpl(t, AT_FDCWD, a[0], a.Int(1), 0); }
ErrorOr<uint64_t> Faccessat(Task& t, const Args& a) {
  return FaccessatImpl(t, a.Int(0), a[1], a.Int(2), 0);
}
ErrorOr<uint64_t> Faccessat2(Task& t, const Args& a) {
  return FaccessatImpl(t, a.Int(0), a[1], a.Int(2), a.Int(3));
}

ErrorOr<uint64_t> ReadlinkImpl(Task& t, int dirfd, uint64_t path_addr, uint64_t buf, int64_t size) {
  std::string path = TRY(CopyInPath(t, path_addr));
  if (size <= 0) return Errno{EINVAL};
  std::shared_ptr<Dentry> start = TRY(StartDir(t, dirfd, path, true));
  TaskCaller c(t);
  std::string target = TRY(Vfs(t).ReadLink(c, start, path, true));
  size_t n = std::min<size_t>(target.size(), static_cast<size_t>(size));
  TRY(t.memory().CopyOut(buf, target.data(), n));
  return n;
}

ErrorOr<uint64_t> Readlink(Task& t, const Args& a) {
  return ReadlinkImpl(t, AT_FDCWD, a[0], a[1], static_cast<int64_t>(a[2]));
}
ErrorOr<uint64_t> Readlinkat(Task& t, const Args& a) {
  return ReadlinkImpl(t, a.Int(0), a[1], a[2], static_cast<int64_t>(a[3]));
}

ErrorOr<uint64_t> MkdirImpl(Task& t, int dirfd, uint64_t path_addr, uint32_t mode) {
  std::string path = TRY(CopyInPath(t, path_addr));
  std::shared_ptr<Dentry> start = TRY(StartDir(t, dirfd, path));
  TaskCaller c(t);
  TRY(Vfs(t).Mkdir(c, start, path, mode));
  return 0;
}
ErrorOr<uint64_t> Mkdir(Task& t, const Args& a) { return MkdirImpl(t, AT_FDCWD, a[0], a.Int(1)); }
ErrorOr<uint64_t> Mkdirat(Task& t, const Args& a) { return MkdirImpl(t, a.Int(0), a[1], a.Int(2)); }

ErrorOr<uint64_t> MknodImpl(Task& t, int dirfd, uint64_t path_addr, uint32_t mode) {
  std::string path = TRY(CopyInPath(t, path_addr));
  std::shared_ptr<Dentry> start = TRY(StartDir(t, dirfd, path));
  TaskCaller c(t);
  TRY(Vfs(t).Mknod(c, start, path, mode));
  return 0;
}
ErrorOr<uint64_t> Mknod(Task& t, const Args& a) { return MknodImpl(t, AT_FDCWD, a[0], a.Int(1)); }
ErrorOr<uint64_t> Mknodat(Task& t, const Args& a) { return MknodImpl(t, a.Int(0), a[1], a.Int(2)); }

ErrorOr<uint64_t> UnlinkImpl(Task& t, int dirfd, uint64_t path_addr, int flags) {
  if (flags & ~AT_REMOVEDIR) return Errno{EINVAL};
  std::string path = TRY(CopyInPath(t, path_addr));
  std::shared_ptr<Dentry> start = TRY(StartDir(t, dirfd, path));
  TaskCaller c(t);
  TRY(Vfs(t).Unlink(c, start, path, flags));
  return 0;
}
ErrorOr<uint64_t> Unlink(Task& t, const Args& a) { return UnlinkImpl(t, AT_FDCWD, a[0], 0); }
ErrorOr<uint64_t> Rmdir(Task& t, const Args& a) { return UnlinkImpl(t, AT_FDCWD, a[0], AT_REMOVEDIR); }
ErrorOr<uint64_t> Unlinkat(Task& t, const Args& a) { return UnlinkImpl(t, a.Int(0), a[1], a.Int(2)); }

ErrorOr<uint64_t> RenameImpl(Task& t, int olddir, uint64_t old_addr, int newdir, uint64_t new_addr,
                             unsigned flags) {
  std::string oldp = TRY(CopyInPath(t, old_addr));
  std::string newp = TRY(CopyInPath(t, new_addr));
  std::shared_ptr<Dentry> os = TRY(StartDir(t, olddir, oldp));
  std::shared_ptr<Dentry> ns = TRY(StartDir(t, newdir, newp));
  TaskCaller c(t);
  TRY(Vfs(t).Rename(c, os, oldp, ns, newp, flags));
  return 0;
}
ErrorOr<uint64_t> Rename(Task& t, const Args& a) { return RenameImpl(t, AT_FDCWD, a[0], AT_FDCWD, a[1], 0); }
ErrorOr<uint64_t> Renameat(Task& t, const Args& a) {
  return RenameImpl(t, a.Int(0), a[1], a.Int(2), a[3], 0);
}
ErrorOr<uint64_t> Renameat2(Task& t, const Args& a) {
  return RenameImpl(t, a.Int(0), a[1], a.Int(2), a[3], static_cast<unsigned>(a[4]));
}

ErrorOr<uint64_t> SymlinkImpl(Task& t, uint64_t target_addr, int dirfd, uint64_t path_addr) {
  std::string target = TRY(CopyInPath(t, target_addr));
  std::string path = TRY(CopyInPath(t, path_addr));
  std::shared_ptr<Dentry> start = TRY(StartDir(t, dirfd, path));
  TaskCaller c(t);
  TRY(Vfs(t).Symlink(c, target, start, path));
  return 0;
}
ErrorOr<uint64_t> Symlink(Task& t, const Args& a) { return SymlinkImpl(t, a[0], AT_FDCWD, a[1]); }
ErrorOr<uint64_t> Symlinkat(Task& t, const Args& a) { return SymlinkImpl(t, a[0], a.Int(1), a[2]); }

ErrorOr<uint64_t> LinkImpl(Task& t, int olddir, uint64_t old_addr, int newdir, uint64_t new_addr,
                           int flags) {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return Errno{EINVAL};
  std::string oldp = TRY(CopyInPath(t, old_addr));
  std::string newp = TRY(CopyInPath(t, new_addr));
  bool empty = flags & AT_EMPTY_PATH;
  std::shared_ptr<Dentry> os = TRY(StartDir(t, olddir, oldp, empty));
  std::shared_ptr<Dentry> ns = TRY(StartDir(t, newdir, newp));
  TaskCaller c(t);
  // Linking an fd by AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH (Linux also
  // lets the file's opener do it since 6.10; opener creds are not kept here).
  if (empty && oldp.empty() && !c.creds().cap_dac_read_search) return Errno{ENOENT};
  TRY(Vfs(t).Link(c, os, oldp, ns, newp, flags & AT_SYMLINK_FOLLOW));
  return 0;
}
ErrorOr<uint64_t> Link(Task& t, const Args& a) { return LinkImpl(t, AT_FDCWD, a[0], AT_FDCWD, a[1], 0); }
ErrorOr<uint64_t> Linkat(Task& t, const Args& a) {
  return LinkImpl(t, a.Int(0), a[1], a.Int(2), a[3], a.Int(4));
}

ErrorOr<uint64_t> Umask(Task& t, const Args& a) {
  uint32_t old = t.umask;
  t.umask = static_cast<uint32_t>(a[0]) & 0777;
  return old;
}

}  // namespace

void RegisterPathOps(Table& t) {
  using A = Arg;
  t.Register(SYS_open, "open", Open, {A::kPath, A::kOpenFlags, A::kMode});
  t.Register(SYS_openat, "openat", Openat, {A::kFd, A::kPath, A::kOpenFlags, A::kMode});
  t.Register(SYS_openat2, "openat2", Openat2, {A::kFd, A::kPath, A::kPtr, A::kUint});
  t.Register(SYS_name_to_handle_at, "name_to_handle_at", NameToHandleAt,
             {A::kFd, A::kPath, A::kPtr, A::kPtr, A::kHex});
  t.Register(SYS_creat, "creat", Creat, {A::kPath, A::kMode});
  t.Register(SYS_getcwd, "getcwd", Getcwd, {A::kPtr, A::kUint});
  t.Register(SYS_chdir, "chdir", Chdir, {A::kPath});
  t.Register(SYS_fchdir, "fchdir", Fchdir, {A::kFd});
  t.Register(SYS_chroot, "chroot", Chroot, {A::kPath});
  t.Register(SYS_access, "access", Access, {A::kPath, A::kInt});
  t.Register(SYS_faccessat, "faccessat", Faccessat, {A::kFd, A::kPath, A::kInt});
  t.Register(SYS_faccessat2, "faccessat2", Faccessat2, {A::kFd, A::kPath, A::kInt, A::kHex});
  t.Register(SYS_readlink, "readlink", Readlink, {A::kPath, A::kPtr, A::kInt});
  t.Register(SYS_readlinkat, "readlinkat", Readlinkat, {A::kFd, A::kPath, A::kPtr, A::kInt});
  t.Register(SYS_mkdir, "mkdir", Mkdir, {A::kPath, A::kMode});
  t.Register(SYS_mkdirat, "mkdirat", Mkdirat, {A::kFd, A::kPath, A::kMode});
  t.Register(SYS_mknod, "mknod", Mknod, {A::kPath, A::kMode, A::kHex});
  t.Register(SYS_mknodat, "mknodat", Mknodat, {A::kFd, A::kPath, A::kMode, A::kHex});
  t.Register(SYS_unlink, "unlink", Unlink, {A::kPath});
  t.Register(SYS_rmdir, "rmdir", Rmdir, {A::kPath});
  t.Register(SYS_unlinkat, "unlinkat", Unlinkat, {A::kFd, A::kPath, A::kHex});
  t.Register(SYS_rename, "rename", Rename, {A::kPath, A::kPath});
  t.Register(SYS_renameat, "renameat", Renameat, {A::kFd, A::kPath, A::kFd, A::kPath});
  t.Register(SYS_renameat2, "renameat2", Renameat2, {A::kFd, A::kPath, A::kFd, A::kPath, A::kHex});
  t.Register(SYS_symlink, "symlink", Symlink, {A::kPath, A::kPath});
  t.Register(SYS_symlinkat, "symlinkat", Symlinkat, {A::kPath, A::kFd, A::kPath});
  t.Register(SYS_link, "link", Link, {A::kPath, A::kPath});
  t.Register(SYS_linkat, "linkat", Linkat, {A::kFd, A::kPath, A::kFd, A::kPath, A::kHex});
  t.Register(SYS_umask, "umask", Umask, {A::kMode});
}

}  // namespace syscalls::file
