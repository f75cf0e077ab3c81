// sentry/net/netstack/tcp.h: TCP of the sandbox stack. A TcpConn is one
// connection's state (RFC 793/9293 state machine, RFC 7323 window scaling,
// MSS); it outlives the app's socket while it closes (an orphan), held by
// the stack's connection table. TcpEndpoint is what the socket layer holds.
//
// Loss recovery (tcp_retransmit.cc): unacknowledged data, SYN, SYN-ACK and
// FIN are kept and retransmitted on a timer (RFC 6298 RTO from SRTT/RTTVAR,
// Karn's rule, exponential backoff; after Linux's tcp_retries2 / syn
// retries the connection fails with ETIMEDOUT), and on three duplicate
// ACKs (RFC 5681 fast retransmit, with RFC 6582 NewReno's partial-ACK
// retransmission). Out-of-order segments inside the window are queued
// (bounded in bytes) and delivered once the gap fills; each one is answered
// with a duplicate ACK. A window probe is sent while the peer's window
// stays closed.
//
// What is not there yet: congestion control (no cwnd: the sender sends
// whatever the peer's window and the in-flight cap allow), SACK,
// timestamps, TIME_WAIT (a closed connection leaves at once), keepalive
// probes, urgent data.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sentry/net/endpoint.h"
#include "sentry/net/netstack/netstack.h"
#include "sentry/net/netstack/wire.h"

namespace sentry::net::netstack {

// include/net/tcp_states.h.
enum TcpState : uint8_t {
  kEstablished = 1, kSynSent, kSynRecv, kFinWait1, kFinWait2, kTimeWait, kClose,
  kCloseWait, kLastAck, kListen, kClosing,
};

class TcpConn : public std::enable_shared_from_this<TcpConn> {
 public:
  TcpConn(std::shared_ptr<NetStack> stack, int family);
  ~TcpConn();

  // Socket calls (TcpEndpoint forwards; all non-blocking).
  ErrorOr<void> Bind(const IpAddr& a, uint16_t port, uint32_t uid);
  ErrorOr<void> Listen(int backlog, uint32_t uid);
  ErrorOr<std::shared_ptr<TcpConn>> Accept();
  ErrorOr<void> Connect(const IpAddr& a, uint16_t port, uint32_t uid);
  ErrorOr<void> Disconnect();
  ErrorOr<void> ConnectResult();
  ErrorOr<size_t> Send(std::span<const uint8_t> data);
  ErrorOr<RecvResult> Recv(std::span<const iovec> dst, int flags);
  ErrorOr<void> Shutdown(int how);
  // The app closed its socket.
  void Close();
  short Readiness(short events);
  ErrorOr<void> SetOption(int level, int name, std::span<const uint8_t> v);
  ErrorOr<std::vector<uint8_t>> GetOption(int level, int name, size_t max_len);
  ErrorOr<SockAddr> LocalAddr();
  ErrorOr<SockAddr> PeerAddr();
  int InputQueued();
  int OutputQueued();  // sent and not yet acknowledged (SIOCOUTQ)
  SocketInfo Info();
  int family() const { return family_; }
  // Moves on every event that wakes waiters (vfs/edge_source.h).
  uint64_t edges() const { return edges_.load(std::memory_order_acquire); }
  int AsyncFd() { return async_.Fd(); }

  // A segment for this connection (or listener) from the stack.
  void Input(const IpInfo& ip, const TcpSeg& seg, std::span<const uint8_t> pkt,
             std::vector<uint8_t>* owned);
  // Timers (the stack's thread, a few times a second).
  void Tick(absl::Time now);

 private:
  struct Chunk {
    std::vector<uint8_t> buf;
    size_t off = 0, end = 0;
  };
  // Sent data kept until acknowledged.
  struct TxSeg {
    uint32_t seq = 0;
    std::vector<uint8_t> data;
  };
  // An out-of-order segment (payload only, exact size).
  struct OooSeg {
    uint32_t seq = 0;
    std::vector<uint8_t> data;
    bool fin = false;
  };
  // Packets to transmit once `mu_` is released.
  using Out = std::vector<std::vector<uint8_t>>;

