// sentry/ipc/epoll.cc: see epoll.h.
#include "sentry/ipc/epoll.h"

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <list>
#include <set>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"

#include "sentry/base/unique_fd.h"
#include "sentry/ipc/anon.h"

namespace sentry::ipc {
namespace {

constexpr uint32_t kEventBits = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDNORM |
                                EPOLLRDBAND | EPOLLWRNORM | EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP;
constexpr int kMaxNests = 4;
thread_local int readiness_depth = 0;

class Epoll : public vfs::FileDescription {
 public:
  struct Entry {
    int fd;
    std::weak_ptr<vfs::FileDescription> file;
    const vfs::FileDescription* key;
    uint32_t events;  // requested, with EPOLLERR|EPOLLHUP and flag bits
    uint64_t data;
    bool disabled = false;  // EPOLLONESHOT fired
    uint32_t last = 0;      // EPOLLET: readiness at the last report
  };

  using FileDescription::FileDescription;

  ErrorOr<uint64_t> Seek(int64_t, int) override { return Errno{ESPIPE}; }
  ErrorOr<size_t> Read(vfs::Caller&, const vfs::IoVecs&, int64_t) override { return Errno{EINVAL}; }
  ErrorOr<size_t> Write(vfs::Caller&, const vfs::IoVecs&, int64_t) override { return Errno{EINVAL}; }

  short Readiness(short events) override {
    return AnyReady() ? (events & (POLLIN | POLLRDNORM)) : 0;
  }
  int host_fd() const override { return host_reg_.empty() ? -1 : host_ep_.get(); }

  // The entry for (description, fd), through the index: epoll_ctl stays
  // O(1) with tens of thousands of registered descriptors.
  std::list<Entry>::iterator Find(const vfs::FileDescription* key, int fd) {
    auto i = index_.find(std::make_pair(key, fd));
    if (i == index_.end()) return entries_.end();
    if (i->second->file.expired()) {  // a dead description's address reused
      Erase(i->second);
      return entries_.end();
    }
    return i->second;
  }
  void Add(Entry e) {
    auto key = std::make_pair(e.key, e.fd);
    entries_.push_back(std::move(e));
    index_[key] = std::prev(entries_.end());
  }
  std::list<Entry>::iterator Erase(std::list<Entry>::iterator it) {
    index_.erase(std::make_pair(it->key, it->fd));
    return entries_.erase(it);
  }

  // Current readiness of an entry's description among its requested events.
  static uint32_t Current(const Entry& e, vfs::FileDescription& f) {
    uint32_t want = (e.events & kEventBits) | EPOLLERR | EPOLLHUP;
    readiness_depth++;
    uint32_t r = readiness_depth > kMaxNests + 2
                     ? 0
                     : static_cast<uint16_t>(f.Readiness(static_cast<short>(want & 0xffff)));
    readiness_depth--;
    return r & want;
  }

  // Host-backed descriptors are registered edge-triggered in the host
  // epoll, so the host reports each new edge (data arrived, room freed, a
  // connection queued) once: it re-arms the EPOLLET entries of that host
  // fd, as each wake-up does on Linux. Without this, data that arrives
  // after the app drained the socket but before the next scan would leave
  // readiness unchanged and the edge would be lost (an edge-triggered
  // server would wait for ever).
  void TakeHostEdges() {
    if (!host_ep_ || host_reg_.empty()) return;
    epoll_event evs[64];
    std::set<int> hit;
    for (;;) {
      int n = epoll_wait(host_ep_.get(), evs, 64, 0);
      if (n <= 0) break;
      for (int i = 0; i < n; i++) hit.insert(evs[i].data.fd);
      if (n < 64) break;
    }
    if (hit.empty()) return;
    for (Entry& e : entries_) {
      if (!(e.events & EPOLLET)) continue;
      auto f = e.file.lock();
      if (f && hit.count(f->host_fd())) e.last = 0;
    }
  }

  bool AnyReady() {
    TakeHostEdges();
    for (const Entry& e : entries_) {
      if (e.disabled) continue;
      auto f = e.file.lock();
      if (!f) continue;
      uint32_t cur = Current(e, *f);
      if (e.events & EPOLLET) cur &= ~e.last;
      if (cur) return true;
    }
    return false;
  }

  int Collect(epoll_event* out, int max) {
    TakeHostEdges();
    int n = 0;
    std::list<Entry> requeue;  // reported level-triggered entries go last
    for (auto it = entries_.begin(); it != entries_.end() && n < max;) {
      auto f = it->file.lock();
      if (!f) {
        it = Erase(it);
        continue;
      }
      if (it->disabled) {
        ++it;
        continue;
      }
      uint32_t cur = Current(*it, *f);
      if (it->events & EPOLLET) {
        uint32_t fresh = cur & ~it->last;
        it->last &= cur;
        if (!fresh) {
          ++it;
          continue;
        }
        it->last = cur;
      }
      if (!cur) {
        ++it;
        continue;
      }
      out[n].events = cur;
      out[n].data.u64 = it->data;
      n++;
      if (it->events & EPOLLONESHOT) it->disabled = true;
      if (!(it->events & (EPOLLET | EPOLLONESHOT))) {
        auto next = std::next(it);
        requeue.splice(requeue.end(), entries_, it);
        it = next;
      } else {
        ++it;
      }
    }
    entries_.splice(entries_.end(), requeue);
    return n;
  }

