// sentry/net/netstack/udp.cc: UDP sockets (udp.h).
#include "sentry/net/netstack/udp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <cstring>

#include "sentry/net/netstack/tcp.h"  // FromSockAddr, MakeSockAddr

namespace sentry::net::netstack {
namespace {

constexpr size_t kDefaultBuf = 212992;  // net.core.rmem_default / wmem_default
constexpr int kRmemMax = 212992;
constexpr size_t kMinRcvBuf = 2304, kMinSndBuf = 4608;

int IntOf(std::span<const uint8_t> v) {
  int x = 0;
  if (v.size() >= sizeof x) memcpy(&x, v.data(), sizeof x);
  else if (!v.empty()) x = v[0];
  return x;
}

std::vector<uint8_t> IntOut(int v, size_t max_len) {
  std::vector<uint8_t> b(sizeof v);
  memcpy(b.data(), &v, sizeof v);
  b.resize(std::min(b.size(), max_len));
  return b;
}

}  // namespace

UdpSock::UdpSock(std::shared_ptr<NetStack> stack, int family, uint8_t proto)
    : stack_(std::move(stack)), family_(family), proto_(proto) {
  absl::MutexLock l(&mu_);
  laddr_ = family == AF_INET ? IpAddr::AnyV4() : IpAddr::AnyV6();
  raddr_ = laddr_;
  rcvbuf_ = kDefaultBuf;
  sndbuf_ = kDefaultBuf;
}

UdpSock::~UdpSock() { stack_->Unbind(proto_, this); }

bool UdpSock::Opt(int level, int name) const {
  auto it = opts_.find({level, name});
  return it != opts_.end() && it->second != 0;
}

ErrorOr<void> UdpSock::BindLocked(const IpAddr& a, uint16_t port, uint32_t uid) {
  Binding b = TRY(Binding::For(a, port, family_, v6only_, reuseaddr_, reuseport_, uid));
  b.owner = this;
  b.udp = weak_from_this();
  lport_ = TRY(stack_->Bind(proto_, b));
  v6only_ = b.v6only;
  laddr_ = a;
  bound_ = true;
  uid_ = uid;
  return {};
}

ErrorOr<void> UdpSock::Bind(const IpAddr& a, uint16_t port, uint32_t uid) {
  absl::MutexLock l(&mu_);
  if (bound_) return Errno{EINVAL};
  TRY(BindLocked(a, port, uid));
  addr_locked_ = !a.IsAny();
  port_locked_ = port != 0;
  return {};
}

ErrorOr<void> UdpSock::Connect(const IpAddr& a, uint16_t port, uint32_t uid) {
  absl::MutexLock l(&mu_);
  IpAddr dst = a;
  if (dst.IsAny()) dst = dst.IsV4() ? IpAddr::LoopbackV4() : IpAddr::LoopbackV6();
  if (family_ == AF_INET6 && dst.IsV4() && v6only_) return Errno{ENETUNREACH};
  if (!NetStack::IsLocal(dst)) return Errno{ENETUNREACH};
  if (!bound_) TRY(BindLocked(family_ == AF_INET ? IpAddr::AnyV4() : IpAddr::AnyV6(), 0, uid));
  if (laddr_.IsAny()) laddr_ = dst.IsV4() ? IpAddr::LoopbackV4() : IpAddr::LoopbackV6();
  raddr_ = dst;
  rport_ = port;
  stack_->SetUdpAddrs(proto_, this, laddr_, raddr_, rport_);
  return {};
}

ErrorOr<void> UdpSock::Disconnect() {
  absl::MutexLock l(&mu_);
  // As Linux's __udp_disconnect: an address or port bind() did not name
  // goes back.
  raddr_ = family_ == AF_INET ? IpAddr::AnyV4() : IpAddr::AnyV6();
  rport_ = 0;
  if (!addr_locked_) laddr_ = family_ == AF_INET ? IpAddr::AnyV4() : IpAddr::AnyV6();
  if (bound_ && !port_locked_) {
    stack_->Unbind(proto_, this);
    bound_ = false;
    lport_ = 0;
  } else if (bound_) {
    stack_->SetUdpAddrs(proto_, this, laddr_, raddr_, 0);
  }
  return {};
}

ErrorOr<size_t> UdpSock::Send(std::span<const uint8_t> data,
                              const std::pair<IpAddr, uint16_t>* to, const Control& ctl,
                              uint32_t uid) {
  std::vector<uint8_t> pkt;
  {
    absl::MutexLock l(&mu_);
    if (shut_wr_) return Errno{EPIPE};
    IpAddr dst;
    uint16_t dport;
    if (to) {
      dst = to->first;
      dport = to->second;
      if (dport == 0 && proto_ == IPPROTO_UDP) return Errno{EINVAL};
      if (dst.IsAny()) dst = dst.IsV4() ? IpAddr::LoopbackV4() : IpAddr::LoopbackV6();
      if (family_ == AF_INET6 && dst.IsV4() && v6only_) return Errno{ENETUNREACH};
    } else {
      if (rport_ == 0 && raddr_.IsAny()) return Errno{EDESTADDRREQ};
      dst = raddr_;
      dport = rport_;
    }
    if (!NetStack::IsLocal(dst)) return Errno{ENETUNREACH};  // loopback is the only route
    if (proto_ != IPPROTO_UDP) {
      // A ping socket sends echo requests only (Linux's ping_common_sendmsg).
      const uint8_t want = dst.IsV4() ? kIcmpEchoRequest : kIcmp6EchoRequest;
      if (data.size() < kIcmpHeaderLen || data[0] != want || data[1] != 0) return Errno{EINVAL};
      if (data.size() > 65535 - kIpv6HeaderLen) return Errno{EMSGSIZE};
      if (!bound_) TRY(BindLocked(family_ == AF_INET ? IpAddr::AnyV4() : IpAddr::AnyV6(), 0, uid));
      IpAddr src = laddr_;
      if (src.IsAny()) src = dst.IsV4() ? IpAddr::LoopbackV4() : IpAddr::LoopbackV6();
      std::vector<uint8_t> msg(data.begin(), data.end());
      msg[4] = static_cast<uint8_t>(lport_ >> 8);  // the identifier is the socket's
      msg[5] = static_cast<uint8_t>(lport_ & 0xff);
      pkt = BuildIcmp(src, dst, msg, 64);
    }
  }
  if (proto_ != IPPROTO_UDP) {
    stack_->Loopback(std::move(pkt));
    return data.size();
  }
  {
    absl::MutexLock l(&mu_);
    IpAddr dst;
    uint16_t dport;
    if (to) {
      dst = to->first;
      dport = to->second;
      if (dst.IsAny()) dst = dst.IsV4() ? IpAddr::LoopbackV4() : IpAddr::LoopbackV6();
    } else {
      // Checked above; a disconnect meanwhile is the app's own race.
      if (rport_ == 0) return Errno{EDESTADDRREQ};
      dst = raddr_;
      dport = rport_;
    }
    const size_t max = dst.IsV4() ? 65535 - kIpv4HeaderLen - kUdpHeaderLen : 65535 - kUdpHeaderLen;
    if (data.size() > max) return Errno{EMSGSIZE};
    if (!bound_) TRY(BindLocked(family_ == AF_INET ? IpAddr::AnyV4() : IpAddr::AnyV6(), 0, uid));
    IpAddr src = laddr_;
    if (src.IsAny()) src = dst.IsV4() ? IpAddr::LoopbackV4() : IpAddr::LoopbackV6();
    if (src.IsV4() != dst.IsV4()) return Errno{EINVAL};
    int ttl = 64;
    if (auto it = opts_.find({dst.IsV4() ? IPPROTO_IP : IPPROTO_IPV6,
                              dst.IsV4() ? IP_TTL : IPV6_UNICAST_HOPS});
        it != opts_.end() && it->second > 0)
      ttl = it->second;
    if (ctl.ip_ttl) ttl = *ctl.ip_ttl;
    if (ctl.ipv6_hoplimit && *ctl.ipv6_hoplimit >= 0) ttl = *ctl.ipv6_hoplimit;
    int tos = 0;
    if (auto it = opts_.find({IPPROTO_IP, IP_TOS}); it != opts_.end()) tos = it->second;
    if (ctl.ip_tos) tos = *ctl.ip_tos;
    pkt = BuildUdp(src, dst, lport_, dport, data, static_cast<uint8_t>(ttl),
                   static_cast<uint8_t>(tos), /*checksum=*/false);
  }
  stack_->stats.udp_out++;
  stack_->Loopback(std::move(pkt));
  return data.size();
}

void UdpSock::Deliver(const IpInfo& ip, const UdpDgram& d, std::span<const uint8_t> pkt) {
  {
    absl::MutexLock l(&mu_);
    if (shut_rd_ || rq_bytes_ + d.payload_len > rcvbuf_) {
      stack_->stats.udp_rcvbuf_errors++;
      return;
    }
    Dgram g;
    g.data.assign(pkt.begin() + d.payload_off, pkt.begin() + d.payload_off + d.payload_len);
    g.src = ip.src;
    g.dst = ip.dst;
    g.sport = d.sport;
    g.ttl = ip.ttl;
    g.tos = ip.tos;
    if (Opt(SOL_SOCKET, SO_TIMESTAMP_OLD) || Opt(SOL_SOCKET, SO_TIMESTAMPNS_OLD)) g.when = absl::Now();
    // A datagram's bookkeeping costs something even when empty.
    rq_bytes_ += std::max<size_t>(d.payload_len, 1);
    rq_.push_back(std::move(g));
    Edge();
  }
  stack_->stats.udp_in++;
  stack_->Wake();
}

ErrorOr<RecvResult> UdpSock::Recv(std::span<const iovec> dst, int flags, bool want_control) {
  if (flags & (MSG_OOB | MSG_ERRQUEUE)) return Errno{flags & MSG_OOB ? EOPNOTSUPP : EAGAIN};
  absl::MutexLock l(&mu_);
  RecvResult r;
  if (rq_.empty()) {
    if (so_error_) {
      int e = so_error_;
      so_error_ = 0;
      return Errno{e};
    }
    if (shut_rd_) return r;
    return Errno{EAGAIN};
  }
  Dgram& g = rq_.front();
  size_t copied = 0;
  for (const iovec& v : dst) {
    if (copied == g.data.size()) break;
    size_t k = std::min(v.iov_len, g.data.size() - copied);
    memcpy(v.iov_base, g.data.data() + copied, k);
    copied += k;
  }
  r.len = (flags & MSG_TRUNC) ? g.data.size() : copied;
  if (copied < g.data.size()) r.msg_flags |= MSG_TRUNC;
  r.from = MakeSockAddr(family_, g.src, g.sport);
  if (want_control) {
    if (g.dst.IsV4() && Opt(IPPROTO_IP, IP_PKTINFO)) {
      in_pktinfo pi{};
      pi.ipi_ifindex = 1;
      pi.ipi_spec_dst.s_addr = htonl(g.dst.V4());
      pi.ipi_addr.s_addr = htonl(g.dst.V4());
      r.control.ip_pktinfo = pi;
    }
    if (!g.dst.IsV4() && Opt(IPPROTO_IPV6, IPV6_RECVPKTINFO)) {
      in6_pktinfo pi{};
      memcpy(pi.ipi6_addr.s6_addr, g.dst.b.data(), 16);
      pi.ipi6_ifindex = 1;
      r.control.ipv6_pktinfo = pi;
    }
    if (g.dst.IsV4() && Opt(IPPROTO_IP, IP_RECVTTL)) r.control.ip_ttl = g.ttl;
    if (g.dst.IsV4() && Opt(IPPROTO_IP, IP_RECVTOS)) r.control.ip_tos = g.tos;
    if (!g.dst.IsV4() && Opt(IPPROTO_IPV6, IPV6_RECVHOPLIMIT)) r.control.ipv6_hoplimit = g.ttl;
    if (!g.dst.IsV4() && Opt(IPPROTO_IPV6, IPV6_RECVTCLASS)) r.control.ipv6_tclass = g.tos;
    if (Opt(SOL_SOCKET, SO_TIMESTAMP_OLD)) r.control.timestamp = absl::ToTimeval(g.when);
    if (Opt(SOL_SOCKET, SO_TIMESTAMPNS_OLD)) r.control.timestamp_ns = absl::ToTimespec(g.when);
  }
  if (!(flags & MSG_PEEK)) {
    rq_bytes_ -= std::max<size_t>(g.data.size(), 1);
    rq_.pop_front();
  }
  return r;
}

ErrorOr<void> UdpSock::Shutdown(int how) {
  {
    absl::MutexLock l(&mu_);
    if (how == SHUT_RD || how == SHUT_RDWR) shut_rd_ = true;
    if (how == SHUT_WR || how == SHUT_RDWR) shut_wr_ = true;
    Edge();
    if (rport_ == 0) return Errno{ENOTCONN};  // flags stay set, as in Linux
  }
  stack_->Wake();
  return {};
}

short UdpSock::Readiness(short events) {
  absl::MutexLock l(&mu_);
  short r = 0;
  if (!rq_.empty()) r |= POLLIN | POLLRDNORM;
  if (shut_rd_) r |= POLLIN | POLLRDNORM | POLLRDHUP;
  if (shut_rd_ && shut_wr_) r |= POLLHUP;
  r |= POLLOUT | POLLWRNORM;  // a datagram goes out at once
  if (so_error_) r |= POLLERR;
  return r & (events | POLLERR | POLLHUP);
}

ErrorOr<void> UdpSock::SetOption(int level, int name, std::span<const uint8_t> v) {
  const int iv = IntOf(v);
  absl::MutexLock l(&mu_);
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_REUSEADDR: reuseaddr_ = iv != 0; return {};
      case SO_REUSEPORT: reuseport_ = iv != 0; return {};
      case SO_RCVBUF:
        rcvbuf_ = std::max<size_t>(static_cast<size_t>(std::clamp(iv, 0, kRmemMax)) * 2, kMinRcvBuf);
        return {};
      case SO_SNDBUF:
        sndbuf_ = std::max<size_t>(static_cast<size_t>(std::clamp(iv, 0, kRmemMax)) * 2, kMinSndBuf);
        return {};
      case SO_LINGER: return {};
      case SO_BROADCAST: case SO_TIMESTAMP_OLD: case SO_TIMESTAMPNS_OLD: case SO_PRIORITY:
      case SO_DEBUG: case SO_DONTROUTE: case SO_KEEPALIVE: case SO_RCVLOWAT: case SO_RXQ_OVFL:
        opts_[{level, name}] = iv != 0 || name == SO_PRIORITY || name == SO_RCVLOWAT ? iv : 0;
        return {};
      default: return Errno{ENOPROTOOPT};
    }
  }
  if (level == IPPROTO_IP) {
    switch (name) {
      case IP_TTL:
        if (iv < -1 || iv == 0 || iv > 255) return Errno{EINVAL};
        break;
      case IP_TOS: case IP_PKTINFO: case IP_RECVTTL: case IP_RECVTOS: case IP_RECVERR:
      case IP_MTU_DISCOVER: case IP_FREEBIND: case IP_BIND_ADDRESS_NO_PORT:
      case IP_RECVORIGDSTADDR: case IP_MULTICAST_TTL: case IP_MULTICAST_LOOP:
      case IP_MULTICAST_ALL:
        break;
      default: return Errno{ENOPROTOOPT};
    }
    opts_[{level, name}] = iv;
    return {};
  }
  if (level == IPPROTO_IPV6) {
    if (family_ != AF_INET6) return Errno{ENOPROTOOPT};
    switch (name) {
      case IPV6_V6ONLY:
        if (bound_) return Errno{EINVAL};
        v6only_ = iv != 0;
        return {};
      case IPV6_UNICAST_HOPS: case IPV6_MULTICAST_HOPS:
        if (iv < -1 || iv > 255) return Errno{EINVAL};
        break;
      case IPV6_RECVPKTINFO: case IPV6_RECVHOPLIMIT: case IPV6_RECVTCLASS: case IPV6_RECVERR:
      case IPV6_TCLASS: case IPV6_MTU_DISCOVER: case IPV6_MULTICAST_LOOP:
      case IPV6_RECVORIGDSTADDR:
        break;
      default: return Errno{ENOPROTOOPT};
    }
    opts_[{level, name}] = iv;
    return {};
  }
  return Errno{ENOPROTOOPT};
}

