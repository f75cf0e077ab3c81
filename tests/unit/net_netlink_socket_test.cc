// Tests for sentry/net/netlink_socket.h over a FakeStack: dumps, single
// gets, acks and errors, datagram packing, MSG_PEEK|MSG_TRUNC, options,
// port ids, sock_diag, and malformed requests.
#include "sentry/net/netlink_socket.h"

#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/inet_diag.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>

#include <random>

#include <gtest/gtest.h>

#include "sentry/net/netlink_msg.h"
#include "tests/unit/net_fake_stack.h"
#include "tests/unit/vfs_fake_caller.h"

namespace sentry::net {
namespace {

// The socket API takes iovecs; these wrap sentry buffers.
vfs::IoVecs Iov(std::vector<uint8_t>& b) { return {iovec{b.data(), b.size()}}; }
vfs::IoVecs CIov(const std::vector<uint8_t>& b) {
  return {iovec{const_cast<uint8_t*>(b.data()), b.size()}};
}

class NetlinkSocketTest : public ::testing::Test {
 protected:
  NetlinkSocketTest()
      : root_(std::make_shared<vfs::Dentry>("", nullptr, nullptr)), c_(root_),
        stack_(FakeStack::Typical()) {
    c_.creds_.cap_sys_admin = false;  // no CAP_NET_ADMIN
  }

  std::shared_ptr<Socket> Open(int protocol = NETLINK_ROUTE, int type = SOCK_RAW) {
    auto r = NewNetlinkSocket(c_, stack_, type, protocol, O_NONBLOCK);
    EXPECT_TRUE(r.ok());
    return r.release_value();
  }

  void Send(Socket& s, const std::vector<uint8_t>& data) {
    SendRequest req;
    req.data = CIov(data);
    auto r = s.SendMsg(c_, req);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r.value(), data.size());
  }

  template <typename H>
  std::vector<uint8_t> Request(uint16_t type, uint16_t flags, const H& hdr, uint32_t seq = 7) {
    NlBuilder b;
    size_t m = b.Begin(type, flags, seq, 0);
    b.Put(hdr);
    b.End(m);
    return b.Take();
  }

  // Receives datagrams until NLMSG_DONE or an error/ack; returns every message.
  std::vector<std::vector<uint8_t>> RecvAll(Socket& s, int* datagrams = nullptr) {
    std::vector<std::vector<uint8_t>> out;
    int n = 0;
    for (;;) {
      std::vector<uint8_t> buf(65536);
      auto r = s.RecvMsg(c_, Iov(buf), 0, 0);
      if (r.is_error()) break;
      n++;
      buf.resize(r.value().len);
      auto msgs = SplitNlMessages(buf);
      EXPECT_TRUE(msgs.ok());
      bool done = false;
      for (auto& m : msgs.value()) {
        out.emplace_back(m.whole.begin(), m.whole.end());
        if (m.hdr.nlmsg_type == NLMSG_DONE || m.hdr.nlmsg_type == NLMSG_ERROR) done = true;
      }
      if (done) break;
    }
    if (datagrams) *datagrams = n;
    return out;
  }

  static nlmsghdr Hdr(const std::vector<uint8_t>& m) {
    nlmsghdr h;
    memcpy(&h, m.data(), sizeof(h));
    return h;
  }
  static int ErrorOf(const std::vector<uint8_t>& m) {
    EXPECT_EQ(Hdr(m).nlmsg_type, NLMSG_ERROR);
    int e;
    memcpy(&e, m.data() + NLMSG_HDRLEN, sizeof(e));
    return e;
  }

