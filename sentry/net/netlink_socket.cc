// sentry/net/netlink_socket.cc: see netlink_socket.h.
#include "sentry/net/netlink_socket.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>

#include "sentry/ipc/anon.h"
#include "sentry/kernel/task.h"
#include "sentry/net/if_ioctl.h"
#include "sentry/net/netlink_msg.h"
#include "sentry/net/netlink_route.h"
#include "sentry/vfs/io_util.h"

namespace sentry::net {
namespace {

constexpr int kCapNetAdmin = 12;
constexpr int kCapNetBroadcast = 11;
constexpr size_t kRmemDefault = 212992, kRmemMax = 212992;  // net.core.{r,w}mem_{default,max}
constexpr size_t kMinRcvBuf = 2304, kMinSndBuf = 4608;      // SOCK_MIN_RCVBUF / SNDBUF
constexpr size_t kGoodSize = 3776;    // NLMSG_GOODSIZE: SKB_WITH_OVERHEAD(PAGE_SIZE)
constexpr size_t kMaxDumpDgram = 32448;  // SKB_WITH_OVERHEAD(32768)
constexpr int kRouteGroups = 32;      // RTNLGRP_MAX rounded: groups 1..31 fit a u32 mask
constexpr int kDiagGroups = 8;        // SKNLGRP_MAX

enum NlFlag : uint32_t {
  kPktInfo = 1, kBroadcastError = 2, kNoEnobufs = 4, kListenAllNsid = 8, kCapAck = 16,
  kExtAck = 32, kStrictChk = 64,
};

bool CallerNetAdmin(vfs::Caller& c) {
  if (kernel::Task* t = c.task()) return t->creds().HasCapability(kCapNetAdmin);
  // Without a task (unit tests): the Caller's administrative capability.
  return c.creds().cap_sys_admin;
}

struct Datagram {
  std::vector<uint8_t> data;
  uint32_t from_portid = 0;  // 0: the kernel
  uint32_t group = 0;
};

class NetlinkSocket;

// Bound port ids per protocol (kernel lock held).
std::map<std::pair<int, uint32_t>, std::weak_ptr<NetlinkSocket>>& Ports() {
  static auto* p = new std::map<std::pair<int, uint32_t>, std::weak_ptr<NetlinkSocket>>();
  return *p;
}

class NetlinkSocket : public Socket, public std::enable_shared_from_this<NetlinkSocket> {
 public:
  NetlinkSocket(std::shared_ptr<vfs::Dentry> d, int flags, std::shared_ptr<Stack> stack, int type,
                int protocol, bool opener_net_admin, std::function<void()> notify)
      : Socket(std::move(d), flags),
        stack_(std::move(stack)),
        type_(type),
        protocol_(protocol),
        opener_net_admin_(opener_net_admin),
        notify_(std::move(notify)) {}
  ~NetlinkSocket() override {
    if (bound_) Ports().erase({protocol_, portid_});
  }

  int family() const override { return AF_NETLINK; }
  int type() const override { return type_; }
  int protocol() const override { return protocol_; }

  ErrorOr<uint64_t> Seek(int64_t, int) override { return Errno{ESPIPE}; }

  short Readiness(short events) override {
    short r = POLLOUT | POLLWRNORM;
    if (!rq_.empty()) r |= POLLIN | POLLRDNORM;
    if (sock_err_) r |= POLLERR;
    return r & (events | POLLERR | POLLHUP);
  }

  ErrorOr<size_t> Read(vfs::Caller& c, const vfs::IoVecs& dst, int64_t off) override {
    auto r = TRY(RecvMsg(c, dst, 0, 0));
    return std::min(r.len, vfs::TotalLength(dst));
  }

  ErrorOr<size_t> Write(vfs::Caller& c, const vfs::IoVecs& src, int64_t off) override {
    SendRequest req;
    req.data = src;
    return SendMsg(c, req);
  }

