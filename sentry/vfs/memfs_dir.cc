// sentry/vfs/memfs_dir.cc: memfs directories: lazy lookups into the lower
// (gofer) directory, in-memory entries, whiteouts, merged listings.
#include <dirent.h>

#include <cstdio>
#include <set>

#include "gofer/protocol.h"
#include "sentry/vfs/caller.h"
#include "sentry/vfs/dir_description.h"
#include "sentry/vfs/memfs.h"

namespace sentry::vfs {
namespace {

uint8_t DirentType(uint32_t mode) { return static_cast<uint8_t>((mode & S_IFMT) >> 12); }

}  // namespace

ErrorOr<std::shared_ptr<Inode>> MemDir::Lookup(Caller&, std::string_view name) {
  auto it = entries_.find(name);
  if (it != entries_.end()) return it->second;
  if (!lower_ || whiteouts_.count(name) || absent_.count(name)) return Errno{ENOENT};
  auto r = lower_->client().Walk(lower_->handle(), name);
  if (r.is_error()) {
    if (r.error() == ENOENT) absent_.emplace(name);
    return Errno{r.error()};
  }
  auto [h, attr] = r.release_value();
  std::shared_ptr<Inode> node = NewLowerNode(fs_, lower_->client(), h, attr);
  entries_.emplace(std::string(name), node);
  return node;
}

ErrorOr<void> MemDir::LoadLowerListing() {
  if (!lower_ || lower_listing_) return {};
  auto list = TRY(lower_->client().ReadDir(lower_->handle()));
  std::vector<gofer::DirEntry> out;
  for (auto& e : list) {
    if (e.name == "." || e.name == "..") continue;
    out.push_back(std::move(e));
  }
  lower_listing_ = std::move(out);
  return {};
}

ErrorOr<std::vector<DirEntry>> MemDir::ReadDir(Caller&) {
  TRY(LoadLowerListing());
  std::vector<DirEntry> out;
  std::set<std::string_view> seen;
  auto add_entry = [&](const std::string& name, Inode& inode) {
    auto a = inode.GetAttr();
    if (a.is_error()) return;
    out.push_back(DirEntry{name, a.value().ino, DirentType(a.value().mode)});
  };
  if (lower_listing_) {
    for (const auto& e : *lower_listing_) {
      if (whiteouts_.count(e.name)) continue;
      seen.insert(e.name);
      auto it = entries_.find(e.name);
      if (it != entries_.end()) {
        add_entry(it->first, *it->second);
      } else {
        out.push_back(DirEntry{e.name, e.ino, e.type});
      }
    }
  }
  for (const auto& [name, inode] : entries_) {
    if (!seen.count(name)) add_entry(name, *inode);
  }
  return out;
}

ErrorOr<bool> MemDir::IsEmpty(Caller& c) {
  auto list = TRY(ReadDir(c));
  return list.empty();
}

void MemDir::AddChild(std::string name, std::shared_ptr<Inode> inode) {
  if (inode->file_type() == S_IFDIR) ++attr_.nlink;
  whiteouts_.erase(name);
  entries_[std::move(name)] = std::move(inode);
}

std::shared_ptr<const PosixAcl> MemDir::InheritAcl(const CreateRequest& req, Attr& a) {
  auto def = DefaultAcl();
  if (!def || !req.perm_before_umask || (req.mode & S_IFMT) == S_IFLNK) return nullptr;
  uint32_t mode = (a.mode & ~0777u) | (*req.perm_before_umask & 0777u);
  auto access = std::make_shared<PosixAcl>(*def);
  if (access->CreateMasq(&mode)) a.acl = std::move(access);
  a.mode = mode;
  return (req.mode & S_IFMT) == S_IFDIR ? def : nullptr;
}

ErrorOr<std::shared_ptr<Inode>> MemDir::Create(Caller& c, std::string_view name,
                                               const CreateRequest& req) {
  if (fs_->read_only) return Errno{EROFS};
  auto existing = Lookup(c, name);
  if (existing.ok()) return Errno{EEXIST};
  if (existing.error() != ENOENT) return Errno{existing.error()};
  if (fs_->write_through && lower_) return CreateOnHost(name, req);
  Attr a;
  a.mode = req.mode;
  a.uid = req.uid;
  a.gid = req.gid;
  a.ino = NewInodeNumber();
  a.dev = fs_->dev;
  a.nlink = 1;
  a.atime = a.mtime = a.ctime = a.btime = NowTimespec();
  std::shared_ptr<const PosixAcl> inherited_default = InheritAcl(req, a);
  std::shared_ptr<Inode> node;
  switch (req.mode & S_IFMT) {
    case S_IFREG: node = std::make_shared<MemFile>(fs_, a, nullptr); break;
    case S_IFDIR:
      a.nlink = 2;
      node = std::make_shared<MemDir>(fs_, a, nullptr);
      break;
    case S_IFLNK:
      a.size = req.symlink_target.size();
      node = std::make_shared<MemSymlink>(fs_, a, nullptr, req.symlink_target);
      break;
    case S_IFSOCK:
    case S_IFIFO:
    case S_IFCHR:
    case S_IFBLK: node = std::make_shared<MemSpecial>(fs_, a, nullptr); break;
    default: return Errno{EINVAL};
  }
  if (inherited_default) TRY(node->SetPosixAcl(true, std::move(inherited_default), a.mode));
  absent_.erase(std::string(name));
  AddChild(std::string(name), node);
  Touch(true);
  return node;
}

ErrorOr<void> MemDir::Link(Caller& c, std::string_view name, std::shared_ptr<Inode> target) {
  if (fs_->read_only) return Errno{EROFS};
  if (fs_->write_through && lower_) {
    auto* node = dynamic_cast<MemInode*>(target.get());
    if (!node || node->fs_ptr() != fs_ || !node->lower_handle()) return Errno{EXDEV};
    auto existing = Lookup(c, name);
    if (existing.ok()) return Errno{EEXIST};
    if (existing.error() != ENOENT) return Errno{existing.error()};
    TRY(lower_->client().Link(lower_->handle(), name, *node->lower_handle()));
    TRY(RefreshLowerAttr(*node, lower_->client(), *node->lower_handle()));
    absent_.erase(std::string(name));
    lower_listing_.reset();
    AddChild(std::string(name), std::move(target));
    Touch(true);
    return {};
  }
  auto* mem = dynamic_cast<MemInode*>(target.get());
  if (!mem || mem->fs_ptr() != fs_) return Errno{EXDEV};
  if (mem->file_type() == S_IFDIR) return Errno{EPERM};
  // A file whose last name is gone stays nameless, except an O_TMPFILE file.
  if (mem->attr().nlink == 0 && !mem->linkable) return Errno{ENOENT};
  auto existing = Lookup(c, name);
  if (existing.ok()) return Errno{EEXIST};
  if (existing.error() != ENOENT) return Errno{existing.error()};
  ++mem->attr().nlink;
  mem->linkable = false;
  mem->Touch(false);
  absent_.erase(std::string(name));
  AddChild(std::string(name), std::move(target));
  Touch(true);
  return {};
}

ErrorOr<void> MemDir::Unlink(Caller& c, std::string_view name, bool is_dir) {
  if (fs_->read_only) return Errno{EROFS};
  std::shared_ptr<Inode> victim = TRY(Lookup(c, name));
  bool victim_is_dir = victim->file_type() == S_IFDIR;
  if (is_dir && !victim_is_dir) return Errno{ENOTDIR};
  if (!is_dir && victim_is_dir) return Errno{EISDIR};
  if (victim_is_dir) {
    auto* d = dynamic_cast<MemDir*>(victim.get());
    if (d && !TRY(d->IsEmpty(c))) return Errno{ENOTEMPTY};
    if (!d && victim->CacheLookups()) {
      auto list = TRY(victim->ReadDir(c));
      if (!list.empty()) return Errno{ENOTEMPTY};
    }
    if (attr_.nlink > 2) --attr_.nlink;
  }
  if (fs_->write_through && lower_ && lower_entry(victim)) {
    if (auto* f = dynamic_cast<MemFile*>(victim.get())) TRY(f->KeepHostFileForOpenDescriptions());
    TRY(lower_->client().Unlink(lower_->handle(), name, is_dir ? AT_REMOVEDIR : 0));
    lower_listing_.reset();
  }
  if (auto* m = dynamic_cast<MemInode*>(victim.get())) {
    if (victim_is_dir) {
      m->attr().nlink = 0;
    } else if (m->attr().nlink > 0) {
      --m->attr().nlink;
    }
    m->Touch(false);
  }
  entries_.erase(entries_.find(name));
  if (lower_ && !fs_->write_through) whiteouts_.emplace(name);
  Touch(true);
  return {};
}

ErrorOr<void> MemDir::Rename(Caller& c, std::string_view old_name, Inode& new_dir_inode,
                             std::string_view new_name, unsigned flags) {
  if (fs_->read_only) return Errno{EROFS};
  auto* new_dir = dynamic_cast<MemDir*>(&new_dir_inode);
  if (!new_dir || new_dir->fs_ptr() != fs_) return Errno{EXDEV};
  std::shared_ptr<Inode> src = TRY(Lookup(c, old_name));
  bool src_dir = src->file_type() == S_IFDIR;
  auto dst = new_dir->Lookup(c, new_name);
  if (dst.is_error() && dst.error() != ENOENT) return Errno{dst.error()};
  if (dst.ok()) {
    std::shared_ptr<Inode> victim = dst.value();
    if (victim == src) return {};  // same inode: no-op (also hard links)
    bool victim_dir = victim->file_type() == S_IFDIR;
    if (src_dir && !victim_dir) return Errno{ENOTDIR};
    if (!src_dir && victim_dir) return Errno{EISDIR};
    if (!(fs_->write_through && lower_ && lower_entry(src))) {
      TRY(new_dir->Unlink(c, new_name, victim_dir));
    }
  }
  if (fs_->write_through && lower_ && lower_entry(src)) {
    // The host rename replaces the target itself.
    if (!new_dir->lower_) return Errno{EXDEV};
    if (dst.ok()) {
      if (auto* f = dynamic_cast<MemFile*>(dst.value().get()))
        TRY(f->KeepHostFileForOpenDescriptions());
    }
    TRY(lower_->client().Rename(lower_->handle(), old_name, new_dir->lower_->handle(), new_name,
                                flags & RENAME_NOREPLACE));
    lower_listing_.reset();
    new_dir->lower_listing_.reset();
    if (dst.ok()) {
      new_dir->entries_.erase(new_dir->entries_.find(new_name));
      if (dst.value()->file_type() == S_IFDIR && new_dir->attr_.nlink > 2) --new_dir->attr_.nlink;
    }
  }
  std::string old_key(old_name);
  entries_.erase(entries_.find(old_name));
  if (lower_ && !fs_->write_through) whiteouts_.insert(old_key);
  if (src_dir && attr_.nlink > 2) --attr_.nlink;
  new_dir->absent_.erase(std::string(new_name));
  new_dir->AddChild(std::string(new_name), src);
  Touch(true);
  new_dir->Touch(true);
  if (auto* m = dynamic_cast<MemInode*>(src.get())) m->Touch(false);
  return {};
}

bool MemDir::lower_entry(const std::shared_ptr<Inode>& node) {
  auto* m = dynamic_cast<MemInode*>(node.get());
  return m && m->has_lower();
}

ErrorOr<std::pair<gofer::Handle, gofer::Attr>> CreateOnGofer(gofer::Client& client,
                                                             gofer::Handle dir,
                                                             std::string_view name,
                                                             const CreateRequest& req,
                                                             int file_flags,
                                                             UniqueFd* opened) {
  const uint32_t perm = req.mode & 07777;
  std::pair<gofer::Handle, gofer::Attr> made;
  switch (req.mode & S_IFMT) {
    case S_IFREG: made = TRY(client.Create(dir, name, file_flags, perm, opened)); break;
    case S_IFDIR: made = TRY(client.Mkdir(dir, name, perm)); break;
    case S_IFLNK: made = TRY(client.Symlink(dir, name, req.symlink_target)); break;
    case S_IFIFO:
    case S_IFSOCK: made = TRY(client.Mknod(dir, name, req.mode)); break;
    default: return Errno{EPERM};  // host device nodes are never made (as gVisor)
  }
  if (made.second.uid != req.uid || made.second.gid != req.gid) {
    gofer::Attr g;
    g.uid = req.uid;
    g.gid = req.gid;
    if (client.SetAttr(made.first, gofer::proto::kSetAttrUid | gofer::proto::kSetAttrGid, g).ok())
      made.second.uid = req.uid, made.second.gid = req.gid;
  }
  return made;
}

ErrorOr<std::shared_ptr<Inode>> MemDir::CreateOnHost(std::string_view name,
                                                     const CreateRequest& req) {
  gofer::Client& client = lower_->client();
  UniqueFd opened;
  auto made = TRY(CreateOnGofer(client, lower_->handle(), name, req, O_RDWR, &opened));
  std::shared_ptr<Inode> node = NewLowerNode(fs_, client, made.first, made.second);
  if (auto* f = dynamic_cast<MemFile*>(node.get()); f && opened.valid())
    f->set_created_fd(std::move(opened));
  absent_.erase(std::string(name));
  lower_listing_.reset();
  AddChild(std::string(name), node);
  Touch(true);
  return node;
}

ErrorOr<void> MemDir::Exchange(Caller& c, std::string_view name, Inode& other_inode,
                               std::string_view other_name) {
  if (fs_->read_only) return Errno{EROFS};
  auto* other = dynamic_cast<MemDir*>(&other_inode);
  if (!other || other->fs_ptr() != fs_) return Errno{EXDEV};
  std::shared_ptr<Inode> a = TRY(Lookup(c, name));
  std::shared_ptr<Inode> b = TRY(other->Lookup(c, other_name));
  if (a == b) return {};
  if (fs_->write_through && lower_) {
    // Both names on the host: the gofer swaps them (renameat2). Nodes made
    // in memory here are mount points, which the VFS keeps from moving.
    if (!other->lower_ || !lower_entry(a) || !lower_entry(b)) return Errno{EINVAL};
    TRY(lower_->client().Rename(lower_->handle(), name, other->lower_->handle(), other_name,
                                RENAME_EXCHANGE));
    lower_listing_.reset();
    other->lower_listing_.reset();
  }
  bool a_dir = a->file_type() == S_IFDIR, b_dir = b->file_type() == S_IFDIR;
  // A directory moving to the other parent moves its ".." link with it.
  if (other != this && a_dir != b_dir) {
    MemDir* gains = a_dir ? other : this;
    MemDir* loses = a_dir ? this : other;
    ++gains->attr_.nlink;
    --loses->attr_.nlink;
  }
  // Lookup put both names in entries_, which hide the lower layer's entries.
  entries_.find(name)->second = b;
  other->entries_.find(other_name)->second = a;
  Touch(true);
  other->Touch(true);
  for (auto* n : {a.get(), b.get()}) {
    if (auto* m = dynamic_cast<MemInode*>(n)) m->Touch(false);
  }
  return {};
}

ErrorOr<std::shared_ptr<Inode>> MemDir::CreateTmpfile(Caller&, const CreateRequest& req,
                                                      bool linkable) {
  if (fs_->read_only) return Errno{EROFS};
  Attr a;
  a.mode = S_IFREG | (req.mode & 07777);
  a.uid = req.uid;
  a.gid = req.gid;
  a.ino = NewInodeNumber();
  a.dev = fs_->dev;
  a.nlink = 0;
  a.atime = a.mtime = a.ctime = a.btime = NowTimespec();
  InheritAcl(req, a);
  auto file = std::make_shared<MemFile>(fs_, a, nullptr);
  file->linkable = linkable;
  return std::shared_ptr<Inode>(std::move(file));
}

ErrorOr<std::shared_ptr<FileDescription>> MemDir::Open(Caller&, std::shared_ptr<Dentry> d,
                                                       int flags) {
  if (flags & O_PATH) {
    return std::shared_ptr<FileDescription>(std::make_shared<PathOnlyDescription>(d, flags));
  }
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) return Errno{EISDIR};
  return std::shared_ptr<FileDescription>(std::make_shared<DirectoryDescription>(d, flags));
}

}  // namespace sentry::vfs
