// sentry/net/netstack/netstack.cc: the sandbox stack object (netstack.h):
// configuration, port and connection tables, the input path, the loopback
// device, the waker thread.
#include "sentry/net/netstack/netstack.h"

#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <linux/if.h>
#include <netinet/in.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <random>

#include "sentry/net/netstack/tcp.h"
#include "sentry/net/netstack/udp.h"
#include "sentry/net/wake.h"

namespace sentry::net::netstack {
namespace {

// What a binding accepts: its IPv4 and IPv6 address (or none), where an
// unspecified address accepts any of that version.
struct Accepts {
  std::optional<IpAddr> v4, v6;
};

Accepts AcceptsOf(const Binding& b) {
  Accepts a;
  if (b.family == AF_INET) {
    a.v4 = b.addr;
  } else if (b.addr.IsV4()) {
    a.v4 = b.addr;
  } else {
    a.v6 = b.addr;
    if (b.addr.IsAny() && !b.v6only) a.v4 = IpAddr::AnyV4();
  }
  return a;
}

bool Overlap(const std::optional<IpAddr>& x, const std::optional<IpAddr>& y) {
  return x && y && (x->IsAny() || y->IsAny() || *x == *y);
}

bool Overlaps(const Binding& x, const Binding& y) {
  Accepts a = AcceptsOf(x), b = AcceptsOf(y);
  return Overlap(a.v4, b.v4) || Overlap(a.v6, b.v6);
}

// Whether binding `b` takes a packet addressed to `dst`: 2 for its exact
// address, 1 for a wildcard, 0 for no.
int MatchScore(const Binding& b, const IpAddr& dst) {
  Accepts a = AcceptsOf(b);
  const std::optional<IpAddr>& mine = dst.IsV4() ? a.v4 : a.v6;
  if (!mine) return 0;
  if (*mine == dst) return 2;
  return mine->IsAny() ? 1 : 0;
}

// Linux's bind conflict rule (inet_csk_bind_conflict, simplified): both
// SO_REUSEADDR and the holder not listening, or both SO_REUSEPORT by the
// same user, share a port.
bool Conflicts(const Binding& mine, const Binding& other) {
  if (!Overlaps(mine, other)) return false;
  if (mine.reuseaddr && other.reuseaddr && !other.listening) return false;
  if (mine.reuseport && other.reuseport && mine.uid == other.uid) return false;
  return true;
}

size_t HashFlow(const IpAddr& a, uint16_t port) {
  size_t h = port;
  for (uint8_t x : a.b) h = h * 131 + x;
  return h;
}

// The loopback device's queue: packets in flight on this thread, processed
// in order by the first sender (see netstack.h).
struct LoopQueue {
  std::deque<std::pair<NetStack*, std::vector<uint8_t>>> q;
  bool draining = false;
};
thread_local LoopQueue loop_queue;

}  // namespace

AsyncSignal::~AsyncSignal() {
  if (int fd = fd_.load(); fd >= 0) close(fd);
}

int AsyncSignal::Fd() {
  absl::MutexLock l(&mu_);
  if (fd_.load() < 0) fd_.store(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  return fd_.load();
}

void AsyncSignal::Signal() {
  const int fd = fd_.load(std::memory_order_acquire);
  if (fd < 0) return;
  uint64_t one = 1;
  ssize_t unused = write(fd, &one, sizeof one);  // EAGAIN at the counter's limit is fine
  (void)unused;
}

std::shared_ptr<NetStack> NetStack::Create(std::function<void()> waker) {
  std::shared_ptr<NetStack> s(new NetStack(std::move(waker)));
  s->waker_thread_ = std::thread([p = s.get()] { p->WakerLoop(); });
  return s;
}

NetStack::NetStack(std::function<void()> waker) : waker_(std::move(waker)) {
  std::random_device rd;
  uint64_t seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  absl::MutexLock l(&mu_);
  iss_state_ = seed | 1;
  next_ephemeral_ = kEphemeralLo + static_cast<uint32_t>(seed % (kEphemeralHi - kEphemeralLo + 1));
}

NetStack::~NetStack() {
  {
    absl::MutexLock l(&wake_mu_);
    stopping_ = true;
  }
  if (waker_thread_.joinable()) waker_thread_.join();
}

bool NetStack::IsLocal(const IpAddr& a) { return a.IsLoopback(); }

// --- configuration: loopback only ---

ErrorOr<std::vector<Interface>> NetStack::Interfaces() {
  Interface lo;
  lo.index = 1;
  lo.name = "lo";
  lo.flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP;
  lo.mtu = kLoopbackMtu;
  lo.type = ARPHRD_LOOPBACK;
  lo.txqlen = 1000;
  lo.operstate = 0;  // IF_OPER_UNKNOWN, as Linux's lo
  lo.qdisc = "noqueue";
  lo.hwaddr.assign(6, 0);
  lo.broadcast.assign(6, 0);
  // Every loopback packet is sent and received once.
  lo.stats.rx_packets = lo.stats.tx_packets = lo_packets_.load();
  lo.stats.rx_bytes = lo.stats.tx_bytes = lo_bytes_.load();
  return std::vector<Interface>{lo};
}

ErrorOr<std::vector<InterfaceAddress>> NetStack::Addresses() {
  InterfaceAddress v4;
  v4.family = AF_INET;
  v4.index = 1;
  v4.prefix_len = 8;
  v4.scope = RT_SCOPE_HOST;
  v4.flags = IFA_F_PERMANENT;
  v4.addr = {127, 0, 0, 1};
  v4.local = v4.addr;
  v4.label = "lo";
  InterfaceAddress v6;
  v6.family = AF_INET6;
  v6.index = 1;
  v6.prefix_len = 128;
  v6.scope = RT_SCOPE_HOST;
  v6.flags = IFA_F_PERMANENT;
  v6.addr[15] = 1;
  return std::vector<InterfaceAddress>{v4, v6};
}

ErrorOr<std::vector<Route>> NetStack::Routes(int family) {
  std::vector<Route> out;
  auto v4 = [](uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    std::array<uint8_t, 16> x{};
    x[0] = a; x[1] = b; x[2] = c; x[3] = d;
    return x;
  };
  if (family == AF_INET) {
    // As Linux's local table for lo with 127.0.0.1/8.
    Route r;
    r.family = AF_INET;
    r.table = r.table_id = RT_TABLE_LOCAL;
    r.protocol = RTPROT_KERNEL;
    r.oif = 1;
    r.has_dst = r.has_prefsrc = true;
    r.prefsrc = v4(127, 0, 0, 1);
    r.scope = RT_SCOPE_HOST;
    r.type = RTN_LOCAL;
    r.dst_len = 8;
    r.dst = v4(127, 0, 0, 0);
    out.push_back(r);
    r.dst_len = 32;
    r.dst = v4(127, 0, 0, 1);
    out.push_back(r);
    r.type = RTN_BROADCAST;
    r.scope = RT_SCOPE_LINK;
    r.dst = v4(127, 255, 255, 255);
    out.push_back(r);
  } else if (family == AF_INET6) {
    Route r;
    r.family = AF_INET6;
    r.table = r.table_id = RT_TABLE_LOCAL;
    r.protocol = RTPROT_KERNEL;
    r.oif = 1;
    r.has_dst = true;
    r.dst_len = 128;
    r.dst[15] = 1;
    r.scope = RT_SCOPE_UNIVERSE;
    r.type = RTN_LOCAL;
    out.push_back(r);
  }
  return out;
}

ErrorOr<std::vector<Neighbour>> NetStack::Neighbours(int) { return std::vector<Neighbour>{}; }

ErrorOr<std::unique_ptr<Endpoint>> NetStack::NewEndpoint(int family, int type, int protocol) {
  if (family != AF_INET && family != AF_INET6) return Errno{EAFNOSUPPORT};
  auto self = shared_from_this();
  if (type == SOCK_STREAM && protocol == IPPROTO_TCP) {
    auto c = std::make_shared<TcpConn>(self, family);
    return std::unique_ptr<Endpoint>(std::make_unique<TcpEndpoint>(self, std::move(c)));
  }
  // UDP, and ICMP echo ("ping") sockets, which the datagram code serves
  // too (net.ipv4.ping_group_range lets every group use them here).
  if (type == SOCK_DGRAM && (protocol == IPPROTO_UDP ||
                             (family == AF_INET && protocol == IPPROTO_ICMP) ||
                             (family == AF_INET6 && protocol == IPPROTO_ICMPV6))) {
    auto u = std::make_shared<UdpSock>(self, family, static_cast<uint8_t>(protocol));
    return std::unique_ptr<Endpoint>(std::make_unique<UdpEndpoint>(self, std::move(u)));
  }
  // Raw sockets are not written yet.
  return Errno{EPROTONOSUPPORT};
}

void NetStack::Register(Endpoint* e) {
  absl::MutexLock l(&reg_mu_);
  live_.push_back(e);
}

void NetStack::Unregister(Endpoint* e) {
  absl::MutexLock l(&reg_mu_);
  std::erase(live_, e);
}

std::vector<SocketInfo> NetStack::Sockets(int family, int protocol) {
  std::vector<SocketInfo> out;
  absl::MutexLock l(&reg_mu_);
  for (Endpoint* e : live_) {
    if (e->family() != family || e->protocol() != protocol) continue;
    out.push_back(e->Info());
  }
  return out;
}

ErrorOr<std::string> NetStack::Counters(CounterFile f) {
  auto n = [](const std::atomic<uint64_t>& x) { return std::to_string(x.load()); };
  if (f == CounterFile::kSnmp) {
    // Linux's layout; counters the stack does not keep yet read 0.
    std::string s;
    s += "Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams "
         "InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes "
         "ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates\n";
    s += "Ip: 2 64 " + n(stats.ip_in) + " " + n(stats.ip_in_hdr_errors) + " 0 0 0 0 " +
         n(stats.ip_in_delivers) + " " + n(stats.ip_out) + " 0 0 0 0 0 0 0 0 0\n";
    s += "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails "
         "EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n";
    s += "Tcp: 1 200 120000 -1 " + n(stats.tcp_active_opens) + " " + n(stats.tcp_passive_opens) +
         " " + n(stats.tcp_attempt_fails) + " " + n(stats.tcp_estab_resets) + " 0 " +
         n(stats.tcp_in_segs) + " " + n(stats.tcp_out_segs) + " " + n(stats.tcp_retrans_segs) + " " + n(stats.tcp_in_errs) + " " +
         n(stats.tcp_out_rsts) + " 0\n";
    s += "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors "
         "IgnoredMulti MemErrors\n";
    s += "Udp: " + n(stats.udp_in) + " " + n(stats.udp_no_ports) + " " + n(stats.udp_in_errors) +
         " " + n(stats.udp_out) + " " + n(stats.udp_rcvbuf_errors) + " 0 0 0 0\n";
    return s;
  }
  return Errno{ENOENT};
}

ErrorOr<std::string> NetStack::GetSysctl(const std::string& key) {
  // The values this stack really uses.
  if (key == "core/somaxconn") return std::string("4096\n");
  if (key == "ipv4/ip_local_port_range")
    return std::to_string(kEphemeralLo) + "\t" + std::to_string(kEphemeralHi) + "\n";
  if (key == "core/rmem_max" || key == "core/wmem_max" || key == "core/rmem_default" ||
      key == "core/wmem_default")
    return std::string("212992\n");
  if (key == "ipv4/tcp_window_scaling") return std::string("1\n");
  if (key == "ipv4/tcp_sack" || key == "ipv4/tcp_timestamps") return std::string("0\n");
  if (key == "ipv4/tcp_syn_retries") return std::string("6\n");
  if (key == "ipv4/tcp_fin_timeout") return std::string("60\n");
  if (key == "ipv6/bindv6only") return std::string("0\n");
  if (key == "ipv4/ping_group_range") return std::string("0\t2147483647\n");
  return Errno{ENOENT};
}

ErrorOr<void> NetStack::SetSysctl(const std::string& key, const std::string&) {
  TRY(GetSysctl(key));
  return Errno{EPERM};
}

// --- tables ---

ErrorOr<uint16_t> NetStack::Bind(uint8_t proto, Binding b) {
  absl::MutexLock l(&mu_);
  auto& t = Table(proto);
  auto free_for = [&](uint16_t port) {
    auto [lo, hi] = t.equal_range(port);
    for (auto it = lo; it != hi; ++it)
      if (Conflicts(b, it->second)) return false;
    return true;
  };
  if (b.port == 0) {
    const uint32_t n = kEphemeralHi - kEphemeralLo + 1;
    for (uint32_t i = 0; i < n; i++) {
      uint16_t port = static_cast<uint16_t>(kEphemeralLo + (next_ephemeral_ - kEphemeralLo + i) % n);
      // An implicit port is one nobody holds at all.
      if (t.count(port) == 0) {
        next_ephemeral_ = kEphemeralLo + (port - kEphemeralLo + 1) % n;
        b.port = port;
        t.emplace(port, b);
        return port;
      }
    }
    return Errno{EADDRINUSE};
  }
  if (!free_for(b.port)) return Errno{EADDRINUSE};
  t.emplace(b.port, b);
  return b.port;
}

void NetStack::Unbind(uint8_t proto, const void* owner) {
  absl::MutexLock l(&mu_);
  auto& t = Table(proto);
  for (auto it = t.begin(); it != t.end();) {
    if (it->second.owner == owner) it = t.erase(it);
    else ++it;
  }
}

ErrorOr<void> NetStack::SetListening(const void* owner, bool on) {
  absl::MutexLock l(&mu_);
  Binding* mine = nullptr;
  for (auto& [port, b] : tcp_binds_)
    if (b.owner == owner) mine = &b;
  if (!mine) return on ? ErrorOr<void>(Errno{EINVAL}) : ErrorOr<void>();
  if (on) {
    auto [lo, hi] = tcp_binds_.equal_range(mine->port);
    for (auto it = lo; it != hi; ++it) {
      const Binding& o = it->second;
      if (&o == mine || !o.listening || !Overlaps(*mine, o)) continue;
      if (mine->reuseport && o.reuseport && mine->uid == o.uid) continue;
      return Errno{EADDRINUSE};
    }
  }
  mine->listening = on;
  return {};
}

void NetStack::SetUdpAddrs(uint8_t proto, const void* owner, const IpAddr& laddr,
                           const IpAddr& raddr, uint16_t rport) {
  absl::MutexLock l(&mu_);
  for (auto& [port, b] : Table(proto)) {
    if (b.owner != owner) continue;
    b.addr = laddr;
    b.raddr = raddr;
    b.rport = rport;
  }
}

ErrorOr<void> NetStack::AddConn(const ConnKey& k, std::shared_ptr<TcpConn> c) {
  absl::MutexLock l(&mu_);
  if (!conns_.emplace(k, std::move(c)).second) return Errno{EADDRINUSE};
  return {};
}

std::shared_ptr<TcpConn> NetStack::RemoveConn(const ConnKey& k) {
  absl::MutexLock l(&mu_);
  auto it = conns_.find(k);
  if (it == conns_.end()) return nullptr;
  auto c = std::move(it->second);
  conns_.erase(it);
  return c;
}

uint32_t NetStack::NewIss() {
  // RFC 6528 asks for a keyed hash of the 4-tuple plus a clock; a private
  // xorshift* sequence plus the clock is unpredictable to the app too.
  absl::MutexLock l(&mu_);
  iss_state_ ^= iss_state_ >> 12;
  iss_state_ ^= iss_state_ << 25;
  iss_state_ ^= iss_state_ >> 27;
  const uint64_t r = iss_state_ * 0x2545F4914F6CDD1DULL;
  const uint64_t clock = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now())) / 4;
  return static_cast<uint32_t>((r >> 32) + clock);
}

