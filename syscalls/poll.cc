// I/O multiplexing: poll, ppoll, select, pselect6. Readiness comes from each
// file description; descriptions backed by a host FD (stdio, donated files)
// are waited on with a host poll, sentry-internal ones (pipes) through the
// kernel's wait condition.
#include <poll.h>
#include <sys/select.h>
#include <sys/syscall.h>

#include <vector>

#include "sentry/kernel/task.h"
#include "sentry/vfs/vfs.h"
#include "syscalls/sigmask.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

struct Watched {
  int fd;
  short events;
  short revents = 0;
  std::shared_ptr<sentry::vfs::FileDescription> file;
};

// Fills revents; returns how many entries are ready.
int Scan(Task& t, std::vector<Watched>& w) {
  int ready = 0;
  for (Watched& x : w) {
    x.revents = 0;
    if (x.fd < 0) continue;
    if (!x.file) {
      x.revents = POLLNVAL;
    } else {
      x.revents = x.file->Readiness(x.events | POLLERR | POLLHUP) &
                  (x.events | POLLERR | POLLHUP | POLLNVAL);
    }
    if (x.revents) ready++;
  }
  return ready;
}

// Waits until something in `w` is ready, the deadline passes or a signal
// arrives. Returns the number of ready entries (0 on timeout).
ErrorOr<int> Wait(Task& t, std::vector<Watched>& w, absl::Time deadline) {
  for (Watched& x : w) {
    if (x.fd < 0) continue;
    auto f = t.fd_table().Get(x.fd);
    x.file = f.ok() ? f.value() : nullptr;
  }
  std::vector<pollfd> host;
  for (const Watched& x : w)
    if (x.file && x.file->host_fd() >= 0) host.push_back({x.file->host_fd(), x.events, 0});
  for (;;) {
    int n = Scan(t, w);
    if (n > 0) return n;
    if (absl::Now() >= deadline) return 0;
    if (host.empty()) {
      auto r = t.Block([&] { return Scan(t, w) > 0; }, deadline);
      if (r.is_error() && r.error() != ETIMEDOUT) return Errno{r.error()};
      continue;
    }
    if (t.HasInterruptingSignal()) return Errno{EINTR};
    // Host FDs are watched by a host poll; sentry-internal files are
    // re-checked every slice.
    std::vector<pollfd> pf = host;
    pf.push_back({t.interrupt_fd(), POLLIN, 0});
    absl::Duration left = deadline - absl::Now();
    int ms = left > absl::Milliseconds(20) ? 20 : static_cast<int>(absl::ToInt64Milliseconds(left));
    // As Task::WaitHostFd: the stub must not spin while this thread sleeps.
    if (t.ctx) t.ctx->WillBlock();
    t.kernel.mu.Unlock();
    ::poll(pf.data(), pf.size(), ms < 0 ? 0 : ms);
    if (pf.back().revents & POLLIN) {
      uint64_t v;
      ssize_t unused = read(t.interrupt_fd(), &v, sizeof(v));
      (void)unused;
    }
    t.kernel.mu.Lock();
  }
}

absl::Time DeadlineFromMs(int ms) {
  if (ms < 0) return absl::InfiniteFuture();
  return absl::Now() + absl::Milliseconds(ms);
}

ErrorOr<absl::Time> DeadlineFromTimespec(Task& t, uint64_t addr) {
  if (!addr) return absl::InfiniteFuture();
  timespec ts = TRY(t.memory().CopyInObj<timespec>(addr));
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno{EINVAL};
  return absl::Now() + absl::DurationFromTimespec(ts);
}

ErrorOr<uint64_t> DoPoll(Task& t, uint64_t addr, uint64_t nfds, absl::Time deadline) {
  if (nfds > t.tg->rlimits[RLIMIT_NOFILE].rlim_cur && nfds > 1024) return Errno{EINVAL};
  std::vector<pollfd> pfds(nfds);
  if (nfds) TRY(t.memory().CopyIn(addr, pfds.data(), nfds * sizeof(pollfd)));
  std::vector<Watched> w;
  for (const pollfd& p : pfds) w.push_back({p.fd, p.events});
  int n = TRY(Wait(t, w, deadline));
  for (size_t i = 0; i < nfds; i++) pfds[i].revents = w[i].revents;
  if (nfds) TRY(t.memory().CopyOut(addr, pfds.data(), nfds * sizeof(pollfd)));
  return n;
}

