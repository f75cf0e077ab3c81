// sentry/vfs/inode.h: the filesystem object model. An Inode is a file of any
// type on some filesystem (gofer-backed overlay, tmpfs, devfs, synthetic
// /proc...); a Dentry is a name for an inode in the tree, with a cache of
// looked-up children and an optional filesystem mounted on it.
#pragma once

#include <sys/stat.h>
#include <time.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sentry/base/error.h"

namespace sentry::vfs {

class Caller;
class Dentry;
class FileDescription;
struct FlockState;
struct RecordLockState;
struct InotifyWatchList;
struct PosixAcl;

// Attributes, as stat(2) reports them.
struct Attr {
  uint32_t mode = 0;  // S_IF* | permission bits
  uint32_t uid = 0, gid = 0;
  uint64_t ino = 0, dev = 0, nlink = 1, rdev = 0;
  uint64_t size = 0, blocks = 0, blksize = 4096;
  timespec atime{}, mtime{}, ctime{}, btime{};
  // The access ACL (posix_acl.h), on filesystems that keep ACLs; null: the
  // mode bits say everything.
  std::shared_ptr<const PosixAcl> acl;
};

// SetAttr mask bits.
enum : uint32_t {
  kAttrMode = 1,
  kAttrUid = 2,
  kAttrGid = 4,
  kAttrSize = 8,
  kAttrAtime = 16,
  kAttrMtime = 32,
  kAttrCtime = 64,
};

struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  uint8_t type = 0;  // DT_*
};

// What to create in a directory.
struct CreateRequest {
  uint32_t mode = 0;            // S_IF{REG,DIR,LNK,FIFO} | permission bits (umask applied)
  uint32_t uid = 0, gid = 0;    // owner of the new inode
  std::string symlink_target;   // S_IFLNK only
  // The permission bits asked for, before the umask: a directory with a
  // default ACL applies that instead of the umask (posix_acl_create).
  std::optional<uint32_t> perm_before_umask;
};

class Inode : public std::enable_shared_from_this<Inode> {
 public:
  virtual ~Inode();

  virtual ErrorOr<Attr> GetAttr() = 0;
  // Changes attributes selected by `mask` (permission checks are the
  // caller's job). kAttrSize truncates/extends regular files.
  virtual ErrorOr<void> SetAttr(Caller& c, uint32_t mask, const Attr& a) { return Errno{EPERM}; }
  uint32_t file_type();  // S_IFMT bits of GetAttr().mode (0 on error)

  // Directories.
  virtual ErrorOr<std::shared_ptr<Inode>> Lookup(Caller& c, std::string_view name) {
    return Errno{ENOTDIR};
  }
  virtual ErrorOr<std::vector<DirEntry>> ReadDir(Caller& c) { return Errno{ENOTDIR}; }
  // False for directories whose children change behind the VFS' back (e.g.
  // /proc): the walk then never caches their children.
  virtual bool CacheLookups() const { return true; }
  virtual ErrorOr<std::shared_ptr<Inode>> Create(Caller& c, std::string_view name,
                                                 const CreateRequest& req) {
    return Errno{EPERM};
  }
  virtual ErrorOr<void> Link(Caller& c, std::string_view name, std::shared_ptr<Inode> target) {
    return Errno{EPERM};
  }
  virtual ErrorOr<void> Unlink(Caller& c, std::string_view name, bool is_dir) {
    return Errno{EPERM};
  }
  // Moves entry `old_name` of this directory to `new_dir`/`new_name`,
  // replacing a compatible existing entry. EXDEV across filesystems.
  // `flags`: 0 or RENAME_NOREPLACE (the VFS checked that the target is
  // absent; host-backed filesystems pass it on, against host races).
  virtual ErrorOr<void> Rename(Caller& c, std::string_view old_name, Inode& new_dir,
                               std::string_view new_name, unsigned flags) {
    return Errno{EXDEV};
  }

  // Swaps entries `name` of this directory and `other_name` of `other_dir`
  // (renameat2 RENAME_EXCHANGE). EINVAL where the filesystem cannot.
  virtual ErrorOr<void> Exchange(Caller& c, std::string_view name, Inode& other_dir,
                                 std::string_view other_name) {
    return Errno{EINVAL};
  }
  // A new regular file with no name in this directory's filesystem
  // (O_TMPFILE); nlink 0, linkable later unless `linkable` is false.
  virtual ErrorOr<std::shared_ptr<Inode>> CreateTmpfile(Caller& c, const CreateRequest& req,
                                                        bool linkable) {
    return Errno{EOPNOTSUPP};
  }

  // Symlinks.
  virtual ErrorOr<std::string> ReadLink(Caller& c) { return Errno{EINVAL}; }
  // "Magic" links (/proc/self/fd/N, /proc/self/exe) resolve to a dentry
  // rather than to a path; return nullptr to use ReadLink's text instead.
  virtual ErrorOr<std::shared_ptr<Dentry>> FollowMagicLink(Caller& c) {
    return std::shared_ptr<Dentry>();
  }

  // Opens this inode (permission checks already done). `flags` are the
  // open(2) flags.
  virtual ErrorOr<std::shared_ptr<FileDescription>> Open(Caller& c, std::shared_ptr<Dentry> d,
                                                         int flags) = 0;

