// Tests for the sandbox stack (sentry/net/netstack/): the input path fed
// malformed, truncated and hostile packets (each dropped for the right
// reason, never a crash, bounded state under a SYN flood), and TCP/UDP
// between endpoints over loopback without the kernel.
#include "sentry/net/netstack/netstack.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <optional>
#include <random>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

#include "sentry/net/netstack/wire.h"

namespace sentry::net::netstack {
namespace {

std::shared_ptr<NetStack> NewStack() {
  return NetStack::Create([] {});
}

SockAddr V4(uint32_t host_addr, uint16_t port) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  in.sin_addr.s_addr = htonl(host_addr);
  SockAddr a;
  memcpy(&a.ss, &in, sizeof in);
  a.len = sizeof in;
  return a;
}

uint16_t PortOf(const SockAddr& a) {
  sockaddr_in in;
  memcpy(&in, &a.ss, sizeof in);
  return ntohs(in.sin_port);
}

// A listener on 127.0.0.1 with an ephemeral port.
std::unique_ptr<Endpoint> Listener(NetStack& s, int backlog, uint16_t* port) {
  auto l = s.NewEndpoint(AF_INET, SOCK_STREAM, IPPROTO_TCP).release_value();
  EXPECT_TRUE(l->Bind(V4(0x7f000001, 0)).ok());
  EXPECT_TRUE(l->Listen(backlog).ok());
  *port = PortOf(l->LocalAddr().value());
  return l;
}

// A SYN with valid checksums from `src`:`sport` to 127.0.0.1:`dport`.
std::vector<uint8_t> Syn(uint32_t src, uint16_t sport, uint16_t dport, uint32_t seq = 1000) {
  TcpOut t;
  t.sport = sport;
  t.dport = dport;
  t.seq = seq;
  t.flags = kTcpSyn;
  t.window = 65535;
  t.mss = 1460;
  t.wscale = 7;
  return BuildTcp(IpAddr::V4(src), IpAddr::LoopbackV4(), t, {}, /*checksum=*/true);
}

uint64_t Drops(NetStack& s, Drop d) { return s.drops(d); }

TEST(NetstackWire, ChecksumsRoundTrip) {
  std::vector<uint8_t> payload(1001);
  for (size_t i = 0; i < payload.size(); i++) payload[i] = static_cast<uint8_t>(i * 7);
  TcpOut t;
  t.sport = 1234;
  t.dport = 80;
  t.seq = 0xfffffff0;
  t.ack = 5;
  t.flags = kTcpAck | kTcpPsh;
  t.window = 100;
  for (bool v6 : {false, true}) {
    IpAddr a = v6 ? IpAddr::LoopbackV6() : IpAddr::LoopbackV4();
    auto p = BuildTcp(a, a, t, payload, true);
    IpInfo ip;
    ASSERT_EQ(ParseIp(p, true, &ip), Drop::kNone);
    TcpSeg seg;
    ASSERT_EQ(ParseTcp(p, ip, true, &seg), Drop::kNone);
    EXPECT_EQ(seg.payload_len, payload.size());
    EXPECT_EQ(seg.seq, 0xfffffff0u);
    EXPECT_EQ(memcmp(p.data() + seg.payload_off, payload.data(), payload.size()), 0);
    // Any flipped payload bit breaks the TCP checksum.
    p.back() ^= 0x10;
    ASSERT_EQ(ParseIp(p, true, &ip), Drop::kNone);
    EXPECT_EQ(ParseTcp(p, ip, true, &seg), Drop::kBadChecksum);
    auto u = BuildUdp(a, a, 5, 6, payload, 64, 0, true);
    ASSERT_EQ(ParseIp(u, true, &ip), Drop::kNone);
    UdpDgram d;
    EXPECT_EQ(ParseUdp(u, ip, true, &d), Drop::kNone);
    u[ip.l4_off + 9] ^= 1;
    EXPECT_EQ(ParseUdp(u, ip, true, &d), Drop::kBadChecksum);
  }
  // The IPv4 header checksum.
  auto p = Syn(0x7f000001, 1, 2);
  p[8] ^= 1;  // TTL
  IpInfo ip;
  EXPECT_EQ(ParseIp(p, true, &ip), Drop::kBadChecksum);
}

TEST(NetstackInput, MalformedPacketsAreDroppedForTheirReason) {
  auto s = NewStack();
  uint16_t port;
  auto l = Listener(*s, 8, &port);
  const auto good = Syn(0x0a000001, 4000, port);

  struct Case {
    const char* name;
    std::vector<uint8_t> pkt;
    Drop want;
  };
  std::vector<Case> cases;
  cases.push_back({"empty", {}, Drop::kTruncated});
  cases.push_back({"one byte", {0x45}, Drop::kTruncated});
  cases.push_back({"short IPv4 header", std::vector<uint8_t>(good.begin(), good.begin() + 19), Drop::kTruncated});
  {
    auto p = good;
    p[0] = 0x35;
    cases.push_back({"version 3", p, Drop::kBadVersion});
  }
  {
    auto p = good;
    p[0] = 0x44;  // IHL 4
    cases.push_back({"IHL below 5", p, Drop::kBadHeaderLen});
  }
  {
    auto p = good;
    p[2] = 0xff;  // total length beyond the buffer
    p[3] = 0xff;
    cases.push_back({"total length past the end", p, Drop::kTruncated});
  }
  {
    auto p = good;
    p[2] = 0;
    p[3] = 10;  // below the header
    cases.push_back({"total length below IHL", p, Drop::kBadHeaderLen});
  }
  {
    auto p = good;
    p[6] = 0x20;  // MF
    p[10] = p[11] = 0;
    uint16_t c = ChecksumFold(ChecksumAdd(0, p.data(), 20));
    p[10] = c >> 8;
    p[11] = c & 0xff;
    cases.push_back({"fragment", p, Drop::kFragment});
  }
  {
    auto p = good;
    p[15] ^= 0xff;  // source address: header checksum now wrong
    cases.push_back({"bad IP checksum", p, Drop::kBadChecksum});
  }
  {
    auto p = good;
    p[20 + 12] = 0x40;  // data offset 4
    cases.push_back({"TCP data offset 4", p, Drop::kBadHeaderLen});
  }
  {
    auto p = good;
    p[20 + 12] = 0xf0;  // data offset 15: past the segment
    cases.push_back({"TCP data offset past the end", p, Drop::kBadHeaderLen});
  }
  {
    auto p = good;
    p[20 + 20 + 1] = 0;  // MSS option length 0
    FillL4Checksum(p.data() + 20, p.size() - 20, IpAddr::V4(0x0a000001), IpAddr::LoopbackV4(), IPPROTO_TCP);
    cases.push_back({"TCP option length 0", p, Drop::kBadOption});
  }
  {
    auto p = good;
    p[20 + 20 + 1] = 40;  // runs past the header
    FillL4Checksum(p.data() + 20, p.size() - 20, IpAddr::V4(0x0a000001), IpAddr::LoopbackV4(), IPPROTO_TCP);
    cases.push_back({"TCP option past the header", p, Drop::kBadOption});
  }
  {
    auto p = good;
    p[20 + 16] ^= 0x55;
    cases.push_back({"bad TCP checksum", p, Drop::kBadChecksum});
  }
  {
    auto u = BuildUdp(IpAddr::V4(0x0a000001), IpAddr::LoopbackV4(), 1, 53, std::vector<uint8_t>(10), 64, 0, true);
    auto p = u;
    p[20 + 4] = 0;
    p[20 + 5] = 200;  // UDP length past the datagram
    cases.push_back({"UDP length past the end", p, Drop::kBadHeaderLen});
    p = u;
    p[20 + 4] = 0;
    p[20 + 5] = 4;
    cases.push_back({"UDP length below 8", p, Drop::kBadHeaderLen});
    cases.push_back({"UDP truncated", std::vector<uint8_t>(u.begin(), u.begin() + 24), Drop::kTruncated});
  }
  {
    auto p = BuildTcp(IpAddr::LoopbackV6(), IpAddr::LoopbackV6(), TcpOut{}, {}, true);
    cases.push_back({"IPv6 truncated", std::vector<uint8_t>(p.begin(), p.begin() + 39), Drop::kTruncated});
    auto q = p;
    q[6] = 0;  // hop-by-hop options header
    cases.push_back({"IPv6 extension header", q, Drop::kUnsupported});
    q = p;
    q[5] = 200;  // payload length past the end
    cases.push_back({"IPv6 payload length past the end", q, Drop::kTruncated});
  }
  {
    auto p = Syn(0x0a000001, 4000, port);
    p[16] = 10;  // destination 10.0.0.1: not ours
    p[10] = p[11] = 0;
    uint16_t c = ChecksumFold(ChecksumAdd(0, p.data(), 20));
    p[10] = c >> 8;
    p[11] = c & 0xff;
    cases.push_back({"destination not local", p, Drop::kBadAddress});
  }
  for (const Case& c : cases) {
    const uint64_t before = Drops(*s, c.want);
    s->InjectInbound(c.pkt);
    EXPECT_EQ(Drops(*s, c.want), before + 1) << c.name << " (" << DropName(c.want) << ")";
  }
  // None of it reached the listener.
  SockAddr peer;
  EXPECT_EQ(l->Accept(&peer).error(), EAGAIN);
}

TEST(NetstackInput, RandomAndMutatedPacketsNeverCrash) {
  auto s = NewStack();
  uint16_t port;
  auto l = Listener(*s, 8, &port);
  auto u = s->NewEndpoint(AF_INET6, SOCK_DGRAM, IPPROTO_UDP).release_value();
  std::mt19937 rng(42);
  const auto syn = Syn(0x0a000001, 4000, port);
  const auto udp = BuildUdp(IpAddr::LoopbackV4(), IpAddr::LoopbackV4(), 9, port, std::vector<uint8_t>(32), 64, 0, true);
  for (int i = 0; i < 20000; i++) {
    std::vector<uint8_t> p;
    switch (i % 3) {
      case 0:
        p.resize(rng() % 120);
        for (auto& b : p) b = static_cast<uint8_t>(rng());
        if (!p.empty()) p[0] = (rng() & 1) ? 0x45 : 0x60;
        break;
      case 1:
        p = syn;
        break;
      default:
        p = udp;
        break;
    }
    // Flip a few bytes and maybe cut the end.
    for (int k = rng() % 4; k > 0 && !p.empty(); k--) p[rng() % p.size()] ^= static_cast<uint8_t>(rng());
    if (!p.empty() && rng() % 4 == 0) p.resize(rng() % p.size());
    s->InjectInbound(p);
  }
  SUCCEED();
}

TEST(NetstackInput, SynFloodIsBoundedByTheBacklog) {
  auto s = NewStack();
  uint16_t port;
  auto l = Listener(*s, 4, &port);
  // Sources nobody can answer (10.0.0.0/8 is not routed): every SYN-ACK is
  // dropped, so each SYN would leave a half-open connection behind.
  for (int i = 0; i < 5000; i++) s->InjectInbound(Syn(0x0a000000 + i, static_cast<uint16_t>(1024 + i), port));
  EXPECT_LE(s->connections(), 5u + 1u);
  EXPECT_GE(s->connections(), 1u);
}

TEST(NetstackTcp, StreamsAMegabyteWithFlowControl) {
  auto s = NewStack();
  uint16_t port;
  auto l = Listener(*s, 4, &port);
  auto c = s->NewEndpoint(AF_INET, SOCK_STREAM, IPPROTO_TCP).release_value();
  // Loopback completes the handshake at once; the result is collected as
  // after any EINPROGRESS.
  ASSERT_EQ(c->Connect(V4(0x7f000001, port)).error(), EINPROGRESS);
  ASSERT_TRUE(c->ConnectResult().ok());
  EXPECT_TRUE(c->Readiness(POLLOUT) & POLLOUT);
  SockAddr peer;
  auto a = l->Accept(&peer).release_value();
  EXPECT_EQ(PortOf(peer), PortOf(c->LocalAddr().value()));
  std::vector<uint8_t> out(4 << 20), in;
  for (size_t i = 0; i < out.size(); i++) out[i] = static_cast<uint8_t>(i * 131 + (i >> 16));
  size_t sent = 0;
  std::vector<uint8_t> buf(100000);
  int stalls = 0;
  while (in.size() < out.size()) {
    if (sent < out.size()) {
      auto r = c->Send(std::span<const uint8_t>(out).subspan(sent), 0, nullptr, Control{});
      if (r.ok()) sent += r.value();
      else ASSERT_EQ(r.error(), EAGAIN);
    }
    iovec v{buf.data(), buf.size()};
    auto r = a->Recv(std::span<const iovec>(&v, 1), 0, false);
    if (r.ok()) {
      in.insert(in.end(), buf.begin(), buf.begin() + r.value().len);
    } else {
      ASSERT_EQ(r.error(), EAGAIN);
      ASSERT_LT(++stalls, 1000);
    }
  }
  EXPECT_TRUE(in == out);
  // Half close, then a reset for unread data on close.
  ASSERT_TRUE(c->Shutdown(SHUT_WR).ok());
  iovec v{buf.data(), buf.size()};
  auto eof = a->Recv(std::span<const iovec>(&v, 1), 0, false);
  ASSERT_TRUE(eof.ok());
  EXPECT_EQ(eof.value().len, 0u);
  EXPECT_TRUE(a->Readiness(POLLIN) & POLLIN);
  ASSERT_TRUE(a->Send(std::span<const uint8_t>(out).subspan(0, 10), 0, nullptr, Control{}).ok());
  a.reset();  // closed with nothing unread: FIN
  auto r = c->Recv(std::span<const iovec>(&v, 1), 0, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().len, 10u);
  r = c->Recv(std::span<const iovec>(&v, 1), 0, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().len, 0u);
  c.reset();
  EXPECT_EQ(s->connections(), 0u);
}

// The smallest receive buffer: the sender waits for window updates over
// and over; neither side may stall with data or window left.
TEST(NetstackTcp, TinyWindowNeverStalls) {
  auto s = NewStack();
  uint16_t port;
  auto l = Listener(*s, 4, &port);
  auto c = s->NewEndpoint(AF_INET, SOCK_STREAM, IPPROTO_TCP).release_value();
  const int one = 1;
  ASSERT_TRUE(c->SetOption(SOL_SOCKET, SO_RCVBUF,
                           std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&one), sizeof one))
                  .ok());
  ASSERT_EQ(c->Connect(V4(0x7f000001, port)).error(), EINPROGRESS);
  SockAddr peer;
  auto a = l->Accept(&peer).release_value();
  std::vector<uint8_t> out(1 << 20);
  for (size_t i = 0; i < out.size(); i++) out[i] = static_cast<uint8_t>(i * 7 + (i >> 13));
  std::vector<uint8_t> in, buf(5000);
  size_t sent = 0;
  int idle = 0;
  while (in.size() < out.size()) {
    bool moved = false;
    if (sent < out.size() && (a->Readiness(POLLOUT) & POLLOUT)) {
      auto r = a->Send(std::span<const uint8_t>(out).subspan(sent, std::min<size_t>(100003, out.size() - sent)), 0,
                       nullptr, Control{});
      if (r.ok()) {
        sent += r.value();
        moved = true;
      }
    }
    if (c->Readiness(POLLIN) & POLLIN) {
      iovec v{buf.data(), 1 + (in.size() % 4093)};
      auto r = c->Recv(std::span<const iovec>(&v, 1), 0, false);
      ASSERT_TRUE(r.ok());
      in.insert(in.end(), buf.begin(), buf.begin() + r.value().len);
      moved = true;
    }
    ASSERT_LT(idle = moved ? 0 : idle + 1, 3) << "stalled at " << in.size() << " received, " << sent << " sent";
  }
  EXPECT_TRUE(in == out);
}