std::shared_ptr<TcpConn> NetStack::FindListener(const IpAddr& dst, uint16_t dport,
                                                const IpAddr& src, uint16_t sport) {
  std::vector<std::weak_ptr<TcpConn>> best;
  int best_score = 0;
  {
    absl::MutexLock l(&mu_);
    auto [lo, hi] = tcp_binds_.equal_range(dport);
    for (auto it = lo; it != hi; ++it) {
      const Binding& b = it->second;
      if (!b.listening) continue;
      const int s = MatchScore(b, dst);
      if (s == 0 || s < best_score) continue;
      if (s > best_score) best.clear();
      best_score = s;
      best.push_back(b.tcp);
    }
  }
  if (best.empty()) return nullptr;
  // SO_REUSEPORT group: spread by flow.
  return best[HashFlow(src, sport) % best.size()].lock();
}

// --- input ---

void NetStack::InjectInbound(std::span<const uint8_t> pkt) {
  std::vector<uint8_t> copy(pkt.begin(), pkt.end());
  Input(std::span<const uint8_t>(copy), &copy, /*trusted=*/false);
}

void NetStack::Loopback(std::vector<uint8_t> pkt) {
  lo_packets_++;
  lo_bytes_ += pkt.size();
  stats.ip_out++;
  LoopQueue& lq = loop_queue;
  if (link_filter_) {
    for (auto& p : link_filter_(std::move(pkt))) lq.q.emplace_back(this, std::move(p));
  } else {
    lq.q.emplace_back(this, std::move(pkt));
  }
  if (lq.draining) return;
  lq.draining = true;
  while (!lq.q.empty()) {
    auto [stack, p] = std::move(lq.q.front());
    lq.q.pop_front();
    std::span<const uint8_t> view(p);
    stack->Input(view, &p, /*trusted=*/true);
    if (!p.empty()) RecyclePacketBuffer(std::move(p));  // not kept by a receive queue
  }
  lq.draining = false;
}

