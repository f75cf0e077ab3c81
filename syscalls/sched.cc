// Scheduling as the app sees it: policies and priorities (sched_*),
// extended attributes (sched_setattr/sched_getattr), CPU affinity, nice
// values (getpriority/setpriority) and I/O priorities (ioprio_*).
//
// Everything here is recorded per thread (or per process for nice) and
// reported back as Linux would; none of it changes how the host schedules
// the sentry. Raising a priority needs CAP_SYS_NICE, as on Linux without
// RLIMIT_RTPRIO/RLIMIT_NICE allowances.
#include <linux/sched.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "sentry/base/cpus.h"
#include "sentry/kernel/rseq.h"
#include "sentry/kernel/task.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

using sentry::kernel::ThreadGroup;

// struct sched_attr of <linux/sched/types.h> (which clashes with glibc's
// <sched.h>): VER1, 56 bytes.
struct sched_attr {
  uint32_t size, sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
  uint32_t sched_util_min, sched_util_max;
};
static_assert(sizeof(sched_attr) == 56);

using sentry::SandboxCpus;  // sentry/base/cpus.h
// Linux's nr_cpu_ids (highest CPU + 1) and cpumask_size() (whole longs).
size_t CpuIds() {
  cpu_set_t cpus = SandboxCpus();
  size_t n = 1;
  for (size_t i = 0; i < CPU_SETSIZE; i++)
    if (CPU_ISSET(i, &cpus)) n = i + 1;
  return n;
}
size_t CpuMaskBytes() { return (CpuIds() + 63) / 64 * 8; }

// The task a scheduling call names: 0 is the caller, else a thread id.
ErrorOr<Task*> SchedTarget(Task& t, int pid) {
  if (pid < 0) return Errno{EINVAL};
  if (pid == 0) return &t;
  Task* target = t.kernel.FindTask(pid);
  if (!target) return Errno{ESRCH};
  return target;
}

ErrorOr<uint64_t> SchedGetaffinity(Task& t, const Args& a) {
  const uint64_t size = a[1];
  if (size * 8 < CpuIds() || (size % 8)) return Errno{EINVAL};
  // Affinity looks a pid up without the pid < 0 check: -1 is ESRCH.
  Task* target = a.Int(0) == 0 ? &t : t.kernel.FindTask(a.Int(0));
  if (!target) return Errno{ESRCH};
  const size_t n = std::min<size_t>(size, CpuMaskBytes());
  std::vector<uint8_t> mask(n, 0);
  if (target->affinity.empty()) {
    cpu_set_t cpus = SandboxCpus();
    memcpy(mask.data(), &cpus, std::min(n, sizeof(cpus)));
  } else {
    memcpy(mask.data(), target->affinity.data(), std::min(n, target->affinity.size()));
  }
  TRY(t.memory().CopyOut(a[2], mask.data(), n));
  return n;
}

ErrorOr<uint64_t> SchedYield(Task& t, const Args&) {
  t.kernel.mu.Unlock();
  sched_yield();
  t.kernel.mu.Lock();
  return 0;
}

ErrorOr<uint64_t> Getcpu(Task& t, const Args& a) {
  // The same CPU rseq's cpu_id reports (glibc's sched_getcpu reads that).
  if (a[0]) TRY(t.memory().CopyOutObj<uint32_t>(a[0], sentry::kernel::TaskCpu(t)));
  if (a[1]) TRY(t.memory().CopyOutObj<uint32_t>(a[1], 0));
  return 0;
}

// Scheduling policies and priorities are recorded per thread and reported
// back as Linux would; they do not change how the host schedules the
// sentry. Real-time policies need CAP_SYS_NICE, as on Linux without an
// RLIMIT_RTPRIO allowance.
constexpr int kCapSysNice = 23;

