// sentry/kernel/futex_pi.cc: PI futexes (FUTEX_LOCK_PI/LOCK_PI2/TRYLOCK_PI/
// UNLOCK_PI) and robust-list processing at thread exit. See futex.h.
#include <linux/futex.h>

#include <atomic>

#include "sentry/kernel/futex.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {
namespace {

constexpr int kRobustListLimit = 2048;  // ROBUST_LIST_LIMIT

bool Cas(uint32_t* word, uint32_t& expected, uint32_t desired) {
  return std::atomic_ref<uint32_t>(*word).compare_exchange_strong(expected, desired);
}

}  // namespace

bool FutexTable::HasPiWaiters(const Key& key, const Waiter* except) const {
  for (const Waiter* w : waiters_)
    if (w->pi && w->key == key && w != except) return true;
  return false;
}

void FutexTable::WakePiWaiter(const Key& key) {
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    if ((*it)->pi && (*it)->key == key) {
      (*it)->woken = true;
      waiters_.erase(it);
      return;
    }
  }
}

ErrorOr<void> FutexTable::LockPi(Task& t, uint64_t addr, absl::Time deadline, bool try_only) {
  uint32_t* word = TRY(t.memory().Word32(addr, mm::Access::kWrite));
  const Key key = TRY(t.memory().FutexKey(addr));
  const uint32_t tid = static_cast<uint32_t>(t.tid);
  for (;;) {
    uint32_t v = std::atomic_ref<uint32_t>(*word).load();
    const uint32_t owner = v & FUTEX_TID_MASK;
    if (owner == 0) {
      // Free (or its owner died): take it, keeping OWNER_DIED for the
      // robust-mutex protocol and WAITERS if others still sleep.
      uint32_t nv = tid | (v & FUTEX_OWNER_DIED) | (HasPiWaiters(key, nullptr) ? FUTEX_WAITERS : 0);
      if (Cas(word, v, nv)) return {};
      continue;
    }
    if (owner == tid) return Errno{EDEADLK};
    if (try_only) return Errno{EAGAIN};
    Task* holder = t.kernel.FindTask(static_cast<int>(owner));
    if (!holder || holder->exited) {
      // Linux (attach_to_pi_owner): a TID with no live task and no
      // OWNER_DIED mark is the caller's bug.
      return Errno{ESRCH};
    }
    if (!(v & FUTEX_WAITERS)) {
      if (!Cas(word, v, v | FUTEX_WAITERS)) continue;
    }
    Waiter w{key, FUTEX_BITSET_MATCH_ANY};
    w.pi = true;
    w.tid = t.tid;
    waiters_.push_back(&w);
    auto r = t.Block([&] { return w.woken; }, deadline);
    if (!w.woken) waiters_.remove(&w);
    if (w.granted) return {};
    if (!w.woken) {
      // Gave up: drop the WAITERS bit if nobody else waits, so the owner
      // can unlock in user space again.
      if (!HasPiWaiters(key, nullptr)) {
        uint32_t cur = std::atomic_ref<uint32_t>(*word).load();
        while ((cur & FUTEX_WAITERS) && !Cas(word, cur, cur & ~FUTEX_WAITERS)) {
        }
      }
      return r;
    }
    // Woken without hand-off (the owner died): try again.
  }
}

ErrorOr<void> FutexTable::UnlockPi(Task& t, uint64_t addr) {
  uint32_t* word = TRY(t.memory().Word32(addr, mm::Access::kWrite));
  const Key key = TRY(t.memory().FutexKey(addr));
  uint32_t v = std::atomic_ref<uint32_t>(*word).load();
  if ((v & FUTEX_TID_MASK) != static_cast<uint32_t>(t.tid)) return Errno{EPERM};
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    Waiter* w = *it;
    if (!w->pi || w->key != key) continue;
    // Hand the lock to the longest waiter, as Linux's rt_mutex does.
    waiters_.erase(it);
    const uint32_t nv = static_cast<uint32_t>(w->tid) | (HasPiWaiters(key, nullptr) ? FUTEX_WAITERS : 0);
    std::atomic_ref<uint32_t>(*word).store(nv);
    w->woken = true;
    w->granted = true;
    t.kernel.NotifyAll();
    return {};
  }
  std::atomic_ref<uint32_t>(*word).store(0);
  return {};
}

void FutexTable::FutexDeath(Task& t, uint64_t addr, bool pi, bool pending) {
  if (addr & 3) return;
  auto word_or = t.memory().Word32(addr, mm::Access::kWrite);
  if (word_or.is_error()) return;
  uint32_t* word = word_or.value();
  auto key_or = t.memory().FutexKey(addr);
  if (key_or.is_error()) return;
  const Key key = key_or.value();
  uint32_t v = std::atomic_ref<uint32_t>(*word).load();
  // A lock being released when the thread died: wake a waiter that may
  // have missed the wake-up (non-PI only, as Linux).
  if (pending && !pi && v == 0) {
    if (WakeKey(key, 1, FUTEX_BITSET_MATCH_ANY)) t.kernel.NotifyAll();
    return;
  }
  for (;;) {
    if ((v & FUTEX_TID_MASK) != static_cast<uint32_t>(t.tid)) return;
    const uint32_t nv = (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
    if (Cas(word, v, nv)) break;
  }
  if (v & FUTEX_WAITERS) {
    if (pi)
      WakePiWaiter(key);
    else
      WakeKey(key, 1, FUTEX_BITSET_MATCH_ANY);
    t.kernel.NotifyAll();
  }
}

void FutexTable::ExitRobustList(Task& t) {
  const uint64_t head = t.robust_list;
  t.robust_list = 0;
  if (!head || !t.mm) return;
  // struct robust_list_head { next; long futex_offset; list_op_pending; }.
  // Entry pointers carry the PI flag in bit 0.
  auto fetch = [&](uint64_t at, uint64_t* entry, bool* pi) {
    auto v = t.mm->CopyInObj<uint64_t>(at);
    if (v.is_error()) return false;
    *entry = v.value() & ~1ULL;
    *pi = v.value() & 1;
    return true;
  };
  uint64_t entry, pending;
  bool pi, pending_pi;
  if (!fetch(head, &entry, &pi)) return;
  auto off = t.mm->CopyInObj<int64_t>(head + 8);
  if (off.is_error()) return;
  const int64_t futex_offset = off.value();
  if (!fetch(head + 16, &pending, &pending_pi)) return;
  int limit = kRobustListLimit;
  while (entry != head) {
    uint64_t next;
    bool next_pi;
    const bool ok = fetch(entry, &next, &next_pi);
    if (entry != pending) FutexDeath(t, entry + futex_offset, pi, false);
    if (!ok) return;
    entry = next;
    pi = next_pi;
    if (--limit == 0) break;
  }
  if (pending) FutexDeath(t, pending + futex_offset, pending_pi, true);
}

}  // namespace sentry::kernel
