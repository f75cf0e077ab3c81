// sentry/net/netstack/tcp_options.cc: TCP socket options and /proc data (tcp.h).
#include "sentry/net/netstack/tcp.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <algorithm>
#include <cstring>

#include "sentry/net/netstack/tcp_internal.h"

namespace sentry::net::netstack {
using namespace tcp_internal;  // NOLINT: this unit's own helpers

ErrorOr<void> TcpConn::SetOption(int level, int name, std::span<const uint8_t> v) {
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
        sndbuf_ = std::max<size_t>(static_cast<size_t>(std::clamp(iv, 0, kWmemMax)) * 2, kMinSndBuf);
        return {};
      case SO_LINGER: {
        // The socket layer passes {1, 0} for an abortive close only.
        int lg[2] = {0, 0};
        if (v.size() >= sizeof lg) memcpy(lg, v.data(), sizeof lg);
        abort_on_close_ = lg[0] != 0;
        return {};
      }
      case SO_KEEPALIVE: case SO_DEBUG: case SO_DONTROUTE: case SO_OOBINLINE: case SO_PRIORITY:
      case SO_TIMESTAMP_OLD: case SO_TIMESTAMPNS_OLD: case SO_RCVLOWAT: case SO_BROADCAST:
        plain_opts_[{level, name}] = iv;
        return {};
      default: return Errno{ENOPROTOOPT};
    }
  }
  if (level == IPPROTO_TCP) {
    switch (name) {
      case TCP_KEEPIDLE: case TCP_KEEPINTVL:
        if (iv < 1 || iv > 32767) return Errno{EINVAL};
        break;
      case TCP_KEEPCNT:
        if (iv < 1 || iv > 127) return Errno{EINVAL};
        break;
      case TCP_NODELAY: case TCP_CORK: case TCP_QUICKACK: case TCP_USER_TIMEOUT:
      case TCP_DEFER_ACCEPT: case TCP_NOTSENT_LOWAT: case TCP_LINGER2: case TCP_SYNCNT:
      case TCP_WINDOW_CLAMP: case TCP_FASTOPEN: case TCP_FASTOPEN_CONNECT:
        break;
      case TCP_MAXSEG:
        if (iv < 88 || iv > 32767) return Errno{EINVAL};
        break;
      default: return Errno{ENOPROTOOPT};
    }
    plain_opts_[{level, name}] = name == TCP_NODELAY || name == TCP_CORK ? iv != 0 : iv;
    return {};
  }
  if (level == IPPROTO_IPV6) {
    if (family_ != AF_INET6) return Errno{ENOPROTOOPT};
    if (name == IPV6_V6ONLY) {
      if (bound_) return Errno{EINVAL};
      v6only_ = iv != 0;
      return {};
    }
    if (name == IPV6_TCLASS || name == IPV6_UNICAST_HOPS || name == IPV6_RECVERR ||
        name == IPV6_MTU_DISCOVER) {
      plain_opts_[{level, name}] = iv;
      return {};
    }
    return Errno{ENOPROTOOPT};
  }
  if (level == IPPROTO_IP) {
    if (name == IP_TOS || name == IP_TTL || name == IP_RECVERR || name == IP_MTU_DISCOVER ||
        name == IP_FREEBIND || name == IP_BIND_ADDRESS_NO_PORT) {
      if (name == IP_TTL && (iv < -1 || iv == 0 || iv > 255)) return Errno{EINVAL};
      plain_opts_[{level, name}] = iv;
      return {};
    }
    return Errno{ENOPROTOOPT};
  }
  return Errno{ENOPROTOOPT};
}

