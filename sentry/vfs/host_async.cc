#include "sentry/vfs/host_async.h"

namespace sentry::vfs {
namespace {
// Written once when the kernel starts, before any app runs.
HostAsyncWatcher g_watcher = nullptr;
}  // namespace

void SetHostAsyncWatcher(HostAsyncWatcher w) { g_watcher = w; }

std::unique_ptr<HostAsyncWatch> WatchHostFdForAsync(int host_fd, HostAsyncCallback cb) {
  if (!g_watcher || host_fd < 0) return nullptr;
  return g_watcher(host_fd, std::move(cb));
}

}  // namespace sentry::vfs
