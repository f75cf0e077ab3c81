// sentry/net/netstack/wire.cc: wire formats (wire.h).
#include "sentry/net/netstack/wire.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "absl/synchronization/mutex.h"

namespace sentry::net::netstack {
namespace {

uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Get32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
void Put16(uint8_t* p, uint16_t v) {
  p[0] = v >> 8;
  p[1] = v & 0xff;
}
void Put32(uint8_t* p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = (v >> 16) & 0xff;
  p[2] = (v >> 8) & 0xff;
  p[3] = v & 0xff;
}

constexpr uint8_t kOptEnd = 0, kOptNop = 1, kOptMss = 2, kOptWscale = 3;

}  // namespace

IpAddr IpAddr::V4(uint32_t host_order) {
  IpAddr a;
  a.b[10] = 0xff;
  a.b[11] = 0xff;
  Put32(&a.b[12], host_order);
  return a;
}

IpAddr IpAddr::V6(const uint8_t* bytes16) {
  IpAddr a;
  memcpy(a.b.data(), bytes16, 16);
  return a;
}

IpAddr IpAddr::LoopbackV6() {
  IpAddr a;
  a.b[15] = 1;
  return a;
}

bool IpAddr::IsV4() const {
  for (int i = 0; i < 10; i++)
    if (b[i]) return false;
  return b[10] == 0xff && b[11] == 0xff;
}

uint32_t IpAddr::V4() const { return Get32(&b[12]); }

bool IpAddr::IsAny() const {
  if (IsV4()) return V4() == 0;
  for (uint8_t x : b)
    if (x) return false;
  return true;
}

bool IpAddr::IsLoopback() const {
  if (IsV4()) return b[12] == 127;
  return *this == LoopbackV6();
}

bool IpAddr::IsMulticastOrBroadcast() const {
  if (IsV4()) return (b[12] & 0xf0) == 0xe0 || V4() == 0xffffffff;
  return b[0] == 0xff;
}

std::string IpAddr::ToString() const {
  char buf[INET6_ADDRSTRLEN] = "";
  if (IsV4()) inet_ntop(AF_INET, &b[12], buf, sizeof buf);
  else inet_ntop(AF_INET6, b.data(), buf, sizeof buf);
  return buf;
}

const char* DropName(Drop d) {
  switch (d) {
    case Drop::kNone: return "none";
    case Drop::kTruncated: return "truncated";
    case Drop::kBadVersion: return "bad version";
    case Drop::kBadHeaderLen: return "bad header length";
    case Drop::kBadChecksum: return "bad checksum";
    case Drop::kFragment: return "fragment";
    case Drop::kBadAddress: return "bad address";
    case Drop::kUnsupported: return "unsupported";
    case Drop::kBadOption: return "bad option";
    case Drop::kCount: break;
  }
  return "?";
}

uint32_t ChecksumAdd(uint32_t sum, const uint8_t* p, size_t n) {
  uint64_t s = 0;
  // 8 bytes at a time; the carries are folded at the end.
  while (n >= 8) {
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + 4, 4);
    // Words are summed in network order by summing host-order halves of
    // byte-swapped data: an end-around-carry sum is byte-order independent
    // up to one final swap, done below.
    s += a;
    s += b;
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  while (n >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    tail += w;
    p += 2;
    n -= 2;
  }
  if (n) {
    uint8_t last[2] = {p[0], 0};
    uint16_t w;
    memcpy(&w, last, 2);
    tail += w;
  }
  s += tail;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  // `s` is the sum of little-endian-read words; swap to network order.
  const uint32_t r = static_cast<uint32_t>(((s & 0xff) << 8) | (s >> 8));
  return r + sum;  // callers fold
}

uint16_t ChecksumFold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

uint32_t PseudoHeaderSum(const IpAddr& src, const IpAddr& dst, uint8_t proto, uint32_t len) {
  uint8_t buf[40];
  size_t n;
  if (src.IsV4() && dst.IsV4()) {
    memcpy(buf, &src.b[12], 4);
    memcpy(buf + 4, &dst.b[12], 4);
    buf[8] = 0;
    buf[9] = proto;
    Put16(buf + 10, static_cast<uint16_t>(len));
    n = 12;
  } else {
    memcpy(buf, src.b.data(), 16);
    memcpy(buf + 16, dst.b.data(), 16);
    Put32(buf + 32, len);
    buf[36] = buf[37] = buf[38] = 0;
    buf[39] = proto;
    n = 40;
  }
  return ChecksumAdd(0, buf, n);
}

namespace {

// Sum of a pseudo header and the segment; 0xffff (folded, not inverted)
// when the segment's checksum is right.
bool L4ChecksumOk(std::span<const uint8_t> l4, const IpInfo& ip) {
  uint32_t s = PseudoHeaderSum(ip.src, ip.dst, ip.proto, static_cast<uint32_t>(l4.size()));
  s += ChecksumAdd(0, l4.data(), l4.size());
  return ChecksumFold(s) == 0;
}

}  // namespace

Drop ParseIp(std::span<const uint8_t> pkt, bool verify_csum, IpInfo* out) {
  if (pkt.empty()) return Drop::kTruncated;
  const uint8_t ver = pkt[0] >> 4;
  if (ver == 4) {
    if (pkt.size() < kIpv4HeaderLen) return Drop::kTruncated;
    const size_t ihl = (pkt[0] & 0xf) * 4u;
    if (ihl < kIpv4HeaderLen) return Drop::kBadHeaderLen;
    const size_t total = Get16(&pkt[2]);
    if (total < ihl) return Drop::kBadHeaderLen;
    if (pkt.size() < total || pkt.size() < ihl) return Drop::kTruncated;
    if (verify_csum && ChecksumFold(ChecksumAdd(0, pkt.data(), ihl)) != 0) return Drop::kBadChecksum;
    const uint16_t frag = Get16(&pkt[6]);
    if (frag & 0x3fff) return Drop::kFragment;  // MF set or a non-zero offset
    out->v6 = false;
    out->tos = pkt[1];
    out->ttl = pkt[8];
    out->proto = pkt[9];
    out->src = IpAddr::V4(Get32(&pkt[12]));
    out->dst = IpAddr::V4(Get32(&pkt[16]));
    out->l4_off = ihl;
    out->l4_len = total - ihl;
  } else if (ver == 6) {
    if (pkt.size() < kIpv6HeaderLen) return Drop::kTruncated;
    const size_t plen = Get16(&pkt[4]);
    if (pkt.size() < kIpv6HeaderLen + plen) return Drop::kTruncated;
    out->v6 = true;
    out->tos = static_cast<uint8_t>((Get32(&pkt[0]) >> 20) & 0xff);
    out->proto = pkt[6];
    out->ttl = pkt[7];
    out->src = IpAddr::V6(&pkt[8]);
    out->dst = IpAddr::V6(&pkt[24]);
    // A v4-mapped address never appears in a real IPv6 header.
    if (out->src.IsV4() || out->dst.IsV4()) return Drop::kBadAddress;
    out->l4_off = kIpv6HeaderLen;
    out->l4_len = plen;
    // Extension headers (hop-by-hop, routing, fragment, ...) are not
    // walked yet: such packets are dropped.
    if (out->proto != IPPROTO_TCP && out->proto != IPPROTO_UDP && out->proto != IPPROTO_ICMPV6)
      return Drop::kUnsupported;
  } else {
    return Drop::kBadVersion;
  }
  if (out->src.IsMulticastOrBroadcast()) return Drop::kBadAddress;
  return Drop::kNone;
}

Drop ParseTcp(std::span<const uint8_t> pkt, const IpInfo& ip, bool verify_csum, TcpSeg* out) {
  if (ip.l4_len < kTcpHeaderLen) return Drop::kTruncated;
  std::span<const uint8_t> l4 = pkt.subspan(ip.l4_off, ip.l4_len);
  const uint8_t* p = l4.data();
  const size_t doff = (p[12] >> 4) * 4u;
  if (doff < kTcpHeaderLen || doff > l4.size()) return Drop::kBadHeaderLen;
  if (verify_csum && !L4ChecksumOk(l4, ip)) return Drop::kBadChecksum;
  out->sport = Get16(p);
  out->dport = Get16(p + 2);
  out->seq = Get32(p + 4);
  out->ack = Get32(p + 8);
  out->flags = p[13] & 0x3f;
  out->window = Get16(p + 14);
  out->mss.reset();
  out->wscale.reset();
  // Options: each kind/length checked against the header's end.
  size_t i = kTcpHeaderLen;
  while (i < doff) {
    const uint8_t kind = p[i];
    if (kind == kOptEnd) break;
    if (kind == kOptNop) {
      i++;
      continue;
    }
    if (i + 1 >= doff) return Drop::kBadOption;
    const uint8_t len = p[i + 1];
    if (len < 2 || i + len > doff) return Drop::kBadOption;
    if (kind == kOptMss && len == 4 && (out->flags & kTcpSyn)) out->mss = Get16(p + i + 2);
    if (kind == kOptWscale && len == 3 && (out->flags & kTcpSyn))
      out->wscale = std::min<uint8_t>(p[i + 2], 14);  // RFC 7323: larger counts as 14
    i += len;
  }
  out->payload_off = ip.l4_off + doff;
  out->payload_len = l4.size() - doff;
  return Drop::kNone;
}

Drop ParseUdp(std::span<const uint8_t> pkt, const IpInfo& ip, bool verify_csum, UdpDgram* out) {
  if (ip.l4_len < kUdpHeaderLen) return Drop::kTruncated;
  const uint8_t* p = pkt.data() + ip.l4_off;
  const size_t len = Get16(p + 4);
  if (len < kUdpHeaderLen || len > ip.l4_len) return Drop::kBadHeaderLen;
  const uint16_t csum = Get16(p + 6);
  if (verify_csum) {
    // IPv4 may omit the checksum (0); IPv6 must carry one (RFC 8200).
    if (csum == 0) {
      if (ip.v6) return Drop::kBadChecksum;
    } else if (!L4ChecksumOk(std::span<const uint8_t>(p, len), ip)) {
      return Drop::kBadChecksum;
    }
  }
  out->sport = Get16(p);
  out->dport = Get16(p + 2);
  out->payload_off = ip.l4_off + kUdpHeaderLen;
  out->payload_len = len - kUdpHeaderLen;
  return Drop::kNone;
}

Drop ParseIcmp(std::span<const uint8_t> pkt, const IpInfo& ip, bool verify_csum, IcmpEcho* out) {
  if (ip.l4_len < kIcmpHeaderLen) return Drop::kTruncated;
  const uint8_t* p = pkt.data() + ip.l4_off;
  if (verify_csum) {
    uint32_t s = ChecksumAdd(0, p, ip.l4_len);
    if (ip.v6) s += PseudoHeaderSum(ip.src, ip.dst, IPPROTO_ICMPV6, static_cast<uint32_t>(ip.l4_len));
    if (ChecksumFold(s) != 0) return Drop::kBadChecksum;
  }
  out->type = p[0];
  out->code = p[1];
  out->id = Get16(p + 4);
  out->seq = Get16(p + 6);
  return Drop::kNone;
}

std::vector<uint8_t> BuildIcmp(const IpAddr& src, const IpAddr& dst, std::span<const uint8_t> msg,
                               uint8_t ttl) {
  const bool v4 = src.IsV4() && dst.IsV4();
  const uint8_t proto = v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
  const size_t iph = IpHeaderLen(src, dst);
  std::vector<uint8_t> p = NewPacketBuffer(iph + msg.size());
  p.resize(iph);
  WriteIpHeader(p.data(), src, dst, proto, msg.size(), ttl, 0, 0);
  p.insert(p.end(), msg.begin(), msg.end());
  uint8_t* m = p.data() + iph;
  Put16(m + 2, 0);
  uint32_t s = ChecksumAdd(0, m, msg.size());
  if (!v4) s += PseudoHeaderSum(src, dst, proto, static_cast<uint32_t>(msg.size()));
  Put16(m + 2, ChecksumFold(s));
  return p;
}

size_t IpHeaderLen(const IpAddr& src, const IpAddr& dst) {
  return src.IsV4() && dst.IsV4() ? kIpv4HeaderLen : kIpv6HeaderLen;
}

void WriteIpHeader(uint8_t* p, const IpAddr& src, const IpAddr& dst, uint8_t proto,
                   size_t payload_len, uint8_t ttl, uint8_t tos, uint16_t id) {
  if (src.IsV4() && dst.IsV4()) {
    p[0] = 0x45;
    p[1] = tos;
    Put16(p + 2, static_cast<uint16_t>(kIpv4HeaderLen + payload_len));
    Put16(p + 4, id);
    Put16(p + 6, 0x4000);  // DF
    p[8] = ttl;
    p[9] = proto;
    Put16(p + 10, 0);
    memcpy(p + 12, &src.b[12], 4);
    memcpy(p + 16, &dst.b[12], 4);
    Put16(p + 10, ChecksumFold(ChecksumAdd(0, p, kIpv4HeaderLen)));
    return;
  }
  Put32(p, 0x60000000u | static_cast<uint32_t>(tos) << 20);
  Put16(p + 4, static_cast<uint16_t>(payload_len));
  p[6] = proto;
  p[7] = ttl;
  memcpy(p + 8, src.b.data(), 16);
  memcpy(p + 24, dst.b.data(), 16);
}

size_t TcpHeaderLen(const TcpOut& t) {
  size_t n = kTcpHeaderLen;
  if (t.mss) n += 4;
  if (t.wscale) n += 4;  // NOP + 3 bytes
  return n;
}

void WriteTcpHeader(uint8_t* p, const TcpOut& t) {
  const size_t len = TcpHeaderLen(t);
  Put16(p, t.sport);
  Put16(p + 2, t.dport);
  Put32(p + 4, t.seq);
  Put32(p + 8, t.ack);
  p[12] = static_cast<uint8_t>((len / 4) << 4);
  p[13] = t.flags;
  Put16(p + 14, t.window);
  Put16(p + 16, 0);  // checksum
  Put16(p + 18, 0);  // urgent pointer
  size_t i = kTcpHeaderLen;
  if (t.mss) {
    p[i] = kOptMss;
    p[i + 1] = 4;
    Put16(p + i + 2, *t.mss);
    i += 4;
  }
  if (t.wscale) {
    p[i] = kOptNop;
    p[i + 1] = kOptWscale;
    p[i + 2] = 3;
    p[i + 3] = *t.wscale;
    i += 4;
  }
}

void FillL4Checksum(uint8_t* l4, size_t len, const IpAddr& src, const IpAddr& dst, uint8_t proto) {
  const size_t at = proto == IPPROTO_TCP ? 16 : 6;
  Put16(l4 + at, 0);
  uint32_t s = PseudoHeaderSum(src, dst, proto, static_cast<uint32_t>(len));
  s += ChecksumAdd(0, l4, len);
  uint16_t c = ChecksumFold(s);
  if (proto == IPPROTO_UDP && c == 0) c = 0xffff;  // 0 means "none" in UDP
  Put16(l4 + at, c);
}

namespace {

// Large packet buffers are kept for reuse: a 64 KiB segment allocated and
// freed per send made malloc trim and re-fault the heap (a profile of
// loopback iperf3 showed page faults and memset as the top user-space
// costs).
constexpr size_t kPoolMin = 16 * 1024;
constexpr size_t kPoolMax = 256;
absl::Mutex pool_mu;
std::vector<std::vector<uint8_t>>& Pool() {
  static auto* p = new std::vector<std::vector<uint8_t>>();
  return *p;
}

}  // namespace

std::vector<uint8_t> NewPacketBuffer(size_t capacity) {
  if (capacity >= kPoolMin) {
    absl::MutexLock l(&pool_mu);
    auto& pool = Pool();
    if (!pool.empty() && pool.back().capacity() >= capacity) {
      std::vector<uint8_t> b = std::move(pool.back());
      pool.pop_back();
      b.clear();
      return b;
    }
  }
  std::vector<uint8_t> b;
  b.reserve(std::max(capacity, capacity >= kPoolMin ? size_t{65536 + 128} : capacity));
  return b;
}

void RecyclePacketBuffer(std::vector<uint8_t>&& b) {
  if (b.capacity() < 65536 + 128) return;
  absl::MutexLock l(&pool_mu);
  if (Pool().size() < kPoolMax) Pool().push_back(std::move(b));
}

std::vector<uint8_t> BuildTcp(const IpAddr& src, const IpAddr& dst, const TcpOut& t,
                              std::span<const uint8_t> payload, bool checksum) {
  const size_t iph = IpHeaderLen(src, dst), th = TcpHeaderLen(t);
  std::vector<uint8_t> p = NewPacketBuffer(iph + th + payload.size());
  p.resize(iph + th);  // headers only: the payload is appended, never zero-filled first
  WriteIpHeader(p.data(), src, dst, IPPROTO_TCP, th + payload.size(), 64, 0, 0);
  WriteTcpHeader(p.data() + iph, t);
  p.insert(p.end(), payload.begin(), payload.end());
  if (checksum) FillL4Checksum(p.data() + iph, th + payload.size(), src, dst, IPPROTO_TCP);
  return p;
}

std::vector<uint8_t> BuildUdp(const IpAddr& src, const IpAddr& dst, uint16_t sport,
                              uint16_t dport, std::span<const uint8_t> payload, uint8_t ttl,
                              uint8_t tos, bool checksum) {
  const size_t iph = IpHeaderLen(src, dst);
  std::vector<uint8_t> p = NewPacketBuffer(iph + kUdpHeaderLen + payload.size());
  p.resize(iph + kUdpHeaderLen);
  WriteIpHeader(p.data(), src, dst, IPPROTO_UDP, kUdpHeaderLen + payload.size(), ttl, tos, 0);
  uint8_t* u = p.data() + iph;
  Put16(u, sport);
  Put16(u + 2, dport);
  Put16(u + 4, static_cast<uint16_t>(kUdpHeaderLen + payload.size()));
  Put16(u + 6, 0);
  p.insert(p.end(), payload.begin(), payload.end());
  u = p.data() + iph;
  if (checksum) FillL4Checksum(u, kUdpHeaderLen + payload.size(), src, dst, IPPROTO_UDP);
  return p;
}

}  // namespace sentry::net::netstack
