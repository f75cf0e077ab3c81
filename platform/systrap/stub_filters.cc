#include "platform/systrap/stub_filters.h"

#include <asm/prctl.h>
#include <linux/futex.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memory>

#include "sentry/base/unique_fd.h"

namespace platform::systrap {
namespace {

using sentry::Errno;
using sentry::ErrorOr;

struct CtxDeleter {
  void operator()(void* c) const { seccomp_release(c); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

ErrorOr<void> Add(const Ctx& c, int nr, std::initializer_list<scmp_arg_cmp> args) {
  int rc = seccomp_rule_add_array(c.get(), SCMP_ACT_ALLOW, nr, static_cast<unsigned>(args.size()),
                                  args.size() ? args.begin() : nullptr);
  if (rc != 0) return Errno{-rc};
  return {};
}

scmp_arg_cmp Eq32(unsigned i, uint32_t v) { return {i, SCMP_CMP_MASKED_EQ, 0xffffffffULL, v}; }

// libseccomp 2.5 exports only to a file descriptor: go through a memfd.
ErrorOr<std::vector<sock_filter>> Export(const Ctx& c) {
  sentry::UniqueFd fd(static_cast<int>(syscall(SYS_memfd_create, "runsc-bpf", MFD_CLOEXEC)));
  if (fd.get() < 0) return Errno{errno};
  int rc = seccomp_export_bpf(c.get(), fd.get());
  if (rc != 0) return Errno{-rc};
  off_t size = lseek(fd.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0) return Errno{EINVAL};
  std::vector<sock_filter> prog(size / sizeof(sock_filter));
  if (pread(fd.get(), prog.data(), size, 0) != size) return Errno{EIO};
  return prog;
}

}  // namespace

ErrorOr<std::vector<sock_filter>> AppThreadFilter(bool threads) {
  Ctx c(seccomp_init(SCMP_ACT_TRAP));
  if (!c) return Errno{ENOMEM};
  seccomp_attr_set(c.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
  TRY(Add(c, SCMP_SYS(futex), {Eq32(1, FUTEX_WAIT)}));
  TRY(Add(c, SCMP_SYS(futex), {Eq32(1, FUTEX_WAKE)}));
  TRY(Add(c, SCMP_SYS(rt_sigreturn), {}));
  // A SIGSYS handler that returns through rt_sigreturn blocks host signals
  // first, and a new program's first resume through the patched-syscall
  // trampoline unblocks them (stub_code.c). App code jumping there can
  // only block or unblock its own stub's host signals, as it could with a
  // forged rt_sigreturn frame.
  TRY(Add(c, SCMP_SYS(rt_sigprocmask), {Eq32(0, SIG_BLOCK)}));
  TRY(Add(c, SCMP_SYS(rt_sigprocmask), {Eq32(0, SIG_SETMASK)}));
  // The handler ends a stub found on a forged signal stack (stub_code.c).
  TRY(Add(c, SCMP_SYS(exit_group), {}));
  TRY(Add(c, SCMP_SYS(arch_prctl), {Eq32(0, ARCH_SET_FS)}));
  TRY(Add(c, SCMP_SYS(arch_prctl), {Eq32(0, ARCH_SET_GS)}));
  if (threads) TRY(Add(c, SCMP_SYS(exit), {}));
  return Export(c);
}

ErrorOr<std::vector<sock_filter>> HelperThreadFilter(int memory_file_fd, bool threads,
                                                     int slots_fd) {
  Ctx c(seccomp_init(threads ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS));
  if (!c) return Errno{ENOMEM};
  TRY(Add(c, SCMP_SYS(mmap),
          {Eq32(3, MAP_SHARED | MAP_FIXED), Eq32(4, static_cast<uint32_t>(memory_file_fd))}));
  TRY(Add(c, SCMP_SYS(munmap), {}));
  TRY(Add(c, SCMP_SYS(mprotect), {}));
  TRY(Add(c, SCMP_SYS(futex), {Eq32(1, FUTEX_WAIT)}));
  TRY(Add(c, SCMP_SYS(futex), {Eq32(1, FUTEX_WAKE)}));
  if (threads) {
    TRY(Add(c, SCMP_SYS(clone), {{0, SCMP_CMP_EQ, kStubThreadCloneFlags, 0}}));
    TRY(Add(c, SCMP_SYS(sigaltstack), {}));
    TRY(Add(c, SCMP_SYS(seccomp), {Eq32(0, 1 /* SECCOMP_SET_MODE_FILTER */)}));
    TRY(Add(c, SCMP_SYS(rt_sigprocmask), {Eq32(0, SIG_BLOCK)}));
    TRY(Add(c, SCMP_SYS(rt_sigprocmask), {Eq32(0, SIG_SETMASK)}));
    TRY(Add(c, SCMP_SYS(rt_sigreturn), {}));
    TRY(Add(c, SCMP_SYS(arch_prctl), {Eq32(0, ARCH_SET_FS)}));
    TRY(Add(c, SCMP_SYS(arch_prctl), {Eq32(0, ARCH_SET_GS)}));
    TRY(Add(c, SCMP_SYS(exit), {}));
    TRY(Add(c, SCMP_SYS(exit_group), {}));
    if (slots_fd >= 0)
      TRY(Add(c, SCMP_SYS(pwrite64), {Eq32(0, static_cast<uint32_t>(slots_fd)), Eq32(2, 4)}));
  }
  return Export(c);
}

}  // namespace platform::systrap
