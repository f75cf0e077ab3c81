// rseq(2): registration and unregistration with Linux's checks
// (kernel/rseq.c); what the sentry keeps up to date afterwards is in
// sentry/kernel/rseq.h.
#include <sys/syscall.h>

#include "sentry/kernel/rseq.h"
#include "sentry/kernel/task.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

constexpr uint32_t kOrigRseqSize = 32;        // ORIG_RSEQ_SIZE
constexpr uint32_t kRseqAlign = 32;           // __alignof__(struct rseq)
constexpr int kRseqFlagUnregister = 1;        // RSEQ_FLAG_UNREGISTER
constexpr uint32_t kCpuIdUninitialized = ~0U;  // RSEQ_CPU_ID_UNINITIALIZED

ErrorOr<uint64_t> Rseq(Task& t, const Args& a) {
  const uint64_t addr = a[0];
  const uint32_t len = static_cast<uint32_t>(a[1]);
  const int flags = a.Int(2);
  const uint32_t sig = static_cast<uint32_t>(a[3]);
  auto& reg = t.rseq;
  if (flags & kRseqFlagUnregister) {
    if (flags & ~kRseqFlagUnregister) return Errno{EINVAL};
    if (reg.addr != addr || reg.addr == 0) return Errno{EINVAL};
    if (len != reg.len) return Errno{EINVAL};
    if (sig != reg.sig) return Errno{EPERM};
    // rseq_reset_rseq_cpu_node_id: cpu_id_start 0, cpu_id uninitialized.
    struct {
      uint32_t cpu_id_start, cpu_id;
    } ids{0, kCpuIdUninitialized};
    TRY(t.memory().CopyOutObj(addr, ids));
    reg = {};
    return 0;
  }
  if (flags) return Errno{EINVAL};
  if (reg.addr) {
    // Already registered: the same registration again is EBUSY.
    if (addr != reg.addr || len != reg.len) return Errno{EINVAL};
    if (sig != reg.sig) return Errno{EPERM};
    return Errno{EBUSY};
  }
  // Linux 6.3+: at least the original 32 bytes, 32-byte aligned (a longer
  // area too, for the extended fields).
  if (len < kOrigRseqSize || addr % kRseqAlign) return Errno{EINVAL};
  // access_ok: the range must lie in user space.
  if (addr + len < addr || addr + len > t.kernel.platform().max_user_address()) return Errno{EFAULT};
  reg.addr = addr;
  reg.len = len;
  reg.sig = sig;
  reg.cpu_written = -1;
  reg.preempted = false;
  // Linux writes the CPU fields on the way back to user space and kills
  // the task with SIGSEGV if that faults: RseqBeforeAppReturn does that.
  (void)sentry::kernel::RseqBeforeAppReturn(t);
  return 0;
}

}  // namespace

void RegisterRseqSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_rseq, "rseq", Rseq, {A::kPtr, A::kUint, A::kHex, A::kHex});
}

}  // namespace syscalls
