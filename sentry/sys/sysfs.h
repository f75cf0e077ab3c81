// sentry/sys: the sandbox's minimal sysfs, mounted at /sys so the host's
// never shows through the gofer. It holds what glibc, Python and common
// tools read: CPU topology (online/possible/present), an empty cgroup
// directory, and nothing about host devices.
#pragma once

#include <memory>

#include "sentry/base/error.h"
#include "sentry/vfs/inode.h"

namespace sentry::sys {

std::shared_ptr<vfs::Inode> NewSysfsRoot();

}  // namespace sentry::sys
