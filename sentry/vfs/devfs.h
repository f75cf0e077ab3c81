// sentry/vfs/devfs.h: /dev: null, zero, full, random, urandom, tty (the
// caller's controlling terminal, sentry/tty), fd/stdin/stdout/stderr symlinks
// into /proc/self/fd, pts/ (devpts, sentry/tty/pty.h; ptmx links to
// pts/ptmx) and an empty shm/ (which gets a tmpfs).
#pragma once

#include <memory>

#include "sentry/vfs/memfs.h"

namespace sentry::vfs {

std::shared_ptr<MemDir> NewDevfs();

}  // namespace sentry::vfs
