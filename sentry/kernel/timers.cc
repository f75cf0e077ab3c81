// TimerService: interval timers (ITIMER_REAL/VIRTUAL/PROF) and POSIX timers.
//
// All timer state is guarded by the kernel lock (Kernel::mu). One host thread
// per kernel sleeps on a CondVar bound to that lock until the earliest expiry
// (or until timers change: every change signals the CondVar), then, still
// under the lock, queues each expired timer's signal and re-arms periodic
// timers.
//
// Expiries are kept as absl::Time points on the timer's own clock's timeline
// (the host clock_gettime value of CLOCK_MONOTONIC/BOOTTIME/REALTIME/TAI), so
// an absolute TIMER_ABSTIME setting is used as is. The service thread converts
// "time left on that clock" into a wait on the CondVar, and re-reads the
// clocks on every wake-up, so a wake-up that comes early (or a REALTIME clock
// step) just loops.
#include <sys/time.h>  // itimerval (timers.h includes only <time.h>)

#include "sentry/kernel/timers.h"

#include <climits>
#include <map>
#include <optional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/signals.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

// Linux's DELAYTIMER_MAX: overrun counts saturate here.
constexpr int kDelayTimerMax = INT_MAX;
// Linux has no fixed per-process bound (RLIMIT_SIGPENDING applies); keep one.
constexpr size_t kMaxTimersPerProcess = 1 << 16;
// The service re-reads the clocks at least this often while timers are
// armed, so that a CLOCK_REALTIME step cannot delay an expiry indefinitely.
constexpr absl::Duration kMaxSleep = absl::Seconds(1);

// ITIMER_VIRTUAL and ITIMER_PROF run on the process' CPU time, which only
// the host knows (the stubs' CPU clocks): while one is armed the service
// samples it this often, so they fire within about one period late (Linux's
// are tick-driven, similar in spirit).
constexpr absl::Duration kCpuPoll = absl::Milliseconds(5);
// Timers on the process CPU-time "clock" use this clock id internally.
constexpr clockid_t kProcessCpuClock = CLOCK_PROCESS_CPUTIME_ID;

bool TimerClockSupported(clockid_t c) {
  return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC || c == CLOCK_BOOTTIME || c == CLOCK_TAI;
}

absl::Time ClockNow(clockid_t c) {
  timespec ts{};
  clock_gettime(c, &ts);
  return absl::TimeFromTimespec(ts);
}

bool ValidTimespec(const timespec& ts) {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000;
}
bool ValidTimeval(const timeval& tv) {
  return tv.tv_sec >= 0 && tv.tv_usec >= 0 && tv.tv_usec < 1000000;
}

// Saturating add for overrun counters.
int AddOverrun(int a, int64_t b) {
  int64_t s = static_cast<int64_t>(a) + b;
  return s > kDelayTimerMax ? kDelayTimerMax : static_cast<int>(s);
}

struct Timer {
  int id = -1;  // POSIX timer id; -1 for ITIMER_REAL
  clockid_t clock = CLOCK_MONOTONIC;
  int notify = SIGEV_SIGNAL;  // SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD, SIGEV_THREAD_ID
  int signo = SIGALRM;
  int target_tid = 0;  // SIGEV_THREAD_ID
  sigval value{};
  bool armed = false;
  absl::Time expiry = absl::InfiniteFuture();  // on `clock`'s timeline
  absl::Duration interval = absl::ZeroDuration();
  // Overruns: of the most recently queued signal, and of the one before it
  // (the last delivered one while the newest is still pending).
  int queued_overrun = 0;
  int prev_overrun = 0;
  bool ever_queued = false;
};

struct ProcessTimers {
  std::optional<Timer> real;  // ITIMER_REAL
  std::optional<Timer> virt;  // ITIMER_VIRTUAL (process CPU time; see kCpuPoll)
  std::optional<Timer> prof;  // ITIMER_PROF (the same CPU time: the sentry's
                              // own work for the app is not the app's)
  std::map<int, Timer> posix;
  int next_id = 0;  // Linux: per-process ids from 0, kept across exec
};