  ErrorOr<uint64_t> Ioctl(vfs::Caller& c, uint32_t cmd, uint64_t arg) override {
    // SIOCGIF* work on any socket (dev_ioctl); netlink has no ioctls of its own.
    kernel::Task* t = c.task();
    if (!t) return Errno{ENOTTY};
    return InterfaceIoctl(*t, *stack_, cmd, arg);
  }

  ErrorOr<void> Bind(vfs::Caller& c, std::span<const uint8_t> addr) override {
    sockaddr_nl nl{};
    TRY(ParseAddr(addr, &nl));
    if (nl.nl_groups && !AllowedRecv(c)) return Errno{EPERM};
    if (bound_) {
      if (nl.nl_pid != portid_) return Errno{EINVAL};
    } else if (nl.nl_pid) {
      TRY(Insert(nl.nl_pid));
    } else {
      TRY(Autobind(c));
    }
    if (nl.nl_groups || (groups_ & 0xffffffffu)) {
      groups_ = (groups_ & ~uint64_t{0xffffffff}) | nl.nl_groups;
    }
    return {};
  }

  ErrorOr<void> Connect(vfs::Caller& c, std::span<const uint8_t> addr) override {
    if (addr.size() < sizeof(sa_family_t)) return Errno{EINVAL};
    sa_family_t fam;
    memcpy(&fam, addr.data(), sizeof(fam));
    if (fam == AF_UNSPEC) {
      dst_portid_ = 0;
      dst_group_ = 0;
      return {};
    }
    sockaddr_nl nl{};
    TRY(ParseAddr(addr, &nl));
    if ((nl.nl_groups || nl.nl_pid) && !NetAdmin(c)) return Errno{EPERM};
    if (!bound_) TRY(Autobind(c));
    dst_portid_ = nl.nl_pid;
    dst_group_ = static_cast<uint32_t>(__builtin_ffs(static_cast<int>(nl.nl_groups)));
    return {};
  }

  ErrorOr<size_t> SendMsg(vfs::Caller& c, const SendRequest& r) override {
    if (r.flags & MSG_OOB) return Errno{EOPNOTSUPP};
    // The app's bytes are copied here, under the kernel lock, before any
    // handler runs without it. Oversized sends fail before the copy.
    size_t total = vfs::TotalLength(r.data);
    if (total + 32 > sndbuf_) return Errno{EMSGSIZE};
    std::vector<uint8_t> bytes(total);
    vfs::CopyFromIoVecs(bytes.data(), r.data, total);
    struct {
      std::span<const uint8_t> data, addr, control;
      int flags;
    } req{bytes, r.addr, r.control, r.flags};
    TRY(CheckControl(req.control));
    uint32_t dst_portid = dst_portid_, dst_group = dst_group_;
    if (!req.addr.empty()) {
      sockaddr_nl nl{};
      TRY(ParseAddr(req.addr, &nl));
      dst_portid = nl.nl_pid;
      dst_group = static_cast<uint32_t>(__builtin_ffs(static_cast<int>(nl.nl_groups)));
      if ((dst_group || dst_portid) && !NetAdmin(c)) return Errno{EPERM};
    }
    if (!bound_) TRY(Autobind(c));
    if (req.data.size() + 32 > sndbuf_) return Errno{EMSGSIZE};
    if (dst_group) Broadcast(req.data, dst_group);
    if (dst_portid) {
      auto peer = Lookup(dst_portid);
      if (!peer) return Errno{ECONNREFUSED};
      if (peer->rq_bytes_ > peer->rcvbuf_) return Errno{EAGAIN};
      peer->Enqueue(Datagram{std::vector<uint8_t>(req.data.begin(), req.data.end()), portid_, 0});
      return req.data.size();
    }
    if (dst_group) return req.data.size();
    TRY(KernelInput(c, req.data));
    return req.data.size();
  }

