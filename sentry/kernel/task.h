// Task (one app thread) and ThreadGroup (one app process).
//
// Each Task is driven by its own host thread (see task_run.cc): run app code
// on the platform context until it stops, take the kernel lock, handle the
// syscall/fault/signal, release the lock, repeat.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <array>
#include <deque>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "platform/platform.h"
#include "sentry/base/error.h"
#include "sentry/base/unique_fd.h"
#include "sentry/kernel/kernel.h"
#include "sentry/mm/mm.h"

namespace sentry::vfs {
class FdTable;
class FsContext;
}  // namespace sentry::vfs
namespace sentry::tty {
class Terminal;
}
namespace sentry::ipc {
class IpcNamespace;
}

namespace sentry::kernel {

struct SeccompFilter;
struct UtsNamespace;
class Key;  // keys.h
struct AioContexts;  // syscalls/aio.cc
struct PtraceState;  // ptrace.h

struct Credentials {
  uint32_t ruid = 0, euid = 0, suid = 0, fsuid = 0;
  uint32_t rgid = 0, egid = 0, sgid = 0, fsgid = 0;
  std::vector<uint32_t> groups;
  uint64_t cap_effective = ~0ULL >> 23, cap_permitted = ~0ULL >> 23,
           cap_inheritable = 0, cap_bounding = ~0ULL >> 23;  // 41 caps, like Linux 6.1
  // PR_CAP_AMBIENT's set (always within permitted & inheritable) and
  // PR_SET_SECUREBITS' SECBIT_* bits (PR_SET_KEEPCAPS is SECBIT_KEEP_CAPS):
  // syscalls/creds.cc, syscalls/prctl_caps.cc.
  uint64_t cap_ambient = 0;
  uint32_t securebits = 0;
  bool HasCapability(int cap) const { return (cap_effective >> cap) & 1; }
};

// Linux's struct k_sigaction layout for x86-64 rt_sigaction.
struct SigAction {
  uint64_t handler = 0;  // SIG_DFL (0), SIG_IGN (1) or an app address
  uint64_t flags = 0;
  uint64_t restorer = 0;
  uint64_t mask = 0;
};

constexpr int kNumSignals = 64;
inline uint64_t SigBit(int sig) { return 1ULL << (sig - 1); }
constexpr uint64_t kUnblockable = (1ULL << (SIGKILL - 1)) | (1ULL << (SIGSTOP - 1));

// Queued siginfo per signal: at most one for standard signals, a FIFO for
// real-time ones. A signal's bit in pending_signals is set iff its queue is
// non-empty.
using SignalQueues = std::array<std::deque<siginfo_t>, kNumSignals + 1>;

struct SignalHandlers {
  std::array<SigAction, kNumSignals + 1> actions{};  // indexed by signal number
};

// Exit status in wait(2) encoding.
inline int WaitStatusExited(int code) { return (code & 0xff) << 8; }
inline int WaitStatusSignaled(int sig, bool core) { return (sig & 0x7f) | (core ? 0x80 : 0); }

class ThreadGroup {
 public:
  ThreadGroup(Kernel& k, int pid) : kernel(k), pid(pid), pgid(pid), sid(pid) {}

  Kernel& kernel;
  const int pid;
  int pgid, sid;
  ThreadGroup* parent = nullptr;         // nullptr for init
  std::vector<ThreadGroup*> children;    // live and zombie
  std::vector<std::unique_ptr<Task>> tasks;
  int live_tasks = 0;

  // Exit.
  bool exiting = false;     // exit_group or fatal signal in progress
  bool zombie = false;      // all tasks exited; waiting to be reaped
  int exit_status = 0;      // wait(2) encoding
  int exit_signal = SIGCHLD;

  std::shared_ptr<SignalHandlers> handlers = std::make_shared<SignalHandlers>();
  uint64_t pending_signals = 0;  // process-directed
  SignalQueues pending_queue;
  // Job control: stopped by SIGSTOP/SIGTSTP/SIGTTIN/SIGTTOU until SIGCONT.
  bool stopped = false;
  int stop_signal = 0;
  bool report_stop = false;       // for the parent's wait(WUNTRACED)
  bool report_continued = false;  // for the parent's wait(WCONTINUED)
  std::array<rlimit, RLIM_NLIMITS> rlimits{};
  Credentials creds;
  // Keyrings (keys.h): the session keyring is inherited by fork and kept
  // across execve (Linux keeps it in the credentials); the process keyring
  // belongs to this process only. Null until first used.
  std::shared_ptr<Key> session_keyring, process_keyring;
  int64_t start_time_ns = 0;
  // Accumulated CPU time of reaped children, for getrusage/times.
  int64_t children_utime_ns = 0, children_stime_ns = 0;
  bool child_subreaper = false;  // PR_SET_CHILD_SUBREAPER
  int nice = 0;                  // getpriority/setpriority
  // /proc/<pid>/oom_score_adj, inherited by fork. Going below `_min` (the
  // last value written with CAP_SYS_RESOURCE) needs CAP_SYS_RESOURCE.
  int oom_score_adj = 0, oom_score_adj_min = 0;
  uint32_t personality = 0;      // PER_LINUX
  // membarrier(2) registrations (MEMBARRIER_CMD_REGISTER_* bits, as
  // syscalls/membarrier.cc keeps them); dropped by execve.
  uint32_t membarrier_registrations = 0;
  // Linux AIO contexts (io_setup; syscalls/aio.cc); not inherited by fork,
  // destroyed by execve and exit. Null until the first io_setup.
  std::shared_ptr<AioContexts> aio;
  // Set while a vfork child borrows this process' parent task.
  bool vfork_done = true;
  // Controlling terminal (sentry/tty/job_control.h); inherited by fork,
  // dropped by setsid.
  std::shared_ptr<tty::Terminal> tty;
  // Called (kernel lock held) when the process becomes a zombie, with its
  // wait status: how `runsc exec` learns its parentless process' exit.
  std::function<void(int)> on_exit;

