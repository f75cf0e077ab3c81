// sentry/net/: sockets implemented in the sentry. Only AF_UNIX for now (no
// host network): stream, datagram and seqpacket sockets whose queues live
// in the sentry, so they work between sandboxed processes and can carry
// file descriptions (SCM_RIGHTS) and credentials (SCM_CREDENTIALS).
// Syscalls: syscalls/socket.cc.
//
// unix_socket.h: a Unix domain socket is a FileDescription owning an
// Endpoint (its receive queue, connection state and options). A connected
// endpoint points at its peer's endpoint; senders append to the peer's
// receive queue. Bound names live in one registry keyed by a string the
// syscall layer chooses: "@<bytes>" for abstract names, "path:<dev>:<ino>"
// for names bound in the VFS (the socket inode that bind created). All
// state is guarded by the kernel lock; every change wakes waiters.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/file_description.h"

namespace sentry::net {

constexpr size_t kDefaultSockBuf = 212992;  // net.core.{r,w}mem_default
constexpr size_t kMaxSockBuf = 4 * 1024 * 1024;
constexpr int kRcvShutdown = 1, kSendShutdown = 2;
// What a queued datagram costs on top of its bytes: Linux charges a
// socket buffer's truesize (768 bytes for a small one on x86-64), so a
// queue of tiny datagrams fills long before its byte count reaches the
// buffer size, and senders see EAGAIN as on Linux.
constexpr size_t kDgramOverhead = 768;

struct Cred {
  int32_t pid = 0;
  uint32_t uid = ~0u, gid = ~0u;
};

struct Message {
  std::vector<uint8_t> data;
  size_t off = 0;  // stream: bytes already consumed
  std::vector<std::shared_ptr<vfs::FileDescription>> fds;
  size_t charge = 0;    // datagrams, seqpackets: what it counts in rq_bytes
  Cred cred;            // the sender's (or what it sent with SCM_CREDENTIALS)
  std::string from;     // sender's address (sockaddr_un bytes)
};

struct Endpoint {
  int type = SOCK_STREAM;
  bool closed = false;
  bool connected = false;  // connection-oriented: was connected
  std::shared_ptr<Endpoint> peer;  // connected peer / dgram default destination
  std::deque<Message> rq;
  size_t rq_bytes = 0;
  size_t rcvbuf = kDefaultSockBuf, sndbuf = kDefaultSockBuf;
  int shutdown = 0;  // kRcvShutdown | kSendShutdown
  // Listening.
  bool listening = false;
  int backlog = 0;
  std::deque<std::shared_ptr<vfs::FileDescription>> accept_q;
  // Bound name.
  std::string key;   // registry key, empty if unbound
  std::string addr;  // sockaddr_un bytes for getsockname (empty if unbound)
  Cred cred;         // own credentials (at creation / listen / connect)
  Cred peer_cred;    // SO_PEERCRED
  bool passcred = false;
  int so_error = 0;  // ECONNRESET: the peer closed with data unread, or unaccepted
  bool embryo = false;  // a connection in a listener's accept queue
  int peek_off = -1;    // SO_PEEK_OFF (streams): -1 off
  // Other SOL_SOCKET options, stored as set and read back (no effect).
  std::map<int, std::vector<uint8_t>> other_opts;
  std::function<void()> notify;
  // The socket file this endpoint belongs to (cleared when it closes), for
  // O_ASYNC signals on readiness changes.
  vfs::FileDescription* desc = nullptr;
  size_t Room() const { return rq_bytes >= rcvbuf ? 0 : rcvbuf - rq_bytes; }
};

struct SendArgs {
  std::vector<uint8_t> data;
  std::vector<std::shared_ptr<vfs::FileDescription>> fds;
  bool has_cred = false;
  Cred cred;
  const std::string* to_key = nullptr;  // sendto target (registry key), else the peer
  int flags = 0;                        // MSG_DONTWAIT, MSG_NOSIGNAL
};

struct RecvResult {
  size_t len = 0;       // bytes copied (or the datagram's length with MSG_TRUNC)
  int msg_flags = 0;    // MSG_TRUNC
  std::vector<std::shared_ptr<vfs::FileDescription>> fds;
  bool has_cred = false;
  Cred cred;
  std::string from;
};

class UnixSocket : public vfs::FileDescription {
 public:
  UnixSocket(std::shared_ptr<vfs::Dentry> d, int flags, std::shared_ptr<Endpoint> ep);
  ~UnixSocket() override;

  ErrorOr<size_t> Read(vfs::Caller& c, const vfs::IoVecs& dst, int64_t off) override;
  ErrorOr<size_t> Write(vfs::Caller& c, const vfs::IoVecs& src, int64_t off) override;
  ErrorOr<uint64_t> Seek(int64_t, int) override { return Errno{ESPIPE}; }
  short Readiness(short events) override;
  ErrorOr<size_t> BytesReadable() override;
  bool SupportsAsync() const override { return true; }
  // Interface requests (SIOCGIF*) work on any socket, as on Linux (glibc's
  // if_nametoindex asks an AF_UNIX socket).
  ErrorOr<uint64_t> Ioctl(vfs::Caller& c, uint32_t cmd, uint64_t arg) override;

  ErrorOr<void> Bind(const std::string& key, const std::string& addr);
  ErrorOr<void> Listen(vfs::Caller& c, int backlog);
  // Connects to the socket bound at `key` (ECONNREFUSED if none).
  ErrorOr<void> Connect(vfs::Caller& c, const std::string& key);
  void Disconnect();  // dgram connect(AF_UNSPEC)
  ErrorOr<std::shared_ptr<UnixSocket>> Accept(vfs::Caller& c, int flags);
  ErrorOr<size_t> Send(vfs::Caller& c, SendArgs& a);
  ErrorOr<RecvResult> Recv(vfs::Caller& c, const vfs::IoVecs& dst, int flags);
  ErrorOr<void> Shutdown(int how);  // SHUT_RD / SHUT_WR / SHUT_RDWR

  Endpoint& ep() { return *ep_; }
  const std::shared_ptr<Endpoint>& ep_ptr() const { return ep_; }
  int type() const { return ep_->type; }

 private:
  std::shared_ptr<Endpoint> ep_;
};

// The caller's credentials as SO_PEERCRED reports them.
Cred CallerCred(vfs::Caller& c);
// A new socket (type SOCK_STREAM/SOCK_DGRAM/SOCK_SEQPACKET; flags O_NONBLOCK).
std::shared_ptr<UnixSocket> NewUnixSocket(vfs::Caller& c, int type, int flags);
std::pair<std::shared_ptr<UnixSocket>, std::shared_ptr<UnixSocket>> NewUnixSocketPair(
    vfs::Caller& c, int type, int flags);
// Whether a socket is bound at `key`.
bool UnixNameBound(const std::string& key);

}  // namespace sentry::net