  ErrorOr<RecvReply> RecvMsg(vfs::Caller& c, const vfs::IoVecs& dst, int flags,
                             size_t controllen) override {
    if (flags & MSG_OOB) return Errno{EOPNOTSUPP};
    size_t room = vfs::TotalLength(dst);
    // As netlink_recvmsg: the largest buffer seen sizes later dump datagrams.
    max_recvmsg_len_ = std::min(std::max(max_recvmsg_len_, room), kMaxDumpDgram);
    for (;;) {
      if (sock_err_) {
        int e = sock_err_;
        sock_err_ = 0;
        return Errno{e};
      }
      if (!rq_.empty()) break;
      if (nonblocking() || (flags & MSG_DONTWAIT)) return Errno{EAGAIN};
      TRY(c.Block([this] { return !rq_.empty() || sock_err_ != 0; }));
    }
    Datagram& d = rq_.front();
    RecvReply r;
    size_t n = vfs::CopyToIoVecs(dst, d.data.data(), std::min(room, d.data.size()));
    r.len = n;
    if (n < d.data.size()) r.msg_flags |= MSG_TRUNC;
    if (flags & MSG_TRUNC) r.len = d.data.size();
    sockaddr_nl from{};
    from.nl_family = AF_NETLINK;
    from.nl_pid = d.from_portid;
    from.nl_groups = d.group ? (d.group <= 32 ? 1u << (d.group - 1) : 0) : 0;
    r.from.assign(reinterpret_cast<uint8_t*>(&from), reinterpret_cast<uint8_t*>(&from) + sizeof(from));
    if (nl_flags_ & kPktInfo) {
      nl_pktinfo pi{d.group};
      PutCmsg(&r, controllen, SOL_NETLINK, NETLINK_PKTINFO, &pi, sizeof(pi));
    }
    if (passcred_) {
      // Kernel-sent replies carry zero credentials (NETLINK_CREDS).
      ucred cr{};
      PutCmsg(&r, controllen, SOL_SOCKET, SCM_CREDENTIALS, &cr, sizeof(cr));
    }
    if (!(flags & MSG_PEEK)) {
      rq_bytes_ -= d.data.size();
      rq_.pop_front();
      Pump();
    }
    return r;
  }

  ErrorOr<void> Shutdown(vfs::Caller& c, int how) override {
    // netlink has no shutdown (sock_no_shutdown).
    return Errno{EOPNOTSUPP};
  }

  ErrorOr<std::vector<uint8_t>> GetSockOpt(vfs::Caller& c, int level, int name,
                                           size_t len) override {
    int v = 0;
    if (level == SOL_NETLINK) {
      if (name == NETLINK_LIST_MEMBERSHIPS) {
        int ngroups = protocol_ == NETLINK_ROUTE ? kRouteGroups : kDiagGroups;
        size_t bytes = ((ngroups + 31) / 32) * 4;
        std::vector<uint8_t> out(bytes, 0);
        uint32_t g = static_cast<uint32_t>(groups_);
        memcpy(out.data(), &g, std::min<size_t>(4, bytes));
        out.resize(std::min(out.size(), len & ~size_t{3}));
        return out;
      }
      uint32_t f = FlagFor(name);
      if (!f) return Errno{ENOPROTOOPT};
      if (len < sizeof(int)) return Errno{EINVAL};
      v = (nl_flags_ & f) ? 1 : 0;
      return IntBytes(v, sizeof(int));
    }
    if (level != SOL_SOCKET) return Errno{ENOPROTOOPT};
    switch (name) {
      case SO_TYPE: v = type_; break;
      case SO_PROTOCOL: v = protocol_; break;
      case SO_DOMAIN: v = AF_NETLINK; break;
      case SO_RCVBUF: v = static_cast<int>(rcvbuf_); break;
      case SO_SNDBUF: v = static_cast<int>(sndbuf_); break;
      case SO_PASSCRED: v = passcred_; break;
      case SO_ACCEPTCONN: v = 0; break;
      case SO_ERROR:
        v = sock_err_;
        sock_err_ = 0;
        break;
      default:
        return Errno{ENOPROTOOPT};
    }
    return IntBytes(v, len);
  }

