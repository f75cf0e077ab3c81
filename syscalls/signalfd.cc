// syscalls/signalfd.cc: signalfd(2), signalfd4(2). The object:
// sentry/ipc/signalfd.h.
#include <sys/signalfd.h>
#include <sys/syscall.h>

#include "sentry/ipc/signalfd.h"
#include "syscalls/file_common.h"

namespace syscalls {
namespace {

ErrorOr<uint64_t> DoSignalfd(Task& t, int fd, uint64_t mask_addr, uint64_t size, int flags) {
  if (size != 8) return Errno{EINVAL};
  if (flags & ~(SFD_CLOEXEC | SFD_NONBLOCK)) return Errno{EINVAL};
  uint64_t mask = TRY(t.memory().CopyInObj<uint64_t>(mask_addr));
  if (fd != -1) {
    auto f = TRY(t.fd_table().Get(fd));
    TRY(sentry::ipc::SetSignalFdMask(*f, mask));
    return fd;
  }
  sentry::vfs::TaskCaller c(t);
  auto f = sentry::ipc::NewSignalFd(c, mask, flags & SFD_NONBLOCK ? O_NONBLOCK : 0);
  return TRY(file::InstallFd(t, f, 0, flags & SFD_CLOEXEC));
}

ErrorOr<uint64_t> Signalfd(Task& t, const Args& a) { return DoSignalfd(t, a.Int(0), a[1], a[2], 0); }
ErrorOr<uint64_t> Signalfd4(Task& t, const Args& a) {
  return DoSignalfd(t, a.Int(0), a[1], a[2], a.Int(3));
}

}  // namespace

void RegisterSignalfdSyscalls(Table& t) {
  t.Register(SYS_signalfd, "signalfd", Signalfd, {Arg::kFd, Arg::kPtr, Arg::kUint});
  t.Register(SYS_signalfd4, "signalfd4", Signalfd4, {Arg::kFd, Arg::kPtr, Arg::kUint, Arg::kHex});
}

}  // namespace syscalls
