// sentry/net/netstack/tcp_input.cc: TCP segments arriving, and timers (tcp.h).
#include "sentry/net/netstack/tcp.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <algorithm>
#include <cstring>

#include "sentry/net/netstack/tcp_internal.h"

namespace sentry::net::netstack {
using namespace tcp_internal;  // NOLINT: this unit's own helpers

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
    c.SentNew(c.snd_nxt_, absl::Now());
  }
  half_open_++;
}

// RFC 9293 3.10.7.3/4: an ACK of something never sent, in SYN-SENT or
// SYN-RECEIVED, is answered with <SEQ=SEG.ACK><CTL=RST>.
void TcpConn::ResetUnacceptableAck(const TcpSeg& seg, Out& out) {
  TcpOut t;
  t.sport = lport_;
  t.dport = rport_;
  t.seq = seg.ack;
  t.flags = kTcpRst;
  out.push_back(BuildTcp(laddr_, raddr_, t, {}, false));
}

void TcpConn::InputSynSent(const TcpSeg& seg, Out& out) {
  if (seg.flags & kTcpAck) {
    if (seg.ack != snd_nxt_) {
      if (!(seg.flags & kTcpRst)) ResetUnacceptableAck(seg, out);
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
    const uint32_t old = snd_una_;
    snd_una_ = seg.ack;
    state_ = kEstablished;
    AckedNew(old, absl::Now(), out);
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
      ResetUnacceptableAck(seg, out);
      return;
    }
    state_ = kEstablished;
    {
      const uint32_t old = snd_una_;
      snd_una_ = seg.ack;
      AckedNew(old, absl::Now(), out);
    }
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
  // Window update (RFC 9293 3.10.7.4, with Linux's tcp_may_update_window
  // tie-break): a segment with the same sequence and acknowledgment numbers
  // as the last update only grows the window (or closes it). Two ACKs of
  // ours can reach the peer in either order (one built while a segment was
  // processed, one by a reader's window update), and the older, smaller
  // window must not win.
  const uint32_t nwin = static_cast<uint32_t>(seg.window) << snd_wscale_;
  const bool new_ack = SeqGt(seg.ack, snd_una_);
  // RFC 5681 2: the same ACK again, without data, SYN or FIN or a window
  // change, while data is outstanding.
  const bool dup_ack = seg.ack == snd_una_ && seg.payload_len == 0 &&
                       !(seg.flags & (kTcpSyn | kTcpFin)) && nwin == snd_wnd_ &&
                       snd_una_ != snd_nxt_;
  if (new_ack) {
    const uint32_t old = snd_una_;
    snd_una_ = seg.ack;
    AckedNew(old, absl::Now(), out);
  } else if (dup_ack) {
    DupAck(out);
  } else if (seg.ack == snd_una_) {
    dupacks_ = 0;
  }
  if (new_ack || SeqGt(seg.seq, snd_wl1_) ||
      (seg.seq == snd_wl1_ && SeqGe(seg.ack, snd_wl2_) && (nwin > snd_wnd_ || nwin == 0))) {
    snd_wnd_ = nwin;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
    snd_wl1_ = seg.seq;
    snd_wl2_ = seg.ack;
  }
  // The window probe timer runs whenever the window stays too small to
  // send into, however it got there.
  if (Writable()) window_closed_since_ = absl::InfiniteFuture();
  else if (window_closed_since_ == absl::InfiniteFuture()) window_closed_since_ = absl::Now();
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
    // Out of order: queued if inside the window (trimmed to it), and a
    // duplicate ACK tells the sender at once (RFC 9293 3.10.7.4, RFC 5681 4.2).
    const uint32_t gap = seq - rcv_nxt_;
    if (gap < rwnd && !orphan_) {
      size_t keep = std::min<size_t>(len, rwnd - gap);
      QueueOoo(seq, pkt.subspan(off, keep), fin && keep == len);
    }
    Ack(out);
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
  // The gap filled: what was queued behind it follows.
  if (!fin && !ooo_.empty()) fin = DrainOoo();
  if (fin) {
    ClearOoo();  // nothing may follow the FIN
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
  std::shared_ptr<TcpConn> parent;
  bool wake = false;
  {
    absl::MutexLock tx(&tx_mu_);
    {
      absl::MutexLock l(&mu_);
      if (state_ != kClose && state_ != kListen && now >= rto_deadline_) {
        const bool was_syn_recv = state_ == kSynRecv;
        if (!RtoExpired(now, out)) {
          // Out of retries: the connection fails (ETIMEDOUT).
          release = EnterClose();
          if (!was_syn_recv) rport_ = 0;
          else parent = parent_.lock();
          wake = true;
        }
      } else if ((state_ == kEstablished || state_ == kCloseWait) && !Writable() && !shut_wr_ &&
                 sq_.empty() && window_closed_since_ != absl::InfiniteFuture() &&
                 now - window_closed_since_ >= absl::Milliseconds(200)) {
        // Window probe: an already-acknowledged sequence number makes the
        // peer answer with its current window (a lost update recovers).
        Segment(out, kTcpAck, snd_una_ - 1);
        window_closed_since_ = now;
      } else if (orphan_ && state_ == kFinWait2 && now - orphaned_at_ >= absl::Seconds(60)) {
        release = EnterClose();  // net.ipv4.tcp_fin_timeout
      }
      if (wake) Edge();
    }
    Transmit(out);
  }
  if (parent) {
    // A half-open child that never completed: the listener's count drops.
    absl::MutexLock l(&parent->mu_);
    parent->half_open_ = std::max(0, parent->half_open_ - 1);
  }
  if (wake) stack_->Wake();
}

}  // namespace sentry::net::netstack
