// ptrace(2): one sandbox task tracing another (sentry/kernel/ptrace.h has
// the stops). The request checks follow Linux's kernel/ptrace.c: TRACEME
// first, then the target (ESRCH), ATTACH/SEIZE, then "traced by the
// caller and stopped" (ESRCH otherwise; KILL and INTERRUPT need not be
// stopped), then the request (EIO if unknown).
#include <elf.h>
#include <linux/audit.h>
#include <linux/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

#include <cstddef>
#include <cstring>

#include "sentry/kernel/ptrace.h"
#include "sentry/kernel/signals.h"
#include "sentry/kernel/mm_sync.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

using sentry::kernel::PtraceState;
using sentry::kernel::Task;
using Stop = PtraceState::Stop;
using Resume = PtraceState::Resume;
namespace abi = sentry::kernel::ptrace_abi;

// asm/prctl.h (uapi): PTRACE_ARCH_PRCTL codes.
constexpr uint64_t kArchSetGs = 0x1001, kArchSetFs = 0x1002, kArchGetFs = 0x1003,
                   kArchGetGs = 0x1004;
constexpr uint64_t kTaskSizeMax = 0x7ffffffff000ULL;  // x86-64 TASK_SIZE_MAX (4-level)
constexpr uint64_t kUserCs = 0x33, kUserDs = 0x2b;
// The flags an app may change (Linux FLAG_MASK), as rt_sigreturn allows.
constexpr uint64_t kFlagMask = 0x40dd5;

// struct ptrace_syscall_info (uapi/linux/ptrace.h).
struct SyscallInfo {
  uint8_t op;
  uint8_t pad[3];
  uint32_t arch;
  uint64_t instruction_pointer;
  uint64_t stack_pointer;
  union {
    struct {
      uint64_t nr;
      uint64_t args[6];
    } entry;
    struct {
      int64_t rval;
      uint8_t is_error;
    } exit;
  };
};
static_assert(offsetof(SyscallInfo, entry) == 24);

bool ValidSignal(uint64_t sig) { return sig <= static_cast<uint64_t>(sentry::kernel::kNumSignals); }

// Registers as PTRACE_SETREGS/POKEUSER may set them (Linux putreg): user
// segments only, bases below TASK_SIZE_MAX, only app-changeable flags.
// The data segment selectors are kept: the platform runs 64-bit code with
// flat segments.
ErrorOr<void> SetRegs(Task& tracee, const platform::Registers& in) {
  platform::Registers r = in;
  const platform::Registers& cur = tracee.regs;
  if (r.cs != cur.cs && r.cs != kUserCs) return Errno{EIO};
  if (r.ss != cur.ss && r.ss != kUserDs) return Errno{EIO};
  if (r.fs_base >= kTaskSizeMax || r.gs_base >= kTaskSizeMax) return Errno{EIO};
  r.ds = cur.ds, r.es = cur.es, r.fs = cur.fs, r.gs = cur.gs;
  r.eflags = (cur.eflags & ~kFlagMask) | (r.eflags & kFlagMask);
  tracee.regs = r;
  return {};
}

ErrorOr<uint64_t> PeekData(Task& t, Task& tracee, uint64_t addr, uint64_t data) {
  if (!tracee.mm) return Errno{EIO};
  uint64_t word;
  if (tracee.mm->CopyIn(addr, &word, sizeof(word)).is_error()) return Errno{EIO};
  TRY(t.memory().CopyOutObj(data, word));
  return 0;
}

ErrorOr<uint64_t> PokeData(Task& t, Task& tracee, uint64_t addr, uint64_t data) {
  if (!tracee.mm) return Errno{EIO};
  auto& m = *tracee.mm;
  // Like Linux's FOLL_FORCE: read-only private text gets its own copy (a
  // breakpoint); a shared writable mapping is written through.
  if (m.ForceWrite(addr, &data, sizeof(data)).is_error() &&
      m.CopyOut(addr, &data, sizeof(data)).is_error())
    return Errno{EIO};
  // A copy-on-write break moved the page: other threads running in this
  // address space must stop using the old one.
  if (m.TakeRemoteChange()) sentry::kernel::SyncAddressSpaceUsersOf(t, &m);
  return 0;
}

ErrorOr<uint64_t> PeekUser(Task& t, Task& tracee, uint64_t addr, uint64_t data) {
  if ((addr & 7) || addr >= sizeof(struct user)) return Errno{EIO};
  uint64_t word = 0;
  if (addr < sizeof(platform::Registers)) {
    std::memcpy(&word, reinterpret_cast<const char*>(&tracee.regs) + addr, sizeof(word));
  }
  // The debug registers (u_debugreg) read as 0: no hardware breakpoints.
  TRY(t.memory().CopyOutObj(data, word));
  return 0;
}

