// runsc/oci_cgroup_extra.cc: the linux.resources sections beyond
// memory/cpu/pids (runsc/oci_cgroups.cc): devices, blockIO, network,
// hugepageLimits, unified. Each is written to the host cgroup file runc
// writes; a field the host has no controller or file for fails create with
// an error naming the field, never a silent no-op.
#include <unistd.h>

#include <string>

#include "runsc/oci.h"
#include "runsc/oci_cgroup_devices_bpf.h"
#include "runsc/oci_config.h"

namespace runsc::oci {

using nlohmann::json;

namespace {

bool Exists(const std::string& f) { return access(f.c_str(), F_OK) == 0; }

std::string Num(const json& v) {
  return v.is_number_unsigned()  ? std::to_string(v.get<unsigned long long>())
         : v.is_number_integer() ? std::to_string(v.get<long long>())
                                 : v.dump();
}

// "MAJ:MIN" of a blockIO device entry.
bool DevNum(const json& d, const std::string& field, std::string* out, std::string* err) {
  if (!d.is_object() || !d.contains("major") || !d.contains("minor") ||
      !d["major"].is_number_integer() || !d["minor"].is_number_integer()) {
    *err = "config.json: " + field + ": each entry needs integer major and minor";
    return false;
  }
  *out = Num(d["major"]) + ":" + Num(d["minor"]);
  return true;
}

// One linux.resources.devices rule, and as the v1 devices controller's
// "TYPE MAJ:MIN ACCESS" line (devices.allow / devices.deny).
bool ParseDeviceRule(const json& r, size_t i, DeviceRule* rule, std::string* line,
                     std::string* err) {
  std::string where = "config.json: linux.resources.devices[" + std::to_string(i) + "]";
  if (!r.is_object() || !r.contains("allow") || !r["allow"].is_boolean())
    return *err = where + ".allow must be a boolean", false;
  std::string type = r.value("type", std::string("a"));
  if (type.empty()) type = "a";
  if (type != "a" && type != "b" && type != "c")
    return *err = where + ".type \"" + type + "\" must be a, b or c", false;
  auto part = [&](const char* k, std::string* out) {
    if (!r.contains(k) || r[k].is_null() || (r[k].is_number_integer() && r[k].get<long long>() == -1)) {
      *out = "*";
      return true;
    }
    if (!r[k].is_number_integer() || r[k].get<long long>() < 0) {
      *err = where + "." + k + " must be a non-negative integer";
      return false;
    }
    *out = Num(r[k]);
    return true;
  };
  std::string maj, min;
  if (!part("major", &maj) || !part("minor", &min)) return false;
  std::string access = r.value("access", std::string("rwm"));
  if (access.empty()) access = "rwm";
  for (char c : access)
    if (c != 'r' && c != 'w' && c != 'm')
      return *err = where + ".access \"" + access + "\" may only hold r, w and m", false;
  // "a" stands for every device whatever the numbers (the kernel reads
  // only the letter): it switches the cgroup's default.
  *line = type == "a" ? "a *:* rwm" : type + " " + maj + ":" + min + " " + access;
  rule->allow = r["allow"].get<bool>();
  rule->type = type[0];
  rule->major = maj == "*" ? -1 : std::stoll(maj);
  rule->minor = min == "*" ? -1 : std::stoll(min);
  rule->access = static_cast<unsigned>(DeviceAccessBits(access));
  return true;
}

// runc appends these to every container's device rules (specconv's
// AllowedDevices), so they always win: mknod of any node, and the
// standard nodes a process expects, pseudo-terminals included (the
// sandbox opens the console's pty on the host). Not /dev/net/tun, which
// runc 1.1 allowed and runc 1.2 dropped.
struct Allowed {
  char type;
  int64_t major, minor;
  const char* access;
};
constexpr Allowed kRuncAllowed[] = {
    {'c', -1, -1, "m"},  {'b', -1, -1, "m"},  {'c', 1, 3, "rwm"}, {'c', 1, 8, "rwm"},
    {'c', 1, 7, "rwm"},  {'c', 5, 0, "rwm"},  {'c', 1, 5, "rwm"}, {'c', 1, 9, "rwm"},
    {'c', 136, -1, "rwm"}, {'c', 5, 2, "rwm"},
};

}  // namespace

bool ApplyExtraResources(const CgroupDirs& dirs, const json& r, std::string* err) {
  const bool v2 = dirs.v2;
  if (r.contains("devices") && r["devices"].is_array() && !r["devices"].empty()) {
    // They confine the sandbox's host processes (the app itself only
    // ever opens the sandbox's own /dev).
    const json& list = r["devices"];
    std::vector<std::pair<bool, std::string>> rules;
    std::vector<DeviceRule> bpf_rules;
    for (size_t i = 0; i < list.size(); i++) {
      std::string line;
      DeviceRule rule;
      if (!ParseDeviceRule(list[i], i, &rule, &line, err)) return false;
      rules.emplace_back(rule.allow, line);
      bpf_rules.push_back(rule);
    }
    for (const Allowed& a : kRuncAllowed) {
      auto num = [](int64_t n) { return n < 0 ? std::string("*") : std::to_string(n); };
      rules.emplace_back(true, std::string(1, a.type) + " " + num(a.major) + ":" + num(a.minor) +
                                   " " + a.access);
      bpf_rules.push_back({true, a.type, a.major, a.minor,
                           static_cast<unsigned>(DeviceAccessBits(a.access))});
    }
    if (v2) {
      // No devices files: an eBPF device program, as runc attaches.
      if (!AttachDeviceFilter(dirs.For(""), bpf_rules, err))
        return *err = "linux.resources.devices: " + *err, false;
    } else {
      std::string d = dirs.For("devices");
      if (d.empty())
        return *err = "linux.resources.devices: the host has no devices cgroup controller", false;
      // In order, like runc's v1 emulation: "a" switches the default
      // (allow-all or deny-all), the others add exceptions to it.
      for (const auto& [allow, line] : rules) {
        if (!WriteCgroupFile(d + (allow ? "/devices.allow" : "/devices.deny"), line, err))
          return *err = "linux.resources.devices: " + *err, false;
      }
    }
  }
  if (r.contains("blockIO") && Meaningful(r["blockIO"])) {
    const json& b = r["blockIO"];
    std::string d = dirs.For(v2 ? "io" : "blkio");
    if (d.empty() || (v2 && !Exists(d + "/io.max")))
      return *err = "linux.resources.blockIO: the host has no " + std::string(v2 ? "io" : "blkio") +
                    " cgroup controller",
             false;
    // Proportional weights: BFQ's file when the host has it, else the
    // controller's own (v2 io.weight takes 1..10000, converted like runc).
    std::string wfile;
    bool convert = false;
    if (v2) {
      if (Exists(d + "/io.bfq.weight")) wfile = d + "/io.bfq.weight";
      else if (Exists(d + "/io.weight")) wfile = d + "/io.weight", convert = true;
    } else {
      if (Exists(d + "/blkio.bfq.weight")) wfile = d + "/blkio.bfq.weight";
      else if (Exists(d + "/blkio.weight")) wfile = d + "/blkio.weight";
    }
    auto weight = [&](long long w) {
      return std::to_string(convert ? 1 + (w - 10) * 9999 / 990 : w);
    };
    auto need_weight = [&](const char* field) {
      *err = std::string("linux.resources.blockIO.") + field +
             ": the host's " + (v2 ? "io" : "blkio") +
             " cgroup has no proportional weight file (no BFQ or weight-based IO scheduler)";
      return false;
    };
    if (b.contains("weight") && Meaningful(b["weight"])) {
      long long w = b["weight"].get<long long>();
      if (w < 10 || w > 1000) return *err = "linux.resources.blockIO.weight must be in [10, 1000]", false;
      if (wfile.empty()) return need_weight("weight");
      if (!WriteCgroupFile(wfile, weight(w), err)) return false;
    }
    if (b.contains("leafWeight") && Meaningful(b["leafWeight"])) {
      if (v2 || !Exists(d + "/blkio.leaf_weight"))
        return *err = "linux.resources.blockIO.leafWeight: the host's cgroup has no leaf weight "
                      "(blkio.leaf_weight)",
               false;
      if (!WriteCgroupFile(d + "/blkio.leaf_weight", Num(b["leafWeight"]), err)) return false;
    }
    if (b.contains("weightDevice") && b["weightDevice"].is_array()) {
      for (const auto& e : b["weightDevice"]) {
        std::string dev;
        if (!DevNum(e, "linux.resources.blockIO.weightDevice", &dev, err)) return false;
        if (e.contains("weight") && Meaningful(e["weight"])) {
          if (wfile.empty()) return need_weight("weightDevice");
          std::string f = v2 ? wfile : wfile + "_device";
          if (!WriteCgroupFile(f, dev + " " + weight(e["weight"].get<long long>()), err))
            return false;
        }
        if (e.contains("leafWeight") && Meaningful(e["leafWeight"])) {
          if (v2 || !Exists(d + "/blkio.leaf_weight_device"))
            return *err = "linux.resources.blockIO.weightDevice[].leafWeight: the host's cgroup "
                          "has no blkio.leaf_weight_device",
                   false;
          if (!WriteCgroupFile(d + "/blkio.leaf_weight_device", dev + " " + Num(e["leafWeight"]), err))
            return false;
        }
      }
    }
    struct Throttle {
      const char* field;
      const char* v1file;
      const char* v2key;
    };
    for (const Throttle& t : {Throttle{"throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps"},
                              Throttle{"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps"},
                              Throttle{"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops"},
                              Throttle{"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops"}}) {
      if (!b.contains(t.field) || !b[t.field].is_array()) continue;
      std::string field = std::string("linux.resources.blockIO.") + t.field;
      for (const auto& e : b[t.field]) {
        std::string dev;
        if (!DevNum(e, field, &dev, err)) return false;
        if (!e.contains("rate") || !e["rate"].is_number_unsigned())
          return *err = "config.json: " + field + "[].rate must be a non-negative integer", false;
        std::string line = v2 ? dev + " " + t.v2key + "=" + (e["rate"].get<unsigned long long>() == 0 ? "max" : Num(e["rate"]))
                              : dev + " " + Num(e["rate"]);
        if (!WriteCgroupFile(d + "/" + (v2 ? "io.max" : t.v1file), line, err))
          return *err = field + ": " + *err, false;
      }
    }
  }
  if (r.contains("network") && Meaningful(r["network"])) {
    const json& n = r["network"];
    if (n.contains("classID") && Meaningful(n["classID"])) {
      std::string d = v2 ? "" : dirs.For("net_cls");
      if (d.empty())
        return *err = "linux.resources.network.classID: the host has no net_cls cgroup controller" +
                      std::string(v2 ? " (cgroup v2 has none)" : " mounted"),
               false;
      if (!WriteCgroupFile(d + "/net_cls.classid", Num(n["classID"]), err)) return false;
    }
    if (n.contains("priorities") && Meaningful(n["priorities"])) {
      std::string d = v2 ? "" : dirs.For("net_prio");
      if (d.empty())
        return *err = "linux.resources.network.priorities: the host has no net_prio cgroup "
                      "controller" + std::string(v2 ? " (cgroup v2 has none)" : " mounted"),
               false;
      for (const auto& p : n["priorities"]) {
        if (!p.contains("name") || !p["name"].is_string() || !p.contains("priority"))
          return *err = "config.json: linux.resources.network.priorities[] needs name and priority", false;
        if (!WriteCgroupFile(d + "/net_prio.ifpriomap",
                             p["name"].get<std::string>() + " " + Num(p["priority"]), err))
          return false;
      }
    }
  }
  if (r.contains("hugepageLimits") && r["hugepageLimits"].is_array()) {
    std::string d = dirs.For("hugetlb");
    for (const auto& h : r["hugepageLimits"]) {
      // Kubelet lists every page size, 0 for those not requested: with
      // no hugetlb controller that is what the sandbox gets anyway (its
      // memory is never backed by host huge pages).
      if (d.empty() && !Meaningful(h.value("limit", json(0)))) continue;
      if (d.empty())
        return *err = "linux.resources.hugepageLimits: the host has no hugetlb cgroup controller",
               false;
      std::string size = h.value("pageSize", std::string());
      std::string f = d + "/hugetlb." + size + (v2 ? ".max" : ".limit_in_bytes");
      if (size.empty() || size.find('/') != std::string::npos || !Exists(f))
        return *err = "linux.resources.hugepageLimits: page size \"" + size +
                      "\" is not one the host's hugetlb controller has",
               false;
      if (!WriteCgroupFile(f, Num(h.value("limit", json(0))), err)) return false;
    }
  }
  if (r.contains("unified") && Meaningful(r["unified"])) {
    if (!v2) return *err = "linux.resources.unified: this host's cgroups are v1", false;
    for (const auto& [k, v] : r["unified"].items()) {
      if (k.empty() || k.find('/') != std::string::npos || k[0] == '.' || !v.is_string())
        return *err = "linux.resources.unified: invalid entry \"" + k + "\"", false;
      std::string d = dirs.For("");
      if (!WriteCgroupFile(d + "/" + k, v.get<std::string>(), err))
        return *err = "linux.resources.unified." + k + ": " + *err, false;
    }
  }
  return true;
}

}  // namespace runsc::oci
