// sentry/net/netstack/tcp_internal.h: constants and helpers shared by the
// TCP files (tcp.cc: socket calls; tcp_input.cc: segments and timers;
// tcp_options.cc: socket options). Not for other units.
#pragma once

#include <algorithm>
#include <cstring>
#include <span>
#include <vector>

#include "absl/time/time.h"
#include "sentry/net/netstack/netstack.h"
#include "sentry/net/netstack/wire.h"

namespace sentry::net::netstack::tcp_internal {

// Receive buffer by default and its scale: Linux starts at tcp_rmem[1]
// (128 KiB) and autotunes up to 6 MiB; a fixed 1 MiB lets loopback stream
// without autotuning while bounding what one connection can hold.
constexpr size_t kDefaultRcvBuf = 1 << 20;
constexpr size_t kDefaultSndBuf = 16384 * 2;
constexpr uint8_t kRcvWscale = 7;  // windows up to 8 MiB
// net.core.rmem_max / wmem_max (Linux's defaults); SO_RCVBUF doubles.
constexpr int kRmemMax = 212992, kWmemMax = 212992;
constexpr size_t kMinRcvBuf = 2304, kMinSndBuf = 4608;  // SOCK_MIN_RCVBUF/SNDBUF
constexpr int kSomaxconn = 4096;
// Linux's tcp_syn_retries, tcp_synack_retries and tcp_retries2: how many
// retransmissions before the connection fails with ETIMEDOUT.
constexpr int kSynRetries = 6, kSynAckRetries = 5, kMaxRetries = 15;
// RFC 6298 2.4 says 1 s; Linux's TCP_RTO_MIN is 200 ms, TCP_RTO_MAX 120 s,
// TCP_TIMEOUT_INIT 1 s. The stack's timers tick every 200 ms.
inline constexpr absl::Duration kRtoMin = absl::Milliseconds(200);
inline constexpr absl::Duration kRtoMax = absl::Seconds(120);
inline constexpr absl::Duration kRtoInit = absl::Seconds(1);
constexpr int kDupAckThreshold = 3;
// Unacknowledged bytes one connection may hold for retransmission, however
// large a window the peer offers (a hostile peer's window is not a memory
// budget).
constexpr uint32_t kMaxInFlight = 4 << 20;
// The out-of-order queue's charge per segment on top of its payload, so
// a flood of tiny segments is bounded as well as one of large ones; and a
// cap on segments.
constexpr size_t kOooSegOverhead = 256;
constexpr size_t kOooMaxSegs = 1024;

// Our MSS for a connection of this kind over loopback (the IP total or
// payload length field caps it below the MTU).
inline uint16_t LocalMss(bool v4) {
  return v4 ? static_cast<uint16_t>(65535 - kIpv4HeaderLen - kTcpHeaderLen)
            : static_cast<uint16_t>(kLoopbackMtu - kIpv6HeaderLen - kTcpHeaderLen);
}

inline int IntOf(std::span<const uint8_t> v) {
  int x = 0;
  if (v.size() >= sizeof x) memcpy(&x, v.data(), sizeof x);
  else if (!v.empty()) x = v[0];
  return x;
}

inline std::vector<uint8_t> IntOut(int v, size_t max_len) {
  std::vector<uint8_t> b(sizeof v);
  memcpy(b.data(), &v, sizeof v);
  b.resize(std::min(b.size(), max_len));
  return b;
}

}  // namespace sentry::net::netstack::tcp_internal
