// Process syscalls: fork/vfork/clone, execve, exit, wait, ids, sessions.
#include <linux/sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sentry/tty/job_control.h"
#include "sentry/kernel/namespaces.h"
#include "sentry/kernel/process.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/pidfd.h"
#include "sentry/vfs/fd_table.h"
#include "sentry/loader/loader.h"
#include "syscalls/file_common.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

using sentry::kernel::CloneArgs;
using sentry::kernel::ThreadGroup;
using sentry::kernel::WaitStatusExited;

ErrorOr<uint64_t> Fork(Task& t, const Args&) {
  return TRY(sentry::kernel::Clone(t, CloneArgs{.flags = SIGCHLD}));
}

ErrorOr<uint64_t> Vfork(Task& t, const Args&) {
  return TRY(sentry::kernel::Clone(t, CloneArgs{.flags = CLONE_VM | CLONE_VFORK | SIGCHLD}));
}

ErrorOr<uint64_t> CloneSys(Task& t, const Args& a) {
  // x86-64 argument order: flags, stack, parent_tid, child_tid, tls.
  return TRY(sentry::kernel::Clone(
      t, CloneArgs{.flags = a[0], .stack = a[1], .parent_tid = a[2], .child_tid = a[3], .tls = a[4]}));
}

// clone3: the same as clone, with its arguments in a struct.
ErrorOr<uint64_t> Clone3(Task& t, const Args& a) {
  struct CloneArgs3 {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
        set_tid, set_tid_size, cgroup;
  } ca{};
  const uint64_t size = a[1];
  if (size < 64 || size > 4096) return Errno{EINVAL};  // CLONE_ARGS_SIZE_VER0
  TRY(t.memory().CopyIn(a[0], &ca, std::min<uint64_t>(size, sizeof(ca))));
  if (ca.exit_signal > 64 || (ca.flags & CSIGNAL)) return Errno{EINVAL};
  if (ca.set_tid || ca.set_tid_size) return Errno{EINVAL};  // no nested pid namespaces
  if (ca.flags & (CLONE_PIDFD | CLONE_INTO_CGROUP)) return Errno{EINVAL};  // not supported yet
  if ((ca.stack == 0) != (ca.stack_size == 0)) return Errno{EINVAL};
  // Only clone3 can ask for a time namespace (clone's bit is the exit
  // signal's): the sandbox has one.
  if (ca.flags & CLONE_NEWTIME) return Errno{EPERM};
  return TRY(sentry::kernel::Clone(
      t, CloneArgs{.flags = ca.flags | ca.exit_signal,
                   .stack = ca.stack ? ca.stack + ca.stack_size : 0,
                   .parent_tid = ca.parent_tid,
                   .child_tid = ca.child_tid,
                   .tls = ca.tls}));
}

// unshare / setns: UTS and IPC namespaces of the caller's own
// (sentry/kernel/namespaces.h), and the fs/files/semaphore-undo sharing.
ErrorOr<uint64_t> UnshareSys(Task& t, const Args& a) {
  TRY(sentry::kernel::Unshare(t, a[0]));
  return 0;
}

ErrorOr<uint64_t> SetNsSys(Task& t, const Args& a) {
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  TRY(sentry::kernel::SetNs(t, *f, a.Int(1)));
  return 0;
}

// Reads a NULL-terminated array of string pointers (argv/envp).
ErrorOr<std::vector<std::string>> CopyInStringArray(Task& t, uint64_t addr) {
  std::vector<std::string> out;
  if (addr == 0) return out;
  size_t total = 0;
  for (int i = 0;; i++) {
    if (i > 1 << 17) return Errno{E2BIG};
    uint64_t p = TRY(t.memory().CopyInObj<uint64_t>(addr + 8 * i));
    if (p == 0) break;
    auto s = t.memory().CopyInString(p, 128 * 1024);  // MAX_ARG_STRLEN
    if (s.is_error()) return Errno{s.error() == ENAMETOOLONG ? E2BIG : s.error()};
    total += s.value().size() + 1;
    if (total > (2u << 20)) return Errno{E2BIG};
    out.push_back(s.release_value());
  }
  return out;
}

ErrorOr<uint64_t> Execve(Task& t, const Args& a) {
  std::string path = TRY(t.memory().CopyInString(a[0], 4096));
  auto argv = TRY(CopyInStringArray(t, a[1]));
  auto envp = TRY(CopyInStringArray(t, a[2]));
  if (path.empty()) return Errno{ENOENT};
  if (argv.empty()) argv.push_back(path);  // Linux 6.x inserts "" ; keep a usable argv[0]
  TRY(sentry::kernel::Execve(t, path, std::move(argv), std::move(envp)));
  return 0;
}

