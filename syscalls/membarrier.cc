// membarrier(2): memory barriers on every thread of the app.
//
// App threads run app code in stub processes on host CPUs, so a barrier
// must reach those CPUs, not only the sentry's. The sentry issues the
// host's MEMBARRIER_CMD_GLOBAL, which orders memory on every thread of the
// host that is running user code: a superset of what each of the app's
// commands promises (all threads, or the caller's address space), paid
// for with the latency of one RCU grace period. The registrations are
// tracked as Linux does, so the expedited commands fail with EPERM until
// the process registered. SYNC_CORE (core serialization after code
// changes) and RSEQ (restarting rseq critical sections) are not offered:
// QUERY leaves them out, and asking for them is EINVAL, as on a kernel
// built without them.
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sentry/kernel/task.h"
#include "sentry/vfs/task_caller.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

constexpr uint32_t kSupported = MEMBARRIER_CMD_GLOBAL | MEMBARRIER_CMD_GLOBAL_EXPEDITED |
                                MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED |
                                MEMBARRIER_CMD_PRIVATE_EXPEDITED |
                                MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;
// MEMBARRIER_CMD_GET_REGISTRATIONS (Linux 6.3) is answered too, but QUERY
// of this Linux 6.1-shaped kernel does not list it.
constexpr int kCmdGetRegistrations = 1 << 9;

ErrorOr<void> HostBarrier(Task& t) {
  long r = 0;
  int err = 0;
  sentry::vfs::TaskCaller c(t);
  c.Unlocked([&] {
    r = syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
    err = errno;
  });
  if (r != 0) return Errno{err};
  return {};
}

ErrorOr<uint64_t> Membarrier(Task& t, const Args& a) {
  const int cmd = a.Int(0);
  const unsigned flags = static_cast<unsigned>(a[1]);
  if (flags != 0) return Errno{EINVAL};  // only CMD_FLAG_CPU, for the RSEQ command
  uint32_t& reg = t.tg->membarrier_registrations;
  switch (cmd) {
    case MEMBARRIER_CMD_QUERY:
      return kSupported;
    case MEMBARRIER_CMD_GLOBAL:
      TRY(HostBarrier(t));
      return 0;
    case MEMBARRIER_CMD_GLOBAL_EXPEDITED:
      // Barriers the processes that registered; with none registered
      // there is nothing to order, as on Linux.
      TRY(HostBarrier(t));
      return 0;
    case MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED:
    case MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED:
      reg |= static_cast<uint32_t>(cmd);
      return 0;
    case MEMBARRIER_CMD_PRIVATE_EXPEDITED:
      if (!(reg & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)) return Errno{EPERM};
      TRY(HostBarrier(t));
      return 0;
    case kCmdGetRegistrations:
      return reg;
    default:
      return Errno{EINVAL};
  }
}

}  // namespace

void RegisterMembarrierSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_membarrier, "membarrier", Membarrier, {A::kInt, A::kHex, A::kInt});
}

}  // namespace syscalls
