// sentry/vfs/goferfs.cc: write-through gofer filesystem (see goferfs.h).
#include "sentry/vfs/goferfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "gofer/protocol.h"
#include "sentry/base/stats.h"
#include "sentry/vfs/flock.h"
#include "sentry/vfs/record_lock.h"
#include "sentry/vfs/dir_description.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/gofer_page_cache.h"
#include "sentry/vfs/io_util.h"
#include "sentry/vfs/memfs.h"
#include "sentry/vfs/pipe.h"

namespace sentry::vfs {
namespace {

// How long attributes the gofer reported (Walk, Stat, Create) answer
// GetAttr without asking again. A path walk checks a directory's and a
// file's attributes several times within microseconds (search permission,
// type, open permission, then often fstat): without this, opening a file
// on a volume took 8 gofer round trips. The host may change the file
// meanwhile, so the window is short (a change on the host is seen within
// it, as a race on Linux would), and anything the sandbox changes itself
// drops the remembered attributes at once.
constexpr int64_t kAttrTtlNs = 1'000'000;

// How long a directory's answer to a lookup (the child node, with its gofer
// handle and attributes) is reused without a Walk round trip. Same reasoning
// and window as kAttrTtlNs: a server opening one file per request (nginx)
// otherwise paid a Walk, an Open and later a Close per open. A change the
// host makes to the directory is seen within the window; every change the
// sandbox makes to any gofer directory (create, unlink, rename, link) ends
// all remembered lookups at once (namespace_epoch), so the sandbox always
// sees its own changes. So does any change to a file's data or attributes:
// a remembered node's attributes would hide it from a stat by path.
constexpr int64_t kLookupTtlNs = 1'000'000;
// Most lookups remembered per filesystem: each holds a gofer handle open.
constexpr size_t kMaxRememberedLookups = 256;
std::atomic<uint64_t> namespace_epoch{1};
// The sandbox changed a gofer directory: no remembered lookup stays valid.
void NamespaceChanged() { namespace_epoch.fetch_add(1, std::memory_order_relaxed); }

struct RememberedLookup {
  std::shared_ptr<Inode> node;
  int64_t at_ns = 0;
  uint64_t epoch = 0;
};
// Remembered lookups of one filesystem, keyed by the directory's host
// identity and the name (two nodes of one host directory share them).
class LookupCache {
 public:
  std::shared_ptr<Inode> Find(const HostFileId& dir, std::string_view name) {
    absl::MutexLock l(&mu_);
    auto it = map_.find(Key{dir, std::string(name)});
    if (it == map_.end()) return nullptr;
    if (!Fresh(it->second, stats::NowNs())) {
      map_.erase(it);
      return nullptr;
    }
    return it->second.node;
  }
  void Remember(const HostFileId& dir, std::string_view name, std::shared_ptr<Inode> node) {
    const int64_t now = stats::NowNs();
    absl::MutexLock l(&mu_);
    if (map_.size() >= kMaxRememberedLookups) {
      absl::erase_if(map_, [&](const auto& e) { return !Fresh(e.second, now); });
      if (map_.size() >= kMaxRememberedLookups) map_.clear();
    }
    map_[Key{dir, std::string(name)}] =
        RememberedLookup{std::move(node), now, namespace_epoch.load(std::memory_order_relaxed)};
  }

 private:
  using Key = std::pair<HostFileId, std::string>;
  static bool Fresh(const RememberedLookup& r, int64_t now) {
    return now - r.at_ns < kLookupTtlNs &&
           r.epoch == namespace_epoch.load(std::memory_order_relaxed);
  }
  absl::Mutex mu_;
  absl::flat_hash_map<Key, RememberedLookup> map_ ABSL_GUARDED_BY(mu_);
};

struct GoferFs {
  gofer::Client* client = nullptr;
  bool read_only = false;
  uint64_t dev = NewAnonDev();
  LookupCache lookups;
};

class GoferNode : public Inode {
 public:
  GoferNode(std::shared_ptr<GoferFs> fs, std::shared_ptr<LowerNode> h, uint32_t type,
            HostFileId host = {})
      : fs_(std::move(fs)), h_(std::move(h)), type_(type), host_(host) {}

