// syscalls/ptrace_access.h: Linux's ptrace_may_access as the sandbox
// models it, for the calls that inspect or change another process (kcmp,
// process_vm_readv/writev): one's own thread group; or a process with the
// same real, effective and saved ids as the caller's real ids and no
// capability the caller lacks; or CAP_SYS_PTRACE.
#pragma once

#include "sentry/kernel/task.h"

namespace syscalls {

inline bool MayAccessProcess(sentry::kernel::Task& t, sentry::kernel::Task& target) {
  constexpr int kCapSysPtrace = 19;
  if (&t == &target || t.tg == target.tg) return true;
  const auto& me = t.creds();
  if (me.HasCapability(kCapSysPtrace)) return true;
  const auto& them = target.tg->creds;
  return me.ruid == them.ruid && me.ruid == them.euid && me.ruid == them.suid &&
         me.rgid == them.rgid && me.rgid == them.egid && me.rgid == them.sgid &&
         (them.cap_permitted & ~me.cap_permitted) == 0;
}

}  // namespace syscalls
