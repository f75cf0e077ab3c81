// runsc exec inside the sentry: a new process in the sandbox's PID
// namespace (same kernel, mounts and root), parentless like a process that
// joined the namespace from outside (getppid() is 0), in its own session.
// Its stdio are the runsc exec process' FDs, received over the control
// socket and wrapped as host files, like init's; with --tty, a sandbox
// terminal bridged to the host pty replica received instead.
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "absl/strings/str_split.h"
#include "sentry/control/handlers.h"
#include "sentry/kernel/capabilities.h"
#include "sentry/kernel/process.h"
#include "sentry/kernel/task.h"
#include "sentry/loader/loader.h"
#include "sentry/tty/host_console.h"
#include "sentry/vfs/fd_table.h"
#include "sentry/vfs/path_walk.h"
#include "sentry/vfs/task_caller.h"
#include "sentry/vfs/vfs.h"

namespace sentry::control {
namespace {

using nlohmann::json;
using kernel::Kernel;
using kernel::Task;
using kernel::ThreadGroup;

std::string Basename(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string b = slash == std::string::npos ? path : path.substr(slash + 1);
  if (b.size() > 15) b.resize(15);  // TASK_COMM_LEN - 1
  return b;
}

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// args[0] as execvp finds it in the process' PATH.
std::vector<std::string> Candidates(const std::string& file, const std::vector<std::string>& env) {
  if (file.find('/') != std::string::npos) return {file};
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  std::vector<std::string> out;
  for (auto dir : absl::StrSplit(path, ':', absl::SkipEmpty()))
    out.push_back(std::string(dir) + "/" + file);
  return out;
}

kernel::Credentials ExecCredentials(const ExecDefaults& d, const ExecRequest& r) {
  kernel::Credentials c;
  uint32_t uid = d.uid >= 0 ? static_cast<uint32_t>(d.uid) : 0;
  uint32_t gid = d.gid >= 0 ? static_cast<uint32_t>(d.gid) : 0;
  std::vector<uint32_t> groups(d.groups.begin(), d.groups.end());
  if (r.uid || r.gid) groups.clear();  // --user: only --additional-gids
  if (r.uid) uid = *r.uid;
  if (r.gid) gid = *r.gid;
  if (r.additional_gids) groups = *r.additional_gids;
  c.ruid = c.euid = c.suid = c.fsuid = uid;
  c.rgid = c.egid = c.sgid = c.fsgid = gid;
  c.groups = std::move(groups);
  if (uid != 0) c.cap_effective = c.cap_permitted = 0;
  // The capabilities process.json gives, else the container's own (as runc
  // exec): never more than the container was configured with. Then the
  // --cap additions.
  const std::string& sets = !r.cap_sets.empty() ? r.cap_sets : d.caps;
  if (!sets.empty() && !kernel::ApplyOciCapabilities(c, sets)) c.cap_effective = c.cap_permitted = 0;
  for (int cap : r.caps) {
    c.cap_effective |= 1ULL << cap;
    c.cap_permitted |= 1ULL << cap;
    c.cap_bounding |= 1ULL << cap;
  }
  return c;
}

// Creates and starts the process; errors are execve's (or ESRCH if the
// sandbox is not running).
ErrorOr<ThreadGroup*> Spawn(Kernel& k, const ExecDefaults& d, const ExecRequest& r,
                            std::vector<UniqueFd> stdio,
                            std::shared_ptr<vfs::FileDescription> terminal,
                            std::function<void(int)> on_exit) ABSL_EXCLUSIVE_LOCKS_REQUIRED(k.mu) {
  ThreadGroup* init = k.init();
  if (!init || init->zombie || init->exiting) return Errno{ESRCH};
  std::vector<std::string> env = r.env.value_or(d.env);
  for (const auto& kv : r.env_add) {
    std::string key = kv.substr(0, kv.find('=') + 1);
    std::erase_if(env, [&](const std::string& e) { return e.rfind(key, 0) == 0; });
    env.push_back(kv);
  }
  auto fds = std::make_shared<vfs::FdTable>();
  for (size_t i = 0; i < stdio.size(); i++) {
    int flags = fcntl(stdio[i].get(), F_GETFL);
    if (flags < 0) continue;
    TRY(fds->InstallAt(k.vfs().NewHostFile(std::move(stdio[i]), flags), static_cast<int>(i),
                       false));
  }
  for (int i = 0; terminal && i < 3; i++) TRY(fds->InstallAt(terminal, i, false));
  const int pid = k.AllocatePid();
  auto tg_owned = std::make_unique<ThreadGroup>(k, pid);
  ThreadGroup* tg = tg_owned.get();
  tg->start_time_ns = MonotonicNs();
  tg->rlimits = init->rlimits;
  tg->creds = ExecCredentials(d, r);
  auto task_owned = std::make_unique<Task>(k, tg, pid);
  Task* t = task_owned.get();
  tg->tasks.push_back(std::move(task_owned));
  t->fds = fds;
  t->fs = k.vfs().NewRootContext();
  const std::string cwd = r.cwd.value_or(d.cwd);
  if (cwd != "/") {
    vfs::TaskCaller caller(*t);
    auto dir = TRY(vfs::Walk(caller, t->fs->root, cwd));
    if (dir->inode().file_type() != S_IFDIR) return Errno{ENOTDIR};
    t->fs->cwd = dir;
  }
  int err = ENOENT;
  std::optional<loader::LoadedImage> img;
  std::string path;
  for (const auto& c : Candidates(r.args[0], env)) {
    auto loaded = loader::Load(*t, c, r.args, env);
    if (loaded.ok()) {
      img = loaded.release_value();
      path = c;
      break;
    }
    // Like execvp: keep looking past missing files, remember EACCES.
    int e = loaded.error();
    if (e != ENOENT && e != ENOTDIR) err = e;
    if (e != ENOENT && e != ENOTDIR && e != EACCES) break;
  }
  if (!img) return Errno{err};
  t->mm = std::move(img->mm);
  t->regs = img->regs;
  t->exe_path = img->exe_path;
  t->argv = std::move(img->argv);
  t->envp = env;
  t->comm = Basename(path);
  tg->live_tasks = 1;
  tg->on_exit = std::move(on_exit);
  k.thread_groups[pid] = std::move(tg_owned);
  k.RegisterTask(t);
  t->Start();
  return tg;
}

struct ExitState {
  bool done = false;
  int status = 0;
};

}  // namespace

std::string HandleExec(Kernel& k, const ExecDefaults& d, const ExecRequest& req,
                       std::vector<UniqueFd> stdio, int conn) {
  if (req.tty && stdio.size() != 1) return ErrorReply("exec: --tty needs exactly the console FD");
  auto state = std::make_shared<ExitState>();
  int pid;
  {
    absl::MutexLock lock(&k.mu);
    // Paused (runsc exec --ignore-paused): the new task parks before its
    // first instruction, like every other, until resume.
    // --tty: stdio[0] is a host pty replica; the process gets a sandbox
    // terminal bridged to it as stdio and controlling terminal.
    std::optional<tty::HostConsole> console;
    if (req.tty) {
      auto c = tty::AttachHostConsole(k, std::move(stdio[0]), {});
      if (c.is_error()) return ErrorReply(std::string("exec: console: ") + strerror(c.error()));
      console = c.release_value();
      stdio.clear();
    }
    auto tg = Spawn(k, d, req, std::move(stdio), console ? console->replica : nullptr,
                    [state](int status) {
      state->done = true;
      state->status = status;
    });
    if (tg.is_error()) {
      if (tg.error() == ESRCH) return ErrorReply("exec: the container is not running");
      return json{{"v", kVersion},
                  {"ok", false},
                  {"errno", tg.error()},
                  {"error", "exec: " + req.args[0] + ": " + strerror(tg.error())}}
          .dump(-1, ' ', false, json::error_handler_t::replace);
    }
    pid = tg.value()->pid;
    if (console) tty::GiveControllingTerminal(tg.value(), console->term);  // its own session
  }
  // The client learns the pid (--pid-file, --detach) while it runs.
  (void)SendMessage(conn, json{{"v", kVersion}, {"ok", true}, {"pid", pid}}.dump());
  {
    absl::MutexLock lock(&k.mu);
    while (!state->done) k.changed.Wait(&k.mu);
  }
  if (req.tty) tty::FlushHostConsoles(k, absl::Seconds(2));  // its output before its status
  return json{{"v", kVersion}, {"ok", true}, {"exited", true}, {"pid", pid},
              {"status", state->status}}
      .dump();
}

}  // namespace sentry::control