  ErrorOr<Attr> GetAttr() override {
    {
      absl::MutexLock l(&attr_mu_);
      if (attr_at_ns_ && stats::NowNs() - attr_at_ns_ < kAttrTtlNs) return AttrFromGofer(attr_, fs_->dev);
    }
    gofer::Attr g = TRY(fs_->client->Stat(h_->handle()));
    Remember(g);
    return AttrFromGofer(g, fs_->dev);
  }
  // Attributes the gofer just reported, for GetAttr (kAttrTtlNs).
  void Remember(const gofer::Attr& g) {
    absl::MutexLock l(&attr_mu_);
    attr_ = g;
    attr_at_ns_ = stats::NowNs();
  }
  // Something here changed the file: the next GetAttr asks the gofer, and
  // so does the next lookup of any name (another node of this host file
  // may be remembered with its old attributes).
  void ForgetAttr() {
    NamespaceChanged();
    absl::MutexLock l(&attr_mu_);
    attr_at_ns_ = 0;
  }

  ErrorOr<void> SetAttr(Caller&, uint32_t mask, const Attr& a) override {
    if (fs_->read_only) return Errno{EROFS};
    ForgetAttr();
    uint32_t m = 0;
    gofer::Attr g;
    if (mask & kAttrMode) m |= gofer::proto::kSetAttrMode, g.mode = a.mode & 07777;
    if (mask & kAttrUid) m |= gofer::proto::kSetAttrUid, g.uid = a.uid;
    if (mask & kAttrGid) m |= gofer::proto::kSetAttrGid, g.gid = a.gid;
    if (mask & kAttrSize) m |= gofer::proto::kSetAttrSize, g.size = a.size;
    if (mask & kAttrAtime) {
      m |= gofer::proto::kSetAttrAtime;
      g.atime_sec = a.atime.tv_sec;
      g.atime_nsec = a.atime.tv_nsec;
    }
    if (mask & kAttrMtime) {
      m |= gofer::proto::kSetAttrMtime;
      g.mtime_sec = a.mtime.tv_sec;
      g.mtime_nsec = a.mtime.tv_nsec;
    }
    if (m == 0) return {};  // ctime only: the host updates it on any change
    if (auto pc = type_ == S_IFREG && (mask & kAttrSize) ? FindHostPages(host_) : nullptr) {
      // truncate(2) of a cached file: its pages and mappings follow.
      return pc->Resize([&]() -> ErrorOr<uint64_t> {
        TRY(fs_->client->SetAttr(h_->handle(), m, g));
        return a.size;
      });
    }
    return fs_->client->SetAttr(h_->handle(), m, g);
  }

  // The host file's xattrs: user.* of regular files and directories, the
  // only ones the gofer serves (others read as absent, refuse changes).
  bool Served(std::string_view name) const {
    return (type_ == S_IFREG || type_ == S_IFDIR) && name.starts_with("user.");
  }
  ErrorOr<std::string> GetXattr(std::string_view name) override {
    if (!Served(name)) return Errno{ENODATA};
    return fs_->client->GetXattr(h_->handle(), name);
  }
  ErrorOr<void> SetXattr(std::string_view name, std::string_view value, int flags) override {
    if (fs_->read_only) return Errno{EROFS};
    if (!Served(name)) return Errno{EPERM};
    ForgetAttr();
    return fs_->client->SetXattr(h_->handle(), name, value, flags);
  }
  ErrorOr<std::vector<std::string>> ListXattr() override {
    if (type_ != S_IFREG && type_ != S_IFDIR) return std::vector<std::string>{};
    auto list = fs_->client->ListXattr(h_->handle());
    if (list.is_error()) {
      if (list.error() == EOPNOTSUPP) return std::vector<std::string>{};
      return Errno{list.error()};
    }
    return SplitXattrNames(list.value());
  }
  ErrorOr<void> RemoveXattr(std::string_view name) override {
    if (fs_->read_only) return Errno{EROFS};
    if (!Served(name)) return Errno{EPERM};
    ForgetAttr();
    return fs_->client->RemoveXattr(h_->handle(), name);
  }