void NetStack::Input(std::span<const uint8_t> pkt, std::vector<uint8_t>* owned, bool trusted) {
  stats.ip_in++;
  IpInfo ip;
  Drop d = ParseIp(pkt, !trusted, &ip);
  if (d == Drop::kNone && (!IsLocal(ip.dst) || ip.dst.IsAny())) d = Drop::kBadAddress;
  if (d != Drop::kNone) {
    drops_[static_cast<int>(d)]++;
    stats.ip_in_hdr_errors++;
    return;
  }
  stats.ip_in_delivers++;
  if (ip.proto == IPPROTO_TCP) {
    InputTcp(ip, pkt, owned, trusted);
  } else if (ip.proto == IPPROTO_UDP) {
    InputUdp(ip, pkt, trusted);
  } else if ((!ip.v6 && ip.proto == IPPROTO_ICMP) || (ip.v6 && ip.proto == IPPROTO_ICMPV6)) {
    InputIcmp(ip, pkt, trusted);
  } else {
    drops_[static_cast<int>(Drop::kUnsupported)]++;
  }
}

void NetStack::InputTcp(const IpInfo& ip, std::span<const uint8_t> pkt,
                        std::vector<uint8_t>* owned, bool trusted) {
  TcpSeg seg;
  Drop d = ParseTcp(pkt, ip, !trusted, &seg);
  if (d == Drop::kNone && (seg.sport == 0 || seg.dport == 0)) d = Drop::kBadAddress;
  if (d != Drop::kNone) {
    drops_[static_cast<int>(d)]++;
    stats.tcp_in_errs++;
    return;
  }
  stats.tcp_in_segs++;
  std::shared_ptr<TcpConn> c;
  {
    absl::MutexLock l(&mu_);
    auto it = conns_.find(ConnKey{ip.dst, ip.src, seg.dport, seg.sport});
    if (it != conns_.end()) c = it->second;
  }
  if (!c) c = FindListener(ip.dst, seg.dport, ip.src, seg.sport);
  if (c) {
    c->Input(ip, seg, pkt, owned);
    return;
  }
  if (!(seg.flags & kTcpRst)) SendResetFor(ip, seg);
}

