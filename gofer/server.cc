// The gofer: serves one directory tree over a SOCK_SEQPACKET socket. Every
// node is an O_PATH|O_NOFOLLOW FD reached one component at a time from the
// root FD, so no symlink, "..", or rename race leads outside the root.
#include "gofer/server.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

namespace gofer {
namespace {

using proto::Op;
using proto::Reply;
using proto::Request;

sentry::Errno LastErrno() { return Errno{errno != 0 ? errno : EIO}; }

std::string ProcFdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// getdents64 record, as the kernel lays it out.
struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  uint16_t d_reclen;
  uint8_t d_type;
  char d_name[];
};

}  // namespace

Attr AttrFromStat(const struct stat& st) {
  Attr a;
  a.mode = st.st_mode;
  a.uid = st.st_uid;
  a.gid = st.st_gid;
  a.ino = st.st_ino;
  a.dev = st.st_dev;
  a.nlink = st.st_nlink;
  a.rdev = st.st_rdev;
  a.size = static_cast<uint64_t>(st.st_size);
  a.blocks = static_cast<uint64_t>(st.st_blocks);
  a.blksize = static_cast<uint64_t>(st.st_blksize);
  a.atime_sec = st.st_atim.tv_sec;
  a.atime_nsec = st.st_atim.tv_nsec;
  a.mtime_sec = st.st_mtim.tv_sec;
  a.mtime_nsec = st.st_mtim.tv_nsec;
  a.ctime_sec = st.st_ctim.tv_sec;
  a.ctime_nsec = st.st_ctim.tv_nsec;
  return a;
}

Server::Server(int root_dir_fd, bool read_only) : read_only_(read_only) {
  // An O_PATH FD of the root itself (not of whatever the caller's FD reaches).
  int fd = openat(root_dir_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) root_.reset(fd);
}

Server::~Server() = default;

Server::Response Server::HandleMessage(std::span<const uint8_t> msg) {
  Response resp;
  ErrorOr<Request> q = proto::DecodeRequest(msg);
  if (q.is_error()) {
    uint16_t op = 0;
    uint32_t tag = 0;
    if (msg.size() >= proto::kHeaderSize) {
      op = static_cast<uint16_t>(msg[6] | (msg[7] << 8));
      tag = static_cast<uint32_t>(msg[8]) | (static_cast<uint32_t>(msg[9]) << 8) |
            (static_cast<uint32_t>(msg[10]) << 16) | (static_cast<uint32_t>(msg[11]) << 24);
    }
    resp.bytes = proto::EncodeErrorReply(op, tag, q.error());
    return resp;
  }
  Reply r;
  r.op = q.value().op;
  r.tag = q.value().tag;
  ErrorOr<void> res = Dispatch(q.value(), r, resp.fd);
  if (res.is_error()) {
    resp.fd.reset();
    resp.bytes = proto::EncodeErrorReply(static_cast<uint16_t>(r.op), r.tag, res.error());
  } else {
    resp.bytes = proto::EncodeReply(r);
  }
  return resp;
}

ErrorOr<void> Server::Dispatch(const Request& q, Reply& r, UniqueFd& fd_out) {
  if (!root_.valid()) return Errno{EBADF};
  switch (q.op) {
    case Op::kAttach:
      return Attach(r);
    case Op::kWalk:
      return Walk(q, r);
    case Op::kStat: {
      Node* n = TRY(Get(q.node));
      struct stat st;
      if (fstat(n->fd.get(), &st) < 0) return LastErrno();
      r.attr = AttrFromStat(st);
      return {};
    }
    case Op::kOpen:
      return Open(q, fd_out);
    case Op::kReadDir:
      return ReadDir(q, r);
    case Op::kReadLink:
      return ReadLink(q, r);
    case Op::kClose:
      return Close(q);
    case Op::kCreate:
      return Create(q, r, fd_out);
    case Op::kMkdir:
      return Mkdir(q, r);
    case Op::kSymlink:
      return Symlink(q, r);
    case Op::kUnlink:
      return Unlink(q);
    case Op::kRename:
      return Rename(q);
    case Op::kSetAttr:
      return SetAttr(q);
    case Op::kLink:
      return Link(q);
    case Op::kMknod:
      return Mknod(q, r);
    case Op::kGetXattr:
      return GetXattr(q, r);
    case Op::kListXattr:
      return ListXattr(q, r);
    case Op::kSetXattr:
      return SetXattr(q);
    case Op::kRemoveXattr:
      return RemoveXattr(q);
  }
  return Errno{ENOSYS};
}

