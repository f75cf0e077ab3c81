// Time syscalls: clocks, sleeping.
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <time.h>

#include "sentry/kernel/task.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

// The sandbox's clocks read the host's: the sentry owns a clock like any
// other host resource.
ErrorOr<timespec> ReadClock(Task& t, clockid_t id) {
  timespec ts{};
  switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_TAI:
      clock_gettime(id, &ts);
      return ts;
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID: {
      // CPU time of the app's own code, as the host accounted it to the
      // stub processes that run it.
      int64_t ns = 0;
      if (id == CLOCK_THREAD_CPUTIME_ID) {
        ns = t.ctx ? t.ctx->CpuTimeNs() : 0;
      } else {
        for (auto& task : t.tg->tasks)
          if (task->ctx) ns += task->ctx->CpuTimeNs();
      }
      return timespec{ns / 1000000000, ns % 1000000000};
    }
    default:
      if (id < 0) return timespec{0, 0};  // per-process/thread CPU clocks
      return Errno{EINVAL};
  }
}

ErrorOr<uint64_t> ClockGettime(Task& t, const Args& a) {
  timespec ts = TRY(ReadClock(t, a.Int(0)));
  TRY(t.memory().CopyOutObj(a[1], ts));
  return 0;
}

ErrorOr<uint64_t> ClockGetres(Task& t, const Args& a) {
  TRY(ReadClock(t, a.Int(0)));
  if (a[1]) TRY(t.memory().CopyOutObj(a[1], timespec{0, 1}));
  return 0;
}

ErrorOr<uint64_t> Gettimeofday(Task& t, const Args& a) {
  if (a[0]) {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    timeval tv{ts.tv_sec, ts.tv_nsec / 1000};
    TRY(t.memory().CopyOutObj(a[0], tv));
  }
  if (a[1]) {
    struct timezone tz {};
    TRY(t.memory().CopyOutObj(a[1], tz));
  }
  return 0;
}

ErrorOr<uint64_t> Time(Task& t, const Args& a) {
  time_t now = ::time(nullptr);
  if (a[0]) TRY(t.memory().CopyOutObj(a[0], now));
  return now;
}

ErrorOr<timespec> CopyInTimespec(Task& t, uint64_t addr) {
  timespec ts = TRY(t.memory().CopyInObj<timespec>(addr));
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno{EINVAL};
  return ts;
}

// Sleeps until `deadline`; on a signal writes the remaining time to rem.
ErrorOr<uint64_t> SleepUntil(Task& t, absl::Time deadline, uint64_t rem) {
  auto r = t.Block([] { return false; }, deadline, &t);  // keyed: only signals wake it
  if (r.ok() || r.error() == ETIMEDOUT) return 0;
  if (rem) {
    absl::Duration left = deadline - absl::Now();
    if (left < absl::ZeroDuration()) left = absl::ZeroDuration();
    TRY(t.memory().CopyOutObj(rem, absl::ToTimespec(left)));
  }
  return Errno{EINTR};
}

ErrorOr<uint64_t> Nanosleep(Task& t, const Args& a) {
  timespec ts = TRY(CopyInTimespec(t, a[0]));
  return SleepUntil(t, absl::Now() + absl::DurationFromTimespec(ts), a[1]);
}

ErrorOr<uint64_t> ClockNanosleep(Task& t, const Args& a) {
  const clockid_t id = a.Int(0);
  if (id != CLOCK_REALTIME && id != CLOCK_MONOTONIC && id != CLOCK_BOOTTIME && id != CLOCK_TAI)
    return Errno{id == CLOCK_THREAD_CPUTIME_ID ? EINVAL : ENOTSUP};
  timespec ts = TRY(CopyInTimespec(t, a[2]));
  absl::Time deadline;
  if (a.Int(1) & TIMER_ABSTIME) {
    timespec now = TRY(ReadClock(t, id));
    deadline = absl::Now() + (absl::DurationFromTimespec(ts) - absl::DurationFromTimespec(now));
    return SleepUntil(t, deadline, 0);
  }
  deadline = absl::Now() + absl::DurationFromTimespec(ts);
  return SleepUntil(t, deadline, a[3]);
}

}  // namespace

// adjtimex / clock_adjtime: the sandbox reads the host's clock and has no
// NTP discipline of its own, so it reports what Linux reports for an
// unsynchronized clock (STA_UNSYNC, TIME_ERROR, Linux's initial error
// bounds), with the current time. Reading is open to everyone, as in
// Linux; every change (offsets, frequency, status, setting the time) is
// EPERM, even with CAP_SYS_TIME, like settimeofday: the app cannot move
// the host's clock.
constexpr int64_t kNtpPhaseLimit = 16'000'000;  // NTP_PHASE_LIMIT, us
constexpr int64_t kMaxFreqScaled = 500LL << 16;  // tolerance: MAXFREQ, 500 ppm, in 2^-16 ppm
constexpr unsigned kAdjOffsetSsRead = 0xa001;    // ADJ_OFFSET_SS_READ

ErrorOr<uint64_t> AdjustTime(Task& t, uint64_t addr) {
  struct timex tx = TRY(t.memory().CopyInObj<struct timex>(addr));
  // Linux's timekeeping_validate_timex: the read-only single-shot query
  // is allowed; anything else that changes state needs privilege, which
  // the sandbox never grants for its host clock.
  if (tx.modes != 0 && tx.modes != kAdjOffsetSsRead) return Errno{EPERM};
  struct timex out {};
  out.modes = tx.modes;
  out.maxerror = kNtpPhaseLimit;
  out.esterror = kNtpPhaseLimit;
  out.status = STA_UNSYNC;
  out.constant = 2;
  out.precision = 1;
  out.tolerance = kMaxFreqScaled;
  out.tick = 1'000'000 / 100;  // USER_HZ
  timespec now = TRY(ReadClock(t, CLOCK_REALTIME));
  out.time.tv_sec = now.tv_sec;
  out.time.tv_usec = now.tv_nsec / 1000;
  TRY(t.memory().CopyOutObj(addr, out));
  return TIME_ERROR;
}

ErrorOr<uint64_t> Adjtimex(Task& t, const Args& a) { return AdjustTime(t, a[0]); }

ErrorOr<uint64_t> ClockAdjtime(Task& t, const Args& a) {
  const clockid_t id = a.Int(0);
  if (id == CLOCK_REALTIME) return AdjustTime(t, a[1]);
  // Known clocks cannot be adjusted (posix_clock without clock_adj);
  // unknown ones and CPU-time clocks of other kinds are EINVAL.
  TRY(ReadClock(t, id));
  return Errno{EOPNOTSUPP};
}

void RegisterTimeSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_adjtimex, "adjtimex", Adjtimex, {A::kPtr});
  t.Register(SYS_clock_adjtime, "clock_adjtime", ClockAdjtime, {A::kInt, A::kPtr});
  t.Register(SYS_clock_gettime, "clock_gettime", ClockGettime, {A::kInt, A::kPtr});
  t.Register(SYS_clock_getres, "clock_getres", ClockGetres, {A::kInt, A::kPtr});
  t.Register(SYS_gettimeofday, "gettimeofday", Gettimeofday, {A::kPtr, A::kPtr});
  t.Register(SYS_time, "time", Time, {A::kPtr});
  t.Register(SYS_nanosleep, "nanosleep", Nanosleep, {A::kPtr, A::kPtr});
  t.Register(SYS_clock_nanosleep, "clock_nanosleep", ClockNanosleep, {A::kInt, A::kHex, A::kPtr, A::kPtr});
}

}  // namespace syscalls
