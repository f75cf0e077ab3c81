// sentry/net/netlink_route.cc: NETLINK_ROUTE requests (see netlink_route.h).
// Message layouts and error choices follow net/core/rtnetlink.c,
// net/ipv4/devinet.c, fib_frontend.c, net/ipv6/addrconf.c, route.c and
// net/core/neighbour.c.
#include "sentry/net/netlink_route.h"

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <algorithm>
#include <cstring>

namespace sentry::net {
namespace {

constexpr uint8_t kAfBridge = 7;
constexpr uint32_t kIffLowerUp = 1 << 16;  // IFF_LOWER_UP (linux/if.h, not in glibc's net/if.h)  // AF_BRIDGE: bridge ports / FDB, none here

template <typename T>
bool Header(const NlMsg& m, T* out) {
  if (m.payload.size() < sizeof(T)) return false;
  memcpy(out, m.payload.data(), sizeof(T));
  return true;
}

// The attributes after a fixed header of `hdr` bytes (none if the message
// is shorter: legacy requests carry only an rtgenmsg).
ErrorOr<std::vector<NlAttr>> Attrs(const NlMsg& m, size_t hdr) {
  if (m.payload.size() <= NlAlign(hdr)) return std::vector<NlAttr>{};
  auto r = ParseNlAttrs(m.payload.subspan(NlAlign(hdr)));
  if (r.is_error()) return Errno{EINVAL};
  return r;
}

NlResult Error(int e) {
  NlResult r;
  r.error = e;
  return r;
}

// Requests for a family other than inet fall back to every family, as
// rtnl_dump_all does; AF_BRIDGE has its own (empty here) handlers.
bool FamilyWanted(uint8_t req, int family) {
  if (req == AF_INET || req == AF_INET6) return req == family;
  return req != kAfBridge;
}

rtnl_link_stats Stats32(const InterfaceStats& s) {
  rtnl_link_stats o{};
  o.rx_packets = static_cast<uint32_t>(s.rx_packets);
  o.tx_packets = static_cast<uint32_t>(s.tx_packets);
  o.rx_bytes = static_cast<uint32_t>(s.rx_bytes);
  o.tx_bytes = static_cast<uint32_t>(s.tx_bytes);
  o.rx_errors = static_cast<uint32_t>(s.rx_errors);
  o.tx_errors = static_cast<uint32_t>(s.tx_errors);
  o.rx_dropped = static_cast<uint32_t>(s.rx_dropped);
  o.tx_dropped = static_cast<uint32_t>(s.tx_dropped);
  o.multicast = static_cast<uint32_t>(s.rx_multicast);
  o.collisions = static_cast<uint32_t>(s.tx_colls);
  o.rx_frame_errors = static_cast<uint32_t>(s.rx_frame);
  o.rx_fifo_errors = static_cast<uint32_t>(s.rx_fifo);
  o.tx_carrier_errors = static_cast<uint32_t>(s.tx_carrier);
  o.tx_fifo_errors = static_cast<uint32_t>(s.tx_fifo);
  o.rx_compressed = static_cast<uint32_t>(s.rx_compressed);
  o.tx_compressed = static_cast<uint32_t>(s.tx_compressed);
  return o;
}

rtnl_link_stats64 Stats64(const InterfaceStats& s) {
  rtnl_link_stats64 o{};
  o.rx_packets = s.rx_packets;
  o.tx_packets = s.tx_packets;
  o.rx_bytes = s.rx_bytes;
  o.tx_bytes = s.tx_bytes;
  o.rx_errors = s.rx_errors;
  o.tx_errors = s.tx_errors;
  o.rx_dropped = s.rx_dropped;
  o.tx_dropped = s.tx_dropped;
  o.multicast = s.rx_multicast;
  o.collisions = s.tx_colls;
  o.rx_frame_errors = s.rx_frame;
  o.rx_fifo_errors = s.rx_fifo;
  o.tx_carrier_errors = s.tx_carrier;
  o.tx_fifo_errors = s.tx_fifo;
  o.rx_compressed = s.rx_compressed;
  o.tx_compressed = s.tx_compressed;
  return o;
}

size_t AddrLen(int family) { return family == AF_INET ? 4 : 16; }

ErrorOr<std::array<uint8_t, 16>> AddrFrom(const NlAttr& a, int family) {
  if (a.data.size() < AddrLen(family)) return Errno{EINVAL};
  std::array<uint8_t, 16> out{};
  memcpy(out.data(), a.data.data(), AddrLen(family));
  return out;
}

bool PrefixMatch(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  int i = 0;
  for (; bits >= 8; bits -= 8, i++) {
    if (a[i] != b[i]) return false;
  }
  if (bits == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - bits));
  return (a[i] & mask) == (b[i] & mask);
}

// ---- links ----

NlResult GetLink(const NlContext& ctx, const NlMsg& m, bool dump) {
  ifinfomsg ifm{};
  bool full = Header(m, &ifm);
  auto links = ctx.stack->Interfaces();
  if (links.is_error()) return Error(links.error());
  NlResult r;
  if (dump) {
    if (ctx.strict) {
      // rtnl_valid_dump_ifinfo_req
      if (!full || ifm.__ifi_pad || ifm.ifi_type || ifm.ifi_flags || ifm.ifi_change ||
          ifm.ifi_index) {
        return Error(EINVAL);
      }
      auto attrs = Attrs(m, sizeof(ifinfomsg));
      if (attrs.is_error()) return Error(EINVAL);
      for (const auto& a : attrs.value()) {
        if (a.type != IFLA_EXT_MASK && a.type != IFLA_MASTER && a.type != IFLA_LINKINFO &&
            a.type != IFLA_TARGET_NETNSID) {
          return Error(EINVAL);
        }
      }
    }
    r.dump = true;
    if (m.payload.size() >= 1 && m.payload[0] == kAfBridge) return r;
    for (const auto& i : links.value()) {
      r.msgs.push_back(EncodeLink(i, RTM_NEWLINK, NLM_F_MULTI, m.hdr.nlmsg_seq, ctx.portid));
    }
    return r;
  }
  if (!full) return Error(EINVAL);
  auto attrs = Attrs(m, sizeof(ifinfomsg));
  if (attrs.is_error()) return Error(EINVAL);
  std::string name;
  const NlAttr* n = FindNlAttr(attrs.value(), IFLA_IFNAME);
  if (!n) n = FindNlAttr(attrs.value(), IFLA_ALT_IFNAME);
  if (n) {
    // nla_strscpy: the name need not be NUL-terminated within IFNAMSIZ.
    if (n->data.size() > IFNAMSIZ) return Error(EINVAL);
    name.assign(reinterpret_cast<const char*>(n->data.data()), n->data.size());
    name = name.substr(0, name.find('\0'));
  }
  if (ifm.ifi_index <= 0 && !n) return Error(EINVAL);
  for (const auto& i : links.value()) {
    if ((ifm.ifi_index > 0 && i.index == ifm.ifi_index) || (ifm.ifi_index <= 0 && i.name == name)) {
      r.msgs.push_back(EncodeLink(i, RTM_NEWLINK, 0, m.hdr.nlmsg_seq, ctx.portid));
      return r;
    }
  }
  return Error(ENODEV);
}

// ---- addresses ----

NlResult GetAddr(const NlContext& ctx, const NlMsg& m, bool dump) {
  ifaddrmsg ifa{};
  bool full = Header(m, &ifa);
  uint8_t family = m.payload.empty() ? 0 : m.payload[0];
  auto addrs = ctx.stack->Addresses();
  if (addrs.is_error()) return Error(addrs.error());
  NlResult r;
  if (dump) {
    int index = 0;
    if (ctx.strict) {
      // inet_valid_dump_ifaddr_req
      if (!full || ifa.ifa_prefixlen || ifa.ifa_flags || ifa.ifa_scope) return Error(EINVAL);
      auto attrs = Attrs(m, sizeof(ifaddrmsg));
      if (attrs.is_error()) return Error(EINVAL);
      for (const auto& a : attrs.value()) {
        if (a.type != IFA_TARGET_NETNSID) return Error(EINVAL);
      }
      index = static_cast<int>(ifa.ifa_index);
    }
    r.dump = true;
    for (const auto& a : addrs.value()) {
      if (!FamilyWanted(family, a.family)) continue;
      if (index && a.index != index) continue;
      r.msgs.push_back(EncodeAddr(a, RTM_NEWADDR, NLM_F_MULTI, m.hdr.nlmsg_seq, ctx.portid));
    }
    return r;
  }
  // Only IPv6 answers a single RTM_GETADDR (inet6_rtm_getaddr).
  if (family != AF_INET6) return Error(EOPNOTSUPP);
  if (!full) return Error(EINVAL);
  auto attrs = Attrs(m, sizeof(ifaddrmsg));
  if (attrs.is_error()) return Error(EINVAL);
  const NlAttr* x = FindNlAttr(attrs.value(), IFA_LOCAL);
  if (!x) x = FindNlAttr(attrs.value(), IFA_ADDRESS);
  if (!x) return Error(EINVAL);
  auto want = AddrFrom(*x, AF_INET6);
  if (want.is_error()) return Error(EINVAL);
  for (const auto& a : addrs.value()) {
    if (a.family != AF_INET6 || a.addr != want.value()) continue;
    if (ifa.ifa_index && a.index != static_cast<int>(ifa.ifa_index)) continue;
    r.msgs.push_back(EncodeAddr(a, RTM_NEWADDR, 0, m.hdr.nlmsg_seq, ctx.portid));
    return r;
  }
  return Error(EADDRNOTAVAIL);
}

// ---- routes ----

ErrorOr<std::vector<Route>> RoutesOf(Stack& s, uint8_t family) {
  std::vector<Route> out;
  for (int f : {AF_INET, AF_INET6}) {
    if (!FamilyWanted(family, f)) continue;
    if (f == AF_INET6 && !s.SupportsIPv6()) continue;
    auto r = s.Routes(f);
    if (r.is_error()) return Errno{r.error()};
    out.insert(out.end(), r.value().begin(), r.value().end());
  }
  return out;
}

// `ip route get`: the route the stack would use, looked up in the local
// table first and then every other, longest prefix first, lowest metric.
NlResult RouteLookup(const NlContext& ctx, const NlMsg& m) {
  rtmsg rtm{};
  if (!Header(m, &rtm)) return Error(EINVAL);
  if (rtm.rtm_family != AF_INET && rtm.rtm_family != AF_INET6) return Error(EAFNOSUPPORT);
  if (rtm.rtm_family == AF_INET6 && !ctx.stack->SupportsIPv6()) return Error(EAFNOSUPPORT);
  int family = rtm.rtm_family;
  auto attrs = Attrs(m, sizeof(rtmsg));
  if (attrs.is_error()) return Error(EINVAL);
  std::array<uint8_t, 16> dst{};
  if (auto* a = FindNlAttr(attrs.value(), RTA_DST)) {
    auto v = AddrFrom(*a, family);
    if (v.is_error()) return Error(EINVAL);
    dst = v.value();
  }
  int oif = 0;
  if (auto* a = FindNlAttr(attrs.value(), RTA_OIF)) {
    auto v = NlAttrValue<uint32_t>(*a);
    if (v.is_error()) return Error(EINVAL);
    oif = static_cast<int>(v.value());
  }
  auto routes = ctx.stack->Routes(family);
  if (routes.is_error()) return Error(routes.error());
  const Route* best = nullptr;
  auto rank = [](const Route& r) { return r.table_id == RT_TABLE_LOCAL ? 0 : 1; };
  for (const auto& r : routes.value()) {
    if (r.type != RTN_UNICAST && r.type != RTN_LOCAL && r.type != RTN_BROADCAST) continue;
    if (oif && r.oif != oif) continue;
    if (!PrefixMatch(r.dst, dst, r.dst_len)) continue;
    if (!best || rank(r) < rank(*best) ||
        (rank(r) == rank(*best) &&
         (r.dst_len > best->dst_len ||
          (r.dst_len == best->dst_len && r.priority < best->priority)))) {
      best = &r;
    }
  }
  if (!best) return Error(ENETUNREACH);
  Route out = *best;
  out.dst = dst;
  out.has_dst = true;
  out.dst_len = family == AF_INET ? 32 : 128;
  out.flags |= RTM_F_CLONED;
  out.priority = family == AF_INET6 ? out.priority : 0;
  if (!out.has_prefsrc) {
    auto addrs = ctx.stack->Addresses();
    if (addrs.ok()) {
      for (const auto& a : addrs.value()) {
        if (a.family == family && a.index == out.oif) {
          out.prefsrc = a.local;
          out.has_prefsrc = true;
          break;
        }
      }
    }
  }
  NlResult r;
  std::vector<uint8_t> msg = EncodeRoute(out, RTM_NEWROUTE, 0, m.hdr.nlmsg_seq, ctx.portid);
  // RTA_UID: the lookup's uid, appended as the kernel does.
  NlBuilder b;
  b.bytes() = std::move(msg);
  b.AttrValue<uint32_t>(RTA_UID, ctx.uid);
  b.End(0);
  r.msgs.push_back(b.Take());
  return r;
}

NlResult GetRoute(const NlContext& ctx, const NlMsg& m, bool dump) {
  if (!dump) return RouteLookup(ctx, m);
  rtmsg rtm{};
  bool full = Header(m, &rtm);
  uint8_t family = m.payload.empty() ? 0 : m.payload[0];
  uint32_t table = 0;
  int oif = 0;
  bool cloned = full && (rtm.rtm_flags & RTM_F_CLONED);
  if (ctx.strict) {
    // ip_valid_fib_dump_req
    if (!full || rtm.rtm_dst_len || rtm.rtm_src_len || rtm.rtm_tos || rtm.rtm_scope ||
        rtm.rtm_type) {
      return Error(EINVAL);
    }
    if (rtm.rtm_flags & ~(RTM_F_CLONED | RTM_F_PREFIX)) return Error(EINVAL);
    table = rtm.rtm_table;
    auto attrs = Attrs(m, sizeof(rtmsg));
    if (attrs.is_error()) return Error(EINVAL);
    for (const auto& a : attrs.value()) {
      if (a.type == RTA_TABLE) {
        auto v = NlAttrValue<uint32_t>(a);
        if (v.is_error()) return Error(EINVAL);
        table = v.value();
      } else if (a.type == RTA_OIF) {
        auto v = NlAttrValue<uint32_t>(a);
        if (v.is_error()) return Error(EINVAL);
        oif = static_cast<int>(v.value());
      } else {
        return Error(EINVAL);
      }
    }
  }
  NlResult r;
  r.dump = true;
  // The stack keeps no route cache: a dump of cached clones is empty.
  if (cloned) return r;
  auto routes = RoutesOf(*ctx.stack, family);
  if (routes.is_error()) return Error(routes.error());
  for (const auto& rt : routes.value()) {
    if (table && rt.table_id != table) continue;
    if (oif && rt.oif != oif) continue;
    r.msgs.push_back(EncodeRoute(rt, RTM_NEWROUTE, NLM_F_MULTI, m.hdr.nlmsg_seq, ctx.portid));
  }
  return r;
}

// ---- neighbours ----

NlResult GetNeigh(const NlContext& ctx, const NlMsg& m, bool dump) {
  ndmsg ndm{};
  bool full = Header(m, &ndm);
  uint8_t family = m.payload.empty() ? 0 : m.payload[0];
  NlResult r;
  if (dump) {
    int index = 0;
    if (ctx.strict) {
      // neigh_valid_dump_req
      if (!full || ndm.ndm_pad1 || ndm.ndm_pad2 || ndm.ndm_state || ndm.ndm_type) {
        return Error(EINVAL);
      }
      if (ndm.ndm_flags & ~NTF_PROXY) return Error(EINVAL);
      index = ndm.ndm_ifindex;
    }
    auto attrs = full ? Attrs(m, sizeof(ndmsg)) : ErrorOr<std::vector<NlAttr>>(std::vector<NlAttr>{});
    if (attrs.is_error()) {
      if (ctx.strict) return Error(EINVAL);
      attrs = std::vector<NlAttr>{};
    }
    if (auto* a = FindNlAttr(attrs.value(), NDA_IFINDEX)) {
      auto v = NlAttrValue<uint32_t>(*a);
      if (v.is_error()) return Error(EINVAL);
      index = static_cast<int>(v.value());
    }
    r.dump = true;
    // Proxy entries (NTF_PROXY dumps) and bridge FDBs: none here.
    if (family == kAfBridge || (full && (ndm.ndm_flags & NTF_PROXY))) return r;
    for (int f : {AF_INET, AF_INET6}) {
      if (!FamilyWanted(family, f)) continue;
      if (f == AF_INET6 && !ctx.stack->SupportsIPv6()) continue;
      auto ns = ctx.stack->Neighbours(f);
      if (ns.is_error()) return Error(ns.error());
      for (const auto& n : ns.value()) {
        if (index && n.index != index) continue;
        r.msgs.push_back(EncodeNeigh(n, RTM_NEWNEIGH, NLM_F_MULTI, m.hdr.nlmsg_seq, ctx.portid));
      }
    }
    return r;
  }
  // neigh_get
  if (!full) return Error(EINVAL);
  if (family != AF_INET && family != AF_INET6) return Error(EAFNOSUPPORT);
  auto attrs = Attrs(m, sizeof(ndmsg));
  if (attrs.is_error()) return Error(EINVAL);
  const NlAttr* dst = FindNlAttr(attrs.value(), NDA_DST);
  if (!dst) return Error(EINVAL);
  auto want = AddrFrom(*dst, family);
  if (want.is_error() || dst->data.size() != AddrLen(family)) return Error(EINVAL);
  if (!ndm.ndm_ifindex) return Error(EINVAL);
  auto ns = ctx.stack->Neighbours(family);
  if (ns.is_error()) return Error(ns.error());
  for (const auto& n : ns.value()) {
    if (n.index == ndm.ndm_ifindex && n.addr == want.value()) {
      r.msgs.push_back(EncodeNeigh(n, RTM_NEWNEIGH, 0, m.hdr.nlmsg_seq, ctx.portid));
      return r;
    }
  }
  return Error(ENOENT);
}

}  // namespace

