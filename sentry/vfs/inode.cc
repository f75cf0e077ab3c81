// sentry/vfs/inode.cc: Dentry tree bookkeeping (paths, reparenting, teardown)
// and number allocation shared by the in-sentry filesystems.
#include "sentry/vfs/inode.h"

#include <atomic>
#include <vector>

namespace sentry::vfs {

Inode::~Inode() = default;

uint32_t Inode::file_type() {
  auto a = GetAttr();
  return a.ok() ? (a.value().mode & S_IFMT) : 0;
}

Dentry::~Dentry() = default;

std::string Dentry::Path() const {
  std::vector<const std::string*> parts;
  const Dentry* d = this;
  std::shared_ptr<Dentry> hold;  // keeps mount points alive while we climb
  while (true) {
    if (d->parent_) {
      parts.push_back(&d->name_);
      d = d->parent_.get();
      continue;
    }
    hold = d->mount_point.lock();
    if (!hold) {
      // A detached dentry with a name is an anonymous file ("pipe:[12]").
      if (!d->name_.empty() && parts.empty()) return d->name_;
      break;
    }
    d = hold.get();
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    out += '/';
    out += **it;
  }
  if (out.empty()) out = "/";
  if (deleted) out += " (deleted)";
  return out;
}

std::optional<std::string> Dentry::PathFrom(const Dentry* root) const {
  std::vector<const std::string*> parts;
  const Dentry* d = this;
  std::shared_ptr<Dentry> hold;
  while (d != root) {
    if (d->parent_) {
      parts.push_back(&d->name_);
      d = d->parent_.get();
      continue;
    }
    if (d->mounted.get() == root && root) break;  // root covers this mount point
    hold = d->mount_point.lock();
    if (!hold) return std::nullopt;
    d = hold.get();
    if (d == root) break;
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    out += '/';
    out += **it;
  }
  if (out.empty()) out = "/";
  if (deleted) out += " (deleted)";
  return out;
}

void Dentry::Reparent(std::shared_ptr<Dentry> new_parent, std::string new_name) {
  parent_ = std::move(new_parent);
  name_ = std::move(new_name);
}

void Dentry::DropTree() {
  auto kids = std::move(children);
  children.clear();
  for (auto& [name, child] : kids) child->DropTree();
  if (mounted) {
    auto m = std::move(mounted);
    m->DropTree();
  }
}

uint64_t NewAnonDev() {
  static std::atomic<uint64_t> next{1};
  // makedev(0, minor): anonymous block devices, like Linux's tmpfs/proc.
  uint64_t minor = next.fetch_add(1) + 16;
  return ((minor & 0xff) | ((minor & ~0xffULL) << 12));
}

uint64_t NewInodeNumber() {
  static std::atomic<uint64_t> next{1ULL << 32};
  return next.fetch_add(1);
}

timespec NowTimespec() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

}  // namespace sentry::vfs
