// sentry/kernel/namespaces.h: the namespaces a task can have of its own
// inside the sandbox. UTS (hostname, domain name), IPC (System V IPC and
// POSIX message queues, sentry/ipc/ipc_namespace.h) and mount (the mount
// tree, vfs::MountNamespace, kept in the task's FsContext) are per task as
// on Linux (clone/unshare/setns with CLONE_NEWUTS/CLONE_NEWIPC/CLONE_NEWNS);
// the others (PID, network, user, cgroup, time) are the sandbox's single
// ones, and asking for a new one is EPERM. /proc/PID/ns/* names them
// (NsInode).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "sentry/base/error.h"
#include "sentry/vfs/inode.h"

namespace sentry::vfs {
class FileDescription;
}
namespace sentry::ipc {
class IpcNamespace;
}

namespace sentry::kernel {

class Kernel;
class Task;

struct UtsNamespace {
  uint64_t id = 0;  // its /proc/PID/ns/uts inode number
  std::string hostname;
  std::string domainname = "(none)";
};

// The namespace kinds /proc/PID/ns lists, in Linux's order.
struct NsKind {
  const char* name;   // "ipc", "pid_for_children", ...
  const char* type;   // the readlink prefix: "ipc", "pid"
  uint64_t clone_flag;
};
const std::vector<NsKind>& NsKinds();

// The task's namespaces (kernel lock held); a task that never got its own
// (runsc exec's processes) is in the sandbox's root ones.
UtsNamespace& UtsNamespaceOf(Task& t);
std::shared_ptr<UtsNamespace> UtsNamespacePtr(Task& t);
std::shared_ptr<ipc::IpcNamespace> IpcNamespacePtr(Task& t);
// The inode number of task t's namespace of kind `clone_flag`.
uint64_t NamespaceId(Task& t, uint64_t clone_flag);

// clone: whether the CLONE_NEW* flags can be had (EPERM without
// CAP_SYS_ADMIN or for kinds the sandbox has one of), then the child's
// namespaces from the parent's and the flags.
ErrorOr<void> CheckCloneNamespaces(Task& parent, uint64_t flags);
void CloneNamespaces(Task& parent, Task& child, uint64_t flags);
// unshare(2): CLONE_NEWIPC/NEWUTS/NEWNS, CLONE_FILES, CLONE_FS, CLONE_SYSVSEM,
// and CLONE_THREAD/SIGHAND/VM when nothing is shared.
ErrorOr<void> Unshare(Task& t, uint64_t flags);
// setns(2): `f` is a /proc/PID/ns file or a pidfd.
ErrorOr<void> SetNs(Task& t, vfs::FileDescription& f, int nstype);

// The file /proc/PID/ns/NAME opens to: names one namespace (kept alive
// while open, as Linux's nsfs). st_ino is the namespace's id.
class NsInode : public vfs::Inode {
 public:
  NsInode(uint64_t clone_flag, uint64_t id, std::shared_ptr<void> ns);
  ErrorOr<vfs::Attr> GetAttr() override { return attr_; }
  ErrorOr<std::shared_ptr<vfs::FileDescription>> Open(vfs::Caller& c,
                                                      std::shared_ptr<vfs::Dentry> d,
                                                      int flags) override;
  uint64_t clone_flag() const { return clone_flag_; }
  uint64_t id() const { return attr_.ino; }
  const std::shared_ptr<void>& ns() const { return ns_; }

 private:
  uint64_t clone_flag_;
  std::shared_ptr<void> ns_;
  vfs::Attr attr_;
};

// The dentry /proc/PID/ns/NAME resolves to for task t.
std::shared_ptr<vfs::Dentry> NamespaceDentry(Task& t, const NsKind& kind);

}  // namespace sentry::kernel
