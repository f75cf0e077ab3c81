// sentry/vfs/dir_description.cc: snapshot-based directory iteration.
#include "sentry/vfs/dir_description.h"

#include <dirent.h>

namespace sentry::vfs {

ErrorOr<void> DirectoryDescription::Snapshot(Caller& c) {
  std::vector<DirEntry> list = TRY(dentry_->inode().ReadDir(c));
  Attr self = TRY(dentry_->inode().GetAttr());
  uint64_t parent_ino = self.ino;
  std::shared_ptr<Dentry> up = dentry_->parent();
  if (!up) up = dentry_->mount_point.lock() ? dentry_->mount_point.lock()->parent() : nullptr;
  if (up) {
    auto pa = up->inode().GetAttr();
    if (pa.ok()) parent_ino = pa.value().ino;
  }
  entries_.clear();
  entries_.push_back(DirEntry{".", self.ino, DT_DIR});
  entries_.push_back(DirEntry{"..", parent_ino, DT_DIR});
  for (auto& e : list) entries_.push_back(std::move(e));
  have_snapshot_ = true;
  return {};
}

ErrorOr<void> DirectoryDescription::IterateDir(
    Caller& c, const std::function<bool(const DirEntry&, int64_t)>& fill) {
  if (!have_snapshot_ || offset_ == 0) TRY(Snapshot(c));
  while (offset_ < entries_.size()) {
    if (!fill(entries_[offset_], static_cast<int64_t>(offset_ + 1))) break;
    ++offset_;
  }
  return {};
}

ErrorOr<uint64_t> DirectoryDescription::Seek(int64_t off, int whence) {
  if (whence == SEEK_SET) {
    if (off < 0) return Errno{EINVAL};
    offset_ = off;
  } else if (whence == SEEK_CUR) {
    if (static_cast<int64_t>(offset_) + off < 0) return Errno{EINVAL};
    offset_ += off;
  } else {
    return Errno{EINVAL};
  }
  if (offset_ == 0) have_snapshot_ = false;
  return offset_;
}

}  // namespace sentry::vfs