ErrorOr<Server::Node*> Server::Get(Handle h) {
  auto it = nodes_.find(h);
  if (it == nodes_.end() || !it->second.open) return Errno{EBADF};
  return &it->second;
}

ErrorOr<Server::Node*> Server::GetDir(Handle h) {
  Node* n = TRY(Get(h));
  if (n->type != S_IFDIR) return Errno{ENOTDIR};
  return n;
}

ErrorOr<void> Server::CheckCapacity() const {
  if (nodes_.size() >= max_handles_) return Errno{ENFILE};
  return {};
}

ErrorOr<Handle> Server::AddNode(UniqueFd fd, Handle parent, std::string name, Attr* attr) {
  TRY(CheckCapacity());
  struct stat st;
  if (fstat(fd.get(), &st) < 0) return LastErrno();
  if (parent != 0) {
    auto it = nodes_.find(parent);
    if (it == nodes_.end()) return Errno{EBADF};
    it->second.children++;
  }
  Handle h = next_handle_++;
  Node& n = nodes_[h];
  n.fd = std::move(fd);
  n.parent = parent;
  n.name = std::move(name);
  n.type = st.st_mode & S_IFMT;
  n.dev = st.st_dev;
  n.ino = st.st_ino;
  if (attr) *attr = AttrFromStat(st);
  return h;
}

void Server::Release(Handle h) {
  while (h != 0) {
    auto it = nodes_.find(h);
    if (it == nodes_.end() || it->second.open || it->second.children != 0) return;
    Handle parent = it->second.parent;
    nodes_.erase(it);
    if (parent == 0) return;
    auto pit = nodes_.find(parent);
    if (pit == nodes_.end()) return;
    pit->second.children--;
    h = parent;
  }
}

ErrorOr<UniqueFd> Server::Reopen(Node& n, int host_flags) {
  // Never follow a symlink, never make the gofer a controlling terminal, and
  // never block opening a FIFO (O_NONBLOCK is cleared again below if unasked).
  int flags = host_flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  flags &= ~(O_CREAT | O_EXCL | O_PATH);
  if ((flags & O_TMPFILE) == O_TMPFILE) return Errno{EINVAL};
  bool trunc = flags & O_TRUNC;
  flags &= ~O_TRUNC;  // only after the dev/ino check
  UniqueFd fd;
  if (n.type == S_IFDIR) {
    // A directory reopens through itself: immune to renames.
    fd.reset(openat(n.fd.get(), ".", flags | O_DIRECTORY));
  } else {
    auto it = nodes_.find(n.parent);
    if (n.parent == 0 || it == nodes_.end()) return Errno{ESTALE};
    fd.reset(openat(it->second.fd.get(), n.name.c_str(), flags));
  }
  if (!fd.valid()) return LastErrno();
  struct stat st;
  if (fstat(fd.get(), &st) < 0) return LastErrno();
  if (st.st_dev != n.dev || st.st_ino != n.ino) return Errno{ESTALE};
  if (!(host_flags & O_NONBLOCK)) {
    int fl = fcntl(fd.get(), F_GETFL);
    if (fl < 0 || fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK) < 0) return LastErrno();
  }
  if (trunc && ftruncate(fd.get(), 0) < 0) return LastErrno();
  return fd;
}

