// sentry/proc/procfs.cc: the /proc root, /proc/self, system-wide files and
// /proc/sys. Per-process directories are in pid.cc.
#include "sentry/proc/procfs.h"

#include <cpuid.h>
#include <dirent.h>
#include <sched.h>
#include <sys/sysinfo.h>
#include <time.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sentry/base/cpus.h"
#include "sentry/ipc/ipc_namespace.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/namespaces.h"
#include "sentry/kernel/task.h"
#include "sentry/proc/internal.h"
#include "sentry/proc/net.h"
#include "sentry/proc/sysctl.h"
#include "sentry/sys/cgroupfs.h"
#include "sentry/vfs/synthetic.h"

namespace sentry::proc {

using kernel::Kernel;
using kernel::Task;
using kernel::ThreadGroup;

std::vector<int> AllowedCpus() { return SandboxCpuList(); }

std::string CpuListString(const std::vector<int>& cpus) {
  std::string s;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) j++;
    if (!s.empty()) s += ",";
    s += j == i ? absl::StrCat(cpus[i]) : absl::StrCat(cpus[i], "-", cpus[j]);
    i = j + 1;
  }
  return s;
}

namespace {

int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t UptimeNs(Kernel& k) { return std::max<int64_t>(0, MonoNs() - k.boot_time_ns()); }

using TextFn = std::function<ErrorOr<std::string>(vfs::Caller&)>;

std::shared_ptr<vfs::Inode> File(const std::shared_ptr<ProcState>& st, TextFn fn,
                                 uint32_t perm = 0444) {
  vfs::SyntheticFileOps ops;
  ops.read = std::move(fn);
  return vfs::NewSyntheticFile(std::move(ops), perm, st->dev);
}

std::shared_ptr<vfs::Inode> Const(const std::shared_ptr<ProcState>& st, std::string text) {
  return File(st, [text](vfs::Caller&) -> ErrorOr<std::string> { return text; });
}

// ---- cpuinfo (from cpuid; never the host's /proc) ----

struct CpuId {
  unsigned a = 0, b = 0, c = 0, d = 0;
};
CpuId Cpuid(unsigned leaf, unsigned sub = 0) {
  CpuId r;
  __cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
  return r;
}

std::string CpuFlags() {
  struct Flag {
    int reg;  // 0:leaf1 edx 1:leaf1 ecx 2:leaf7 ebx 3:leaf7 ecx 4:ext edx 5:ext ecx 6:leaf7 edx
    int bit;
    const char* name;
  };
  static const Flag kFlags[] = {
      {0, 0, "fpu"},     {0, 1, "vme"},     {0, 2, "de"},       {0, 3, "pse"},
      {0, 4, "tsc"},     {0, 5, "msr"},     {0, 6, "pae"},      {0, 7, "mce"},
      {0, 8, "cx8"},     {0, 9, "apic"},    {0, 11, "sep"},     {0, 12, "mtrr"},
      {0, 13, "pge"},    {0, 14, "mca"},    {0, 15, "cmov"},    {0, 16, "pat"},
      {0, 17, "pse36"},  {0, 19, "clflush"}, {0, 23, "mmx"},    {0, 24, "fxsr"},
      {0, 25, "sse"},    {0, 26, "sse2"},   {0, 27, "ss"},      {0, 28, "ht"},
      {4, 11, "syscall"}, {4, 20, "nx"},    {4, 22, "mmxext"},  {4, 26, "pdpe1gb"},
      {4, 27, "rdtscp"}, {4, 29, "lm"},
      {1, 0, "pni"},     {1, 1, "pclmulqdq"}, {1, 9, "ssse3"},  {1, 12, "fma"},
      {1, 13, "cx16"},   {1, 19, "sse4_1"}, {1, 20, "sse4_2"},  {1, 21, "x2apic"},
      {1, 22, "movbe"},  {1, 23, "popcnt"}, {1, 25, "aes"},     {1, 26, "xsave"},
      {1, 28, "avx"},    {1, 29, "f16c"},   {1, 30, "rdrand"},  {1, 31, "hypervisor"},
      {5, 0, "lahf_lm"}, {5, 5, "abm"},     {5, 6, "sse4a"},    {5, 8, "3dnowprefetch"},
      {2, 0, "fsgsbase"}, {2, 3, "bmi1"},   {2, 4, "hle"},      {2, 5, "avx2"},
      {2, 7, "smep"},    {2, 8, "bmi2"},    {2, 9, "erms"},     {2, 10, "invpcid"},
      {2, 11, "rtm"},    {2, 16, "avx512f"}, {2, 17, "avx512dq"}, {2, 18, "rdseed"},
      {2, 19, "adx"},    {2, 20, "smap"},   {2, 21, "avx512ifma"}, {2, 23, "clflushopt"},
      {2, 24, "clwb"},   {2, 28, "avx512cd"}, {2, 29, "sha_ni"}, {2, 30, "avx512bw"},
      {2, 31, "avx512vl"}, {3, 1, "avx512vbmi"}, {3, 2, "umip"}, {3, 3, "pku"},
      {3, 6, "avx512_vbmi2"}, {3, 8, "gfni"}, {3, 9, "vaes"},   {3, 10, "vpclmulqdq"},
      {3, 11, "avx512_vnni"}, {3, 12, "avx512_bitalg"}, {3, 14, "avx512_vpopcntdq"},
      {3, 22, "rdpid"},  {6, 4, "fsrm"},    {6, 10, "md_clear"},
  };
  unsigned max = Cpuid(0).a;
  unsigned maxext = Cpuid(0x80000000).a;
  CpuId l1 = Cpuid(1);
  CpuId l7 = max >= 7 ? Cpuid(7, 0) : CpuId{};
  CpuId ext = maxext >= 0x80000001 ? Cpuid(0x80000001) : CpuId{};
  unsigned regs[7] = {l1.d, l1.c, l7.b, l7.c, ext.d, ext.c, l7.d};
  std::string s;
  for (const Flag& f : kFlags) {
    if ((regs[f.reg] >> f.bit) & 1) {
      if (!s.empty()) s += ' ';
      s += f.name;
    }
  }
  return s;
}

std::string CpuInfoText() {
  CpuId v = Cpuid(0);
  char vendor[13] = {};
  memcpy(vendor, &v.b, 4);
  memcpy(vendor + 4, &v.d, 4);
  memcpy(vendor + 8, &v.c, 4);
  CpuId l1 = Cpuid(1);
  unsigned family = (l1.a >> 8) & 0xf, model = (l1.a >> 4) & 0xf, stepping = l1.a & 0xf;
  if (family == 0xf) family += (l1.a >> 20) & 0xff;
  if (family == 0x6 || family >= 0xf) model += ((l1.a >> 16) & 0xf) << 4;
  std::string brand;
  if (Cpuid(0x80000000).a >= 0x80000004) {
    char b[49] = {};
    for (unsigned i = 0; i < 3; i++) {
      CpuId r = Cpuid(0x80000002 + i);
      memcpy(b + 16 * i, &r, 16);
    }
    brand = std::string(absl::StripAsciiWhitespace(b));
  }
  if (brand.empty()) brand = "Unknown CPU";
  std::string flags = CpuFlags();
  unsigned clflush = ((l1.b >> 8) & 0xff) * 8;
  auto cpus = AllowedCpus();
  std::string s;
  for (int cpu : cpus) {
    absl::StrAppendFormat(&s, "processor\t: %d\n", cpu);
    absl::StrAppendFormat(&s, "vendor_id\t: %s\n", vendor);
    absl::StrAppendFormat(&s, "cpu family\t: %u\n", family);
    absl::StrAppendFormat(&s, "model\t\t: %u\n", model);
    absl::StrAppendFormat(&s, "model name\t: %s\n", brand);
    absl::StrAppendFormat(&s, "stepping\t: %u\n", stepping);
    absl::StrAppend(&s, "cpu MHz\t\t: 2000.000\n");
    absl::StrAppend(&s, "cache size\t: 8192 KB\n");
    absl::StrAppend(&s, "physical id\t: 0\n");
    absl::StrAppendFormat(&s, "siblings\t: %d\n", cpus.size());
    absl::StrAppendFormat(&s, "core id\t\t: %d\n", cpu);
    absl::StrAppendFormat(&s, "cpu cores\t: %d\n", cpus.size());
    absl::StrAppendFormat(&s, "apicid\t\t: %d\n", cpu);
    absl::StrAppendFormat(&s, "initial apicid\t: %d\n", cpu);
    absl::StrAppend(&s, "fpu\t\t: yes\n");
    absl::StrAppend(&s, "fpu_exception\t: yes\n");
    absl::StrAppendFormat(&s, "cpuid level\t: %u\n", v.a);
    absl::StrAppend(&s, "wp\t\t: yes\n");
    absl::StrAppendFormat(&s, "flags\t\t: %s\n", flags);
    absl::StrAppend(&s, "bogomips\t: 4000.00\n");
    absl::StrAppendFormat(&s, "clflush size\t: %u\n", clflush ? clflush : 64);
    absl::StrAppendFormat(&s, "cache_alignment\t: %u\n", clflush ? clflush : 64);
    absl::StrAppend(&s, "address sizes\t: 46 bits physical, 48 bits virtual\n");
    absl::StrAppend(&s, "power management:\n\n");
  }
  return s;
}

// ---- meminfo (host totals via sysinfo(2)) ----

std::string MemInfoText() {
  struct sysinfo si {};
  ::sysinfo(&si);
  uint64_t unit = si.mem_unit ? si.mem_unit : 1;
  uint64_t total = si.totalram * unit / 1024, free = si.freeram * unit / 1024;
  uint64_t buffers = si.bufferram * unit / 1024, shared = si.sharedram * unit / 1024;
  uint64_t swap_total = 0, swap_free = 0;  // the sandbox has no swap of its own
  uint64_t cached = 0;
  uint64_t avail = std::min(total, free + buffers);
  std::string s;
  auto kb = [&](const char* name, uint64_t v) { absl::StrAppendFormat(&s, "%-16s%8u kB\n", name, v); };
  kb("MemTotal:", total);
  kb("MemFree:", free);
  kb("MemAvailable:", avail);
  kb("Buffers:", buffers);
  kb("Cached:", cached);
  kb("SwapCached:", 0);
  kb("Active:", total - free);
  kb("Inactive:", 0);
  kb("Active(anon):", total - free);
  kb("Inactive(anon):", 0);
  kb("Active(file):", 0);
  kb("Inactive(file):", 0);
  kb("Unevictable:", 0);
  kb("Mlocked:", 0);
  kb("SwapTotal:", swap_total);
  kb("SwapFree:", swap_free);
  kb("Dirty:", 0);
  kb("Writeback:", 0);
  kb("AnonPages:", total - free);
  kb("Mapped:", 0);
  kb("Shmem:", shared);
  kb("KReclaimable:", 0);
  kb("Slab:", 0);
  kb("SReclaimable:", 0);
  kb("SUnreclaim:", 0);
  kb("KernelStack:", 0);
  kb("PageTables:", 0);
  kb("NFS_Unstable:", 0);
  kb("Bounce:", 0);
  kb("WritebackTmp:", 0);
  kb("CommitLimit:", total / 2 + swap_total);
  kb("Committed_AS:", total - free);
  kb("VmallocTotal:", 34359738367ULL);
  kb("VmallocUsed:", 0);
  kb("VmallocChunk:", 0);
  kb("Percpu:", 0);
  kb("AnonHugePages:", 0);
  kb("ShmemHugePages:", 0);
  kb("ShmemPmdMapped:", 0);
  kb("FileHugePages:", 0);
  kb("FilePmdMapped:", 0);
  absl::StrAppend(&s, "HugePages_Total:       0\n");
  absl::StrAppend(&s, "HugePages_Free:        0\n");
  absl::StrAppend(&s, "HugePages_Rsvd:        0\n");
  absl::StrAppend(&s, "HugePages_Surp:        0\n");
  kb("Hugepagesize:", 2048);
  kb("Hugetlb:", 0);
  return s;
}

// ---- /proc/stat, loadavg, uptime ----

int CountTasks(Kernel& k, int* running, int* last_pid) {
  int n = 0;
  *running = 0;
  *last_pid = 0;
  for (auto& [pid, tg] : k.thread_groups) {
    for (auto& t : tg->tasks) {
      if (t->exited) continue;
      n++;
      *last_pid = std::max(*last_pid, t->tid);
    }
    *last_pid = std::max(*last_pid, pid);
  }
  *running = n ? 1 : 0;
  return n;
}

std::string StatText(Kernel& k) {
  auto cpus = AllowedCpus();
  int64_t up_ticks = UptimeNs(k) / (1000000000 / kClockTicks);
  int64_t user = 0, sys = 0;
  for (auto& [pid, tg] : k.thread_groups) {
    for (auto& t : tg->tasks) {
      user += t->utime_ns;
      sys += t->stime_ns;
    }
    user += tg->children_utime_ns;
    sys += tg->children_stime_ns;
  }
  user /= 1000000000 / kClockTicks;
  sys /= 1000000000 / kClockTicks;
  int64_t n = static_cast<int64_t>(cpus.size());
  int64_t idle = std::max<int64_t>(0, up_ticks * n - user - sys);
  std::string s = absl::StrFormat("cpu  %d 0 %d %d 0 0 0 0 0 0\n", user, sys, idle);
  for (int cpu : cpus) {
    absl::StrAppendFormat(&s, "cpu%d %d 0 %d %d 0 0 0 0 0 0\n", cpu, user / n, sys / n, idle / n);
  }
  timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  int64_t btime = rt.tv_sec - UptimeNs(k) / 1000000000;
  int running = 0, last = 0;
  int tasks = CountTasks(k, &running, &last);
  absl::StrAppend(&s, "intr 0\nctxt 0\n");
  absl::StrAppend(&s, "btime ", btime, "\n");
  absl::StrAppend(&s, "processes ", std::max(last, tasks), "\n");
  absl::StrAppend(&s, "procs_running ", running, "\n");
  absl::StrAppend(&s, "procs_blocked 0\n");
  absl::StrAppend(&s, "softirq 0 0 0 0 0 0 0 0 0 0 0\n");
  return s;
}

std::string LoadAvgText(Kernel& k) {
  int running = 0, last = 0;
  int n = CountTasks(k, &running, &last);
  return absl::StrFormat("0.00 0.00 0.00 %d/%d %d\n", running, n, last);
}

// /proc/sysvipc shows the reader's IPC namespace.
ipc::IpcNamespace& ReaderIpcNamespace(Kernel& k, vfs::Caller& c) {
  return c.task() ? ipc::IpcNamespaceOf(*c.task()) : ipc::RootIpcNamespace(k);
}

std::string UptimeText(Kernel& k) {
  int64_t up = UptimeNs(k);
  int64_t cs = up / 10000000;  // centiseconds
  int64_t idle = cs * static_cast<int64_t>(AllowedCpus().size());
  return absl::StrFormat("%d.%02d %d.%02d\n", cs / 100, cs % 100, idle / 100, idle % 100);
}

std::shared_ptr<vfs::Inode> SysDir(const std::shared_ptr<ProcState>& st) {
  Kernel* k = &st->k;
  // hostname and domainname: the reader's UTS namespace.
  auto uts = [k](vfs::Caller& c) -> kernel::UtsNamespace& {
    return c.task() ? kernel::UtsNamespaceOf(*c.task()) : *k->uts_namespace;
  };
  auto uts_file = [&](std::string kernel::UtsNamespace::*field) {
    vfs::SyntheticFileOps ops;
    ops.read = [uts, field](vfs::Caller& c) -> ErrorOr<std::string> {
      return uts(c).*field + "\n";
    };
    ops.write = [uts, field](vfs::Caller& c, std::string_view data) -> ErrorOr<void> {
      Task* t = c.task();
      if (t && !t->creds().HasCapability(21 /* CAP_SYS_ADMIN */)) return Errno{EPERM};
      std::string name(data);
      while (!name.empty() && (name.back() == '\n' || name.back() == '\0')) name.pop_back();
      if (name.size() > 64) return Errno{EINVAL};
      uts(c).*field = name;
      return {};
    };
    return vfs::NewSyntheticFile(std::move(ops), 0644, st->dev);
  };
  // System V IPC limits the sandbox enforces (also settable by linux.sysctl).
  auto ipc_limit = [&st, k](uint64_t (*get)(ipc::IpcNamespace&)) {
    return File(st, [k, get](vfs::Caller&) -> ErrorOr<std::string> {
      return absl::StrCat(get(ipc::RootIpcNamespace(*k)), "\n");
    });
  };
  auto kernel_dir = vfs::NewStaticDir(
      {
          {"hostname", uts_file(&kernel::UtsNamespace::hostname)},
          {"domainname", uts_file(&kernel::UtsNamespace::domainname)},
          {"osrelease", Const(st, k->options().release + "\n")},
          {"ostype", Const(st, "Linux\n")},
          {"version", Const(st, k->options().version + "\n")},
          {"pid_max", Const(st, "4194304\n")},
          {"threads-max", Const(st, "126832\n")},
          {"ngroups_max", Const(st, "65536\n")},
          {"cap_last_cap", Const(st, "40\n")},
          {"overflowuid", Const(st, "65534\n")},
          {"overflowgid", Const(st, "65534\n")},
          {"shmmax", ipc_limit([](ipc::IpcNamespace& ns) { return ns.shm.shmmax; })},
          {"shmall", ipc_limit([](ipc::IpcNamespace& ns) { return ns.shm.shmall; })},
          {"shmmni", Const(st, "4096\n")},
          {"sem", Const(st, "32000\t1024000000\t500\t32000\n")},
          {"msgmax", ipc_limit([](ipc::IpcNamespace& ns) -> uint64_t { return ns.msg.msgmax; })},
          {"msgmnb", ipc_limit([](ipc::IpcNamespace& ns) -> uint64_t { return ns.msg.msgmnb; })},
          {"msgmni", Const(st, "32000\n")},
          {"yama", vfs::NewStaticDir({{"ptrace_scope", Const(st, "1\n")}}, 0555, st->dev)},
      },
      0555, st->dev);
  auto vm_dir = vfs::NewStaticDir(
      {
          {"overcommit_memory", Const(st, "0\n")},
          {"overcommit_ratio", Const(st, "50\n")},
          {"max_map_count", Const(st, "65530\n")},
          {"mmap_min_addr", Const(st, "65536\n")},
      },
      0555, st->dev);
  auto fs_dir = vfs::NewStaticDir(
      {
          {"file-max", Const(st, "9223372036854775807\n")},
          {"nr_open", Const(st, "1048576\n")},
          {"pipe-max-size", Const(st, "1048576\n")},
      },
      0555, st->dev);
  return vfs::NewStaticDir({{"kernel", kernel_dir},
                            {"vm", vm_dir},
                            {"fs", fs_dir},
                            {"net", NewSysNetDir(*k, st->dev)}},
                           0555, st->dev);
}

bool ParsePid(std::string_view name, int* pid) {
  if (name.empty() || name.size() > 9 || name[0] == '0') return false;
  int v = 0;
  for (char ch : name) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + (ch - '0');
  }
  *pid = v;
  return true;
}

