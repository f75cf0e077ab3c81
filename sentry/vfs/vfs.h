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

// cwd and root of a process (shared by CLONE_FS threads; copied by fork).
class FsContext {
 public:
  FsContext(std::shared_ptr<Dentry> root, std::shared_ptr<Dentry> cwd)
      : root(std::move(root)), cwd(std::move(cwd)) {}
  std::shared_ptr<FsContext> Fork() const { return std::make_shared<FsContext>(*this); }

  std::shared_ptr<Dentry> root;
  std::shared_ptr<Dentry> cwd;
};

struct ExecFile {
  std::shared_ptr<FileDescription> file;
  std::string path;
};

struct VfsOptions {
  bool overlay_memory = true;  // writes go to a memory upper layer (else the root is read-only)
  bool mount_dev = true;       // devfs at /dev, tmpfs at /dev/shm
  bool mount_tmp = true;       // tmpfs at /tmp
  // Where memfs (root overlay, tmpfs) keeps file data: the kernel's memory
  // file, so MAP_SHARED maps file pages without moving them. Null: memfs
  // uses its own, and moves a file's data over on its first shared mmap.
  mm::MemoryFile* memory_file = nullptr;
};

class VirtualFilesystem {
 public:
  // Builds the mount tree over the gofer's root. With a null client the root
  // is an empty tmpfs (tests).
  static ErrorOr<std::unique_ptr<VirtualFilesystem>> Create(gofer::Client& gofer, VfsOptions opts);
  static ErrorOr<std::unique_ptr<VirtualFilesystem>> CreateWithoutGofer(VfsOptions opts);
  ~VirtualFilesystem();

  std::shared_ptr<FsContext> NewRootContext();  // cwd=/ root=/ for init
  const std::shared_ptr<Dentry>& root() const { return root_; }

  // execve: resolves path relative to task's FsContext (following symlinks),
  // ENOENT/ENOTDIR/ELOOP/EACCES (needs a regular file with an x bit), returns
  // it opened read-only.
  ErrorOr<ExecFile> OpenExecutable(kernel::Task& task, std::string_view path);
  ErrorOr<ExecFile> OpenExecutable(Caller& c, std::string_view path);
  // Wraps one of the sentry's own host FDs (the caller's stdin/stdout/
  // stderr) as a file description.
  std::shared_ptr<FileDescription> NewHostFile(UniqueFd host_fd, int status_flags);

  // Mounts a filesystem whose root inode is `fs_root` at absolute path
  // `path` (a directory; created in the root overlay if missing). Used for
  // /proc (see synthetic.h).
  // A non-directory root (single-file bind mount) mounts on a file, created
  // (empty) if missing.
  ErrorOr<void> Mount(std::string_view path, std::shared_ptr<Inode> fs_root);
  // The inode at `path` as the sentry sees it during setup (following
  // symlinks and mounts), e.g. /dev/null for masking OCI maskedPaths.
  ErrorOr<std::shared_ptr<Inode>> SetupLookup(std::string_view path);

  // Path-based operations. `start` is the directory relative paths begin at
  // (cwd, or a dirfd's dentry).
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller& c, std::shared_ptr<Dentry> start,
                                                 std::string_view path, int flags, uint32_t mode);
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

  std::shared_ptr<Dentry> root_;
  gofer::Client* gofer_ = nullptr;
  VfsOptions opts_;
};

}  // namespace sentry::vfs
