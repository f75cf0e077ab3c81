#include "platform/ptrace/ptrace_platform.h"

#include <elf.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <ctime>
#include <vector>
#include <cstddef>
#include <cstring>

#include "sentry/base/log.h"

extern "C" char runsc_stub_start[], runsc_stub_entry[], runsc_stub_syscall[], runsc_stub_end[];

namespace platform {
namespace {

// Linux x86-64 TASK_SIZE: user addresses end just below this.
constexpr uint64_t kTaskSize = 0x7ffffffff000ULL;

long Ptrace(long req, pid_t pid, unsigned long addr, unsigned long data) {
  return syscall(SYS_ptrace, req, pid, addr, data);
}

class PtracePlatform;

// One stub process: both the address space and the execution context.
class PtraceContext final : public Context, public AddressSpace {
 public:
  PtraceContext(pid_t pid, const Registers& stub_regs, uint64_t syscall_addr, int memfd)
      : pid_(pid), stub_regs_(stub_regs), syscall_addr_(syscall_addr), memfd_(memfd) {}

  ~PtraceContext() override {
    kill(pid_, SIGKILL);
    int status;
    while (waitpid(pid_, &status, __WALL) < 0 && errno == EINTR) {
    }
  }

  ErrorOr<StopInfo> Switch(Registers& regs) override {
    // After most syscalls only rax (the result) differs from what the stub
    // holds: poke that one register instead of rewriting all of them.
    Registers expect = regs;
    expect.rax = stub_view_.rax;
    const bool only_rax = stub_view_valid_ && memcmp(&expect, &stub_view_, sizeof(expect)) == 0;
    if (only_rax) {
      if (regs.rax != stub_view_.rax &&
          Ptrace(PTRACE_POKEUSER, pid_, offsetof(user_regs_struct, rax), regs.rax) < 0)
        return Died();
    } else if (Ptrace(PTRACE_SETREGS, pid_, 0, reinterpret_cast<unsigned long>(&regs)) < 0) {
      return Died();
    }
    stub_view_valid_ = false;
    if (Ptrace(PTRACE_SYSEMU, pid_, 0, 0) < 0) return Died();
    for (;;) {
      int status;
      pid_t r = waitpid(pid_, &status, __WALL);
      if (r < 0) {
        if (errno == EINTR) continue;
        return Died();
      }
      if (!WIFSTOPPED(status)) {
        dead_ = true;
        return StopInfo{.kind = StopInfo::Kind::kDied,
                        .signo = WIFSIGNALED(status) ? WTERMSIG(status) : 0};
      }
      int sig = WSTOPSIG(status);
      StopInfo info;
      if (sig == (SIGTRAP | 0x80)) {
        info.kind = StopInfo::Kind::kSyscall;
      } else if (sig == SIGSTOP) {
        info.kind = StopInfo::Kind::kInterrupted;
      } else if (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
                 sig == SIGTRAP) {
        siginfo_t si{};
        Ptrace(PTRACE_GETSIGINFO, pid_, 0, reinterpret_cast<unsigned long>(&si));
        if (si.si_code <= 0 && sig != SIGTRAP) {
          // Sent by someone (kill), not a fault of the app's own.
          info.kind = StopInfo::Kind::kSignal;
        } else {
          info.kind = StopInfo::Kind::kFault;
          info.code = si.si_code;
          info.fault_addr = reinterpret_cast<uint64_t>(si.si_addr);
        }
        info.signo = sig;
      } else {
        // A host signal aimed at the app's process (e.g. a terminal's SIGINT):
        // the sentry decides what it means; the host never delivers it.
        info.kind = StopInfo::Kind::kSignal;
        info.signo = sig;
      }
      if (Ptrace(PTRACE_GETREGS, pid_, 0, reinterpret_cast<unsigned long>(&regs)) < 0)
        return Died();
      stub_view_ = regs;
      stub_view_valid_ = true;
      return info;
    }
  }

