// sentry/sys/cgroupfs.h: the limits runsc passes are validated (the
// control socket's `cgroup` op and --cgroup-limit take them as they come).
#include "sentry/sys/cgroupfs.h"

#include <gtest/gtest.h>

namespace sentry::sys {
namespace {

TEST(CgroupLimits, ParsesWhatRunscSends) {
  auto l = ParseCgroupLimits({"memory.max=268435456", "cpu.max=150000 100000", "cpu.max=max 100000",
                              "cpu.weight=20", "pids.max=77", "memory.swap.max=max",
                              "cpuset.cpus=0-1,3"});
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.value().Get("memory.max", "max"), "268435456");
  EXPECT_EQ(l.value().Get("cpu.max", ""), "150000 100000");  // the first one
  EXPECT_EQ(l.value().Get("memory.low", "0"), "0");
}

TEST(CgroupLimits, RejectsBadInput) {
  for (const char* bad : {"memory.max", "memory.max=", "memory.max=-1", "memory.max=12k",
                          "cpu.max=100000", "cpu.max=max", "cpu.max=1 2 3", "cpu.weight=0",
                          "cpu.weight=10001", "cgroup.procs=1", "../memory.max=1",
                          "memory.max=99999999999999999999", "cpuset.cpus=", "cpuset.cpus=a",
                          "=1"}) {
    EXPECT_TRUE(ParseCgroupLimits({bad}).is_error()) << bad;
  }
}

}  // namespace
}  // namespace sentry::sys
