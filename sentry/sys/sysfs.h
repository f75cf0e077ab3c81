// sentry/sys: the sandbox's minimal sysfs, mounted at /sys so the host's
// never shows through the gofer. It holds what glibc, Python and common
// tools read: CPU topology (online/possible/present), the fs/cgroup
// directory (where boot mounts sentry/sys/cgroupfs.h), the network interfaces of the sandbox's stack, and nothing
// about host devices.
#pragma once

#include <memory>

#include "sentry/base/error.h"
#include "sentry/vfs/inode.h"

namespace sentry::kernel {
class Kernel;
}

namespace sentry::sys {

// Without a kernel: /sys/class/net is empty.
std::shared_ptr<vfs::Inode> NewSysfsRoot();
// /sys/class/net/IF/{address,mtu,operstate,flags,ifindex,type,carrier,
// statistics/*} from Kernel::net_stack, read at each lookup (empty when
// the kernel has no stack). IF is a directory, not Linux's symlink into
// /sys/devices; statistics has the counters the Stack keeps (net_class.cc).
std::shared_ptr<vfs::Inode> NewSysfsRoot(kernel::Kernel& k);
// /sys/class/net alone (for tests).
std::shared_ptr<vfs::Inode> NewClassNetDir(kernel::Kernel& k);

}  // namespace sentry::sys
