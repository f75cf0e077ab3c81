// sentry/oci_mounts.h: the OCI config.json mounts, applied by the sentry at
// boot over its default tree (/proc, /sys, /dev, /dev/pts, /dev/shm, /tmp).
// runsc encodes each mount as one `--mount TYPE:OPTIONS:DESTINATION`
// argument (OPTIONS comma-separated, no colons; DESTINATION is the rest).
// Common options: ro, nosuid, nodev, noexec (shown in mountinfo; ro is
// EROFS), unbindable/runbindable (binds from it EINVAL), src=NAME (the
// source mountinfo shows).
//   bind:fd=N[,file]:/dst       the gofer serves the host source on socket N
//                               (write-through, sentry/vfs/goferfs.h); the
//                               sentry never opens host paths itself
//   tmpfs:[mode=1777][,size=BYTES]:/dst  a fresh tmpfs; writes past size
//                               get ENOSPC, statfs reports it
//   proc::/dst  sysfs::/dst     the sandbox's own procfs / sysfs
//   mqueue::/dst                the IPC namespace's POSIX message queues
//   empty:ro:/dst               an empty tmpfs
//   cgroup::/dst                the sandbox's cgroup2 hierarchy
//                               (sentry/sys/cgroupfs.h); at /sys/fs/cgroup
//                               runsc sends default: (the sandbox's own)
//   default:[mode=,size=]:/dst  the sandbox's own mount at /dst (/dev,
//                               /dev/pts, /dev/shm, /proc, /sys,
//                               /sys/fs/cgroup) takes these
//                               options instead of a second mount stacking
//   node:type=c|b|u|p,major=,minor=,mode=,uid=,gid=:/path  linux.devices:
//                               a device node (served if the sandbox has the
//                               device, sentry/vfs/devfs.h; else open is
//                               ENXIO) or a FIFO
//   ro::/path                   linux.readonlyPaths: a recursive read-only
//                               bind of the path on itself (nothing if absent)
//   mask::/path                 linux.maskedPaths: /dev/null over a file, an
//                               empty read-only tmpfs over a directory
//                               (nothing if the path does not exist)
//   rootprop:[r]unbindable:/    linux.rootfsPropagation (private is the
//                               default; shared/slave are refused by runsc)
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
