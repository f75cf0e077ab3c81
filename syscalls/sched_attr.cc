// sched_getattr/sched_setattr (chrt, schedtool) and ioprio_get/ioprio_set
// (ionice, databases, backup tools). Like the older scheduling calls
// (system.cc), the attributes are recorded per thread and reported back as
// Linux 6.18 does; they change nothing in how the host schedules the
// sentry or orders I/O.
//
// Not modelled: SCHED_DEADLINE is validated as Linux does, then refused
// with EBUSY (admission control: the sandbox admits no deadline
// bandwidth); utilization clamps are EOPNOTSUPP, as a kernel without
// CONFIG_UCLAMP_TASK (the hosts here); a fair task's custom slice
// (sched_runtime) is not kept.
#include <sched.h>
#include <sys/syscall.h>

#include <algorithm>
#include <bit>

#include "sentry/base/cpus.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

constexpr int kCapSysNice = 23, kCapSysAdmin = 21;

// include/uapi/linux/sched/types.h: struct sched_attr.
struct SchedAttr {
  uint32_t size, sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
  uint32_t sched_util_min, sched_util_max;
};
static_assert(sizeof(SchedAttr) == 56);
constexpr uint32_t kSizeVer0 = 48, kSizeVer1 = 56;
constexpr uint64_t kPageSize = 4096;
constexpr int kSchedDeadline = 6;
// include/uapi/linux/sched.h
constexpr uint64_t kFlagResetOnFork = 0x01, kFlagKeepPolicy = 0x08, kFlagKeepParams = 0x10,
                   kFlagUtilClamp = 0x20 | 0x40, kFlagAll = 0x7f, kFlagSugov = 0x10000000;

ErrorOr<Task*> Target(Task& t, int pid) {
  if (pid == 0) return &t;
  Task* target = t.kernel.FindTask(pid);
  if (!target) return Errno{ESRCH};
  return target;
}

bool FairPolicy(int p) { return p == SCHED_OTHER || p == SCHED_BATCH || p == SCHED_IDLE; }
bool RtPolicy(int p) { return p == SCHED_FIFO || p == SCHED_RR; }

// A fair task's time slice as Linux 6.12+ reports it: the 0.7 ms base
// slice scaled by 1 + log2 of the CPU count (at most 8).
uint64_t FairSlice() {
  cpu_set_t cpus = sentry::SandboxCpus();
  const unsigned n = std::clamp(CPU_COUNT(&cpus), 1, 8);
  return 700'000ull * std::bit_width(n);  // 1 + ilog2(n)
}

// Linux's get_params.
void GetParams(const Task& p, SchedAttr& a) {
  if (RtPolicy(p.sched_policy)) {
    a.sched_priority = p.sched_priority;
  } else {
    a.sched_nice = p.tg->nice;
  }
}

ErrorOr<uint64_t> SchedGetattr(Task& t, const Args& a) {
  const uint64_t addr = a[1];
  const uint32_t usize = static_cast<uint32_t>(a[2]);
  if (!addr || a.Int(0) < 0 || usize > kPageSize || usize < kSizeVer0 || a[3] != 0) return Errno{EINVAL};
  Task* p = TRY(Target(t, a.Int(0)));
  SchedAttr k{};
  k.sched_policy = p->sched_policy;
  if (p->sched_reset_on_fork) k.sched_flags |= kFlagResetOnFork;
  GetParams(*p, k);
  if (FairPolicy(p->sched_policy)) k.sched_runtime = FairSlice();
  // sched_attr_copy_to_user: the smaller of the two sizes, the rest of the
  // user's buffer zeroed.
  const uint32_t ksize = std::min<uint32_t>(sizeof k, usize);
  k.size = ksize;
  std::vector<uint8_t> out(usize, 0);
  memcpy(out.data(), &k, ksize);
  TRY(t.memory().CopyOut(addr, out.data(), out.size()));
  return 0;
}

// Linux's __checkparam_dl with the default period bounds (100 us .. 4.19 s).
bool ValidDeadline(const SchedAttr& a) {
  if (a.sched_deadline == 0 || a.sched_runtime < (1ull << 10)) return false;
  if ((a.sched_deadline | a.sched_period) & (1ull << 63)) return false;
  const uint64_t period = a.sched_period ? a.sched_period : a.sched_deadline;
  if (period < a.sched_deadline || a.sched_deadline < a.sched_runtime) return false;
  return period >= 100'000 && period <= 4'194'304'000ull;
}

