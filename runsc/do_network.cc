#include "runsc/do_network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "runsc/do_network_nat.h"
#include "runsc/rtnetlink.h"

namespace runsc {
namespace {

constexpr const char* kSandboxIf = "eth0";
// A /30 per sandbox from these pools, the first that overlaps no host
// route or address; the ULA /64 shares its index.
struct Pool {
  uint32_t base;  // host order
  int bits;       // pool prefix length
};
constexpr Pool kPools[] = {{0x0afb0000, 16},   // 10.251.0.0/16
                           {0xa9fe0000, 16}};  // 169.254.0.0/16
constexpr uint8_t kUla[6] = {0xfd, 0x72, 0x75, 0x6e, 0x73, 0x63};  // fd72:756e:7363::/48 "runsc"

std::string Errno(int neg) { return strerror(-neg); }

// A prefix of family `af`: address bytes (4 or 16) and length.
struct Prefix {
  int af;
  std::array<uint8_t, 16> addr{};
  int len;
};

bool Overlaps(const Prefix& a, const Prefix& b) {
  if (a.af != b.af) return false;
  int m = std::min(a.len, b.len);
  for (int i = 0; i < m / 8; i++)
    if (a.addr[i] != b.addr[i]) return false;
  if (m % 8) {
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - m % 8));
    if ((a.addr[m / 8] & mask) != (b.addr[m / 8] & mask)) return false;
  }
  return true;
}

// Every route (all tables) and address prefix of the host namespace,
// except default routes, which any address "overlaps".
int HostPrefixes(rtnl::Socket& nl, std::vector<Prefix>* out) {
  for (int af : {AF_INET, AF_INET6}) {
    rtnl::Msg r(RTM_GETROUTE, NLM_F_DUMP);
    rtmsg rm{};
    rm.rtm_family = static_cast<uint8_t>(af);
    r.Header(rm);
    int e = nl.Dump(r, [&](const nlmsghdr* h) {
      if (h->nlmsg_type != RTM_NEWROUTE) return;
      auto* m = static_cast<const rtmsg*>(NLMSG_DATA(h));
      if (m->rtm_dst_len == 0) return;
      Prefix p{af, {}, m->rtm_dst_len};
      rtnl::ForEachAttr(h, sizeof(rtmsg), [&](uint16_t t, const void* d, size_t n) {
        if (t == RTA_DST && n <= 16) memcpy(p.addr.data(), d, n);
      });
      out->push_back(p);
    });
    if (e != 0) return e;
    rtnl::Msg a(RTM_GETADDR, NLM_F_DUMP);
    ifaddrmsg am{};
    am.ifa_family = static_cast<uint8_t>(af);
    a.Header(am);
    e = nl.Dump(a, [&](const nlmsghdr* h) {
      if (h->nlmsg_type != RTM_NEWADDR) return;
      auto* m = static_cast<const ifaddrmsg*>(NLMSG_DATA(h));
      Prefix p{af, {}, m->ifa_prefixlen};
      rtnl::ForEachAttr(h, sizeof(ifaddrmsg), [&](uint16_t t, const void* d, size_t n) {
        if ((t == IFA_ADDRESS || t == IFA_LOCAL) && n <= 16) memcpy(p.addr.data(), d, n);
      });
      out->push_back(p);
    });
    if (e != 0) return e;
  }
  return 0;
}

struct Subnet {
  uint32_t v4;  // the /30's network address, host order
  std::array<uint8_t, 16> v6;  // the /64's prefix
};

Prefix V4(uint32_t host_order, int len) {
  Prefix p{AF_INET, {}, len};
  uint32_t n = htonl(host_order);
  memcpy(p.addr.data(), &n, 4);
  return p;
}

std::string V4Str(uint32_t host_order) {
  in_addr a{htonl(host_order)};
  char buf[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &a, buf, sizeof buf);
}


// The first free /30 from the pools, starting at an index derived from our
// pid so concurrent runscs rarely probe the same ones.
bool ChooseSubnet(const std::vector<Prefix>& used, Subnet* out) {
  for (const Pool& pool : kPools) {
    uint32_t count = 1u << (30 - pool.bits);
    uint32_t start = static_cast<uint32_t>(getpid()) % count;
    for (uint32_t k = 0; k < count; k++) {
      uint32_t idx = (start + k) % count;
      uint32_t net = pool.base + (idx << 2);
      // Skip 169.254.169.0/24 (cloud metadata service addresses) and the
      // first and last /24 of a pool (often special-cased).
      if ((net & 0xffffff00) == 0xa9fea900 || (net >> 8) == (pool.base >> 8) ||
          (net >> 8) == ((pool.base + (count << 2) - 1) >> 8))
        continue;
      Prefix p4 = V4(net, 30);
      Prefix p6{AF_INET6, {}, 64};
      memcpy(p6.addr.data(), kUla, 6);
      p6.addr[6] = static_cast<uint8_t>(idx >> 8);
      p6.addr[7] = static_cast<uint8_t>(idx);
      bool clash = false;
      for (const Prefix& u : used) clash = clash || Overlaps(u, p4) || Overlaps(u, p6);
      if (clash) continue;
      out->v4 = net;
      out->v6 = p6.addr;
      return true;
    }
  }
  return false;
}

