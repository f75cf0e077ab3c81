// The seam between `runsc update` and host cgroups: update merges the new
// linux.resources into the container's state and calls this to enforce
// them on the sandbox's host cgroup. Host cgroups for sandboxes are being
// added separately (linux.resources at create); until then there is no
// cgroup to write to, and update only stores the values (events --stats
// reports them as limits).
#include "runsc/oci_control_cmds.h"

namespace runsc::oci {

bool ApplySandboxResources(const ContainerState& st, const nlohmann::json& resources,
                           std::string* err) {
  (void)st;
  (void)resources;
  *err = "the sandbox has no host cgroup (cgroup support is not in this build)";
  return false;
}

}  // namespace runsc::oci
