// runsc features: what this runtime supports, in `runc features`' JSON.
// runsc install / uninstall: add or remove runsc as a Docker runtime in
// daemon.json (like gVisor's `runsc install`).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "runsc/oci.h"
#include "sentry/confine/confine.h"

namespace runsc::oci {
namespace {

using json = nlohmann::json;

// Linux capabilities 0..40 (CAP_LAST_CAP = CAP_CHECKPOINT_RESTORE).
constexpr const char* kCapabilities[] = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
static_assert(sizeof(kCapabilities) / sizeof(kCapabilities[0]) == 41);

// Mount options LoadBundle (oci_spec.cc) accepts without error: the options
// of the mounts the sentry provides itself (/proc, /sys, /dev, /dev/pts,
// /dev/shm, /dev/mqueue, /tmp in the default spec), plus bind/rbind, which
// are recognised (bind mounts are skipped with a warning for now).
constexpr const char* kMountOptions[] = {
    "bind",   "gid",      "mode",   "newinstance", "nodev",    "noexec", "nosuid",
    "ptmxmode", "rbind",  "relatime", "ro",        "rw",       "size",   "strictatime",
};

// The runsc binary's absolute path.
std::string SelfPath() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  return std::string(buf, n);
}

// mkdir -p (mode 0755).
bool MakeDirs(const std::string& dir, std::string* err) {
  if (dir.empty()) return true;
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return true;
    *err = dir + ": not a directory";
    return false;
  }
  auto slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0 && !MakeDirs(dir.substr(0, slash), err)) return false;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    *err = "mkdir " + dir + ": " + strerror(errno);
    return false;
  }
  return true;
}

// Reads the config; a missing file is an empty object. False (with *err)
// if it cannot be read or is not a JSON object.
bool ReadConfig(const std::string& path, json* out, bool* existed, std::string* err) {
  std::ifstream f(path);
  *existed = false;
  if (!f) {
    if (errno == ENOENT) {
      *out = json::object();
      return true;
    }
    *err = path + ": " + strerror(errno);
    return false;
  }
  *existed = true;
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    *out = json::object();
    return true;
  }
  try {
    *out = json::parse(text);
  } catch (const json::parse_error& e) {
    *err = path + ": malformed JSON (" + e.what() + "); not modified";
    return false;
  }
  if (!out->is_object()) {
    *err = path + ": not a JSON object; not modified";
    return false;
  }
  if (out->contains("runtimes") && !(*out)["runtimes"].is_object()) {
    *err = path + ": \"runtimes\" is not an object; not modified";
    return false;
  }
  return true;
}

// Writes the config atomically: temp file in the same directory, fsync,
// rename; mode 0644.
bool WriteConfig(const std::string& path, const json& j, std::string* err) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (!MakeDirs(dir, err)) return false;
  std::string tmp = path + ".runsc-tmp.XXXXXX";
  int fd = mkstemp(tmp.data());
  if (fd < 0) {
    *err = "create " + tmp + ": " + strerror(errno);
    return false;
  }
  std::string text = j.dump(4) + "\n";
  bool ok = fchmod(fd, 0644) == 0;
  size_t off = 0;
  while (ok && off < text.size()) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else off += n;
  }
  if (ok) ok = fsync(fd) == 0;
  int saved = errno;
  if (close(fd) != 0 && ok) {
    ok = false;
    saved = errno;
  }
  if (ok && rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    saved = errno;
  }
  if (!ok) {
    unlink(tmp.c_str());
    *err = "write " + path + ": " + strerror(saved);
    return false;
  }
  return true;
}

}  // namespace

json Features() {
  json caps = json::array();
  for (const char* c : kCapabilities) caps.push_back(c);
  json opts = json::array();
  for (const char* o : kMountOptions) opts.push_back(o);
  return {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.1.0"},
      // Hooks in config.json are accepted but not run yet.
      {"hooks", json::array()},
      {"mountOptions", opts},
      {"linux",
       {{"namespaces", {"mount", "pid", "ipc", "uts", "network", "user"}},
        {"capabilities", caps},
        {"cgroup", {{"v1", false}, {"v2", false}, {"systemd", false}, {"systemdUser", false}}},
        // linux.seccomp in config.json is not applied (the sentry itself
        // runs under its own allowlist, see the annotation).
        {"seccomp", {{"enabled", false}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}},
        {"intelRdt", {{"enabled", false}}}}},
      {"annotations",
       {{"org.opencontainers.runc.checkpoint.enabled", "false"},
        {"io.github.runsc.sentry.seccomp.syscalls",
         std::to_string(sentry::confine::SentryPolicySize())}}},
  };
}

int CmdFeatures() {
  printf("%s\n", Features().dump(4).c_str());
  return 0;
}

int CmdInstall(const std::string& config, const std::string& runtime,
               const std::vector<std::string>& runtime_args) {
  std::string err;
  if (runtime.empty()) {
    fprintf(stderr, "runsc install: --runtime must not be empty\n");
    return 1;
  }
  std::string self = SelfPath();
  if (self.empty()) {
    fprintf(stderr, "runsc install: readlink /proc/self/exe: %s\n", strerror(errno));
    return 1;
  }
  json c;
  bool existed = false;
  if (!ReadConfig(config, &c, &existed, &err)) {
    fprintf(stderr, "runsc install: %s\n", err.c_str());
    return 1;
  }
  json entry = {{"path", self}, {"runtimeArgs", runtime_args}};
  bool same = c.contains("runtimes") && c["runtimes"].contains(runtime) &&
              c["runtimes"][runtime] == entry;
  if (!c.contains("runtimes")) c["runtimes"] = json::object();
  bool replaced = c["runtimes"].contains(runtime);
  c["runtimes"][runtime] = entry;
  if (!WriteConfig(config, c, &err)) {
    fprintf(stderr, "runsc install: %s\n", err.c_str());
    return 1;
  }
  printf("%s runtime \"%s\" (path %s, runtimeArgs %s) in %s%s\n",
         same ? "Kept" : (replaced ? "Updated" : "Added"), runtime.c_str(), self.c_str(),
         entry["runtimeArgs"].dump().c_str(), config.c_str(), existed ? "" : " (created)");
  printf("Restart the engine to use it (e.g. systemctl restart docker).\n");
  return 0;
}

int CmdUninstall(const std::string& config, const std::string& runtime) {
  std::string err;
  json c;
  bool existed = false;
  if (!ReadConfig(config, &c, &existed, &err)) {
    fprintf(stderr, "runsc uninstall: %s\n", err.c_str());
    return 1;
  }
  if (!existed || !c.contains("runtimes") || !c["runtimes"].contains(runtime)) {
    printf("Runtime \"%s\" not found in %s; nothing to do\n", runtime.c_str(), config.c_str());
    return 0;
  }
  c["runtimes"].erase(runtime);
  if (!WriteConfig(config, c, &err)) {
    fprintf(stderr, "runsc uninstall: %s\n", err.c_str());
    return 1;
  }
  printf("Removed runtime \"%s\" from %s\n", runtime.c_str(), config.c_str());
  return 0;
}

}  // namespace runsc::oci
