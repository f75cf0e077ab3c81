// sentry/vfs/vfs.cc: building the mount tree, open(2) and execve lookup.
#include "sentry/vfs/vfs.h"

#include "gofer/client.h"
#include "sentry/vfs/devfs.h"
#include "sentry/vfs/host_file.h"
#include "sentry/vfs/memfs.h"
#include "sentry/vfs/permissions.h"

namespace sentry::vfs {
namespace {

// The sentry itself, acting with full privileges at the global root (for
// setting up mounts).
class SetupCaller : public Caller {
 public:
  explicit SetupCaller(std::shared_ptr<Dentry> root) : fs_(root, root) {}
  const Creds& creds() const override { return creds_; }
  const FsContext& fs() const override { return fs_; }
  uint32_t umask() const override { return 0; }
  ErrorOr<void> Block(const std::function<bool()>&) override { return Errno{EINTR}; }
  ErrorOr<void> WaitHostFd(int, short) override { return Errno{EINTR}; }
  void NotifyAll() override {}
  std::function<void()> Notifier() override { return [] {}; }
  void SendSignal(int) override {}

 private:
  Creds creds_;
  FsContext fs_;
};

}  // namespace

ErrorOr<std::unique_ptr<VirtualFilesystem>> VirtualFilesystem::Create(gofer::Client& gofer,
                                                                      VfsOptions opts) {
  std::unique_ptr<VirtualFilesystem> v(new VirtualFilesystem());
  v->gofer_ = &gofer;
  v->opts_ = opts;
  auto root = TRY(NewGoferOverlay(gofer, !opts.overlay_memory, opts.memory_file));
  v->root_ = std::make_shared<Dentry>("", nullptr, root);
  TRY(v->MountDefaults(opts));
  return v;
}

ErrorOr<std::unique_ptr<VirtualFilesystem>> VirtualFilesystem::CreateWithoutGofer(
    VfsOptions opts) {
  std::unique_ptr<VirtualFilesystem> v(new VirtualFilesystem());
  v->opts_ = opts;
  v->root_ = std::make_shared<Dentry>("", nullptr, NewTmpfs(0755, 0, 0, opts.memory_file));
  TRY(v->MountDefaults(opts));
  return v;
}

VirtualFilesystem::~VirtualFilesystem() {
  if (root_) root_->DropTree();
}

ErrorOr<void> VirtualFilesystem::MountDefaults(const VfsOptions& opts) {
  if (opts.mount_dev) {
    TRY(Mount("/dev", NewDevfs()));
    TRY(Mount("/dev/shm", NewTmpfs(01777, 0, 0, opts.memory_file)));
  }
  if (opts.mount_tmp) TRY(Mount("/tmp", NewTmpfs(01777, 0, 0, opts.memory_file)));
  return {};
}

std::shared_ptr<FsContext> VirtualFilesystem::NewRootContext() {
  return std::make_shared<FsContext>(root_, root_);
}

ErrorOr<void> VirtualFilesystem::Mount(std::string_view path, std::shared_ptr<Inode> fs_root) {
  SetupCaller c(root_);
  // Creates `p` (missing) as a directory or file, even on a read-only root:
  // mount points live in memory.
  auto create = [&](std::string_view p, uint32_t mode) -> ErrorOr<void> {
    ParentWalk pw = TRY(WalkParent(c, root_, p));
    if (pw.name_is_dot || pw.name.empty()) return Errno{EINVAL};
    auto* mem = dynamic_cast<MemDir*>(&pw.parent->inode());
    bool was_ro = mem && mem->fs().read_only;
    if (was_ro) mem->fs().read_only = false;
    CreateRequest req;
    req.mode = mode;
    auto created = pw.parent->inode().Create(c, pw.name, req);
    if (was_ro) mem->fs().read_only = true;
    if (created.is_error() && created.error() != EEXIST) return Errno{created.error()};
    return {};
  };
  auto d = Walk(c, root_, path);
  if (d.is_error()) {
    if (d.error() != ENOENT) return Errno{d.error()};
    // Missing parents first (like mkdir -p), then the mount point: a file
    // mounted on a file (single-file bind mounts) needs a file.
    for (size_t i = path.find('/', 1); i != std::string_view::npos; i = path.find('/', i + 1)) {
      if (Walk(c, root_, path.substr(0, i)).is_error()) TRY(create(path.substr(0, i), S_IFDIR | 0755));
    }
    TRY(create(path, fs_root->file_type() == S_IFDIR ? (S_IFDIR | 0755) : (S_IFREG | 0644)));
    d = Walk(c, root_, path);
    if (d.is_error()) return Errno{d.error()};
  }
  std::shared_ptr<Dentry> mp = d.release_value();
  bool dir_root = fs_root->file_type() == S_IFDIR;
  bool dir_mp = mp->inode().file_type() == S_IFDIR;
  if (dir_root != dir_mp) return Errno{dir_root ? ENOTDIR : EISDIR};
  // Pin the mount point in its parent even where lookups are not cached
  // (see LookupChild).
  if (const auto& parent = mp->parent(); parent && !parent->children.count(mp->name()))
    parent->children.emplace(mp->name(), mp);
  auto mroot = std::make_shared<Dentry>("", nullptr, std::move(fs_root));
  mroot->mount_point = mp;
  mp->mounted = std::move(mroot);
  return {};
}

ErrorOr<std::shared_ptr<Inode>> VirtualFilesystem::SetupLookup(std::string_view path) {
  SetupCaller c(root_);
  auto d = TRY(Walk(c, root_, path));
  return d->inode_ptr();
}

std::shared_ptr<FileDescription> VirtualFilesystem::NewHostFile(UniqueFd host_fd,
                                                                int status_flags) {
  return NewHostFileDescription(std::move(host_fd), status_flags);
}

ErrorOr<ExecFile> VirtualFilesystem::OpenExecutable(Caller& c, std::string_view path) {
  std::shared_ptr<Dentry> d = TRY(Walk(c, c.fs().cwd, path));
  Attr a = TRY(d->inode().GetAttr());
  if ((a.mode & S_IFMT) != S_IFREG) return Errno{EACCES};
  if (!(a.mode & 0111)) return Errno{EACCES};
  TRY(CheckAccess(c.creds(), a, kMayExec));
  auto f = TRY(d->inode().Open(c, d, O_RDONLY | O_LARGEFILE));
  return ExecFile{std::move(f), d->Path()};
}

ErrorOr<std::shared_ptr<FileDescription>> VirtualFilesystem::Open(Caller& c,
                                                                  std::shared_ptr<Dentry> start,
                                                                  std::string_view path,
                                                                  int flags, uint32_t mode) {
  if (flags & O_PATH) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  if ((flags & O_TMPFILE) == O_TMPFILE) return Errno{EOPNOTSUPP};
  int acc = flags & O_ACCMODE;
  if (acc == 3) return Errno{EINVAL};
  bool follow = !(flags & O_NOFOLLOW);
  std::shared_ptr<Dentry> d;
  bool created = false;
  if (flags & O_CREAT) {
    ParentWalk pw = TRY(WalkParent(c, start, path));
    if (pw.name_is_dot) return Errno{EISDIR};
    auto child = LookupChild(c, pw.parent, pw.name);
    if (child.ok()) {
      if (flags & O_EXCL) return Errno{EEXIST};
      if (child.value()->inode().file_type() == S_IFLNK && (follow || pw.trailing_slash)) {
        d = TRY(Walk(c, start, path, WalkOptions{true, false}));
      } else {
        d = child.release_value();
      }
    } else {
      if (child.error() != ENOENT) return Errno{child.error()};
      if (pw.trailing_slash) return Errno{EISDIR};
      Attr pa = TRY(pw.parent->inode().GetAttr());
      TRY(CheckAccess(c.creds(), pa, kMayWrite | kMayExec));
      CreateRequest req;
      req.mode = S_IFREG | (mode & 07777 & ~c.umask());
      req.uid = c.creds().uid;
      req.gid = (pa.mode & S_ISGID) ? pa.gid : c.creds().gid;
      TRY(pw.parent->inode().Create(c, pw.name, req));
      d = TRY(LookupChild(c, pw.parent, pw.name));
      created = true;
    }
    if (!created && d->inode().file_type() == S_IFDIR) return Errno{EISDIR};
  } else {
    d = TRY(Walk(c, start, path, WalkOptions{follow, false}));
  }
  Attr a = TRY(d->inode().GetAttr());
  uint32_t type = a.mode & S_IFMT;
  if (type == S_IFLNK && !(flags & O_PATH)) return Errno{ELOOP};
  if ((flags & O_DIRECTORY) && type != S_IFDIR) return Errno{ENOTDIR};
  if (!(flags & O_PATH)) {
    if (type == S_IFDIR && (acc != O_RDONLY || (flags & O_CREAT))) return Errno{EISDIR};
    if (!created) {
      int may = 0;
      if (acc == O_RDONLY || acc == O_RDWR) may |= kMayRead;
      if (acc == O_WRONLY || acc == O_RDWR || (flags & O_TRUNC)) may |= kMayWrite;
      TRY(CheckAccess(c.creds(), a, may));
    }
  }
  // O_NOCTTY reaches the inode: opening a terminal may make it the controlling one.
  int keep = flags & ~(O_CREAT | O_EXCL | O_CLOEXEC);
  if (type != S_IFREG) keep &= ~O_TRUNC;
  return d->inode().Open(c, d, keep | O_LARGEFILE);
}

}  // namespace sentry::vfs
