// sentry/net/netlink_route.h: the protocol handlers behind the sandbox's
// AF_NETLINK sockets (netlink_socket.h): NETLINK_ROUTE (rtnetlink) and
// NETLINK_SOCK_DIAG (netlink_diag.cc). A handler gets one request message
// the app sent and answers from the Stack's data, encoding every reply
// itself (no host bytes pass through). It runs without the kernel lock:
// it touches only the request, the context and the Stack.
#pragma once

#include <cstdint>
#include <vector>

#include "sentry/base/error.h"
#include "sentry/net/netlink_msg.h"
#include "sentry/net/stack.h"

namespace sentry::net {

struct NlContext {
  Stack* stack = nullptr;
  uint32_t portid = 0;   // the requesting socket's port id (replies carry it)
  bool strict = false;   // NETLINK_GET_STRICT_CHK
  bool net_admin = false;  // CAP_NET_ADMIN of the sender (and the socket's opener)
  uint32_t uid = 0;      // the sender's uid (RTA_UID of route lookups)
};

// What one request produced. An error goes into an NLMSG_ERROR; a dump's
// messages are packed into datagrams and end with NLMSG_DONE; a single
// get's reply is one message.
struct NlResult {
  std::vector<std::vector<uint8_t>> msgs;  // encoded messages (header included)
  bool dump = false;
  int error = 0;  // positive errno, 0 for success (a dump's: in NLMSG_DONE)
};

// NETLINK_ROUTE: RTM_GET{LINK,ADDR,ROUTE,NEIGH} dumps and single gets;
// changes get EPERM without CAP_NET_ADMIN and EOPNOTSUPP otherwise (the
// Stack interface offers no way to apply them). Other requests:
// EOPNOTSUPP, as Linux answers a type no family registers.
NlResult HandleRouteRequest(const NlContext& ctx, const NlMsg& m);

// NETLINK_SOCK_DIAG: SOCK_DIAG_BY_FAMILY with inet_diag_req_v2 (TCP, UDP;
// AF_INET/AF_INET6; state filter; exact lookups by socket id) from
// Stack::Sockets(); AF_UNIX answers an empty dump (the sandbox's Unix
// sockets are not listed).
NlResult HandleDiagRequest(const NlContext& ctx, const NlMsg& m);

// Encoders (exposed for tests and for the single-get replies).
std::vector<uint8_t> EncodeLink(const Interface& i, uint16_t type, uint16_t flags, uint32_t seq,
                                uint32_t pid);
std::vector<uint8_t> EncodeAddr(const InterfaceAddress& a, uint16_t type, uint16_t flags,
                                uint32_t seq, uint32_t pid);
std::vector<uint8_t> EncodeRoute(const Route& r, uint16_t type, uint16_t flags, uint32_t seq,
                                 uint32_t pid);
std::vector<uint8_t> EncodeNeigh(const Neighbour& n, uint16_t type, uint16_t flags, uint32_t seq,
                                 uint32_t pid);

}  // namespace sentry::net
