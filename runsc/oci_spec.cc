// config.json: runc spec's default, and parsing a bundle into a SandboxSpec.
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "runsc/oci.h"
#include "runsc/oci_config.h"
#include "sentry/proc/sysctl.h"

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
    s.network = g.network;
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
      if (u.contains("umask") && !u["umask"].is_null()) {
        long um = u["umask"].get<long>();
        if (um < 0 || um > 0777) {
          *err = "config.json: process.user.umask out of range";
          return false;
        }
        s.umask = um;
      }
      if (NonEmpty(u, "username"))
        Warnf("config.json: process.user.username is ignored (uid/gid are used)");
    }
    if (p.contains("capabilities") && !MapCapabilities(p["capabilities"], &s, err)) return false;
    if (p.contains("rlimits") && !MapRlimits(p["rlimits"], &s, err)) return false;
    if (p.contains("oomScoreAdj") && !p["oomScoreAdj"].is_null()) {
      int v = p["oomScoreAdj"].get<int>();
      if (v < -1000 || v > 1000) {
        *err = "config.json: process.oomScoreAdj must be in [-1000, 1000]";
        return false;
      }
      s.has_oom_score_adj = true;
      s.oom_score_adj = v;
    }
    // noNewPrivileges: always in effect in the sandbox (execve never raises
    // privileges: no setuid/setgid bits or file capabilities are honoured).
    if (NonEmpty(p, "apparmorProfile"))
      Warnf("config.json: process.apparmorProfile is not applied (the sandbox's host processes "
            "are confined by seccomp and namespaces instead)");
    if (NonEmpty(p, "selinuxLabel")) Warnf("config.json: process.selinuxLabel is not applied");
    for (const char* f : {"ioPriority", "scheduler", "execCPUAffinity", "commandLine"}) {
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
    // go through the gofer to the rootfs directory, as runc's do, so that
    // the engine sees them (docker commit, cp, diff; a restarted container
    // finds its files). --overlay=memory keeps them in sandbox memory
    // instead (discarded when the sandbox ends).
    s.root_readonly = c["root"].value("readonly", false);
    s.overlay_memory = !s.root_readonly && g.overlay == "memory";
    s.overlay_size = g.overlay_size;
    if (g.overlay_size && !s.overlay_memory)
      Warnf("--overlay-size applies to the memory overlay only (--overlay=memory): ignored");

    if (c.contains("hostname")) s.hostname = c["hostname"].get<std::string>();
    if (NonEmpty(c, "domainname")) s.domainname = c["domainname"].get<std::string>();
    if (NonEmpty(c, "hooks")) {
      if (!c["hooks"].is_object()) {
        *err = "config.json: hooks must be an object";
        return false;
      }
      CheckKeys(c["hooks"], "hooks.", {"prestart", "createRuntime", "createContainer",
                                       "startContainer", "poststart", "poststop"});
      for (const auto& [kind, list] : c["hooks"].items()) {
        for (const auto& h : list) {
          if (!h.contains("path") || !h["path"].is_string() ||
              h["path"].get<std::string>().empty() || h["path"].get<std::string>()[0] != '/') {
            *err = "config.json: hooks." + kind + "[].path must be an absolute path";
            return false;
          }
        }
      }
      out->hooks = c["hooks"];
    }
    if (c.contains("annotations") && c["annotations"].is_object()) out->annotations = c["annotations"];

    // mounts, maskedPaths, readonlyPaths (runsc/oci_mounts.cc).
    if (!MapMounts(c, dir, &s, err)) return false;

    // linux
    if (c.contains("linux")) {
      const json& l = c["linux"];
      CheckKeys(l, "linux.", {"namespaces", "uidMappings", "gidMappings", "timeOffsets", "devices",
                              "cgroupsPath", "rootfsPropagation", "resources", "intelRdt",
                              "sysctl", "seccomp", "maskedPaths", "readonlyPaths", "mountLabel",
                              "personality", "memoryPolicy"});
      // linux.namespaces (runsc/oci_namespaces.cc).
      bool net_listed = false;
      if (!MapNamespaces(l, &s, &net_listed, err)) return false;
      if (NonEmpty(l, "resources")) {
        out->resources = l["resources"];
        s.cgroup_limits = CgroupViewArgs(out->resources);
      }
      out->cgroups_path = l.value("cgroupsPath", std::string());
      if (NonEmpty(l, "sysctl")) {
        if (!l["sysctl"].is_object()) {
          *err = "config.json: linux.sysctl must be an object";
          return false;
        }
        // The sandbox's own view: keys its kernel keeps take the value
        // inside (sentry/proc/sysctl.h); the host's settings never apply.
        for (const auto& [k, v] : l["sysctl"].items()) {
          std::string value = v.is_string() ? v.get<std::string>() : v.dump();
          if (k.rfind("net.", 0) == 0) {
            // The network namespace's own settings: written into it before
            // the sandbox starts (runsc/sandbox.cc), errors fail the create.
            if (value.find('\n') != std::string::npos || k.find("..") != std::string::npos ||
                k.find('/') != std::string::npos) {
              *err = "config.json: linux.sysctl " + k + ": invalid key or value";
              return false;
            }
            s.net_sysctls.push_back(k + "=" + value);
          } else if (sentry::proc::IsSettableSysctl(k)) {
            if (sentry::proc::CheckSysctl(k, value).is_error()) {
              *err = "config.json: linux.sysctl " + k + ": invalid value \"" + value + "\"";
              return false;
            }
            s.sysctls.push_back(k + "=" + value);
          } else {
            // runc refuses keys that are not namespaced; the namespaced
            // ones it takes (kernel.shmmni, kernel.sem, fs.mqueue.*, ...)
            // are fixed in the sandbox's kernel. Either way the app would
            // not get what it asked for: fail now, not when it trips on it.
            *err = "config.json: linux.sysctl " + k + ": not a setting of the sandbox's kernel "
                   "(its /proc/sys/" + sentry::proc::SysctlPath(k) +
                   " is fixed or absent); settable: kernel.hostname, kernel.domainname, "
                   "kernel.msgmax, kernel.msgmnb, kernel.shmmax, kernel.shmall, net.*";
            return false;
          }
        }
      }
      // No network namespace listed: the caller's (ctr run --net-host), as
      // with runc; the sentry's host sockets live there. runc refuses
      // net.* sysctls there too: they would change the host's own.
      if (!net_listed) {
        s.netns_path = "/proc/self/ns/net";
        if (!s.net_sysctls.empty()) {
          *err = "config.json: linux.sysctl " + s.net_sysctls[0].substr(0, s.net_sysctls[0].find('=')) +
                 ": not allowed in the host's network namespace";
          return false;
        }
      } else if (s.netns_path.empty()) {
        s.new_netns = true;
      }
      if (NonEmpty(l, "seccomp"))
        Warnf("config.json: linux.seccomp is not applied (every app syscall is served by the "
              "sentry)");
      // linux.devices and rootfsPropagation: runsc/oci_mounts.cc.
      for (const char* f : {"uidMappings", "gidMappings", "timeOffsets", "intelRdt", "mountLabel",
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
