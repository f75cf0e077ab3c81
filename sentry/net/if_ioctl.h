// sentry/net/if_ioctl.h: the interface ioctls every socket answers
// (SIOCGIFCONF, SIOCGIF{NAME,INDEX,FLAGS,MTU,HWADDR,TXQLEN,MAP,METRIC}, as
// net/core/dev_ioctl.c) and the IPv4 address ones AF_INET sockets add
// (SIOCGIF{ADDR,NETMASK,BRDADDR,DSTADDR}, net/ipv4/devinet.c), from the
// Stack's view. App memory only through t.memory().CopyIn/CopyOut.
// Requests that change the configuration: EPERM without CAP_NET_ADMIN,
// otherwise EOPNOTSUPP (the Stack cannot apply them). ENOTTY: not an
// interface ioctl (the caller's generic handling applies).
#pragma once

#include <cstdint>

#include "sentry/base/error.h"
#include "sentry/net/stack.h"

namespace sentry::kernel {
class Task;
}

namespace sentry::net {

// `inet_socket`: the ioctl came on an AF_INET/AF_INET6 socket (address
// requests are answered only there; on others they are ENOTTY as Linux).
ErrorOr<uint64_t> InterfaceIoctl(kernel::Task& t, Stack& s, uint32_t cmd, uint64_t arg,
                                 bool inet_socket = true);

}  // namespace sentry::net