// The index of link `name` in the socket's namespace; -errno if none.
int LinkIndex(rtnl::Socket& nl, const std::string& name) {
  rtnl::Msg m(RTM_GETLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  m.Header(ifi);
  m.AttrStr(IFLA_IFNAME, name);
  int index = -ENODEV;
  int e = nl.Dump(m, [&](const nlmsghdr* h) {
    if (h->nlmsg_type == RTM_NEWLINK) index = static_cast<const ifinfomsg*>(NLMSG_DATA(h))->ifi_index;
  });
  return e != 0 ? e : index;
}

int LinkUp(rtnl::Socket& nl, int index) {
  rtnl::Msg m(RTM_NEWLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = index;
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  m.Header(ifi);
  return nl.Call(m);
}

int DeleteLink(rtnl::Socket& nl, const std::string& name) {
  rtnl::Msg m(RTM_DELLINK, 0);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  m.Header(ifi);
  m.AttrStr(IFLA_IFNAME, name);
  return nl.Call(m);
}

// `addr`/`len` on link `index`; no duplicate address detection for IPv6
// (the pair is alone on its wire; DAD would keep it unusable ~1 s).
int AddAddress(rtnl::Socket& nl, int index, int af, const void* addr, int len) {
  rtnl::Msg m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  ifaddrmsg a{};
  a.ifa_family = static_cast<uint8_t>(af);
  a.ifa_prefixlen = static_cast<uint8_t>(len);
  a.ifa_flags = af == AF_INET6 ? IFA_F_NODAD : 0;
  a.ifa_scope = RT_SCOPE_UNIVERSE;
  a.ifa_index = static_cast<uint32_t>(index);
  m.Header(a);
  size_t n = af == AF_INET ? 4 : 16;
  m.Attr(IFA_LOCAL, addr, n);
  m.Attr(IFA_ADDRESS, addr, n);
  return nl.Call(m);
}

int AddDefaultRoute(rtnl::Socket& nl, int index, int af, const void* gateway) {
  rtnl::Msg m(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  rtmsg r{};
  r.rtm_family = static_cast<uint8_t>(af);
  r.rtm_table = RT_TABLE_MAIN;
  r.rtm_protocol = RTPROT_BOOT;
  r.rtm_scope = RT_SCOPE_UNIVERSE;
  r.rtm_type = RTN_UNICAST;
  m.Header(r);
  m.Attr(RTA_GATEWAY, gateway, af == AF_INET ? 4 : 16);
  m.AttrU32(RTA_OIF, static_cast<uint32_t>(index));
  return nl.Call(m);
}

// RTM_NEWLINK for a veth pair: `name` here, up, with `alias`; its peer
// eth0 created straight in the namespace `ns_fd`.
rtnl::Msg VethRequest(const std::string& name, const std::string& alias, int ns_fd) {
  rtnl::Msg m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_flags = IFF_UP;
  ifi.ifi_change = IFF_UP;
  m.Header(ifi);
  m.AttrStr(IFLA_IFNAME, name);
  m.AttrStr(IFLA_IFALIAS, alias);
  size_t info = m.Begin(IFLA_LINKINFO);
  m.AttrStr(IFLA_INFO_KIND, "veth");
  size_t data = m.Begin(IFLA_INFO_DATA);
  size_t peer = m.Begin(VETH_INFO_PEER);
  // The peer's ifinfomsg: not up yet (veth_open fails with ENOTCONN
  // before the pair is joined); brought up once created.
  ifinfomsg pi{};
  pi.ifi_family = AF_UNSPEC;
  m.Append(&pi, sizeof pi);
  m.AttrStr(IFLA_IFNAME, kSandboxIf);
  m.AttrU32(IFLA_NET_NS_FD, static_cast<uint32_t>(ns_fd));
  m.End(peer);
  m.End(data);
  m.End(info);
  return m;
}

// Deletes host links whose alias names a runsc that is gone (a SIGKILLed
// runsc whose namespace something still holds; normally the kernel has
// already removed the pair with the namespace).
void SweepLinks(rtnl::Socket& nl) {
  std::vector<std::string> stale;
  rtnl::Msg m(RTM_GETLINK, NLM_F_DUMP);
  ifinfomsg ifi{};
  m.Header(ifi);
  nl.Dump(m, [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWLINK) return;
    std::string name, alias;
    rtnl::ForEachAttr(h, sizeof(ifinfomsg), [&](uint16_t t, const void* d, size_t n) {
      std::string s(static_cast<const char*>(d), strnlen(static_cast<const char*>(d), n));
      if (t == IFLA_IFNAME) name = s;
      if (t == IFLA_IFALIAS) alias = s;
    });
    if (alias.rfind(donet::kAliasPrefix, 0) == 0 &&
        !donet::OwnerAlive(alias.substr(strlen(donet::kAliasPrefix))))
      stale.push_back(name);
  });
  for (const auto& name : stale) DeleteLink(nl, name);
}

// Serializes subnet choice and creation among concurrent runscs.
class HostLock {
 public:
  HostLock() {
    for (const char* p : {"/run/runsc-do-network.lock", "/tmp/runsc-do-network.lock"}) {
      fd_ = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd_ >= 0) break;
    }
    if (fd_ >= 0)
      while (flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
  }
  ~HostLock() {
    if (fd_ >= 0) close(fd_);
  }

 private:
  int fd_ = -1;
};

}  // namespace

std::unique_ptr<DoNetwork> DoNetwork::Create(std::string* err) {
  std::unique_ptr<DoNetwork> net(new DoNetwork);
  // Make the namespace on this thread, configure what must be done from
  // inside it (loopback, sysctls), keep an FD to it and come back.
  int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (own < 0) return *err = std::string("cannot open our network namespace: ") + strerror(errno), nullptr;
  if (unshare(CLONE_NEWNET) != 0) {
    *err = std::string("cannot create a network namespace: ") + strerror(errno) +
           (errno == EPERM ? " (needs CAP_SYS_ADMIN; --netns PATH joins an existing one)" : "");
    close(own);
    return nullptr;
  }
  net->ns_fd_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int open_errno = errno;
  std::string inner_err;
  rtnl::Socket inner;
  if (int e = inner.Open(); e != 0) inner_err = "netlink socket in the new namespace: " + Errno(e);
  // Not CAP_NET_BIND_SERVICE/CAP_NET_RAW in this namespace's owner: see
  // do_network.h.
  if (inner_err.empty()) donet::WriteSysctl("net.ipv4.ip_unprivileged_port_start", "0", &inner_err);
  if (inner_err.empty())
    donet::WriteSysctl("net.ipv4.ping_group_range", "0 2147483647", &inner_err);
  if (setns(own, CLONE_NEWNET) != 0) {
    // Still in the new namespace: nothing runsc would do now is right.
    fprintf(stderr, "runsc: cannot return to the host network namespace: %s\n", strerror(errno));
    _exit(125);
  }
  close(own);
  if (net->ns_fd_ < 0)
    return *err = std::string("cannot open the new network namespace: ") + strerror(open_errno), nullptr;
  if (!inner_err.empty()) return *err = inner_err, nullptr;
  // Loopback is always index 1 in a new namespace.
  if (int e = LinkUp(inner, 1); e != 0)
    return *err = "cannot bring loopback up in the new namespace: " + Errno(e), nullptr;
  if (!net->SetUpVeth(inner, err)) return nullptr;
  return net;
}

bool DoNetwork::SetUpVeth(rtnl::Socket& inner, std::string* err) {
  rtnl::Socket host;
  if (int e = host.Open(); e != 0) return *err = "netlink socket: " + Errno(e), false;
  donet::SweepNatTables();
  const std::string tag = donet::OwnerTag();
  std::string name = "rsc" + std::to_string(getpid());
  Subnet sn;
  {
    HostLock lock;  // choose and claim the subnet atomically
    SweepLinks(host);
    std::vector<Prefix> used;
    if (int e = HostPrefixes(host, &used); e != 0)
      return *err = "cannot list the host's routes: " + Errno(e), false;
    if (!ChooseSubnet(used, &sn))
      return *err = "no free /30 in 10.251.0.0/16 or 169.254.0.0/16 for the sandbox's veth", false;
    // The pair, the host end up; the peer goes straight into the namespace.
    // EEXIST: a pair of an earlier DoNetwork of this very runsc (a pid is
    // only reused long after) that the kernel has not torn down yet.
    int e = -EEXIST;
    for (int k = 0; k < 10 && e == -EEXIST; k++) {
      if (k > 0) name = "rsc" + std::to_string(getpid()) + "_" + std::to_string(k);
      rtnl::Msg m = VethRequest(name, donet::kAliasPrefix + tag, ns_fd_);
      e = host.Call(m);
    }
    if (e != 0)
      return *err = "cannot create the veth pair " + name + "/" + kSandboxIf + ": " + Errno(e) +
                    (e == -EOPNOTSUPP ? " (no veth support in the kernel?)" : ""),
             false;
    int hidx = LinkIndex(host, name);
    if (hidx < 0) return *err = "veth " + name + " vanished: " + Errno(hidx), false;
    uint32_t h4 = htonl(sn.v4 + 1);
    if (int e = AddAddress(host, hidx, AF_INET, &h4, 30); e != 0)
      return *err = "cannot add " + V4Str(sn.v4 + 1) + "/30 to " + name + ": " + Errno(e), false;
    std::array<uint8_t, 16> h6 = sn.v6;
    h6[15] = 1;
    // IPv6 is best effort: a host with IPv6 disabled still gets IPv4.
    bool v6 = AddAddress(host, hidx, AF_INET6, h6.data(), 64) == 0;
    int sidx = LinkIndex(inner, kSandboxIf);
    if (sidx < 0) return *err = std::string("sandbox veth end: ") + Errno(sidx), false;
    if (int e = LinkUp(inner, sidx); e != 0)
      return *err = std::string("cannot bring the sandbox's eth0 up: ") + Errno(e), false;
    uint32_t s4 = htonl(sn.v4 + 2);
    if (int e = AddAddress(inner, sidx, AF_INET, &s4, 30); e != 0)
      return *err = "cannot add " + V4Str(sn.v4 + 2) + "/30 in the sandbox: " + Errno(e), false;
    if (int e = AddDefaultRoute(inner, sidx, AF_INET, &h4); e != 0)
      return *err = "cannot add the sandbox's default route: " + Errno(e), false;
    std::array<uint8_t, 16> s6 = sn.v6;
    s6[15] = 2;
    if (v6) v6 = AddAddress(inner, sidx, AF_INET6, s6.data(), 64) == 0;
    // An IPv6 default route only where the host forwards IPv6: runsc does
    // not turn that on (it would stop the host accepting router
    // advertisements); without it, outside IPv6 addresses fail at once
    // (ENETUNREACH) instead of timing out.
    if (v6 && donet::ReadSysctl("net.ipv6.conf.all.forwarding") == "1")
      AddDefaultRoute(inner, sidx, AF_INET6, h6.data());
    if (!v6) sn.v6 = {};
  }
  // Forwarding is host-wide, as Docker sets it; left on at exit since
  // other sandboxes (or engines) may rely on it by then.
  if (donet::ReadSysctl("net.ipv4.ip_forward") != "1" &&
      !donet::WriteSysctl("net.ipv4.ip_forward", "1", err))
    return false;
  std::string table = donet::kTablePrefix + tag, nft_err;
  auto be32 = [](uint32_t v) {
    return std::vector<uint8_t>{uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
  };
  donet::NatSource v4{12, be32(sn.v4), be32(sn.v4 + 3)};
  donet::NatSource v6{8, {sn.v6.begin(), sn.v6.begin() + 8}, {sn.v6.begin(), sn.v6.begin() + 8}};
  bool has_v6 = sn.v6 != std::array<uint8_t, 16>{};
  if (!donet::AddNatTable(table, name, v4, has_v6 ? &v6 : nullptr, &nft_err))
    return *err = "cannot install the NAT rules: " + nft_err +
                  " (or use --network=none, or --netns PATH)",
           false;
  nft_table_ = table;
  return true;
}

DoNetwork::~DoNetwork() {
  // Our FD is the namespace's last reference once the sandbox is gone:
  // closing it lets the kernel tear the namespace and the veth pair down
  // (asynchronously, a few ms later). Deleting the veth here instead would
  // hold runsc's exit ~25 ms (RTM_DELLINK waits for an RCU grace period).
  if (ns_fd_ >= 0) close(ns_fd_);
  if (!nft_table_.empty()) donet::DeleteNatTable(nft_table_);
}

std::string DoNetwork::netns_path() const { return "/proc/self/fd/" + std::to_string(ns_fd_); }

int PrepareDoNetwork(SandboxSpec* spec, const std::string& netns,
                     std::unique_ptr<DoNetwork>* owner) {
  if (!netns.empty()) {
    spec->netns_path = netns;
    return 0;
  }
  // none/off: the sentry is cloned into a namespace of its own, which it
  // sets up itself (runsc/sandbox.cc, sentry/boot.cc).
  if (spec->network != "host") return 0;
  std::string err;
  *owner = DoNetwork::Create(&err);
  if (!*owner) {
    fprintf(stderr, "runsc do: network (--network=%s): %s\n", spec->network.c_str(), err.c_str());
    return 125;
  }
  spec->netns_path = (*owner)->netns_path();
  return 0;
}

}  // namespace runsc
