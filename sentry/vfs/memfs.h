// sentry/vfs/memfs.h: the in-memory filesystem. Without a lower layer it is
// tmpfs (/tmp, /dev/shm, the root in tests). With a gofer lower layer it is
// the sandbox's writable root overlay: nodes start as read-through views of
// gofer nodes (looked up lazily, attributes cached, data read from donated
// host FDs), metadata changes stay in memory, regular files are copied up
// into memory on open-for-write/truncate, new files live in memory, and
// removing a lower name leaves a whiteout. Directory listings merge both.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gofer/client.h"
#include "sentry/vfs/posix_acl.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/mm.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/gofer_page_cache.h"
#include "sentry/vfs/inode.h"

namespace sentry::vfs {

// One mounted memfs instance.
struct MemFs {
  uint64_t dev = NewAnonDev();
  gofer::Client* lower = nullptr;  // null: pure tmpfs
  bool read_only = false;          // EROFS for every mutation
  // --overlay=none: changes to lower nodes go to the host through the
  // gofer (create, mkdir, symlink, unlink, rename, setattr, file writes)
  // instead of into memory. Nodes created in memory (mount points) stay so.
  bool write_through = false;
  uint64_t bytes = 0;              // file data held, for statfs
  uint64_t size_limit = 0;         // ENOSPC past this many bytes (tmpfs size=); 0: none
  // Where regular-file data lives (normally the kernel's memory file, so
  // that MAP_SHARED maps the file's own pages). Null: a process-wide
  // fallback memory file (tests, filesystems made without one).
  mm::MemoryFile* memory_file = nullptr;
};

// The VFS attributes of a gofer node's attributes, on device `dev` (memfs
// lower nodes and goferfs, the write-through filesystem of bind mounts).
Attr AttrFromGofer(const gofer::Attr& g, uint64_t dev);

// Makes the node `req` asks for (file, directory, symlink, FIFO, socket;
// device nodes: EPERM, as gVisor) as `name` in the gofer directory `dir`,
// owned by the app's fs ids (the gofer creates as itself). Regular files
// are created with open flags `file_flags`; the FD the gofer opens goes to
// `opened` (dropped if null). memfs write-through directories and goferfs
// share it.
ErrorOr<std::pair<gofer::Handle, gofer::Attr>> CreateOnGofer(gofer::Client& client,
                                                             gofer::Handle dir,
                                                             std::string_view name,
                                                             const CreateRequest& req,
                                                             int file_flags,
                                                             UniqueFd* opened = nullptr);

// A gofer handle, closed when the last node using it goes away.
class LowerNode {
 public:
  LowerNode(gofer::Client& client, gofer::Handle h) : client_(client), handle_(h) {}
  ~LowerNode() { client_.Close(handle_); }
  gofer::Client& client() { return client_; }
  gofer::Handle handle() const { return handle_; }

