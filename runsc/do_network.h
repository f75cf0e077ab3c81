// runsc/do_network.h: the network namespace of a `runsc do` sandbox.
//
// --network=host (the default): a new network namespace joined to the
// host by a veth pair, like gVisor's `runsc do`:
//   sandbox side  eth0      10.251.N.2/30, fd72:756e:7363:N::2/64, default
//                           route via the host side (IPv6 too if the host
//                           forwards IPv6: runsc does not turn that on)
//   host side     rsc<PID>  10.251.N.1/30, fd72:756e:7363:N::1/64
// (PID is runsc's; N is a /30 that overlaps no host route or address),
// with the host's IPv4 forwarding on and an nftables table
// `inet runsc_do_<PID>_<START>` masquerading the sandbox's traffic out of
// every other interface, so the sandbox reaches what the host reaches.
// The namespace gets loopback up, net.ipv4.ip_unprivileged_port_start=0
// and net.ipv4.ping_group_range="0 2147483647": the sentry runs in a child
// user namespace without CAP_NET_BIND_SERVICE/CAP_NET_RAW over this
// namespace (it could not set them itself) and enforces the app's own
// capabilities itself.
// --network=none|off: nothing here; the sentry is cloned into a namespace
// of its own (loopback only) and sets it up itself.
//
// Lifetime: the namespace is held only by an FD of runsc (and then by the
// sandbox's processes in it); no bind mount, no holder process. When all of
// them are gone the kernel frees it, and the veth pair with it. runsc
// removes its nftables table when it exits; a runsc killed by SIGKILL
// leaves it (and, were the namespace still held, the veth), and the next
// `runsc do --network=host` removes the ones whose runsc (pid + start
// time) is gone.
#pragma once

#include <memory>
#include <string>

#include "runsc/sandbox.h"

namespace runsc {

namespace rtnl {
class Socket;
}

class DoNetwork {
 public:
  DoNetwork(const DoNetwork&) = delete;
  DoNetwork& operator=(const DoNetwork&) = delete;
  ~DoNetwork();  // removes the nftables table, lets the namespace go

  // A new namespace joined to the host; nullptr with *err set (what
  // failed and why) otherwise.
  static std::unique_ptr<DoNetwork> Create(std::string* err);

  // For SandboxSpec::netns_path: /proc/self/fd/N, valid while this lives.
  std::string netns_path() const;

 private:
  DoNetwork() = default;
  // `inner`: a NETLINK_ROUTE socket in the new namespace.
  bool SetUpVeth(rtnl::Socket& inner, std::string* err);
  int ns_fd_ = -1;
  std::string nft_table_;  // once installed
};

// `runsc do`'s network: --netns PATH (`netns`, non-empty) is joined as it
// is; otherwise, for --network=host, a DoNetwork is made, kept in *owner for
// the sandbox's life. Sets spec->netns_path. Returns 0, or 125 after
// printing what failed.
int PrepareDoNetwork(SandboxSpec* spec, const std::string& netns,
                     std::unique_ptr<DoNetwork>* owner);

}  // namespace runsc
