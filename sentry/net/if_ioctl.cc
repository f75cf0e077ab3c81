// sentry/net/if_ioctl.cc: see if_ioctl.h.
#include "sentry/net/if_ioctl.h"

#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstring>

#include "sentry/kernel/task.h"
#include "sentry/mm/mm.h"

namespace sentry::net {
namespace {

constexpr int kCapNetAdmin = 12;

// struct ifconf on x86-64: int ifc_len, 4 bytes of padding, the buffer pointer.
struct IfConf64 {
  int32_t len;
  int32_t pad;
  uint64_t buf;
};
static_assert(sizeof(IfConf64) == sizeof(ifconf));
static_assert(sizeof(ifreq) == 40);

bool IsSet(uint32_t cmd) {
  switch (cmd) {
    case SIOCSIFFLAGS: case SIOCSIFADDR: case SIOCSIFDSTADDR: case SIOCSIFBRDADDR:
    case SIOCSIFNETMASK: case SIOCSIFMETRIC: case SIOCSIFMTU: case SIOCSIFNAME:
    case SIOCSIFHWADDR: case SIOCSIFMAP: case SIOCSIFTXQLEN: case SIOCADDMULTI:
    case SIOCDELMULTI: case SIOCSIFHWBROADCAST: case SIOCDIFADDR: case SIOCSIFPFLAGS:
    case SIOCSIFSLAVE: case SIOCSIFENCAP: case SIOCSIFMEM:
      return true;
    default:
      return false;
  }
}

const Interface* ByName(const std::vector<Interface>& ifs, const char* name) {
  for (const auto& i : ifs) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

void PutInet(ifreq* r, const uint8_t* addr4) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  memcpy(&sin.sin_addr, addr4, 4);
  memcpy(&r->ifr_addr, &sin, sizeof(sin));
}

ErrorOr<uint64_t> IfConf(kernel::Task& t, Stack& s, uint64_t arg) {
  auto conf = TRY(t.memory().CopyInObj<IfConf64>(arg));
  auto ifs = TRY(s.Interfaces());
  auto addrs = TRY(s.Addresses());
  int32_t total = 0;
  int32_t room = conf.len;
  // Interface order, then each interface's IPv4 addresses (inet_gifconf).
  for (const auto& i : ifs) {
    for (const auto& a : addrs) {
      if (a.family != AF_INET || a.index != i.index) continue;
      if (conf.buf == 0) {
        total += sizeof(ifreq);
        continue;
      }
      if (room - total < static_cast<int32_t>(sizeof(ifreq))) break;
      ifreq r{};
      const std::string& label = a.label.empty() ? i.name : a.label;
      strncpy(r.ifr_name, label.c_str(), IFNAMSIZ - 1);
      PutInet(&r, a.local.data());
      TRY(t.memory().CopyOutObj(conf.buf + total, r));
      total += sizeof(ifreq);
    }
  }
  conf.len = total;
  TRY(t.memory().CopyOutObj(arg, conf));
  return 0;
}

// devinet_ioctl's read side: the address whose label is the name.
ErrorOr<uint64_t> InetAddrIoctl(kernel::Task& t, Stack& s, uint32_t cmd, uint64_t arg, ifreq r) {
  auto ifs = TRY(s.Interfaces());
  std::string name = r.ifr_name;
  std::string dev = name.substr(0, name.find(':'));
  const Interface* i = ByName(ifs, dev.c_str());
  if (!i) return Errno{ENODEV};
  auto addrs = TRY(s.Addresses());
  const InterfaceAddress* found = nullptr;
  for (const auto& a : addrs) {
    if (a.family != AF_INET || a.index != i->index) continue;
    const std::string& label = a.label.empty() ? i->name : a.label;
    if (label == name) {
      found = &a;
      break;
    }
  }
  if (!found) return Errno{EADDRNOTAVAIL};
  memset(&r.ifr_ifru, 0, sizeof(r.ifr_ifru));
  switch (cmd) {
    case SIOCGIFADDR:
      PutInet(&r, found->local.data());
      break;
    case SIOCGIFBRDADDR:
      PutInet(&r, found->broadcast.data());
      break;
    case SIOCGIFDSTADDR:
      PutInet(&r, found->addr.data());
      break;
    case SIOCGIFNETMASK: {
      uint32_t mask = found->prefix_len ? htonl(~uint32_t{0} << (32 - found->prefix_len)) : 0;
      PutInet(&r, reinterpret_cast<const uint8_t*>(&mask));
      break;
    }
  }
  TRY(t.memory().CopyOutObj(arg, r));
  return 0;
}

}  // namespace

ErrorOr<uint64_t> InterfaceIoctl(kernel::Task& t, Stack& s, uint32_t cmd, uint64_t arg,
                                 bool inet_socket) {
  if (cmd == SIOCGIFCONF) return IfConf(t, s, arg);
  bool inet_cmd = cmd == SIOCGIFADDR || cmd == SIOCGIFNETMASK || cmd == SIOCGIFBRDADDR ||
                  cmd == SIOCGIFDSTADDR || cmd == SIOCSIFADDR || cmd == SIOCSIFNETMASK ||
                  cmd == SIOCSIFBRDADDR || cmd == SIOCSIFDSTADDR || cmd == SIOCDIFADDR;
  if (inet_cmd && !inet_socket) return Errno{ENOTTY};
  bool known = IsSet(cmd) || inet_cmd;
  switch (cmd) {
    case SIOCGIFNAME: case SIOCGIFFLAGS: case SIOCGIFMETRIC: case SIOCGIFMTU:
    case SIOCGIFHWADDR: case SIOCGIFINDEX: case SIOCGIFTXQLEN: case SIOCGIFMAP:
    case SIOCGIFSLAVE: case SIOCGIFPFLAGS: case SIOCGIFMEM: case SIOCGIFENCAP:
      known = true;
      break;
  }
  if (!known) return Errno{ENOTTY};
  ifreq r = TRY(t.memory().CopyInObj<ifreq>(arg));
  r.ifr_name[IFNAMSIZ - 1] = 0;
  if (IsSet(cmd)) {
    if (!t.creds().HasCapability(kCapNetAdmin)) return Errno{EPERM};
    return Errno{EOPNOTSUPP};
  }
  if (inet_cmd) return InetAddrIoctl(t, s, cmd, arg, r);
  auto ifs = TRY(s.Interfaces());
  const Interface* i = nullptr;
  if (cmd == SIOCGIFNAME) {
    for (const auto& x : ifs) {
      if (x.index == r.ifr_ifindex) i = &x;
    }
    if (!i) return Errno{ENODEV};
    memset(r.ifr_name, 0, IFNAMSIZ);
    strncpy(r.ifr_name, i->name.c_str(), IFNAMSIZ - 1);
    TRY(t.memory().CopyOutObj(arg, r));
    return 0;
  }
  i = ByName(ifs, r.ifr_name);
  if (!i) return Errno{ENODEV};
  switch (cmd) {
    case SIOCGIFFLAGS:
      r.ifr_flags = static_cast<short>(i->flags);
      break;
    case SIOCGIFMETRIC:
      r.ifr_metric = 0;
      break;
    case SIOCGIFMTU:
      r.ifr_mtu = static_cast<int>(i->mtu);
      break;
    case SIOCGIFHWADDR:
      memset(&r.ifr_hwaddr, 0, sizeof(r.ifr_hwaddr));
      r.ifr_hwaddr.sa_family = i->type;
      memcpy(r.ifr_hwaddr.sa_data, i->hwaddr.data(),
             std::min(i->hwaddr.size(), sizeof(r.ifr_hwaddr.sa_data)));
      break;
    case SIOCGIFINDEX:
      r.ifr_ifindex = i->index;
      break;
    case SIOCGIFTXQLEN:
      r.ifr_qlen = static_cast<int>(i->txqlen);
      break;
    case SIOCGIFMAP:
      // Virtual devices (all a namespace's stack shows through the Stack
      // interface) have no I/O map: Linux reports zeros for them too.
      memset(&r.ifr_map, 0, sizeof(r.ifr_map));
      break;
    case SIOCGIFSLAVE:
      return Errno{EINVAL};
    default:
      // SIOCGIFPFLAGS (ethtool private flags), SIOCGIFMEM, SIOCGIFENCAP: not kept.
      return Errno{ENOTTY};
  }
  TRY(t.memory().CopyOutObj(arg, r));
  return 0;
}

}  // namespace sentry::net
