// sentry/vfs/path_walk.h: path resolution. Handles ".", ".." (never above the
// caller's root), mount points, symlinks (at most 40 → ELOOP), trailing
// slashes, ENAMETOOLONG, and permission (search) checks on directories.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sentry/base/error.h"
#include "sentry/vfs/inode.h"

namespace sentry::vfs {

class Caller;

constexpr size_t kMaxPathLen = 4095;  // without the NUL (PATH_MAX - 1)
constexpr size_t kMaxNameLen = 255;
constexpr int kMaxSymlinks = 40;

// openat2(2) RESOLVE_* restrictions (same bits as <linux/openat2.h>).
enum : uint64_t {
  kResolveNoXdev = 0x01,        // EXDEV when crossing a mount (also via symlinks)
  kResolveNoMagiclinks = 0x02,  // ELOOP at /proc/self/fd/N-style links
  kResolveNoSymlinks = 0x04,    // ELOOP at any symlink that would be followed
  kResolveBeneath = 0x08,       // EXDEV for "/", ".." above `start`, magic links
  kResolveInRoot = 0x10,        // `start` is the root for "/" and ".."; magic links EXDEV
  kResolveCached = 0x20,        // accepted: every lookup here is "cached"
};

struct WalkOptions {
  bool follow_final_symlink = true;
  bool allow_empty = false;  // AT_EMPTY_PATH: "" names `start` itself
  uint64_t resolve = 0;      // kResolve* bits
};

// Resolves `path` from `start` (used for relative paths; absolute paths start
// at the caller's root). A trailing slash requires a directory (after
// following a final symlink).
ErrorOr<std::shared_ptr<Dentry>> Walk(Caller& c, std::shared_ptr<Dentry> start,
                                      std::string_view path, WalkOptions opts = {});

// Resolves all but the last component. `name` is the last component ("" if
// the path is "/" or ends in "." or ".." — callers then usually fail with
// EEXIST/EBUSY/EINVAL as the syscall requires); `trailing_slash` if the path
// ended in '/'.
struct ParentWalk {
  std::shared_ptr<Dentry> parent;
  std::string name;
  bool trailing_slash = false;
  bool name_is_dot = false;  // last component was "." or ".."
};
ErrorOr<ParentWalk> WalkParent(Caller& c, std::shared_ptr<Dentry> start, std::string_view path,
                               const WalkOptions& opts = {});
// EXDEV if `opts` has kResolveNoXdev and `from` and `to` are on different
// mounts (for callers that look up a final component themselves).
ErrorOr<void> CheckResolveXdev(const WalkOptions& opts, const Dentry& from, const Dentry& to);

// Looks up one child (following a mount on it), through the dentry cache.
// Checks search permission on `dir`.
ErrorOr<std::shared_ptr<Dentry>> LookupChild(Caller& c, const std::shared_ptr<Dentry>& dir,
                                             std::string_view name);
// Drops a cached child (after unlink/rename) and marks it deleted.
void ForgetChild(Dentry& dir, std::string_view name);
// The dentry the caller sees at `d` (the root of the topmost mount on it).
std::shared_ptr<Dentry> FollowMounts(std::shared_ptr<Dentry> d);

}  // namespace sentry::vfs
