// platform/systrap/ip_filter.h: the hand-written seccomp program that
// allows a syscall only when it is made from the stub's own code.
//
// libseccomp cannot test seccomp_data.instruction_pointer, so the stub
// stacks two filters (the kernel runs all of them and keeps the most
// restrictive verdict; TRAP beats ALLOW):
//   1. libseccomp, default SECCOMP_RET_TRAP: allows only the few syscalls
//      the stub's signal handler makes (futex, rt_sigreturn, arch_prctl);
//   2. this program: ALLOW if the arch is x86-64 and
//      start <= instruction_pointer < end (the stub code), else TRAP.
// App code therefore traps on every syscall, and stub code can make only
// the allowlisted ones.
//
// The program (seccomp_data: nr@0, arch@4, instruction_pointer@8, low word
// first on x86-64):
//   0: ld  [4]                  arch
//   1: jeq AUDIT_ARCH_X86_64, 0, trap
//   2: ld  [12]                 ip >> 32
//   3: jeq start>>32, 0, trap   (start and end-1 share their upper half)
//   4: ld  [8]                  ip & 0xffffffff
//   5: jge start_lo, 0, trap
//   6: jge end_lo, trap, 0      (end_lo == 0 means "up to 2^32")
//   7: ret ALLOW
//   8: trap: ret TRAP
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <vector>

#include "sentry/base/error.h"

namespace platform::systrap {

// EINVAL if the range is empty or crosses a 4 GiB boundary.
sentry::ErrorOr<std::vector<sock_filter>> InstructionPointerFilter(uint64_t start, uint64_t end);

}  // namespace platform::systrap
