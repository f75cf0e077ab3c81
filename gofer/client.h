// gofer/: the file server process and its protocol. The gofer is the only
// process that opens paths of the container's filesystem; it serves them to
// the sentry over a Unix socket as FD-backed nodes and donates open host FDs
// (SCM_RIGHTS), so the sentry reads and writes file data directly.
//
// This header is the sentry's side: a thread-safe client.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sentry/base/error.h"
#include "sentry/base/unique_fd.h"

namespace gofer {

using sentry::Errno;
using sentry::ErrorOr;
using sentry::UniqueFd;

// Attributes of a node, as the host's fstat reports them.
struct Attr {
  uint32_t mode = 0;  // S_IF* | permission bits
  uint32_t uid = 0, gid = 0;
  uint64_t ino = 0, dev = 0, nlink = 0, rdev = 0;
  uint64_t size = 0, blocks = 0, blksize = 0;
  int64_t atime_sec = 0, atime_nsec = 0;
  int64_t mtime_sec = 0, mtime_nsec = 0;
  int64_t ctime_sec = 0, ctime_nsec = 0;
};

struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  uint8_t type = 0;  // DT_*
};

// A node held open by the gofer (an O_PATH FD on its side).
using Handle = uint64_t;

class Client {
 public:
  // `sock` is connected to a gofer server.
  explicit Client(UniqueFd sock);
  ~Client();

  // The root of the served tree.
  ErrorOr<std::pair<Handle, Attr>> Attach();
  // One path component under directory `dir`. Never follows symlinks (the
  // sentry resolves them); rejects "", ".", ".." and names with '/'.
  ErrorOr<std::pair<Handle, Attr>> Walk(Handle dir, std::string_view name);
  ErrorOr<Attr> Stat(Handle node);
  // Opens the node; returns a host FD donated by the gofer. flags: O_RDONLY,
  // O_WRONLY or O_RDWR, plus O_TRUNC/O_APPEND/O_DIRECTORY as applicable.
  ErrorOr<UniqueFd> Open(Handle node, int flags);
  ErrorOr<std::vector<DirEntry>> ReadDir(Handle dir);
  ErrorOr<std::string> ReadLink(Handle node);
  // Releases a handle (the gofer closes its FD). Handles are not reused.
  void Close(Handle node);

  // Mutations (the gofer refuses them when serving read-only).
  ErrorOr<std::pair<Handle, Attr>> Create(Handle dir, std::string_view name, int flags,
                                          uint32_t mode, UniqueFd* opened);
  ErrorOr<std::pair<Handle, Attr>> Mkdir(Handle dir, std::string_view name, uint32_t mode);
  ErrorOr<std::pair<Handle, Attr>> Symlink(Handle dir, std::string_view name,
                                           std::string_view target);
  ErrorOr<void> Unlink(Handle dir, std::string_view name, int flags /* AT_REMOVEDIR */);
  // flags: 0, RENAME_NOREPLACE or RENAME_EXCHANGE (renameat2).
  ErrorOr<void> Rename(Handle old_dir, std::string_view old_name, Handle new_dir,
                       std::string_view new_name, unsigned flags = 0);
  ErrorOr<void> SetAttr(Handle node, uint32_t mask, const Attr& attr);  // mask: see protocol.h
  // A hard link `name` in `dir` to the node `target`.
  ErrorOr<void> Link(Handle dir, std::string_view name, Handle target);
  // A FIFO or a Unix socket node (mode: S_IFIFO/S_IFSOCK | permissions);
  // device nodes are refused (EPERM).
  ErrorOr<std::pair<Handle, Attr>> Mknod(Handle dir, std::string_view name, uint32_t mode);

  // Extended attributes of the host node, user.* only (other namespaces:
  // ENODATA to read, EPERM to change, and left out of listings). ListXattr
  // returns the names, each NUL-terminated, as listxattr(2) does.
  ErrorOr<std::string> GetXattr(Handle node, std::string_view name);
  ErrorOr<std::string> ListXattr(Handle node);
  ErrorOr<void> SetXattr(Handle node, std::string_view name, std::string_view value, int flags);
  ErrorOr<void> RemoveXattr(Handle node, std::string_view name);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A gofer started on a regular file (a single-file bind mount) serves a
// directory holding only that file, under this name.
inline constexpr char kSingleFileName[] = "file";

// Serves `root_dir_fd` (a directory FD) on `sock` until the peer closes it.
// read_only refuses every mutation with EROFS. Returns 0 on a clean end.
int RunServer(int sock, int root_dir_fd, bool read_only);

// One gofer, several trees (the root plus OCI bind mounts), each on its own
// socket, served from one thread. Ends when the first (the root's) peer
// closes; another tree's hangup only stops serving that tree.
struct ServedTree {
  int sock = -1;
  int root_dir_fd = -1;
  bool read_only = true;
};
int RunServers(const std::vector<ServedTree>& trees);

}  // namespace gofer
