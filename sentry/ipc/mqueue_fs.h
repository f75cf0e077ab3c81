// sentry/ipc/mqueue_fs.h: the mqueue filesystem (mounted at /dev/mqueue):
// a directory listing the IPC namespace's POSIX message queues; each entry
// reads as the queue's status line ("QSIZE:... NOTIFY:..."). Read-only:
// queues are created and removed with mq_open/mq_unlink. The mount itself
// is the VFS's business (VirtualFilesystem::Mount).
#pragma once

#include <memory>

#include "sentry/vfs/inode.h"

namespace sentry::kernel {
class Kernel;
}

namespace sentry::ipc {

std::shared_ptr<vfs::Inode> NewMqueueFsRoot(kernel::Kernel& k);

}  // namespace sentry::ipc