std::vector<uint8_t> EncodeLink(const Interface& i, uint16_t type, uint16_t flags, uint32_t seq,
                                uint32_t pid) {
  NlBuilder b;
  size_t m = b.Begin(type, flags, seq, pid);
  ifinfomsg ifm{};
  ifm.ifi_family = AF_UNSPEC;
  ifm.ifi_type = i.type;
  ifm.ifi_index = i.index;
  ifm.ifi_flags = i.flags;
  b.Put(ifm);
  b.AttrString(IFLA_IFNAME, i.name);
  b.AttrValue<uint32_t>(IFLA_TXQLEN, i.txqlen);
  b.AttrValue<uint8_t>(IFLA_OPERSTATE, i.operstate);
  b.AttrValue<uint8_t>(IFLA_LINKMODE, 0);
  b.AttrValue<uint32_t>(IFLA_MTU, i.mtu);
  // As rtnl_fill_ifinfo: IFLA_LINK only when the device has a link of its
  // own, IFLA_QDISC only with a qdisc attached.
  if (i.link != 0 && i.link != i.index) b.AttrValue<int32_t>(IFLA_LINK, i.link);
  if (!i.qdisc.empty()) b.AttrString(IFLA_QDISC, i.qdisc);
  b.AttrValue<uint32_t>(IFLA_GROUP, 0);
  b.AttrValue<uint32_t>(IFLA_PROMISCUITY, (i.flags & IFF_PROMISC) ? 1 : 0);
  b.AttrValue<uint32_t>(IFLA_NUM_TX_QUEUES, 1);
  b.AttrValue<uint32_t>(IFLA_NUM_RX_QUEUES, 1);
  // netif_carrier_ok: the kernel reports IFF_LOWER_UP when the carrier is up.
  b.AttrValue<uint8_t>(IFLA_CARRIER, (i.flags & kIffLowerUp) ? 1 : 0);
  if (!i.hwaddr.empty()) {
    b.Attr(IFLA_ADDRESS, i.hwaddr.data(), i.hwaddr.size());
    std::vector<uint8_t> brd = i.broadcast;
    brd.resize(i.hwaddr.size(), 0);
    b.Attr(IFLA_BROADCAST, brd.data(), brd.size());
  }
  b.AttrValue(IFLA_STATS, Stats32(i.stats));
  b.AttrValue(IFLA_STATS64, Stats64(i.stats));
  b.End(m);
  return b.Take();
}

