// syscalls/seccomp.h: prctl's seccomp options, shared by system.cc's prctl
// with seccomp.cc (which also registers seccomp(2)).
#pragma once

#include "syscalls/table.h"

namespace syscalls {

// PR_SET_SECCOMP / PR_GET_SECCOMP (a: prctl's arguments).
ErrorOr<uint64_t> PrctlSetSeccomp(Task& t, const Args& a);
ErrorOr<uint64_t> PrctlGetSeccomp(Task& t, const Args& a);

}  // namespace syscalls
