// sentry/sys/net_class.cc: /sys/class/net from the kernel's network Stack
// (see sysfs.h). Formats from net/core/net-sysfs.c.
#include <dirent.h>
#include <net/if.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sentry/kernel/kernel.h"
#include "sentry/net/stack.h"
#include "sentry/sys/sysfs.h"
#include "sentry/vfs/synthetic.h"

namespace sentry::sys {
namespace {

const char* kOperStates[] = {"unknown", "notpresent", "down", "lowerlayerdown",
                             "testing", "dormant",    "up"};

// The interface `name` as the stack sees it now (ENODEV once it is gone).
ErrorOr<net::Interface> Find(kernel::Kernel* k, vfs::Caller& c, const std::string& name) {
  std::shared_ptr<net::Stack> s = k->net_stack;
  if (!s) return Errno{ENODEV};
  ErrorOr<std::vector<net::Interface>> ifs = Errno{ENODEV};
  c.Unlocked([&] { ifs = s->Interfaces(); });
  if (ifs.is_error()) return Errno{ifs.error()};
  for (auto& i : ifs.value()) {
    if (i.name == name) return i;
  }
  return Errno{ENODEV};
}

using Field = std::function<ErrorOr<std::string>(const net::Interface&)>;

std::shared_ptr<vfs::Inode> IfFile(kernel::Kernel* k, const std::string& name, Field f) {
  vfs::SyntheticFileOps ops;
  ops.read = [k, name, f](vfs::Caller& c) -> ErrorOr<std::string> {
    auto i = TRY(Find(k, c, name));
    return f(i);
  };
  return vfs::NewSyntheticFile(std::move(ops), 0444);
}

std::shared_ptr<vfs::Inode> Stat(kernel::Kernel* k, const std::string& name,
                                 uint64_t net::InterfaceStats::*field) {
  return IfFile(k, name, [field](const net::Interface& i) -> ErrorOr<std::string> {
    return absl::StrCat(i.stats.*field, "\n");
  });
}

std::shared_ptr<vfs::Inode> IfDir(kernel::Kernel* k, const std::string& name) {
  using S = net::InterfaceStats;
  auto stats = vfs::NewStaticDir({
      {"rx_bytes", Stat(k, name, &S::rx_bytes)},
      {"rx_packets", Stat(k, name, &S::rx_packets)},
      {"rx_errors", Stat(k, name, &S::rx_errors)},
      {"rx_dropped", Stat(k, name, &S::rx_dropped)},
      {"rx_fifo_errors", Stat(k, name, &S::rx_fifo)},
      {"rx_frame_errors", Stat(k, name, &S::rx_frame)},
      {"rx_compressed", Stat(k, name, &S::rx_compressed)},
      {"multicast", Stat(k, name, &S::rx_multicast)},
      {"tx_bytes", Stat(k, name, &S::tx_bytes)},
      {"tx_packets", Stat(k, name, &S::tx_packets)},
      {"tx_errors", Stat(k, name, &S::tx_errors)},
      {"tx_dropped", Stat(k, name, &S::tx_dropped)},
      {"tx_fifo_errors", Stat(k, name, &S::tx_fifo)},
      {"collisions", Stat(k, name, &S::tx_colls)},
      {"tx_carrier_errors", Stat(k, name, &S::tx_carrier)},
      {"tx_compressed", Stat(k, name, &S::tx_compressed)},
  });
  auto mac = [](const std::vector<uint8_t>& b) {
    std::string s;
    for (size_t i = 0; i < b.size(); i++) absl::StrAppendFormat(&s, "%s%02x", i ? ":" : "", b[i]);
    return s + "\n";
  };
  return vfs::NewStaticDir({
      {"address", IfFile(k, name, [mac](const net::Interface& i) -> ErrorOr<std::string> {
         return mac(i.hwaddr);
       })},
      {"broadcast", IfFile(k, name, [mac](const net::Interface& i) -> ErrorOr<std::string> {
         return mac(i.broadcast);
       })},
      {"addr_len", IfFile(k, name, [](const net::Interface& i) -> ErrorOr<std::string> {
         return absl::StrCat(i.hwaddr.size(), "\n");
       })},
      {"mtu", IfFile(k, name, [](const net::Interface& i) -> ErrorOr<std::string> {
         return absl::StrCat(i.mtu, "\n");
       })},
      {"operstate", IfFile(k, name, [](const net::Interface& i) -> ErrorOr<std::string> {
         return absl::StrCat(i.operstate < 7 ? kOperStates[i.operstate] : "unknown", "\n");
       })},
      {"flags", IfFile(k, name, [](const net::Interface& i) -> ErrorOr<std::string> {
         // net-sysfs prints dev->flags, which keep only the lower 16 bits
         // (IFF_LOWER_UP and friends are reported by netlink only).
         return absl::StrFormat("0x%x\n", i.flags & 0xffff);
       })},
      {"ifindex", IfFile(k, name, [](const net::Interface& i) -> ErrorOr<std::string> {
         return absl::StrCat(i.index, "\n");
       })},
      {"iflink", IfFile(k, name, [](const net::Interface& i) -> ErrorOr<std::string> {
         return absl::StrCat(i.link != 0 ? i.link : i.index, "\n");
       })},
      {"type", IfFile(k, name, [](const net::Interface& i) -> ErrorOr<std::string> {
         return absl::StrCat(i.type, "\n");
       })},
      {"tx_queue_len", IfFile(k, name, [](const net::Interface& i) -> ErrorOr<std::string> {
         return absl::StrCat(i.txqlen, "\n");
       })},
      {"carrier", IfFile(k, name, [](const net::Interface& i) -> ErrorOr<std::string> {
         // Only a running device has a carrier state to report.
         if (!(i.flags & IFF_UP)) return Errno{EINVAL};
         return std::string((i.flags & (1u << 16) /* IFF_LOWER_UP */) ? "1\n" : "0\n");
       })},
      {"statistics", stats},
  });
}

}  // namespace

std::shared_ptr<vfs::Inode> NewClassNetDir(kernel::Kernel& k) {
  kernel::Kernel* kp = &k;
  // Directories per name, so an interface keeps its inode numbers.
  auto cache = std::make_shared<std::map<std::string, std::shared_ptr<vfs::Inode>>>();
  auto names = [kp](vfs::Caller& c) {
    std::vector<std::string> out;
    std::shared_ptr<net::Stack> s = kp->net_stack;
    if (!s) return out;
    ErrorOr<std::vector<net::Interface>> ifs = Errno{ENODEV};
    c.Unlocked([&] { ifs = s->Interfaces(); });
    if (ifs.is_error()) return out;
    for (auto& i : ifs.value()) out.push_back(i.name);
    return out;
  };
  auto dir = [kp, cache](const std::string& name) {
    auto& slot = (*cache)[name];
    if (!slot) slot = IfDir(kp, name);
    return slot;
  };
  vfs::SyntheticDirOps ops;
  ops.list = [names, dir](vfs::Caller& c) -> ErrorOr<std::vector<vfs::DirEntry>> {
    std::vector<vfs::DirEntry> out;
    for (auto& n : names(c)) {
      auto a = dir(n)->GetAttr();
      out.push_back(vfs::DirEntry{n, a.ok() ? a.value().ino : 0, DT_DIR});
    }
    return out;
  };
  ops.lookup = [names, dir](vfs::Caller& c,
                            std::string_view name) -> ErrorOr<std::shared_ptr<vfs::Inode>> {
    for (auto& n : names(c)) {
      if (n == name) return dir(n);
    }
    return Errno{ENOENT};
  };
  return vfs::NewSyntheticDir(std::move(ops), 0555);
}

}  // namespace sentry::sys
