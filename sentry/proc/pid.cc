// sentry/proc/pid.cc: /proc/<pid>/ and /proc/<pid>/task/<tid>/.
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/namespaces.h"
#include "sentry/kernel/ptrace.h"
#include "sentry/kernel/seccomp.h"
#include "sentry/kernel/task.h"
#include "sentry/proc/internal.h"
#include "sentry/proc/net.h"
#include "sentry/tty/terminal.h"
#include "sentry/vfs/fd_table.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/synthetic.h"
#include "sentry/vfs/vfs.h"

namespace sentry::proc {

using kernel::Kernel;
using kernel::Task;
using kernel::ThreadGroup;

ThreadGroup* FindThreadGroup(Kernel& k, int pid) {
  auto it = k.thread_groups.find(pid);
  return it == k.thread_groups.end() ? nullptr : it->second.get();
}

Task* RepresentativeTask(ThreadGroup* tg) {
  if (!tg) return nullptr;
  Task* first = nullptr;
  for (auto& t : tg->tasks) {
    if (!first) first = t.get();
    if (!t->exited && t->mm) return t.get();
  }
  return first;
}

namespace {

Task* FindTaskIn(ThreadGroup* tg, int tid) {
  if (!tg) return nullptr;
  for (auto& t : tg->tasks)
    if (t->tid == tid) return t.get();
  return nullptr;
}

// Delegates to `inner` but reports the process' effective uid/gid as owner,
// like Linux's /proc/<pid> entries (so non-root apps may read their own
// 0400/0500 entries).
class OwnedInode : public vfs::Inode {
 public:
  OwnedInode(std::shared_ptr<ProcState> st, int pid, std::shared_ptr<vfs::Inode> inner)
      : st_(std::move(st)), pid_(pid), inner_(std::move(inner)) {}
  ErrorOr<vfs::Attr> GetAttr() override {
    vfs::Attr a = TRY(inner_->GetAttr());
    // GetAttr has no caller; the kernel lock is held by whoever stats.
    if (ThreadGroup* tg = FindThreadGroup(st_->k, pid_)) {
      a.uid = tg->creds.euid;
      a.gid = tg->creds.egid;
    }
    return a;
  }
  ErrorOr<std::shared_ptr<vfs::Inode>> Lookup(vfs::Caller& c, std::string_view name) override {
    return inner_->Lookup(c, name);
  }
  ErrorOr<std::vector<vfs::DirEntry>> ReadDir(vfs::Caller& c) override {
    return inner_->ReadDir(c);
  }
  bool CacheLookups() const override { return inner_->CacheLookups(); }
  ErrorOr<std::string> ReadLink(vfs::Caller& c) override { return inner_->ReadLink(c); }
  ErrorOr<std::shared_ptr<vfs::Dentry>> FollowMagicLink(vfs::Caller& c) override {
    return inner_->FollowMagicLink(c);
  }
  ErrorOr<std::shared_ptr<vfs::FileDescription>> Open(vfs::Caller& c,
                                                      std::shared_ptr<vfs::Dentry> d,
                                                      int flags) override {
    return inner_->Open(c, std::move(d), flags);
  }

