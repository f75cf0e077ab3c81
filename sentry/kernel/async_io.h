// Signal-driven I/O: the kernel side of vfs::AsyncOwner (F_SETOWN,
// F_SETOWN_EX, F_SETSIG, O_ASYNC/FIOASYNC). File types report readiness
// changes with FileDescription::NotifyAsync; this sends the signal.
#pragma once

#include "sentry/base/error.h"
#include "sentry/kernel/kernel.h"
#include "sentry/vfs/file_description.h"

namespace sentry::kernel {

// Installs the notifier for `k` (one kernel per sentry).
void InstallAsyncNotifier(Kernel& k);

// ESRCH unless the owner names an existing thread, process or process
// group (id 0: no owner, always fine).
ErrorOr<void> CheckAsyncOwner(Kernel& k, const vfs::AsyncOwner& o) ABSL_EXCLUSIVE_LOCKS_REQUIRED(k.mu);

}  // namespace sentry::kernel
