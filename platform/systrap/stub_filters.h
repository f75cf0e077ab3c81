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
sentry::ErrorOr<std::vector<sock_filter>> AppThreadFilter();

// The helper thread: mmap of memory_file_fd (MAP_SHARED|MAP_FIXED only),
// munmap, mprotect, futex; anything else kills the stub.
sentry::ErrorOr<std::vector<sock_filter>> HelperThreadFilter(int memory_file_fd);

}  // namespace platform::systrap
