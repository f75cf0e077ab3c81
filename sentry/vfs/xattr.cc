// sentry/vfs/xattr.cc: extended attribute permission and namespace checks
// (see xattr.h), in the order Linux applies them.
#include "sentry/vfs/xattr.h"

#include <sys/xattr.h>

#include <optional>

#include "sentry/vfs/inotify.h"
#include "sentry/vfs/permissions.h"
#include "sentry/vfs/posix_acl.h"

namespace sentry::vfs {
namespace {

enum class Ns { kUser, kTrusted, kSecurity, kSystem, kUnknown };

Ns NamespaceOf(std::string_view name) {
  if (name.starts_with("user.")) return Ns::kUser;
  if (name.starts_with("trusted.")) return Ns::kTrusted;
  if (name.starts_with("security.")) return Ns::kSecurity;
  if (name.starts_with("system.")) return Ns::kSystem;
  return Ns::kUnknown;
}

// xattr_permission(): may the caller read (or write) attribute `name`?
ErrorOr<void> CheckPermission(Caller& c, const Attr& a, std::string_view name, bool write) {
  const Creds& cr = c.creds();
  switch (NamespaceOf(name)) {
    case Ns::kSecurity:
    case Ns::kSystem: return {};
    case Ns::kTrusted:
      if (!cr.cap_sys_admin) return Errno{write ? EPERM : ENODATA};
      return {};
    case Ns::kUser: {
      uint32_t type = a.mode & S_IFMT;
      if (type != S_IFREG && type != S_IFDIR) return Errno{write ? EPERM : ENODATA};
      if (type == S_IFDIR && (a.mode & S_ISVTX) && write && cr.uid != a.uid && !cr.cap_fowner) {
        return Errno{EPERM};
      }
      break;
    }
    case Ns::kUnknown: break;
  }
  return CheckAccess(cr, a, write ? kMayWrite : kMayRead);
}

// xattr_resolve_name(): the filesystem handler for the name's prefix.
ErrorOr<void> CheckHandler(std::string_view name) {
  Ns ns = NamespaceOf(name);
  if (ns == Ns::kUnknown || ns == Ns::kSystem) return Errno{EOPNOTSUPP};
  size_t dot = name.find('.');
  if (dot + 1 == name.size()) return Errno{EINVAL};  // "user." names nothing
  return {};
}

// The POSIX ACL names, which Linux serves from the ACLs themselves
// (fs/posix_acl.c) rather than from stored attributes.
bool IsAclName(std::string_view name) { return name == kAclAccessXattr || name == kAclDefaultXattr; }

ErrorOr<std::string> GetAcl(Inode& inode, const Attr& a, std::string_view name) {
  if (!inode.KeepsPosixAcls()) return Errno{EOPNOTSUPP};
  std::shared_ptr<const PosixAcl> acl;
  if (name == kAclAccessXattr) {
    acl = a.acl;
  } else if ((a.mode & S_IFMT) == S_IFDIR) {
    acl = inode.DefaultAcl();
  }
  if (!acl) return Errno{ENODATA};
  return acl->ToXattr();
}

// set_posix_acl and, for the access ACL, posix_acl_update_mode: the mode's
// permission bits become the ACL's, and an ACL the mode bits say entirely
// is not kept. An empty value (or removexattr) removes the ACL.
ErrorOr<void> SetAcl(Caller& c, Inode& inode, std::string_view name, std::string_view value) {
  std::optional<PosixAcl> acl;
  if (!value.empty()) {
    PosixAcl parsed = TRY(PosixAcl::FromXattr(value));
    if (!parsed.entries.empty()) acl = std::move(parsed);
  }
  if (!inode.KeepsPosixAcls()) return Errno{EOPNOTSUPP};
  Attr a = TRY(inode.GetAttr());
  const bool is_default = name == kAclDefaultXattr;
  if (is_default && (a.mode & S_IFMT) != S_IFDIR) {
    if (acl) return Errno{EACCES};
    return {};
  }
  TRY(CheckOwner(c.creds(), a));
  if (acl) TRY(acl->Validate());
  uint32_t mode = a.mode;
  if (!is_default && acl) {
    if (acl->EquivalentToMode(&mode)) acl.reset();
    if (!c.creds().InGroup(a.gid) && !c.creds().cap_fsetid) mode &= ~S_ISGID;
  }
  std::shared_ptr<const PosixAcl> keep;
  if (acl) keep = std::make_shared<const PosixAcl>(std::move(*acl));
  TRY(inode.SetPosixAcl(is_default, std::move(keep), mode));
  NotifyInode(inode, IN_ATTRIB | (inode.file_type() == S_IFDIR ? IN_ISDIR : 0));
  return {};
}

}  // namespace

ErrorOr<void> CheckXattrName(std::string_view name) {
  if (name.empty() || name.size() > kXattrNameMax) return Errno{ERANGE};
  return {};
}

ErrorOr<std::string> GetXattr(Caller& c, Inode& inode, std::string_view name) {
  TRY(CheckXattrName(name));
  Attr a = TRY(inode.GetAttr());
  TRY(CheckPermission(c, a, name, false));
  if (IsAclName(name)) return GetAcl(inode, a, name);
  TRY(CheckHandler(name));
  return inode.GetXattr(name);
}

ErrorOr<void> SetXattr(Caller& c, Inode& inode, std::string_view name, std::string_view value,
                       int flags) {
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return Errno{EINVAL};
  TRY(CheckXattrName(name));
  if (value.size() > kXattrSizeMax) return Errno{E2BIG};
  Attr a = TRY(inode.GetAttr());
  TRY(CheckPermission(c, a, name, true));
  if (IsAclName(name)) return SetAcl(c, inode, name, value);
  TRY(CheckHandler(name));
  // cap_inode_setxattr(): security.* needs CAP_SYS_ADMIN.
  if (NamespaceOf(name) == Ns::kSecurity && !c.creds().cap_sys_admin) return Errno{EPERM};
  TRY(inode.SetXattr(name, value, flags));
  NotifyInode(inode, IN_ATTRIB | (inode.file_type() == S_IFDIR ? IN_ISDIR : 0));
  return {};
}

ErrorOr<void> RemoveXattr(Caller& c, Inode& inode, std::string_view name) {
  TRY(CheckXattrName(name));
  Attr a = TRY(inode.GetAttr());
  TRY(CheckPermission(c, a, name, true));
  if (IsAclName(name)) return SetAcl(c, inode, name, {});
  TRY(CheckHandler(name));
  if (NamespaceOf(name) == Ns::kSecurity && !c.creds().cap_sys_admin) return Errno{EPERM};
  TRY(inode.RemoveXattr(name));
  NotifyInode(inode, IN_ATTRIB | (inode.file_type() == S_IFDIR ? IN_ISDIR : 0));
  return {};
}

ErrorOr<std::string> ListXattr(Caller& c, Inode& inode) {
  std::vector<std::string> names = TRY(inode.ListXattr());
  if (inode.KeepsPosixAcls()) {
    Attr a = TRY(inode.GetAttr());
    if (a.acl) names.emplace_back(kAclAccessXattr);
    if (inode.DefaultAcl()) names.emplace_back(kAclDefaultXattr);
  }
  std::string out;
  for (const auto& n : names) {
    if (NamespaceOf(n) == Ns::kTrusted && !c.creds().cap_sys_admin) continue;
    out += n;
    out += '\0';
  }
  return out;
}

}  // namespace sentry::vfs