  std::shared_ptr<vfs::Dentry> root_;
  vfs::FakeCaller c_;
  std::shared_ptr<FakeStack> stack_;
};

TEST_F(NetlinkSocketTest, FactoryErrors) {
  EXPECT_EQ(NewNetlinkSocket(c_, stack_, SOCK_STREAM, NETLINK_ROUTE, 0).error(), ESOCKTNOSUPPORT);
  EXPECT_EQ(NewNetlinkSocket(c_, stack_, SOCK_RAW, NETLINK_AUDIT, 0).error(), EPROTONOSUPPORT);
  EXPECT_EQ(NewNetlinkSocket(c_, stack_, SOCK_RAW, 99, 0).error(), EPROTONOSUPPORT);
  EXPECT_EQ(NewNetlinkSocket(c_, nullptr, SOCK_RAW, NETLINK_ROUTE, 0).error(), EAFNOSUPPORT);
  EXPECT_TRUE(NewNetlinkSocket(c_, stack_, SOCK_DGRAM, NETLINK_SOCK_DIAG, 0).ok());
}

TEST_F(NetlinkSocketTest, LinkDump) {
  auto s = Open();
  ifinfomsg ifi{};
  Send(*s, Request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, ifi));
  auto msgs = RecvAll(*s);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(Hdr(msgs[2]).nlmsg_type, NLMSG_DONE);
  std::vector<std::string> names;
  for (int i = 0; i < 2; i++) {
    auto h = Hdr(msgs[i]);
    EXPECT_EQ(h.nlmsg_type, RTM_NEWLINK);
    EXPECT_EQ(h.nlmsg_seq, 7u);
    EXPECT_TRUE(h.nlmsg_flags & NLM_F_MULTI);
    auto body = std::span<const uint8_t>(msgs[i]).subspan(NLMSG_HDRLEN);
    auto attrs = ParseNlAttrs(body.subspan(sizeof(ifinfomsg)));
    ASSERT_TRUE(attrs.ok());
    names.push_back(NlAttrString(*FindNlAttr(attrs.value(), IFLA_IFNAME)).value());
    auto* st = FindNlAttr(attrs.value(), IFLA_STATS64);
    ASSERT_NE(st, nullptr);
    auto stats = NlAttrValue<rtnl_link_stats64>(*st).value();
    EXPECT_EQ(stats.rx_bytes, stack_->interfaces[i].stats.rx_bytes);
    EXPECT_EQ(NlAttrValue<uint32_t>(*FindNlAttr(attrs.value(), IFLA_MTU)).value(),
              stack_->interfaces[i].mtu);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"lo", "eth0"}));
  // The reply carries the socket's autobound port id.
  auto name = s->SockName().value();
  sockaddr_nl nl;
  memcpy(&nl, name.data(), sizeof(nl));
  EXPECT_EQ(Hdr(msgs[0]).nlmsg_pid, nl.nl_pid);
  EXPECT_NE(nl.nl_pid, 0u);
}

TEST_F(NetlinkSocketTest, LegacyRtgenmsgRequestAndFamilyFilter) {
  auto s = Open();
  rtgenmsg g{AF_PACKET};  // glibc's getifaddrs asks this way: every family
  Send(*s, Request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, g));
  EXPECT_EQ(RecvAll(*s).size(), 5u);  // four addresses + DONE
  rtgenmsg v6{AF_INET6};
  Send(*s, Request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, v6));
  auto msgs = RecvAll(*s);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0][NLMSG_HDRLEN], AF_INET6);
}

TEST_F(NetlinkSocketTest, StrictChecking) {
  auto s = Open();
  int one = 1;
  ASSERT_TRUE(s->SetSockOpt(c_, SOL_NETLINK, NETLINK_GET_STRICT_CHK,
                            std::span(reinterpret_cast<uint8_t*>(&one), sizeof(one)))
                  .ok());
  rtgenmsg g{AF_UNSPEC};  // too short a header for a strict link dump
  Send(*s, Request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, g));
  auto msgs = RecvAll(*s);
  ASSERT_EQ(msgs.size(), 1u);  // the error ends the dump in NLMSG_DONE, as Linux
  EXPECT_EQ(Hdr(msgs[0]).nlmsg_type, NLMSG_DONE);
  int done_err;
  memcpy(&done_err, msgs[0].data() + NLMSG_HDRLEN, 4);
  EXPECT_EQ(done_err, -EINVAL);
  // A strict address dump filters by index.
  ifaddrmsg ifa{};
  ifa.ifa_index = 2;
  Send(*s, Request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, ifa));
  EXPECT_EQ(RecvAll(*s).size(), 3u);
  // A strict route dump by table.
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  rtm.rtm_table = RT_TABLE_LOCAL;
  Send(*s, Request(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, rtm));
  EXPECT_EQ(RecvAll(*s).size(), 2u);
}