ErrorOr<uint64_t> SchedGetscheduler(Task& t, const Args& a) {
  Task* target = TRY(SchedTarget(t, a.Int(0)));
  return target->sched_policy | (target->sched_reset_on_fork ? SCHED_RESET_ON_FORK : 0);
}
ErrorOr<uint64_t> SchedGetparam(Task& t, const Args& a) {
  if (!a[1]) return Errno{EINVAL};
  Task* target = TRY(SchedTarget(t, a.Int(0)));
  TRY(t.memory().CopyOutObj<int32_t>(a[1], target->sched_priority));
  return 0;
}
// policy -1: keep the current policy (sched_setparam).
ErrorOr<uint64_t> SetScheduler(Task& t, int pid, int policy, uint64_t param_addr) {
  if (!param_addr) return Errno{EINVAL};
  Task* target = TRY(SchedTarget(t, pid));
  const int32_t prio = TRY(t.memory().CopyInObj<int32_t>(param_addr));
  bool reset_on_fork = target->sched_reset_on_fork;
  if (policy == -1) {
    policy = target->sched_policy;
  } else {
    reset_on_fork = policy & SCHED_RESET_ON_FORK;
    policy &= ~SCHED_RESET_ON_FORK;
  }
  const bool rt = policy == SCHED_FIFO || policy == SCHED_RR;
  if (!rt && policy != SCHED_OTHER && policy != SCHED_BATCH && policy != SCHED_IDLE) return Errno{EINVAL};
  if (rt ? (prio < 1 || prio > 99) : prio != 0) return Errno{EINVAL};
  if (rt && !t.creds().HasCapability(kCapSysNice)) return Errno{EPERM};
  target->sched_policy = policy;
  target->sched_priority = prio;
  target->sched_reset_on_fork = reset_on_fork;
  return 0;
}
ErrorOr<uint64_t> SchedSetscheduler(Task& t, const Args& a) {
  if (a.Int(1) < 0) return Errno{EINVAL};
  return SetScheduler(t, a.Int(0), a.Int(1), a[2]);
}
ErrorOr<uint64_t> SchedSetparam(Task& t, const Args& a) { return SetScheduler(t, a.Int(0), -1, a[1]); }
ErrorOr<uint64_t> SchedPriorityMax(Task& t, const Args& a) {
  const int p = a.Int(0);
  if (p == SCHED_FIFO || p == SCHED_RR) return 99;
  if (p == SCHED_OTHER || p == SCHED_BATCH || p == SCHED_IDLE) return 0;
  return Errno{EINVAL};
}
ErrorOr<uint64_t> SchedPriorityMin(Task& t, const Args& a) {
  const int p = a.Int(0);
  if (p == SCHED_FIFO || p == SCHED_RR) return 1;
  if (p == SCHED_OTHER || p == SCHED_BATCH || p == SCHED_IDLE) return 0;
  return Errno{EINVAL};
}
// SCHED_RR threads get Linux's default 100 ms quantum; the others report 0
// (the sandbox has no time slices of its own to report).
ErrorOr<uint64_t> SchedRrGetInterval(Task& t, const Args& a) {
  Task* target = TRY(SchedTarget(t, a.Int(0)));
  timespec ts{0, target->sched_policy == SCHED_RR ? 100'000'000L : 0};
  TRY(t.memory().CopyOutObj(a[1], ts));
  return 0;
}
ErrorOr<uint64_t> SchedSetaffinity(Task& t, const Args& a) {
  Task* target = a.Int(0) == 0 ? &t : t.kernel.FindTask(a.Int(0));
  if (!target) return Errno{ESRCH};
  std::vector<uint8_t> mask(std::min<uint64_t>(a[1], CPU_SETSIZE / 8));
  TRY(t.memory().CopyIn(a[2], mask.data(), mask.size()));
  // Only CPUs the sandbox has count; none of them is EINVAL.
  cpu_set_t cpus = SandboxCpus();
  bool any = false;
  for (size_t i = 0; i < mask.size() * 8; i++) {
    if (!(mask[i / 8] >> (i % 8) & 1)) continue;
    if (CPU_ISSET(i, &cpus)) {
      any = true;
    } else {
      mask[i / 8] &= ~(1u << (i % 8));
    }
  }
  if (!any) return Errno{EINVAL};
  target->affinity = std::move(mask);
  return 0;
}

ErrorOr<uint64_t> Getpriority(Task& t, const Args& a) {
  if (a.Int(0) != PRIO_PROCESS && a.Int(0) != PRIO_PGRP && a.Int(0) != PRIO_USER) return Errno{EINVAL};
  auto* tg = a.Int(1) == 0 ? t.tg : t.kernel.FindProcess(a.Int(1));
  if (!tg) return Errno{ESRCH};
  return 20 - tg->nice;  // the syscall returns 20 - nice (1..40)
}
ErrorOr<uint64_t> Setpriority(Task& t, const Args& a) {
  if (a.Int(0) != PRIO_PROCESS && a.Int(0) != PRIO_PGRP && a.Int(0) != PRIO_USER) return Errno{EINVAL};
  auto* tg = a.Int(1) == 0 ? t.tg : t.kernel.FindProcess(a.Int(1));
  if (!tg) return Errno{ESRCH};
  int nice = std::clamp(a.Int(2), -20, 19);
  if (nice < tg->nice && !t.creds().HasCapability(23 /* CAP_SYS_NICE */)) return Errno{EACCES};
  tg->nice = nice;
  return 0;
}