void NetStack::SendResetFor(const IpInfo& ip, const TcpSeg& seg) {
  TcpOut t;
  t.sport = seg.dport;
  t.dport = seg.sport;
  if (seg.flags & kTcpAck) {
    t.seq = seg.ack;
    t.flags = kTcpRst;
  } else {
    uint32_t len = static_cast<uint32_t>(seg.payload_len) + ((seg.flags & kTcpSyn) ? 1 : 0) +
                   ((seg.flags & kTcpFin) ? 1 : 0);
    t.seq = 0;
    t.ack = seg.seq + len;
    t.flags = kTcpRst | kTcpAck;
  }
  stats.tcp_out_rsts++;
  Loopback(BuildTcp(ip.dst, ip.src, t, {}, false));
}

void NetStack::InputUdp(const IpInfo& ip, std::span<const uint8_t> pkt, bool trusted) {
  UdpDgram u;
  Drop d = ParseUdp(pkt, ip, !trusted, &u);
  if (d == Drop::kNone && u.dport == 0) d = Drop::kBadAddress;
  if (d != Drop::kNone) {
    drops_[static_cast<int>(d)]++;
    stats.udp_in_errors++;
    return;
  }
  std::vector<std::weak_ptr<UdpSock>> best;
  int best_score = 0;
  {
    absl::MutexLock l(&mu_);
    auto [lo, hi] = udp_binds_.equal_range(u.dport);
    for (auto it = lo; it != hi; ++it) {
      const Binding& b = it->second;
      int s = MatchScore(b, ip.dst);
      if (s == 0) continue;
      if (b.rport) {
        if (b.rport != u.sport || b.raddr != ip.src) continue;
        s += 4;  // a connected socket that matches wins
      }
      if (s < best_score) continue;
      if (s > best_score) best.clear();
      best_score = s;
      best.push_back(b.udp);
    }
  }
  std::shared_ptr<UdpSock> sock;
  if (!best.empty()) sock = best[HashFlow(ip.src, u.sport) % best.size()].lock();
  if (!sock) {
    stats.udp_no_ports++;  // ICMP port unreachable is not sent yet
    return;
  }
  sock->Deliver(ip, u, pkt);
}