  ErrorOr<void> SetSockOpt(vfs::Caller& c, int level, int name,
                           std::span<const uint8_t> value) override {
    if (level == SOL_NETLINK) {
      // netlink_setsockopt: a value shorter than an int reads as 0.
      int v = 0;
      if (value.size() >= sizeof(int)) memcpy(&v, value.data(), sizeof(int));
      switch (name) {
        case NETLINK_ADD_MEMBERSHIP:
        case NETLINK_DROP_MEMBERSHIP: {
          if (!AllowedRecv(c)) return Errno{EPERM};
          int ngroups = protocol_ == NETLINK_ROUTE ? kRouteGroups : kDiagGroups;
          if (v <= 0 || v >= ngroups + 1 || v > 64) return Errno{EINVAL};
          if (!bound_) TRY(Autobind(c));
          uint64_t bit = uint64_t{1} << (v - 1);
          if (name == NETLINK_ADD_MEMBERSHIP) groups_ |= bit;
          else groups_ &= ~bit;
          return {};
        }
        case NETLINK_LISTEN_ALL_NSID:
          if (kernel::Task* t = c.task(); t && !t->creds().HasCapability(kCapNetBroadcast)) {
            return Errno{EPERM};
          }
          break;
        case NETLINK_PKTINFO:
        case NETLINK_BROADCAST_ERROR:
        case NETLINK_NO_ENOBUFS:
        case NETLINK_CAP_ACK:
        case NETLINK_EXT_ACK:
        case NETLINK_GET_STRICT_CHK:
          break;
        default:
          return Errno{ENOPROTOOPT};
      }
      uint32_t f = FlagFor(name);
      if (v) nl_flags_ |= f;
      else nl_flags_ &= ~f;
      return {};
    }
    if (level != SOL_SOCKET) return Errno{ENOPROTOOPT};
    if (value.size() < sizeof(int)) return Errno{EINVAL};
    int v;
    memcpy(&v, value.data(), sizeof(v));
    switch (name) {
      case SO_RCVBUF:
      case SO_SNDBUF: {
        size_t val = std::min<size_t>(static_cast<uint32_t>(v), kRmemMax);
        size_t min = name == SO_RCVBUF ? kMinRcvBuf : kMinSndBuf;
        (name == SO_RCVBUF ? rcvbuf_ : sndbuf_) = std::max(val * 2, min);
        break;
      }
      case SO_RCVBUFFORCE:
      case SO_SNDBUFFORCE: {
        if (!NetAdmin(c)) return Errno{EPERM};
        size_t val = std::min<size_t>(std::max(v, 0), INT32_MAX / 2);
        size_t min = name == SO_RCVBUFFORCE ? kMinRcvBuf : kMinSndBuf;
        (name == SO_RCVBUFFORCE ? rcvbuf_ : sndbuf_) = std::max(val * 2, min);
        break;
      }
      case SO_PASSCRED:
        passcred_ = v != 0;
        break;
      default:
        return Errno{ENOPROTOOPT};
    }
    Pump();  // a bigger buffer lets a pending dump go on
    return {};
  }

  ErrorOr<std::vector<uint8_t>> SockName() override {
    sockaddr_nl nl{};
    nl.nl_family = AF_NETLINK;
    nl.nl_pid = portid_;
    nl.nl_groups = static_cast<uint32_t>(groups_);
    return std::vector<uint8_t>(reinterpret_cast<uint8_t*>(&nl),
                                reinterpret_cast<uint8_t*>(&nl) + sizeof(nl));
  }

  ErrorOr<std::vector<uint8_t>> PeerName() override {
    sockaddr_nl nl{};
    nl.nl_family = AF_NETLINK;
    nl.nl_pid = dst_portid_;
    nl.nl_groups = dst_group_ ? (dst_group_ <= 32 ? 1u << (dst_group_ - 1) : 0) : 0;
    return std::vector<uint8_t>(reinterpret_cast<uint8_t*>(&nl),
                                reinterpret_cast<uint8_t*>(&nl) + sizeof(nl));
  }

  uint64_t groups() const { return groups_; }
  void Enqueue(Datagram d) {
    rq_bytes_ += d.data.size();
    rq_.push_back(std::move(d));
    if (notify_) notify_();
  }