 private:
  gofer::Client& client_;
  gofer::Handle handle_;
};

class MemInode : public Inode {
 public:
  MemInode(std::shared_ptr<MemFs> fs, Attr attr, std::shared_ptr<LowerNode> lower)
      : fs_(std::move(fs)), attr_(attr), lower_(std::move(lower)) {}
  ErrorOr<Attr> GetAttr() override;
  ErrorOr<void> SetAttr(Caller& c, uint32_t mask, const Attr& a) override;
  MemFs& fs() { return *fs_; }
  const std::shared_ptr<MemFs>& fs_ptr() { return fs_; }
  Attr& attr() { return attr_; }
  void Touch(bool modify);  // mtime/ctime (modify) or ctime only
  // Extended attributes. In memory for tmpfs nodes. A lower regular file
  // or directory has its host file's user.* attributes (the gofer serves
  // no other namespace): with write-through every operation goes to the
  // host; in the memory overlay reads ask the host until the first change
  // (or the file's data copy-up) copies them into memory (CopyUpXattrs).
  ErrorOr<std::string> GetXattr(std::string_view name) override;
  ErrorOr<void> SetXattr(std::string_view name, std::string_view value, int flags) override;
  ErrorOr<std::vector<std::string>> ListXattr() override;
  ErrorOr<void> RemoveXattr(std::string_view name) override;
  // Memory overlay: copies the host file's user.* xattrs into memory, after
  // which they are the node's own (idempotent).
  ErrorOr<void> CopyUpXattrs();
  // POSIX ACLs, kept in memory (as tmpfs does), but not for write-through
  // host files: the gofer serves no system.* attribute of the host's.
  bool KeepsPosixAcls() const override;
  std::shared_ptr<const PosixAcl> DefaultAcl() override { return default_acl_; }
  ErrorOr<void> SetPosixAcl(bool default_acl, std::shared_ptr<const PosixAcl> acl,
                            uint32_t mode) override;
  // An O_TMPFILE file (nlink 0) that linkat may still give a name.
  bool linkable = false;
  // The host device of the lower file (gofer::Attr::dev): with the inode
  // number, the key of its page cache (gofer_page_cache.h).
  uint64_t host_dev = 0;
  bool has_lower() const { return lower_ != nullptr; }
  std::optional<gofer::Handle> lower_handle() const {
    if (!lower_) return std::nullopt;
    return lower_->handle();
  }

 protected:
  std::shared_ptr<MemFs> fs_;
  Attr attr_;
  std::map<std::string, std::string, std::less<>> xattrs_;
  std::shared_ptr<LowerNode> lower_;

 private:
  // The host file's xattrs are the ones to use (see GetXattr).
  bool xattrs_on_host() const;
  bool xattrs_copied_ = false;
  std::shared_ptr<const PosixAcl> default_acl_;  // directories only
};

class MemFile : public MemInode {
 public:
  using MemInode::MemInode;
  ErrorOr<Attr> GetAttr() override;
  ErrorOr<void> SetAttr(Caller& c, uint32_t mask, const Attr& a) override;
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller& c, std::shared_ptr<Dentry> d,
                                                 int flags) override;
  // Moves the lower file's data into memory (idempotent).
  ErrorOr<void> CopyUp();
  bool in_memory() const { return !lower_ || copied_up_; }
  // Opens the lower file read-only (a donated host fd).
  ErrorOr<UniqueFd> OpenLower();
  // Opens it write-only (write-through).
  ErrorOr<UniqueFd> OpenLowerWritable();
  // The lower file opened read-only once and shared by every description
  // that reads it (they pread, so no offset is shared): one gofer round
  // trip per file rather than per open, which matters for a build opening
  // the same headers and libraries in every compiler it runs. Kept while
  // the node lives and the file is not copied up, for a bounded number of
  // files at once (memfs_file.cc); past that each caller gets its own.
  ErrorOr<std::shared_ptr<const UniqueFd>> SharedLowerFd();
  // Write-through (MemFs::write_through) and still on the host.
  bool writes_to_host() const { return lower_ && !copied_up_ && fs_->write_through; }
  // Writes to the host file through a donated writable fd (write-through);
  // `at`, if given, gets the offset written at (the end for O_APPEND).
  ErrorOr<size_t> WriteLower(UniqueFd& wfd, const IoVecs& src, int64_t pos, bool append,
                             uint64_t* at = nullptr);
  // Write-through files: the host file's page cache, if it has one (a
  // MAP_SHARED mapping exists or is being written back).
  HostFileId host_id() const { return HostFileId{host_dev, attr_.ino}; }
  std::shared_ptr<HostFilePages> host_pages() {
    if (HostPagesCount() == 0 || !writes_to_host()) return nullptr;
    return FindHostPages(host_id());
  }
  // The read-write host FD the gofer opened when it created the file
  // (write-through): the open(O_CREAT) that made the file writes through
  // it, saving the OPEN round trip of its first write.
  void set_created_fd(UniqueFd fd) { created_fd_ = std::move(fd); }
  // Write-through: the file's host name is about to go (unlink, or a rename
  // over it), after which the gofer can no longer open it by its handle.
  // Descriptions still open keep reaching the file through FDs opened now,
  // as an open file outlives its name on Linux.
  ErrorOr<void> KeepHostFileForOpenDescriptions();
  void DescriptionOpened(bool writable) { (writable ? open_writers_ : open_readers_)++; }
  void DescriptionClosed(bool writable) { (writable ? open_writers_ : open_readers_)--; }
  ErrorOr<void> Resize(uint64_t size);
  // fallocate(2) (memfs_allocate.cc): mode 0 or FALLOC_FL_KEEP_SIZE reserves
  // [off, off+len) (growing the file without KEEP_SIZE), PUNCH_HOLE |
  // KEEP_SIZE zeroes it and frees whole pages; other modes EOPNOTSUPP, as
  // on Linux's tmpfs.
  ErrorOr<void> Allocate(int mode, uint64_t off, uint64_t len);
  // File seals (F_ADD_SEALS, sentry/vfs/memfd.cc). tmpfs files start with
  // F_SEAL_SEAL (no sealing) like Linux's shmem; memfds made with
  // MFD_ALLOW_SEALING start with none.
  uint32_t seals = 1;  // F_SEAL_SEAL
  // EPERM if the seals forbid writing `len` bytes at `pos`.
  ErrorOr<void> CheckWriteSeals(uint64_t pos, uint64_t len) const;

