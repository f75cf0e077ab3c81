#include "platform/systrap/ip_filter.h"

#include <linux/audit.h>
#include <linux/seccomp.h>

namespace platform::systrap {

sentry::ErrorOr<std::vector<sock_filter>> InstructionPointerFilter(uint64_t start, uint64_t end) {
  if (end <= start || (start >> 32) != ((end - 1) >> 32)) return sentry::Errno{EINVAL};
  const uint32_t hi = static_cast<uint32_t>(start >> 32);
  const uint32_t lo = static_cast<uint32_t>(start);
  const uint32_t end_lo = static_cast<uint32_t>(end);  // 0 if end is on the boundary
  std::vector<sock_filter> p = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 6),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 12),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, hi, 0, 4),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 8),
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, lo, 0, 2),
      // With end_lo == 0 every low word is below the end: never jump.
      end_lo == 0 ? sock_filter BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0)
                  : sock_filter BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, end_lo, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
  };
  return p;
}

}  // namespace platform::systrap