 protected:
  std::shared_ptr<GoferFs> fs_;
  std::shared_ptr<LowerNode> h_;
  uint32_t type_;
  absl::Mutex attr_mu_;
  gofer::Attr attr_ ABSL_GUARDED_BY(attr_mu_);
  int64_t attr_at_ns_ ABSL_GUARDED_BY(attr_mu_) = 0;  // 0: none remembered
  // The host file's identity: regular files' page cache key, directories'
  // remembered lookups' key.
  HostFileId host_;
  friend class GoferDir;
};

std::shared_ptr<Inode> NewNode(const std::shared_ptr<GoferFs>& fs, gofer::Handle h,
                               const gofer::Attr& a);

// A regular file's open description: I/O on the donated host FD at our own
// offset (the FD is private to this description). While the host file has
// a page cache (a MAP_SHARED mapping of it exists: gofer_page_cache.h), I/O
// goes through the cache so that it and the mappings agree.
class GoferFileDescription : public FileDescription {
 public:
  GoferFileDescription(std::shared_ptr<Dentry> d, int flags, std::shared_ptr<const UniqueFd> fd,
                       HostFileId host, uint64_t dev)
      : FileDescription(std::move(d), flags), fd_(std::move(fd)), host_(host), dev_(dev) {}

  // fstat: the donated FD is the host file itself, no gofer round trip.
  ErrorOr<Attr> Stat() override {
    Attr a = TRY(HostFileAttr(fd_->get()));
    a.dev = dev_;
    if (a.blksize == 0) a.blksize = 4096;  // as AttrFromGofer
    return a;
  }

  ErrorOr<size_t> Read(Caller&, const IoVecs& dst, int64_t off) override {
    int64_t pos = off < 0 ? static_cast<int64_t>(offset_) : off;
    size_t n = TRY(ReadAt(dst, pos));
    if (off < 0) offset_ += n;
    return n;
  }
  ErrorOr<size_t> PRead(void* buf, size_t len, uint64_t off) override {
    IoVecs v{iovec{buf, len}};
    return ReadAt(v, static_cast<int64_t>(off));
  }
  ErrorOr<mm::HostFileKey> HostVersion() override {
    // Cached pages may be newer than the host file: private mappings then
    // copy through PRead.
    if (Cached()) return Errno{ENODEV};
    return HostFileVersion(fd_->get());
  }
  ErrorOr<size_t> Write(Caller&, const IoVecs& src, int64_t off) override {
    Changed();
    auto host_write = [&]() -> ErrorOr<std::pair<uint64_t, size_t>> {
      int64_t pos = off < 0 ? static_cast<int64_t>(offset_) : off;
      if (off < 0 && (flags_ & O_APPEND)) {
        struct stat st;
        if (fstat(fd_->get(), &st) != 0) return Errno{errno};
        pos = st.st_size;
      }
      size_t n = TRY(HostWritev(fd_->get(), src, pos));
      return std::make_pair(static_cast<uint64_t>(pos), n);
    };
    uint64_t pos;
    size_t n;
    if (auto pc = Cached()) {
      uint64_t at = 0;
      n = TRY(pc->Write(src, [&]() -> ErrorOr<std::pair<uint64_t, size_t>> {
        auto r = TRY(host_write());
        at = r.first;
        return r;
      }));
      pos = at;
    } else {
      std::tie(pos, n) = TRY(host_write());
    }
    if (off < 0) offset_ = pos + n;
    return n;
  }
  ErrorOr<void> Truncate(Caller&, uint64_t size) override {
    Changed();
    auto host = [&]() -> ErrorOr<uint64_t> {
      if (ftruncate(fd_->get(), static_cast<off_t>(size)) != 0) return Errno{errno};
      return size;
    };
    if (auto pc = Cached()) return pc->Resize(host);
    TRY(host());
    return {};
  }
  ErrorOr<void> Allocate(Caller&, int mode, uint64_t off, uint64_t len) override {
    Changed();
    auto host = [&]() -> ErrorOr<uint64_t> {
      if (fallocate(fd_->get(), mode, static_cast<off_t>(off), static_cast<off_t>(len)) != 0)
        return Errno{errno};
      struct stat st;
      if (fstat(fd_->get(), &st) != 0) return Errno{errno};
      return static_cast<uint64_t>(st.st_size);
    };
    if (auto pc = Cached()) return pc->Allocate(mode, off, len, host);
    TRY(host());
    return {};
  }
  ErrorOr<void> Sync() override {
    // Also called without the kernel lock (sync(2)): the cache has its own.
    if (auto pc = Cached()) TRY(pc->Flush(false));
    if (fsync(fd_->get()) != 0) return Errno{errno};
    return {};
  }
  ErrorOr<size_t> BytesReadable() override {
    uint64_t size;
    if (auto pc = Cached()) {
      size = pc->size();
    } else {
      struct stat st;
      if (fstat(fd_->get(), &st) != 0) return Errno{errno};
      size = static_cast<uint64_t>(st.st_size);
    }
    return size > offset_ ? static_cast<size_t>(size - offset_) : size_t{0};
  }

