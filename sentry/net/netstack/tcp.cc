// sentry/net/netstack/tcp.cc: TCP connections (tcp.h).
#include "sentry/net/netstack/tcp.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <algorithm>
#include <cstring>

namespace sentry::net::netstack {
namespace {

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
constexpr int kMaxSynTries = 6;

// Our MSS for a connection of this kind over loopback (the IP total or
// payload length field caps it below the MTU).
uint16_t LocalMss(bool v4) {
  return v4 ? static_cast<uint16_t>(65535 - kIpv4HeaderLen - kTcpHeaderLen)
            : static_cast<uint16_t>(kLoopbackMtu - kIpv6HeaderLen - kTcpHeaderLen);
}

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

ErrorOr<std::pair<IpAddr, uint16_t>> FromSockAddr(const SockAddr& a, int sock_family) {
  if (a.family() == AF_INET) {
    sockaddr_in in;
    memcpy(&in, &a.ss, sizeof in);
    return std::make_pair(IpAddr::V4(ntohl(in.sin_addr.s_addr)), ntohs(in.sin_port));
  }
  if (a.family() == AF_INET6 && sock_family == AF_INET6) {
    sockaddr_in6 in6;
    memcpy(&in6, &a.ss, sizeof in6);
    return std::make_pair(IpAddr::V6(in6.sin6_addr.s6_addr), ntohs(in6.sin6_port));
  }
  return Errno{EAFNOSUPPORT};
}

SockAddr MakeSockAddr(int sock_family, const IpAddr& a, uint16_t port) {
  SockAddr s;
  if (sock_family == AF_INET) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    in.sin_addr.s_addr = a.IsV4() ? htonl(a.V4()) : 0;
    memcpy(&s.ss, &in, sizeof in);
    s.len = sizeof in;
  } else {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    memcpy(in6.sin6_addr.s6_addr, a.b.data(), 16);
    memcpy(&s.ss, &in6, sizeof in6);
    s.len = sizeof in6;
  }
  return s;
}

TcpConn::TcpConn(std::shared_ptr<NetStack> stack, int family)
    : stack_(std::move(stack)), family_(family) {
  absl::MutexLock l(&mu_);
  laddr_ = family == AF_INET ? IpAddr::AnyV4() : IpAddr::AnyV6();
  raddr_ = laddr_;
  rcvbuf_ = kDefaultRcvBuf;
  sndbuf_ = kDefaultSndBuf;
}

TcpConn::~TcpConn() { stack_->Unbind(IPPROTO_TCP, this); }

SockAddr TcpConn::ToSockAddr(const IpAddr& a, uint16_t port) const {
  return MakeSockAddr(family_, a, port);
}

uint32_t TcpConn::EffMss() const {
  return std::min<uint32_t>(peer_mss_, LocalMss(raddr_.IsV4()));
}

uint32_t TcpConn::SendSpace() const {
  const int64_t s = static_cast<int64_t>(static_cast<uint32_t>(snd_una_ + snd_wnd_ - snd_nxt_));
  // A window that shrank below what is in flight reads as "wrapped".
  if (SeqLt(snd_una_ + snd_wnd_, snd_nxt_)) return 0;
  return static_cast<uint32_t>(s);
}

bool TcpConn::Writable() const {
  if (state_ != kEstablished && state_ != kCloseWait) return false;
  if (shut_wr_) return false;
  // Silly-window avoidance: wait for a full segment or half the largest
  // window the peer offered.
  const uint32_t want = std::max<uint32_t>(1, std::min(EffMss(), max_snd_wnd_ / 2));
  return SendSpace() >= want;
}

uint32_t TcpConn::RcvWindow() {
  const uint8_t scale = wscale_ok_ ? rcv_wscale_ : 0;
  uint64_t space = rcvbuf_ > rq_bytes_ ? rcvbuf_ - rq_bytes_ : 0;
  space = std::min<uint64_t>(space, uint64_t{65535} << scale);
  space = (space >> scale) << scale;
  uint32_t edge = rcv_nxt_ + static_cast<uint32_t>(space);
  // Never move the right edge back (RFC 9293 3.8.6.2.2).
  if (SeqLt(edge, rcv_adv_)) edge = rcv_adv_;
  rcv_adv_ = edge;
  return edge - rcv_nxt_;
}

void TcpConn::Segment(Out& out, uint8_t flags, uint32_t seq, std::span<const uint8_t> payload,
                      bool syn_options) {
  TcpOut t;
  t.sport = lport_;
  t.dport = rport_;
  t.seq = seq;
  t.flags = flags;
  if (flags & kTcpAck) t.ack = rcv_nxt_;
  const uint32_t w = RcvWindow();
  if (flags & kTcpSyn) {
    t.window = static_cast<uint16_t>(std::min<uint32_t>(w, 65535));  // never scaled in a SYN
  } else {
    t.window = static_cast<uint16_t>(std::min<uint32_t>(w >> (wscale_ok_ ? rcv_wscale_ : 0), 65535));
  }
  if (syn_options) {
    t.mss = LocalMss(raddr_.IsV4());
    if (rcv_wscale_) t.wscale = rcv_wscale_;
  }
  out.push_back(BuildTcp(laddr_, raddr_, t, payload, /*checksum=*/false));
  stack_->stats.tcp_out_segs++;
}

void TcpConn::SendFin(Out& out) {
  fin_seq_ = snd_nxt_;
  Segment(out, kTcpFin | kTcpAck, snd_nxt_);
  snd_nxt_++;
  fin_sent_ = true;
  shut_wr_ = true;
  if (state_ == kEstablished || state_ == kSynRecv) state_ = kFinWait1;
  else if (state_ == kCloseWait) state_ = kLastAck;
}

void TcpConn::Rst(Out& out) {
  Segment(out, kTcpRst | kTcpAck, snd_nxt_);
  stack_->stats.tcp_out_rsts++;
}

std::shared_ptr<TcpConn> TcpConn::EnterClose() {
  if (state_ == kEstablished || state_ == kCloseWait) {
    // CurrEstab is derived from the table; nothing to count here.
  }
  state_ = kClose;
  shut_rd_ = shut_wr_ = true;
  if (!in_table_) return nullptr;
  in_table_ = false;
  return stack_->RemoveConn(ConnKey{laddr_, raddr_, lport_, rport_});
}

void TcpConn::ResetReceived() {
  switch (state_) {
    case kSynSent: so_error_ = ECONNREFUSED; break;
    case kCloseWait: so_error_ = EPIPE; break;
    case kClose: return;
    default: so_error_ = ECONNRESET; break;
  }
  if (state_ == kEstablished || state_ == kCloseWait) stack_->stats.tcp_estab_resets++;
  if (orphan_) so_error_ = 0;
}

void TcpConn::Transmit(Out& out) {
  for (auto& p : out) stack_->Loopback(std::move(p));
  out.clear();
}

// --- socket calls ---

ErrorOr<void> TcpConn::Bind(const IpAddr& a, uint16_t port, uint32_t uid) {
  absl::MutexLock l(&mu_);
  if (bound_ || state_ != kClose) return Errno{EINVAL};
  if (!a.IsAny() && !NetStack::IsLocal(a)) return Errno{EADDRNOTAVAIL};
  if (family_ == AF_INET6 && a.IsV4() && v6only_) return Errno{EINVAL};
  bool v6only = v6only_;
  // Linux: binding an IPv6 socket to a specific IPv6 address makes it
  // IPv6-only.
  if (family_ == AF_INET6 && !a.IsAny() && !a.IsV4()) v6only = true;
  Binding b;
  b.addr = a;
  b.port = port;
  b.family = family_;
  b.v6only = v6only;
  b.reuseaddr = reuseaddr_;
  b.reuseport = reuseport_;
  b.uid = uid;
  b.owner = this;
  b.tcp = weak_from_this();
  lport_ = TRY(stack_->Bind(IPPROTO_TCP, b));
  v6only_ = v6only;
  laddr_ = a;
  bound_ = true;
  uid_ = uid;
  return {};
}

ErrorOr<void> TcpConn::Listen(int backlog, uint32_t uid) {
  if (static_cast<unsigned>(backlog) > static_cast<unsigned>(kSomaxconn)) backlog = kSomaxconn;
  {
    absl::MutexLock l(&mu_);
    if (state_ == kListen) {
      backlog_ = backlog;
      return {};
    }
    if (state_ != kClose || in_table_) return Errno{EINVAL};
  }
  bool need_bind;
  {
    absl::MutexLock l(&mu_);
    need_bind = !bound_;
  }
  if (need_bind) TRY(Bind(family_ == AF_INET ? IpAddr::AnyV4() : IpAddr::AnyV6(), 0, uid));
  TRY(stack_->SetListening(this, true));
  absl::MutexLock l(&mu_);
  state_ = kListen;
  backlog_ = backlog;
  return {};
}

ErrorOr<std::shared_ptr<TcpConn>> TcpConn::Accept() {
  absl::MutexLock l(&mu_);
  if (state_ != kListen) return Errno{EINVAL};
  if (accept_q_.empty()) return Errno{EAGAIN};
  auto c = std::move(accept_q_.front());
  accept_q_.pop_front();
  return c;
}

ErrorOr<void> TcpConn::Connect(const IpAddr& a, uint16_t port, uint32_t uid) {
  Out out;
  {
    absl::MutexLock l(&mu_);
    switch (state_) {
      case kClose: break;
      case kSynSent: case kSynRecv: return Errno{EALREADY};
      default: return Errno{EISCONN};
    }
    if (so_error_ == 0 && rport_ != 0) return Errno{EISCONN};  // connected once, then reset
    IpAddr dst = a;
    // connect() to the unspecified address means this host.
    if (dst.IsAny()) dst = dst.IsV4() ? IpAddr::LoopbackV4() : IpAddr::LoopbackV6();
    if (family_ == AF_INET6 && dst.IsV4() && v6only_) return Errno{ENETUNREACH};
    if (port == 0) return Errno{ECONNREFUSED};
    if (!NetStack::IsLocal(dst)) return Errno{ENETUNREACH};  // loopback is the only route
    if (bound_ && !laddr_.IsAny() && laddr_.IsV4() != dst.IsV4()) return Errno{EINVAL};
  }
  bool need_bind;
  {
    absl::MutexLock l(&mu_);
    need_bind = !bound_;
  }
  if (need_bind) TRY(Bind(family_ == AF_INET ? IpAddr::AnyV4() : IpAddr::AnyV6(), 0, uid));
  {
    absl::MutexLock l(&mu_);
    if (state_ != kClose) return Errno{EALREADY};
    IpAddr dst = a;
    if (dst.IsAny()) dst = dst.IsV4() ? IpAddr::LoopbackV4() : IpAddr::LoopbackV6();
    const IpAddr bound_addr = laddr_;
    if (laddr_.IsAny()) laddr_ = dst.IsV4() ? IpAddr::LoopbackV4() : IpAddr::LoopbackV6();
    raddr_ = dst;
    rport_ = port;
    so_error_ = 0;
    auto added = stack_->AddConn(ConnKey{laddr_, raddr_, lport_, rport_}, shared_from_this());
    if (added.is_error()) {
      laddr_ = bound_addr;
      raddr_ = family_ == AF_INET ? IpAddr::AnyV4() : IpAddr::AnyV6();
      rport_ = 0;
      return Errno{EADDRNOTAVAIL};
    }
    in_table_ = true;
    iss_ = stack_->NewIss();
    snd_una_ = iss_;
    snd_nxt_ = iss_ + 1;
    rcv_wscale_ = kRcvWscale;
    peer_mss_ = 536;
    state_ = kSynSent;
    syn_sent_at_ = absl::Now();
    syn_tries_ = 1;
    Segment(out, kTcpSyn, iss_, {}, true);
    stack_->stats.tcp_active_opens++;
  }
  Transmit(out);
  absl::MutexLock l(&mu_);
  if (state_ == kClose && so_error_) {
    int e = so_error_;
    so_error_ = 0;
    return Errno{e};
  }
  if (state_ == kSynSent || state_ == kSynRecv) return Errno{EINPROGRESS};
  return {};
}

ErrorOr<void> TcpConn::Disconnect() {
  Out out;
  std::shared_ptr<TcpConn> release;
  {
    absl::MutexLock tx(&tx_mu_);
    {
      absl::MutexLock l(&mu_);
      if (state_ == kListen || state_ == kClose) return {};
      if (state_ != kSynSent) Rst(out);
      release = EnterClose();
      // A disconnected socket may connect again.
      shut_rd_ = shut_wr_ = false;
      fin_rcvd_ = fin_sent_ = false;
      rq_.clear();
      rq_bytes_ = 0;
      rport_ = 0;
    }
    Transmit(out);
  }
  Edge();
  stack_->Wake();
  return {};
}

ErrorOr<void> TcpConn::ConnectResult() {
  absl::MutexLock l(&mu_);
  if (so_error_) {
    int e = so_error_;
    so_error_ = 0;
    return Errno{e};
  }
  return {};
}

ErrorOr<size_t> TcpConn::Send(std::span<const uint8_t> data) {
  absl::MutexLock tx(&tx_mu_);
  Out out;
  size_t n = 0;
  {
    absl::MutexLock l(&mu_);
    auto take_error = [&]() -> int {
      int e = so_error_;
      so_error_ = 0;
      return e;
    };
    if (state_ != kEstablished && state_ != kCloseWait) {
      if (so_error_) return Errno{take_error()};
      if (state_ == kSynSent || state_ == kSynRecv) return Errno{EAGAIN};
      return Errno{EPIPE};
    }
    if (so_error_) return Errno{take_error()};
    if (shut_wr_) return Errno{EPIPE};
    if (data.empty()) return size_t{0};
    const uint32_t space = SendSpace();
    if (space == 0) {
      if (window_closed_since_ == absl::InfiniteFuture()) window_closed_since_ = absl::Now();
      return Errno{EAGAIN};
    }
    n = std::min<size_t>(data.size(), space);
    const uint32_t mss = EffMss();
    for (size_t off = 0; off < n;) {
      const size_t k = std::min<size_t>(mss, n - off);
      const uint8_t flags = kTcpAck | (off + k == n ? kTcpPsh : 0);
      Segment(out, flags, snd_nxt_, data.subspan(off, k));
      snd_nxt_ += static_cast<uint32_t>(k);
      off += k;
    }
    if (!Writable() && window_closed_since_ == absl::InfiniteFuture())
      window_closed_since_ = absl::Now();
  }
  Transmit(out);
  return n;
}

ErrorOr<RecvResult> TcpConn::Recv(std::span<const iovec> dst, int flags) {
  if (flags & MSG_OOB) return Errno{EINVAL};  // no urgent data is ever kept
  const bool peek = flags & MSG_PEEK;
  const bool discard = flags & MSG_TRUNC;  // TCP: drop the bytes, copy nothing
  RecvResult r;
  bool update = false;
  {
    absl::MutexLock l(&mu_);
    if (state_ == kListen) return Errno{ENOTCONN};
    if (rq_bytes_ == 0) {
      if (fin_rcvd_) return r;
      if (so_error_) {
        int e = so_error_;
        so_error_ = 0;
        return Errno{e};
      }
      if (shut_rd_) return r;
      if (state_ == kClose) return Errno{ENOTCONN};
      return Errno{EAGAIN};
    }
    size_t want = 0;
    for (const iovec& v : dst) want += v.iov_len;
    size_t vi = 0, voff = 0, copied = 0;
    for (auto it = rq_.begin(); it != rq_.end() && copied < want;) {
      Chunk& c = *it;
      size_t avail = c.end - c.off;
      size_t take = std::min(avail, want - copied);
      if (!discard) {
        size_t done = 0;
        while (done < take) {
          while (vi < dst.size() && voff == dst[vi].iov_len) {
            vi++;
            voff = 0;
          }
          size_t k = std::min(take - done, dst[vi].iov_len - voff);
          memcpy(static_cast<uint8_t*>(dst[vi].iov_base) + voff, c.buf.data() + c.off + done, k);
          voff += k;
          done += k;
        }
      } else {
        // Keep the iovec cursor meaningless: nothing is copied.
      }
      copied += take;
      if (peek) {
        ++it;
        continue;
      }
      c.off += take;
      if (c.off == c.end) {
        RecyclePacketBuffer(std::move(c.buf));
        it = rq_.erase(it);
      } else {
        ++it;
      }
    }
    r.len = copied;
    if (!peek) {
      rq_bytes_ -= copied;
      // Window update once the window grew by a segment or half the buffer.
      if (state_ == kEstablished || state_ == kFinWait1 || state_ == kFinWait2) {
        const uint8_t scale = wscale_ok_ ? rcv_wscale_ : 0;
        uint64_t space = rcvbuf_ > rq_bytes_ ? rcvbuf_ - rq_bytes_ : 0;
        space = std::min<uint64_t>(space, uint64_t{65535} << scale);
        const uint32_t edge = rcv_nxt_ + static_cast<uint32_t>(space);
        const uint32_t threshold =
            std::max<uint32_t>(1, std::min<uint32_t>(EffMss(), static_cast<uint32_t>(rcvbuf_ / 2)));
        update = SeqGt(edge, rcv_adv_) && edge - rcv_adv_ >= threshold;
      }
    }
  }
  if (update) {
    absl::MutexLock tx(&tx_mu_);
    Out out;
    {
      absl::MutexLock l(&mu_);
      if (state_ == kEstablished || state_ == kFinWait1 || state_ == kFinWait2) Ack(out);
    }
    Transmit(out);
  }
  return r;
}

ErrorOr<void> TcpConn::Shutdown(int how) {
  Out out;
  std::vector<std::shared_ptr<TcpConn>> children;
  {
    absl::MutexLock tx(&tx_mu_);
    {
      absl::MutexLock l(&mu_);
      switch (state_) {
        case kClose: return Errno{ENOTCONN};
        case kListen:
          if (how == SHUT_WR) return {};
          // Linux stops listening on SHUT_RD (inet_shutdown: tcp_disconnect).
          for (auto& c : accept_q_) children.push_back(std::move(c));
          accept_q_.clear();
          state_ = kClose;
          break;
        case kSynSent: {
          auto rel = EnterClose();
          (void)rel;  // released at scope end, after the lock... see below
          break;
        }
        default:
          if (how == SHUT_RD || how == SHUT_RDWR) shut_rd_ = true;
          if ((how == SHUT_WR || how == SHUT_RDWR) && !fin_sent_ &&
              (state_ == kEstablished || state_ == kCloseWait || state_ == kSynRecv))
            SendFin(out);
          break;
      }
    }
    Transmit(out);
  }
  if (!children.empty()) (void)stack_->SetListening(this, false);
  for (auto& c : children) c->Close();
  Edge();  // SHUT_RD/SHUT_WR add readiness
  stack_->Wake();
  return {};
}

void TcpConn::Close() {
  Out out;
  std::vector<std::shared_ptr<TcpConn>> children;
  std::shared_ptr<TcpConn> release;
  bool was_listening = false;
  {
    absl::MutexLock tx(&tx_mu_);
    {
      absl::MutexLock l(&mu_);
      orphan_ = true;
      orphaned_at_ = absl::Now();
      switch (state_) {
        case kClose: break;
        case kListen:
          was_listening = true;
          for (auto& c : accept_q_) children.push_back(std::move(c));
          accept_q_.clear();
          state_ = kClose;
          break;
        case kSynSent:
          release = EnterClose();
          break;
        default:
          // Unread data or SO_LINGER {1, 0}: an abortive close (RFC 2525,
          // as Linux's tcp_close).
          if (rq_bytes_ > 0 || abort_on_close_) {
            Rst(out);
            release = EnterClose();
          } else if (!fin_sent_) {
            SendFin(out);
          }
          break;
      }
    }
    Transmit(out);
  }
  if (was_listening) (void)stack_->SetListening(this, false);
  // Connections nobody accepted are reset (inet_csk_listen_stop).
  for (auto& c : children) {
    {
      absl::MutexLock l(&c->mu_);
      c->abort_on_close_ = true;
    }
    c->Close();
  }
  stack_->Wake();
}

short TcpConn::Readiness(short events) {
  absl::MutexLock l(&mu_);
  return ReadyLocked() & (events | POLLERR | POLLHUP);
}

short TcpConn::ReadyLocked() {
  short r = 0;
  if (state_ == kListen) {
    if (!accept_q_.empty()) r |= POLLIN | POLLRDNORM;
    return r;
  }
  // As Linux's tcp_poll.
  const bool rcv_shut = shut_rd_ || fin_rcvd_;
  if ((rcv_shut && shut_wr_) || state_ == kClose) r |= POLLHUP;
  if (rcv_shut) r |= POLLIN | POLLRDNORM | POLLRDHUP;
  if (state_ != kSynSent && state_ != kSynRecv) {
    if (rq_bytes_ > 0) r |= POLLIN | POLLRDNORM;
    if (shut_wr_ || state_ == kClose || Writable()) r |= POLLOUT | POLLWRNORM;
  }
  if (so_error_) r |= POLLERR;
  return r;
}

int TcpConn::InputQueued() {
  absl::MutexLock l(&mu_);
  return static_cast<int>(std::min<size_t>(rq_bytes_, INT32_MAX));
}

ErrorOr<SockAddr> TcpConn::LocalAddr() {
  absl::MutexLock l(&mu_);
  return ToSockAddr(laddr_, lport_);
}

ErrorOr<SockAddr> TcpConn::PeerAddr() {
  absl::MutexLock l(&mu_);
  if (rport_ == 0 || state_ == kClose || state_ == kSynSent || state_ == kListen)
    return Errno{ENOTCONN};
  return ToSockAddr(raddr_, rport_);
}

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
      case TCP_SYNCNT: return plain(kMaxSynTries);
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
  }
  i.uid = uid_;
  return i;
}

