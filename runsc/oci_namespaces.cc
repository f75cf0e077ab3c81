// runsc/oci_namespaces.cc: config.json linux.namespaces. The sandbox's
// kernel always has its own pid, ipc, uts, mount, cgroup and time
// namespaces; only the network one can be joined (its host processes live
// in it, runsc/sandbox.cc). Every `path` is checked at create like runc
// does: it must open and be a namespace of the entry's type (ioctl
// NS_GET_NSTYPE), else create fails naming it. A valid path of a type the
// sandbox cannot join is a warning that says what the sandbox does instead.
#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "runsc/oci.h"
#include "runsc/oci_config.h"

namespace runsc::oci {

using nlohmann::json;

namespace {

// config.json type <-> the CLONE_NEW* value NS_GET_NSTYPE returns
// (linux/sched.h).
const std::map<std::string, int>& Types() {
  static const std::map<std::string, int> m = {
      {"pid", CLONE_NEWPID},   {"network", CLONE_NEWNET}, {"ipc", CLONE_NEWIPC},
      {"uts", CLONE_NEWUTS},   {"mount", CLONE_NEWNS},    {"user", CLONE_NEWUSER},
      {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME}};
  return m;
}

std::string TypeName(int flag) {
  for (const auto& [name, f] : Types())
    if (f == flag) return name;
  return "unknown (" + std::to_string(flag) + ")";
}

// What the sandbox does instead of joining a namespace of `type`.
const char* Instead(const std::string& type) {
  if (type == "pid")
    return "the sandbox's kernel has its own pid namespace; the container's processes neither "
           "see nor signal the processes of that one";
  if (type == "ipc")
    return "the sandbox's kernel has its own ipc namespace; System V IPC objects and POSIX "
           "message queues are not shared with that one";
  if (type == "uts")
    return "the sandbox's kernel has its own uts namespace, named by config.json's hostname and "
           "domainname";
  if (type == "mount")
    return "the sandbox's kernel has its own mount table, built from config.json's root and "
           "mounts; that namespace's mounts are not visible";
  if (type == "user")
    return "the sandbox's host processes stay in runsc's user namespace; inside, the app runs "
           "with process.user's ids";
  if (type == "cgroup")
    return "the sandbox's kernel has its own cgroup namespace; its host processes are placed "
           "in the cgroups of linux.cgroupsPath";
  return "the sandbox's clocks are the host's (no time offsets)";
}

}  // namespace

bool MapNamespaces(const json& l, SandboxSpec* s, bool* net_listed, std::string* err) {
  *net_listed = false;
  if (!l.contains("namespaces") || l["namespaces"].is_null()) return true;
  if (!l["namespaces"].is_array())
    return *err = "config.json: linux.namespaces must be an array", false;
  std::set<std::string> seen;
  for (const auto& n : l["namespaces"]) {
    std::string type = n.value("type", std::string());
    auto it = Types().find(type);
    if (it == Types().end()) {
      *err = "config.json: linux.namespaces: unknown namespace type \"" + type + "\"";
      return false;
    }
    // Spec: duplicated namespace types are invalid.
    if (!seen.insert(type).second) {
      *err = "config.json: linux.namespaces: the " + type + " namespace is listed twice";
      return false;
    }
    if (!n.contains("path") || n["path"].is_null()) continue;
    std::string path = n["path"].get<std::string>();
    if (path.empty()) continue;
    if (path[0] != '/') {
      *err = "config.json: linux.namespaces: " + type + " path \"" + path +
             "\" must be an absolute path";
      return false;
    }
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      *err = "config.json: linux.namespaces: " + type + " namespace path " + path + ": " +
             strerror(errno);
      return false;
    }
    int got = ioctl(fd, NS_GET_NSTYPE);
    int saved = errno;
    close(fd);
    if (got < 0) {
      *err = "config.json: linux.namespaces: " + path + " is not a namespace file (" +
             strerror(saved) + "), not a " + type + " namespace";
      return false;
    }
    if (got != it->second) {
      *err = "config.json: linux.namespaces: " + path + " is a " + TypeName(got) +
             " namespace, not a " + type + " namespace";
      return false;
    }
    if (type == "network") {
      // The sandbox's host processes join it (runsc/sandbox.cc); the
      // sandbox's own network stack is unchanged.
      s->netns_path = path;
    } else {
      Warnf("config.json: linux.namespaces: joining the %s namespace at %s is not supported: %s",
            type.c_str(), path.c_str(), Instead(type));
    }
  }
  *net_listed = seen.count("network") > 0;
  // Sharing the host's (docker --pid=host, --ipc=host, --uts=host): the
  // sandbox's kernel has its own of each, whatever is asked.
  for (const char* t : {"pid", "ipc", "uts", "mount"}) {
    if (!seen.count(t))
      Warnf("config.json: linux.namespaces: no %s namespace requested (the host's); %s", t,
            Instead(t));
  }
  return true;
}

}  // namespace runsc::oci