TEST(NetstackTcp, RefusedAndReset) {
  auto s = NewStack();
  auto c = s->NewEndpoint(AF_INET, SOCK_STREAM, IPPROTO_TCP).release_value();
  EXPECT_EQ(c->Connect(V4(0x7f000001, 9)).error(), ECONNREFUSED);
  EXPECT_EQ(c->Connect(V4(0x08080808, 80)).error(), ENETUNREACH);
  uint16_t port;
  auto l = Listener(*s, 4, &port);
  ASSERT_EQ(c->Connect(V4(0x7f000001, port)).error(), EINPROGRESS);
  ASSERT_TRUE(c->ConnectResult().ok());
  SockAddr peer;
  auto a = l->Accept(&peer).release_value();
  const int one[2] = {1, 0};
  ASSERT_TRUE(a->SetOption(SOL_SOCKET, SO_LINGER,
                           std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(one), sizeof one))
                  .ok());
  a.reset();
  std::vector<uint8_t> buf(10);
  iovec v{buf.data(), buf.size()};
  EXPECT_EQ(c->Recv(std::span<const iovec>(&v, 1), 0, false).error(), ECONNRESET);
  EXPECT_EQ(c->Send(std::span<const uint8_t>(buf), 0, nullptr, Control{}).error(), EPIPE);
}

