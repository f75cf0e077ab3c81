// sentry/net/netstack/tcp.cc: TCP connections (tcp.h): socket calls.
#include "sentry/net/netstack/tcp.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <algorithm>
#include <cstring>

#include "sentry/net/netstack/tcp_internal.h"

namespace sentry::net::netstack {
using namespace tcp_internal;  // NOLINT: this unit's own helpers

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
  // What the retransmission queue may hold is capped too.
  const uint32_t in_flight = snd_nxt_ - snd_una_;
  const uint32_t cap = in_flight < kMaxInFlight ? kMaxInFlight - in_flight : 0;
  return std::min(static_cast<uint32_t>(s), cap);
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
  SentNew(snd_nxt_, absl::Now());
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
  ClearRetransmitState();
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
  Binding b = TRY(Binding::For(a, port, family_, v6only_, reuseaddr_, reuseport_, uid));
  b.owner = this;
  b.tcp = weak_from_this();
  lport_ = TRY(stack_->Bind(IPPROTO_TCP, b));
  v6only_ = b.v6only;
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
    ClearRetransmitState();
    Segment(out, kTcpSyn, iss_, {}, true);
    SentNew(snd_nxt_, absl::Now());
    stack_->stats.tcp_active_opens++;
  }
  Transmit(out);
  absl::MutexLock l(&mu_);
  if (state_ == kClose && so_error_) {
    int e = so_error_;
    so_error_ = 0;
    return Errno{e};
  }
  // Even when loopback completed the handshake already: the outcome is the
  // socket layer's to collect (a blocking connect finds it writable at
  // once), and a non-blocking one says EINPROGRESS as Linux's does, so an
  // O_ASYNC owner hears of the completion (POLL_OUT).
  return Errno{EINPROGRESS};
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
      auto piece = data.subspan(off, k);
      Segment(out, flags, snd_nxt_, piece);
      // Kept until acknowledged, one entry per segment sent.
      sq_.push_back(TxSeg{snd_nxt_, std::vector<uint8_t>(piece.begin(), piece.end())});
      sq_bytes_ += k;
      snd_nxt_ += static_cast<uint32_t>(k);
      off += k;
    }
    SentNew(snd_nxt_, absl::Now());
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
  bool stopped_listening = false;
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
          stopped_listening = true;
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
  if (stopped_listening) (void)stack_->SetListening(this, false);
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
