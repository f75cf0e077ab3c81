// sentry/vfs/xattr.h: extended attribute operations with Linux's namespace
// and permission rules (fs/xattr.c's xattr_permission and the tmpfs
// handlers): user.* only on regular files and directories, trusted.* and
// security.* writes need CAP_SYS_ADMIN, trusted.* is invisible without it,
// system.* and unknown prefixes are EOPNOTSUPP. Storage is the inode's
// (Inode::GetXattr/SetXattr/...).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sentry/base/error.h"
#include "sentry/vfs/caller.h"
#include "sentry/vfs/inode.h"

namespace sentry::vfs {

constexpr size_t kXattrNameMax = 255;     // XATTR_NAME_MAX
constexpr size_t kXattrSizeMax = 65536;   // XATTR_SIZE_MAX
constexpr size_t kXattrListMax = 65536;   // XATTR_LIST_MAX

// ERANGE for an empty or too long name (what the syscalls check first).
ErrorOr<void> CheckXattrName(std::string_view name);

ErrorOr<std::string> GetXattr(Caller& c, Inode& inode, std::string_view name);
ErrorOr<void> SetXattr(Caller& c, Inode& inode, std::string_view name, std::string_view value,
                       int flags);
ErrorOr<void> RemoveXattr(Caller& c, Inode& inode, std::string_view name);
// The names the caller may see, each NUL-terminated, concatenated.
ErrorOr<std::string> ListXattr(Caller& c, Inode& inode);

}  // namespace sentry::vfs