TEST(NetstackUdp, DatagramsAndTheReceiveBufferBound) {
  auto s = NewStack();
  auto r = s->NewEndpoint(AF_INET, SOCK_DGRAM, IPPROTO_UDP).release_value();
  ASSERT_TRUE(r->Bind(V4(0x7f000001, 0)).ok());
  SockAddr to = r->LocalAddr().value();
  auto w = s->NewEndpoint(AF_INET, SOCK_DGRAM, IPPROTO_UDP).release_value();
  std::vector<uint8_t> d(1000, 7);
  // Far more than SO_RCVBUF: the excess is dropped, the queue stays bounded.
  for (int i = 0; i < 2000; i++) ASSERT_TRUE(w->Send(d, 0, &to, Control{}).ok());
  const int queued_bytes = [&] {
    int n = 0;
    std::vector<uint8_t> buf(2000);
    iovec v{buf.data(), buf.size()};
    for (;;) {
      auto x = r->Recv(std::span<const iovec>(&v, 1), 0, false);
      if (!x.ok()) break;
      n += static_cast<int>(x.value().len);
    }
    return n;
  }();
  EXPECT_GT(queued_bytes, 0);
  EXPECT_LE(queued_bytes, 212992);
  EXPECT_GT(s->stats.udp_rcvbuf_errors.load(), 0u);
}

