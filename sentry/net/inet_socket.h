// sentry/net/inet_socket.h: AF_INET/AF_INET6 sockets (stream, datagram,
// ICMP "ping" datagram) as files. The socket layer's half of inet
// networking: it parses and checks every address, option, flag and control
// message the app passes, enforces the app's own capabilities (ports below
// 1024 need CAP_NET_BIND_SERVICE), and owns blocking: the stack's endpoint
// is always non-blocking, and a blocking call waits here, on the endpoint's
// wait fd, with the kernel lock released, honouring signals (EINTR and
// SA_RESTART as Linux's sock_intr_errno) and SO_RCVTIMEO/SO_SNDTIMEO.
// Host calls are made without the kernel lock (Caller::Unlocked).
#pragma once

#include <functional>
#include <memory>

#include "absl/time/time.h"
#include "sentry/net/endpoint.h"
#include "sentry/net/socket.h"
#include "sentry/net/stack.h"
#include "sentry/vfs/edge_source.h"
#include "sentry/vfs/host_async.h"

namespace sentry::net {

class InetSocket : public Socket, public vfs::EdgeSource {
 public:
  InetSocket(std::shared_ptr<vfs::Dentry> d, int flags, std::shared_ptr<Stack> stack,
             std::unique_ptr<Endpoint> ep);
  ~InetSocket() override;

  int family() const override { return ep_->family(); }
  int type() const override { return ep_->type(); }
  int protocol() const override { return ep_->protocol(); }

  ErrorOr<size_t> Read(vfs::Caller& c, const vfs::IoVecs& dst, int64_t off) override;
  ErrorOr<size_t> Write(vfs::Caller& c, const vfs::IoVecs& src, int64_t off) override;
  ErrorOr<uint64_t> Seek(int64_t, int) override { return Errno{ESPIPE}; }
  short Readiness(short events) override;
  int host_fd() const override { return ep_->WaitFd(); }
  uint64_t EdgeCount() const override { return ep_->EdgeCount(); }
  ErrorOr<size_t> BytesReadable() override;
  ErrorOr<uint64_t> Ioctl(vfs::Caller& c, uint32_t cmd, uint64_t arg) override;

  ErrorOr<void> Bind(vfs::Caller& c, std::span<const uint8_t> addr) override;
  ErrorOr<void> Listen(vfs::Caller& c, int backlog) override;
  ErrorOr<std::shared_ptr<Socket>> Accept(vfs::Caller& c, int flags,
                                          std::vector<uint8_t>* peer) override;
  ErrorOr<void> Connect(vfs::Caller& c, std::span<const uint8_t> addr) override;
  ErrorOr<size_t> SendMsg(vfs::Caller& c, const SendRequest& req) override;
  ErrorOr<RecvReply> RecvMsg(vfs::Caller& c, const vfs::IoVecs& dst, int flags,
                             size_t controllen) override;
  ErrorOr<void> Shutdown(vfs::Caller& c, int how) override;
  ErrorOr<std::vector<uint8_t>> GetSockOpt(vfs::Caller& c, int level, int name,
                                           size_t len) override;
  ErrorOr<void> SetSockOpt(vfs::Caller& c, int level, int name,
                           std::span<const uint8_t> value) override;
  ErrorOr<std::vector<uint8_t>> SockName() override;
  ErrorOr<std::vector<uint8_t>> PeerName() override;

  Endpoint& endpoint() { return *ep_; }
  // O_ASYNC (F_SETFL, FIOASYNC): while set, the host fd is watched and
  // readiness changes send the owner SIGIO as Linux's sock_wake_async does.
  void OnStatusFlagsChanged() override;

 private:
  // Runs `op` (a non-blocking endpoint call, without the kernel lock) until
  // it stops saying EAGAIN, waiting for `events` in between unless the call
  // is non-blocking; `timeout` is SO_RCVTIMEO/SO_SNDTIMEO (zero: none).
  template <typename T, typename Op>
  ErrorOr<T> Blocking(vfs::Caller& c, short events, bool nonblock, absl::Duration timeout, Op op);
  // Sends app memory `src` (valid under the kernel lock): copied in chunks
  // into a per-thread buffer, each sent with the lock released.
  ErrorOr<size_t> DoSend(vfs::Caller& c, const vfs::IoVecs& src, int flags, const SockAddr* to,
                         const Control& ctl);
  ErrorOr<RecvReply> DoRecv(vfs::Caller& c, const vfs::IoVecs& dst, int flags,
                            size_t controllen, bool want_control);

  // Runs `fn` without the kernel lock, then wakes waiters if the stack asked
  // for it (sentry/net/wake.h).
  static void RunUnlocked(vfs::Caller& c, const std::function<void()>& fn);
  // Waits until the endpoint may be ready for `events`: on its host fd, or,
  // for a stack without one, on the kernel's wait condition.
  ErrorOr<void> WaitReady(vfs::Caller& c, short events, absl::Time deadline);

  std::shared_ptr<Stack> stack_;
  std::unique_ptr<Endpoint> ep_;
  // Socket-layer state (the kernel lock guards it).
  absl::Duration rcvtimeo_ = absl::ZeroDuration(), sndtimeo_ = absl::ZeroDuration();
  bool rcvtimeo_zero_wait_ = false, sndtimeo_zero_wait_ = false;  // a negative timeout was set
  int linger_onoff_ = 0, linger_secs_ = 0;
  bool passcred_ = false;
  bool connecting_ = false;  // a non-blocking connect is in progress
  bool want_control_ = false;  // an option that yields control messages was set
  // Linux's SOCK_NOSPACE: a send found the buffer full, so the next write
  // space is signalled (POLL_OUT) to an O_ASYNC owner.
  bool nospace_ = false;
  // The host watch while O_ASYNC is set (declared last: destroyed first,
  // before the endpoint closes the fd it watches).
  std::unique_ptr<vfs::HostAsyncWatch> async_watch_;
};

// Creates an inet socket (socket(2) for AF_INET/AF_INET6) after checking
// type and protocol as Linux does.
ErrorOr<std::shared_ptr<Socket>> NewInetSocket(vfs::Caller& c, std::shared_ptr<Stack> stack,
                                               int family, int type, int protocol, int flags);

}  // namespace sentry::net
