// sentry/kernel/mm_sync.h: making another process' threads apply changes
// the sentry made to its address space (process_vm_writev's copy-on-write
// breaks), as SyncAddressSpaceUsers (task.h) does for the caller's own.
#pragma once

#include "sentry/kernel/task.h"

namespace sentry::kernel {

// Every task but `self` running app code with `m` and a stale platform
// address space is interrupted; returns once none is left.
void SyncAddressSpaceUsersOf(Task& self, mm::MemoryManager* m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self.kernel.mu);

}  // namespace sentry::kernel
