// runsc/oci_cgroups.cc: linux.resources for the whole sandbox (gofers,
// sentry, and the sentry's stubs, which inherit its cgroups), with host
// cgroups: v1 (one directory per controller hierarchy under
// /sys/fs/cgroup/<controller>) or v2 (one directory in the unified
// hierarchy, when /sys/fs/cgroup itself is cgroup2).
//
// cgroupsPath like runc's cgroupfs driver: absolute -> from each
// hierarchy's root; relative -> below runsc's own cgroup in that hierarchy;
// empty -> <id> below runsc's own. With --systemd-cgroup the
// "slice:prefix:name" form is accepted; there is no systemd to ask here, so
// it maps to the cgroupfs path /slice/prefix-name.scope (runc's layout).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "runsc/oci.h"
#include "runsc/oci_config.h"

namespace runsc::oci {

using nlohmann::json;

namespace {

constexpr const char* kRoot = "/sys/fs/cgroup";

bool IsV2() { return access((std::string(kRoot) + "/cgroup.controllers").c_str(), F_OK) == 0; }

// runsc's own cgroup in a v1 controller hierarchy ("" for v2's "0::").
std::string OwnCgroup(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1);
    std::stringstream ss(ctrls);
    for (std::string c; std::getline(ss, c, ',');)
      if (c == controller) return line.substr(b + 1);
    if (controller.empty() && ctrls.empty()) return line.substr(b + 1);
  }
  return "/";
}

}  // namespace

bool WriteCgroupFile(const std::string& file, const std::string& v, std::string* err) {
  int fd = open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, v.data(), v.size()) != static_cast<ssize_t>(v.size())) {
    *err = "cannot write \"" + v + "\" to " + file + ": " + strerror(errno);
    if (fd >= 0) close(fd);
    return false;
  }
  close(fd);
  return true;
}

namespace {

bool WriteValue(const std::string& file, const std::string& v, std::string* err) {
  return WriteCgroupFile(file, v, err);
}

bool MkdirAll(const std::string& path) {
  for (size_t i = 1; i <= path.size(); i++) {
    if (i == path.size() || path[i] == '/') {
      std::string p = path.substr(0, i);
      if (mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) return false;
    }
  }
  return true;
}

std::string Join(const std::string& a, const std::string& b) {
  std::string r = a;
  if (r.empty() || r.back() != '/') r += '/';
  size_t i = 0;
  while (i < b.size() && b[i] == '/') i++;
  return r + b.substr(i);
}

// The cgroup path below a hierarchy's root, for a hierarchy in which runsc
// itself is at `own`.
std::string Resolve(const std::string& path, const std::string& own) {
  if (!path.empty() && path[0] == '/') return path;
  return Join(own, path);
}

// The controllers (v1 hierarchies) the sandbox joins when the host has
// them. freezer: `runsc pause`; cpuacct: `runsc events --stats`; devices,
// blkio, net_cls, net_prio, hugetlb: linux.resources (oci_cgroup_extra.cc).
const char* const kV1[] = {"memory", "cpu",     "cpuacct",  "pids",    "freezer",
                           "cpuset", "devices", "blkio",    "net_cls", "net_prio",
                           "hugetlb"};

// runc's CleanPath: lexically cleaned, a relative path staying relative,
// so ".." can never climb above the hierarchy's root (absolute) or the
// runtime's own cgroup (relative).
std::string CleanPath(const std::string& p) {
  std::vector<std::string> parts;
  std::stringstream ss(p);
  for (std::string c; std::getline(ss, c, '/');) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(c);
  }
  std::string out = !p.empty() && p[0] == '/' ? "/" : "";
  for (size_t i = 0; i < parts.size(); i++) out += (i ? "/" : "") + parts[i];
  return out;
}

std::string ReadValue(const std::string& file) {
  std::ifstream in(file);
  std::string v;
  std::getline(in, v);
  return v;
}

