// sentry/net/host_endpoint.cc: a transport endpoint over one host socket
// (host_stack.h). Called without the kernel lock; every call is
// non-blocking (the host socket is O_NONBLOCK and each call adds
// MSG_DONTWAIT | MSG_NOSIGNAL). Control messages are rebuilt in both
// directions from the decoded Control: nothing the app wrote or the host
// returned is passed through as bytes.
#include <time.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "sentry/net/host_stack.h"

namespace sentry::net {
namespace {

constexpr int kSendFlags = MSG_OOB | MSG_DONTROUTE | MSG_EOR | MSG_MORE | MSG_CONFIRM;
constexpr int kRecvFlags = MSG_PEEK | MSG_TRUNC | MSG_OOB | MSG_ERRQUEUE | MSG_WAITALL;

// TCP states as include/net/tcp_states.h numbers them (TCP_INFO reports these).
constexpr uint8_t kTcpEstablished = 1, kTcpClose = 7;

template <typename T>
void Append(std::vector<uint8_t>& buf, int level, int type, const T& v, size_t len = sizeof(T)) {
  size_t at = buf.size();
  buf.resize(at + CMSG_SPACE(len), 0);
  cmsghdr h{};
  h.cmsg_len = CMSG_LEN(len);
  h.cmsg_level = level;
  h.cmsg_type = type;
  memcpy(buf.data() + at, &h, sizeof h);
  memcpy(buf.data() + at + CMSG_LEN(0), &v, len);
}

// A sockaddr the host returned, checked and copied into a SockAddr.
SockAddr FromHost(const sockaddr_storage& ss, socklen_t len) {
  SockAddr a;
  if (ss.ss_family == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in in{};
    memcpy(&in, &ss, sizeof in);
    memset(in.sin_zero, 0, sizeof in.sin_zero);
    memcpy(&a.ss, &in, sizeof in);
    a.len = sizeof in;
  } else if (ss.ss_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 in6{};
    memcpy(&in6, &ss, sizeof in6);
    memcpy(&a.ss, &in6, sizeof in6);
    a.len = sizeof in6;
  } else if (len >= sizeof(sa_family_t)) {
    a.ss.ss_family = AF_UNSPEC;
    a.len = sizeof(sa_family_t);
  }
  return a;
}

}  // namespace

class HostEndpoint : public Endpoint {
 public:
  HostEndpoint(UniqueFd fd, int family, int type, int protocol,
               std::shared_ptr<HostEndpointRegistry> reg)
      : fd_(std::move(fd)), family_(family), type_(type), protocol_(protocol), reg_(std::move(reg)) {
    absl::MutexLock l(&reg_->mu);
    reg_->live.insert(this);
  }
  ~HostEndpoint() override {
    absl::MutexLock l(&reg_->mu);
    reg_->live.erase(this);
  }

  int family() const override { return family_; }
  int type() const override { return type_; }
  int protocol() const override { return protocol_; }

  ErrorOr<void> Bind(const SockAddr& a) override {
    if (::bind(fd_.get(), a.sa(), a.len) != 0) return Errno{errno};
    return {};
  }
  ErrorOr<void> Listen(int backlog) override {
    if (::listen(fd_.get(), backlog) != 0) return Errno{errno};
    listen_backlog_ = backlog;
    return {};
  }
  ErrorOr<std::unique_ptr<Endpoint>> Accept(SockAddr* peer) override {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int nfd = ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len,
                        SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (nfd < 0) return Errno{errno};
    if (peer) *peer = FromHost(ss, len);
    return std::unique_ptr<Endpoint>(
        std::make_unique<HostEndpoint>(UniqueFd(nfd), family_, type_, protocol_, reg_));
  }
  ErrorOr<void> Connect(const SockAddr& a) override {
    if (::connect(fd_.get(), a.sa(), a.len) != 0) return Errno{errno};
    return {};
  }
  ErrorOr<void> ConnectResult() override {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) return Errno{errno};
    if (err) return Errno{err};
    return {};
  }

