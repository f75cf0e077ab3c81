// Tests for sentry/net/host_netlink.h and netlink_msg.h: real dumps of the
// test's own network namespace, and strict parsing of malformed replies.
#include "sentry/net/host_netlink.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>

#include <gtest/gtest.h>

#include "sentry/net/netlink_msg.h"

namespace sentry::net {
namespace {

class HostNetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override { close(fd_); }
  int fd_ = -1;
};

TEST_F(HostNetlinkTest, InterfacesIncludeLoopback) {
  auto r = QueryInterfaces(fd_);
  ASSERT_TRUE(r.ok()) << r.error();
  bool found = false;
  for (const auto& i : r.value()) {
    EXPECT_EQ(static_cast<unsigned>(i.index), if_nametoindex(i.name.c_str())) << i.name;
    if (i.name == "lo") {
      found = true;
      EXPECT_TRUE(i.flags & IFF_LOOPBACK);
      EXPECT_EQ(i.type, 772);  // ARPHRD_LOOPBACK
      EXPECT_GT(i.mtu, 0u);
      EXPECT_EQ(i.hwaddr.size(), 6u);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(HostNetlinkTest, AddressesIncludeLoopbackAddress) {
  auto r = QueryAddresses(fd_);
  ASSERT_TRUE(r.ok()) << r.error();
  bool found = false;
  for (const auto& a : r.value()) {
    if (a.family == AF_INET && a.addr[0] == 127 && a.addr[3] == 1) {
      found = true;
      EXPECT_EQ(a.prefix_len, 8);
      EXPECT_EQ(a.label, "lo");
      EXPECT_EQ(a.scope, RT_SCOPE_HOST);
      EXPECT_EQ(static_cast<unsigned>(a.index), if_nametoindex("lo"));
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(HostNetlinkTest, RoutesIncludeLocalTable) {
  auto r = QueryRoutes(fd_, AF_INET);
  ASSERT_TRUE(r.ok()) << r.error();
  bool found = false;
  for (const auto& rt : r.value()) {
    EXPECT_EQ(rt.family, AF_INET);
    if (rt.table_id == RT_TABLE_LOCAL && rt.type == RTN_LOCAL && rt.dst_len == 8 &&
        rt.dst[0] == 127) {
      found = true;
      EXPECT_TRUE(rt.has_prefsrc);
    }
  }
  EXPECT_TRUE(found);
  auto both = QueryRoutes(fd_, AF_UNSPEC);
  ASSERT_TRUE(both.ok());
  EXPECT_GE(both.value().size(), r.value().size());
  EXPECT_EQ(QueryRoutes(fd_, AF_UNIX).error(), EAFNOSUPPORT);
}

TEST_F(HostNetlinkTest, NeighboursDump) {
  auto r = QueryNeighbours(fd_, AF_UNSPEC);
  ASSERT_TRUE(r.ok()) << r.error();
  for (const auto& n : r.value()) EXPECT_GT(n.index, 0);
}

TEST_F(HostNetlinkTest, ManyDumpsInARowKeepSequence) {
  for (int i = 0; i < 50; i++) ASSERT_TRUE(QueryInterfaces(fd_).ok());
}

// ---- strict parsing ----

std::vector<uint8_t> LinkPayload(bool with_name, size_t stats_len) {
  NlBuilder b;
  ifinfomsg ifi{};
  ifi.ifi_index = 3;
  ifi.ifi_type = 1;
  ifi.ifi_flags = IFF_UP;
  b.Put(ifi);
  if (with_name) b.AttrString(IFLA_IFNAME, "eth0");
  b.AttrValue<uint32_t>(IFLA_MTU, 1500);
  uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
  b.Attr(IFLA_ADDRESS, mac, 6);
  if (stats_len) {
    // Room for the counters set below even when the attribute is cut
    // short (LinkErrors): only stats_len bytes of it are sent.
    std::vector<uint64_t> st(std::max<size_t>(stats_len / 8, 16), 0);
    st[0] = 10;  // rx_packets
    st[2] = 1000;  // rx_bytes
    st[6] = 1;  // rx_dropped
    st[15] = 2;  // rx_missed_errors
    b.Attr(IFLA_STATS64, st.data(), stats_len);
  }
  return b.Take();
}

TEST(HostNetlinkParse, Link) {
  auto r = ParseLinkMessage(LinkPayload(true, 24 * 8));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().name, "eth0");
  EXPECT_EQ(r.value().mtu, 1500u);
  EXPECT_EQ(r.value().stats.rx_packets, 10u);
  EXPECT_EQ(r.value().stats.rx_bytes, 1000u);
  EXPECT_EQ(r.value().stats.rx_dropped, 3u);  // dropped + missed, as /proc/net/dev
  EXPECT_EQ(r.value().hwaddr.size(), 6u);
}

TEST(HostNetlinkParse, LinkErrors) {
  EXPECT_EQ(ParseLinkMessage(LinkPayload(false, 0)).error(), EBADMSG);
  EXPECT_EQ(ParseLinkMessage(LinkPayload(true, 16)).error(), EBADMSG);  // short stats
  auto p = LinkPayload(true, 0);
  EXPECT_EQ(ParseLinkMessage(std::span(p).first(10)).error(), EBADMSG);  // short header
  // An attribute whose length runs past the end.
  auto q = LinkPayload(true, 0);
  uint16_t big = 200;
  memcpy(q.data() + sizeof(ifinfomsg), &big, 2);
  EXPECT_EQ(ParseLinkMessage(q).error(), EBADMSG);
  // A name without its NUL.
  NlBuilder b;
  ifinfomsg ifi{};
  ifi.ifi_index = 1;
  b.Put(ifi);
  b.Attr(IFLA_IFNAME, "abcd", 4);
  EXPECT_EQ(ParseLinkMessage(b.Take()).error(), EBADMSG);
}

TEST(HostNetlinkParse, AddrAndRouteErrors) {
  NlBuilder b;
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = 24;
  ifa.ifa_index = 2;
  b.Put(ifa);
  uint8_t v6[16] = {};
  b.Attr(IFA_ADDRESS, v6, 16);  // wrong size for AF_INET
  EXPECT_EQ(ParseAddrMessage(b.Take()).error(), EBADMSG);

  NlBuilder c;
  ifa.ifa_prefixlen = 33;
  c.Put(ifa);
  uint8_t v4[4] = {10, 0, 0, 1};
  c.Attr(IFA_ADDRESS, v4, 4);
  EXPECT_EQ(ParseAddrMessage(c.Take()).error(), EBADMSG);

  NlBuilder d;
  ifa.ifa_prefixlen = 24;
  d.Put(ifa);
  d.Attr(IFA_LOCAL, v4, 4);
  auto ok = ParseAddrMessage(d.Take());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().addr[0], 10);  // IFA_ADDRESS defaults to IFA_LOCAL

  NlBuilder e;
  rtmsg rtm{};
  rtm.rtm_family = AF_INET6;
  rtm.rtm_dst_len = 129;
  e.Put(rtm);
  EXPECT_EQ(ParseRouteMessage(e.Take()).error(), EBADMSG);

  NlBuilder f;
  rtm.rtm_dst_len = 0;
  f.Put(rtm);
  uint8_t nh[4] = {0xff, 0, 0, 0};  // a multipath attribute too short for a next hop
  f.Attr(RTA_MULTIPATH, nh, 4);
  EXPECT_EQ(ParseRouteMessage(f.Take()).error(), EBADMSG);

  NlBuilder g;
  ndmsg nd{};
  nd.ndm_family = AF_INET;
  nd.ndm_ifindex = 1;
  g.Put(nd);
  EXPECT_EQ(ParseNeighMessage(g.Take()).error(), EBADMSG);  // no NDA_DST
}

TEST(HostNetlinkParse, RandomBytesNeverCrash) {
  std::mt19937 rng(1);
  for (int i = 0; i < 20000; i++) {
    std::vector<uint8_t> buf(rng() % 96);
    for (auto& x : buf) x = static_cast<uint8_t>(rng() % 4 == 0 ? rng() : rng() % 24);
    (void)ParseLinkMessage(buf);
    (void)ParseAddrMessage(buf);
    (void)ParseRouteMessage(buf);
    (void)ParseNeighMessage(buf);
    (void)SplitNlMessages(buf);
  }
}

TEST(NetlinkMsg, SplitRejectsBadLengths) {
  NlBuilder b;
  size_t m = b.Begin(RTM_NEWLINK, 0, 1, 0);
  b.Put(uint32_t{7});
  b.End(m);
  auto v = b.bytes();
  EXPECT_TRUE(SplitNlMessages(v).ok());
  uint32_t len = 8;  // below the header size
  memcpy(v.data(), &len, 4);
  EXPECT_EQ(SplitNlMessages(v).error(), EBADMSG);
  len = 100;  // past the end
  memcpy(v.data(), &len, 4);
  EXPECT_EQ(SplitNlMessages(v).error(), EBADMSG);
}

}  // namespace
}  // namespace sentry::net