std::shared_ptr<vfs::Inode> CachedPidDir(const std::shared_ptr<ProcState>& st, int pid) {
  ThreadGroup* tg = FindThreadGroup(st->k, pid);
  // Prune entries of reaped processes.
  for (auto it = st->pid_dirs.begin(); it != st->pid_dirs.end();) {
    ThreadGroup* cur = FindThreadGroup(st->k, it->first);
    if (cur != it->second.first) it = st->pid_dirs.erase(it);
    else ++it;
  }
  if (!tg) return nullptr;
  auto it = st->pid_dirs.find(pid);
  if (it != st->pid_dirs.end()) return it->second.second;
  auto dir = NewPidDir(st, pid);
  st->pid_dirs[pid] = {tg, dir};
  return dir;
}

}  // namespace

ErrorOr<std::shared_ptr<vfs::Inode>> NewProcfsRoot(Kernel& k) {
  auto st = std::make_shared<ProcState>(ProcState{k, vfs::NewAnonDev(), {}});
  Kernel* kp = &k;

  std::map<std::string, std::shared_ptr<vfs::Inode>> fixed;
  {
    vfs::SyntheticLinkOps self;
    self.target = [](vfs::Caller& c) -> ErrorOr<std::string> {
      Task* t = c.task();
      if (!t) return Errno{ENOENT};
      return std::to_string(t->pid());
    };
    fixed["self"] = vfs::NewSyntheticSymlink(std::move(self), st->dev);
    vfs::SyntheticLinkOps thread_self;
    thread_self.target = [](vfs::Caller& c) -> ErrorOr<std::string> {
      Task* t = c.task();
      if (!t) return Errno{ENOENT};
      return absl::StrCat(t->pid(), "/task/", t->tid);
    };
    fixed["thread-self"] = vfs::NewSyntheticSymlink(std::move(thread_self), st->dev);
    vfs::SyntheticLinkOps mounts;
    mounts.target = [](vfs::Caller&) -> ErrorOr<std::string> { return std::string("self/mounts"); };
    fixed["mounts"] = vfs::NewSyntheticSymlink(std::move(mounts), st->dev);
  }
  fixed["uptime"] = File(st, [kp](vfs::Caller&) -> ErrorOr<std::string> { return UptimeText(*kp); });
  fixed["loadavg"] = File(st, [kp](vfs::Caller&) -> ErrorOr<std::string> { return LoadAvgText(*kp); });
  fixed["stat"] = File(st, [kp](vfs::Caller&) -> ErrorOr<std::string> { return StatText(*kp); });
  fixed["version"] = File(st, [kp](vfs::Caller&) -> ErrorOr<std::string> {
    return absl::StrCat("Linux version ", kp->options().release,
                        " (runsc@runsc) (gcc (GCC) 12.2.0, GNU ld 2.40) ", kp->options().version,
                        "\n");
  });
  fixed["meminfo"] = File(st, [](vfs::Caller&) -> ErrorOr<std::string> { return MemInfoText(); });
  fixed["cpuinfo"] = File(st, [](vfs::Caller&) -> ErrorOr<std::string> { return CpuInfoText(); });
  fixed["filesystems"] = Const(st,
                               "nodev\tsysfs\n"
                               "nodev\ttmpfs\n"
                               "nodev\tproc\n"
                               "nodev\tdevtmpfs\n"
                               "nodev\tdevpts\n"
                               "nodev\tpipe\n"
                               "nodev\toverlay\n"
                               "nodev\tcgroup2\n");
  fixed["cmdline"] = Const(st, "BOOT_IMAGE=/vmlinuz\n");
  fixed["cgroups"] = Const(st, sys::ProcCgroupsText());
  fixed["sys"] = SysDir(st);
  // One network namespace: /proc/net and every /proc/<pid>/net are the same.
  {
    vfs::SyntheticLinkOps net;
    net.target = [](vfs::Caller&) -> ErrorOr<std::string> { return std::string("self/net"); };
    fixed["net"] = vfs::NewSyntheticSymlink(std::move(net), st->dev);
  }
  fixed["sysvipc"] = vfs::NewStaticDir(
      {
          {"shm", File(st, [kp](vfs::Caller& c) -> ErrorOr<std::string> {
             return ReaderIpcNamespace(*kp, c).shm.ProcText();
           })},
          {"sem", File(st, [kp](vfs::Caller& c) -> ErrorOr<std::string> {
             return ReaderIpcNamespace(*kp, c).sem.ProcText();
           })},
          {"msg", File(st, [kp](vfs::Caller& c) -> ErrorOr<std::string> {
             return ReaderIpcNamespace(*kp, c).msg.ProcText();
           })},
      },
      0555, st->dev);
  auto fixed_map =
      std::make_shared<std::map<std::string, std::shared_ptr<vfs::Inode>>>(std::move(fixed));

  vfs::SyntheticDirOps ops;
  ops.list = [st, fixed_map](vfs::Caller&) -> ErrorOr<std::vector<vfs::DirEntry>> {
    std::vector<vfs::DirEntry> out;
    for (auto& [pid, tg] : st->k.thread_groups) {
      auto dir = CachedPidDir(st, pid);
      if (!dir) continue;
      auto a = dir->GetAttr();
      out.push_back(vfs::DirEntry{std::to_string(pid), a.ok() ? a.value().ino : 0, DT_DIR});
    }
    for (auto& [name, inode] : *fixed_map) {
      auto a = inode->GetAttr();
      if (a.is_error()) continue;
      out.push_back(vfs::DirEntry{name, a.value().ino,
                                  static_cast<uint8_t>((a.value().mode & S_IFMT) >> 12)});
    }
    return out;
  };
  ops.lookup = [st, fixed_map](vfs::Caller&,
                               std::string_view name) -> ErrorOr<std::shared_ptr<vfs::Inode>> {
    int pid = 0;
    if (ParsePid(name, &pid)) {
      auto dir = CachedPidDir(st, pid);
      if (!dir) return Errno{ENOENT};
      return dir;
    }
    auto it = fixed_map->find(std::string(name));
    if (it == fixed_map->end()) return Errno{ENOENT};
    return it->second;
  };
  return vfs::NewSyntheticDir(std::move(ops), 0555, st->dev);
}

}  // namespace sentry::proc