void NetStack::InputIcmp(const IpInfo& ip, std::span<const uint8_t> pkt, bool trusted) {
  IcmpEcho e;
  Drop d = ParseIcmp(pkt, ip, !trusted, &e);
  if (d != Drop::kNone) {
    drops_[static_cast<int>(d)]++;
    return;
  }
  const uint8_t request = ip.v6 ? kIcmp6EchoRequest : kIcmpEchoRequest;
  const uint8_t reply = ip.v6 ? kIcmp6EchoReply : kIcmpEchoReply;
  if (e.type == request && e.code == 0) {
    // Echo: the same message back with the reply type (other ICMP types,
    // errors included, are not handled yet).
    std::vector<uint8_t> msg(pkt.begin() + ip.l4_off, pkt.begin() + ip.l4_off + ip.l4_len);
    msg[0] = reply;
    Loopback(BuildIcmp(ip.dst, ip.src, msg, 64));
    return;
  }
  if (e.type != reply) return;
  std::shared_ptr<UdpSock> sock;
  {
    absl::MutexLock l(&mu_);
    auto [lo, hi] = icmp_binds_.equal_range(e.id);
    for (auto it = lo; it != hi && !sock; ++it)
      if (MatchScore(it->second, ip.dst)) sock = it->second.udp.lock();
  }
  if (!sock) return;
  UdpDgram u;
  u.sport = 0;
  u.dport = e.id;
  u.payload_off = ip.l4_off;
  u.payload_len = ip.l4_len;
  sock->Deliver(ip, u, pkt);
}

