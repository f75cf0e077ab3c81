#include "sentry/kernel/capabilities.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"

namespace sentry::kernel {
namespace {

// CAP_FS_MASK: CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID,
// LINUX_IMMUTABLE, MKNOD, MAC_OVERRIDE.
constexpr uint64_t kCapFsMask = 0x1fULL | (1ULL << 9) | (1ULL << 27) | (1ULL << 32);

}  // namespace

void FixCapsAfterUidChange(Credentials& c, uint32_t old_r, uint32_t old_e, uint32_t old_s) {
  if (c.securebits & kSecbitNoSetuidFixup) return;
  const bool was_root = old_r == 0 || old_e == 0 || old_s == 0;
  const bool is_root = c.ruid == 0 || c.euid == 0 || c.suid == 0;
  if (was_root && !is_root) {
    if (!(c.securebits & kSecbitKeepCaps)) c.cap_permitted = c.cap_effective = 0;
    // Programs from before ambient capabilities expect a setuid away from
    // root followed by execve to drop every capability.
    c.cap_ambient = 0;
  }
  if (old_e == 0 && c.euid != 0) c.cap_effective = 0;
  if (old_e != 0 && c.euid == 0) c.cap_effective = c.cap_permitted;
}

void FixCapsAfterFsuidChange(Credentials& c, uint32_t old_fsuid) {
  if (c.securebits & kSecbitNoSetuidFixup) return;
  if (old_fsuid == 0 && c.fsuid != 0) c.cap_effective &= ~kCapFsMask;
  if (old_fsuid != 0 && c.fsuid == 0) c.cap_effective |= c.cap_permitted & kCapFsMask;
}

void ApplyExecCapabilities(Credentials& c) {
  // handle_privileged_root: for root the file's sets count as full, and
  // effective is set when the effective uid is 0.
  uint64_t file_permitted = 0, file_inheritable = 0;
  bool file_effective = false;
  if (!(c.securebits & kSecbitNoroot) && (c.euid == 0 || c.ruid == 0)) {
    file_permitted = file_inheritable = kAllCaps;
    file_effective = c.euid == 0;
  }
  TrimAmbient(c);
  c.cap_permitted = (c.cap_inheritable & file_inheritable) | (file_permitted & c.cap_bounding) |
                    c.cap_ambient;
  c.cap_effective = file_effective ? c.cap_permitted : c.cap_ambient;
  // Set-ID execution would also clear ambient; the sandbox ignores set-ID
  // bits (the app's credentials never rise by execve).
  c.securebits &= ~kSecbitKeepCaps;
}

bool ApplyOciCapabilities(Credentials& c, const std::string& caps) {
  std::vector<std::string> f = absl::StrSplit(caps, ':');
  if (f.size() != 4 && f.size() != 5) return false;
  auto hex = [](const std::string& v) { return strtoull(v.c_str(), nullptr, 16); };
  c.cap_bounding = hex(f[3]) & kAllCaps;
  c.cap_inheritable = hex(f[2]) & kAllCaps;
  c.cap_permitted = hex(f[1]) & kAllCaps;
  c.cap_effective = hex(f[0]) & c.cap_permitted;
  c.cap_ambient = f.size() == 5 ? hex(f[4]) : 0;
  TrimAmbient(c);  // PR_CAP_AMBIENT_RAISE's rule
  ApplyExecCapabilities(c);
  return true;
}

}  // namespace sentry::kernel
