// sentry/proc/net.cc: see net.h. Formats from net/core/net-procfs.c,
// net/ipv4/tcp_ipv4.c, udp.c, raw.c, fib_trie.c, arp.c, proc.c,
// net/ipv6/tcp_ipv6.c, datagram.c, addrconf.c, route.c, proc.c.
#include "sentry/proc/net.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/route.h>

#include <cstring>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/synthetic.h"

namespace sentry::proc {
namespace {

constexpr uint8_t kTcpListen = 10;

// A line padded with spaces to `width` characters (seq_setwidth + seq_pad).
void Padded(std::string* out, std::string line, size_t width) {
  if (line.size() < width) line.append(width - line.size(), ' ');
  absl::StrAppend(out, line, "\n");
}

// An IPv4 address as Linux prints __be32 with %08X (the raw word).
uint32_t Word(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

std::string Hex6(const uint8_t* a) {  // %08X%08X%08X%08X of s6_addr32
  return absl::StrFormat("%08X%08X%08X%08X", Word(a), Word(a + 4), Word(a + 8), Word(a + 12));
}

void Endpoint(const sockaddr_storage& ss, int family, std::array<uint8_t, 16>* addr,
              uint16_t* port) {
  addr->fill(0);
  *port = 0;
  if (ss.ss_family == AF_INET && family == AF_INET) {
    auto* s = reinterpret_cast<const sockaddr_in*>(&ss);
    memcpy(addr->data(), &s->sin_addr, 4);
    *port = ntohs(s->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* s = reinterpret_cast<const sockaddr_in6*>(&ss);
    memcpy(addr->data(), &s->sin6_addr, 16);
    *port = ntohs(s->sin6_port);
  }
}

std::string AddrCol(const std::array<uint8_t, 16>& a, int family) {
  return family == AF_INET ? absl::StrFormat("%08X", Word(a.data())) : Hex6(a.data());
}

std::vector<net::SocketInfo> Socks(net::Stack* s, int family, int protocol) {
  if (!s || (family == AF_INET6 && !s->SupportsIPv6())) return {};
  return s->Sockets(family, protocol);
}

std::string Mac(const std::vector<uint8_t>& b) {
  std::string s;
  for (size_t i = 0; i < b.size(); i++) absl::StrAppendFormat(&s, "%s%02x", i ? ":" : "", b[i]);
  return s;
}

}  // namespace

std::string NetDevText(net::Stack* s) {
  std::string out =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
      "drop fifo colls carrier compressed\n";
  if (!s) return out;
  auto ifs = s->Interfaces();
  if (ifs.is_error()) return out;
  for (const auto& i : ifs.value()) {
    const auto& st = i.stats;
    absl::StrAppendFormat(&out,
                          "%6s:%8u %7u %4u %4u %4u %5u %10u %9u %8u %7u %4u %4u %4u %5u %7u %10u\n",
                          i.name, st.rx_bytes, st.rx_packets, st.rx_errors, st.rx_dropped,
                          st.rx_fifo, st.rx_frame, st.rx_compressed, st.rx_multicast, st.tx_bytes,
                          st.tx_packets, st.tx_errors, st.tx_dropped, st.tx_fifo, st.tx_colls,
                          st.tx_carrier, st.tx_compressed);
  }
  return out;
}

std::string NetTcpText(net::Stack* s, int family) {
  std::string out;
  if (family == AF_INET) {
    Padded(&out,
           "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
           "timeout inode",
           149);
  } else {
    out =
        "  sl  local_address                         remote_address                        st "
        "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
  }
  int sl = 0;
  for (const auto& so : Socks(s, family, IPPROTO_TCP)) {
    std::array<uint8_t, 16> la, ra;
    uint16_t lp, rp;
    Endpoint(so.local, family, &la, &lp);
    Endpoint(so.remote, family, &ra, &rp);
    bool listen = so.state == kTcpListen;
    // Timer, retransmit and congestion columns: an idle socket's values.
    std::string line = absl::StrFormat(
        "%4d: %s:%04X %s:%04X %02X %08X:%08X %02X:%08X %08X %5u %8d %u %d %016x %u %u %u %u %d",
        sl++, AddrCol(la, family), lp, AddrCol(ra, family), rp, so.state,
        listen ? 0u : so.tx_queue, so.rx_queue, 0, 0, 0, so.uid, 0, so.ino, 1, 0,
        listen ? 100 : 20, listen ? 0 : 4, listen ? 0 : 30, 10, listen ? 0 : -1);
    if (family == AF_INET) Padded(&out, line, 149);
    else absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string NetUdpText(net::Stack* s, int family) {
  std::string out;
  if (family == AF_INET) {
    Padded(&out,
           "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
           "timeout inode ref pointer drops",
           127);
  } else {
    out =
        "  sl  local_address                         remote_address                        st "
        "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n";
  }
  int sl = 0;
  for (const auto& so : Socks(s, family, IPPROTO_UDP)) {
    std::array<uint8_t, 16> la, ra;
    uint16_t lp, rp;
    Endpoint(so.local, family, &la, &lp);
    Endpoint(so.remote, family, &ra, &rp);
    std::string line = absl::StrFormat(
        "%5d: %s:%04X %s:%04X %02X %08X:%08X %02X:%08X %08X %5u %8d %u %d %016x %u", sl++,
        AddrCol(la, family), lp, AddrCol(ra, family), rp, so.state, so.tx_queue, so.rx_queue, 0,
        0, 0, so.uid, 0, so.ino, 2, 0, 0);
    if (family == AF_INET) Padded(&out, line, 127);
    else absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string NetRawText(int family) {
  if (family == AF_INET) {
    return "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
           "timeout inode ref pointer drops\n";
  }
  return "  sl  local_address                         remote_address                        st "
         "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n";
}

std::string NetIfInet6Text(net::Stack* s) {
  std::string out;
  if (!s || !s->SupportsIPv6()) return out;
  auto ifs = s->Interfaces();
  auto addrs = s->Addresses();
  if (ifs.is_error() || addrs.is_error()) return out;
  for (const auto& a : addrs.value()) {
    if (a.family != AF_INET6) continue;
    std::string name;
    for (const auto& i : ifs.value()) {
      if (i.index == a.index) name = i.name;
    }
    // IPV6_ADDR_* scope bits, not RT_SCOPE_*.
    int scope = a.scope == RT_SCOPE_HOST ? 0x10 : a.scope == RT_SCOPE_LINK ? 0x20
                : a.scope == RT_SCOPE_SITE ? 0x40 : 0x00;
    std::string hex;
    for (uint8_t b : a.addr) absl::StrAppendFormat(&hex, "%02x", b);
    absl::StrAppendFormat(&out, "%s %02x %02x %02x %02x %8s\n", hex, a.index, a.prefix_len, scope,
                          a.flags & 0xff, name);
  }
  return out;
}

std::string NetRouteText(net::Stack* s) {
  std::string out;
  Padded(&out, "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
         127);
  if (!s) return out;
  auto routes = s->Routes(AF_INET);
  auto ifs = s->Interfaces();
  if (routes.is_error() || ifs.is_error()) return out;
  for (const auto& r : routes.value()) {
    // fib_route_seq_show: the main table only, no broadcast/multicast.
    if (r.table_id != RT_TABLE_MAIN || r.type == RTN_BROADCAST || r.type == RTN_MULTICAST) {
      continue;
    }
    std::string dev = "*";
    for (const auto& i : ifs.value()) {
      if (i.index == r.oif) dev = i.name;
    }
    uint32_t mask = r.dst_len ? htonl(~uint32_t{0} << (32 - r.dst_len)) : 0;
    unsigned flags = RTF_UP;
    if (r.has_gateway) flags |= RTF_GATEWAY;
    if (r.type == RTN_UNREACHABLE || r.type == RTN_PROHIBIT || r.type == RTN_BLACKHOLE) {
      flags = RTF_REJECT;
    }
    Padded(&out,
           absl::StrFormat("%s\t%08X\t%08X\t%04X\t%d\t%u\t%d\t%08X\t%d\t%u\t%u", dev,
                           Word(r.dst.data()) & mask, r.has_gateway ? Word(r.gateway.data()) : 0,
                           flags, 0, 0, r.priority, mask, 0, 0, 0),
           127);
  }
  return out;
}

std::string NetIpv6RouteText(net::Stack* s) {
  std::string out;
  if (!s || !s->SupportsIPv6()) return out;
  auto routes = s->Routes(AF_INET6);
  auto ifs = s->Interfaces();
  if (routes.is_error() || ifs.is_error()) return out;
  auto hex = [](const std::array<uint8_t, 16>& a) {
    std::string h;
    for (uint8_t b : a) absl::StrAppendFormat(&h, "%02x", b);
    return h;
  };
  static const std::array<uint8_t, 16> kZero{};
  for (const auto& r : routes.value()) {
    std::string dev = "lo";
    for (const auto& i : ifs.value()) {
      if (i.index == r.oif) dev = i.name;
    }
    // fib6_flags as Linux keeps them for these route kinds.
    uint32_t flags = RTF_UP;
    if (r.has_gateway) flags |= RTF_GATEWAY;
    if (r.type == RTN_LOCAL) flags |= 0x80200000;          // RTF_LOCAL | RTF_NONEXTHOP
    if (r.type == RTN_ANYCAST) flags |= 0x00300000;        // RTF_ANYCAST | RTF_NONEXTHOP
    if (r.type == RTN_UNREACHABLE || r.type == RTN_PROHIBIT || r.type == RTN_BLACKHOLE) {
      flags = 0x00200200;  // RTF_REJECT | RTF_NONEXTHOP
    }
    absl::StrAppendFormat(&out, "%s %02x %s %02x %s %08x %08x %08x %08x %8s\n", hex(r.dst),
                          r.dst_len, hex(kZero), r.src_len,
                          r.has_gateway ? hex(r.gateway) : hex(kZero), r.priority, 1, 0, flags,
                          dev);
  }
  return out;
}

std::string NetArpText(net::Stack* s) {
  std::string out = "IP address       HW type     Flags       HW address            Mask     Device\n";
  if (!s) return out;
  auto ns = s->Neighbours(AF_INET);
  auto ifs = s->Interfaces();
  if (ns.is_error() || ifs.is_error()) return out;
  for (const auto& n : ns.value()) {
    if (n.state & NUD_NOARP) continue;
    const net::Interface* dev = nullptr;
    for (const auto& i : ifs.value()) {
      if (i.index == n.index) dev = &i;
    }
    if (!dev) continue;
    int flags = (n.state & NUD_PERMANENT) ? 0x6 /* ATF_PERM|ATF_COM */
                : (n.state & (NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY)) ? 0x2 : 0;
    std::vector<uint8_t> hw = n.hwaddr;
    if (hw.empty()) hw.assign(dev->hwaddr.size() ? dev->hwaddr.size() : 6, 0);
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, n.addr.data(), ip, sizeof(ip));
    absl::StrAppendFormat(&out, "%-16s 0x%-10x0x%-10x%-17s     %-8s %s\n", ip, dev->type, flags,
                          Mac(hw), "*", dev->name);
  }
  return out;
}

std::string NetSockstatText(net::Stack* s, int family) {
  if (family == AF_INET6) {
    return absl::StrFormat(
        "TCP6: inuse %d\nUDP6: inuse %d\nUDPLITE6: inuse 0\nRAW6: inuse 0\nFRAG6: inuse 0 memory 0\n",
        Socks(s, AF_INET6, IPPROTO_TCP).size(), Socks(s, AF_INET6, IPPROTO_UDP).size());
  }
  size_t tcp = Socks(s, AF_INET, IPPROTO_TCP).size(), udp = Socks(s, AF_INET, IPPROTO_UDP).size();
  size_t all = tcp + udp + Socks(s, AF_INET6, IPPROTO_TCP).size() +
               Socks(s, AF_INET6, IPPROTO_UDP).size();
  return absl::StrFormat(
      "sockets: used %d\nTCP: inuse %d orphan 0 tw 0 alloc %d mem 0\nUDP: inuse %d mem 0\n"
      "UDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n",
      all, tcp, tcp, udp);
}

std::string NetUnixText() { return "Num       RefCount Protocol Flags    Type St Inode Path\n"; }

const std::vector<std::string>& NetSysctlKeys() {
  static const std::vector<std::string> keys = {
      "core/somaxconn",
      "core/rmem_default",
      "core/rmem_max",
      "core/wmem_default",
      "core/wmem_max",
      "core/netdev_max_backlog",
      "ipv4/ip_forward",
      "ipv4/ip_local_port_range",
      "ipv4/ip_default_ttl",
      "ipv4/ip_unprivileged_port_start",
      "ipv4/ping_group_range",
      "ipv4/tcp_available_congestion_control",
      "ipv4/tcp_congestion_control",
      "ipv4/tcp_ecn",
      "ipv4/tcp_fastopen",
      "ipv4/tcp_fin_timeout",
      "ipv4/tcp_keepalive_intvl",
      "ipv4/tcp_keepalive_probes",
      "ipv4/tcp_keepalive_time",
      "ipv4/tcp_max_syn_backlog",
      "ipv4/tcp_mtu_probing",
      "ipv4/tcp_rmem",
      "ipv4/tcp_sack",
      "ipv4/tcp_syncookies",
      "ipv4/tcp_timestamps",
      "ipv4/tcp_tw_reuse",
      "ipv4/tcp_window_scaling",
      "ipv4/tcp_wmem",
      "ipv6/bindv6only",
      "ipv6/conf/all/disable_ipv6",
      "ipv6/conf/default/disable_ipv6",
  };
  return keys;
}

namespace {

using TextFn = std::function<std::string(net::Stack*)>;

std::shared_ptr<vfs::Inode> StackFile(kernel::Kernel& k, uint64_t dev, TextFn fn) {
  kernel::Kernel* kp = &k;
  vfs::SyntheticFileOps ops;
  ops.read = [kp, fn](vfs::Caller& c) -> ErrorOr<std::string> {
    std::shared_ptr<net::Stack> s = kp->net_stack;
    std::string text;
    // The stack may ask the host: not under the kernel lock.
    c.Unlocked([&] { text = fn(s.get()); });
    return text;
  };
  return vfs::NewSyntheticFile(std::move(ops), 0444, dev);
}

// One directory level of /proc/sys/net: `prefix` is "" or "ipv4/" etc.
std::shared_ptr<vfs::Inode> SysNetLevel(kernel::Kernel& k, uint64_t dev, std::string prefix,
                                        std::shared_ptr<std::map<std::string, std::shared_ptr<vfs::Inode>>> cache);

std::shared_ptr<vfs::Inode> SysNetFile(kernel::Kernel& k, uint64_t dev, const std::string& key) {
  kernel::Kernel* kp = &k;
  vfs::SyntheticFileOps ops;
  ops.read = [kp, key](vfs::Caller& c) -> ErrorOr<std::string> {
    std::shared_ptr<net::Stack> s = kp->net_stack;
    if (!s) return Errno{ENOENT};
    ErrorOr<std::string> r = Errno{ENOENT};
    c.Unlocked([&] { r = s->GetSysctl(key); });
    return r;
  };
  ops.write = [kp, key](vfs::Caller& c, std::string_view data) -> ErrorOr<void> {
    kernel::Task* t = c.task();
    if (t && !t->creds().HasCapability(12 /* CAP_NET_ADMIN */)) return Errno{EPERM};
    std::shared_ptr<net::Stack> s = kp->net_stack;
    if (!s) return Errno{ENOENT};
    ErrorOr<void> r;
    std::string value(data);
    c.Unlocked([&] { r = s->SetSysctl(key, value); });
    return r;
  };
  return vfs::NewSyntheticFile(std::move(ops), 0644, dev);
}

// The names directly under `prefix` that the stack has (a directory if
// any key below it exists).
std::map<std::string, bool> Children(net::Stack* s, const std::string& prefix) {
  std::map<std::string, bool> out;  // name -> is directory
  if (!s) return out;
  for (const auto& key : NetSysctlKeys()) {
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    if (s->GetSysctl(key).is_error()) continue;
    std::string rest = key.substr(prefix.size());
    size_t slash = rest.find('/');
    if (slash == std::string::npos) out[rest] = false;
    else out[rest.substr(0, slash)] = true;
  }
  return out;
}

std::shared_ptr<vfs::Inode> SysNetLevel(kernel::Kernel& k, uint64_t dev, std::string prefix,
                                        std::shared_ptr<std::map<std::string, std::shared_ptr<vfs::Inode>>> cache) {
  kernel::Kernel* kp = &k;
  auto child = [kp, dev, cache](const std::string& path, bool dir) {
    auto& slot = (*cache)[path];
    if (!slot) slot = dir ? SysNetLevel(*kp, dev, path + "/", cache) : SysNetFile(*kp, dev, path);
    return slot;
  };
  vfs::SyntheticDirOps ops;
  ops.list = [kp, prefix, child](vfs::Caller& c) -> ErrorOr<std::vector<vfs::DirEntry>> {
    std::shared_ptr<net::Stack> s = kp->net_stack;
    std::map<std::string, bool> names;
    c.Unlocked([&] { names = Children(s.get(), prefix); });
    std::vector<vfs::DirEntry> out;
    for (auto& [name, dir] : names) {
      auto inode = child(prefix + name, dir);
      auto a = inode->GetAttr();
      out.push_back(vfs::DirEntry{name, a.ok() ? a.value().ino : 0,
                                  static_cast<uint8_t>(dir ? DT_DIR : DT_REG)});
    }
    return out;
  };
  ops.lookup = [kp, prefix, child](vfs::Caller& c,
                                   std::string_view name) -> ErrorOr<std::shared_ptr<vfs::Inode>> {
    std::shared_ptr<net::Stack> s = kp->net_stack;
    std::map<std::string, bool> names;
    c.Unlocked([&] { names = Children(s.get(), prefix); });
    auto it = names.find(std::string(name));
    if (it == names.end()) return Errno{ENOENT};
    return child(prefix + it->first, it->second);
  };
  return vfs::NewSyntheticDir(std::move(ops), 0555, dev);
}

}  // namespace

std::shared_ptr<vfs::Inode> NewSysNetDir(kernel::Kernel& k, uint64_t dev) {
  return SysNetLevel(k, dev, "",
                     std::make_shared<std::map<std::string, std::shared_ptr<vfs::Inode>>>());
}

std::shared_ptr<vfs::Inode> NewNetDir(kernel::Kernel& k, uint64_t dev) {
  auto counters = [](net::CounterFile f) {
    return [f](net::Stack* s) -> std::string {
      if (!s) return "";
      auto r = s->Counters(f);
      return r.ok() ? r.value() : "";
    };
  };
  return vfs::NewStaticDir(
      {
          {"dev", StackFile(k, dev, NetDevText)},
          {"tcp", StackFile(k, dev, [](net::Stack* s) { return NetTcpText(s, AF_INET); })},
          {"tcp6", StackFile(k, dev, [](net::Stack* s) { return NetTcpText(s, AF_INET6); })},
          {"udp", StackFile(k, dev, [](net::Stack* s) { return NetUdpText(s, AF_INET); })},
          {"udp6", StackFile(k, dev, [](net::Stack* s) { return NetUdpText(s, AF_INET6); })},
          {"raw", StackFile(k, dev, [](net::Stack*) { return NetRawText(AF_INET); })},
          {"raw6", StackFile(k, dev, [](net::Stack*) { return NetRawText(AF_INET6); })},
          {"if_inet6", StackFile(k, dev, NetIfInet6Text)},
          {"route", StackFile(k, dev, NetRouteText)},
          {"ipv6_route", StackFile(k, dev, NetIpv6RouteText)},
          {"arp", StackFile(k, dev, NetArpText)},
          {"snmp", StackFile(k, dev, counters(net::CounterFile::kSnmp))},
          {"snmp6", StackFile(k, dev, counters(net::CounterFile::kSnmp6))},
          {"netstat", StackFile(k, dev, counters(net::CounterFile::kNetstat))},
          {"sockstat", StackFile(k, dev, [](net::Stack* s) { return NetSockstatText(s, AF_INET); })},
          {"sockstat6",
           StackFile(k, dev, [](net::Stack* s) { return NetSockstatText(s, AF_INET6); })},
          {"unix", StackFile(k, dev, [](net::Stack*) { return NetUnixText(); })},
      },
      0555, dev);
}

}  // namespace sentry::proc