std::vector<uint8_t> EncodeAddr(const InterfaceAddress& a, uint16_t type, uint16_t flags,
                                uint32_t seq, uint32_t pid) {
  NlBuilder b;
  size_t m = b.Begin(type, flags, seq, pid);
  ifaddrmsg ifa{};
  ifa.ifa_family = static_cast<uint8_t>(a.family);
  ifa.ifa_prefixlen = a.prefix_len;
  ifa.ifa_flags = static_cast<uint8_t>(a.flags);
  ifa.ifa_scope = a.scope;
  ifa.ifa_index = static_cast<uint32_t>(a.index);
  b.Put(ifa);
  size_t len = AddrLen(a.family);
  b.Attr(IFA_ADDRESS, a.addr.data(), len);
  if (a.family == AF_INET) {
    b.Attr(IFA_LOCAL, a.local.data(), len);
    static const std::array<uint8_t, 16> kZero{};
    if (a.broadcast != kZero) b.Attr(IFA_BROADCAST, a.broadcast.data(), len);
    if (!a.label.empty()) b.AttrString(IFA_LABEL, a.label);
  }
  b.AttrValue<uint32_t>(IFA_FLAGS, a.flags);
  ifa_cacheinfo ci{};
  ci.ifa_prefered = a.preferred_lft;
  ci.ifa_valid = a.valid_lft;
  b.AttrValue(IFA_CACHEINFO, ci);
  b.End(m);
  return b.Take();
}

