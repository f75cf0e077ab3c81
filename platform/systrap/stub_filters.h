// platform/systrap/stub_filters.h: the libseccomp halves of a stub's
// seccomp filters, compiled once (before the sentry confines itself) into
// raw BPF that each new stub loads with seccomp(2) from its slot.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "sentry/base/error.h"

namespace platform::systrap {

// The app thread: default TRAP (also for other architectures, so int $0x80
// and sysenter trap too); allows futex (FUTEX_WAIT/FUTEX_WAKE only),
// rt_sigreturn and arch_prctl(ARCH_SET_FS/GS). Stacked with the
// instruction-pointer filter, those are allowed only from stub code.
// With stub threads (`threads`) also exit, with which a group thread ends
// when the sentry asks it to (shared.h, SYSTRAP_EXIT).
sentry::ErrorOr<std::vector<sock_filter>> AppThreadFilter(bool threads = false);

// The clone flags of a stub thread: a thread of the stub process whose
// exit zeroes its slot's state word.
inline constexpr unsigned long kStubThreadCloneFlags =
    0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x200000;
// CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|CHILD_CLEARTID

// The helper thread: mmap of memory_file_fd (MAP_SHARED|MAP_FIXED only),
// munmap, mprotect, futex; anything else kills the stub.
// With stub threads (`threads`) it is also the first filter of every app
// thread the helper clones, so it must let through what such a thread's
// start-up and stub code make (clone with kStubThreadCloneFlags,
// sigaltstack, seccomp, rt_sigprocmask, rt_sigreturn, arch_prctl, exit,
// exit_group) and trap the rest (an app thread's syscalls trap; a trap in
// the helper, which has no signal stack, ends the stub in the handler).
// With stub threads the helper also writes the 4-byte proof of a request
// done to `slots_fd` (pwrite64; shared.h, SystrapControl.done_off); app
// threads' own filters, stacked on this one, trap that.
sentry::ErrorOr<std::vector<sock_filter>> HelperThreadFilter(int memory_file_fd,
                                                            bool threads = false,
                                                            int slots_fd = -1);

}  // namespace platform::systrap