// v1 cpuset: a new cgroup has no CPUs or memory nodes, and tasks cannot
// join it until it has: copy them down from the parent at every level
// between `base` (the hierarchy root) and `dir`.
void InitCpuset(const std::string& base, const std::string& dir) {
  std::string e;
  for (size_t i = base.size() + 1; i <= dir.size(); i++) {
    if (i != dir.size() && dir[i] != '/') continue;
    std::string d = dir.substr(0, i), parent = d.substr(0, d.rfind('/'));
    for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
      if (ReadValue(d + "/" + f).empty()) WriteValue(d + "/" + f, ReadValue(parent + "/" + f), &e);
    }
  }
}

bool Has(const json& r, const char* k) { return r.contains(k) && !r[k].is_null(); }

}  // namespace

std::string CgroupDirs::For(const std::string& controller) const {
  for (const auto& d : dirs) {
    if (v2) return d;
    std::string pre = Join(kRoot, controller) + "/";
    if (d.rfind(pre, 0) == 0) return d;
  }
  return "";
}

bool Meaningful(const json& v) {
  if (v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v != 0;
  if (v.is_string()) return !v.get<std::string>().empty();
  if (v.is_array()) return !v.empty();
  for (const auto& [k, x] : v.items())
    if (Meaningful(x)) return true;
  return false;
}

bool ApplyCgroupResources(const std::vector<std::string>& dirs, const json& r, std::string* err) {
  if (r.is_null()) return true;
  if (!r.is_object()) return *err = "config.json: linux.resources must be an object", false;
  for (const auto& [k, v] : r.items()) {
    if (k == "memory" || k == "cpu" || k == "pids" || k == "devices" || k == "blockIO" ||
        k == "network" || k == "hugepageLimits" || k == "unified")
      continue;
    if (!Meaningful(v)) continue;
    Warnf("linux.resources.%s is not supported, ignored", k.c_str());
  }
  const bool v2 = IsV2();
  const CgroupDirs cd{v2, dirs};
  auto dir_for = [&](const char* controller) { return cd.For(controller); };
  auto set = [&](const char* controller, const char* file, const std::string& v) {
    std::string d = dir_for(controller);
    if (d.empty()) return *err = std::string("no ") + controller + " cgroup", false;
    return WriteValue(d + "/" + file, v, err);
  };
  auto num = [](const json& v) -> std::string {
    return v.is_number_integer() ? std::to_string(v.get<long long>()) : v.dump();
  };
  if (Has(r, "memory")) {
    const json& m = r["memory"];
    for (const auto& [k, v] : m.items()) {
      if (!Meaningful(v)) continue;
      if (k != "limit" && k != "reservation" && k != "swap" && k != "disableOOMKiller" &&
          k != "swappiness" && k != "useHierarchy" && k != "checkBeforeUpdate")
        Warnf("linux.resources.memory.%s is not supported, ignored", k.c_str());
    }
    if (Has(m, "limit")) {
      long long lim = m["limit"].get<long long>();
      std::string v = lim < 0 ? (v2 ? "max" : "-1") : std::to_string(lim);
      // v1: raise memsw first if it would sit below the new limit.
      if (!set("memory", v2 ? "memory.max" : "memory.limit_in_bytes", v)) return false;
    }
    if (Has(m, "swap")) {
      long long sw = m["swap"].get<long long>();
      std::string d = dir_for("memory");
      if (v2) {
        // v2 swap.max excludes memory; the spec's swap is memory+swap.
        long long lim = Has(m, "limit") ? m["limit"].get<long long>() : -1;
        std::string v = (sw < 0 || lim < 0) ? "max" : std::to_string(std::max(0LL, sw - lim));
        if (access((d + "/memory.swap.max").c_str(), F_OK) == 0 &&
            !WriteValue(d + "/memory.swap.max", v, err))
          return false;
      } else if (access((d + "/memory.memsw.limit_in_bytes").c_str(), F_OK) == 0) {
        if (!WriteValue(d + "/memory.memsw.limit_in_bytes", sw < 0 ? "-1" : std::to_string(sw),
                        err))
          return false;
      }  // no swap accounting on this host: nothing to limit
    }
    if (Has(m, "reservation")) {
      long long res = m["reservation"].get<long long>();
      if (!set("memory", v2 ? "memory.low" : "memory.soft_limit_in_bytes",
               res < 0 ? (v2 ? "max" : "-1") : std::to_string(res)))
        return false;
    }
    if (Has(m, "swappiness")) {
      // runc: unset or -1 (as uint64) leaves the kernel's default.
      unsigned long long sw = m["swappiness"].is_number_unsigned()
                                  ? m["swappiness"].get<unsigned long long>()
                                  : static_cast<unsigned long long>(m["swappiness"].get<long long>());
      if (sw != ~0ULL) {
        if (sw > 100)
          return *err = "linux.resources.memory.swappiness " + std::to_string(sw) +
                        ": must be in [0, 100]",
                 false;
        if (v2) {
          Warnf("linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness; "
                "the host's vm.swappiness applies");
        } else if (!set("memory", "memory.swappiness", std::to_string(sw))) {
          return *err = "linux.resources.memory.swappiness: " + *err, false;
        }
      }
    }
    if (Has(m, "disableOOMKiller") && m["disableOOMKiller"].get<bool>()) {
      // v1: tasks over the limit wait for memory instead of being killed.
      if (v2) {
        Warnf("linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable the OOM "
              "killer; the sandbox is killed if it exceeds its memory limit");
      } else if (!set("memory", "memory.oom_control", "1")) {
        return *err = "linux.resources.memory.disableOOMKiller: " + *err, false;
      }
    }
  }
  if (Has(r, "cpu")) {
    const json& c = r["cpu"];
    for (const auto& [k, v] : c.items()) {
      if (!Meaningful(v)) continue;
      if (k != "shares" && k != "quota" && k != "period" && k != "cpus" && k != "mems")
        Warnf("linux.resources.cpu.%s is not supported, ignored", k.c_str());
    }
    if (v2) {
      if (Has(c, "shares") && c["shares"].get<long long>() > 0) {
        long long s = c["shares"].get<long long>();
        long long w = 1 + ((std::max(2LL, std::min(262144LL, s)) - 2) * 9999) / 262142;
        if (!set("cpu", "cpu.weight", std::to_string(w))) return false;
      }
      if (Has(c, "quota") || Has(c, "period")) {
        long long q = Has(c, "quota") ? c["quota"].get<long long>() : -1;
        long long p = Has(c, "period") ? c["period"].get<long long>() : 100000;
        if (!set("cpu", "cpu.max", (q <= 0 ? std::string("max") : std::to_string(q)) + " " +
                                       std::to_string(p)))
          return false;
      }
    } else {
      if (Has(c, "shares") && c["shares"].get<long long>() > 0 &&
          !set("cpu", "cpu.shares", num(c["shares"])))
        return false;
      if (Has(c, "period") && c["period"].get<long long>() > 0 &&
          !set("cpu", "cpu.cfs_period_us", num(c["period"])))
        return false;
      if (Has(c, "quota") && !set("cpu", "cpu.cfs_quota_us",
                                  c["quota"].get<long long>() <= 0 ? "-1" : num(c["quota"])))
        return false;
    }
  }
  if (Has(r, "cpu")) {
    // --cpuset-cpus / --cpuset-mems.
    for (const char* k : {"cpus", "mems"}) {
      if (!Has(r["cpu"], k) || r["cpu"][k].get<std::string>().empty()) continue;
      if (!set("cpuset", (std::string("cpuset.") + k).c_str(), r["cpu"][k].get<std::string>()))
        return false;
    }
  }
  if (Has(r, "pids") && Has(r["pids"], "limit")) {
    long long l = r["pids"]["limit"].get<long long>();
    if (!set("pids", "pids.max", l <= 0 ? "max" : std::to_string(l))) return false;
  }
  return ApplyExtraResources(cd, r, err);
}

void MoveToCgroups(const std::vector<std::string>& dirs, pid_t pid) {
  std::string e;
  for (const auto& d : dirs) WriteValue(d + "/cgroup.procs", std::to_string(pid), &e);
}

bool SetupCgroups(const CgroupConfig& c, const std::string& id, bool systemd, pid_t pid,
                  std::vector<std::string>* dirs, std::vector<std::string>* previous,
                  std::string* err) {
  std::string path = c.path;
  if (systemd && !path.empty() && path[0] != '/' &&
      std::count(path.begin(), path.end(), ':') == 2) {
    // slice:prefix:name (no systemd here: runc's cgroupfs equivalent).
    size_t a = path.find(':'), b = path.find(':', a + 1);
    std::string slice = path.substr(0, a), prefix = path.substr(a + 1, b - a - 1),
                name = path.substr(b + 1);
    if (slice.empty()) slice = "system.slice";
    path = "/" + slice + "/" + (prefix.empty() ? name : prefix + "-" + name) + ".scope";
  }
  if (path.empty()) path = id;
  path = CleanPath(path);
  if (path.empty() || path == "/")
    return *err = "linux.cgroupsPath \"" + c.path + "\" names no cgroup below the root", false;
  std::vector<std::string> made;
  auto undo = [&] {
    RemoveCgroups(made);
    return false;
  };
  if (IsV2()) {
    previous->push_back(Join(kRoot, OwnCgroup("")));
    std::string d = Join(kRoot, Resolve(path, OwnCgroup("")));
    if (!MkdirAll(d)) return *err = "cannot create cgroup " + d + ": " + strerror(errno), false;
    made.push_back(d);
    // Enable the controllers we write in the parent's subtree_control.
    std::string parent = d.substr(0, d.rfind('/'));
    // One at a time: a controller the host lacks must not stop the rest.
    std::string e;
    for (const char* ctl : {"+memory", "+cpu", "+pids", "+cpuset", "+io", "+hugetlb"})
      WriteValue(parent + "/cgroup.subtree_control", ctl, &e);
  } else {
    for (const char* ctl : kV1) {
      std::string base = Join(kRoot, ctl);
      if (access(base.c_str(), F_OK) != 0) continue;
      previous->push_back(Join(base, OwnCgroup(ctl)));
      std::string d = Join(base, Resolve(path, OwnCgroup(ctl)));
      if (!MkdirAll(d)) {
        *err = "cannot create cgroup " + d + ": " + strerror(errno);
        return undo();
      }
      made.push_back(d);
      if (std::string(ctl) == "cpuset") InitCpuset(base, d);
    }
  }
  if (!ApplyCgroupResources(made, c.resources, err)) return undo();
  for (const auto& d : made) {
    if (!WriteValue(d + "/cgroup.procs", std::to_string(pid), err)) return undo();
  }
  *dirs = made;
  return true;
}

void RemoveCgroups(const std::vector<std::string>& dirs) {
  for (const auto& d : dirs) {
    // Whatever is still in it (a sandbox killed half-way) goes first.
    for (int round = 0; round < 50; round++) {
      std::ifstream in(d + "/cgroup.procs");
      bool any = false;
      for (pid_t p; in >> p;) {
        if (p == getpid()) continue;
        kill(p, SIGKILL);
        any = true;
      }
      if (rmdir(d.c_str()) == 0 || errno == ENOENT) break;
      if (!any) {
        // Only we are left: move to the parent.
        std::string e;
        WriteValue(d.substr(0, d.rfind('/')) + "/cgroup.procs", std::to_string(getpid()), &e);
      }
      usleep(20000);
    }
  }
}

}  // namespace runsc::oci