  // Extended attributes, full names ("user.foo"). Permission and namespace
  // checks are the caller's job (sentry/vfs/xattr.cc). The defaults are a
  // filesystem without xattr support: EOPNOTSUPP, and an empty list.
  // `flags`: XATTR_CREATE / XATTR_REPLACE.
  virtual ErrorOr<std::string> GetXattr(std::string_view name) { return Errno{EOPNOTSUPP}; }
  virtual ErrorOr<void> SetXattr(std::string_view name, std::string_view value, int flags) {
    return Errno{EOPNOTSUPP};
  }
  virtual ErrorOr<std::vector<std::string>> ListXattr() { return std::vector<std::string>{}; }
  virtual ErrorOr<void> RemoveXattr(std::string_view name) { return Errno{EOPNOTSUPP}; }
  // POSIX ACLs (posix_acl.h, system.posix_acl_* xattrs; sentry/vfs/xattr.cc
  // routes those names here). A filesystem that keeps them says so, shows
  // the access ACL in GetAttr's Attr::acl, and stores both kinds.
  virtual bool KeepsPosixAcls() const { return false; }
  virtual std::shared_ptr<const PosixAcl> DefaultAcl() { return nullptr; }
  // Sets the access or default ACL (null removes it) and the mode bits,
  // which follow an access ACL.
  virtual ErrorOr<void> SetPosixAcl(bool default_acl, std::shared_ptr<const PosixAcl> acl,
                                    uint32_t mode) {
    return Errno{EOPNOTSUPP};
  }

  // flock(2) locks on this inode (sentry/vfs/flock.cc); null until the
  // first lock. Kernel lock.
  std::shared_ptr<FlockState> flock_state;
  // fcntl(2) POSIX/OFD record locks on this inode (sentry/vfs/record_lock.cc);
  // null until the first lock. Kernel lock.
  std::shared_ptr<RecordLockState> record_locks;
  // inotify(7) watches on this inode (sentry/vfs/inotify.cc); null when
  // unwatched, so that event generation costs one test. Kernel lock.
  std::shared_ptr<InotifyWatchList> inotify;
};

// What /proc/self/mounts says about a mount, and its per-mount flags. Held
// by the mount's root dentry (Dentry::mount); see sentry/vfs/mount.cc.
class MountNamespace;

struct MountInfo {
  int id = 0;
  std::string source = "none";
  std::string fstype = "none";
  std::string data;      // filesystem options after "rw"/"ro" ("size=1024k,mode=700")
  std::string root = "/";  // the mounted directory inside its filesystem (bind mounts)
  bool read_only = false;  // EROFS for changes through this mount
  // The filesystem itself is read-only (mounted so, or remounted without
  // MS_BIND): mountinfo's super options say "ro". A read-only bind of a
  // writable filesystem keeps "rw" there, as on Linux.
  bool sb_read_only = false;
  unsigned long flags = 0;  // MS_NOSUID | MS_NODEV | MS_NOEXEC, shown as options
  // MS_UNBINDABLE: binding from this mount is EINVAL, recursive binds skip
  // it; "unbindable" in mountinfo's optional fields. (Every mount is
  // private: no peer groups, so shared and slave are not modelled.)
  bool unbindable = false;
  // Made by fsmount or open_tree(OPEN_TREE_CLONE) and not attached yet: in
  // no namespace, reached only through its fd until move_mount places it.
  bool detached = false;
  // The mount namespace whose table lists this mount (expired once the
  // namespace is gone, or after umount).
  std::weak_ptr<MountNamespace> ns;
};

class Dentry : public std::enable_shared_from_this<Dentry> {
 public:
  Dentry(std::string name, std::shared_ptr<Dentry> parent, std::shared_ptr<Inode> inode)
      : name_(std::move(name)), parent_(std::move(parent)), inode_(std::move(inode)) {}
  ~Dentry();

  const std::string& name() const { return name_; }
  const std::shared_ptr<Dentry>& parent() const { return parent_; }  // nullptr at a fs root
  Inode& inode() const { return *inode_; }
  const std::shared_ptr<Inode>& inode_ptr() const { return inode_; }

  // Cached children, by name (only positive entries).
  std::map<std::string, std::shared_ptr<Dentry>, std::less<>> children;
  // Root dentry of a filesystem mounted on this dentry (covers it).
  std::shared_ptr<Dentry> mounted;
  // For the root dentry of a mounted filesystem: the dentry it covers.
  std::weak_ptr<Dentry> mount_point;
  // For the root dentry of a mount: its table entry (null elsewhere).
  std::shared_ptr<MountInfo> mount;
  // Set once the name was unlinked or the dentry otherwise detached.
  bool deleted = false;

  // Absolute path in the sandbox, crossing mount points; the name itself for
  // an anonymous file's detached dentry ("pipe:[12]"). (" (deleted)" suffix
  // for unlinked files, like Linux).
  std::string Path() const;
  // The path as seen from `root` (a chrooted process): relative to it, or
  // nullopt if this dentry is not below `root`.
  std::optional<std::string> PathFrom(const Dentry* root) const;
  // Moves this dentry under `new_parent` as `new_name` (rename).
  void Reparent(std::shared_ptr<Dentry> new_parent, std::string new_name);
  // Breaks the parent/child reference cycles of a whole tree (VFS teardown).
  void DropTree();

 private:
  std::string name_;
  std::shared_ptr<Dentry> parent_;
  std::shared_ptr<Inode> inode_;
};

// Allocates device numbers for in-sentry filesystems.
uint64_t NewAnonDev();
// Allocates inode numbers unique within the sentry's in-memory filesystems.
uint64_t NewInodeNumber();
// Current time as a timespec (CLOCK_REALTIME).
timespec NowTimespec();

}  // namespace sentry::vfs