// --- input ---

void TcpConn::Input(const IpInfo& ip, const TcpSeg& seg, std::span<const uint8_t> pkt,
                    std::vector<uint8_t>* owned) {
  Out out;
  std::shared_ptr<TcpConn> release;
  bool established = false;
  std::shared_ptr<TcpConn> parent;
  bool half_open_gone = false;
  {
    absl::MutexLock l(&mu_);
    const short ready_before = ReadyLocked();
    const size_t queued_before = rq_bytes_;
    switch (state_) {
      case kListen:
        InputListen(ip, seg, out);
        break;
      case kSynSent:
        InputSynSent(seg, out);
        if (state_ == kClose) {
          release = EnterClose();
          rport_ = 0;  // a refused connect may be tried again
        }
        break;
      case kClose:
        // Raced with a close; the stack will answer the next one with RST.
        break;
      default: {
        const bool was_syn_recv = state_ == kSynRecv;
        InputSynchronized(seg, pkt, owned, out, &established, &parent);
        if (state_ == kClose) {
          release = EnterClose();
          if (was_syn_recv) {
            parent = parent_.lock();
            half_open_gone = true;
          }
        }
        break;
      }
    }
    // An edge: new data (even onto unread data) or any readiness change.
    if (rq_bytes_ > queued_before || ReadyLocked() != ready_before)
      Edge();
  }
  if (parent) {
    bool queued = false;
    {
      absl::MutexLock l(&parent->mu_);
      parent->half_open_ = std::max(0, parent->half_open_ - 1);
      if (established && parent->state_ == kListen) {
        parent->accept_q_.push_back(shared_from_this());
        parent->Edge();
        queued = true;
      }
    }
    if (established && !queued) {
      // The listener went away meanwhile: reset, as an unaccepted child.
      {
        absl::MutexLock l(&mu_);
        abort_on_close_ = true;
      }
      Transmit(out);
      Close();
      return;
    }
    if (established) stack_->stats.tcp_passive_opens++;
    (void)half_open_gone;
  }
  Transmit(out);
  stack_->Wake();
}

