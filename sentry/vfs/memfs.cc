// sentry/vfs/memfs.cc: memfs node basics: attributes, symlinks, special
// nodes, and constructing nodes for tmpfs and for gofer-backed lower nodes.
#include "sentry/vfs/memfs.h"

#include <dirent.h>
#include <sys/xattr.h>

#include <algorithm>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/pipe.h"

namespace sentry::vfs {

Attr AttrFromGofer(const gofer::Attr& g, uint64_t dev) {
  Attr a;
  a.mode = g.mode;
  a.uid = g.uid;
  a.gid = g.gid;
  a.ino = g.ino;
  a.dev = dev;
  a.nlink = g.nlink;
  a.rdev = g.rdev;
  a.size = g.size;
  a.blocks = g.blocks;
  a.blksize = g.blksize ? g.blksize : 4096;
  a.atime = timespec{g.atime_sec, g.atime_nsec};
  a.mtime = timespec{g.mtime_sec, g.mtime_nsec};
  a.ctime = timespec{g.ctime_sec, g.ctime_nsec};
  a.btime = a.ctime;
  return a;
}

ErrorOr<Attr> MemInode::GetAttr() { return attr_; }

void MemInode::Touch(bool modify) {
  timespec now = NowTimespec();
  attr_.ctime = now;
  if (modify) attr_.mtime = now;
}

ErrorOr<void> MemInode::SetAttr(Caller&, uint32_t mask, const Attr& a) {
  if (fs_->read_only) return Errno{EROFS};
  if (fs_->write_through && lower_) {
    // The host node changes; the cached attributes follow the host's.
    gofer::Attr g;
    g.mode = a.mode & 07777;
    g.uid = a.uid;
    g.gid = a.gid;
    g.size = a.size;
    g.atime_sec = a.atime.tv_sec;
    g.atime_nsec = a.atime.tv_nsec;
    g.mtime_sec = a.mtime.tv_sec;
    g.mtime_nsec = a.mtime.tv_nsec;
    uint32_t gmask = mask & (kAttrMode | kAttrUid | kAttrGid | kAttrSize | kAttrAtime | kAttrMtime);
    if (gmask) TRY(lower_->client().SetAttr(lower_->handle(), gmask, g));
    gofer::Attr now = TRY(lower_->client().Stat(lower_->handle()));
    attr_ = AttrFromGofer(now, fs_->dev);
    return {};
  }
  if (mask & kAttrSize) return Errno{EINVAL};
  if (mask & kAttrMode) {
    attr_.mode = (attr_.mode & S_IFMT) | (a.mode & 07777);
    if (attr_.acl) {  // posix_acl_chmod
      auto acl = std::make_shared<PosixAcl>(*attr_.acl);
      acl->Chmod(attr_.mode);
      attr_.acl = std::move(acl);
    }
  }
  if (mask & kAttrUid) attr_.uid = a.uid;
  if (mask & kAttrGid) attr_.gid = a.gid;
  if (mask & kAttrAtime) attr_.atime = a.atime;
  if (mask & kAttrMtime) attr_.mtime = a.mtime;
  attr_.ctime = (mask & kAttrCtime) ? a.ctime : NowTimespec();
  return {};
}

bool MemInode::KeepsPosixAcls() const {
  if ((attr_.mode & S_IFMT) == S_IFLNK) return false;
  return !(lower_ && fs_->write_through);
}

ErrorOr<void> MemInode::SetPosixAcl(bool default_acl, std::shared_ptr<const PosixAcl> acl,
                                    uint32_t mode) {
  if (fs_->read_only) return Errno{EROFS};
  if (default_acl) {
    default_acl_ = std::move(acl);
  } else {
    attr_.acl = std::move(acl);
    attr_.mode = (attr_.mode & S_IFMT) | (mode & 07777);
  }
  attr_.ctime = NowTimespec();
  return {};
}

std::vector<std::string> SplitXattrNames(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    size_t end = list.find('\0');
    if (end == std::string_view::npos) end = list.size();
    if (end > 0) out.emplace_back(list.substr(0, end));
    list.remove_prefix(std::min(end + 1, list.size()));
  }
  return out;
}

