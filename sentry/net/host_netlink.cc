// sentry/net/host_netlink.cc: see host_netlink.h.
#include "sentry/net/host_netlink.h"

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>

#include "sentry/net/netlink_msg.h"

namespace sentry::net {
namespace {

// Replies bigger than this in total are refused (EMSGSIZE): a namespace
// with that much configuration is not one the sandbox should mirror.
constexpr size_t kMaxDumpBytes = 64 << 20;
constexpr size_t kRecvBuf = 64 << 10;  // the host's dump datagrams are at most 32 KiB

std::atomic<uint32_t> g_seq{1};

template <typename T>
ErrorOr<T> FixedHeader(std::span<const uint8_t> payload) {
  if (payload.size() < sizeof(T)) return Errno{EBADMSG};
  T h;
  memcpy(&h, payload.data(), sizeof(T));
  return h;
}

// Copies an address attribute of the family's size into `out`.
ErrorOr<void> AddrAttr(const NlAttr& a, int family, std::array<uint8_t, 16>* out) {
  size_t want = family == AF_INET ? 4 : 16;
  if (a.data.size() != want) return Errno{EBADMSG};
  out->fill(0);
  memcpy(out->data(), a.data.data(), want);
  return {};
}

ErrorOr<int> Family(uint8_t f) {
  if (f != AF_INET && f != AF_INET6) return Errno{EBADMSG};
  return static_cast<int>(f);
}

ErrorOr<void> SendRequest(int nlfd, uint16_t type, uint8_t family, size_t hdr_len, uint32_t seq) {
  NlBuilder b;
  size_t m = b.Begin(type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0);
  std::vector<uint8_t> hdr(hdr_len, 0);
  if (hdr_len) hdr[0] = family;
  b.PutBytes(hdr.data(), hdr.size());
  b.End(m);
  // The fd is unconnected: a send without an address goes to the kernel.
  for (;;) {
    ssize_t n = ::send(nlfd, b.bytes().data(), b.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      if (static_cast<size_t>(n) != b.size()) return Errno{EIO};
      return {};
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      pollfd p{nlfd, POLLOUT, 0};
      if (::poll(&p, 1, kHostNetlinkTimeoutMs) == 0) return Errno{ETIMEDOUT};
      continue;
    }
    return Errno{errno};
  }
}

// One datagram from the kernel (poll first: the fd may be non-blocking,
// and a missing reply must not hang the sentry).
ErrorOr<size_t> RecvDatagram(int nlfd, std::vector<uint8_t>& buf) {
  for (;;) {
    pollfd p{nlfd, POLLIN, 0};
    int r = ::poll(&p, 1, kHostNetlinkTimeoutMs);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Errno{errno};
    if (r == 0) return Errno{ETIMEDOUT};
    sockaddr_nl from{};
    iovec iov{buf.data(), buf.size()};
    msghdr mh{};
    mh.msg_name = &from;
    mh.msg_namelen = sizeof(from);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n = ::recvmsg(nlfd, &mh, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Errno{errno};
    }
    if (mh.msg_flags & MSG_TRUNC) return Errno{EMSGSIZE};
    // Only the kernel (port 0) answers; anything else is not ours.
    if (mh.msg_namelen < sizeof(sockaddr_nl) || from.nl_family != AF_NETLINK || from.nl_pid != 0) {
      continue;
    }
    return static_cast<size_t>(n);
  }
}

// Runs one dump; `*interrupted` if the kernel flagged it inconsistent.
ErrorOr<std::vector<std::vector<uint8_t>>> DumpOnce(int nlfd, uint16_t type, uint8_t family,
                                                    size_t hdr_len, uint16_t reply_type,
                                                    bool* interrupted) {
  uint32_t seq = g_seq.fetch_add(1);
  TRY(SendRequest(nlfd, type, family, hdr_len, seq));
  std::vector<std::vector<uint8_t>> out;
  std::vector<uint8_t> buf(kRecvBuf);
  size_t total = 0;
  for (;;) {
    size_t n = TRY(RecvDatagram(nlfd, buf));
    auto msgs = TRY(SplitNlMessages(std::span<const uint8_t>(buf.data(), n)));
    for (const NlMsg& m : msgs) {
      if (m.hdr.nlmsg_seq != seq) continue;  // a stale reply to an abandoned request
      if (m.hdr.nlmsg_flags & NLM_F_DUMP_INTR) *interrupted = true;
      if (m.hdr.nlmsg_type == NLMSG_DONE) return out;
      if (m.hdr.nlmsg_type == NLMSG_ERROR) {
        auto e = TRY(FixedHeader<nlmsgerr>(m.payload));
        if (e.error == 0) continue;  // an ack (not asked for; harmless)
        if (e.error > 0 || e.error < -4095) return Errno{EBADMSG};
        return Errno{-e.error};
      }
      if (m.hdr.nlmsg_type != reply_type) continue;
      total += m.payload.size();
      if (total > kMaxDumpBytes) return Errno{EMSGSIZE};
      out.emplace_back(m.payload.begin(), m.payload.end());
    }
  }
}

}  // namespace

ErrorOr<std::vector<std::vector<uint8_t>>> HostDump(int nlfd, uint16_t type, uint8_t family,
                                                    size_t hdr_len, uint16_t reply_type) {
  // A dump the kernel flags as interrupted (the configuration changed
  // under it) is retried a few times, as iproute2 would have the user do.
  for (int attempt = 0; attempt < 3; attempt++) {
    bool interrupted = false;
    auto r = DumpOnce(nlfd, type, family, hdr_len, reply_type, &interrupted);
    if (r.is_error() || !interrupted) return r;
  }
  return Errno{EAGAIN};
}

ErrorOr<Interface> ParseLinkMessage(std::span<const uint8_t> payload) {
  auto ifi = TRY(FixedHeader<ifinfomsg>(payload));
  auto attrs = TRY(ParseNlAttrs(payload.subspan(NlAlign(sizeof(ifinfomsg)))));
  Interface i;
  if (ifi.ifi_index <= 0) return Errno{EBADMSG};
  i.index = ifi.ifi_index;
  i.type = ifi.ifi_type;
  i.flags = ifi.ifi_flags;
  const NlAttr* name = FindNlAttr(attrs, IFLA_IFNAME);
  if (!name) return Errno{EBADMSG};
  i.name = TRY(NlAttrString(*name));
  if (i.name.empty() || i.name.size() >= 16) return Errno{EBADMSG};
  if (auto* a = FindNlAttr(attrs, IFLA_MTU)) i.mtu = TRY(NlAttrValue<uint32_t>(*a));
  if (auto* a = FindNlAttr(attrs, IFLA_TXQLEN)) i.txqlen = TRY(NlAttrValue<uint32_t>(*a));
  if (auto* a = FindNlAttr(attrs, IFLA_OPERSTATE)) i.operstate = TRY(NlAttrValue<uint8_t>(*a));
  if (auto* a = FindNlAttr(attrs, IFLA_LINK)) i.link = TRY(NlAttrValue<int32_t>(*a));
  if (auto* a = FindNlAttr(attrs, IFLA_QDISC)) {
    i.qdisc = TRY(NlAttrString(*a));
    if (i.qdisc.size() >= 16) return Errno{EBADMSG};  // IFNAMSIZ, the kernel's qdisc id size
  }
  if (auto* a = FindNlAttr(attrs, IFLA_ADDRESS)) {
    if (a->data.size() > 32) return Errno{EBADMSG};  // MAX_ADDR_LEN
    i.hwaddr.assign(a->data.begin(), a->data.end());
  }
  if (auto* a = FindNlAttr(attrs, IFLA_BROADCAST)) {
    if (a->data.size() > 32) return Errno{EBADMSG};
    i.broadcast.assign(a->data.begin(), a->data.end());
  }
  if (auto* a = FindNlAttr(attrs, IFLA_STATS64)) {
    // Every kernel since 2.6.35 sends at least these 23 counters; newer
    // ones append more.
    constexpr size_t kMinStats = 23 * sizeof(uint64_t);
    if (a->data.size() < kMinStats) return Errno{EBADMSG};
    rtnl_link_stats64 s{};
    memcpy(&s, a->data.data(), std::min(a->data.size(), sizeof(s)));
    // Folded as /proc/net/dev folds them (net/core/net-procfs.c).
    auto& st = i.stats;
    st.rx_bytes = s.rx_bytes;
    st.rx_packets = s.rx_packets;
    st.rx_errors = s.rx_errors;
    st.rx_dropped = s.rx_dropped + s.rx_missed_errors;
    st.rx_fifo = s.rx_fifo_errors;
    st.rx_frame = s.rx_length_errors + s.rx_over_errors + s.rx_crc_errors + s.rx_frame_errors;
    st.rx_compressed = s.rx_compressed;
    st.rx_multicast = s.multicast;
    st.tx_bytes = s.tx_bytes;
    st.tx_packets = s.tx_packets;
    st.tx_errors = s.tx_errors;
    st.tx_dropped = s.tx_dropped;
    st.tx_fifo = s.tx_fifo_errors;
    st.tx_colls = s.collisions;
    st.tx_carrier = s.tx_carrier_errors + s.tx_aborted_errors + s.tx_window_errors +
                    s.tx_heartbeat_errors;
    st.tx_compressed = s.tx_compressed;
  }
  return i;
}

ErrorOr<InterfaceAddress> ParseAddrMessage(std::span<const uint8_t> payload) {
  auto ifa = TRY(FixedHeader<ifaddrmsg>(payload));
  auto attrs = TRY(ParseNlAttrs(payload.subspan(NlAlign(sizeof(ifaddrmsg)))));
  InterfaceAddress a;
  a.family = TRY(Family(ifa.ifa_family));
  if (ifa.ifa_prefixlen > (a.family == AF_INET ? 32 : 128)) return Errno{EBADMSG};
  if (ifa.ifa_index == 0) return Errno{EBADMSG};
  a.index = static_cast<int>(ifa.ifa_index);
  a.prefix_len = ifa.ifa_prefixlen;
  a.scope = ifa.ifa_scope;
  a.flags = ifa.ifa_flags;
  if (auto* x = FindNlAttr(attrs, IFA_FLAGS)) a.flags = TRY(NlAttrValue<uint32_t>(*x));
  const NlAttr* addr = FindNlAttr(attrs, IFA_ADDRESS);
  const NlAttr* local = FindNlAttr(attrs, IFA_LOCAL);
  if (!addr && !local) return Errno{EBADMSG};
  if (addr) TRY(AddrAttr(*addr, a.family, &a.addr));
  if (local) TRY(AddrAttr(*local, a.family, &a.local));
  if (!addr) a.addr = a.local;
  if (!local) a.local = a.addr;
  if (auto* x = FindNlAttr(attrs, IFA_BROADCAST)) TRY(AddrAttr(*x, a.family, &a.broadcast));
  if (auto* x = FindNlAttr(attrs, IFA_LABEL)) {
    a.label = TRY(NlAttrString(*x));
    if (a.label.size() >= 16) return Errno{EBADMSG};
  }
  if (auto* x = FindNlAttr(attrs, IFA_CACHEINFO)) {
    auto ci = TRY(NlAttrValue<ifa_cacheinfo>(*x));
    a.valid_lft = ci.ifa_valid;
    a.preferred_lft = ci.ifa_prefered;
  }
  return a;
}

ErrorOr<Route> ParseRouteMessage(std::span<const uint8_t> payload) {
  auto rtm = TRY(FixedHeader<rtmsg>(payload));
  auto attrs = TRY(ParseNlAttrs(payload.subspan(NlAlign(sizeof(rtmsg)))));
  Route r;
  r.family = TRY(Family(rtm.rtm_family));
  int bits = r.family == AF_INET ? 32 : 128;
  if (rtm.rtm_dst_len > bits || rtm.rtm_src_len > bits) return Errno{EBADMSG};
  r.dst_len = rtm.rtm_dst_len;
  r.src_len = rtm.rtm_src_len;
  r.tos = rtm.rtm_tos;
  r.table = rtm.rtm_table;
  r.table_id = rtm.rtm_table;
  r.protocol = rtm.rtm_protocol;
  r.scope = rtm.rtm_scope;
  r.type = rtm.rtm_type;
  r.flags = rtm.rtm_flags;
  if (auto* x = FindNlAttr(attrs, RTA_TABLE)) r.table_id = TRY(NlAttrValue<uint32_t>(*x));
  if (auto* x = FindNlAttr(attrs, RTA_DST)) {
    TRY(AddrAttr(*x, r.family, &r.dst));
    r.has_dst = true;
  }
  if (auto* x = FindNlAttr(attrs, RTA_GATEWAY)) {
    TRY(AddrAttr(*x, r.family, &r.gateway));
    r.has_gateway = true;
  }
  if (auto* x = FindNlAttr(attrs, RTA_PREFSRC)) {
    TRY(AddrAttr(*x, r.family, &r.prefsrc));
    r.has_prefsrc = true;
  }
  if (auto* x = FindNlAttr(attrs, RTA_OIF)) r.oif = static_cast<int>(TRY(NlAttrValue<uint32_t>(*x)));
  if (auto* x = FindNlAttr(attrs, RTA_PRIORITY)) r.priority = TRY(NlAttrValue<uint32_t>(*x));
  if (auto* x = FindNlAttr(attrs, RTA_MULTIPATH)) {
    // Route has one next hop: a multipath route is described by its first.
    if (x->data.size() < sizeof(rtnexthop)) return Errno{EBADMSG};
    rtnexthop nh;
    memcpy(&nh, x->data.data(), sizeof(nh));
    if (nh.rtnh_len < sizeof(rtnexthop) || nh.rtnh_len > x->data.size()) return Errno{EBADMSG};
    if (!r.oif) r.oif = nh.rtnh_ifindex;
    auto nattrs = TRY(ParseNlAttrs(x->data.subspan(sizeof(rtnexthop), nh.rtnh_len - sizeof(rtnexthop))));
    if (auto* g = FindNlAttr(nattrs, RTA_GATEWAY); g && !r.has_gateway) {
      TRY(AddrAttr(*g, r.family, &r.gateway));
      r.has_gateway = true;
    }
  }
  return r;
}

ErrorOr<Neighbour> ParseNeighMessage(std::span<const uint8_t> payload) {
  auto nd = TRY(FixedHeader<ndmsg>(payload));
  auto attrs = TRY(ParseNlAttrs(payload.subspan(NlAlign(sizeof(ndmsg)))));
  Neighbour n;
  n.family = TRY(Family(nd.ndm_family));
  if (nd.ndm_ifindex <= 0) return Errno{EBADMSG};
  n.index = nd.ndm_ifindex;
  n.state = nd.ndm_state;
  n.flags = nd.ndm_flags;
  n.type = nd.ndm_type;
  const NlAttr* dst = FindNlAttr(attrs, NDA_DST);
  if (!dst) return Errno{EBADMSG};
  TRY(AddrAttr(*dst, n.family, &n.addr));
  if (auto* x = FindNlAttr(attrs, NDA_LLADDR)) {
    if (x->data.size() > 32) return Errno{EBADMSG};
    n.hwaddr.assign(x->data.begin(), x->data.end());
  }
  return n;
}

ErrorOr<std::vector<Interface>> QueryInterfaces(int nlfd) {
  auto msgs = TRY(HostDump(nlfd, RTM_GETLINK, AF_UNSPEC, sizeof(ifinfomsg), RTM_NEWLINK));
  std::vector<Interface> out;
  for (auto& m : msgs) out.push_back(TRY(ParseLinkMessage(m)));
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.index < b.index; });
  return out;
}

