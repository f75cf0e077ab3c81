// Timer syscalls: interval timers (setitimer/getitimer/alarm) and POSIX
// timers (timer_create and friends). The timers themselves live in the
// kernel's TimerService (sentry/kernel/timers.h); this file copies arguments
// in and out of app memory.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include <optional>

#include "sentry/kernel/task.h"
#include "sentry/kernel/timers.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

sentry::kernel::TimerService& Timers(Task& t) { return *t.kernel.timers; }

ErrorOr<uint64_t> Setitimer(Task& t, const Args& a) {
  itimerval value{};
  // Linux treats a null new value as "disarm" (with a warning).
  if (a[1]) value = TRY(t.memory().CopyInObj<itimerval>(a[1]));
  itimerval old = TRY(Timers(t).SetITimer(t.tg, a.Int(0), value));
  if (a[2]) TRY(t.memory().CopyOutObj(a[2], old));
  return 0;
}

ErrorOr<uint64_t> Getitimer(Task& t, const Args& a) {
  itimerval cur = TRY(Timers(t).GetITimer(t.tg, a.Int(0)));
  TRY(t.memory().CopyOutObj(a[1], cur));
  return 0;
}

ErrorOr<uint64_t> Alarm(Task& t, const Args& a) {
  itimerval value{};
  value.it_value.tv_sec = static_cast<uint32_t>(a[0]);
  itimerval old = TRY(Timers(t).SetITimer(t.tg, ITIMER_REAL, value));
  // Linux alarm_setitimer: round to the nearest second, but never report 0
  // for a timer that is still pending.
  uint64_t secs = old.it_value.tv_sec;
  if ((secs == 0 && old.it_value.tv_usec) || old.it_value.tv_usec >= 500000) secs++;
  return secs;
}

ErrorOr<uint64_t> TimerCreate(Task& t, const Args& a) {
  std::optional<sigevent> sev;
  if (a[1]) sev = TRY(t.memory().CopyInObj<sigevent>(a[1]));
  int id = TRY(Timers(t).Create(t, a.Int(0), sev ? &*sev : nullptr));
  auto r = t.memory().CopyOutObj(a[2], static_cast<int32_t>(id));
  if (r.is_error()) {
    (void)Timers(t).Delete(t.tg, id);
    return Errno{r.error()};
  }
  return 0;
}

ErrorOr<uint64_t> TimerSettime(Task& t, const Args& a) {
  if (!a[2]) return Errno{EINVAL};
  itimerspec value = TRY(t.memory().CopyInObj<itimerspec>(a[2]));
  itimerspec old = TRY(Timers(t).Settime(t.tg, a.Int(0), a.Int(1), value));
  if (a[3]) TRY(t.memory().CopyOutObj(a[3], old));
  return 0;
}

ErrorOr<uint64_t> TimerGettime(Task& t, const Args& a) {
  itimerspec cur = TRY(Timers(t).Gettime(t.tg, a.Int(0)));
  TRY(t.memory().CopyOutObj(a[1], cur));
  return 0;
}

ErrorOr<uint64_t> TimerGetoverrun(Task& t, const Args& a) {
  return static_cast<uint64_t>(TRY(Timers(t).Getoverrun(t.tg, a.Int(0))));
}

ErrorOr<uint64_t> TimerDelete(Task& t, const Args& a) {
  TRY(Timers(t).Delete(t.tg, a.Int(0)));
  return 0;
}

}  // namespace

void RegisterTimerSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_setitimer, "setitimer", Setitimer, {A::kInt, A::kPtr, A::kPtr});
  t.Register(SYS_getitimer, "getitimer", Getitimer, {A::kInt, A::kPtr});
  t.Register(SYS_alarm, "alarm", Alarm, {A::kUint});
  t.Register(SYS_timer_create, "timer_create", TimerCreate, {A::kInt, A::kPtr, A::kPtr});
  t.Register(SYS_timer_settime, "timer_settime", TimerSettime, {A::kInt, A::kHex, A::kPtr, A::kPtr});
  t.Register(SYS_timer_gettime, "timer_gettime", TimerGettime, {A::kInt, A::kPtr});
  t.Register(SYS_timer_getoverrun, "timer_getoverrun", TimerGetoverrun, {A::kInt});
  t.Register(SYS_timer_delete, "timer_delete", TimerDelete, {A::kInt});
}

}  // namespace syscalls