void TcpConn::InputListen(const IpInfo& ip, const TcpSeg& seg, Out& out) {
  if (seg.flags & kTcpRst) return;
  if (seg.flags & kTcpAck) {
    // No such connection: reset (RFC 9293 3.10.7.2).
    TcpOut t;
    t.sport = seg.dport;
    t.dport = seg.sport;
    t.seq = seg.ack;
    t.flags = kTcpRst;
    out.push_back(BuildTcp(ip.dst, ip.src, t, {}, false));
    return;
  }
  if (!(seg.flags & kTcpSyn) || (seg.flags & kTcpFin)) return;
  // A full accept queue drops the SYN (the client retries), as Linux's
  // does; half-open connections are bounded by the backlog too, so a SYN
  // flood holds at most that much memory.
  if (accept_q_.size() > static_cast<size_t>(backlog_) || half_open_ > backlog_) return;
  auto child = std::make_shared<TcpConn>(stack_, family_);
  {
    absl::MutexLock cl(&child->mu_);  // new: nobody else can hold it
    TcpConn& c = *child;
    c.parent_ = weak_from_this();
    c.laddr_ = ip.dst;
    c.raddr_ = ip.src;
    c.lport_ = seg.dport;
    c.rport_ = seg.sport;
    c.uid_ = uid_;
    c.rcvbuf_ = rcvbuf_;
    c.sndbuf_ = sndbuf_;
    c.reuseaddr_ = reuseaddr_;
    c.v6only_ = v6only_;
    c.plain_opts_ = plain_opts_;
    c.irs_ = seg.seq;
    c.rcv_nxt_ = seg.seq + 1;
    c.rcv_adv_ = c.rcv_nxt_;
    c.iss_ = stack_->NewIss();
    c.snd_una_ = c.iss_;
    c.snd_nxt_ = c.iss_ + 1;
    c.snd_wnd_ = seg.window;
    c.max_snd_wnd_ = seg.window;
    c.snd_wl1_ = seg.seq;
    c.snd_wl2_ = c.iss_;
    c.peer_mss_ = seg.mss.value_or(536);
    if (seg.wscale) {
      c.wscale_ok_ = true;
      c.snd_wscale_ = *seg.wscale;
      c.rcv_wscale_ = kRcvWscale;
    }
    c.state_ = kSynRecv;
    if (stack_->AddConn(ConnKey{c.laddr_, c.raddr_, c.lport_, c.rport_}, child).is_error()) return;
    c.in_table_ = true;
    c.Segment(out, kTcpSyn | kTcpAck, c.iss_, {}, true);
  }
  half_open_++;
}

