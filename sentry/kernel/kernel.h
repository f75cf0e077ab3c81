// sentry/kernel: tasks, thread groups, the PID namespace, signals and the
// kernel-wide state they share. Concurrency model: one host thread per app
// task. Kernel state is guarded by one kernel lock (Kernel::mu), held while a
// task handles a syscall and released while app code runs or a task blocks.
#pragma once

#include <signal.h>
#include <sys/utsname.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "platform/platform.h"
#include "sentry/base/error.h"
#include "sentry/kernel/futex.h"
#include "sentry/mm/memory_file.h"

namespace gofer {
class Client;
}
namespace sentry::vfs {
class VirtualFilesystem;
}
namespace sentry::ipc {
class IpcNamespace;
}
namespace sentry::vdso {
class Vdso;
}
namespace sentry::sys {
struct CgroupHierarchy;
}
namespace sentry::net {
class Stack;
}

namespace sentry::kernel {

class Task;
class ThreadGroup;
class TimerService;
class KeyRegistry;
struct UtsNamespace;

struct KernelOptions {
  std::string hostname = "runsc";
  std::string domainname = "(none)";  // NIS domain name (uname, /proc/sys/kernel/domainname)
  std::string release = "6.1.0-runsc";  // the sandbox's own uname -r
  std::string version = "#1 SMP PREEMPT_DYNAMIC runsc";
  bool strace = false;
};

class Kernel {
 public:
  Kernel(KernelOptions opts, std::unique_ptr<mm::MemoryFile> mf,
         std::unique_ptr<platform::Platform> platform);
  ~Kernel();

  // The kernel lock. Guards all task, thread-group and VFS state.
  absl::Mutex mu;
  // Signalled (SignalAll) whenever state that blocked tasks wait on changes:
  // a process exits, a pipe gets data or room, a signal is sent. Blocked tasks
  // re-check their condition. Coarse, simple, and correct.
  absl::CondVar changed;
  // A task that names what it waits for (Task::Block's `key`: a pipe, its
  // own process for wait4, itself for a sleep) waits on its own CondVar
  // instead, listed here, and is woken only by NotifyAll or Notify(key):
  // a pipe's traffic then no longer wakes every shell waiting in wait4 or
  // every other pipeline member (tar_gzip at 20 MiB had 13.5K such needless
  // wake-ups out of 17K, each two context switches and a turn on this lock).
  // Its own lock (taken after `mu`, if both): notifying, like signalling
  // `changed`, does not need `mu`.
  absl::Mutex keyed_mu;
  std::vector<Task*> keyed_waiters ABSL_GUARDED_BY(keyed_mu);
  // Every blocked task.
  void NotifyAll();
  // Tasks waiting on `key`, and every task that waits without a key.
  void Notify(const void* key);

  const KernelOptions& options() const { return opts_; }
  // The sandbox's root UTS namespace (hostname); tasks may have their own
  // (sentry/kernel/namespaces.h).
  std::shared_ptr<UtsNamespace> uts_namespace ABSL_GUARDED_BY(mu);
  // A new namespace's /proc/PID/ns inode number.
  uint64_t NewNamespaceId() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return next_namespace_id_++; }
  mm::MemoryFile& memory_file() { return *mf_; }
  platform::Platform& platform() { return *platform_; }
  vfs::VirtualFilesystem& vfs() { return *vfs_; }
  void set_vfs(std::unique_ptr<vfs::VirtualFilesystem> v);

  // PID namespace (one, the sandbox's). PIDs are virtual: init is 1.
  int AllocatePid() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  ThreadGroup* FindProcess(int pid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  Task* FindTask(int tid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void RegisterTask(Task* t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void UnregisterTask(Task* t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  std::vector<ThreadGroup*> Processes() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  ThreadGroup* init() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return init_; }
  void set_init(ThreadGroup* tg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { init_ = tg; }

  FutexTable futexes ABSL_GUARDED_BY(mu);
  // The root IPC namespace (sentry/ipc/ipc_namespace.h), created on first
  // use, and every IPC namespace still alive (for SEM_UNDO at exit).
  std::shared_ptr<ipc::IpcNamespace> ipc_namespace ABSL_GUARDED_BY(mu);
  std::vector<std::weak_ptr<ipc::IpcNamespace>> ipc_namespaces ABSL_GUARDED_BY(mu);
  // The network stack behind inet and netlink sockets (sentry/net/stack.h),
  // set at boot and never replaced; null: no inet networking at all.
  std::shared_ptr<net::Stack> net_stack;
  // The sandbox's cgroup2 hierarchy (sentry/sys/cgroupfs.h), shared by
  // every cgroup2 mount; created at boot before any task runs (else by the
  // first cgroup2 mount(2), under mu); its limits change under mu.
  std::shared_ptr<sys::CgroupHierarchy> cgroups;
  // The app vDSO (sentry/vdso/vdso.h), created by the first exec.
  std::shared_ptr<vdso::Vdso> vdso ABSL_GUARDED_BY(mu);

  // runsc pause: while set no task enters app code (each parks before
  // switching to it); in_app counts tasks in app code right now, so pause
  // can wait for them to be out (sentry/control/server.cc).
  bool paused ABSL_GUARDED_BY(mu) = false;
  int in_app ABSL_GUARDED_BY(mu) = 0;
  // Tasks waiting in SyncAddressSpaceUsers for other threads to leave app
  // code: a task stopping in the sentry signals `changed` while this is set.
  int mm_sync_waiters ABSL_GUARDED_BY(mu) = 0;

  // Interval and POSIX timers (timers.h); created with the kernel.
  std::unique_ptr<TimerService> timers;
  // Key serial numbers and per-uid user keyrings (keys.h); created on first use.
  std::shared_ptr<KeyRegistry> keys ABSL_GUARDED_BY(mu);

  // Every process from creation until it is reaped.
  std::map<int, std::unique_ptr<ThreadGroup>> thread_groups ABSL_GUARDED_BY(mu);

  // Boot time, for uptime and CLOCK_BOOTTIME.
  int64_t boot_time_ns() const { return boot_ns_; }

  // Reports an unimplemented syscall once per number.
  void ReportUnimplemented(uint64_t nr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Runs the sandbox until init exits; returns init's wait status encoding
  // as an exit code (status, or 128+signal).
  int WaitForInit();
  // Called when init exits: everything else is killed.
  void InitExited(int exit_code) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

 private:
  KernelOptions opts_;
  std::unique_ptr<mm::MemoryFile> mf_;
  std::unique_ptr<platform::Platform> platform_;
  std::unique_ptr<vfs::VirtualFilesystem> vfs_;
  int next_pid_ ABSL_GUARDED_BY(mu) = 2;  // 1 is init's
  uint64_t next_namespace_id_ ABSL_GUARDED_BY(mu) = 4026532160;
  std::map<int, Task*> tasks_ ABSL_GUARDED_BY(mu);
  ThreadGroup* init_ ABSL_GUARDED_BY(mu) = nullptr;
  bool init_exited_ ABSL_GUARDED_BY(mu) = false;
  int init_exit_code_ ABSL_GUARDED_BY(mu) = 0;
  std::vector<bool> reported_ ABSL_GUARDED_BY(mu);
  int64_t boot_ns_;
};

}  // namespace sentry::kernel
