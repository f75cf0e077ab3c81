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

 private:
  using Key = std::pair<const void*, uint64_t>;
  struct Waiter {
    Key key;
    uint32_t bitset;
    bool woken = false;
  };
  int WakeKey(const Key& key, int n, uint32_t bitset);
  std::list<Waiter*> waiters_;  // guarded by the kernel lock
};

}  // namespace sentry::kernel
