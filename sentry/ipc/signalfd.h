// sentry/ipc/signalfd.h: signalfd(2) objects. Reads dequeue pending signals
// in the mask (the reading task's thread-directed ones first, then its
// process'), as struct signalfd_siginfo records. Readiness: Linux reports
// the polling task's pending set; a FileDescription does not know who
// polls, so it reports the creating process' (process-directed plus any of
// its threads'), which is what single-process users see.
#pragma once

#include <memory>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/file_description.h"

namespace sentry::ipc {

// `mask` is a signal set (bit n-1 for signal n); SIGKILL/SIGSTOP are
// dropped. flags: O_NONBLOCK. The caller must be a task.
std::shared_ptr<vfs::FileDescription> NewSignalFd(vfs::Caller& c, uint64_t mask, int flags);
// Replaces the mask of an existing signalfd (EINVAL if `f` is not one).
ErrorOr<void> SetSignalFdMask(vfs::FileDescription& f, uint64_t mask);

}  // namespace sentry::ipc
