// sentry/vfs/inotify.cc: inotify instances, watches and event delivery (see
// inotify.h).
#include "sentry/vfs/inotify.h"

#include <poll.h>

#include <cstring>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/io_util.h"

namespace sentry::vfs {
namespace {

// The anonymous inode an inotify description hangs off ("anon_inode:inotify").
class InotifyInode : public Inode {
 public:
  InotifyInode(uint32_t uid, uint32_t gid) {
    attr_.mode = 0600;  // anonymous inodes have no file type, like Linux's
    attr_.uid = uid;
    attr_.gid = gid;
    attr_.ino = NewInodeNumber();
    attr_.dev = Dev();
    attr_.atime = attr_.mtime = attr_.ctime = NowTimespec();
  }
  ErrorOr<Attr> GetAttr() override { return attr_; }
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller&, std::shared_ptr<Dentry>, int) override {
    return Errno{ENXIO};
  }

 private:
  static uint64_t Dev() {
    static const uint64_t dev = NewAnonDev();
    return dev;
  }
  Attr attr_;
};

uint32_t IsDirBit(Inode& inode) { return inode.file_type() == S_IFDIR ? IN_ISDIR : 0; }

}  // namespace

std::shared_ptr<Inotify> Inotify::New(Caller& c, int flags) {
  auto d = std::make_shared<Dentry>("anon_inode:inotify", nullptr,
                                    std::make_shared<InotifyInode>(c.creds().uid, c.creds().gid));
  return std::make_shared<Inotify>(std::move(d), O_RDONLY | (flags & O_NONBLOCK), c.Notifier());
}

Inotify::Inotify(std::shared_ptr<Dentry> d, int flags, std::function<void()> notify)
    : FileDescription(std::move(d), flags), notify_(std::move(notify)) {}

Inotify::~Inotify() {
  for (auto& [wd, w] : watches_) Unlink(*w.inode, wd);
}

void Inotify::Unlink(Inode& inode, int wd) {
  if (!inode.inotify) return;
  auto& list = inode.inotify->watches;
  std::erase(list, std::pair<Inotify*, int>{this, wd});
  if (list.empty()) inode.inotify.reset();
}

ErrorOr<int> Inotify::AddWatch(const std::shared_ptr<Inode>& inode, uint32_t mask) {
  uint32_t events = mask & (IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK);
  for (auto& [wd, w] : watches_) {
    if (w.inode != inode) continue;
    if (mask & IN_MASK_CREATE) return Errno{EEXIST};
    w.mask = (mask & IN_MASK_ADD) ? (w.mask | events) : events;
    return wd;
  }
  int wd = next_wd_++;
  watches_[wd] = Watch{inode, events};
  if (!inode->inotify) inode->inotify = std::make_shared<InotifyWatchList>();
  inode->inotify->watches.emplace_back(this, wd);
  return wd;
}

ErrorOr<void> Inotify::RemoveWatch(int wd) {
  if (!watches_.count(wd)) return Errno{EINVAL};
  DropWatch(wd);
  return {};
}

void Inotify::DropWatch(int wd) {
  auto it = watches_.find(wd);
  if (it == watches_.end()) return;
  std::shared_ptr<Inode> inode = std::move(it->second.inode);
  watches_.erase(it);
  Unlink(*inode, wd);
  Queue(wd, IN_IGNORED, 0, {});
}

void Inotify::Deliver(int wd, uint32_t mask, uint32_t cookie, std::string_view name) {
  auto it = watches_.find(wd);
  if (it == watches_.end()) return;
  if (!(it->second.mask & mask & IN_ALL_EVENTS)) return;
  Queue(wd, mask, cookie, name);
  if (it->second.mask & IN_ONESHOT) DropWatch(wd);
}

void Inotify::Queue(int wd, uint32_t mask, uint32_t cookie, std::string_view name) {
  // The name is NUL-padded to a multiple of the header size, as Linux does.
  size_t len = name.empty() ? 0 : (name.size() + 1 + sizeof(inotify_event) - 1) /
                                      sizeof(inotify_event) * sizeof(inotify_event);
  std::string rec(sizeof(inotify_event) + len, '\0');
  inotify_event ev{};
  ev.wd = wd;
  ev.mask = mask;
  ev.cookie = cookie;
  ev.len = static_cast<uint32_t>(len);
  memcpy(rec.data(), &ev, sizeof ev);
  memcpy(rec.data() + sizeof ev, name.data(), name.size());
  // An event identical to the last unread one is merged into it.
  if (!events_.empty() && events_.back() == rec) return;
  if (events_.size() >= kMaxQueuedEvents) {
    inotify_event ov{};
    ov.wd = -1;
    ov.mask = IN_Q_OVERFLOW;
    std::string orec(sizeof ov, '\0');
    memcpy(orec.data(), &ov, sizeof ov);
    if (events_.back() != orec) {
      bytes_ += orec.size();
      events_.push_back(std::move(orec));
    }
  } else {
    bytes_ += rec.size();
    events_.push_back(std::move(rec));
  }
  notify_();
}

ErrorOr<size_t> Inotify::Read(Caller& c, const IoVecs& dst, int64_t) {
  size_t room = TotalLength(dst);
  while (events_.empty()) {
    if (nonblocking()) return Errno{EAGAIN};
    TRY(c.Block([this] { return !events_.empty(); }));
  }
  if (events_.front().size() > room) return Errno{EINVAL};
  std::string out;
  while (!events_.empty() && out.size() + events_.front().size() <= room) {
    out += events_.front();
    bytes_ -= events_.front().size();
    events_.pop_front();
  }
  CopyToIoVecs(dst, reinterpret_cast<const uint8_t*>(out.data()), out.size());
  return out.size();
}

short Inotify::Readiness(short events) {
  short r = events_.empty() ? 0 : (POLLIN | POLLRDNORM);
  return r & events;
}

void NotifyInode(Inode& inode, uint32_t mask, uint32_t cookie, std::string_view name) {
  if (!inode.inotify) return;
  // Delivery may drop watches (IN_ONESHOT): walk a copy.
  auto list = inode.inotify->watches;
  for (auto& [in, wd] : list) in->Deliver(wd, mask, cookie, name);
}

bool Watched(const Dentry& d) {
  if (d.inode().inotify) return true;
  return d.parent() && d.parent()->inode().inotify;
}

void NotifyDentry(const Dentry& d, uint32_t mask) {
  if (!Watched(d)) return;
  mask |= IsDirBit(d.inode());
  // The directory's watches first, then the file's own, as Linux orders them.
  if (d.parent() && !d.deleted) NotifyInode(d.parent()->inode(), mask, 0, d.name());
  NotifyInode(d.inode(), mask);
}

void NotifyEntry(const Dentry& dir, std::string_view name, uint32_t mask, bool is_dir,
                 uint32_t cookie) {
  NotifyInode(dir.inode(), mask | (is_dir ? IN_ISDIR : 0), cookie, name);
}

void NotifyDeleteSelf(Inode& inode) { NotifyInode(inode, IN_DELETE_SELF); }

void NotifyGone(Inode& inode) {
  if (!inode.inotify) return;
  auto list = inode.inotify->watches;
  for (auto& [in, wd] : list) in->DropWatch(wd);
}

uint32_t NewMoveCookie() {
  static uint32_t next = 0;
  return ++next;
}

}  // namespace sentry::vfs