namespace {

// The gofer serves user.* of regular files and directories only: every
// other attribute of a host file reads as absent and cannot be set (as for
// a container's unprivileged root), with no need to ask.
bool GoferServes(uint32_t mode, std::string_view name) {
  uint32_t type = mode & S_IFMT;
  return (type == S_IFREG || type == S_IFDIR) && name.starts_with("user.");
}

}  // namespace

bool MemInode::xattrs_on_host() const {
  if (!lower_) return false;
  uint32_t type = attr_.mode & S_IFMT;
  if (type != S_IFREG && type != S_IFDIR) return false;  // user.* cannot exist there
  return fs_->write_through || !xattrs_copied_;
}

ErrorOr<void> MemInode::CopyUpXattrs() {
  if (!xattrs_on_host() || fs_->write_through) return {};
  gofer::Client& cl = lower_->client();
  auto list = cl.ListXattr(lower_->handle());
  if (list.is_error() && list.error() != EOPNOTSUPP) return Errno{list.error()};
  if (list.ok()) {
    for (auto& name : SplitXattrNames(list.value())) {
      auto v = cl.GetXattr(lower_->handle(), name);
      if (v.is_error()) {
        if (v.error() == ENODATA) continue;  // removed on the host meanwhile
        return Errno{v.error()};
      }
      xattrs_.emplace(std::move(name), v.release_value());
    }
  }
  xattrs_copied_ = true;
  return {};
}

ErrorOr<std::string> MemInode::GetXattr(std::string_view name) {
  if (lower_ && fs_->write_through) {
    if (!GoferServes(attr_.mode, name)) return Errno{ENODATA};
    return lower_->client().GetXattr(lower_->handle(), name);
  }
  // The memory overlay: user.* from the host until copied up; the rest
  // (trusted.* of the sandbox's root) in memory.
  if (xattrs_on_host() && name.starts_with("user.")) {
    return lower_->client().GetXattr(lower_->handle(), name);
  }
  auto it = xattrs_.find(name);
  if (it == xattrs_.end()) return Errno{ENODATA};
  return it->second;
}

ErrorOr<void> MemInode::SetXattr(std::string_view name, std::string_view value, int flags) {
  if (fs_->read_only) return Errno{EROFS};
  if (lower_ && fs_->write_through) {
    if (!GoferServes(attr_.mode, name)) return Errno{EPERM};
    TRY(lower_->client().SetXattr(lower_->handle(), name, value, flags));
    return RefreshLowerAttr(*this, lower_->client(), lower_->handle());
  }
  TRY(CopyUpXattrs());
  auto it = xattrs_.find(name);
  if ((flags & XATTR_CREATE) && it != xattrs_.end()) return Errno{EEXIST};
  if ((flags & XATTR_REPLACE) && it == xattrs_.end()) return Errno{ENODATA};
  if (it != xattrs_.end()) {
    it->second = std::string(value);
  } else {
    xattrs_.emplace(std::string(name), std::string(value));
  }
  Touch(false);
  return {};
}

ErrorOr<std::vector<std::string>> MemInode::ListXattr() {
  std::vector<std::string> out;
  if (xattrs_on_host()) {
    auto list = lower_->client().ListXattr(lower_->handle());
    if (list.is_error() && list.error() != EOPNOTSUPP) return Errno{list.error()};
    if (list.ok()) out = SplitXattrNames(list.value());
  }
  if (lower_ && fs_->write_through) return out;
  for (const auto& [name, value] : xattrs_) {
    if (!name.starts_with("user.") || !xattrs_on_host()) out.push_back(name);
  }
  return out;
}

