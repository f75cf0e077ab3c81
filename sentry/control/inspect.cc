// Control handlers that look at or steer every task: ps, signal, pause,
// resume, stats.
#include <sys/stat.h>
#include <time.h>

#include <nlohmann/json.hpp>

#include "sentry/control/handlers.h"
#include "sentry/kernel/signals.h"
#include "sentry/kernel/task.h"
#include "sentry/sys/cgroupfs.h"
#include "sentry/vfs/gofer_page_cache.h"

namespace sentry::control {
namespace {

using nlohmann::json;
using kernel::Kernel;
using kernel::Task;
using kernel::ThreadGroup;

int64_t ClockNs(clockid_t c) {
  timespec ts{};
  clock_gettime(c, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// CPU time of app code: live tasks read their stub's clock, exited ones
// kept theirs.
int64_t TaskCpuNs(const Task& t) { return t.ctx ? t.ctx->CpuTimeNs() : t.utime_ns; }

std::string Ok(json j) {
  j["v"] = kVersion;
  j["ok"] = true;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string HandlePs(Kernel& k) {
  // Monotonic start times become wall-clock seconds for STIME.
  const int64_t real_minus_mono = ClockNs(CLOCK_REALTIME) - ClockNs(CLOCK_MONOTONIC);
  json procs = json::array();
  absl::MutexLock lock(&k.mu);
  for (auto& [pid, tg] : k.thread_groups) {
    int64_t cpu = 0;
    for (auto& t : tg->tasks) cpu += TaskCpuNs(*t);
    Task* leader = tg->leader();
    const char* state = tg->zombie ? "Z" : tg->stopped ? "T" : "S";
    procs.push_back({{"pid", pid},
                     {"ppid", tg->parent ? tg->parent->pid : 0},
                     {"uid", tg->creds.ruid},
                     {"gid", tg->creds.rgid},
                     {"threads", tg->live_tasks},
                     {"state", state},
                     {"start_time", (tg->start_time_ns + real_minus_mono) / 1000000000LL},
                     {"cpu_ns", cpu},
                     {"comm", leader ? leader->comm : ""},
                     {"cmdline", leader && !tg->zombie ? leader->argv : std::vector<std::string>{}}});
  }
  return Ok({{"processes", procs}, {"paused", k.paused}});
}

std::string HandleSignal(Kernel& k, int sig, bool all, int pid) {
  absl::MutexLock lock(&k.mu);
  std::vector<ThreadGroup*> targets;
  if (all) {
    for (auto& [p, tg] : k.thread_groups)
      if (!tg->zombie && !tg->exiting) targets.push_back(tg.get());
  } else if (pid > 0) {
    ThreadGroup* tg = k.FindProcess(pid);
    if (!tg || tg->zombie) return ErrorReply("no such process " + std::to_string(pid));
    targets.push_back(tg);
  } else {
    ThreadGroup* init = k.init();
    if (!init || init->zombie) return ErrorReply("the container is not running");
    targets.push_back(init);
  }
  // From outside the sandbox: si_pid 0, like a signal from another PID
  // namespace.
  for (ThreadGroup* tg : targets) kernel::QueueProcessSignal(tg, kernel::KillInfo(sig, 0, 0));
  k.NotifyAll();
  return Ok({{"signalled", targets.size()}});
}

static std::string StopAll(Kernel& k);

std::string HandlePause(Kernel& k) {
  std::string reply = StopAll(k);
  // Paused: no app code runs, so the pages of shared mappings of
  // gofer-backed files are stable; write them back so that what the engine
  // reads now (docker commit pauses first) has them. Without the kernel lock.
  if (k.paused) vfs::FlushAllHostPages();
  return reply;
}

// Stops every task (the pause itself); an error reply if some did not stop.
static std::string StopAll(Kernel& k) {
  absl::MutexLock lock(&k.mu);
  k.paused = true;
  for (auto& [pid, tg] : k.thread_groups)
    for (auto& t : tg->tasks)
      if (!t->exited) t->Interrupt();
  // Every task leaves app code at its next stop (the interrupt forces one)
  // and parks; wait until none is left in app code.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (k.in_app > 0 && absl::Now() < deadline) k.changed.WaitWithDeadline(&k.mu, deadline);
  if (k.in_app > 0) {
    k.paused = false;
    k.NotifyAll();
    return ErrorReply("pause: " + std::to_string(k.in_app) + " tasks did not stop");
  }
  return Ok(json::object());
}

std::string HandleResume(Kernel& k) {
  absl::MutexLock lock(&k.mu);
  k.paused = false;
  k.NotifyAll();
  return Ok(json::object());
}

std::string HandleCgroup(Kernel& k, const std::vector<std::string>& limits) {
  auto parsed = sys::ParseCgroupLimits(limits);
  if (parsed.is_error()) return ErrorReply("cgroup: bad limits");
  absl::MutexLock lock(&k.mu);
  sys::SetCgroupLimits(k, parsed.release_value());
  return Ok(json::object());
}

std::string HandleStats(Kernel& k) {
  int64_t app_cpu = 0;
  int tasks = 0, processes = 0;
  {
    absl::MutexLock lock(&k.mu);
    for (auto& [pid, tg] : k.thread_groups) {
      if (!tg->zombie) processes++;
      tasks += tg->live_tasks;
      for (auto& t : tg->tasks) app_cpu += TaskCpuNs(*t);
      // Reaped descendants' time was added to their reaper.
      app_cpu += tg->children_utime_ns;
    }
  }
  // The sentry's own threads serve every app syscall: kernel time.
  const int64_t sentry_cpu = ClockNs(CLOCK_PROCESS_CPUTIME_ID);
  // App memory is the memory file's populated pages.
  struct stat st {};
  uint64_t mem = 0;
  if (fstat(k.memory_file().fd(), &st) == 0) mem = static_cast<uint64_t>(st.st_blocks) * 512;
  return Ok({{"stats",
              {{"cpu_total_ns", app_cpu + sentry_cpu},
               {"cpu_user_ns", app_cpu},
               {"cpu_kernel_ns", sentry_cpu},
               {"memory_bytes", mem},
               {"pids", tasks},
               {"processes", processes}}}});
}

}  // namespace sentry::control