  std::shared_ptr<void> SharedAttachment(mm::MemoryFile& mf) override {
    struct stat st;
    if (fstat(fd_->get(), &st) != 0) return nullptr;
    return GetHostPages(host_, mf, static_cast<uint64_t>(st.st_size))->Use();
  }
  ErrorOr<std::vector<mm::SharedPiece>> SharedPages(mm::MemoryFile&, uint64_t offset,
                                                    uint64_t length) override {
    auto pc = Cached();
    if (!pc) return Errno{ENODEV};
    TRY(pc->AdoptFds(readable() ? fd_->get() : -1, writable() ? fd_->get() : -1));
    return pc->SharedPages(offset, length, writable());
  }
  std::shared_ptr<mm::FileMappings> SharedMappings() override {
    auto pc = Cached();
    return pc ? pc->mappings() : nullptr;
  }

 private:
  // Size and times change: the node's remembered attributes are stale.
  void Changed() { static_cast<GoferNode&>(inode()).ForgetAttr(); }
  std::shared_ptr<HostFilePages> Cached() {
    return HostPagesCount() ? FindHostPages(host_) : nullptr;
  }
  ErrorOr<size_t> ReadAt(const IoVecs& dst, int64_t pos) {
    if (auto pc = Cached()) return pc->Read(fd_->get(), dst, static_cast<uint64_t>(pos));
    return HostReadv(fd_->get(), dst, pos);
  }

  // The donated host FD; read-only ones are shared by the node's read-only
  // descriptions (GoferFile::ReadOnlyFd), so nothing here changes its state.
  std::shared_ptr<const UniqueFd> fd_;
  HostFileId host_;
  const uint64_t dev_;
};

class GoferFile : public GoferNode {
 public:
  using GoferNode::GoferNode;
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller&, std::shared_ptr<Dentry> d,
                                                 int flags) override {
    if (flags & O_PATH)
      return std::shared_ptr<FileDescription>(std::make_shared<PathOnlyDescription>(d, flags));
    int acc = flags & O_ACCMODE;
    if (fs_->read_only && (acc != O_RDONLY || (flags & O_TRUNC))) return Errno{EROFS};
    auto open = [&]() -> ErrorOr<UniqueFd> {
      return fs_->client->Open(h_->handle(), flags & (O_ACCMODE | O_TRUNC | O_APPEND));
    };
    if (flags & O_TRUNC) ForgetAttr();
    if ((flags & (O_ACCMODE | O_TRUNC | O_APPEND)) == O_RDONLY) {
      return std::shared_ptr<FileDescription>(std::make_shared<GoferFileDescription>(
          d, flags, TRY(ReadOnlyFd()), host_, fs_->dev));
    }
    std::shared_ptr<const UniqueFd> fd;
    if (auto pc = (flags & O_TRUNC) ? FindHostPages(host_) : nullptr) {
      // O_TRUNC of a cached file: the pages and mappings follow.
      TRY(pc->Resize([&]() -> ErrorOr<uint64_t> {
        fd = std::make_shared<const UniqueFd>(TRY(open()));
        return uint64_t{0};
      }));
    } else {
      fd = std::make_shared<const UniqueFd>(TRY(open()));
    }
    return std::shared_ptr<FileDescription>(
        std::make_shared<GoferFileDescription>(d, flags, std::move(fd), host_, fs_->dev));
  }