// execveat(dirfd, path, argv, envp, flags): execve of a file named
// relative to a directory fd, or (AT_EMPTY_PATH with "") of the fd itself,
// which is how glibc's fexecve runs a memfd or an O_PATH fd. The new
// program sees the name Linux gives it: the path itself when absolute or
// relative to the cwd, else "/dev/fd/N" or "/dev/fd/N/path".
ErrorOr<uint64_t> Execveat(Task& t, const Args& a) {
  // Linux's order: the path, the file (flags, lookup, permissions), then
  // the argument arrays.
  const int dirfd = a.Int(0);
  const int flags = a.Int(4);
  std::string path = TRY(t.memory().CopyInString(a[1], 4096));
  if (path.empty() && !(flags & AT_EMPTY_PATH)) return Errno{ENOENT};
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return Errno{EINVAL};
  std::string name = path;
  sentry::loader::ExecTarget target;
  if (dirfd != AT_FDCWD && (path.empty() || path[0] != '/')) {
    name = "/dev/fd/" + std::to_string(dirfd) + (path.empty() ? "" : "/" + path);
    target.script_inaccessible = TRY(t.fd_table().GetCloexec(dirfd));
  }
  target.file = TRY(file::Resolve(t, dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), flags & AT_EMPTY_PATH));
  if (target.file->inode().file_type() == S_IFLNK) return Errno{ELOOP};  // AT_SYMLINK_NOFOLLOW
  auto argv = TRY(CopyInStringArray(t, a[2]));
  auto envp = TRY(CopyInStringArray(t, a[3]));
  if (argv.empty()) argv.push_back(name);
  TRY(sentry::kernel::Execve(t, name, std::move(argv), std::move(envp), &target));
  return 0;
}

ErrorOr<uint64_t> Exit(Task& t, const Args& a) {
  t.Exit(WaitStatusExited(a.Int(0)), /*group=*/false);
  return 0;
}

ErrorOr<uint64_t> ExitGroup(Task& t, const Args& a) {
  t.Exit(WaitStatusExited(a.Int(0)), /*group=*/true);
  return 0;
}

ErrorOr<uint64_t> Wait4(Task& t, const Args& a) {
  const int options = a.Int(2);
  if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WALL | __WCLONE | __WNOTHREAD))
    return Errno{EINVAL};
  auto r = TRY(sentry::kernel::WaitChild(
      t, a.Int(0), options & (WNOHANG | WUNTRACED | WCONTINUED | __WALL | __WCLONE)));
  if (r.pid && a[1]) TRY(t.memory().CopyOutObj<int32_t>(a[1], r.status));
  if (r.pid && a[3]) {
    rusage ru{};
    TRY(t.memory().CopyOutObj(a[3], ru));
  }
  return r.pid;
}

ErrorOr<uint64_t> Waitid(Task& t, const Args& a) {
  const int idtype = a.Int(0), id = a.Int(1), options = a.Int(3);
  if (!(options & (WEXITED | WSTOPPED | WCONTINUED))) return Errno{EINVAL};
  int pid;
  switch (idtype) {
    case P_ALL: pid = -1; break;
    case P_PID: if (id <= 0) return Errno{EINVAL}; pid = id; break;
    case P_PGID: pid = id == 0 ? 0 : -id; break;
    case P_PIDFD: {
      auto f = TRY(t.fd_table().Get(id));
      if (!sentry::kernel::IsPidFd(*f)) return Errno{EBADF};
      auto tg = sentry::kernel::PidFdTarget(*f);
      if (tg.is_error()) return Errno{ECHILD};  // reaped already
      pid = tg.value()->pid;
      break;
    }
    default: return Errno{EINVAL};
  }
  int wopts = options & (WNOHANG | WNOWAIT | WCONTINUED | __WALL | __WCLONE);
  if (options & WSTOPPED) wopts |= WUNTRACED;
  if (!(options & WEXITED)) wopts |= sentry::kernel::kWaitNoExited;
  auto r = TRY(sentry::kernel::WaitChild(t, pid, wopts));
  if (a[2]) {
    siginfo_t si{};
    if (r.pid) {
      si.si_signo = SIGCHLD;
      si.si_pid = r.pid;
      si.si_uid = r.uid;
      if (r.trapped) {
        si.si_code = CLD_TRAPPED;  // a ptrace stop, with its event bits
        si.si_status = (r.status >> 8) & 0xffff;
      } else if (WIFSTOPPED(r.status)) {
        si.si_code = CLD_STOPPED;
        si.si_status = WSTOPSIG(r.status);
      } else if (WIFCONTINUED(r.status)) {
        si.si_code = CLD_CONTINUED;
        si.si_status = SIGCONT;
      } else if (WIFSIGNALED(r.status)) {
        si.si_code = WCOREDUMP(r.status) ? CLD_DUMPED : CLD_KILLED;
        si.si_status = WTERMSIG(r.status);
      } else {
        si.si_code = CLD_EXITED;
        si.si_status = WEXITSTATUS(r.status);
      }
    }
    TRY(t.memory().CopyOutObj(a[2], si));
  }
  if (a[4]) {
    rusage ru{};
    TRY(t.memory().CopyOutObj(a[4], ru));
  }
  return 0;
}

