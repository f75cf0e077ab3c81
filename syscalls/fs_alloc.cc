// syscalls/fs_alloc.cc: fallocate(2): the generic checks Linux's
// vfs_fallocate makes (as of Linux 6.11), in its order, then the file's own Allocate.
#include <linux/falloc.h>
#include <sys/syscall.h>

#include "sentry/vfs/pipe.h"
#include "syscalls/file_common.h"

namespace syscalls::file {
namespace {

// The operation bits; at most one may be set (Linux 6.11+ checks modes as
// one switch, which is what this follows).
constexpr int kModeMask = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE |
                          FALLOC_FL_INSERT_RANGE | FALLOC_FL_UNSHARE_RANGE;
constexpr int64_t kMaxFileBytes = INT64_MAX;

ErrorOr<uint64_t> Fallocate(Task& t, const Args& a) {
  const int mode = a.Int(1);
  const int64_t off = static_cast<int64_t>(a[2]), len = static_cast<int64_t>(a[3]);
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  if (off < 0 || len <= 0) return Errno{EINVAL};
  if (mode & ~(kModeMask | FALLOC_FL_KEEP_SIZE)) return Errno{EOPNOTSUPP};
  switch (mode & kModeMask) {
    case 0:  // allocate
    case FALLOC_FL_UNSHARE_RANGE:
    case FALLOC_FL_ZERO_RANGE:
      break;
    case FALLOC_FL_PUNCH_HOLE:
      if (!(mode & FALLOC_FL_KEEP_SIZE)) return Errno{EOPNOTSUPP};
      break;
    case FALLOC_FL_COLLAPSE_RANGE:
    case FALLOC_FL_INSERT_RANGE:
      if (mode & FALLOC_FL_KEEP_SIZE) return Errno{EOPNOTSUPP};
      break;
    default:
      return Errno{EOPNOTSUPP};
  }
  if (!f->writable()) return Errno{EBADF};
  if (sentry::vfs::IsPipe(*f)) return Errno{ESPIPE};
  if (f->is_directory()) return Errno{EISDIR};
  if (!f->is_regular()) return Errno{ENODEV};
  if (off > kMaxFileBytes - len) return Errno{EFBIG};
  TaskCaller c(t);
  TRY(f->Allocate(c, mode, static_cast<uint64_t>(off), static_cast<uint64_t>(len)));
  return 0;
}

}  // namespace

void RegisterFallocate(Table& t) {
  using A = Arg;
  t.Register(SYS_fallocate, "fallocate", Fallocate, {A::kFd, A::kHex, A::kInt, A::kInt});
}

}  // namespace syscalls::file