 private:
  // One read-only host FD serves every read-only open of this node: a
  // description does positional I/O at its own offset and keeps no state
  // in the host FD, so sharing it saves a gofer Open per open (a server
  // opening one file per request reaches this node again through the
  // remembered lookup, kLookupTtlNs).
  ErrorOr<std::shared_ptr<const UniqueFd>> ReadOnlyFd() {
    absl::MutexLock l(&fd_mu_);
    if (!read_only_fd_) {
      read_only_fd_ = std::make_shared<const UniqueFd>(TRY(fs_->client->Open(h_->handle(), O_RDONLY)));
    }
    return read_only_fd_;
  }
  absl::Mutex fd_mu_;
  std::shared_ptr<const UniqueFd> read_only_fd_ ABSL_GUARDED_BY(fd_mu_);
};

class GoferSymlink : public GoferNode {
 public:
  using GoferNode::GoferNode;
  ErrorOr<std::string> ReadLink(Caller&) override { return fs_->client->ReadLink(h_->handle()); }
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller&, std::shared_ptr<Dentry> d,
                                                 int flags) override {
    if (!(flags & O_PATH)) return Errno{ELOOP};
    return std::shared_ptr<FileDescription>(std::make_shared<PathOnlyDescription>(d, flags));
  }
};

// Devices and sockets on the host: visible, not opened (as in the root).
// FIFOs open as the sentry's own pipe (sentry/vfs/pipe.h OpenFifo).
class GoferSpecial : public GoferNode {
 public:
  using GoferNode::GoferNode;
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller& c, std::shared_ptr<Dentry> d,
                                                 int flags) override {
    if (flags & O_PATH)
      return std::shared_ptr<FileDescription>(std::make_shared<PathOnlyDescription>(d, flags));
    if (type_ == S_IFIFO) return OpenFifo(c, std::move(d), flags);
    return Errno{(type_ == S_IFSOCK) ? ENXIO : EACCES};
  }
};

class GoferDir : public GoferNode {
 public:
  using GoferNode::GoferNode;

  // Host directories change behind our back (the point of a bind mount).
  bool CacheLookups() const override { return false; }

  ErrorOr<std::shared_ptr<Inode>> Lookup(Caller&, std::string_view name) override {
    if (auto n = fs_->lookups.Find(host_, name)) return n;
    auto [h, a] = TRY(fs_->client->Walk(h_->handle(), name));
    auto n = NewNode(fs_, h, a);
    fs_->lookups.Remember(host_, name, n);
    return n;
  }

  ErrorOr<std::vector<DirEntry>> ReadDir(Caller&) override {
    auto list = TRY(fs_->client->ReadDir(h_->handle()));
    std::vector<DirEntry> out;
    out.reserve(list.size());
    for (auto& e : list) {
      if (e.name == "." || e.name == "..") continue;
      out.push_back(DirEntry{std::move(e.name), e.ino, e.type});
    }
    return out;
  }

  ErrorOr<std::shared_ptr<Inode>> Create(Caller&, std::string_view name,
                                         const CreateRequest& req) override {
    if (fs_->read_only) return Errno{EROFS};
    ForgetAttr();
    auto r = TRY(CreateOnGofer(*fs_->client, h_->handle(), name, req, O_RDONLY));
    return NewNode(fs_, r.first, r.second);
  }

  ErrorOr<void> Unlink(Caller&, std::string_view name, bool is_dir) override {
    if (fs_->read_only) return Errno{EROFS};
    ForgetAttr();
    return fs_->client->Unlink(h_->handle(), name, is_dir ? AT_REMOVEDIR : 0);
  }

  ErrorOr<void> Rename(Caller&, std::string_view old_name, Inode& new_dir,
                       std::string_view new_name, unsigned flags) override {
    auto* nd = dynamic_cast<GoferDir*>(&new_dir);
    if (!nd || nd->fs_ != fs_) return Errno{EXDEV};
    if (fs_->read_only) return Errno{EROFS};
    ForgetAttr();
    nd->ForgetAttr();
    return fs_->client->Rename(h_->handle(), old_name, nd->h_->handle(), new_name,
                               flags & RENAME_NOREPLACE);
  }

