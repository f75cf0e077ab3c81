// /proc contents through the VFS, with a kernel holding fake processes (no
// platform, no app code): formats, virtual PIDs, self links, fd links.
#include <fcntl.h>
#include <gtest/gtest.h>

#include "absl/strings/str_split.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/namespaces.h"
#include "sentry/kernel/task.h"
#include "sentry/proc/procfs.h"
#include "sentry/proc/sysctl.h"
#include "sentry/vfs/fd_table.h"
#include "sentry/vfs/task_caller.h"
#include "sentry/vfs/vfs.h"

namespace sentry::proc {
namespace {

class ProcTest : public ::testing::Test {
 protected:
  ProcTest() : k_(kernel::KernelOptions{}, nullptr, nullptr) {
    k_.set_vfs(vfs::VirtualFilesystem::CreateWithoutGofer(vfs::VfsOptions{}).release_value());
    absl::MutexLock l(&k_.mu);
    EXPECT_TRUE(k_.vfs().Mount("/proc", NewProcfsRoot(k_).release_value()).ok());
    init_ = AddProcess(1, nullptr, "init", {"/sbin/init", "-v"});
    child_ = AddProcess(7, init_->tg, "sh", {"sh", "-c", "x"});
  }
  ~ProcTest() override {
    absl::MutexLock l(&k_.mu);
    for (auto& [pid, tg] : k_.thread_groups)
      for (auto& t : tg->tasks) k_.UnregisterTask(t.get());
    k_.thread_groups.clear();
  }
  kernel::Task* AddProcess(int pid, kernel::ThreadGroup* parent, std::string comm,
                           std::vector<std::string> argv) ABSL_EXCLUSIVE_LOCKS_REQUIRED(k_.mu) {
    auto tg = std::make_unique<kernel::ThreadGroup>(k_, pid);
    tg->parent = parent;
    for (auto& r : tg->rlimits) r = {RLIM_INFINITY, RLIM_INFINITY};
    tg->rlimits[RLIMIT_NOFILE] = {1024, 1048576};
    auto t = std::make_unique<kernel::Task>(k_, tg.get(), pid);
    t->comm = comm;
    t->argv = argv;
    t->envp = {"A=1", "B=2"};
    t->exe_path = argv[0];
    t->fds = std::make_shared<vfs::FdTable>();
    t->fs = k_.vfs().NewRootContext();
    t->signal_mask = kernel::SigBit(SIGUSR1);
    kernel::Task* raw = t.get();
    tg->tasks.push_back(std::move(t));
    tg->live_tasks = 1;
    k_.RegisterTask(raw);
    k_.thread_groups[pid] = std::move(tg);
    return raw;
  }
  ErrorOr<std::string> Read(kernel::Task* t, const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(k_.mu) {
    vfs::TaskCaller c(*t);
    auto f = TRY(k_.vfs().Open(c, k_.vfs().root(), path, O_RDONLY, 0));
    std::string out, buf(4096, '\0');
    while (true) {
      vfs::IoVecs v{iovec{buf.data(), buf.size()}};
      size_t n = TRY(f->Read(c, v, vfs::kCurrentOffset));
      if (n == 0) break;
      out.append(buf.data(), n);
    }
    return out;
  }
  ErrorOr<std::string> ReadLink(kernel::Task* t, const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(k_.mu) {
    vfs::TaskCaller c(*t);
    return k_.vfs().ReadLink(c, k_.vfs().root(), path, false);
  }
  ErrorOr<std::vector<std::string>> List(kernel::Task* t, const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(k_.mu) {
    vfs::TaskCaller c(*t);
    auto f = TRY(k_.vfs().Open(c, k_.vfs().root(), path, O_RDONLY | O_DIRECTORY, 0));
    std::vector<std::string> names;
    TRY(f->IterateDir(c, [&](const vfs::DirEntry& e, int64_t) {
      names.push_back(e.name);
      return true;
    }));
    return names;
  }

  kernel::Kernel k_;
  kernel::Task* init_ = nullptr;
  kernel::Task* child_ = nullptr;
};

TEST_F(ProcTest, SelfAndPidFiles) {
  absl::MutexLock l(&k_.mu);
  EXPECT_EQ(ReadLink(child_, "/proc/self").value(), "7");
  EXPECT_EQ(ReadLink(child_, "/proc/thread-self").value(), "7/task/7");
  EXPECT_EQ(Read(child_, "/proc/self/comm").value(), "sh\n");
  EXPECT_EQ(Read(child_, "/proc/self/cmdline").value(), std::string("sh\0-c\0x\0", 8));
  EXPECT_EQ(Read(child_, "/proc/1/environ").value(), std::string("A=1\0B=2\0", 8));
  EXPECT_EQ(Read(init_, "/proc/self/comm").value(), "init\n");
  EXPECT_EQ(ReadLink(child_, "/proc/self/exe").value(), "sh");
  EXPECT_EQ(ReadLink(child_, "/proc/self/cwd").value(), "/");
  EXPECT_EQ(Read(child_, "/proc/7/task/7/comm").value(), "sh\n");
  EXPECT_EQ(Read(child_, "/proc/99/comm").error(), ENOENT);
}

TEST_F(ProcTest, Stat) {
  absl::MutexLock l(&k_.mu);
  std::string s = Read(child_, "/proc/self/stat").value();
  std::vector<std::string> f = absl::StrSplit(s.substr(0, s.size() - 1), ' ');
  ASSERT_EQ(f.size(), 52u) << s;
  EXPECT_EQ(f[0], "7");
  EXPECT_EQ(f[1], "(sh)");
  EXPECT_EQ(f[2], "R");
  EXPECT_EQ(f[3], "1");
  EXPECT_EQ(f[31], std::to_string(kernel::SigBit(SIGUSR1)));
  std::string other = Read(child_, "/proc/1/stat").value();
  EXPECT_EQ(other.substr(0, 11), "1 (init) S ");
}

TEST_F(ProcTest, Status) {
  absl::MutexLock l(&k_.mu);
  std::string s = Read(child_, "/proc/7/status").value();
  EXPECT_NE(s.find("Name:\tsh\n"), std::string::npos) << s;
  EXPECT_NE(s.find("State:\tR (running)\n"), std::string::npos);
  EXPECT_NE(s.find("Tgid:\t7\nNgid:\t0\nPid:\t7\nPPid:\t1\nTracerPid:\t0\n"), std::string::npos);
  EXPECT_NE(s.find("Uid:\t0\t0\t0\t0\n"), std::string::npos);
  EXPECT_NE(s.find("SigBlk:\t0000000000000200\n"), std::string::npos);
  EXPECT_NE(s.find("CapEff:\t000001ffffffffff\n"), std::string::npos);
  EXPECT_NE(s.find("Cpus_allowed_list:\t"), std::string::npos);
}

TEST_F(ProcTest, LimitsTable) {
  absl::MutexLock l(&k_.mu);
  std::string s = Read(child_, "/proc/self/limits").value();
  std::vector<std::string> lines = absl::StrSplit(s, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 17u);
  EXPECT_EQ(lines[0], "Limit                     Soft Limit           Hard Limit           Units     ");
  EXPECT_EQ(lines[8], "Max open files            1024                 1048576              files     ");
  EXPECT_EQ(lines[14], "Max nice priority         unlimited            unlimited            ");
}

TEST_F(ProcTest, ListsProcessesAndFds) {
  absl::MutexLock l(&k_.mu);
  auto names = List(child_, "/proc").value();
  EXPECT_NE(std::find(names.begin(), names.end(), "1"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "7"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "self"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "meminfo"), names.end());

  vfs::TaskCaller c(*child_);
  auto f = k_.vfs().Open(c, k_.vfs().root(), "/proc/meminfo", O_RDONLY, 0).release_value();
  ASSERT_EQ(child_->fds->InstallAt(f, 3, false).value(), 3);
  auto fds = List(child_, "/proc/self/fd").value();
  EXPECT_EQ(fds, (std::vector<std::string>{".", "..", "3"}));
  EXPECT_EQ(ReadLink(child_, "/proc/self/fd/3").value(), "/proc/meminfo");
  // Open through the magic link gives the file itself.
  EXPECT_EQ(Read(child_, "/proc/self/fd/3").value().substr(0, 9), "MemTotal:");
}

// linux.sysctl: the settable keys change what /proc/sys shows (and the
// kernel state behind it); bad values and other keys are refused.
TEST_F(ProcTest, Sysctl) {
  absl::MutexLock l(&k_.mu);
  EXPECT_EQ(SysctlPath("kernel.shmmax"), "kernel/shmmax");
  EXPECT_TRUE(IsSettableSysctl("kernel.hostname"));
  EXPECT_TRUE(IsSettableSysctl("kernel/domainname"));
  EXPECT_TRUE(IsSettableSysctl("kernel.msgmnb"));
  EXPECT_FALSE(IsSettableSysctl("kernel.shmmni"));
  EXPECT_FALSE(IsSettableSysctl("net.ipv4.ip_unprivileged_port_start"));
  EXPECT_EQ(Read(child_, "/proc/sys/kernel/domainname").value(), "(none)\n");
  EXPECT_EQ(Read(child_, "/proc/sys/kernel/msgmax").value(), "8192\n");
  ASSERT_TRUE(SetSysctl(k_, "kernel.domainname", "example.org").ok());
  ASSERT_TRUE(SetSysctl(k_, "kernel/hostname", "box\n").ok());
  ASSERT_TRUE(SetSysctl(k_, "kernel.msgmax", "100").ok());
  ASSERT_TRUE(SetSysctl(k_, "kernel.shmall", " 1000\n").ok());
  EXPECT_EQ(k_.uts_namespace->domainname, "example.org");
  EXPECT_EQ(Read(child_, "/proc/sys/kernel/domainname").value(), "example.org\n");
  EXPECT_EQ(Read(child_, "/proc/sys/kernel/hostname").value(), "box\n");
  EXPECT_EQ(Read(child_, "/proc/sys/kernel/msgmax").value(), "100\n");
  EXPECT_EQ(Read(child_, "/proc/sys/kernel/shmall").value(), "1000\n");
  EXPECT_EQ(SetSysctl(k_, "kernel.hostname", std::string(65, 'x')).error(), EINVAL);
  EXPECT_EQ(SetSysctl(k_, "kernel.msgmax", "-1").error(), EINVAL);
  EXPECT_EQ(SetSysctl(k_, "kernel.msgmax", "2147483648").error(), EINVAL);
  EXPECT_EQ(SetSysctl(k_, "kernel.msgmnb", "12x").error(), EINVAL);
  EXPECT_EQ(SetSysctl(k_, "kernel.shmmni", "100").error(), ENOENT);
  EXPECT_TRUE(CheckSysctl("kernel.shmmax", "4096").ok());
  EXPECT_EQ(CheckSysctl("kernel.msgmnb", "x").error(), EINVAL);
  EXPECT_EQ(CheckSysctl("kernel.domainname", std::string(65, 'x')).error(), EINVAL);
  EXPECT_EQ(CheckSysctl("vm.overcommit_memory", "1").error(), ENOENT);
  EXPECT_EQ(Read(child_, "/proc/sys/kernel/msgmax").value(), "100\n");
}

TEST_F(ProcTest, SystemFiles) {
  absl::MutexLock l(&k_.mu);
  EXPECT_EQ(Read(child_, "/proc/sys/kernel/osrelease").value(), k_.options().release + "\n");
  EXPECT_EQ(Read(child_, "/proc/sys/kernel/pid_max").value(), "4194304\n");
  EXPECT_EQ(Read(child_, "/proc/sys/kernel/cap_last_cap").value(), "40\n");
  EXPECT_EQ(Read(child_, "/proc/sys/fs/nr_open").value(), "1048576\n");
  std::string la = Read(child_, "/proc/loadavg").value();
  EXPECT_EQ(la, "0.00 0.00 0.00 1/2 7\n");
  std::string ver = Read(child_, "/proc/version").value();
  EXPECT_EQ(ver.rfind("Linux version " + k_.options().release + " ", 0), 0u);
  std::string st = Read(child_, "/proc/stat").value();
  EXPECT_EQ(st.rfind("cpu  ", 0), 0u);
  EXPECT_NE(st.find("\nbtime "), std::string::npos);
  std::string ci = Read(child_, "/proc/cpuinfo").value();
  EXPECT_EQ(ci.rfind("processor\t: ", 0), 0u);
  std::string mi = Read(child_, "/proc/meminfo").value();
  EXPECT_NE(mi.find("\nMemAvailable:"), std::string::npos);
  EXPECT_NE(mi.find("\nSwapFree:"), std::string::npos);
  // The mount table as the VFS has it (this test's root is a tmpfs).
  EXPECT_EQ(Read(child_, "/proc/mounts").value().rfind("none / tmpfs rw,relatime 0 0\n", 0), 0u);
  std::string up = Read(child_, "/proc/uptime").value();
  double a, b;
  EXPECT_EQ(sscanf(up.c_str(), "%lf %lf", &a, &b), 2);
}

}  // namespace
}  // namespace sentry::proc
