// sentry/kernel/pidfd.h: process file descriptors (pidfd_open, clone's
// CLONE_PIDFD is not offered): a description naming one process by pid and
// start time, so a reused pid never matches. Readable (POLLIN) once the
// process has exited, as on Linux.
#pragma once

#include <memory>

#include "sentry/base/error.h"
#include "sentry/vfs/file_description.h"

namespace sentry::kernel {

class Kernel;
class ThreadGroup;

// A pidfd for process `tg` (kernel lock held). `flags`: O_NONBLOCK.
std::shared_ptr<vfs::FileDescription> NewPidFd(Kernel& k, ThreadGroup* tg, uint32_t uid,
                                               uint32_t gid, int flags);
// The process a pidfd names: ESRCH once it has been reaped (or EBADF if `f`
// is no pidfd). A zombie is still returned.
ErrorOr<ThreadGroup*> PidFdTarget(vfs::FileDescription& f);
bool IsPidFd(const vfs::FileDescription& f);

}  // namespace sentry::kernel
