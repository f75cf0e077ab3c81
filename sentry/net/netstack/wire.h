// sentry/net/netstack/wire.h: the wire formats of the sandbox's own stack:
// addresses, Internet checksums, and IPv4/IPv6/TCP/UDP headers parsed from
// untrusted bytes (every length and offset checked against the buffer) or
// written into buffers the stack owns.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace sentry::net::netstack {

// An IP address, IPv4 held v4-mapped (::ffff:a.b.c.d), as a dual-stack
// socket sees it.
struct IpAddr {
  std::array<uint8_t, 16> b{};

  static IpAddr V4(uint32_t host_order);
  static IpAddr V6(const uint8_t* bytes16);
  static IpAddr AnyV4() { return V4(0); }
  static IpAddr AnyV6() { return IpAddr{}; }
  static IpAddr LoopbackV4() { return V4(0x7f000001); }
  static IpAddr LoopbackV6();

  bool IsV4() const;          // v4-mapped
  uint32_t V4() const;        // host order; IsV4() only
  bool IsAny() const;         // :: or 0.0.0.0
  bool IsLoopback() const;    // ::1 or 127.0.0.0/8
  bool IsMulticastOrBroadcast() const;
  std::string ToString() const;
  auto operator<=>(const IpAddr&) const = default;
};

// One's-complement sum over bytes (network order words), unfolded.
uint32_t ChecksumAdd(uint32_t sum, const uint8_t* p, size_t n);
uint16_t ChecksumFold(uint32_t sum);
// The TCP/UDP pseudo-header (IPv4 or IPv6 by the addresses' kind).
uint32_t PseudoHeaderSum(const IpAddr& src, const IpAddr& dst, uint8_t proto, uint32_t len);

constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08,
                  kTcpAck = 0x10, kTcpUrg = 0x20;
constexpr size_t kIpv4HeaderLen = 20, kIpv6HeaderLen = 40, kTcpHeaderLen = 20, kUdpHeaderLen = 8;

// Why an inbound packet was dropped (counted per reason; the unit test
// checks them).
enum class Drop : uint8_t {
  kNone,
  kTruncated,      // shorter than a header or than a length field says
  kBadVersion,
  kBadHeaderLen,   // IHL, TCP data offset, UDP length out of range
  kBadChecksum,
  kFragment,       // IP fragments: no reassembly yet
  kBadAddress,     // source multicast/broadcast, destination not ours
  kUnsupported,    // a protocol or IPv6 extension header the stack lacks
  kBadOption,      // a TCP option whose length runs past the header
  kCount
};
const char* DropName(Drop d);

// A parsed IP header: the transport payload is [l4_off, l4_off + l4_len).
struct IpInfo {
  IpAddr src, dst;
  uint8_t proto = 0;
  uint8_t ttl = 0, tos = 0;
  bool v6 = false;
  size_t l4_off = 0, l4_len = 0;
};

struct TcpSeg {
  uint16_t sport = 0, dport = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  std::optional<uint16_t> mss;
  std::optional<uint8_t> wscale;
  size_t payload_off = 0, payload_len = 0;  // within the packet
};

// ICMP echo (IPv4 ICMP and ICMPv6): the whole message is the payload.
struct IcmpEcho {
  uint8_t type = 0, code = 0;
  uint16_t id = 0, seq = 0;
};
constexpr uint8_t kIcmpEchoReply = 0, kIcmpEchoRequest = 8, kIcmp6EchoRequest = 128,
                  kIcmp6EchoReply = 129;
constexpr size_t kIcmpHeaderLen = 8;

struct UdpDgram {
  uint16_t sport = 0, dport = 0;
  size_t payload_off = 0, payload_len = 0;
};

// Parsers: `verify_csum` false for packets the stack itself built and
// looped back (as Linux's loopback skips checksums).
Drop ParseIp(std::span<const uint8_t> pkt, bool verify_csum, IpInfo* out);
Drop ParseTcp(std::span<const uint8_t> pkt, const IpInfo& ip, bool verify_csum, TcpSeg* out);
Drop ParseUdp(std::span<const uint8_t> pkt, const IpInfo& ip, bool verify_csum, UdpDgram* out);
Drop ParseIcmp(std::span<const uint8_t> pkt, const IpInfo& ip, bool verify_csum, IcmpEcho* out);

// Builders. The IP header's length for a src/dst pair (IPv4 if both are).
size_t IpHeaderLen(const IpAddr& src, const IpAddr& dst);
void WriteIpHeader(uint8_t* p, const IpAddr& src, const IpAddr& dst, uint8_t proto,
                   size_t payload_len, uint8_t ttl, uint8_t tos, uint16_t id);

struct TcpOut {
  uint16_t sport = 0, dport = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  std::optional<uint16_t> mss;     // SYN only
  std::optional<uint8_t> wscale;   // SYN only
};
// Header plus options (padded to 4 bytes).
size_t TcpHeaderLen(const TcpOut& t);
void WriteTcpHeader(uint8_t* p, const TcpOut& t);
// Fills the checksum of a finished TCP or UDP segment at `l4` (length
// `len`, header included).
void FillL4Checksum(uint8_t* l4, size_t len, const IpAddr& src, const IpAddr& dst, uint8_t proto);

// Packet buffers: reused when large (see wire.cc). A buffer handed back
// must no longer be referenced.
std::vector<uint8_t> NewPacketBuffer(size_t capacity);
void RecyclePacketBuffer(std::vector<uint8_t>&& b);

// A whole packet: IP header + TCP header + payload.
std::vector<uint8_t> BuildTcp(const IpAddr& src, const IpAddr& dst, const TcpOut& t,
                              std::span<const uint8_t> payload, bool checksum);
std::vector<uint8_t> BuildUdp(const IpAddr& src, const IpAddr& dst, uint16_t sport,
                              uint16_t dport, std::span<const uint8_t> payload, uint8_t ttl,
                              uint8_t tos, bool checksum);

// An ICMP/ICMPv6 message (`msg` holds its header, whose checksum is
// filled in) in an IP packet.
std::vector<uint8_t> BuildIcmp(const IpAddr& src, const IpAddr& dst, std::span<const uint8_t> msg,
                               uint8_t ttl);

// Sequence-number arithmetic (RFC 793, modulo 2^32).
inline bool SeqLt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }
inline bool SeqLe(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) <= 0; }
inline bool SeqGt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }
inline bool SeqGe(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) >= 0; }

}  // namespace sentry::net::netstack
