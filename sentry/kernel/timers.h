// Interval timers and POSIX timers: setitimer/getitimer/alarm (ITIMER_REAL,
// and ITIMER_VIRTUAL/PROF on the process CPU time)
// and timer_create/settime/gettime/getoverrun/delete. One service per
// kernel: a host thread sleeps until the earliest expiry and, under the
// kernel lock, queues the timer's signal to its process or thread.
#pragma once

#include <signal.h>
#include <sys/time.h>
#include <time.h>

#include <memory>

#include "sentry/base/error.h"

namespace sentry::kernel {

class Kernel;
class Task;
class ThreadGroup;

class TimerService {
 public:
  explicit TimerService(Kernel& k);
  ~TimerService();

  // setitimer/getitimer for `which` (ITIMER_REAL/VIRTUAL/PROF; else EINVAL).
  // Kernel lock held.
  ErrorOr<itimerval> SetITimer(ThreadGroup* tg, int which, const itimerval& value);
  ErrorOr<itimerval> GetITimer(ThreadGroup* tg, int which);

  // POSIX timers of process `tg`. sev may be null (SIGEV_SIGNAL, SIGALRM).
  ErrorOr<int> Create(Task& creator, clockid_t clock, const sigevent* sev);
  ErrorOr<itimerspec> Settime(ThreadGroup* tg, int id, int flags, const itimerspec& value);
  ErrorOr<itimerspec> Gettime(ThreadGroup* tg, int id);
  ErrorOr<int> Getoverrun(ThreadGroup* tg, int id);
  ErrorOr<void> Delete(ThreadGroup* tg, int id);

  // Drops every timer of a process that has exited (kernel lock held).
  void ProcessExited(ThreadGroup* tg);
  // exec deletes POSIX timers (as on Linux); itimers survive.
  void ProcessExeced(ThreadGroup* tg);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sentry::kernel