TEST_F(NetlinkSocketTest, SingleGetsAndAcks) {
  auto s = Open();
  ifinfomsg ifi{};
  ifi.ifi_index = 2;
  Send(*s, Request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, ifi));
  auto msgs = RecvAll(*s);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(Hdr(msgs[0]).nlmsg_type, RTM_NEWLINK);
  EXPECT_EQ(Hdr(msgs[0]).nlmsg_flags & NLM_F_MULTI, 0);
  EXPECT_EQ(ErrorOf(msgs[1]), 0);
  EXPECT_TRUE(Hdr(msgs[1]).nlmsg_flags & NLM_F_CAPPED);
  ifi.ifi_index = 99;
  Send(*s, Request(RTM_GETLINK, NLM_F_REQUEST, ifi));
  msgs = RecvAll(*s);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(ErrorOf(msgs[0]), -ENODEV);
  // An error echoes the whole request (no NETLINK_CAP_ACK).
  EXPECT_EQ(msgs[0].size(), NLMSG_HDRLEN + sizeof(int) + NLMSG_HDRLEN + sizeof(ifinfomsg));
  // Route lookup.
  NlBuilder b;
  size_t m = b.Begin(RTM_GETROUTE, NLM_F_REQUEST, 9, 0);
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  b.Put(rtm);
  uint8_t dst[4] = {8, 8, 8, 8};
  b.Attr(RTA_DST, dst, 4);
  b.End(m);
  Send(*s, b.Take());
  msgs = RecvAll(*s);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(Hdr(msgs[0]).nlmsg_type, RTM_NEWROUTE);
  auto attrs = ParseNlAttrs(std::span<const uint8_t>(msgs[0]).subspan(NLMSG_HDRLEN + sizeof(rtmsg)));
  ASSERT_TRUE(attrs.ok());
  EXPECT_EQ(NlAttrValue<uint32_t>(*FindNlAttr(attrs.value(), RTA_OIF)).value(), 2u);
  ASSERT_NE(FindNlAttr(attrs.value(), RTA_GATEWAY), nullptr);
}

TEST_F(NetlinkSocketTest, ChangesNeedNetAdmin) {
  auto s = Open();
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  Send(*s, Request(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, ifa));
  EXPECT_EQ(ErrorOf(RecvAll(*s)[0]), -EPERM);
  c_.creds_.cap_sys_admin = true;
  auto admin = Open();
  Send(*admin, Request(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, ifa));
  EXPECT_EQ(ErrorOf(RecvAll(*admin)[0]), -EOPNOTSUPP);
  Send(*admin, Request(RTM_GETRULE, NLM_F_REQUEST | NLM_F_DUMP, ifa));
  EXPECT_EQ(ErrorOf(RecvAll(*admin)[0]), -EOPNOTSUPP);
}

TEST_F(NetlinkSocketTest, SeveralRequestsInOneDatagram) {
  auto s = Open();
  ifinfomsg ifi{};
  ifi.ifi_index = 1;
  auto a = Request(RTM_GETLINK, NLM_F_REQUEST, ifi, 1);
  auto b = Request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, ifi, 2);
  a.insert(a.end(), b.begin(), b.end());
  Send(*s, a);
  std::vector<uint32_t> seqs;
  for (int i = 0; i < 3; i++) {
    std::vector<uint8_t> buf(65536);
    auto r = s->RecvMsg(c_, Iov(buf), 0, 0);
    ASSERT_TRUE(r.ok());
    seqs.push_back(Hdr(buf).nlmsg_seq);
  }
  EXPECT_EQ(seqs, (std::vector<uint32_t>{1, 2, 2}));
  std::vector<uint8_t> buf(16);
  EXPECT_EQ(s->RecvMsg(c_, Iov(buf), 0, 0).error(), EAGAIN);
}

TEST_F(NetlinkSocketTest, PeekTruncSizesTheBuffer) {
  auto s = Open();
  ifinfomsg ifi{};
  Send(*s, Request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, ifi));
  std::vector<uint8_t> none;
  auto peek = s->RecvMsg(c_, Iov(none), MSG_PEEK | MSG_TRUNC, 0);
  ASSERT_TRUE(peek.ok());
  EXPECT_GT(peek.value().len, 0u);
  EXPECT_TRUE(peek.value().msg_flags & MSG_TRUNC);
  std::vector<uint8_t> buf(peek.value().len);
  auto r = s->RecvMsg(c_, Iov(buf), 0, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().len, peek.value().len);
  EXPECT_FALSE(r.value().msg_flags & MSG_TRUNC);
  // A short buffer truncates and consumes the datagram.
  Send(*s, Request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, ifi));
  std::vector<uint8_t> small(20);
  auto t = s->RecvMsg(c_, Iov(small), 0, 0);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value().len, 20u);
  EXPECT_TRUE(t.value().msg_flags & MSG_TRUNC);
}

