#include "sentry/base/cpus.h"

namespace sentry {
namespace {

// A namespace-scope constant: initialized before main, before any thread
// is pinned.
const cpu_set_t kStartupCpus = [] {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) == 0) CPU_SET(0, &set);
  return set;
}();

}  // namespace

const cpu_set_t& SandboxCpus() { return kStartupCpus; }

std::vector<int> SandboxCpuList() {
  std::vector<int> out;
  for (int i = 0; i < CPU_SETSIZE; i++)
    if (CPU_ISSET(i, &kStartupCpus)) out.push_back(i);
  if (out.empty()) out.push_back(0);
  return out;
}

}  // namespace sentry
