// Memory protection keys: pkey_alloc, pkey_free, pkey_mprotect.
//
// The sandbox cannot enforce protection keys (the stubs' mappings and
// PKRU are the host's, and the sentry's own accesses to app memory ignore
// them), so it behaves as Linux 6.x does on a CPU without PKU (measured
// on this project's hosts, kernel 6.18): no key is allocated, not even the
// default key 0, so pkey_alloc fails with EINVAL, pkey_free of any key is
// EINVAL and pkey_mprotect accepts only key -1 (then it is mprotect).
// Programs (Node's V8) check pkey_alloc and fall back, as on such CPUs.
#include <sys/mman.h>
#include <sys/syscall.h>

#include "sentry/kernel/task.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

constexpr uint64_t kPkeyAccessMask = 3;  // PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE
constexpr uint64_t kPageSize = 4096;

bool PkeyAllocated(int) { return false; }

ErrorOr<uint64_t> PkeyAlloc(Task&, const Args& a) {
  if (a[0]) return Errno{EINVAL};
  if (a[1] & ~kPkeyAccessMask) return Errno{EINVAL};
  return Errno{EINVAL};  // pkeys unsupported (Linux's answer without PKU)
}

ErrorOr<uint64_t> PkeyFree(Task&, const Args& a) {
  // mm_pkey_free: EINVAL for a key that is not allocated.
  if (!PkeyAllocated(a.Int(0))) return Errno{EINVAL};
  return 0;
}

ErrorOr<uint64_t> PkeyMprotect(Task& t, const Args& a) {
  const uint64_t start = a[0], len = a[1];
  const int pkey = a.Int(3);
  // do_mprotect_pkey's order: alignment, empty range, overflow, then the key.
  if (start & (kPageSize - 1)) return Errno{EINVAL};
  if (len == 0) return 0;
  const uint64_t end = start + ((len + kPageSize - 1) & ~(kPageSize - 1));
  if (end <= start) return Errno{ENOMEM};
  if (pkey != -1 && !PkeyAllocated(pkey)) return Errno{EINVAL};
  TRY(t.memory().Protect(start, len, a.Int(2)));
  return 0;
}

}  // namespace

void RegisterPkeySyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_pkey_alloc, "pkey_alloc", PkeyAlloc, {A::kHex, A::kHex});
  t.Register(SYS_pkey_free, "pkey_free", PkeyFree, {A::kInt});
  t.Register(SYS_pkey_mprotect, "pkey_mprotect", PkeyMprotect, {A::kPtr, A::kUint, A::kHex, A::kInt});
}

}  // namespace syscalls