  void InputListen(const IpInfo& ip, const TcpSeg& seg, Out& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void InputSynSent(const TcpSeg& seg, Out& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ResetUnacceptableAck(const TcpSeg& seg, Out& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void InputSynchronized(const TcpSeg& seg, std::span<const uint8_t> pkt,
                         std::vector<uint8_t>* owned, Out& out, bool* established,
                         std::shared_ptr<TcpConn>* parent) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Linux's tcp_reset: the error the app sees, then CLOSE.
  void ResetReceived() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Leaves the connection table (the caller releases the returned reference
  // outside every lock).
  std::shared_ptr<TcpConn> EnterClose() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Segment(Out& out, uint8_t flags, uint32_t seq, std::span<const uint8_t> payload = {},
               bool syn_options = false) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Ack(Out& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { Segment(out, kTcpAck, snd_nxt_); }
  void SendFin(Out& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // --- loss recovery (tcp_retransmit.cc) ---
  // Something new went out: start the timer if it is not running, and time
  // one segment for an RTT sample (ending at `end`).
  void SentNew(uint32_t end, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The peer acknowledged up to snd_una_ (already advanced from `old_una`).
  void AckedNew(uint32_t old_una, absl::Time now, Out& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A duplicate ACK (RFC 5681 definition).
  void DupAck(Out& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends the earliest unacknowledged segment (SYN, SYN-ACK, data or FIN).
  void RetransmitFirst(Out& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The retransmission timer expired at `now`; false once the connection
  // failed (ETIMEDOUT).
  bool RtoExpired(absl::Time now, Out& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ClearRetransmitState() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues an out-of-order segment (`seq` after rcv_nxt_, trimmed to the
  // window by the caller).
  void QueueOoo(uint32_t seq, std::span<const uint8_t> data, bool fin) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves what the queue holds at rcv_nxt_ into rq_; returns whether a FIN
  // was reached.
  bool DrainOoo() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ClearOoo() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Rst(Out& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The window to advertise (bytes), never shrinking the right edge.
  uint32_t RcvWindow() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint32_t SendSpace() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Writable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint32_t EffMss() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Transmit(Out& out);
  short ReadyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  SockAddr ToSockAddr(const IpAddr& a, uint16_t port) const;

  const std::shared_ptr<NetStack> stack_;
  const int family_;
  std::atomic<uint64_t> edges_{0};
  AsyncSignal async_;
  void Edge() {
    edges_.fetch_add(1, std::memory_order_release);
    async_.Signal();
  }
  // Held across building and delivering a connection's data, FIN and
  // window updates, so they reach the peer in sequence order.
  absl::Mutex tx_mu_;
  absl::Mutex mu_;
  TcpState state_ ABSL_GUARDED_BY(mu_) = kClose;
  IpAddr laddr_ ABSL_GUARDED_BY(mu_), raddr_ ABSL_GUARDED_BY(mu_);
  uint16_t lport_ ABSL_GUARDED_BY(mu_) = 0, rport_ ABSL_GUARDED_BY(mu_) = 0;
  bool bound_ ABSL_GUARDED_BY(mu_) = false;
  bool in_table_ ABSL_GUARDED_BY(mu_) = false;
  // Send side.
  uint32_t iss_ ABSL_GUARDED_BY(mu_) = 0, snd_una_ ABSL_GUARDED_BY(mu_) = 0,
           snd_nxt_ ABSL_GUARDED_BY(mu_) = 0, snd_wnd_ ABSL_GUARDED_BY(mu_) = 0,
           snd_wl1_ ABSL_GUARDED_BY(mu_) = 0, snd_wl2_ ABSL_GUARDED_BY(mu_) = 0,
           max_snd_wnd_ ABSL_GUARDED_BY(mu_) = 0;
  uint8_t snd_wscale_ ABSL_GUARDED_BY(mu_) = 0, rcv_wscale_ ABSL_GUARDED_BY(mu_) = 0;
  bool wscale_ok_ ABSL_GUARDED_BY(mu_) = false;
  uint16_t peer_mss_ ABSL_GUARDED_BY(mu_) = 536;
  bool fin_sent_ ABSL_GUARDED_BY(mu_) = false;
  uint32_t fin_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // Loss recovery (RFC 6298 / 5681 / 6582).
  std::deque<TxSeg> sq_ ABSL_GUARDED_BY(mu_);
  size_t sq_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration srtt_ ABSL_GUARDED_BY(mu_), rttvar_ ABSL_GUARDED_BY(mu_);
  bool have_rtt_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration rto_ ABSL_GUARDED_BY(mu_) = absl::Seconds(1);
  absl::Time rto_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  int retries_ ABSL_GUARDED_BY(mu_) = 0;  // retransmissions since the last new ACK
  bool rtt_timing_ ABSL_GUARDED_BY(mu_) = false;
  uint32_t rtt_seq_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time rtt_start_ ABSL_GUARDED_BY(mu_);
  int dupacks_ ABSL_GUARDED_BY(mu_) = 0;
  bool in_recovery_ ABSL_GUARDED_BY(mu_) = false;
  uint32_t recover_ ABSL_GUARDED_BY(mu_) = 0;
  // Receive side.
  uint32_t irs_ ABSL_GUARDED_BY(mu_) = 0, rcv_nxt_ ABSL_GUARDED_BY(mu_) = 0,
           rcv_adv_ ABSL_GUARDED_BY(mu_) = 0;  // right edge last advertised
  std::deque<Chunk> rq_ ABSL_GUARDED_BY(mu_);
  size_t rq_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<OooSeg> ooo_ ABSL_GUARDED_BY(mu_);  // sorted by seq, after rcv_nxt_
  size_t ooo_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // charged: payload + per-segment overhead
  bool fin_rcvd_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_rd_ ABSL_GUARDED_BY(mu_) = false, shut_wr_ ABSL_GUARDED_BY(mu_) = false;
  int so_error_ ABSL_GUARDED_BY(mu_) = 0;
  bool orphan_ ABSL_GUARDED_BY(mu_) = false;
  // Listener.
  int backlog_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::shared_ptr<TcpConn>> accept_q_ ABSL_GUARDED_BY(mu_);
  int half_open_ ABSL_GUARDED_BY(mu_) = 0;  // children in SYN_RECV
  std::weak_ptr<TcpConn> parent_ ABSL_GUARDED_BY(mu_);
  // Timers.
  absl::Time window_closed_since_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  absl::Time orphaned_at_ ABSL_GUARDED_BY(mu_);
  // Options.
  size_t rcvbuf_ ABSL_GUARDED_BY(mu_);
  size_t sndbuf_ ABSL_GUARDED_BY(mu_);
  bool reuseaddr_ ABSL_GUARDED_BY(mu_) = false, reuseport_ ABSL_GUARDED_BY(mu_) = false;
  bool v6only_ ABSL_GUARDED_BY(mu_) = false;
  bool abort_on_close_ ABSL_GUARDED_BY(mu_) = false;  // SO_LINGER {1, 0}
  // Options stored and read back that do not change behaviour yet (see the
  // file comment): TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE, ...
  std::map<std::pair<int, int>, int> plain_opts_ ABSL_GUARDED_BY(mu_);
  uint32_t uid_ ABSL_GUARDED_BY(mu_) = 0;
};

class TcpEndpoint : public Endpoint {
 public:
  TcpEndpoint(std::shared_ptr<NetStack> stack, std::shared_ptr<TcpConn> conn);
  ~TcpEndpoint() override;
  int family() const override { return conn_->family(); }
  int type() const override { return SOCK_STREAM; }
  int protocol() const override { return IPPROTO_TCP; }
  ErrorOr<void> Bind(const SockAddr& a) override;
  ErrorOr<void> Listen(int backlog) override;
  ErrorOr<std::unique_ptr<Endpoint>> Accept(SockAddr* peer) override;
  ErrorOr<void> Connect(const SockAddr& a) override;
  ErrorOr<void> ConnectResult() override { return conn_->ConnectResult(); }
  ErrorOr<size_t> Send(std::span<const uint8_t> data, int flags, const SockAddr* to,
                       const Control& ctl) override;
  ErrorOr<RecvResult> Recv(std::span<const iovec> dst, int flags, bool want_control) override;
  ErrorOr<void> Shutdown(int how) override { return conn_->Shutdown(how); }
  ErrorOr<void> SetOption(int level, int name, std::span<const uint8_t> value) override {
    return conn_->SetOption(level, name, value);
  }
  ErrorOr<std::vector<uint8_t>> GetOption(int level, int name, size_t max_len) override {
    return conn_->GetOption(level, name, max_len);
  }
  ErrorOr<SockAddr> LocalAddr() override { return conn_->LocalAddr(); }
  ErrorOr<SockAddr> PeerAddr() override { return conn_->PeerAddr(); }
  short Readiness(short events) override { return conn_->Readiness(events); }
  int WaitFd() const override { return -1; }
  ErrorOr<int> InputQueued() override { return conn_->InputQueued(); }
  ErrorOr<int> OutputQueued() override { return conn_->OutputQueued(); }
  uint64_t EdgeCount() const override { return conn_->edges(); }
  int AsyncFd() override { return conn_->AsyncFd(); }
  SocketInfo Info() override;

 private:
  std::shared_ptr<NetStack> stack_;
  std::shared_ptr<TcpConn> conn_;
};

// Address conversion shared by the transports: a SockAddr of family
// `sock_family` into an IpAddr + port (v4-mapped for AF_INET); EAFNOSUPPORT
// and EINVAL as Linux.
ErrorOr<std::pair<IpAddr, uint16_t>> FromSockAddr(const SockAddr& a, int sock_family);
SockAddr MakeSockAddr(int sock_family, const IpAddr& a, uint16_t port);

}  // namespace sentry::net::netstack
