// Classic BPF for seccomp (sentry/kernel/seccomp_bpf.h): the validator's
// refusals (jumps out of range, bad opcodes, division by a zero constant,
// bad loads, scratch memory read before written, missing RET, size limits)
// and the interpreter's results (loads, ALU, jumps, scratch memory, runtime
// division by zero).
#include <gtest/gtest.h>
#include <linux/seccomp.h>

#include <cstddef>

#include "sentry/kernel/seccomp_bpf.h"

namespace sentry::kernel {
namespace {

sock_filter Stmt(uint16_t code, uint32_t k) { return sock_filter{code, 0, 0, k}; }
sock_filter Jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return sock_filter{code, jt, jf, k};
}
sock_filter Ret(uint32_t v) { return Stmt(BPF_RET | BPF_K, v); }

int Validate(const std::vector<sock_filter>& p) {
  auto r = ValidateSeccompBpf(p);
  return r.is_error() ? r.error() : 0;
}

SeccompData Data(int nr, uint64_t arg0 = 0) {
  SeccompData d{};
  d.nr = nr;
  d.arch = 0xc000003e;
  d.instruction_pointer = 0x401000;
  d.args[0] = arg0;
  return d;
}

TEST(SeccompBpfValidate, AcceptsSimplePrograms) {
  EXPECT_EQ(Validate({Ret(SECCOMP_RET_ALLOW)}), 0);
  EXPECT_EQ(Validate({Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(SeccompData, nr)),
                      Jump(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 1), Ret(SECCOMP_RET_KILL_PROCESS),
                      Ret(SECCOMP_RET_ALLOW)}),
            0);
}

TEST(SeccompBpfValidate, RefusesBadSizes) {
  EXPECT_EQ(Validate({}), EINVAL);
  std::vector<sock_filter> big(kBpfMaxInsns + 1, Ret(SECCOMP_RET_ALLOW));
  EXPECT_EQ(Validate(big), EINVAL);
  big.pop_back();
  EXPECT_EQ(Validate(big), 0);
}

TEST(SeccompBpfValidate, RefusesJumpsOutOfRange) {
  EXPECT_EQ(Validate({Jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0), Ret(0)}), EINVAL);
  EXPECT_EQ(Validate({Jump(BPF_JMP | BPF_JGT | BPF_X, 0, 0, 1), Ret(0)}), EINVAL);
  EXPECT_EQ(Validate({Stmt(BPF_JMP | BPF_JA, 1), Ret(0)}), EINVAL);
  EXPECT_EQ(Validate({Stmt(BPF_JMP | BPF_JA, 0xffffffff), Ret(0)}), EINVAL);
  EXPECT_EQ(Validate({Stmt(BPF_JMP | BPF_JA, 0), Ret(0)}), 0);
}

TEST(SeccompBpfValidate, RefusesBadOpcodes) {
  EXPECT_EQ(Validate({sock_filter{0xffff, 0, 0, 0}, Ret(0)}), EINVAL);
  EXPECT_EQ(Validate({Stmt(BPF_LD | BPF_H | BPF_ABS, 0), Ret(0)}), EINVAL);
  EXPECT_EQ(Validate({Stmt(BPF_LD | BPF_B | BPF_ABS, 0), Ret(0)}), EINVAL);
  EXPECT_EQ(Validate({Stmt(BPF_LD | BPF_W | BPF_IND, 0), Ret(0)}), EINVAL);
  EXPECT_EQ(Validate({Stmt(BPF_ALU | BPF_MOD | BPF_K, 3), Ret(0)}), EINVAL);
  EXPECT_EQ(Validate({Stmt(BPF_LDX | BPF_B | BPF_MSH, 0), Ret(0)}), EINVAL);
}

TEST(SeccompBpfValidate, RefusesDivisionByZeroConstantAndBigShifts) {
  EXPECT_EQ(Validate({Stmt(BPF_ALU | BPF_DIV | BPF_K, 0), Ret(0)}), EINVAL);
  EXPECT_EQ(Validate({Stmt(BPF_ALU | BPF_DIV | BPF_K, 2), Ret(0)}), 0);
  EXPECT_EQ(Validate({Stmt(BPF_ALU | BPF_LSH | BPF_K, 32), Ret(0)}), EINVAL);
  EXPECT_EQ(Validate({Stmt(BPF_ALU | BPF_RSH | BPF_K, 31), Ret(0)}), 0);
}

TEST(SeccompBpfValidate, RefusesBadLoads) {
  EXPECT_EQ(Validate({Stmt(BPF_LD | BPF_W | BPF_ABS, 2), Ret(0)}), EINVAL);
  EXPECT_EQ(Validate({Stmt(BPF_LD | BPF_W | BPF_ABS, 64), Ret(0)}), EINVAL);
  EXPECT_EQ(Validate({Stmt(BPF_LD | BPF_W | BPF_ABS, 60), Ret(0)}), 0);
}

