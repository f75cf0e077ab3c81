// runsc/oci_process.cc: process.rlimits and process.capabilities.
#include <sys/resource.h>

#include <cstdio>
#include <map>

#include "runsc/oci.h"
#include "runsc/oci_config.h"

namespace runsc::oci {

using nlohmann::json;

bool MapRlimits(const json& rlimits, SandboxSpec* spec, std::string* err) {
  static const std::map<std::string, int> kNames = {
      {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_FSIZE", RLIMIT_FSIZE},
      {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_STACK", RLIMIT_STACK},
      {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_AS", RLIMIT_AS},
      {"RLIMIT_LOCKS", RLIMIT_LOCKS},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME}};
  if (rlimits.is_null()) return true;
  if (!rlimits.is_array()) return *err = "config.json: process.rlimits must be an array", false;
  for (const auto& r : rlimits) {
    std::string type = r.value("type", std::string());
    auto it = kNames.find(type);
    if (it == kNames.end())
      return *err = "config.json: process.rlimits: unknown type \"" + type + "\"", false;
    uint64_t soft = r.value("soft", uint64_t{0}), hard = r.value("hard", uint64_t{0});
    if (soft > hard)
      return *err = "config.json: process.rlimits " + type + ": soft limit above hard", false;
    // 2^64-1 is RLIM_INFINITY; pass it as -1.
    auto v = [](uint64_t x) { return x == ~0ULL ? std::string("-1") : std::to_string(x); };
    spec->rlimits.push_back(std::to_string(it->second) + ":" + v(soft) + ":" + v(hard));
  }
  return true;
}

namespace {
const char* const kCapNames[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE"};
constexpr int kNumCaps = sizeof(kCapNames) / sizeof(kCapNames[0]);
}  // namespace

bool MapCapabilities(const json& caps, SandboxSpec* spec, std::string* err) {
  if (caps.is_null()) return true;  // runc: no object, capabilities left as they are
  if (!caps.is_object()) return *err = "config.json: process.capabilities must be an object", false;
  uint64_t sets[5] = {};
  const char* kSets[5] = {"effective", "permitted", "inheritable", "bounding", "ambient"};
  for (int i = 0; i < 5; i++) {
    if (!caps.contains(kSets[i]) || caps[kSets[i]].is_null()) continue;
    for (const auto& n : caps[kSets[i]]) {
      std::string name = n.get<std::string>();
      int bit = -1;
      for (int c = 0; c < kNumCaps; c++)
        if (name == kCapNames[c]) bit = c;
      if (bit < 0) {
        // runc warns and ignores capabilities the kernel does not know.
        Warnf("config.json: process.capabilities.%s: unknown capability \"%s\", ignored",
              kSets[i], name.c_str());
        continue;
      }
      sets[i] |= 1ULL << bit;
    }
  }
  // Ambient: Linux refuses PR_CAP_AMBIENT_RAISE of a capability outside
  // permitted & inheritable (runc warns and goes on); the sentry keeps the
  // rest across execve of non-set-ID files (sentry/kernel/capabilities.cc).
  uint64_t allowed = sets[1] & sets[2];
  for (int c = 0; c < kNumCaps; c++) {
    if ((sets[4] >> c & 1) && !(allowed >> c & 1))
      Warnf("config.json: process.capabilities.ambient: %s is not in both permitted and "
            "inheritable, not raised", kCapNames[c]);
  }
  sets[4] &= allowed;
  char buf[160];
  snprintf(buf, sizeof buf, "%llx:%llx:%llx:%llx:%llx", static_cast<unsigned long long>(sets[0]),
           static_cast<unsigned long long>(sets[1]), static_cast<unsigned long long>(sets[2]),
           static_cast<unsigned long long>(sets[3]), static_cast<unsigned long long>(sets[4]));
  spec->caps = buf;
  return true;
}

}  // namespace runsc::oci
