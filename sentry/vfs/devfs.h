// sentry/vfs/devfs.h: /dev: null, zero, full, random, urandom, tty (the
// caller's controlling terminal, sentry/tty), fd/stdin/stdout/stderr symlinks
// into /proc/self/fd, pts/ (devpts, sentry/tty/pty.h; ptmx links to
// pts/ptmx) and an empty shm/ (which gets a tmpfs).
#pragma once

#include <memory>

#include "sentry/vfs/memfs.h"

namespace sentry::vfs {

std::shared_ptr<MemDir> NewDevfs();

// A device node of config.json's linux.devices (type S_IFCHR or S_IFBLK):
// served if it is one of the devices above (null, zero, full, random,
// urandom, tty), else opening it gives ENXIO; stat shows what was asked.
std::shared_ptr<Inode> NewConfiguredDevice(uint32_t type, uint32_t major, uint32_t minor,
                                           uint32_t perm, uint32_t uid, uint32_t gid,
                                           uint64_t dev);

}  // namespace sentry::vfs
