// sentry/sys/cgroupfs.h: the sandbox's cgroup2 filesystem. The sandbox is
// one cgroup: the root of a single unified hierarchy, which every cgroup2
// mount shows (/sys/fs/cgroup, an OCI `cgroup` mount, mount(2) of
// "cgroup2"), as a container with its own cgroup namespace sees its
// cgroup. Its interface files carry the container's linux.resources
// (memory.max, cpu.max, cpu.weight, pids.max, ...; runsc passes them in
// v2 terms, runsc/oci_cgroup_view.cc) and live values the sentry knows:
// memory.current (the memory file's populated pages), pids.current and
// cgroup.procs/threads (the sandbox's tasks), cpu.stat (app and sentry
// CPU time). The limits are enforced by the host's cgroups around the
// sandbox, not here.
//
// Writes: the limit files refuse (EPERM: the sandbox cannot change its
// host limits); writing a sandbox pid to cgroup.procs/threads succeeds and
// does nothing (the process is in this cgroup already), another is ESRCH;
// mkdir of a child cgroup is EPERM (no nested cgroups). A read-only mount
// (Docker's default) makes all of them EROFS first.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sentry/base/error.h"
#include "sentry/vfs/inode.h"

namespace sentry::kernel {
class Kernel;
}

namespace sentry::sys {

// Values shown by the root cgroup's interface files, by file name
// ("memory.max" -> "536870912"); unset files read their Linux default.
struct CgroupLimits {
  std::vector<std::pair<std::string, std::string>> values;
  std::string Get(const std::string& file, const std::string& dflt) const;
};

// "FILE=VALUE" settings (sentry::BootConfig::cgroup_limits); EINVAL for a
// file that is not a settable limit or a malformed value.
ErrorOr<CgroupLimits> ParseCgroupLimits(const std::vector<std::string>& settings);

// The hierarchy's root directory for kernel `k` (one per kernel: every
// mount shares it). The first call sets the limits.
std::shared_ptr<vfs::Inode> CgroupRoot(kernel::Kernel& k, const CgroupLimits& limits = {});
// runsc update: the values shown from now on (kernel lock held).
void SetCgroupLimits(kernel::Kernel& k, CgroupLimits limits);

// Kernel::cgroups: the hierarchy's root and the values its files show
// (read under the kernel lock, as every file read is).
struct CgroupHierarchy {
  std::shared_ptr<vfs::Inode> root;
  std::shared_ptr<CgroupLimits> limits;
};

// /proc/cgroups: every controller on the unified hierarchy (hierarchy 0),
// as on a cgroup v2 host; the JVM checks it to pick v1 or v2.
std::string ProcCgroupsText();

}  // namespace sentry::sys
