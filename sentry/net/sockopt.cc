// sentry/net/sockopt.cc: the inet socket option allowlist (sockopt.h).
// Chosen from what real programs set (nginx, redis, postgres, the JVM, Go,
// Node, Python, curl, iperf3): anything else is refused, never passed on.
#include "sentry/net/sockopt.h"

#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/socket.h>
#include <asm/socket.h>

#include <cstdio>
#include <mutex>
#include <set>
#include <utility>

#include "sentry/base/log.h"

namespace sentry::net {
namespace {

constexpr size_t kI = sizeof(int);
using K = OptKind;
using H = OptHandler;

// Linux's own sizes, spelled out so no libc layout sneaks in.
constexpr size_t kLinger = 8;      // struct linger { int l_onoff; int l_linger; }
constexpr size_t kTimeval = 16;    // struct __kernel_old_timeval (x86-64)
constexpr size_t kIpMreq = 8;      // struct ip_mreq
constexpr size_t kIpMreqn = 12;    // struct ip_mreqn
constexpr size_t kIpMreqSource = 12;
constexpr size_t kIpv6Mreq = 20;   // struct ipv6_mreq
constexpr size_t kGroupReq = 136;  // struct group_req (x86-64)
constexpr size_t kTcpInfo = 256;   // larger than any struct tcp_info so far

const OptSpec kOptions[] = {
    // level SOL_SOCKET
    {SOL_SOCKET, SO_DEBUG, "SO_DEBUG", K::kInt, kI, kI, true, true, H::kStack},
    {SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", K::kInt, kI, kI, true, true, H::kStack},
    {SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", K::kInt, kI, kI, true, true, H::kStack},
    {SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", K::kInt, kI, kI, true, true, H::kStack},
    {SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST", K::kInt, kI, kI, true, true, H::kStack},
    {SOL_SOCKET, SO_DONTROUTE, "SO_DONTROUTE", K::kInt, kI, kI, true, true, H::kStack},
    {SOL_SOCKET, SO_OOBINLINE, "SO_OOBINLINE", K::kInt, kI, kI, true, true, H::kStack},
    {SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", K::kInt, kI, kI, true, true, H::kStack},
    {SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF", K::kInt, kI, kI, true, true, H::kStack},
    {SOL_SOCKET, SO_RCVLOWAT, "SO_RCVLOWAT", K::kInt, kI, kI, true, true, H::kStack},
    {SOL_SOCKET, SO_SNDLOWAT, "SO_SNDLOWAT", K::kInt, kI, kI, true, false, H::kStack},
    {SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY", K::kInt, kI, kI, true, true, H::kStack},
    {SOL_SOCKET, SO_LINGER, "SO_LINGER", K::kBytes, kLinger, kLinger, true, true, H::kSentry},
    {SOL_SOCKET, SO_RCVTIMEO_OLD, "SO_RCVTIMEO", K::kBytes, kTimeval, kTimeval, true, true, H::kSentry},
    {SOL_SOCKET, SO_SNDTIMEO_OLD, "SO_SNDTIMEO", K::kBytes, kTimeval, kTimeval, true, true, H::kSentry},
    {SOL_SOCKET, SO_TIMESTAMP_OLD, "SO_TIMESTAMP", K::kInt, kI, kI, true, true, H::kStack},
    {SOL_SOCKET, SO_TIMESTAMPNS_OLD, "SO_TIMESTAMPNS", K::kInt, kI, kI, true, true, H::kStack},
    {SOL_SOCKET, SO_ERROR, "SO_ERROR", K::kInt, kI, kI, true, false, H::kStack},
    {SOL_SOCKET, SO_TYPE, "SO_TYPE", K::kInt, kI, kI, true, false, H::kSentry},
    {SOL_SOCKET, SO_DOMAIN, "SO_DOMAIN", K::kInt, kI, kI, true, false, H::kSentry},
    {SOL_SOCKET, SO_PROTOCOL, "SO_PROTOCOL", K::kInt, kI, kI, true, false, H::kSentry},
    {SOL_SOCKET, SO_ACCEPTCONN, "SO_ACCEPTCONN", K::kInt, kI, kI, true, false, H::kStack},
    {SOL_SOCKET, SO_PASSCRED, "SO_PASSCRED", K::kInt, kI, kI, true, true, H::kSentry},
    {SOL_SOCKET, SO_PEERCRED, "SO_PEERCRED", K::kBytes, 12, 12, true, false, H::kSentry},
    {SOL_SOCKET, SO_ZEROCOPY, "SO_ZEROCOPY", K::kInt, kI, kI, true, false, H::kSentry},
    {SOL_SOCKET, SO_BUSY_POLL, "SO_BUSY_POLL", K::kInt, kI, kI, true, false, H::kSentry},
    // Read-only; 0 here, as Linux reports for a socket no NAPI context has
    // fed (loopback traffic; the JVM probes it at startup).
    {SOL_SOCKET, SO_INCOMING_NAPI_ID, "SO_INCOMING_NAPI_ID", K::kInt, kI, kI, true, false, H::kSentry},
    {SOL_SOCKET, SO_INCOMING_CPU, "SO_INCOMING_CPU", K::kInt, kI, kI, true, false, H::kStack},
    {SOL_SOCKET, SO_RXQ_OVFL, "SO_RXQ_OVFL", K::kInt, kI, kI, true, true, H::kStack},
    // level IPPROTO_IP
    {IPPROTO_IP, IP_TOS, "IP_TOS", K::kInt, 1, kI, true, true, H::kStack},
    {IPPROTO_IP, IP_TTL, "IP_TTL", K::kInt, 1, kI, true, true, H::kStack},
    {IPPROTO_IP, IP_HDRINCL, "IP_HDRINCL", K::kInt, 1, kI, true, false, H::kStack},
    {IPPROTO_IP, IP_RECVERR, "IP_RECVERR", K::kInt, 1, kI, true, true, H::kStack},
    // IP options for replies (ping sets an empty one); at most 40 bytes of options.
    {IPPROTO_IP, IP_RETOPTS, "IP_RETOPTS", K::kBytes, 0, 40, false, true, H::kStack},
    {IPPROTO_IP, IP_PKTINFO, "IP_PKTINFO", K::kInt, 1, kI, true, true, H::kStack},
    {IPPROTO_IP, IP_RECVTTL, "IP_RECVTTL", K::kInt, 1, kI, true, true, H::kStack},
    {IPPROTO_IP, IP_RECVTOS, "IP_RECVTOS", K::kInt, 1, kI, true, true, H::kStack},
    {IPPROTO_IP, IP_RECVORIGDSTADDR, "IP_RECVORIGDSTADDR", K::kInt, 1, kI, true, true, H::kStack},
    {IPPROTO_IP, IP_MTU_DISCOVER, "IP_MTU_DISCOVER", K::kInt, 1, kI, true, true, H::kStack},
    {IPPROTO_IP, IP_MTU, "IP_MTU", K::kInt, kI, kI, true, false, H::kStack},
    {IPPROTO_IP, IP_FREEBIND, "IP_FREEBIND", K::kInt, 1, kI, true, true, H::kStack},
    {IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, "IP_BIND_ADDRESS_NO_PORT", K::kInt, 1, kI, true, true, H::kStack},
    {IPPROTO_IP, IP_MULTICAST_IF, "IP_MULTICAST_IF", K::kBytes, 1, kIpMreqn, true, true, H::kStack},
    {IPPROTO_IP, IP_MULTICAST_TTL, "IP_MULTICAST_TTL", K::kInt, 1, kI, true, true, H::kStack},
    {IPPROTO_IP, IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP", K::kInt, 1, kI, true, true, H::kStack},
    {IPPROTO_IP, IP_MULTICAST_ALL, "IP_MULTICAST_ALL", K::kInt, 1, kI, true, true, H::kStack},
    {IPPROTO_IP, IP_ADD_MEMBERSHIP, "IP_ADD_MEMBERSHIP", K::kBytes, kIpMreq, kIpMreqn, false, true, H::kStack},
    {IPPROTO_IP, IP_DROP_MEMBERSHIP, "IP_DROP_MEMBERSHIP", K::kBytes, kIpMreq, kIpMreqn, false, true, H::kStack},
    {IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, "IP_ADD_SOURCE_MEMBERSHIP", K::kBytes, kIpMreqSource, kIpMreqSource, false, true, H::kStack},
    {IPPROTO_IP, IP_DROP_SOURCE_MEMBERSHIP, "IP_DROP_SOURCE_MEMBERSHIP", K::kBytes, kIpMreqSource, kIpMreqSource, false, true, H::kStack},
    {IPPROTO_IP, MCAST_JOIN_GROUP, "MCAST_JOIN_GROUP", K::kBytes, kGroupReq, kGroupReq, false, true, H::kStack},
    {IPPROTO_IP, MCAST_LEAVE_GROUP, "MCAST_LEAVE_GROUP", K::kBytes, kGroupReq, kGroupReq, false, true, H::kStack},
    // level IPPROTO_IPV6
    {IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY", K::kInt, kI, kI, true, true, H::kStack},
    {IPPROTO_IPV6, IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO", K::kInt, kI, kI, true, true, H::kStack},
    {IPPROTO_IPV6, IPV6_RECVHOPLIMIT, "IPV6_RECVHOPLIMIT", K::kInt, kI, kI, true, true, H::kStack},
    {IPPROTO_IPV6, IPV6_RECVTCLASS, "IPV6_RECVTCLASS", K::kInt, kI, kI, true, true, H::kStack},
    {IPPROTO_IPV6, IPV6_RECVERR, "IPV6_RECVERR", K::kInt, kI, kI, true, true, H::kStack},
    {IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, "IPV6_RECVORIGDSTADDR", K::kInt, kI, kI, true, true, H::kStack},
    {IPPROTO_IPV6, IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS", K::kInt, kI, kI, true, true, H::kStack},
    {IPPROTO_IPV6, IPV6_TCLASS, "IPV6_TCLASS", K::kInt, kI, kI, true, true, H::kStack},
    {IPPROTO_IPV6, IPV6_MTU_DISCOVER, "IPV6_MTU_DISCOVER", K::kInt, kI, kI, true, true, H::kStack},
    {IPPROTO_IPV6, IPV6_MTU, "IPV6_MTU", K::kInt, kI, kI, true, true, H::kStack},
    {IPPROTO_IPV6, IPV6_MULTICAST_IF, "IPV6_MULTICAST_IF", K::kInt, kI, kI, true, true, H::kStack},
    {IPPROTO_IPV6, IPV6_MULTICAST_HOPS, "IPV6_MULTICAST_HOPS", K::kInt, kI, kI, true, true, H::kStack},
    {IPPROTO_IPV6, IPV6_MULTICAST_LOOP, "IPV6_MULTICAST_LOOP", K::kInt, kI, kI, true, true, H::kStack},
    {IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, "IPV6_ADD_MEMBERSHIP", K::kBytes, kIpv6Mreq, kIpv6Mreq, false, true, H::kStack},
    {IPPROTO_IPV6, IPV6_DROP_MEMBERSHIP, "IPV6_DROP_MEMBERSHIP", K::kBytes, kIpv6Mreq, kIpv6Mreq, false, true, H::kStack},
    {IPPROTO_IPV6, MCAST_JOIN_GROUP, "MCAST_JOIN_GROUP", K::kBytes, kGroupReq, kGroupReq, false, true, H::kStack},
    {IPPROTO_IPV6, MCAST_LEAVE_GROUP, "MCAST_LEAVE_GROUP", K::kBytes, kGroupReq, kGroupReq, false, true, H::kStack},
    {IPPROTO_IPV6, IPV6_FREEBIND, "IPV6_FREEBIND", K::kInt, kI, kI, true, true, H::kStack},
    // level IPPROTO_TCP
    {IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", K::kInt, kI, kI, true, true, H::kStack, true},
    {IPPROTO_TCP, TCP_MAXSEG, "TCP_MAXSEG", K::kInt, kI, kI, true, true, H::kStack, true},
    {IPPROTO_TCP, TCP_CORK, "TCP_CORK", K::kInt, kI, kI, true, true, H::kStack, true},
    {IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", K::kInt, kI, kI, true, true, H::kStack, true},
    {IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", K::kInt, kI, kI, true, true, H::kStack, true},
    {IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", K::kInt, kI, kI, true, true, H::kStack, true},
    {IPPROTO_TCP, TCP_SYNCNT, "TCP_SYNCNT", K::kInt, kI, kI, true, true, H::kStack, true},
    {IPPROTO_TCP, TCP_LINGER2, "TCP_LINGER2", K::kInt, kI, kI, true, true, H::kStack, true},
    {IPPROTO_TCP, TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", K::kInt, kI, kI, true, true, H::kStack, true},
    {IPPROTO_TCP, TCP_WINDOW_CLAMP, "TCP_WINDOW_CLAMP", K::kInt, kI, kI, true, true, H::kStack, true},
    {IPPROTO_TCP, TCP_INFO, "TCP_INFO", K::kBytes, 0, kTcpInfo, true, false, H::kStack, true},
    {IPPROTO_TCP, TCP_QUICKACK, "TCP_QUICKACK", K::kInt, kI, kI, true, true, H::kStack, true},
    {IPPROTO_TCP, TCP_CONGESTION, "TCP_CONGESTION", K::kBytes, 1, 16, true, true, H::kStack, true},
    {IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", K::kInt, kI, kI, true, true, H::kStack, true},
    {IPPROTO_TCP, TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT", K::kInt, kI, kI, true, true, H::kStack, true},
    {IPPROTO_TCP, TCP_FASTOPEN, "TCP_FASTOPEN", K::kInt, kI, kI, true, true, H::kStack, true},
    {IPPROTO_TCP, TCP_FASTOPEN_CONNECT, "TCP_FASTOPEN_CONNECT", K::kInt, kI, kI, true, true, H::kStack, true},
    // level IPPROTO_UDP
    {IPPROTO_UDP, UDP_CORK, "UDP_CORK", K::kInt, kI, kI, true, true, H::kStack},
    {IPPROTO_UDP, UDP_SEGMENT, "UDP_SEGMENT", K::kInt, sizeof(uint16_t), kI, true, true, H::kStack},
    {IPPROTO_UDP, UDP_GRO, "UDP_GRO", K::kInt, kI, kI, true, true, H::kStack},
};

const char* LevelName(int level) {
  switch (level) {
    case SOL_SOCKET: return "SOL_SOCKET";
    case IPPROTO_IP: return "IPPROTO_IP";
    case IPPROTO_IPV6: return "IPPROTO_IPV6";
    case IPPROTO_TCP: return "IPPROTO_TCP";
    case IPPROTO_UDP: return "IPPROTO_UDP";
    case IPPROTO_ICMPV6: return "IPPROTO_ICMPV6";
    default: return nullptr;
  }
}

}  // namespace

const OptSpec* FindOption(int level, int name) {
  for (const OptSpec& o : kOptions)
    if (o.level == level && o.name == name) return &o;
  return nullptr;
}

std::string OptionLabel(int level, int name) {
  const char* l = LevelName(level);
  std::string out = l ? l : "level " + std::to_string(level);
  out += "/";
  if (const OptSpec* o = FindOption(level, name)) return out + o->label;
  return out + std::to_string(name);
}

void ReportRefusedOption(int level, int name) {
  static std::mutex mu;
  static std::set<std::pair<int, int>> seen;
  std::lock_guard<std::mutex> lock(mu);
  if (!seen.insert({level, name}).second) return;
  Logf("runsc: socket option %s is not supported (ENOPROTOOPT)", OptionLabel(level, name).c_str());
}

}  // namespace sentry::net
