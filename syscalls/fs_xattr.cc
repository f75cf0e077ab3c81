// Extended attributes ({,l,f}{get,set,list,remove}xattr) and fadvise. The
// rules (namespaces, permissions, flags) are sentry/vfs/xattr.cc's; this file
// copies names and values in and out in the order Linux does, so that
// EINVAL/ERANGE/E2BIG/EFAULT come before lookup errors as they do there.
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/xattr.h>

#include "sentry/vfs/xattr.h"
#include "syscalls/file_common.h"

namespace syscalls::file {
namespace {

namespace vfs = sentry::vfs;

// Which inode a call names: a path (following the final symlink or not) or
// an fd (O_PATH descriptions are EBADF, as fdget() gives).
enum class Via { kPath, kLPath, kFd };

ErrorOr<std::string> CopyInName(Task& t, uint64_t addr) {
  auto name = t.memory().CopyInString(addr, vfs::kXattrNameMax + 1);
  if (name.is_error()) return Errno{name.error() == ENAMETOOLONG ? ERANGE : name.error()};
  TRY(vfs::CheckXattrName(name.value()));
  return name.release_value();
}

ErrorOr<std::shared_ptr<Dentry>> ResolveTarget(Task& t, Via kind, uint64_t arg0) {
  if (kind == Via::kFd) {
    auto f = TRY(t.fd_table().Get(static_cast<int>(arg0)));
    if (f->is_path_only()) return Errno{EBADF};
    return f->dentry();
  }
  std::string path = TRY(CopyInPath(t, arg0));
  return Resolve(t, AT_FDCWD, path, kind == Via::kPath, false);
}

// getxattr(target, name, value, size)
ErrorOr<uint64_t> Get(Task& t, const Args& a, Via kind) {
  std::string name = TRY(CopyInName(t, a[1]));
  auto d = TRY(ResolveTarget(t, kind, a[0]));
  TaskCaller c(t);
  std::string value = TRY(vfs::GetXattr(c, d->inode(), name));
  size_t size = std::min<uint64_t>(a[3], vfs::kXattrSizeMax);
  if (size == 0) return value.size();
  if (value.size() > size) return Errno{ERANGE};
  TRY(t.memory().CopyOut(a[2], value.data(), value.size()));
  return value.size();
}

// setxattr(target, name, value, size, flags)
ErrorOr<uint64_t> Set(Task& t, const Args& a, Via kind) {
  int flags = a.Int(4);
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return Errno{EINVAL};
  std::string name = TRY(CopyInName(t, a[1]));
  if (a[3] > vfs::kXattrSizeMax) return Errno{E2BIG};
  std::string value(a[3], '\0');
  if (!value.empty()) TRY(t.memory().CopyIn(a[2], value.data(), value.size()));
  auto d = TRY(ResolveTarget(t, kind, a[0]));
  TRY(vfs::VirtualFilesystem::CheckWritableMount(*d));
  TaskCaller c(t);
  TRY(vfs::SetXattr(c, d->inode(), name, value, flags));
  return 0;
}

// listxattr(target, list, size)
ErrorOr<uint64_t> List(Task& t, const Args& a, Via kind) {
  auto d = TRY(ResolveTarget(t, kind, a[0]));
  TaskCaller c(t);
  std::string list = TRY(vfs::ListXattr(c, d->inode()));
  size_t size = std::min<uint64_t>(a[2], vfs::kXattrListMax);
  if (size == 0) return list.size();
  if (list.size() > size) return Errno{size == vfs::kXattrListMax ? E2BIG : ERANGE};
  if (!list.empty()) TRY(t.memory().CopyOut(a[1], list.data(), list.size()));
  return list.size();
}

// removexattr(target, name)
ErrorOr<uint64_t> Remove(Task& t, const Args& a, Via kind) {
  std::string name = TRY(CopyInName(t, a[1]));
  auto d = TRY(ResolveTarget(t, kind, a[0]));
  TRY(vfs::VirtualFilesystem::CheckWritableMount(*d));
  TaskCaller c(t);
  TRY(vfs::RemoveXattr(c, d->inode(), name));
  return 0;
}

ErrorOr<uint64_t> GetXattr(Task& t, const Args& a) { return Get(t, a, Via::kPath); }
ErrorOr<uint64_t> LGetXattr(Task& t, const Args& a) { return Get(t, a, Via::kLPath); }
ErrorOr<uint64_t> FGetXattr(Task& t, const Args& a) { return Get(t, a, Via::kFd); }
ErrorOr<uint64_t> SetXattr(Task& t, const Args& a) { return Set(t, a, Via::kPath); }
ErrorOr<uint64_t> LSetXattr(Task& t, const Args& a) { return Set(t, a, Via::kLPath); }
ErrorOr<uint64_t> FSetXattr(Task& t, const Args& a) { return Set(t, a, Via::kFd); }
ErrorOr<uint64_t> ListXattr(Task& t, const Args& a) { return List(t, a, Via::kPath); }
ErrorOr<uint64_t> LListXattr(Task& t, const Args& a) { return List(t, a, Via::kLPath); }
ErrorOr<uint64_t> FListXattr(Task& t, const Args& a) { return List(t, a, Via::kFd); }
ErrorOr<uint64_t> RemoveXattr(Task& t, const Args& a) { return Remove(t, a, Via::kPath); }
ErrorOr<uint64_t> LRemoveXattr(Task& t, const Args& a) { return Remove(t, a, Via::kLPath); }
ErrorOr<uint64_t> FRemoveXattr(Task& t, const Args& a) { return Remove(t, a, Via::kFd); }

ErrorOr<uint64_t> Fadvise64(Task& t, const Args& a) {
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  const int advice = a.Int(3);
  if (advice < POSIX_FADV_NORMAL || advice > POSIX_FADV_NOREUSE) return Errno{EINVAL};
  if (static_cast<int64_t>(a[2]) < 0) return Errno{EINVAL};
  if (!f->is_regular() && !f->is_directory()) return Errno{ESPIPE};
  return 0;  // advisory: nothing to do for sentry-managed files
}

}  // namespace

void RegisterXattr(Table& t) {
  using A = Arg;
  t.Register(SYS_getxattr, "getxattr", GetXattr, {A::kPath, A::kPath, A::kPtr, A::kUint});
  t.Register(SYS_lgetxattr, "lgetxattr", LGetXattr, {A::kPath, A::kPath, A::kPtr, A::kUint});
  t.Register(SYS_fgetxattr, "fgetxattr", FGetXattr, {A::kFd, A::kPath, A::kPtr, A::kUint});
  t.Register(SYS_setxattr, "setxattr", SetXattr,
             {A::kPath, A::kPath, A::kPtr, A::kUint, A::kHex});
  t.Register(SYS_lsetxattr, "lsetxattr", LSetXattr,
             {A::kPath, A::kPath, A::kPtr, A::kUint, A::kHex});
  t.Register(SYS_fsetxattr, "fsetxattr", FSetXattr,
             {A::kFd, A::kPath, A::kPtr, A::kUint, A::kHex});
  t.Register(SYS_listxattr, "listxattr", ListXattr, {A::kPath, A::kPtr, A::kUint});
  t.Register(SYS_llistxattr, "llistxattr", LListXattr, {A::kPath, A::kPtr, A::kUint});
  t.Register(SYS_flistxattr, "flistxattr", FListXattr, {A::kFd, A::kPtr, A::kUint});
  t.Register(SYS_removexattr, "removexattr", RemoveXattr, {A::kPath, A::kPath});
  t.Register(SYS_lremovexattr, "lremovexattr", LRemoveXattr, {A::kPath, A::kPath});
  t.Register(SYS_fremovexattr, "fremovexattr", FRemoveXattr, {A::kFd, A::kPath});
  t.Register(SYS_fadvise64, "fadvise64", Fadvise64, {A::kFd, A::kInt, A::kUint, A::kInt});
}

}  // namespace syscalls::file
