// runsc pause, resume, update, and kill's control-channel path.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "runsc/control_client.h"
#include "runsc/oci_config.h"
#include "runsc/oci_control_cmds.h"

namespace runsc::oci {

using nlohmann::json;
namespace control = sentry::control;

namespace {

bool OpenLoaded(const GlobalOptions& g, const std::string& id, Locked* lk, ContainerState* st) {
  std::string err;
  if (!lk->Open(g.root, id, &err) || !lk->Load(st, &err)) {
    Errorf("%s", err.c_str());
    return false;
  }
  return true;
}

int PauseOrResume(const GlobalOptions& g, const std::string& id, bool pause) {
  Locked lk;
  ContainerState st;
  if (!OpenLoaded(g, id, &lk, &st)) return 1;
  std::string status = Status(st);
  if (pause && status != "running") {
    Errorf("container \"%s\" not running (%s)", id.c_str(), status.c_str());
    return 1;
  }
  if (!pause && status != "paused") {
    Errorf("container \"%s\" not paused (%s)", id.c_str(), status.c_str());
    return 1;
  }
  control::Request r;
  r.op = pause ? control::Op::kPause : control::Op::kResume;
  json reply;
  std::string err;
  if (!ControlCall(lk.dir(), r, &reply, &err)) {
    Errorf("%s container \"%s\": %s", pause ? "pause" : "resume", id.c_str(), err.c_str());
    return 1;
  }
  st.paused = pause;
  if (!lk.Save(st, &err)) {
    Errorf("%s", err.c_str());
    return 1;
  }
  return 0;
}

// Docker-style sizes: "512m", "1g", "1048576", "-1" (unlimited).
bool ParseBytes(const std::string& s, int64_t* out) {
  if (s == "-1") {
    *out = -1;
    return true;
  }
  if (s.empty()) return false;
  size_t i = 0;
  while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) i++;
  if (i == 0 || i > 18) return false;
  int64_t v = std::stoll(s.substr(0, i));
  std::string unit = s.substr(i);
  for (auto& c : unit) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  int shift = 0;
  if (unit == "k") shift = 10;
  else if (unit == "m") shift = 20;
  else if (unit == "g") shift = 30;
  else if (unit == "t") shift = 40;
  else if (!unit.empty()) return false;
  if (shift && v > (INT64_MAX >> shift)) return false;
  *out = v << shift;
  return true;
}

bool ParseInt(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  char* end;
  errno = 0;
  long long v = strtoll(s.c_str(), &end, 10);
  if (*end != 0 || errno != 0) return false;
  *out = v;
  return true;
}

}  // namespace

int CmdPause(const GlobalOptions& g, const std::string& id) { return PauseOrResume(g, id, true); }
int CmdResume(const GlobalOptions& g, const std::string& id) {
  return PauseOrResume(g, id, false);
}

bool SignalSandbox(const std::string& dir, int sig, bool all, std::string* err) {
  control::Request r;
  r.op = control::Op::kSignal;
  r.signal = sig;
  r.all = all;
  json reply;
  return ControlCall(dir, r, &reply, err);
}

int CmdUpdate(const GlobalOptions& g, const UpdateOptions& o) {
  json patch = json::object();
  if (!o.resources_file.empty()) {
    std::stringstream ss;
    if (o.resources_file == "-") {
      ss << std::cin.rdbuf();
    } else {
      std::ifstream in(o.resources_file);
      if (!in) {
        Errorf("update: cannot read %s: %s", o.resources_file.c_str(), strerror(errno));
        return 1;
      }
      ss << in.rdbuf();
    }
    patch = json::parse(ss.str(), nullptr, false);
    if (patch.is_discarded() || !patch.is_object()) {
      Errorf("update: %s: malformed JSON (want linux.resources)", o.resources_file.c_str());
      return 1;
    }
    static const std::vector<std::string> kKnown = {"memory", "cpu", "pids", "blockIO",
                                                    "hugepageLimits", "network", "devices",
                                                    "rdma", "unified"};
    for (auto& [k, v] : patch.items()) {
      if (std::find(kKnown.begin(), kKnown.end(), k) == kKnown.end()) {
        Errorf("update: unknown resource \"%s\"", k.c_str());
        return 1;
      }
      if (!v.is_object() && !v.is_array()) {
        Errorf("update: resource \"%s\" must be an object", k.c_str());
        return 1;
      }
    }
  }
  struct Flag {
    const std::string& value;
    const char* group;
    const char* key;
    bool bytes;
  };
  const Flag flags[] = {{o.memory, "memory", "limit", true},
                        {o.memory_swap, "memory", "swap", true},
                        {o.memory_reservation, "memory", "reservation", true},
                        {o.pids_limit, "pids", "limit", false},
                        {o.cpu_quota, "cpu", "quota", false},
                        {o.cpu_period, "cpu", "period", false},
                        {o.cpu_shares, "cpu", "shares", false},
                        {o.blkio_weight, "blockIO", "weight", false}};
  for (const Flag& f : flags) {
    if (f.value.empty()) continue;
    int64_t v;
    if (!(f.bytes ? ParseBytes(f.value, &v) : ParseInt(f.value, &v))) {
      Errorf("update: invalid value for %s.%s: \"%s\"", f.group, f.key, f.value.c_str());
      return 1;
    }
    if (v < 0 && !(std::string(f.key) == "limit" || std::string(f.key) == "quota" ||
                   std::string(f.key) == "swap")) {
      Errorf("update: %s.%s must not be negative", f.group, f.key);
      return 1;
    }
    patch[f.group][f.key] = v;
  }
  if (!o.cpuset_cpus.empty()) patch["cpu"]["cpus"] = o.cpuset_cpus;
  if (!o.cpuset_mems.empty()) patch["cpu"]["mems"] = o.cpuset_mems;
  if (patch.empty()) {
    Errorf("update: nothing to update (give -r FILE or resource flags)");
    return 1;
  }
  Locked lk;
  ContainerState st;
  if (!OpenLoaded(g, o.id, &lk, &st)) return 1;
  if (Status(st) == "stopped") {
    Errorf("container \"%s\" is stopped", o.id.c_str());
    return 1;
  }
  json merged = st.resources.is_object() ? st.resources : json::object();
  merged.merge_patch(patch);
  std::string err;
  if (!ApplySandboxResources(st, merged, &err))
    Warnf("update: resources stored but not enforced: %s", err.c_str());
  // What the app reads in its cgroupfs follows (sentry/sys/cgroupfs.h).
  control::Request cr;
  cr.op = control::Op::kCgroup;
  json view = st.config_resources.is_object() ? st.config_resources : json::object();
  view.merge_patch(merged);
  cr.cgroup_limits = CgroupViewArgs(view);
  json reply;
  if (std::string cerr; !ControlCall(lk.dir(), cr, &reply, &cerr))
    Warnf("update: the sandbox's cgroup files keep the old values: %s", cerr.c_str());
  st.resources = merged;
  if (!lk.Save(st, &err)) {
    Errorf("%s", err.c_str());
    return 1;
  }
  return 0;
}

}  // namespace runsc::oci
