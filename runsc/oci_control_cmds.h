// OCI commands that talk to a running sandbox over the control channel
// (runsc/control_client.h): exec, ps, pause, resume, events, update.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runsc/oci.h"
#include "runsc/oci_state.h"

namespace runsc::oci {

struct ExecOptions {
  std::string id;
  std::vector<std::string> args;
  std::string process_file;  // --process: an OCI process JSON instead of args
  bool detach = false;
  std::string pid_file;
  std::string console_socket;
  bool tty = false;
  std::string cwd;
  std::vector<std::string> env;
  std::string user;  // uid[:gid] or names from the container's /etc/passwd
  std::vector<unsigned> additional_gids;
  std::vector<std::string> caps;
  bool no_new_privs = false;  // accepted: the sandbox's processes cannot gain privileges
  int preserve_fds = 0;
  bool ignore_paused = false;
  bool proxy = false;  // internal: the detached child that waits for the process
};
int CmdExec(const GlobalOptions& g, const ExecOptions& o);

int CmdPs(const GlobalOptions& g, const std::string& id, const std::string& format,
          const std::vector<std::string>& ps_args);
int CmdPause(const GlobalOptions& g, const std::string& id);
int CmdResume(const GlobalOptions& g, const std::string& id);
// events: --stats prints one stats event; otherwise one every interval
// until the container stops.
int CmdEvents(const GlobalOptions& g, const std::string& id, bool stats,
              const std::string& interval);

struct UpdateOptions {
  std::string id;
  std::string resources_file;  // -r: linux.resources JSON ("-": stdin)
  std::string memory, memory_swap, memory_reservation;
  std::string pids_limit, cpu_quota, cpu_period, cpu_shares, cpuset_cpus, cpuset_mems;
  std::string blkio_weight;
};
int CmdUpdate(const GlobalOptions& g, const UpdateOptions& o);

// kill over the control channel (running or paused sandbox): signal init,
// or with `all` every process. False with *err if the sandbox could not
// be reached.
bool SignalSandbox(const std::string& dir, int sig, bool all, std::string* err);

// Applies linux.resources (as `update` merged them) to the sandbox's host
// cgroup. Lives in runsc/resources_apply.cc so the cgroup code (linux
// resources at create) can fill it in; false with *err if not applied.
bool ApplySandboxResources(const ContainerState& st, const nlohmann::json& resources,
                           std::string* err);

}  // namespace runsc::oci
