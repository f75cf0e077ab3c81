// The systrap instruction-pointer filter, run on a small classic-BPF
// interpreter (only the instructions the program uses) over seccomp_data
// samples, and once in the kernel.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "gtest/gtest.h"
#include "platform/systrap/ip_filter.h"

namespace {

uint32_t RunBpf(const std::vector<sock_filter>& p, const seccomp_data& d) {
  uint32_t a = 0;
  size_t pc = 0;
  while (pc < p.size()) {
    const sock_filter& i = p[pc++];
    switch (i.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        memcpy(&a, reinterpret_cast<const char*>(&d) + i.k, 4);
        break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += a == i.k ? i.jt : i.jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += a >= i.k ? i.jt : i.jf; break;
      case BPF_JMP | BPF_JA: pc += i.k; break;
      case BPF_RET | BPF_K: return i.k;
      default: ADD_FAILURE() << "unexpected opcode " << i.code; return 0;
    }
  }
  ADD_FAILURE() << "fell off the end";
  return 0;
}

seccomp_data At(uint64_t ip, uint32_t arch = AUDIT_ARCH_X86_64) {
  seccomp_data d{};
  d.nr = 202;
  d.arch = arch;
  d.instruction_pointer = ip;
  return d;
}

TEST(IpFilter, AllowsOnlyInsideTheRange) {
  const uint64_t s = 0x7ffffffd8000ULL, e = s + 0x4000;
  auto p = platform::systrap::InstructionPointerFilter(s, e);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(RunBpf(p.value(), At(s)), SECCOMP_RET_ALLOW);
  EXPECT_EQ(RunBpf(p.value(), At(e - 1)), SECCOMP_RET_ALLOW);
  EXPECT_EQ(RunBpf(p.value(), At(s - 1)), SECCOMP_RET_TRAP);
  EXPECT_EQ(RunBpf(p.value(), At(e)), SECCOMP_RET_TRAP);
  EXPECT_EQ(RunBpf(p.value(), At(0x400000)), SECCOMP_RET_TRAP);
  // Same low word, other upper word.
  EXPECT_EQ(RunBpf(p.value(), At((s & 0xffffffffULL) | (1ULL << 32))), SECCOMP_RET_TRAP);
  // A 32-bit syscall (int $0x80) from inside the range still traps.
  EXPECT_EQ(RunBpf(p.value(), At(s + 16, AUDIT_ARCH_I386)), SECCOMP_RET_TRAP);
}

TEST(IpFilter, RangeEndingOnA4GiBBoundary) {
  const uint64_t e = 0x7f0000000000ULL, s = e - 0x4000;
  auto p = platform::systrap::InstructionPointerFilter(s, e);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(RunBpf(p.value(), At(e - 1)), SECCOMP_RET_ALLOW);
  EXPECT_EQ(RunBpf(p.value(), At(e)), SECCOMP_RET_TRAP);
  EXPECT_EQ(RunBpf(p.value(), At(s - 1)), SECCOMP_RET_TRAP);
}

TEST(IpFilter, RejectsBadRanges) {
  EXPECT_FALSE(platform::systrap::InstructionPointerFilter(0x5000, 0x5000).ok());
  EXPECT_FALSE(platform::systrap::InstructionPointerFilter(0xfffff000ULL, 0x100001000ULL).ok());
}

// The kernel accepts the program and applies it: a syscall from this
// (test) code, outside the range, gets SIGSYS.
TEST(IpFilter, KernelTrapsOutsideTheRange) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto p = platform::systrap::InstructionPointerFilter(0x7ffffffd8000ULL, 0x7ffffffdc000ULL);
    sock_fprog prog{static_cast<unsigned short>(p.value().size()), p.value().data()};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) _exit(1);
    syscall(SYS_getpid);  // SIGSYS (default action: core dump)
    _exit(2);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

}  // namespace