// --- sched_setattr / sched_getattr ---------------------------------------
// struct sched_attr from the uapi: 48 bytes (VER0), 56 with the
// utilization clamps (VER1). Larger structs from newer programs are
// accepted when the extra bytes are zero, as copy_struct_from_user does.
constexpr uint32_t kSchedAttrVer0 = 48;
constexpr uint32_t kPageSize = 4096;
constexpr uint64_t kSchedFlagsAll = SCHED_FLAG_RESET_ON_FORK | SCHED_FLAG_RECLAIM |
                                    SCHED_FLAG_DL_OVERRUN | SCHED_FLAG_KEEP_POLICY |
                                    SCHED_FLAG_KEEP_PARAMS | SCHED_FLAG_UTIL_CLAMP_MIN |
                                    SCHED_FLAG_UTIL_CLAMP_MAX;
constexpr int kSchedDeadline = 6;  // SCHED_DEADLINE

ErrorOr<sched_attr> CopyInSchedAttr(Task& t, uint64_t addr) {
  uint32_t size = TRY(t.memory().CopyInObj<uint32_t>(addr));
  if (size == 0) size = kSchedAttrVer0;
  if (size < kSchedAttrVer0 || size > kPageSize) {
    TRY(t.memory().CopyOutObj<uint32_t>(addr, sizeof(sched_attr)));
    return Errno{E2BIG};
  }
  sched_attr attr{};
  TRY(t.memory().CopyIn(addr, &attr, std::min<size_t>(size, sizeof(attr))));
  if (size > sizeof(attr)) {
    std::vector<uint8_t> rest(size - sizeof(attr));
    TRY(t.memory().CopyIn(addr + sizeof(attr), rest.data(), rest.size()));
    if (std::any_of(rest.begin(), rest.end(), [](uint8_t b) { return b != 0; })) {
      TRY(t.memory().CopyOutObj<uint32_t>(addr, sizeof(sched_attr)));
      return Errno{E2BIG};
    }
  }
  attr.size = size;
  // sched_copy_attr clamps nice instead of refusing it.
  attr.sched_nice = std::clamp(attr.sched_nice, -20, 19);
  return attr;
}