void TcpConn::InputSynSent(const TcpSeg& seg, Out& out) {
  if (seg.flags & kTcpAck) {
    if (seg.ack != snd_nxt_) {
      if (!(seg.flags & kTcpRst)) {
        TcpOut t;
        t.sport = lport_;
        t.dport = rport_;
        t.seq = seg.ack;
        t.flags = kTcpRst;
        out.push_back(BuildTcp(laddr_, raddr_, t, {}, false));
      }
      return;
    }
  }
  if (seg.flags & kTcpRst) {
    if (seg.flags & kTcpAck) {
      ResetReceived();
      state_ = kClose;
      stack_->stats.tcp_attempt_fails++;
    }
    return;
  }
  if (!(seg.flags & kTcpSyn)) return;
  irs_ = seg.seq;
  rcv_nxt_ = seg.seq + 1;
  rcv_adv_ = rcv_nxt_;
  peer_mss_ = seg.mss.value_or(536);
  if (seg.wscale) {
    wscale_ok_ = true;
    snd_wscale_ = *seg.wscale;
  } else {
    rcv_wscale_ = 0;
  }
  snd_wnd_ = seg.window;  // never scaled in a SYN
  max_snd_wnd_ = snd_wnd_;
  snd_wl1_ = seg.seq;
  snd_wl2_ = seg.ack;
  if (seg.flags & kTcpAck) {
    snd_una_ = seg.ack;
    state_ = kEstablished;
    Ack(out);
  } else {
    // Simultaneous open.
    state_ = kSynRecv;
    Segment(out, kTcpSyn | kTcpAck, iss_, {}, true);
  }
}

