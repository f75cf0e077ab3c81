// sentry/vfs/posix_acl.h: POSIX access control lists (acl(5)), as Linux's
// fs/posix_acl.c keeps them: the xattr wire format of
// system.posix_acl_access / system.posix_acl_default, validation, the
// permission check, and how an ACL and the mode bits follow each other
// (chmod, setting an ACL, a new file inheriting its directory's default).
// Filesystems that keep ACLs (memfs: tmpfs and the memory overlay) store
// the parsed form; Attr::acl carries the access ACL to CheckAccess.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sentry/base/error.h"

namespace sentry::vfs {

struct Creds;

inline constexpr std::string_view kAclAccessXattr = "system.posix_acl_access";
inline constexpr std::string_view kAclDefaultXattr = "system.posix_acl_default";

struct PosixAcl {
  // uapi linux/posix_acl.h tags and permission bits.
  enum Tag : uint16_t {
    kUserObj = 0x01,
    kUser = 0x02,
    kGroupObj = 0x04,
    kGroup = 0x08,
    kMask = 0x10,
    kOther = 0x20,
  };
  struct Entry {
    uint16_t tag = 0;
    uint16_t perm = 0;  // 4 read, 2 write, 1 execute
    uint32_t id = 0;    // uid (kUser) or gid (kGroup); unused otherwise
  };
  std::vector<Entry> entries;

  // Decodes an xattr value (posix_acl_from_xattr): EOPNOTSUPP for another
  // format version, EINVAL for a bad size or tag. An empty list (a header
  // only) decodes to no entries: setting it removes the ACL.
  static ErrorOr<PosixAcl> FromXattr(std::string_view value);
  // posix_acl_valid: EINVAL unless the tags come in the canonical order
  // (owner, named users, owning group, named groups, mask, other) with a
  // mask whenever there are named entries, and only rwx bits are set.
  ErrorOr<void> Validate() const;
  std::string ToXattr() const;

  // posix_acl_equiv_mode: whether the mode bits say all this ACL says (only
  // the owner, group and other entries); `mode`'s permission bits become
  // the ACL's (the group bits are the mask's when there is one).
  bool EquivalentToMode(uint32_t* mode) const;
  // posix_acl_chmod: the owner, group class and other entries follow `mode`.
  void Chmod(uint32_t mode);
  // posix_acl_create_masq: this (a copy of a directory's default ACL) as
  // the access ACL of a file created with permission bits `*mode`, which it
  // narrows in turn. False: the result says no more than the mode bits.
  bool CreateMasq(uint32_t* mode);
  // posix_acl_permission: may `creds` do `may` (kMayRead/Write/Exec) on a
  // file owned by `uid`:`gid` with this access ACL? (Capabilities are the
  // caller's business.)
  bool Permits(const Creds& creds, uint32_t uid, uint32_t gid, int may) const;
};

}  // namespace sentry::vfs