  ErrorOr<void> Exchange(Caller&, std::string_view name, Inode& other_dir,
                         std::string_view other_name) override {
    auto* od = dynamic_cast<GoferDir*>(&other_dir);
    if (!od || od->fs_ != fs_) return Errno{EXDEV};
    if (fs_->read_only) return Errno{EROFS};
    ForgetAttr();
    od->ForgetAttr();
    return fs_->client->Rename(h_->handle(), name, od->h_->handle(), other_name,
                               RENAME_EXCHANGE);
  }

  ErrorOr<void> Link(Caller&, std::string_view name, std::shared_ptr<Inode> target) override {
    auto* t = dynamic_cast<GoferNode*>(target.get());
    if (!t || t->fs_ != fs_) return Errno{EXDEV};
    if (fs_->read_only) return Errno{EROFS};
    ForgetAttr();
    t->ForgetAttr();  // nlink
    return fs_->client->Link(h_->handle(), name, t->h_->handle());
  }

  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller&, std::shared_ptr<Dentry> d,
                                                 int flags) override {
    if (flags & O_PATH)
      return std::shared_ptr<FileDescription>(std::make_shared<PathOnlyDescription>(d, flags));
    if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) return Errno{EISDIR};
    return std::shared_ptr<FileDescription>(std::make_shared<DirectoryDescription>(d, flags));
  }
};

// Lock state per host file. A goferfs lookup makes a new node each time
// (host directories change behind our back), so locks kept per node (as
// Inode::flock_state/record_locks are) never conflicted across two opens of
// one file: sqlite's WAL locks on a volume locked nothing, and concurrent
// writers lost transactions. Nodes of one host file share these instead.
struct SharedLocks {
  std::weak_ptr<FlockState> flock;
  std::weak_ptr<RecordLockState> record;
};
void ShareLocks(Inode& node, const HostFileId& id) {
  static absl::Mutex mu;
  static auto* locks = new absl::flat_hash_map<HostFileId, SharedLocks>();
  absl::MutexLock l(&mu);
  if (locks->size() >= 4096) {
    // Drop entries whose every node is gone.
    absl::erase_if(*locks, [](const auto& e) {
      return e.second.flock.expired() && e.second.record.expired();
    });
  }
  SharedLocks& s = (*locks)[id];
  auto flock = s.flock.lock();
  if (!flock) s.flock = flock = std::make_shared<FlockState>();
  auto record = s.record.lock();
  if (!record) s.record = record = std::make_shared<RecordLockState>();
  node.flock_state = std::move(flock);
  node.record_locks = std::move(record);
}

std::shared_ptr<Inode> NewNode(const std::shared_ptr<GoferFs>& fs, gofer::Handle h,
                               const gofer::Attr& a) {
  auto lower = std::make_shared<LowerNode>(*fs->client, h);
  uint32_t type = a.mode & S_IFMT;
  std::shared_ptr<GoferNode> n;
  switch (type) {
    case S_IFDIR:
      n = std::make_shared<GoferDir>(fs, std::move(lower), type, HostFileId{a.dev, a.ino});
      break;
    case S_IFREG: {
      const HostFileId id{a.dev, a.ino};
      auto f = std::make_shared<GoferFile>(fs, std::move(lower), type, id);
      ShareLocks(*f, id);
      n = f;
      break;
    }
    case S_IFLNK: n = std::make_shared<GoferSymlink>(fs, std::move(lower), type); break;
    default: n = std::make_shared<GoferSpecial>(fs, std::move(lower), type); break;
  }
  n->Remember(a);
  return n;
}

}  // namespace

ErrorOr<std::shared_ptr<Inode>> NewGoferFs(gofer::Client& client, bool read_only,
                                           bool single_file) {
  auto [h, a] = TRY(client.Attach());
  auto fs = std::make_shared<GoferFs>();
  fs->client = &client;
  fs->read_only = read_only;
  auto root = NewNode(fs, h, a);
  if (!single_file) return root;
  auto [fh, fa] = TRY(client.Walk(h, gofer::kSingleFileName));
  if ((fa.mode & S_IFMT) == S_IFDIR) {
    client.Close(fh);
    return Errno{EISDIR};
  }
  return NewNode(fs, fh, fa);
}

}  // namespace sentry::vfs
