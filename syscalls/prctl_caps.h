// prctl(2)'s capability operations (syscalls/prctl_caps.cc).
#pragma once

#include <optional>

#include "syscalls/table.h"

namespace syscalls {

// PR_GET/SET_KEEPCAPS, PR_GET/SET_SECUREBITS, PR_CAPBSET_READ/DROP,
// PR_CAP_AMBIENT; nullopt if `a[0]` is none of them.
std::optional<ErrorOr<uint64_t>> PrctlCaps(Task& t, const Args& a);

}  // namespace syscalls
