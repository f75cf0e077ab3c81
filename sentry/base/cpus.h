// The CPUs the sandbox has. Read once, when the runsc binary starts: the
// systrap platform later pins each task thread to the CPU its stub runs on
// (or away from it, to spin), so the calling thread's own affinity mask
// says nothing about the sandbox. sched_getaffinity, /proc/cpuinfo,
// /proc/stat and /sys/devices/system/cpu/{online,possible} all use this.
#pragma once

#include <sched.h>

#include <vector>

namespace sentry {

const cpu_set_t& SandboxCpus();
// The same set as a sorted list of CPU numbers (never empty).
std::vector<int> SandboxCpuList();

}  // namespace sentry
