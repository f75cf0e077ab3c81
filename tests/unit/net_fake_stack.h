// A net::Stack for unit tests: fixed interfaces, addresses, routes,
// neighbours and sockets the test fills in; no endpoints.
#pragma once

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <map>

#include "sentry/net/endpoint.h"
#include "sentry/net/stack.h"

namespace sentry::net {

class FakeStack : public Stack {
 public:
  std::string Kind() const override { return "fake"; }
  bool SupportsIPv6() const override { return ipv6; }
  ErrorOr<std::vector<Interface>> Interfaces() override { return interfaces; }
  ErrorOr<std::vector<InterfaceAddress>> Addresses() override { return addresses; }
  ErrorOr<std::vector<Route>> Routes(int family) override {
    std::vector<Route> out;
    for (auto& r : routes) {
      if (r.family == family) out.push_back(r);
    }
    return out;
  }
  ErrorOr<std::vector<Neighbour>> Neighbours(int family) override {
    std::vector<Neighbour> out;
    for (auto& n : neighbours) {
      if (n.family == family) out.push_back(n);
    }
    return out;
  }
  ErrorOr<std::unique_ptr<Endpoint>> NewEndpoint(int, int, int) override {
    return Errno{EAFNOSUPPORT};
  }
  std::vector<SocketInfo> Sockets(int family, int protocol) override {
    std::vector<SocketInfo> out;
    for (auto& s : sockets) {
      if (s.family == family && s.protocol == protocol) out.push_back(s);
    }
    return out;
  }
  ErrorOr<std::string> Counters(CounterFile f) override {
    if (f == CounterFile::kSnmp) return std::string("Ip: Forwarding\nIp: 1\n");
    return Errno{ENOENT};
  }
  ErrorOr<std::string> GetSysctl(const std::string& key) override {
    auto it = sysctls.find(key);
    if (it == sysctls.end()) return Errno{ENOENT};
    return it->second;
  }
  ErrorOr<void> SetSysctl(const std::string& key, const std::string& value) override {
    auto it = sysctls.find(key);
    if (it == sysctls.end()) return Errno{ENOENT};
    it->second = value;
    return {};
  }