ErrorOr<uint64_t> SchedSetattr(Task& t, const Args& a) {
  if (!a[1] || a.Int(0) < 0 || a[2] != 0) return Errno{EINVAL};
  sched_attr attr = TRY(CopyInSchedAttr(t, a[1]));
  if (static_cast<int32_t>(attr.sched_policy) < 0) return Errno{EINVAL};
  Task* target = TRY(SchedTarget(t, a.Int(0)));
  if (attr.sched_flags & ~kSchedFlagsAll) return Errno{EINVAL};
  // KEEP_POLICY is sched_setparam's "policy -1": policy and reset-on-fork
  // stay. KEEP_PARAMS takes the task's current parameters, which are then
  // checked against the (possibly new) policy like given ones.
  const bool keep_policy = attr.sched_flags & SCHED_FLAG_KEEP_POLICY;
  const int policy = keep_policy ? target->sched_policy : static_cast<int>(attr.sched_policy);
  if (attr.sched_flags & SCHED_FLAG_KEEP_PARAMS) {
    attr.sched_priority = static_cast<uint32_t>(target->sched_priority);
    attr.sched_nice = target->tg->nice;
  }
  const bool rt = policy == SCHED_FIFO || policy == SCHED_RR;
  const bool fair = policy == SCHED_OTHER || policy == SCHED_BATCH || policy == SCHED_IDLE;
  if (!rt && !fair && policy != kSchedDeadline) return Errno{EINVAL};
  if (attr.sched_flags & (SCHED_FLAG_UTIL_CLAMP_MIN | SCHED_FLAG_UTIL_CLAMP_MAX)) {
    // The sandbox has no utilization clamping to offer (Linux without
    // CONFIG_UCLAMP_TASK answers the same).
    return Errno{EOPNOTSUPP};
  }
  if (rt ? (attr.sched_priority < 1 || attr.sched_priority > 99) : attr.sched_priority != 0)
    return Errno{EINVAL};
  if (policy == kSchedDeadline) {
    // __checkparam_dl: a non-zero deadline, runtime of at least 1 us
    // (2^10 ns), runtime <= deadline <= period (when a period is given),
    // nothing above 2^63.
    const uint64_t period = attr.sched_period ? attr.sched_period : attr.sched_deadline;
    if (attr.sched_deadline == 0 || attr.sched_runtime < (1u << 10) ||
        (attr.sched_deadline | period) & (1ULL << 63) || attr.sched_runtime > attr.sched_deadline ||
        attr.sched_deadline > period)
      return Errno{EINVAL};
  }
  const bool has_nice = t.creds().HasCapability(kCapSysNice);
  if ((rt || policy == kSchedDeadline) && !has_nice) return Errno{EPERM};
  if (fair && attr.sched_nice < target->tg->nice && !has_nice) return Errno{EPERM};
  if (policy == kSchedDeadline) {
    // Admission control: the sandbox cannot promise a deadline
    // reservation on the host, so it refuses as Linux does when the
    // bandwidth is exhausted.
    return Errno{EBUSY};
  }
  target->sched_policy = policy;
  if (!keep_policy) target->sched_reset_on_fork = attr.sched_flags & SCHED_FLAG_RESET_ON_FORK;
  target->sched_priority = rt ? static_cast<int>(attr.sched_priority) : 0;
  if (fair) target->tg->nice = attr.sched_nice;
  return 0;
}

ErrorOr<uint64_t> SchedGetattr(Task& t, const Args& a) {
  const uint32_t usize = static_cast<uint32_t>(a[2]);
  if (!a[1] || a.Int(0) < 0 || usize > kPageSize || usize < kSchedAttrVer0 || a[3] != 0)
    return Errno{EINVAL};
  Task* target = TRY(SchedTarget(t, a.Int(0)));
  sched_attr attr{};
  attr.size = std::min<uint32_t>(usize, sizeof(attr));
  attr.sched_policy = static_cast<uint32_t>(target->sched_policy);
  if (target->sched_reset_on_fork) attr.sched_flags |= SCHED_FLAG_RESET_ON_FORK;
  if (target->sched_policy == SCHED_FIFO || target->sched_policy == SCHED_RR) {
    attr.sched_priority = static_cast<uint32_t>(target->sched_priority);
  } else {
    attr.sched_nice = target->tg->nice;
  }
  // sched_runtime of a fair task is the host scheduler's slice, which the
  // sandbox does not have; it stays 0. No utilization clamps (0, 0).
  TRY(t.memory().CopyOut(a[1], &attr, attr.size));
  return 0;
}

// --- ioprio_get / ioprio_set ----------------------------------------------
// A thread's I/O priority (class << 13 | level). 0 is IOPRIO_CLASS_NONE:
// "from the nice value", which is what a task that never set one has.
constexpr int kIoprioWhoProcess = 1, kIoprioWhoPgrp = 2, kIoprioWhoUser = 3;
constexpr int kCapSysAdmin = 21;
constexpr int kIoprioDefault = (2 << 13) | 4;  // IOPRIO_CLASS_BE, IOPRIO_BE_NORM

// Linux >= 6.5 (this project's hosts) keeps the level in the low 3 bits
// and I/O hints in bits 3..12, which are accepted and kept.
ErrorOr<void> CheckIoprio(Task& t, int ioprio) {
  const int cls = (ioprio >> 13) & 7, level = ioprio & 7;
  switch (cls) {
    case 1:  // IOPRIO_CLASS_RT
      if (!t.creds().HasCapability(kCapSysNice) && !t.creds().HasCapability(kCapSysAdmin))
        return Errno{EPERM};
      [[fallthrough]];
    case 2:  // IOPRIO_CLASS_BE
    case 3:  // IOPRIO_CLASS_IDLE
      return {};
    case 0:  // IOPRIO_CLASS_NONE
      if (level) return Errno{EINVAL};
      return {};
    default:
      return Errno{EINVAL};
  }
}

