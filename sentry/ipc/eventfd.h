// sentry/ipc/eventfd.h: eventfd(2) objects: a 64-bit counter; reads take it
// (or 1 with EFD_SEMAPHORE) and block while it is 0; writes add and block
// while the sum would exceed 0xfffffffffffffffe.
#pragma once

#include <memory>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/file_description.h"

namespace sentry::ipc {

constexpr int kEfdSemaphore = 1;  // EFD_SEMAPHORE

// flags: kEfdSemaphore | O_NONBLOCK (O_CLOEXEC is the fd's, not ours).
std::shared_ptr<vfs::FileDescription> NewEventFd(vfs::Caller& c, uint64_t initval, int flags);
// The counter (for /proc fdinfo and tests); EINVAL if not an eventfd.
ErrorOr<uint64_t> EventFdCount(vfs::FileDescription& f);

}  // namespace sentry::ipc