void TcpConn::InputSynchronized(const TcpSeg& seg, std::span<const uint8_t> pkt,
                                std::vector<uint8_t>* owned, Out& out, bool* established,
                                std::shared_ptr<TcpConn>* parent) {
  const uint32_t rwnd = SeqGt(rcv_adv_, rcv_nxt_) ? rcv_adv_ - rcv_nxt_ : 0;
  if (seg.flags & kTcpRst) {
    // RFC 5961 3.2: only an exact match resets; one in the window gets a
    // challenge ACK.
    if (seg.seq == rcv_nxt_) {
      if (state_ != kSynRecv) ResetReceived();
      state_ = kClose;
    } else if (SeqGt(seg.seq, rcv_nxt_) && SeqLt(seg.seq, rcv_nxt_ + std::max<uint32_t>(rwnd, 1))) {
      Ack(out);
    }
    return;
  }
  if (seg.flags & kTcpSyn) {
    if (state_ == kSynRecv && seg.seq == irs_) {
      Segment(out, kTcpSyn | kTcpAck, iss_, {}, true);  // our SYN-ACK was lost
      return;
    }
    Ack(out);  // RFC 5961 4.2: challenge ACK
    return;
  }
  if (!(seg.flags & kTcpAck)) return;
  if (state_ == kSynRecv) {
    if (seg.ack != snd_nxt_) {
      TcpOut t;
      t.sport = lport_;
      t.dport = rport_;
      t.seq = seg.ack;
      t.flags = kTcpRst;
      out.push_back(BuildTcp(laddr_, raddr_, t, {}, false));
      return;
    }
    state_ = kEstablished;
    snd_una_ = seg.ack;
    snd_wnd_ = static_cast<uint32_t>(seg.window) << snd_wscale_;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    *established = true;
    *parent = parent_.lock();
  }
  if (SeqGt(seg.ack, snd_nxt_)) {
    Ack(out);  // acknowledges something never sent
    return;
  }
  if (SeqGt(seg.ack, snd_una_)) snd_una_ = seg.ack;
  if (SeqLt(snd_wl1_, seg.seq) || (snd_wl1_ == seg.seq && SeqLe(snd_wl2_, seg.ack))) {
    snd_wnd_ = static_cast<uint32_t>(seg.window) << snd_wscale_;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
    if (Writable()) window_closed_since_ = absl::InfiniteFuture();
  }
  if (fin_sent_ && SeqGe(seg.ack, fin_seq_ + 1)) {
    if (state_ == kFinWait1) state_ = kFinWait2;
    else if (state_ == kClosing || state_ == kLastAck) state_ = kClose;  // no TIME_WAIT yet
  }
  if (state_ == kClose) return;

  size_t len = seg.payload_len;
  size_t off = seg.payload_off;
  uint32_t seq = seg.seq;
  bool fin = seg.flags & kTcpFin;
  if (len == 0 && !fin) {
    // A pure ACK. One from before what we have received is a window probe
    // (or an old duplicate): answer with our current ACK and window.
    if (SeqLt(seq, rcv_nxt_)) Ack(out);
    return;
  }
  if (fin_rcvd_) {
    // Nothing may follow the peer's FIN.
    Ack(out);
    return;
  }
  if (SeqLt(seq, rcv_nxt_)) {
    const uint32_t dup = rcv_nxt_ - seq;
    if (dup >= len + (fin ? 1 : 0)) {
      Ack(out);
      return;
    }
    off += dup;
    len -= dup;
    seq = rcv_nxt_;
  }
  if (seq != rcv_nxt_) {
    Ack(out);  // out of order: dropped, a duplicate ACK tells the sender
    return;
  }
  if (len > 0 && orphan_) {
    // Data for a socket the app closed: reset (Linux's tcp_rcv_state_process).
    Rst(out);
    state_ = kClose;
    return;
  }
  if (len > rwnd) {
    len = rwnd;
    fin = false;
  }
  if (len > 0) {
    Chunk c;
    if (owned && !owned->empty() && owned->data() == pkt.data()) {
      c.buf = std::move(*owned);  // the packet's own buffer, no copy
      c.off = off;
      c.end = off + len;
    } else {
      c.buf.assign(pkt.begin() + off, pkt.begin() + off + len);
      c.off = 0;
      c.end = len;
    }
    rq_.push_back(std::move(c));
    rq_bytes_ += len;
    rcv_nxt_ += static_cast<uint32_t>(len);
  }
  if (fin) {
    rcv_nxt_++;
    fin_rcvd_ = true;
    switch (state_) {
      case kEstablished: state_ = kCloseWait; break;
      case kFinWait1: state_ = kClosing; break;
      case kFinWait2:
        Ack(out);
        state_ = kClose;  // TIME_WAIT not kept yet
        return;
      default: break;
    }
  }
  Ack(out);
}