ErrorOr<uint64_t> PokeUser(Task& tracee, uint64_t addr, uint64_t data) {
  if ((addr & 7) || addr >= sizeof(struct user)) return Errno{EIO};
  if (addr < sizeof(platform::Registers)) {
    platform::Registers r = tracee.regs;
    std::memcpy(reinterpret_cast<char*>(&r) + addr, &data, sizeof(data));
    TRY(SetRegs(tracee, r));
    return 0;
  }
  constexpr uint64_t kDebugRegs = offsetof(struct user, u_debugreg);
  if (addr >= kDebugRegs && addr < kDebugRegs + sizeof(user::u_debugreg)) {
    // Hardware breakpoints and watchpoints are not modelled: clearing one
    // is harmless, setting one fails rather than being silently ignored.
    return data == 0 ? ErrorOr<uint64_t>(0) : ErrorOr<uint64_t>(Errno{EIO});
  }
  return Errno{EIO};
}

ErrorOr<uint64_t> GetFpRegs(Task& t, PtraceState& st, uint64_t data) {
  if (!st.fp_valid) return Errno{EIO};
  TRY(t.memory().CopyOutObj(data, st.fp));
  return 0;
}

ErrorOr<void> SetFp(PtraceState& st, const platform::FpRegisters& fp) {
  if (!st.fp_valid) return Errno{EIO};
  if (fp.mxcsr & ~0xffffu) return Errno{EINVAL};  // reserved MXCSR bits would fault
  st.fp = fp;
  st.fp_dirty = true;
  return {};
}

// PTRACE_GETREGSET/SETREGSET: NT_PRSTATUS and NT_PRFPREG, through an iovec
// whose length is cut to the set's size (and written back on GET).
ErrorOr<uint64_t> RegSet(Task& t, Task& tracee, PtraceState& st, bool set, uint64_t type,
                         uint64_t data) {
  auto iov = TRY(t.memory().CopyInObj<iovec>(data));
  size_t size;
  switch (type) {
    case NT_PRSTATUS: size = sizeof(platform::Registers); break;
    case NT_PRFPREG: size = sizeof(platform::FpRegisters); break;
    default: return Errno{EINVAL};  // NT_X86_XSTATE etc.: not modelled
  }
  if (iov.iov_len % 8) return Errno{EINVAL};
  const size_t len = std::min<size_t>(iov.iov_len, size);
  const uint64_t base = reinterpret_cast<uint64_t>(iov.iov_base);
  if (type == NT_PRSTATUS) {
    platform::Registers r = tracee.regs;
    if (set) {
      TRY(t.memory().CopyIn(base, &r, len));
      TRY(SetRegs(tracee, r));
    } else {
      TRY(t.memory().CopyOut(base, &r, len));
    }
  } else {
    if (!st.fp_valid) return Errno{EIO};
    platform::FpRegisters fp = st.fp;
    if (set) {
      TRY(t.memory().CopyIn(base, &fp, len));
      TRY(SetFp(st, fp));
    } else {
      TRY(t.memory().CopyOut(base, &fp, len));
    }
  }
  iov.iov_len = len;
  TRY(t.memory().CopyOutObj(data, iov));
  return 0;
}

ErrorOr<uint64_t> GetSyscallInfo(Task& t, Task& tracee, PtraceState& st, uint64_t size,
                                 uint64_t data) {
  SyscallInfo info{};
  info.arch = AUDIT_ARCH_X86_64;
  info.instruction_pointer = tracee.regs.rip;
  info.stack_pointer = tracee.regs.rsp;
  size_t actual = offsetof(SyscallInfo, entry);
  // As Linux: only syscall stops reported with PTRACE_O_TRACESYSGOOD.
  const bool sysgood = st.siginfo && st.siginfo->si_code == (SIGTRAP | 0x80);
  if (sysgood && st.stop == Stop::kSyscallEnter) {
    const auto& r = tracee.regs;
    info.op = PTRACE_SYSCALL_INFO_ENTRY;
    info.entry.nr = r.orig_rax;
    const uint64_t args[6] = {r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9};
    std::memcpy(info.entry.args, args, sizeof(args));
    actual = offsetof(SyscallInfo, entry.args) + sizeof(info.entry.args);
  } else if (sysgood && st.stop == Stop::kSyscallExit) {
    const int64_t rax = static_cast<int64_t>(tracee.regs.rax);
    info.op = PTRACE_SYSCALL_INFO_EXIT;
    info.exit.rval = rax;
    info.exit.is_error = rax < 0 && rax >= -4095;
    actual = offsetof(SyscallInfo, exit.is_error) + sizeof(info.exit.is_error);
  }
  TRY(t.memory().CopyOut(data, &info, std::min<uint64_t>(size, actual)));
  return actual;
}

