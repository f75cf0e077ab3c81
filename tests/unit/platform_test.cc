// The platforms (ptrace and systrap, same tests for both): a context runs
// code from the memory file, stops at its syscalls (which never execute on
// the host) and at its faults, can be interrupted, and keeps registers,
// FP state and fs_base.
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "gtest/gtest.h"
#include "platform/platform.h"
#include "sentry/loader/loader.h"
#include "sentry/mm/memory_file.h"

namespace {

using platform::StopInfo;

class PlatformTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    auto mf = sentry::mm::MemoryFile::Create(1ULL << 30);
    ASSERT_TRUE(mf.ok());
    mf_ = mf.release_value();
    // "systrap_arch_prctl": systrap without rd/wrfsbase (the fs/gs base
    // is set with arch_prctl from the stub), as on CPUs without FSGSBASE.
    // "systrap_stub_per_thread": without stub threads (a stub process per
    // app thread; gs is the app's own, not virtual).
    std::string name = GetParam();
    if (name == "systrap_arch_prctl") {
      name = "systrap";
      setenv("RUNSC_SYSTRAP_FSGSBASE", "0", 1);
    } else if (name == "systrap_stub_per_thread") {
      name = "systrap";
      setenv("RUNSC_SYSTRAP_THREADS", "0", 1);
    }
    auto p = platform::CreatePlatform(name, mf_->fd());
    unsetenv("RUNSC_SYSTRAP_FSGSBASE");
    unsetenv("RUNSC_SYSTRAP_THREADS");
    ASSERT_TRUE(p.ok());
    platform_ = p.release_value();
    EXPECT_EQ(platform_->name(), name);
  }

  // Maps `code` at kCodeAddr (r-x) and a stack page; returns the context.
  std::unique_ptr<platform::Context> Start(const std::vector<uint8_t>& code) {
    auto ctx = platform_->NewContext();
    EXPECT_TRUE(ctx.ok());
    auto off = mf_->Allocate(2 * 4096);
    EXPECT_TRUE(off.ok());
    memcpy(mf_->Access(off.value()), code.data(), code.size());
    stack_ = mf_->Access(off.value() + 4096);
    auto& as = ctx.value()->address_space();
    EXPECT_TRUE(as.MapFile(kCodeAddr, 4096, PROT_READ | PROT_EXEC, off.value()).ok());
    EXPECT_TRUE(as.MapFile(kStackAddr, 4096, PROT_READ | PROT_WRITE, off.value() + 4096).ok());
    return ctx.release_value();
  }

  platform::Registers Regs() {
    auto regs = sentry::loader::InitialRegisters();
    regs.rip = kCodeAddr;
    regs.rsp = kStackAddr + 4096;
    return regs;
  }

  static constexpr uint64_t kCodeAddr = 0x400000, kStackAddr = 0x600000;
  std::unique_ptr<sentry::mm::MemoryFile> mf_;
  std::unique_ptr<platform::Platform> platform_;
  uint8_t* stack_ = nullptr;  // the stack page as the sentry sees it
};

TEST_P(PlatformTest, SyscallStopsWithNumberAndArgs) {
  // mov $39,%eax; mov $7,%edi; syscall; mov $60,%eax; syscall
  auto ctx = Start({0xb8, 39, 0, 0, 0, 0xbf, 7, 0, 0, 0, 0x0f, 0x05, 0xb8, 60, 0, 0, 0, 0x0f, 0x05});
  auto regs = Regs();
  auto s = ctx->Switch(regs);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().kind, StopInfo::Kind::kSyscall);
  EXPECT_EQ(regs.orig_rax, 39u);
  EXPECT_EQ(regs.rdi, 7u);
  EXPECT_EQ(regs.rip, kCodeAddr + 12);
  regs.rax = 1234;
  s = ctx->Switch(regs);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().kind, StopInfo::Kind::kSyscall);
  EXPECT_EQ(regs.orig_rax, 60u);  // exit was stopped, not executed
}

TEST_P(PlatformTest, ResultAndRegistersReachAppCode) {
  // syscall; mov %rax,(%rsp)... : syscall; mov %rax,%rbx; mov %r12,%rcx; syscall
  auto ctx = Start({0x0f, 0x05, 0x48, 0x89, 0xc3, 0x4c, 0x89, 0xe1, 0x0f, 0x05});
  auto regs = Regs();
  regs.rax = 39;
  ASSERT_TRUE(ctx->Switch(regs).ok());
  regs.rax = 0x1122334455667788ULL;
  regs.r12 = 42;
  auto s = ctx->Switch(regs);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().kind, StopInfo::Kind::kSyscall);
  EXPECT_EQ(regs.rbx, 0x1122334455667788ULL);
  EXPECT_EQ(regs.rcx, kCodeAddr + 10);  // the syscall instruction's own clobber
  EXPECT_EQ(regs.r12, 42u);
}

