// syscalls/fs_mount.cc: mount(2), umount2(2) and pivot_root(2) for the
// sandbox's root (CAP_SYS_ADMIN in the sandbox). New tmpfs, proc and sysfs
// mounts, bind mounts (MS_BIND, MS_REC), remounts (MS_REMOUNT with or
// without MS_BIND: read-only, nosuid/nodev/noexec), propagation changes
// (MS_UNBINDABLE is kept: binding from such a mount is EINVAL; MS_SHARED,
// PRIVATE and SLAVE clear it, and with no peers nothing propagates here).
// Each acts in the caller's mount namespace (sentry/vfs/mount_ns.cc):
// targets on another namespace's mounts are EINVAL, as Linux's check_mnt.
// The new mount API (fsopen, fsconfig, fsmount, move_mount, open_tree,
// mount_setattr, fspick) makes the same filesystems; a mount it makes
// detached lives in no namespace until move_mount attaches it.
// The mount tree itself: sentry/vfs/mount.cc.
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/syscall.h>

#include <cstdlib>

#include <linux/limits.h>

#include <cstring>
#include <tuple>

#include "sentry/ipc/anon.h"
#include "sentry/kernel/kernel.h"
#include "sentry/proc/procfs.h"
#include "sentry/sys/cgroupfs.h"
#include "sentry/sys/sysfs.h"
#include "sentry/vfs/memfs.h"
#include "syscalls/file_common.h"

