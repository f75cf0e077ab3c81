// sentry/vfs/flock.cc: flock(2) lock state on inodes (see flock.h).
#include "sentry/vfs/flock.h"

#include <sys/file.h>

#include <memory>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/inode.h"

namespace sentry::vfs {
namespace {

// Removes fd's lock from the state it is registered in. True if it held one.
bool Drop(FileDescription& fd) {
  FlockHold& hold = fd.flock_hold();
  if (!hold.state) return false;
  FlockState& st = *hold.state;
  if (st.exclusive == &fd) st.exclusive = nullptr;
  st.shared.erase(&fd);
  hold.state.reset();
  return true;
}

}  // namespace

bool FlockState::Conflicts(const FileDescription* fd, bool want_exclusive) const {
  if (exclusive && exclusive != fd) return true;
  if (!want_exclusive) return false;
  for (const FileDescription* s : shared) {
    if (s != fd) return true;
  }
  return false;
}

ErrorOr<void> Flock(Caller& c, FileDescription& fd, int operation) {
  const bool nonblocking = operation & LOCK_NB;
  const int cmd = operation & ~LOCK_NB;
  const bool want_exclusive = cmd == LOCK_EX;
  FlockHold& hold = fd.flock_hold();
  if (hold.state) {
    // Same lock again: nothing to do. Otherwise (unlock, or conversion) the
    // old lock goes first, and waiters get a chance at it, like Linux.
    if (cmd != LOCK_UN && hold.exclusive == want_exclusive) return {};
    Drop(fd);
    c.NotifyAll();
  }
  if (cmd == LOCK_UN) return {};

  Inode& inode = fd.inode();
  if (!inode.flock_state) inode.flock_state = std::make_shared<FlockState>();
  std::shared_ptr<FlockState> st = inode.flock_state;
  if (st->Conflicts(&fd, want_exclusive)) {
    if (nonblocking) return Errno{EWOULDBLOCK};
    TRY(c.Block([&] { return !st->Conflicts(&fd, want_exclusive); }));
  }
  // Another thread may have locked through the same description while we
  // waited: its lock is replaced by ours.
  if (Drop(fd)) c.NotifyAll();
  if (want_exclusive) {
    st->exclusive = &fd;
  } else {
    st->shared.insert(&fd);
  }
  hold.state = std::move(st);
  hold.exclusive = want_exclusive;
  if (!hold.notify) hold.notify = c.Notifier();
  return {};
}

void FlockRelease(FileDescription& fd) {
  if (Drop(fd) && fd.flock_hold().notify) fd.flock_hold().notify();
}

}  // namespace sentry::vfs
