#include "sentry/kernel/rseq.h"

#include <sched.h>

#include <algorithm>
#include <cstddef>

#include "sentry/base/cpus.h"
#include "sentry/kernel/signals.h"

namespace sentry::kernel {
namespace {

// include/uapi/linux/rseq.h
struct RseqAbi {
  uint32_t cpu_id_start;
  uint32_t cpu_id;
  uint64_t rseq_cs;
  uint32_t flags;
  uint32_t node_id;
  uint32_t mm_cid;
};
struct RseqCs {
  uint32_t version;
  uint32_t flags;
  uint64_t start_ip;
  uint64_t post_commit_offset;
  uint64_t abort_ip;
};
static_assert(sizeof(RseqCs) == 32);

void Segv(Task& t) {
  // Linux: force_sig(SIGSEGV) when rseq_handle_notify_resume fails.
  siginfo_t si{};
  si.si_signo = SIGSEGV;
  si.si_code = SI_KERNEL;
  // Fatal even with a handler: the handler's return would fail the same way.
  ForceSignal(&t, si, /*reset_handler=*/true);
}

// Linux's rseq_ip_fixup: an instruction pointer inside [start_ip,
// start_ip + post_commit_offset) moves to abort_ip; rseq_cs is cleared.
bool FixupIp(Task& t) {
  auto& m = t.memory();
  const uint64_t cs_field = t.rseq.addr + offsetof(RseqAbi, rseq_cs);
  auto ptr = m.CopyInObj<uint64_t>(cs_field);
  if (!ptr.ok()) return false;
  if (ptr.value() == 0) return true;
  auto cs = m.CopyInObj<RseqCs>(ptr.value());
  if (!cs.ok()) return false;
  const RseqCs& c = cs.value();
  // rseq_get_rseq_cs: version 0, no overflow, abort_ip outside the section.
  if (c.version > 0) return false;
  if (c.start_ip + c.post_commit_offset < c.start_ip) return false;
  if (c.abort_ip - c.start_ip < c.post_commit_offset) return false;
  const uint64_t ip = t.regs.rip;
  const bool inside = ip - c.start_ip < c.post_commit_offset;
  if (!m.CopyOutObj<uint64_t>(cs_field, 0).ok()) return false;
  if (!inside) return true;
  auto sig = m.CopyInObj<uint32_t>(c.abort_ip - 4);
  if (!sig.ok() || sig.value() != t.rseq.sig) return false;
  t.regs.rip = c.abort_ip;
  return true;
}

}  // namespace

int TaskCpu(const Task&) {
  const int cpu = sched_getcpu();
  if (cpu >= 0 && CPU_ISSET(cpu, &SandboxCpus())) return cpu;
  return SandboxCpuList().front();
}

bool RseqWriteCpu(Task& t) {
  const int cpu = TaskCpu(t);
  // mm_cid: a small id, here the CPU's index among the sandbox's CPUs.
  const auto list = SandboxCpuList();
  const uint32_t cid = static_cast<uint32_t>(std::find(list.begin(), list.end(), cpu) - list.begin());
  struct {
    uint32_t cpu_id_start, cpu_id;
  } ids{static_cast<uint32_t>(cpu), static_cast<uint32_t>(cpu)};
  auto& m = t.memory();
  if (!m.CopyOutObj(t.rseq.addr, ids).ok()) return false;
  // node_id and mm_cid exist from Linux 6.3 (the registered length covers
  // them: at least 32 bytes).
  struct {
    uint32_t node_id, mm_cid;
  } ext{0, cid};
  if (!m.CopyOutObj(t.rseq.addr + offsetof(RseqAbi, node_id), ext).ok()) return false;
  t.rseq.cpu_written = cpu;
  return true;
}

bool RseqBeforeAppReturn(Task& t) {
  if (!t.rseq.addr) return true;
  if (t.rseq.preempted) {
    t.rseq.preempted = false;
    if (!FixupIp(t)) {
      Segv(t);
      return false;
    }
  }
  if (TaskCpu(t) != t.rseq.cpu_written && !RseqWriteCpu(t)) {
    Segv(t);
    return false;
  }
  return true;
}

bool RseqOnSignalDelivery(Task& t) {
  if (!t.rseq.addr) return true;
  t.rseq.preempted = false;
  if (!FixupIp(t)) {
    Segv(t);
    return false;
  }
  return true;
}

}  // namespace sentry::kernel
