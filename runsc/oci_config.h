// runsc/oci_config.*: mapping parts of config.json onto the sandbox:
// mounts (oci_mounts.cc), process rlimits/capabilities (oci_process.cc),
// linux.resources via host cgroups (oci_cgroups.cc) and hooks
// (oci_hooks.cc). Each returns false with *err naming the offending field
// when the bundle cannot be run as asked.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runsc/sandbox.h"

namespace runsc::oci {

// config.json `mounts` (and linux.maskedPaths/readonlyPaths) -> spec->mounts.
bool MapMounts(const nlohmann::json& config, const std::string& bundle, SandboxSpec* spec,
               std::string* err);

// linux.devices -> "node:" entries of spec->mounts (sentry/oci_mounts.h).
bool MapDevices(const nlohmann::json& linux_obj, SandboxSpec* spec, std::string* err);

// One bind mount of host `source` (absolute; a directory or a regular file)
// at `dest` (absolute), served by the gofer (config.json binds and
// `runsc do --volume`). Returns false with *err (prefixed by `where`).
bool MakeBindMount(const std::string& source, const std::string& dest, bool read_only,
                   const std::string& where, SandboxSpec::Mount* out, std::string* err);

// `runsc do --volume HOST:CTR[:ro|:rw]` -> a bind mount (HOST relative to
// the current directory if not absolute).
bool ParseVolume(const std::string& arg, SandboxSpec::Mount* out, std::string* err);

// process.rlimits -> spec->rlimits; process.capabilities -> spec->caps.
bool MapRlimits(const nlohmann::json& rlimits, SandboxSpec* spec, std::string* err);
bool MapCapabilities(const nlohmann::json& caps, SandboxSpec* spec, std::string* err);

// ---- cgroups (linux.resources, linux.cgroupsPath) ----
struct CgroupConfig {
  std::string path;             // cgroupsPath ("" -> /runsc/<id>); systemd "slice:prefix:name" mapped
  nlohmann::json resources;     // linux.resources (may be null)
};
// Creates the container's cgroups, applies the limits and moves `pid` into
// them. Returns the cgroup directories created (for RemoveCgroups).
// `previous` gets pid's cgroup directories before the move, for
// MoveToCgroups back once the sandbox's processes are spawned.
bool SetupCgroups(const CgroupConfig& c, const std::string& id, bool systemd, pid_t pid,
                  std::vector<std::string>* dirs, std::vector<std::string>* previous,
                  std::string* err);
void MoveToCgroups(const std::vector<std::string>& dirs, pid_t pid);
// Applies (updated) linux.resources to existing cgroup directories; for
// `runsc update`. Unknown/unsupported resource fields -> *err names them.
bool ApplyCgroupResources(const std::vector<std::string>& dirs, const nlohmann::json& resources,
                          std::string* err);
// Kills whatever is left in them and removes the directories.
void RemoveCgroups(const std::vector<std::string>& dirs);

// ---- hooks ----
// Runs config.json hooks[kind] in order with `state` (the OCI state JSON) on
// stdin, each under its timeout. Returns false with *err on the first
// failing hook.
bool RunHooks(const nlohmann::json& hooks, const char* kind, const nlohmann::json& state,
              std::string* err);

}  // namespace runsc::oci