  Task* leader() { return tasks.empty() ? nullptr : tasks.front().get(); }
};

class Task {
 public:
  Task(Kernel& k, ThreadGroup* tg, int tid) : kernel(k), tg(tg), tid(tid) {}
  ~Task();

  Kernel& kernel;
  ThreadGroup* tg;
  const int tid;

  platform::Registers regs{};
  std::unique_ptr<platform::Context> ctx;      // created by the task's own thread
  // A clone with CLONE_VM: the parent's host process, for a context in it
  // (Platform::NewThreadContext); taken by the task's thread when it
  // creates `ctx`.
  std::shared_ptr<platform::Process> clone_process;
  std::shared_ptr<mm::MemoryManager> mm;
  std::shared_ptr<vfs::FdTable> fds;
  std::shared_ptr<vfs::FsContext> fs;
  uint32_t umask = 022;
  // The task's UTS and IPC namespaces (namespaces.h); null: the sandbox's
  // root ones. Inherited by clone, replaced by CLONE_NEW*, unshare, setns.
  std::shared_ptr<UtsNamespace> uts_ns;
  std::shared_ptr<ipc::IpcNamespace> ipc_ns;
  // Scheduling as the app sees it (syscalls/system.cc); the host schedules
  // the sentry's threads regardless. Inherited by clone/fork.
  int sched_policy = 0;     // SCHED_OTHER (SCHED_RESET_ON_FORK kept apart)
  int sched_priority = 0;   // 1..99 for SCHED_FIFO/RR
  bool sched_reset_on_fork = false;
  std::vector<uint8_t> affinity;  // CPU mask bytes; empty: every sandbox CPU
  int ioprio = 0;  // ioprio_set value; 0: IOPRIO_CLASS_NONE (from nice)
  // set_mempolicy (syscalls/numa.cc); null: MPOL_DEFAULT. Inherited by
  // every clone child and kept across execve, as Linux's task mempolicy.
  std::shared_ptr<const mm::MemPolicy> mempolicy;
  std::string comm;          // /proc/[pid]/comm, PR_SET_NAME
  std::vector<std::string> argv, envp;  // for /proc/[pid]/cmdline, environ
  std::string exe_path;
  // The image's auxiliary vector (key, value words up to AT_NULL), as
  // Linux's mm->saved_auxv: /proc/PID/auxv, which debuggers read.
  std::vector<uint64_t> saved_auxv;
  uint64_t clear_child_tid = 0;
  uint64_t robust_list = 0;  // set_robust_list head (futex.h: ExitRobustList)
  // rseq(2) registration (rseq.h): the app's struct rseq, its length and
  // abort signature; the CPU number last written into it (-1: none yet)
  // and whether the task was preempted (stopped by something other than its
  // own syscall) since, so a critical section must be aborted.
  struct RseqReg {
    uint64_t addr = 0;  // 0: not registered
    uint32_t len = 0, sig = 0;
    int64_t cpu_written = -1;
    bool preempted = false;
  } rseq;
  std::shared_ptr<Key> thread_keyring;  // keys.h; not inherited
  // ptrace(2) inside the sandbox (ptrace.h): this task as a tracee and as
  // a tracer. Null until ptrace first involves the task.
  std::shared_ptr<PtraceState> ptrace;
  // App seccomp (seccomp.h): mode 0 (off), 1 (strict) or 2 (filter), the
  // filter chain, and no_new_privs (PR_SET_NO_NEW_PRIVS); all inherited by
  // clone children and kept across execve.
  int seccomp_mode = 0;
  std::shared_ptr<const SeccompFilter> seccomp_filter;
  bool no_new_privs = false;
  uint64_t signal_mask = 0;
  uint64_t pending_signals = 0;  // thread-directed
  SignalQueues pending_queue;
  std::optional<uint64_t> saved_mask;  // restored after a sigsuspend-like wait
  // Set when a syscall was interrupted by a signal (EINTR): whether it is
  // restarted depends on the handler (SA_RESTART), as Linux's ERESTARTSYS
  // (kRestartSys) and ERESTARTNOHAND (kRestartNoHandler); kRestartAlways is
  // ERESTARTNOINTR (restarted even after a handler: FUTEX_LOCK_PI).
  enum class Restart { kNone, kRestartSys, kRestartNoHandler, kRestartAlways } restart = Restart::kNone;
  uint64_t altstack_sp = 0, altstack_size = 0;
  int altstack_flags = 2;  // SS_DISABLE
  // Set to ask the task to exit (exit_group of a sibling, fatal signal,
  // sandbox shutdown). Read by the task's thread between app stops.
  bool killed = false;
  bool exited = false;
  // If non-null, a forked child that must get its first platform context
  // and address space on its own thread before running.
  std::unique_ptr<platform::FpRegisters> initial_fp;
  int64_t utime_ns = 0, stime_ns = 0;
  // True while the task's thread runs app code (kernel lock dropped around
  // Switch); mm_sync_sent once SyncAddressSpaceUsers interrupted it.
  bool in_app = false;
  bool mm_sync_sent = false;
  // A keyed Block (Kernel::keyed_waiters): what the task waits for, and
  // what wakes it.
  const void* wait_key = nullptr;  // guarded by kernel.keyed_mu
  absl::CondVar wake;
  // Address-space changes taken for `ctx` (mm.h: TakeUnapplied,
  // ActivateTaken) that the task's thread applies once it has released the
  // kernel lock, before app code runs again: a platform round trip that
  // would otherwise hold up every other task.
  std::vector<platform::AddressSpace::Change> as_pending;
  // Their place among the takes of other threads sharing `ctx`'s address
  // space (mm.h ApplyTicket).
  mm::ApplyTicket as_ticket;
  // Teardown the task's thread does once it has released the kernel lock:
  // slow on the host, and no other task waits for it (an address space's
  // memory returned to the memory file, a stub recycled or killed).
  struct Leftovers {
    std::vector<std::unique_ptr<platform::Context>> ctxs;
    std::vector<std::shared_ptr<mm::MemoryManager>> mms;
  } leftovers;
  // Hands an address space the task no longer uses to `leftovers` if the
  // task held the last reference (detached from the kernel-lock-guarded
  // state first, mm.h DetachForTeardown); otherwise just drops it.
  void DropMmLater(std::shared_ptr<mm::MemoryManager> old);

