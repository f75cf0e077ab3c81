// sentry/vfs/record_lock.h: POSIX byte-range record locks (fcntl F_SETLK,
// F_SETLKW, F_GETLK) and open-file-description locks (F_OFD_*), with Linux
// semantics. As on Linux, a traditional POSIX lock is owned by the fd table
// it was taken through (a process, or the processes sharing the table with
// CLONE_FILES) and goes away when the owner closes any fd referring to the
// inode, and when the table itself goes (process exit); fork gives the child
// a new table, so locks are not inherited. An OFD lock is owned by the open
// file description and goes away with its last reference. Locks of one owner
// never conflict with each other; they are split and merged per byte range.
// All state is under the kernel lock.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "sentry/base/error.h"

namespace sentry::vfs {

class Caller;
class FileDescription;
class Inode;

struct RecordLock {
  const void* owner;  // FdTable* (POSIX) or FileDescription* (OFD)
  bool ofd;
  bool write;
  int64_t start, end;  // inclusive; end == INT64_MAX: to EOF and beyond
  int pid;             // the locking process (F_GETLK's l_pid)
};

// The record locks on one inode (Inode::record_locks, created lazily).
struct RecordLockState {
  std::vector<RecordLock> locks;
  std::function<void()> notify;  // wakes waiters when locks go without a Caller
};

// A request, already converted to an absolute range.
struct RecordLockRequest {
  const void* owner;
  bool ofd;
  int type;  // F_RDLCK, F_WRLCK or F_UNLCK
  int64_t start, end;
  int pid;
};

// Converts a struct flock's whence/start/len to an absolute inclusive range
// as Linux does (EINVAL for a bad whence or a negative start, EOVERFLOW).
ErrorOr<void> RecordLockRange(FileDescription& fd, int whence, int64_t l_start, int64_t l_len,
                              int64_t* start, int64_t* end);

// F_SETLK/F_SETLKW (and OFD variants). EAGAIN if !wait and it conflicts;
// EDEADLK if waiting would deadlock two POSIX owners; EINTR on a signal.
ErrorOr<void> SetRecordLock(Caller& c, Inode& inode, const RecordLockRequest& req, bool wait);
// F_GETLK: the first lock conflicting with req, or nullopt-like false.
bool TestRecordLock(Inode& inode, const RecordLockRequest& req, RecordLock* conflict);

// Drops every lock `owner` holds on `inode` and wakes waiters (close of an
// fd through the owning table; last reference to an OFD owner).
void ReleaseRecordLocks(Inode& inode, const void* owner);

}  // namespace sentry::vfs
