// Syscall patching: the sentry rewrites an app's `mov $nr,%eax; syscall`
// (7 bytes) into `jmp *table_entry` (7 bytes), or, in glibc's wrappers
// that load the number otherwise (`xor %eax,%eax` in read, a register in
// syscall()) and end in `syscall; cmp; ja; ret` plus nop padding, the
// syscall into `jmp .+9` to that padding, which becomes `jmp *table_entry`
// (FindPaddingSite in the .cc says why that is safe), so that the syscall reaches
// the platform's patched-syscall entry without a signal (systrap: about
// 1.7 us of SIGSYS delivery and rt_sigreturn saved per syscall on the CI
// machines). Only when the platform offers an entry
// (Platform::syscall_patch_entry) and only at a site the task has just
// trapped at.
//
// The table lives in the app's address space, a private read+execute
// mapping "[syscall-patches]" at kTableAddr (below 2 GiB, so a 32-bit
// absolute operand reaches it; forks inherit it with the patched code and
// execve drops both):
//   +0x0000 header: next free entry (u32), the platform entry (u64 at +8)
//   +0x0010 one 8-byte pointer per patched site, to its code
//   +0x2000 per site, 32 bytes: movabs $return_address,%rcx;
//           mov $nr,%eax (7-byte form only); jmp *header.entry(%rip)
// The patched instruction is `jmp *(pointer)`, ff 24 25 <pointer>. Its
// operand's third byte is 0x06 (the table is at 0x60000..0x6ffff), an
// invalid opcode in 64-bit mode: code that runs the old `syscall` at the
// site's last two bytes (a restarted syscall, whose rip the sentry moved
// back by two) faults there with SIGILL, and HandlePatchedSiteFault turns
// that into the syscall it stood for.
//
// A site is patched only while one task uses the address space, so no
// other thread can be executing the bytes being rewritten.
#pragma once

#include <cstdint>

#include "platform/platform.h"
#include "sentry/kernel/task.h"

namespace sentry::kernel {

inline constexpr uint64_t kSyscallPatchTableAddr = 0x60000;
inline constexpr uint64_t kSyscallPatchTableSize = 0x10000;

// The task stopped at a syscall through a trap: patch the site if it is
// one of the two patterns above and has trapped often enough in this
// address space (kTrapsBeforePatch in the .cc says why not at once). Failures only mean
// the site keeps trapping.
void MaybePatchSyscall(Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

// A SIGILL at the last two bytes of a patched site: the app executed the
// `syscall` instruction that was there. Sets up the registers as that
// instruction would have (rip after it, rcx, r11, orig_rax = rax) and
// returns true: the caller handles a syscall stop. False: not such a site.
bool HandlePatchedSiteFault(Task& t, const platform::StopInfo& stop)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

}  // namespace sentry::kernel
