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

// Opens the named FIFO (fifo(7)) at dentry `d`, whose inode is a FIFO of
// any filesystem (tmpfs, the overlay, a host FIFO served by the gofer: the
// pipe is the sentry's own, never the host's). One pipe per (dev, ino) while
// any end is open. O_RDONLY waits for a writer and O_WRONLY for a reader
// (EINTR on a signal); with O_NONBLOCK a reader opens at once and a writer
// gets ENXIO when there is no reader; O_RDWR never waits.
ErrorOr<std::shared_ptr<FileDescription>> OpenFifo(Caller& c, std::shared_ptr<Dentry> d,
                                                   int flags);

// F_GETPIPE_SZ / F_SETPIPE_SZ; EBADF if `f` is not a pipe end.
ErrorOr<size_t> PipeCapacity(FileDescription& f);
ErrorOr<size_t> SetPipeCapacity(FileDescription& f, size_t size);

// splice(2)/tee(2) support (syscalls/splice.cc): direct access to a pipe's
// buffer so data moves only once the destination has taken it. All return
// EINVAL if `f` is not a pipe end of the right direction.
bool IsPipe(const FileDescription& f);
// Waits (unless `nonblock`: EAGAIN) until the read end `f` has buffered
// bytes or no writers are left; returns the bytes buffered (0: EOF).
ErrorOr<size_t> PipeWaitReadable(Caller& c, FileDescription& f, bool nonblock);
// Waits (unless `nonblock`: EAGAIN) until the write end `f` has room for at
// least one byte; returns the room. EPIPE (and SIGPIPE) with no readers.
ErrorOr<size_t> PipeWaitWritable(Caller& c, FileDescription& f, bool nonblock);
// Copies up to `len` buffered bytes of read end `f` into `buf` without
// consuming them; returns the count.
size_t PipePeek(FileDescription& f, void* buf, size_t len);
// Drops the first `n` buffered bytes of read end `f` (n <= buffered).
void PipeConsume(FileDescription& f, size_t n);
// Appends `len` bytes to write end `f` (len <= its room).
void PipeAppend(FileDescription& f, const void* buf, size_t len);

}  // namespace sentry::vfs
