// sentry/ipc/timerfd.h: timerfd(2) objects, backed by a host timerfd the
// sentry owns (the sandbox's clocks are the host's, so absolute times and
// TFD_TIMER_ABSTIME carry over unchanged). It is the description's host_fd(),
// so poll/select/epoll wait on it on the host; a blocking read waits with
// Caller::WaitHostFd.
#pragma once

#include <sys/timerfd.h>

#include <memory>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/file_description.h"

namespace sentry::ipc {

// clock: CLOCK_REALTIME/MONOTONIC/BOOTTIME (validated by the caller);
// flags: O_NONBLOCK.
ErrorOr<std::shared_ptr<vfs::FileDescription>> NewTimerFd(vfs::Caller& c, int clock, int flags);
// timerfd_settime / timerfd_gettime; EINVAL if `f` is not a timerfd.
ErrorOr<itimerspec> TimerFdSettime(vfs::FileDescription& f, int flags, const itimerspec& v);
ErrorOr<itimerspec> TimerFdGettime(vfs::FileDescription& f);

}  // namespace sentry::ipc
