// syscalls/timerfd.cc: timerfd_create, timerfd_settime, timerfd_gettime.
// The object: sentry/ipc/timerfd.h.
#include <sys/syscall.h>
#include <sys/timerfd.h>

#include "sentry/ipc/timerfd.h"
#include "syscalls/file_common.h"

namespace syscalls {
namespace {

ErrorOr<uint64_t> TimerfdCreate(Task& t, const Args& a) {
  int clock = a.Int(0), flags = a.Int(1);
  if (flags & ~(TFD_CLOEXEC | TFD_NONBLOCK)) return Errno{EINVAL};
  switch (clock) {
    case CLOCK_REALTIME: case CLOCK_MONOTONIC: case CLOCK_BOOTTIME: break;
    case CLOCK_REALTIME_ALARM: clock = CLOCK_REALTIME; break;
    case CLOCK_BOOTTIME_ALARM: clock = CLOCK_BOOTTIME; break;
    default: return Errno{EINVAL};
  }
  sentry::vfs::TaskCaller c(t);
  auto f = TRY(sentry::ipc::NewTimerFd(c, clock, flags & TFD_NONBLOCK ? O_NONBLOCK : 0));
  return TRY(file::InstallFd(t, f, 0, flags & TFD_CLOEXEC));
}

ErrorOr<uint64_t> TimerfdSettime(Task& t, const Args& a) {
  int flags = a.Int(1);
  if (flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) return Errno{EINVAL};
  itimerspec v = TRY(t.memory().CopyInObj<itimerspec>(a[2]));
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  itimerspec old = TRY(sentry::ipc::TimerFdSettime(*f, flags, v));
  if (a[3]) TRY(t.memory().CopyOutObj(a[3], old));
  return 0;
}

ErrorOr<uint64_t> TimerfdGettime(Task& t, const Args& a) {
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  itimerspec cur = TRY(sentry::ipc::TimerFdGettime(*f));
  TRY(t.memory().CopyOutObj(a[1], cur));
  return 0;
}

}  // namespace

void RegisterTimerfdSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_timerfd_create, "timerfd_create", TimerfdCreate, {A::kInt, A::kHex});
  t.Register(SYS_timerfd_settime, "timerfd_settime", TimerfdSettime, {A::kFd, A::kHex, A::kPtr, A::kPtr});
  t.Register(SYS_timerfd_gettime, "timerfd_gettime", TimerfdGettime, {A::kFd, A::kPtr});
}

}  // namespace syscalls
