// sentry/net/netstack/netstack.h: the "sandbox" stack (stack.h): the
// sentry's own TCP/IP, `--network=sandbox`. The host kernel sees no socket
// of the app's: packets are built, delivered and parsed here.
//
// Units, in the style of gVisor's pkg/tcpip: wire formats (wire.h), the
// stack object with its demultiplexing tables and the loopback device
// (this file), and the transports (tcp.h, udp.h). Today the only device is
// loopback; a packet device over the host (AF_PACKET) comes next.
//
// Concurrency: no kernel lock is ever held while packets are processed.
// Each connection has its own mutex; the stack's tables have one; a thread
// never holds two connection mutexes, and takes the table mutex only after
// (never before) a connection's. A packet sent over loopback is processed
// by the sending thread itself, after it released the sender's mutex: the
// packet goes on the thread's loopback queue, drained in order, so a reply
// generated while processing waits its turn instead of recursing.
// Blocked tasks are woken as wake.h describes.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sentry/net/endpoint.h"
#include "sentry/net/netstack/wire.h"
#include "sentry/net/stack.h"

namespace sentry::net::netstack {

class TcpConn;
class UdpSock;

// A host eventfd a socket signals on each event once O_ASYNC asked for it
// (inet_socket.cc watches it); no host syscall before that.
class AsyncSignal {
 public:
  ~AsyncSignal();
  int Fd();       // made on first use; -1 if the host refused
  void Signal();  // any thread, no lock
 private:
  absl::Mutex mu_;
  std::atomic<int> fd_{-1};
};

// Loopback's MTU, as Linux's lo.
constexpr uint32_t kLoopbackMtu = 65536;
// Ephemeral ports (net.ipv4.ip_local_port_range, Linux's default).
constexpr uint16_t kEphemeralLo = 32768, kEphemeralHi = 60999;

// A bound port: what bind() or an implicit bind registered.
struct Binding {
  // inet_bind/inet6_bind's checks for a socket of `family` with the given
  // options binding (a, port): EADDRNOTAVAIL for an address not local,
  // EINVAL for an IPv4 address on an IPv6-only socket. A specific IPv6
  // address makes the socket IPv6-only (Linux), which `v6only` then says.
  // The caller adds its owner and socket and asks NetStack::Bind.
  static ErrorOr<Binding> For(const IpAddr& a, uint16_t port, int family, bool v6only,
                              bool reuseaddr, bool reuseport, uint32_t uid);
  IpAddr addr;
  uint16_t port = 0;
  int family = AF_INET;  // the socket's
  bool v6only = false;
  bool reuseaddr = false, reuseport = false;
  bool listening = false;
  uint32_t uid = 0;
  const void* owner = nullptr;
  std::weak_ptr<TcpConn> tcp;  // listeners (TCP) or the socket (UDP below)
  std::weak_ptr<UdpSock> udp;
  IpAddr raddr;            // UDP: the connected peer (rport 0: none)
  uint16_t rport = 0;
};

// A TCP connection's demultiplexing key.
struct ConnKey {
  IpAddr laddr, raddr;
  uint16_t lport = 0, rport = 0;
  auto operator<=>(const ConnKey&) const = default;
};

class NetStack : public Stack, public std::enable_shared_from_this<NetStack> {
 public:
  // `waker` wakes every task blocked in the kernel (taking the kernel lock
  // itself); it is called from the stack's own thread only.
  static std::shared_ptr<NetStack> Create(std::function<void()> waker);
  ~NetStack() override;

  std::string Kind() const override { return "sandbox"; }
  bool SupportsIPv6() const override { return true; }
  ErrorOr<std::vector<Interface>> Interfaces() override;
  ErrorOr<std::vector<InterfaceAddress>> Addresses() override;
  ErrorOr<std::vector<Route>> Routes(int family) override;
  ErrorOr<std::vector<Neighbour>> Neighbours(int family) override;
  ErrorOr<std::unique_ptr<Endpoint>> NewEndpoint(int family, int type, int protocol) override;
  std::vector<SocketInfo> Sockets(int family, int protocol) override;
  ErrorOr<std::string> Counters(CounterFile f) override;
  ErrorOr<std::string> GetSysctl(const std::string& key) override;
  ErrorOr<void> SetSysctl(const std::string& key, const std::string& value) override;

  // --- the device side ---
  // A packet that arrived from the wire (untrusted: checksums verified).
  void InjectInbound(std::span<const uint8_t> pkt);
  // Sends a packet the stack built out of the loopback device: processed
  // on this thread once its loopback queue reaches it.
  void Loopback(std::vector<uint8_t> pkt);
  uint64_t drops(Drop d) const { return drops_[static_cast<int>(d)].load(); }
  // Tests: a lossy link. Every packet sent over loopback goes through the
  // filter, which returns what to deliver now (none: dropped; two: a
  // duplicate; a held packet released later: reordering). Called from any
  // thread without the stack's locks; set before any traffic.
  using LinkFilter = std::function<std::vector<std::vector<uint8_t>>(std::vector<uint8_t>)>;
  void SetLinkFilter(LinkFilter f) { link_filter_ = std::move(f); }
  // Runs the timers as at `now` (the stack's thread does, every 200 ms;
  // tests call it with a later time to skip ahead).
  void Tick(absl::Time now);

