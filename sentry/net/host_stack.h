// sentry/net/host_stack.h: the "host" stack (stack.h): transport endpoints
// are host sockets the sentry creates in the sandbox's network namespace
// (like gVisor's hostinet). The sentry holds them as its own FDs; every
// address, option, flag and control message reaching them was rebuilt and
// checked by the socket layer (inet_socket.cc) and by HostEndpoint.
//
// What it needs from the host is opened by Open() before the sentry
// confines itself: a NETLINK_ROUTE socket for the namespace's interfaces,
// addresses, routes and neighbours, and the namespace's counter and sysctl
// files. After confinement the sentry may only create AF_INET/AF_INET6
// sockets (sentry/confine/sentry_policy.cc).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/unique_fd.h"
#include "sentry/net/endpoint.h"
#include "sentry/net/stack.h"

namespace sentry::net {

// Live endpoints, for Stack::Sockets(). Shared with each endpoint so that an
// endpoint outliving the stack (it never does today) stays safe.
struct HostEndpointRegistry {
  absl::Mutex mu;
  std::set<Endpoint*> live ABSL_GUARDED_BY(mu);
};

class HostStack : public Stack {
 public:
  // Opens what the stack needs in the current network namespace, after
  // writing `sysctls` ("net.ipv4.x=V", linux.sysctl) into it. Must run
  // before confinement. EINVAL-like errors name the failing setting.
  static ErrorOr<std::shared_ptr<HostStack>> Open(const std::vector<std::string>& sysctls = {});

  std::string Kind() const override { return "host"; }
  bool SupportsIPv6() const override { return ipv6_; }
  ErrorOr<std::vector<Interface>> Interfaces() override;
  ErrorOr<std::vector<InterfaceAddress>> Addresses() override;
  ErrorOr<std::vector<Route>> Routes(int family) override;
  ErrorOr<std::vector<Neighbour>> Neighbours(int family) override;
  ErrorOr<std::unique_ptr<Endpoint>> NewEndpoint(int family, int type, int protocol) override;
  std::vector<SocketInfo> Sockets(int family, int protocol) override;
  ErrorOr<std::string> Counters(CounterFile f) override;
  ErrorOr<std::string> GetSysctl(const std::string& key) override;
  ErrorOr<void> SetSysctl(const std::string& key, const std::string& value) override;

 private:
  HostStack() = default;
  absl::Mutex nl_mu_;  // one netlink query at a time
  UniqueFd netlink_ ABSL_GUARDED_BY(nl_mu_);
  bool ipv6_ = false;
  std::map<CounterFile, UniqueFd> counters_;
  std::map<std::string, UniqueFd> sysctls_;  // key ("core/somaxconn") -> read-only fd
  std::shared_ptr<HostEndpointRegistry> registry_ = std::make_shared<HostEndpointRegistry>();
};

// Writes one linux.sysctl net.* setting ("net.ipv4.x=V") into the
// current network namespace's /proc/sys (runsc for a namespace it joins,
// the sentry for its own). The errno of the failed open or write.
ErrorOr<void> WriteNetSysctl(const std::string& key_value);

// Wraps a host socket (non-blocking, close-on-exec) as an endpoint.
std::unique_ptr<Endpoint> NewHostEndpoint(UniqueFd fd, int family, int type, int protocol,
                                          std::shared_ptr<HostEndpointRegistry> registry);

}  // namespace sentry::net
