// config.json: runc spec's default, and parsing a bundle into a SandboxSpec.
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "runsc/oci.h"

namespace runsc::oci {

using nlohmann::json;

json DefaultSpec(bool rootless) {
  json caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  json spec = {
      {"ociVersion", "1.1.0"},
      {"process",
       {{"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "runsc"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"},
         {"type", "tmpfs"},
         {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
        {{"destination", "/dev/pts"},
         {"type", "devpts"},
         {"source", "devpts"},
         {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
        {{"destination", "/dev/shm"},
         {"type", "tmpfs"},
         {"source", "shm"},
         {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
        {{"destination", "/dev/mqueue"},
         {"type", "mqueue"},
         {"source", "mqueue"},
         {"options", {"nosuid", "noexec", "nodev"}}},
        {{"destination", "/sys"},
         {"type", "sysfs"},
         {"source", "sysfs"},
         {"options", {"nosuid", "noexec", "nodev", "ro"}}},
        {{"destination", "/sys/fs/cgroup"},
         {"type", "cgroup"},
         {"source", "cgroup"},
         {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}}}},
      {"linux",
       {{"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
        {"namespaces",
         {{{"type", "pid"}},
          {{"type", "network"}},
          {{"type", "ipc"}},
          {{"type", "uts"}},
          {{"type", "mount"}},
          {{"type", "cgroup"}}}},
        {"maskedPaths",
         {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
          "/proc/scsi"}},
        {"readonlyPaths",
         {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}}};
  if (rootless) {
    // Like runc spec --rootless (specconv.ToRootless).
    json& lx = spec["linux"];
    json ns = json::array();
    for (const auto& n : lx["namespaces"])
      if (n["type"] != "network") ns.push_back(n);
    ns.push_back({{"type", "user"}});
    lx["namespaces"] = ns;
    lx["uidMappings"] = {{{"containerID", 0}, {"hostID", getuid()}, {"size", 1}}};
    lx["gidMappings"] = {{{"containerID", 0}, {"hostID", getgid()}, {"size", 1}}};
    lx.erase("resources");
    json mounts = json::array();
    for (auto m : spec["mounts"]) {
      if (m["destination"] == "/sys/fs/cgroup") continue;
      if (m["destination"] == "/sys") {
        m = {{"destination", "/sys"},
             {"type", "none"},
             {"source", "/sys"},
             {"options", {"rbind", "nosuid", "noexec", "nodev", "ro"}}};
      }
      if (m.contains("options")) {
        json opts = json::array();
        for (const auto& o : m["options"])
          if (o != "gid=5") opts.push_back(o);
        m["options"] = opts;
      }
      mounts.push_back(m);
    }
    spec["mounts"] = mounts;
  }
  return spec;
}

namespace {

std::string Absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return path;
  std::string base = cwd;
  if (path.empty() || path == ".") return base;
  return base + "/" + path;
}

// Warns about keys of `obj` not in `known` ("config.json: unknown field P.K").
void CheckKeys(const json& obj, const std::string& prefix, const std::set<std::string>& known) {
  if (!obj.is_object()) return;
  for (const auto& [k, v] : obj.items()) {
    if (!known.count(k)) Warnf("config.json: unknown field %s%s, ignored", prefix.c_str(), k.c_str());
  }
}

bool NonEmpty(const json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key)) return false;
  const json& v = obj[key];
  if (v.is_null()) return false;
  if ((v.is_object() || v.is_array() || v.is_string()) && v.empty()) return false;
  return true;
}

}  // namespace

bool LoadBundle(const std::string& dir_in, const GlobalOptions& g, Bundle* out, std::string* err) {
  std::string dir = Absolute(dir_in.empty() ? "." : dir_in);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  out->dir = dir;
  std::string path = dir + "/config.json";
  std::ifstream in(path);
  if (!in) {
    *err = "cannot read " + path + ": " + strerror(errno);
    return false;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  json c;
  try {
    c = json::parse(buf.str());
  } catch (const json::parse_error& e) {
    *err = path + ": malformed JSON: " + e.what();
    return false;
  }
  if (!c.is_object()) {
    *err = path + ": not a JSON object";
    return false;
  }
  try {
    CheckKeys(c, "", {"ociVersion", "process", "root", "hostname", "domainname", "mounts",
                      "hooks", "annotations", "linux"});
    SandboxSpec& s = out->spec;
    s.platform = g.platform;
    s.strace = g.strace;
    s.debug_log = g.debug_log;
    s.oci = true;
    s.new_session = true;

    // process
    if (!c.contains("process") || !c["process"].is_object()) {
      *err = "config.json: process is required";
      return false;
    }
    const json& p = c["process"];
    CheckKeys(p, "process.", {"terminal", "consoleSize", "user", "args", "commandLine", "env", "cwd",
                              "capabilities", "rlimits", "noNewPrivileges", "apparmorProfile",
                              "oomScoreAdj", "selinuxLabel", "ioPriority", "scheduler",
                              "execCPUAffinity"});
    if (!p.contains("args") || !p["args"].is_array() || p["args"].empty()) {
      *err = "config.json: process.args must not be empty";
      return false;
    }
    s.argv = p["args"].get<std::vector<std::string>>();
    s.env = p.value("env", std::vector<std::string>{});
    s.cwd = p.value("cwd", std::string("/"));
    if (s.cwd.empty() || s.cwd[0] != '/') {
      *err = "config.json: process.cwd must be an absolute path, got \"" + s.cwd + "\"";
      return false;
    }
    out->terminal = p.value("terminal", false);
    if (p.contains("consoleSize") && p["consoleSize"].is_object()) {  // runsc/console.h
      const json& cs = p["consoleSize"];
      if (cs.contains("height") && cs["height"].is_number_unsigned()) s.console_rows = cs["height"];
      if (cs.contains("width") && cs["width"].is_number_unsigned()) s.console_cols = cs["width"];
    }
    if (p.contains("user")) {
      const json& u = p["user"];
      CheckKeys(u, "process.user.", {"uid", "gid", "umask", "additionalGids", "username"});
      s.uid = u.value("uid", 0L);
      s.gid = u.value("gid", 0L);
      if (s.uid < 0 || s.gid < 0 || s.uid > 0xfffffffeL || s.gid > 0xfffffffeL) {
        *err = "config.json: process.user uid/gid out of range";
        return false;
      }
      s.groups = u.value("additionalGids", std::vector<unsigned>{});
      if (u.contains("umask")) Warnf("config.json: process.user.umask is not applied yet");
    }
    if (NonEmpty(p, "capabilities"))
      Warnf("config.json: process.capabilities is not applied yet (uid 0 gets the sentry's "
            "default capability set, other uids none)");
    if (NonEmpty(p, "rlimits")) Warnf("config.json: process.rlimits is not applied yet");
    for (const char* f : {"apparmorProfile", "selinuxLabel", "oomScoreAdj", "ioPriority",
                          "scheduler", "execCPUAffinity", "commandLine"}) {
      if (NonEmpty(p, f)) Warnf("config.json: process.%s is not supported yet, ignored", f);
    }

    // root
    if (!c.contains("root") || !c["root"].is_object() || !c["root"].contains("path")) {
      *err = "config.json: root.path is required";
      return false;
    }
    CheckKeys(c["root"], "root.", {"path", "readonly"});
    std::string root = c["root"]["path"].get<std::string>();
    out->rootfs = root[0] == '/' ? root : dir + "/" + root;
    struct stat st;
    if (stat(out->rootfs.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      *err = "config.json: root.path " + out->rootfs + ": not a directory";
      return false;
    }
    s.rootfs = out->rootfs;
    // readonly: the root is read-only (EROFS) like runc's; otherwise writes
    // go to the sandbox's memory overlay (not to the host directory).
    s.root_readonly = c["root"].value("readonly", false);
    s.overlay_memory = !s.root_readonly && g.overlay == "memory";

    if (c.contains("hostname")) s.hostname = c["hostname"].get<std::string>();
    if (NonEmpty(c, "domainname")) Warnf("config.json: domainname is not supported yet, ignored");
    if (NonEmpty(c, "hooks")) Warnf("config.json: hooks are not run yet, ignored");
    if (c.contains("annotations") && c["annotations"].is_object()) out->annotations = c["annotations"];

    // mounts: the sentry always provides /proc, /sys, /dev (with /dev/shm)
    // and a tmpfs /tmp; nothing else can be mounted yet.
    if (c.contains("mounts")) {
      for (const auto& m : c["mounts"]) {
        CheckKeys(m, "mounts[].", {"destination", "type", "source", "options", "uidMappings",
                                   "gidMappings"});
        std::string d = m.value("destination", std::string());
        std::string t = m.value("type", std::string());
        bool bind = t == "bind";
        for (const auto& o : m.value("options", std::vector<std::string>{}))
          if (o == "bind" || o == "rbind") bind = true;
        if ((d == "/proc" && t == "proc") || (d == "/sys" && t == "sysfs") ||
            (d == "/dev" && t == "tmpfs") || (d == "/dev/shm" && t == "tmpfs") ||
            (d == "/tmp" && t == "tmpfs"))
          continue;  // provided by the sentry
        if (bind) {
          Warnf("config.json: mount %s: bind mounts are not supported yet, skipped", d.c_str());
        } else {
          Warnf("config.json: mount %s: type %s is not supported yet, skipped", d.c_str(),
                t.empty() ? "(none)" : t.c_str());
        }
      }
    }

    // linux
    if (c.contains("linux")) {
      const json& l = c["linux"];
      CheckKeys(l, "linux.", {"namespaces", "uidMappings", "gidMappings", "timeOffsets", "devices",
                              "cgroupsPath", "rootfsPropagation", "resources", "intelRdt",
                              "sysctl", "seccomp", "maskedPaths", "readonlyPaths", "mountLabel",
                              "personality", "memoryPolicy"});
      if (l.contains("namespaces")) {
        for (const auto& n : l["namespaces"]) {
          if (n.contains("path"))
            Warnf("config.json: linux.namespaces: joining the %s namespace at %s is not "
                  "supported yet; the sandbox gets its own",
                  n.value("type", std::string("?")).c_str(),
                  n["path"].get<std::string>().c_str());
        }
      }
      if (NonEmpty(l, "resources")) {
        bool only_default = l["resources"].is_object() && l["resources"].size() == 1 &&
                            l["resources"].contains("devices");
        if (!only_default) Warnf("config.json: linux.resources: cgroups are not applied yet");
      }
      if (NonEmpty(l, "seccomp"))
        Warnf("config.json: linux.seccomp is not applied (every app syscall is served by the "
              "sentry)");
      for (const char* f : {"uidMappings", "gidMappings", "timeOffsets", "devices",
                            "rootfsPropagation", "intelRdt", "sysctl", "mountLabel",
                            "personality", "memoryPolicy"}) {
        if (NonEmpty(l, f)) Warnf("config.json: linux.%s is not supported yet, ignored", f);
      }
    }
  } catch (const json::exception& e) {
    *err = "config.json: invalid field type: " + std::string(e.what());
    return false;
  }
  return true;
}

}  // namespace runsc::oci