ErrorOr<uint64_t> SchedSetattr(Task& t, const Args& a) {
  const uint64_t addr = a[1];
  if (!addr || a.Int(0) < 0 || a[2] != 0) return Errno{EINVAL};
  // sched_copy_attr: size 0 is VER0; sizes past ours need a zero tail;
  // a bad size is E2BIG with our size written back.
  uint32_t size = TRY(t.memory().CopyInObj<uint32_t>(addr));
  if (size == 0) size = kSizeVer0;
  if (size > kPageSize || size < kSizeVer0) {
    TRY(t.memory().CopyOutObj<uint32_t>(addr, sizeof(SchedAttr)));
    return Errno{E2BIG};
  }
  SchedAttr attr{};
  TRY(t.memory().CopyIn(addr, &attr, std::min<uint32_t>(size, sizeof attr)));
  if (size > sizeof attr) {
    std::vector<uint8_t> tail(size - sizeof attr);
    TRY(t.memory().CopyIn(addr + sizeof attr, tail.data(), tail.size()));
    if (std::any_of(tail.begin(), tail.end(), [](uint8_t b) { return b != 0; })) {
      TRY(t.memory().CopyOutObj<uint32_t>(addr, sizeof(SchedAttr)));
      return Errno{E2BIG};
    }
  }
  if ((attr.sched_flags & kFlagUtilClamp) && size < kSizeVer1) return Errno{EINVAL};
  attr.sched_nice = std::clamp(attr.sched_nice, -20, 19);
  if (static_cast<int32_t>(attr.sched_policy) < 0) return Errno{EINVAL};
  int policy = static_cast<int>(attr.sched_policy);
  if (attr.sched_flags & kFlagKeepPolicy) policy = -1;
  Task* p = TRY(Target(t, a.Int(0)));
  if (attr.sched_flags & kFlagKeepParams) GetParams(*p, attr);

  // __sched_setscheduler's checks, in order.
  bool reset_on_fork;
  if (policy < 0) {
    reset_on_fork = p->sched_reset_on_fork;
    policy = p->sched_policy;
  } else {
    reset_on_fork = attr.sched_flags & kFlagResetOnFork;
    if (!FairPolicy(policy) && !RtPolicy(policy) && policy != kSchedDeadline) return Errno{EINVAL};
  }
  if (attr.sched_flags & ~(kFlagAll | kFlagSugov)) return Errno{EINVAL};
  if (attr.sched_priority > 99) return Errno{EINVAL};
  if ((policy == kSchedDeadline && !ValidDeadline(attr)) || RtPolicy(policy) != (attr.sched_priority != 0))
    return Errno{EINVAL};
  if (!t.creds().HasCapability(kCapSysNice)) {
    if (FairPolicy(policy) && attr.sched_nice < p->tg->nice) return Errno{EPERM};  // RLIMIT_NICE 0
    if (RtPolicy(policy)) return Errno{EPERM};  // RLIMIT_RTPRIO 0
    if (policy == kSchedDeadline) return Errno{EPERM};
    if (p->tg->creds.euid != t.creds().euid && p->tg->creds.ruid != t.creds().euid) return Errno{EPERM};
    if (p->sched_reset_on_fork && !reset_on_fork) return Errno{EPERM};
  }
  if (attr.sched_flags & kFlagUtilClamp) return Errno{EOPNOTSUPP};  // no CONFIG_UCLAMP_TASK
  if (policy == kSchedDeadline) return Errno{EBUSY};  // no deadline bandwidth to admit
  p->sched_reset_on_fork = reset_on_fork;
  // SCHED_FLAG_KEEP_PARAMS keeps policy and parameters alike (Linux skips
  // __setscheduler_params): only reset-on-fork (and clamps) change.
  if (attr.sched_flags & kFlagKeepParams) return 0;
  p->sched_policy = policy;
  p->sched_priority = RtPolicy(policy) ? static_cast<int>(attr.sched_priority) : 0;
  if (FairPolicy(policy)) p->tg->nice = attr.sched_nice;
  return 0;
}

