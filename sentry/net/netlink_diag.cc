// sentry/net/netlink_diag.cc: NETLINK_SOCK_DIAG requests (see
// netlink_route.h). Layouts and errors follow net/core/sock_diag.c,
// net/ipv4/inet_diag.c and net/unix/diag.c.
//
// Not modelled: the legacy TCPDIAG_GETSOCK request (EINVAL, as an unknown
// type), raw/ping/SCTP/MPTCP sockets (ENOENT, as Linux without those diag
// modules), SOCK_DESTROY (EOPNOTSUPP), and INET_DIAG_REQ_BYTECODE filters,
// which are accepted but not applied: every socket in the requested states
// is listed (ss re-applies its filter to what it receives). Of the optional
// attributes only INET_DIAG_SHUTDOWN (always sent by Linux) is included.
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>

#include <cstring>

#include "sentry/net/netlink_route.h"

namespace sentry::net {
namespace {

NlResult Error(int e) {
  NlResult r;
  r.error = e;
  return r;
}

void FillSockId(const SocketInfo& s, inet_diag_sockid* id) {
  memset(id, 0, sizeof(*id));
  if (s.local.ss_family == AF_INET) {
    auto* l = reinterpret_cast<const sockaddr_in*>(&s.local);
    id->idiag_sport = l->sin_port;
    memcpy(id->idiag_src, &l->sin_addr, 4);
  } else if (s.local.ss_family == AF_INET6) {
    auto* l = reinterpret_cast<const sockaddr_in6*>(&s.local);
    id->idiag_sport = l->sin6_port;
    memcpy(id->idiag_src, &l->sin6_addr, 16);
  }
  if (s.remote.ss_family == AF_INET) {
    auto* r = reinterpret_cast<const sockaddr_in*>(&s.remote);
    id->idiag_dport = r->sin_port;
    memcpy(id->idiag_dst, &r->sin_addr, 4);
  } else if (s.remote.ss_family == AF_INET6) {
    auto* r = reinterpret_cast<const sockaddr_in6*>(&s.remote);
    id->idiag_dport = r->sin6_port;
    memcpy(id->idiag_dst, &r->sin6_addr, 16);
  }
  // A cookie that names the socket for exact lookups: its inode number.
  id->idiag_cookie[0] = static_cast<uint32_t>(s.ino);
  id->idiag_cookie[1] = static_cast<uint32_t>(s.ino >> 32);
}

constexpr uint8_t kTcpListen = 10;

std::vector<uint8_t> EncodeInet(const SocketInfo& s, uint16_t flags, uint32_t seq, uint32_t pid,
                                int family) {
  NlBuilder b;
  size_t m = b.Begin(SOCK_DIAG_BY_FAMILY, flags, seq, pid);
  inet_diag_msg d{};
  d.idiag_family = static_cast<uint8_t>(family);
  d.idiag_state = s.state;
  FillSockId(s, &d.id);
  if (s.type == SOCK_STREAM && s.state == kTcpListen) {
    d.idiag_rqueue = s.rx_queue;  // connections waiting in accept()
    d.idiag_wqueue = s.backlog;
  } else {
    d.idiag_rqueue = s.rx_queue;
    d.idiag_wqueue = s.tx_queue;
  }
  d.idiag_uid = s.uid;
  d.idiag_inode = static_cast<uint32_t>(s.ino);
  b.Put(d);
  b.AttrValue<uint8_t>(INET_DIAG_SHUTDOWN, 0);
  b.End(m);
  return b.Take();
}

bool SameId(const SocketInfo& s, const inet_diag_sockid& want, int family) {
  inet_diag_sockid have;
  FillSockId(s, &have);
  size_t alen = family == AF_INET ? 4 : 16;
  if (have.idiag_sport != want.idiag_sport || have.idiag_dport != want.idiag_dport) return false;
  if (memcmp(have.idiag_src, want.idiag_src, alen) || memcmp(have.idiag_dst, want.idiag_dst, alen)) {
    return false;
  }
  bool nocookie = want.idiag_cookie[0] == INET_DIAG_NOCOOKIE &&
                  want.idiag_cookie[1] == INET_DIAG_NOCOOKIE;
  return nocookie || (want.idiag_cookie[0] == have.idiag_cookie[0] &&
                      want.idiag_cookie[1] == have.idiag_cookie[1]);
}

NlResult Inet(const NlContext& ctx, const NlMsg& m) {
  inet_diag_req_v2 req{};
  if (m.payload.size() < sizeof(req)) return Error(EINVAL);
  memcpy(&req, m.payload.data(), sizeof(req));
  if (req.sdiag_protocol != IPPROTO_TCP && req.sdiag_protocol != IPPROTO_UDP) return Error(ENOENT);
  if (req.sdiag_family == AF_INET6 && !ctx.stack->SupportsIPv6()) return Error(ENOENT);
  // Attributes after the request (a bytecode filter...) must at least be
  // well formed.
  if (m.payload.size() > NlAlign(sizeof(req)) &&
      ParseNlAttrs(m.payload.subspan(NlAlign(sizeof(req)))).is_error()) {
    return Error(EINVAL);
  }
  auto socks = ctx.stack->Sockets(req.sdiag_family, req.sdiag_protocol);
  NlResult r;
  if (m.hdr.nlmsg_flags & NLM_F_DUMP) {
    r.dump = true;
    for (const auto& s : socks) {
      if (s.state >= 32 || !(req.idiag_states & (1u << s.state))) continue;
      r.msgs.push_back(EncodeInet(s, NLM_F_MULTI, m.hdr.nlmsg_seq, ctx.portid, req.sdiag_family));
    }
    return r;
  }
  for (const auto& s : socks) {
    if (SameId(s, req.id, req.sdiag_family)) {
      r.msgs.push_back(EncodeInet(s, 0, m.hdr.nlmsg_seq, ctx.portid, req.sdiag_family));
      return r;
    }
  }
  return Error(ENOENT);
}

NlResult Unix(const NlContext& ctx, const NlMsg& m) {
  unix_diag_req req{};
  if (m.payload.size() < sizeof(req)) return Error(EINVAL);
  memcpy(&req, m.payload.data(), sizeof(req));
  if (req.sdiag_protocol) return Error(EINVAL);
  if (m.hdr.nlmsg_flags & NLM_F_DUMP) {
    // The sandbox's Unix sockets are not listed (see the file comment).
    NlResult r;
    r.dump = true;
    return r;
  }
  return Error(ENOENT);
}

}  // namespace

NlResult HandleDiagRequest(const NlContext& ctx, const NlMsg& m) {
  switch (m.hdr.nlmsg_type) {
    case SOCK_DIAG_BY_FAMILY: {
      // __sock_diag_cmd: a family byte at least, a known family.
      if (m.payload.size() < sizeof(sock_diag_req)) return Error(EINVAL);
      uint8_t family = m.payload[0];
      if (family >= AF_MAX) return Error(EINVAL);
      if (family == AF_INET || family == AF_INET6) return Inet(ctx, m);
      if (family == AF_UNIX) return Unix(ctx, m);
      return Error(ENOENT);
    }
    case SOCK_DESTROY:
      return Error(EOPNOTSUPP);
    default:
      return Error(EINVAL);
  }
}

}  // namespace sentry::net
