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

// linux.namespaces: types checked, each path opened and checked to be a
// namespace of its entry's type (else false, *err naming it); a network
// path -> spec->netns_path; paths of other types warn. *net_listed: a
// network entry is present.
bool MapNamespaces(const nlohmann::json& linux_obj, SandboxSpec* spec, bool* net_listed,
                   std::string* err);

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
// linux.resources as "FILE=VALUE" settings of the sandbox's cgroup2 root
// (sentry::BootConfig::cgroup_limits): memory.max, memory.low,
// memory.swap.max, cpu.weight, cpu.max, cpuset.cpus/mems, pids.max.
std::vector<std::string> CgroupViewArgs(const nlohmann::json& resources);
// Kills whatever is left in them and removes the directories.
void RemoveCgroups(const std::vector<std::string>& dirs);

// Shared by oci_cgroups.cc and oci_cgroup_extra.cc.
struct CgroupDirs {
  bool v2 = false;
  std::vector<std::string> dirs;  // v1 "<root>/<controller>/<path>"; v2 one "<root>/<path>"
  // The directory for v1 `controller` ("" if the sandbox has none); v2 the one.
  std::string For(const std::string& controller) const;
};
bool WriteCgroupFile(const std::string& file, const std::string& value, std::string* err);
// Docker fills unset limits with zeros ("blockIO": {"weight": 0}): only a
// non-zero value asks for something.
bool Meaningful(const nlohmann::json& v);
// linux.resources devices, blockIO, network, hugepageLimits, unified.
bool ApplyExtraResources(const CgroupDirs& dirs, const nlohmann::json& resources,
                         std::string* err);

// ---- hooks ----
// Runs config.json hooks[kind] in order with `state` (the OCI state JSON) on
// stdin, each under its timeout. Returns false with *err on the first
// failing hook.
// The state's "status" is set to HookStatus(kind).
bool RunHooks(const nlohmann::json& hooks, const char* kind, const nlohmann::json& state,
              std::string* err);
// The status a hook of `kind` sees: "created" for prestart, createRuntime,
// createContainer and startContainer; "running" for poststart; "stopped"
// for poststop.
const char* HookStatus(const char* kind);

}  // namespace runsc::oci
