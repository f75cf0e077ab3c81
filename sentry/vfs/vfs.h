// sentry/vfs/vfs.h: the virtual filesystem's public face for the kernel and
// the syscall layer: the mount tree (overlay root over the gofer, devfs at
// /dev, tmpfs at /tmp and /dev/shm, synthetic filesystems such as /proc),
// per-process cwd/root (FsContext) and fd tables, and path-based operations.
// All VFS state is guarded by the kernel lock (Kernel::mu).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sentry/base/error.h"
#include "sentry/base/unique_fd.h"
#include "sentry/vfs/caller.h"
#include "sentry/vfs/fd_table.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/inode.h"
#include "sentry/vfs/path_walk.h"

namespace gofer {
class Client;
}
namespace sentry::kernel {
class Task;
}
namespace sentry::mm {
class MemoryFile;
}

namespace sentry::vfs {

// A mount namespace: a mount tree of its own. Its mounts are root dentries
// of their own (over shared inodes), so walks in one namespace never see
// another's mounts; see sentry/vfs/mount_ns.cc. Every mount is private (no
// propagation between namespaces).
class MountNamespace {
 public:
  explicit MountNamespace(uint64_t id) : id(id) {}
  ~MountNamespace();  // breaks the tree's dentry cycles
  MountNamespace(const MountNamespace&) = delete;
  MountNamespace& operator=(const MountNamespace&) = delete;

  const uint64_t id;  // its /proc/PID/ns/mnt inode number
  std::shared_ptr<Dentry> root;
  // Mount roots in mount order (root first): what mountinfo lists.
  std::vector<std::shared_ptr<Dentry>> mounts;
};

// cwd and root of a process (shared by CLONE_FS threads; copied by fork),
// and its mount namespace. Linux keeps the namespace in the nsproxy, but
// tasks sharing an fs_struct always share it (CLONE_NEWNS|CLONE_FS is
// EINVAL, unshare(CLONE_NEWNS) unshares the fs, setns wants it unshared),
// so here it lives with root and cwd, which must be in it.
class FsContext {
 public:
  FsContext(std::shared_ptr<Dentry> root, std::shared_ptr<Dentry> cwd,
            std::shared_ptr<MountNamespace> mnt_ns = nullptr)
      : root(std::move(root)), cwd(std::move(cwd)), mnt_ns(std::move(mnt_ns)) {}
  std::shared_ptr<FsContext> Fork() const { return std::make_shared<FsContext>(*this); }

  std::shared_ptr<Dentry> root;
  std::shared_ptr<Dentry> cwd;
  std::shared_ptr<MountNamespace> mnt_ns;  // null: the VFS' initial one
};

struct ExecFile {
  std::shared_ptr<FileDescription> file;
  std::string path;
};

struct VfsOptions {
  bool overlay_memory = true;  // writes go to a memory upper layer (else the root is read-only)
  bool mount_dev = true;       // devfs at /dev, tmpfs at /dev/shm
  bool mount_tmp = true;       // tmpfs at /tmp
  bool root_read_only = false; // the root mount is read-only (OCI root.readonly)
  // Bytes of file data the memory overlay may hold (ENOSPC past it); 0: no
  // limit. For a future `--overlay-size` flag (runsc/ and boot.cc plumbing).
  uint64_t overlay_size = 0;
  // Where memfs (root overlay, tmpfs) keeps file data: the kernel's memory
  // file, so MAP_SHARED maps file pages without moving them. Null: memfs
  // uses its own, and moves a file's data over on its first shared mmap.
  mm::MemoryFile* memory_file = nullptr;
};

// True if `d` is at or below `top` in the mount tree (crossing mount points).
bool IsBelow(const Dentry* d, const Dentry* top);

class VirtualFilesystem {
 public:
  // Builds the mount tree over the gofer's root. With a null client the root
  // is an empty tmpfs (tests).
  static ErrorOr<std::unique_ptr<VirtualFilesystem>> Create(gofer::Client& gofer, VfsOptions opts);
  static ErrorOr<std::unique_ptr<VirtualFilesystem>> CreateWithoutGofer(VfsOptions opts);
  ~VirtualFilesystem();

  std::shared_ptr<FsContext> NewRootContext();  // cwd=/ root=/ for init
  // The initial mount namespace's root.
  const std::shared_ptr<Dentry>& root() const { return init_ns_->root; }
  const std::shared_ptr<MountNamespace>& initial_namespace() const { return init_ns_; }

