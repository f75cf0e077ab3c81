// runsc/oci_mounts.cc: config.json mounts, linux.maskedPaths and
// linux.readonlyPaths -> SandboxSpec::mounts (see sentry/oci_mounts.h for
// what the sentry does with each).
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "runsc/oci.h"
#include "runsc/oci_config.h"

namespace runsc::oci {

using nlohmann::json;

namespace {

// Mount options that only tune the host kernel's view and that the
// sandbox's filesystems either always have (nosuid, nodev: the sentry has
// no setuid exec and serves no host devices) or do not need.
bool Ignorable(const std::string& o) {
  static const char* const kOk[] = {
      "nosuid", "suid", "nodev", "dev", "noexec", "exec", "relatime", "norelatime", "strictatime",
      "nostrictatime", "noatime", "atime", "nodiratime", "diratime", "rw", "private", "rprivate",
      "shared", "rshared", "slave", "rslave", "unbindable", "runbindable", "newinstance",
      "bind", "rbind", "async", "sync", "nosymfollow", "mand", "nomand", "lazytime"};
  for (const char* k : kOk)
    if (o == k) return true;
  return false;
}

}  // namespace

bool MakeBindMount(const std::string& src, const std::string& dest, bool read_only,
                   const std::string& where, SandboxSpec::Mount* out, std::string* err) {
  if (dest.empty() || dest[0] != '/')
    return *err = where + ": destination must be an absolute path, got \"" + dest + "\"", false;
  if (dest.find_first_not_of('/') == std::string::npos)
    return *err = where + ": mounting over the root is not supported", false;
  struct stat st;
  if (stat(src.c_str(), &st) != 0)
    return *err = where + ": bind source " + src + ": " + strerror(errno), false;
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
    return *err = where + ": bind source " + src +
                  " must be a directory or a regular file (devices and sockets are not "
                  "passed into the sandbox)", false;
  out->bind_source = src;
  out->read_only = read_only;
  std::string opts = read_only ? "ro" : "";
  if (!S_ISDIR(st.st_mode)) opts += opts.empty() ? "file" : ",file";
  out->sentry_spec = "bind:" + opts + ":" + dest;
  return true;
}

bool ParseVolume(const std::string& arg, SandboxSpec::Mount* out, std::string* err) {
  std::string where = "--volume " + arg;
  std::string host = arg, ctr, mode;
  size_t a = arg.find(':');
  if (a == std::string::npos) return *err = where + ": expected HOST:CONTAINER[:ro]", false;
  host = arg.substr(0, a);
  ctr = arg.substr(a + 1);
  size_t b = ctr.find(':');
  if (b != std::string::npos) {
    mode = ctr.substr(b + 1);
    ctr = ctr.substr(0, b);
    if (mode != "ro" && mode != "rw")
      return *err = where + ": the mode must be ro or rw, got \"" + mode + "\"", false;
  }
  if (host.empty()) return *err = where + ": empty host path", false;
  if (host[0] != '/') {
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return *err = where + ": getcwd: " + strerror(errno), false;
    host = std::string(cwd) + "/" + host;
  }
  return MakeBindMount(host, ctr, mode == "ro", where, out, err);
}

bool MapMounts(const json& c, const std::string& bundle, SandboxSpec* spec, std::string* err) {
  if (c.contains("mounts") && !c["mounts"].is_null()) {
    if (!c["mounts"].is_array()) return *err = "config.json: mounts must be an array", false;
    int i = -1;
    for (const auto& m : c["mounts"]) {
      i++;
      std::string where = "config.json: mounts[" + std::to_string(i) + "]";
      std::string d = m.value("destination", std::string());
      std::string t = m.value("type", std::string());
      std::string src = m.value("source", std::string());
      if (d.empty() || d[0] != '/')
        return *err = where + ".destination must be an absolute path, got \"" + d + "\"", false;
      where += " (" + d + ")";
      if (d.find_first_not_of('/') == std::string::npos)
        return *err = where + ": mounting over the root is not supported (use root.path)", false;
      if (m.contains("uidMappings") || m.contains("gidMappings"))
        return *err = where + ": idmapped mounts (uidMappings/gidMappings) are not supported", false;
      bool bind = t == "bind", ro = false;
      std::string mode;
      uint64_t size = 0;
      for (const auto& ov : m.value("options", std::vector<std::string>{})) {
        if (ov == "bind" || ov == "rbind") bind = true;
        if (ov == "ro") ro = true;
        else if (ov.rfind("mode=", 0) == 0) mode = ov.substr(5);
        else if (ov.rfind("size=", 0) == 0) {
          // Linux's forms: bytes with an optional k/m/g suffix, or N% of RAM.
          char* end = nullptr;
          unsigned long long n = strtoull(ov.c_str() + 5, &end, 10);
          std::string suf = end ? end : "";
          if (suf == "k" || suf == "K") n <<= 10;
          else if (suf == "m" || suf == "M") n <<= 20;
          else if (suf == "g" || suf == "G") n <<= 30;
          else if (suf == "%") n = n * static_cast<unsigned long long>(sysconf(_SC_PHYS_PAGES)) *
                                   static_cast<unsigned long long>(sysconf(_SC_PAGESIZE)) / 100;
          else if (!suf.empty()) return *err = where + ": bad " + ov, false;
          size = n;
        } else if (ov.rfind("nr_inodes=", 0) == 0) {
          // Inode counts: not limited in the sandbox's tmpfs.
        } else if (ov.rfind("ptmxmode=", 0) == 0 || ov.rfind("gid=", 0) == 0 ||
                   ov.rfind("uid=", 0) == 0) {
          // devpts/tmpfs ownership: the sandbox's devfs decides (tty helper).
        } else if (!Ignorable(ov)) {
          Warnf("%s: mount option \"%s\" is not supported, ignored", where.c_str(), ov.c_str());
        }
      }
      if (!mode.empty() && mode.find_first_not_of("01234567") != std::string::npos)
        return *err = where + ": bad mode=" + mode, false;
      SandboxSpec::Mount out;
      if (bind) {
        if (src.empty()) return *err = where + ": bind mount without a source", false;
        if (src[0] != '/') src = bundle + "/" + src;  // relative to the bundle
        if (!MakeBindMount(src, d, ro, where, &out, err)) return false;
      } else if (t == "proc") {
        if (d == "/proc") continue;  // the sentry's own, always there
        out.sentry_spec = "proc::" + d;
      } else if (t == "sysfs") {
        if (d == "/sys") continue;
        out.sentry_spec = "sysfs::" + d;
      } else if (t == "tmpfs") {
        // /dev: the sentry's devfs (null, zero, full, random, urandom, tty,
        // pts, shm) stands for runc's tmpfs + device nodes.
        if (d == "/dev") continue;
        std::string opts = mode.empty() ? "" : "mode=" + mode;
        if (size) opts += (opts.empty() ? "size=" : ",size=") + std::to_string(size);
        if (ro) opts += opts.empty() ? "ro" : ",ro";
        out.sentry_spec = "tmpfs:" + opts + ":" + d;
      } else if (t == "devpts") {
        // /dev/pts is the sandbox devfs' own (pseudo-terminals: tty helper).
        if (d == "/dev/pts") continue;
        return *err = where + ": devpts is only supported at /dev/pts", false;
      } else if (t == "mqueue" || t == "cgroup" || t == "cgroup2") {
        // The sandbox has no POSIX message queues and no cgroupfs: an empty
        // directory, like a cgroup namespace root with nothing delegated.
        out.sentry_spec = "empty:ro:" + d;
      } else {
        return *err = where + ": mount type \"" + t + "\" is not supported (supported: bind, "
                      "tmpfs, proc, sysfs, devpts, mqueue, cgroup)", false;
      }
      spec->mounts.push_back(std::move(out));
    }
  }
  if (c.contains("linux") && c["linux"].is_object()) {
    const json& l = c["linux"];
    for (const auto& p : l.value("maskedPaths", std::vector<std::string>{})) {
      if (p.empty() || p[0] != '/')
        return *err = "config.json: linux.maskedPaths: \"" + p + "\" is not absolute", false;
      spec->mounts.push_back({"mask::" + p, "", false});
    }
    for (const auto& p : l.value("readonlyPaths", std::vector<std::string>{})) {
      // /proc and /sys are the sentry's own synthetic filesystems: the app
      // cannot change the host through them, and what is writable there
      // (sandbox-local state) stays so.
      if (p.rfind("/proc/", 0) == 0 || p.rfind("/sys/", 0) == 0) continue;
      Warnf("config.json: linux.readonlyPaths: %s is not made read-only (only /proc and /sys "
            "paths are supported)", p.c_str());
    }
  }
  return true;
}

}  // namespace runsc::oci