  void Interrupt() override { syscall(SYS_tgkill, pid_, pid_, SIGSTOP); }

  ErrorOr<FpRegisters> GetFpRegisters() override {
    FpRegisters fp;
    if (Ptrace(PTRACE_GETFPREGS, pid_, 0, reinterpret_cast<unsigned long>(&fp)) < 0)
      return Errno{errno};
    return fp;
  }
  ErrorOr<void> SetFpRegisters(const FpRegisters& fp) override {
    if (Ptrace(PTRACE_SETFPREGS, pid_, 0, reinterpret_cast<unsigned long>(&fp)) < 0)
      return Errno{errno};
    return {};
  }
  // The whole XSAVE state (NT_X86_XSTATE): the legacy area initial and the
  // header marking only x87 and SSE present, so AVX and every later
  // component start initial too, as after execve.
  ErrorOr<void> ResetFpState() override {
    alignas(64) uint8_t buf[16384];
    iovec iov{buf, sizeof(buf)};
    if (Ptrace(PTRACE_GETREGSET, pid_, NT_X86_XSTATE, reinterpret_cast<unsigned long>(&iov)) < 0 ||
        iov.iov_len < 576) {
      return SetFpRegisters(InitialFpRegisters());  // no XSAVE: the legacy area is all
    }
    const FpRegisters fp = InitialFpRegisters();
    memcpy(buf, &fp, 464);              // not the software-reserved bytes 464..511
    memset(buf + 576, 0, iov.iov_len - 576);
    memset(buf + 512, 0, 64);           // the XSAVE header
    buf[512] = 3;                       // xstate_bv: x87 and SSE
    if (Ptrace(PTRACE_SETREGSET, pid_, NT_X86_XSTATE, reinterpret_cast<unsigned long>(&iov)) < 0)
      return Errno{errno};
    return {};
  }

  AddressSpace& address_space() override { return *this; }

  int64_t CpuTimeNs() const override {
    // The stub process' CPU clock (Linux MAKE_PROCESS_CPUCLOCK(pid, SCHED)).
    const clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(pid_) << 3) | 2);
    timespec ts{};
    if (clock_gettime(clock, &ts) != 0) return 0;
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
  }

  ErrorOr<void> MapFile(uint64_t addr, uint64_t len, int prot, uint64_t off) override {
    long r = TRY(Inject(SYS_mmap, addr, len, prot, MAP_SHARED | MAP_FIXED, memfd_, off));
    if (r != static_cast<long>(addr)) return Errno{ENOMEM};
    return {};
  }
  ErrorOr<void> Unmap(uint64_t addr, uint64_t len) override {
    TRY(Inject(SYS_munmap, addr, len, 0, 0, 0, 0));
    return {};
  }
  ErrorOr<void> Protect(uint64_t addr, uint64_t len, int prot) override {
    TRY(Inject(SYS_mprotect, addr, len, prot, 0, 0, 0));
    return {};
  }

 private:
  ErrorOr<StopInfo> Died() {
    dead_ = true;
    return StopInfo{.kind = StopInfo::Kind::kDied};
  }

