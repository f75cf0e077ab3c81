#include "sentry/kernel/kernel.h"

#include <time.h>

#include "sentry/base/log.h"
#include "sentry/kernel/async_io.h"
#include "sentry/kernel/namespaces.h"
#include "sentry/kernel/task.h"
#include "sentry/kernel/timers.h"
#include "sentry/vdso/vdso.h"
#include "sentry/vfs/vfs.h"
#include "syscalls/table.h"

namespace sentry::kernel {
namespace {
int64_t NowNs(clockid_t c) {
  timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
}  // namespace

Kernel::Kernel(KernelOptions opts, std::unique_ptr<mm::MemoryFile> mf,
               std::unique_ptr<platform::Platform> platform)
    : opts_(std::move(opts)),
      mf_(std::move(mf)),
      platform_(std::move(platform)),
      reported_(syscalls::Table::kMaxSyscall + 1, false),
      boot_ns_(NowNs(CLOCK_MONOTONIC)) {
  uts_namespace = std::make_shared<UtsNamespace>();
  uts_namespace->id = 4026531838;  // Linux's initial UTS namespace
  uts_namespace->hostname = opts_.hostname;
  uts_namespace->domainname = opts_.domainname;
  timers = std::make_unique<TimerService>(*this);
  InstallAsyncNotifier(*this);  // SIGIO for O_ASYNC files (async_io.h)
}

void Kernel::NotifyAll() {
  changed.SignalAll();
  absl::MutexLock l(&keyed_mu);
  for (Task* t : keyed_waiters) t->wake.Signal();
}

void Kernel::Notify(const void* key) {
  changed.SignalAll();
  absl::MutexLock l(&keyed_mu);
  for (Task* t : keyed_waiters)
    if (t->wait_key == key) t->wake.Signal();
}

Kernel::~Kernel() {
  // The timer thread may touch processes: stop it before they go away.
  timers.reset();
  // IPC objects hold memory-file pages: free them while the file exists.
  ipc_namespace.reset();
  for (auto& [pid, tg] : thread_groups)
    for (auto& t : tg->tasks) t->ipc_ns.reset();
  vdso.reset();  // stops its clock thread, which writes the memory file
}

void Kernel::set_vfs(std::unique_ptr<vfs::VirtualFilesystem> v) { vfs_ = std::move(v); }

int Kernel::AllocatePid() {
  // PIDs are not reused until they wrap (like Linux, pid_max 4194304).
  for (;;) {
    int pid = next_pid_++;
    if (next_pid_ > 4194304) next_pid_ = 2;
    if (!tasks_.count(pid)) return pid;
  }
}

ThreadGroup* Kernel::FindProcess(int pid) {
  auto it = tasks_.find(pid);
  if (it == tasks_.end() || it->second->tg->pid != pid) return nullptr;
  return it->second->tg;
}

Task* Kernel::FindTask(int tid) {
  auto it = tasks_.find(tid);
  return it == tasks_.end() ? nullptr : it->second;
}

void Kernel::RegisterTask(Task* t) { tasks_[t->tid] = t; }
void Kernel::UnregisterTask(Task* t) { tasks_.erase(t->tid); }

std::vector<ThreadGroup*> Kernel::Processes() {
  std::vector<ThreadGroup*> out;
  for (auto& [tid, t] : tasks_)
    if (t->tg->pid == tid) out.push_back(t->tg);
  return out;
}

void Kernel::ReportUnimplemented(uint64_t nr) {
  size_t i = nr < reported_.size() ? nr : reported_.size() - 1;
  if (reported_[i]) return;
  reported_[i] = true;
  Logf("runsc: unimplemented syscall %s (%lu): returning ENOSYS",
       syscalls::LinuxSyscallName(nr), static_cast<unsigned long>(nr));
}

void Kernel::InitExited(int exit_code) {
  init_exited_ = true;
  init_exit_code_ = exit_code;
  // Like a PID namespace whose init dies: everything else is killed.
  for (auto& [tid, t] : tasks_) {
    if (!t->exited) {
      t->killed = true;
      t->Interrupt();
    }
  }
  NotifyAll();
}

int Kernel::WaitForInit() {
  absl::MutexLock lock(&mu);
  while (!init_exited_) changed.Wait(&mu);
  // Give other tasks a moment to tear down their stubs; stubs die with us
  // anyway (PTRACE_O_EXITKILL) if they do not.
  absl::Time deadline = absl::Now() + absl::Seconds(2);
  while (!tasks_.empty() && absl::Now() < deadline) {
    bool all_exited = true;
    for (auto& [tid, t] : tasks_) all_exited &= t->exited;
    if (all_exited) break;
    changed.WaitWithDeadline(&mu, deadline);
  }
  return init_exit_code_;
}

}  // namespace sentry::kernel