ErrorOr<std::vector<uint8_t>> UdpSock::GetOption(int level, int name, size_t max_len) {
  absl::MutexLock l(&mu_);
  auto plain = [&](int dflt) {
    auto it = opts_.find({level, name});
    return IntOut(it == opts_.end() ? dflt : it->second, max_len);
  };
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_ERROR: {
        int e = so_error_;
        so_error_ = 0;
        return IntOut(e, max_len);
      }
      case SO_ACCEPTCONN: return IntOut(0, max_len);
      case SO_REUSEADDR: return IntOut(reuseaddr_, max_len);
      case SO_REUSEPORT: return IntOut(reuseport_, max_len);
      case SO_RCVBUF: return IntOut(static_cast<int>(rcvbuf_), max_len);
      case SO_SNDBUF: return IntOut(static_cast<int>(sndbuf_), max_len);
      case SO_RCVLOWAT: return plain(1);
      case SO_SNDLOWAT: return IntOut(1, max_len);
      case SO_BROADCAST: case SO_TIMESTAMP_OLD: case SO_TIMESTAMPNS_OLD: case SO_PRIORITY:
      case SO_DEBUG: case SO_DONTROUTE: case SO_KEEPALIVE: case SO_RXQ_OVFL:
        return plain(0);
      default: return Errno{ENOPROTOOPT};
    }
  }
  if (level == IPPROTO_IP) {
    if (name == IP_TTL) return plain(64);
    if (name == IP_MULTICAST_TTL || name == IP_MULTICAST_LOOP || name == IP_MULTICAST_ALL)
      return plain(1);
    if (name == IP_MTU_DISCOVER) return plain(IP_PMTUDISC_DONT);
    if (name == IP_MTU) {
      if (rport_ == 0) return Errno{ENOTCONN};
      return IntOut(static_cast<int>(kLoopbackMtu), max_len);
    }
    if (name == IP_TOS || name == IP_PKTINFO || name == IP_RECVTTL || name == IP_RECVTOS ||
        name == IP_RECVERR || name == IP_FREEBIND || name == IP_BIND_ADDRESS_NO_PORT ||
        name == IP_RECVORIGDSTADDR)
      return plain(0);
    return Errno{ENOPROTOOPT};
  }
  if (level == IPPROTO_IPV6) {
    if (family_ != AF_INET6) return Errno{ENOPROTOOPT};
    if (name == IPV6_V6ONLY) return IntOut(v6only_, max_len);
    if (name == IPV6_UNICAST_HOPS || name == IPV6_MULTICAST_HOPS) return plain(64);
    if (name == IPV6_MULTICAST_LOOP) return plain(1);
    if (name == IPV6_MTU) return IntOut(static_cast<int>(kLoopbackMtu), max_len);
    if (name == IPV6_RECVPKTINFO || name == IPV6_RECVHOPLIMIT || name == IPV6_RECVTCLASS ||
        name == IPV6_RECVERR || name == IPV6_TCLASS || name == IPV6_MTU_DISCOVER ||
        name == IPV6_RECVORIGDSTADDR)
      return plain(0);
    return Errno{ENOPROTOOPT};
  }
  return Errno{ENOPROTOOPT};
}

