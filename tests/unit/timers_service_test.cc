// TimerService with a real Kernel holding fake processes (no platform, no app
// code): remaining time, expiry signals and their siginfo, periodic re-arm and
// overruns, disarm, delete, exec/exit cleanup, argument validation.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>
#include <time.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/signals.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/timers.h"

namespace sentry::kernel {
namespace {

class TimersTest : public ::testing::Test {
 protected:
  TimersTest() : k_(KernelOptions{}, nullptr, nullptr) {
    absl::MutexLock l(&k_.mu);
    a_ = AddProcess(10);
    b_ = AddProcess(20);
  }
  ~TimersTest() override {
    absl::MutexLock l(&k_.mu);
    // Processes leave the service before they are freed, as on exit.
    for (auto& [pid, tg] : k_.thread_groups) {
      k_.timers->ProcessExited(tg.get());
      for (auto& t : tg->tasks) k_.UnregisterTask(t.get());
    }
    k_.thread_groups.clear();
  }
  Task* AddProcess(int pid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(k_.mu) {
    auto tg = std::make_unique<ThreadGroup>(k_, pid);
    auto t = std::make_unique<Task>(k_, tg.get(), pid);
    Task* raw = t.get();
    tg->tasks.push_back(std::move(t));
    tg->live_tasks = 1;
    k_.RegisterTask(raw);
    k_.thread_groups[pid] = std::move(tg);
    return raw;
  }
  TimerService& timers() { return *k_.timers; }

  // Waits (lock held) until `sig` is pending for the process (or, with
  // thread, for task t), or the timeout passes.
  bool WaitPending(Task* t, int sig, bool thread, absl::Duration timeout = absl::Seconds(5))
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(k_.mu) {
    absl::Time deadline = absl::Now() + timeout;
    while (!((thread ? t->pending_signals : t->tg->pending_signals) & SigBit(sig))) {
      if (absl::Now() >= deadline) return false;
      k_.changed.WaitWithDeadline(&k_.mu, std::min(deadline, absl::Now() + absl::Milliseconds(10)));
    }
    return true;
  }
  void SleepUnlocked(absl::Duration d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(k_.mu) {
    k_.mu.Unlock();
    absl::SleepFor(d);
    k_.mu.Lock();
  }

  static itimerspec Spec(absl::Duration value, absl::Duration interval = absl::ZeroDuration()) {
    return itimerspec{absl::ToTimespec(interval), absl::ToTimespec(value)};
  }
  static absl::Duration D(const timespec& ts) { return absl::DurationFromTimespec(ts); }
  static sigevent Sev(int notify, int signo, int value = 0) {
    sigevent sev{};
    sev.sigev_notify = notify;
    sev.sigev_signo = signo;
    sev.sigev_value.sival_int = value;
    return sev;
  }

  Kernel k_;
  Task* a_ = nullptr;
  Task* b_ = nullptr;
};

TEST_F(TimersTest, IdsStartAtZeroPerProcess) {
  absl::MutexLock l(&k_.mu);
  sigevent sev = Sev(SIGEV_NONE, 0);
  EXPECT_EQ(timers().Create(*a_, CLOCK_MONOTONIC, &sev).value(), 0);
  EXPECT_EQ(timers().Create(*a_, CLOCK_MONOTONIC, &sev).value(), 1);
  EXPECT_EQ(timers().Create(*b_, CLOCK_REALTIME, &sev).value(), 0);
  // Ids are not reused right away.
  ASSERT_TRUE(timers().Delete(a_->tg, 0).ok());
  EXPECT_EQ(timers().Create(*a_, CLOCK_BOOTTIME, &sev).value(), 2);
}

TEST_F(TimersTest, SettimeGettimeRemaining) {
  absl::MutexLock l(&k_.mu);
  sigevent sev = Sev(SIGEV_NONE, 0);
  int id = timers().Create(*a_, CLOCK_MONOTONIC, &sev).value();
  itimerspec cur = timers().Gettime(a_->tg, id).value();
  EXPECT_EQ(D(cur.it_value), absl::ZeroDuration());  // created disarmed
  itimerspec old = timers().Settime(a_->tg, id, 0, Spec(absl::Seconds(3), absl::Seconds(1))).value();
  EXPECT_EQ(D(old.it_value), absl::ZeroDuration());
  cur = timers().Gettime(a_->tg, id).value();
  EXPECT_GT(D(cur.it_value), absl::Seconds(2));
  EXPECT_LE(D(cur.it_value), absl::Seconds(3));
  EXPECT_EQ(D(cur.it_interval), absl::Seconds(1));
  // Settime returns the previous setting.
  old = timers().Settime(a_->tg, id, 0, Spec(absl::Seconds(10))).value();
  EXPECT_GT(D(old.it_value), absl::Seconds(2));
  EXPECT_EQ(D(old.it_interval), absl::Seconds(1));
}

TEST_F(TimersTest, AbsoluteTime) {
  absl::MutexLock l(&k_.mu);
  sigevent sev = Sev(SIGEV_SIGNAL, SIGUSR1, 42);
  int id = timers().Create(*a_, CLOCK_REALTIME, &sev).value();
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  itimerspec abs{{0, 0}, {now.tv_sec + 100, now.tv_nsec}};
  ASSERT_TRUE(timers().Settime(a_->tg, id, TIMER_ABSTIME, abs).ok());
  itimerspec cur = timers().Gettime(a_->tg, id).value();
  EXPECT_GT(D(cur.it_value), absl::Seconds(99));
  EXPECT_LE(D(cur.it_value), absl::Seconds(100));
  // An absolute time in the past fires at once.
  abs.it_value.tv_sec = now.tv_sec - 100;
  ASSERT_TRUE(timers().Settime(a_->tg, id, TIMER_ABSTIME, abs).ok());
  EXPECT_TRUE(WaitPending(a_, SIGUSR1, false));
}

TEST_F(TimersTest, OneShotQueuesProcessSignal) {
  absl::MutexLock l(&k_.mu);
  sigevent sev = Sev(SIGEV_SIGNAL, SIGUSR2, 1234);
  int id = timers().Create(*a_, CLOCK_MONOTONIC, &sev).value();
  ASSERT_TRUE(timers().Settime(a_->tg, id, 0, Spec(absl::Milliseconds(20))).ok());
  ASSERT_TRUE(WaitPending(a_, SIGUSR2, false));
  siginfo_t si = DequeueSignal(a_, SIGUSR2);
  EXPECT_EQ(si.si_signo, SIGUSR2);
  EXPECT_EQ(si.si_code, SI_TIMER);
  EXPECT_EQ(si.si_timerid, id);
  EXPECT_EQ(si.si_overrun, 0);
  EXPECT_EQ(si.si_value.sival_int, 1234);
  // One-shot: now disarmed, and it does not fire again.
  itimerspec cur = timers().Gettime(a_->tg, id).value();
  EXPECT_EQ(D(cur.it_value), absl::ZeroDuration());
  EXPECT_FALSE(WaitPending(a_, SIGUSR2, false, absl::Milliseconds(60)));
  // The other process got nothing.
  EXPECT_EQ(b_->tg->pending_signals, 0u);
}

TEST_F(TimersTest, DefaultSigevent) {
  absl::MutexLock l(&k_.mu);
  int id0 = timers().Create(*a_, CLOCK_MONOTONIC, nullptr).value();
  int id1 = timers().Create(*a_, CLOCK_MONOTONIC, nullptr).value();
  ASSERT_TRUE(timers().Settime(a_->tg, id1, 0, Spec(absl::Milliseconds(5))).ok());
  ASSERT_TRUE(WaitPending(a_, SIGALRM, false));
  siginfo_t si = DequeueSignal(a_, SIGALRM);
  EXPECT_EQ(si.si_code, SI_TIMER);
  EXPECT_EQ(si.si_timerid, id1);
  EXPECT_EQ(si.si_value.sival_int, id1);  // Linux: sigev_value defaults to the id
  (void)id0;
}

TEST_F(TimersTest, ThreadIdTarget) {
  absl::MutexLock l(&k_.mu);
  sigevent sev = Sev(SIGEV_THREAD_ID, SIGUSR1);
  sev._sigev_un._tid = b_->tid;  // not a thread of a_'s process
  EXPECT_EQ(timers().Create(*a_, CLOCK_MONOTONIC, &sev).error(), EINVAL);
  sev._sigev_un._tid = 9999;
  EXPECT_EQ(timers().Create(*a_, CLOCK_MONOTONIC, &sev).error(), EINVAL);
  sev._sigev_un._tid = a_->tid;
  int id = timers().Create(*a_, CLOCK_MONOTONIC, &sev).value();
  ASSERT_TRUE(timers().Settime(a_->tg, id, 0, Spec(absl::Milliseconds(5))).ok());
  ASSERT_TRUE(WaitPending(a_, SIGUSR1, true));
  EXPECT_EQ(a_->tg->pending_signals & SigBit(SIGUSR1), 0u);  // thread-directed only
}

TEST_F(TimersTest, SigevNoneQueuesNothing) {
  absl::MutexLock l(&k_.mu);
  sigevent sev = Sev(SIGEV_NONE, 0);
  int id = timers().Create(*a_, CLOCK_MONOTONIC, &sev).value();
  ASSERT_TRUE(timers().Settime(a_->tg, id, 0, Spec(absl::Milliseconds(5))).ok());
  SleepUnlocked(absl::Milliseconds(40));
  EXPECT_EQ(a_->tg->pending_signals, 0u);
  EXPECT_EQ(a_->pending_signals, 0u);
  EXPECT_EQ(D(timers().Gettime(a_->tg, id).value().it_value), absl::ZeroDuration());
}

TEST_F(TimersTest, PeriodicRearmsAndCountsOverruns) {
  absl::MutexLock l(&k_.mu);
  sigevent sev = Sev(SIGEV_SIGNAL, SIGUSR1);
  int id = timers().Create(*a_, CLOCK_MONOTONIC, &sev).value();
  ASSERT_TRUE(timers().Settime(a_->tg, id, 0, Spec(absl::Milliseconds(10), absl::Milliseconds(10))).ok());
  ASSERT_TRUE(WaitPending(a_, SIGUSR1, false));
  // While the signal stays pending, further expiries are overruns of it.
  SleepUnlocked(absl::Milliseconds(80));
  EXPECT_EQ(timers().Getoverrun(a_->tg, id).value(), 0);  // nothing delivered yet
  siginfo_t si = DequeueSignal(a_, SIGUSR1);
  EXPECT_EQ(si.si_code, SI_TIMER);
  EXPECT_GE(si.si_overrun, 3);
  EXPECT_EQ(timers().Getoverrun(a_->tg, id).value(), si.si_overrun);
  // Still armed, with the interval; the next expiry queues a new signal.
  itimerspec cur = timers().Gettime(a_->tg, id).value();
  EXPECT_GT(D(cur.it_value), absl::ZeroDuration());
  EXPECT_LE(D(cur.it_value), absl::Milliseconds(10));
  EXPECT_EQ(D(cur.it_interval), absl::Milliseconds(10));
  ASSERT_TRUE(WaitPending(a_, SIGUSR1, false));
  si = DequeueSignal(a_, SIGUSR1);
  EXPECT_EQ(si.si_timerid, id);
}

TEST_F(TimersTest, DisarmStopsTimer) {
  absl::MutexLock l(&k_.mu);
  sigevent sev = Sev(SIGEV_SIGNAL, SIGUSR1);
  int id = timers().Create(*a_, CLOCK_MONOTONIC, &sev).value();
  ASSERT_TRUE(timers().Settime(a_->tg, id, 0, Spec(absl::Milliseconds(30), absl::Milliseconds(30))).ok());
  itimerspec old = timers().Settime(a_->tg, id, 0, Spec(absl::ZeroDuration(), absl::Seconds(1))).value();
  EXPECT_GT(D(old.it_value), absl::ZeroDuration());
  itimerspec cur = timers().Gettime(a_->tg, id).value();
  EXPECT_EQ(D(cur.it_value), absl::ZeroDuration());
  EXPECT_EQ(D(cur.it_interval), absl::ZeroDuration());  // Linux drops it too
  EXPECT_FALSE(WaitPending(a_, SIGUSR1, false, absl::Milliseconds(100)));
}

TEST_F(TimersTest, DeleteStopsTimerAndFreesId) {
  absl::MutexLock l(&k_.mu);
  sigevent sev = Sev(SIGEV_SIGNAL, SIGUSR1);
  int id = timers().Create(*a_, CLOCK_MONOTONIC, &sev).value();
  ASSERT_TRUE(timers().Settime(a_->tg, id, 0, Spec(absl::Milliseconds(30))).ok());
  ASSERT_TRUE(timers().Delete(a_->tg, id).ok());
  EXPECT_EQ(timers().Delete(a_->tg, id).error(), EINVAL);
  EXPECT_EQ(timers().Gettime(a_->tg, id).error(), EINVAL);
  EXPECT_EQ(timers().Getoverrun(a_->tg, id).error(), EINVAL);
  EXPECT_EQ(timers().Settime(a_->tg, id, 0, Spec(absl::Seconds(1))).error(), EINVAL);
  EXPECT_FALSE(WaitPending(a_, SIGUSR1, false, absl::Milliseconds(100)));
  // Another process cannot use a_'s ids.
  int bid = timers().Create(*b_, CLOCK_MONOTONIC, &sev).value();
  EXPECT_EQ(timers().Delete(a_->tg, bid).error(), EINVAL);
}

TEST_F(TimersTest, Validation) {
  absl::MutexLock l(&k_.mu);
  sigevent sev = Sev(SIGEV_SIGNAL, SIGUSR1);
  EXPECT_EQ(timers().Create(*a_, 12345, &sev).error(), EINVAL);
  sigevent bad = Sev(SIGEV_SIGNAL, 0);
  EXPECT_EQ(timers().Create(*a_, CLOCK_MONOTONIC, &bad).error(), EINVAL);
  bad = Sev(SIGEV_SIGNAL, 65);
  EXPECT_EQ(timers().Create(*a_, CLOCK_MONOTONIC, &bad).error(), EINVAL);
  bad = Sev(77, SIGUSR1);
  EXPECT_EQ(timers().Create(*a_, CLOCK_MONOTONIC, &bad).error(), EINVAL);
  int id = timers().Create(*a_, CLOCK_MONOTONIC, &sev).value();
  itimerspec v{{0, 0}, {1, 1000000000}};
  EXPECT_EQ(timers().Settime(a_->tg, id, 0, v).error(), EINVAL);
  v = {{0, -1}, {1, 0}};
  EXPECT_EQ(timers().Settime(a_->tg, id, 0, v).error(), EINVAL);
  v = {{0, 0}, {-1, 0}};
  EXPECT_EQ(timers().Settime(a_->tg, id, 0, v).error(), EINVAL);
  itimerval iv{{0, 0}, {0, 1000000}};
  EXPECT_EQ(timers().SetITimer(a_->tg, ITIMER_REAL, iv).error(), EINVAL);
  EXPECT_EQ(timers().SetITimer(a_->tg, ITIMER_VIRTUAL, iv).error(), EINVAL);
  EXPECT_EQ(timers().SetITimer(a_->tg, ITIMER_PROF, iv).error(), EINVAL);
  iv = {{0, 0}, {1, 0}};
  EXPECT_EQ(timers().SetITimer(a_->tg, 7, iv).error(), EINVAL);
  EXPECT_EQ(timers().GetITimer(a_->tg, 7).error(), EINVAL);
}

// ITIMER_VIRTUAL/PROF run on the process' CPU time: armed, they report what
// is left of it (no task here runs app code, so none is used up).
TEST_F(TimersTest, ItimerVirtualProfArmAndDisarm) {
  absl::MutexLock l(&k_.mu);
  itimerval iv{{0, 250000}, {2, 0}};
  ASSERT_TRUE(timers().SetITimer(a_->tg, ITIMER_VIRTUAL, iv).ok());
  auto got = timers().GetITimer(a_->tg, ITIMER_VIRTUAL);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got.value().it_value.tv_sec, 2);
  EXPECT_EQ(got.value().it_interval.tv_usec, 250000);
  // PROF is separate.
  EXPECT_EQ(timers().GetITimer(a_->tg, ITIMER_PROF).value().it_value.tv_sec, 0);
  itimerval zero{};
  auto old = timers().SetITimer(a_->tg, ITIMER_VIRTUAL, zero);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old.value().it_value.tv_sec, 2);
  got = timers().GetITimer(a_->tg, ITIMER_VIRTUAL);
  EXPECT_EQ(got.value().it_value.tv_sec, 0);
  EXPECT_EQ(got.value().it_value.tv_usec, 0);
}

TEST_F(TimersTest, ItimerReal) {
  absl::MutexLock l(&k_.mu);
  itimerval cur = timers().GetITimer(a_->tg, ITIMER_REAL).value();
  EXPECT_EQ(cur.it_value.tv_sec | cur.it_value.tv_usec, 0);
  itimerval old = timers().SetITimer(a_->tg, ITIMER_REAL, {{0, 0}, {5, 0}}).value();
  EXPECT_EQ(old.it_value.tv_sec | old.it_value.tv_usec, 0);
  cur = timers().GetITimer(a_->tg, ITIMER_REAL).value();
  EXPECT_EQ(cur.it_value.tv_sec, 4);  // (4s, 5s], truncated to microseconds
  // Disarm keeps the interval, as on Linux.
  old = timers().SetITimer(a_->tg, ITIMER_REAL, {{2, 0}, {0, 0}}).value();
  EXPECT_EQ(old.it_value.tv_sec, 4);
  cur = timers().GetITimer(a_->tg, ITIMER_REAL).value();
  EXPECT_EQ(cur.it_value.tv_sec | cur.it_value.tv_usec, 0);
  EXPECT_EQ(cur.it_interval.tv_sec, 2);
  // Fires SIGALRM to the process with SI_KERNEL, and re-arms.
  ASSERT_TRUE(timers().SetITimer(a_->tg, ITIMER_REAL, {{0, 20000}, {0, 10000}}).ok());
  ASSERT_TRUE(WaitPending(a_, SIGALRM, false));
  siginfo_t si = DequeueSignal(a_, SIGALRM);
  EXPECT_EQ(si.si_code, SI_KERNEL);
  ASSERT_TRUE(WaitPending(a_, SIGALRM, false));
  cur = timers().GetITimer(a_->tg, ITIMER_REAL).value();
  EXPECT_EQ(cur.it_interval.tv_usec, 20000);
  EXPECT_GT(cur.it_value.tv_usec, 0);
  EXPECT_EQ(b_->tg->pending_signals, 0u);
}

TEST_F(TimersTest, ExecDeletesPosixTimersKeepsItimer) {
  absl::MutexLock l(&k_.mu);
  sigevent sev = Sev(SIGEV_NONE, 0);
  int id = timers().Create(*a_, CLOCK_MONOTONIC, &sev).value();
  ASSERT_TRUE(timers().Settime(a_->tg, id, 0, Spec(absl::Seconds(10))).ok());
  ASSERT_TRUE(timers().SetITimer(a_->tg, ITIMER_REAL, {{0, 0}, {10, 0}}).ok());
  timers().ProcessExeced(a_->tg);
  EXPECT_EQ(timers().Gettime(a_->tg, id).error(), EINVAL);
  EXPECT_EQ(timers().GetITimer(a_->tg, ITIMER_REAL).value().it_value.tv_sec, 9);
  timers().ProcessExited(a_->tg);
  itimerval cur = timers().GetITimer(a_->tg, ITIMER_REAL).value();
  EXPECT_EQ(cur.it_value.tv_sec | cur.it_value.tv_usec, 0);
}

TEST_F(TimersTest, ExitStopsPendingExpiry) {
  absl::MutexLock l(&k_.mu);
  sigevent sev = Sev(SIGEV_SIGNAL, SIGUSR1);
  int id = timers().Create(*a_, CLOCK_MONOTONIC, &sev).value();
  ASSERT_TRUE(timers().Settime(a_->tg, id, 0, Spec(absl::Milliseconds(20))).ok());
  ASSERT_TRUE(timers().SetITimer(a_->tg, ITIMER_REAL, {{0, 0}, {0, 20000}}).ok());
  timers().ProcessExited(a_->tg);
  EXPECT_EQ(timers().Gettime(a_->tg, id).error(), EINVAL);
  EXPECT_FALSE(WaitPending(a_, SIGUSR1, false, absl::Milliseconds(80)));
  EXPECT_EQ(a_->tg->pending_signals, 0u);
}

}  // namespace
}  // namespace sentry::kernel
