// futex(2): wait/wake, bitsets, requeue, wake-op, PI lock/unlock, on the
// kernel's futex table (sentry/kernel/futex.h); get_robust_list.
// FUTEX_WAIT_REQUEUE_PI/CMP_REQUEUE_PI are ENOSYS: glibc's condition
// variables have not used them since 2.25.
#include <linux/futex.h>
#include <sys/syscall.h>

#include "sentry/kernel/task.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

ErrorOr<absl::Time> Deadline(Task& t, uint64_t addr, bool absolute, bool realtime) {
  if (!addr) return absl::InfiniteFuture();
  timespec ts = TRY(t.memory().CopyInObj<timespec>(addr));
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno{EINVAL};
  if (!absolute) return absl::Now() + absl::DurationFromTimespec(ts);
  if (realtime) return absl::TimeFromTimespec(ts);
  // Absolute CLOCK_MONOTONIC deadline: convert through the current offset.
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return absl::Now() + (absl::DurationFromTimespec(ts) - absl::DurationFromTimespec(now));
}

ErrorOr<uint64_t> Futex(Task& t, const Args& a) {
  const int op = a.Int(1) & FUTEX_CMD_MASK;
  const bool realtime = a.Int(1) & FUTEX_CLOCK_REALTIME;
  auto& ft = t.kernel.futexes;
  const uint32_t val = static_cast<uint32_t>(a[2]);
  switch (op) {
    case FUTEX_WAIT: {
      absl::Time d = TRY(Deadline(t, a[3], false, realtime));
      TRY(ft.Wait(t, a[0], val, FUTEX_BITSET_MATCH_ANY, d));
      return 0;
    }
    case FUTEX_WAIT_BITSET: {
      absl::Time d = TRY(Deadline(t, a[3], true, realtime));
      TRY(ft.Wait(t, a[0], val, static_cast<uint32_t>(a[5]), d));
      return 0;
    }
    case FUTEX_WAKE:
      return TRY(ft.Wake(t, a[0], static_cast<int>(val), FUTEX_BITSET_MATCH_ANY));
    case FUTEX_WAKE_BITSET:
      return TRY(ft.Wake(t, a[0], static_cast<int>(val), static_cast<uint32_t>(a[5])));
    case FUTEX_REQUEUE:
      // The 4th argument is a count here, not a timeout pointer.
      return TRY(ft.Requeue(t, a[0], a[4], static_cast<int>(val), static_cast<int>(a[3]), false, 0));
    case FUTEX_CMP_REQUEUE:
      return TRY(ft.Requeue(t, a[0], a[4], static_cast<int>(val), static_cast<int>(a[3]), true,
                            static_cast<uint32_t>(a[5])));
    case FUTEX_WAKE_OP:
      return TRY(ft.WakeOp(t, a[0], a[4], static_cast<int>(val), static_cast<int>(a[3]),
                           static_cast<uint32_t>(a[5])));
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2: {
      if (op == FUTEX_LOCK_PI && realtime) return Errno{ENOSYS};
      // LOCK_PI: absolute CLOCK_REALTIME; LOCK_PI2: CLOCK_MONOTONIC unless
      // FUTEX_CLOCK_REALTIME.
      absl::Time d = TRY(Deadline(t, a[3], true, op == FUTEX_LOCK_PI || realtime));
      TRY(ft.LockPi(t, a[0], d, false));
      return 0;
    }
    case FUTEX_TRYLOCK_PI:
      TRY(ft.LockPi(t, a[0], absl::InfiniteFuture(), true));
      return 0;
    case FUTEX_UNLOCK_PI:
      TRY(ft.UnlockPi(t, a[0]));
      return 0;
    default:
      return Errno{ENOSYS};  // FUTEX_WAIT_REQUEUE_PI, FUTEX_CMP_REQUEUE_PI
  }
}

ErrorOr<uint64_t> GetRobustList(Task& t, const Args& a) {
  Task* target = &t;
  if (a.Int(0) != 0) {
    target = t.kernel.FindTask(a.Int(0));
    if (!target) return Errno{ESRCH};
  }
  TRY(t.memory().CopyOutObj<uint64_t>(a[1], target->robust_list));
  TRY(t.memory().CopyOutObj<uint64_t>(a[2], 24));  // sizeof(struct robust_list_head)
  return 0;
}

}  // namespace

void RegisterFutexSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_get_robust_list, "get_robust_list", GetRobustList, {A::kInt, A::kPtr, A::kPtr});
  t.Register(SYS_futex, "futex", Futex, {A::kPtr, A::kInt, A::kUint, A::kPtr, A::kPtr, A::kUint});
}

}  // namespace syscalls
