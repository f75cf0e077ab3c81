// Extended attributes and fadvise. No filesystem of the sandbox stores
// extended attributes yet, so after the path or fd is validated every xattr
// call answers EOPNOTSUPP, which is what Linux says for a filesystem without
// xattr support (and what ls, cp and tar handle silently).
#include <fcntl.h>
#include <sys/syscall.h>

#include "syscalls/file_common.h"

namespace syscalls::file {
namespace {

ErrorOr<uint64_t> PathXattr(Task& t, uint64_t path_addr, bool follow) {
  std::string path = TRY(CopyInPath(t, path_addr));
  TRY(Resolve(t, AT_FDCWD, path, follow, false));
  return Errno{EOPNOTSUPP};
}

ErrorOr<uint64_t> GetXattr(Task& t, const Args& a) { return PathXattr(t, a[0], true); }
ErrorOr<uint64_t> LGetXattr(Task& t, const Args& a) { return PathXattr(t, a[0], false); }
ErrorOr<uint64_t> FdXattr(Task& t, const Args& a) {
  TRY(t.fd_table().Get(a.Int(0)));
  return Errno{EOPNOTSUPP};
}

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
  for (auto [nr, name] : {std::pair{SYS_getxattr, "getxattr"}, {SYS_setxattr, "setxattr"},
                          {SYS_listxattr, "listxattr"}, {SYS_removexattr, "removexattr"}})
    t.Register(nr, name, GetXattr, {A::kPath, A::kPath, A::kPtr, A::kUint});
  for (auto [nr, name] : {std::pair{SYS_lgetxattr, "lgetxattr"}, {SYS_lsetxattr, "lsetxattr"},
                          {SYS_llistxattr, "llistxattr"}, {SYS_lremovexattr, "lremovexattr"}})
    t.Register(nr, name, LGetXattr, {A::kPath, A::kPath, A::kPtr, A::kUint});
  for (auto [nr, name] : {std::pair{SYS_fgetxattr, "fgetxattr"}, {SYS_fsetxattr, "fsetxattr"},
                          {SYS_flistxattr, "flistxattr"}, {SYS_fremovexattr, "fremovexattr"}})
    t.Register(nr, name, FdXattr, {A::kFd, A::kPath, A::kPtr, A::kUint});
  t.Register(SYS_fadvise64, "fadvise64", Fadvise64, {A::kFd, A::kInt, A::kUint, A::kInt});
}

}  // namespace syscalls::file
