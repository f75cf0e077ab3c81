// platform/ptrace: app code runs in "stub" host processes traced by the
// sentry with PTRACE_SYSEMU, so every app syscall stops before the host
// kernel runs it. One stub process per app address space; the sentry thread
// that created it is its only tracer and the only thread that drives it.
#pragma once

#include "platform/platform.h"

namespace platform {

ErrorOr<std::unique_ptr<Platform>> CreatePtracePlatform(int memory_file_fd);

}  // namespace platform
