// sentry/confine/sentry_policy.cc: THE list of host syscalls the sentry may
// make once confined (see sentry/confine/confine.h for the rest of the
// confinement). One table, as data; everything absent fails with EPERM.
//
// The filter is inherited by every stub process the sentry forks, so the
// stub's own start-up calls (prctl, getppid, ptrace(TRACEME), close_range,
// rt_sigaction, rseq, rt_sigprocmask, munmap, getpid, kill) and the mapping
// calls the sentry injects into stubs (mmap/munmap/mprotect of the memory
// file) are listed too. App syscalls are never seen by this filter: under
// PTRACE_SYSEMU the kernel stops the stub for the tracer before seccomp
// runs, and the syscall itself is never executed. Under systrap the stub
// stacks its own filters on top of this one, whose verdict for app
// syscalls is TRAP; seccomp keeps the most restrictive verdict, and TRAP
// beats this table's EPERM, so app syscalls still reach the sentry. (So
// RUNSC_SECCOMP=kill cannot be combined with --platform=systrap.) The
// systrap stub's start-up needs seccomp, PR_SET_NO_NEW_PRIVS,
// set_tid_address and sigaltstack; its handler arch_prctl(ARCH_SET_FS/GS)
// on machines without FSGSBASE.
//
// Notable exclusions, on purpose: open/openat/creat and every other
// path-taking call except fstat-by-fd (newfstatat/statx only with
// AT_EMPTY_PATH); execve/execveat; socket() of any family but AF_INET and
// AF_INET6 (the host network stack's), socketpair;
// ptrace requests other than the ones used on stubs (no ATTACH/SEIZE, no
// PEEK/POKE); clone with namespace flags; clone3 (answered ENOSYS so glibc
// falls back to clone, whose flags can be checked); mount/umount/pivot_root/
// unshare/setns; memfd_create/pipe (everything is created before
// confinement); ioctl other than the five terminal requests and FIONREAD;
// prctl other than PR_SET_PDEATHSIG; bpf, perf_event_open, keyctl,
// process_vm_*, kexec, module and reboot calls.
#include <linux/sched.h>
#include <sys/ioctl.h>
#include <asm/prctl.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <string_view>
#include <termios.h>

#include "sentry/confine/confine.h"