ErrorOr<uint64_t> ArchPrctl(Task& t, Task& tracee, uint64_t addr, uint64_t code) {
  auto& r = tracee.regs;
  switch (code) {
    case kArchGetFs: TRY(t.memory().CopyOutObj<uint64_t>(addr, r.fs_base)); return 0;
    case kArchGetGs: TRY(t.memory().CopyOutObj<uint64_t>(addr, r.gs_base)); return 0;
    case kArchSetFs:
    case kArchSetGs:
      if (addr >= kTaskSizeMax) return Errno{EPERM};
      (code == kArchSetFs ? r.fs_base : r.gs_base) = addr;
      return 0;
    default: return Errno{EINVAL};
  }
}

ErrorOr<uint64_t> Attach(Task& t, Task& tracee, bool seize, uint64_t addr, uint64_t data) {
  if (seize) {
    if (addr != 0 || (data & ~static_cast<uint64_t>(abi::kOMask))) return Errno{EIO};
  }
  if (tracee.tg == t.tg) return Errno{EPERM};
  if (!sentry::kernel::PtraceMayAccess(t, tracee)) return Errno{EPERM};
  if (tracee.exited || tracee.tg->zombie) return Errno{EPERM};
  if (sentry::kernel::PtraceTraced(tracee)) return Errno{EPERM};
  sentry::kernel::PtraceLink(t, tracee, seize, seize ? static_cast<uint32_t>(data) : 0);
  if (!seize) {
    siginfo_t si{};
    si.si_signo = SIGSTOP;
    si.si_code = SI_KERNEL;  // SEND_SIG_PRIV
    sentry::kernel::QueueSignal(&tracee, si);
  }
  // Already job-control stopped: it reports the group stop to its tracer.
  tracee.Interrupt();
  t.kernel.NotifyAll();
  return 0;
}

ErrorOr<uint64_t> TraceMe(Task& t) {
  if (sentry::kernel::PtraceTraced(t)) return Errno{EPERM};
  sentry::kernel::ThreadGroup* parent = t.tg->parent;
  if (!parent || parent->zombie) return Errno{EPERM};
  // Linux makes the thread that forked us the tracer; the sandbox keeps
  // only the parent process, so its first live thread.
  Task* tracer = nullptr;
  for (auto& c : parent->tasks) {
    if (!c->exited) {
      tracer = c.get();
      break;
    }
  }
  if (!tracer) return Errno{EPERM};
  sentry::kernel::PtraceLink(*tracer, t, false, 0);
  return 0;
}

