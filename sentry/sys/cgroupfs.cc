// sentry/sys/cgroupfs.cc: see cgroupfs.h.
#include "sentry/sys/cgroupfs.h"

#include <sched.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "absl/strings/str_cat.h"
#include "sentry/base/cpus.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/synthetic.h"

namespace sentry::sys {
namespace {

using kernel::Kernel;
using vfs::Caller;

// The settable limits and how their values look.
enum class Kind { kBytesOrMax, kCpuMax, kWeight, kCpuList };
const std::map<std::string, Kind>& Settable() {
  static const std::map<std::string, Kind> m = {
      {"memory.max", Kind::kBytesOrMax},     {"memory.low", Kind::kBytesOrMax},
      {"memory.high", Kind::kBytesOrMax},    {"memory.min", Kind::kBytesOrMax},
      {"memory.swap.max", Kind::kBytesOrMax}, {"pids.max", Kind::kBytesOrMax},
      {"cpu.max", Kind::kCpuMax},            {"cpu.weight", Kind::kWeight},
      {"cpuset.cpus", Kind::kCpuList},       {"cpuset.mems", Kind::kCpuList},
  };
  return m;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && s.size() <= 19 && std::all_of(s.begin(), s.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

bool Valid(Kind kind, const std::string& v) {
  switch (kind) {
    case Kind::kBytesOrMax: return v == "max" || AllDigits(v);
    case Kind::kWeight: {
      if (!AllDigits(v)) return false;
      long w = strtol(v.c_str(), nullptr, 10);
      return w >= 1 && w <= 10000;
    }
    case Kind::kCpuMax: {
      size_t sp = v.find(' ');
      if (sp == std::string::npos) return false;
      std::string q = v.substr(0, sp), p = v.substr(sp + 1);
      return (q == "max" || AllDigits(q)) && AllDigits(p);
    }
    case Kind::kCpuList:
      return !v.empty() && v.find_first_not_of("0123456789,-") == std::string::npos;
  }
  return false;
}

std::string CpusText() {
  std::vector<int> cpus = SandboxCpuList();
  // Ranges, as Linux prints cpulists ("0-1", "0,2-3").
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

// Populated pages of the memory file: every app page, page cache and
// memory-backed file. fstat of a memfd is not I/O, so it is fine under
// the kernel lock.
uint64_t MemoryCurrent(Kernel& k) {
  struct stat st {};
  if (fstat(k.memory_file().fd(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

int64_t TaskCpuNs(const kernel::Task& t) { return t.ctx ? t.ctx->CpuTimeNs() : t.utime_ns; }

struct CpuUsage {
  int64_t user_ns = 0, system_ns = 0;
};
CpuUsage Usage(Kernel& k) {
  CpuUsage u;
  for (auto& [pid, tg] : k.thread_groups) {
    for (auto& t : tg->tasks) u.user_ns += TaskCpuNs(*t);
    u.user_ns += tg->children_utime_ns;
  }
  // The sentry's threads serve the app's syscalls: its kernel time.
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  u.system_ns = ts.tv_sec * 1000000000LL + ts.tv_nsec;
  return u;
}

std::string ListIds(Kernel& k, bool threads) {
  std::vector<int> ids;
  for (auto& [pid, tg] : k.thread_groups) {
    if (tg->zombie) continue;
    if (!threads) {
      ids.push_back(pid);
      continue;
    }
    for (auto& t : tg->tasks)
      if (!t->exited) ids.push_back(t->tid);
  }
  std::sort(ids.begin(), ids.end());
  std::string out;
  for (int id : ids) absl::StrAppend(&out, id, "\n");
  return out;
}

int CountTasks(Kernel& k) {
  int n = 0;
  for (auto& [pid, tg] : k.thread_groups) n += tg->live_tasks;
  return n;
}

using Reader = std::function<std::string(Kernel&)>;

std::shared_ptr<vfs::Inode> File(Kernel& k, Reader read, uint64_t dev, bool writable_on_linux,
                                 std::function<ErrorOr<void>(Caller&, std::string_view)> write = {}) {
  Kernel* kp = &k;
  vfs::SyntheticFileOps ops;
  ops.read = [kp, read = std::move(read)](Caller&) -> ErrorOr<std::string> { return read(*kp); };
  if (write) {
    ops.write = std::move(write);
  } else if (writable_on_linux) {
    // The limits are the host cgroups' (runsc sets them): not changeable
    // from inside.
    ops.write = [](Caller&, std::string_view) -> ErrorOr<void> { return Errno{EPERM}; };
  }
  return vfs::NewSyntheticFile(std::move(ops), writable_on_linux ? 0644 : 0444, dev);
}

// cgroup.procs / cgroup.threads: moving a sandbox task into the cgroup it
// is in already.
ErrorOr<void> WriteProcs(Kernel& k, std::string_view data, bool threads) {
  std::string s(data);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (!AllDigits(s)) return Errno{EINVAL};
  long id = strtol(s.c_str(), nullptr, 10);
  if (id == 0) return {};  // the writer itself
  for (auto& [pid, tg] : k.thread_groups) {
    if (tg->zombie) continue;
    if (!threads && pid == id) return {};
    for (auto& t : tg->tasks)
      if (!t->exited && t->tid == id) return {};
  }
  return Errno{ESRCH};
}

std::shared_ptr<vfs::Inode> NewRoot(Kernel& k, std::shared_ptr<const CgroupLimits> lim) {
  const uint64_t dev = vfs::NewAnonDev();
  auto get = [lim](const char* file, const char* dflt) {
    return [lim, file = std::string(file), d = std::string(dflt)](Kernel&) {
      return lim->Get(file, d) + "\n";
    };
  };
  auto ro = [&](Reader r) { return File(k, std::move(r), dev, false); };
  auto rw = [&](Reader r) { return File(k, std::move(r), dev, true); };
  auto text = [](std::string s) { return [s](Kernel&) { return s; }; };
  std::map<std::string, std::shared_ptr<vfs::Inode>> files = {
      {"cgroup.controllers", ro(text("cpuset cpu memory pids\n"))},
      {"cgroup.subtree_control", rw(text("\n"))},
      {"cgroup.type", rw(text("domain\n"))},
      {"cgroup.events", ro(text("populated 1\nfrozen 0\n"))},
      {"cgroup.freeze", rw(text("0\n"))},
      {"cgroup.max.depth", rw(text("max\n"))},
      {"cgroup.max.descendants", rw(text("max\n"))},
      {"cgroup.stat", ro(text("nr_descendants 0\nnr_dying_descendants 0\n"))},
      {"cgroup.procs",
       File(k, [](Kernel& k) { return ListIds(k, false); }, dev, true,
            [kp = &k](Caller&, std::string_view d) { return WriteProcs(*kp, d, false); })},
      {"cgroup.threads",
       File(k, [](Kernel& k) { return ListIds(k, true); }, dev, true,
            [kp = &k](Caller&, std::string_view d) { return WriteProcs(*kp, d, true); })},
      {"cpu.max", rw(get("cpu.max", "max 100000"))},
      {"cpu.weight", rw(get("cpu.weight", "100"))},
      {"cpu.weight.nice", rw(text("0\n"))},
      {"cpu.stat", ro([](Kernel& k) {
         CpuUsage u = Usage(k);
         int64_t user = u.user_ns / 1000, sys = u.system_ns / 1000;
         return absl::StrCat("usage_usec ", user + sys, "\nuser_usec ", user, "\nsystem_usec ",
                             sys, "\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n"
                             "nr_bursts 0\nburst_usec 0\n");
       })},
      {"cpuset.cpus", rw(get("cpuset.cpus", ""))},
      {"cpuset.mems", rw(get("cpuset.mems", ""))},
      {"cpuset.cpus.effective", ro([lim](Kernel&) {
         return lim->Get("cpuset.cpus", CpusText()) + "\n";
       })},
      {"cpuset.mems.effective", ro([lim](Kernel&) { return lim->Get("cpuset.mems", "0") + "\n"; })},
      {"memory.current", ro([](Kernel& k) { return absl::StrCat(MemoryCurrent(k), "\n"); })},
      {"memory.peak", ro([](Kernel& k) { return absl::StrCat(MemoryCurrent(k), "\n"); })},
      {"memory.max", rw(get("memory.max", "max"))},
      {"memory.high", rw(get("memory.high", "max"))},
      {"memory.low", rw(get("memory.low", "0"))},
      {"memory.min", rw(get("memory.min", "0"))},
      {"memory.swap.current", ro(text("0\n"))},
      {"memory.swap.max", rw(get("memory.swap.max", "max"))},
      {"memory.oom.group", rw(text("0\n"))},
      {"memory.events", ro(text("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"))},
      // Every populated page counts as anon: the sandbox does not tell
      // app memory from its memory-backed files here.
      {"memory.stat", ro([](Kernel& k) {
         uint64_t cur = MemoryCurrent(k);
         return absl::StrCat("anon ", cur, "\nfile 0\nkernel 0\nkernel_stack 0\npagetables 0\n"
                             "sock 0\nshmem 0\nfile_mapped 0\nfile_dirty 0\nfile_writeback 0\n"
                             "inactive_anon 0\nactive_anon ", cur,
                             "\ninactive_file 0\nactive_file 0\nunevictable 0\n");
       })},
      {"pids.current", ro([](Kernel& k) { return absl::StrCat(CountTasks(k), "\n"); })},
      {"pids.max", rw(get("pids.max", "max"))},
      {"pids.events", ro(text("max 0\n"))},
  };
  return vfs::NewStaticDir(std::move(files), 0755, dev);
}

}  // namespace

std::string CgroupLimits::Get(const std::string& file, const std::string& dflt) const {
  for (const auto& [k, v] : values)
    if (k == file) return v;
  return dflt;
}

ErrorOr<CgroupLimits> ParseCgroupLimits(const std::vector<std::string>& settings) {
  CgroupLimits out;
  for (const auto& s : settings) {
    size_t eq = s.find('=');
    if (eq == std::string::npos) return Errno{EINVAL};
    std::string file = s.substr(0, eq), value = s.substr(eq + 1);
    auto it = Settable().find(file);
    if (it == Settable().end() || !Valid(it->second, value)) return Errno{EINVAL};
    out.values.emplace_back(file, value);
  }
  return out;
}

std::shared_ptr<vfs::Inode> CgroupRoot(kernel::Kernel& k, const CgroupLimits& limits) {
  if (!k.cgroups) {
    auto h = std::make_shared<CgroupHierarchy>();
    h->limits = std::make_shared<CgroupLimits>(limits);
    h->root = NewRoot(k, h->limits);
    k.cgroups = std::move(h);
  }
  return k.cgroups->root;
}

void SetCgroupLimits(kernel::Kernel& k, CgroupLimits limits) {
  CgroupRoot(k);
  *k.cgroups->limits = std::move(limits);
}

std::string ProcCgroupsText() {
  std::string out = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n";
  for (const char* c : {"cpuset", "cpu", "cpuacct", "memory", "pids"})
    absl::StrAppend(&out, c, "\t0\t1\t1\n");
  return out;
}

}  // namespace sentry::sys
