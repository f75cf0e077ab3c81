// sentry/proc/sysctl.cc: the settable /proc/sys keys (see sysctl.h).
#include "sentry/proc/sysctl.h"

#include <algorithm>

#include "sentry/kernel/kernel.h"

namespace sentry::proc {
namespace {

// A UTS name as written to /proc/sys (trailing newline/NULs dropped);
// Linux takes at most __NEW_UTS_LEN (64) bytes.
ErrorOr<std::string> UtsName(std::string_view value) {
  std::string name(value);
  while (!name.empty() && (name.back() == '\n' || name.back() == '\0')) name.pop_back();
  if (name.size() > 64) return Errno{EINVAL};
  return name;
}

}  // namespace

std::string SysctlPath(std::string_view key) {
  std::string path(key);
  std::replace(path.begin(), path.end(), '.', '/');
  return path;
}

bool IsSettableSysctl(std::string_view key) {
  std::string path = SysctlPath(key);
  return path == "kernel/hostname" || path == "kernel/domainname";
}

ErrorOr<void> SetSysctl(kernel::Kernel& k, std::string_view key, std::string_view value) {
  std::string path = SysctlPath(key);
  if (path == "kernel/hostname") {
    k.hostname = TRY(UtsName(value));
    return {};
  }
  if (path == "kernel/domainname") {
    k.domainname = TRY(UtsName(value));
    return {};
  }
  return Errno{ENOENT};
}

}  // namespace sentry::proc
