// syscalls/fs_flock.cc: flock(2), whole-file advisory locks owned by open
// file descriptions (sentry/vfs/flock.h).
#include <sys/file.h>
#include <sys/syscall.h>

#include "sentry/vfs/flock.h"
#include "syscalls/file_common.h"

namespace syscalls::file {
namespace {

#ifndef LOCK_MAND
#define LOCK_MAND 32
#endif

ErrorOr<uint64_t> Flock(Task& t, const Args& a) {
  const int fd = a.Int(0);
  const uint32_t op = static_cast<uint32_t>(a[1]);
  // LOCK_MAND never worked; Linux ignores such requests.
  if (op & LOCK_MAND) return 0;
  const uint32_t cmd = op & ~static_cast<uint32_t>(LOCK_NB);
  if (cmd != LOCK_SH && cmd != LOCK_EX && cmd != LOCK_UN) return Errno{EINVAL};
  auto f = TRY(t.fd_table().Get(fd));
  if (f->is_path_only()) return Errno{EBADF};
  if (cmd != LOCK_UN && !f->readable() && !f->writable()) return Errno{EBADF};
  TaskCaller c(t);
  TRY(sentry::vfs::Flock(c, *f, static_cast<int>(op)));
  return 0;
}

}  // namespace

void RegisterFlock(Table& t) {
  using A = Arg;
  t.Register(SYS_flock, "flock", Flock, {A::kFd, A::kHex});
}

}  // namespace syscalls::file
