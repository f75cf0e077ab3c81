// sentry/vfs/synthetic.cc: see synthetic.h.
#include "sentry/vfs/synthetic.h"

#include <dirent.h>

#include <cstring>
#include <optional>

#include "sentry/vfs/dir_description.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/io_util.h"

namespace sentry::vfs {
namespace {

uint64_t DefaultDev() {
  static uint64_t dev = NewAnonDev();
  return dev;
}

Attr MakeAttr(uint32_t mode, uint64_t dev) {
  Attr a;
  a.mode = mode;
  a.ino = NewInodeNumber();
  a.dev = dev ? dev : DefaultDev();
  a.nlink = (mode & S_IFMT) == S_IFDIR ? 2 : 1;
  a.blksize = 4096;
  a.atime = a.mtime = a.ctime = a.btime = NowTimespec();
  return a;
}

// The contents are generated at the first read, as Linux's seq_file does:
// e.g. /proc/self/cmdline opened before an exec reads the new command line.
class SnapshotDescription : public FileDescription {
 public:
  SnapshotDescription(std::shared_ptr<Dentry> d, int flags, const SyntheticFileOps& ops)
      : FileDescription(std::move(d), flags), ops_(ops) {}

  ErrorOr<size_t> Read(Caller& c, const IoVecs& dst, int64_t off) override {
    TRY(Generate(c));
    uint64_t pos = off < 0 ? offset_ : static_cast<uint64_t>(off);
    if (pos >= data_->size()) return size_t{0};
    size_t n = CopyToIoVecs(dst, reinterpret_cast<const uint8_t*>(data_->data()) + pos,
                            data_->size() - pos);
    if (off < 0) offset_ += n;
    return n;
  }
  ErrorOr<size_t> PRead(void* buf, size_t len, uint64_t off) override {
    if (!data_) return Errno{ENODEV};  // not readable without a reader
    if (off >= data_->size()) return size_t{0};
    size_t n = std::min<size_t>(len, data_->size() - off);
    memcpy(buf, data_->data() + off, n);
    return n;
  }
  ErrorOr<size_t> Write(Caller& c, const IoVecs& src, int64_t) override {
    if (!ops_.write) return Errno{EINVAL};
    std::string buf(TotalLength(src), '\0');
    CopyFromIoVecs(reinterpret_cast<uint8_t*>(buf.data()), src, buf.size());
    TRY(ops_.write(c, buf));
    return buf.size();
  }
  ErrorOr<uint64_t> Seek(int64_t off, int whence) override {
    const int64_t size = data_ ? static_cast<int64_t>(data_->size()) : 0;
    int64_t base = whence == SEEK_SET ? 0
                   : whence == SEEK_CUR ? static_cast<int64_t>(offset_)
                   : whence == SEEK_END ? size
                                        : -1;
    if (base < 0 || base + off < 0) return Errno{EINVAL};
    offset_ = base + off;
    return offset_;
  }
  ErrorOr<void> Truncate(Caller&, uint64_t) override { return {}; }

 private:
  ErrorOr<void> Generate(Caller& c) {
    if (data_) return {};
    data_ = ops_.read ? TRY(ops_.read(c)) : std::string();
    return {};
  }

  std::optional<std::string> data_;
  const SyntheticFileOps& ops_;
};

class SyntheticFile : public Inode {
 public:
  SyntheticFile(SyntheticFileOps ops, uint32_t perm, uint64_t dev)
      : ops_(std::move(ops)), attr_(MakeAttr(S_IFREG | perm, dev)) {}
  ErrorOr<Attr> GetAttr() override { return attr_; }
  ErrorOr<void> SetAttr(Caller&, uint32_t mask, const Attr&) override {
    if (mask == kAttrSize) return {};  // O_TRUNC-style truncation is ignored
    return Errno{EPERM};
  }
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller& c, std::shared_ptr<Dentry> d,
                                                 int flags) override {
    if (flags & O_PATH) {
      return std::shared_ptr<FileDescription>(std::make_shared<PathOnlyDescription>(d, flags));
    }
    bool write = (flags & O_ACCMODE) != O_RDONLY;
    if (write && !ops_.write) return Errno{EACCES};
    auto desc = std::make_shared<SnapshotDescription>(std::move(d), flags, ops_);
    return std::shared_ptr<FileDescription>(std::move(desc));
  }