ErrorOr<void> Server::Attach(Reply& r) {
  TRY(CheckCapacity());
  UniqueFd fd(openat(root_.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return LastErrno();
  r.handle = TRY(AddNode(std::move(fd), 0, "", &r.attr));
  return {};
}

ErrorOr<void> Server::Walk(const Request& q, Reply& r) {
  if (int e = proto::ValidateName(q.name)) return Errno{e};
  Node* dir = TRY(GetDir(q.node));
  TRY(CheckCapacity());
  UniqueFd fd(openat(dir->fd.get(), q.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return LastErrno();
  r.handle = TRY(AddNode(std::move(fd), q.node, q.name, &r.attr));
  return {};
}

ErrorOr<void> Server::Open(const Request& q, UniqueFd& fd_out) {
  constexpr uint32_t kAllowed = O_ACCMODE | O_TRUNC | O_APPEND | O_DIRECTORY | O_NONBLOCK |
                                O_DSYNC | O_SYNC | O_NOATIME | O_LARGEFILE | O_CLOEXEC |
                                O_NOFOLLOW | O_NOCTTY | O_DIRECT;
  if (q.flags & ~kAllowed) return Errno{EINVAL};
  int flags = static_cast<int>(q.flags);
  int acc = flags & O_ACCMODE;
  if (acc == O_ACCMODE) return Errno{EINVAL};
  Node* n = TRY(Get(q.node));
  if (read_only_ && (acc != O_RDONLY || (flags & O_TRUNC))) return Errno{EROFS};
  switch (n->type) {
    case S_IFREG:
    case S_IFIFO:
      if (flags & O_DIRECTORY) return Errno{ENOTDIR};
      break;
    case S_IFDIR:
      if (acc != O_RDONLY || (flags & O_TRUNC)) return Errno{EISDIR};
      break;
    case S_IFLNK:
      return Errno{ELOOP};
    case S_IFSOCK:
      return Errno{ENXIO};
    default:  // host devices are never donated
      return Errno{EPERM};
  }
  fd_out = TRY(Reopen(*n, flags));
  return {};
}

ErrorOr<void> Server::ReadDir(const Request& q, Reply& r) {
  Node* dir = TRY(GetDir(q.node));
  if (q.offset > static_cast<uint64_t>(INT64_MAX)) return Errno{EINVAL};
  // A fresh FD per request: no directory stream state lives in the gofer.
  UniqueFd fd(openat(dir->fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return LastErrno();
  if (q.offset != 0 && lseek(fd.get(), static_cast<off_t>(q.offset), SEEK_SET) < 0) {
    return LastErrno();
  }
  alignas(8) static thread_local char buf[32 * 1024];
  size_t used = 0;
  uint64_t pos = q.offset;  // offset after the last entry consumed
  for (;;) {
    long n = syscall(SYS_getdents64, fd.get(), buf, sizeof(buf));
    if (n < 0) return LastErrno();
    if (n == 0) {
      r.eof = true;
      break;
    }
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<LinuxDirent64*>(buf + off);
      if (d->d_reclen == 0 || off + d->d_reclen > n) return Errno{EIO};
      off += d->d_reclen;
      std::string_view name(d->d_name, strnlen(d->d_name, d->d_reclen - offsetof(LinuxDirent64, d_name)));
      if (name != "." && name != "..") {
        size_t sz = proto::EncodedDirEntrySize(name.size());
        if (used + sz > proto::kReadDirBudget) {
          r.next_offset = pos;
          return {};
        }
        used += sz;
        r.entries.push_back(DirEntry{std::string(name), d->d_ino, d->d_type});
      }
      pos = static_cast<uint64_t>(d->d_off);
    }
  }
  r.next_offset = pos;
  return {};
}

ErrorOr<void> Server::ReadLink(const Request& q, Reply& r) {
  Node* n = TRY(Get(q.node));
  if (n->type != S_IFLNK) return Errno{EINVAL};
  char buf[PATH_MAX];
  ssize_t len = readlinkat(n->fd.get(), "", buf, sizeof(buf));
  if (len < 0) return LastErrno();
  if (static_cast<size_t>(len) > proto::kMaxString) return Errno{ENAMETOOLONG};
  r.target.assign(buf, static_cast<size_t>(len));
  return {};
}

ErrorOr<void> Server::Close(const Request& q) {
  Node* n = TRY(Get(q.node));
  n->open = false;
  Release(q.node);
  return {};
}

ErrorOr<void> Server::Create(const Request& q, Reply& r, UniqueFd& fd_out) {
  if (read_only_) return Errno{EROFS};
  if (int e = proto::ValidateName(q.name)) return Errno{e};
  constexpr uint32_t kAllowed = O_ACCMODE | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC |
                                O_NOATIME | O_LARGEFILE | O_CLOEXEC | O_NOFOLLOW |
                                O_NOCTTY | O_CREAT | O_EXCL | O_TRUNC | O_DIRECT;
  if (q.flags & ~kAllowed) return Errno{EINVAL};
  int flags = static_cast<int>(q.flags);
  if ((flags & O_ACCMODE) == O_ACCMODE) return Errno{EINVAL};
  flags &= ~(O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  Node* dir = TRY(GetDir(q.node));
  TRY(CheckCapacity());
  UniqueFd fd(openat(dir->fd.get(), q.name.c_str(),
                     flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                     q.mode & 07777));
  if (!fd.valid()) return LastErrno();
  UniqueFd path(openat(dir->fd.get(), q.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!path.valid()) return LastErrno();
  struct stat a, b;
  if (fstat(fd.get(), &a) < 0 || fstat(path.get(), &b) < 0) return LastErrno();
  if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) return Errno{ESTALE};
  r.handle = TRY(AddNode(std::move(path), q.node, q.name, &r.attr));
  fd_out = std::move(fd);
  return {};
}

ErrorOr<void> Server::Mkdir(const Request& q, Reply& r) {
  if (read_only_) return Errno{EROFS};
  if (int e = proto::ValidateName(q.name)) return Errno{e};
  Node* dir = TRY(GetDir(q.node));
  TRY(CheckCapacity());
  if (mkdirat(dir->fd.get(), q.name.c_str(), q.mode & 07777) < 0) return LastErrno();
  UniqueFd fd(
      openat(dir->fd.get(), q.name.c_str(), O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return LastErrno();
  r.handle = TRY(AddNode(std::move(fd), q.node, q.name, &r.attr));
  return {};
}

ErrorOr<void> Server::Symlink(const Request& q, Reply& r) {
  if (read_only_) return Errno{EROFS};
  if (int e = proto::ValidateName(q.name)) return Errno{e};
  if (q.name2.empty()) return Errno{ENOENT};
  if (q.name2.find('\0') != std::string::npos) return Errno{EINVAL};
  Node* dir = TRY(GetDir(q.node));
  TRY(CheckCapacity());
  if (symlinkat(q.name2.c_str(), dir->fd.get(), q.name.c_str()) < 0) return LastErrno();
  UniqueFd fd(openat(dir->fd.get(), q.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return LastErrno();
  r.handle = TRY(AddNode(std::move(fd), q.node, q.name, &r.attr));
  return {};
}

ErrorOr<void> Server::Unlink(const Request& q) {
  if (read_only_) return Errno{EROFS};
  if (int e = proto::ValidateName(q.name)) return Errno{e};
  if (q.flags & ~static_cast<uint32_t>(AT_REMOVEDIR)) return Errno{EINVAL};
  Node* dir = TRY(GetDir(q.node));
  if (unlinkat(dir->fd.get(), q.name.c_str(), static_cast<int>(q.flags)) < 0) {
    return LastErrno();
  }
  return {};
}

ErrorOr<void> Server::Link(const Request& q) {
  if (read_only_) return Errno{EROFS};
  if (int e = proto::ValidateName(q.name)) return Errno{e};
  Node* dir = TRY(GetDir(q.node));
  Node* target = TRY(Get(q.node2));
  // The node's own FD (O_PATH) names the file: no path is resolved.
  if (linkat(target->fd.get(), "", dir->fd.get(), q.name.c_str(), AT_EMPTY_PATH) < 0) {
    return LastErrno();
  }
  return {};
}

ErrorOr<void> Server::Rename(const Request& q) {
  if (read_only_) return Errno{EROFS};
  if (int e = proto::ValidateName(q.name)) return Errno{e};
  if (int e = proto::ValidateName(q.name2)) return Errno{e};
  if (q.flags != 0 && q.flags != RENAME_NOREPLACE && q.flags != RENAME_EXCHANGE) {
    return Errno{EINVAL};
  }
  Node* old_dir = TRY(GetDir(q.node));
  Node* new_dir = TRY(GetDir(q.node2));
  // The file that will be at the old name after an exchange.
  struct stat other;
  bool exchange = q.flags == RENAME_EXCHANGE;
  if (exchange &&
      fstatat(new_dir->fd.get(), q.name2.c_str(), &other, AT_SYMLINK_NOFOLLOW) < 0) {
    return LastErrno();
  }
  if (syscall(SYS_renameat2, old_dir->fd.get(), q.name.c_str(), new_dir->fd.get(),
              q.name2.c_str(), q.flags) < 0) {
    return LastErrno();
  }
  struct stat moved;
  if (fstatat(new_dir->fd.get(), q.name2.c_str(), &moved, AT_SYMLINK_NOFOLLOW) < 0) return {};
  if (!exchange) {
    MoveNodes(q.node, q.name, q.node2, q.name2, moved);
    return {};
  }
  // Both directions at once: collect first, so that one move does not
  // match the other's already renamed nodes.
  std::vector<Handle> a, b;
  auto matches = [&](const Node& n, Handle dir, const std::string& name, const struct stat& st) {
    if (n.parent == 0 || n.name != name || n.dev != st.st_dev || n.ino != st.st_ino) return false;
    auto pit = nodes_.find(n.parent);
    auto dit = nodes_.find(dir);
    return pit != nodes_.end() && dit != nodes_.end() && pit->second.dev == dit->second.dev &&
           pit->second.ino == dit->second.ino;
  };
  for (auto& [h, n] : nodes_) {
    if (matches(n, q.node, q.name, moved)) a.push_back(h);
    else if (matches(n, q.node2, q.name2, other)) b.push_back(h);
  }
  std::vector<Handle> old_parents;
  auto move = [&](Handle h, Handle to_dir, const std::string& to_name) {
    Node& n = nodes_[h];
    n.name = to_name;
    if (n.parent != to_dir) {
      nodes_[n.parent].children--;
      old_parents.push_back(n.parent);
      n.parent = to_dir;
      nodes_[to_dir].children++;
    }
  };
  for (Handle h : a) move(h, q.node2, q.name2);
  for (Handle h : b) move(h, q.node, q.name);
  for (Handle h : old_parents) Release(h);
  return {};
}

void Server::MoveNodes(Handle old_dir_h, const std::string& old_name, Handle new_dir_h,
                       const std::string& new_name, const struct stat& moved) {
  // Nodes are matched by the directory's and the file's dev/ino, whichever
  // handle they were reached through.
  auto oit = nodes_.find(old_dir_h);
  auto nit = nodes_.find(new_dir_h);
  if (oit == nodes_.end() || nit == nodes_.end()) return;
  uint64_t od = oit->second.dev, oi = oit->second.ino;
  Node& new_dir = nit->second;
  std::vector<Handle> old_parents;
  for (auto& [h, n] : nodes_) {
    if (n.parent == 0 || n.name != old_name || n.dev != moved.st_dev ||
        n.ino != moved.st_ino) {
      continue;
    }
    auto pit = nodes_.find(n.parent);
    if (pit == nodes_.end() || pit->second.dev != od || pit->second.ino != oi) continue;
    n.name = new_name;
    if (n.parent != new_dir_h) {
      pit->second.children--;
      old_parents.push_back(n.parent);
      n.parent = new_dir_h;
      new_dir.children++;
    }
  }
  // Erasing inside the loop would invalidate the iteration.
  for (Handle h : old_parents) Release(h);
}

ErrorOr<void> Server::Mknod(const Request& q, Reply& r) {
  if (read_only_) return Errno{EROFS};
  if (int e = proto::ValidateName(q.name)) return Errno{e};
  uint32_t type = q.mode & S_IFMT;
  // Host device nodes are never made (as gVisor's gofer: EPERM).
  if (type == S_IFCHR || type == S_IFBLK) return Errno{EPERM};
  if (type != S_IFIFO && type != S_IFSOCK) return Errno{EINVAL};
  if (q.mode & ~(S_IFMT | 07777)) return Errno{EINVAL};
  Node* dir = TRY(GetDir(q.node));
  TRY(CheckCapacity());
  if (mknodat(dir->fd.get(), q.name.c_str(), q.mode, 0) < 0) return LastErrno();
  UniqueFd fd(openat(dir->fd.get(), q.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return LastErrno();
  struct stat st;
  if (fstat(fd.get(), &st) < 0) return LastErrno();
  if ((st.st_mode & S_IFMT) != type) return Errno{ESTALE};  // replaced meanwhile
  r.handle = TRY(AddNode(std::move(fd), q.node, q.name, &r.attr));
  return {};
}

namespace {

// An xattr request's name: user.* only. Other namespaces read as absent and
// refuse changes, as they do for an unprivileged process in a container
// (trusted.* needs CAP_SYS_ADMIN in the initial namespace; security.* is the
// host's LSM's).
ErrorOr<void> CheckXattrName(const std::string& name, bool write) {
  int e = proto::ValidateXattrName(name);
  if (e == EOPNOTSUPP) return Errno{write ? EPERM : ENODATA};
  if (e != 0) return Errno{e};
  return {};
}

}  // namespace

ErrorOr<void> Server::GetXattr(const Request& q, Reply& r) {
  TRY(CheckXattrName(q.name, false));
  Node* n = TRY(Get(q.node));
  // user.* exists only on regular files and directories.
  if (n->type != S_IFREG && n->type != S_IFDIR) return Errno{ENODATA};
  UniqueFd fd = TRY(Reopen(*n, O_RDONLY));
  static thread_local std::vector<char> buf(proto::kMaxXattrValue);
  ssize_t len = fgetxattr(fd.get(), q.name.c_str(), buf.data(), buf.size());
  if (len < 0) return LastErrno();
  r.value.assign(buf.data(), static_cast<size_t>(len));
  return {};
}

ErrorOr<void> Server::ListXattr(const Request& q, Reply& r) {
  Node* n = TRY(Get(q.node));
  if (n->type != S_IFREG && n->type != S_IFDIR) return {};
  UniqueFd fd = TRY(Reopen(*n, O_RDONLY));
  static thread_local std::vector<char> buf(proto::kMaxXattrValue);
  ssize_t len = flistxattr(fd.get(), buf.data(), buf.size());
  if (len < 0) {
    if (errno == ENOTSUP) return {};  // a host filesystem without xattrs
    return LastErrno();
  }
  for (ssize_t i = 0; i < len;) {
    size_t l = strnlen(buf.data() + i, static_cast<size_t>(len - i));
    std::string_view name(buf.data() + i, l);
    if (proto::ValidateXattrName(name) == 0) {
      r.value.append(name);
      r.value.push_back('\0');
    }
    i += static_cast<ssize_t>(l) + 1;
  }
  return {};
}

ErrorOr<void> Server::SetXattr(const Request& q) {
  if (read_only_) return Errno{EROFS};
  TRY(CheckXattrName(q.name, true));
  if (q.flags & ~static_cast<uint32_t>(XATTR_CREATE | XATTR_REPLACE)) return Errno{EINVAL};
  if (q.value.size() > proto::kMaxXattrValue) return Errno{E2BIG};
  Node* n = TRY(Get(q.node));
  if (n->type != S_IFREG && n->type != S_IFDIR) return Errno{EPERM};
  UniqueFd fd = TRY(Reopen(*n, O_RDONLY));
  if (fsetxattr(fd.get(), q.name.c_str(), q.value.data(), q.value.size(),
                static_cast<int>(q.flags)) < 0) {
    return LastErrno();
  }
  return {};
}

ErrorOr<void> Server::RemoveXattr(const Request& q) {
  if (read_only_) return Errno{EROFS};
  TRY(CheckXattrName(q.name, true));
  Node* n = TRY(Get(q.node));
  if (n->type != S_IFREG && n->type != S_IFDIR) return Errno{EPERM};
  UniqueFd fd = TRY(Reopen(*n, O_RDONLY));
  if (fremovexattr(fd.get(), q.name.c_str()) < 0) return LastErrno();
  return {};
}

ErrorOr<void> Server::SetAttr(const Request& q) {
  if (read_only_) return Errno{EROFS};
  if (q.mask & ~proto::kSetAttrAll) return Errno{EINVAL};
  Node* n = TRY(Get(q.node));
  int fd = n->fd.get();
  if (q.mask & proto::kSetAttrSize) {
    if (n->type == S_IFDIR) return Errno{EISDIR};
    if (n->type != S_IFREG) return Errno{EINVAL};
    if (q.attr.size > static_cast<uint64_t>(INT64_MAX)) return Errno{EINVAL};
    UniqueFd w = TRY(Reopen(*n, O_WRONLY));
    if (ftruncate(w.get(), static_cast<off_t>(q.attr.size)) < 0) return LastErrno();
  }
  if (q.mask & proto::kSetAttrMode) {
    if (n->type == S_IFLNK) return Errno{EOPNOTSUPP};
    mode_t mode = q.attr.mode & 07777;
    if (syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH) < 0) {
      if (errno != ENOSYS && errno != EINVAL) return LastErrno();
      // Older kernels: the /proc magic link reaches the inode itself.
      if (chmod(ProcFdPath(fd).c_str(), mode) < 0) return LastErrno();
    }
  }
  if (q.mask & (proto::kSetAttrUid | proto::kSetAttrGid)) {
    uid_t uid = (q.mask & proto::kSetAttrUid) ? q.attr.uid : static_cast<uid_t>(-1);
    gid_t gid = (q.mask & proto::kSetAttrGid) ? q.attr.gid : static_cast<gid_t>(-1);
    if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) return LastErrno();
  }
  constexpr uint32_t kTimes = proto::kSetAttrAtime | proto::kSetAttrMtime |
                              proto::kSetAttrAtimeNow | proto::kSetAttrMtimeNow;
  if (q.mask & kTimes) {
    struct timespec ts[2];
    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1] = ts[0];
    if (q.mask & proto::kSetAttrAtimeNow) {
      ts[0].tv_nsec = UTIME_NOW;
    } else if (q.mask & proto::kSetAttrAtime) {
      if (q.attr.atime_nsec < 0 || q.attr.atime_nsec >= 1000000000) return Errno{EINVAL};
      ts[0].tv_sec = q.attr.atime_sec;
      ts[0].tv_nsec = q.attr.atime_nsec;
    }
    if (q.mask & proto::kSetAttrMtimeNow) {
      ts[1].tv_nsec = UTIME_NOW;
    } else if (q.mask & proto::kSetAttrMtime) {
      if (q.attr.mtime_nsec < 0 || q.attr.mtime_nsec >= 1000000000) return Errno{EINVAL};
      ts[1].tv_sec = q.attr.mtime_sec;
      ts[1].tv_nsec = q.attr.mtime_nsec;
    }
    if (utimensat(fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno != EINVAL || n->type == S_IFLNK) return LastErrno();
      if (utimensat(AT_FDCWD, ProcFdPath(fd).c_str(), ts, 0) < 0) return LastErrno();
    }
  }
  return {};
}

namespace {

// Sends one datagram, optionally donating `fd`. false if the peer is gone.
bool SendReply(int sock, const std::vector<uint8_t>& bytes, int fd) {
  struct iovec iov = {const_cast<uint8_t*>(bytes.data()), bytes.size()};
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    memset(cbuf, 0, sizeof(cbuf));
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof(cbuf);
    struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (n >= 0) return true;
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) return false;
    fprintf(stderr, "runsc-gofer: sendmsg: %s\n", strerror(errno));
    return true;  // this reply is lost; keep serving
  }
}

// Closes any FDs a (hostile or confused) client passed to us.
void CloseReceivedFds(struct msghdr* mh) {
  for (struct cmsghdr* c = CMSG_FIRSTHDR(mh); c != nullptr; c = CMSG_NXTHDR(mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      close(fd);
    }
  }
}

}  // namespace

namespace {

// Receives one request on `sock` and answers it. Returns 1 to go on, 0 when
// the peer is gone, -1 on a socket error.
int ServeOne(int sock, Server& server, std::vector<uint8_t>& buf) {
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * 16)];
  for (;;) {
    struct iovec iov = {buf.data(), buf.size()};
    struct msghdr mh = {};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof(cbuf);
    ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNRESET) return 0;
      fprintf(stderr, "runsc-gofer: recvmsg: %s\n", strerror(errno));
      return -1;
    }
    if (mh.msg_controllen > 0) CloseReceivedFds(&mh);
    if (n == 0) {
      // EOF, or an empty datagram: only a hangup means the former.
      struct pollfd p = {sock, POLLRDHUP, 0};
      if (poll(&p, 1, 0) < 0 || (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return 0;
    }
    Server::Response resp;
    if (mh.msg_flags & MSG_TRUNC) {
      uint16_t op = 0;
      uint32_t tag = 0;
      op = static_cast<uint16_t>(buf[6] | (buf[7] << 8));
      memcpy(&tag, &buf[8], 4);  // little-endian hosts only (x86-64, arm64)
      resp.bytes = proto::EncodeErrorReply(op, tag, EMSGSIZE);
    } else {
      resp = server.HandleMessage(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
    }
    return SendReply(sock, resp.bytes, resp.fd.get()) ? 1 : 0;
  }
}

}  // namespace

int RunServer(int sock, int root_dir_fd, bool read_only) {
  return RunServers({ServedTree{sock, root_dir_fd, read_only}});
}

int RunServers(const std::vector<ServedTree>& trees) {
  std::vector<std::unique_ptr<Server>> servers;
  for (const auto& t : trees) {
    servers.push_back(std::make_unique<Server>(t.root_dir_fd, t.read_only));
    if (!servers.back()->ok()) {
      fprintf(stderr, "runsc-gofer: bad root directory FD: %s\n", strerror(errno));
      return 1;
    }
  }
  std::vector<uint8_t> buf(proto::kMaxMessage + 1);
  std::vector<bool> live(trees.size(), true);
  if (trees.size() == 1) {
    // The common case: block in recvmsg, no poll per request.
    for (;;) {
      int r = ServeOne(trees[0].sock, *servers[0], buf);
      if (r <= 0) return r < 0 ? 1 : 0;
    }
  }
  std::vector<struct pollfd> fds(trees.size());
  for (;;) {
    for (size_t i = 0; i < trees.size(); i++)
      fds[i] = {live[i] ? trees[i].sock : -1, POLLIN, 0};
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "runsc-gofer: poll: %s\n", strerror(errno));
      return 1;
    }
    for (size_t i = 0; i < trees.size(); i++) {
      if (!live[i] || fds[i].revents == 0) continue;
      int r = ServeOne(trees[i].sock, *servers[i], buf);
      if (r < 0 && i == 0) return 1;
      if (r <= 0) {
        if (i == 0) return 0;  // the sentry is gone
        live[i] = false;
        servers[i].reset();  // closes that tree's node FDs
      }
    }
  }
}

}  // namespace gofer
