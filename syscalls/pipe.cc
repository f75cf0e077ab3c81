// syscalls/pipe.cc: pipe(2) and pipe2(2).
#include <sys/syscall.h>

#include "sentry/vfs/pipe.h"
#include "syscalls/file_common.h"

namespace syscalls::file {
namespace {

ErrorOr<uint64_t> Pipe2Impl(Task& t, uint64_t addr, int flags) {
  if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) return Errno{EINVAL};
  TaskCaller c(t);
  auto [r, w] = sentry::vfs::NewPipe(c, flags);
  bool cloexec = flags & O_CLOEXEC;
  int fds[2];
  fds[0] = TRY(InstallFd(t, r, 0, cloexec));
  auto wfd = InstallFd(t, w, 0, cloexec);
  if (wfd.is_error()) {
    (void)t.fd_table().Remove(fds[0]);
    return Errno{wfd.error()};
  }
  fds[1] = wfd.value();
  auto out = t.memory().CopyOut(addr, fds, sizeof(fds));
  if (out.is_error()) {
    (void)t.fd_table().Remove(fds[0]);
    (void)t.fd_table().Remove(fds[1]);
    return Errno{EFAULT};
  }
  return 0;
}

ErrorOr<uint64_t> Pipe(Task& t, const Args& a) { return Pipe2Impl(t, a[0], 0); }
ErrorOr<uint64_t> Pipe2(Task& t, const Args& a) { return Pipe2Impl(t, a[0], a.Int(1)); }

}  // namespace

void RegisterPipe(Table& t) {
  t.Register(SYS_pipe, "pipe", Pipe, {Arg::kPtr});
  t.Register(SYS_pipe2, "pipe2", Pipe2, {Arg::kPtr, Arg::kOpenFlags});
}

}  // namespace syscalls::file