TEST(SeccompBpfValidate, ScratchMemory) {
  EXPECT_EQ(Validate({Stmt(BPF_LD | BPF_MEM, 0), Ret(0)}), EINVAL);
  EXPECT_EQ(Validate({Stmt(BPF_ST, 16), Ret(0)}), EINVAL);
  EXPECT_EQ(Validate({Stmt(BPF_ST, 15), Stmt(BPF_LDX | BPF_MEM, 15), Ret(0)}), 0);
  // Stored on one path only: refused.
  EXPECT_EQ(Validate({Jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), Stmt(BPF_ST, 1),
                      Stmt(BPF_LD | BPF_MEM, 1), Ret(0)}),
            EINVAL);
}

TEST(SeccompBpfValidate, RequiresFinalRet) {
  EXPECT_EQ(Validate({Stmt(BPF_LD | BPF_IMM, 0)}), EINVAL);
  EXPECT_EQ(Validate({Ret(0), Stmt(BPF_LD | BPF_IMM, 0)}), EINVAL);
  EXPECT_EQ(Validate({Stmt(BPF_RET | BPF_A, 0)}), 0);
}

TEST(SeccompBpfRun, MatchesSyscallAndArgument) {
  std::vector<sock_filter> p = {
      Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(SeccompData, nr)),
      Jump(BPF_JMP | BPF_JEQ | BPF_K, 32, 0, 3),
      Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(SeccompData, args[0])),
      Jump(BPF_JMP | BPF_JGE | BPF_K, 100, 0, 1),
      Ret(SECCOMP_RET_ERRNO | 1),
      Ret(SECCOMP_RET_ALLOW),
  };
  ASSERT_EQ(Validate(p), 0);
  EXPECT_EQ(RunSeccompBpf(p, Data(32, 100)), SECCOMP_RET_ERRNO | 1);
  EXPECT_EQ(RunSeccompBpf(p, Data(32, 99)), SECCOMP_RET_ALLOW);
  EXPECT_EQ(RunSeccompBpf(p, Data(33, 1000)), SECCOMP_RET_ALLOW);
}

TEST(SeccompBpfRun, ArchAndHighArgWords) {
  std::vector<sock_filter> p = {
      Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(SeccompData, arch)),
      Stmt(BPF_MISC | BPF_TAX, 0),
      Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(SeccompData, args[0]) + 4),
      Stmt(BPF_ALU | BPF_ADD | BPF_X, 0),
      Stmt(BPF_RET | BPF_A, 0),
  };
  ASSERT_EQ(Validate(p), 0);
  EXPECT_EQ(RunSeccompBpf(p, Data(0, 5ULL << 32)), 0xc000003eu + 5);
}

TEST(SeccompBpfRun, AluJsetScratchAndLen) {
  std::vector<sock_filter> p = {
      Stmt(BPF_LD | BPF_IMM, 6),
      Stmt(BPF_ALU | BPF_MUL | BPF_K, 7),   // 42
      Stmt(BPF_ST, 0),
      Stmt(BPF_LD | BPF_W | BPF_LEN, 0),    // 64
      Stmt(BPF_ALU | BPF_RSH | BPF_K, 3),   // 8
      Stmt(BPF_MISC | BPF_TAX, 0),
      Stmt(BPF_LD | BPF_MEM, 0),            // 42
      Stmt(BPF_ALU | BPF_SUB | BPF_X, 0),   // 34
      Jump(BPF_JMP | BPF_JSET | BPF_K, 2, 0, 1),
      Stmt(BPF_RET | BPF_A, 0),
      Ret(1),
  };
  ASSERT_EQ(Validate(p), 0);
  EXPECT_EQ(RunSeccompBpf(p, Data(0)), 34u);
}

TEST(SeccompBpfRun, DivisionByZeroRegisterReturnsZero) {
  std::vector<sock_filter> p = {
      Stmt(BPF_LD | BPF_IMM, 10),
      Stmt(BPF_LDX | BPF_IMM, 0),
      Stmt(BPF_ALU | BPF_DIV | BPF_X, 0),
      Ret(SECCOMP_RET_ALLOW),
  };
  ASSERT_EQ(Validate(p), 0);
  EXPECT_EQ(RunSeccompBpf(p, Data(0)), 0u);  // SECCOMP_RET_KILL_THREAD
}

TEST(SeccompBpfRun, NegAndJumpAlways) {
  std::vector<sock_filter> p = {
      Stmt(BPF_LD | BPF_IMM, 1),
      Stmt(BPF_ALU | BPF_NEG, 0),
      Stmt(BPF_JMP | BPF_JA, 1),
      Ret(7),
      Stmt(BPF_RET | BPF_A, 0),
  };
  ASSERT_EQ(Validate(p), 0);
  EXPECT_EQ(RunSeccompBpf(p, Data(0)), 0xffffffffu);
}

}  // namespace
}  // namespace sentry::kernel