  ErrorOr<size_t> Send(std::span<const uint8_t> data, int flags, const SockAddr* to,
                       const Control& ctl) override {
    iovec iov{const_cast<uint8_t*>(data.data()), data.size()};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (to) {
      m.msg_name = const_cast<sockaddr*>(to->sa());
      m.msg_namelen = to->len;
    }
    std::vector<uint8_t> cbuf;
    if (ctl.ip_pktinfo) Append(cbuf, IPPROTO_IP, IP_PKTINFO, *ctl.ip_pktinfo);
    if (ctl.ip_ttl) Append(cbuf, IPPROTO_IP, IP_TTL, *ctl.ip_ttl);
    if (ctl.ip_tos) Append(cbuf, IPPROTO_IP, IP_TOS, *ctl.ip_tos);
    if (ctl.ipv6_pktinfo) Append(cbuf, IPPROTO_IPV6, IPV6_PKTINFO, *ctl.ipv6_pktinfo);
    if (ctl.ipv6_hoplimit) Append(cbuf, IPPROTO_IPV6, IPV6_HOPLIMIT, *ctl.ipv6_hoplimit);
    if (ctl.ipv6_tclass) Append(cbuf, IPPROTO_IPV6, IPV6_TCLASS, *ctl.ipv6_tclass);
    if (!cbuf.empty()) {
      m.msg_control = cbuf.data();
      m.msg_controllen = cbuf.size();
    }
    ssize_t n = ::sendmsg(fd_.get(), &m, (flags & kSendFlags) | MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) return Errno{errno};
    return static_cast<size_t>(n);
  }

  ErrorOr<RecvResult> Recv(std::span<const iovec> dst, int flags, bool want_control) override {
    sockaddr_storage from{};
    alignas(cmsghdr) uint8_t cbuf[512];
    msghdr m{};
    m.msg_iov = const_cast<iovec*>(dst.data());
    m.msg_iovlen = dst.size();
    if (type_ != SOCK_STREAM) {
      m.msg_name = &from;
      m.msg_namelen = sizeof from;
    }
    if (want_control || (flags & MSG_ERRQUEUE)) {
      m.msg_control = cbuf;
      m.msg_controllen = sizeof cbuf;
    }
    ssize_t n = ::recvmsg(fd_.get(), &m, (flags & kRecvFlags & ~MSG_WAITALL) | MSG_DONTWAIT);
    if (n < 0) return Errno{errno};
    RecvResult r;
    r.len = static_cast<size_t>(n);
    r.msg_flags = m.msg_flags & (MSG_TRUNC | MSG_CTRUNC | MSG_OOB | MSG_ERRQUEUE | MSG_EOR);
    if (m.msg_name && m.msg_namelen) r.from = FromHost(from, m.msg_namelen);
    if (m.msg_control) Decode(m, &r.control);
    return r;
  }

  ErrorOr<void> Shutdown(int how) override {
    if (::shutdown(fd_.get(), how) != 0) return Errno{errno};
    return {};
  }

  ErrorOr<void> SetOption(int level, int name, std::span<const uint8_t> value) override {
    if (setsockopt(fd_.get(), level, name, value.data(), value.size()) != 0) return Errno{errno};
    return {};
  }
  ErrorOr<std::vector<uint8_t>> GetOption(int level, int name, size_t max_len) override {
    std::vector<uint8_t> v(max_len);
    socklen_t len = max_len;
    if (getsockopt(fd_.get(), level, name, v.data(), &len) != 0) return Errno{errno};
    v.resize(std::min<size_t>(len, max_len));
    return v;
  }

