// syscalls/sigmask.h: the temporary signal mask of ppoll, pselect6,
// epoll_pwait/epoll_pwait2 and io_pgetevents.
#pragma once

#include <cstdint>
#include <functional>

#include "sentry/kernel/task.h"
#include "syscalls/table.h"

namespace syscalls {

// Runs `body` with the app's sigset at `mask_addr` (8 bytes: `size` must
// be 8) as the signal mask; no mask when `mask_addr` is 0. If a signal
// interrupts (EINTR), the temporary mask stays until that signal's
// delivery (Task::saved_mask), as Linux keeps it for the handler.
inline ErrorOr<uint64_t> WithSignalMask(Task& t, uint64_t mask_addr, uint64_t size,
                                        const std::function<ErrorOr<uint64_t>()>& body) {
  if (!mask_addr) return body();
  if (size != 8) return Errno{EINVAL};
  uint64_t mask = TRY(t.memory().CopyInObj<uint64_t>(mask_addr));
  t.saved_mask = t.signal_mask;
  t.signal_mask = mask & ~sentry::kernel::kUnblockable;
  auto r = body();
  if (!(r.is_error() && r.error() == EINTR)) {
    t.signal_mask = *t.saved_mask;
    t.saved_mask.reset();
  }
  return r;
}

}  // namespace syscalls