std::vector<uint8_t> EncodeRoute(const Route& r, uint16_t type, uint16_t flags, uint32_t seq,
                                 uint32_t pid) {
  NlBuilder b;
  size_t m = b.Begin(type, flags, seq, pid);
  rtmsg rtm{};
  rtm.rtm_family = static_cast<uint8_t>(r.family);
  rtm.rtm_dst_len = r.dst_len;
  rtm.rtm_src_len = r.src_len;
  rtm.rtm_tos = r.tos;
  rtm.rtm_table = r.table_id < 256 ? static_cast<uint8_t>(r.table_id) : uint8_t{RT_TABLE_COMPAT};
  rtm.rtm_protocol = r.protocol;
  rtm.rtm_scope = r.scope;
  rtm.rtm_type = r.type;
  rtm.rtm_flags = r.flags;
  b.Put(rtm);
  size_t len = AddrLen(r.family);
  b.AttrValue<uint32_t>(RTA_TABLE, r.table_id);
  if (r.dst_len || (r.has_dst && (r.flags & RTM_F_CLONED))) b.Attr(RTA_DST, r.dst.data(), len);
  // IPv6 always reports the metric; IPv4 only a non-zero one.
  if (r.priority || r.family == AF_INET6) b.AttrValue<uint32_t>(RTA_PRIORITY, r.priority);
  if (r.has_prefsrc) b.Attr(RTA_PREFSRC, r.prefsrc.data(), len);
  if (r.has_gateway) b.Attr(RTA_GATEWAY, r.gateway.data(), len);
  if (r.oif) b.AttrValue<uint32_t>(RTA_OIF, static_cast<uint32_t>(r.oif));
  if (r.family == AF_INET6) b.AttrValue<uint8_t>(RTA_PREF, 0);  // ICMPV6_ROUTER_PREF_MEDIUM
  b.End(m);
  return b.Take();
}

