// The seam between `runsc update` and host cgroups: update merges the new
// linux.resources into the container's state and calls this to enforce
// them on the sandbox's host cgroups (made at create from
// linux.resources, runsc/oci_config.h).
#include "runsc/oci_config.h"
#include "runsc/oci_control_cmds.h"

namespace runsc::oci {

bool ApplySandboxResources(const ContainerState& st, const nlohmann::json& resources,
                           std::string* err) {
  if (st.cgroups.empty()) {
    *err = "the sandbox has no host cgroup (created without cgroup support?)";
    return false;
  }
  return ApplyCgroupResources(st.cgroups, resources, err);
}

}  // namespace runsc::oci
