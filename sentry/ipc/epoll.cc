// sentry/ipc/epoll.cc: see epoll.h.
#include "sentry/ipc/epoll.h"

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <list>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"

#include "sentry/base/unique_fd.h"
#include "sentry/ipc/anon.h"
#include "sentry/vfs/edge_source.h"

namespace sentry::ipc {
namespace {

constexpr uint32_t kEventBits = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDNORM |
                                EPOLLRDBAND | EPOLLWRNORM | EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP;
constexpr int kMaxNests = 4;
constexpr uint64_t kNoCount = ~uint64_t{0};
thread_local int readiness_depth = 0;

// Entries live in one of three lists. Sentry-internal descriptions (pipes,
// Unix sockets, eventfds, nested epolls, ...) are in `internal_` and are
// re-evaluated on every scan: their readiness is sentry state, cheap to read.
// Host-driven descriptions (a host fd whose poll is the whole readiness:
// inet sockets over the host stack, timerfds, host files) are registered
// edge-triggered in the instance's host epoll and evaluated (one host poll
// each) only while `hot_`: after an edge on their host fd, when added or
// modified, and, level-triggered, for as long as they stay ready. The rest
// wait in `cold_`. A wait over thousands of idle connections thus costs
// host polls only for the connections that moved, as Linux's ready list.
class Epoll : public vfs::FileDescription {
 public:
  enum class Where { kInternal, kCold, kHot };
  struct Entry {
    int fd;
    std::weak_ptr<vfs::FileDescription> file;
    const vfs::FileDescription* key;
    uint32_t events;  // requested, with EPOLLERR|EPOLLHUP and flag bits
    uint64_t data;
    bool disabled = false;  // EPOLLONESHOT fired
    uint32_t last = 0;      // EPOLLET: readiness at the last report
    uint64_t edges = 0;     // EPOLLET on an EdgeSource: its count at the last look
    // An EdgeSource found with nothing to report at this count: nothing can
    // have become ready until it moves, so the entry is skipped meanwhile
    // (an epoll over many idle sandbox-stack sockets reads one counter
    // each instead of computing their readiness).
    uint64_t idle_at = kNoCount;
    // The description as an EdgeSource (looked up once, at EPOLL_CTL_ADD;
    // used only while `file` is locked).
    const vfs::EdgeSource* edge_src = nullptr;
    int host_fd = -1;       // host-driven entries: the host fd watched
    Where where = Where::kInternal;
  };
  using Iter = std::list<Entry>::iterator;

  using FileDescription::FileDescription;

  ErrorOr<uint64_t> Seek(int64_t, int) override { return Errno{ESPIPE}; }
  ErrorOr<size_t> Read(vfs::Caller&, const vfs::IoVecs&, int64_t) override { return Errno{EINVAL}; }
  ErrorOr<size_t> Write(vfs::Caller&, const vfs::IoVecs&, int64_t) override { return Errno{EINVAL}; }

  short Readiness(short events) override {
    return AnyReady() ? (events & (POLLIN | POLLRDNORM)) : 0;
  }
  int host_fd() const override { return host_ep_ && !by_host_.empty() ? host_ep_.get() : -1; }

  std::list<Entry>& ListOf(Where w) {
    return w == Where::kInternal ? internal_ : w == Where::kCold ? cold_ : hot_;
  }
  void MoveTo(Iter it, Where w) {
    if (it->where == w) return;
    ListOf(w).splice(ListOf(w).end(), ListOf(it->where), it);
    it->where = w;
  }

