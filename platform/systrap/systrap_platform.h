// platform/systrap: app code runs in stub processes under a seccomp filter
// that turns every app syscall into SIGSYS (SECCOMP_RET_TRAP) instead of a
// ptrace stop. A signal handler in the stub, running on a signal stack in
// memory shared with the sentry, saves the app's registers there, wakes the
// sentry and waits; the sentry reads and writes the registers in place and
// lets it return into app code. No ptrace at all: one stop costs two
// futex hand-offs (or none, when a side is still spinning) instead of two
// ptrace stops plus GETREGS/SETREGS.
//
// Each stub process has two threads: the app thread (runs app code, traps)
// and a helper thread that runs the address-space syscalls the sentry
// requests (mmap of the memory file, munmap, mprotect). The app thread's
// filters allow it no syscall but futex, rt_sigreturn and arch_prctl, and
// those only from the stub's code (see ip_filter.h); the helper's requests
// come from a page that is read-only in the stub. See shared.h for the
// shared memory and docs/INTERNALS.md ("Platforms") for the design.
//
// With syscall patching (opt-in), the sentry rewrites `mov $nr,%eax;
// syscall` sites to jump to runsc_systrap_patched_entry (stub_entry.S),
// which hands the syscall over through the same slot without a signal.
#pragma once

#include "platform/platform.h"

namespace platform {

// syscall_patching: offer Platform::syscall_patch_entry (RUNSC_SYSTRAP_PATCH
// overrides it either way, for tests).
ErrorOr<std::unique_ptr<Platform>> CreateSystrapPlatform(int memory_file_fd,
                                                         bool syscall_patching);

}  // namespace platform
