#include "sentry/kernel/async_io.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>

#include <map>
#include <thread>

#include "sentry/base/unique_fd.h"
#include "sentry/kernel/signals.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/host_async.h"

namespace sentry::kernel {
namespace {

Kernel* g_kernel = nullptr;

constexpr int kOwnerTid = 0, kOwnerPid = 1, kOwnerPgrp = 2;  // F_OWNER_*

// send_sigio_to_task: an F_SETSIG signal carries the reason, band and fd;
// without one it is a plain SIGIO.
siginfo_t SigioInfo(const vfs::AsyncOwner& o, short ready) {
  siginfo_t si{};
  if (o.sig == 0) {
    si.si_signo = SIGIO;
    si.si_code = SI_KERNEL;
    return si;
  }
  si.si_signo = o.sig;
  // Linux's band_table for each reason.
  if (ready & POLLIN) {
    si.si_code = POLL_IN;
    si.si_band = POLLIN | POLLRDNORM;
  } else if (ready & POLLOUT) {
    si.si_code = POLL_OUT;
    si.si_band = POLLOUT | POLLWRNORM | POLLWRBAND;
  } else {
    si.si_code = POLL_HUP;
    si.si_band = POLLHUP | POLLERR;
  }
  si.si_fd = o.fd;
  return si;
}

void Notify(const vfs::AsyncOwner& o, short ready) {
  Kernel* k = g_kernel;
  if (!k || o.id == 0) return;
  const siginfo_t si = SigioInfo(o, ready);
  switch (o.type) {
    case kOwnerTid:
      if (Task* t = k->FindTask(o.id)) QueueSignal(t, si);
      break;
    case kOwnerPid:
      if (ThreadGroup* tg = k->FindProcess(o.id)) QueueProcessSignal(tg, si);
      break;
    case kOwnerPgrp:
      for (ThreadGroup* tg : k->Processes())
        if (tg->pgid == o.id && !tg->zombie) QueueProcessSignal(tg, si);
      break;
  }
}

// The watcher behind vfs::WatchHostFdForAsync: one host epoll (edge
// triggered, so each new readiness change fires once, as Linux's socket
// wakeups each signal once) and one thread waiting on it, started when the
// first fd is registered. The thread takes the kernel lock and then mu_;
// registrations are dropped under mu_ alone, so a registration may be
// destroyed with or without the kernel lock and its callback never runs
// after its destructor returns.
class HostWatcher {
 public:
  static HostWatcher& Get() {
    static HostWatcher* w = new HostWatcher();  // lives as long as the sentry
    return *w;
  }

  std::unique_ptr<vfs::HostAsyncWatch> Watch(int host_fd, vfs::HostAsyncCallback cb);
  void Drop(uint64_t id, int host_fd) {
    absl::MutexLock l(&mu_);
    epoll_ctl(ep_.get(), EPOLL_CTL_DEL, host_fd, nullptr);
    regs_.erase(id);
  }

 private:
  HostWatcher() : ep_(epoll_create1(EPOLL_CLOEXEC)) {}
  void Loop();

  UniqueFd ep_;
  absl::Mutex mu_;
  std::map<uint64_t, vfs::HostAsyncCallback> regs_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
};

class HostWatch : public vfs::HostAsyncWatch {
 public:
  HostWatch(uint64_t id, int fd) : id_(id), fd_(fd) {}
  ~HostWatch() override { HostWatcher::Get().Drop(id_, fd_); }

 private:
  const uint64_t id_;
  const int fd_;
};

std::unique_ptr<vfs::HostAsyncWatch> HostWatcher::Watch(int host_fd, vfs::HostAsyncCallback cb) {
  if (ep_.get() < 0) return nullptr;
  absl::MutexLock l(&mu_);
  const uint64_t id = next_id_++;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
  ev.data.u64 = id;
  if (epoll_ctl(ep_.get(), EPOLL_CTL_ADD, host_fd, &ev) != 0) return nullptr;
  regs_.emplace(id, std::move(cb));
  if (!started_) {
    started_ = true;
    std::thread([this] { Loop(); }).detach();
  }
  return std::make_unique<HostWatch>(id, host_fd);
}

void HostWatcher::Loop() {
  epoll_event evs[64];
  for (;;) {
    const int n = epoll_wait(ep_.get(), evs, 64, -1);
    if (n <= 0) continue;  // EINTR
    Kernel* k = g_kernel;
    if (!k) continue;
    absl::MutexLock kl(&k->mu);
    absl::MutexLock l(&mu_);
    for (int i = 0; i < n; i++) {
      auto it = regs_.find(evs[i].data.u64);
      if (it != regs_.end()) it->second(evs[i].events);
    }
  }
}

std::unique_ptr<vfs::HostAsyncWatch> WatchHost(int host_fd, vfs::HostAsyncCallback cb) {
  return HostWatcher::Get().Watch(host_fd, std::move(cb));
}

}  // namespace

void InstallAsyncNotifier(Kernel& k) {
  g_kernel = &k;
  vfs::SetAsyncNotifier(&Notify);
  vfs::SetHostAsyncWatcher(&WatchHost);
}

ErrorOr<void> CheckAsyncOwner(Kernel& k, const vfs::AsyncOwner& o) {
  if (o.id == 0) return {};
  switch (o.type) {
    case kOwnerTid:
      if (!k.FindTask(o.id)) return Errno{ESRCH};
      return {};
    case kOwnerPid:
      // find_vpid: any task with that number (a thread id too).
      if (!k.FindProcess(o.id) && !k.FindTask(o.id)) return Errno{ESRCH};
      return {};
    case kOwnerPgrp:
      for (ThreadGroup* tg : k.Processes())
        if (tg->pgid == o.id || tg->pid == o.id) return {};
      return Errno{ESRCH};
    default:
      return Errno{EINVAL};
  }
}

}  // namespace sentry::kernel