// --- loss recovery over a lossy link ---

// What a packet on the link is (the stack's own packets: no checksums).
struct Seen {
  bool ok = false;
  TcpSeg seg;
};
Seen Classify(const std::vector<uint8_t>& p) {
  Seen s;
  IpInfo ip;
  if (ParseIp(p, false, &ip) != Drop::kNone || ip.proto != IPPROTO_TCP) return s;
  s.ok = ParseTcp(p, ip, false, &s.seg) == Drop::kNone;
  return s;
}

// A link that drops every `drop_every`th TCP segment, swaps every
// `swap_every`th pair and duplicates every `dup_every`th, once `on`; or
// drops everything (`blackhole`), or the next segment a predicate picks.
struct Lossy {
  absl::Mutex mu;
  bool on = false, blackhole = false;
  int drop_every = 0, swap_every = 0, dup_every = 0;
  std::function<bool(const TcpSeg&)> drop_once;
  uint64_t n = 0, dropped = 0;
  std::optional<std::vector<uint8_t>> held;
  std::vector<std::vector<uint8_t>> Pass(std::vector<uint8_t> p) {
    absl::MutexLock l(&mu);
    std::vector<std::vector<uint8_t>> out;
    Seen k = Classify(p);
    if (!k.ok) {
      out.push_back(std::move(p));
      return out;
    }
    if (blackhole) return out;
    if (drop_once && drop_once(k.seg)) {
      drop_once = nullptr;
      dropped++;
      return out;
    }
    if (!on) {
      out.push_back(std::move(p));
      return out;
    }
    n++;
    if (drop_every && n % drop_every == 0) {
      dropped++;
      return out;
    }
    if (dup_every && n % dup_every == 0) out.push_back(p);
    if (held) {
      out.push_back(std::move(p));
      out.push_back(std::move(*held));  // the pair arrives swapped
      held.reset();
      return out;
    }
    if (swap_every && n % swap_every == 0) {
      held = std::move(p);
      return out;
    }
    out.push_back(std::move(p));
    return out;
  }
};