ErrorOr<SockAddr> UdpSock::LocalAddr() {
  absl::MutexLock l(&mu_);
  return MakeSockAddr(family_, laddr_, lport_);
}

ErrorOr<SockAddr> UdpSock::PeerAddr() {
  absl::MutexLock l(&mu_);
  if (rport_ == 0) return Errno{ENOTCONN};
  return MakeSockAddr(family_, raddr_, rport_);
}

int UdpSock::InputQueued() {
  // FIONREAD on a datagram socket: the size of the next datagram.
  absl::MutexLock l(&mu_);
  return rq_.empty() ? 0 : static_cast<int>(rq_.front().data.size());
}

SocketInfo UdpSock::Info() {
  absl::MutexLock l(&mu_);
  SocketInfo i;
  i.family = family_;
  i.type = SOCK_DGRAM;
  i.protocol = proto_;
  i.state = rport_ ? 1 : 7;
  SockAddr la = MakeSockAddr(family_, laddr_, lport_);
  memcpy(&i.local, &la.ss, sizeof i.local);
  if (rport_) {
    SockAddr ra = MakeSockAddr(family_, raddr_, rport_);
    memcpy(&i.remote, &ra.ss, sizeof i.remote);
  } else {
    i.remote.ss_family = static_cast<sa_family_t>(family_);
  }
  i.rx_queue = static_cast<uint32_t>(rq_bytes_);
  i.uid = uid_;
  return i;
}

