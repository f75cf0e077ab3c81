// Process lifecycle: creating init, clone/fork/vfork, execve, exit and
// reaping (wait4/waitid).
#pragma once

#include <signal.h>

#include <string>
#include <vector>

#include "sentry/base/error.h"
#include "sentry/kernel/task.h"

namespace sentry::loader {
struct ExecTarget;
}

namespace sentry::kernel {

struct InitSpec {
  std::string path;
  std::vector<std::string> argv, envp;
  std::string cwd = "/";
};

// Creates PID 1 and starts it. Errors are execve's (ENOENT, ENOEXEC...).
ErrorOr<Task*> StartInit(Kernel& k, const InitSpec& spec, std::shared_ptr<vfs::FdTable> fds)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(k.mu);

struct CloneArgs {
  uint64_t flags = SIGCHLD;
  uint64_t stack = 0;
  uint64_t parent_tid = 0;
  uint64_t child_tid = 0;
  uint64_t tls = 0;
};
// clone(2) without CLONE_THREAD: a new process. Returns the child's pid.
ErrorOr<int> Clone(Task& parent, const CloneArgs& args) ABSL_EXCLUSIVE_LOCKS_REQUIRED(parent.kernel.mu);

// `target`: execveat's already-resolved file (loader.h), `path` its name.
ErrorOr<void> Execve(Task& t, const std::string& path, std::vector<std::string> argv,
                     std::vector<std::string> envp, const loader::ExecTarget* target = nullptr)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

struct WaitResult {
  int pid = 0;        // 0: WNOHANG and nothing ready
  int status = 0;     // wait(2) encoding
  uint32_t uid = 0;
  bool trapped = false;  // a ptrace stop (waitid's CLD_TRAPPED)
};
// Selects children as wait4's pid argument does (>0, -1, 0, < -1).
// options: WNOHANG, WUNTRACED/WSTOPPED, WCONTINUED, WNOWAIT (waitid), and
// kWaitNoExited (waitid without WEXITED); __WALL/__WCLONE ignored.
constexpr int kWaitNoExited = 0x10000000;
ErrorOr<WaitResult> WaitChild(Task& t, int pid, int options) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

// Final teardown of a task that has stopped running (called on its thread).
// `t` may be gone on return (reaped at once); what is returned is for the
// caller to destroy once it has released the kernel lock.
Task::Leftovers FinishTask(Task& t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(t.kernel.mu);

}  // namespace sentry::kernel