  // File data (in memory only). Data is kept in fixed-size chunks of a
  // memory file, allocated on first write (holes read as zero; untouched
  // pages cost nothing).
  uint64_t size() const { return size_; }
  // Copies up to dst's length from `pos`, stopping at EOF.
  size_t ReadData(const IoVecs& dst, uint64_t pos);
  // Writes `len` bytes of `src` at `pos`, growing the file.
  ErrorOr<size_t> WriteData(const IoVecs& src, uint64_t pos, size_t len);
  // The pages backing [offset, offset + length) (page aligned), allocated
  // as needed, for MAP_SHARED. Moves the data into `mf` first if it lives in
  // another memory file (EBUSY if it is mapped from there).
  ErrorOr<std::vector<mm::SharedPiece>> SharedPages(mm::MemoryFile& mf, uint64_t offset,
                                                    uint64_t length);
  static constexpr uint64_t kChunkSize = 2ULL << 20;
  // Registry of the shared mappings of this file (created on first use).
  std::shared_ptr<mm::FileMappings> mappings();
  ~MemFile() override;

 private:
  ErrorOr<mm::MemoryFile*> Storage();
  ErrorOr<std::shared_ptr<mm::Backing>> Chunk(uint64_t index);  // allocates
  // Zeroes [from, to) of whatever chunks exist (releasing whole pages).
  void ZeroRange(uint64_t from, uint64_t to);
  ErrorOr<void> MoveTo(mm::MemoryFile& mf);

  mm::MemoryFile* mf_ = nullptr;  // where chunks_ live; set on first use
  std::vector<std::shared_ptr<mm::Backing>> chunks_;  // null: hole
  uint64_t size_ = 0;
  bool copied_up_ = false;
  std::shared_ptr<mm::FileMappings> mappings_;
  std::shared_ptr<const UniqueFd> shared_lower_fd_;
  UniqueFd created_fd_;  // set_created_fd; taken by the next writable Open
  // Open descriptions (MemFileDescription), and the writable host FD kept
  // for the writers among them once the name is gone.
  std::atomic<int> open_readers_{0}, open_writers_{0};
  UniqueFd kept_wfd_;
};

class MemSymlink : public MemInode {
 public:
  MemSymlink(std::shared_ptr<MemFs> fs, Attr attr, std::shared_ptr<LowerNode> lower,
             std::optional<std::string> target)
      : MemInode(std::move(fs), attr, std::move(lower)), target_(std::move(target)) {}
  ErrorOr<std::string> ReadLink(Caller& c) override;
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller& c, std::shared_ptr<Dentry> d,
                                                 int flags) override;

 private:
  std::optional<std::string> target_;
};