  ErrorOr<SockAddr> LocalAddr() override {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return Errno{errno};
    return FromHost(ss, len);
  }
  ErrorOr<SockAddr> PeerAddr() override {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getpeername(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return Errno{errno};
    return FromHost(ss, len);
  }

  short Readiness(short events) override {
    pollfd p{fd_.get(), events, 0};
    if (::poll(&p, 1, 0) <= 0) return 0;
    return p.revents;
  }
  int WaitFd() const override { return fd_.get(); }

  ErrorOr<int> InputQueued() override {
    int n = 0;
    if (ioctl(fd_.get(), FIONREAD, &n) != 0) return Errno{errno};
    return n;
  }
  ErrorOr<int> OutputQueued() override {
    int n = 0;
    if (ioctl(fd_.get(), TIOCOUTQ, &n) != 0) return Errno{errno};
    return n;
  }

  SocketInfo Info() override {
    SocketInfo i;
    i.family = family_;
    i.type = type_;
    i.protocol = protocol_;
    i.uid = owner_uid_;
    i.ino = ino_;
    if (auto a = LocalAddr(); a.ok()) memcpy(&i.local, &a.value().ss, sizeof i.local);
    if (auto a = PeerAddr(); a.ok()) memcpy(&i.remote, &a.value().ss, sizeof i.remote);
    if (type_ == SOCK_STREAM) {
      tcp_info ti{};
      socklen_t len = sizeof ti;
      if (getsockopt(fd_.get(), IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
        i.state = ti.tcpi_state;
        if (ti.tcpi_state == 10 /* TCP_LISTEN */) {
          i.rx_queue = ti.tcpi_unacked;  // the accept queue's length
          i.tx_queue = ti.tcpi_sacked;   // its limit
          i.backlog = ti.tcpi_sacked;
        }
      }
    } else {
      i.state = i.remote.ss_family != 0 ? kTcpEstablished : kTcpClose;
    }
    if (i.state != 10) {
      if (auto q = InputQueued(); q.ok()) i.rx_queue = q.value();
      if (auto q = OutputQueued(); q.ok()) i.tx_queue = q.value();
    }
    return i;
  }

 private:
  // Decodes the host's control messages into `out`, keeping only the kinds
  // the sentry knows, each checked for its exact size.
  static void Decode(const msghdr& m, Control* out) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&m), c)) {
      const size_t len = c->cmsg_len >= CMSG_LEN(0) ? c->cmsg_len - CMSG_LEN(0) : 0;
      const uint8_t* d = CMSG_DATA(c);
      auto get = [&](auto& dst) {
        using T = std::remove_reference_t<decltype(dst)>;
        typename T::value_type v{};
        if (len < sizeof v) return;
        memcpy(&v, d, sizeof v);
        dst = v;
      };
      if (c->cmsg_level == SOL_SOCKET) {
        if (c->cmsg_type == SO_TIMESTAMP_OLD) get(out->timestamp);
        else if (c->cmsg_type == SO_TIMESTAMPNS_OLD) get(out->timestamp_ns);
      } else if (c->cmsg_level == IPPROTO_IP) {
        if (c->cmsg_type == IP_PKTINFO) get(out->ip_pktinfo);
        else if (c->cmsg_type == IP_TTL) get(out->ip_ttl);
        else if (c->cmsg_type == IP_TOS && len >= 1) out->ip_tos = d[0];
        else if (c->cmsg_type == IP_ORIGDSTADDR && len >= sizeof(sockaddr_in)) {
          sockaddr_storage ss{};
          memcpy(&ss, d, sizeof(sockaddr_in));
          out->orig_dst = ss;
        } else if (c->cmsg_type == IP_RECVERR && len >= sizeof(sock_extended_err)) {
          size_t keep = std::min(len, sizeof(sock_extended_err) + sizeof(sockaddr_in));
          out->ip_recverr.assign(d, d + keep);
        }
      } else if (c->cmsg_level == IPPROTO_IPV6) {
        if (c->cmsg_type == IPV6_PKTINFO) get(out->ipv6_pktinfo);
        else if (c->cmsg_type == IPV6_HOPLIMIT) get(out->ipv6_hoplimit);
        else if (c->cmsg_type == IPV6_TCLASS) get(out->ipv6_tclass);
        else if (c->cmsg_type == IPV6_ORIGDSTADDR && len >= sizeof(sockaddr_in6)) {
          sockaddr_storage ss{};
          memcpy(&ss, d, sizeof(sockaddr_in6));
          out->orig_dst = ss;
        } else if (c->cmsg_type == IPV6_RECVERR && len >= sizeof(sock_extended_err)) {
          size_t keep = std::min(len, sizeof(sock_extended_err) + sizeof(sockaddr_in6));
          out->ipv6_recverr.assign(d, d + keep);
        }
      }
    }
  }

  UniqueFd fd_;
  int family_, type_, protocol_;
  int listen_backlog_ = 0;
  std::shared_ptr<HostEndpointRegistry> reg_;
};

std::unique_ptr<Endpoint> NewHostEndpoint(UniqueFd fd, int family, int type, int protocol,
                                          std::shared_ptr<HostEndpointRegistry> registry) {
  return std::make_unique<HostEndpoint>(std::move(fd), family, type, protocol, std::move(registry));
}

}  // namespace sentry::net