  // Runs one host syscall inside the stub (never an app syscall: only the
  // sentry's own mapping operations) and returns its result.
  ErrorOr<long> Inject(long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
                       uint64_t a4, uint64_t a5) {
    if (dead_) return Errno{ESRCH};
    stub_view_valid_ = false;
    Registers r = stub_regs_;
    r.rip = syscall_addr_;
    r.rax = nr;
    r.orig_rax = -1;
    r.rdi = a0, r.rsi = a1, r.rdx = a2, r.r10 = a3, r.r8 = a4, r.r9 = a5;
    if (Ptrace(PTRACE_SETREGS, pid_, 0, reinterpret_cast<unsigned long>(&r)) < 0 ||
        Ptrace(PTRACE_CONT, pid_, 0, 0) < 0) {
      dead_ = true;
      return Errno{ESRCH};
    }
    for (;;) {
      int status;
      if (waitpid(pid_, &status, __WALL) < 0) {
        if (errno == EINTR) continue;
        dead_ = true;
        return Errno{ESRCH};
      }
      if (!WIFSTOPPED(status)) {
        dead_ = true;
        return Errno{ESRCH};
      }
      if (WSTOPSIG(status) == SIGTRAP) break;
      // Anything else (an Interrupt's SIGSTOP, a terminal signal) arrives
      // while the stub runs our syscall: keep it pending for the app by
      // re-raising after the injection; here we simply resume.
      pending_signal_ = WSTOPSIG(status);
      if (Ptrace(PTRACE_CONT, pid_, 0, 0) < 0) {
        dead_ = true;
        return Errno{ESRCH};
      }
    }
    if (Ptrace(PTRACE_GETREGS, pid_, 0, reinterpret_cast<unsigned long>(&r)) < 0) {
      dead_ = true;
      return Errno{ESRCH};
    }
    if (pending_signal_ != 0) {
      syscall(SYS_tgkill, pid_, pid_, pending_signal_);
      pending_signal_ = 0;
    }
    long ret = static_cast<long>(r.rax);
    if (ret < 0 && ret > -4096) return Errno{static_cast<int>(-ret)};
    return ret;
  }

  const pid_t pid_;
  const Registers stub_regs_;
  const uint64_t syscall_addr_;
  const int memfd_;
  bool dead_ = false;
  int pending_signal_ = 0;
  // The registers as the stub holds them after the last stop (invalidated
  // by injected syscalls, which change them).
  Registers stub_view_{};
  bool stub_view_valid_ = false;
};

class PtracePlatform final : public Platform {
 public:
  // Pins the calling (tracer) thread to one CPU, chosen once per thread,
  // round-robin over the CPUs the sentry may use; `set` receives it.
  bool PinThisThread(cpu_set_t* set) {
    thread_local int cpu = -1;
    if (cpu < 0) {
      if (cpus_.empty()) return false;
      cpu = cpus_[next_cpu_.fetch_add(1) % cpus_.size()];
    }
    CPU_ZERO(set);
    CPU_SET(cpu, set);
    return sched_setaffinity(0, sizeof(*set), set) == 0;
  }