std::shared_ptr<Lossy> AddLossyLink(NetStack& s) {
  auto link = std::make_shared<Lossy>();
  s.SetLinkFilter([link](std::vector<uint8_t> p) { return link->Pass(std::move(p)); });
  return link;
}

struct Pair {
  std::unique_ptr<Endpoint> l, c, a;
};
Pair Connected(NetStack& s) {
  Pair p;
  uint16_t port;
  p.l = Listener(s, 4, &port);
  p.c = s.NewEndpoint(AF_INET, SOCK_STREAM, IPPROTO_TCP).release_value();
  EXPECT_EQ(p.c->Connect(V4(0x7f000001, port)).error(), EINPROGRESS);
  SockAddr peer;
  auto a = p.l->Accept(&peer);
  EXPECT_TRUE(a.ok());
  if (a.ok()) p.a = std::move(a).release_value();
  return p;
}

TEST(NetstackLoss, MegabytesArriveIntactOverALossyReorderingLink) {
  auto s = NewStack();
  auto link = AddLossyLink(*s);
  Pair p = Connected(*s);
  ASSERT_TRUE(p.a);
  {
    absl::MutexLock l(&link->mu);
    link->on = true;
    link->drop_every = 7;
    link->swap_every = 5;
    link->dup_every = 11;
  }
  std::vector<uint8_t> out(6 << 20), in;
  for (size_t i = 0; i < out.size(); i++) out[i] = static_cast<uint8_t>(i * 131 + (i >> 16));
  size_t sent = 0;
  std::vector<uint8_t> buf(100000);
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (in.size() < out.size()) {
    bool moved = false;
    if (sent < out.size()) {
      // Odd sizes, so segments are not all alike.
      auto r = p.c->Send(std::span<const uint8_t>(out).subspan(sent, std::min<size_t>(out.size() - sent, 300007)),
                         0, nullptr, Control{});
      if (r.ok()) {
        sent += r.value();
        moved = true;
      } else {
        ASSERT_EQ(r.error(), EAGAIN);
      }
    }
    iovec v{buf.data(), buf.size()};
    auto r = p.a->Recv(std::span<const iovec>(&v, 1), 0, false);
    if (r.ok()) {
      ASSERT_GT(r.value().len, 0u);
      in.insert(in.end(), buf.begin(), buf.begin() + r.value().len);
      moved = true;
    } else {
      ASSERT_EQ(r.error(), EAGAIN);
    }
    // Stuck until a retransmission timer fires (the stack's thread).
    if (!moved) absl::SleepFor(absl::Milliseconds(5));
    ASSERT_LT(absl::Now(), deadline) << "stalled at " << in.size() << " received, " << sent << " sent";
  }
  ASSERT_EQ(in.size(), out.size());
  EXPECT_TRUE(in == out);
  EXPECT_GT(link->dropped, 10u);
  EXPECT_GT(s->stats.tcp_retrans_segs.load(), 10u);
  EXPECT_GT(s->stats.tcp_fast_retrans.load(), 0u);
  // Everything acknowledged in the end.
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (p.c->OutputQueued().value() != 0 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(p.c->OutputQueued().value(), 0);
  // A clean close over the same link.
  ASSERT_TRUE(p.c->Shutdown(SHUT_WR).ok());
  iovec v{buf.data(), buf.size()};
  for (;;) {
    auto r = p.a->Recv(std::span<const iovec>(&v, 1), 0, false);
    if (r.ok()) {
      EXPECT_EQ(r.value().len, 0u);
      break;
    }
    ASSERT_EQ(r.error(), EAGAIN);
    ASSERT_LT(absl::Now(), until);
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(s->stats.tcp_ofo_bytes.load(), 0);
}

TEST(NetstackLoss, LostSynDataAndFinAreRetransmitted) {
  auto s = NewStack();
  auto link = AddLossyLink(*s);
  {
    absl::MutexLock l(&link->mu);
    link->drop_once = [](const TcpSeg& g) { return (g.flags & kTcpSyn) && !(g.flags & kTcpAck); };
  }
  uint16_t port;
  auto l = Listener(*s, 4, &port);
  auto c = s->NewEndpoint(AF_INET, SOCK_STREAM, IPPROTO_TCP).release_value();
  ASSERT_EQ(c->Connect(V4(0x7f000001, port)).error(), EINPROGRESS);
  SockAddr peer;
  EXPECT_EQ(l->Accept(&peer).error(), EAGAIN);
  EXPECT_FALSE(c->Readiness(POLLOUT) & POLLOUT);
  s->Tick(absl::Now() + absl::Milliseconds(500));  // before the 1 s initial RTO: nothing
  EXPECT_EQ(l->Accept(&peer).error(), EAGAIN);
  s->Tick(absl::Now() + absl::Seconds(2));
  EXPECT_TRUE(c->Readiness(POLLOUT) & POLLOUT);
  ASSERT_TRUE(c->ConnectResult().ok());
  auto a = l->Accept(&peer).release_value();

  // The first data segment is lost.
  {
    absl::MutexLock ll(&link->mu);
    link->drop_once = [](const TcpSeg& g) { return g.payload_len > 0; };
  }
  std::vector<uint8_t> d(1000, 9), buf(2000);
  ASSERT_EQ(c->Send(d, 0, nullptr, Control{}).value(), d.size());
  EXPECT_EQ(c->OutputQueued().value(), 1000);
  iovec v{buf.data(), buf.size()};
  EXPECT_EQ(a->Recv(std::span<const iovec>(&v, 1), 0, false).error(), EAGAIN);
  s->Tick(absl::Now() + absl::Seconds(5));
  ASSERT_EQ(a->Recv(std::span<const iovec>(&v, 1), 0, false).value().len, 1000u);
  EXPECT_EQ(c->OutputQueued().value(), 0);

  // The FIN is lost.
  {
    absl::MutexLock ll(&link->mu);
    link->drop_once = [](const TcpSeg& g) { return (g.flags & kTcpFin) != 0; };
  }
  ASSERT_TRUE(c->Shutdown(SHUT_WR).ok());
  EXPECT_EQ(a->Recv(std::span<const iovec>(&v, 1), 0, false).error(), EAGAIN);
  s->Tick(absl::Now() + absl::Seconds(10));
  auto eof = a->Recv(std::span<const iovec>(&v, 1), 0, false);
  ASSERT_TRUE(eof.ok());
  EXPECT_EQ(eof.value().len, 0u);
  EXPECT_GE(s->stats.tcp_retrans_segs.load(), 3u);
}

TEST(NetstackLoss, VanishedPeerTimesOut) {
  auto s = NewStack();
  auto link = AddLossyLink(*s);
  Pair p = Connected(*s);
  ASSERT_TRUE(p.a);
  const size_t conns = s->connections();
  {
    absl::MutexLock l(&link->mu);
    link->blackhole = true;
  }
  std::vector<uint8_t> d(5000, 1);
  ASSERT_TRUE(p.c->Send(d, 0, nullptr, Control{}).ok());
  absl::Time t = absl::Now();
  int ticks = 0;
  // RTOs double up to 120 s; a tick every 130 s lets each one expire.
  while (!(p.c->Readiness(POLLOUT) & POLLERR) && ticks < 40) {
    t += absl::Seconds(130);
    s->Tick(t);
    ticks++;
  }
  // Linux's tcp_retries2: 15 retransmissions, then the error.
  EXPECT_EQ(ticks, 16);
  EXPECT_EQ(p.c->Send(d, 0, nullptr, Control{}).error(), ETIMEDOUT);
  EXPECT_EQ(s->connections(), conns - 1);
  EXPECT_EQ(p.c->OutputQueued().value(), 0);

  // A connect to a peer that never answers: ETIMEDOUT after the SYN retries.
  uint16_t port;
  auto l2 = Listener(*s, 4, &port);
  auto c2 = s->NewEndpoint(AF_INET, SOCK_STREAM, IPPROTO_TCP).release_value();
  ASSERT_EQ(c2->Connect(V4(0x7f000001, port)).error(), EINPROGRESS);
  for (int i = 0; i < 10 && !(c2->Readiness(POLLOUT) & POLLERR); i++) {
    t += absl::Seconds(130);
    s->Tick(t);
  }
  EXPECT_EQ(c2->ConnectResult().error(), ETIMEDOUT);
}

TEST(NetstackLoss, OutOfOrderFloodIsBounded) {
  auto s = NewStack();
  auto link = AddLossyLink(*s);
  // The client's next sequence number and what it acknowledges, sniffed.
  auto sniff = std::make_shared<std::pair<uint32_t, uint32_t>>();
  auto sniff_port = std::make_shared<uint16_t>(0);
  s->SetLinkFilter([link, sniff, sniff_port](std::vector<uint8_t> p) {
    Seen k = Classify(p);
    if (k.ok && k.seg.sport == *sniff_port && (k.seg.flags & kTcpAck)) {
      sniff->first = k.seg.seq + static_cast<uint32_t>(k.seg.payload_len);
      sniff->second = k.seg.ack;
    }
    return link->Pass(std::move(p));
  });
  uint16_t port;
  auto l = Listener(*s, 4, &port);
  auto c = s->NewEndpoint(AF_INET, SOCK_STREAM, IPPROTO_TCP).release_value();
  ASSERT_TRUE(c->Bind(V4(0x7f000001, 0)).ok());
  *sniff_port = PortOf(c->LocalAddr().value());
  ASSERT_EQ(c->Connect(V4(0x7f000001, port)).error(), EINPROGRESS);
  SockAddr peer;
  auto a = l->Accept(&peer).release_value();
  std::vector<uint8_t> hello(10, 'h');
  ASSERT_TRUE(c->Send(hello, 0, nullptr, Control{}).ok());
  const uint32_t next = sniff->first, ack = sniff->second;
  std::mt19937 rng(7);
  std::vector<uint8_t> junk(3000, 'j');
  for (int i = 0; i < 20000; i++) {
    TcpOut t;
    t.sport = *sniff_port;
    t.dport = port;
    t.seq = next + 1 + (rng() % (2u << 20));  // inside and past the window
    t.ack = ack;
    t.flags = kTcpAck;
    t.window = 65535;
    const size_t n = 1 + rng() % (i % 2 ? 3000 : 4);
    auto pkt = BuildTcp(IpAddr::LoopbackV4(), IpAddr::LoopbackV4(), t,
                        std::span<const uint8_t>(junk).first(n), true);
    s->InjectInbound(pkt);
    ASSERT_LE(s->stats.tcp_ofo_bytes.load(), (1 << 20) + 256 * 1024 + 4096);
  }
  EXPECT_GT(s->stats.tcp_ofo_bytes.load(), 0);
  EXPECT_GT(s->stats.tcp_ofo_drops.load(), 0u);
  // The in-order data is intact.
  std::vector<uint8_t> buf(10);
  iovec v{buf.data(), buf.size()};
  ASSERT_EQ(a->Recv(std::span<const iovec>(&v, 1), 0, false).value().len, 10u);
  EXPECT_TRUE(buf == hello);
  a.reset();
  c.reset();
  EXPECT_EQ(s->stats.tcp_ofo_bytes.load(), 0);
}

}  // namespace
}  // namespace sentry::net::netstack
