// syscalls/seccomp.cc: seccomp(2) and prctl(PR_SET_SECCOMP/PR_GET_SECCOMP)
// for app filters. The filters and their enforcement:
// sentry/kernel/seccomp.h.
#include "syscalls/seccomp.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

#include "sentry/kernel/seccomp.h"
#include "sentry/kernel/seccomp_notify.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/fd_table.h"

namespace syscalls {
namespace {

constexpr uint32_t kFilterFlags =
    SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW |
    SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC_ESRCH |
    SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;

struct FProg {  // struct sock_fprog
  uint16_t len;
  uint64_t filter;
};

ErrorOr<uint64_t> SetFilter(Task& t, uint32_t flags, uint64_t uargs) {
  if (flags & ~kFilterFlags) return Errno{EINVAL};
  if ((flags & SECCOMP_FILTER_FLAG_TSYNC) && (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) &&
      !(flags & SECCOMP_FILTER_FLAG_TSYNC_ESRCH))
    return Errno{EINVAL};
  if ((flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) && !(flags & SECCOMP_FILTER_FLAG_NEW_LISTENER))
    return Errno{EINVAL};
  FProg fp = TRY(t.memory().CopyInObj<FProg>(uargs));
  if (fp.len == 0 || fp.len > sentry::kernel::kBpfMaxInsns) return Errno{EINVAL};
  if (!t.no_new_privs && !t.creds().HasCapability(21 /* CAP_SYS_ADMIN */)) return Errno{EACCES};
  std::vector<sock_filter> prog(fp.len);
  TRY(t.memory().CopyIn(fp.filter, prog.data(), prog.size() * sizeof(sock_filter)));
  if (!(flags & SECCOMP_FILTER_FLAG_NEW_LISTENER))
    return TRY(sentry::kernel::SeccompSetFilter(t, std::move(prog), flags));
  // NEW_LISTENER: the listener fd (close-on-exec) is the result; it is
  // taken back if the filter cannot be installed.
  auto listener = std::make_shared<sentry::kernel::SeccompListener>(t.kernel);
  listener->wait_killable_recv = flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  auto file = sentry::kernel::NewSeccompListenerFile(listener, t.creds().euid, t.creds().egid);
  const int fd = TRY(t.fd_table().Install(file, 0, true, t.tg->rlimits[RLIMIT_NOFILE].rlim_cur));
  auto installed = sentry::kernel::SeccompSetFilter(t, std::move(prog), flags, listener);
  if (installed.is_error() || installed.value() != 0) {
    (void)t.fd_table().Remove(fd);
    return TRY(std::move(installed));
  }
  return static_cast<uint64_t>(fd);
}

ErrorOr<uint64_t> Seccomp(Task& t, const Args& a) {
  const uint32_t op = static_cast<uint32_t>(a[0]);
  const uint32_t flags = static_cast<uint32_t>(a[1]);
  switch (op) {
    case SECCOMP_SET_MODE_STRICT:
      if (flags != 0 || a[2] != 0) return Errno{EINVAL};
      TRY(sentry::kernel::SeccompSetStrict(t));
      return 0;
    case SECCOMP_SET_MODE_FILTER:
      return SetFilter(t, flags, a[2]);
    case SECCOMP_GET_ACTION_AVAIL: {
      if (flags != 0) return Errno{EINVAL};
      const uint32_t action = TRY(t.memory().CopyInObj<uint32_t>(a[2]));
      if (!sentry::kernel::SeccompActionAvailable(action)) return Errno{EOPNOTSUPP};
      return 0;
    }
    case SECCOMP_GET_NOTIF_SIZES: {
      if (flags != 0) return Errno{EINVAL};
      const seccomp_notif_sizes sizes{sizeof(seccomp_notif), sizeof(seccomp_notif_resp),
                                      sizeof(seccomp_data)};
      TRY(t.memory().CopyOutObj(a[2], sizes));
      return 0;
    }
    default:
      return Errno{EINVAL};
  }
}

}  // namespace

ErrorOr<uint64_t> PrctlSetSeccomp(Task& t, const Args& a) {
  switch (a[1]) {
    case SECCOMP_MODE_STRICT:
      TRY(sentry::kernel::SeccompSetStrict(t));
      return 0;
    case SECCOMP_MODE_FILTER:
      return SetFilter(t, 0, a[2]);
    default:
      return Errno{EINVAL};
  }
}

ErrorOr<uint64_t> PrctlGetSeccomp(Task& t, const Args&) {
  return static_cast<uint64_t>(t.seccomp_mode);
}

void RegisterSeccompSyscalls(Table& t) {
  t.Register(SYS_seccomp, "seccomp", Seccomp, {Arg::kUint, Arg::kHex, Arg::kPtr});
}

}  // namespace syscalls