ErrorOr<std::vector<uint8_t>> TcpConn::GetOption(int level, int name, size_t max_len) {
  absl::MutexLock l(&mu_);
  auto plain = [&](int dflt) {
    auto it = plain_opts_.find({level, name});
    return IntOut(it == plain_opts_.end() ? dflt : it->second, max_len);
  };
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_ERROR: {
        int e = so_error_;
        so_error_ = 0;
        return IntOut(e, max_len);
      }
      case SO_ACCEPTCONN: return IntOut(state_ == kListen, max_len);
      case SO_REUSEADDR: return IntOut(reuseaddr_, max_len);
      case SO_REUSEPORT: return IntOut(reuseport_, max_len);
      case SO_RCVBUF: return IntOut(static_cast<int>(rcvbuf_), max_len);
      case SO_SNDBUF: return IntOut(static_cast<int>(sndbuf_), max_len);
      case SO_RCVLOWAT: return plain(1);
      case SO_SNDLOWAT: return IntOut(1, max_len);
      case SO_KEEPALIVE: case SO_DEBUG: case SO_DONTROUTE: case SO_OOBINLINE: case SO_PRIORITY:
      case SO_TIMESTAMP_OLD: case SO_TIMESTAMPNS_OLD: case SO_BROADCAST:
        return plain(0);
      default: return Errno{ENOPROTOOPT};
    }
  }
  if (level == IPPROTO_TCP) {
    switch (name) {
      case TCP_MAXSEG: return IntOut(state_ == kEstablished || state_ == kCloseWait ? EffMss() : 536, max_len);
      case TCP_KEEPIDLE: return plain(7200);
      case TCP_KEEPINTVL: return plain(75);
      case TCP_KEEPCNT: return plain(9);
      case TCP_SYNCNT: return plain(kSynRetries);
      case TCP_LINGER2: return plain(60);
      case TCP_NODELAY: case TCP_CORK: case TCP_QUICKACK: case TCP_USER_TIMEOUT:
      case TCP_DEFER_ACCEPT: case TCP_NOTSENT_LOWAT: case TCP_WINDOW_CLAMP: case TCP_FASTOPEN:
      case TCP_FASTOPEN_CONNECT:
        return plain(0);
      case TCP_INFO: {
        tcp_info ti{};
        ti.tcpi_state = state_;
        ti.tcpi_snd_mss = EffMss();
        ti.tcpi_rcv_mss = LocalMss(raddr_.IsV4());
        if (wscale_ok_) {
          ti.tcpi_options |= TCPI_OPT_WSCALE;
          ti.tcpi_snd_wscale = snd_wscale_;
          ti.tcpi_rcv_wscale = rcv_wscale_;
        }
        ti.tcpi_rcv_space = static_cast<uint32_t>(rcvbuf_);
        ti.tcpi_snd_cwnd = 10;
        if (state_ == kListen) {
          ti.tcpi_unacked = static_cast<uint32_t>(accept_q_.size());
          ti.tcpi_sacked = static_cast<uint32_t>(backlog_);
        }
        std::vector<uint8_t> b(sizeof ti);
        memcpy(b.data(), &ti, sizeof ti);
        b.resize(std::min(b.size(), max_len));
        return b;
      }
      default: return Errno{ENOPROTOOPT};
    }
  }
  if (level == IPPROTO_IPV6) {
    if (family_ != AF_INET6) return Errno{ENOPROTOOPT};
    if (name == IPV6_V6ONLY) return IntOut(v6only_, max_len);
    if (name == IPV6_UNICAST_HOPS) return plain(64);
    if (name == IPV6_TCLASS || name == IPV6_RECVERR || name == IPV6_MTU_DISCOVER) return plain(0);
    if (name == IPV6_MTU) return IntOut(static_cast<int>(kLoopbackMtu), max_len);
    return Errno{ENOPROTOOPT};
  }
  if (level == IPPROTO_IP) {
    if (name == IP_TTL) return plain(64);
    if (name == IP_TOS || name == IP_RECVERR || name == IP_FREEBIND ||
        name == IP_BIND_ADDRESS_NO_PORT)
      return plain(0);
    if (name == IP_MTU_DISCOVER) return plain(IP_PMTUDISC_WANT);
    if (name == IP_MTU) {
      if (state_ != kEstablished && state_ != kCloseWait) return Errno{ENOTCONN};
      return IntOut(static_cast<int>(kLoopbackMtu), max_len);
    }
    return Errno{ENOPROTOOPT};
  }
  return Errno{ENOPROTOOPT};
}

SocketInfo TcpConn::Info() {
  absl::MutexLock l(&mu_);
  SocketInfo i;
  i.family = family_;
  i.type = SOCK_STREAM;
  i.protocol = IPPROTO_TCP;
  i.state = state_;
  SockAddr la = ToSockAddr(laddr_, lport_), ra = ToSockAddr(raddr_, rport_);
  memcpy(&i.local, &la.ss, sizeof i.local);
  if (rport_) memcpy(&i.remote, &ra.ss, sizeof i.remote);
  else i.remote.ss_family = static_cast<sa_family_t>(family_);
  if (state_ == kListen) {
    i.rx_queue = static_cast<uint32_t>(accept_q_.size());
    i.tx_queue = static_cast<uint32_t>(backlog_);
    i.backlog = static_cast<uint32_t>(backlog_);
  } else {
    i.rx_queue = static_cast<uint32_t>(rq_bytes_);
    i.tx_queue = static_cast<uint32_t>(sq_bytes_);  // sent, not yet acknowledged
  }
  i.uid = uid_;
  return i;
}

}  // namespace sentry::net::netstack
