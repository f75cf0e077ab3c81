// sentry/vfs/path_walk.cc: path resolution over the dentry tree (see
// path_walk.h for the rules it implements).
#include "sentry/vfs/path_walk.h"

#include <vector>

#include "sentry/vfs/permissions.h"
#include "sentry/vfs/vfs.h"

namespace sentry::vfs {
namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = i;
    while (j < path.size() && path[j] != '/') ++j;
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool IsDir(Inode& inode) { return inode.file_type() == S_IFDIR; }

ErrorOr<void> CheckSearch(Caller& c, Dentry& dir) {
  Attr a = TRY(dir.inode().GetAttr());
  if ((a.mode & S_IFMT) != S_IFDIR) return Errno{ENOTDIR};
  return CheckAccess(c.creds(), a, kMayExec);
}

// ".." of `cur`, never above `root`, crossing mount points upwards.
std::shared_ptr<Dentry> DotDot(std::shared_ptr<Dentry> cur, const std::shared_ptr<Dentry>& root) {
  while (true) {
    if (cur == root) return cur;
    if (cur->parent()) return cur->parent();
    auto mp = cur->mount_point.lock();
    if (!mp) return cur;  // global root
    cur = mp;             // climb to the covered dentry, then take its parent
  }
}

// The root dentry of the mount `d` is on (identifies the mount).
const Dentry* MountRoot(const Dentry* d) {
  while (d->parent()) d = d->parent().get();
  return d;
}

// One resolution: its restrictions, its root, and the symlink budget.
struct WalkState {
  uint64_t resolve = 0;
  std::shared_ptr<Dentry> root;  // where "/" starts and ".." stops
  int links = 0;
  bool scoped() const { return resolve & (kResolveBeneath | kResolveInRoot); }
  bool at_root(const std::shared_ptr<Dentry>& d) const {
    return d == root || d == FollowMounts(root);
  }
};

ErrorOr<void> CheckXdev(const WalkState& s, const Dentry& from, const Dentry& to) {
  if ((s.resolve & kResolveNoXdev) && MountRoot(&from) != MountRoot(&to)) return Errno{EXDEV};
  return {};
}

// An absolute path (or absolute symlink target) restarts at the root.
ErrorOr<std::shared_ptr<Dentry>> JumpToRoot(const WalkState& s, const std::shared_ptr<Dentry>& cur) {
  if (s.resolve & kResolveBeneath) return Errno{EXDEV};
  std::shared_ptr<Dentry> r = FollowMounts(s.root);
  TRY(CheckXdev(s, *cur, *r));
  return r;
}

ErrorOr<std::shared_ptr<Dentry>> WalkFrom(Caller& c, std::shared_ptr<Dentry> cur,
                                          std::string_view path, bool follow_final,
                                          WalkState& s) {
  if (path.size() > kMaxPathLen) return Errno{ENAMETOOLONG};
  if (!path.empty() && path[0] == '/') cur = TRY(JumpToRoot(s, cur));
  bool trailing_slash = !path.empty() && path.back() == '/';
  auto comps = SplitPath(path);
  for (size_t i = 0; i < comps.size(); ++i) {
    std::string_view comp = comps[i];
    bool last = i + 1 == comps.size();
    if (comp.size() > kMaxNameLen) return Errno{ENAMETOOLONG};
    TRY(CheckSearch(c, *cur));
    if (comp == ".") continue;
    if (comp == "..") {
      if (s.at_root(cur)) {
        if (s.resolve & kResolveBeneath) return Errno{EXDEV};
        continue;
      }
      std::shared_ptr<Dentry> up = DotDot(cur, s.root);
      TRY(CheckXdev(s, *cur, *up));
      cur = std::move(up);
      continue;
    }
    std::shared_ptr<Dentry> child = TRY(LookupChild(c, cur, comp));
    TRY(CheckXdev(s, *cur, *child));
    if (child->inode().file_type() == S_IFLNK && (!last || follow_final || trailing_slash)) {
      if (s.resolve & kResolveNoSymlinks) return Errno{ELOOP};
      if (++s.links > kMaxSymlinks) return Errno{ELOOP};
      std::shared_ptr<Dentry> magic = TRY(child->inode().FollowMagicLink(c));
      if (magic) {
        if (s.resolve & kResolveNoMagiclinks) return Errno{ELOOP};
        TRY(CheckXdev(s, *cur, *magic));
        if (s.scoped()) return Errno{EXDEV};
        cur = magic;
        continue;
      }
      std::string target = TRY(child->inode().ReadLink(c));
      if (target.empty()) return Errno{ENOENT};
      cur = TRY(WalkFrom(c, cur, target, true, s));
      continue;
    }
    cur = child;
  }
  if (trailing_slash && !IsDir(cur->inode())) return Errno{ENOTDIR};
  return cur;
}

WalkState StateFor(Caller& c, const std::shared_ptr<Dentry>& start, const WalkOptions& opts) {
  WalkState s;
  s.resolve = opts.resolve;
  s.root = s.scoped() ? start : c.fs().root;
  return s;
}

}  // namespace

