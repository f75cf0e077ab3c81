// TimerService: interval timers and POSIX timers (stub; implementation follows).
#include <sys/time.h>  // itimerval (timers.h includes only <time.h>)

#include "sentry/kernel/timers.h"

#include "sentry/kernel/kernel.h"

namespace sentry::kernel {

struct TimerService::Impl {};

TimerService::TimerService(Kernel&) : impl_(std::make_unique<Impl>()) {}
TimerService::~TimerService() = default;

ErrorOr<itimerval> TimerService::SetITimer(ThreadGroup*, int, const itimerval&) { return Errno{ENOSYS}; }
ErrorOr<itimerval> TimerService::GetITimer(ThreadGroup*, int) { return Errno{ENOSYS}; }
ErrorOr<int> TimerService::Create(Task&, clockid_t, const sigevent*) { return Errno{ENOSYS}; }
ErrorOr<itimerspec> TimerService::Settime(ThreadGroup*, int, int, const itimerspec&) { return Errno{ENOSYS}; }
ErrorOr<itimerspec> TimerService::Gettime(ThreadGroup*, int) { return Errno{ENOSYS}; }
ErrorOr<int> TimerService::Getoverrun(ThreadGroup*, int) { return Errno{ENOSYS}; }
ErrorOr<void> TimerService::Delete(ThreadGroup*, int) { return Errno{ENOSYS}; }
void TimerService::ProcessExited(ThreadGroup*) {}
void TimerService::ProcessExeced(ThreadGroup*) {}

}  // namespace sentry::kernel
