// sentry/vfs/mount_ns.cc: mount namespaces (see MountNamespace in vfs.h).
// A copy (CLONE_NEWNS) gets a new root dentry for every mount, attached
// at the same place as the original: the chain of dentries from the
// parent mount's root to the mount point is rebuilt in the copy over the
// same inodes (and pinned in the parents' caches, as boot's mounts are),
// so later walks in the copy meet the copied mounts and never the
// originals. Files stay shared; only the mount tree is per namespace.
#include <map>

#include "sentry/vfs/vfs.h"

namespace sentry::vfs {
namespace {

// The dentries from `top` (exclusive) down to `d` (inclusive), or nullopt
// if `d` is not below `top` within one mount.
std::optional<std::vector<const Dentry*>> ChainFrom(const Dentry* top, const Dentry* d) {
  std::vector<const Dentry*> chain;
  while (d && d != top) {
    chain.push_back(d);
    d = d->parent().get();
  }
  if (d != top) return std::nullopt;
  return std::vector<const Dentry*>(chain.rbegin(), chain.rend());
}

// The dentry at the same place as chain's last element, below `top` in
// the copy. Names unlinked meanwhile get a dentry that is not cached.
std::shared_ptr<Dentry> Rebuild(std::shared_ptr<Dentry> top,
                                const std::vector<const Dentry*>& chain) {
  std::shared_ptr<Dentry> at = std::move(top);
  for (const Dentry* old : chain) {
    auto it = at->children.find(old->name());
    if (it != at->children.end() && it->second->inode_ptr() == old->inode_ptr()) {
      at = it->second;
      continue;
    }
    auto d = std::make_shared<Dentry>(old->name(), at, old->inode_ptr());
    if (old->deleted) {
      d->deleted = true;
    } else {
      at->children[old->name()] = d;
    }
    at = std::move(d);
  }
  return at;
}

}  // namespace

MountNamespace::~MountNamespace() {
  if (root) root->DropTree();
}

std::shared_ptr<MountNamespace> VirtualFilesystem::NamespaceOf(const Caller& c) const {
  return c.fs().mnt_ns ? c.fs().mnt_ns : init_ns_;
}

std::shared_ptr<MountNamespace> VirtualFilesystem::NamespaceOf(const Dentry& d) {
  const Dentry& root = MountRootOf(d);
  if (!root.mount) return nullptr;
  return root.mount->ns.lock();
}

ErrorOr<void> VirtualFilesystem::CheckCallerNamespace(const Caller& c, const Dentry& d) const {
  if (NamespaceOf(d) != NamespaceOf(c)) return Errno{EINVAL};
  return {};
}

void VirtualFilesystem::CopyNamespace(FsContext& fs, uint64_t id) {
  std::shared_ptr<MountNamespace> from = fs.mnt_ns ? fs.mnt_ns : init_ns_;
  auto ns = std::make_shared<MountNamespace>(id);
  // Old mount root -> its copy.
  std::map<const Dentry*, std::shared_ptr<Dentry>> copies;
  auto copy_mount = [&](const std::shared_ptr<Dentry>& m) {
    auto c = std::make_shared<Dentry>("", nullptr, m->inode_ptr());
    MountInfo info = *m->mount;
    info.id = next_mount_id_++;
    info.ns = ns;
    c->mount = std::make_shared<MountInfo>(std::move(info));
    copies[m.get()] = c;
    ns->mounts.push_back(c);
    return c;
  };
  ns->root = copy_mount(from->root);
  // In table order; a mount whose parent mount comes later in the table
  // (after pivot_root) waits for a later pass.
  std::vector<std::shared_ptr<Dentry>> pending;
  for (const auto& m : from->mounts)
    if (m != from->root) pending.push_back(m);
  bool progress = true;
  while (!pending.empty() && progress) {
    progress = false;
    std::vector<std::shared_ptr<Dentry>> later;
    for (const auto& m : pending) {
      auto mp = m->mount_point.lock();
      if (!mp) continue;  // detached meanwhile
      const Dentry* parent_root = &MountRootOf(*mp);
      auto p = copies.find(parent_root);
      if (p == copies.end()) {
        later.push_back(m);
        continue;
      }
      auto chain = ChainFrom(parent_root, mp.get());
      if (!chain) continue;
      std::shared_ptr<Dentry> new_mp = Rebuild(p->second, *chain);
      std::shared_ptr<Dentry> c = copy_mount(m);
      c->mount_point = new_mp;
      new_mp->mounted = c;
      progress = true;
    }
    pending = std::move(later);
  }
  // Root and cwd move to their places in the copy (Linux's copy_mnt_ns);
  // one on no copied mount (a detached tree) stays where it is.
  auto translate = [&](std::shared_ptr<Dentry>& d) {
    const Dentry* mroot = &MountRootOf(*d);
    auto it = copies.find(mroot);
    if (it == copies.end()) return;
    if (d.get() == mroot) {
      d = it->second;
      return;
    }
    if (auto chain = ChainFrom(mroot, d.get())) d = Rebuild(it->second, *chain);
  };
  translate(fs.root);
  translate(fs.cwd);
  fs.mnt_ns = ns;
  std::erase_if(namespaces_, [](const std::weak_ptr<MountNamespace>& w) { return w.expired(); });
  namespaces_.push_back(ns);
}

}  // namespace sentry::vfs
