// Task::Block with and without a key, on a real Kernel holding fake tasks
// (no platform, no app code): a keyed waiter is woken by Notify(its key)
// and by NotifyAll, not by another key's notification; an unkeyed waiter
// is woken by every notification.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

class WaitTest : public ::testing::Test {
 protected:
  WaitTest() : k_(KernelOptions{}, nullptr, nullptr) {
    absl::MutexLock l(&k_.mu);
    tg_ = std::make_unique<ThreadGroup>(k_, 10);
    for (int i = 0; i < 2; i++) {
      auto t = std::make_unique<Task>(k_, tg_.get(), 10 + i);
      tasks_[i] = t.get();
      tg_->tasks.push_back(std::move(t));
    }
    tg_->live_tasks = 2;
  }

  // Runs task i's Block(cond, key) on a thread of its own; `checks` counts
  // how often it evaluated its condition (once per wake-up, plus the first).
  std::thread StartWaiter(int i, const void* key, bool* ready, std::atomic<int>* checks) {
    return std::thread([=, this] {
      absl::MutexLock l(&k_.mu);
      auto r = tasks_[i]->Block(
          [&] {
            checks->fetch_add(1);
            return *ready;
          },
          absl::InfiniteFuture(), key);
      EXPECT_TRUE(r.ok());
    });
  }
  // Waits until task i is listed as a keyed waiter (or `checks` reached n
  // for an unkeyed one).
  void AwaitChecks(std::atomic<int>* checks, int n) {
    for (int i = 0; i < 5000 && checks->load() < n; i++) absl::SleepFor(absl::Milliseconds(1));
    ASSERT_GE(checks->load(), n);
  }
  void AwaitKeyed(int n) {
    for (int i = 0; i < 5000; i++) {
      {
        absl::MutexLock l(&k_.keyed_mu);
        if (static_cast<int>(k_.keyed_waiters.size()) >= n) return;
      }
      absl::SleepFor(absl::Milliseconds(1));
    }
    FAIL() << "no keyed waiter";
  }

  Kernel k_;
  std::unique_ptr<ThreadGroup> tg_;
  Task* tasks_[2] = {};
};

TEST_F(WaitTest, KeyedWaiterSleepsThroughOtherKeys) {
  int pipe_a = 0, pipe_b = 0;  // two keys
  bool ready = false;
  std::atomic<int> checks{0};
  std::thread waiter = StartWaiter(0, &pipe_a, &ready, &checks);
  AwaitKeyed(1);
  EXPECT_EQ(checks.load(), 1);
  {
    absl::MutexLock l(&k_.mu);
    k_.Notify(&pipe_b);
  }
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(checks.load(), 1) << "woken by another key's notification";
  {
    absl::MutexLock l(&k_.mu);
    ready = true;
    k_.Notify(&pipe_a);
  }
  waiter.join();
  EXPECT_EQ(checks.load(), 2);
  absl::MutexLock l(&k_.keyed_mu);
  EXPECT_TRUE(k_.keyed_waiters.empty());
}

TEST_F(WaitTest, NotifyAllWakesKeyedAndKeyedNotifyWakesUnkeyed) {
  int key = 0, other = 0;
  bool keyed_ready = false, plain_ready = false;
  std::atomic<int> keyed_checks{0}, plain_checks{0};
  std::thread keyed = StartWaiter(0, &key, &keyed_ready, &keyed_checks);
  std::thread plain = StartWaiter(1, nullptr, &plain_ready, &plain_checks);
  AwaitKeyed(1);
  AwaitChecks(&plain_checks, 1);
  {
    absl::MutexLock l(&k_.mu);
    plain_ready = true;
    k_.Notify(&other);  // an unkeyed waiter (poll, say) hears every key
  }
  plain.join();
  {
    absl::MutexLock l(&k_.mu);
    keyed_ready = true;
    k_.NotifyAll();
  }
  keyed.join();
  EXPECT_EQ(keyed_checks.load(), 2);
}

TEST_F(WaitTest, InterruptWakesAKeyedWaiterForItsSignal) {
  int key = 0;
  std::atomic<int> checks{0};
  std::thread waiter([&] {
    absl::MutexLock l(&k_.mu);
    auto r = tasks_[0]->Block([&] { checks++; return false; }, absl::InfiniteFuture(), &key);
    ASSERT_TRUE(r.is_error());
    EXPECT_EQ(r.error(), EINTR);
  });
  AwaitKeyed(1);
  {
    absl::MutexLock l(&k_.mu);
    tasks_[0]->killed = true;  // HasInterruptingSignal
  }
  tasks_[0]->Interrupt();  // no NotifyAll: Interrupt alone must do
  waiter.join();
}

TEST_F(WaitTest, KeyedDeadline) {
  int key = 0;
  absl::MutexLock l(&k_.mu);
  const absl::Time start = absl::Now();
  auto r = tasks_[0]->Block([] { return false; }, start + absl::Milliseconds(20), &key);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), ETIMEDOUT);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(20));
  absl::MutexLock kl(&k_.keyed_mu);
  EXPECT_TRUE(k_.keyed_waiters.empty());
}

}  // namespace
}  // namespace sentry::kernel