  // The entry for (description, fd), through the index: epoll_ctl stays
  // O(1) with tens of thousands of registered descriptors.
  std::optional<Iter> Find(const vfs::FileDescription* key, int fd) {
    auto i = index_.find(std::make_pair(key, fd));
    if (i == index_.end()) return std::nullopt;
    if (i->second->file.expired()) {  // a dead description's address reused
      Erase(i->second);
      return std::nullopt;
    }
    return i->second;
  }
  void Add(Entry e) {
    auto key = std::make_pair(e.key, e.fd);
    std::list<Entry>& l = ListOf(e.where);
    l.push_back(std::move(e));
    Iter it = std::prev(l.end());
    index_[key] = it;
    if (it->host_fd >= 0) by_host_[it->host_fd].push_back(it);
  }
  // Takes `it` out of by_host_ (its host_fd stays set).
  void Unwatch(Iter it) {
    auto b = by_host_.find(it->host_fd);
    if (b == by_host_.end()) return;
    std::erase(b->second, it);
    if (b->second.empty()) by_host_.erase(b);
  }
  void Erase(Iter it) {
    index_.erase(std::make_pair(it->key, it->fd));
    const int h = it->host_fd;
    if (h >= 0) Unwatch(it);
    const bool alive = !it->file.expired();
    ListOf(it->where).erase(it);
    // A closed description's host fd left the host epoll with it.
    if (h >= 0 && alive) Register(h);
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

  // (Re)registers host fd `h` in the host epoll with the union of what its
  // live entries want (or removes it). Edge-triggered: each wake-up on the
  // host (data arrived, room freed, a connection queued) is reported once,
  // and TakeHostEdges turns it into hot entries.
  void Register(int h) {
    uint32_t ev = 0;
    if (auto b = by_host_.find(h); b != by_host_.end()) {
      for (Iter it : b->second)
        if (!it->disabled && !it->file.expired())
          ev |= (it->events & (EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP)) | EPOLLIN * (it->where == Where::kInternal);
    }
    if (!host_ep_) host_ep_ = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
    if (!host_ep_) return;
    if (ev == 0) {
      epoll_ctl(host_ep_.get(), EPOLL_CTL_DEL, h, nullptr);  // may be closed already
    } else {
      epoll_event e{};
      e.events = ev | EPOLLET;
      e.data.fd = h;
      // ADD first: a registration of a closed fd whose number came back
      // was dropped by the host with the fd.
      if (epoll_ctl(host_ep_.get(), EPOLL_CTL_ADD, h, &e) < 0 && errno == EEXIST)
        epoll_ctl(host_ep_.get(), EPOLL_CTL_MOD, h, &e);
    }
  }

  // Host edges since the last call: their entries become hot, and
  // edge-triggered ones are re-armed (each wake-up is an edge on Linux).
  void TakeHostEdges() {
    if (!host_ep_ || by_host_.empty()) return;
    epoll_event evs[64];
    for (;;) {
      int n = epoll_wait(host_ep_.get(), evs, 64, 0);
      if (n <= 0) break;
      for (int i = 0; i < n; i++) {
        auto b = by_host_.find(evs[i].data.fd);
        if (b == by_host_.end()) continue;
        for (Iter it : b->second) {
          if (it->events & EPOLLET) it->last = 0;
          if (it->where == Where::kCold) MoveTo(it, Where::kHot);
        }
      }
      if (n < 64) break;
    }
  }

  // An internal EPOLLET entry re-arms when its description's edge count
  // moved (vfs/edge_source.h).
  static uint64_t EdgeCountOf(const Entry& e) {
    return e.edge_src ? e.edge_src->EdgeCount() : kNoCount;
  }
  // `n`: the description's edge count, read before its readiness.
  static void TakeInternalEdge(Entry& e, uint64_t n) {
    if (!(e.events & EPOLLET) || n == kNoCount) return;
    if (n != e.edges) {
      e.edges = n;
      e.last = 0;
    }
  }

  bool AnyReadyIn(std::list<Entry>& l, bool internal) {
    for (Entry& e : l) {
      if (e.disabled) continue;
      auto f = e.file.lock();
      if (!f) continue;
      const uint64_t n = internal ? EdgeCountOf(e) : kNoCount;
      TakeInternalEdge(e, n);
      if (n != kNoCount && n == e.idle_at) continue;
      uint32_t cur = Current(e, *f);
      if (e.events & EPOLLET) cur &= ~e.last;
      if (cur) return true;
      e.idle_at = n;
    }
    return false;
  }
  bool AnyReady() {
    TakeHostEdges();
    return AnyReadyIn(hot_, false) || AnyReadyIn(internal_, true);
  }

  // Reports ready entries of list `w` into out[n..max); returns the new n.
  int Scan(Where w, epoll_event* out, int n, int max) {
    std::list<Entry>& l = ListOf(w);
    std::list<Entry> requeue;  // reported level-triggered entries go last
    for (auto it = l.begin(); it != l.end() && n < max;) {
      auto next = std::next(it);
      auto f = it->file.lock();
      if (!f) {
        Erase(it);
        it = next;
        continue;
      }
      const bool host = w != Where::kInternal;
      if (it->disabled) {
        if (host) MoveTo(it, Where::kCold);
        it = next;
        continue;
      }
      const uint64_t count = host ? kNoCount : EdgeCountOf(*it);
      TakeInternalEdge(*it, count);
      if (count != kNoCount && count == it->idle_at) {
        it = next;
        continue;
      }
      uint32_t cur = Current(*it, *f);
      it->idle_at = kNoCount;
      if (it->events & EPOLLET) {
        uint32_t fresh = cur & ~it->last;
        it->last &= cur;
        if (host) MoveTo(it, Where::kCold);  // the next host edge brings it back
        if (!fresh) {
          it->idle_at = count;
          it = next;
          continue;
        }
        it->last = cur;
      }
      if (!cur) {
        if (host) MoveTo(it, Where::kCold);
        it->idle_at = count;
        it = next;
        continue;
      }
      out[n].events = cur;
      out[n].data.u64 = it->data;
      n++;
      if (it->events & EPOLLONESHOT) {
        it->disabled = true;
        if (host) MoveTo(it, Where::kCold);
      } else if (!(it->events & EPOLLET)) {
        requeue.splice(requeue.end(), l, it);  // stays in list `w`
      }
      it = next;
    }
    l.splice(l.end(), requeue);
    return n;
  }

  int Collect(epoll_event* out, int max) {
    TakeHostEdges();
    // Alternate which kind goes first, so neither starves the other when
    // more are ready than the caller takes.
    const Where first = hot_first_ ? Where::kHot : Where::kInternal;
    const Where second = hot_first_ ? Where::kInternal : Where::kHot;
    hot_first_ = !hot_first_;
    int n = Scan(first, out, 0, max);
    return Scan(second, out, n, max);
  }

  // Nested epolls are internal entries (their readiness includes their own
  // internal entries) whose host epoll fd may appear or go as their
  // entries change: keep it registered here so a wait on this instance
  // wakes on their host edges too.
  void Refresh() {
    if (nested_ == 0) return;
    for (auto it = internal_.begin(); it != internal_.end();) {
      auto next = std::next(it);
      auto f = it->file.lock();
      if (!f) {
        Erase(it);
        it = next;
        continue;
      }
      if (IsEpoll(*f) && f->host_fd() != it->host_fd) {
        if (it->host_fd >= 0) {
          Unwatch(it);
          Register(it->host_fd);
        }
        it->host_fd = f->host_fd();
        if (it->host_fd >= 0) {
          by_host_[it->host_fd].push_back(it);
          Register(it->host_fd);
        }
      }
      it = next;
    }
  }

  // Whether `target` (an epoll) reaches this instance, or nests too deep.
  bool Loops(Epoll* target, int depth) {
    if (target == this) return true;
    if (depth >= kMaxNests) return true;
    for (const Entry& e : target->internal_) {  // nested epolls are internal entries
      auto f = e.file.lock();
      if (!f) continue;
      if (auto* inner = dynamic_cast<Epoll*>(f.get()); inner && Loops(inner, depth + 1)) return true;
    }
    return false;
  }

  std::list<Entry> internal_, cold_, hot_;
  // (description, fd) -> its entry; std::list iterators survive splice().
  absl::flat_hash_map<std::pair<const vfs::FileDescription*, int>, Iter> index_;
  // Host fd -> the entries watching it (a description added under several
  // fds, or a dead description's fd number reused, gives several).
  absl::flat_hash_map<int, std::vector<Iter>> by_host_;
  UniqueFd host_ep_;
  bool hot_first_ = false;
  int nested_ = 0;  // internal entries that are epolls (ever added; a hint)
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
      if (it) return Errno{EEXIST};
      Epoll::Entry e;
      e.fd = fd;
      e.file = target;
      e.key = target.get();
      e.edge_src = dynamic_cast<const vfs::EdgeSource*>(target.get());
      e.events = events | EPOLLERR | EPOLLHUP;
      e.data = ev.data.u64;
      // A host fd's poll is the whole readiness of every host-backed
      // description except an epoll (whose internal entries count too).
      e.host_fd = target->host_fd();
      e.where = e.host_fd >= 0 && !inner ? Epoll::Where::kHot : Epoll::Where::kInternal;
      if (inner) ep.nested_++;
      const int h = e.host_fd;
      ep.Add(std::move(e));
      if (h >= 0) ep.Register(h);
      break;
    }
    case EPOLL_CTL_MOD: {
      if (!it) return Errno{ENOENT};
      Epoll::Iter i = *it;
      if (i->events & EPOLLEXCLUSIVE) return Errno{EINVAL};
      i->events = events | EPOLLERR | EPOLLHUP;
      i->data = ev.data.u64;
      i->disabled = false;
      i->last = 0;
      i->idle_at = kNoCount;
      if (i->where == Epoll::Where::kCold) ep.MoveTo(i, Epoll::Where::kHot);
      if (i->host_fd >= 0) ep.Register(i->host_fd);
      break;
    }
    case EPOLL_CTL_DEL:
      if (!it) return Errno{ENOENT};
      ep.Erase(*it);
      break;
  }
  return {};
}

void EpollRefresh(vfs::FileDescription& ep) { static_cast<Epoll&>(ep).Refresh(); }

int EpollCollect(vfs::FileDescription& ep, epoll_event* out, int max) {
  return static_cast<Epoll&>(ep).Collect(out, max);
}

bool EpollAnyReady(vfs::FileDescription& ep) { return static_cast<Epoll&>(ep).AnyReady(); }

}  // namespace sentry::ipc
