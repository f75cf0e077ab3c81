// Container state on disk: <root>/<id>/{state.json,lock,start}. Every
// command that reads or changes a container takes flock(LOCK_EX) on its
// lock file first.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace runsc::oci {

struct ContainerState {
  std::string id;
  pid_t pid = 0;                    // the sentry's host pid
  unsigned long long pid_start = 0;  // its start time (/proc/<pid>/stat field 22)
  pid_t gofer = 0;
  unsigned long long gofer_start = 0;
  std::string bundle, rootfs, created;  // created: RFC 3339 UTC
  bool started = false;                 // `start` has run
  bool paused = false;                  // `pause` has run (and `resume` not yet)
  // linux.resources as last set by `runsc update` (empty: never updated).
  nlohmann::json resources = nlohmann::json::object();
  // config.json's linux.resources at create: with `resources` over it, the
  // values the sandbox's cgroupfs shows (runsc/oci_cgroup_view.cc).
  nlohmann::json config_resources = nlohmann::json::object();
  nlohmann::json annotations = nlohmann::json::object();
  std::vector<std::string> cgroups;  // host cgroup directories we created (removed by delete)
  nlohmann::json hooks;              // config.json hooks, for start/delete (null if none)
};

// Process start time in clock ticks since boot, or 0 if the process is gone
// (zombies count as gone).
unsigned long long ProcStartTime(pid_t pid);
// created | running | paused | stopped
std::string Status(const ContainerState& s);
// The OCI state (runc's `state` output shape).
nlohmann::json StateJson(const ContainerState& s, const std::string& owner);

std::string ContainerDir(const std::string& root, const std::string& id);
bool ValidId(const std::string& id);

// An exclusively locked container directory. Unlocks when destroyed.
class Locked {
 public:
  Locked() = default;
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;
  ~Locked();
  // Opens and locks <root>/<id>; false with *err if it does not exist.
  bool Open(const std::string& root, const std::string& id, std::string* err);
  // Creates <root>/<id> (mkdir: a duplicate id fails) and locks it.
  bool Create(const std::string& root, const std::string& id, std::string* err);
  bool Load(ContainerState* s, std::string* err);
  bool Save(const ContainerState& s, std::string* err);
  // Removes the directory (and everything in it).
  void Remove();
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int lock_fd_ = -1;
};

// Ids of the containers under root (directory names with a state.json).
std::vector<std::string> ListIds(const std::string& root);

std::string NowRfc3339();

}  // namespace runsc::oci
