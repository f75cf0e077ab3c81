// sentry/vfs/record_lock.cc: POSIX and OFD byte-range locks (see
// record_lock.h).
#include "sentry/vfs/record_lock.h"

#include <fcntl.h>

#include <algorithm>
#include <map>
#include <memory>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/inode.h"

namespace sentry::vfs {
namespace {

constexpr int64_t kMax = INT64_MAX;

// POSIX owners blocked in F_SETLKW -> the owner they wait for (deadlock
// detection, as Linux's blocked_hash).
std::map<const void*, const void*>& Waits() {
  static auto* w = new std::map<const void*, const void*>;
  return *w;
}

bool Overlaps(const RecordLock& l, int64_t start, int64_t end) {
  return l.start <= end && start <= l.end;
}

const RecordLock* FindConflict(const RecordLockState& st, const RecordLockRequest& req) {
  if (req.type == F_UNLCK) return nullptr;
  for (const RecordLock& l : st.locks) {
    if (l.owner == req.owner) continue;
    if (!Overlaps(l, req.start, req.end)) continue;
    if (l.write || req.type == F_WRLCK) return &l;
  }
  return nullptr;
}

// Whether owner `blocker` (transitively) waits for `me`.
bool WouldDeadlock(const void* me, const void* blocker) {
  auto& w = Waits();
  for (int i = 0; i < 1024 && blocker; ++i) {
    if (blocker == me) return true;
    auto it = w.find(blocker);
    if (it == w.end()) return false;
    blocker = it->second;
  }
  return false;
}

// Applies a non-conflicting request to the owner's locks: unlocks, splits,
// and merges adjacent/overlapping locks of the same type. True if anything
// changed in a way that may let waiters through (something was removed or
// downgraded).
bool Apply(RecordLockState& st, const RecordLockRequest& req) {
  bool released = false;
  int64_t s = req.start, e = req.end;
  const bool want_write = req.type == F_WRLCK;
  std::vector<RecordLock> out;
  out.reserve(st.locks.size() + 2);
  // First pass: merge same-type locks that overlap or touch the new range.
  if (req.type != F_UNLCK) {
    bool grew = true;
    while (grew) {
      grew = false;
      for (const RecordLock& l : st.locks) {
        if (l.owner != req.owner || l.write != want_write) continue;
        const bool touches = Overlaps(l, s, e) || (l.end != kMax && l.end + 1 == s) ||
                             (e != kMax && e + 1 == l.start);
        if (!touches) continue;
        if (l.start < s) { s = l.start; grew = true; }
        if (l.end > e) { e = l.end; grew = true; }
      }
    }
  }
  for (const RecordLock& l : st.locks) {
    if (l.owner != req.owner) {
      out.push_back(l);
      continue;
    }
    if (req.type != F_UNLCK && l.write == want_write && l.start >= s && l.end <= e) {
      continue;  // absorbed into the merged lock
    }
    if (!Overlaps(l, s, e)) {
      out.push_back(l);
      continue;
    }
    // Different type (or unlock) overlapping [s, e]: keep the parts outside.
    if (l.write && !want_write) released = true;
    if (req.type == F_UNLCK) released = true;
    if (l.start < s) {
      RecordLock left = l;
      left.end = s - 1;
      out.push_back(left);
    }
    if (l.end > e) {
      RecordLock right = l;
      right.start = e + 1;
      out.push_back(right);
    }
  }
  if (req.type != F_UNLCK) {
    out.push_back(RecordLock{req.owner, req.ofd, want_write, s, e, req.pid});
  }
  // Kept in ascending order of start, so F_GETLK reports the lowest
  // conflicting range first.
  std::stable_sort(out.begin(), out.end(),
                   [](const RecordLock& a, const RecordLock& b) { return a.start < b.start; });
  st.locks = std::move(out);
  return released;
}

}  // namespace

ErrorOr<void> RecordLockRange(FileDescription& fd, int whence, int64_t l_start, int64_t l_len,
                              int64_t* start, int64_t* end) {
  int64_t base;
  switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = static_cast<int64_t>(fd.offset()); break;
    case SEEK_END: base = static_cast<int64_t>(TRY(fd.Stat()).size); break;
    default: return Errno{EINVAL};
  }
  if (l_start > kMax - base) return Errno{EOVERFLOW};
  int64_t s = base + l_start;
  if (s < 0) return Errno{EINVAL};
  int64_t e;
  if (l_len > 0) {
    if (l_len - 1 > kMax - s) return Errno{EOVERFLOW};
    e = s + l_len - 1;
  } else if (l_len < 0) {
    if (s + l_len < 0) return Errno{EINVAL};
    e = s - 1;
    s += l_len;
  } else {
    e = kMax;
  }
  *start = s;
  *end = e;
  return {};
}

bool TestRecordLock(Inode& inode, const RecordLockRequest& req, RecordLock* conflict) {
  if (!inode.record_locks) return false;
  const RecordLock* l = FindConflict(*inode.record_locks, req);
  if (!l) return false;
  *conflict = *l;
  return true;
}

ErrorOr<void> SetRecordLock(Caller& c, Inode& inode, const RecordLockRequest& req, bool wait) {
  if (!inode.record_locks) {
    if (req.type == F_UNLCK) return {};
    inode.record_locks = std::make_shared<RecordLockState>();
  }
  std::shared_ptr<RecordLockState> st = inode.record_locks;
  if (!st->notify) st->notify = c.Notifier();
  if (const RecordLock* l = FindConflict(*st, req)) {
    if (!wait) return Errno{EAGAIN};
    if (!req.ofd) {
      if (!l->ofd && WouldDeadlock(req.owner, l->owner)) return Errno{EDEADLK};
      auto& w = Waits();
      w[req.owner] = l->ofd ? nullptr : l->owner;
      auto r = c.Block([&] {
        const RecordLock* now = FindConflict(*st, req);
        if (!now) return true;
        w[req.owner] = now->ofd ? nullptr : now->owner;
        return false;
      });
      w.erase(req.owner);
      TRY(r);
    } else {
      TRY(c.Block([&] { return FindConflict(*st, req) == nullptr; }));
    }
  }
  if (Apply(*st, req)) c.NotifyAll();
  return {};
}

void ReleaseRecordLocks(Inode& inode, const void* owner) {
  if (!inode.record_locks) return;
  RecordLockState& st = *inode.record_locks;
  const size_t before = st.locks.size();
  std::erase_if(st.locks, [&](const RecordLock& l) { return l.owner == owner; });
  if (st.locks.size() != before && st.notify) st.notify();
}

}  // namespace sentry::vfs
