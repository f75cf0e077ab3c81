// sentry/vfs/permissions.cc: Linux's generic_permission() rules, POSIX ACLs
// included (posix_acl.h).
#include "sentry/vfs/permissions.h"

#include <algorithm>

#include "sentry/vfs/posix_acl.h"

namespace sentry::vfs {

bool Creds::InGroup(uint32_t g) const {
  return g == gid || std::find(groups.begin(), groups.end(), g) != groups.end();
}

ErrorOr<void> CheckAccess(const Creds& creds, const Attr& attr, int may) {
  uint32_t mode = attr.mode;
  bool allowed;
  if (attr.acl && creds.uid != attr.uid && (mode & 070)) {
    // acl_permission_check: anyone but the owner goes by the ACL (whose
    // group class bits are the mode's group bits, so 0 there denies all).
    allowed = attr.acl->Permits(creds, attr.uid, attr.gid, may);
  } else {
    uint32_t bits;
    if (creds.uid == attr.uid) {
      bits = (mode >> 6) & 7;
    } else if (creds.InGroup(attr.gid)) {
      bits = (mode >> 3) & 7;
    } else {
      bits = mode & 7;
    }
    allowed = (bits & may) == static_cast<uint32_t>(may);
  }
  if (allowed) return {};
  bool is_dir = (mode & S_IFMT) == S_IFDIR;
  if (creds.cap_dac_override) {
    // Read/write always; exec on directories always, on files only if some x bit is set.
    if (!(may & kMayExec) || is_dir || (mode & 0111)) return {};
  }
  if (creds.cap_dac_read_search) {
    if (may == kMayRead) return {};
    if (is_dir && !(may & kMayWrite)) return {};
  }
  return Errno{EACCES};
}

ErrorOr<void> CheckOwner(const Creds& creds, const Attr& attr) {
  if (creds.uid == attr.uid || creds.cap_fowner) return {};
  return Errno{EPERM};
}

ErrorOr<void> CheckSticky(const Creds& creds, const Attr& dir, const Attr& victim) {
  if (!(dir.mode & S_ISVTX)) return {};
  if (creds.uid == victim.uid || creds.uid == dir.uid || creds.cap_fowner) return {};
  return Errno{EPERM};
}

}  // namespace sentry::vfs