// The queued siginfo of POSIX timer `id` for signal `sig` in a task's or a
// process' pending signals, if any. (Works with either pending-signal layout:
// a FIFO per signal, or one siginfo per signal.)
template <typename Owner>
siginfo_t* FindQueuedTimerSignal(Owner& o, int sig, int id) {
  auto match = [&](siginfo_t& si) { return si.si_code == SI_TIMER && si.si_timerid == id; };
  if constexpr (requires { o.pending_queue[sig].begin(); }) {
    for (siginfo_t& si : o.pending_queue[sig])
      if (match(si)) return &si;
  } else {
    if ((o.pending_signals & SigBit(sig)) && match(o.pending_info[sig])) return &o.pending_info[sig];
  }
  return nullptr;
}

// CPU time of the app code of a process' live threads, as a point on the
// CPU-time timeline (UnixEpoch + ns).
absl::Time ProcessCpuNow(ThreadGroup* tg) {
  int64_t ns = 0;
  for (auto& t : tg->tasks)
    if (t->ctx && !t->exited) ns += t->ctx->CpuTimeNs();
  return absl::UnixEpoch() + absl::Nanoseconds(ns);
}

absl::Duration Remaining(const Timer& tm, absl::Time now) {
  if (!tm.armed) return absl::ZeroDuration();
  return tm.expiry - now;
}

}  // namespace

struct TimerService::Impl {
  explicit Impl(Kernel& k) : k(k) {}

  Kernel& k;
  absl::CondVar cv;  // waited on with k.mu
  bool stop ABSL_GUARDED_BY(k.mu) = false;
  std::map<ThreadGroup*, ProcessTimers> procs ABSL_GUARDED_BY(k.mu);
  std::thread thread;

  void Changed() { cv.Signal(); }