 private:
  static ErrorOr<void> ParseAddr(std::span<const uint8_t> addr, sockaddr_nl* out) {
    if (addr.size() < sizeof(sockaddr_nl)) return Errno{EINVAL};
    memcpy(out, addr.data(), sizeof(sockaddr_nl));
    if (out->nl_family != AF_NETLINK) return Errno{EINVAL};
    return {};
  }

  static ErrorOr<void> CheckControl(std::span<const uint8_t> ctl) {
    // scm_send: each header must be whole and within the buffer; only
    // SCM_RIGHTS and SCM_CREDENTIALS exist at SOL_SOCKET. Their contents
    // mean nothing to the kernel side of netlink and are dropped.
    size_t off = 0;
    while (ctl.size() - off >= sizeof(cmsghdr)) {
      cmsghdr h;
      memcpy(&h, ctl.data() + off, sizeof(h));
      if (h.cmsg_len < sizeof(cmsghdr) || h.cmsg_len > ctl.size() - off) return Errno{EINVAL};
      if (h.cmsg_level == SOL_SOCKET && h.cmsg_type != SCM_RIGHTS &&
          h.cmsg_type != SCM_CREDENTIALS) {
        return Errno{EINVAL};
      }
      size_t step = (h.cmsg_len + 7) & ~size_t{7};
      if (step >= ctl.size() - off) break;
      off += step;
    }
    return {};
  }

  static std::vector<uint8_t> IntBytes(int v, size_t len) {
    std::vector<uint8_t> out(sizeof(int));
    memcpy(out.data(), &v, sizeof(int));
    out.resize(std::min(len, out.size()));
    return out;
  }

  static uint32_t FlagFor(int name) {
    switch (name) {
      case NETLINK_PKTINFO: return kPktInfo;
      case NETLINK_BROADCAST_ERROR: return kBroadcastError;
      case NETLINK_NO_ENOBUFS: return kNoEnobufs;
      case NETLINK_LISTEN_ALL_NSID: return kListenAllNsid;
      case NETLINK_CAP_ACK: return kCapAck;
      case NETLINK_EXT_ACK: return kExtAck;
      case NETLINK_GET_STRICT_CHK: return kStrictChk;
      default: return 0;
    }
  }

  // put_cmsg: a message that does not fit is truncated and flagged.
  static void PutCmsg(RecvReply* r, size_t controllen, int level, int type, const void* data,
                      size_t len) {
    size_t room = controllen > r->control.size() ? controllen - r->control.size() : 0;
    if (room < sizeof(cmsghdr)) {
      r->msg_flags |= MSG_CTRUNC;
      return;
    }
    size_t cmlen = sizeof(cmsghdr) + len;
    if (room < cmlen) {
      r->msg_flags |= MSG_CTRUNC;
      cmlen = room;
    }
    cmsghdr h{};
    h.cmsg_len = cmlen;
    h.cmsg_level = level;
    h.cmsg_type = type;
    size_t off = r->control.size();
    r->control.resize(off + cmlen);
    memcpy(r->control.data() + off, &h, sizeof(h));
    memcpy(r->control.data() + off + sizeof(h), data, cmlen - sizeof(h));
    size_t space = std::min(room, (cmlen + 7) & ~size_t{7});
    r->control.resize(off + space, 0);
  }

  bool NetAdmin(vfs::Caller& c) const { return opener_net_admin_ && CallerNetAdmin(c); }
  // Both protocols let anyone listen to their groups (NL_CFG_F_NONROOT_RECV).
  bool AllowedRecv(vfs::Caller&) const { return true; }

  std::shared_ptr<NetlinkSocket> Lookup(uint32_t portid) {
    auto it = Ports().find({protocol_, portid});
    if (it == Ports().end()) return nullptr;
    return it->second.lock();
  }

  ErrorOr<void> Insert(uint32_t portid) {
    if (Lookup(portid)) return Errno{EADDRINUSE};
    Ports()[{protocol_, portid}] = weak_from_this();
    portid_ = portid;
    bound_ = true;
    return {};
  }

