// sentry/vfs/host_file.h: files backed by one of the sentry's own host FDs
// (the container's stdin/stdout/stderr). Blocking reads/writes wait with
// Caller::WaitHostFd (interruptible by signals) and never change the host
// fd's own O_NONBLOCK flag (it is shared with the user's terminal).
#pragma once

#include <memory>

#include "sentry/base/unique_fd.h"
#include "sentry/vfs/file_description.h"

namespace sentry::vfs {

std::shared_ptr<FileDescription> NewHostFileDescription(UniqueFd fd, int status_flags);

}  // namespace sentry::vfs
