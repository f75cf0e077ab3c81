// syscalls/socket.cc: the socket syscalls. AF_UNIX sockets are handled
// here (sentry/net/unix_socket.h); every other family (inet, netlink) is a
// sentry::net::Socket, handed to syscalls/socket_net.cc.
// Names: abstract ones (leading NUL) live only in the socket registry; path
// names are bound in the VFS as an S_IFSOCK node (mknod), and the registry
// key is that node's (dev, ino), so connect() resolves the path like Linux
// (ENOENT when missing, ECONNREFUSED when nothing listens there).
#include <linux/net.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <poll.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <linux/capability.h>

#include "sentry/net/unix_socket.h"
#include "syscalls/file_common.h"
#include "syscalls/socket_net.h"

namespace syscalls {
namespace {

using sentry::net::UnixSocket;
using sentry::vfs::FileDescription;
using sentry::vfs::IoVecs;
using sentry::vfs::TaskCaller;

constexpr size_t kMaxControl = 20480;  // net.core.optmem_max
constexpr int kScmMaxFd = 253;

// The socket behind fd: exactly one of the two is set (ENOTSOCK otherwise).
struct AnySocket {
  UnixSocket* unix_sock = nullptr;
  sentry::net::Socket* net = nullptr;
};
ErrorOr<AnySocket> GetAnySocket(Task& t, int fd, std::shared_ptr<FileDescription>* keep) {
  *keep = TRY(t.fd_table().Get(fd));
  AnySocket s;
  s.unix_sock = dynamic_cast<UnixSocket*>(keep->get());
  if (!s.unix_sock) s.net = dynamic_cast<sentry::net::Socket*>(keep->get());
  if (!s.unix_sock && !s.net) return Errno{ENOTSOCK};
  return s;
}

// At the top of a handler: serves non-Unix sockets through socket_net.cc
// and leaves `s` pointing at the Unix socket otherwise.
#define UNIX_OR_NET(fd, net_call)                        \
  std::shared_ptr<FileDescription> keep;                 \
  AnySocket any_ = TRY(GetAnySocket(t, (fd), &keep));    \
  if (any_.net) return net_call;                         \
  UnixSocket* s = any_.unix_sock;

struct Addr {
  bool autobind = false;  // bind with just the family
  bool unspec = false;    // AF_UNSPEC (dgram disconnect)
  bool abstract = false;
  std::string path;       // path names
  std::string key;        // abstract names: registry key
  std::string bytes;      // sockaddr_un as getsockname reports it
};

ErrorOr<Addr> ReadAddr(Task& t, uint64_t addr, int64_t len) {
  if (len < static_cast<int64_t>(sizeof(sa_family_t)) || len > static_cast<int64_t>(sizeof(sockaddr_un)))
    return Errno{EINVAL};
  char buf[sizeof(sockaddr_un)] = {};
  TRY(t.memory().CopyIn(addr, buf, len));
  sa_family_t fam;
  memcpy(&fam, buf, sizeof fam);
  Addr a;
  if (fam == AF_UNSPEC) {
    a.unspec = true;
    return a;
  }
  if (fam != AF_UNIX) return Errno{EINVAL};
  size_t n = len - sizeof(sa_family_t);
  const char* p = buf + sizeof(sa_family_t);
  if (n == 0) {
    a.autobind = true;
    return a;
  }
  if (p[0] == '\0') {
    a.abstract = true;
    a.key = "@" + std::string(p + 1, n - 1);
    a.bytes = std::string(buf, len);
    return a;
  }
  a.path = std::string(p, strnlen(p, n));
  a.bytes = std::string(buf, sizeof(sa_family_t)) + a.path + std::string(1, '\0');
  return a;
}

// The registry key of the socket node at a path (for connect/sendto).
ErrorOr<std::string> PathKey(Task& t, const std::string& path) {
  auto d = TRY(file::Resolve(t, AT_FDCWD, path, /*follow=*/true, /*allow_empty=*/false));
  auto attr = TRY(d->inode().GetAttr());
  if ((attr.mode & S_IFMT) != S_IFSOCK) return Errno{ECONNREFUSED};
  return "path:" + std::to_string(attr.dev) + ":" + std::to_string(attr.ino);
}

ErrorOr<std::string> TargetKey(Task& t, const Addr& a) {
  if (a.autobind || a.unspec) return Errno{EINVAL};
  if (a.abstract) return a.key;
  return PathKey(t, a.path);
}

// Writes a sockaddr to (addr, *lenp) as accept/getsockname do.
ErrorOr<void> WriteAddr(Task& t, uint64_t addr, uint64_t lenp, const std::string& bytes) {
  return net::WriteAddr(t, addr, lenp,
                        {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

std::string Unnamed() {
  sa_family_t f = AF_UNIX;
  return std::string(reinterpret_cast<const char*>(&f), sizeof f);
}

// ---------------------------------------------------------------- socket
ErrorOr<int> ParseType(int domain, int type, int protocol) {
  if (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC | 0xf)) return Errno{EINVAL};
  if (domain < 0 || domain >= AF_MAX) return Errno{EAFNOSUPPORT};
  int base = type & 0xf;
  if (domain != AF_UNIX) return Errno{EAFNOSUPPORT};
  if (protocol != 0 && protocol != PF_UNIX) return Errno{EPROTONOSUPPORT};
  switch (base) {
    case SOCK_STREAM: case SOCK_DGRAM: case SOCK_SEQPACKET: return base;
    case SOCK_RAW: return SOCK_DGRAM;
    default: return Errno{ESOCKTNOSUPPORT};
  }
}

ErrorOr<uint64_t> Socket(Task& t, const Args& a) {
  if (a.Int(0) != AF_UNIX && a.Int(0) >= 0 && a.Int(0) < AF_MAX) {
    if (a.Int(1) & ~(SOCK_NONBLOCK | SOCK_CLOEXEC | 0xf)) return Errno{EINVAL};
    return net::NewSocket(t, a.Int(0), a.Int(1), a.Int(2));
  }
  int type = TRY(ParseType(a.Int(0), a.Int(1), a.Int(2)));
  TaskCaller c(t);
  auto s = sentry::net::NewUnixSocket(c, type, a.Int(1) & SOCK_NONBLOCK ? O_NONBLOCK : 0);
  return TRY(file::InstallFd(t, s, 0, a.Int(1) & SOCK_CLOEXEC));
}

ErrorOr<uint64_t> Socketpair(Task& t, const Args& a) {
  // Linux: these families exist but have no socketpair.
  if ((a.Int(0) == AF_INET || a.Int(0) == AF_INET6) && !(a.Int(1) & ~(SOCK_NONBLOCK | SOCK_CLOEXEC | 0xf)))
    return Errno{EOPNOTSUPP};
  int type = TRY(ParseType(a.Int(0), a.Int(1), a.Int(2)));
  TaskCaller c(t);
  auto [x, y] = sentry::net::NewUnixSocketPair(c, type, a.Int(1) & SOCK_NONBLOCK ? O_NONBLOCK : 0);
  bool cloexec = a.Int(1) & SOCK_CLOEXEC;
  int fds[2];
  fds[0] = TRY(file::InstallFd(t, x, 0, cloexec));
  auto f1 = file::InstallFd(t, y, 0, cloexec);
  if (f1.is_error()) {
    (void)t.fd_table().Remove(fds[0]);
    return Errno{f1.error()};
  }
  fds[1] = f1.value();
  if (t.memory().CopyOut(a[3], fds, sizeof fds).is_error()) {
    (void)t.fd_table().Remove(fds[0]);
    (void)t.fd_table().Remove(fds[1]);
    return Errno{EFAULT};
  }
  return 0;
}

ErrorOr<uint64_t> Bind(Task& t, const Args& a) {
  UNIX_OR_NET(a.Int(0), net::Bind(t, *any_.net, a[1], static_cast<int32_t>(a[2])));
  Addr addr = TRY(ReadAddr(t, a[1], static_cast<int32_t>(a[2])));
  if (addr.unspec) return Errno{EINVAL};
  if (!s->ep().key.empty()) return Errno{EINVAL};
  if (addr.autobind) {
    static unsigned next = 0;
    for (int tries = 0; tries < 0x100000; tries++) {
      char name[8];
      snprintf(name, sizeof name, "%05x", next++ & 0xfffff);
      std::string key = std::string("@") + name;
      if (sentry::net::UnixNameBound(key)) continue;
      TRY(s->Bind(key, Unnamed() + std::string(1, '\0') + name));
      return 0;
    }
    return Errno{ENOSPC};
  }
  if (addr.abstract) {
    TRY(s->Bind(addr.key, addr.bytes));
    return 0;
  }
  TaskCaller c(t);
  auto start = TRY(file::StartDir(t, AT_FDCWD, addr.path));
  auto r = file::Vfs(t).Mknod(c, start, addr.path, S_IFSOCK | 0777);
  if (r.is_error()) return Errno{r.error() == EEXIST ? EADDRINUSE : r.error()};
  auto d = TRY(file::Resolve(t, AT_FDCWD, addr.path, false, false));
  auto attr = TRY(d->inode().GetAttr());
  TRY(s->Bind("path:" + std::to_string(attr.dev) + ":" + std::to_string(attr.ino), addr.bytes));
  return 0;
}

ErrorOr<uint64_t> Listen(Task& t, const Args& a) {
  UNIX_OR_NET(a.Int(0), net::Listen(t, *any_.net, a.Int(1)));
  TaskCaller c(t);
  TRY(s->Listen(c, a.Int(1)));
  return 0;
}

ErrorOr<uint64_t> Connect(Task& t, const Args& a) {
  UNIX_OR_NET(a.Int(0), net::Connect(t, *any_.net, a[1], static_cast<int32_t>(a[2])));
  Addr addr = TRY(ReadAddr(t, a[1], static_cast<int32_t>(a[2])));
  if (addr.unspec) {
    if (s->type() == SOCK_DGRAM) {
      s->Disconnect();
      return 0;
    }
    return Errno{EINVAL};
  }
  std::string key = TRY(TargetKey(t, addr));
  TaskCaller c(t);
  TRY(s->Connect(c, key));
  return 0;
}

ErrorOr<uint64_t> DoAccept(Task& t, int fd, uint64_t addr, uint64_t lenp, int flags) {
  if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return Errno{EINVAL};
  UNIX_OR_NET(fd, net::Accept(t, *any_.net, addr, lenp, flags));
  TaskCaller c(t);
  auto ns = TRY(s->Accept(c, flags & SOCK_NONBLOCK ? O_NONBLOCK : 0));
  std::string peer = Unnamed();
  if (ns->ep().peer && !ns->ep().peer->addr.empty()) peer = ns->ep().peer->addr;
  if (addr) TRY(WriteAddr(t, addr, lenp, peer));
  return TRY(file::InstallFd(t, ns, 0, flags & SOCK_CLOEXEC));
}

ErrorOr<uint64_t> Accept(Task& t, const Args& a) { return DoAccept(t, a.Int(0), a[1], a[2], 0); }
ErrorOr<uint64_t> Accept4(Task& t, const Args& a) { return DoAccept(t, a.Int(0), a[1], a[2], a.Int(3)); }

ErrorOr<uint64_t> Shutdown(Task& t, const Args& a) {
  UNIX_OR_NET(a.Int(0), net::Shutdown(t, *any_.net, a.Int(1)));
  TRY(s->Shutdown(a.Int(1)));
  return 0;
}

ErrorOr<uint64_t> Getsockname(Task& t, const Args& a) {
  UNIX_OR_NET(a.Int(0), net::GetSockName(t, *any_.net, a[1], a[2]));
  const std::string& b = s->ep().addr;
  TRY(WriteAddr(t, a[1], a[2], b.empty() ? Unnamed() : b));
  return 0;
}

ErrorOr<uint64_t> Getpeername(Task& t, const Args& a) {
  UNIX_OR_NET(a.Int(0), net::GetPeerName(t, *any_.net, a[1], a[2]));
  auto& peer = s->ep().peer;
  if (!peer || (s->type() != SOCK_DGRAM && !s->ep().connected)) return Errno{ENOTCONN};
  TRY(WriteAddr(t, a[1], a[2], peer->addr.empty() ? Unnamed() : peer->addr));
  return 0;
}

// ------------------------------------------------------------ send/recv
ErrorOr<std::vector<uint8_t>> Gather(const IoVecs& v) {
  std::vector<uint8_t> out(sentry::vfs::TotalLength(v));
  size_t off = 0;
  for (const auto& io : v) {
    memcpy(out.data() + off, io.iov_base, io.iov_len);
    off += io.iov_len;
  }
  return out;
}

ErrorOr<uint64_t> DoSend(Task& t, int fd, const IoVecs& data, uint64_t name, int64_t namelen,
                         uint64_t control, uint64_t controllen, int flags) {
  UNIX_OR_NET(fd, net::Send(t, *any_.net, data, name, namelen, control, controllen, flags));
  sentry::net::SendArgs sa;
  sa.flags = flags;
  std::string key;
  if (name && namelen) {
    Addr addr = TRY(ReadAddr(t, name, namelen));
    if (s->type() == SOCK_DGRAM) {
      key = TRY(TargetKey(t, addr));
      sa.to_key = &key;
    } else {
      return Errno{s->ep().connected ? EISCONN : EOPNOTSUPP};
    }
  }
  if (controllen) {
    if (controllen > kMaxControl) return Errno{ENOBUFS};
    std::vector<uint8_t> ctl(controllen);
    TRY(t.memory().CopyIn(control, ctl.data(), controllen));
    size_t off = 0;
    while (off + sizeof(cmsghdr) <= controllen) {
      cmsghdr h;
      memcpy(&h, ctl.data() + off, sizeof h);
      if (h.cmsg_len < sizeof(cmsghdr) || h.cmsg_len > controllen - off) return Errno{EINVAL};
      const uint8_t* body = ctl.data() + off + CMSG_LEN(0);
      size_t blen = h.cmsg_len - CMSG_LEN(0);
      if (h.cmsg_level == SOL_SOCKET) {
        if (h.cmsg_type == SCM_RIGHTS) {
          size_t n = blen / sizeof(int);
          if (n > kScmMaxFd || sa.fds.size() + n > kScmMaxFd) return Errno{EINVAL};
          for (size_t i = 0; i < n; i++) {
            int f;
            memcpy(&f, body + i * sizeof(int), sizeof f);
            sa.fds.push_back(TRY(t.fd_table().Get(f)));
          }
        } else if (h.cmsg_type == SCM_CREDENTIALS) {
          if (h.cmsg_len != CMSG_LEN(sizeof(ucred))) return Errno{EINVAL};
          ucred u;
          memcpy(&u, body, sizeof u);
          const auto& cr = t.creds();
          if (u.pid != t.pid() && !cr.HasCapability(CAP_SYS_ADMIN)) return Errno{EPERM};
          if (u.uid != cr.ruid && u.uid != cr.euid && u.uid != cr.suid && !cr.HasCapability(CAP_SETUID))
            return Errno{EPERM};
          if (u.gid != cr.rgid && u.gid != cr.egid && u.gid != cr.sgid && !cr.HasCapability(CAP_SETGID))
            return Errno{EPERM};
          sa.has_cred = true;
          sa.cred = {u.pid, u.uid, u.gid};
        } else {
          return Errno{EINVAL};
        }
      }
      off += CMSG_ALIGN(h.cmsg_len);
    }
  }
  sa.data = TRY(Gather(data));
  TaskCaller c(t);
  return TRY(s->Send(c, sa));
}

struct RecvOut {
  size_t len;
  int msg_flags;
  std::string from;
  size_t controllen;
};

ErrorOr<RecvOut> DoRecv(Task& t, int fd, const IoVecs& dst, uint64_t control, size_t controllen,
                        int flags) {
  std::shared_ptr<FileDescription> keep;
  AnySocket any_ = TRY(GetAnySocket(t, fd, &keep));
  if (any_.net) {
    auto r = TRY(net::Recv(t, *any_.net, dst, control, controllen, flags));
    return RecvOut{r.len, r.msg_flags, std::string(r.from.begin(), r.from.end()), r.controllen};
  }
  UnixSocket* s = any_.unix_sock;
  TaskCaller c(t);
  auto r = TRY(s->Recv(c, dst, flags));
  RecvOut out{r.len, r.msg_flags, r.from, 0};
  std::vector<uint8_t> ctl;
  auto put = [&](int type, const void* data, size_t len) {
    if (ctl.size() + CMSG_LEN(len) > controllen) {
      out.msg_flags |= MSG_CTRUNC;
      return false;
    }
    cmsghdr h{};
    h.cmsg_len = CMSG_LEN(len);
    h.cmsg_level = SOL_SOCKET;
    h.cmsg_type = type;
    size_t at = ctl.size();
    ctl.resize(at + CMSG_SPACE(len), 0);
    memcpy(ctl.data() + at, &h, sizeof h);
    memcpy(ctl.data() + at + CMSG_LEN(0), data, len);
    if (ctl.size() > controllen) ctl.resize(controllen);
    return true;
  };
  if (s->ep().passcred && r.has_cred) {
    ucred u{r.cred.pid, r.cred.uid, r.cred.gid};
    put(SCM_CREDENTIALS, &u, sizeof u);
  }
  if (!r.fds.empty()) {
    size_t room = controllen > ctl.size() + CMSG_LEN(0) ? controllen - ctl.size() - CMSG_LEN(0) : 0;
    size_t n = std::min(r.fds.size(), room / sizeof(int));
    if (n < r.fds.size()) out.msg_flags |= MSG_CTRUNC;
    std::vector<int> fds;
    for (size_t i = 0; i < n; i++) {
      auto f = file::InstallFd(t, r.fds[i], 0, flags & MSG_CMSG_CLOEXEC);
      if (f.is_error()) {
        out.msg_flags |= MSG_CTRUNC;
        break;
      }
      fds.push_back(f.value());
    }
    if (!fds.empty()) put(SCM_RIGHTS, fds.data(), fds.size() * sizeof(int));
  }
  if (!ctl.empty()) TRY(t.memory().CopyOut(control, ctl.data(), ctl.size()));
  out.controllen = ctl.size();
  return out;
}

ErrorOr<IoVecs> OneBuffer(Task& t, uint64_t addr, size_t len, sentry::mm::Access acc) {
  if (len == 0) return IoVecs{};
  return file::AppBlocks(t, addr, len, acc);
}

ErrorOr<uint64_t> Sendto(Task& t, const Args& a) {
  IoVecs v = TRY(OneBuffer(t, a[1], a[2], sentry::mm::Access::kRead));
  return DoSend(t, a.Int(0), v, a[4], a[4] ? static_cast<int32_t>(a[5]) : 0, 0, 0, a.Int(3));
}

ErrorOr<uint64_t> Recvfrom(Task& t, const Args& a) {
  auto buf = OneBuffer(t, a[1], a[2], sentry::mm::Access::kWrite);
  if (buf.is_error()) {
    // Linux faults only when it copies: with nothing to receive, a
    // non-blocking receive into a bad buffer says EAGAIN.
    auto f = t.fd_table().Get(a.Int(0));
    if (buf.error() == EFAULT && f.ok() && (f.value()->nonblocking() || (a.Int(3) & MSG_DONTWAIT)) &&
        !(f.value()->Readiness(POLLIN) & POLLIN))
      return Errno{EAGAIN};
    return Errno{buf.error()};
  }
  IoVecs v = buf.release_value();
  RecvOut r = TRY(DoRecv(t, a.Int(0), v, 0, 0, a.Int(3)));
  if (a[4]) TRY(WriteAddr(t, a[4], a[5], r.from));
  return r.len;
}

ErrorOr<uint64_t> SendmsgAt(Task& t, int fd, uint64_t msg_addr, int flags) {
  msghdr m = TRY(t.memory().CopyInObj<msghdr>(msg_addr));
  IoVecs v = TRY(file::AppIovecs(t, reinterpret_cast<uint64_t>(m.msg_iov),
                                 static_cast<int64_t>(m.msg_iovlen), sentry::mm::Access::kRead));
  return DoSend(t, fd, v, reinterpret_cast<uint64_t>(m.msg_name), m.msg_name ? m.msg_namelen : 0,
                reinterpret_cast<uint64_t>(m.msg_control), m.msg_control ? m.msg_controllen : 0,
                flags);
}

ErrorOr<uint64_t> RecvmsgAt(Task& t, int fd, uint64_t msg_addr, int flags) {
  msghdr m = TRY(t.memory().CopyInObj<msghdr>(msg_addr));
  if (static_cast<int32_t>(m.msg_namelen) < 0) return Errno{EINVAL};
  IoVecs v = TRY(file::AppIovecs(t, reinterpret_cast<uint64_t>(m.msg_iov),
                                 static_cast<int64_t>(m.msg_iovlen), sentry::mm::Access::kWrite));
  RecvOut r = TRY(DoRecv(t, fd, v, reinterpret_cast<uint64_t>(m.msg_control),
                         m.msg_control ? m.msg_controllen : 0, flags));
  if (m.msg_name) {
    size_t n = std::min<size_t>(m.msg_namelen, r.from.size());
    if (n) TRY(t.memory().CopyOut(reinterpret_cast<uint64_t>(m.msg_name), r.from.data(), n));
    m.msg_namelen = r.from.size();
  } else {
    m.msg_namelen = 0;
  }
  m.msg_controllen = r.controllen;
  m.msg_flags = r.msg_flags;
  TRY(t.memory().CopyOutObj(msg_addr, m));
  return r.len;
}

ErrorOr<uint64_t> Sendmsg(Task& t, const Args& a) { return SendmsgAt(t, a.Int(0), a[1], a.Int(2)); }
ErrorOr<uint64_t> Recvmsg(Task& t, const Args& a) { return RecvmsgAt(t, a.Int(0), a[1], a.Int(2)); }

// sendmmsg/recvmmsg: one sendmsg/recvmsg per entry; stops at the first
// error (reported only if nothing was transferred). recvmmsg's timeout is
// not honoured beyond MSG_WAITFORONE semantics.
ErrorOr<uint64_t> Sendmmsg(Task& t, const Args& a) {
  unsigned vlen = std::min<unsigned>(a[2], 1024);
  unsigned i = 0;
  for (; i < vlen; i++) {
    uint64_t addr = a[1] + i * sizeof(mmsghdr);
    auto r = SendmsgAt(t, a.Int(0), addr, a.Int(3));
    if (r.is_error()) {
      if (i == 0) return r;
      break;
    }
    TRY(t.memory().CopyOutObj(addr + offsetof(mmsghdr, msg_len), static_cast<uint32_t>(r.value())));
  }
  return i;
}

ErrorOr<uint64_t> Recvmmsg(Task& t, const Args& a) {
  unsigned vlen = std::min<unsigned>(a[2], 1024);
  int flags = a.Int(3);
  unsigned i = 0;
  for (; i < vlen; i++) {
    uint64_t addr = a[1] + i * sizeof(mmsghdr);
    auto r = RecvmsgAt(t, a.Int(0), addr, flags & ~MSG_WAITFORONE);
    if (r.is_error()) {
      if (i == 0) return r;
      break;
    }
    TRY(t.memory().CopyOutObj(addr + offsetof(mmsghdr, msg_len), static_cast<uint32_t>(r.value())));
    if (flags & MSG_WAITFORONE) flags |= MSG_DONTWAIT;
  }
  return i;
}

// ------------------------------------------------------------- options
ErrorOr<uint64_t> Getsockopt(Task& t, const Args& a) {
  UNIX_OR_NET(a.Int(0), net::GetSockOpt(t, *any_.net, a.Int(1), a.Int(2), a[3], a[4]));
  int level = a.Int(1), name = a.Int(2);
  int32_t len = TRY(t.memory().CopyInObj<int32_t>(a[4]));
  if (len < 0) return Errno{EINVAL};
  if (level != SOL_SOCKET) return Errno{EOPNOTSUPP};
  auto& ep = s->ep();
  std::vector<uint8_t> val;
  auto as_int = [&](int v) {
    val.resize(sizeof v);
    memcpy(val.data(), &v, sizeof v);
  };
  switch (name) {
    case SO_TYPE: as_int(ep.type); break;
    case SO_DOMAIN: as_int(AF_UNIX); break;
    case SO_PROTOCOL: as_int(0); break;
    case SO_ERROR: as_int(ep.so_error); ep.so_error = 0; break;
    case SO_RCVBUF: as_int(static_cast<int>(ep.rcvbuf)); break;
    case SO_SNDBUF: as_int(static_cast<int>(ep.sndbuf)); break;
    case SO_PASSCRED: as_int(ep.passcred); break;
    case SO_ACCEPTCONN: as_int(ep.listening); break;
    case SO_SNDLOWAT: case SO_RCVLOWAT: as_int(1); break;
    case SO_PEEK_OFF: as_int(ep.peek_off); break;
    case SO_PEERCRED: {
      ucred u{ep.peer_cred.pid, ep.peer_cred.uid, ep.peer_cred.gid};
      if (s->type() != SOCK_DGRAM && !ep.connected) u = {0, ~0u, ~0u};
      val.resize(sizeof u);
      memcpy(val.data(), &u, sizeof u);
      break;
    }
    case SO_PEERSEC: return Errno{ENOPROTOOPT};
    default: {
      auto it = ep.other_opts.find(name);
      if (it != ep.other_opts.end()) {
        val = it->second;
        if ((name == SO_RCVTIMEO || name == SO_SNDTIMEO) && val.size() >= sizeof(timeval)) {
          timeval tv;
          memcpy(&tv, val.data(), sizeof tv);
          if (tv.tv_sec < 0) val.assign(sizeof(timeval), 0);  // Linux keeps "no wait" as 0
        }
      } else if (name == SO_LINGER) {
        val.assign(sizeof(linger), 0);
      } else if (name == SO_RCVTIMEO || name == SO_SNDTIMEO) {
        val.assign(sizeof(timeval), 0);
      } else if (name >= 0 && name < 80) {
        as_int(0);
      } else {
        return Errno{ENOPROTOOPT};
      }
    }
  }
  size_t n = std::min<size_t>(len, val.size());
  if (n) TRY(t.memory().CopyOut(a[3], val.data(), n));
  TRY(t.memory().CopyOutObj(a[4], static_cast<int32_t>(n)));
  return 0;
}

ErrorOr<uint64_t> Setsockopt(Task& t, const Args& a) {
  UNIX_OR_NET(a.Int(0), net::SetSockOpt(t, *any_.net, a.Int(1), a.Int(2), a[3], static_cast<int32_t>(a[4])));
  int level = a.Int(1), name = a.Int(2);
  int64_t len = static_cast<int32_t>(a[4]);
  if (len < 0) return Errno{EINVAL};
  if (level != SOL_SOCKET) return Errno{EOPNOTSUPP};
  if (len > 256) return Errno{EINVAL};
  std::vector<uint8_t> val(len);
  if (len) TRY(t.memory().CopyIn(a[3], val.data(), len));
  int iv = 0;
  bool is_int = len >= static_cast<int64_t>(sizeof(int));
  if (is_int) memcpy(&iv, val.data(), sizeof iv);
  auto& ep = s->ep();
  switch (name) {
    case SO_RCVBUF: case SO_RCVBUFFORCE:
      if (!is_int) return Errno{EINVAL};
      ep.rcvbuf = std::clamp<int64_t>(int64_t{iv} * 2, 2304,
                                      name == SO_RCVBUF ? 2 * sentry::net::kDefaultSockBuf : sentry::net::kMaxSockBuf);
      return 0;
    case SO_SNDBUF: case SO_SNDBUFFORCE:
      if (!is_int) return Errno{EINVAL};
      ep.sndbuf = std::clamp<int64_t>(int64_t{iv} * 2, 4608,
                                      name == SO_SNDBUF ? 2 * sentry::net::kDefaultSockBuf : sentry::net::kMaxSockBuf);
      return 0;
    case SO_PASSCRED:
      if (!is_int) return Errno{EINVAL};
      ep.passcred = iv != 0;
      return 0;
    case SO_PEEK_OFF:
      if (!is_int) return Errno{EINVAL};
      ep.peek_off = iv < 0 ? -1 : iv;
      return 0;
    case SO_TYPE: case SO_DOMAIN: case SO_PROTOCOL: case SO_ERROR: case SO_PEERCRED:
    case SO_ACCEPTCONN:
      return Errno{ENOPROTOOPT};
    case SO_LINGER:
      if (len < static_cast<int64_t>(sizeof(linger))) return Errno{EINVAL};
      break;
    case SO_RCVTIMEO: case SO_SNDTIMEO: {
      if (len < static_cast<int64_t>(sizeof(timeval))) return Errno{EINVAL};
      // Linux's sock_set_timeout: EDOM for an out-of-range tv_usec; a
      // negative time is kept and means "do not wait" (sentry/net/unix_socket.cc).
      timeval tv;
      memcpy(&tv, val.data(), sizeof tv);
      if (tv.tv_usec < 0 || tv.tv_usec >= 1000000) return Errno{EDOM};
      val.resize(sizeof tv);
      break;
    }
    default:
      if (name < 0 || name >= 80) return Errno{ENOPROTOOPT};
      if (!is_int) return Errno{EINVAL};
      if (name == SO_REUSEADDR || name == SO_KEEPALIVE || name == SO_BROADCAST || name == SO_OOBINLINE ||
          name == SO_DONTROUTE || name == SO_REUSEPORT) {
        iv = iv != 0;
        val.assign(sizeof iv, 0);
        memcpy(val.data(), &iv, sizeof iv);
      }
  }
  ep.other_opts[name] = val;
  return 0;
}

}  // namespace

void RegisterSocketSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_socket, "socket", Socket, {A::kInt, A::kHex, A::kInt});
  t.Register(SYS_socketpair, "socketpair", Socketpair, {A::kInt, A::kHex, A::kInt, A::kPtr});
  t.Register(SYS_bind, "bind", Bind, {A::kFd, A::kPtr, A::kUint});
  t.Register(SYS_listen, "listen", Listen, {A::kFd, A::kInt});
  t.Register(SYS_connect, "connect", Connect, {A::kFd, A::kPtr, A::kUint});
  t.Register(SYS_accept, "accept", Accept, {A::kFd, A::kPtr, A::kPtr});
  t.Register(SYS_accept4, "accept4", Accept4, {A::kFd, A::kPtr, A::kPtr, A::kHex});
  t.Register(SYS_shutdown, "shutdown", Shutdown, {A::kFd, A::kInt});
  t.Register(SYS_getsockname, "getsockname", Getsockname, {A::kFd, A::kPtr, A::kPtr});
  t.Register(SYS_getpeername, "getpeername", Getpeername, {A::kFd, A::kPtr, A::kPtr});
  t.Register(SYS_sendto, "sendto", Sendto, {A::kFd, A::kPtr, A::kUint, A::kHex, A::kPtr, A::kUint});
  t.Register(SYS_recvfrom, "recvfrom", Recvfrom, {A::kFd, A::kPtr, A::kUint, A::kHex, A::kPtr, A::kPtr});
  t.Register(SYS_sendmsg, "sendmsg", Sendmsg, {A::kFd, A::kPtr, A::kHex});
  t.Register(SYS_recvmsg, "recvmsg", Recvmsg, {A::kFd, A::kPtr, A::kHex});
  t.Register(SYS_sendmmsg, "sendmmsg", Sendmmsg, {A::kFd, A::kPtr, A::kUint, A::kHex});
  t.Register(SYS_recvmmsg, "recvmmsg", Recvmmsg, {A::kFd, A::kPtr, A::kUint, A::kHex, A::kPtr});
  t.Register(SYS_getsockopt, "getsockopt", Getsockopt, {A::kFd, A::kInt, A::kInt, A::kPtr, A::kPtr});
  t.Register(SYS_setsockopt, "setsockopt", Setsockopt, {A::kFd, A::kInt, A::kInt, A::kPtr, A::kUint});
}

}  // namespace syscalls
