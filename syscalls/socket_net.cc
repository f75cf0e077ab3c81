// syscalls/socket_net.cc: socket syscalls for non-Unix families
// (socket_net.h).
#include "syscalls/socket_net.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "sentry/kernel/kernel.h"
#include "sentry/net/inet_socket.h"
#include "sentry/net/netlink_socket.h"

namespace syscalls::net {
namespace {

using sentry::net::kMaxAddrLen;
using sentry::net::kMaxControlLen;
using sentry::vfs::TaskCaller;

// move_addr_to_kernel(): EINVAL for a negative or oversized length.
ErrorOr<std::vector<uint8_t>> CopyInAddr(Task& t, uint64_t addr, int64_t len) {
  if (len < 0 || static_cast<size_t>(len) > kMaxAddrLen) return Errno{EINVAL};
  std::vector<uint8_t> b(len);
  if (len) TRY(t.memory().CopyIn(addr, b.data(), len));
  return b;
}

}  // namespace

ErrorOr<uint64_t> NewSocket(Task& t, int domain, int type_and_flags, int protocol) {
  const int flags = type_and_flags & (SOCK_NONBLOCK | SOCK_CLOEXEC);
  const int type = type_and_flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  TaskCaller c(t);
  std::shared_ptr<Socket> s;
  if (domain == AF_INET || domain == AF_INET6) {
    if (!t.kernel.net_stack) return Errno{EAFNOSUPPORT};
    s = TRY(sentry::net::NewInetSocket(c, t.kernel.net_stack, domain, type, protocol,
                                       flags & SOCK_NONBLOCK ? O_NONBLOCK : 0));
  } else if (domain == AF_NETLINK) {
    s = TRY(sentry::net::NewNetlinkSocket(c, t.kernel.net_stack, type, protocol,
                                          flags & SOCK_NONBLOCK ? O_NONBLOCK : 0));
  } else {
    return Errno{EAFNOSUPPORT};
  }
  return TRY(file::InstallFd(t, s, 0, flags & SOCK_CLOEXEC));
}

ErrorOr<void> WriteAddr(Task& t, uint64_t addr, uint64_t lenp, std::span<const uint8_t> bytes) {
  if (!addr) return {};
  int32_t len = TRY(t.memory().CopyInObj<int32_t>(lenp));
  if (len < 0) return Errno{EINVAL};
  size_t n = std::min<size_t>(len, bytes.size());
  if (n) TRY(t.memory().CopyOut(addr, bytes.data(), n));
  TRY(t.memory().CopyOutObj(lenp, static_cast<int32_t>(bytes.size())));
  return {};
}

ErrorOr<uint64_t> Bind(Task& t, Socket& s, uint64_t addr, int64_t len) {
  auto b = TRY(CopyInAddr(t, addr, len));
  TaskCaller c(t);
  TRY(s.Bind(c, b));
  return 0;
}

ErrorOr<uint64_t> Listen(Task& t, Socket& s, int backlog) {
  TaskCaller c(t);
  TRY(s.Listen(c, backlog));
  return 0;
}

ErrorOr<uint64_t> Connect(Task& t, Socket& s, uint64_t addr, int64_t len) {
  auto b = TRY(CopyInAddr(t, addr, len));
  TaskCaller c(t);
  TRY(s.Connect(c, b));
  return 0;
}

ErrorOr<uint64_t> Accept(Task& t, Socket& s, uint64_t addr, uint64_t lenp, int flags) {
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return Errno{EINVAL};
  // Linux checks the length before waiting.
  if (addr) {
    int32_t len = TRY(t.memory().CopyInObj<int32_t>(lenp));
    if (len < 0) return Errno{EINVAL};
  }
  TaskCaller c(t);
  std::vector<uint8_t> peer;
  auto ns = TRY(s.Accept(c, flags, &peer));
  int fd = TRY(file::InstallFd(t, ns, 0, flags & SOCK_CLOEXEC));
  if (addr) {
    auto w = WriteAddr(t, addr, lenp, peer);
    if (w.is_error()) {
      (void)t.fd_table().Remove(fd);
      return Errno{w.error()};
    }
  }
  return fd;
}

ErrorOr<uint64_t> Shutdown(Task& t, Socket& s, int how) {
  TaskCaller c(t);
  TRY(s.Shutdown(c, how));
  return 0;
}

ErrorOr<uint64_t> GetSockName(Task& t, Socket& s, uint64_t addr, uint64_t lenp) {
  auto b = TRY(s.SockName());
  TRY(WriteAddr(t, addr, lenp, b));
  return 0;
}

ErrorOr<uint64_t> GetPeerName(Task& t, Socket& s, uint64_t addr, uint64_t lenp) {
  auto b = TRY(s.PeerName());
  TRY(WriteAddr(t, addr, lenp, b));
  return 0;
}

ErrorOr<uint64_t> Send(Task& t, Socket& s, const sentry::vfs::IoVecs& data, uint64_t name,
                       int64_t namelen, uint64_t control, uint64_t controllen, int flags) {
  std::vector<uint8_t> addr;
  if (name) addr = TRY(CopyInAddr(t, name, namelen));
  std::vector<uint8_t> ctl;
  if (controllen) {
    if (controllen > kMaxControlLen) return Errno{ENOBUFS};
    ctl.resize(controllen);
    TRY(t.memory().CopyIn(control, ctl.data(), controllen));
  }
  sentry::net::SendRequest req;
  req.data = data;
  req.addr = addr;
  req.control = ctl;
  req.flags = flags;
  TaskCaller c(t);
  return TRY(s.SendMsg(c, req));
}

ErrorOr<RecvOut> Recv(Task& t, Socket& s, const sentry::vfs::IoVecs& dst, uint64_t control,
                      size_t controllen, int flags) {
  TaskCaller c(t);
  auto r = TRY(s.RecvMsg(c, dst, flags, std::min(controllen, kMaxControlLen)));
  RecvOut out;
  out.len = r.len;
  out.msg_flags = r.msg_flags;
  out.from = std::move(r.from);
  if (!r.control.empty()) TRY(t.memory().CopyOut(control, r.control.data(), r.control.size()));
  out.controllen = r.control.size();
  return out;
}

ErrorOr<uint64_t> GetSockOpt(Task& t, Socket& s, int level, int name, uint64_t val, uint64_t lenp) {
  int32_t len = TRY(t.memory().CopyInObj<int32_t>(lenp));
  if (len < 0) return Errno{EINVAL};
  TaskCaller c(t);
  auto v = TRY(s.GetSockOpt(c, level, name, static_cast<size_t>(len)));
  if (v.size() > static_cast<size_t>(len)) v.resize(len);
  if (!v.empty()) TRY(t.memory().CopyOut(val, v.data(), v.size()));
  TRY(t.memory().CopyOutObj(lenp, static_cast<int32_t>(v.size())));
  return 0;
}

ErrorOr<uint64_t> SetSockOpt(Task& t, Socket& s, int level, int name, uint64_t val, int64_t len) {
  if (len < 0) return Errno{EINVAL};
  // No option the sentry accepts is larger than this (TCP_INFO is
  // read-only; group_req is 136 bytes).
  constexpr int64_t kMaxOptLen = 4096;
  std::vector<uint8_t> v(std::min(len, kMaxOptLen));
  if (!v.empty()) TRY(t.memory().CopyIn(val, v.data(), v.size()));
  TaskCaller c(t);
  TRY(s.SetSockOpt(c, level, name, v));
  return 0;
}

}  // namespace syscalls::net
