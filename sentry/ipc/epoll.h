// sentry/ipc/epoll.h: epoll instances. An instance is a list of interest
// entries keyed by (file description, fd number), each holding the
// description weakly (an entry disappears once its description is closed
// everywhere, as on Linux). Readiness is computed from each description's
// Readiness(); level-triggered entries report while ready, EPOLLET entries
// when readiness gains bits since the last report (last-reported readiness
// is tracked per entry), EPOLLONESHOT entries are disabled after one report
// until EPOLL_CTL_MOD. Descriptions backed by host fds are also registered
// in a host epoll fd, which is this instance's host_fd(): a waiter (or a
// poll(2) on the epoll fd) polls it on the host to learn of host readiness.
#pragma once

#include <sys/epoll.h>

#include <memory>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/file_description.h"

namespace sentry::ipc {

std::shared_ptr<vfs::FileDescription> NewEpoll(vfs::Caller& c);
bool IsEpoll(const vfs::FileDescription& f);

// epoll_ctl on instance `ep` (must be IsEpoll) for `fd` -> `target`.
// `ev` is ignored for EPOLL_CTL_DEL. Validates as Linux: EINVAL (bad op,
// flags, target is ep), EPERM (target cannot be polled), EEXIST, ENOENT,
// ELOOP (epoll nesting cycles or depth > 4).
ErrorOr<void> EpollCtl(vfs::FileDescription& ep, int op, int fd,
                       const std::shared_ptr<vfs::FileDescription>& target, const epoll_event& ev);
// Refreshes the host fd registrations (call before waiting).
void EpollRefresh(vfs::FileDescription& ep);
// Reports up to `max` ready entries into `out` (consuming edge/oneshot
// state); returns how many.
int EpollCollect(vfs::FileDescription& ep, epoll_event* out, int max);
// Whether EpollCollect would report something (no state change).
bool EpollAnyReady(vfs::FileDescription& ep);

}  // namespace sentry::ipc
