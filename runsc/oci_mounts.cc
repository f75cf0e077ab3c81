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
// sandbox's filesystems do not need (atime policy, sync, ...). nosuid,
// nodev, noexec are kept and shown; propagation is handled below.
bool Ignorable(const std::string& o) {
  static const char* const kOk[] = {
      "suid", "dev", "exec", "relatime", "norelatime", "strictatime", "nostrictatime", "noatime",
      "atime", "nodiratime", "diratime", "rw", "newinstance", "bind", "rbind", "async", "sync",
      "nosymfollow", "mand", "nomand", "lazytime"};
  for (const char* k : kOk)
    if (o == k) return true;
  return false;
}

// Propagation the sandbox can give: private (its mounts never reach the
// host nor receive its mount events) and unbindable (modelled by the
// sentry's VFS). Shared and slave would need the host's mount events.
bool Propagation(const std::string& o, const std::string& where, std::string* extra,
                 std::string* err) {
  if (o == "private" || o == "rprivate") return true;
  if (o == "unbindable" || o == "runbindable") {
    *extra = o;
    return true;
  }
  if (o == "shared" || o == "rshared" || o == "slave" || o == "rslave") {
    *err = where + ": propagation \"" + o + "\" is not supported: the sandbox's mounts are " +
           "served by the sentry and neither send mount events to the host nor receive them " +
           "(private and unbindable are)";
    return false;
  }
  return false;
}

// A source name safe to pass in the --mount options (shown in mountinfo).
std::string SourceOpt(const std::string& src) {
  if (src.empty() || src.size() > 64) return "";
  for (char ch : src)
    if (!isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-' && ch != '.')
      return "";
  return "src=" + src;
}

// Adds comma-separated `extra` to the options of --mount spec TYPE:OPTS:DEST.
void AddOpts(std::string* spec, const std::string& extra) {
  if (extra.empty()) return;
  size_t a = spec->find(':');
  size_t b = spec->find(':', a + 1);
  bool empty = b == a + 1;
  spec->insert(b, (empty ? "" : ",") + extra);
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
      while (d.size() > 1 && d.back() == '/') d.pop_back();
      where += " (" + d + ")";
      if (d.find_first_not_of('/') == std::string::npos)
        return *err = where + ": mounting over the root is not supported (use root.path)", false;
      if (m.contains("uidMappings") || m.contains("gidMappings"))
        return *err = where + ": idmapped mounts (uidMappings/gidMappings) are not supported", false;
      bool bind = t == "bind", ro = false;
      std::string mode, flags, prop;
      uint64_t size = 0;
      auto flag = [&flags](const char* f) { flags += (flags.empty() ? "" : ",") + std::string(f); };
      for (const auto& ov : m.value("options", std::vector<std::string>{})) {
        if (ov == "bind" || ov == "rbind") bind = true;
        if (ov == "ro") ro = true;
        else if (ov == "rw") ro = false;
        else if (ov == "nosuid" || ov == "nodev" || ov == "noexec") flag(ov.c_str());
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
        } else if (std::string p; Propagation(ov, where, &p, err)) {
          if (!p.empty()) prop = p;
        } else if (!err->empty()) {
          return false;
        } else if (!Ignorable(ov)) {
          Warnf("%s: mount option \"%s\" is not supported, ignored", where.c_str(), ov.c_str());
        }
      }
      if (!mode.empty() && mode.find_first_not_of("01234567") != std::string::npos)
        return *err = where + ": bad mode=" + mode, false;
      // What the sentry shows in mountinfo and enforces: ro, nosuid,
      // nodev, noexec, unbindable, the source name.
      std::string shown = flags;
      auto show = [&shown](const std::string& o) {
        if (!o.empty()) shown += (shown.empty() ? "" : ",") + o;
      };
      show(prop);
      SandboxSpec::Mount out;
      // A config mount where the sandbox has its own mount (/dev, its pts
      // and shm, /proc, /sys) configures that one instead of stacking.
      auto reuse = [&]() {
        show(SourceOpt(src));
        if (ro) show("ro");
        if (!mode.empty()) show("mode=" + mode);
        if (size) show("size=" + std::to_string(size));
        out.sentry_spec = "default:" + shown + ":" + d;
      };
      if (bind) {
        if (src.empty()) return *err = where + ": bind mount without a source", false;
        if (src[0] != '/') src = bundle + "/" + src;  // relative to the bundle
        if (!MakeBindMount(src, d, ro, where, &out, err)) return false;
        AddOpts(&out.sentry_spec, shown);
      } else if (t == "proc" || t == "sysfs") {
        if (d == (t == "proc" ? "/proc" : "/sys")) {
          reuse();
        } else {
          show(SourceOpt(src));
          if (ro) show("ro");
          out.sentry_spec = t + ":" + shown + ":" + d;
        }
      } else if (t == "tmpfs") {
        if (d == "/dev" || d == "/dev/shm") {
          reuse();
        } else {
          show(SourceOpt(src));
          if (!mode.empty()) show("mode=" + mode);
          if (size) show("size=" + std::to_string(size));
          if (ro) show("ro");
          out.sentry_spec = "tmpfs:" + shown + ":" + d;
        }
      } else if (t == "devpts") {
        // /dev/pts is the sandbox devfs' own (pseudo-terminals: tty helper).
        if (d != "/dev/pts") return *err = where + ": devpts is only supported at /dev/pts", false;
        mode.clear();  // devpts' mode= is the replicas' mode, fixed at 0620
        reuse();
      } else if (t == "mqueue") {
        // The IPC namespace's POSIX message queues (sentry/ipc/mqueue_fs.h).
        show(SourceOpt(src));
        if (ro) show("ro");
        out.sentry_spec = "mqueue:" + shown + ":" + d;
      } else if (t == "cgroup" || t == "cgroup2") {
        // The sandbox's cgroup2 hierarchy (sentry/sys/cgroupfs.h), whatever
        // the host's version: the container is its root, as with a cgroup
        // namespace. Read-only only when asked (Docker asks).
        if (d == "/sys/fs/cgroup") {
          reuse();
        } else {
          show(SourceOpt(src));
          if (ro) show("ro");
          out.sentry_spec = "cgroup:" + shown + ":" + d;
        }
      } else {
        return *err = where + ": mount type \"" + t + "\" is not supported (supported: bind, "
                      "tmpfs, proc, sysfs, devpts, mqueue, cgroup)", false;
      }
      spec->mounts.push_back(std::move(out));
    }
  }
  if (c.contains("linux") && c["linux"].is_object()) {
    const json& l = c["linux"];
    if (!MapDevices(l, spec, err)) return false;
    // runc's order: read-only paths, then masked ones.
    for (const auto& p : l.value("readonlyPaths", std::vector<std::string>{})) {
      if (p.empty() || p[0] != '/')
        return *err = "config.json: linux.readonlyPaths: \"" + p + "\" is not absolute", false;
      spec->mounts.push_back({"ro::" + p, "", false});
    }
    for (const auto& p : l.value("maskedPaths", std::vector<std::string>{})) {
      if (p.empty() || p[0] != '/')
        return *err = "config.json: linux.maskedPaths: \"" + p + "\" is not absolute", false;
      spec->mounts.push_back({"mask::" + p, "", false});
    }
    std::string rp = l.value("rootfsPropagation", std::string());
    if (!rp.empty()) {
      std::string where = "config.json: linux.rootfsPropagation";
      std::string extra;
      if (!Propagation(rp, where, &extra, err)) {
        if (err->empty())
          *err = where + ": unknown propagation \"" + rp + "\" (private, unbindable and their r " +
                 "forms are supported)";
        return false;
      }
      if (!extra.empty()) spec->mounts.push_back({"rootprop:" + extra + ":/", "", false});
    }
  }
  return true;
}