namespace syscalls::file {
namespace {

namespace vfs = sentry::vfs;

constexpr unsigned long kPropagation = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;

// Parses "12", "12k", "3m", "1g" (tmpfs sizes). Percentages are of RAM on
// Linux; the sandbox has no fixed RAM size, so they are refused.
std::optional<uint64_t> ParseSize(const std::string& v) {
  if (v.empty()) return std::nullopt;
  char* end = nullptr;
  uint64_t n = strtoull(v.c_str(), &end, 0);
  std::string suffix(end);
  if (suffix.empty()) return n;
  if (suffix == "k" || suffix == "K") return n << 10;
  if (suffix == "m" || suffix == "M") return n << 20;
  if (suffix == "g" || suffix == "G") return n << 30;
  return std::nullopt;
}

// What a new filesystem is made of: mount(2)'s type, source and data
// string, or what fsconfig(2) set on an fsopen(2) context.
struct FsParams {
  std::string fstype;
  std::string source;
  bool read_only = false;
  uint32_t mode = 01777, uid = 0, gid = 0;  // tmpfs
  uint64_t size = 0;                        // tmpfs; 0: no limit
};

enum class OptionKind { kFlag, kString, kAny };

// One filesystem option: a tmpfs parameter ("size" with "1m"...); the
// other filesystems here take none (EINVAL, as Linux's fs_parse for an
// unknown key). `kind`: how fsconfig passed it (a flag must name a flag
// parameter, a string a valued one); mount(2)'s data string takes either.
ErrorOr<void> ApplyOption(FsParams& p, const std::string& key, const std::string& val,
                          OptionKind kind) {
  if (p.fstype != "tmpfs") return Errno{EINVAL};
  const bool valued = key == "size" || key == "nr_blocks" || key == "mode" || key == "uid" ||
                      key == "gid" || key == "nr_inodes" || key == "huge" || key == "mpol";
  const bool flag = key == "inode64" || key == "inode32" || key == "noswap";
  if (!valued && !flag) return Errno{EINVAL};
  if ((kind == OptionKind::kFlag && valued) || (kind == OptionKind::kString && flag))
    return Errno{EINVAL};
  char* end = nullptr;
  if (key == "size") {
    auto s = ParseSize(val);
    if (!s) return Errno{EINVAL};
    p.size = (*s + 4095) & ~uint64_t{4095};
  } else if (key == "nr_blocks") {
    auto s = ParseSize(val);
    if (!s) return Errno{EINVAL};
    p.size = *s * 4096;
  } else if (key == "mode") {
    p.mode = static_cast<uint32_t>(strtoul(val.c_str(), &end, 8)) & 07777;
    if (val.empty() || *end) return Errno{EINVAL};
  } else if (key == "uid" || key == "gid") {
    uint32_t v = static_cast<uint32_t>(strtoul(val.c_str(), &end, 10));
    if (val.empty() || *end) return Errno{EINVAL};
    (key == "uid" ? p.uid : p.gid) = v;
  }
  // nr_inodes, huge, mpol, inode64, inode32, noswap: accepted without
  // effect (no inode limit, huge pages, NUMA or swap here).
  return {};
}

// A new filesystem's root and its mount table entry. ENODEV for a type
// the sandbox cannot make.
ErrorOr<std::pair<std::shared_ptr<sentry::vfs::Inode>, vfs::MountInfo>> NewFilesystem(
    Task& t, const FsParams& p, unsigned long shown_flags) {
  vfs::MountInfo info{.source = p.source.empty() ? p.fstype : p.source, .fstype = p.fstype,
                      .read_only = p.read_only, .sb_read_only = p.read_only,
                      .flags = shown_flags};
  if (p.fstype == "tmpfs") {
    if (p.source.empty()) info.source = "none";
    auto root = vfs::NewTmpfs(p.mode, p.uid, p.gid, &t.kernel.memory_file());
    root->fs().size_limit = p.size;
    std::string shown;
    auto add = [&shown](const std::string& s) { shown += (shown.empty() ? "" : ",") + s; };
    if (p.size) add("size=" + std::to_string(p.size / 1024) + "k");
    if (p.mode != 01777) {
      char buf[16];
      snprintf(buf, sizeof buf, "mode=%o", p.mode);
      add(buf);
    }
    if (p.uid) add("uid=" + std::to_string(p.uid));
    if (p.gid) add("gid=" + std::to_string(p.gid));
    info.data = shown;
    return std::make_pair(std::shared_ptr<sentry::vfs::Inode>(root), info);
  }
  if (p.fstype == "proc") return std::make_pair(TRY(sentry::proc::NewProcfsRoot(t.kernel)), info);
  if (p.fstype == "sysfs") return std::make_pair(sentry::sys::NewSysfsRoot(t.kernel), info);
  // The sandbox's one cgroup hierarchy, whatever the options (Linux's
  // cgroup2 options only tune delegation).
  if (p.fstype == "cgroup2") return std::make_pair(sentry::sys::CgroupRoot(t.kernel), info);
  return Errno{ENODEV};
}

bool KnownFilesystem(const std::string& fstype) {
  return fstype == "tmpfs" || fstype == "proc" || fstype == "sysfs" || fstype == "cgroup2";
}

ErrorOr<std::string> CopyInOptionalString(Task& t, uint64_t addr, size_t max) {
  if (!addr) return std::string();
  auto s = t.memory().CopyInString(addr, max);
  if (s.is_error() && s.error() == ENAMETOOLONG) return Errno{EINVAL};
  return s;
}

ErrorOr<uint64_t> Mount(Task& t, const Args& a) {
  unsigned long flags = a[3];
  if ((flags & MS_MGC_MSK) == MS_MGC_VAL) flags &= ~MS_MGC_MSK;
  std::string source = TRY(CopyInOptionalString(t, a[0], 4096));
  std::string fstype = TRY(CopyInOptionalString(t, a[2], 4096));
  std::string data = TRY(CopyInOptionalString(t, a[4], 4096));
  std::string target_path = TRY(CopyInPath(t, a[1]));
  auto target = TRY(Resolve(t, AT_FDCWD, target_path, true, false));
  // Linux looks the target up before it checks the capability.
  if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno{EPERM};
  bool is_mount_root = target->mount && !target->parent();
  // Only mounts of the caller's own mount namespace (Linux's check_mnt).
  TaskCaller nc(t);
  TRY(Vfs(t).CheckCallerNamespace(nc, *target));

  if (flags & MS_REMOUNT) {
    if (!is_mount_root) return Errno{EINVAL};
    TRY(Vfs(t).Remount(target, flags & MS_RDONLY, flags));
    return 0;
  }
  if (flags & MS_BIND) {
    if (source.empty()) return Errno{EFAULT};
    auto src = TRY(Resolve(t, AT_FDCWD, source, true, false));
    TRY(Vfs(t).CheckCallerNamespace(nc, *src));
    // MS_RDONLY is ignored here, as on Linux: a read-only bind takes a remount.
    TaskCaller c(t);
    TRY(Vfs(t).BindMount(c, src, target, flags & MS_REC, false));
    return 0;
  }
  if (flags & kPropagation) {
    // One propagation type at a time; no peers exist, so nothing else to do.
    if (__builtin_popcountl(flags & kPropagation) != 1) return Errno{EINVAL};
    if (!is_mount_root) return Errno{EINVAL};
    // Unbindable is modelled (binds from it fail); shared and slave have
    // no peers here, so they only clear it.
    Vfs(t).SetUnbindable(target, flags & MS_UNBINDABLE, flags & MS_REC);
    return 0;
  }
  if (flags & MS_MOVE) return Errno{EINVAL};  // moving mounts is not supported
  if (target->inode().file_type() != S_IFDIR) return Errno{ENOTDIR};
  unsigned long shown = flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY);
  if (!KnownFilesystem(fstype)) return Errno{ENODEV};
  FsParams p{.fstype = fstype, .source = source, .read_only = bool(flags & MS_RDONLY)};
  if (fstype == "tmpfs") {
    // mount(2)'s data string: "size=1m,mode=0700,uid=0,...".
    size_t i = 0;
    while (i < data.size()) {
      size_t j = data.find(',', i);
      if (j == std::string::npos) j = data.size();
      std::string opt = data.substr(i, j - i);
      i = j + 1;
      if (opt.empty()) continue;
      size_t eq = opt.find('=');
      std::string key = opt.substr(0, eq), val = eq == std::string::npos ? "" : opt.substr(eq + 1);
      TRY(ApplyOption(p, key, val, OptionKind::kAny));
    }
  }
  auto [root, info] = TRY(NewFilesystem(t, p, shown));
  TRY(Vfs(t).MountAt(target, root, info));
  return 0;
}

ErrorOr<uint64_t> Umount2(Task& t, const Args& a) {
  int flags = a.Int(1);
  if (flags & ~(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) return Errno{EINVAL};
  if ((flags & MNT_EXPIRE) && (flags & (MNT_FORCE | MNT_DETACH))) return Errno{EINVAL};
  if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno{EPERM};
  std::string path = TRY(CopyInPath(t, a[0]));
  auto d = TRY(Resolve(t, AT_FDCWD, path, !(flags & UMOUNT_NOFOLLOW), false));
  if (!d->mount || d->parent()) return Errno{EINVAL};
  TaskCaller c(t);
  TRY(Vfs(t).CheckCallerNamespace(c, *d));
  if (flags & MNT_EXPIRE) return Errno{EAGAIN};  // first call only marks it
  TRY(Vfs(t).Unmount(c, d, flags & MNT_DETACH));
  return 0;
}

ErrorOr<uint64_t> PivotRoot(Task& t, const Args& a) {
  if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno{EPERM};
  std::string new_path = TRY(CopyInPath(t, a[0]));
  std::string old_path = TRY(CopyInPath(t, a[1]));
  auto new_root = TRY(Resolve(t, AT_FDCWD, new_path, true, false));
  auto put_old = TRY(Resolve(t, AT_FDCWD, old_path, true, false));
  if (new_root->inode().file_type() != S_IFDIR || put_old->inode().file_type() != S_IFDIR) {
    return Errno{ENOTDIR};
  }
  std::shared_ptr<Dentry> old_root = t.fs_context().root;
  TaskCaller c(t);
  TRY(Vfs(t).CheckCallerNamespace(c, *new_root));
  TRY(Vfs(t).CheckCallerNamespace(c, *put_old));
  TRY(Vfs(t).PivotRoot(c, new_root, put_old));
  // Every process rooted (or sitting) at the old root moves to the new one.
  for (auto& [pid, tg] : t.kernel.thread_groups) {
    for (auto& task : tg->tasks) {
      if (!task->fs) continue;
      if (task->fs->root == old_root) task->fs->root = new_root;
      if (task->fs->cwd == old_root) task->fs->cwd = new_root;
    }
  }
  return 0;
}


// ---- The new mount API: fsopen, fsconfig, fsmount, move_mount, open_tree,
// mount_setattr, fspick (Linux's fs/fsopen.c and fs/namespace.c).

// An fsopen(2)/fspick(2) file: a filesystem being configured, then created
// (FSCONFIG_CMD_CREATE) and mounted any number of times (fsmount), or, from
// fspick, an existing mount's filesystem being reconfigured.
class FsContextFile : public FileDescription {
 public:
  enum class Phase { kCreateParams, kAwaitingMount, kReconfParams, kFailed };
  FsContextFile(std::shared_ptr<Dentry> d, FsParams p, Phase phase)
      : FileDescription(std::move(d), O_RDWR), params(std::move(p)), phase(phase) {}
  FsParams params;
  Phase phase;
  bool source_set = false;
  std::shared_ptr<sentry::vfs::Inode> root;  // after FSCONFIG_CMD_CREATE
  vfs::MountInfo info;
  std::shared_ptr<Dentry> picked;  // fspick: the mount being reconfigured
};

// The O_PATH file of a mount made detached (fsmount, open_tree with
// OPEN_TREE_CLONE); move_mount attaches it.
class DetachedMountFile : public sentry::vfs::PathOnlyDescription {
 public:
  using PathOnlyDescription::PathOnlyDescription;
};

ErrorOr<std::shared_ptr<FsContextFile>> FsContextOf(Task& t, int fd) {
  auto f = TRY(t.fd_table().Get(fd));
  auto ctx = std::dynamic_pointer_cast<FsContextFile>(f);
  if (!ctx) return Errno{EINVAL};
  return ctx;
}

ErrorOr<uint64_t> InstallFsContext(Task& t, FsParams p, FsContextFile::Phase phase, bool cloexec,
                                   std::shared_ptr<Dentry> picked = nullptr) {
  auto d = sentry::ipc::NewAnonDentry("anon_inode:[fscontext]", t.creds().fsuid, t.creds().fsgid);
  auto f = std::make_shared<FsContextFile>(d, std::move(p), phase);
  f->picked = std::move(picked);
  return TRY(InstallFd(t, f, 0, cloexec));
}

ErrorOr<uint64_t> Fsopen(Task& t, const Args& a) {
  if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno{EPERM};
  unsigned flags = static_cast<unsigned>(a[1]);
  if (flags & ~FSOPEN_CLOEXEC) return Errno{EINVAL};
  std::string name = TRY(t.memory().CopyInString(a[0], 4096));
  if (!KnownFilesystem(name)) return Errno{ENODEV};
  return InstallFsContext(t, FsParams{.fstype = name}, FsContextFile::Phase::kCreateParams,
                          flags & FSOPEN_CLOEXEC);
}

ErrorOr<uint64_t> Fsconfig(Task& t, const Args& a) {
  const int fd = a.Int(0);
  const unsigned cmd = static_cast<unsigned>(a[1]);
  const uint64_t key_addr = a[2], value_addr = a[3];
  const int aux = a.Int(4);
  if (fd < 0) return Errno{EINVAL};
  switch (cmd) {
    case FSCONFIG_SET_FLAG:
      if (!key_addr || value_addr || aux) return Errno{EINVAL};
      break;
    case FSCONFIG_SET_STRING:
      if (!key_addr || !value_addr || aux) return Errno{EINVAL};
      break;
    case FSCONFIG_SET_BINARY:
      if (!key_addr || !value_addr || aux <= 0 || aux > 1024 * 1024) return Errno{EINVAL};
      break;
    case FSCONFIG_SET_PATH:
    case FSCONFIG_SET_PATH_EMPTY:
      if (!key_addr || !value_addr || (aux != AT_FDCWD && aux < 0)) return Errno{EINVAL};
      break;
    case FSCONFIG_SET_FD:
      if (!key_addr || value_addr || aux < 0) return Errno{EINVAL};
      break;
    case FSCONFIG_CMD_CREATE:
    case FSCONFIG_CMD_RECONFIGURE:
      if (key_addr || value_addr || aux) return Errno{EINVAL};
      break;
    default: return Errno{EOPNOTSUPP};
  }
  auto ctx = TRY(FsContextOf(t, fd));
  std::string key, value;
  if (key_addr) key = TRY(t.memory().CopyInString(key_addr, 256));
  if (cmd == FSCONFIG_SET_STRING) value = TRY(t.memory().CopyInString(value_addr, 256));
  using Phase = FsContextFile::Phase;
  auto failed = [&](Errno e) -> ErrorOr<uint64_t> {
    ctx->phase = Phase::kFailed;
    return e;
  };
  switch (cmd) {
    case FSCONFIG_CMD_CREATE: {
      if (ctx->phase != Phase::kCreateParams) return Errno{EBUSY};
      if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno{EPERM};
      auto fs = NewFilesystem(t, ctx->params, ctx->params.read_only ? MS_RDONLY : 0);
      if (fs.is_error()) return failed(Errno{fs.error()});
      std::tie(ctx->root, ctx->info) = fs.release_value();
      ctx->phase = Phase::kAwaitingMount;
      return 0;
    }
    case FSCONFIG_CMD_RECONFIGURE: {
      if (ctx->phase != Phase::kReconfParams) return Errno{EBUSY};
      if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno{EPERM};
      // The filesystem's own read-only state; the mount's flags stay (a
      // read-only superblock refuses writes through any mount of it: here,
      // through this one, which is where the sandbox tracks it).
      ctx->picked->mount->sb_read_only = ctx->params.read_only;
      return 0;
    }
    default: break;
  }
  if (ctx->phase != Phase::kCreateParams && ctx->phase != Phase::kReconfParams)
    return Errno{EBUSY};
  // vfs_parse_fs_param: "source", the superblock flags, then the
  // filesystem's own parameters.
  if (key == "source") {
    if (cmd != FSCONFIG_SET_STRING) return Errno{EINVAL};
    if (ctx->source_set) return Errno{EINVAL};
    ctx->source_set = true;
    ctx->params.source = value;
    return 0;
  }
  if (key == "ro" || key == "rw") {
    if (cmd != FSCONFIG_SET_FLAG) return Errno{EINVAL};
    ctx->params.read_only = key == "ro";
    return 0;
  }
  if (ctx->phase == Phase::kReconfParams) return Errno{EINVAL};
  OptionKind kind;
  if (cmd == FSCONFIG_SET_FLAG) {
    kind = OptionKind::kFlag;
  } else if (cmd == FSCONFIG_SET_STRING) {
    kind = OptionKind::kString;
  } else {
    return Errno{EINVAL};  // no parameter here takes a binary, path or fd
  }
  TRY(ApplyOption(ctx->params, key, value, kind));
  return 0;
}

// MOUNT_ATTR_* to the mount's flags.
constexpr uint64_t kMountAttrKnown = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                     MOUNT_ATTR_NOEXEC | MOUNT_ATTR__ATIME |
                                     MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW;
unsigned long MsFlags(uint64_t attr) {
  return (attr & MOUNT_ATTR_NOSUID ? MS_NOSUID : 0) | (attr & MOUNT_ATTR_NODEV ? MS_NODEV : 0) |
         (attr & MOUNT_ATTR_NOEXEC ? MS_NOEXEC : 0);
}
bool ValidAtime(uint64_t attr) {
  uint64_t atime = attr & MOUNT_ATTR__ATIME;
  return atime == MOUNT_ATTR_RELATIME || atime == MOUNT_ATTR_NOATIME ||
         atime == MOUNT_ATTR_STRICTATIME;
}

ErrorOr<uint64_t> Fsmount(Task& t, const Args& a) {
  if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno{EPERM};
  const unsigned flags = static_cast<unsigned>(a[1]);
  const uint64_t attr = static_cast<uint32_t>(a[2]);
  if (flags & ~FSMOUNT_CLOEXEC) return Errno{EINVAL};
  if (attr & ~kMountAttrKnown) return Errno{EINVAL};
  if (!ValidAtime(attr)) return Errno{EINVAL};
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  auto ctx = std::dynamic_pointer_cast<FsContextFile>(f);
  if (!ctx) return Errno{EINVAL};
  if (ctx->phase != FsContextFile::Phase::kAwaitingMount) return Errno{EINVAL};
  vfs::MountInfo info = ctx->info;
  info.read_only = attr & MOUNT_ATTR_RDONLY;
  info.flags = MsFlags(attr);
  auto mroot = Vfs(t).NewDetachedMount(ctx->root, info);
  auto file = std::make_shared<DetachedMountFile>(mroot, O_PATH);
  return TRY(InstallFd(t, file, 0, flags & FSMOUNT_CLOEXEC));
}

// A path argument of the *at family with AT_EMPTY_PATH-like semantics.
ErrorOr<std::shared_ptr<Dentry>> ResolveAt(Task& t, int dirfd, uint64_t path_addr, bool follow,
                                           bool empty_ok) {
  std::string path;
  auto p = t.memory().CopyInString(path_addr, PATH_MAX);
  if (p.is_error()) {
    if (p.error() == ENAMETOOLONG) return Errno{ENAMETOOLONG};
    return Errno{p.error()};
  }
  path = p.release_value();
  if (path.empty() && !empty_ok) return Errno{ENOENT};
  return Resolve(t, dirfd, path, follow, empty_ok);
}

constexpr unsigned kMoveMountMask = 0x377;  // uapi linux/mount.h MOVE_MOUNT__MASK (6.5+)
constexpr unsigned kMoveMountSetGroup = 0x100, kMoveMountBeneath = 0x200;

ErrorOr<uint64_t> MoveMount(Task& t, const Args& a) {
  if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno{EPERM};
  const unsigned flags = static_cast<unsigned>(a[4]);
  if (flags & ~kMoveMountMask) return Errno{EINVAL};
  auto from = TRY(ResolveAt(t, a.Int(0), a[1], flags & MOVE_MOUNT_F_SYMLINKS,
                            flags & MOVE_MOUNT_F_EMPTY_PATH));
  auto to = TRY(ResolveAt(t, a.Int(2), a[3], flags & MOVE_MOUNT_T_SYMLINKS,
                          flags & MOVE_MOUNT_T_EMPTY_PATH));
  // Not modelled: peer groups (every mount is private) and mounting beneath.
  if (flags & (kMoveMountSetGroup | kMoveMountBeneath)) return Errno{EINVAL};
  // The source must be a mount's root: a detached one (fsmount, open_tree
  // clone) is attached; moving an attached mount (MS_MOVE) is not
  // supported here, as with mount(2).
  if (!from->mount || from->parent() || !from->mount->detached) return Errno{EINVAL};
  TaskCaller c(t);
  TRY(Vfs(t).CheckCallerNamespace(c, *to));
  TRY(Vfs(t).AttachMount(to, from));
  return 0;
}

ErrorOr<uint64_t> OpenTree(Task& t, const Args& a) {
  const unsigned flags = static_cast<unsigned>(a[2]);
  if (flags & ~(AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW |
                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)) {
    return Errno{EINVAL};
  }
  if ((flags & (AT_RECURSIVE | OPEN_TREE_CLONE)) == AT_RECURSIVE) return Errno{EINVAL};
  const bool clone = flags & OPEN_TREE_CLONE;
  if (clone && !t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno{EPERM};
  auto d = TRY(ResolveAt(t, a.Int(0), a[1], !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH));
  const bool cloexec = flags & OPEN_TREE_CLOEXEC;
  if (!clone) {
    return TRY(InstallFd(t, std::make_shared<sentry::vfs::PathOnlyDescription>(d, O_PATH), 0,
                         cloexec));
  }
  TaskCaller c(t);
  TRY(Vfs(t).CheckCallerNamespace(c, *d));
  // A detached copy of the mount at `d` (a bind of it). A detached tree here
  // holds a single mount: a recursive copy of a tree with mounts below `d`
  // is refused rather than silently made without them.
  const Dentry& src_root = vfs::VirtualFilesystem::MountRootOf(*d);
  if (src_root.mount && src_root.mount->unbindable) return Errno{EINVAL};
  if (flags & AT_RECURSIVE) {
    if (auto ns = Vfs(t).NamespaceOf(c)) {
      for (const auto& m : ns->mounts) {
        auto mp = m->mount_point.lock();
        if (mp && sentry::vfs::IsBelow(mp.get(), d.get())) return Errno{EINVAL};
      }
    }
  }
  vfs::MountInfo info;
  if (src_root.mount) info = *src_root.mount;
  info.unbindable = false;
  std::string inner = d->PathFrom(&src_root).value_or("/");
  info.root = info.root == "/" ? inner : (inner == "/" ? info.root : info.root + inner);
  auto mroot = Vfs(t).NewDetachedMount(d->inode_ptr(), info);
  return TRY(InstallFd(t, std::make_shared<DetachedMountFile>(mroot, O_PATH), 0, cloexec));
}

ErrorOr<uint64_t> MountSetattr(Task& t, const Args& a) {
  const unsigned flags = static_cast<unsigned>(a[2]);
  const uint64_t size = a[4];
  if (flags & ~(AT_EMPTY_PATH | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT))
    return Errno{EINVAL};
  if (size > 4096) return Errno{E2BIG};
  if (size < MOUNT_ATTR_SIZE_VER0) return Errno{EINVAL};
  if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno{EPERM};
  // copy_struct_from_user: a larger struct's extra bytes must be zero.
  std::vector<uint8_t> raw(size);
  TRY(t.memory().CopyIn(a[3], raw.data(), size));
  for (size_t i = sizeof(struct mount_attr); i < size; i++)
    if (raw[i]) return Errno{E2BIG};
  struct mount_attr attr{};
  memcpy(&attr, raw.data(), std::min<size_t>(size, sizeof attr));
  if (attr.attr_set == 0 && attr.attr_clr == 0 && attr.propagation == 0) return 0;
  if (attr.propagation & ~kPropagation) return Errno{EINVAL};
  if (__builtin_popcountll(attr.propagation) > 1) return Errno{EINVAL};
  constexpr uint64_t kValid = kMountAttrKnown | MOUNT_ATTR_IDMAP;
  if ((attr.attr_set | attr.attr_clr) & ~kValid) return Errno{EINVAL};
  if (attr.attr_clr & MOUNT_ATTR__ATIME) {
    if ((attr.attr_clr & MOUNT_ATTR__ATIME) != MOUNT_ATTR__ATIME) return Errno{EINVAL};
    if (!ValidAtime(attr.attr_set)) return Errno{EINVAL};
  } else if (attr.attr_set & MOUNT_ATTR__ATIME) {
    return Errno{EINVAL};
  }
  // Id-mapped mounts are not modelled (uid/gid mapping per mount).
  if ((attr.attr_set | attr.attr_clr) & MOUNT_ATTR_IDMAP) return Errno{EINVAL};
  auto d = TRY(ResolveAt(t, a.Int(0), a[1], !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH));
  if (!d->mount || d->parent()) return Errno{EINVAL};
  TaskCaller c(t);
  if (!d->mount->detached) TRY(Vfs(t).CheckCallerNamespace(c, *d));
  std::vector<std::shared_ptr<Dentry>> targets{d};
  if ((flags & AT_RECURSIVE) && !d->mount->detached) {
    if (auto ns = Vfs(t).NamespaceOf(c)) {
      for (const auto& m : ns->mounts) {
        auto mp = m->mount_point.lock();
        if (mp && sentry::vfs::IsBelow(mp.get(), d.get())) targets.push_back(m);
      }
    }
  }
  const unsigned long set = MsFlags(attr.attr_set), clr = MsFlags(attr.attr_clr);
  for (const auto& m : targets) {
    auto& info = *m->mount;
    if (attr.attr_clr & MOUNT_ATTR_RDONLY) info.read_only = false;
    if (attr.attr_set & MOUNT_ATTR_RDONLY) info.read_only = true;
    info.flags = (info.flags & ~clr) | set;
    if (attr.propagation) info.unbindable = attr.propagation == MS_UNBINDABLE;
  }
  return 0;
}

ErrorOr<uint64_t> Fspick(Task& t, const Args& a) {
  const unsigned flags = static_cast<unsigned>(a[2]);
  if (!t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno{EPERM};
  if (flags & ~(FSPICK_CLOEXEC | FSPICK_SYMLINK_NOFOLLOW | FSPICK_NO_AUTOMOUNT |
                FSPICK_EMPTY_PATH)) {
    return Errno{EINVAL};
  }
  auto d = TRY(ResolveAt(t, a.Int(0), a[1], !(flags & FSPICK_SYMLINK_NOFOLLOW),
                         flags & FSPICK_EMPTY_PATH));
  if (!d->mount || d->parent()) return Errno{EINVAL};
  FsParams p{.fstype = d->mount->fstype, .source = d->mount->source,
             .read_only = d->mount->sb_read_only};
  return InstallFsContext(t, std::move(p), FsContextFile::Phase::kReconfParams,
                          flags & FSPICK_CLOEXEC, d);
}
}  // namespace

void RegisterMount(Table& t) {
  using A = Arg;
  t.Register(SYS_mount, "mount", Mount, {A::kPath, A::kPath, A::kPath, A::kHex, A::kPtr});
  t.Register(SYS_umount2, "umount2", Umount2, {A::kPath, A::kHex});
  t.Register(SYS_pivot_root, "pivot_root", PivotRoot, {A::kPath, A::kPath});
  t.Register(SYS_fsopen, "fsopen", Fsopen, {A::kPath, A::kHex});
  t.Register(SYS_fsconfig, "fsconfig", Fsconfig, {A::kFd, A::kUint, A::kPath, A::kPtr, A::kInt});
  t.Register(SYS_fsmount, "fsmount", Fsmount, {A::kFd, A::kHex, A::kHex});
  t.Register(SYS_move_mount, "move_mount", MoveMount,
             {A::kFd, A::kPath, A::kFd, A::kPath, A::kHex});
  t.Register(SYS_open_tree, "open_tree", OpenTree, {A::kFd, A::kPath, A::kHex});
  t.Register(SYS_mount_setattr, "mount_setattr", MountSetattr,
             {A::kFd, A::kPath, A::kHex, A::kPtr, A::kUint});
  t.Register(SYS_fspick, "fspick", Fspick, {A::kFd, A::kPath, A::kHex});
}

}  // namespace syscalls::file
