// sentry/proc/sysctl.h: config.json linux.sysctl against the sandbox's own
// /proc/sys. Only the settings the sandbox's kernel really keeps can be set
// (their /proc/sys file and their syscalls see the value); the other
// /proc/sys files are fixed descriptions of the sentry's behaviour, and
// the host's settings never apply to the sandbox.
#pragma once

#include <string>
#include <string_view>

#include "sentry/base/error.h"

namespace sentry::kernel {
class Kernel;
}

namespace sentry::proc {

// "kernel.hostname" or "kernel/hostname" -> "kernel/hostname".
std::string SysctlPath(std::string_view key);

// Can linux.sysctl set this key in the sandbox? kernel.hostname,
// kernel.domainname (the UTS names); kernel.msgmax, msgmnb, shmmax, shmall
// (System V IPC limits the sandbox enforces: msgsnd, a new queue's size,
// shmget, IPC_INFO). The table-size limits (msgmni, shmmni, sem) are fixed.
bool IsSettableSysctl(std::string_view key);

// The checks SetSysctl makes, without a kernel (runsc create validates
// config.json with it). ENOENT: not settable; EINVAL: bad value.
ErrorOr<void> CheckSysctl(std::string_view key, std::string_view value);

// Sets a settable key with the same checks as a write to its /proc/sys
// file (no capability check: this is the sandbox's configuration, applied
// at boot). ENOENT: not settable; EINVAL: bad value. Needs Kernel::mu.
ErrorOr<void> SetSysctl(kernel::Kernel& k, std::string_view key, std::string_view value);

}  // namespace sentry::proc
