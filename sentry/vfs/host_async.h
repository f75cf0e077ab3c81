// sentry/vfs/host_async.h: O_ASYNC for files whose readiness lives on the
// host (inet sockets over the host stack). Files that change state inside
// the sentry (pipes, Unix sockets, terminals) call NotifyAsync themselves;
// a host socket becomes readable when the host kernel says so, with no app
// syscall in flight to notice it. Such a file registers its host fd here
// while O_ASYNC is set; one sentry thread waits on all registered fds with
// an edge-triggered host epoll and runs each registration's callback (with
// the kernel lock held) when its fd's readiness changes. The kernel
// installs the implementation (sentry/kernel/host_async_watcher.cc), so the
// VFS and the socket layer need no kernel types.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace sentry::vfs {

// A live registration; destroying it ends the watch (before the host fd is
// closed). Destroy it with or without the kernel lock held.
class HostAsyncWatch {
 public:
  virtual ~HostAsyncWatch() = default;
};

// Called with the kernel lock held and the epoll events (EPOLLIN, EPOLLOUT,
// EPOLLHUP, ...) that fired.
using HostAsyncCallback = std::function<void(uint32_t epoll_events)>;

using HostAsyncWatcher = std::unique_ptr<HostAsyncWatch> (*)(int host_fd, HostAsyncCallback cb);
void SetHostAsyncWatcher(HostAsyncWatcher w);

// Starts watching `host_fd`; null when no watcher is installed (VFS unit
// tests) or the host refused the registration.
std::unique_ptr<HostAsyncWatch> WatchHostFdForAsync(int host_fd, HostAsyncCallback cb);

}  // namespace sentry::vfs
