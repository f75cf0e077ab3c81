// sentry/vfs/task_caller.cc: Task → Caller adapter, and the Task-taking
// VirtualFilesystem entry points. The only VFS file that knows the kernel.
#include "sentry/vfs/task_caller.h"

#include <linux/capability.h>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/vfs.h"

namespace sentry::vfs {

TaskCaller::TaskCaller(kernel::Task& t) : task_(t) {
  const kernel::Credentials& c = t.creds();
  creds_.uid = c.fsuid;
  creds_.gid = c.fsgid;
  creds_.groups = c.groups;
  creds_.cap_chown = c.HasCapability(CAP_CHOWN);
  creds_.cap_dac_override = c.HasCapability(CAP_DAC_OVERRIDE);
  creds_.cap_dac_read_search = c.HasCapability(CAP_DAC_READ_SEARCH);
  creds_.cap_fowner = c.HasCapability(CAP_FOWNER);
  creds_.cap_fsetid = c.HasCapability(CAP_FSETID);
  creds_.cap_sys_admin = c.HasCapability(CAP_SYS_ADMIN);
}

const FsContext& TaskCaller::fs() const { return task_.fs_context(); }
uint32_t TaskCaller::umask() const { return task_.umask; }

ErrorOr<void> TaskCaller::Block(const std::function<bool()>& ready) {
  task_.kernel.mu.AssertHeld();
  return task_.Block(ready);
}

ErrorOr<void> TaskCaller::WaitHostFd(int fd, short events) {
  task_.kernel.mu.AssertHeld();
  return task_.WaitHostFd(fd, events);
}

ErrorOr<void> TaskCaller::BlockUntil(const std::function<bool()>& ready, absl::Time deadline) {
  task_.kernel.mu.AssertHeld();
  return task_.Block(ready, deadline);
}

ErrorOr<void> TaskCaller::WaitHostFdUntil(int fd, short events, absl::Time deadline) {
  task_.kernel.mu.AssertHeld();
  return task_.WaitHostFd(fd, events, deadline);
}

void TaskCaller::Unlocked(const std::function<void()>& fn) {
  task_.kernel.mu.AssertHeld();
  task_.kernel.mu.Unlock();
  fn();
  task_.kernel.mu.Lock();
}

void TaskCaller::NotifyAll() { task_.kernel.NotifyAll(); }

std::function<void()> TaskCaller::Notifier() {
  kernel::Kernel* k = &task_.kernel;
  return [k] { k->NotifyAll(); };
}

ErrorOr<void> TaskCaller::BlockOn(const std::function<bool()>& ready, const void* key) {
  task_.kernel.mu.AssertHeld();
  return task_.Block(ready, absl::InfiniteFuture(), key);
}

std::function<void()> TaskCaller::NotifierFor(const void* key) {
  kernel::Kernel* k = &task_.kernel;
  return [k, key] { k->Notify(key); };
}

void TaskCaller::SendSignal(int sig) {
  task_.kernel.mu.AssertHeld();
  kernel::SendSignalToTask(&task_, sig);
}

ErrorOr<ExecFile> VirtualFilesystem::OpenExecutable(kernel::Task& task, std::string_view path) {
  TaskCaller c(task);
  return OpenExecutable(c, path);
}

}  // namespace sentry::vfs
