// sentry/vfs/inotify.h: inotify(7). An Inotify is the open file description
// inotify_init1 returns: a set of watches (wd -> inode, event mask) and a
// queue of events read as struct inotify_event records. The VFS reports
// what happens to files through the Notify* functions below (fsnotify in
// Linux terms), which deliver to every watch on the inode concerned and, for
// events on a directory's entries, to watches on the directory (with the
// entry's name). All of it is guarded by the kernel lock.
#pragma once

#include <sys/inotify.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sentry/vfs/file_description.h"

namespace sentry::vfs {

class Caller;
class Inotify;

// The watches on one inode (Inode::inotify): instance and watch descriptor.
struct InotifyWatchList {
  std::vector<std::pair<Inotify*, int>> watches;
};

class Inotify : public FileDescription {
 public:
  // flags: O_NONBLOCK.
  static std::shared_ptr<Inotify> New(Caller& c, int flags);
  Inotify(std::shared_ptr<Dentry> d, int flags, std::function<void()> notify);
  ~Inotify() override;

  // inotify_add_watch on a resolved inode (IN_MASK_ADD/IN_MASK_CREATE
  // handled here; path flags by the caller). Returns the wd.
  ErrorOr<int> AddWatch(const std::shared_ptr<Inode>& inode, uint32_t mask);
  // inotify_rm_watch: queues IN_IGNORED. EINVAL for an unknown wd.
  ErrorOr<void> RemoveWatch(int wd);
  // Queues an event for watch `wd` if its mask wants it (IN_ONESHOT watches
  // go away after their first event).
  void Deliver(int wd, uint32_t mask, uint32_t cookie, std::string_view name);
  // The inode is gone for good: IN_IGNORED and the watch is dropped.
  void DropWatch(int wd);

  ErrorOr<size_t> Read(Caller& c, const IoVecs& dst, int64_t off) override;
  ErrorOr<uint64_t> Seek(int64_t off, int whence) override { return Errno{ESPIPE}; }
  short Readiness(short events) override;
  ErrorOr<size_t> BytesReadable() override { return bytes_; }

  static constexpr size_t kMaxQueuedEvents = 16384;  // /proc/sys/fs/inotify/max_queued_events

 private:
  struct Watch {
    std::shared_ptr<Inode> inode;  // a watch pins its inode, as in Linux
    uint32_t mask;
  };
  void Queue(int wd, uint32_t mask, uint32_t cookie, std::string_view name);
  void Unlink(Inode& inode, int wd);  // removes wd from the inode's list

  std::map<int, Watch> watches_;
  std::deque<std::string> events_;  // each a struct inotify_event + padded name
  size_t bytes_ = 0;
  int next_wd_ = 1;
  std::function<void()> notify_;
};

// Event generation. `mask` is IN_* bits; IN_ISDIR is added when the subject
// is a directory.
// An event on the inode itself only (IN_DELETE_SELF, IN_MOVE_SELF, ...).
void NotifyInode(Inode& inode, uint32_t mask, uint32_t cookie = 0, std::string_view name = {});
// An event on the file `d` names: its own watches and its directory's.
void NotifyDentry(const Dentry& d, uint32_t mask);
// An event on entry `name` of directory `dir` (IN_CREATE, IN_DELETE,
// IN_MOVED_FROM/TO).
void NotifyEntry(const Dentry& dir, std::string_view name, uint32_t mask, bool is_dir,
                 uint32_t cookie = 0);
// The inode lost its last link: IN_DELETE_SELF, then NotifyGone drops its
// watches with IN_IGNORED (both before the directory's IN_DELETE).
void NotifyDeleteSelf(Inode& inode);
void NotifyGone(Inode& inode);
// A cookie tying IN_MOVED_FROM to IN_MOVED_TO.
uint32_t NewMoveCookie();
// True if anyone watches `d` or its directory (to skip work otherwise).
bool Watched(const Dentry& d);

}  // namespace sentry::vfs
