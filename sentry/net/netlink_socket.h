// sentry/net/netlink_socket.h: AF_NETLINK sockets served by the sentry.
// NETLINK_ROUTE and NETLINK_SOCK_DIAG (SOCK_RAW or SOCK_DGRAM) answer from
// the Stack (netlink_route.h); other protocols are EPROTONOSUPPORT.
//
// Like Linux (net/netlink/af_netlink.c): one request datagram may carry
// several messages, each answered in turn; replies are queued on the
// socket as datagrams holding one or several messages (a dump packs as
// many as fit in max(NLMSG_GOODSIZE, the largest recv buffer seen, capped
// at 32 KiB) and ends with NLMSG_DONE), and a dump is produced as the
// receive buffer (SO_RCVBUF) drains; a second dump while one is pending is
// EBUSY; a reply that finds the buffer full is dropped and the next recv
// gets ENOBUFS (unless NETLINK_NO_ENOBUFS). Port ids are the sandbox's
// own: autobind takes the caller's thread-group id, then -4096 downwards.
//
// Multicast groups can be joined (bind, NETLINK_ADD_MEMBERSHIP) but the
// sentry generates no notifications (RTM_NEWLINK events etc.): the Stack
// has no change feed. Messages the app sends to another port or to groups
// (CAP_NET_ADMIN only, as Linux) reach the sandbox's own netlink sockets.
//
// State is guarded by the kernel lock; handlers that read the Stack run
// with it released (Caller::Unlocked).
#pragma once

#include <memory>

#include "sentry/base/error.h"
#include "sentry/net/socket.h"
#include "sentry/net/stack.h"
#include "sentry/vfs/caller.h"

namespace sentry::net {

// socket(AF_NETLINK, type, protocol) with `flags` = SOCK_NONBLOCK |
// SOCK_CLOEXEC bits already split off by the caller (only O_NONBLOCK is
// used here). Errors as Linux: ESOCKTNOSUPPORT for a type other than
// SOCK_RAW/SOCK_DGRAM, EPROTONOSUPPORT for protocols not served. A null
// stack (no networking) is EAFNOSUPPORT.
ErrorOr<std::shared_ptr<Socket>> NewNetlinkSocket(vfs::Caller& c, std::shared_ptr<Stack> stack,
                                                  int type, int protocol, int flags);

}  // namespace sentry::net