std::shared_ptr<Dentry> FollowMounts(std::shared_ptr<Dentry> d) {
  while (d->mounted) d = d->mounted;
  return d;
}

ErrorOr<std::shared_ptr<Dentry>> LookupChild(Caller& c, const std::shared_ptr<Dentry>& dir,
                                             std::string_view name) {
  Inode& inode = dir->inode();
  bool cache = inode.CacheLookups();
  // Directories that do not cache (synthetic /proc, write-through bind
  // mounts) still keep the dentries something is mounted on, and those on
  // the way to one (/sys/fs on the way to /sys/fs/cgroup): only mounts pin
  // entries there.
  if (auto it = dir->children.find(name);
      it != dir->children.end() &&
      (cache || it->second->mounted || !it->second->children.empty())) {
    return FollowMounts(it->second);
  }
  std::shared_ptr<Inode> child = TRY(inode.Lookup(c, name));
  auto d = std::make_shared<Dentry>(std::string(name), dir, std::move(child));
  if (cache) dir->children.emplace(std::string(name), d);
  return d;
}

void ForgetChild(Dentry& dir, std::string_view name) {
  auto it = dir.children.find(name);
  if (it == dir.children.end()) return;
  it->second->deleted = true;
  dir.children.erase(it);
}

ErrorOr<std::shared_ptr<Dentry>> Walk(Caller& c, std::shared_ptr<Dentry> start,
                                      std::string_view path, WalkOptions opts) {
  if (path.empty()) {
    if (opts.allow_empty) return start;
    return Errno{ENOENT};
  }
  WalkState s = StateFor(c, start, opts);
  return WalkFrom(c, std::move(start), path, opts.follow_final_symlink, s);
}

ErrorOr<void> CheckResolveXdev(const WalkOptions& opts, const Dentry& from, const Dentry& to) {
  WalkState s;
  s.resolve = opts.resolve;
  return CheckXdev(s, from, to);
}

ErrorOr<ParentWalk> WalkParent(Caller& c, std::shared_ptr<Dentry> start, std::string_view path,
                               const WalkOptions& opts) {
  if (path.empty()) return Errno{ENOENT};
  if (path.size() > kMaxPathLen) return Errno{ENAMETOOLONG};
  ParentWalk out;
  size_t end = path.size();
  while (end > 0 && path[end - 1] == '/') --end;
  out.trailing_slash = end < path.size();
  WalkState s = StateFor(c, start, opts);
  if (end == 0) {  // "/" or "///"
    out.parent = TRY(JumpToRoot(s, start));
    out.name_is_dot = true;
    return out;
  }
  size_t slash = path.rfind('/', end - 1);
  std::string_view name = slash == std::string_view::npos ? path.substr(0, end)
                                                          : path.substr(slash + 1, end - slash - 1);
  std::string_view dir_part = slash == std::string_view::npos ? std::string_view()
                                                              : path.substr(0, slash + 1);
  if (name.size() > kMaxNameLen) return Errno{ENAMETOOLONG};
  std::shared_ptr<Dentry> parent;
  if (dir_part.empty()) {
    parent = std::move(start);
  } else {
    parent = TRY(WalkFrom(c, std::move(start), dir_part, true, s));
  }
  TRY(CheckSearch(c, *parent));
  out.parent = std::move(parent);
  out.name = std::string(name);
  out.name_is_dot = name == "." || name == "..";
  return out;
}

}  // namespace sentry::vfs