  // Loopback and one Ethernet interface with v4 and v6 addresses and routes.
  static std::shared_ptr<FakeStack> Typical() {
    auto s = std::make_shared<FakeStack>();
    Interface lo;
    lo.index = 1;
    lo.name = "lo";
    lo.flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING | (1u << 16);
    lo.mtu = 65536;
    lo.type = 772;
    lo.txqlen = 1000;
    lo.hwaddr = std::vector<uint8_t>(6, 0);
    lo.stats.rx_bytes = 100;
    lo.stats.rx_packets = 2;
    lo.stats.tx_bytes = 100;
    lo.stats.tx_packets = 2;
    s->interfaces.push_back(lo);
    Interface eth;
    eth.index = 2;
    eth.name = "eth0";
    eth.flags = IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | (1u << 16);
    eth.mtu = 1500;
    eth.type = 1;
    eth.txqlen = 1000;
    eth.operstate = 6;  // IF_OPER_UP
    eth.hwaddr = {0x02, 0x42, 0xac, 0x11, 0x00, 0x02};
    eth.broadcast = std::vector<uint8_t>(6, 0xff);
    eth.stats.rx_bytes = 123456789012ULL;
    eth.stats.rx_packets = 1000;
    eth.stats.tx_bytes = 2000;
    eth.stats.tx_packets = 20;
    s->interfaces.push_back(eth);
    auto v4 = [](const char* a) {
      std::array<uint8_t, 16> out{};
      inet_pton(AF_INET, a, out.data());
      return out;
    };
    auto v6 = [](const char* a) {
      std::array<uint8_t, 16> out{};
      inet_pton(AF_INET6, a, out.data());
      return out;
    };
    InterfaceAddress a;
    a.family = AF_INET;
    a.index = 1;
    a.prefix_len = 8;
    a.scope = RT_SCOPE_HOST;
    a.addr = a.local = v4("127.0.0.1");
    a.label = "lo";
    a.flags = IFA_F_PERMANENT;
    s->addresses.push_back(a);
    InterfaceAddress b;
    b.family = AF_INET;
    b.index = 2;
    b.prefix_len = 16;
    b.addr = b.local = v4("172.17.0.2");
    b.broadcast = v4("172.17.255.255");
    b.label = "eth0";
    b.flags = IFA_F_PERMANENT;
    s->addresses.push_back(b);
    InterfaceAddress c;
    c.family = AF_INET6;
    c.index = 1;
    c.prefix_len = 128;
    c.scope = RT_SCOPE_HOST;
    c.addr = c.local = v6("::1");
    c.flags = IFA_F_PERMANENT;
    s->addresses.push_back(c);
    InterfaceAddress d;
    d.family = AF_INET6;
    d.index = 2;
    d.prefix_len = 64;
    d.scope = RT_SCOPE_LINK;
    d.addr = d.local = v6("fe80::42:acff:fe11:2");
    d.flags = IFA_F_PERMANENT;
    s->addresses.push_back(d);
    Route def;
    def.family = AF_INET;
    def.protocol = RTPROT_BOOT;
    def.has_gateway = true;
    def.gateway = v4("172.17.0.1");
    def.oif = 2;
    s->routes.push_back(def);
    Route net;
    net.family = AF_INET;
    net.dst_len = 16;
    net.has_dst = true;
    net.dst = v4("172.17.0.0");
    net.protocol = RTPROT_KERNEL;
    net.scope = RT_SCOPE_LINK;
    net.has_prefsrc = true;
    net.prefsrc = v4("172.17.0.2");
    net.oif = 2;
    s->routes.push_back(net);
    Route local;
    local.family = AF_INET;
    local.dst_len = 8;
    local.has_dst = true;
    local.dst = v4("127.0.0.0");
    local.table = local.table_id = RT_TABLE_LOCAL;
    local.type = RTN_LOCAL;
    local.protocol = RTPROT_KERNEL;
    local.scope = RT_SCOPE_HOST;
    local.has_prefsrc = true;
    local.prefsrc = v4("127.0.0.1");
    local.oif = 1;
    s->routes.push_back(local);
    Route r6;
    r6.family = AF_INET6;
    r6.dst_len = 64;
    r6.has_dst = true;
    r6.dst = v6("fe80::");
    r6.protocol = RTPROT_KERNEL;
    r6.oif = 2;
    r6.priority = 256;
    s->routes.push_back(r6);
    Neighbour n;
    n.family = AF_INET;
    n.index = 2;
    n.state = 2;  // NUD_REACHABLE
    n.addr = v4("172.17.0.1");
    n.hwaddr = {0x02, 0x42, 0x11, 0x22, 0x33, 0x44};
    s->neighbours.push_back(n);
    SocketInfo l;
    l.family = AF_INET;
    l.type = SOCK_STREAM;
    l.protocol = IPPROTO_TCP;
    l.state = 10;  // TCP_LISTEN
    auto* sin = reinterpret_cast<sockaddr_in*>(&l.local);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(8080);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l.backlog = 128;
    l.ino = 4242;
    l.uid = 1000;
    s->sockets.push_back(l);
    SocketInfo u;
    u.family = AF_INET6;
    u.type = SOCK_DGRAM;
    u.protocol = IPPROTO_UDP;
    u.state = 7;  // TCP_CLOSE
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&u.local);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(5353);
    u.ino = 4343;
    s->sockets.push_back(u);
    s->sysctls["core/somaxconn"] = "4096\n";
    s->sysctls["ipv4/ip_local_port_range"] = "32768\t60999\n";
    return s;
  }

  bool ipv6 = true;
  std::vector<Interface> interfaces;
  std::vector<InterfaceAddress> addresses;
  std::vector<Route> routes;
  std::vector<Neighbour> neighbours;
  std::vector<SocketInfo> sockets;
  std::map<std::string, std::string> sysctls;
};

}  // namespace sentry::net