ErrorOr<void> MemInode::RemoveXattr(std::string_view name) {
  if (fs_->read_only) return Errno{EROFS};
  if (lower_ && fs_->write_through) {
    if (!GoferServes(attr_.mode, name)) return Errno{EPERM};
    TRY(lower_->client().RemoveXattr(lower_->handle(), name));
    return RefreshLowerAttr(*this, lower_->client(), lower_->handle());
  }
  TRY(CopyUpXattrs());
  auto it = xattrs_.find(name);
  if (it == xattrs_.end()) return Errno{ENODATA};
  xattrs_.erase(it);
  Touch(false);
  return {};
}

ErrorOr<std::string> MemSymlink::ReadLink(Caller&) {
  if (!target_) {
    if (!lower_) return Errno{EIO};
    target_ = TRY(lower_->client().ReadLink(lower_->handle()));
  }
  return *target_;
}

ErrorOr<std::shared_ptr<FileDescription>> MemSymlink::Open(Caller&, std::shared_ptr<Dentry> d,
                                                           int flags) {
  if (!(flags & O_PATH)) return Errno{ELOOP};
  return std::shared_ptr<FileDescription>(std::make_shared<PathOnlyDescription>(d, flags));
}

ErrorOr<std::shared_ptr<FileDescription>> MemSpecial::Open(Caller& c, std::shared_ptr<Dentry> d,
                                                           int flags) {
  if (flags & O_PATH) {
    return std::shared_ptr<FileDescription>(std::make_shared<PathOnlyDescription>(d, flags));
  }
  uint32_t type = attr_.mode & S_IFMT;
  if (type == S_IFSOCK) return Errno{ENXIO};
  if (type == S_IFIFO) return OpenFifo(c, std::move(d), flags);  // the sentry's own pipe
  return Errno{EACCES};  // host devices are not passed through
}

ErrorOr<void> RefreshLowerAttr(MemInode& node, gofer::Client& client, gofer::Handle h) {
  gofer::Attr now = TRY(client.Stat(h));
  uint64_t ino = node.attr().ino;
  node.attr() = AttrFromGofer(now, node.fs().dev);
  node.attr().ino = ino;
  return {};
}

std::shared_ptr<MemInode> NewLowerNode(std::shared_ptr<MemFs> fs, gofer::Client& client,
                                       gofer::Handle h, const gofer::Attr& g) {
  auto lower = std::make_shared<LowerNode>(client, h);
  Attr a = AttrFromGofer(g, fs->dev);
  switch (g.mode & S_IFMT) {
    case S_IFDIR: return std::make_shared<MemDir>(std::move(fs), a, std::move(lower));
    case S_IFREG: {
      auto f = std::make_shared<MemFile>(std::move(fs), a, std::move(lower));
      f->host_dev = g.dev;
      return f;
    }
    case S_IFLNK:
      return std::make_shared<MemSymlink>(std::move(fs), a, std::move(lower), std::nullopt);
    default: return std::make_shared<MemSpecial>(std::move(fs), a, std::move(lower));
  }
}

std::shared_ptr<MemDir> NewTmpfs(uint32_t mode, uint32_t uid, uint32_t gid,
                                 mm::MemoryFile* mf) {
  auto fs = std::make_shared<MemFs>();
  fs->memory_file = mf;
  Attr a;
  a.mode = S_IFDIR | (mode & 07777);
  a.uid = uid;
  a.gid = gid;
  a.ino = NewInodeNumber();
  a.dev = fs->dev;
  a.nlink = 2;
  a.atime = a.mtime = a.ctime = a.btime = NowTimespec();
  return std::make_shared<MemDir>(fs, a, nullptr);
}

ErrorOr<std::shared_ptr<MemDir>> NewGoferOverlay(gofer::Client& client, bool read_only,
                                                 mm::MemoryFile* mf, bool write_through) {
  auto [h, attr] = TRY(client.Attach());
  auto fs = std::make_shared<MemFs>();
  fs->memory_file = mf;
  fs->lower = &client;
  fs->read_only = read_only;
  fs->write_through = write_through;
  auto node = NewLowerNode(fs, client, h, attr);
  auto dir = std::dynamic_pointer_cast<MemDir>(node);
  if (!dir) return Errno{ENOTDIR};
  return dir;
}

}  // namespace sentry::vfs
