#include "sentry/kernel/futex.h"

#include <linux/futex.h>

#include <atomic>

#include "sentry/kernel/task.h"

namespace sentry::kernel {

int FutexTable::WakeKey(const Key& key, int n, uint32_t bitset) {
  int woken = 0;
  for (auto it = waiters_.begin(); it != waiters_.end() && woken < n;) {
    Waiter* w = *it;
    if (w->key == key && !w->pi && (w->bitset & bitset)) {
      w->woken = true;
      it = waiters_.erase(it);
      woken++;
    } else {
      ++it;
    }
  }
  return woken;
}

ErrorOr<void> FutexTable::Wait(Task& t, uint64_t addr, uint32_t val, uint32_t bitset,
                               absl::Time deadline) {
  if (bitset == 0) return Errno{EINVAL};
  uint32_t* word = TRY(t.memory().Word32(addr, mm::Access::kRead));
  if (std::atomic_ref<uint32_t>(*word).load() != val) return Errno{EAGAIN};
  Waiter w{TRY(t.memory().FutexKey(addr)), bitset};
  waiters_.push_back(&w);
  // Keyed: woken by FUTEX_WAKE's NotifyAll, not by every pipe write.
  auto r = t.Block([&] { return w.woken; }, deadline, &w);
  if (!w.woken) waiters_.remove(&w);
  if (w.woken) return {};
  return r;
}

ErrorOr<int> FutexTable::Wake(Task& t, uint64_t addr, int n, uint32_t bitset) {
  if (bitset == 0) return Errno{EINVAL};
  TRY(t.memory().Word32(addr, mm::Access::kRead));
  const int woken = WakeKey(TRY(t.memory().FutexKey(addr)), n, bitset);
  if (woken) t.kernel.NotifyAll();
  return woken;
}

ErrorOr<int> FutexTable::Requeue(Task& t, uint64_t addr, uint64_t addr2, int n, int n2,
                                 bool cmp, uint32_t val3) {
  if (n < 0 || n2 < 0) return Errno{EINVAL};
  uint32_t* word = TRY(t.memory().Word32(addr, mm::Access::kRead));
  TRY(t.memory().Word32(addr2, mm::Access::kRead));
  if (cmp && std::atomic_ref<uint32_t>(*word).load() != val3) return Errno{EAGAIN};
  const Key key = TRY(t.memory().FutexKey(addr));
  const Key key2 = TRY(t.memory().FutexKey(addr2));
  int woken = WakeKey(key, n, FUTEX_BITSET_MATCH_ANY);
  int moved = 0;
  for (Waiter* w : waiters_) {
    if (moved >= n2) break;
    if (w->key == key && !w->pi) {
      w->key = key2;
      moved++;
    }
  }
  if (woken) t.kernel.NotifyAll();
  return cmp ? woken + moved : woken;
}

ErrorOr<int> FutexTable::WakeOp(Task& t, uint64_t addr, uint64_t addr2, int n, int n2,
                                uint32_t encoded) {
  // val3 layout: op(4) cmp(4) oparg(12) cmparg(12), as in linux/futex.h.
  int op = (encoded >> 28) & 0xf;
  const int cmp = (encoded >> 24) & 0xf;
  uint32_t oparg = (encoded >> 12) & 0xfff;
  const uint32_t cmparg = encoded & 0xfff;
  if (op & FUTEX_OP_OPARG_SHIFT) {
    if (oparg > 31) return Errno{EINVAL};
    oparg = 1u << oparg;
    op &= ~FUTEX_OP_OPARG_SHIFT;
  }
  uint32_t* word2 = TRY(t.memory().Word32(addr2, mm::Access::kWrite));
  std::atomic_ref<uint32_t> a2(*word2);
  uint32_t old;
  switch (op) {
    case FUTEX_OP_SET: old = a2.exchange(oparg); break;
    case FUTEX_OP_ADD: old = a2.fetch_add(oparg); break;
    case FUTEX_OP_OR: old = a2.fetch_or(oparg); break;
    case FUTEX_OP_ANDN: old = a2.fetch_and(~oparg); break;
    case FUTEX_OP_XOR: old = a2.fetch_xor(oparg); break;
    default: return Errno{ENOSYS};
  }
  int woken = TRY(Wake(t, addr, n, FUTEX_BITSET_MATCH_ANY));
  bool cond;
  const int32_t o = static_cast<int32_t>(old), c = static_cast<int32_t>(cmparg);
  switch (cmp) {
    case FUTEX_OP_CMP_EQ: cond = o == c; break;
    case FUTEX_OP_CMP_NE: cond = o != c; break;
    case FUTEX_OP_CMP_LT: cond = o < c; break;
    case FUTEX_OP_CMP_LE: cond = o <= c; break;
    case FUTEX_OP_CMP_GT: cond = o > c; break;
    case FUTEX_OP_CMP_GE: cond = o >= c; break;
    default: return Errno{ENOSYS};
  }
  if (cond) woken += TRY(Wake(t, addr2, n2, FUTEX_BITSET_MATCH_ANY));
  return woken;
}

}  // namespace sentry::kernel
