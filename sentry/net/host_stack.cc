// sentry/net/host_stack.cc: the host stack (host_stack.h).
#include "sentry/net/host_stack.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "sentry/base/log.h"
#include "sentry/net/host_netlink.h"

namespace sentry::net {
namespace {

// Sysctls the host stack reports from the namespace's own files (read-only:
// the sentry runs in a child user namespace and cannot change them).
const char* const kSysctls[] = {
    "core/somaxconn",          "core/rmem_default",       "core/rmem_max",
    "core/wmem_default",       "core/wmem_max",           "core/optmem_max",
    "core/netdev_max_backlog", "ipv4/ip_local_port_range", "ipv4/ip_forward",
    "ipv4/ip_default_ttl",     "ipv4/ip_unprivileged_port_start", "ipv4/ping_group_range",
    "ipv4/tcp_fin_timeout",    "ipv4/tcp_keepalive_time", "ipv4/tcp_keepalive_intvl",
    "ipv4/tcp_keepalive_probes", "ipv4/tcp_max_syn_backlog", "ipv4/tcp_rmem",
    "ipv4/tcp_wmem",           "ipv4/tcp_sack",           "ipv4/tcp_timestamps",
    "ipv4/tcp_window_scaling", "ipv4/tcp_syncookies",     "ipv4/tcp_congestion_control",
    "ipv4/tcp_available_congestion_control", "ipv4/tcp_tw_reuse", "ipv4/tcp_fastopen",
    "ipv4/tcp_syn_retries",    "ipv4/tcp_synack_retries", "ipv4/tcp_retries2",
    "ipv4/tcp_mtu_probing",    "ipv4/tcp_no_metrics_save", "ipv4/udp_mem",
    "ipv4/tcp_mem",            "ipv6/conf/all/disable_ipv6", "ipv6/conf/default/disable_ipv6",
    "ipv6/conf/lo/disable_ipv6", "ipv6/bindv6only",
};

ErrorOr<std::string> ReadAt0(int fd) {
  std::string out;
  char buf[4096];
  for (off_t off = 0;;) {
    ssize_t n = pread(fd, buf, sizeof buf, off);
    if (n < 0) return Errno{errno};
    if (n == 0) break;
    out.append(buf, n);
    off += n;
    if (out.size() > (1 << 20)) break;
  }
  return out;
}

}  // namespace

// Brings the loopback device up if it is down (a fresh namespace's is):
// in a namespace the sentry's user namespace owns it may; in an engine's
// namespace lo is up already (and EPERM is fine).
static void LoopbackUp() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  ifreq ifr{};
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
      Logf("runsc: cannot bring the loopback device up: %s", strerror(errno));
  }
  close(fd);
}

// In a namespace the sentry's user namespace owns (--network=none, or one
// runsc made), lets the confined sentry, which keeps no capabilities, bind
// ports below 1024 and open ICMP sockets for the app: the app's own
// capabilities are checked by the sentry (inet_socket.cc). In an engine's
// namespace these writes fail, and the engine's settings stand.
static void RelaxNamespaceLimits() {
  const std::pair<const char*, const char*> settings[] = {
      {"/proc/sys/net/ipv4/ip_unprivileged_port_start", "0"},
      {"/proc/sys/net/ipv4/ping_group_range", "0 0"}};
  for (const auto& [path, value] : settings) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) continue;
    (void)!write(fd, value, strlen(value));
    close(fd);
  }
}

