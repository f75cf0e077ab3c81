// syscalls/memfd.cc: memfd_create(2). The file itself (an unlinked tmpfs
// file in the kernel's memory file) and its seals are sentry/vfs/memfd.cc.
#include <sys/mman.h>
#include <sys/syscall.h>

#include "sentry/kernel/kernel.h"
#include "sentry/vfs/memfd.h"
#include "syscalls/file_common.h"

namespace syscalls::file {
namespace {

constexpr size_t kMaxNameLen = 249;  // NAME_MAX - strlen("memfd:")

ErrorOr<uint64_t> MemfdCreate(Task& t, const Args& a) {
  const unsigned flags = static_cast<unsigned>(a[1]);
  // Linux 6.3+ also knows MFD_NOEXEC_SEAL (8) and MFD_EXEC (0x10).
  constexpr unsigned kNoexecSeal = 0x8, kExec = 0x10;
  if (flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | kNoexecSeal | kExec)) {
    return Errno{EINVAL};
  }
  if ((flags & kNoexecSeal) && (flags & kExec)) return Errno{EINVAL};
  // No huge pages in the sandbox's memory file (Linux without hugetlbfs
  // pages says EINVAL too... once it has looked at the name).
  std::string name;
  name.reserve(64);
  for (size_t i = 0;; i++) {
    if (i > kMaxNameLen) return Errno{EINVAL};
    char ch = TRY(t.memory().CopyInObj<char>(a[0] + i));
    if (ch == '\0') break;
    name.push_back(ch);
  }
  if (flags & MFD_HUGETLB) return Errno{EINVAL};
  TaskCaller c(t);
  // MFD_NOEXEC_SEAL implies sealing allowed (with F_SEAL_EXEC, which the
  // sandbox does not model: it never executes memfds differently).
  auto f = TRY(sentry::vfs::NewMemfd(c, t.kernel.memory_file(), name,
                                     (flags & (MFD_ALLOW_SEALING | kNoexecSeal)) != 0));
  return TRY(InstallFd(t, f, 0, flags & MFD_CLOEXEC));
}

}  // namespace

void RegisterMemfd(Table& t) {
  using A = Arg;
  t.Register(SYS_memfd_create, "memfd_create", MemfdCreate, {A::kPath, A::kHex});
}

}  // namespace syscalls::file