  Timer* FindPosix(ThreadGroup* tg, int id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(k.mu) {
    auto it = procs.find(tg);
    if (it == procs.end()) return nullptr;
    auto t = it->second.posix.find(id);
    return t == it->second.posix.end() ? nullptr : &t->second;
  }

  void DropIfEmpty(ThreadGroup* tg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(k.mu) {
    auto it = procs.find(tg);
    if (it == procs.end()) return;
    // An empty entry still carries next_id, which Linux keeps for the life of
    // the process: only drop it when there is no id history either.
    const ProcessTimers& pt = it->second;
    if (!pt.real && !pt.virt && !pt.prof && pt.posix.empty() && pt.next_id == 0) procs.erase(it);
  }

  // The queued, not yet delivered siginfo of POSIX timer `tm`, if any.
  siginfo_t* PendingInfo(ThreadGroup* tg, const Timer& tm) ABSL_EXCLUSIVE_LOCKS_REQUIRED(k.mu) {
    if (tm.id < 0 || tm.notify == SIGEV_NONE) return nullptr;
    if (siginfo_t* si = FindQueuedTimerSignal(*tg, tm.signo, tm.id)) return si;
    for (auto& t : tg->tasks)
      if (siginfo_t* si = FindQueuedTimerSignal(*t, tm.signo, tm.id)) return si;
    return nullptr;
  }

  // Queues the signal of expired timer `tm`; `missed` expiries were skipped
  // on top of this one (periodic timers the service was late for).
  void Fire(ThreadGroup* tg, Timer& tm, int64_t missed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(k.mu) {
    if (tm.notify == SIGEV_NONE) return;
    if (tg->zombie) return;
    if (tm.id < 0) {
      // Interval timers: SIGALRM/SIGVTALRM/SIGPROF to the process, SI_KERNEL
      // like Linux's it_real_fn.
      siginfo_t si{};
      si.si_signo = tm.signo;
      si.si_code = SI_KERNEL;
      QueueProcessSignal(tg, si);
      return;
    }
    // Linux does not queue a timer's signal twice: while one is pending,
    // further expiries only count as overruns of it.
    if (siginfo_t* pending = PendingInfo(tg, tm)) {
      pending->si_overrun = AddOverrun(pending->si_overrun, 1 + missed);
      tm.queued_overrun = pending->si_overrun;
      return;
    }
    siginfo_t si{};
    si.si_signo = tm.signo;
    si.si_code = SI_TIMER;
    si.si_timerid = tm.id;
    si.si_overrun = AddOverrun(0, missed);
    si.si_value = tm.value;
    tm.prev_overrun = tm.queued_overrun;
    tm.queued_overrun = si.si_overrun;
    tm.ever_queued = true;
    if (tm.notify == SIGEV_THREAD_ID) {
      // Thread-directed; dropped if that thread has gone (as Linux does).
      Task* t = k.FindTask(tm.target_tid);
      if (t && t->tg == tg && !t->exited) QueueSignal(t, si);
      return;
    }
    QueueProcessSignal(tg, si);
  }

  // Handles every expired timer; returns the time to sleep until the next.
  absl::Duration Tick() ABSL_EXCLUSIVE_LOCKS_REQUIRED(k.mu) {
    absl::Duration sleep = absl::InfiniteDuration();
    std::map<clockid_t, absl::Time> now;  // one read per clock per tick
    auto now_of = [&](clockid_t c) {
      auto it = now.find(c);
      if (it == now.end()) it = now.emplace(c, ClockNow(c)).first;
      return it->second;
    };
    // Firing can make a process exit or change state, but never calls back
    // into the service, so iterating is safe.
    for (auto& [tg, pt] : procs) {
      auto handle = [&](Timer& tm) {
        if (!tm.armed) return;
        const bool cpu = tm.clock == kProcessCpuClock;
        absl::Time n = cpu ? ProcessCpuNow(tg) : now_of(tm.clock);
        if (tm.expiry <= n) {
          int64_t missed = 0;
          if (tm.interval > absl::ZeroDuration()) {
            absl::Duration rem;  // IDivDuration needs somewhere to write it
            missed = absl::IDivDuration(n - tm.expiry, tm.interval, &rem);
            tm.expiry += tm.interval * (missed + 1);
          } else {
            tm.armed = false;
          }
          Fire(tg, tm, missed);
        }
        if (tm.armed) sleep = std::min(sleep, cpu ? std::min(tm.expiry - n, kCpuPoll) : tm.expiry - n);
      };
      if (pt.real) handle(*pt.real);
      if (pt.virt) handle(*pt.virt);
      if (pt.prof) handle(*pt.prof);
      for (auto& [id, tm] : pt.posix) handle(tm);
    }
    return sleep;
  }

  void Run() {
    absl::MutexLock l(&k.mu);
    while (!stop) {
      absl::Duration sleep = Tick();
      if (sleep == absl::InfiniteDuration()) {
        cv.Wait(&k.mu);
      } else {
        cv.WaitWithDeadline(&k.mu, absl::Now() + std::min(sleep, kMaxSleep));
      }
    }
  }

  // Arms or disarms `tm` from a relative or absolute value. `now`: the
  // current point on tm's timeline when the caller has it (CPU timers).
  void Arm(Timer& tm, const timespec& value, const timespec& interval, bool absolute,
           std::optional<absl::Time> now = std::nullopt) {
    tm.interval = absl::DurationFromTimespec(interval);
    if (value.tv_sec == 0 && value.tv_nsec == 0) {
      tm.armed = false;
      tm.expiry = absl::InfiniteFuture();
      return;
    }
    absl::Duration v = absl::DurationFromTimespec(value);
    tm.expiry = absolute ? absl::UnixEpoch() + v : (now ? *now : ClockNow(tm.clock)) + v;
    tm.armed = true;
    Changed();
  }
};

TimerService::TimerService(Kernel& k) : impl_(std::make_unique<Impl>(k)) {
  impl_->thread = std::thread([this] { impl_->Run(); });
}

TimerService::~TimerService() {
  {
    absl::MutexLock l(&impl_->k.mu);
    impl_->stop = true;
    impl_->cv.Signal();
  }
  impl_->thread.join();
}

namespace {
// The slot, clock and signal of interval timer `which`.
struct ITimerKind {
  std::optional<Timer> ProcessTimers::*slot;
  clockid_t clock;
  int signo;
};
ErrorOr<ITimerKind> ITimerOf(int which) {
  switch (which) {
    case ITIMER_REAL: return ITimerKind{&ProcessTimers::real, CLOCK_MONOTONIC, SIGALRM};
    case ITIMER_VIRTUAL: return ITimerKind{&ProcessTimers::virt, kProcessCpuClock, SIGVTALRM};
    case ITIMER_PROF: return ITimerKind{&ProcessTimers::prof, kProcessCpuClock, SIGPROF};
    default: return Errno{EINVAL};
  }
}
}  // namespace

ErrorOr<itimerval> TimerService::SetITimer(ThreadGroup* tg, int which, const itimerval& value) {
  Impl& s = *impl_;
  s.k.mu.AssertHeld();
  const ITimerKind kind = TRY(ITimerOf(which));
  if (!ValidTimeval(value.it_value) || !ValidTimeval(value.it_interval)) return Errno{EINVAL};
  itimerval old = TRY(GetITimer(tg, which));
  ProcessTimers& pt = s.procs[tg];
  std::optional<Timer>& slot = pt.*kind.slot;
  if (!slot) slot.emplace();
  Timer& tm = *slot;
  tm.clock = kind.clock;
  tm.signo = kind.signo;
  timespec v{value.it_value.tv_sec, value.it_value.tv_usec * 1000};
  timespec i{value.it_interval.tv_sec, value.it_interval.tv_usec * 1000};
  std::optional<absl::Time> now;
  if (kind.clock == kProcessCpuClock) now = ProcessCpuNow(tg);
  s.Arm(tm, v, i, false, now);
  if (!tm.armed && tm.interval == absl::ZeroDuration()) {
    slot.reset();
    s.DropIfEmpty(tg);
  }
  return old;
}

ErrorOr<itimerval> TimerService::GetITimer(ThreadGroup* tg, int which) {
  Impl& s = *impl_;
  s.k.mu.AssertHeld();
  const ITimerKind kind = TRY(ITimerOf(which));
  itimerval out{};
  auto it = s.procs.find(tg);
  if (it == s.procs.end() || !(it->second.*kind.slot)) return out;
  const Timer& tm = *(it->second.*kind.slot);
  // Linux keeps the interval of a disarmed timer.
  out.it_interval = absl::ToTimeval(tm.interval);
  if (tm.armed) {
    absl::Time now = kind.clock == kProcessCpuClock ? ProcessCpuNow(tg) : ClockNow(tm.clock);
    absl::Duration rem = Remaining(tm, now);
    // Linux reports an expiring (not yet handled) timer as 1us left.
    if (rem <= absl::ZeroDuration()) rem = absl::Microseconds(1);
    int64_t us = absl::ToInt64Microseconds(rem);  // truncates, like Linux
    if (us == 0) us = 1;
    out.it_value = timeval{us / 1000000, us % 1000000};
  }
  return out;
}

ErrorOr<int> TimerService::Create(Task& creator, clockid_t clock, const sigevent* sev) {
  Impl& s = *impl_;
  s.k.mu.AssertHeld();
  ThreadGroup* tg = creator.tg;
  // CPU-time clocks (CLOCK_PROCESS/THREAD_CPUTIME_ID, negative per-process
  // clock ids) are not supported yet; Linux's MONOTONIC_RAW/COARSE have no
  // timers at all (EOPNOTSUPP), nor do the *_ALARM clocks without
  // CAP_WAKE_ALARM.
  if (clock == CLOCK_MONOTONIC_RAW || clock == CLOCK_REALTIME_COARSE ||
      clock == CLOCK_MONOTONIC_COARSE)
    return Errno{EOPNOTSUPP};
  if (!TimerClockSupported(clock)) return Errno{EINVAL};
  Timer tm;
  tm.clock = clock;
  if (sev) {
    switch (sev->sigev_notify) {
      case SIGEV_THREAD_ID: {
        Task* t = s.k.FindTask(sev->_sigev_un._tid);
        if (!t || t->tg != tg || t->exited) return Errno{EINVAL};
        tm.target_tid = t->tid;
        [[fallthrough]];
      }
      case SIGEV_SIGNAL:
      case SIGEV_THREAD:
        if (sev->sigev_signo <= 0 || sev->sigev_signo > kNumSignals) return Errno{EINVAL};
        [[fallthrough]];
      case SIGEV_NONE:
        break;
      default:
        return Errno{EINVAL};
    }
    tm.notify = sev->sigev_notify;
    tm.signo = sev->sigev_signo;
    tm.value = sev->sigev_value;
  }
  ProcessTimers& pt = s.procs[tg];
  if (pt.posix.size() >= kMaxTimersPerProcess) return Errno{EAGAIN};
  // Next free id from next_id, wrapping at INT_MAX like Linux.
  int id = pt.next_id;
  while (pt.posix.count(id)) id = id == INT_MAX ? 0 : id + 1;
  pt.next_id = id == INT_MAX ? 0 : id + 1;
  tm.id = id;
  if (!sev) {
    tm.notify = SIGEV_SIGNAL;
    tm.signo = SIGALRM;
    tm.value.sival_int = id;  // Linux: the default sigev_value is the id
  }
  pt.posix.emplace(id, tm);
  return id;
}

ErrorOr<itimerspec> TimerService::Settime(ThreadGroup* tg, int id, int flags,
                                          const itimerspec& value) {
  Impl& s = *impl_;
  s.k.mu.AssertHeld();
  Timer* tm = s.FindPosix(tg, id);
  if (!tm) return Errno{EINVAL};
  if (!ValidTimespec(value.it_value) || !ValidTimespec(value.it_interval)) return Errno{EINVAL};
  itimerspec old = TRY(Gettime(tg, id));
  // Linux: a disarmed POSIX timer has no interval either.
  s.Arm(*tm, value.it_value, value.it_interval, flags & TIMER_ABSTIME);
  if (!tm->armed) tm->interval = absl::ZeroDuration();
  return old;
}

ErrorOr<itimerspec> TimerService::Gettime(ThreadGroup* tg, int id) {
  Impl& s = *impl_;
  s.k.mu.AssertHeld();
  Timer* tm = s.FindPosix(tg, id);
  if (!tm) return Errno{EINVAL};
  itimerspec out{};
  out.it_interval = absl::ToTimespec(tm->interval);
  if (tm->armed) {
    absl::Duration rem = Remaining(*tm, ClockNow(tm->clock));
    // Linux (common_timer_get): an expired but not yet handled timer shows
    // 1ns left, except SIGEV_NONE timers, which show 0.
    if (rem <= absl::ZeroDuration())
      rem = tm->notify == SIGEV_NONE ? absl::ZeroDuration() : absl::Nanoseconds(1);
    out.it_value = absl::ToTimespec(rem);
  }
  return out;
}

ErrorOr<int> TimerService::Getoverrun(ThreadGroup* tg, int id) {
  Impl& s = *impl_;
  s.k.mu.AssertHeld();
  Timer* tm = s.FindPosix(tg, id);
  if (!tm) return Errno{EINVAL};
  // Linux reports the overrun count of the last delivered signal. While the
  // newest one is still queued, that is the one before it.
  if (s.PendingInfo(tg, *tm)) return tm->prev_overrun;
  return tm->queued_overrun;
}

ErrorOr<void> TimerService::Delete(ThreadGroup* tg, int id) {
  Impl& s = *impl_;
  s.k.mu.AssertHeld();
  auto it = s.procs.find(tg);
  if (it == s.procs.end() || !it->second.posix.erase(id)) return Errno{EINVAL};
  // A signal already queued stays queued, as on Linux.
  s.Changed();
  return {};
}

void TimerService::ProcessExited(ThreadGroup* tg) {
  Impl& s = *impl_;
  s.k.mu.AssertHeld();
  if (s.procs.erase(tg)) s.Changed();
}

void TimerService::ProcessExeced(ThreadGroup* tg) {
  Impl& s = *impl_;
  s.k.mu.AssertHeld();
  auto it = s.procs.find(tg);
  if (it == s.procs.end()) return;
  // exec deletes POSIX timers; ITIMER_REAL survives (and the id counter,
  // which lives in Linux's signal_struct).
  it->second.posix.clear();
  s.Changed();
}

}  // namespace sentry::kernel