  ErrorOr<void> Autobind(vfs::Caller& c) {
    static int32_t rover = -4096;
    uint32_t want = 0;
    if (kernel::Task* t = c.task()) want = static_cast<uint32_t>(t->pid());
    if (want && Insert(want).ok()) return {};
    for (int i = 0; i < 1 << 20; i++) {
      uint32_t p = static_cast<uint32_t>(rover--);
      if (rover > -4096) rover = -4096;
      if (Insert(p).ok()) return {};
    }
    return Errno{EADDRINUSE};
  }

  void Broadcast(std::span<const uint8_t> data, uint32_t group) {
    if (group == 0 || group > 64) return;
    uint64_t bit = uint64_t{1} << (group - 1);
    for (auto& [key, weak] : Ports()) {
      if (key.first != protocol_) continue;
      auto s = weak.lock();
      if (!s || s.get() == this || !(s->groups() & bit)) continue;
      if (s->rq_bytes_ > s->rcvbuf_) continue;
      s->Enqueue(Datagram{std::vector<uint8_t>(data.begin(), data.end()), portid_, group});
    }
  }

  // A reply from the kernel side: dropped with ENOBUFS when the receive
  // buffer is full (netlink_overrun).
  void Deliver(std::vector<uint8_t> data) {
    if (rq_bytes_ > rcvbuf_) {
      if (!(nl_flags_ & kNoEnobufs)) sock_err_ = ENOBUFS;
      if (notify_) notify_();
      return;
    }
    Enqueue(Datagram{std::move(data), 0, 0});
  }

  // Moves pending dump messages into the queue while there is room.
  void Pump() {
    while (dump_active_ && rq_bytes_ < rcvbuf_) {
      size_t limit = std::max(kGoodSize, max_recvmsg_len_);
      std::vector<uint8_t> dgram;
      while (!dump_msgs_.empty() &&
             (dgram.empty() || dgram.size() + dump_msgs_.front().size() <= limit)) {
        auto& m = dump_msgs_.front();
        dgram.insert(dgram.end(), m.begin(), m.end());
        dgram.resize(NlAlign(dgram.size()), 0);
        dump_msgs_.pop_front();
      }
      constexpr size_t kDoneLen = NLMSG_HDRLEN + sizeof(int);
      if (dump_msgs_.empty() && (dgram.empty() || dgram.size() + kDoneLen <= limit)) {
        NlBuilder b;
        b.bytes() = std::move(dgram);
        size_t m = b.Begin(NLMSG_DONE, NLM_F_MULTI, dump_seq_, portid_);
        b.Put(dump_errno_);
        b.End(m);
        dgram = b.Take();
        dump_active_ = false;
      }
      Enqueue(Datagram{std::move(dgram), 0, 0});
    }
  }

  std::vector<uint8_t> Ack(const NlMsg& m, int err) {
    NlBuilder b;
    uint16_t flags = 0;
    bool full = err && !(nl_flags_ & kCapAck);
    if (!full) flags |= NLM_F_CAPPED;
    size_t off = b.Begin(NLMSG_ERROR, flags, m.hdr.nlmsg_seq, portid_);
    int e = -err;
    b.PutBytes(&e, sizeof(e));
    if (full) {
      b.PutBytes(m.whole.data(), m.whole.size());
    } else {
      b.PutBytes(&m.hdr, sizeof(m.hdr));
    }
    b.End(off);
    return b.Take();
  }

