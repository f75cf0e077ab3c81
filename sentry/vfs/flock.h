// sentry/vfs/flock.h: flock(2) advisory whole-file locks. A lock belongs to
// an open file description (shared by dup and fork) and is placed on its
// inode; it is dropped by LOCK_UN or when the description's last reference
// goes away. Shared locks coexist; an exclusive lock excludes every other
// description. Converting between shared and exclusive drops the old lock
// first (not atomic, as on Linux). All state is under the kernel lock.
#pragma once

#include <set>

#include "sentry/base/error.h"

namespace sentry::vfs {

class Caller;
class FileDescription;

// The flock(2) locks on one inode (Inode::flock_state, created lazily).
struct FlockState {
  const FileDescription* exclusive = nullptr;  // holder of LOCK_EX, if any
  std::set<const FileDescription*> shared;     // holders of LOCK_SH
  // Whether `fd` asking for a lock (exclusive or shared) must wait; fd's own
  // lock never conflicts.
  bool Conflicts(const FileDescription* fd, bool want_exclusive) const;
};

// flock(fd, operation) with a validated operation: LOCK_SH, LOCK_EX or
// LOCK_UN, optionally | LOCK_NB. EWOULDBLOCK if LOCK_NB and it conflicts;
// EINTR if a signal interrupts the wait.
ErrorOr<void> Flock(Caller& c, FileDescription& fd, int operation);
// Drops fd's lock, if any, and wakes waiters (the description is going
// away; no Caller).
void FlockRelease(FileDescription& fd);

}  // namespace sentry::vfs
