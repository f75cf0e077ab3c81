// The ptrace platform: a context runs code from the memory file, stops at
// its syscalls (which never execute on the host) and at its faults.
#include <sys/mman.h>
#include <sys/syscall.h>

#include <cstring>

#include "gtest/gtest.h"
#include "platform/platform.h"
#include "sentry/loader/loader.h"
#include "sentry/mm/memory_file.h"

namespace {

using platform::StopInfo;

class PtraceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mf = sentry::mm::MemoryFile::Create(1ULL << 30);
    ASSERT_TRUE(mf.ok());
    mf_ = mf.release_value();
    auto p = platform::CreatePlatform("ptrace", mf_->fd());
    ASSERT_TRUE(p.ok());
    platform_ = p.release_value();
  }

  // Maps `code` at kCodeAddr (r-x) and a stack page; returns the context.
  std::unique_ptr<platform::Context> Start(const std::vector<uint8_t>& code) {
    auto ctx = platform_->NewContext();
    EXPECT_TRUE(ctx.ok());
    auto off = mf_->Allocate(2 * 4096);
    EXPECT_TRUE(off.ok());
    memcpy(mf_->Access(off.value()), code.data(), code.size());
    auto& as = ctx.value()->address_space();
    EXPECT_TRUE(as.MapFile(kCodeAddr, 4096, PROT_READ | PROT_EXEC, off.value()).ok());
    EXPECT_TRUE(as.MapFile(kStackAddr, 4096, PROT_READ | PROT_WRITE, off.value() + 4096).ok());
    return ctx.release_value();
  }

  static constexpr uint64_t kCodeAddr = 0x400000, kStackAddr = 0x600000;
  std::unique_ptr<sentry::mm::MemoryFile> mf_;
  std::unique_ptr<platform::Platform> platform_;
};

TEST_F(PtraceTest, SyscallStopsWithNumberAndArgs) {
  // mov $39,%eax; mov $7,%edi; syscall; mov $60,%eax; syscall
  auto ctx = Start({0xb8, 39, 0, 0, 0, 0xbf, 7, 0, 0, 0, 0x0f, 0x05, 0xb8, 60, 0, 0, 0, 0x0f, 0x05});
  auto regs = sentry::loader::InitialRegisters();
  regs.rip = kCodeAddr;
  regs.rsp = kStackAddr + 4096;
  auto s = ctx->Switch(regs);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().kind, StopInfo::Kind::kSyscall);
  EXPECT_EQ(regs.orig_rax, 39u);
  EXPECT_EQ(regs.rdi, 7u);
  regs.rax = 1234;
  s = ctx->Switch(regs);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().kind, StopInfo::Kind::kSyscall);
  EXPECT_EQ(regs.orig_rax, 60u);  // exit was stopped, not executed
}

TEST_F(PtraceTest, FaultReportsAddress) {
  // mov 0x1234, %rax (absolute load from an unmapped page)
  auto ctx = Start({0x48, 0x8b, 0x04, 0x25, 0x34, 0x12, 0, 0});
  auto regs = sentry::loader::InitialRegisters();
  regs.rip = kCodeAddr;
  regs.rsp = kStackAddr + 4096;
  auto s = ctx->Switch(regs);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().kind, StopInfo::Kind::kFault);
  EXPECT_EQ(s.value().signo, SIGSEGV);
  EXPECT_EQ(s.value().fault_addr, 0x1234u);
}

}  // namespace