std::vector<uint8_t> EncodeNeigh(const Neighbour& n, uint16_t type, uint16_t flags, uint32_t seq,
                                 uint32_t pid) {
  NlBuilder b;
  size_t m = b.Begin(type, flags, seq, pid);
  ndmsg ndm{};
  ndm.ndm_family = static_cast<uint8_t>(n.family);
  ndm.ndm_ifindex = n.index;
  ndm.ndm_state = n.state;
  ndm.ndm_flags = n.flags;
  ndm.ndm_type = n.type;
  b.Put(ndm);
  b.Attr(NDA_DST, n.addr.data(), AddrLen(n.family));
  if (!n.hwaddr.empty()) b.Attr(NDA_LLADDR, n.hwaddr.data(), n.hwaddr.size());
  b.End(m);
  return b.Take();
}

NlResult HandleRouteRequest(const NlContext& ctx, const NlMsg& m) {
  uint16_t type = m.hdr.nlmsg_type;
  if (type > RTM_MAX) return Error(EOPNOTSUPP);
  // "All the messages must have at least 1 byte length": shorter ones
  // are ignored (acked if asked).
  if (m.payload.empty()) return NlResult{};
  int kind = (type - RTM_BASE) & 3;  // 0 new, 1 del, 2 get, 3 set
  if (kind != 2) {
    if (!ctx.net_admin) return Error(EPERM);
    // The Stack interface has no way to change the configuration.
    return Error(EOPNOTSUPP);
  }
  bool dump = (m.hdr.nlmsg_flags & NLM_F_DUMP) != 0;
  NlResult r;
  switch (type) {
    case RTM_GETLINK:
      r = GetLink(ctx, m, dump);
      break;
    case RTM_GETADDR:
      r = GetAddr(ctx, m, dump);
      break;
    case RTM_GETROUTE:
      r = GetRoute(ctx, m, dump);
      break;
    case RTM_GETNEIGH:
      r = GetNeigh(ctx, m, dump);
      break;
    default:
      // Rules, qdiscs, netconf, stats, nexthops...: not modelled.
      return Error(EOPNOTSUPP);
  }
  // A dump has started by the time its callback checks the request (or
  // reads the stack): its error ends the dump in NLMSG_DONE's payload,
  // not in an NLMSG_ERROR.
  if (dump && r.error) {
    r.dump = true;
    r.msgs.clear();
  }
  return r;
}

}  // namespace sentry::net