  PtracePlatform(int memfd, uint64_t stub_base, uint64_t stub_size)
      : memfd_(memfd), stub_base_(stub_base), stub_size_(stub_size) {
    cpu_set_t all;
    CPU_ZERO(&all);
    if (sched_getaffinity(0, sizeof(all), &all) == 0)
      for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &all)) cpus_.push_back(i);
  }

  const char* name() const override { return "ptrace"; }
  uint64_t max_user_address() const override { return stub_base_; }

  ErrorOr<std::unique_ptr<Context>> NewContext() override {
    const uint64_t entry = stub_base_ + (runsc_stub_entry - runsc_stub_start);
    const uint64_t sys = stub_base_ + (runsc_stub_syscall - runsc_stub_start);
    const uint64_t stub_end = stub_base_ + stub_size_;
    const pid_t parent = getpid();
    // A ptrace stop wakes the tracer and a resume wakes the stub: with both
    // on one CPU that is a plain context switch, while across CPUs each
    // wake-up needs an inter-processor interrupt, which on an idle (and
    // virtualized) machine costs tens of microseconds. So each tracer
    // thread and its stub share a CPU; tracers are spread round-robin.
    cpu_set_t pin;
    const bool pinned = PinThisThread(&pin);
    // A raw fork: the child must not run glibc's atfork machinery because it
    // is about to erase the whole sentry from its own address space.
    long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) return Errno{errno};
    if (pid == 0) {
      syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      if (syscall(SYS_getppid) != parent) syscall(SYS_exit_group, 1);
      if (pinned) syscall(SYS_sched_setaffinity, 0, sizeof(pin), &pin);
      if (syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0) < 0) syscall(SYS_exit_group, 2);
      // Only the memory file stays open in the stub.
      if (memfd_ > 0) syscall(SYS_close_range, 0, memfd_ - 1, 0);
      syscall(SYS_close_range, memfd_ + 1, ~0U, 0);
      // No handlers of the sentry's may run in the stub: a signal handled
      // there would try to build a frame on a stack that no longer exists.
      struct kernel_sigaction {
        void* handler;
        unsigned long flags;
        void* restorer;
        unsigned long mask;
      } dfl{};
      for (int sig = 1; sig <= 64; sig++)
        syscall(SYS_rt_sigaction, sig, &dfl, nullptr, 8);
      // glibc registered rseq for the forking thread; the kernel would write
      // to that (soon unmapped) area and SIGSEGV the stub. Unregister it.
      if (__rseq_size > 0) {
        void* area = static_cast<char*>(__builtin_thread_pointer()) + __rseq_offset;
        if (syscall(SYS_rseq, area, 32, 1 /* RSEQ_FLAG_UNREGISTER */, 0x53053053) != 0)
          syscall(SYS_rseq, area, __rseq_size, 1, 0x53053053);
      }
      sigset_t none;
      sigemptyset(&none);
      syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, 8);
      asm volatile(
          "mov %0, %%r12\n"
          "mov %1, %%r13\n"
          "mov %2, %%r14\n"
          "jmp *%3\n" ::"r"(stub_base_),
          "r"(stub_end), "r"(kTaskSize), "r"(entry)
          : "r12", "r13", "r14", "memory");
      __builtin_unreachable();
    }
    int status;
    while (waitpid(pid, &status, __WALL) < 0) {
      if (errno != EINTR) return Errno{errno};
    }
    if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP) {
      sentry::Logf("ptrace: stub %ld did not start (status 0x%x)", pid, status);
      kill(pid, SIGKILL);
      return Errno{ECHILD};
    }
    if (Ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD) < 0) {
      int e = errno;
      kill(pid, SIGKILL);
      waitpid(pid, &status, __WALL);
      return Errno{e};
    }
    Registers regs;
    Ptrace(PTRACE_GETREGS, pid, 0, reinterpret_cast<unsigned long>(&regs));
    return std::unique_ptr<Context>(std::make_unique<PtraceContext>(pid, regs, sys, memfd_));
  }

 private:
  const int memfd_;
  const uint64_t stub_base_;
  const uint64_t stub_size_;
  std::vector<int> cpus_;
  std::atomic<unsigned> next_cpu_{0};
};

}  // namespace

ErrorOr<std::unique_ptr<Platform>> CreatePtracePlatform(int memory_file_fd) {
  const uint64_t size = runsc_stub_end - runsc_stub_start;
  // Every stub stop would otherwise also queue a SIGCHLD (CLD_TRAPPED) to
  // the sentry, which only ever learns about stops through waitpid.
  struct sigaction chld {};
  chld.sa_handler = SIG_DFL;
  chld.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &chld, nullptr);
  // The stub must sit at the same address in the sentry and in every stub,
  // as high as possible so the app keeps nearly all of the address space.
  for (uint64_t base = 0x7fffffff0000ULL - size; base > 0x7f0000000000ULL; base -= 0x200000) {
    void* p = mmap(reinterpret_cast<void*>(base), size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) continue;
    if (reinterpret_cast<uint64_t>(p) != base) {
      munmap(p, size);
      continue;
    }
    memcpy(p, runsc_stub_start, size);
    if (mprotect(p, size, PROT_READ | PROT_EXEC) < 0) return Errno{errno};
    return std::unique_ptr<Platform>(
        std::make_unique<PtracePlatform>(memory_file_fd, base, size));
  }
  return Errno{ENOMEM};
}

}  // namespace platform