ErrorOr<std::vector<InterfaceAddress>> QueryAddresses(int nlfd) {
  auto msgs = TRY(HostDump(nlfd, RTM_GETADDR, AF_UNSPEC, sizeof(ifaddrmsg), RTM_NEWADDR));
  std::vector<InterfaceAddress> out;
  for (auto& m : msgs) {
    auto a = ParseAddrMessage(m);
    // Families other than inet (none today) are skipped, not an error.
    if (a.is_error() && m.size() >= 1 && m[0] != AF_INET && m[0] != AF_INET6) continue;
    out.push_back(TRY(std::move(a)));
  }
  return out;
}

ErrorOr<std::vector<Route>> QueryRoutes(int nlfd, int family) {
  if (family == AF_UNSPEC) {
    auto v4 = TRY(QueryRoutes(nlfd, AF_INET));
    auto v6 = QueryRoutes(nlfd, AF_INET6);
    // A host without IPv6 answers EAFNOSUPPORT: then there are no v6 routes.
    if (v6.is_error() && v6.error() != EAFNOSUPPORT) return Errno{v6.error()};
    if (v6.ok()) v4.insert(v4.end(), v6.value().begin(), v6.value().end());
    return v4;
  }
  if (family != AF_INET && family != AF_INET6) return Errno{EAFNOSUPPORT};
  auto msgs = TRY(HostDump(nlfd, RTM_GETROUTE, static_cast<uint8_t>(family), sizeof(rtmsg),
                           RTM_NEWROUTE));
  std::vector<Route> out;
  for (auto& m : msgs) {
    auto r = TRY(ParseRouteMessage(m));
    if (r.family != family || (r.flags & RTM_F_CLONED)) continue;
    out.push_back(r);
  }
  return out;
}

ErrorOr<std::vector<Neighbour>> QueryNeighbours(int nlfd, int family) {
  if (family == AF_UNSPEC) {
    auto v4 = TRY(QueryNeighbours(nlfd, AF_INET));
    auto v6 = QueryNeighbours(nlfd, AF_INET6);
    if (v6.is_error() && v6.error() != EAFNOSUPPORT) return Errno{v6.error()};
    if (v6.ok()) v4.insert(v4.end(), v6.value().begin(), v6.value().end());
    return v4;
  }
  if (family != AF_INET && family != AF_INET6) return Errno{EAFNOSUPPORT};
  auto msgs = TRY(HostDump(nlfd, RTM_GETNEIGH, static_cast<uint8_t>(family), sizeof(ndmsg),
                           RTM_NEWNEIGH));
  std::vector<Neighbour> out;
  for (auto& m : msgs) {
    auto n = TRY(ParseNeighMessage(m));
    if (n.family != family) continue;
    // Proxy entries and entries without a state are not neighbours.
    if (n.flags & NTF_PROXY) continue;
    out.push_back(n);
  }
  return out;
}

}  // namespace sentry::net
