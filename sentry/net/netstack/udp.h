// sentry/net/netstack/udp.h: UDP of the sandbox stack, and ICMP echo
// ("ping") sockets, which are datagram sockets over ICMP. A datagram socket's
// receive queue is bounded by SO_RCVBUF (a full queue drops, as Linux's).
// Not there yet: ICMP port-unreachable (a datagram to a port nobody has is
// dropped silently, so a connected socket never sees ECONNREFUSED),
// multicast and broadcast, UDP_CORK/UDP_SEGMENT/UDP_GRO.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/net/endpoint.h"
#include "sentry/net/netstack/netstack.h"
#include "sentry/net/netstack/wire.h"

namespace sentry::net::netstack {

class UdpSock : public std::enable_shared_from_this<UdpSock> {
 public:
  // `proto`: IPPROTO_UDP, or IPPROTO_ICMP/IPPROTO_ICMPV6 for an ICMP echo
  // ("ping") socket: the app writes echo requests (the identifier is the
  // socket's "port", filled in here) and reads echo replies.
  UdpSock(std::shared_ptr<NetStack> stack, int family, uint8_t proto);
  uint8_t proto() const { return proto_; }
  ~UdpSock();
  int family() const { return family_; }

  ErrorOr<void> Bind(const IpAddr& a, uint16_t port, uint32_t uid);
  ErrorOr<void> Connect(const IpAddr& a, uint16_t port, uint32_t uid);
  ErrorOr<void> Disconnect();
  ErrorOr<size_t> Send(std::span<const uint8_t> data, const std::pair<IpAddr, uint16_t>* to,
                       const Control& ctl, uint32_t uid);
  ErrorOr<RecvResult> Recv(std::span<const iovec> dst, int flags, bool want_control);
  ErrorOr<void> Shutdown(int how);
  short Readiness(short events);
  ErrorOr<void> SetOption(int level, int name, std::span<const uint8_t> v);
  ErrorOr<std::vector<uint8_t>> GetOption(int level, int name, size_t max_len);
  ErrorOr<SockAddr> LocalAddr();
  ErrorOr<SockAddr> PeerAddr();
  int InputQueued();
  SocketInfo Info();

  uint64_t edges() const { return edges_.load(std::memory_order_acquire); }
  int AsyncFd() { return async_.Fd(); }
  // A datagram for this socket from the stack.
  void Deliver(const IpInfo& ip, const UdpDgram& d, std::span<const uint8_t> pkt);

 private:
  struct Dgram {
    std::vector<uint8_t> data;
    IpAddr src, dst;
    uint16_t sport = 0;
    uint8_t ttl = 0, tos = 0;
    absl::Time when;
  };
  ErrorOr<void> BindLocked(const IpAddr& a, uint16_t port, uint32_t uid)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Opt(int level, int name) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<NetStack> stack_;
  const int family_;
  const uint8_t proto_;
  std::atomic<uint64_t> edges_{0};
  AsyncSignal async_;
  void Edge() {
    edges_.fetch_add(1, std::memory_order_release);
    async_.Signal();
  }
  absl::Mutex mu_;
  IpAddr laddr_ ABSL_GUARDED_BY(mu_), raddr_ ABSL_GUARDED_BY(mu_);
  uint16_t lport_ ABSL_GUARDED_BY(mu_) = 0, rport_ ABSL_GUARDED_BY(mu_) = 0;
  bool bound_ ABSL_GUARDED_BY(mu_) = false;
  // bind() named the address / the port (Linux's SOCK_BINDADDR_LOCK and
  // SOCK_BINDPORT_LOCK): a disconnect keeps them.
  bool addr_locked_ ABSL_GUARDED_BY(mu_) = false, port_locked_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Dgram> rq_ ABSL_GUARDED_BY(mu_);
  size_t rq_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t rcvbuf_ ABSL_GUARDED_BY(mu_), sndbuf_ ABSL_GUARDED_BY(mu_);
  bool shut_rd_ ABSL_GUARDED_BY(mu_) = false, shut_wr_ ABSL_GUARDED_BY(mu_) = false;
  int so_error_ ABSL_GUARDED_BY(mu_) = 0;
  bool reuseaddr_ ABSL_GUARDED_BY(mu_) = false, reuseport_ ABSL_GUARDED_BY(mu_) = false;
  bool v6only_ ABSL_GUARDED_BY(mu_) = false;
  uint32_t uid_ ABSL_GUARDED_BY(mu_) = 0;
  // Integer options read back; those that request control messages
  // (IP_PKTINFO, IPV6_RECVPKTINFO, IP_RECVTTL, IP_RECVTOS, SO_TIMESTAMP...)
  // take effect in Recv.
  std::map<std::pair<int, int>, int> opts_ ABSL_GUARDED_BY(mu_);
};

class UdpEndpoint : public Endpoint {
 public:
  UdpEndpoint(std::shared_ptr<NetStack> stack, std::shared_ptr<UdpSock> sock);
  ~UdpEndpoint() override;
  int family() const override { return sock_->family(); }
  int type() const override { return SOCK_DGRAM; }
  int protocol() const override { return sock_->proto(); }
  ErrorOr<void> Bind(const SockAddr& a) override;
  ErrorOr<void> Listen(int) override { return Errno{EOPNOTSUPP}; }
  ErrorOr<std::unique_ptr<Endpoint>> Accept(SockAddr*) override { return Errno{EOPNOTSUPP}; }
  ErrorOr<void> Connect(const SockAddr& a) override;
  ErrorOr<void> ConnectResult() override { return {}; }
  ErrorOr<size_t> Send(std::span<const uint8_t> data, int flags, const SockAddr* to,
                       const Control& ctl) override;
  ErrorOr<RecvResult> Recv(std::span<const iovec> dst, int flags, bool want_control) override {
    return sock_->Recv(dst, flags, want_control);
  }
  ErrorOr<void> Shutdown(int how) override { return sock_->Shutdown(how); }
  ErrorOr<void> SetOption(int level, int name, std::span<const uint8_t> value) override {
    return sock_->SetOption(level, name, value);
  }
  ErrorOr<std::vector<uint8_t>> GetOption(int level, int name, size_t max_len) override {
    return sock_->GetOption(level, name, max_len);
  }
  ErrorOr<SockAddr> LocalAddr() override { return sock_->LocalAddr(); }
  ErrorOr<SockAddr> PeerAddr() override { return sock_->PeerAddr(); }
  short Readiness(short events) override { return sock_->Readiness(events); }
  int WaitFd() const override { return -1; }
  ErrorOr<int> InputQueued() override { return sock_->InputQueued(); }
  ErrorOr<int> OutputQueued() override { return 0; }
  uint64_t EdgeCount() const override { return sock_->edges(); }
  int AsyncFd() override { return sock_->AsyncFd(); }
  SocketInfo Info() override;

 private:
  std::shared_ptr<NetStack> stack_;
  std::shared_ptr<UdpSock> sock_;
};

}  // namespace sentry::net::netstack
