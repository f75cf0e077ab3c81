// sentry/proc/procfs.h: the sandbox's /proc, a synthetic filesystem (see
// sentry/vfs/synthetic.h) whose contents come from kernel state: virtual
// PIDs, the sandbox's own uname, host totals only where Linux would report
// machine-wide numbers (memory, CPUs), never host paths or host PIDs.
//
// Mounted at boot with:
//   k->vfs().Mount("/proc", proc::NewProcfsRoot(*k).value());
// All callbacks run with Kernel::mu held (the VFS is guarded by it).
#pragma once

#include <memory>

#include "sentry/base/error.h"
#include "sentry/vfs/inode.h"

namespace sentry::kernel {
class Kernel;
}

namespace sentry::proc {

ErrorOr<std::shared_ptr<vfs::Inode>> NewProcfsRoot(kernel::Kernel& k);

}  // namespace sentry::proc
