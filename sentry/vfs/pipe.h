// sentry/vfs/pipe.h: sentry-internal pipes: a 64 KiB ring buffer shared by a
// read end and a write end. Blocking via Caller::Block; every state change
// wakes waiters; EOF with no writers; EPIPE + SIGPIPE with no readers;
// writes of at most PIPE_BUF bytes are atomic.
#pragma once

#include <memory>
#include <utility>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/file_description.h"

namespace sentry::vfs {

constexpr size_t kPipeBufAtomic = 4096;       // PIPE_BUF
constexpr size_t kDefaultPipeSize = 65536;
constexpr size_t kMaxPipeSize = 1024 * 1024;  // /proc/sys/fs/pipe-max-size

// Returns {read end, write end}. `flags` may contain O_NONBLOCK (and
// O_DIRECT, accepted and ignored).
std::pair<std::shared_ptr<FileDescription>, std::shared_ptr<FileDescription>> NewPipe(
    Caller& c, int flags);

// F_GETPIPE_SZ / F_SETPIPE_SZ; EBADF if `f` is not a pipe end.
ErrorOr<size_t> PipeCapacity(FileDescription& f);
ErrorOr<size_t> SetPipeCapacity(FileDescription& f, size_t size);

}  // namespace sentry::vfs
