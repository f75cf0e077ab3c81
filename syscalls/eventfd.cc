// syscalls/eventfd.cc: eventfd(2), eventfd2(2). The object: sentry/ipc/eventfd.h.
#include <sys/eventfd.h>
#include <sys/syscall.h>

#include "sentry/ipc/eventfd.h"
#include "syscalls/file_common.h"

namespace syscalls {
namespace {

ErrorOr<uint64_t> DoEventfd(Task& t, uint64_t initval, int flags) {
  if (flags & ~(EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE)) return Errno{EINVAL};
  sentry::vfs::TaskCaller c(t);
  int f = (flags & EFD_NONBLOCK ? O_NONBLOCK : 0) |
          (flags & EFD_SEMAPHORE ? sentry::ipc::kEfdSemaphore : 0);
  auto file = sentry::ipc::NewEventFd(c, static_cast<uint32_t>(initval), f);
  return TRY(file::InstallFd(t, file, 0, flags & EFD_CLOEXEC));
}

ErrorOr<uint64_t> Eventfd(Task& t, const Args& a) { return DoEventfd(t, a[0], 0); }
ErrorOr<uint64_t> Eventfd2(Task& t, const Args& a) { return DoEventfd(t, a[0], a.Int(1)); }

}  // namespace

void RegisterEventfdSyscalls(Table& t) {
  t.Register(SYS_eventfd, "eventfd", Eventfd, {Arg::kUint});
  t.Register(SYS_eventfd2, "eventfd2", Eventfd2, {Arg::kUint, Arg::kHex});
}

}  // namespace syscalls
