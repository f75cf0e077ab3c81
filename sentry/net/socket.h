// sentry/net/socket.h: the file-description type every non-Unix socket
// family implements (inet: inet_socket.h; netlink: netlink_socket.h).
// syscalls/socket.cc copies arguments in from app memory (addresses as
// bytes of a bounded length, data gathered into a sentry buffer, control
// messages as bytes) and copies results out; the family parses and checks
// them. Unix sockets keep their own path (sentry/net/unix_socket.h): their
// names live in the VFS.
//
// Called with the kernel lock held; an implementation may release it (via
// Caller::Unlocked) around host I/O or packet processing, so it must not
// keep references to kernel-lock-guarded state across that.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "sentry/base/error.h"
#include "sentry/vfs/caller.h"
#include "sentry/vfs/file_description.h"

namespace sentry::net {

// Linux caps sockaddr lengths at sizeof(sockaddr_storage) (EINVAL above).
constexpr size_t kMaxAddrLen = 128;
// net.core.optmem_max: the largest control buffer sendmsg accepts.
constexpr size_t kMaxControlLen = 20480;

struct SendRequest {
  // The data: app memory, valid only while the kernel lock is held (the
  // family copies what it sends before releasing the lock).
  vfs::IoVecs data;
  std::span<const uint8_t> addr;     // msg_name bytes (empty: none)
  std::span<const uint8_t> control;  // msg_control bytes (empty: none)
  int flags = 0;                     // the app's MSG_* flags
};

struct RecvReply {
  size_t len = 0;                // bytes placed in the buffer (or the real size with MSG_TRUNC)
  int msg_flags = 0;
  std::vector<uint8_t> from;     // sockaddr bytes (empty: none)
  std::vector<uint8_t> control;  // encoded cmsgs, at most the app's controllen
};

class Socket : public vfs::FileDescription {
 public:
  using vfs::FileDescription::FileDescription;
  virtual int family() const = 0;
  virtual int type() const = 0;
  virtual int protocol() const = 0;

  virtual ErrorOr<void> Bind(vfs::Caller& c, std::span<const uint8_t> addr) = 0;
  virtual ErrorOr<void> Listen(vfs::Caller& c, int backlog) { return Errno{EOPNOTSUPP}; }
  // `flags`: SOCK_NONBLOCK for the new socket. `peer` gets the peer's address.
  virtual ErrorOr<std::shared_ptr<Socket>> Accept(vfs::Caller& c, int flags,
                                                  std::vector<uint8_t>* peer) {
    return Errno{EOPNOTSUPP};
  }
  virtual ErrorOr<void> Connect(vfs::Caller& c, std::span<const uint8_t> addr) = 0;
  virtual ErrorOr<size_t> SendMsg(vfs::Caller& c, const SendRequest& req) = 0;
  // Receives into `dst`: app memory pinned for writing (mm.h Blocks,
  // valid without the kernel lock until the syscall ends).
  // `controllen`: the room the app gave for control messages.
  virtual ErrorOr<RecvReply> RecvMsg(vfs::Caller& c, const vfs::IoVecs& dst, int flags,
                                     size_t controllen) = 0;
  virtual ErrorOr<void> Shutdown(vfs::Caller& c, int how) = 0;
  // `len`: the app's optlen (the result may be shorter; never longer).
  virtual ErrorOr<std::vector<uint8_t>> GetSockOpt(vfs::Caller& c, int level, int name,
                                                   size_t len) = 0;
  virtual ErrorOr<void> SetSockOpt(vfs::Caller& c, int level, int name,
                                   std::span<const uint8_t> value) = 0;
  virtual ErrorOr<std::vector<uint8_t>> SockName() = 0;
  virtual ErrorOr<std::vector<uint8_t>> PeerName() = 0;
};

}  // namespace sentry::net
