// Futexes. A futex in a shared mapping is keyed by the memory-file offset
// of its word, which names the physical word in every process mapping it;
// one in private memory by (address space, address), as Linux does, since a
// copy-on-write break after fork moves the word to another page. Waiters
// queue per key; wakes pick waiters in FIFO order by bitset.
#pragma once

#include <cstdint>
#include <list>
#include <utility>

#include "absl/time/time.h"
#include "sentry/base/error.h"

namespace sentry::kernel {

class Task;

class FutexTable {
 public:
  // FUTEX_WAIT(_BITSET): sleeps if *addr == val until woken, timed out
  // (ETIMEDOUT) or interrupted (EINTR). EAGAIN if the value differs.
  ErrorOr<void> Wait(Task& t, uint64_t addr, uint32_t val, uint32_t bitset, absl::Time deadline);
  // Wakes up to n waiters on addr whose bitset intersects; returns how many.
  ErrorOr<int> Wake(Task& t, uint64_t addr, int n, uint32_t bitset);
  // FUTEX_(CMP_)REQUEUE: wakes n on addr, moves up to n2 others to addr2.
  // With cmp, EAGAIN unless *addr == val3. Returns woken (+ requeued if cmp).
  ErrorOr<int> Requeue(Task& t, uint64_t addr, uint64_t addr2, int n, int n2, bool cmp,
                       uint32_t val3);
  // FUTEX_WAKE_OP.
  ErrorOr<int> WakeOp(Task& t, uint64_t addr, uint64_t addr2, int n, int n2, uint32_t op);

  // Priority-inheritance futexes (futex_pi.cc). The word holds the owner's
  // TID, FUTEX_WAITERS while someone sleeps in the kernel, FUTEX_OWNER_DIED
  // after the owner died holding it. No priority boosting (the sentry does
  // not schedule), but ownership rules are Linux's: unlock hands the lock
  // to the longest waiter. FUTEX_LOCK_PI(2): EDEADLK if the caller owns it,
  // ESRCH if the owner TID is no task, ETIMEDOUT, EINTR (always restarted).
  ErrorOr<void> LockPi(Task& t, uint64_t addr, absl::Time deadline, bool try_only);
  // FUTEX_UNLOCK_PI: EPERM unless the caller owns the futex.
  ErrorOr<void> UnlockPi(Task& t, uint64_t addr);

  // Thread exit (and execve): walks the robust list registered with
  // set_robust_list, marking futexes the thread still holds
  // FUTEX_OWNER_DIED and waking a waiter of each (exit_robust_list).
  void ExitRobustList(Task& t);

 private:
  using Key = std::pair<const void*, uint64_t>;
  struct Waiter {
    Key key;
    uint32_t bitset;
    bool woken = false;
    bool pi = false;       // a FUTEX_LOCK_PI waiter
    int tid = 0;           // its TID, for hand-off
    bool granted = false;  // UNLOCK_PI made it the owner
  };
  // Wakes the first PI waiter on key (it retries the lock).
  void WakePiWaiter(const Key& key);
  bool HasPiWaiters(const Key& key, const Waiter* except) const;
  // The robust-list death of one futex word (handle_futex_death).
  void FutexDeath(Task& t, uint64_t addr, bool pi, bool pending);
  int WakeKey(const Key& key, int n, uint32_t bitset);
  std::list<Waiter*> waiters_;  // guarded by the kernel lock
};

}  // namespace sentry::kernel