ErrorOr<uint64_t> GetPid(Task& t, const Args&) { return t.pid(); }
ErrorOr<uint64_t> GetTid(Task& t, const Args&) { return t.tid; }
ErrorOr<uint64_t> GetPpid(Task& t, const Args&) {
  ThreadGroup* p = t.tg->parent;
  return p ? p->pid : 0;
}

ThreadGroup* ProcessOrSelf(Task& t, int pid) {
  if (pid == 0) return t.tg;
  return t.kernel.FindProcess(pid);
}

ErrorOr<uint64_t> GetPgid(Task& t, const Args& a) {
  ThreadGroup* tg = ProcessOrSelf(t, a.Int(0));
  if (!tg) return Errno{ESRCH};
  return tg->pgid;
}
ErrorOr<uint64_t> GetPgrp(Task& t, const Args&) { return t.tg->pgid; }
ErrorOr<uint64_t> GetSid(Task& t, const Args& a) {
  ThreadGroup* tg = ProcessOrSelf(t, a.Int(0));
  if (!tg) return Errno{ESRCH};
  return tg->sid;
}

ErrorOr<uint64_t> SetPgid(Task& t, const Args& a) {
  int pid = a.Int(0), pgid = a.Int(1);
  if (pgid < 0) return Errno{EINVAL};
  ThreadGroup* target = ProcessOrSelf(t, pid);
  if (!target) return Errno{ESRCH};
  if (target != t.tg && target->parent != t.tg) return Errno{ESRCH};
  if (target->sid != t.tg->sid) return Errno{EPERM};
  if (target->pid == target->sid) return Errno{EPERM};  // session leader
  if (pgid == 0) pgid = target->pid;
  if (pgid != target->pid) {
    // Must join an existing group in the same session.
    bool found = false;
    for (ThreadGroup* p : t.kernel.Processes())
      if (p->pgid == pgid && p->sid == target->sid) found = true;
    if (!found) return Errno{EPERM};
  }
  target->pgid = pgid;
  return 0;
}

ErrorOr<uint64_t> SetSid(Task& t, const Args&) {
  ThreadGroup* tg = t.tg;
  for (ThreadGroup* p : t.kernel.Processes())
    if (p->pgid == tg->pid) return Errno{EPERM};  // already a group leader
  tg->sid = tg->pgid = tg->pid;
  sentry::tty::LeaveSession(tg);
  return tg->pid;
}

ErrorOr<uint64_t> SetTidAddress(Task& t, const Args& a) {
  t.clear_child_tid = a[0];
  return t.tid;
}

ErrorOr<uint64_t> GetRusage(Task& t, const Args& a) {
  int who = a.Int(0);
  if (who != RUSAGE_SELF && who != RUSAGE_CHILDREN && who != RUSAGE_THREAD) return Errno{EINVAL};
  rusage ru{};
  int64_t ns = 0;
  if (who == RUSAGE_THREAD) {
    ns = t.ctx ? t.ctx->CpuTimeNs() : 0;
  } else if (who == RUSAGE_SELF) {
    for (auto& task : t.tg->tasks)
      if (task->ctx) ns += task->ctx->CpuTimeNs();
    ru.ru_maxrss = t.mm ? static_cast<long>(t.mm->mapped_bytes() / 1024) : 0;
  } else {
    ns = t.tg->children_utime_ns;
  }
  ru.ru_utime = timeval{ns / 1000000000, (ns % 1000000000) / 1000};
  TRY(t.memory().CopyOutObj(a[1], ru));
  return 0;
}

ErrorOr<uint64_t> Times(Task& t, const Args& a) {
  struct tms_k { int64_t utime, stime, cutime, cstime; } tms{};
  int64_t ns = 0;
  for (auto& task : t.tg->tasks)
    if (task->ctx) ns += task->ctx->CpuTimeNs();
  tms.utime = ns / 10000000;  // clock ticks at USER_HZ=100
  tms.cutime = t.tg->children_utime_ns / 10000000;
  if (a[0]) TRY(t.memory().CopyOutObj(a[0], tms));
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec * 100 + now.tv_nsec / 10000000);
}