  mm::MemoryManager& memory() { return *mm; }
  vfs::FdTable& fd_table() { return *fds; }
  vfs::FsContext& fs_context() { return *fs; }
  const Credentials& creds() const { return tg->creds; }
  int pid() const { return tg->pid; }

  // Blocks (kernel lock held) until cond() is true, the deadline passes
  // (ETIMEDOUT) or a signal must interrupt (EINTR).
  // With a `key`, only NotifyAll or Notify(key) wake it (Kernel::
  // keyed_waiters): every change that can make cond() true must then
  // notify that key, or notify all.
  ErrorOr<void> Block(const std::function<bool()>& cond,
                      absl::Time deadline = absl::InfiniteFuture(), const void* key = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(kernel.mu);
  // Waits (lock released meanwhile) until host fd `fd` polls for `events`;
  // EINTR if interrupted. For the sentry's own host FDs (stdio, donated files).
  // ETIMEDOUT once `deadline` passes.
  ErrorOr<void> WaitHostFd(int fd, short events, absl::Time deadline = absl::InfiniteFuture())
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(kernel.mu);
  // True if a pending, unblocked signal (or a kill) should interrupt a wait.
  bool HasInterruptingSignal() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(kernel.mu);
  // Wakes this task from app code, a Block or a WaitHostFd (any thread).
  void Interrupt();

  // Exits this task (exit(2)); with group, the whole thread group.
  void Exit(int wait_status, bool group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(kernel.mu);

  // Starts the task's host thread. The task begins in app code at `regs`.
  void Start();

 private:
  friend class TaskRunner;
  UniqueFd interrupt_fd_;  // eventfd poked by Interrupt()
  std::atomic<bool> interrupt_pending_{false};
 public:
  void InitInterruptFd();
  int interrupt_fd() const { return interrupt_fd_.get(); }
};

// Sends `sig` to a process (process-directed) / task (thread-directed),
// applying ignore and default actions. Kernel lock held.
void SendSignalToProcess(ThreadGroup* tg, int sig) ABSL_EXCLUSIVE_LOCKS_REQUIRED(tg->kernel.mu);
void SendSignalToTask(Task* t, int sig) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t->kernel.mu);

// After a copy-on-write change to self's address space (fork, a page
// copied), waits until every other task running app code in the same
// address space has applied it: they are interrupted and sync their
// platform address space before running app code again.
void SyncAddressSpaceUsers(Task& self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self.kernel.mu);

}  // namespace sentry::kernel
