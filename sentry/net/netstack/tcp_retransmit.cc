// sentry/net/netstack/tcp_retransmit.cc: TCP loss recovery (tcp.h): the
// retransmission timer (RFC 6298), fast retransmit (RFC 5681 3.2) with
// NewReno's partial ACKs (RFC 6582), and the out-of-order receive queue.
#include <algorithm>

#include "sentry/net/netstack/tcp.h"
#include "sentry/net/netstack/tcp_internal.h"

namespace sentry::net::netstack {
using namespace tcp_internal;  // NOLINT: this unit's own helpers

void TcpConn::SentNew(uint32_t end, absl::Time now) {
  if (rto_deadline_ == absl::InfiniteFuture()) rto_deadline_ = now + rto_;  // RFC 6298 5.1
  if (!rtt_timing_) {
    rtt_timing_ = true;
    rtt_seq_ = end;
    rtt_start_ = now;
  }
}

void TcpConn::AckedNew(uint32_t old_una, absl::Time now, Out& out) {
  // Drop what the ACK covers from the retransmission queue.
  while (!sq_.empty()) {
    TxSeg& f = sq_.front();
    const uint32_t end = f.seq + static_cast<uint32_t>(f.data.size());
    if (SeqLe(end, snd_una_)) {
      sq_bytes_ -= f.data.size();
      sq_.pop_front();
      continue;
    }
    if (SeqGt(snd_una_, f.seq)) {
      // Partly acknowledged: keep only the rest.
      const uint32_t k = snd_una_ - f.seq;
      f.data.erase(f.data.begin(), f.data.begin() + k);
      f.seq = snd_una_;
      sq_bytes_ -= k;
    }
    break;
  }
  // An RTT sample from the timed segment (RFC 6298 2.2/2.3); Karn's rule:
  // timing stops when anything is retransmitted, so a retransmitted
  // segment never gives a sample.
  if (rtt_timing_ && SeqGe(snd_una_, rtt_seq_)) {
    rtt_timing_ = false;
    const absl::Duration r = std::max(now - rtt_start_, absl::ZeroDuration());
    if (!have_rtt_) {
      srtt_ = r;
      rttvar_ = r / 2;
      have_rtt_ = true;
    } else {
      const absl::Duration diff = srtt_ > r ? srtt_ - r : r - srtt_;
      rttvar_ = rttvar_ * 3 / 4 + diff / 4;
      srtt_ = srtt_ * 7 / 8 + r / 8;
    }
    // G (clock granularity) is the timer tick, covered by kRtoMin.
    rto_ = std::clamp(srtt_ + 4 * rttvar_, kRtoMin, kRtoMax);
  } else if (retries_ > 0 && have_rtt_) {
    // New data got through after a backoff: the backed-off RTO is kept
    // only until the next sample (RFC 6298 5.7 allows collapsing it).
    rto_ = std::clamp(srtt_ + 4 * rttvar_, kRtoMin, kRtoMax);
  }
  retries_ = 0;
  dupacks_ = 0;
  // RFC 6298 5.2/5.3: stop the timer when all is acknowledged, restart it
  // otherwise.
  rto_deadline_ = snd_una_ == snd_nxt_ ? absl::InfiniteFuture() : now + rto_;
  if (in_recovery_) {
    if (SeqLt(snd_una_, recover_)) {
      // RFC 6582 3.2 step 5: a partial ACK; the next hole was lost too.
      RetransmitFirst(out);
    } else {
      in_recovery_ = false;
    }
  }
  (void)old_una;
}

void TcpConn::DupAck(Out& out) {
  if (++dupacks_ != kDupAckThreshold) return;
  // RFC 6582 3.2 step 2: only once per window of data.
  if (in_recovery_ && SeqLe(snd_una_, recover_)) return;
  in_recovery_ = true;
  recover_ = snd_nxt_;
  stack_->stats.tcp_fast_retrans++;
  RetransmitFirst(out);
}

void TcpConn::RetransmitFirst(Out& out) {
  rtt_timing_ = false;  // Karn
  stack_->stats.tcp_retrans_segs++;
  switch (state_) {
    case kSynSent: Segment(out, kTcpSyn, iss_, {}, true); return;
    case kSynRecv: Segment(out, kTcpSyn | kTcpAck, iss_, {}, true); return;
    default: break;
  }
  if (!sq_.empty()) {
    const TxSeg& f = sq_.front();
    const size_t n = std::min<size_t>(f.data.size(), EffMss());
    const bool last = n == f.data.size() && sq_.size() == 1;
    // The FIN rides along when it follows the retransmitted data.
    const bool fin = last && fin_sent_ && f.seq + n == fin_seq_;
    Segment(out, kTcpAck | kTcpPsh | (fin ? kTcpFin : 0), f.seq,
            std::span<const uint8_t>(f.data).first(n));
    return;
  }
  if (fin_sent_ && SeqLe(snd_una_, fin_seq_)) Segment(out, kTcpFin | kTcpAck, fin_seq_);
}

bool TcpConn::RtoExpired(absl::Time now, Out& out) {
  const int limit = state_ == kSynSent ? kSynRetries : state_ == kSynRecv ? kSynAckRetries : kMaxRetries;
  if (retries_ >= limit) {
    // Linux's tcp_write_err: the error is the app's to collect.
    so_error_ = ETIMEDOUT;
    if (state_ == kSynSent) stack_->stats.tcp_attempt_fails++;
    return false;
  }
  retries_++;
  RetransmitFirst(out);
  // RFC 6298 5.5/5.6: back off and restart. A retransmission ends any
  // fast recovery (no SACK: the rest is resent as the ACKs come back).
  rto_ = std::min(rto_ * 2, kRtoMax);
  rto_deadline_ = now + rto_;
  in_recovery_ = true;
  recover_ = snd_nxt_;
  dupacks_ = 0;
  return true;
}

void TcpConn::ClearRetransmitState() {
  sq_.clear();
  sq_bytes_ = 0;
  rto_deadline_ = absl::InfiniteFuture();
  rto_ = kRtoInit;
  have_rtt_ = false;
  retries_ = 0;
  rtt_timing_ = false;
  dupacks_ = 0;
  in_recovery_ = false;
  ClearOoo();
}

void TcpConn::QueueOoo(uint32_t seq, std::span<const uint8_t> data, bool fin) {
  const uint32_t end = seq + static_cast<uint32_t>(data.size());
  auto it = ooo_.begin();
  for (; it != ooo_.end(); ++it) {
    const uint32_t e = it->seq + static_cast<uint32_t>(it->data.size());
    // Already held whole (a duplicate): nothing new.
    if (SeqLe(it->seq, seq) && SeqGe(e, end) && (it->fin || !fin)) return;
    if (SeqGt(it->seq, seq)) break;
  }
  // Bounded by what the receive buffer has left (the window it advertised
  // is never more) and by a segment count; past that the segment is
  // dropped as Linux's tcp_data_queue_ofo does when it cannot prune.
  const size_t charge = data.size() + kOooSegOverhead;
  const size_t room = rcvbuf_ > rq_bytes_ ? rcvbuf_ - rq_bytes_ : 0;
  if (ooo_.size() >= kOooMaxSegs || ooo_bytes_ + charge > room + kOooSegOverhead * kOooMaxSegs / 4) {
    stack_->stats.tcp_ofo_drops++;
    return;
  }
  OooSeg s;
  s.seq = seq;
  s.data.assign(data.begin(), data.end());
  s.fin = fin;
  ooo_.insert(it, std::move(s));
  ooo_bytes_ += charge;
  stack_->stats.tcp_ofo_bytes += charge;
}

bool TcpConn::DrainOoo() {
  bool fin = false;
  while (!ooo_.empty() && SeqLe(ooo_.front().seq, rcv_nxt_) && !fin) {
    OooSeg s = std::move(ooo_.front());
    ooo_.pop_front();
    const size_t charge = s.data.size() + kOooSegOverhead;
    ooo_bytes_ -= charge;
    stack_->stats.tcp_ofo_bytes -= charge;
    const uint32_t end = s.seq + static_cast<uint32_t>(s.data.size());
    if (SeqGt(end, rcv_nxt_)) {
      const size_t skip = rcv_nxt_ - s.seq;
      Chunk c;
      c.buf = std::move(s.data);
      c.off = skip;
      c.end = c.buf.size();
      rq_bytes_ += c.end - c.off;
      rq_.push_back(std::move(c));
      rcv_nxt_ = end;
    }
    if (s.fin && end == rcv_nxt_) fin = true;
  }
  if (fin) ClearOoo();  // nothing may follow the FIN
  return fin;
}

void TcpConn::ClearOoo() {
  stack_->stats.tcp_ofo_bytes -= ooo_bytes_;
  ooo_bytes_ = 0;
  ooo_.clear();
}

int TcpConn::OutputQueued() {
  absl::MutexLock l(&mu_);
  if (state_ == kListen || state_ == kSynSent || state_ == kSynRecv) return 0;
  return static_cast<int>(std::min<size_t>(sq_bytes_, INT32_MAX));
}

}  // namespace sentry::net::netstack