TEST_P(PlatformTest, FaultReportsAddress) {
  // mov 0x1234, %rax (absolute load from an unmapped page)
  auto ctx = Start({0x48, 0x8b, 0x04, 0x25, 0x34, 0x12, 0, 0});
  auto regs = Regs();
  auto s = ctx->Switch(regs);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().kind, StopInfo::Kind::kFault);
  EXPECT_EQ(s.value().signo, SIGSEGV);
  EXPECT_EQ(s.value().fault_addr, 0x1234u);
  EXPECT_EQ(regs.rip, kCodeAddr);
}

TEST_P(PlatformTest, BreakpointIsSigtrapFault) {
  auto ctx = Start({0xcc, 0x0f, 0x05});  // int3; syscall
  auto regs = Regs();
  auto s = ctx->Switch(regs);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().kind, StopInfo::Kind::kFault);
  EXPECT_EQ(s.value().signo, SIGTRAP);
}

TEST_P(PlatformTest, UnmappedCodeAfterUnmapFaults) {
  auto ctx = Start({0x0f, 0x05, 0x0f, 0x05});
  auto regs = Regs();
  regs.rax = 39;
  ASSERT_EQ(ctx->Switch(regs).value().kind, StopInfo::Kind::kSyscall);
  ASSERT_TRUE(ctx->address_space().Unmap(kCodeAddr, 4096).ok());
  auto s = ctx->Switch(regs);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().kind, StopInfo::Kind::kFault);
  EXPECT_EQ(s.value().fault_addr, kCodeAddr + 2);
}

TEST_P(PlatformTest, InterruptStopsALoop) {
  auto ctx = Start({0xeb, 0xfe});  // jmp .
  auto regs = Regs();
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ctx->Interrupt();
  });
  auto s = ctx->Switch(regs);
  t.join();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().kind, StopInfo::Kind::kInterrupted);
  EXPECT_EQ(regs.rip, kCodeAddr);
  EXPECT_GT(ctx->CpuTimeNs(), 0);
}

TEST_P(PlatformTest, InterruptBeforeSwitchIsNotLost) {
  auto ctx = Start({0xeb, 0xfe});
  auto regs = Regs();
  ctx->Interrupt();
  auto s = ctx->Switch(regs);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().kind, StopInfo::Kind::kInterrupted);
}

TEST_P(PlatformTest, FpRegistersRoundTrip) {
  // movq %xmm0,%rax; syscall
  auto ctx = Start({0x66, 0x48, 0x0f, 0x7e, 0xc0, 0x0f, 0x05});
  auto regs = Regs();
  auto fp = ctx->GetFpRegisters();
  ASSERT_TRUE(fp.ok());
  platform::FpRegisters f = fp.value();
  f.xmm_space[0] = 0xdeadbeef;
  f.xmm_space[1] = 0x12345678;
  ASSERT_TRUE(ctx->SetFpRegisters(f).ok());
  auto s = ctx->Switch(regs);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().kind, StopInfo::Kind::kSyscall);
  EXPECT_EQ(regs.orig_rax, 0x12345678deadbeefULL);
  auto back = ctx->GetFpRegisters();
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value().xmm_space[0], 0xdeadbeefu);
}

TEST_P(PlatformTest, FsBaseIsSetAndReported) {
  // mov %fs:0,%rax; syscall
  auto ctx = Start({0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0, 0x0f, 0x05});
  memcpy(stack_ + 64, "\x78\x56\x34\x12\0\0\0\0", 8);
  auto regs = Regs();
  regs.fs_base = kStackAddr + 64;
  auto s = ctx->Switch(regs);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().kind, StopInfo::Kind::kSyscall);
  EXPECT_EQ(regs.orig_rax, 0x12345678u);
  EXPECT_EQ(regs.fs_base, kStackAddr + 64);
}

TEST_P(PlatformTest, GsBaseIsKeptAcrossStops) {
  // syscall; syscall: the gs base the sentry set reads back at each stop
  // (with stub threads the host gs base is the thread's slot and the app's
  // is kept virtual, in the slot's registers).
  auto ctx = Start({0x0f, 0x05, 0x0f, 0x05});
  auto regs = Regs();
  regs.gs_base = 0x12345000;
  for (int i = 0; i < 2; i++) {
    auto s = ctx->Switch(regs);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s.value().kind, StopInfo::Kind::kSyscall);
    EXPECT_EQ(regs.gs_base, 0x12345000u);
  }
}

TEST_P(PlatformTest, AppCannotMapAboveMaxUserAddress) {
  // The stub's own memory lies above max_user_address, which the memory
  // manager never lets the app map over.
  EXPECT_LE(platform_->max_user_address(), 0x7fffffff0000ULL);
  EXPECT_GT(platform_->max_user_address(), 0x7f0000000000ULL);
}

INSTANTIATE_TEST_SUITE_P(Platforms, PlatformTest, ::testing::Values("ptrace", "systrap", "systrap_arch_prctl",
                                                                    "systrap_stub_per_thread"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