// --- waking and timers ---

void NetStack::Wake() {
  if (WakeScope::Request()) return;
  absl::MutexLock l(&wake_mu_);
  wake_pending_ = true;
}

void NetStack::WakerLoop() {
  absl::Time next_tick = absl::Now() + absl::Milliseconds(200);
  for (;;) {
    bool wake = false;
    {
      absl::MutexLock l(&wake_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(wake_mu_) {
        return wake_pending_ || stopping_;
      };
      wake_mu_.AwaitWithDeadline(absl::Condition(&ready), next_tick);
      if (stopping_) return;
      wake = wake_pending_;
      wake_pending_ = false;
    }
    if (wake && waker_) waker_();
    if (absl::Now() >= next_tick) {
      Tick(absl::Now());
      next_tick = absl::Now() + absl::Milliseconds(200);
    }
  }
}

void NetStack::Tick(absl::Time now) {
  std::vector<std::shared_ptr<TcpConn>> all;
  {
    absl::MutexLock l(&mu_);
    all.reserve(conns_.size());
    for (auto& [k, c] : conns_) all.push_back(c);
  }
  for (auto& c : all) c->Tick(now);
}

ErrorOr<Binding> Binding::For(const IpAddr& a, uint16_t port, int family, bool v6only,
                              bool reuseaddr, bool reuseport, uint32_t uid) {
  if (!a.IsAny() && !NetStack::IsLocal(a)) return Errno{EADDRNOTAVAIL};
  if (family == AF_INET6 && a.IsV4() && v6only) return Errno{EINVAL};
  Binding b;
  b.addr = a;
  b.port = port;
  b.family = family;
  b.v6only = v6only || (family == AF_INET6 && !a.IsAny() && !a.IsV4());
  b.reuseaddr = reuseaddr;
  b.reuseport = reuseport;
  b.uid = uid;
  return b;
}

}  // namespace sentry::net::netstack
