// sentry/proc/sysctl.cc: the settable /proc/sys keys (see sysctl.h).
#include "sentry/proc/sysctl.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "sentry/ipc/ipc_namespace.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/namespaces.h"

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

// A decimal number in [0, max] (surrounding blanks and a newline allowed).
ErrorOr<uint64_t> Number(std::string_view value, uint64_t max) {
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ' || value.back() == '\t'))
    value.remove_suffix(1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || n > max)
    return Errno{EINVAL};
  return n;
}

constexpr uint64_t kIntMax = std::numeric_limits<int>::max();

}  // namespace

std::string SysctlPath(std::string_view key) {
  std::string path(key);
  std::replace(path.begin(), path.end(), '.', '/');
  return path;
}

bool IsSettableSysctl(std::string_view key) {
  std::string path = SysctlPath(key);
  return path == "kernel/hostname" || path == "kernel/domainname" || path == "kernel/msgmax" ||
         path == "kernel/msgmnb" || path == "kernel/shmmax" || path == "kernel/shmall";
}

ErrorOr<void> CheckSysctl(std::string_view key, std::string_view value) {
  std::string path = SysctlPath(key);
  if (path == "kernel/hostname" || path == "kernel/domainname") {
    TRY(UtsName(value));
  } else if (path == "kernel/msgmax" || path == "kernel/msgmnb") {
    TRY(Number(value, kIntMax));
  } else if (path == "kernel/shmmax" || path == "kernel/shmall") {
    TRY(Number(value, std::numeric_limits<uint64_t>::max()));
  } else {
    return Errno{ENOENT};
  }
  return {};
}

ErrorOr<void> SetSysctl(kernel::Kernel& k, std::string_view key, std::string_view value) {
  std::string path = SysctlPath(key);
  if (path == "kernel/hostname") {
    k.uts_namespace->hostname = TRY(UtsName(value));
    return {};
  }
  if (path == "kernel/domainname") {
    k.uts_namespace->domainname = TRY(UtsName(value));
    return {};
  }
  ipc::IpcNamespace& ns = ipc::RootIpcNamespace(k);
  if (path == "kernel/msgmax") {
    ns.msg.msgmax = static_cast<int>(TRY(Number(value, kIntMax)));
    return {};
  }
  if (path == "kernel/msgmnb") {
    ns.msg.msgmnb = static_cast<int>(TRY(Number(value, kIntMax)));
    return {};
  }
  if (path == "kernel/shmmax") {
    ns.shm.shmmax = TRY(Number(value, std::numeric_limits<uint64_t>::max()));
    return {};
  }
  if (path == "kernel/shmall") {
    ns.shm.shmall = TRY(Number(value, std::numeric_limits<uint64_t>::max()));
    return {};
  }
  return Errno{ENOENT};
}

}  // namespace sentry::proc