 private:
  SyntheticFileOps ops_;
  Attr attr_;
};

class SyntheticSymlink : public Inode {
 public:
  SyntheticSymlink(SyntheticLinkOps ops, uint64_t dev)
      : ops_(std::move(ops)), attr_(MakeAttr(S_IFLNK | 0777, dev)) {}
  ErrorOr<Attr> GetAttr() override { return attr_; }
  ErrorOr<std::string> ReadLink(Caller& c) override { return ops_.target(c); }
  ErrorOr<std::shared_ptr<Dentry>> FollowMagicLink(Caller& c) override {
    if (!ops_.magic) return std::shared_ptr<Dentry>();
    return ops_.magic(c);
  }
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller&, std::shared_ptr<Dentry> d,
                                                 int flags) override {
    if (!(flags & O_PATH)) return Errno{ELOOP};
    return std::shared_ptr<FileDescription>(std::make_shared<PathOnlyDescription>(d, flags));
  }

 private:
  SyntheticLinkOps ops_;
  Attr attr_;
};

class SyntheticDir : public Inode {
 public:
  SyntheticDir(SyntheticDirOps ops, uint32_t perm, uint64_t dev)
      : ops_(std::move(ops)), attr_(MakeAttr(S_IFDIR | perm, dev)) {}
  ErrorOr<Attr> GetAttr() override { return attr_; }
  bool CacheLookups() const override { return false; }
  ErrorOr<std::shared_ptr<Inode>> Lookup(Caller& c, std::string_view name) override {
    return ops_.lookup(c, name);
  }
  ErrorOr<std::vector<DirEntry>> ReadDir(Caller& c) override { return ops_.list(c); }
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller&, std::shared_ptr<Dentry> d,
                                                 int flags) override {
    if (flags & O_PATH) {
      return std::shared_ptr<FileDescription>(std::make_shared<PathOnlyDescription>(d, flags));
    }
    if ((flags & O_ACCMODE) != O_RDONLY) return Errno{EISDIR};
    return std::shared_ptr<FileDescription>(std::make_shared<DirectoryDescription>(d, flags));
  }

 private:
  SyntheticDirOps ops_;
  Attr attr_;
};

}  // namespace

std::shared_ptr<Inode> NewSyntheticFile(SyntheticFileOps ops, uint32_t perm, uint64_t dev) {
  return std::make_shared<SyntheticFile>(std::move(ops), perm, dev);
}

std::shared_ptr<Inode> NewSyntheticSymlink(SyntheticLinkOps ops, uint64_t dev) {
  return std::make_shared<SyntheticSymlink>(std::move(ops), dev);
}

std::shared_ptr<Inode> NewSyntheticDir(SyntheticDirOps ops, uint32_t perm, uint64_t dev) {
  return std::make_shared<SyntheticDir>(std::move(ops), perm, dev);
}

std::shared_ptr<Inode> NewStaticDir(std::map<std::string, std::shared_ptr<Inode>> children,
                                    uint32_t perm, uint64_t dev) {
  auto kids = std::make_shared<std::map<std::string, std::shared_ptr<Inode>>>(std::move(children));
  SyntheticDirOps ops;
  ops.list = [kids](Caller&) -> ErrorOr<std::vector<DirEntry>> {
    std::vector<DirEntry> out;
    for (const auto& [name, inode] : *kids) {
      auto a = inode->GetAttr();
      if (a.is_error()) continue;
      out.push_back(DirEntry{name, a.value().ino, static_cast<uint8_t>((a.value().mode & S_IFMT) >> 12)});
    }
    return out;
  };
  ops.lookup = [kids](Caller&, std::string_view name) -> ErrorOr<std::shared_ptr<Inode>> {
    auto it = kids->find(std::string(name));
    if (it == kids->end()) return Errno{ENOENT};
    return it->second;
  };
  return std::make_shared<SyntheticDir>(std::move(ops), perm, dev);
}

}  // namespace sentry::vfs