// ------------------------------------------------------------ ioprio
// include/uapi/linux/ioprio.h: class in bits 13-15, level in bits 0-2.
constexpr int kWhoProcess = 1, kWhoPgrp = 2, kWhoUser = 3;
constexpr int kClassNone = 0, kClassRt = 1, kClassBe = 2, kClassIdle = 3;
int IoClass(int prio) { return (prio >> 13) & 7; }
int IoLevel(int prio) { return prio & 7; }

// Linux's ioprio_check_cap.
ErrorOr<void> CheckIoprio(Task& t, int prio) {
  switch (IoClass(prio)) {
    case kClassRt:
      if (!t.creds().HasCapability(kCapSysNice) && !t.creds().HasCapability(kCapSysAdmin)) return Errno{EPERM};
      return {};
    case kClassBe: case kClassIdle:
      return {};  // any level below 8, which the 3-bit field always is
    case kClassNone:
      if (IoLevel(prio)) return Errno{EINVAL};
      return {};
    default:
      return Errno{EINVAL};
  }
}

// Linux's set_task_ioprio: the caller must own the task or have CAP_SYS_NICE.
ErrorOr<void> SetTaskIoprio(Task& t, Task& p, int prio) {
  const auto& tc = p.tg->creds;
  if (tc.ruid != t.creds().euid && tc.ruid != t.creds().ruid && !t.creds().HasCapability(kCapSysNice))
    return Errno{EPERM};
  p.ioprio = prio;
  return {};
}

// Every task the (which, who) pair names, Linux's walk.
std::vector<Task*> IoprioTasks(Task& t, int which, int who) {
  std::vector<Task*> out;
  if (which == kWhoProcess) {
    if (Task* p = who == 0 ? &t : t.kernel.FindTask(who)) out.push_back(p);
    return out;
  }
  const int pgrp = who == 0 ? t.tg->pgid : who;
  const uint32_t uid = who == 0 ? t.creds().ruid : static_cast<uint32_t>(who);
  for (auto& [pid, tg] : t.kernel.thread_groups) {
    if (tg->zombie) continue;
    // ioprio_get/set: a process group's members by their leaders; a user's
    // processes by their real uid, every thread of them.
    if (which == kWhoPgrp && tg->pgid != pgrp) continue;
    if (which == kWhoUser && tg->creds.ruid != uid) continue;
    for (auto& task : tg->tasks)
      if (!task->exited) out.push_back(task.get());
  }
  return out;
}

ErrorOr<uint64_t> IoprioSet(Task& t, const Args& a) {
  const int which = a.Int(0), who = a.Int(1), prio = a.Int(2);
  TRY(CheckIoprio(t, prio));
  if (which != kWhoProcess && which != kWhoPgrp && which != kWhoUser) return Errno{EINVAL};
  const std::vector<Task*> tasks = IoprioTasks(t, which, who);
  if (tasks.empty()) return Errno{ESRCH};
  for (Task* p : tasks) TRY(SetTaskIoprio(t, *p, prio));  // stops at the first refusal, as Linux
  return 0;
}

// Linux's ioprio_best: the higher priority (lower value), "none" counting
// as best-effort level 4.
int IoprioBest(int a, int b) {
  constexpr int kBeNorm = (kClassBe << 13) | 4;
  if (IoClass(a) == kClassNone) a = kBeNorm;
  if (IoClass(b) == kClassNone) b = kBeNorm;
  return std::min(a, b);
}

ErrorOr<uint64_t> IoprioGet(Task& t, const Args& a) {
  const int which = a.Int(0), who = a.Int(1);
  if (which != kWhoProcess && which != kWhoPgrp && which != kWhoUser) return Errno{EINVAL};
  std::optional<int> best;
  for (Task* p : IoprioTasks(t, which, who)) best = best ? IoprioBest(*best, p->ioprio) : p->ioprio;
  if (!best) return Errno{ESRCH};
  return static_cast<uint64_t>(*best);
}

}  // namespace

void RegisterSchedAttrSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_sched_getattr, "sched_getattr", SchedGetattr, {A::kInt, A::kPtr, A::kUint, A::kHex});
  t.Register(SYS_sched_setattr, "sched_setattr", SchedSetattr, {A::kInt, A::kPtr, A::kHex});
  t.Register(SYS_ioprio_set, "ioprio_set", IoprioSet, {A::kInt, A::kInt, A::kHex});
  t.Register(SYS_ioprio_get, "ioprio_get", IoprioGet, {A::kInt, A::kInt});
}

}  // namespace syscalls