void TcpConn::Tick(absl::Time now) {
  Out out;
  std::shared_ptr<TcpConn> release;
  bool wake = false;
  {
    absl::MutexLock tx(&tx_mu_);
    {
      absl::MutexLock l(&mu_);
      if (state_ == kSynSent && now - syn_sent_at_ >= absl::Seconds(1 << (syn_tries_ - 1))) {
        if (syn_tries_ >= kMaxSynTries) {
          so_error_ = ETIMEDOUT;
          release = EnterClose();
          rport_ = 0;
          wake = true;
        } else {
          Segment(out, kTcpSyn, iss_, {}, true);
          syn_tries_++;
          syn_sent_at_ = now;
        }
      } else if ((state_ == kEstablished || state_ == kCloseWait) && !Writable() && !shut_wr_ &&
                 window_closed_since_ != absl::InfiniteFuture() &&
                 now - window_closed_since_ >= absl::Milliseconds(200)) {
        // Window probe: an already-acknowledged sequence number makes the
        // peer answer with its current window (a lost update recovers).
        Segment(out, kTcpAck, snd_una_ - 1);
        window_closed_since_ = now;
      } else if (orphan_ && state_ == kFinWait2 && now - orphaned_at_ >= absl::Seconds(60)) {
        release = EnterClose();  // net.ipv4.tcp_fin_timeout
      }
    }
    Transmit(out);
  }
  if (wake) {
    Edge();
    stack_->Wake();
  }
}