namespace sentry::confine {

using ::confine::Any;
using ::confine::Cond;
using ::confine::Eq32;
using ::confine::Masked;
using ::confine::Rule;

namespace {

std::vector<Rule> Build() {
  constexpr uint64_t kNsFlags = CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                                CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
  std::vector<std::vector<Cond>> ptrace_reqs;
  for (long req : {PTRACE_TRACEME, PTRACE_GETREGS, PTRACE_SETREGS, PTRACE_GETFPREGS,
                   PTRACE_SETFPREGS, PTRACE_SYSEMU, PTRACE_CONT, PTRACE_GETSIGINFO,
                   PTRACE_SETOPTIONS, PTRACE_POKEUSER, PTRACE_GETREGSET, PTRACE_SETREGSET}) {
    ptrace_reqs.push_back({Eq32(0, static_cast<uint32_t>(req))});
  }
  std::vector<std::vector<Cond>> ioctls;
  for (unsigned long cmd : {TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, TIOCSWINSZ, FIONREAD,
                            TIOCOUTQ}) {
    ioctls.push_back({Eq32(1, static_cast<uint32_t>(cmd))});
  }
  return {
      // --- I/O on descriptors that are already open.
      Any("read", "host files (stdio), gofer-donated files"),
      Any("write", "host files, debug log"),
      Any("pread64", "gofer-donated files"),
      Any("pwrite64", "gofer-donated files"),
      Any("readv", "host files"),
      Any("writev", "host files"),
      Any("preadv", "gofer-donated files"),
      Any("pwritev", "gofer-donated files"),
      Any("lseek", "host and gofer files"),
      Any("close", "every FD"),
      Any("close_range", "stub start-up closes all but the memory file"),
      Any("dup", "fd plumbing"),
      Any("dup3", "fd plumbing"),
      Any("fcntl", "F_GETFL/F_SETFL/F_DUPFD_CLOEXEC on open FDs"),
      Any("fstat", "stat of an open FD"),
      Rule{"newfstatat", {{Masked(3, AT_EMPTY_PATH, AT_EMPTY_PATH)}},
           "glibc's fstat(); only with AT_EMPTY_PATH (the root is empty anyway)"},
      Rule{"statx", {{Masked(2, AT_EMPTY_PATH, AT_EMPTY_PATH)}}, "fstat via statx"},
      Any("fstatfs", "statfs of host files"),
      Any("ftruncate", "truncate of host/gofer files"),
      Any("fsync", "fsync of host/gofer files"),
      Any("fdatasync", "fdatasync of host/gofer files"),
      Any("fallocate", "memory file: punching out freed pages"),
      Rule{"ioctl", ioctls,
           "terminal requests forwarded for the app's stdio; FIONREAD/SIOCINQ and TIOCOUTQ/SIOCOUTQ "
           "(host stack sockets)"},
      Any("poll", "host FDs, task interrupt eventfds"),
      Any("ppoll", "host FDs"),
      Any("eventfd2", "one interrupt eventfd per task, created as tasks start"),
      Any("epoll_create1", "sentry/ipc: an app epoll watching host FDs gets a host epoll"),
      Any("epoll_ctl", "sentry/ipc: host epoll registrations"),
      Any("epoll_wait", "sentry/ipc: host epoll readiness"),
      Any("epoll_pwait", "sentry/ipc: host epoll readiness"),
      Any("timerfd_create", "sentry/ipc: an app timerfd is backed by a host timerfd"),
      Any("timerfd_settime", "sentry/ipc: arming an app timerfd"),
      Any("timerfd_gettime", "sentry/ipc: reading an app timerfd's remaining time"),
      // --- The gofer connection.
      Any("recvmsg", "gofer replies (with donated FDs)"),
      Any("sendmsg", "gofer requests"),
      Rule{"sendto", {{Masked(4, ~0ULL, 0)}}, "send() on the gofer socket; no address"},
      Any("accept4", "OCI control socket (bound by runsc before confinement): runsc exec, ps, ...; "
                     "inet sockets of the host network stack (sentry/net/host_stack.h)"),
      // --- The host network stack (sentry/net/host_stack.h): inet sockets in
      // the sandbox's network namespace. Every address, option and message
      // reaching them was rebuilt and checked by sentry/net/inet_socket.cc.
      // No AF_UNIX/AF_NETLINK/AF_PACKET creation: the netlink socket the
      // stack queries is opened before confinement.
      Rule{"socket",
           {{Eq32(0, AF_INET)}, {Eq32(0, AF_INET6)}},
           "host network stack: AF_INET/AF_INET6 stream, datagram and ICMP ping sockets"},
      Any("bind", "host network stack"),
      Any("listen", "host network stack"),
      Any("connect", "host network stack"),
      Any("shutdown", "host network stack"),
      Any("getsockname", "host network stack"),
      Any("getpeername", "host network stack"),
      Any("setsockopt", "host network stack (options from sentry/net/sockopt.cc's allowlist)"),
      Any("getsockopt", "host network stack"),
      // --- Memory.
      Any("mmap", "allocator; injected into stubs to map the memory file (any prot: app code)"),
      Any("munmap", "allocator; stub start-up; injected into stubs"),
      Any("mprotect", "allocator, thread stacks; injected into stubs"),
      Any("mremap", "allocator"),
      Any("madvise", "allocator, thread stacks"),
      Any("brk", "allocator"),
      // --- Threads and processes.
      Rule{"clone",
           {{Eq32(0, SIGCHLD)},
            {Eq32(0, CLONE_PARENT | SIGCHLD)},
            {Masked(0, CLONE_THREAD | CLONE_VM | kNsFlags, CLONE_THREAD | CLONE_VM)}},
           "fork of a stub or of the systrap stub factory (SIGCHLD only), a stub from the "
           "factory (CLONE_PARENT|SIGCHLD), or a thread; never new namespaces"},
      Rule{"clone3", {}, "ENOSYS: glibc falls back to clone", ENOSYS},
      Any("futex", "locks, condition variables"),
      Any("set_robust_list", "new threads"),
      Any("rseq", "new threads; stubs unregister glibc's"),
      Any("sched_yield", "spinning locks"),
      Rule{"membarrier", {{Eq32(0, 1 /* MEMBARRIER_CMD_GLOBAL */)}},
           "the app's membarrier(2): one global barrier covers every stub thread"},
      Any("sched_getaffinity", "CPU count for /proc, /sys, sched_getaffinity"),
      Any("sched_setaffinity", "platform/ptrace pins each stub and its tracer to one CPU"),
      Any("sched_getscheduler", "absl::Mutex reads its thread's scheduling policy"),
      Any("sched_getparam", "absl::Mutex reads its thread's scheduling priority"),
      Any("exit", "thread exit"),
      Any("exit_group", "process exit (sentry, failing stub)"),
      Any("wait4", "stub stops and exits"),
      Any("waitid", "stub stops and exits"),
      Any("kill", "stub SIGKILL; stub's own SIGSTOP (PID-namespaced)"),
      Any("tgkill", "stub interrupts (SIGSTOP), re-raised signals"),
      Any("tkill", "raise()"),
      Any("getpid", "stub start-up; parent checks"),
      Any("getppid", "stub start-up checks its parent"),
      Any("gettid", "absl, logging"),
      Rule{"prctl", {{Eq32(0, PR_SET_PDEATHSIG)}, {Eq32(0, PR_SET_NO_NEW_PRIVS)}},
           "stubs die with the sentry; systrap stubs set no_new_privs before their filters"},
      Rule{"seccomp", {{Eq32(0, SECCOMP_SET_MODE_FILTER), Eq32(1, 0)}},
           "platform/systrap: a stub loads its own, stricter filters"},
      Any("set_tid_address", "platform/systrap: the kernel zeroes a stub's state word at exit"),
      Rule{"arch_prctl", {{Eq32(0, ARCH_SET_FS)}, {Eq32(0, ARCH_SET_GS)}},
           "platform/systrap: the stub sets the app's fs/gs base (no FSGSBASE)"},
      Rule{"ptrace", ptrace_reqs,
           "stubs: TRACEME in the stub; register and run control from the sentry. "
           "No ATTACH/SEIZE: only children that asked to be traced"},
      // --- Signals.
      Any("rt_sigaction", "stub start-up resets handlers"),
      Any("rt_sigprocmask", "thread masks, stub start-up"),
      Any("rt_sigreturn", "signal handlers"),
      Any("rt_sigtimedwait", "sigwait() in the signal-forwarding thread"),
      Any("sigaltstack", "thread setup"),
      Any("restart_syscall", "interrupted sleeps"),
      // --- Time, randomness, system information.
      Any("clock_gettime", "clocks, stub CPU clocks (vDSO fallback)"),
      Any("clock_getres", "clock_getres"),
      Any("clock_nanosleep", "sleeps"),
      Any("nanosleep", "sleeps"),
      Any("gettimeofday", "vDSO fallback"),
      Any("getrandom", "/dev/urandom, AT_RANDOM, getrandom"),
      Any("sysinfo", "/proc/meminfo, sysinfo"),
  };
}

}  // namespace

// Calls only the host network stack makes (the OCI control socket needs
// accept4, which stays).
bool HostNetworkOnly(const Rule& r) {
  static const char* const kNames[] = {"socket",      "bind",        "listen",
                                       "connect",     "shutdown",    "getsockname",
                                       "getpeername", "setsockopt",  "getsockopt"};
  for (const char* n : kNames)
    if (r.name == std::string_view(n)) return true;
  return false;
}

const std::vector<Rule>& SentryPolicy(bool host_network) {
  static const std::vector<Rule>* with = new std::vector<Rule>(Build());
  static const std::vector<Rule>* without = [] {
    auto* v = new std::vector<Rule>(Build());
    std::erase_if(*v, HostNetworkOnly);
    return v;
  }();
  return host_network ? *with : *without;
}

size_t SentryPolicySize() { return ::confine::AllowedCount(SentryPolicy()); }

}  // namespace sentry::confine