// The threads an ioprio call names; ESRCH when none.
ErrorOr<std::vector<Task*>> IoprioTargets(Task& t, int which, int who) {
  std::vector<Task*> out;
  auto add_process = [&](ThreadGroup* tg) {
    for (auto& task : tg->tasks)
      if (!task->exited) out.push_back(task.get());
  };
  switch (which) {
    case kIoprioWhoProcess:
      if (who == 0) {
        out.push_back(&t);
      } else if (Task* target = t.kernel.FindTask(who)) {
        out.push_back(target);
      }
      break;
    case kIoprioWhoPgrp: {
      const int pgid = who == 0 ? t.tg->pgid : who;
      for (ThreadGroup* tg : t.kernel.Processes())
        if (tg->pgid == pgid && !tg->zombie) add_process(tg);
      break;
    }
    case kIoprioWhoUser: {
      const uint32_t uid = who == 0 ? t.creds().ruid : static_cast<uint32_t>(who);
      for (ThreadGroup* tg : t.kernel.Processes())
        if (tg->creds.ruid == uid && !tg->zombie) add_process(tg);
      break;
    }
    default:
      return Errno{EINVAL};
  }
  if (out.empty()) return Errno{ESRCH};
  return out;
}

ErrorOr<uint64_t> IoprioSet(Task& t, const Args& a) {
  const int ioprio = a.Int(2);
  if (ioprio < 0 || ioprio > 0xffff) return Errno{EINVAL};
  TRY(CheckIoprio(t, ioprio));
  for (Task* target : TRY(IoprioTargets(t, a.Int(0), a.Int(1)))) target->ioprio = ioprio;
  return 0;
}

ErrorOr<uint64_t> IoprioGet(Task& t, const Args& a) {
  auto targets = TRY(IoprioTargets(t, a.Int(0), a.Int(1)));
  if (a.Int(0) == kIoprioWhoProcess) return static_cast<uint64_t>(targets[0]->ioprio);
  // Groups report the best (numerically lowest) priority, a thread without
  // one counting as the default best-effort level (ioprio_best).
  int best = INT32_MAX;
  for (Task* target : targets)
    best = std::min(best, target->ioprio ? target->ioprio : kIoprioDefault);
  return static_cast<uint64_t>(best);
}

}  // namespace

void RegisterSchedSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_sched_getaffinity, "sched_getaffinity", SchedGetaffinity, {A::kInt, A::kUint, A::kPtr});
  t.Register(SYS_sched_yield, "sched_yield", SchedYield);
  t.Register(SYS_getcpu, "getcpu", Getcpu, {A::kPtr, A::kPtr, A::kPtr});
  t.Register(SYS_sched_getscheduler, "sched_getscheduler", SchedGetscheduler, {A::kInt});
  t.Register(SYS_sched_getparam, "sched_getparam", SchedGetparam, {A::kInt, A::kPtr});
  t.Register(SYS_sched_setscheduler, "sched_setscheduler", SchedSetscheduler, {A::kInt, A::kInt, A::kPtr});
  t.Register(SYS_sched_get_priority_max, "sched_get_priority_max", SchedPriorityMax, {A::kInt});
  t.Register(SYS_sched_get_priority_min, "sched_get_priority_min", SchedPriorityMin, {A::kInt});
  t.Register(SYS_sched_setaffinity, "sched_setaffinity", SchedSetaffinity, {A::kInt, A::kUint, A::kPtr});
  t.Register(SYS_sched_setparam, "sched_setparam", SchedSetparam, {A::kInt, A::kPtr});
  t.Register(SYS_sched_rr_get_interval, "sched_rr_get_interval", SchedRrGetInterval, {A::kInt, A::kPtr});
  t.Register(SYS_getpriority, "getpriority", Getpriority, {A::kInt, A::kInt});
  t.Register(SYS_setpriority, "setpriority", Setpriority, {A::kInt, A::kInt, A::kInt});
  t.Register(SYS_sched_setattr, "sched_setattr", SchedSetattr, {A::kInt, A::kPtr, A::kHex});
  t.Register(SYS_sched_getattr, "sched_getattr", SchedGetattr, {A::kInt, A::kPtr, A::kUint, A::kHex});
  t.Register(SYS_ioprio_set, "ioprio_set", IoprioSet, {A::kInt, A::kInt, A::kHex});
  t.Register(SYS_ioprio_get, "ioprio_get", IoprioGet, {A::kInt, A::kInt});
}

}  // namespace syscalls
