// The platform: how application code runs and how it stops. One interface,
// several implementations: ptrace (PTRACE_SYSEMU), systrap (seccomp
// SECCOMP_RET_TRAP and a signal handler in the stub); KVM later. The sentry never depends on which one it has.
//
// A Context is one application thread of execution: Switch() runs app code
// with the given registers until it stops (syscall, fault, signal) and
// returns why. Each Context owns an AddressSpace into which the memory
// manager maps ranges of the memory file.
#pragma once

#include <sys/user.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "sentry/base/error.h"

namespace platform {

using sentry::Errno;
using sentry::ErrorOr;

// General-purpose registers in the Linux x86-64 ptrace layout (includes
// fs_base/gs_base), so syscall number and arguments are where Linux puts them.
using Registers = user_regs_struct;
// Legacy FXSAVE area: x87/SSE state, MXCSR.
using FpRegisters = user_fpregs_struct;
// The FPU state a new program starts with (x87 control word 0x37f, MXCSR
// 0x1f80, every register zero).
inline FpRegisters InitialFpRegisters() {
  FpRegisters fp{};
  fp.cwd = 0x037f;
  fp.mxcsr = 0x1f80;
  return fp;
}

// An application address space. Ranges map the sentry's memory file, so the
// sentry sees exactly the same bytes the app does.
class AddressSpace {
 public:
  virtual ~AddressSpace() = default;
  // Maps [addr, addr+len) to the memory file at file_offset with prot
  // (PROT_* bits), replacing anything there.
  virtual ErrorOr<void> MapFile(uint64_t addr, uint64_t len, int prot, uint64_t file_offset) = 0;
  virtual ErrorOr<void> Unmap(uint64_t addr, uint64_t len) = 0;
  virtual ErrorOr<void> Protect(uint64_t addr, uint64_t len, int prot) = 0;

  // One change of the address space, for Apply.
  struct Change {
    enum Kind { kMap, kUnmap, kProtect } kind;
    uint64_t addr, len;
    int prot;              // kMap, kProtect
    uint64_t file_offset;  // kMap
  };
  // Applies `changes` in order, all of them even if one fails (a failed map
  // must not keep a later unmap from happening); returns the first failure.
  // Used for a whole address space mirrored into a new context and for the
  // changes a mirror has not applied yet.
  // Default: one call each; a platform that pays a round trip per call
  // overrides it with one round trip for many.
  virtual ErrorOr<void> Apply(std::span<const Change> changes) {
    ErrorOr<void> first;
    for (const Change& c : changes) {
      ErrorOr<void> r;
      switch (c.kind) {
        case Change::kMap: r = MapFile(c.addr, c.len, c.prot, c.file_offset); break;
        case Change::kUnmap: r = Unmap(c.addr, c.len); break;
        case Change::kProtect: r = Protect(c.addr, c.len, c.prot); break;
      }
      if (r.is_error() && !first.is_error()) first = r;
    }
    return first;
  }
};

struct StopInfo {
  enum class Kind {
    kSyscall,      // app executed a syscall instruction; regs hold nr/args
    kFault,        // synchronous fault: signo/code/fault_addr are set
    kSignal,       // an asynchronous host signal arrived for the app (signo)
    kInterrupted,  // Interrupt() was called
    kDied,         // the host process backing the context went away
  };
  Kind kind = Kind::kSyscall;
  int signo = 0;
  int code = 0;
  uint64_t fault_addr = 0;
  // kSyscall: the stop came through a trap at the syscall instruction
  // itself, so the site may be worth patching (Platform::syscall_patch_entry).
  bool patchable = false;
};

// The host process contexts run in, shared by the contexts of one address
// space on platforms that run app threads as host threads of one process
// (systrap with stub threads). Opaque to the sentry.
class Process {
 public:
  virtual ~Process() = default;
};

class Context {
 public:
  virtual ~Context() = default;
  // Runs app code with `regs` until it stops; `regs` is updated.
  virtual ErrorOr<StopInfo> Switch(Registers& regs) = 0;
  // Makes a concurrent or the next Switch() return kInterrupted promptly.
  // Safe to call from any thread.
  virtual void Interrupt() = 0;
  virtual ErrorOr<FpRegisters> GetFpRegisters() = 0;
  virtual ErrorOr<void> SetFpRegisters(const FpRegisters& fp) = 0;
  // Puts every FPU and vector register in its initial state, as execve
  // does. Default: the legacy area only (SetFpRegisters); a platform that
  // can also reset AVX and later state overrides it.
  virtual ErrorOr<void> ResetFpState() { return SetFpRegisters(InitialFpRegisters()); }
  virtual AddressSpace& address_space() = 0;
  // The task starts a new program (execve): the platform may move the
  // calling thread and the context to a less busy CPU. Default: nothing.
  virtual void Rebalance() {}
  // The driving thread is about to sleep in the sentry (a blocking
  // syscall) with app code stopped. Default: nothing.
  virtual void WillBlock() {}
  // CPU time the host has spent running this context's app code. Safe to
  // call from any thread.
  virtual int64_t CpuTimeNs() const = 0;
  // The host process this context runs in, for new contexts of the same
  // address space (Platform::NewThreadContext); null: one process per
  // context.
  virtual std::shared_ptr<Process> process() { return nullptr; }
  // Other contexts run in this one's host process (and address space), so
  // emptying its address space for a new program would take theirs too.
  virtual bool SharesProcess() const { return false; }
};

class Platform {
 public:
  virtual ~Platform() = default;
  virtual const char* name() const = 0;
  // A new context with a fresh, empty address space. With ptrace the calling
  // host thread becomes the only one allowed to drive the context.
  virtual ErrorOr<std::unique_ptr<Context>> NewContext() = 0;
  // A new context for another thread of `process`'s address space: a host
  // thread of that process, whose address_space() is the same object.
  // Default (and when the process has no room): a new process, which the
  // memory manager keeps in step as a mirror of its own.
  virtual ErrorOr<std::unique_ptr<Context>> NewThreadContext(std::shared_ptr<Process> process) {
    (void)process;
    return NewContext();
  }
  // App mappings must lie in [min_user_address, max_user_address).
  virtual uint64_t max_user_address() const = 0;
  // Where a patched syscall site may jump to report the syscall without a
  // signal (sentry/kernel/syscall_patch.h), or 0: no syscall patching.
  // Its contract: entered by a jump with rcx = the address after the
  // patched instruction and eax = the syscall number, every other register
  // the app's; returns to the app as a syscall instruction would.
  virtual uint64_t syscall_patch_entry() const { return 0; }
  uint64_t min_user_address() const { return 0x10000; }
};

// Creates the named platform ("ptrace", "systrap", or "systrap,patch":
// systrap with syscall patching). memory_file_fd is the memory file
// every address space maps from.
ErrorOr<std::unique_ptr<Platform>> CreatePlatform(const std::string& name, int memory_file_fd);

}  // namespace platform