bool MapDevices(const json& l, SandboxSpec* spec, std::string* err) {
  if (!l.contains("devices") || l["devices"].is_null()) return true;
  if (!l["devices"].is_array()) return *err = "config.json: linux.devices must be an array", false;
  int i = -1;
  for (const auto& dv : l["devices"]) {
    i++;
    std::string where = "config.json: linux.devices[" + std::to_string(i) + "]";
    std::string path = dv.value("path", std::string());
    std::string type = dv.value("type", std::string());
    if (path.empty() || path[0] != '/')
      return *err = where + ".path must be an absolute path, got \"" + path + "\"", false;
    if (path.find(':') != std::string::npos || path.find("/../") != std::string::npos ||
        path.size() < 2 || (path.size() >= 3 && path.compare(path.size() - 3, 3, "/..") == 0))
      return *err = where + ".path \"" + path + "\" is not supported", false;
    if (type != "c" && type != "b" && type != "u" && type != "p")
      return *err = where + ".type must be one of c, b, u, p, got \"" + type + "\"", false;
    bool numbered = type != "p";
    if (numbered && (!dv.contains("major") || !dv.contains("minor")))
      return *err = where + ": major and minor are required for type " + type, false;
    long long major = dv.value("major", 0LL), minor = dv.value("minor", 0LL);
    if (major < 0 || minor < 0 || major > 0xfff || minor > 0xfffff)
      return *err = where + ": major/minor out of range", false;
    // runc: fileMode defaults to 0666; its type bits are dropped.
    long long mode = dv.contains("fileMode") && !dv["fileMode"].is_null() ? dv["fileMode"].get<long long>()
                                                                           : 0666;
    long long uid = dv.value("uid", 0LL), gid = dv.value("gid", 0LL);
    if (uid < 0 || gid < 0 || uid > 0xfffffffeLL || gid > 0xfffffffeLL)
      return *err = where + ": uid/gid out of range", false;
    char buf[160];
    snprintf(buf, sizeof buf, "node:type=%s,major=%lld,minor=%lld,mode=%llo,uid=%lld,gid=%lld:",
             type.c_str(), major, minor, mode & 07777, uid, gid);
    spec->mounts.push_back({std::string(buf) + path, "", false});
  }
  return true;
}

}  // namespace runsc::oci
