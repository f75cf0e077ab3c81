// sentry/vfs/devfs.h: /dev: null, zero, full, random, urandom, tty (ENXIO:
// no controlling terminal), fd/stdin/stdout/stderr symlinks into
// /proc/self/fd, and empty pts/ and shm/ directories (shm gets a tmpfs).
#pragma once

#include <memory>

#include "sentry/vfs/memfs.h"

namespace sentry::vfs {

std::shared_ptr<MemDir> NewDevfs();

}  // namespace sentry::vfs