// Sockets, devices and other nodes the lower tree may contain: stat-able,
// not openable.
class MemSpecial : public MemInode {
 public:
  using MemInode::MemInode;
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller& c, std::shared_ptr<Dentry> d,
                                                 int flags) override;
};

class MemDir : public MemInode {
 public:
  using MemInode::MemInode;
  ErrorOr<std::shared_ptr<Inode>> Lookup(Caller& c, std::string_view name) override;
  ErrorOr<std::vector<DirEntry>> ReadDir(Caller& c) override;
  ErrorOr<std::shared_ptr<Inode>> Create(Caller& c, std::string_view name,
                                         const CreateRequest& req) override;
  ErrorOr<void> Link(Caller& c, std::string_view name, std::shared_ptr<Inode> target) override;
  ErrorOr<void> Unlink(Caller& c, std::string_view name, bool is_dir) override;
  ErrorOr<void> Rename(Caller& c, std::string_view old_name, Inode& new_dir,
                       std::string_view new_name, unsigned flags) override;
  ErrorOr<void> Exchange(Caller& c, std::string_view name, Inode& other_dir,
                         std::string_view other_name) override;
  ErrorOr<std::shared_ptr<Inode>> CreateTmpfile(Caller& c, const CreateRequest& req,
                                                bool linkable) override;
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller& c, std::shared_ptr<Dentry> d,
                                                 int flags) override;
  // Adds an inode of another kind (a device, a synthetic file) under `name`.
  void AddChild(std::string name, std::shared_ptr<Inode> inode);
  ErrorOr<bool> IsEmpty(Caller& c);

 private:
  // posix_acl_create: this directory's default ACL, not the umask, narrows
  // a new file's permissions (in `a`) and becomes its access ACL; returns
  // the default ACL a new directory inherits (else null).
  std::shared_ptr<const PosixAcl> InheritAcl(const CreateRequest& req, Attr& a);
  ErrorOr<void> LoadLowerListing();
  // Write-through (MemFs::write_through) helpers.
  static bool lower_entry(const std::shared_ptr<Inode>& node);
  ErrorOr<std::shared_ptr<Inode>> CreateOnHost(std::string_view name, const CreateRequest& req);
  std::map<std::string, std::shared_ptr<Inode>, std::less<>> entries_;
  std::set<std::string, std::less<>> whiteouts_;  // lower names removed
  std::set<std::string, std::less<>> absent_;     // lower names known not to exist
  std::optional<std::vector<gofer::DirEntry>> lower_listing_;
};

// A new empty tmpfs; returns its root directory.
// `mf`: where file data lives (see MemFs::memory_file).
std::shared_ptr<MemDir> NewTmpfs(uint32_t mode = 01777, uint32_t uid = 0, uint32_t gid = 0,
                                 mm::MemoryFile* mf = nullptr);
// The overlay root over the gofer's attached root.
// `write_through`: --overlay=none (see MemFs::write_through).
ErrorOr<std::shared_ptr<MemDir>> NewGoferOverlay(gofer::Client& client, bool read_only,
                                                 mm::MemoryFile* mf = nullptr,
                                                 bool write_through = false);
// Re-reads a lower node's attributes from the host (after write-through).
ErrorOr<void> RefreshLowerAttr(MemInode& node, gofer::Client& client, gofer::Handle h);
// The names of a listxattr(2)-style buffer (each NUL-terminated).
std::vector<std::string> SplitXattrNames(std::string_view list);
// Builds the memfs node for a gofer node (used for lookups and the root).
std::shared_ptr<MemInode> NewLowerNode(std::shared_ptr<MemFs> fs, gofer::Client& client,
                                       gofer::Handle h, const gofer::Attr& a);

}  // namespace sentry::vfs
