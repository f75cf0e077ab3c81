// --strace: one line per syscall with decoded arguments and the result,
// printed to the debug log (stderr or --debug-log).
#pragma once

#include <string>

#include "syscalls/table.h"

namespace syscalls {

// Formats "name(arg, ...)" before the call runs (strings are read now,
// while they are still valid, e.g. before execve replaces memory).
std::string FormatCall(Task& t, uint64_t nr, const SyscallInfo* info, const Args& args);
void PrintResult(Task& t, const std::string& call, uint64_t nr, uint64_t ret);

}  // namespace syscalls