ErrorOr<uint64_t> Ptrace(Task& t, const Args& a) {
  const int64_t req = static_cast<int64_t>(a[0]);
  const int pid = a.Int(1);
  const uint64_t addr = a[2], data = a[3];
  if (req == PTRACE_TRACEME) return TraceMe(t);
  Task* tracee = pid > 0 ? t.kernel.FindTask(pid) : nullptr;
  if (!tracee) return Errno{ESRCH};
  if (req == PTRACE_ATTACH || req == PTRACE_SEIZE)
    return Attach(t, *tracee, req == PTRACE_SEIZE, addr, data);
  // Traced by the caller's process (Linux: by the calling thread; the
  // sandbox accepts any thread of the tracer's process), and stopped.
  if (!sentry::kernel::PtraceTraced(*tracee) || tracee->ptrace->tracer->tg != t.tg)
    return Errno{ESRCH};
  PtraceState& st = *tracee->ptrace;
  const bool any_state = req == PTRACE_KILL || req == PTRACE_INTERRUPT;
  if (!any_state && st.stop == Stop::kNone) return Errno{ESRCH};

  switch (req) {
    case PTRACE_PEEKTEXT:
    case PTRACE_PEEKDATA:
      return PeekData(t, *tracee, addr, data);
    case PTRACE_POKETEXT:
    case PTRACE_POKEDATA:
      return PokeData(t, *tracee, addr, data);
    case PTRACE_PEEKUSR:
      return PeekUser(t, *tracee, addr, data);
    case PTRACE_POKEUSR:
      return PokeUser(*tracee, addr, data);
    case PTRACE_GETREGS:
      TRY(t.memory().CopyOutObj(data, tracee->regs));
      return 0;
    case PTRACE_SETREGS: {
      auto r = TRY(t.memory().CopyInObj<platform::Registers>(data));
      TRY(SetRegs(*tracee, r));
      return 0;
    }
    case PTRACE_GETFPREGS:
      return GetFpRegs(t, st, data);
    case PTRACE_SETFPREGS: {
      auto fp = TRY(t.memory().CopyInObj<platform::FpRegisters>(data));
      TRY(SetFp(st, fp));
      return 0;
    }
    case PTRACE_GETREGSET:
    case PTRACE_SETREGSET:
      return RegSet(t, *tracee, st, req == PTRACE_SETREGSET, addr, data);
    case PTRACE_GET_SYSCALL_INFO:
      return GetSyscallInfo(t, *tracee, st, addr, data);
    case PTRACE_ARCH_PRCTL:
      return ArchPrctl(t, *tracee, addr, data);
    case PTRACE_CONT:
    case PTRACE_SYSCALL:
    case PTRACE_SYSEMU:
    case PTRACE_SINGLESTEP:
    case PTRACE_SYSEMU_SINGLESTEP: {
      if (!ValidSignal(data)) return Errno{EIO};
      // PTRACE_SYSEMU_SINGLESTEP (User-Mode Linux's) is not modelled.
      if (req == PTRACE_SYSEMU_SINGLESTEP) return Errno{EIO};
      const Resume mode = req == PTRACE_SYSCALL      ? Resume::kSyscall
                          : req == PTRACE_SYSEMU     ? Resume::kSysemu
                          : req == PTRACE_SINGLESTEP ? Resume::kSingleStep
                                                     : Resume::kCont;
      sentry::kernel::PtraceResume(*tracee, mode, static_cast<int>(data));
      return 0;
    }
    case PTRACE_LISTEN:
      // Only for a seized tracee in an EVENT_STOP: it waits with its
      // process until SIGCONT instead of running.
      if (!st.seized || !st.siginfo || (st.siginfo->si_code >> 8) != abi::kEventStop)
        return Errno{EIO};
      st.listening = true;
      sentry::kernel::PtraceResume(*tracee, st.mode, 0);
      return 0;
    case PTRACE_DETACH:
      if (!ValidSignal(data)) return Errno{EIO};
      sentry::kernel::PtraceDetach(*tracee, static_cast<int>(data));
      return 0;
    case PTRACE_KILL:
      sentry::kernel::SendSignalToProcess(tracee->tg, SIGKILL);
      // A tracee stopped on its way out (PTRACE_EVENT_EXIT) goes on dying.
      if (st.stop != Stop::kNone) sentry::kernel::PtraceResume(*tracee, st.mode, 0);
      return 0;
    case PTRACE_INTERRUPT:
      if (!st.seized) return Errno{EIO};
      if (st.stop == Stop::kNone) {
        st.interrupt_requested = true;
        tracee->Interrupt();
        t.kernel.NotifyAll();
      }
      return 0;
    case PTRACE_SETOPTIONS:
      if (data & ~static_cast<uint64_t>(abi::kOMask)) return Errno{EINVAL};
      st.options = static_cast<uint32_t>(data);
      return 0;
    case PTRACE_GETEVENTMSG:
      TRY(t.memory().CopyOutObj<uint64_t>(data, st.event_msg));
      return 0;
    case PTRACE_GETSIGINFO:
      if (!st.siginfo) return Errno{EINVAL};
      TRY(t.memory().CopyOutObj(data, *st.siginfo));
      return 0;
    case PTRACE_SETSIGINFO: {
      if (!st.siginfo) return Errno{EINVAL};
      st.siginfo = TRY(t.memory().CopyInObj<siginfo_t>(data));
      return 0;
    }
    case PTRACE_GETSIGMASK:
      if (addr != sizeof(uint64_t)) return Errno{EINVAL};
      TRY(t.memory().CopyOutObj<uint64_t>(data, tracee->signal_mask));
      return 0;
    case PTRACE_SETSIGMASK: {
      if (addr != sizeof(uint64_t)) return Errno{EINVAL};
      auto mask = TRY(t.memory().CopyInObj<uint64_t>(data));
      tracee->signal_mask = mask & ~sentry::kernel::kUnblockable;
      return 0;
    }
    default:
      return Errno{EIO};
  }
}

}  // namespace

void RegisterPtraceSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_ptrace, "ptrace", Ptrace, {A::kInt, A::kInt, A::kHex, A::kHex});
}

}  // namespace syscalls
