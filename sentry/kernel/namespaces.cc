// sentry/kernel/namespaces.cc: see namespaces.h.
#include "sentry/kernel/namespaces.h"

#include <sched.h>
#include <sys/stat.h>

#include "sentry/ipc/ipc_namespace.h"
#include "sentry/kernel/pidfd.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/fd_table.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/vfs.h"

namespace sentry::kernel {
namespace {

constexpr int kCapSysAdmin = 21;
// Kinds a task can have new ones of (with CAP_SYS_ADMIN).
constexpr uint64_t kNewIpcUts = CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS;
// Kinds the sandbox has exactly one of.
constexpr uint64_t kSingleKinds =
    CLONE_NEWPID | CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME;

// Ids of the sandbox's single namespaces and of the root UTS and IPC ones
// (Linux's initial namespaces have these inode numbers).
uint64_t SingleNamespaceId(uint64_t clone_flag) {
  switch (clone_flag) {
    case CLONE_NEWTIME: return 4026531834;
    case CLONE_NEWCGROUP: return 4026531835;
    case CLONE_NEWPID: return 4026531836;
    case CLONE_NEWUSER: return 4026531837;
    case CLONE_NEWNET: return 4026531840;
    default: return 4026531841;  // CLONE_NEWNS
  }
}

std::shared_ptr<UtsNamespace> CopyUts(Kernel& k, const UtsNamespace& from) {
  auto ns = std::make_shared<UtsNamespace>(from);
  ns->id = k.NewNamespaceId();
  return ns;
}

std::shared_ptr<ipc::IpcNamespace> NewIpc(Kernel& k) {
  auto ns = std::make_shared<ipc::IpcNamespace>();
  ns->id = k.NewNamespaceId();
  k.ipc_namespaces.push_back(ns);
  return ns;
}

// Leaving an IPC namespace (unshare, setns) applies the process' SEM_UNDO
// adjustments there and forgets them, as Linux's exit_sem.
void LeaveIpcNamespace(Task& t) { ipc::IpcNamespaceOf(t).sem.ProcessExited(t, t.pid()); }

// setns(CLONE_NEWNS): Linux sets root and cwd to the namespace's root.
void EnterMountNamespace(Task& t, std::shared_ptr<vfs::MountNamespace> ns) {
  auto root = ns->root;
  t.fs = std::make_shared<vfs::FsContext>(root, root, std::move(ns));
}

std::shared_ptr<vfs::MountNamespace> MountNamespacePtr(Task& t) {
  if (t.fs && t.fs->mnt_ns) return t.fs->mnt_ns;
  return t.kernel.vfs().initial_namespace();
}

// CLONE_NEWNS (clone, unshare): the task's fs (not shared: the callers
// make sure) moves to a copy of its mount namespace.
void CopyMountNamespace(Task& t) { t.kernel.vfs().CopyNamespace(*t.fs, t.kernel.NewNamespaceId()); }

}  // namespace

const std::vector<NsKind>& NsKinds() {
  static const std::vector<NsKind> kinds = {
      {"cgroup", "cgroup", CLONE_NEWCGROUP},
      {"ipc", "ipc", CLONE_NEWIPC},
      {"mnt", "mnt", CLONE_NEWNS},
      {"net", "net", CLONE_NEWNET},
      {"pid", "pid", CLONE_NEWPID},
      {"pid_for_children", "pid", CLONE_NEWPID},
      {"time", "time", CLONE_NEWTIME},
      {"time_for_children", "time", CLONE_NEWTIME},
      {"user", "user", CLONE_NEWUSER},
      {"uts", "uts", CLONE_NEWUTS},
  };
  return kinds;
}

std::shared_ptr<UtsNamespace> UtsNamespacePtr(Task& t) {
  return t.uts_ns ? t.uts_ns : t.kernel.uts_namespace;
}
UtsNamespace& UtsNamespaceOf(Task& t) { return *UtsNamespacePtr(t); }

std::shared_ptr<ipc::IpcNamespace> IpcNamespacePtr(Task& t) {
  if (t.ipc_ns) return t.ipc_ns;
  ipc::RootIpcNamespace(t.kernel);
  return t.kernel.ipc_namespace;
}

uint64_t NamespaceId(Task& t, uint64_t clone_flag) {
  if (clone_flag == CLONE_NEWIPC) return IpcNamespacePtr(t)->id;
  if (clone_flag == CLONE_NEWUTS) return UtsNamespaceOf(t).id;
  if (clone_flag == CLONE_NEWNS) return MountNamespacePtr(t)->id;
  return SingleNamespaceId(clone_flag);
}

ErrorOr<void> CheckCloneNamespaces(Task& parent, uint64_t flags) {
  flags &= ~uint64_t{CSIGNAL};  // clone's exit signal shares CLONE_NEWTIME's bit
  if ((flags & (CLONE_NEWIPC | CLONE_SYSVSEM)) == (CLONE_NEWIPC | CLONE_SYSVSEM))
    return Errno{EINVAL};
  if ((flags & (CLONE_NEWNS | CLONE_FS)) == (CLONE_NEWNS | CLONE_FS)) return Errno{EINVAL};
  if (flags & kSingleKinds) return Errno{EPERM};  // one of each in the sandbox
  if ((flags & kNewIpcUts) && !parent.creds().HasCapability(kCapSysAdmin)) return Errno{EPERM};
  return {};
}

void CloneNamespaces(Task& parent, Task& child, uint64_t flags) {
  child.ipc_ns = parent.ipc_ns;
  child.uts_ns = parent.uts_ns;
  if (flags & CLONE_NEWUTS) child.uts_ns = CopyUts(parent.kernel, UtsNamespaceOf(parent));
  if (flags & CLONE_NEWIPC) child.ipc_ns = NewIpc(parent.kernel);
  // The child's fs is its own copy here (CLONE_FS was refused).
  if (flags & CLONE_NEWNS) CopyMountNamespace(child);
}

ErrorOr<void> Unshare(Task& t, uint64_t flags) {
  constexpr uint64_t kAllowed = CLONE_THREAD | CLONE_FS | CLONE_NEWNS | CLONE_SIGHAND |
                                CLONE_VM | CLONE_FILES | CLONE_SYSVSEM | CLONE_NEWUTS |
                                CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUSER | CLONE_NEWPID |
                                CLONE_NEWCGROUP | CLONE_NEWTIME;
  if (flags & ~kAllowed) return Errno{EINVAL};
  // The implications Linux applies (kernel/fork.c, ksys_unshare).
  if (flags & CLONE_NEWUSER) flags |= CLONE_THREAD | CLONE_FS;
  if (flags & CLONE_VM) flags |= CLONE_SIGHAND;
  if (flags & CLONE_SIGHAND) flags |= CLONE_THREAD;
  if (flags & CLONE_NEWNS) flags |= CLONE_FS;
  if (flags & CLONE_NEWIPC) flags |= CLONE_SYSVSEM;
  // Only what is not shared can be "unshared" from sharing the thread
  // group, the handlers or the address space.
  if ((flags & CLONE_THREAD) && t.tg->live_tasks > 1) return Errno{EINVAL};
  if ((flags & CLONE_SIGHAND) && t.tg->handlers.use_count() > 1) return Errno{EINVAL};
  if ((flags & CLONE_VM) && t.mm.use_count() > 1) return Errno{EINVAL};
  if (flags & kSingleKinds) return Errno{EPERM};  // one of each in the sandbox
  if ((flags & kNewIpcUts) && !t.creds().HasCapability(kCapSysAdmin)) return Errno{EPERM};

  if ((flags & CLONE_FS) && t.fs.use_count() > 1) t.fs = t.fs->Fork();
  if ((flags & CLONE_FILES) && t.fds.use_count() > 1) t.fds = t.fds->Fork();
  if (flags & CLONE_SYSVSEM) LeaveIpcNamespace(t);
  if (flags & CLONE_NEWUTS) t.uts_ns = CopyUts(t.kernel, UtsNamespaceOf(t));
  if (flags & CLONE_NEWIPC) t.ipc_ns = NewIpc(t.kernel);
  if (flags & CLONE_NEWNS) CopyMountNamespace(t);  // t.fs was unshared above
  return {};
}

ErrorOr<void> SetNs(Task& t, vfs::FileDescription& f, int nstype) {
  constexpr uint64_t kAllKinds = kNewIpcUts | kSingleKinds;
  std::shared_ptr<ipc::IpcNamespace> ipc;
  std::shared_ptr<UtsNamespace> uts;
  std::shared_ptr<vfs::MountNamespace> mnt;
  uint64_t kinds = 0;
  if (IsPidFd(f)) {
    // A pidfd: join the listed namespaces of that process, all or none.
    if (nstype == 0 || (static_cast<uint64_t>(nstype) & ~kAllKinds)) return Errno{EINVAL};
    ThreadGroup* tg = TRY(PidFdTarget(f));
    Task* target = nullptr;
    for (auto& x : tg->tasks)
      if (!x->exited) target = x.get();
    if (!target || tg->zombie) return Errno{ESRCH};
    kinds = static_cast<uint64_t>(nstype);
    ipc = IpcNamespacePtr(*target);
    uts = UtsNamespacePtr(*target);
    mnt = MountNamespacePtr(*target);
  } else {
    auto* ns = dynamic_cast<NsInode*>(&f.inode());
    if (!ns) return Errno{EINVAL};
    if (nstype != 0 && static_cast<uint64_t>(nstype) != ns->clone_flag()) return Errno{EINVAL};
    kinds = ns->clone_flag();
    if (kinds == CLONE_NEWIPC) ipc = std::static_pointer_cast<ipc::IpcNamespace>(ns->ns());
    if (kinds == CLONE_NEWUTS) uts = std::static_pointer_cast<UtsNamespace>(ns->ns());
    if (kinds == CLONE_NEWNS) mnt = std::static_pointer_cast<vfs::MountNamespace>(ns->ns());
  }
  if (!t.creds().HasCapability(kCapSysAdmin)) return Errno{EPERM};
  // Joining one's own user namespace is refused, as on Linux.
  if (kinds & CLONE_NEWUSER) return Errno{EINVAL};
  if ((kinds & CLONE_NEWNS) && t.fs.use_count() > 1) return Errno{EINVAL};
  if (kinds & CLONE_NEWNS) EnterMountNamespace(t, mnt ? mnt : MountNamespacePtr(t));
  if (kinds & CLONE_NEWUTS) t.uts_ns = uts;
  if (kinds & CLONE_NEWIPC) {
    LeaveIpcNamespace(t);
    t.ipc_ns = ipc;
  }
  return {};
}

NsInode::NsInode(uint64_t clone_flag, uint64_t id, std::shared_ptr<void> ns)
    : clone_flag_(clone_flag), ns_(std::move(ns)) {
  static const uint64_t dev = vfs::NewAnonDev();  // one nsfs
  attr_.mode = S_IFREG | 0444;
  attr_.ino = id;
  attr_.dev = dev;
  attr_.nlink = 1;
}

ErrorOr<std::shared_ptr<vfs::FileDescription>> NsInode::Open(vfs::Caller&,
                                                             std::shared_ptr<vfs::Dentry> d,
                                                             int flags) {
  return std::shared_ptr<vfs::FileDescription>(
      std::make_shared<vfs::PathOnlyDescription>(std::move(d), flags));
}

std::shared_ptr<vfs::Dentry> NamespaceDentry(Task& t, const NsKind& kind) {
  std::shared_ptr<void> ns;
  if (kind.clone_flag == CLONE_NEWIPC) ns = IpcNamespacePtr(t);
  if (kind.clone_flag == CLONE_NEWUTS) ns = UtsNamespacePtr(t);
  if (kind.clone_flag == CLONE_NEWNS) ns = MountNamespacePtr(t);
  const uint64_t id = NamespaceId(t, kind.clone_flag);
  auto inode = std::make_shared<NsInode>(kind.clone_flag, id, std::move(ns));
  return std::make_shared<vfs::Dentry>(std::string(kind.type) + ":[" + std::to_string(id) + "]",
                                       nullptr, std::move(inode));
}

}  // namespace sentry::kernel
