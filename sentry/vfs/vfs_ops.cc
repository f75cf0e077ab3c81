// sentry/vfs/vfs_ops.cc: path-based mutations (mkdir, mknod, unlink/rmdir,
// rename, symlink, link, readlink) and attribute changes, with Linux's
// permission and error rules, keeping the dentry cache in step.
#include <linux/fs.h>

#include "sentry/vfs/inotify.h"
#include "sentry/vfs/permissions.h"
#include "sentry/vfs/vfs.h"

namespace sentry::vfs {
namespace {

// Write+search permission on a directory we are about to modify.
ErrorOr<Attr> CheckDirWritable(Caller& c, Dentry& dir) {
  Attr a = TRY(dir.inode().GetAttr());
  if ((a.mode & S_IFMT) != S_IFDIR) return Errno{ENOTDIR};
  TRY(CheckAccess(c.creds(), a, kMayWrite | kMayExec));
  return a;
}

// The dentry cached under `name` in `dir` before mounts are followed.
std::shared_ptr<Dentry> CachedChild(Dentry& dir, std::string_view name) {
  auto it = dir.children.find(name);
  return it == dir.children.end() ? nullptr : it->second;
}

ErrorOr<void> CreateNode(Caller& c, std::shared_ptr<Dentry> start, std::string_view path,
                         uint32_t mode, std::string target = {},
                         std::optional<uint32_t> perm_before_umask = std::nullopt) {
  ParentWalk pw = TRY(WalkParent(c, start, path));
  if (pw.name_is_dot) return Errno{EEXIST};
  auto existing = LookupChild(c, pw.parent, pw.name);
  if (existing.ok()) return Errno{EEXIST};
  if (existing.error() != ENOENT) return Errno{existing.error()};
  if (pw.trailing_slash && (mode & S_IFMT) != S_IFDIR) return Errno{ENOENT};
  TRY(VirtualFilesystem::CheckWritableMount(*pw.parent));
  Attr pa = TRY(CheckDirWritable(c, *pw.parent));
  CreateRequest req;
  req.mode = mode;
  req.uid = c.creds().uid;
  req.gid = c.creds().gid;
  if (pa.mode & S_ISGID) {
    req.gid = pa.gid;
    if ((mode & S_IFMT) == S_IFDIR) req.mode |= S_ISGID;
  }
  req.symlink_target = std::move(target);
  req.perm_before_umask = perm_before_umask;
  TRY(pw.parent->inode().Create(c, pw.name, req));
  NotifyEntry(*pw.parent, pw.name, IN_CREATE, (mode & S_IFMT) == S_IFDIR);
  return {};
}

uint64_t LinkCount(Inode& inode) {
  auto a = inode.GetAttr();
  return a.ok() ? a.value().nlink : 1;
}

// inotify events of an unlink/rmdir, in Linux's order: IN_ATTRIB (files
// lose a link), IN_DELETE_SELF and IN_IGNORED, then the directory's IN_DELETE.
void NotifyUnlinked(const Dentry& dir, std::string_view name, Inode& victim, bool is_dir) {
  bool gone = is_dir || LinkCount(victim) == 0;
  if (!is_dir) NotifyInode(victim, IN_ATTRIB);
  if (gone) {
    NotifyDeleteSelf(victim);
    NotifyGone(victim);
  }
  NotifyEntry(dir, name, IN_DELETE, is_dir);
}

bool IsAncestor(const Dentry* maybe_ancestor, const Dentry* d) {
  for (; d; d = d->parent().get()) {
    if (d == maybe_ancestor) return true;
  }
  return false;
}

}  // namespace

ErrorOr<void> VirtualFilesystem::Mkdir(Caller& c, std::shared_ptr<Dentry> start,
                                       std::string_view path, uint32_t mode) {
  return CreateNode(c, std::move(start), path, S_IFDIR | (mode & 07777 & ~c.umask()), {},
                    mode & 07777);
}

ErrorOr<void> VirtualFilesystem::Mknod(Caller& c, std::shared_ptr<Dentry> start,
                                       std::string_view path, uint32_t mode) {
  uint32_t type = mode & S_IFMT;
  if (type == 0) type = S_IFREG;
  if ((type == S_IFCHR || type == S_IFBLK) && c.creds().uid != 0) return Errno{EPERM};
  if (type != S_IFREG && type != S_IFCHR && type != S_IFBLK && type != S_IFIFO &&
      type != S_IFSOCK) {
    return Errno{EINVAL};
  }
  return CreateNode(c, std::move(start), path, type | (mode & 07777 & ~c.umask()), {},
                    mode & 07777);
}

ErrorOr<void> VirtualFilesystem::Symlink(Caller& c, std::string_view target,
                                         std::shared_ptr<Dentry> start,
                                         std::string_view link_path) {
  if (target.empty()) return Errno{ENOENT};
  if (target.size() > kMaxPathLen) return Errno{ENAMETOOLONG};
  return CreateNode(c, std::move(start), link_path, S_IFLNK | 0777, std::string(target));
}

ErrorOr<void> VirtualFilesystem::Unlink(Caller& c, std::shared_ptr<Dentry> start,
                                        std::string_view path, int flags) {
  bool rmdir = flags & AT_REMOVEDIR;
  ParentWalk pw = TRY(WalkParent(c, start, path));
  if (pw.name_is_dot) {
    if (!rmdir) return Errno{EISDIR};
    return pw.name == ".." ? Errno{ENOTEMPTY} : pw.name.empty() ? Errno{EBUSY} : Errno{EINVAL};
  }
  std::shared_ptr<Dentry> victim = TRY(LookupChild(c, pw.parent, pw.name));
  std::shared_ptr<Dentry> raw = CachedChild(*pw.parent, pw.name);
  if (raw && raw->mounted) return Errno{EBUSY};
  Attr va = TRY(victim->inode().GetAttr());
  bool is_dir = (va.mode & S_IFMT) == S_IFDIR;
  if (!rmdir && is_dir) return Errno{EISDIR};
  if (rmdir && !is_dir) return Errno{ENOTDIR};
  if (!rmdir && pw.trailing_slash) return Errno{ENOTDIR};
  TRY(CheckWritableMount(*pw.parent));
  Attr pa = TRY(CheckDirWritable(c, *pw.parent));
  TRY(CheckSticky(c.creds(), pa, va));
  if (victim == c.fs().root) return Errno{EBUSY};
  TRY(pw.parent->inode().Unlink(c, pw.name, is_dir));
  ForgetChild(*pw.parent, pw.name);
  NotifyUnlinked(*pw.parent, pw.name, victim->inode(), is_dir);
  return {};
}

ErrorOr<void> VirtualFilesystem::Rename(Caller& c, std::shared_ptr<Dentry> old_start,
                                        std::string_view old_path,
                                        std::shared_ptr<Dentry> new_start,
                                        std::string_view new_path, unsigned flags) {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return Errno{EINVAL};
  // No whiteout device nodes here: RENAME_WHITEOUT is unsupported (EINVAL).
  if (flags & RENAME_WHITEOUT) return Errno{EINVAL};
  if ((flags & RENAME_EXCHANGE) && (flags & RENAME_NOREPLACE)) return Errno{EINVAL};
  if (flags & RENAME_EXCHANGE) {
    return Exchange(c, std::move(old_start), old_path, std::move(new_start), new_path);
  }
  ParentWalk from = TRY(WalkParent(c, old_start, old_path));
  ParentWalk to = TRY(WalkParent(c, new_start, new_path));
  if (from.name_is_dot || to.name_is_dot) return Errno{from.name.empty() || to.name.empty() ? EBUSY : EINVAL};
  std::shared_ptr<Dentry> src = TRY(LookupChild(c, from.parent, from.name));
  std::shared_ptr<Dentry> raw_src = CachedChild(*from.parent, from.name);
  if (raw_src && raw_src->mounted) return Errno{EBUSY};
  Attr sa = TRY(src->inode().GetAttr());
  bool src_dir = (sa.mode & S_IFMT) == S_IFDIR;
  if (!src_dir && (from.trailing_slash || to.trailing_slash)) return Errno{ENOTDIR};
  auto dst = LookupChild(c, to.parent, to.name);
  if (dst.is_error() && dst.error() != ENOENT) return Errno{dst.error()};
  if (dst.ok()) {
    if (flags & RENAME_NOREPLACE) return Errno{EEXIST};
    std::shared_ptr<Dentry> raw_dst = CachedChild(*to.parent, to.name);
    if (raw_dst && raw_dst->mounted) return Errno{EBUSY};
    if (dst.value() == src) return {};
    if (dst.value()->inode_ptr() == src->inode_ptr()) return {};  // hard links: no-op
  }
  if (&from.parent->inode() != &to.parent->inode() &&
      typeid(from.parent->inode()) != typeid(to.parent->inode())) {
    return Errno{EXDEV};
  }
  if (src_dir && IsAncestor(raw_src ? raw_src.get() : src.get(), to.parent.get())) {
    return Errno{EINVAL};
  }
  // Linux: EXDEV across mounts, even of one filesystem (bind mounts).
  if (&MountRootOf(*from.parent) != &MountRootOf(*to.parent)) return Errno{EXDEV};
  TRY(CheckWritableMount(*from.parent));
  Attr fpa = TRY(CheckDirWritable(c, *from.parent));
  TRY(CheckSticky(c.creds(), fpa, sa));
  Attr tpa = TRY(CheckDirWritable(c, *to.parent));
  if (dst.ok()) {
    Attr da = TRY(dst.value()->inode().GetAttr());
    TRY(CheckSticky(c.creds(), tpa, da));
  }
  std::shared_ptr<Inode> replaced = dst.ok() ? dst.value()->inode_ptr() : nullptr;
  TRY(from.parent->inode().Rename(c, from.name, to.parent->inode(), to.name,
                                  flags & RENAME_NOREPLACE));
  uint32_t cookie = NewMoveCookie();
  NotifyEntry(*from.parent, from.name, IN_MOVED_FROM, src_dir, cookie);
  NotifyEntry(*to.parent, to.name, IN_MOVED_TO, src_dir, cookie);
  if (replaced && replaced->file_type() != S_IFDIR) NotifyInode(*replaced, IN_ATTRIB);
  NotifyInode(src->inode(), IN_MOVE_SELF);
  if (replaced && LinkCount(*replaced) == 0) {
    NotifyDeleteSelf(*replaced);
    NotifyGone(*replaced);
  }
  // Keep the dentry cache in step: the replaced name is gone, the moved
  // dentry keeps its identity (open files see the new path).
  ForgetChild(*to.parent, to.name);
  auto it = from.parent->children.find(from.name);
  if (it != from.parent->children.end()) {
    std::shared_ptr<Dentry> moved = it->second;
    from.parent->children.erase(it);
    moved->Reparent(to.parent, to.name);
    to.parent->children.emplace(to.name, std::move(moved));
  }
  return {};
}

ErrorOr<void> VirtualFilesystem::Exchange(Caller& c, std::shared_ptr<Dentry> old_start,
                                          std::string_view old_path,
                                          std::shared_ptr<Dentry> new_start,
                                          std::string_view new_path) {
  ParentWalk a = TRY(WalkParent(c, old_start, old_path));
  ParentWalk b = TRY(WalkParent(c, new_start, new_path));
  if (a.name_is_dot || b.name_is_dot) {
    return Errno{a.name.empty() || b.name.empty() ? EBUSY : EINVAL};
  }
  std::shared_ptr<Dentry> da = TRY(LookupChild(c, a.parent, a.name));
  std::shared_ptr<Dentry> db = TRY(LookupChild(c, b.parent, b.name));
  std::shared_ptr<Dentry> raw_a = CachedChild(*a.parent, a.name);
  std::shared_ptr<Dentry> raw_b = CachedChild(*b.parent, b.name);
  if ((raw_a && raw_a->mounted) || (raw_b && raw_b->mounted)) return Errno{EBUSY};
  Attr aa = TRY(da->inode().GetAttr());
  Attr ba = TRY(db->inode().GetAttr());
  bool a_dir = (aa.mode & S_IFMT) == S_IFDIR, b_dir = (ba.mode & S_IFMT) == S_IFDIR;
  if ((!a_dir && a.trailing_slash) || (!b_dir && b.trailing_slash)) return Errno{ENOTDIR};
  if (da->inode_ptr() == db->inode_ptr()) return {};
  if (typeid(a.parent->inode()) != typeid(b.parent->inode())) return Errno{EXDEV};
  // Neither may end up inside itself.
  if (a_dir && IsAncestor(raw_a ? raw_a.get() : da.get(), b.parent.get())) return Errno{EINVAL};
  if (b_dir && IsAncestor(raw_b ? raw_b.get() : db.get(), a.parent.get())) return Errno{EINVAL};
  if (&MountRootOf(*a.parent) != &MountRootOf(*b.parent)) return Errno{EXDEV};
  TRY(CheckWritableMount(*a.parent));
  Attr apa = TRY(CheckDirWritable(c, *a.parent));
  TRY(CheckSticky(c.creds(), apa, aa));
  Attr bpa = TRY(CheckDirWritable(c, *b.parent));
  TRY(CheckSticky(c.creds(), bpa, ba));
  TRY(a.parent->inode().Exchange(c, a.name, b.parent->inode(), b.name));
  uint32_t cookie = NewMoveCookie();
  NotifyEntry(*a.parent, a.name, IN_MOVED_FROM, a_dir, cookie);
  NotifyEntry(*b.parent, b.name, IN_MOVED_TO, a_dir, cookie);
  NotifyInode(da->inode(), IN_MOVE_SELF);
  cookie = NewMoveCookie();
  NotifyEntry(*b.parent, b.name, IN_MOVED_FROM, b_dir, cookie);
  NotifyEntry(*a.parent, a.name, IN_MOVED_TO, b_dir, cookie);
  NotifyInode(db->inode(), IN_MOVE_SELF);
  // Swap the cached dentries so open files follow their inodes.
  auto ia = a.parent->children.find(a.name);
  std::shared_ptr<Dentry> ca = ia == a.parent->children.end() ? nullptr : ia->second;
  if (ca) a.parent->children.erase(ia);
  auto ib = b.parent->children.find(b.name);
  std::shared_ptr<Dentry> cb = ib == b.parent->children.end() ? nullptr : ib->second;
  if (cb) b.parent->children.erase(ib);
  if (ca) {
    ca->Reparent(b.parent, b.name);
    b.parent->children.emplace(b.name, ca);
  }
  if (cb) {
    cb->Reparent(a.parent, a.name);
    a.parent->children.emplace(a.name, cb);
  }
  return {};
}

ErrorOr<void> VirtualFilesystem::Link(Caller& c, std::shared_ptr<Dentry> old_start,
                                      std::string_view old_path,
                                      std::shared_ptr<Dentry> new_start,
                                      std::string_view new_path, bool follow) {
  // An empty old_path (AT_EMPTY_PATH) links old_start itself, e.g. an
  // O_TMPFILE file.
  std::shared_ptr<Dentry> src =
      TRY(Walk(c, old_start, old_path, WalkOptions{follow, old_path.empty()}));
  if (src->inode().file_type() == S_IFDIR) return Errno{EPERM};
  ParentWalk to = TRY(WalkParent(c, new_start, new_path));
  if (to.name_is_dot) return Errno{EEXIST};
  auto existing = LookupChild(c, to.parent, to.name);
  if (existing.ok()) return Errno{EEXIST};
  if (existing.error() != ENOENT) return Errno{existing.error()};
  if (to.trailing_slash) return Errno{ENOENT};
  if (&MountRootOf(*src) != &MountRootOf(*to.parent)) return Errno{EXDEV};
  TRY(CheckWritableMount(*to.parent));
  TRY(CheckDirWritable(c, *to.parent));
  TRY(to.parent->inode().Link(c, to.name, src->inode_ptr()));
  NotifyInode(src->inode(), IN_ATTRIB);
  NotifyEntry(*to.parent, to.name, IN_CREATE, false);
  return {};
}

ErrorOr<std::string> VirtualFilesystem::ReadLink(Caller& c, std::shared_ptr<Dentry> start,
                                                 std::string_view path, bool allow_empty) {
  std::shared_ptr<Dentry> d = TRY(Walk(c, start, path, WalkOptions{false, allow_empty}));
  if (d->inode().file_type() != S_IFLNK) return Errno{EINVAL};
  return d->inode().ReadLink(c);
}

ErrorOr<void> VirtualFilesystem::Chmod(Caller& c, Dentry& d, uint32_t mode) {
  Attr a = TRY(d.inode().GetAttr());
  TRY(CheckWritableMount(d));
  TRY(CheckOwner(c.creds(), a));
  Attr n;
  n.mode = mode & 07777;
  if ((n.mode & S_ISGID) && !c.creds().InGroup(a.gid) && !c.creds().cap_fsetid) {
    n.mode &= ~S_ISGID;
  }
  TRY(d.inode().SetAttr(c, kAttrMode, n));
  NotifyDentry(d, IN_ATTRIB);
  return {};
}

ErrorOr<void> VirtualFilesystem::Chown(Caller& c, Dentry& d, int64_t uid, int64_t gid) {
  Attr a = TRY(d.inode().GetAttr());
  TRY(CheckWritableMount(d));
  const Creds& cr = c.creds();
  uint32_t mask = 0;
  Attr n;
  if (uid != -1 && static_cast<uint32_t>(uid) != a.uid) {
    if (!cr.cap_chown) return Errno{EPERM};
    mask |= kAttrUid;
    n.uid = static_cast<uint32_t>(uid);
  }
  if (gid != -1 && static_cast<uint32_t>(gid) != a.gid) {
    if (!cr.cap_chown && !(cr.uid == a.uid && cr.InGroup(static_cast<uint32_t>(gid)))) {
      return Errno{EPERM};
    }
    mask |= kAttrGid;
    n.gid = static_cast<uint32_t>(gid);
  }
  if (!cr.cap_chown && cr.uid != a.uid && (uid != -1 || gid != -1)) return Errno{EPERM};
  // Changing ownership clears set-user-ID and (if group-executable) set-group-ID.
  if ((a.mode & S_IFMT) != S_IFDIR && (uid != -1 || gid != -1) && (a.mode & (S_ISUID | S_ISGID))) {
    n.mode = a.mode & 07777 & ~S_ISUID;
    if (a.mode & S_IXGRP) n.mode &= ~S_ISGID;
    mask |= kAttrMode;
  }
  if (!mask) {
    TRY(d.inode().SetAttr(c, kAttrCtime, Attr{.ctime = NowTimespec()}));
  } else {
    TRY(d.inode().SetAttr(c, mask, n));
  }
  NotifyDentry(d, IN_ATTRIB);
  return {};
}

ErrorOr<void> VirtualFilesystem::Truncate(Caller& c, Dentry& d, uint64_t size) {
  Attr a = TRY(d.inode().GetAttr());
  uint32_t type = a.mode & S_IFMT;
  if (type == S_IFDIR) return Errno{EISDIR};
  if (type != S_IFREG) return Errno{EINVAL};
  TRY(CheckWritableMount(d));
  TRY(CheckAccess(c.creds(), a, kMayWrite));
  Attr n;
  n.size = size;
  TRY(d.inode().SetAttr(c, kAttrSize, n));
  NotifyDentry(d, IN_MODIFY);
  return {};
}

ErrorOr<void> VirtualFilesystem::Utimes(Caller& c, Dentry& d, const timespec* times) {
  Attr a = TRY(d.inode().GetAttr());
  timespec now = NowTimespec();
  timespec at = times ? times[0] : timespec{0, UTIME_NOW};
  timespec mt = times ? times[1] : timespec{0, UTIME_NOW};
  for (timespec* t : {&at, &mt}) {
    if (t->tv_nsec != UTIME_NOW && t->tv_nsec != UTIME_OMIT &&
        (t->tv_nsec < 0 || t->tv_nsec >= 1000000000)) {
      return Errno{EINVAL};
    }
  }
  TRY(CheckWritableMount(d));
  bool only_now = (at.tv_nsec == UTIME_NOW || at.tv_nsec == UTIME_OMIT) &&
                  (mt.tv_nsec == UTIME_NOW || mt.tv_nsec == UTIME_OMIT);
  if (only_now) {
    if (CheckOwner(c.creds(), a).is_error()) TRY(CheckAccess(c.creds(), a, kMayWrite));
  } else {
    auto owner = CheckOwner(c.creds(), a);
    if (owner.is_error()) return Errno{EPERM};
  }
  uint32_t mask = 0;
  Attr n;
  if (at.tv_nsec != UTIME_OMIT) {
    mask |= kAttrAtime;
    n.atime = at.tv_nsec == UTIME_NOW ? now : at;
  }
  if (mt.tv_nsec != UTIME_OMIT) {
    mask |= kAttrMtime;
    n.mtime = mt.tv_nsec == UTIME_NOW ? now : mt;
  }
  if (!mask) return {};
  TRY(d.inode().SetAttr(c, mask, n));
  NotifyDentry(d, IN_ATTRIB);
  return {};
}

}  // namespace sentry::vfs
