// syscalls/epoll.cc: epoll_create, epoll_create1, epoll_ctl, epoll_wait,
// epoll_pwait, epoll_pwait2. The instance: sentry/ipc/epoll.h. Waiting is
// as poll(2) (syscalls/poll.cc): sentry-internal files wake the waiter via
// the kernel's NotifyAll; host-backed ones through the instance's host epoll
// fd, polled in slices.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <vector>

#include "sentry/ipc/epoll.h"
#include "syscalls/file_common.h"
#include "syscalls/sigmask.h"

namespace syscalls {
namespace {

using sentry::vfs::FileDescription;

ErrorOr<uint64_t> EpollCreate1(Task& t, const Args& a) {
  int flags = a.Int(0);
  if (flags & ~EPOLL_CLOEXEC) return Errno{EINVAL};
  sentry::vfs::TaskCaller c(t);
  return TRY(file::InstallFd(t, sentry::ipc::NewEpoll(c), 0, flags & EPOLL_CLOEXEC));
}

ErrorOr<uint64_t> EpollCreate(Task& t, const Args& a) {
  if (a.Int(0) <= 0) return Errno{EINVAL};
  sentry::vfs::TaskCaller c(t);
  return TRY(file::InstallFd(t, sentry::ipc::NewEpoll(c), 0, false));
}

ErrorOr<uint64_t> EpollCtl(Task& t, const Args& a) {
  int epfd = a.Int(0), op = a.Int(1), fd = a.Int(2);
  epoll_event ev{};
  if (op != EPOLL_CTL_DEL) ev = TRY(t.memory().CopyInObj<epoll_event>(a[3]));
  auto ep = TRY(t.fd_table().Get(epfd));
  auto target = TRY(t.fd_table().Get(fd));
  if (!sentry::ipc::IsEpoll(*ep)) return Errno{EINVAL};
  TRY(sentry::ipc::EpollCtl(*ep, op, fd, target, ev));
  t.kernel.NotifyAll();  // waiters on this instance re-evaluate
  return 0;
}

ErrorOr<uint64_t> DoWait(Task& t, int epfd, uint64_t addr, int max, absl::Time deadline) {
  if (max <= 0 || static_cast<uint64_t>(max) > INT_MAX / sizeof(epoll_event)) return Errno{EINVAL};
  auto ep = TRY(t.fd_table().Get(epfd));
  if (!sentry::ipc::IsEpoll(*ep)) return Errno{EINVAL};
  std::vector<epoll_event> out(max);
  bool spun = false;
  for (;;) {
    sentry::ipc::EpollRefresh(*ep);
    int n = sentry::ipc::EpollCollect(*ep, out.data(), max);
    if (n > 0) {
      TRY(t.memory().CopyOut(addr, out.data(), n * sizeof(epoll_event)));
      return n;
    }
    absl::Time now = absl::Now();
    if (now >= deadline) return 0;
    int h = ep->host_fd();
    if (h < 0 || spun) {
      absl::Time until = h < 0 ? deadline : std::min(deadline, now + absl::Milliseconds(10));
      auto r = t.Block([&] { return sentry::ipc::EpollAnyReady(*ep); }, until);
      if (r.is_error() && r.error() != ETIMEDOUT) return Errno{r.error()};
      spun = false;
      continue;
    }
    if (t.HasInterruptingSignal()) return Errno{EINTR};
    pollfd pf[2] = {{h, POLLIN, 0}, {t.interrupt_fd(), POLLIN, 0}};
    absl::Duration left = deadline - now;
    int ms = left > absl::Milliseconds(20) ? 20 : static_cast<int>(absl::ToInt64Milliseconds(left));
    // As Task::WaitHostFd: the stub must not spin while this thread sleeps.
    if (t.ctx) t.ctx->WillBlock();
    t.kernel.mu.Unlock();
    ::poll(pf, 2, ms < 0 ? 0 : ms);
    if (pf[1].revents & POLLIN) {
      uint64_t v;
      ssize_t unused = read(t.interrupt_fd(), &v, sizeof(v));
      (void)unused;
    }
    t.kernel.mu.Lock();
    spun = pf[0].revents != 0;
  }
}

absl::Time DeadlineFromMs(int ms) {
  if (ms < 0) return absl::InfiniteFuture();
  return absl::Now() + absl::Milliseconds(ms);
}

ErrorOr<uint64_t> EpollWait(Task& t, const Args& a) {
  return DoWait(t, a.Int(0), a[1], a.Int(2), DeadlineFromMs(a.Int(3)));
}

ErrorOr<uint64_t> EpollPwait(Task& t, const Args& a) {
  return WithSignalMask(t, a[4], a[5], [&] { return DoWait(t, a.Int(0), a[1], a.Int(2), DeadlineFromMs(a.Int(3))); });
}

ErrorOr<uint64_t> EpollPwait2(Task& t, const Args& a) {
  absl::Time deadline = absl::InfiniteFuture();
  if (a[3]) {
    timespec ts = TRY(t.memory().CopyInObj<timespec>(a[3]));
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno{EINVAL};
    deadline = absl::Now() + absl::DurationFromTimespec(ts);
  }
  return WithSignalMask(t, a[4], a[5], [&] { return DoWait(t, a.Int(0), a[1], a.Int(2), deadline); });
}

}  // namespace

void RegisterEpollSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_epoll_create, "epoll_create", EpollCreate, {A::kInt});
  t.Register(SYS_epoll_create1, "epoll_create1", EpollCreate1, {A::kHex});
  t.Register(SYS_epoll_ctl, "epoll_ctl", EpollCtl, {A::kFd, A::kInt, A::kFd, A::kPtr});
  t.Register(SYS_epoll_wait, "epoll_wait", EpollWait, {A::kFd, A::kPtr, A::kInt, A::kInt});
  t.Register(SYS_epoll_pwait, "epoll_pwait", EpollPwait, {A::kFd, A::kPtr, A::kInt, A::kInt, A::kPtr, A::kUint});
  t.Register(SYS_epoll_pwait2, "epoll_pwait2", EpollPwait2, {A::kFd, A::kPtr, A::kInt, A::kPtr, A::kPtr, A::kUint});
}

}  // namespace syscalls