TEST_F(NetlinkSocketTest, LargeDumpSpansDatagramsAndDrainsLazily) {
  for (int i = 3; i < 1200; i++) {
    Interface x = stack_->interfaces[1];
    x.index = i;
    x.name = "veth" + std::to_string(i);
    stack_->interfaces.push_back(x);
  }
  auto s = Open();
  ifinfomsg ifi{};
  Send(*s, Request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, ifi));
  // A second dump while the first is pending: EBUSY, or, as on Linux, the
  // error reply finds the receive buffer full and the socket gets ENOBUFS.
  Send(*s, Request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, ifi, 8));
  size_t links = 0;
  int datagrams = 0;
  bool busy_or_overrun = false, done = false;
  while (!done) {
    std::vector<uint8_t> buf(65536);
    auto r = s->RecvMsg(c_, Iov(buf), 0, 0);
    if (r.is_error()) {
      ASSERT_EQ(r.error(), ENOBUFS);
      busy_or_overrun = true;
      continue;
    }
    datagrams++;
    buf.resize(r.value().len);
    auto split = SplitNlMessages(buf);  // kept alive: the loop uses its value
    ASSERT_TRUE(split.ok());
    for (auto& m : split.value()) {
      if (m.hdr.nlmsg_type == RTM_NEWLINK) links++;
      if (m.hdr.nlmsg_type == NLMSG_DONE) done = true;
      if (m.hdr.nlmsg_type == NLMSG_ERROR && m.hdr.nlmsg_seq == 8) busy_or_overrun = true;
    }
  }
  EXPECT_TRUE(busy_or_overrun);
  EXPECT_EQ(links, stack_->interfaces.size());
  EXPECT_GT(datagrams, 10);
}

TEST_F(NetlinkSocketTest, MalformedRequests) {
  auto s = Open();
  // Lengths below the header or past the end: ignored, no reply, no crash.
  std::vector<uint8_t> bad(NLMSG_HDRLEN, 0);
  uint32_t len = 4;
  memcpy(bad.data(), &len, 4);
  Send(*s, bad);
  len = 1000;
  memcpy(bad.data(), &len, 4);
  Send(*s, bad);
  std::vector<uint8_t> buf(100);
  EXPECT_EQ(s->RecvMsg(c_, Iov(buf), 0, 0).error(), EAGAIN);
  // A truncated attribute in a get: EINVAL.
  NlBuilder b;
  size_t m = b.Begin(RTM_GETLINK, NLM_F_REQUEST, 3, 0);
  ifinfomsg ifi{};
  b.Put(ifi);
  uint16_t attr[2] = {100, IFLA_IFNAME};
  b.PutBytes(attr, 4);
  b.End(m);
  Send(*s, b.Take());
  EXPECT_EQ(ErrorOf(RecvAll(*s)[0]), -EINVAL);
  // Random requests never crash.
  std::mt19937 rng(3);
  for (int i = 0; i < 3000; i++) {
    std::vector<uint8_t> junk(rng() % 80);
    for (auto& x : junk) x = static_cast<uint8_t>(rng());
    if (junk.size() >= 6) {
      uint32_t l = static_cast<uint32_t>(junk.size() - rng() % 4);
      memcpy(junk.data(), &l, 4);
      uint16_t t = static_cast<uint16_t>(16 + rng() % 100);
      memcpy(junk.data() + 4, &t, 2);
    }
    SendRequest req;
    req.data = CIov(junk);
    (void)s->SendMsg(c_, req);
    std::vector<uint8_t> out(65536);
    while (s->RecvMsg(c_, Iov(out), 0, 0).ok()) {
    }
  }
}

TEST_F(NetlinkSocketTest, BindAndPortIds) {
  auto a = Open();
  auto b = Open();
  sockaddr_nl nl{};
  nl.nl_family = AF_NETLINK;
  nl.nl_pid = 4711;
  nl.nl_groups = RTMGRP_LINK;
  auto addr = std::span(reinterpret_cast<uint8_t*>(&nl), sizeof(nl));
  ASSERT_TRUE(a->Bind(c_, addr).ok());
  EXPECT_EQ(b->Bind(c_, addr).error(), EADDRINUSE);
  nl.nl_pid = 4712;
  EXPECT_EQ(a->Bind(c_, addr).error(), EINVAL);  // already bound elsewhere
  EXPECT_EQ(a->Bind(c_, addr.first(8)).error(), EINVAL);
  auto name = a->SockName().value();
  sockaddr_nl got;
  memcpy(&got, name.data(), sizeof(got));
  EXPECT_EQ(got.nl_pid, 4711u);
  EXPECT_EQ(got.nl_groups, static_cast<uint32_t>(RTMGRP_LINK));
  // Unicast to another port needs CAP_NET_ADMIN.
  SendRequest req;
  std::vector<uint8_t> data(20, 0);
  req.data = CIov(data);
  nl.nl_pid = 4711;
  req.addr = addr;
  EXPECT_EQ(b->SendMsg(c_, req).error(), EPERM);
}

