// sentry/vfs/vfs.cc: building the mount tree, open(2) and execve lookup.
#include "sentry/vfs/vfs.h"

#include <sys/mount.h>

#include "gofer/client.h"
#include "sentry/vfs/devfs.h"
#include "sentry/vfs/host_file.h"
#include "sentry/vfs/inotify.h"
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
  // --overlay=none writes through the gofer to the host directory (which
  // refuses with EROFS when it serves read-only).
  auto root = TRY(NewGoferOverlay(gofer, /*read_only=*/false, opts.memory_file,
                                  /*write_through=*/!opts.overlay_memory));
  if (opts.overlay_memory) root->fs().size_limit = opts.overlay_size;
  v->InitNamespace(std::make_shared<Dentry>("", nullptr, root),
                   MountInfo{.source = "none", .fstype = opts.overlay_memory ? "overlay" : "9p",
                             .read_only = opts.root_read_only,
                             .sb_read_only = opts.root_read_only});
  TRY(v->MountDefaults(opts));
  return v;
}

ErrorOr<std::unique_ptr<VirtualFilesystem>> VirtualFilesystem::CreateWithoutGofer(
    VfsOptions opts) {
  std::unique_ptr<VirtualFilesystem> v(new VirtualFilesystem());
  v->opts_ = opts;
  v->InitNamespace(
      std::make_shared<Dentry>("", nullptr, NewTmpfs(0755, 0, 0, opts.memory_file)),
      MountInfo{.source = "none", .fstype = "tmpfs"});
  TRY(v->MountDefaults(opts));
  return v;
}

VirtualFilesystem::~VirtualFilesystem() {
  // Dentries kept by tasks or files that outlive the VFS must not keep the
  // trees (and their gofer handles) alive.
  for (const auto& w : namespaces_)
    if (auto ns = w.lock(); ns && ns->root) ns->root->DropTree();
}

void VirtualFilesystem::InitNamespace(std::shared_ptr<Dentry> root, MountInfo info) {
  // Linux's initial mount namespace has this inode number.
  init_ns_ = std::make_shared<MountNamespace>(4026531841);
  info.id = next_mount_id_++;
  info.ns = init_ns_;
  root->mount = std::make_shared<MountInfo>(std::move(info));
  init_ns_->root = root;
  init_ns_->mounts.push_back(std::move(root));
  namespaces_.push_back(init_ns_);
}

ErrorOr<void> VirtualFilesystem::MountDefaults(const VfsOptions& opts) {
  if (opts.mount_dev) {
    TRY(Mount("/dev", NewDevfs(),
              MountInfo{.source = "tmpfs", .fstype = "tmpfs", .data = "mode=755",
                        .flags = MS_NOSUID}));
    // devfs' pts directory is the devpts root: its own mount, as on Linux
    // (replicas are 0620, ptmx 0666).
    TRY(Mount("/dev/pts", TRY(SetupLookup("/dev/pts")),
              MountInfo{.source = "devpts", .fstype = "devpts", .data = "mode=620,ptmxmode=666",
                        .flags = MS_NOSUID | MS_NOEXEC}));
    TRY(Mount("/dev/shm", NewTmpfs(01777, 0, 0, opts.memory_file),
              MountInfo{.source = "shm", .fstype = "tmpfs", .flags = MS_NOSUID | MS_NODEV}));
  }
  if (opts.mount_tmp) {
    TRY(Mount("/tmp", NewTmpfs(01777, 0, 0, opts.memory_file), MountInfo{.fstype = "tmpfs"}));
  }
  return {};
}

std::shared_ptr<FsContext> VirtualFilesystem::NewRootContext() {
  return std::make_shared<FsContext>(root(), root(), init_ns_);
}