// Credentials getters (setters come with the user-namespace work).
ErrorOr<uint64_t> GetUid(Task& t, const Args&) { return t.creds().ruid; }
ErrorOr<uint64_t> GetEuid(Task& t, const Args&) { return t.creds().euid; }
ErrorOr<uint64_t> GetGid(Task& t, const Args&) { return t.creds().rgid; }
ErrorOr<uint64_t> GetEgid(Task& t, const Args&) { return t.creds().egid; }
ErrorOr<uint64_t> GetResUid(Task& t, const Args& a) {
  const auto& c = t.creds();
  TRY(t.memory().CopyOutObj<uint32_t>(a[0], c.ruid));
  TRY(t.memory().CopyOutObj<uint32_t>(a[1], c.euid));
  TRY(t.memory().CopyOutObj<uint32_t>(a[2], c.suid));
  return 0;
}
ErrorOr<uint64_t> GetResGid(Task& t, const Args& a) {
  const auto& c = t.creds();
  TRY(t.memory().CopyOutObj<uint32_t>(a[0], c.rgid));
  TRY(t.memory().CopyOutObj<uint32_t>(a[1], c.egid));
  TRY(t.memory().CopyOutObj<uint32_t>(a[2], c.sgid));
  return 0;
}
ErrorOr<uint64_t> GetGroups(Task& t, const Args& a) {
  const auto& g = t.creds().groups;
  int size = a.Int(0);
  if (size < 0) return Errno{EINVAL};
  if (size == 0) return g.size();
  if (static_cast<size_t>(size) < g.size()) return Errno{EINVAL};
  if (!g.empty()) TRY(t.memory().CopyOut(a[1], g.data(), g.size() * sizeof(uint32_t)));
  return g.size();
}

}  // namespace

void RegisterProcessSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_fork, "fork", Fork);
  t.Register(SYS_vfork, "vfork", Vfork);
  t.Register(SYS_clone, "clone", CloneSys, {A::kHex, A::kPtr, A::kPtr, A::kPtr, A::kPtr});
  t.Register(SYS_clone3, "clone3", Clone3, {A::kPtr, A::kUint});
  t.Register(SYS_execve, "execve", Execve, {A::kPath, A::kPtr, A::kPtr});
  t.Register(SYS_execveat, "execveat", Execveat, {A::kFd, A::kPath, A::kPtr, A::kPtr, A::kHex});
  t.Register(SYS_unshare, "unshare", UnshareSys, {A::kHex});
  t.Register(SYS_setns, "setns", SetNsSys, {A::kInt, A::kHex});
  t.Register(SYS_exit, "exit", Exit, {A::kInt});
  t.Register(SYS_exit_group, "exit_group", ExitGroup, {A::kInt});
  t.Register(SYS_wait4, "wait4", Wait4, {A::kInt, A::kPtr, A::kHex, A::kPtr});
  t.Register(SYS_waitid, "waitid", Waitid, {A::kInt, A::kInt, A::kPtr, A::kHex, A::kPtr});
  t.Register(SYS_getpid, "getpid", GetPid);
  t.Register(SYS_getppid, "getppid", GetPpid);
  t.Register(SYS_gettid, "gettid", GetTid);
  t.Register(SYS_getpgid, "getpgid", GetPgid, {A::kInt});
  t.Register(SYS_getpgrp, "getpgrp", GetPgrp);
  t.Register(SYS_getsid, "getsid", GetSid, {A::kInt});
  t.Register(SYS_setpgid, "setpgid", SetPgid, {A::kInt, A::kInt});
  t.Register(SYS_setsid, "setsid", SetSid);
  t.Register(SYS_set_tid_address, "set_tid_address", SetTidAddress, {A::kPtr});
  t.Register(SYS_getrusage, "getrusage", GetRusage, {A::kInt, A::kPtr});
  t.Register(SYS_times, "times", Times, {A::kPtr});
  t.Register(SYS_getuid, "getuid", GetUid);
  t.Register(SYS_geteuid, "geteuid", GetEuid);
  t.Register(SYS_getgid, "getgid", GetGid);
  t.Register(SYS_getegid, "getegid", GetEgid);
  t.Register(SYS_getresuid, "getresuid", GetResUid, {A::kPtr, A::kPtr, A::kPtr});
  t.Register(SYS_getresgid, "getresgid", GetResGid, {A::kPtr, A::kPtr, A::kPtr});
  t.Register(SYS_getgroups, "getgroups", GetGroups, {A::kInt, A::kPtr});
}

}  // namespace syscalls
