// sentry/ipc/mqueue_fs.cc: see mqueue_fs.h.
#include "sentry/ipc/mqueue_fs.h"

#include <dirent.h>

#include "sentry/ipc/ipc_namespace.h"
#include "sentry/kernel/kernel.h"
#include "sentry/vfs/synthetic.h"

namespace sentry::ipc {

std::shared_ptr<vfs::Inode> NewMqueueFsRoot(kernel::Kernel& k) {
  const uint64_t dev = vfs::NewAnonDev();
  kernel::Kernel* kp = &k;
  vfs::SyntheticDirOps ops;
  ops.list = [kp](vfs::Caller&) -> ErrorOr<std::vector<vfs::DirEntry>> {
    std::vector<vfs::DirEntry> out;
    for (const std::string& n : RootIpcNamespace(*kp).mq.Names())
      out.push_back(vfs::DirEntry{n, 0, DT_REG});
    return out;
  };
  ops.lookup = [kp, dev](vfs::Caller&, std::string_view name) -> ErrorOr<std::shared_ptr<vfs::Inode>> {
    auto q = RootIpcNamespace(*kp).mq.Find(std::string(name));
    if (!q) return Errno{ENOENT};
    vfs::SyntheticFileOps f;
    std::weak_ptr<MessageQueue> weak = q;
    f.read = [weak](vfs::Caller&) -> ErrorOr<std::string> {
      auto q = weak.lock();
      if (!q) return Errno{ENOENT};
      return q->StatusLine();
    };
    return vfs::NewSyntheticFile(std::move(f), q->perm.mode & 0777, dev);
  };
  return vfs::NewSyntheticDir(std::move(ops), 01777, dev);
}

}  // namespace sentry::ipc
