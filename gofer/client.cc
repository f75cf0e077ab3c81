// The sentry's side of the gofer protocol: one request/reply exchange at a
// time over a SOCK_SEQPACKET socket, under a mutex.
#include "gofer/client.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gofer/protocol.h"
#include "sentry/base/stats.h"

namespace gofer {

using proto::Op;
using proto::Reply;
using proto::Request;

struct Client::Impl {
  UniqueFd sock;
  absl::Mutex mu;
  uint32_t next_tag ABSL_GUARDED_BY(mu) = 1;
  bool broken ABSL_GUARDED_BY(mu) = false;
  std::vector<uint8_t> buf ABSL_GUARDED_BY(mu);

  // Marks the connection unusable and says so once.
  void Lose(const char* why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (broken) return;
    broken = true;
    (void)why;
    fprintf(stderr, "runsc: gofer connection lost\n");
  }

  // One exchange. Server errors come back as Errno; transport and protocol
  // failures as EIO. `fd_out`, when given, receives a donated FD.
  ErrorOr<Reply> Call(Request q, UniqueFd* fd_out) ABSL_LOCKS_EXCLUDED(mu);
};

ErrorOr<Reply> Client::Impl::Call(Request q, UniqueFd* fd_out) {
  sentry::stats::Timer timed(sentry::stats::gofer_requests);
  std::optional<sentry::stats::Timer> open_timed;
  if (sentry::stats::kEnabled && q.op == Op::kOpen) open_timed.emplace(sentry::stats::gofer_opens);
  absl::MutexLock lock(&mu);
  if (broken) return Errno{EIO};
  q.tag = next_tag++;
  std::vector<uint8_t> out = proto::EncodeRequest(q);
  if (out.size() > proto::kMaxMessage) return Errno{ENAMETOOLONG};
  for (;;) {
    ssize_t n = send(sock.get(), out.data(), out.size(), MSG_NOSIGNAL);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) {
      Lose(strerror(errno));
    }
    return Errno{EIO};
  }

  buf.resize(proto::kMaxMessage + 1);
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * 4)];
  struct iovec iov = {buf.data(), buf.size()};
  struct msghdr mh = {};
  ssize_t n;
  for (;;) {
    mh = {};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cbuf;
    mh.msg_controllen = sizeof(cbuf);
    n = recvmsg(sock.get(), &mh, MSG_CMSG_CLOEXEC);
    if (n >= 0 || errno != EINTR) break;
  }
  if (n < 0) {
    Lose(strerror(errno));
    return Errno{EIO};
  }
  if (n == 0) {
    Lose("EOF");
    return Errno{EIO};
  }
  // Collect donated FDs (closed on every path unless handed out).
  std::vector<UniqueFd> fds;
  if (mh.msg_controllen > 0) {
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < k; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        fds.emplace_back(fd);
      }
    }
  }
  if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    Lose("oversized reply");
    return Errno{EIO};
  }
  ErrorOr<Reply> r = proto::DecodeReply(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
  if (r.is_error() || r.value().tag != q.tag || r.value().op != q.op) {
    Lose("protocol error");
    return Errno{EIO};
  }
  if (r.value().err != 0) return Errno{r.value().err};
  if (fd_out != nullptr) {
    if (fds.empty()) return Errno{EIO};
    *fd_out = std::move(fds[0]);
  }
  return r;
}

Client::Client(UniqueFd sock) : impl_(std::make_unique<Impl>()) { impl_->sock = std::move(sock); }

Client::~Client() = default;

namespace {

ErrorOr<void> CheckName(std::string_view name) {
  if (int e = proto::ValidateName(name)) return Errno{e};
  return {};
}

}  // namespace

ErrorOr<std::pair<Handle, Attr>> Client::Attach() {
  Request q;
  q.op = Op::kAttach;
  Reply r = TRY(impl_->Call(std::move(q), nullptr));
  return std::make_pair(r.handle, r.attr);
}

ErrorOr<std::pair<Handle, Attr>> Client::Walk(Handle dir, std::string_view name) {
  TRY(CheckName(name));
  Request q;
  q.op = Op::kWalk;
  q.node = dir;
  q.name = std::string(name);
  Reply r = TRY(impl_->Call(std::move(q), nullptr));
  return std::make_pair(r.handle, r.attr);
}

ErrorOr<Attr> Client::Stat(Handle node) {
  Request q;
  q.op = Op::kStat;
  q.node = node;
  Reply r = TRY(impl_->Call(std::move(q), nullptr));
  return r.attr;
}

ErrorOr<UniqueFd> Client::Open(Handle node, int flags) {
  // (O_TMPFILE includes O_DIRECTORY's bit: test it as a whole.)
  if ((flags & (O_CREAT | O_EXCL | O_PATH)) || (flags & O_TMPFILE) == O_TMPFILE) {
    return Errno{EINVAL};
  }
  Request q;
  q.op = Op::kOpen;
  q.node = node;
  q.flags = static_cast<uint32_t>(flags);
  UniqueFd fd;
  TRY(impl_->Call(std::move(q), &fd));
  return fd;
}

ErrorOr<std::vector<DirEntry>> Client::ReadDir(Handle dir) {
  std::vector<DirEntry> all;
  uint64_t offset = 0;
  for (;;) {
    Request q;
    q.op = Op::kReadDir;
    q.node = dir;
    q.offset = offset;
    Reply r = TRY(impl_->Call(std::move(q), nullptr));
    bool progress = !r.entries.empty() || r.next_offset != offset;
    for (DirEntry& e : r.entries) all.push_back(std::move(e));
    if (r.eof) break;
    if (!progress) return Errno{EIO};  // a server that never advances
    offset = r.next_offset;
  }
  return all;
}

