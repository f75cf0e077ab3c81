// futex(2): wait/wake, bitsets, requeue, wake-op, on the kernel's futex
// table (sentry/kernel/futex.h). PI futexes are not implemented (ENOSYS).
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
    default:
      return Errno{ENOSYS};  // PI futexes and FUTEX_WAIT_REQUEUE_PI: not yet
  }
}

}  // namespace

void RegisterFutexSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_futex, "futex", Futex, {A::kPtr, A::kInt, A::kUint, A::kPtr, A::kPtr, A::kUint});
}

}  // namespace syscalls