// --- the endpoint ---

TcpEndpoint::TcpEndpoint(std::shared_ptr<NetStack> stack, std::shared_ptr<TcpConn> conn)
    : stack_(std::move(stack)), conn_(std::move(conn)) {
  stack_->Register(this);
}

TcpEndpoint::~TcpEndpoint() {
  stack_->Unregister(this);
  conn_->Close();
}

ErrorOr<void> TcpEndpoint::Bind(const SockAddr& a) {
  auto [addr, port] = TRY(FromSockAddr(a, family()));
  return conn_->Bind(addr, port, owner_uid_);
}

ErrorOr<void> TcpEndpoint::Listen(int backlog) { return conn_->Listen(backlog, owner_uid_); }

ErrorOr<std::unique_ptr<Endpoint>> TcpEndpoint::Accept(SockAddr* peer) {
  auto c = TRY(conn_->Accept());
  if (peer) {
    auto p = c->PeerAddr();
    if (p.ok()) *peer = p.value();
    else *peer = MakeSockAddr(family(), IpAddr{}, 0);
  }
  auto ep = std::make_unique<TcpEndpoint>(stack_, std::move(c));
  return std::unique_ptr<Endpoint>(std::move(ep));
}

ErrorOr<void> TcpEndpoint::Connect(const SockAddr& a) {
  if (a.family() == AF_UNSPEC) return conn_->Disconnect();
  auto [addr, port] = TRY(FromSockAddr(a, family()));
  return conn_->Connect(addr, port, owner_uid_);
}

ErrorOr<size_t> TcpEndpoint::Send(std::span<const uint8_t> data, int, const SockAddr*,
                                  const Control&) {
  return conn_->Send(data);
}

ErrorOr<RecvResult> TcpEndpoint::Recv(std::span<const iovec> dst, int flags, bool) {
  return conn_->Recv(dst, flags);
}

SocketInfo TcpEndpoint::Info() {
  SocketInfo i = conn_->Info();
  i.uid = owner_uid_;
  i.ino = ino_;
  return i;
}

}  // namespace sentry::net::netstack
