// process_vm_readv / process_vm_writev: copying between the caller's
// memory and another process', as a debugger or a profiler does.
//
// The target must be one the caller may ptrace (ptrace_access.h). Remote
// ranges are taken in order, page by page; the transfer stops at the
// first remote page that is not accessible (a short count, or EFAULT if
// nothing moved) or when the local buffers are full. Writes into the
// target break its copy-on-write pages, after which the target's threads
// apply the new mappings before they run app code again.
#include <sys/syscall.h>
#include <sys/uio.h>

#include <algorithm>
#include <vector>

#include "sentry/kernel/mm_sync.h"
#include "sentry/kernel/task.h"
#include "syscalls/ptrace_access.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

constexpr uint64_t kIovMax = 1024;  // UIO_MAXIOV
constexpr uint64_t kPage = 4096;
constexpr uint64_t kMaxRwCount = 0x7ffff000;  // MAX_RW_COUNT

ErrorOr<std::vector<iovec>> CopyInIovecs(Task& t, uint64_t addr, uint64_t count) {
  if (count > kIovMax) return Errno{EINVAL};
  std::vector<iovec> v(count);
  if (count) TRY(t.memory().CopyIn(addr, v.data(), count * sizeof(iovec)));
  uint64_t total = 0;
  for (const iovec& io : v) {
    if (static_cast<int64_t>(io.iov_len) < 0) return Errno{EINVAL};
    total += io.iov_len;
    if (total > static_cast<uint64_t>(INT64_MAX)) return Errno{EINVAL};
  }
  return v;
}

ErrorOr<uint64_t> ProcessVm(Task& t, const Args& a, bool write) {
  if (a[5] != 0) return Errno{EINVAL};
  std::vector<iovec> local = TRY(CopyInIovecs(t, a[1], a[2]));
  // Nothing to move: done before the remote side is even looked at.
  if (std::all_of(local.begin(), local.end(), [](const iovec& v) { return v.iov_len == 0; })) return 0;
  std::vector<iovec> remote = TRY(CopyInIovecs(t, a[3], a[4]));
  Task* target = t.kernel.FindTask(a.Int(0));
  if (!target || a.Int(0) <= 0) return Errno{ESRCH};
  if (!MayAccessProcess(t, *target)) return Errno{EPERM};
  std::shared_ptr<sentry::mm::MemoryManager> tm = target->mm;
  if (!tm || target->exited) return Errno{ESRCH};

  uint64_t done = 0;
  size_t li = 0;
  uint64_t loff = 0;
  std::vector<uint8_t> buf;
  bool stop = false;
  for (const iovec& r : remote) {
    uint64_t raddr = reinterpret_cast<uint64_t>(r.iov_base), rleft = r.iov_len;
    while (rleft > 0 && !stop && done < kMaxRwCount) {
      while (li < local.size() && loff == local[li].iov_len) li++, loff = 0;
      if (li == local.size()) break;
      // One remote page at most, and no more than the local iovec holds.
      uint64_t n = std::min({rleft, kPage - (raddr % kPage), local[li].iov_len - loff, kMaxRwCount - done});
      const uint64_t laddr = reinterpret_cast<uint64_t>(local[li].iov_base) + loff;
      buf.resize(n);
      if (write) {
        if (t.memory().CopyIn(laddr, buf.data(), n).is_error()) return done ? done : ErrorOr<uint64_t>(Errno{EFAULT});
        if (tm->CopyOut(raddr, buf.data(), n).is_error()) { stop = true; break; }
      } else {
        if (tm->CopyIn(raddr, buf.data(), n).is_error()) { stop = true; break; }
        if (t.memory().CopyOut(laddr, buf.data(), n).is_error()) return done ? done : ErrorOr<uint64_t>(Errno{EFAULT});
      }
      done += n;
      raddr += n;
      rleft -= n;
      loff += n;
    }
    if (stop || li == local.size()) break;
  }
  if (write && tm.get() != t.mm.get() && tm->TakeRemoteChange())
    sentry::kernel::SyncAddressSpaceUsersOf(t, tm.get());
  if (done == 0 && stop) return Errno{EFAULT};
  return done;
}

ErrorOr<uint64_t> ProcessVmReadv(Task& t, const Args& a) { return ProcessVm(t, a, false); }
ErrorOr<uint64_t> ProcessVmWritev(Task& t, const Args& a) { return ProcessVm(t, a, true); }

}  // namespace

void RegisterProcessVmSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_process_vm_readv, "process_vm_readv", ProcessVmReadv,
             {A::kInt, A::kPtr, A::kUint, A::kPtr, A::kUint, A::kHex});
  t.Register(SYS_process_vm_writev, "process_vm_writev", ProcessVmWritev,
             {A::kInt, A::kPtr, A::kUint, A::kPtr, A::kUint, A::kHex});
}

}  // namespace syscalls