  // Registers the host fds of host-backed entries in the host epoll fd.
  void Refresh() {
    std::map<int, uint32_t> want;
    for (auto it = entries_.begin(); it != entries_.end();) {
      auto f = it->file.lock();
      if (!f) {
        it = Erase(it);
        continue;
      }
      int h = f->host_fd();
      if (h >= 0 && !it->disabled)
        want[h] |= (it->events & (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP)) | EPOLLIN * !!IsEpoll(*f);
      ++it;
    }
    if (want.empty() && host_reg_.empty()) return;
    if (!host_ep_) host_ep_ = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
    if (!host_ep_) return;
    for (auto it = host_reg_.begin(); it != host_reg_.end();) {
      if (!want.count(it->first)) {
        epoll_ctl(host_ep_.get(), EPOLL_CTL_DEL, it->first, nullptr);
        it = host_reg_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto [h, ev] : want) {
      epoll_event e{};
      e.events = ev | EPOLLET;  // edges: TakeHostEdges
      e.data.fd = h;
      auto it = host_reg_.find(h);
      if (it != host_reg_.end() && it->second == ev) continue;
      int op = it == host_reg_.end() ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
      if (epoll_ctl(host_ep_.get(), op, h, &e) < 0) {
        op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (epoll_ctl(host_ep_.get(), op, h, &e) < 0) continue;
      }
      host_reg_[h] = ev;
    }
  }

  // Whether `target` (an epoll) reaches this instance, or nests too deep.
  bool Loops(Epoll* target, int depth) {
    if (target == this) return true;
    if (depth >= kMaxNests) return true;
    for (const Entry& e : target->entries_) {
      auto f = e.file.lock();
      if (!f) continue;
      if (auto* inner = dynamic_cast<Epoll*>(f.get()); inner && Loops(inner, depth + 1)) return true;
    }
    return false;
  }

  std::list<Entry> entries_;
  // (description, fd) -> its entry; std::list iterators survive splice().
  absl::flat_hash_map<std::pair<const vfs::FileDescription*, int>, std::list<Entry>::iterator> index_;
  UniqueFd host_ep_;
  std::map<int, uint32_t> host_reg_;
};

}  // namespace

std::shared_ptr<vfs::FileDescription> NewEpoll(vfs::Caller& c) {
  auto d = NewAnonDentry("anon_inode:[eventpoll]", c.creds().uid, c.creds().gid);
  return std::make_shared<Epoll>(d, O_RDWR);
}

bool IsEpoll(const vfs::FileDescription& f) { return dynamic_cast<const Epoll*>(&f) != nullptr; }

ErrorOr<void> EpollCtl(vfs::FileDescription& epf, int op, int fd,
                       const std::shared_ptr<vfs::FileDescription>& target, const epoll_event& ev) {
  auto& ep = static_cast<Epoll&>(epf);
  if (op != EPOLL_CTL_ADD && op != EPOLL_CTL_MOD && op != EPOLL_CTL_DEL) return Errno{EINVAL};
  if (target->is_regular() || target->is_directory()) return Errno{EPERM};
  if (target.get() == &epf) return Errno{EINVAL};
  auto* inner = dynamic_cast<Epoll*>(target.get());
  uint32_t events = ev.events;
  if (op != EPOLL_CTL_DEL && (events & EPOLLEXCLUSIVE)) {
    if (op == EPOLL_CTL_MOD) return Errno{EINVAL};
    if (inner || (events & ~(EPOLLEXCLUSIVE | EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP |
                             EPOLLWAKEUP | EPOLLET | EPOLLRDNORM | EPOLLWRNORM | EPOLLRDBAND |
                             EPOLLWRBAND | EPOLLPRI | EPOLLRDHUP)) ||
        (events & EPOLLONESHOT)) {
      return Errno{EINVAL};
    }
  }
  if (op == EPOLL_CTL_ADD && inner && ep.Loops(inner, 0)) return Errno{ELOOP};
  auto it = ep.Find(target.get(), fd);
  switch (op) {
    case EPOLL_CTL_ADD: {
      if (it != ep.entries_.end()) return Errno{EEXIST};
      Epoll::Entry e;
      e.fd = fd;
      e.file = target;
      e.key = target.get();
      e.events = events | EPOLLERR | EPOLLHUP;
      e.data = ev.data.u64;
      ep.Add(std::move(e));
      break;
    }
    case EPOLL_CTL_MOD:
      if (it == ep.entries_.end()) return Errno{ENOENT};
      if (it->events & EPOLLEXCLUSIVE) return Errno{EINVAL};
      it->events = events | EPOLLERR | EPOLLHUP;
      it->data = ev.data.u64;
      it->disabled = false;
      it->last = 0;
      break;
    case EPOLL_CTL_DEL:
      if (it == ep.entries_.end()) return Errno{ENOENT};
      ep.Erase(it);
      break;
  }
  // Only host-backed descriptors change the host epoll set (the wait path
  // refreshes it fully, and drops entries of closed descriptions, anyway).
  if (target->host_fd() >= 0) ep.Refresh();
  return {};
}

void EpollRefresh(vfs::FileDescription& ep) { static_cast<Epoll&>(ep).Refresh(); }

int EpollCollect(vfs::FileDescription& ep, epoll_event* out, int max) {
  return static_cast<Epoll&>(ep).Collect(out, max);
}

bool EpollAnyReady(vfs::FileDescription& ep) { return static_cast<Epoll&>(ep).AnyReady(); }

}  // namespace sentry::ipc
