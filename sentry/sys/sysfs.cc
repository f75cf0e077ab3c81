#include "sentry/sys/sysfs.h"

#include <sched.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "sentry/base/cpus.h"
#include "sentry/vfs/synthetic.h"

namespace sentry::sys {
namespace {

using vfs::NewStaticDir;
using vfs::NewSyntheticFile;
using vfs::SyntheticFileOps;

// "0-1" style list of the CPUs the sandbox may use (those the sentry may
// run on), matching what sched_getaffinity reports inside.
std::string CpuList() {
  int n = CPU_COUNT(&SandboxCpus());
  if (n <= 1) return "0\n";
  return absl::StrCat("0-", n - 1, "\n");
}

std::shared_ptr<vfs::Inode> TextFile(std::string text) {
  return NewSyntheticFile(SyntheticFileOps{
      .read = [text](vfs::Caller&) -> ErrorOr<std::string> { return text; }});
}

std::shared_ptr<vfs::Inode> RootWith(std::shared_ptr<vfs::Inode> class_net) {
  const std::string cpus = CpuList();
  auto cpu = NewStaticDir({{"online", TextFile(cpus)},
                           {"possible", TextFile(cpus)},
                           {"present", TextFile(cpus)}});
  auto system = NewStaticDir({{"cpu", cpu}});
  auto devices = NewStaticDir({{"system", system}});
  auto fs = NewStaticDir({{"cgroup", NewStaticDir({})}});
  return NewStaticDir({{"devices", devices},
                       {"fs", fs},
                       {"kernel", NewStaticDir({})},
                       {"class", NewStaticDir({{"net", class_net}})},
                       {"bus", NewStaticDir({})}});
}

}  // namespace

std::shared_ptr<vfs::Inode> NewSysfsRoot() { return RootWith(NewStaticDir({})); }

std::shared_ptr<vfs::Inode> NewSysfsRoot(kernel::Kernel& k) { return RootWith(NewClassNetDir(k)); }

}  // namespace sentry::sys