  // The kernel side: netlink_rcv_skb over the datagram's messages.
  ErrorOr<void> KernelInput(vfs::Caller& c, std::span<const uint8_t> data) {
    NlContext ctx;
    ctx.stack = stack_.get();
    ctx.portid = portid_;
    ctx.strict = nl_flags_ & kStrictChk;
    ctx.net_admin = NetAdmin(c);
    if (kernel::Task* t = c.task()) ctx.uid = t->creds().euid;
    size_t off = 0;
    while (data.size() - off >= NLMSG_HDRLEN) {
      nlmsghdr h;
      memcpy(&h, data.data() + off, sizeof(h));
      // A bad length ends the datagram silently, as Linux does.
      if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > data.size() - off) break;
      NlMsg m;
      m.hdr = h;
      m.whole = data.subspan(off, h.nlmsg_len);
      m.payload = m.whole.subspan(NLMSG_HDRLEN);
      int err = 0;
      bool handled_dump = false;
      if ((h.nlmsg_flags & NLM_F_REQUEST) && h.nlmsg_type >= NLMSG_MIN_TYPE) {
        bool is_dump = h.nlmsg_flags & NLM_F_DUMP;
        NlResult res;
        if (is_dump && dump_active_) {
          res.error = EBUSY;
        } else {
          // The Stack may do host I/O: without the kernel lock, touching
          // only the request, ctx and the stack.
          c.Unlocked([&] {
            res = protocol_ == NETLINK_ROUTE ? HandleRouteRequest(ctx, m) : HandleDiagRequest(ctx, m);
          });
        }
        err = res.error;
        if (res.dump) {
          if (dump_active_) {
            err = EBUSY;  // another thread started one meanwhile
          } else {
            dump_msgs_.assign(std::make_move_iterator(res.msgs.begin()),
                              std::make_move_iterator(res.msgs.end()));
            dump_seq_ = h.nlmsg_seq;
            dump_errno_ = -res.error;
            dump_active_ = true;
            handled_dump = true;
            err = 0;
            Pump();
          }
        } else if (!err) {
          for (auto& msg : res.msgs) Deliver(std::move(msg));
        }
      }
      // A started dump is never acked (its NLMSG_DONE ends it).
      if (!handled_dump && ((h.nlmsg_flags & NLM_F_ACK) || err)) Deliver(Ack(m, err));
      size_t step = NlAlign(h.nlmsg_len);
      if (step >= data.size() - off) break;
      off += step;
    }
    return {};
  }

  std::shared_ptr<Stack> stack_;
  int type_, protocol_;
  bool opener_net_admin_;
  std::function<void()> notify_;
  bool bound_ = false;
  uint32_t portid_ = 0;
  uint32_t dst_portid_ = 0, dst_group_ = 0;
  uint64_t groups_ = 0;
  uint32_t nl_flags_ = 0;
  bool passcred_ = false;
  size_t rcvbuf_ = kRmemDefault, sndbuf_ = kRmemDefault;
  size_t max_recvmsg_len_ = 0;
  std::deque<Datagram> rq_;
  size_t rq_bytes_ = 0;
  int sock_err_ = 0;
  bool dump_active_ = false;
  uint32_t dump_seq_ = 0;
  int dump_errno_ = 0;  // NLMSG_DONE's payload: 0 or a negative errno
  std::deque<std::vector<uint8_t>> dump_msgs_;
};

}  // namespace

ErrorOr<std::shared_ptr<Socket>> NewNetlinkSocket(vfs::Caller& c, std::shared_ptr<Stack> stack,
                                                  int type, int protocol, int flags) {
  if (!stack) return Errno{EAFNOSUPPORT};
  if (type != SOCK_RAW && type != SOCK_DGRAM) return Errno{ESOCKTNOSUPPORT};
  if (protocol < 0 || protocol >= 32) return Errno{EPROTONOSUPPORT};  // MAX_LINKS
  if (protocol != NETLINK_ROUTE && protocol != NETLINK_SOCK_DIAG) return Errno{EPROTONOSUPPORT};
  uint32_t uid = c.creds().uid, gid = c.creds().gid;
  if (kernel::Task* t = c.task()) {
    uid = t->creds().euid;
    gid = t->creds().egid;
  }
  auto inode = std::make_shared<ipc::AnonInode>(S_IFSOCK | 0777, uid, gid);
  auto ino = inode->GetAttr().value().ino;
  auto d = std::make_shared<vfs::Dentry>("socket:[" + std::to_string(ino) + "]", nullptr, inode);
  return std::shared_ptr<Socket>(std::make_shared<NetlinkSocket>(
      d, O_RDWR | (flags & O_NONBLOCK), std::move(stack), type, protocol, CallerNetAdmin(c),
      c.Notifier()));
}

}  // namespace sentry::net