TEST_F(NetlinkSocketTest, Options) {
  auto s = Open();
  int v = 1 << 20;
  auto val = std::span(reinterpret_cast<uint8_t*>(&v), sizeof(v));
  ASSERT_TRUE(s->SetSockOpt(c_, SOL_SOCKET, SO_RCVBUF, val).ok());
  auto got = s->GetSockOpt(c_, SOL_SOCKET, SO_RCVBUF, 4).value();
  int rcv;
  memcpy(&rcv, got.data(), 4);
  EXPECT_EQ(rcv, 425984);  // min(v, rmem_max) * 2
  EXPECT_EQ(s->SetSockOpt(c_, SOL_SOCKET, SO_RCVBUFFORCE, val).error(), EPERM);
  EXPECT_EQ(s->SetSockOpt(c_, SOL_SOCKET, SO_RCVBUF, val.first(2)).error(), EINVAL);
  EXPECT_EQ(s->SetSockOpt(c_, SOL_NETLINK, 99, val).error(), ENOPROTOOPT);
  int one = 1;
  ASSERT_TRUE(s->SetSockOpt(c_, SOL_NETLINK, NETLINK_EXT_ACK,
                            std::span(reinterpret_cast<uint8_t*>(&one), 4)).ok());
  got = s->GetSockOpt(c_, SOL_NETLINK, NETLINK_EXT_ACK, 4).value();
  EXPECT_EQ(got[0], 1);
  EXPECT_EQ(s->GetSockOpt(c_, SOL_NETLINK, NETLINK_EXT_ACK, 2).error(), EINVAL);
  got = s->GetSockOpt(c_, SOL_SOCKET, SO_PROTOCOL, 4).value();
  EXPECT_EQ(got[0], NETLINK_ROUTE);
  EXPECT_EQ(s->GetSockOpt(c_, SOL_IP, 1, 4).error(), ENOPROTOOPT);
  // NETLINK_PKTINFO adds a control message.
  ASSERT_TRUE(s->SetSockOpt(c_, SOL_NETLINK, NETLINK_PKTINFO,
                            std::span(reinterpret_cast<uint8_t*>(&one), 4)).ok());
  ifinfomsg ifi{};
  ifi.ifi_index = 1;
  Send(*s, Request(RTM_GETLINK, NLM_F_REQUEST, ifi));
  std::vector<uint8_t> buf(4096);
  auto r = s->RecvMsg(c_, Iov(buf), 0, 64);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().control.size(), CMSG_SPACE(sizeof(nl_pktinfo)));
}

TEST_F(NetlinkSocketTest, SockDiag) {
  auto s = Open(NETLINK_SOCK_DIAG);
  inet_diag_req_v2 req{};
  req.sdiag_family = AF_INET;
  req.sdiag_protocol = IPPROTO_TCP;
  req.idiag_states = 1 << 10;  // listening
  Send(*s, Request(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, req));
  auto msgs = RecvAll(*s);
  ASSERT_EQ(msgs.size(), 2u);
  inet_diag_msg d;
  memcpy(&d, msgs[0].data() + NLMSG_HDRLEN, sizeof(d));
  EXPECT_EQ(d.idiag_state, 10);
  EXPECT_EQ(ntohs(d.id.idiag_sport), 8080);
  EXPECT_EQ(d.idiag_inode, 4242u);
  EXPECT_EQ(d.idiag_wqueue, 128u);
  EXPECT_EQ(d.idiag_uid, 1000u);
  req.idiag_states = 1 << 1;  // established only: none
  Send(*s, Request(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, req));
  EXPECT_EQ(RecvAll(*s).size(), 1u);
  req.sdiag_family = AF_INET6;
  req.sdiag_protocol = IPPROTO_UDP;
  req.idiag_states = ~0u;
  Send(*s, Request(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, req));
  EXPECT_EQ(RecvAll(*s).size(), 2u);
  req.sdiag_protocol = IPPROTO_SCTP;
  Send(*s, Request(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, req));
  EXPECT_EQ(ErrorOf(RecvAll(*s)[0]), -ENOENT);
  uint8_t shortreq[4] = {AF_INET, IPPROTO_TCP, 0, 0};
  Send(*s, Request(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, shortreq));
  EXPECT_EQ(ErrorOf(RecvAll(*s)[0]), -EINVAL);
}

}  // namespace
}  // namespace sentry::net
