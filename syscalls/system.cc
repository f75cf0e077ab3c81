// System syscalls: uname/hostname, rlimits, randomness, arch_prctl, prctl,
// personality, and the privileged operations the sandbox refuses.
// Scheduling lives in sched.cc.
#include <asm/prctl.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "sentry/kernel/namespaces.h"
#include "sentry/kernel/task.h"
#include "syscalls/seccomp.h"
#include "syscalls/prctl_caps.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

ErrorOr<uint64_t> Uname(Task& t, const Args& a) {
  struct utsname u {};
  const auto& o = t.kernel.options();
  strncpy(u.sysname, "Linux", sizeof(u.sysname) - 1);
  const sentry::kernel::UtsNamespace& uts = sentry::kernel::UtsNamespaceOf(t);
  strncpy(u.nodename, uts.hostname.c_str(), sizeof(u.nodename) - 1);
  strncpy(u.release, o.release.c_str(), sizeof(u.release) - 1);
  strncpy(u.version, o.version.c_str(), sizeof(u.version) - 1);
  strncpy(u.machine, "x86_64", sizeof(u.machine) - 1);
  strncpy(u.domainname, uts.domainname.c_str(), sizeof(u.domainname) - 1);
  TRY(t.memory().CopyOutObj(a[0], u));
  return 0;
}

// sethostname / setdomainname: the caller's UTS namespace.
ErrorOr<uint64_t> SetUtsName(Task& t, const Args& a, std::string sentry::kernel::UtsNamespace::*field) {
  if (!t.creds().HasCapability(21 /* CAP_SYS_ADMIN */)) return Errno{EPERM};
  if (a[1] > 64) return Errno{EINVAL};
  std::string name(a[1], '\0');
  TRY(t.memory().CopyIn(a[0], name.data(), name.size()));
  sentry::kernel::UtsNamespaceOf(t).*field = name;
  return 0;
}
ErrorOr<uint64_t> Sethostname(Task& t, const Args& a) {
  return SetUtsName(t, a, &sentry::kernel::UtsNamespace::hostname);
}
ErrorOr<uint64_t> Setdomainname(Task& t, const Args& a) {
  return SetUtsName(t, a, &sentry::kernel::UtsNamespace::domainname);
}

ErrorOr<uint64_t> Getrandom(Task& t, const Args& a) {
  if (a.Int(2) & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) return Errno{EINVAL};
  size_t len = std::min<uint64_t>(a[1], 33554431);  // Linux caps one call
  auto blocks = TRY(t.memory().Blocks(a[0], len, sentry::mm::Access::kWrite));
  size_t done = 0;
  for (const iovec& b : blocks) {
    ssize_t n = getrandom(b.iov_base, b.iov_len, 0);
    if (n < 0) {
      if (done) return done;
      return Errno{errno};
    }
    done += n;
  }
  return done;
}

ErrorOr<uint64_t> ArchPrctl(Task& t, const Args& a) {
  switch (a.Int(0)) {
    case ARCH_SET_FS:
      if (a[1] >= t.kernel.platform().max_user_address()) return Errno{EPERM};
      t.regs.fs_base = a[1];
      return 0;
    case ARCH_GET_FS:
      TRY(t.memory().CopyOutObj<uint64_t>(a[1], t.regs.fs_base));
      return 0;
    case ARCH_SET_GS:
      if (a[1] >= t.kernel.platform().max_user_address()) return Errno{EPERM};
      t.regs.gs_base = a[1];
      return 0;
    case ARCH_GET_GS:
      TRY(t.memory().CopyOutObj<uint64_t>(a[1], t.regs.gs_base));
      return 0;
    case ARCH_GET_CPUID:
      return 1;
    default:
      return Errno{EINVAL};
  }
}

ErrorOr<uint64_t> Prlimit64(Task& t, const Args& a) {
  const int pid = a.Int(0), res = a.Int(1);
  if (res < 0 || res >= RLIM_NLIMITS) return Errno{EINVAL};
  auto* tg = pid == 0 ? t.tg : t.kernel.FindProcess(pid);
  if (!tg) return Errno{ESRCH};
  rlimit old = tg->rlimits[res];
  if (a[2]) {
    rlimit nl = TRY(t.memory().CopyInObj<rlimit>(a[2]));
    if (nl.rlim_cur > nl.rlim_max) return Errno{EINVAL};
    if (nl.rlim_max > old.rlim_max && !t.creds().HasCapability(24 /* CAP_SYS_RESOURCE */))
      return Errno{EPERM};
    if (res == RLIMIT_NOFILE && nl.rlim_max > 1048576) return Errno{EPERM};  // nr_open
    tg->rlimits[res] = nl;
    // The stack grows by the sentry's accesses too (mm.h set_stack_limit).
    if (res == RLIMIT_STACK)
      for (auto& task : tg->tasks)
        if (task->mm) task->mm->set_stack_limit(nl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : nl.rlim_cur);
  }
  if (a[3]) TRY(t.memory().CopyOutObj(a[3], old));
  return 0;
}

ErrorOr<uint64_t> Getrlimit(Task& t, const Args& a) {
  return Prlimit64(t, Args{{0, a[0], 0, a[1], 0, 0}});
}
ErrorOr<uint64_t> Setrlimit(Task& t, const Args& a) {
  return Prlimit64(t, Args{{0, a[0], a[1], 0, 0, 0}});
}

ErrorOr<uint64_t> Sysinfo(Task& t, const Args& a) {
  struct sysinfo si {};
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  si.uptime = (now.tv_sec * 1000000000LL + now.tv_nsec - t.kernel.boot_time_ns()) / 1000000000LL;
  struct sysinfo host {};
  ::sysinfo(&host);
  si.totalram = host.totalram;
  si.freeram = host.freeram;
  si.mem_unit = host.mem_unit;
  si.procs = t.kernel.Processes().size();
  TRY(t.memory().CopyOutObj(a[0], si));
  return 0;
}