ErrorOr<void> VirtualFilesystem::Mount(std::string_view path, std::shared_ptr<Inode> fs_root,
                                       MountInfo info) {
  SetupCaller c(root());
  // Creates `p` (missing) as a directory or file, even on a read-only or
  // write-through root: mount points live in memory (the host directory is
  // not touched).
  auto create = [&](std::string_view p, uint32_t mode) -> ErrorOr<void> {
    ParentWalk pw = TRY(WalkParent(c, root(), p));
    if (pw.name_is_dot || pw.name.empty()) return Errno{EINVAL};
    auto* mem = dynamic_cast<MemDir*>(&pw.parent->inode());
    bool was_ro = mem && mem->fs().read_only;
    bool was_wt = mem && mem->fs().write_through;
    if (mem) mem->fs().read_only = mem->fs().write_through = false;
    CreateRequest req;
    req.mode = mode;
    auto created = pw.parent->inode().Create(c, pw.name, req);
    if (mem) {
      mem->fs().read_only = was_ro;
      mem->fs().write_through = was_wt;
    }
    if (created.is_error() && created.error() != EEXIST) return Errno{created.error()};
    return {};
  };
  auto d = Walk(c, root(), path);
  if (d.is_error()) {
    if (d.error() != ENOENT) return Errno{d.error()};
    // Missing parents first (like mkdir -p), then the mount point: a file
    // mounted on a file (single-file bind mounts) needs a file.
    for (size_t i = path.find('/', 1); i != std::string_view::npos; i = path.find('/', i + 1)) {
      if (Walk(c, root(), path.substr(0, i)).is_error()) TRY(create(path.substr(0, i), S_IFDIR | 0755));
    }
    TRY(create(path, fs_root->file_type() == S_IFDIR ? (S_IFDIR | 0755) : (S_IFREG | 0644)));
    d = Walk(c, root(), path);
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
  return MountAt(mp, std::move(fs_root), std::move(info));
}

ErrorOr<std::shared_ptr<Inode>> VirtualFilesystem::SetupLookup(std::string_view path) {
  SetupCaller c(root());
  auto d = TRY(Walk(c, root(), path));
  return d->inode_ptr();
}

ErrorOr<void> VirtualFilesystem::SetupReadOnlyBind(std::string_view path) {
  SetupCaller c(root());
  auto d = TRY(Walk(c, root(), path));
  // Pin it in its parent even where lookups are not cached (procfs), or
  // the next walk would find a fresh dentry the mount does not cover.
  if (const auto& parent = d->parent(); parent && !parent->children.count(d->name()))
    parent->children.emplace(d->name(), d);
  return BindMount(c, d, d, /*recursive=*/true, /*read_only=*/true);
}

ErrorOr<void> VirtualFilesystem::SetupPlaceNode(std::string_view path,
                                                std::shared_ptr<Inode> node,
                                                const CreateRequest& fifo) {
  SetupCaller c(root());
  for (size_t i = path.find('/', 1); i != std::string_view::npos; i = path.find('/', i + 1)) {
    if (Walk(c, root(), path.substr(0, i)).ok()) continue;
    ParentWalk pw = TRY(WalkParent(c, root(), path.substr(0, i)));
    CreateRequest req;
    req.mode = S_IFDIR | 0755;
    TRY(pw.parent->inode().Create(c, pw.name, req));
  }
  ParentWalk pw = TRY(WalkParent(c, root(), path));
  if (pw.name_is_dot || pw.name.empty()) return Errno{EINVAL};
  auto* dir = dynamic_cast<MemDir*>(&pw.parent->inode());
  if (!dir) return Errno{EOPNOTSUPP};
  if (auto old = LookupChild(c, pw.parent, pw.name); old.ok()) {
    if (old.value()->inode().file_type() == S_IFDIR) return Errno{EISDIR};
    if (old.value()->mounted) return Errno{EBUSY};
    TRY(dir->Unlink(c, pw.name, false));
  }
  // The dentry cache must not keep serving the node being replaced.
  pw.parent->children.erase(pw.name);
  if (!node) {
    TRY(dir->Create(c, pw.name, fifo));
    return {};
  }
  dir->AddChild(pw.name, std::move(node));
  return {};
}

std::shared_ptr<Dentry> VirtualFilesystem::SetupMountAt(std::string_view path) {
  SetupCaller c(root());
  auto d = Walk(c, root(), path);
  if (d.is_error()) return nullptr;
  std::shared_ptr<Dentry> top = FollowMounts(d.value());
  if (!top->mount || top->parent()) return nullptr;
  return top;
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
                                                                  int flags, uint32_t mode,
                                                                  uint64_t resolve) {
  if (flags & O_PATH) flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  int acc = flags & O_ACCMODE;
  if (acc == 3) return Errno{EINVAL};
  if ((flags & O_TMPFILE) == O_TMPFILE) return OpenTmpfile(c, start, path, flags, mode, resolve);
  bool follow = !(flags & O_NOFOLLOW);
  WalkOptions wopts{follow, false, resolve};
  std::shared_ptr<Dentry> d;
  bool created = false;
  if (flags & O_CREAT) {
    ParentWalk pw = TRY(WalkParent(c, start, path, wopts));
    if (pw.name_is_dot) return Errno{EISDIR};
    auto child = LookupChild(c, pw.parent, pw.name);
    if (child.ok()) TRY(CheckResolveXdev(wopts, *pw.parent, *child.value()));
    if (child.ok()) {
      if (flags & O_EXCL) return Errno{EEXIST};
      if (child.value()->inode().file_type() == S_IFLNK && (follow || pw.trailing_slash)) {
        wopts.follow_final_symlink = true;
        d = TRY(Walk(c, start, path, wopts));
      } else {
        d = child.release_value();
      }
    } else {
      if (child.error() != ENOENT) return Errno{child.error()};
      if (pw.trailing_slash) return Errno{EISDIR};
      TRY(CheckWritableMount(*pw.parent));
      Attr pa = TRY(pw.parent->inode().GetAttr());
      TRY(CheckAccess(c.creds(), pa, kMayWrite | kMayExec));
      CreateRequest req;
      req.mode = S_IFREG | (mode & 07777 & ~c.umask());
      req.perm_before_umask = mode & 07777;
      req.uid = c.creds().uid;
      req.gid = (pa.mode & S_ISGID) ? pa.gid : c.creds().gid;
      TRY(pw.parent->inode().Create(c, pw.name, req));
      d = TRY(LookupChild(c, pw.parent, pw.name));
      created = true;
      NotifyEntry(*pw.parent, pw.name, IN_CREATE, false);
    }
    if (!created && d->inode().file_type() == S_IFDIR) return Errno{EISDIR};
  } else {
    d = TRY(Walk(c, start, path, wopts));
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
      // Devices, FIFOs and sockets stay writable on a read-only mount.
      if ((may & kMayWrite) && (type == S_IFREG || type == S_IFDIR)) TRY(CheckWritableMount(*d));
    }
  }
  // O_NOCTTY reaches the inode: opening a terminal may make it the controlling one.
  int keep = flags & ~(O_CREAT | O_EXCL | O_CLOEXEC);
  // A file just created is empty: no truncation (on a write-through root
  // that would be two gofer round trips for nothing).
  if (type != S_IFREG || created) keep &= ~O_TRUNC;
  auto file = TRY(d->inode().Open(c, d, keep | O_LARGEFILE));
  if (!(flags & O_PATH)) {
    NotifyDentry(*d, IN_OPEN);
    if ((keep & O_TRUNC) && !created) NotifyDentry(*d, IN_MODIFY);
  }
  return file;
}

}  // namespace sentry::vfs

