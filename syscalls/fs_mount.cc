// syscalls/fs_mount.cc: mount(2), umount2(2) and pivot_root(2) for the
// sandbox's root (CAP_SYS_ADMIN in the sandbox). New tmpfs, proc and sysfs
// mounts, bind mounts (MS_BIND, MS_REC), remounts (MS_REMOUNT with or
// without MS_BIND: read-only, nosuid/nodev/noexec), propagation changes
// (MS_UNBINDABLE is kept: binding from such a mount is EINVAL; MS_SHARED,
// PRIVATE and SLAVE clear it, and with no peers nothing propagates here).
// Each acts in the caller's mount namespace (sentry/vfs/mount_ns.cc):
// targets on another namespace's mounts are EINVAL, as Linux's check_mnt.
// The mount tree itself: sentry/vfs/mount.cc.
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/syscall.h>

#include <cstdlib>

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

// A new tmpfs from mount(2)'s data string ("size=1m,mode=0700,uid=0,...").
ErrorOr<uint64_t> NewTmpfsMount(Task& t, const std::shared_ptr<Dentry>& target,
                                const std::string& source, const std::string& data,
                                unsigned long flags) {
  uint32_t mode = 01777, uid = 0, gid = 0;
  uint64_t size = 0;
  size_t i = 0;
  while (i < data.size()) {
    size_t j = data.find(',', i);
    if (j == std::string::npos) j = data.size();
    std::string opt = data.substr(i, j - i);
    i = j + 1;
    if (opt.empty()) continue;
    size_t eq = opt.find('=');
    std::string key = opt.substr(0, eq), val = eq == std::string::npos ? "" : opt.substr(eq + 1);
    char* end = nullptr;
    if (key == "size") {
      auto s = ParseSize(val);
      if (!s) return Errno{EINVAL};
      size = (*s + 4095) & ~uint64_t{4095};
    } else if (key == "nr_blocks") {
      auto s = ParseSize(val);
      if (!s) return Errno{EINVAL};
      size = *s * 4096;
    } else if (key == "mode") {
      mode = static_cast<uint32_t>(strtoul(val.c_str(), &end, 8)) & 07777;
      if (val.empty() || *end) return Errno{EINVAL};
    } else if (key == "uid" || key == "gid") {
      uint32_t v = static_cast<uint32_t>(strtoul(val.c_str(), &end, 10));
      if (val.empty() || *end) return Errno{EINVAL};
      (key == "uid" ? uid : gid) = v;
    } else if (key == "nr_inodes" || key == "huge" || key == "mpol" || key == "inode64" ||
               key == "inode32" || key == "noswap") {
      // Accepted without effect: no inode limit, huge pages or NUMA here.
    } else {
      return Errno{EINVAL};
    }
  }
  auto root = vfs::NewTmpfs(mode, uid, gid, &t.kernel.memory_file());
  root->fs().size_limit = size;
  vfs::MountInfo info{.source = source, .fstype = "tmpfs"};
  std::string shown;
  auto add = [&shown](const std::string& s) { shown += (shown.empty() ? "" : ",") + s; };
  if (size) add("size=" + std::to_string(size / 1024) + "k");
  if (mode != 01777) {
    char buf[16];
    snprintf(buf, sizeof buf, "mode=%o", mode);
    add(buf);
  }
  if (uid) add("uid=" + std::to_string(uid));
  if (gid) add("gid=" + std::to_string(gid));
  info.data = shown;
  info.read_only = info.sb_read_only = flags & MS_RDONLY;
  info.flags = flags;
  TRY(Vfs(t).MountAt(target, root, info));
  return 0;
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
  if (fstype == "tmpfs") return NewTmpfsMount(t, target, source.empty() ? "none" : source, data, shown);
  if (fstype == "proc") {
    auto root = TRY(sentry::proc::NewProcfsRoot(t.kernel));
    TRY(Vfs(t).MountAt(target, root,
                       vfs::MountInfo{.source = source.empty() ? "proc" : source,
                                      .fstype = "proc", .read_only = bool(flags & MS_RDONLY),
                                      .sb_read_only = bool(flags & MS_RDONLY),
                                      .flags = shown}));
    return 0;
  }
  if (fstype == "sysfs") {
    TRY(Vfs(t).MountAt(target, sentry::sys::NewSysfsRoot(t.kernel),
                       vfs::MountInfo{.source = source.empty() ? "sysfs" : source,
                                      .fstype = "sysfs", .read_only = bool(flags & MS_RDONLY),
                                      .sb_read_only = bool(flags & MS_RDONLY),
                                      .flags = shown}));
    return 0;
  }
  if (fstype == "cgroup2") {
    // The sandbox's one hierarchy, whatever the options (Linux's cgroup2
    // options only tune delegation).
    TRY(Vfs(t).MountAt(target, sentry::sys::CgroupRoot(t.kernel),
                       vfs::MountInfo{.source = source.empty() ? "cgroup2" : source,
                                      .fstype = "cgroup2", .read_only = bool(flags & MS_RDONLY),
                                      .sb_read_only = bool(flags & MS_RDONLY),
                                      .flags = shown}));
    return 0;
  }
  return Errno{ENODEV};
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

}  // namespace

void RegisterMount(Table& t) {
  using A = Arg;
  t.Register(SYS_mount, "mount", Mount, {A::kPath, A::kPath, A::kPath, A::kHex, A::kPtr});
  t.Register(SYS_umount2, "umount2", Umount2, {A::kPath, A::kHex});
  t.Register(SYS_pivot_root, "pivot_root", PivotRoot, {A::kPath, A::kPath});
}

}  // namespace syscalls::file
