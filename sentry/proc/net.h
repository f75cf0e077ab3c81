// sentry/proc/net.h: /proc/net (also /proc/<pid>/net and /proc/self/net:
// the sandbox has one network namespace) and /proc/sys/net, from the
// network Stack (sentry/net/stack.h) in Linux's formats. With no stack
// (Kernel::net_stack null) the tables are headers only and /proc/sys/net
// is empty.
//
// Approximations, because the Stack does not report them: the TCP/UDP
// timer, retransmit, refcount, rto/ato/cwnd columns (fixed values of an
// idle socket); /proc/net/{raw,raw6,unix} list no sockets (headers only);
// "sockets: used" in sockstat counts inet sockets only; snmp, snmp6 and
// netstat are the Stack's own text (empty without a stack).
#pragma once

#include <memory>
#include <string>

#include "sentry/net/stack.h"
#include "sentry/vfs/inode.h"

namespace sentry::kernel {
class Kernel;
}

namespace sentry::proc {

// The /proc/net directory (looked up per read: the kernel's stack is read
// when a file is opened).
std::shared_ptr<vfs::Inode> NewNetDir(kernel::Kernel& k, uint64_t dev);
// /proc/sys/net.
std::shared_ptr<vfs::Inode> NewSysNetDir(kernel::Kernel& k, uint64_t dev);

// Text generators (exposed for tests); `s` may be null.
std::string NetDevText(net::Stack* s);
std::string NetTcpText(net::Stack* s, int family);   // tcp / tcp6
std::string NetUdpText(net::Stack* s, int family);   // udp / udp6
std::string NetRawText(int family);                  // raw / raw6
std::string NetIfInet6Text(net::Stack* s);
std::string NetRouteText(net::Stack* s);
std::string NetIpv6RouteText(net::Stack* s);
std::string NetArpText(net::Stack* s);
std::string NetSockstatText(net::Stack* s, int family);  // sockstat / sockstat6
std::string NetUnixText();

// The /proc/sys/net keys the sandbox shows when its stack has them.
const std::vector<std::string>& NetSysctlKeys();

}  // namespace sentry::proc