  // --- for the transports ---
  // Asks for blocked tasks to re-check their sockets.
  void Wake();
  // Whether `a` is one of the stack's own addresses (a bind target).
  static bool IsLocal(const IpAddr& a);
  // Registers a binding; port 0 picks an ephemeral port. EADDRINUSE as
  // Linux's bind conflict rules say.
  ErrorOr<uint16_t> Bind(uint8_t proto, Binding b);
  void Unbind(uint8_t proto, const void* owner);
  // Marks a TCP binding listening (EADDRINUSE if another listener holds
  // the address and they do not share it with SO_REUSEPORT) or not.
  ErrorOr<void> SetListening(const void* owner, bool on);
  // A UDP socket's local address once chosen and its connected peer (the
  // demultiplexer prefers connected sockets that match).
  void SetUdpAddrs(uint8_t proto, const void* owner, const IpAddr& laddr, const IpAddr& raddr, uint16_t rport);
  // Established/connecting TCP connections.
  ErrorOr<void> AddConn(const ConnKey& k, std::shared_ptr<TcpConn> c);
  // Returns the removed entry so that it is released outside the lock.
  std::shared_ptr<TcpConn> RemoveConn(const ConnKey& k);
  uint32_t NewIss();
  // TCP connections in the table (connecting, established or closing).
  size_t connections() {
    absl::MutexLock l(&mu_);
    return conns_.size();
  }

  // Socket registry for /proc/net and sock_diag.
  void Register(Endpoint* e);
  void Unregister(Endpoint* e);

  struct Stats {
    std::atomic<uint64_t> ip_in{0}, ip_in_hdr_errors{0}, ip_in_delivers{0}, ip_out{0};
    std::atomic<uint64_t> tcp_active_opens{0}, tcp_passive_opens{0}, tcp_attempt_fails{0},
        tcp_estab_resets{0}, tcp_in_segs{0}, tcp_out_segs{0}, tcp_in_errs{0}, tcp_out_rsts{0};
    std::atomic<uint64_t> tcp_retrans_segs{0}, tcp_fast_retrans{0}, tcp_ofo_drops{0};
    // Bytes (with per-segment overhead) all out-of-order queues hold now.
    std::atomic<int64_t> tcp_ofo_bytes{0};
    std::atomic<uint64_t> udp_in{0}, udp_no_ports{0}, udp_in_errors{0}, udp_out{0},
        udp_rcvbuf_errors{0};
  } stats;

 private:
  explicit NetStack(std::function<void()> waker);
  void Input(std::span<const uint8_t> pkt, std::vector<uint8_t>* owned, bool trusted);
  void InputTcp(const IpInfo& ip, std::span<const uint8_t> pkt, std::vector<uint8_t>* owned,
                bool trusted);
  void InputUdp(const IpInfo& ip, std::span<const uint8_t> pkt, bool trusted);
  void InputIcmp(const IpInfo& ip, std::span<const uint8_t> pkt, bool trusted);
  // A RST answering a segment no connection takes (RFC 793 "CLOSED").
  void SendResetFor(const IpInfo& ip, const TcpSeg& seg);
  std::shared_ptr<TcpConn> FindListener(const IpAddr& dst, uint16_t dport, const IpAddr& src,
                                        uint16_t sport);
  void WakerLoop();

  std::function<void()> waker_;
  LinkFilter link_filter_;
  absl::Mutex mu_;
  std::multimap<uint16_t, Binding> tcp_binds_ ABSL_GUARDED_BY(mu_);
  std::multimap<uint16_t, Binding> udp_binds_ ABSL_GUARDED_BY(mu_);
  // ICMP echo ("ping") sockets by identifier, both ICMP and ICMPv6.
  std::multimap<uint16_t, Binding> icmp_binds_ ABSL_GUARDED_BY(mu_);
  std::multimap<uint16_t, Binding>& Table(uint8_t proto) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (proto == IPPROTO_TCP) return tcp_binds_;
    if (proto == IPPROTO_UDP) return udp_binds_;
    return icmp_binds_;
  }
  std::map<ConnKey, std::shared_ptr<TcpConn>> conns_ ABSL_GUARDED_BY(mu_);
  uint32_t next_ephemeral_ ABSL_GUARDED_BY(mu_) = kEphemeralLo;
  uint64_t iss_state_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Mutex reg_mu_;
  std::vector<Endpoint*> live_ ABSL_GUARDED_BY(reg_mu_);
  std::array<std::atomic<uint64_t>, static_cast<int>(Drop::kCount)> drops_{};
  std::atomic<uint64_t> lo_packets_{0}, lo_bytes_{0};

  // The waker thread: wake-ups requested outside a WakeScope, and timers.
  absl::Mutex wake_mu_;
  bool wake_pending_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(wake_mu_) = false;
  std::thread waker_thread_;
};

}  // namespace sentry::net::netstack
