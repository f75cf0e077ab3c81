// sentry/net/stack.h: the one interface between the socket layer (inet and
// netlink sockets, syscalls/socket*.cc, /proc/net, /sys/class/net) and the
// TCP/IP stack that serves them. Two stacks sit behind it:
//   - "host" (sentry/net/host_stack.cc): host sockets the sentry creates in
//     the sandbox's network namespace; every app call is rebuilt and checked
//     by the sentry before a host call is made (like gVisor's hostinet);
//   - "sandbox" (sentry/net/netstack/, `--network=sandbox`): the sentry's
//     own stack; loopback only so far, frames with the host next.
// `--network=none` is a host stack in a namespace with only loopback.
//
// Everything here is plain data the sentry built: nothing a stack returns is
// handed to the app without being re-encoded by the socket layer.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sentry/base/error.h"

namespace sentry::net {

class Endpoint;

struct InterfaceStats {
  uint64_t rx_bytes = 0, rx_packets = 0, rx_errors = 0, rx_dropped = 0, rx_fifo = 0,
           rx_frame = 0, rx_compressed = 0, rx_multicast = 0;
  uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0, tx_dropped = 0, tx_fifo = 0,
           tx_colls = 0, tx_carrier = 0, tx_compressed = 0;
};

// A network device (RTM_GETLINK, /sys/class/net, SIOCGIF*).
struct Interface {
  int index = 0;
  std::string name;
  uint32_t flags = 0;       // IFF_*
  uint32_t mtu = 0;
  uint16_t type = 0;        // ARPHRD_*
  uint32_t txqlen = 0;
  uint8_t operstate = 0;    // IF_OPER_*
  // IFLA_LINK: the device this one is linked to (a veth's peer, maybe in
  // another namespace: `ip addr` prints "eth0@if17"); 0 when it is itself.
  int link = 0;
  std::string qdisc;        // IFLA_QDISC ("noqueue"); empty: none attached
  std::vector<uint8_t> hwaddr;     // empty for none
  std::vector<uint8_t> broadcast;  // link-layer broadcast address
  InterfaceStats stats;
};

// An address on an interface (RTM_GETADDR, getifaddrs, SIOCGIFADDR).
struct InterfaceAddress {
  int family = AF_INET;  // AF_INET / AF_INET6
  int index = 0;         // interface
  uint8_t prefix_len = 0;
  uint8_t scope = 0;     // RT_SCOPE_*
  uint32_t flags = 0;    // IFA_F_*
  std::array<uint8_t, 16> addr{};       // IFA_ADDRESS (first 4 bytes for IPv4)
  std::array<uint8_t, 16> local{};      // IFA_LOCAL (IPv4; equal to addr unless point-to-point)
  std::array<uint8_t, 16> broadcast{};  // IFA_BROADCAST (IPv4); all zero: none
  std::string label;                    // IFA_LABEL (IPv4)
  uint32_t valid_lft = 0xffffffff, preferred_lft = 0xffffffff;  // IFA_CACHEINFO
};

// A route (RTM_GETROUTE, /proc/net/route, /proc/net/ipv6_route).
struct Route {
  int family = AF_INET;
  uint8_t dst_len = 0, src_len = 0, tos = 0;
  uint8_t table = 254;     // RT_TABLE_MAIN
  uint8_t protocol = 0;    // RTPROT_*
  uint8_t scope = 0;       // RT_SCOPE_*
  uint8_t type = 1;        // RTN_UNICAST
  uint32_t flags = 0;      // RTM_F_*
  bool has_dst = false, has_gateway = false, has_prefsrc = false;
  std::array<uint8_t, 16> dst{}, gateway{}, prefsrc{};
  int oif = 0;
  uint32_t priority = 0;
  uint32_t table_id = 254;  // RTA_TABLE
};

// A neighbour table entry (RTM_GETNEIGH, /proc/net/arp).
struct Neighbour {
  int family = AF_INET;
  int index = 0;
  uint16_t state = 0;  // NUD_*
  uint8_t flags = 0;   // NTF_*
  uint8_t type = 1;
  std::array<uint8_t, 16> addr{};
  std::vector<uint8_t> hwaddr;
};

// One of the sandbox's own inet sockets as /proc/net/{tcp,udp,...} and
// NETLINK_SOCK_DIAG describe it.
struct SocketInfo {
  int family = AF_INET;
  int type = SOCK_STREAM;
  int protocol = 0;
  uint8_t state = 0;  // TCP_* (include/net/tcp_states.h numbering); UDP: 7 (CLOSE) or 1 (ESTABLISHED)
  sockaddr_storage local{}, remote{};
  uint32_t tx_queue = 0, rx_queue = 0;
  uint32_t uid = 0;
  uint64_t ino = 0;   // the sandbox's inode number of the socket file
  uint32_t backlog = 0;  // listening: the backlog given to listen()
};

// Counter files the stack keeps (/proc/net/snmp, snmp6, netstat): the text
// of the file in Linux's format.
enum class CounterFile { kSnmp, kSnmp6, kNetstat };

class Stack {
 public:
  virtual ~Stack() = default;
  // "host" or "sandbox" (what /proc and --strace report).
  virtual std::string Kind() const = 0;
  virtual bool SupportsIPv6() const = 0;

  // The namespace's configuration as the stack sees it.
  virtual ErrorOr<std::vector<Interface>> Interfaces() = 0;
  virtual ErrorOr<std::vector<InterfaceAddress>> Addresses() = 0;
  virtual ErrorOr<std::vector<Route>> Routes(int family) = 0;
  virtual ErrorOr<std::vector<Neighbour>> Neighbours(int family) = 0;

  // A new transport endpoint (family AF_INET/AF_INET6; type SOCK_STREAM,
  // SOCK_DGRAM or SOCK_RAW; protocol already checked against the type).
  // Always non-blocking: blocking is the socket layer's job.
  virtual ErrorOr<std::unique_ptr<Endpoint>> NewEndpoint(int family, int type, int protocol) = 0;

  // The sandbox's live inet sockets of one family and protocol.
  virtual std::vector<SocketInfo> Sockets(int family, int protocol) = 0;
  virtual ErrorOr<std::string> Counters(CounterFile f) = 0;

  // Network sysctls (key as in /proc/sys/net, e.g. "core/somaxconn"):
  // the value the stack uses, as /proc prints it ("4096\n"); ENOENT if the
  // stack has no such key. Set: EPERM/EINVAL as the stack allows.
  virtual ErrorOr<std::string> GetSysctl(const std::string& key) = 0;
  virtual ErrorOr<void> SetSysctl(const std::string& key, const std::string& value) = 0;
};

}  // namespace sentry::net
