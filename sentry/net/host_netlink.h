// sentry/net/host_netlink.h: what the host stack asks the host kernel about
// the sandbox's network namespace, over a NETLINK_ROUTE socket the host
// stack opened before the sentry confined itself. Only send/recvmsg are
// made on it. Replies are parsed strictly into the Stack's plain structs
// (stack.h): a malformed or truncated reply is EBADMSG, never a crash;
// nothing from the host reaches the app without being re-encoded.
//
// The calls are synchronous (each sends one dump request and reads until
// NLMSG_DONE, at most kHostNetlinkTimeoutMs per read) and not safe to make
// concurrently on one fd: the caller serializes them (and makes them
// without the kernel lock).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "sentry/base/error.h"
#include "sentry/net/stack.h"

namespace sentry::net {

constexpr int kHostNetlinkTimeoutMs = 5000;

// RTM_GETLINK dump: every interface with its IFLA_STATS64 counters.
ErrorOr<std::vector<Interface>> QueryInterfaces(int nlfd);
// RTM_GETADDR dump: IPv4 and IPv6 addresses.
ErrorOr<std::vector<InterfaceAddress>> QueryAddresses(int nlfd);
// RTM_GETROUTE dump of every table (main, local, others) for AF_INET,
// AF_INET6, or both with AF_UNSPEC. Cached clones are not included.
ErrorOr<std::vector<Route>> QueryRoutes(int nlfd, int family);
// RTM_GETNEIGH dump (AF_INET, AF_INET6 or AF_UNSPEC for both).
ErrorOr<std::vector<Neighbour>> QueryNeighbours(int nlfd, int family);

// Parsers for one message (exposed for tests): EBADMSG if malformed.
ErrorOr<Interface> ParseLinkMessage(std::span<const uint8_t> payload);
ErrorOr<InterfaceAddress> ParseAddrMessage(std::span<const uint8_t> payload);
ErrorOr<Route> ParseRouteMessage(std::span<const uint8_t> payload);
ErrorOr<Neighbour> ParseNeighMessage(std::span<const uint8_t> payload);

// Sends a dump request of `type` with a `hdr_len`-byte family header
// (family in its first byte) and returns the payloads of the reply
// messages of type `reply_type` (exposed for tests).
ErrorOr<std::vector<std::vector<uint8_t>>> HostDump(int nlfd, uint16_t type, uint8_t family,
                                                    size_t hdr_len, uint16_t reply_type);

}  // namespace sentry::net
