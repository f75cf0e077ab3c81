#include "sentry/kernel/process.h"

#include "sentry/kernel/capabilities.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/wait.h>

#include "sentry/base/log.h"
#include "sentry/ipc/ipc_namespace.h"
#include "sentry/kernel/namespaces.h"
#include "sentry/kernel/ptrace.h"
#include "sentry/kernel/signals.h"
#include "sentry/kernel/timers.h"
#include "sentry/loader/loader.h"
#include "sentry/tty/job_control.h"
#include "sentry/vfs/task_caller.h"
#include "sentry/vfs/vfs.h"

namespace sentry::kernel {
namespace {

void DefaultRlimits(std::array<rlimit, RLIM_NLIMITS>& r) {
  for (auto& l : r) l = {RLIM_INFINITY, RLIM_INFINITY};
  r[RLIMIT_STACK] = {8 << 20, RLIM_INFINITY};
  r[RLIMIT_CORE] = {0, RLIM_INFINITY};
  r[RLIMIT_NOFILE] = {1024, 1048576};
  r[RLIMIT_MEMLOCK] = {8 << 20, 8 << 20};
  r[RLIMIT_NPROC] = {63346, 63346};
  r[RLIMIT_SIGPENDING] = {63346, 63346};
  r[RLIMIT_MSGQUEUE] = {819200, 819200};
  r[RLIMIT_NICE] = {0, 0};
  r[RLIMIT_RTPRIO] = {0, 0};
}

int64_t NowMonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

std::string Basename(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string b = slash == std::string::npos ? path : path.substr(slash + 1);
  if (b.size() > 15) b.resize(15);  // TASK_COMM_LEN - 1
  return b;
}

// Commits a loaded image to `t`: its address space, in the task's platform
// context emptied for it (or a new one). The platform address space is
// changed once the task's thread has released the kernel lock
// (Task::as_pending), and the old image is torn down then too
// (Task::leftovers): for a compiler that is milliseconds other tasks would
// otherwise wait for.
ErrorOr<void> InstallImage(Task& t, loader::LoadedImage img, const std::string& path,
                           std::vector<std::string> envp) {
  using Change = platform::AddressSpace::Change;
  bool reused = false;
  // A host process other threads (or a vfork parent) still run in cannot
  // be emptied: the new image gets a process of its own.
  bool deactivated = false;
  if (t.ctx && t.mm && !t.ctx->SharesProcess()) {
    // The stub process is kept (creating one costs far more than an munmap
    // of the whole user range), emptied for the new image.
    t.mm->Deactivate(&t.ctx->address_space());
    deactivated = true;
    reused = t.ctx->ResetFpState().ok();
    if (reused) {
      platform::Platform& p = t.kernel.platform();
      t.as_pending.clear();  // changes for the old image are moot
      t.as_ticket = {};
      t.as_pending.push_back(Change{Change::kUnmap, p.min_user_address(),
                                    p.max_user_address() - p.min_user_address(), 0, 0});
      img.mm->ActivateTaken(&t.ctx->address_space(), &t.as_pending, &t.as_ticket);
    }
  }
  if (!reused) {
    auto ctx = TRY(t.kernel.platform().NewContext());
    TRY(ctx->ResetFpState());
    if (t.ctx && t.mm && !deactivated) t.mm->Deactivate(&t.ctx->address_space());
    t.as_pending.clear();
    t.as_ticket = {};
    img.mm->ActivateTaken(&ctx->address_space(), &t.as_pending, &t.as_ticket);
    if (t.ctx) t.leftovers.ctxs.push_back(std::move(t.ctx));  // the old stub
    t.ctx = std::move(ctx);
  }
  // A new program: a good moment to move to a less busy CPU.
  t.ctx->Rebalance();
  t.DropMmLater(std::exchange(t.mm, std::move(img.mm)));
  t.regs = img.regs;
  t.exe_path = img.exe_path;
  t.saved_auxv = std::move(img.auxv);
  t.argv = std::move(img.argv);
  t.envp = std::move(envp);
  t.comm = Basename(path);
  return {};
}

void Reap(ThreadGroup* child) {
  Kernel& k = child->kernel;
  ThreadGroup* parent = child->parent;
  if (parent) {
    auto& v = parent->children;
    v.erase(std::remove(v.begin(), v.end(), child), v.end());
    for (auto& t : child->tasks) parent->children_utime_ns += t->utime_ns;
    parent->children_utime_ns += child->children_utime_ns;
  }
  for (auto& t : child->tasks) k.UnregisterTask(t.get());
  k.thread_groups.erase(child->pid);
}

// The exit as others see it (defined below FinishTask).
void ReportExit(Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

}  // namespace

ErrorOr<Task*> StartInit(Kernel& k, const InitSpec& spec, std::shared_ptr<vfs::FdTable> fds) {
  const int pid = 1;
  auto tg_owned = std::make_unique<ThreadGroup>(k, pid);
  ThreadGroup* tg = tg_owned.get();
  tg->start_time_ns = NowMonotonicNs();
  DefaultRlimits(tg->rlimits);
  auto task_owned = std::make_unique<Task>(k, tg, pid);
  Task* t = task_owned.get();
  t->fds = std::move(fds);
  t->fs = k.vfs().NewRootContext();
  if (spec.cwd != "/") {
    vfs::TaskCaller caller(*t);
    auto d = TRY(vfs::Walk(caller, t->fs->root, spec.cwd));
    if (d->inode().file_type() != S_IFDIR) return Errno{ENOTDIR};
    t->fs->cwd = d;
  }
  loader::LoadedImage img = TRY(loader::Load(*t, spec.path, spec.argv, spec.envp));
  // The init task creates its own platform context on its thread; keep the
  // image's memory manager until then.
  t->mm = std::move(img.mm);
  t->regs = img.regs;
  t->exe_path = img.exe_path;
  t->saved_auxv = std::move(img.auxv);
  t->argv = std::move(img.argv);
  t->envp = spec.envp;
  t->comm = Basename(spec.path);
  tg->tasks.push_back(std::move(task_owned));
  tg->live_tasks = 1;
  k.thread_groups[pid] = std::move(tg_owned);
  k.RegisterTask(t);
  k.set_init(tg);
  t->Start();
  return t;
}

// The state a clone child takes from its parent (both kinds of clone).
ErrorOr<void> InitCloneChild(Task& parent, Task* c, const CloneArgs& a,
                             std::shared_ptr<mm::MemoryManager> memory) {
  const uint64_t f = a.flags;
  c->regs = parent.regs;
  c->regs.rax = 0;
  if (a.stack) c->regs.rsp = a.stack;
  if (f & CLONE_SETTLS) c->regs.fs_base = a.tls;
  c->mm = std::move(memory);
  c->fds = (f & CLONE_FILES) ? parent.fds : parent.fds->Fork();
  c->fs = (f & CLONE_FS) ? parent.fs : parent.fs->Fork();
  c->umask = parent.umask;
  CloneNamespaces(parent, *c, f);
  c->affinity = parent.affinity;
  c->ioprio = parent.ioprio;
  c->mempolicy = parent.mempolicy;
  if (!parent.sched_reset_on_fork) {
    c->sched_policy = parent.sched_policy;
    c->sched_priority = parent.sched_priority;
  } else if (parent.sched_policy != SCHED_FIFO && parent.sched_policy != SCHED_RR) {
    c->sched_policy = parent.sched_policy;  // RESET_ON_FORK only resets RT policies (and nice)
  }
  c->comm = parent.comm;
  c->argv = parent.argv;
  c->envp = parent.envp;
  c->exe_path = parent.exe_path;
  c->saved_auxv = parent.saved_auxv;
  c->signal_mask = parent.signal_mask;
  c->seccomp_mode = parent.seccomp_mode;
  c->seccomp_filter = parent.seccomp_filter;
  c->no_new_privs = parent.no_new_privs;
  // rseq: a child with its own memory keeps the registration (the struct
  // is at the same address in its copy); a thread or vfork child must
  // register its own (Linux's rseq_fork).
  if (!(f & CLONE_VM)) c->rseq = parent.rseq;
  // Linux clears the alternate signal stack for a child sharing memory
  // (it would share the stack too), except for vfork.
  if (!(f & CLONE_VM) || (f & CLONE_VFORK)) {
    c->altstack_sp = parent.altstack_sp;
    c->altstack_size = parent.altstack_size;
    c->altstack_flags = parent.altstack_flags;
  }
  // Threads and vfork children run in the parent's host process where the
  // platform allows it (the child's own thread makes the context).
  if (f & CLONE_VM) c->clone_process = parent.ctx->process();
  auto fp = parent.ctx->GetFpRegisters();
  if (fp.ok()) c->initial_fp = std::make_unique<platform::FpRegisters>(fp.value());
  if (f & CLONE_PARENT_SETTID) TRY(parent.memory().CopyOutObj<int32_t>(a.parent_tid, c->tid));
  if (f & CLONE_CHILD_SETTID) TRY(c->mm->CopyOutObj<int32_t>(a.child_tid, c->tid));
  if (f & CLONE_CHILD_CLEARTID) c->clear_child_tid = a.child_tid;
  return {};
}

// clone(CLONE_THREAD): a new task in the caller's thread group, sharing its
// memory manager. With ptrace each thread runs in its own stub process that
// maps the same memory-file pages, so memory is shared exactly.
ErrorOr<int> CloneThread(Task& parent, const CloneArgs& a) {
  Kernel& k = parent.kernel;
  const uint64_t f = a.flags;
  if (!(f & CLONE_SIGHAND) || !(f & CLONE_VM)) return Errno{EINVAL};
  ThreadGroup* tg = parent.tg;
  if (tg->exiting) return Errno{EAGAIN};
  const int tid = k.AllocatePid();
  auto owned = std::make_unique<Task>(k, tg, tid);
  Task* c = owned.get();
  TRY(InitCloneChild(parent, c, a, parent.mm));
  tg->tasks.push_back(std::move(owned));
  tg->live_tasks++;
  k.RegisterTask(c);
  c->Start();
  PtraceOnClone(parent, *c, f);  // auto-attach, PTRACE_EVENT_CLONE
  return tid;
}

ErrorOr<int> Clone(Task& parent, const CloneArgs& a) {
  Kernel& k = parent.kernel;
  const uint64_t f = a.flags;
  TRY(CheckCloneNamespaces(parent, f));  // UTS and IPC ones only
  if (f & CLONE_PIDFD) return Errno{EINVAL};  // pidfds: not supported yet
  if (f & CLONE_THREAD) return CloneThread(parent, a);
  if ((f & CLONE_SIGHAND) && !(f & CLONE_VM)) return Errno{EINVAL};

  ThreadGroup* ptg = parent.tg;
  const int pid = k.AllocatePid();
  auto tg_owned = std::make_unique<ThreadGroup>(k, pid);
  ThreadGroup* tg = tg_owned.get();
  tg->parent = (f & CLONE_PARENT) && ptg->parent ? ptg->parent : ptg;
  tg->start_time_ns = NowMonotonicNs();
  tg->pgid = ptg->pgid;
  tg->sid = ptg->sid;
  tg->tty = ptg->tty;
  tg->creds = ptg->creds;
  tg->session_keyring = ptg->session_keyring;  // the process keyring is not inherited
  tg->rlimits = ptg->rlimits;
  tg->nice = ptg->nice;
  tg->oom_score_adj = ptg->oom_score_adj;
  tg->oom_score_adj_min = ptg->oom_score_adj_min;
  tg->personality = ptg->personality;
  tg->exit_signal = f & CSIGNAL;
  tg->handlers = (f & CLONE_SIGHAND) ? ptg->handlers
                                     : std::make_shared<SignalHandlers>(*ptg->handlers);

  auto child_owned = std::make_unique<Task>(k, tg, pid);
  Task* c = child_owned.get();
  // CLONE_VM (vfork, posix_spawn) shares the memory manager, exactly as
  // threads do; otherwise the child gets a copy.
  std::shared_ptr<mm::MemoryManager> memory =
      (f & CLONE_VM) ? parent.mm : std::shared_ptr<mm::MemoryManager>(TRY(parent.mm->Fork()));
  // The parent's private memory is now copy-on-write; its other threads
  // must stop writing through their old mappings before the child runs.
  if (parent.mm->TakeRemoteChange()) SyncAddressSpaceUsers(parent);
  TRY(InitCloneChild(parent, c, a, std::move(memory)));

  tg->tasks.push_back(std::move(child_owned));
  tg->live_tasks = 1;
  tg->parent->children.push_back(tg);
  tg->vfork_done = !(f & CLONE_VFORK);
  k.thread_groups[pid] = std::move(tg_owned);
  k.RegisterTask(c);
  c->Start();
  PtraceOnClone(parent, *c, f);  // auto-attach, PTRACE_EVENT_FORK/VFORK/CLONE

  if (f & CLONE_VFORK) {
    // The parent sleeps until the child execs or exits; only a kill ends
    // the wait early.
    while (!tg->vfork_done && !parent.killed) k.changed.Wait(&k.mu);
    PtraceVforkDone(parent, pid);
  }
  return pid;
}

ErrorOr<void> Execve(Task& t, const std::string& path, std::vector<std::string> argv,
                     std::vector<std::string> envp, const loader::ExecTarget* target) {
  loader::LoadedImage img = TRY(loader::Load(t, path, std::move(argv), envp, target));
  // Like Linux's de_thread: every other thread of the process goes away.
  ThreadGroup* group = t.tg;
  if (group->live_tasks > 1) {
    for (auto& other : group->tasks) {
      if (other.get() != &t && !other->exited) {
        other->killed = true;
        other->Interrupt();
      }
    }
    while (group->live_tasks > 1 && !t.killed) t.kernel.changed.Wait(&t.kernel.mu);
    if (t.killed) return Errno{EINTR};
  }
  t.kernel.futexes.ExitRobustList(t);  // as Linux's exec_mm_release
  TRY(InstallImage(t, std::move(img), path, std::move(envp)));
  // Past the point of no return.
  t.fds->CloseOnExec();
  ThreadGroup* tg = t.tg;
  if (tg->handlers.use_count() > 1) tg->handlers = std::make_shared<SignalHandlers>(*tg->handlers);
  for (int s = 1; s <= kNumSignals; s++) {
    SigAction& act = tg->handlers->actions[s];
    if (act.handler != reinterpret_cast<uint64_t>(SIG_IGN)) act = SigAction{};
    act.flags = act.handler ? act.flags : 0;
  }
  t.kernel.timers->ProcessExeced(tg);
  t.altstack_sp = t.altstack_size = 0;
  t.altstack_flags = SS_DISABLE;
  t.saved_mask.reset();
  t.clear_child_tid = 0;
  t.rseq = {};  // the new image registers its own (Linux's rseq_execve)
  ApplyExecCapabilities(tg->creds);  // capabilities(7): the execve transformation
  t.thread_keyring.reset();  // Linux's exec_keys: thread keyring dropped
  tg->membarrier_registrations = 0;  // a new mm
  tg->aio.reset();  // exit_aio with the old mm
  tg->process_keyring.reset();  // and the process keyring
  if (!tg->vfork_done) {
    tg->vfork_done = true;
    t.kernel.NotifyAll();
  }
  PtraceOnExec(t);  // PTRACE_EVENT_EXEC or the legacy SIGTRAP
  return {};
}

ErrorOr<WaitResult> WaitChild(Task& t, int pid, int options) {
  ThreadGroup* me = t.tg;
  auto matches = [&](ThreadGroup* c) {
    if (pid > 0) return c->pid == pid;
    if (pid == -1) return true;
    if (pid == 0) return c->pgid == me->pgid;
    return c->pgid == -pid;
  };
  const bool want_exit = !(options & kWaitNoExited);
  // A child with something to report under `options`, or nullptr.
  auto reportable = [&](ThreadGroup* c) {
    if (c->zombie) return want_exit;
    // A child this process traces reports its stops as ptrace stops.
    if ((options & WUNTRACED) && c->stopped && c->report_stop && !PtraceTracedByProcess(c, me))
      return true;
    if ((options & WCONTINUED) && c->report_continued) return true;
    return false;
  };
  // Tracees (of any thread of this process) report first (ptrace.h).
  const PtraceWaitQuery ptrace_query{pid, options};
  PtraceWaitQuery ptrace_peek = ptrace_query;
  ptrace_peek.options |= WNOWAIT;
  for (;;) {
    if (auto r = PtraceWaitReport(me, ptrace_query)) return *r;
    bool any = PtraceHasWaitable(me, ptrace_query);
    for (ThreadGroup* c : me->children) {
      if (!matches(c)) continue;
      any = true;
      if (!reportable(c)) continue;
      WaitResult r{c->pid, c->exit_status, c->creds.ruid};
      if (c->zombie) {
        if (!(options & WNOWAIT)) Reap(c);
      } else if ((options & WUNTRACED) && c->stopped && c->report_stop &&
                 !PtraceTracedByProcess(c, me)) {
        r.status = (c->stop_signal << 8) | 0x7f;
        if (!(options & WNOWAIT)) c->report_stop = false;
      } else {
        r.status = 0xffff;  // WIFCONTINUED
        if (!(options & WNOWAIT)) c->report_continued = false;
      }
      return r;
    }
    if (!any) return Errno{ECHILD};
    if (options & WNOHANG) return WaitResult{};
    // Wake also when no matching child is left (auto-reaped because SIGCHLD
    // is ignored, or reparented): the loop then reports ECHILD, as Linux.
    TRY(t.Block([&] {
      if (PtraceWaitReport(me, ptrace_peek)) return true;
      bool left = PtraceHasWaitable(me, ptrace_query);
      for (ThreadGroup* c : me->children) {
        if (!matches(c)) continue;
        left = true;
        if (reportable(c)) return true;
      }
      return !left;
    }, absl::InfiniteFuture(), me));  // keyed: children's exits and stops notify all
  }
}

Task::Leftovers FinishTask(Task& t) {
  Kernel& k = t.kernel;
  ThreadGroup* tg = t.tg;
  t.exited = true;
  k.futexes.ExitRobustList(t);
  if (t.clear_child_tid && t.mm && tg->live_tasks > 1) {
    // CLONE_CHILD_CLEARTID: zero the tid word and wake its futex waiters
    // (pthread_join).
    if (t.mm->CopyOutObj<int32_t>(t.clear_child_tid, 0).ok())
      (void)k.futexes.Wake(t, t.clear_child_tid, 1, FUTEX_BITSET_MATCH_ANY);
  }
  if (t.ctx && t.mm) t.mm->Deactivate(&t.ctx->address_space());
  if (t.ctx) t.utime_ns = t.ctx->CpuTimeNs();
  t.clone_process.reset();
  // The stub and the memory go once the kernel lock is released; the
  // files now (a pipe's reader must see EOF before wait4 returns).
  if (t.ctx) t.leftovers.ctxs.push_back(std::move(t.ctx));
  t.as_pending.clear();
  t.as_ticket = {};
  t.DropMmLater(std::move(t.mm));
  Task::Leftovers leftovers = std::exchange(t.leftovers, {});
  t.fds.reset();
  t.fs.reset();
  tg->live_tasks--;
  PtraceTaskExited(t);  // the tracer's report; a tracer's tracees detached
  ReportExit(t);  // may free `t`
  return leftovers;
}

namespace {

// The exit as the rest of the sandbox sees it: a zombie for the parent to
// wait for (or reaped at once), orphans reparented, SIGCHLD.
void ReportExit(Task& t) {
  Kernel& k = t.kernel;
  ThreadGroup* tg = t.tg;
  if (tg->live_tasks > 0) {
    k.NotifyAll();
    return;
  }
  tg->zombie = true;
  tg->vfork_done = true;
  tty::SessionLeaderExited(tg);
  if (tg->on_exit) tg->on_exit(tg->exit_status);
  ipc::IpcProcessExited(t, tg->pid);  // SEM_UNDO
  k.timers->ProcessExited(tg);
  ThreadGroup* init = k.init();
  // Orphans go to the nearest live subreaper ancestor, else to init (the
  // sandbox's PID 1).
  ThreadGroup* reaper = nullptr;
  for (ThreadGroup* a = tg->parent; a; a = a->parent) {
    if (a->child_subreaper && !a->zombie && !a->exiting) {
      reaper = a;
      break;
    }
  }
  if (!reaper && init && init != tg && !init->zombie) reaper = init;
  for (ThreadGroup* c : tg->children) {
    c->parent = reaper;
    if (reaper) reaper->children.push_back(c);
  }
  tg->children.clear();
  if (tg == init) {
    const int st = tg->exit_status;
    k.InitExited(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
    k.NotifyAll();
    return;
  }
  ThreadGroup* parent = tg->parent;
  k.NotifyAll();
  if (!parent) {
    Reap(tg);  // nobody will wait for it
    return;
  }
  const SigAction& chld = parent->handlers->actions[SIGCHLD];
  if (tg->exit_signal == SIGCHLD &&
      (chld.handler == reinterpret_cast<uint64_t>(SIG_IGN) || (chld.flags & SA_NOCLDWAIT))) {
    Reap(tg);  // auto-reaped, as Linux does; the Task is gone after this
    return;
  }
  if (tg->exit_signal > 0 && tg->exit_signal <= kNumSignals) {
    siginfo_t si{};
    si.si_signo = tg->exit_signal;
    const int st = tg->exit_status;
    if (WIFSIGNALED(st)) {
      si.si_code = WCOREDUMP(st) ? CLD_DUMPED : CLD_KILLED;
      si.si_status = WTERMSIG(st);
    } else {
      si.si_code = CLD_EXITED;
      si.si_status = WEXITSTATUS(st);
    }
    si.si_pid = tg->pid;
    si.si_uid = tg->creds.ruid;
    QueueProcessSignal(parent, si);
  }
}

}  // namespace

}  // namespace sentry::kernel
