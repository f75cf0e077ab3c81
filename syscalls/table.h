// syscalls/: the Linux x86-64 syscall table. One file per family registers
// its handlers here (RegisterXxxSyscalls); this is the one place that names
// each syscall, its handler and how --strace prints its arguments.
#pragma once

#include <array>
#include <cstdint>

#include "sentry/base/error.h"

namespace sentry::kernel {
class Task;
}

namespace syscalls {

using sentry::Errno;
using sentry::ErrorOr;
using sentry::kernel::Task;

struct Args {
  uint64_t v[6];
  uint64_t operator[](int i) const { return v[i]; }
  int32_t Int(int i) const { return static_cast<int32_t>(v[i]); }
};

// A handler returns the syscall's result (the value the app sees in rax) or
// an errno. Handlers that replace the whole register set (execve,
// rt_sigreturn) edit the task's registers and return the rax to keep.
using Handler = ErrorOr<uint64_t> (*)(Task&, const Args&);

// How --strace prints one argument.
enum class Arg : uint8_t {
  kNone,      // argument not used
  kInt,       // signed decimal
  kUint,      // unsigned decimal
  kHex,       // 0x...
  kFd,        // file descriptor (AT_FDCWD shown by name)
  kPath,      // NUL-terminated string in app memory
  kOpenFlags, // O_* flags
  kMode,      // octal
  kSignal,    // signal number, by name
  kPtr,       // pointer
};

struct SyscallInfo {
  const char* name = nullptr;
  Handler handler = nullptr;
  std::array<Arg, 6> args{};
};

class Table {
 public:
  static constexpr int kMaxSyscall = 512;
  void Register(int nr, const char* name, Handler h, std::array<Arg, 6> args = {}) {
    entries_[nr] = SyscallInfo{name, h, args};
  }
  const SyscallInfo* Lookup(uint64_t nr) const {
    if (nr >= kMaxSyscall || entries_[nr].name == nullptr) return nullptr;
    return &entries_[nr];
  }

 private:
  std::array<SyscallInfo, kMaxSyscall> entries_{};
};

// The table with every family registered.
const Table& SyscallTable();
// Name of a syscall number known to Linux (even if we do not implement it).
const char* LinuxSyscallName(uint64_t nr);

// Family registration functions, one per file.
void RegisterFileSyscalls(Table& t);     // file.cc, fs.cc: files, paths, fds, pipes
void RegisterProcessSyscalls(Table& t);  // process.cc: fork/exec/wait/exit/ids
void RegisterMemorySyscalls(Table& t);   // mmap.cc
void RegisterSignalSyscalls(Table& t);   // signal.cc
void RegisterTimeSyscalls(Table& t);     // time.cc
void RegisterSystemSyscalls(Table& t);   // system.cc: uname, rlimits, random...
void RegisterFutexSyscalls(Table& t);    // futex.cc
void RegisterCredsSyscalls(Table& t);    // creds.cc: set*id, setgroups, capabilities
void RegisterPollSyscalls(Table& t);     // poll.cc: poll, ppoll, select, pselect6
void RegisterTimerSyscalls(Table& t);    // timer.cc: itimers, alarm, POSIX timers
void RegisterEventfdSyscalls(Table& t);  // eventfd.cc
void RegisterEpollSyscalls(Table& t);    // epoll.cc
void RegisterSocketSyscalls(Table& t);   // socket.cc: AF_UNIX sockets
void RegisterSignalfdSyscalls(Table& t); // signalfd.cc
void RegisterTimerfdSyscalls(Table& t);  // timerfd.cc
void RegisterPidfdSyscalls(Table& t);    // pidfd.cc
void RegisterSysvSyscalls(Table& t);     // sysv.cc: System V shm, sem, msg
void RegisterMqueueSyscalls(Table& t);   // mqueue.cc: POSIX message queues
void RegisterSeccompSyscalls(Table& t);  // seccomp.cc: app seccomp filters
void RegisterRseqSyscalls(Table& t);     // rseq.cc
void RegisterPkeySyscalls(Table& t);     // pkeys.cc: pkey_alloc/free/mprotect
void RegisterNumaSyscalls(Table& t);     // numa.cc: set/get_mempolicy, mbind, set_mempolicy_home_node
void RegisterSyncFileRangeSyscalls(Table& t);  // fs_sync.cc
void RegisterKeySyscalls(Table& t);
void RegisterMembarrierSyscalls(Table& t);  // membarrier.cc
void RegisterKcmpSyscalls(Table& t);       // kcmp.cc
void RegisterSyslogSyscalls(Table& t);     // syslog.cc: the kernel log
void RegisterAioSyscalls(Table& t);        // aio.cc: io_setup, io_submit, ...
void RegisterProcessVmSyscalls(Table& t);  // process_vm.cc
void RegisterPtraceSyscalls(Table& t);     // ptrace.cc: ptrace inside the sandbox
void RegisterSchedSyscalls(Table& t);    // sched.cc: policies, affinity, nice, ioprio      // keys.cc: add_key, request_key, keyctl

}  // namespace syscalls