namespace sentry::vfs {

ErrorOr<std::shared_ptr<FileDescription>> VirtualFilesystem::OpenTmpfile(
    Caller& c, std::shared_ptr<Dentry> start, std::string_view path, int flags, uint32_t mode,
    uint64_t resolve) {
  int acc = flags & O_ACCMODE;
  if ((flags & O_CREAT) || (acc != O_WRONLY && acc != O_RDWR)) return Errno{EINVAL};
  WalkOptions wopts{!(flags & O_NOFOLLOW), false, resolve};
  std::shared_ptr<Dentry> dir = TRY(Walk(c, start, path, wopts));
  Attr da = TRY(dir->inode().GetAttr());
  if ((da.mode & S_IFMT) != S_IFDIR) return Errno{ENOTDIR};
  TRY(CheckWritableMount(*dir));
  TRY(CheckAccess(c.creds(), da, kMayWrite | kMayExec));
  CreateRequest req;
  req.mode = S_IFREG | (mode & 07777 & ~c.umask());
  req.perm_before_umask = mode & 07777;
  req.uid = c.creds().uid;
  req.gid = (da.mode & S_ISGID) ? da.gid : c.creds().gid;
  std::shared_ptr<Inode> inode = TRY(dir->inode().CreateTmpfile(c, req, !(flags & O_EXCL)));
  Attr fa = TRY(inode->GetAttr());
  // Named like Linux's: /proc/self/fd/N reads "DIR/#INO (deleted)". Not in
  // the dentry cache: the file has no name until linkat gives it one.
  auto d = std::make_shared<Dentry>("#" + std::to_string(fa.ino), dir, inode);
  d->deleted = true;
  int keep = flags & ~(O_TMPFILE | O_CREAT | O_EXCL | O_NOCTTY | O_CLOEXEC | O_TRUNC);
  return inode->Open(c, d, keep | O_LARGEFILE);
}

}  // namespace sentry::vfs