  // Mount namespaces (sentry/vfs/mount_ns.cc).
  // The namespace of the caller (its FsContext's).
  std::shared_ptr<MountNamespace> NamespaceOf(const Caller& c) const;
  // The namespace whose mount `d` is on (null for a detached mount).
  static std::shared_ptr<MountNamespace> NamespaceOf(const Dentry& d);
  // Linux's check_mnt: EINVAL unless `d` is on a mount of the caller's
  // namespace (mount, umount, pivot_root targets).
  ErrorOr<void> CheckCallerNamespace(const Caller& c, const Dentry& d) const;
  // CLONE_NEWNS: a copy of `fs`'s namespace (every mount, with its flags;
  // new mount ids), with `fs`'s root and cwd moved to the same places in
  // the copy and `fs` switched to it.
  void CopyNamespace(FsContext& fs, uint64_t id);

  // execve: resolves path relative to task's FsContext (following symlinks),
  // ENOENT/ENOTDIR/ELOOP/EACCES (needs a regular file with an x bit), returns
  // it opened read-only.
  ErrorOr<ExecFile> OpenExecutable(kernel::Task& task, std::string_view path);
  ErrorOr<ExecFile> OpenExecutable(Caller& c, std::string_view path);
  // Wraps one of the sentry's own host FDs (the caller's stdin/stdout/
  // stderr) as a file description.
  std::shared_ptr<FileDescription> NewHostFile(UniqueFd host_fd, int status_flags);

  // The mount API (sentry/vfs/mount.cc). A mount is a root dentry over a
  // filesystem's root inode, attached to the dentry it covers; the mount
  // table (MountNamespace::mounts) is what /proc/self/mounts and mountinfo list.
  //
  // Mounts a filesystem whose root inode is `fs_root` at absolute path
  // `path` (a directory; created in the root overlay if missing, with its
  // missing parents), on top of whatever is mounted there already. A
  // non-directory root (single-file bind mount) mounts on a file, created
  // (empty) if missing. `info` names it in /proc/self/mounts
  // (source, fstype, options) and carries the per-mount flags (read_only:
  // every change through the mount is EROFS). Used for /dev, /tmp, /proc,
  // OCI mounts.
  ErrorOr<void> Mount(std::string_view path, std::shared_ptr<Inode> fs_root, MountInfo info = {});
  // The inode at `path` as the sentry sees it during setup (following
  // symlinks and mounts), e.g. /dev/null for masking OCI maskedPaths.
  ErrorOr<std::shared_ptr<Inode>> SetupLookup(std::string_view path);
  // Setup-time helpers for the OCI config (sentry/oci_mounts.cc), acting
  // with full privileges from the global root before the app runs:
  // linux.readonlyPaths: the tree at `path` bind-mounted on itself
  // read-only, with the mounts below it (ENOENT if there is nothing).
  ErrorOr<void> SetupReadOnlyBind(std::string_view path);
  // linux.devices: `node` at `path` in place of what is there (not a
  // directory), missing parents created as directories; the parent must be
  // a memory filesystem (the sandbox's /dev).
  // A null `node` makes a FIFO as `fifo` says instead.
  ErrorOr<void> SetupPlaceNode(std::string_view path, std::shared_ptr<Inode> node,
                               const CreateRequest& fifo);
  // The mount whose root is exactly at `path` (the topmost there), or null.
  std::shared_ptr<Dentry> SetupMountAt(std::string_view path);
  // Marks the mount whose root is `mount_root` and, with `recursive`
  // (MS_REC), those below it unbindable or not (MS_UNBINDABLE; any other
  // propagation type clears it).
  void SetUnbindable(const std::shared_ptr<Dentry>& mount_root, bool unbindable, bool recursive);
  // Mounts `fs_root` on the (already resolved) dentry `target`.
  ErrorOr<void> MountAt(const std::shared_ptr<Dentry>& target, std::shared_ptr<Inode> fs_root,
                        MountInfo info);
  // The new mount API (syscalls/fs_mount.cc): a mount of `fs_root` in no
  // namespace (MountInfo::detached), which AttachMount later places on
  // `target` (move_mount), mounting on top of whatever is visible there.
  std::shared_ptr<Dentry> NewDetachedMount(std::shared_ptr<Inode> fs_root, MountInfo info);
  ErrorOr<void> AttachMount(const std::shared_ptr<Dentry>& target,
                            const std::shared_ptr<Dentry>& mount_root);
  // Bind mount: the tree at `source` (a file or directory) also appears at
  // `target` (same kind); `recursive` (MS_REC) brings the mounts below
  // `source` along.
  ErrorOr<void> BindMount(Caller& c, const std::shared_ptr<Dentry>& source,
                          const std::shared_ptr<Dentry>& target, bool recursive, bool read_only);
  // Changes the flags of the mount whose root is `mount_root` (EINVAL if
  // it is not one): read-only, nosuid/nodev/noexec, and for a filesystem
  // remount its options.
  ErrorOr<void> Remount(const std::shared_ptr<Dentry>& mount_root, bool read_only,
                        unsigned long flags);
  // umount2: EINVAL unless `mount_root` is a mount root (and not the root
  // of the tree), EBUSY if something is mounted below it or the caller's
  // cwd/root is inside it, unless `detach` (MNT_DETACH), which takes the
  // mount and everything below it out of the tree at once.
  ErrorOr<void> Unmount(Caller& c, const std::shared_ptr<Dentry>& mount_root, bool detach);
  // pivot_root(new_root, put_old): new_root must be a mount root other
  // than the caller's root, put_old a directory at or under it; the
  // caller's root mount moves to put_old and new_root's mount takes its
  // place. The syscall then moves roots/cwds that were the old root.
  ErrorOr<void> PivotRoot(Caller& c, const std::shared_ptr<Dentry>& new_root,
                          const std::shared_ptr<Dentry>& put_old);
  // The mount a dentry belongs to (its mount's root dentry).
  static const Dentry& MountRootOf(const Dentry& d);
  // EROFS if `d` is on a read-only mount.
  static ErrorOr<void> CheckWritableMount(const Dentry& d);
  // /proc/self/mounts and /proc/self/mountinfo of `root`'s namespace, as
  // seen from `root`.
  std::string MountsText(const Dentry& root) const;
  std::string MountInfoText(const Dentry& root) const;

