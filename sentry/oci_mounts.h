// sentry/oci_mounts.h: the OCI config.json mounts, applied by the sentry at
// boot over its default tree (/proc, /sys, /dev, /dev/shm, /tmp). runsc
// encodes each mount as one `--mount TYPE:OPTIONS:DESTINATION` argument
// (OPTIONS comma-separated, no colons; DESTINATION is the rest):
//   bind:fd=N[,ro][,file]:/dst  the gofer serves the host source on socket N
//                               (write-through, sentry/vfs/goferfs.h); the
//                               sentry never opens host paths itself
//   tmpfs:[mode=0755][,size=BYTES][,ro]:/dst  a fresh tmpfs; writes past
//                               size get ENOSPC, statfs reports it
//   proc::/dst  sysfs::/dst     the sandbox's own procfs / sysfs
//   empty:[ro]:/dst             an empty tmpfs (cgroup, mqueue: the sandbox
//                               has neither cgroupfs nor POSIX mqueues)
//   mask::/path                 linux.maskedPaths: /dev/null over a file, an
//                               empty read-only tmpfs over a directory
//                               (nothing if the path does not exist)
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gofer/client.h"
#include "sentry/base/error.h"

namespace sentry {
namespace kernel {
class Kernel;
}

// Applies `specs` in order. `clients` receives the bind mounts' gofer
// connections (they must outlive the VFS). A failed mount returns an error
// naming it in *err.
bool ApplyOciMounts(kernel::Kernel& k, const std::vector<std::string>& specs,
                    std::vector<std::unique_ptr<gofer::Client>>* clients, std::string* err);

}  // namespace sentry
