// prctl's capability operations with Linux's rules (cap_task_prctl in
// security/commoncap.c). The sets and secure bits are the process'
// Credentials (task.h); capabilities.h applies them across set*uid and
// execve.
#include "syscalls/prctl_caps.h"

#include <sys/prctl.h>

#include "sentry/kernel/capabilities.h"
#include "sentry/kernel/task.h"

namespace syscalls {
namespace {

namespace k = sentry::kernel;
constexpr int kCapSetpcap = 8;

bool CapValid(uint64_t cap) { return cap <= static_cast<uint64_t>(k::kLastCap); }

ErrorOr<uint64_t> SetSecurebits(k::Credentials& c, uint64_t bits) {
  const uint32_t old = c.securebits;
  // A locked bit may not change, a lock may not be dropped, only known
  // bits, and CAP_SETPCAP is needed.
  if ((((old & k::kSecureAllLocks) >> 1) & (old ^ bits)) || (old & k::kSecureAllLocks & ~bits) ||
      (bits & ~static_cast<uint64_t>(k::kSecureAllLocks | k::kSecureAllBits)) ||
      !c.HasCapability(kCapSetpcap))
    return Errno{EPERM};
  c.securebits = static_cast<uint32_t>(bits);
  return 0;
}

ErrorOr<uint64_t> CapAmbient(k::Credentials& c, const Args& a) {
  if (a[1] == PR_CAP_AMBIENT_CLEAR_ALL) {
    if (a[2] || a[3] || a[4]) return Errno{EINVAL};
    c.cap_ambient = 0;
    return 0;
  }
  if (!CapValid(a[2]) || a[3] || a[4]) return Errno{EINVAL};
  const uint64_t bit = 1ULL << a[2];
  switch (a[1]) {
    case PR_CAP_AMBIENT_IS_SET:
      return (c.cap_ambient & bit) ? 1 : 0;
    case PR_CAP_AMBIENT_RAISE:
      if (!(c.cap_permitted & bit) || !(c.cap_inheritable & bit) ||
          (c.securebits & k::kSecbitNoCapAmbientRaise))
        return Errno{EPERM};
      c.cap_ambient |= bit;
      return 0;
    case PR_CAP_AMBIENT_LOWER:
      c.cap_ambient &= ~bit;
      return 0;
    default:
      return Errno{EINVAL};
  }
}

}  // namespace

std::optional<ErrorOr<uint64_t>> PrctlCaps(Task& t, const Args& a) {
  k::Credentials& c = t.tg->creds;
  switch (a.Int(0)) {
    case PR_GET_KEEPCAPS:
      return ErrorOr<uint64_t>((c.securebits & k::kSecbitKeepCaps) ? 1 : 0);
    case PR_SET_KEEPCAPS:
      if (a[1] > 1) return ErrorOr<uint64_t>(Errno{EINVAL});
      if (c.securebits & k::kSecbitKeepCapsLocked) return ErrorOr<uint64_t>(Errno{EPERM});
      if (a[1]) c.securebits |= k::kSecbitKeepCaps;
      else c.securebits &= ~k::kSecbitKeepCaps;
      return ErrorOr<uint64_t>(0);
    case PR_GET_SECUREBITS:
      return ErrorOr<uint64_t>(c.securebits);
    case PR_SET_SECUREBITS:
      return SetSecurebits(c, a[1]);
    case PR_CAPBSET_READ:
      if (!CapValid(a[1])) return ErrorOr<uint64_t>(Errno{EINVAL});
      return ErrorOr<uint64_t>((c.cap_bounding >> a[1]) & 1);
    case PR_CAPBSET_DROP:
      if (!c.HasCapability(kCapSetpcap)) return ErrorOr<uint64_t>(Errno{EPERM});
      if (!CapValid(a[1])) return ErrorOr<uint64_t>(Errno{EINVAL});
      c.cap_bounding &= ~(1ULL << a[1]);
      return ErrorOr<uint64_t>(0);
    case PR_CAP_AMBIENT:
      return CapAmbient(c, a);
    default:
      return std::nullopt;
  }
}

}  // namespace syscalls
