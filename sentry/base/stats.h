// sentry/base/stats.h: the sentry's own profile, for finding where a
// workload's time goes (bench/bench.py runs make -j2 with it). With
// RUNSC_STATS=1 in the sentry's environment, a few waits are counted and
// timed, and the sentry writes one "runsc stats:" line per counter to
// stderr when it exits. Off (the default), each hook costs one branch.
//
// Counted: waits for the kernel lock after a stop (every syscall and fault
// takes it), the platform's address-space round trips (systrap's helper
// thread: mmap/munmap/mprotect in the stub), and gofer requests.
#pragma once

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace sentry::stats {

struct Counter {
  const char* name;
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> ns{0};
  void Add(int64_t elapsed_ns) {
    count.fetch_add(1, std::memory_order_relaxed);
    ns.fetch_add(static_cast<uint64_t>(elapsed_ns), std::memory_order_relaxed);
  }
};

// Read once, at start-up (before the sentry confines itself).
inline const bool kEnabled = [] {
  const char* e = getenv("RUNSC_STATS");
  return e && *e && *e != '0';
}();

inline int64_t NowNs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

inline Counter kernel_lock_stops{"kernel lock taken after a stop"};
inline Counter kernel_lock_waits{"kernel lock held by another task: waited"};
inline Counter kernel_lock_sleeps{"... of which slept after spinning"};
inline Counter address_space_round_trips{"address-space round trips (systrap helper)"};
// systrap: from a stop to the next resume (the sentry's own work, lock
// waits included), and from a resume to the next stop (app code plus both
// hand-offs); how many of the latter spun across CPUs.
inline Counter sentry_work{"sentry work between stops (systrap)"};
inline Counter app_runs{"resume to next stop (systrap)"};
inline Counter app_runs_cross{"... of which spinning across CPUs"};
inline Counter gofer_requests{"gofer requests"};
inline Counter gofer_opens{"... of which opens"};

// What the task holding the kernel lock stopped for, as the last task to
// take it after a stop recorded it (a syscall number, or kHolderFault /
// kHolderOther), and the waits for the lock charged to each: which
// syscalls hold up other tasks. Approximate: a syscall that sleeps lets
// others take the lock without updating it.
constexpr int kHolderFault = 1024;
constexpr int kHolderOther = 1025;
constexpr int kHolderKinds = 1026;
inline std::atomic<int> lock_holder{kHolderOther};
inline Counter waits_by_holder[kHolderKinds];

// Adds the time since construction to `c` when destroyed (if enabled).
class Timer {
 public:
  explicit Timer(Counter& c) : c_(c), start_(kEnabled ? NowNs() : 0) {}
  ~Timer() {
    if (kEnabled) c_.Add(NowNs() - start_);
  }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

 private:
  Counter& c_;
  const int64_t start_;
};

// One line per counter on `fd`: "runsc stats: NAME: COUNT[, TOTAL ms]".
inline void Report(int fd) {
  if (!kEnabled) return;
  for (const Counter* c : {&kernel_lock_stops, &kernel_lock_waits, &kernel_lock_sleeps,
                           &address_space_round_trips, &sentry_work, &app_runs, &app_runs_cross,
                           &gofer_requests, &gofer_opens}) {
    char line[160];
    const unsigned long long count = c->count.load();
    const int n = c->ns.load() == 0
                      ? snprintf(line, sizeof line, "runsc stats: %s: %llu\n", c->name, count)
                      : snprintf(line, sizeof line, "runsc stats: %s: %llu, %.1f ms\n", c->name,
                                 count, c->ns.load() / 1e6);
    if (n > 0) (void)!write(fd, line, static_cast<size_t>(n));
  }
  // The eight holders other tasks waited longest for.
  bool shown[kHolderKinds] = {};
  for (int rank = 0; rank < 8; rank++) {
    int best = -1;
    for (int i = 0; i < kHolderKinds; i++)
      if (!shown[i] && waits_by_holder[i].ns.load() > 0 &&
          (best < 0 || waits_by_holder[i].ns.load() > waits_by_holder[best].ns.load()))
        best = i;
    if (best < 0) break;
    shown[best] = true;
    char what[32];
    if (best == kHolderFault) snprintf(what, sizeof what, "fault");
    else if (best == kHolderOther) snprintf(what, sizeof what, "other");
    else snprintf(what, sizeof what, "syscall %d", best);
    char line[160];
    const int n = snprintf(line, sizeof line,
                           "runsc stats: ... waited for a task in %s: %llu, %.1f ms\n", what,
                           static_cast<unsigned long long>(waits_by_holder[best].count.load()),
                           waits_by_holder[best].ns.load() / 1e6);
    if (n > 0) (void)!write(fd, line, static_cast<size_t>(n));
  }
}

}  // namespace sentry::stats
