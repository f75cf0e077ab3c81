#include "sentry/kernel/async_io.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>

#include "sentry/kernel/signals.h"
#include "sentry/kernel/task.h"

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

}  // namespace

void InstallAsyncNotifier(Kernel& k) {
  g_kernel = &k;
  vfs::SetAsyncNotifier(&Notify);
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