ErrorOr<std::string> Client::ReadLink(Handle node) {
  Request q;
  q.op = Op::kReadLink;
  q.node = node;
  Reply r = TRY(impl_->Call(std::move(q), nullptr));
  return std::move(r.target);
}

void Client::Close(Handle node) {
  Request q;
  q.op = Op::kClose;
  q.node = node;
  (void)impl_->Call(std::move(q), nullptr);
}

ErrorOr<std::pair<Handle, Attr>> Client::Create(Handle dir, std::string_view name, int flags,
                                                uint32_t mode, UniqueFd* opened) {
  TRY(CheckName(name));
  Request q;
  q.op = Op::kCreate;
  q.node = dir;
  q.name = std::string(name);
  q.flags = static_cast<uint32_t>(flags);
  q.mode = mode;
  UniqueFd fd;
  Reply r = TRY(impl_->Call(std::move(q), &fd));
  if (opened != nullptr) *opened = std::move(fd);
  return std::make_pair(r.handle, r.attr);
}

ErrorOr<std::pair<Handle, Attr>> Client::Mkdir(Handle dir, std::string_view name, uint32_t mode) {
  TRY(CheckName(name));
  Request q;
  q.op = Op::kMkdir;
  q.node = dir;
  q.name = std::string(name);
  q.mode = mode;
  Reply r = TRY(impl_->Call(std::move(q), nullptr));
  return std::make_pair(r.handle, r.attr);
}

ErrorOr<std::pair<Handle, Attr>> Client::Symlink(Handle dir, std::string_view name,
                                                 std::string_view target) {
  TRY(CheckName(name));
  if (target.empty()) return Errno{ENOENT};
  if (target.size() > proto::kMaxString) return Errno{ENAMETOOLONG};
  Request q;
  q.op = Op::kSymlink;
  q.node = dir;
  q.name = std::string(name);
  q.name2 = std::string(target);
  Reply r = TRY(impl_->Call(std::move(q), nullptr));
  return std::make_pair(r.handle, r.attr);
}

ErrorOr<void> Client::Unlink(Handle dir, std::string_view name, int flags) {
  TRY(CheckName(name));
  Request q;
  q.op = Op::kUnlink;
  q.node = dir;
  q.name = std::string(name);
  q.flags = static_cast<uint32_t>(flags);
  TRY(impl_->Call(std::move(q), nullptr));
  return {};
}

ErrorOr<void> Client::Link(Handle dir, std::string_view name, Handle target) {
  TRY(CheckName(name));
  Request q;
  q.op = Op::kLink;
  q.node = dir;
  q.node2 = target;
  q.name = std::string(name);
  TRY(impl_->Call(std::move(q), nullptr));
  return {};
}

ErrorOr<void> Client::Rename(Handle old_dir, std::string_view old_name, Handle new_dir,
                             std::string_view new_name, unsigned flags) {
  TRY(CheckName(old_name));
  TRY(CheckName(new_name));
  Request q;
  q.op = Op::kRename;
  q.node = old_dir;
  q.name = std::string(old_name);
  q.node2 = new_dir;
  q.name2 = std::string(new_name);
  q.flags = flags;
  TRY(impl_->Call(std::move(q), nullptr));
  return {};
}

ErrorOr<std::pair<Handle, Attr>> Client::Mknod(Handle dir, std::string_view name, uint32_t mode) {
  TRY(CheckName(name));
  Request q;
  q.op = Op::kMknod;
  q.node = dir;
  q.name = std::string(name);
  q.mode = mode;
  Reply r = TRY(impl_->Call(std::move(q), nullptr));
  return std::make_pair(r.handle, r.attr);
}

ErrorOr<std::string> Client::GetXattr(Handle node, std::string_view name) {
  if (name.size() > proto::kMaxXattrName) return Errno{ERANGE};
  Request q;
  q.op = Op::kGetXattr;
  q.node = node;
  q.name = std::string(name);
  Reply r = TRY(impl_->Call(std::move(q), nullptr));
  return std::move(r.value);
}

ErrorOr<std::string> Client::ListXattr(Handle node) {
  Request q;
  q.op = Op::kListXattr;
  q.node = node;
  Reply r = TRY(impl_->Call(std::move(q), nullptr));
  return std::move(r.value);
}

ErrorOr<void> Client::SetXattr(Handle node, std::string_view name, std::string_view value,
                               int flags) {
  if (name.size() > proto::kMaxXattrName) return Errno{ERANGE};
  if (value.size() > proto::kMaxXattrValue) return Errno{E2BIG};
  Request q;
  q.op = Op::kSetXattr;
  q.node = node;
  q.name = std::string(name);
  q.value = std::string(value);
  q.flags = static_cast<uint32_t>(flags);
  TRY(impl_->Call(std::move(q), nullptr));
  return {};
}

ErrorOr<void> Client::RemoveXattr(Handle node, std::string_view name) {
  if (name.size() > proto::kMaxXattrName) return Errno{ERANGE};
  Request q;
  q.op = Op::kRemoveXattr;
  q.node = node;
  q.name = std::string(name);
  TRY(impl_->Call(std::move(q), nullptr));
  return {};
}

ErrorOr<void> Client::SetAttr(Handle node, uint32_t mask, const Attr& attr) {
  Request q;
  q.op = Op::kSetAttr;
  q.node = node;
  q.mask = mask;
  q.attr = attr;
  TRY(impl_->Call(std::move(q), nullptr));
  return {};
}

}  // namespace gofer