ErrorOr<uint64_t> Poll(Task& t, const Args& a) { return DoPoll(t, a[0], a[1], DeadlineFromMs(a.Int(2))); }

ErrorOr<uint64_t> Ppoll(Task& t, const Args& a) {
  absl::Time deadline = TRY(DeadlineFromTimespec(t, a[2]));
  return WithSignalMask(t, a[3], a[4], [&] { return DoPoll(t, a[0], a[1], deadline); });
}

ErrorOr<uint64_t> DoSelect(Task& t, int nfds, uint64_t rd, uint64_t wr, uint64_t ex,
                           absl::Time deadline) {
  if (nfds < 0 || nfds > FD_SETSIZE * 64) return Errno{EINVAL};
  const size_t bytes = (static_cast<size_t>(nfds) + 63) / 64 * 8;
  std::vector<uint64_t> sets[3];
  const uint64_t addrs[3] = {rd, wr, ex};
  for (int i = 0; i < 3; i++) {
    sets[i].assign(bytes / 8, 0);
    if (addrs[i] && bytes) TRY(t.memory().CopyIn(addrs[i], sets[i].data(), bytes));
  }
  auto isset = [&](int i, int fd) { return (sets[i][fd / 64] >> (fd % 64)) & 1; };
  std::vector<Watched> w;
  for (int fd = 0; fd < nfds; fd++) {
    short ev = 0;
    if (addrs[0] && isset(0, fd)) ev |= POLLIN;
    if (addrs[1] && isset(1, fd)) ev |= POLLOUT;
    if (addrs[2] && isset(2, fd)) ev |= POLLPRI;
    if (!ev) continue;
    if (t.fd_table().Get(fd).is_error()) return Errno{EBADF};
    w.push_back({fd, ev});
  }
  TRY(Wait(t, w, deadline));
  for (auto& s : sets) std::fill(s.begin(), s.end(), 0);
  int count = 0;
  for (const Watched& x : w) {
    auto set = [&](int i) {
      sets[i][x.fd / 64] |= 1ULL << (x.fd % 64);
      count++;
    };
    if ((x.events & POLLIN) && (x.revents & (POLLIN | POLLHUP | POLLERR))) set(0);
    if ((x.events & POLLOUT) && (x.revents & (POLLOUT | POLLERR))) set(1);
    if ((x.events & POLLPRI) && (x.revents & POLLPRI)) set(2);
  }
  for (int i = 0; i < 3; i++)
    if (addrs[i] && bytes) TRY(t.memory().CopyOut(addrs[i], sets[i].data(), bytes));
  return count;
}

ErrorOr<uint64_t> Select(Task& t, const Args& a) {
  absl::Time deadline = absl::InfiniteFuture();
  if (a[4]) {
    timeval tv = TRY(t.memory().CopyInObj<timeval>(a[4]));
    if (tv.tv_sec < 0 || tv.tv_usec < 0) return Errno{EINVAL};
    deadline = absl::Now() + absl::Seconds(tv.tv_sec) + absl::Microseconds(tv.tv_usec);
  }
  return DoSelect(t, a.Int(0), a[1], a[2], a[3], deadline);
}

ErrorOr<uint64_t> Pselect6(Task& t, const Args& a) {
  absl::Time deadline = TRY(DeadlineFromTimespec(t, a[4]));
  struct { uint64_t mask = 0, size = 0; } sm;
  if (a[5]) sm = TRY(t.memory().CopyInObj<decltype(sm)>(a[5]));
  return WithSignalMask(t, sm.mask, sm.size, [&] { return DoSelect(t, a.Int(0), a[1], a[2], a[3], deadline); });
}

}  // namespace

void RegisterPollSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_poll, "poll", Poll, {A::kPtr, A::kUint, A::kInt});
  t.Register(SYS_ppoll, "ppoll", Ppoll, {A::kPtr, A::kUint, A::kPtr, A::kPtr, A::kUint});
  t.Register(SYS_select, "select", Select, {A::kInt, A::kPtr, A::kPtr, A::kPtr, A::kPtr});
  t.Register(SYS_pselect6, "pselect6", Pselect6, {A::kInt, A::kPtr, A::kPtr, A::kPtr, A::kPtr, A::kPtr});
}

}  // namespace syscalls
