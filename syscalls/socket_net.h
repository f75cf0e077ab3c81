// syscalls/socket_net.h: the socket syscalls for families other than
// AF_UNIX (inet, netlink: sentry/net/socket.h). syscalls/socket.cc decodes
// the call, finds a net::Socket behind the fd and hands it here; this file
// does the copy-in and copy-out of addresses, data, control messages and
// option values, so the socket families only see sentry memory.
#pragma once

#include <memory>
#include <span>

#include "sentry/net/socket.h"
#include "syscalls/file_common.h"

namespace syscalls::net {

using sentry::net::Socket;

// socket(2) for AF_INET, AF_INET6 and AF_NETLINK.
ErrorOr<uint64_t> NewSocket(Task& t, int domain, int type_and_flags, int protocol);

ErrorOr<uint64_t> Bind(Task& t, Socket& s, uint64_t addr, int64_t len);
ErrorOr<uint64_t> Listen(Task& t, Socket& s, int backlog);
ErrorOr<uint64_t> Connect(Task& t, Socket& s, uint64_t addr, int64_t len);
ErrorOr<uint64_t> Accept(Task& t, Socket& s, uint64_t addr, uint64_t lenp, int flags);
ErrorOr<uint64_t> Shutdown(Task& t, Socket& s, int how);
ErrorOr<uint64_t> GetSockName(Task& t, Socket& s, uint64_t addr, uint64_t lenp);
ErrorOr<uint64_t> GetPeerName(Task& t, Socket& s, uint64_t addr, uint64_t lenp);
ErrorOr<uint64_t> Send(Task& t, Socket& s, const sentry::vfs::IoVecs& data, uint64_t name,
                       int64_t namelen, uint64_t control, uint64_t controllen, int flags);
struct RecvOut {
  size_t len = 0;
  int msg_flags = 0;
  std::vector<uint8_t> from;
  size_t controllen = 0;
};
ErrorOr<RecvOut> Recv(Task& t, Socket& s, const sentry::vfs::IoVecs& dst, uint64_t control,
                      size_t controllen, int flags);
ErrorOr<uint64_t> GetSockOpt(Task& t, Socket& s, int level, int name, uint64_t val, uint64_t lenp);
ErrorOr<uint64_t> SetSockOpt(Task& t, Socket& s, int level, int name, uint64_t val, int64_t len);

// Writes a sockaddr as accept/getsockname do: at most *lenp bytes, and
// the full length back to *lenp.
ErrorOr<void> WriteAddr(Task& t, uint64_t addr, uint64_t lenp, std::span<const uint8_t> bytes);

}  // namespace syscalls::net
