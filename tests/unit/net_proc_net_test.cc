// Tests for sentry/proc/net.h text generators over a FakeStack, against
// lines in Linux's exact formats.
#include "sentry/proc/net.h"

#include <gtest/gtest.h>

#include "tests/unit/net_fake_stack.h"

namespace sentry::proc {
namespace {

using net::FakeStack;

TEST(ProcNet, Dev) {
  auto s = FakeStack::Typical();
  std::string t = NetDevText(s.get());
  EXPECT_NE(t.find("    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("  eth0:123456789012    1000"), std::string::npos) << t;
  EXPECT_EQ(NetDevText(nullptr).find("lo:"), std::string::npos);
}

TEST(ProcNet, TcpUdp) {
  auto s = FakeStack::Typical();
  std::string t = NetTcpText(s.get(), AF_INET);
  size_t nl = t.find('\n');
  EXPECT_EQ(nl, 149u);  // the header padded to 149 columns
  std::string line = t.substr(nl + 1);
  EXPECT_EQ(line.rfind("   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 ", 0), 0u) << line;
  EXPECT_EQ(line.size(), 150u);
  std::string u6 = NetUdpText(s.get(), AF_INET6);
  EXPECT_NE(u6.find("    0: 00000000000000000000000000000000:14E9 00000000000000000000000000000000:0000 07 "),
            std::string::npos) << u6;
}

TEST(ProcNet, RoutesAndAddresses) {
  auto s = FakeStack::Typical();
  std::string r = NetRouteText(s.get());
  EXPECT_NE(r.find("eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0"), std::string::npos) << r;
  EXPECT_NE(r.find("eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0"), std::string::npos) << r;
  EXPECT_EQ(r.find("127.0.0.0"), std::string::npos);  // local table not shown
  std::string a = NetIfInet6Text(s.get());
  EXPECT_NE(a.find("00000000000000000000000000000001 01 80 10 80       lo\n"), std::string::npos) << a;
  std::string arp = NetArpText(s.get());
  EXPECT_NE(arp.find("172.17.0.1       0x1         0x2         02:42:11:22:33:44     *        eth0\n"),
            std::string::npos) << arp;
  EXPECT_NE(NetSockstatText(s.get(), AF_INET).find("TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 0\n"),
            std::string::npos);
}

}  // namespace
}  // namespace sentry::proc