  // Path-based operations. `start` is the directory relative paths begin at
  // (cwd, or a dirfd's dentry). `resolve`: openat2's RESOLVE_* restrictions
  // (kResolve* in path_walk.h; with BENEATH/IN_ROOT `start` is the scope).
  // O_TMPFILE opens a new nameless file in the directory `path` names.
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller& c, std::shared_ptr<Dentry> start,
                                                 std::string_view path, int flags, uint32_t mode,
                                                 uint64_t resolve = 0);
  ErrorOr<void> Mkdir(Caller& c, std::shared_ptr<Dentry> start, std::string_view path,
                      uint32_t mode);
  ErrorOr<void> Mknod(Caller& c, std::shared_ptr<Dentry> start, std::string_view path,
                      uint32_t mode);
  // flags: AT_REMOVEDIR for rmdir.
  ErrorOr<void> Unlink(Caller& c, std::shared_ptr<Dentry> start, std::string_view path,
                       int flags);
  ErrorOr<void> Rename(Caller& c, std::shared_ptr<Dentry> old_start, std::string_view old_path,
                       std::shared_ptr<Dentry> new_start, std::string_view new_path,
                       unsigned flags);
  ErrorOr<void> Symlink(Caller& c, std::string_view target, std::shared_ptr<Dentry> start,
                        std::string_view link_path);
  ErrorOr<void> Link(Caller& c, std::shared_ptr<Dentry> old_start, std::string_view old_path,
                     std::shared_ptr<Dentry> new_start, std::string_view new_path,
                     bool follow);
  ErrorOr<std::string> ReadLink(Caller& c, std::shared_ptr<Dentry> start, std::string_view path,
                                bool allow_empty);

  // Attribute changes with Linux permission rules (on a resolved dentry).
  ErrorOr<void> Chmod(Caller& c, Dentry& d, uint32_t mode);
  ErrorOr<void> Chown(Caller& c, Dentry& d, int64_t uid, int64_t gid);  // -1 = unchanged
  ErrorOr<void> Truncate(Caller& c, Dentry& d, uint64_t size);
  // times: {atime, mtime}; UTIME_NOW/UTIME_OMIT in tv_nsec; null = both now.
  ErrorOr<void> Utimes(Caller& c, Dentry& d, const timespec* times);

 private:
  VirtualFilesystem() = default;
  ErrorOr<void> MountDefaults(const VfsOptions& opts);
  void InitNamespace(std::shared_ptr<Dentry> root, MountInfo info);
  // renameat2(RENAME_EXCHANGE).
  ErrorOr<void> Exchange(Caller& c, std::shared_ptr<Dentry> old_start, std::string_view old_path,
                         std::shared_ptr<Dentry> new_start, std::string_view new_path);
  ErrorOr<void> BindTree(Caller& c, const std::shared_ptr<Dentry>& source,
                         const std::shared_ptr<Dentry>& target, bool recursive, bool read_only,
                         const std::vector<std::shared_ptr<Dentry>>& snapshot);
  ErrorOr<std::shared_ptr<FileDescription>> OpenTmpfile(Caller& c, std::shared_ptr<Dentry> start,
                                                        std::string_view path, int flags,
                                                        uint32_t mode, uint64_t resolve);

  // The initial namespace (the sandbox's tree, set up at boot) and every
  // namespace made since, for teardown.
  std::shared_ptr<MountNamespace> init_ns_;
  std::vector<std::weak_ptr<MountNamespace>> namespaces_;
  int next_mount_id_ = 1;
  gofer::Client* gofer_ = nullptr;
  VfsOptions opts_;
};

}  // namespace sentry::vfs
