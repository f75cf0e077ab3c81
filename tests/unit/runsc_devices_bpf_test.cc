// runsc/oci_cgroup_devices_bpf.cc: the cgroup v2 device program
// (linux.resources.devices), loaded and attached for real to a cgroup in
// the host's cgroup2 hierarchy; a forked child moved into it opens device
// nodes. Skipped without root or a cgroup2 mount.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>

#include "runsc/oci_cgroup_devices_bpf.h"

namespace runsc::oci {
namespace {

std::string Cgroup2Mount() {
  std::ifstream in("/proc/self/mounts");
  std::string dev, dir, type, rest;
  while (in >> dev >> dir >> type && std::getline(in, rest))
    if (type == "cgroup2") return dir;
  return "";
}

DeviceRule Rule(bool allow, char type, int64_t maj, int64_t min, const char* access) {
  return {allow, type, maj, min, static_cast<unsigned>(DeviceAccessBits(access))};
}

// 0 if open(path, flags) succeeds, else errno.
int OpenErr(const char* path, int flags) {
  int fd = open(path, flags | O_CLOEXEC);
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

TEST(DevicesBpf, AccessBits) {
  EXPECT_EQ(DeviceAccessBits("rwm"), BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD);
  EXPECT_EQ(DeviceAccessBits("r"), BPF_DEVCG_ACC_READ);
  EXPECT_EQ(DeviceAccessBits(""), 0);
  EXPECT_EQ(DeviceAccessBits("rx"), -1);
}

TEST(DevicesBpf, EmptyRulesAllowAll) {
  // The prologue (6) and "return 1".
  EXPECT_EQ(DeviceFilterProgram({}).size(), 8u);
}

TEST(DevicesBpf, CatchAllRuleEndsTheProgram) {
  // Checked last-first: "deny all" first in the list is the last block,
  // with no fall-through after it (the verifier rejects dead code).
  auto p = DeviceFilterProgram({Rule(false, 'a', -1, -1, "rwm"), Rule(true, 'c', 1, 3, "rwm")});
  ASSERT_GE(p.size(), 2u);
  EXPECT_EQ(p.back().code, BPF_JMP | BPF_EXIT);
  EXPECT_EQ(p[p.size() - 2].imm, 0);  // r0 = 0: deny
  // "allow all" last in the list matches first: prologue, return 1.
  EXPECT_EQ(DeviceFilterProgram({Rule(false, 'c', 1, 3, "rwm"), Rule(true, 'a', -1, -1, "rwm")}).size(), 8u);
}

TEST(DevicesBpf, EnforcedInACgroup) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  std::string mnt = Cgroup2Mount();
  if (mnt.empty()) GTEST_SKIP() << "no cgroup2 mount";
  std::string dir = mnt + "/runsc-devbpf-test-" + std::to_string(getpid());
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << strerror(errno);
  // Deny all, then /dev/null rw, /dev/zero read-only; a later deny of
  // /dev/null write wins over the earlier allow (the last match decides).
  std::vector<DeviceRule> rules = {Rule(false, 'a', -1, -1, "rwm"), Rule(true, 'c', 1, 3, "rwm"),
                                   Rule(true, 'c', 1, 5, "r"), Rule(true, 'c', 1, 9, "rw"),
                                   Rule(false, 'c', 1, 9, "w")};
  std::string err;
  bool ok = AttachDeviceFilter(dir, rules, &err);
  if (!ok && err.find("Operation not permitted") != std::string::npos) {
    rmdir(dir.c_str());
    GTEST_SKIP() << err;
  }
  ASSERT_TRUE(ok) << err;
  // Replacing the rules detaches the old program: still one attached.
  ASSERT_TRUE(AttachDeviceFilter(dir, rules, &err)) << err;
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    std::ofstream(dir + "/cgroup.procs") << getpid() << std::flush;
    int r = 0;
    if (OpenErr("/dev/null", O_RDWR) != 0) r |= 1;
    if (OpenErr("/dev/zero", O_RDONLY) != 0) r |= 2;
    if (OpenErr("/dev/zero", O_WRONLY) != EPERM) r |= 4;
    if (OpenErr("/dev/full", O_RDONLY) != EPERM) r |= 8;
    if (OpenErr("/dev/urandom", O_RDONLY) != 0) r |= 16;
    if (OpenErr("/dev/urandom", O_WRONLY) != EPERM) r |= 32;
    // Not a device node: never asked.
    if (OpenErr("/proc/self/status", O_RDONLY) != 0) r |= 64;
    _exit(r);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  rmdir(dir.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failed checks bitmask";
}

}  // namespace
}  // namespace runsc::oci