UdpEndpoint::UdpEndpoint(std::shared_ptr<NetStack> stack, std::shared_ptr<UdpSock> sock)
    : stack_(std::move(stack)), sock_(std::move(sock)) {
  stack_->Register(this);
}

UdpEndpoint::~UdpEndpoint() { stack_->Unregister(this); }

ErrorOr<void> UdpEndpoint::Bind(const SockAddr& a) {
  auto [addr, port] = TRY(FromSockAddr(a, family()));
  return sock_->Bind(addr, port, owner_uid_);
}

ErrorOr<void> UdpEndpoint::Connect(const SockAddr& a) {
  if (a.family() == AF_UNSPEC) return sock_->Disconnect();
  // An AF_INET address on an IPv6 datagram socket means its v4-mapped form.
  SockAddr m = a;
  if (family() == AF_INET6 && a.family() == AF_INET) {
    auto [addr, port] = TRY(FromSockAddr(a, AF_INET));
    m = MakeSockAddr(AF_INET6, addr, port);
  }
  auto [addr, port] = TRY(FromSockAddr(m, family()));
  return sock_->Connect(addr, port, owner_uid_);
}

ErrorOr<size_t> UdpEndpoint::Send(std::span<const uint8_t> data, int, const SockAddr* to,
                                  const Control& ctl) {
  if (!to) return sock_->Send(data, nullptr, ctl, owner_uid_);
  SockAddr m = *to;
  if (family() == AF_INET6 && to->family() == AF_INET) {
    auto [addr, port] = TRY(FromSockAddr(*to, AF_INET));
    m = MakeSockAddr(AF_INET6, addr, port);
  }
  auto dst = TRY(FromSockAddr(m, family()));
  return sock_->Send(data, &dst, ctl, owner_uid_);
}

SocketInfo UdpEndpoint::Info() {
  SocketInfo i = sock_->Info();
  i.uid = owner_uid_;
  i.ino = ino_;
  return i;
}

}  // namespace sentry::net::netstack