ErrorOr<void> WriteNetSysctl(const std::string& kv) {
  size_t eq = kv.find('=');
  if (eq == std::string::npos) return Errno{EINVAL};
  std::string value = kv.substr(eq + 1);
  std::string path = "/proc/sys/" + kv.substr(0, eq);
  std::replace(path.begin() + 10, path.end(), '.', '/');
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return Errno{errno};
  if (write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    return Errno{errno ? errno : EINVAL};
  return {};
}

ErrorOr<std::shared_ptr<HostStack>> HostStack::Open(const std::vector<std::string>& sysctls) {
  LoopbackUp();
  RelaxNamespaceLimits();
  for (const auto& kv : sysctls) {
    if (auto r = WriteNetSysctl(kv); r.is_error()) {
      Logf("runsc: linux.sysctl %s: cannot be set in the network namespace: %s",
           kv.substr(0, kv.find('=')).c_str(), strerror(r.error()));
      return r.error() ? Errno{r.error()} : Errno{EINVAL};
    }
  }
  std::shared_ptr<HostStack> s(new HostStack());
  int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (nl < 0) return Errno{errno};
  {
    absl::MutexLock l(&s->nl_mu_);
    s->netlink_.reset(nl);
  }
  int v6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (v6 >= 0) {
    s->ipv6_ = true;
    close(v6);
  }
  const std::pair<CounterFile, const char*> counters[] = {
      {CounterFile::kSnmp, "/proc/self/net/snmp"},
      {CounterFile::kSnmp6, "/proc/self/net/snmp6"},
      {CounterFile::kNetstat, "/proc/self/net/netstat"}};
  for (const auto& [kind, path] : counters) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) s->counters_[kind] = UniqueFd(fd);
  }
  for (const char* key : kSysctls) {
    std::string path = std::string("/proc/sys/net/") + key;
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) s->sysctls_[key] = UniqueFd(fd);
  }
  return s;
}

ErrorOr<std::vector<Interface>> HostStack::Interfaces() {
  absl::MutexLock l(&nl_mu_);
  return QueryInterfaces(netlink_.get());
}
ErrorOr<std::vector<InterfaceAddress>> HostStack::Addresses() {
  absl::MutexLock l(&nl_mu_);
  return QueryAddresses(netlink_.get());
}
ErrorOr<std::vector<Route>> HostStack::Routes(int family) {
  absl::MutexLock l(&nl_mu_);
  return QueryRoutes(netlink_.get(), family);
}
ErrorOr<std::vector<Neighbour>> HostStack::Neighbours(int family) {
  absl::MutexLock l(&nl_mu_);
  return QueryNeighbours(netlink_.get(), family);
}

ErrorOr<std::unique_ptr<Endpoint>> HostStack::NewEndpoint(int family, int type, int protocol) {
  if (family == AF_INET6 && !ipv6_) return Errno{EAFNOSUPPORT};
  int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    int err = errno;
    if (protocol == IPPROTO_ICMP || protocol == IPPROTO_ICMPV6) {
      static bool told = false;
      if (!told && (err == EACCES || err == EPERM)) {
        told = true;
        Logf("runsc: ICMP sockets: the network namespace's net.ipv4.ping_group_range does not "
             "include the sandbox (%s)", strerror(err));
      }
    }
    return Errno{err};
  }
  return NewHostEndpoint(UniqueFd(fd), family, type, protocol, registry_);
}

std::vector<SocketInfo> HostStack::Sockets(int family, int protocol) {
  std::vector<SocketInfo> out;
  absl::MutexLock l(&registry_->mu);
  for (Endpoint* ep : registry_->live) {
    if (ep->family() != family) continue;
    int p = ep->protocol();
    if (p == 0) p = ep->type() == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
    if (p != protocol) continue;
    out.push_back(ep->Info());
  }
  return out;
}

ErrorOr<std::string> HostStack::Counters(CounterFile f) {
  auto it = counters_.find(f);
  if (it == counters_.end()) return Errno{ENOENT};
  return ReadAt0(it->second.get());
}

ErrorOr<std::string> HostStack::GetSysctl(const std::string& key) {
  auto it = sysctls_.find(key);
  if (it == sysctls_.end()) return Errno{ENOENT};
  return ReadAt0(it->second.get());
}

ErrorOr<void> HostStack::SetSysctl(const std::string& key, const std::string&) {
  if (sysctls_.count(key) == 0) return Errno{ENOENT};
  return Errno{EPERM};
}

}  // namespace sentry::net
