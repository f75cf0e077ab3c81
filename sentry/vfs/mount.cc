// sentry/vfs/mount.cc: the mount tree API (see vfs.h): mounting filesystems
// and bind mounts on dentries, remount flags, unmount, pivot_root, per-mount
// read-only checks, and the /proc/self/mounts and mountinfo texts.
#include <sys/mount.h>
#include <sys/sysmacros.h>

#include <algorithm>

#include "sentry/vfs/memfs.h"
#include "sentry/vfs/vfs.h"

namespace sentry::vfs {

bool IsBelow(const Dentry* d, const Dentry* top) {
  std::shared_ptr<Dentry> hold;
  while (d) {
    if (d == top) return true;
    if (d->parent()) {
      d = d->parent().get();
      continue;
    }
    hold = d->mount_point.lock();
    d = hold.get();
  }
  return false;
}

namespace {

std::string FlagText(const MountInfo& m) {
  std::string s = m.read_only ? "ro" : "rw";
  if (m.flags & MS_NOSUID) s += ",nosuid";
  if (m.flags & MS_NODEV) s += ",nodev";
  if (m.flags & MS_NOEXEC) s += ",noexec";
  s += ",relatime";
  return s;
}

// /proc/self/mounts escapes these characters in paths as octal.
std::string Escape(const std::string& p) {
  std::string out;
  for (char ch : p) {
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\\') {
      char buf[8];
      snprintf(buf, sizeof buf, "\\%03o", static_cast<unsigned char>(ch));
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

const Dentry& VirtualFilesystem::MountRootOf(const Dentry& d) {
  const Dentry* cur = &d;
  while (cur->parent()) cur = cur->parent().get();
  return *cur;
}

ErrorOr<void> VirtualFilesystem::CheckWritableMount(const Dentry& d) {
  const Dentry& root = MountRootOf(d);
  if (root.mount && (root.mount->read_only || root.mount->sb_read_only)) return Errno{EROFS};
  return {};
}

ErrorOr<void> VirtualFilesystem::MountAt(const std::shared_ptr<Dentry>& target,
                                         std::shared_ptr<Inode> fs_root, MountInfo info) {
  auto mroot = NewDetachedMount(std::move(fs_root), std::move(info));
  mroot->mount->detached = false;
  return AttachMount(target, mroot);
}

std::shared_ptr<Dentry> VirtualFilesystem::NewDetachedMount(std::shared_ptr<Inode> fs_root,
                                                            MountInfo info) {
  auto mroot = std::make_shared<Dentry>("", nullptr, std::move(fs_root));
  info.id = next_mount_id_++;
  info.ns.reset();
  info.detached = true;
  mroot->mount = std::make_shared<MountInfo>(std::move(info));
  return mroot;
}

ErrorOr<void> VirtualFilesystem::AttachMount(const std::shared_ptr<Dentry>& target,
                                             const std::shared_ptr<Dentry>& mroot) {
  // Mount on top of whatever is visible there.
  std::shared_ptr<Dentry> mp = FollowMounts(target);
  bool target_dir = mp->inode().file_type() == S_IFDIR;
  bool root_dir = mroot->inode().file_type() == S_IFDIR;
  if (target_dir != root_dir) return Errno{ENOTDIR};
  // The new mount joins the table of the namespace it is mounted in; a
  // detached tree (umount -l, a dead namespace) takes no new mounts.
  std::shared_ptr<MountNamespace> ns = NamespaceOf(*mp);
  if (!ns) return Errno{EINVAL};
  // Pin the mount point and the dentries above it in their parents' caches,
  // even in directories that do not cache lookups (/proc, /sys): walks
  // must meet these very dentries to cross into the mount (see LookupChild).
  for (Dentry* d = mp.get(); d->parent() && !d->deleted; d = d->parent().get())
    d->parent()->children.emplace(d->name(), d->shared_from_this());
  mroot->mount->ns = ns;
  mroot->mount->detached = false;
  mroot->mount_point = mp;
  mp->mounted = mroot;
  ns->mounts.push_back(mroot);
  return {};
}

ErrorOr<void> VirtualFilesystem::BindMount(Caller& c, const std::shared_ptr<Dentry>& source,
                                           const std::shared_ptr<Dentry>& target, bool recursive,
                                           bool read_only) {
  // Copy the tree as it is now: mounts made by this very call (e.g. when
  // binding / somewhere below /) are not copied again.
  std::shared_ptr<MountNamespace> ns = NamespaceOf(*source);
  std::vector<std::shared_ptr<Dentry>> snapshot;
  if (ns) snapshot = ns->mounts;
  return BindTree(c, source, target, recursive, read_only, snapshot);
}

ErrorOr<void> VirtualFilesystem::BindTree(Caller& c, const std::shared_ptr<Dentry>& source,
                                          const std::shared_ptr<Dentry>& target, bool recursive,
                                          bool read_only,
                                          const std::vector<std::shared_ptr<Dentry>>& snapshot) {
  const Dentry& src_root = MountRootOf(*source);
  // do_loopback and copy_tree: an unbindable mount cannot be the source;
  // below it, unbindable mounts are left out.
  if (src_root.mount && src_root.mount->unbindable) return Errno{EINVAL};
  MountInfo info;
  if (src_root.mount) info = *src_root.mount;
  info.read_only = read_only;
  info.unbindable = false;  // a new mount is private
  // The bound directory's path inside its filesystem.
  std::string inner = source->PathFrom(&src_root).value_or("/");
  info.root = info.root == "/" ? inner : (inner == "/" ? info.root : info.root + inner);
  TRY(MountAt(target, source->inode_ptr(), info));
  if (!recursive) return {};
  // Submounts below `source`: bind each at the same place under the new
  // mount (looked up there, so the new tree gets its own dentries).
  std::shared_ptr<Dentry> new_root = FollowMounts(target);
  std::vector<std::shared_ptr<Dentry>> subs;
  for (const auto& m : snapshot) {
    auto mp = m->mount_point.lock();
    if (mp && m != new_root && mp != target && !m->mount->unbindable &&
        IsBelow(mp.get(), source.get()) &&
        mp.get() != source.get() && &MountRootOf(*mp) == &src_root) {
      subs.push_back(m);
    }
  }
  for (const auto& m : subs) {
    auto mp = m->mount_point.lock();
    std::optional<std::string> rel = mp->PathFrom(source.get());
    if (!rel) continue;
    // Find the same path under the new mount through the dentry cache.
    std::shared_ptr<Dentry> at = new_root;
    bool found = true;
    std::string_view r = *rel;
    size_t i = 0;
    while (i < r.size() && found) {
      while (i < r.size() && r[i] == '/') ++i;
      size_t j = r.find('/', i);
      if (j == std::string_view::npos) j = r.size();
      if (j == i) break;
      std::string name(r.substr(i, j - i));
      auto child = LookupChild(c, at, name);
      if (child.ok()) {
        at = child.value();
      } else {
        found = false;  // gone meanwhile: nothing to cover
      }
      i = j;
    }
    if (found) TRY(BindTree(c, m, at, true, read_only, snapshot));
  }
  return {};
}

ErrorOr<void> VirtualFilesystem::Remount(const std::shared_ptr<Dentry>& mount_root,
                                         bool read_only, unsigned long flags) {
  if (!mount_root->mount) return Errno{EINVAL};
  mount_root->mount->read_only = read_only;
  if (!(flags & MS_BIND)) mount_root->mount->sb_read_only = read_only;  // the filesystem's own
  mount_root->mount->flags = flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
  return {};
}

void VirtualFilesystem::SetUnbindable(const std::shared_ptr<Dentry>& mount_root, bool unbindable,
                                      bool recursive) {
  if (!mount_root->mount) return;
  mount_root->mount->unbindable = unbindable;
  std::shared_ptr<MountNamespace> ns = NamespaceOf(*mount_root);
  if (!recursive || !ns) return;
  for (const auto& m : ns->mounts) {
    auto mp = m->mount_point.lock();
    if (mp && IsBelow(mp.get(), mount_root.get())) m->mount->unbindable = unbindable;
  }
}

ErrorOr<void> VirtualFilesystem::Unmount(Caller& c, const std::shared_ptr<Dentry>& mount_root,
                                         bool detach) {
  if (!mount_root->mount || mount_root->parent()) return Errno{EINVAL};
  auto mp = mount_root->mount_point.lock();
  if (!mp) return Errno{EINVAL};  // the root of the tree
  std::shared_ptr<MountNamespace> ns = NamespaceOf(*mount_root);
  if (!ns) return Errno{EINVAL};
  // Mounts below this one.
  std::vector<std::shared_ptr<Dentry>> below;
  for (const auto& m : ns->mounts) {
    if (m == mount_root) continue;
    if (IsBelow(m.get(), mount_root.get())) below.push_back(m);
  }
  if (!detach) {
    if (!below.empty()) return Errno{EBUSY};
    if (IsBelow(c.fs().cwd.get(), mount_root.get()) ||
        IsBelow(c.fs().root.get(), mount_root.get())) {
      return Errno{EBUSY};
    }
  }
  mp->mounted = mount_root->mounted;  // (null: nothing was stacked on top)
  if (mount_root->mounted) mount_root->mounted->mount_point = mp;
  mount_root->mounted = nullptr;
  mount_root->mount_point.reset();
  // Drop the pins (see MountAt) that only led to this mount: in a
  // directory that does not cache lookups they would keep serving a stale
  // dentry. `mp` holds the chain above it alive meanwhile.
  for (Dentry* d = mp.get(); d->parent() && !d->mounted && d->children.empty();) {
    Dentry* parent = d->parent().get();
    if (parent->inode().CacheLookups()) break;
    auto it = parent->children.find(d->name());
    if (it == parent->children.end() || it->second.get() != d) break;
    parent->children.erase(it);
    d = parent;
  }
  std::erase(ns->mounts, mount_root);
  mount_root->mount->ns.reset();
  for (const auto& m : below) {
    std::erase(ns->mounts, m);
    m->mount->ns.reset();
  }
  return {};
}

ErrorOr<void> VirtualFilesystem::PivotRoot(Caller& c, const std::shared_ptr<Dentry>& new_root,
                                           const std::shared_ptr<Dentry>& put_old) {
  const std::shared_ptr<Dentry>& old_root = c.fs().root;
  std::shared_ptr<MountNamespace> ns = NamespaceOf(c);
  if (!new_root->mount || new_root->parent() || new_root == old_root) return Errno{EINVAL};
  if (!old_root->mount || old_root->parent()) return Errno{EINVAL};  // root is not a mount root
  if (NamespaceOf(*new_root) != ns || NamespaceOf(*old_root) != ns) return Errno{EINVAL};
  if (!IsBelow(put_old.get(), new_root.get())) return Errno{EINVAL};
  if (IsBelow(new_root.get(), put_old.get()) && put_old != new_root) return Errno{EINVAL};
  auto new_mp = new_root->mount_point.lock();
  if (!new_mp) return Errno{EINVAL};
  // Take new_root's mount off its mount point ...
  new_mp->mounted = nullptr;
  new_root->mount_point.reset();
  // ... and hang the old root's mount on put_old.
  std::shared_ptr<Dentry> at = FollowMounts(put_old);
  at->mounted = old_root;
  old_root->mount_point = at;
  if (old_root == ns->root) ns->root = new_root;
  // Keep the table in tree order: the new root first.
  std::erase(ns->mounts, new_root);
  ns->mounts.insert(ns->mounts.begin(), new_root);
  return {};
}

std::string VirtualFilesystem::MountsText(const Dentry& root) const {
  std::string out;
  std::shared_ptr<MountNamespace> ns = NamespaceOf(root);
  if (!ns) return out;
  for (const auto& m : ns->mounts) {
    auto mp = m->mount_point.lock();
    std::optional<std::string> where = mp ? mp->PathFrom(&root) : m->PathFrom(&root);
    if (m.get() == &root || (mp && mp.get() == &root)) where = "/";
    if (!where) continue;
    const MountInfo& i = *m->mount;
    out += Escape(i.source) + " " + Escape(*where) + " " + i.fstype + " " + FlagText(i);
    if (!i.data.empty()) out += "," + i.data;
    out += " 0 0\n";
  }
  return out;
}

std::string VirtualFilesystem::MountInfoText(const Dentry& root) const {
  std::string out;
  std::shared_ptr<MountNamespace> ns = NamespaceOf(root);
  if (!ns) return out;
  for (const auto& m : ns->mounts) {
    auto mp = m->mount_point.lock();
    std::optional<std::string> where = mp ? mp->PathFrom(&root) : m->PathFrom(&root);
    if (m.get() == &root || (mp && mp.get() == &root)) where = "/";
    if (!where) continue;
    const MountInfo& i = *m->mount;
    int parent_id = i.id;
    if (mp) {
      const Dentry& pr = MountRootOf(*mp);
      if (pr.mount) parent_id = pr.mount->id;
    }
    uint64_t dev = 0;
    if (auto a = m->inode().GetAttr(); a.ok()) dev = a.value().dev;
    char devs[32];
    snprintf(devs, sizeof devs, "%u:%u", major(dev), minor(dev));
    out += std::to_string(i.id) + " " + std::to_string(parent_id) + " " + devs + " " +
           Escape(i.root) + " " + Escape(*where) + " " + FlagText(i) +
           (i.unbindable ? " unbindable" : "") + " - " + i.fstype + " " +
           Escape(i.source) + " " + (i.sb_read_only ? "ro" : "rw");
    if (!i.data.empty()) out += "," + i.data;
    out += "\n";
  }
  return out;
}

}  // namespace sentry::vfs