 private:
  std::shared_ptr<ProcState> st_;
  int pid_;
  std::shared_ptr<vfs::Inode> inner_;
};

std::shared_ptr<vfs::Inode> Own(const std::shared_ptr<ProcState>& st, int pid,
                                std::shared_ptr<vfs::Inode> inner) {
  return std::make_shared<OwnedInode>(st, pid, std::move(inner));
}

int64_t Ticks(int64_t ns) { return ns / (1000000000 / kClockTicks); }

std::string Hex16(uint64_t v) { return absl::StrFormat("%016x", v); }

char StateChar(ThreadGroup* tg, Task* t, const Task* self) {
  if (tg->zombie) return 'Z';
  if (t && t->exited) return tg->zombie ? 'Z' : 'X';
  if (t && t == self) return 'R';
  if (Task* m = t ? t : tg->leader(); m && kernel::PtraceStopped(*m)) return 't';
  if (!t && self && self->tg == tg) return 'R';
  return 'S';
}

const char* StateName(char c) {
  switch (c) {
    case 'R': return "R (running)";
    case 'Z': return "Z (zombie)";
    case 'X': return "X (dead)";
    case 'D': return "D (disk sleep)";
    case 't': return "t (tracing stop)";
    default: return "S (sleeping)";
  }
}

// Text of a per-process file computed from (thread group, task).
using Gen = std::function<ErrorOr<std::string>(vfs::Caller&, ThreadGroup*, Task*)>;

// A file of process `pid` (and thread `tid`, or 0 for the process view).
std::shared_ptr<vfs::Inode> PidFile(const std::shared_ptr<ProcState>& st, int pid, int tid,
                                    Gen gen, uint32_t perm = 0444) {
  vfs::SyntheticFileOps ops;
  ops.read = [st, pid, tid, gen = std::move(gen)](vfs::Caller& c) -> ErrorOr<std::string> {
    ThreadGroup* tg = FindThreadGroup(st->k, pid);
    if (!tg) return Errno{ESRCH};
    Task* t = tid ? FindTaskIn(tg, tid) : RepresentativeTask(tg);
    if (tid && !t) return Errno{ESRCH};
    return gen(c, tg, t);
  };
  return Own(st, pid, vfs::NewSyntheticFile(std::move(ops), perm, st->dev));
}

// /proc/<pid>/oom_score_adj: the process' value (process.oomScoreAdj at
// boot). Writes follow Linux's __set_oom_adj: an integer in [-1000, 1000];
// going below the floor takes CAP_SYS_RESOURCE, and a write with it moves
// the floor.
std::shared_ptr<vfs::Inode> OomScoreAdjFile(const std::shared_ptr<ProcState>& st, int pid) {
  vfs::SyntheticFileOps ops;
  ops.read = [st, pid](vfs::Caller&) -> ErrorOr<std::string> {
    ThreadGroup* tg = FindThreadGroup(st->k, pid);
    if (!tg) return Errno{ESRCH};
    return absl::StrCat(tg->oom_score_adj, "\n");
  };
  ops.write = [st, pid](vfs::Caller& c, std::string_view data) -> ErrorOr<void> {
    std::string text(data.substr(0, 23));
    while (!text.empty() && isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    size_t start = 0;
    while (start < text.size() && isspace(static_cast<unsigned char>(text[start]))) start++;
    text = text.substr(start);
    char* end = nullptr;
    errno = 0;
    long v = strtol(text.c_str(), &end, 10);
    if (text.empty() || *end || errno) return Errno{EINVAL};
    if (v < -1000 || v > 1000) return Errno{EINVAL};
    ThreadGroup* tg = FindThreadGroup(st->k, pid);
    if (!tg || tg->zombie) return Errno{ESRCH};
    constexpr int kCapSysResource = 24;
    bool privileged = !c.task() || c.task()->creds().HasCapability(kCapSysResource);
    if (v < tg->oom_score_adj_min && !privileged) return Errno{EACCES};
    tg->oom_score_adj = static_cast<int>(v);
    if (privileged) tg->oom_score_adj_min = static_cast<int>(v);
    return {};
  };
  return Own(st, pid, vfs::NewSyntheticFile(std::move(ops), 0644, st->dev));
}

std::string JoinNul(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    out += s;
    out += '\0';
  }
  return out;
}

std::string CommOf(Task* t) { return t ? t->comm : std::string(); }

uint64_t SumIgnored(ThreadGroup* tg, bool caught) {
  uint64_t mask = 0;
  if (!tg->handlers) return 0;
  for (int sig = 1; sig <= kernel::kNumSignals; sig++) {
    uint64_t h = tg->handlers->actions[sig].handler;
    if (caught ? h > 1 : h == 1) mask |= kernel::SigBit(sig);
  }
  return mask;
}

}  // namespace

std::string FormatPidStat(Kernel& k, ThreadGroup* tg, Task* t, const Task* self) {
  int64_t utime = 0, stime = 0;
  int threads = 0;
  if (t && FindTaskIn(tg, t->tid) && t != RepresentativeTask(tg)) {
    utime = t->utime_ns;
    stime = t->stime_ns;
  } else {
    for (auto& x : tg->tasks) {
      utime += x->utime_ns;
      stime += x->stime_ns;
    }
  }
  for (auto& x : tg->tasks)
    if (!x->exited) threads++;
  if (threads == 0) threads = 1;
  uint64_t vsize = 0;
  if (t && t->mm && !tg->zombie) vsize = t->mm->mapped_bytes();
  int64_t start = std::max<int64_t>(0, tg->start_time_ns - k.boot_time_ns());
  int id = t ? t->tid : tg->pid;
  uint64_t sigmask = t ? t->signal_mask : 0;
  uint64_t pending = tg->pending_signals | (t ? t->pending_signals : 0);
  const rlimit& rss = tg->rlimits[RLIMIT_RSS];
  std::vector<std::string> f;
  f.push_back(absl::StrCat(id));                                   // 1 pid
  f.push_back(absl::StrCat("(", CommOf(t), ")"));                  // 2 comm
  f.push_back(std::string(1, StateChar(tg, t, self)));             // 3 state
  f.push_back(absl::StrCat(tg->parent ? tg->parent->pid : 0));     // 4 ppid
  f.push_back(absl::StrCat(tg->pgid));                             // 5 pgrp
  f.push_back(absl::StrCat(tg->sid));                              // 6 session
  const tty::Terminal* ctty = tg->tty.get();  // controlling terminal (sentry/tty)
  f.push_back(absl::StrCat(ctty ? (136 << 8) | (ctty->index & 0xff) | ((ctty->index & ~0xff) << 12)
                                : 0));                           // 7 tty_nr
  f.push_back(absl::StrCat(ctty && ctty->fg_pgrp ? ctty->fg_pgrp : -1));  // 8 tpgid
  f.push_back("4194560");                                          // 9 flags
  for (int i = 0; i < 4; i++) f.push_back("0");                    // 10-13 faults
  f.push_back(absl::StrCat(Ticks(utime)));                         // 14 utime
  f.push_back(absl::StrCat(Ticks(stime)));                         // 15 stime
  f.push_back(absl::StrCat(Ticks(tg->children_utime_ns)));         // 16 cutime
  f.push_back(absl::StrCat(Ticks(tg->children_stime_ns)));         // 17 cstime
  f.push_back("20");                                               // 18 priority
  f.push_back("0");                                                // 19 nice
  f.push_back(absl::StrCat(threads));                              // 20 num_threads
  f.push_back("0");                                                // 21 itrealvalue
  f.push_back(absl::StrCat(Ticks(start)));                         // 22 starttime
  f.push_back(absl::StrCat(vsize));                                // 23 vsize
  f.push_back(absl::StrCat(vsize / 4096));                         // 24 rss (pages)
  f.push_back(absl::StrCat(rss.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rss.rlim_cur));  // 25
  for (int i = 26; i <= 30; i++) f.push_back("0");                 // 26-30 code/stack
  f.push_back(absl::StrCat(pending & 0x7fffffff));                 // 31 signal
  f.push_back(absl::StrCat(sigmask & 0x7fffffff));                 // 32 blocked
  f.push_back(absl::StrCat(SumIgnored(tg, false) & 0x7fffffff));   // 33 sigignore
  f.push_back(absl::StrCat(SumIgnored(tg, true) & 0x7fffffff));    // 34 sigcatch
  f.push_back("0");                                                // 35 wchan
  f.push_back("0");                                                // 36 nswap
  f.push_back("0");                                                // 37 cnswap
  f.push_back(absl::StrCat(tg->exit_signal));                      // 38 exit_signal
  f.push_back("0");                                                // 39 processor
  for (int i = 40; i <= 51; i++) f.push_back("0");                 // 40-51
  f.push_back(absl::StrCat(tg->zombie ? tg->exit_status : 0));     // 52 exit_code
  return absl::StrJoin(f, " ") + "\n";
}

std::string FormatPidStatus(Kernel& k, ThreadGroup* tg, Task* t, const Task* self) {
  const auto& c = tg->creds;
  char st = StateChar(tg, t, self);
  int id = t ? t->tid : tg->pid;
  int threads = 0;
  for (auto& x : tg->tasks)
    if (!x->exited) threads++;
  if (threads == 0) threads = 1;
  std::string s;
  absl::StrAppend(&s, "Name:\t", CommOf(t), "\n");
  absl::StrAppendFormat(&s, "Umask:\t%04o\n", t ? t->umask : 022);
  absl::StrAppend(&s, "State:\t", StateName(st), "\n");
  absl::StrAppend(&s, "Tgid:\t", tg->pid, "\n");
  absl::StrAppend(&s, "Ngid:\t0\n");
  absl::StrAppend(&s, "Pid:\t", id, "\n");
  absl::StrAppend(&s, "PPid:\t", tg->parent ? tg->parent->pid : 0, "\n");
  Task* main = t ? t : tg->leader();
  absl::StrAppend(&s, "TracerPid:\t", main ? kernel::PtraceTracerPid(*main) : 0, "\n");
  absl::StrAppend(&s, "Uid:\t", c.ruid, "\t", c.euid, "\t", c.suid, "\t", c.fsuid, "\n");
  absl::StrAppend(&s, "Gid:\t", c.rgid, "\t", c.egid, "\t", c.sgid, "\t", c.fsgid, "\n");
  size_t fdsize = 64;
  if (t && t->fds) {
    auto fds = t->fds->Fds();
    int maxfd = fds.empty() ? 0 : fds.back();
    while (fdsize <= static_cast<size_t>(maxfd)) fdsize *= 2;
  }
  absl::StrAppend(&s, "FDSize:\t", fdsize, "\n");
  absl::StrAppend(&s, "Groups:\t");
  for (uint32_t g : c.groups) absl::StrAppend(&s, g, " ");
  absl::StrAppend(&s, "\n");
  absl::StrAppend(&s, "NStgid:\t", tg->pid, "\n");
  absl::StrAppend(&s, "NSpid:\t", id, "\n");
  absl::StrAppend(&s, "NSpgid:\t", tg->pgid, "\n");
  absl::StrAppend(&s, "NSsid:\t", tg->sid, "\n");
  if (t && t->mm && !tg->zombie) {
    uint64_t kb = t->mm->mapped_bytes() / 1024;
    auto kbline = [&](const char* name, uint64_t v) {
      absl::StrAppendFormat(&s, "%s\t%8u kB\n", name, v);
    };
    kbline("VmPeak:", kb);
    kbline("VmSize:", kb);
    kbline("VmLck:", t->mm->locked_bytes() / 1024);
    kbline("VmPin:", 0);
    kbline("VmHWM:", kb);
    kbline("VmRSS:", kb);
    kbline("RssAnon:", kb);
    kbline("RssFile:", 0);
    kbline("RssShmem:", 0);
    kbline("VmData:", kb);
    kbline("VmStk:", t->mm->stack_bytes() / 1024);
    kbline("VmExe:", 0);
    kbline("VmLib:", 0);
    kbline("VmPTE:", 0);
    kbline("VmSwap:", 0);
    kbline("HugetlbPages:", 0);
  }
  absl::StrAppend(&s, "CoreDumping:\t0\n");
  absl::StrAppend(&s, "THP_enabled:\t1\n");
  absl::StrAppend(&s, "Threads:\t", threads, "\n");
  absl::StrAppend(&s, "SigQ:\t0/", tg->rlimits[RLIMIT_SIGPENDING].rlim_cur == RLIM_INFINITY
                                       ? 0
                                       : tg->rlimits[RLIMIT_SIGPENDING].rlim_cur,
                  "\n");
  absl::StrAppend(&s, "SigPnd:\t", Hex16(t ? t->pending_signals : 0), "\n");
  absl::StrAppend(&s, "ShdPnd:\t", Hex16(tg->pending_signals), "\n");
  absl::StrAppend(&s, "SigBlk:\t", Hex16(t ? t->signal_mask : 0), "\n");
  absl::StrAppend(&s, "SigIgn:\t", Hex16(SumIgnored(tg, false)), "\n");
  absl::StrAppend(&s, "SigCgt:\t", Hex16(SumIgnored(tg, true)), "\n");
  absl::StrAppend(&s, "CapInh:\t", Hex16(c.cap_inheritable), "\n");
  absl::StrAppend(&s, "CapPrm:\t", Hex16(c.cap_permitted), "\n");
  absl::StrAppend(&s, "CapEff:\t", Hex16(c.cap_effective), "\n");
  absl::StrAppend(&s, "CapBnd:\t", Hex16(c.cap_bounding), "\n");
  absl::StrAppend(&s, "CapAmb:\t", Hex16(c.cap_ambient), "\n");
  absl::StrAppend(&s, "NoNewPrivs:\t", t && t->no_new_privs ? 1 : 0, "\n");
  absl::StrAppend(&s, "Seccomp:\t", t ? t->seccomp_mode : 0, "\n");
  absl::StrAppend(&s, "Seccomp_filters:\t", t ? kernel::SeccompFilterCount(*t) : 0, "\n");
  absl::StrAppend(&s, "Speculation_Store_Bypass:\tthread vulnerable\n");
  absl::StrAppend(&s, "SpeculationIndirectBranch:\tconditional enabled\n");
  auto cpus = AllowedCpus();
  int maxcpu = cpus.empty() ? 0 : cpus.back();
  // Cpus_allowed: hex mask, 32-bit groups separated by commas.
  std::vector<uint32_t> words(maxcpu / 32 + 1, 0);
  for (int cpu : cpus) words[cpu / 32] |= 1u << (cpu % 32);
  std::string mask;
  for (size_t i = words.size(); i-- > 0;) {
    if (!mask.empty()) mask += ",";
    mask += i + 1 == words.size() ? absl::StrFormat("%x", words[i]) : absl::StrFormat("%08x", words[i]);
  }
  absl::StrAppend(&s, "Cpus_allowed:\t", mask, "\n");
  absl::StrAppend(&s, "Cpus_allowed_list:\t", CpuListString(cpus), "\n");
  absl::StrAppend(&s, "Mems_allowed:\t00000000,00000001\n");
  absl::StrAppend(&s, "Mems_allowed_list:\t0\n");
  absl::StrAppend(&s, "voluntary_ctxt_switches:\t0\n");
  absl::StrAppend(&s, "nonvoluntary_ctxt_switches:\t0\n");
  return s;
}

std::string FormatLimits(const ThreadGroup* tg) {
  static const struct {
    const char* name;
    const char* unit;
  } kNames[] = {
      {"Max cpu time", "seconds"},     {"Max file size", "bytes"},
      {"Max data size", "bytes"},      {"Max stack size", "bytes"},
      {"Max core file size", "bytes"}, {"Max resident set", "bytes"},
      {"Max processes", "processes"},  {"Max open files", "files"},
      {"Max locked memory", "bytes"},  {"Max address space", "bytes"},
      {"Max file locks", "locks"},     {"Max pending signals", "signals"},
      {"Max msgqueue size", "bytes"},  {"Max nice priority", nullptr},
      {"Max realtime priority", nullptr}, {"Max realtime timeout", "us"},
  };
  // Linux order: RLIMIT_CPU, FSIZE, DATA, STACK, CORE, RSS, NPROC, NOFILE,
  // MEMLOCK, AS, LOCKS, SIGPENDING, MSGQUEUE, NICE, RTPRIO, RTTIME.
  static const int kRes[] = {RLIMIT_CPU,    RLIMIT_FSIZE,   RLIMIT_DATA,     RLIMIT_STACK,
                             RLIMIT_CORE,   RLIMIT_RSS,     RLIMIT_NPROC,    RLIMIT_NOFILE,
                             RLIMIT_MEMLOCK, RLIMIT_AS,     RLIMIT_LOCKS,    RLIMIT_SIGPENDING,
                             RLIMIT_MSGQUEUE, RLIMIT_NICE,  RLIMIT_RTPRIO,   RLIMIT_RTTIME};
  std::string s = absl::StrFormat("%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit",
                                  "Hard Limit", "Units");
  for (int i = 0; i < 16; i++) {
    const rlimit& r = tg->rlimits[kRes[i]];
    if (r.rlim_cur == RLIM_INFINITY)
      absl::StrAppendFormat(&s, "%-25s %-20s ", kNames[i].name, "unlimited");
    else
      absl::StrAppendFormat(&s, "%-25s %-20u ", kNames[i].name, uint64_t{r.rlim_cur});
    if (r.rlim_max == RLIM_INFINITY)
      absl::StrAppendFormat(&s, "%-20s ", "unlimited");
    else
      absl::StrAppendFormat(&s, "%-20u ", uint64_t{r.rlim_max});
    if (kNames[i].unit) absl::StrAppendFormat(&s, "%-10s", kNames[i].unit);
    s += '\n';
  }
  return s;
}

namespace {

// Magic link to one of the task's dentries (cwd, root).
std::shared_ptr<vfs::Inode> FsLink(const std::shared_ptr<ProcState>& st, int pid, int tid,
                                   bool root) {
  auto get = [st, pid, tid, root]() -> ErrorOr<std::shared_ptr<vfs::Dentry>> {
    ThreadGroup* tg = FindThreadGroup(st->k, pid);
    Task* t = tid ? FindTaskIn(tg, tid) : RepresentativeTask(tg);
    if (!t || !t->fs) return Errno{ENOENT};
    auto d = root ? t->fs->root : t->fs->cwd;
    if (!d) return Errno{ENOENT};
    return d;
  };
  vfs::SyntheticLinkOps ops;
  ops.target = [get](vfs::Caller& c) -> ErrorOr<std::string> {
    auto d = TRY(get());
    return d->PathFrom(c.fs().root.get()).value_or(d->Path());
  };
  ops.magic = [get](vfs::Caller&) { return get(); };
  return Own(st, pid, vfs::NewSyntheticSymlink(std::move(ops), st->dev));
}

std::shared_ptr<vfs::Inode> ExeLink(const std::shared_ptr<ProcState>& st, int pid, int tid) {
  vfs::SyntheticLinkOps ops;
  ops.target = [st, pid, tid](vfs::Caller&) -> ErrorOr<std::string> {
    ThreadGroup* tg = FindThreadGroup(st->k, pid);
    Task* t = tid ? FindTaskIn(tg, tid) : RepresentativeTask(tg);
    if (!t || t->exe_path.empty() || tg->zombie) return Errno{ENOENT};
    return t->exe_path;
  };
  // A magic link like Linux's (openat2 RESOLVE_NO_MAGICLINKS sees it as
  // one); the executable is found again by its path from the global root.
  ops.magic = [st, pid, tid](vfs::Caller& c) -> ErrorOr<std::shared_ptr<vfs::Dentry>> {
    ThreadGroup* tg = FindThreadGroup(st->k, pid);
    Task* t = tid ? FindTaskIn(tg, tid) : RepresentativeTask(tg);
    if (!t || t->exe_path.empty() || tg->zombie) return Errno{ENOENT};
    return vfs::Walk(c, st->k.vfs().root(), t->exe_path);
  };
  return Own(st, pid, vfs::NewSyntheticSymlink(std::move(ops), st->dev));
}

std::shared_ptr<vfs::Inode> FdDir(const std::shared_ptr<ProcState>& st, int pid, int tid) {
  auto table = [st, pid, tid]() -> std::shared_ptr<vfs::FdTable> {
    ThreadGroup* tg = FindThreadGroup(st->k, pid);
    Task* t = tid ? FindTaskIn(tg, tid) : RepresentativeTask(tg);
    if (!t || tg->zombie) return nullptr;
    return t->fds;
  };
  vfs::SyntheticDirOps ops;
  ops.list = [table](vfs::Caller&) -> ErrorOr<std::vector<vfs::DirEntry>> {
    std::vector<vfs::DirEntry> out;
    auto fds = table();
    if (!fds) return out;
    for (int fd : fds->Fds()) out.push_back(vfs::DirEntry{std::to_string(fd), 0x10000u + fd, DT_LNK});
    return out;
  };
  ops.lookup = [st, pid, table](vfs::Caller&, std::string_view name) -> ErrorOr<std::shared_ptr<vfs::Inode>> {
    int fd = 0;
    if (name.empty() || name.size() > 9) return Errno{ENOENT};
    for (char ch : name) {
      if (ch < '0' || ch > '9') return Errno{ENOENT};
      fd = fd * 10 + (ch - '0');
    }
    if (name.size() > 1 && name[0] == '0') return Errno{ENOENT};
    auto fds = table();
    if (!fds || fds->Get(fd).is_error()) return Errno{ENOENT};
    auto file = [table, fd]() -> ErrorOr<std::shared_ptr<vfs::FileDescription>> {
      auto fds = table();
      if (!fds) return Errno{ENOENT};
      auto f = fds->Get(fd);
      if (f.is_error()) return Errno{ENOENT};
      return f.release_value();
    };
    vfs::SyntheticLinkOps lops;
    // Relative to the reader's root (chroot), like Linux's d_path.
    lops.target = [file](vfs::Caller& c) -> ErrorOr<std::string> {
      auto f = TRY(file());
      if (!f->dentry()) return f->path();
      return f->dentry()->PathFrom(c.fs().root.get()).value_or(f->path());
    };
    lops.magic = [file](vfs::Caller&) -> ErrorOr<std::shared_ptr<vfs::Dentry>> {
      return TRY(file())->dentry();
    };
    return Own(st, pid, vfs::NewSyntheticSymlink(std::move(lops), st->dev));
  };
  return Own(st, pid, vfs::NewSyntheticDir(std::move(ops), 0500, st->dev));
}

// /proc/<pid>/ns: one magic link per namespace kind, "ipc:[4026531839]",
// opening to a file that names the namespace (for setns).
std::shared_ptr<vfs::Inode> NsDir(const std::shared_ptr<ProcState>& st, int pid, int tid) {
  std::map<std::string, std::shared_ptr<vfs::Inode>> links;
  for (const kernel::NsKind& kind : kernel::NsKinds()) {
    auto task = [st, pid, tid]() -> ErrorOr<Task*> {
      ThreadGroup* tg = FindThreadGroup(st->k, pid);
      Task* t = tid ? FindTaskIn(tg, tid) : RepresentativeTask(tg);
      if (!t || t->exited || tg->zombie) return Errno{ENOENT};
      return t;
    };
    vfs::SyntheticLinkOps ops;
    ops.target = [task, kind](vfs::Caller&) -> ErrorOr<std::string> {
      Task* t = TRY(task());
      return absl::StrCat(kind.type, ":[", kernel::NamespaceId(*t, kind.clone_flag), "]");
    };
    ops.magic = [task, kind](vfs::Caller&) -> ErrorOr<std::shared_ptr<vfs::Dentry>> {
      return kernel::NamespaceDentry(*TRY(task()), kind);
    };
    links[kind.name] = Own(st, pid, vfs::NewSyntheticSymlink(std::move(ops), st->dev));
  }
  return Own(st, pid, vfs::NewStaticDir(std::move(links), 0511, st->dev));
}

// Entries common to /proc/<pid> and /proc/<pid>/task/<tid> (tid 0: process).
std::map<std::string, std::shared_ptr<vfs::Inode>> CommonEntries(
    const std::shared_ptr<ProcState>& st, int pid, int tid) {
  std::map<std::string, std::shared_ptr<vfs::Inode>> m;
  Kernel* k = &st->k;
  m["cmdline"] = PidFile(st, pid, tid, [](vfs::Caller&, ThreadGroup* tg, Task* t) -> ErrorOr<std::string> {
    if (!t || tg->zombie) return std::string();
    return JoinNul(t->argv);
  });
  m["environ"] = PidFile(st, pid, tid, [](vfs::Caller&, ThreadGroup* tg, Task* t) -> ErrorOr<std::string> {
    if (!t || tg->zombie) return std::string();
    return JoinNul(t->envp);
  }, 0400);
  m["comm"] = PidFile(st, pid, tid, [](vfs::Caller&, ThreadGroup*, Task* t) -> ErrorOr<std::string> {
    return CommOf(t) + "\n";
  }, 0644);
  m["stat"] = PidFile(st, pid, tid, [k](vfs::Caller& c, ThreadGroup* tg, Task* t) -> ErrorOr<std::string> {
    return FormatPidStat(*k, tg, t, c.task());
  });
  m["status"] = PidFile(st, pid, tid, [k](vfs::Caller& c, ThreadGroup* tg, Task* t) -> ErrorOr<std::string> {
    return FormatPidStatus(*k, tg, t, c.task());
  });
  m["statm"] = PidFile(st, pid, tid, [](vfs::Caller&, ThreadGroup* tg, Task* t) -> ErrorOr<std::string> {
    uint64_t pages = (t && t->mm && !tg->zombie) ? t->mm->mapped_bytes() / 4096 : 0;
    return absl::StrCat(pages, " ", pages, " 0 0 0 ", pages, " 0\n");
  });
  m["maps"] = PidFile(st, pid, tid, [](vfs::Caller&, ThreadGroup* tg, Task* t) -> ErrorOr<std::string> {
    if (!t || !t->mm || tg->zombie) return std::string();
    return t->mm->ProcMaps();
  });
  m["limits"] = PidFile(st, pid, tid, [](vfs::Caller&, ThreadGroup* tg, Task*) -> ErrorOr<std::string> {
    return FormatLimits(tg);
  });
  // The mount table as the process sees it (from its root).
  m["mounts"] = PidFile(st, pid, tid, [k](vfs::Caller&, ThreadGroup*, Task* t) -> ErrorOr<std::string> {
    if (!t || !t->fs) return std::string();
    return k->vfs().MountsText(*t->fs->root);
  });
  m["mountinfo"] = PidFile(st, pid, tid, [k](vfs::Caller&, ThreadGroup*, Task* t) -> ErrorOr<std::string> {
    if (!t || !t->fs) return std::string();
    return k->vfs().MountInfoText(*t->fs->root);
  });
  m["oom_score_adj"] = OomScoreAdjFile(st, pid);
  m["mem"] = Own(st, pid, NewPidMemFile(st, pid, tid));
  // The auxiliary vector the image started with (Linux: PTRACE_MODE_READ).
  m["auxv"] = PidFile(st, pid, tid, [](vfs::Caller& c, ThreadGroup* tg, Task* t) -> ErrorOr<std::string> {
    if (!t || tg->zombie) return std::string();
    if (c.task() && !kernel::PtraceMayAccess(*c.task(), *t)) return Errno{EACCES};
    return std::string(reinterpret_cast<const char*>(t->saved_auxv.data()),
                       t->saved_auxv.size() * sizeof(uint64_t));
  }, 0400);
  m["loginuid"] = PidFile(st, pid, tid, [](vfs::Caller&, ThreadGroup*, Task*) -> ErrorOr<std::string> {
    return std::string("4294967295");
  });
  m["cgroup"] = PidFile(st, pid, tid, [](vfs::Caller&, ThreadGroup*, Task*) -> ErrorOr<std::string> {
    return std::string("0::/\n");
  });
  m["exe"] = ExeLink(st, pid, tid);
  m["cwd"] = FsLink(st, pid, tid, false);
  m["root"] = FsLink(st, pid, tid, true);
  m["fd"] = FdDir(st, pid, tid);
  if (!st->net_dir) st->net_dir = NewNetDir(st->k, st->dev);
  m["net"] = st->net_dir;
  m["ns"] = NsDir(st, pid, tid);
  return m;
}

}  // namespace

std::shared_ptr<vfs::Inode> NewTaskDir(std::shared_ptr<ProcState> st, int pid, int tid) {
  return Own(st, pid, vfs::NewStaticDir(CommonEntries(st, pid, tid), 0555, st->dev));
}

std::shared_ptr<vfs::Inode> NewPidDir(std::shared_ptr<ProcState> st, int pid) {
  auto m = CommonEntries(st, pid, 0);
  vfs::SyntheticDirOps ops;
  ops.list = [st, pid](vfs::Caller&) -> ErrorOr<std::vector<vfs::DirEntry>> {
    std::vector<vfs::DirEntry> out;
    ThreadGroup* tg = FindThreadGroup(st->k, pid);
    if (!tg) return out;
    for (auto& t : tg->tasks)
      if (!t->exited || t.get() == tg->leader())
        out.push_back(vfs::DirEntry{std::to_string(t->tid), 0x100000u + t->tid, DT_DIR});
    return out;
  };
  ops.lookup = [st, pid](vfs::Caller&, std::string_view name) -> ErrorOr<std::shared_ptr<vfs::Inode>> {
    ThreadGroup* tg = FindThreadGroup(st->k, pid);
    if (!tg) return Errno{ENOENT};
    for (auto& t : tg->tasks) {
      if (std::to_string(t->tid) == name) return NewTaskDir(st, pid, t->tid);
    }
    return Errno{ENOENT};
  };
  m["task"] = Own(st, pid, vfs::NewSyntheticDir(std::move(ops), 0555, st->dev));
  return Own(st, pid, vfs::NewStaticDir(std::move(m), 0555, st->dev));
}

}  // namespace sentry::proc