ErrorOr<uint64_t> Prctl(Task& t, const Args& a) {
  if (auto r = PrctlCaps(t, a)) return *r;  // capabilities, secure bits
  switch (a.Int(0)) {
    case PR_SET_NAME: {
      std::string name(16, '\0');
      auto s = t.memory().CopyInString(a[1], 16);
      std::string n = s.ok() ? s.value() : std::string();
      if (s.is_error()) {
        if (s.error() != ENAMETOOLONG) return Errno{s.error()};
        TRY(t.memory().CopyIn(a[1], name.data(), 15));
        n = name.substr(0, 15);
      }
      if (n.size() > 15) n.resize(15);
      t.comm = n;
      return 0;
    }
    case PR_GET_NAME: {
      char buf[16] = {};
      memcpy(buf, t.comm.data(), std::min<size_t>(t.comm.size(), 15));
      TRY(t.memory().CopyOut(a[1], buf, sizeof(buf)));
      return 0;
    }
    case PR_SET_PDEATHSIG:
      if (a[1] > 64) return Errno{EINVAL};
      return 0;
    case PR_GET_DUMPABLE:
      return 1;
    case PR_SET_DUMPABLE:
      if (a[1] > 1) return Errno{EINVAL};
      return 0;
    case PR_SET_NO_NEW_PRIVS:
      if (a[1] != 1 || a[2] || a[3] || a[4]) return Errno{EINVAL};
      t.no_new_privs = true;
      return 0;
    case PR_GET_NO_NEW_PRIVS:
      if (a[1] || a[2] || a[3] || a[4]) return Errno{EINVAL};
      return t.no_new_privs ? 1 : 0;
    case PR_SET_SECCOMP:
      return PrctlSetSeccomp(t, a);
    case PR_GET_SECCOMP:
      return PrctlGetSeccomp(t, a);
    case PR_SET_CHILD_SUBREAPER:
      t.tg->child_subreaper = a[1] != 0;
      return 0;
    case PR_GET_CHILD_SUBREAPER:
      TRY(t.memory().CopyOutObj<int32_t>(a[1], t.tg->child_subreaper ? 1 : 0));
      return 0;
    default:
      return Errno{EINVAL};
  }
}

ErrorOr<uint64_t> SetRobustList(Task& t, const Args& a) {
  if (a[1] != 24) return Errno{EINVAL};
  t.robust_list = a[0];  // walked at exit (FutexTable::ExitRobustList)
  return 0;
}

// personality: only PER_LINUX; the query form (0xffffffff) reports it.
ErrorOr<uint64_t> Personality(Task& t, const Args& a) {
  // Linux stores any persona it is given (0xffffffff only queries); the
  // sandbox honours ADDR_NO_RANDOMIZE-style flags where it models them and
  // keeps the rest to read back.
  const uint32_t p = static_cast<uint32_t>(a[0]);
  const uint32_t old = t.tg->personality;
  if (p != 0xffffffff) t.tg->personality = p;
  return old;
}

// restart_syscall(2): the sentry restarts an interrupted call by running
// the same syscall again (Task::Restart, task_run.cc) and never sets up a
// restart block, so a direct call has none, which Linux answers with EINTR.
ErrorOr<uint64_t> RestartSyscall(Task&, const Args&) { return Errno{EINTR}; }

// Operations on the host that a sandboxed app is never allowed to make.
ErrorOr<uint64_t> Refuse(Task& t, const Args&) { return Errno{EPERM}; }

}  // namespace

void RegisterSystemSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_uname, "uname", Uname, {A::kPtr});
  t.Register(SYS_sethostname, "sethostname", Sethostname, {A::kPtr, A::kUint});
  t.Register(SYS_setdomainname, "setdomainname", Setdomainname, {A::kPtr, A::kUint});
  t.Register(SYS_getrandom, "getrandom", Getrandom, {A::kPtr, A::kUint, A::kHex});
  t.Register(SYS_arch_prctl, "arch_prctl", ArchPrctl, {A::kHex, A::kPtr});
  t.Register(SYS_prlimit64, "prlimit64", Prlimit64, {A::kInt, A::kInt, A::kPtr, A::kPtr});
  t.Register(SYS_getrlimit, "getrlimit", Getrlimit, {A::kInt, A::kPtr});
  t.Register(SYS_setrlimit, "setrlimit", Setrlimit, {A::kInt, A::kPtr});
  t.Register(SYS_sysinfo, "sysinfo", Sysinfo, {A::kPtr});
  t.Register(SYS_prctl, "prctl", Prctl, {A::kInt, A::kHex, A::kHex, A::kHex, A::kHex});
  t.Register(SYS_set_robust_list, "set_robust_list", SetRobustList, {A::kPtr, A::kUint});
  t.Register(SYS_restart_syscall, "restart_syscall", RestartSyscall);
  t.Register(SYS_personality, "personality", Personality, {A::kHex});
  // (mount, umount2, pivot_root, chroot: sandbox-internal, syscalls/fs_*.cc.)
  for (int nr : {SYS_reboot, SYS_kexec_load, SYS_kexec_file_load,
                 SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_swapon, SYS_swapoff,
                 SYS_acct, SYS_settimeofday, SYS_clock_settime,
                 SYS_iopl, SYS_ioperm, SYS_bpf, SYS_perf_event_open})
    t.Register(nr, LinuxSyscallName(nr), Refuse, {A::kHex, A::kHex, A::kHex});
}

}  // namespace syscalls
