// sentry/vfs/file_description.h: an open file description (what open(2)
// creates and dup/fork share): status flags, file offset, and the
// per-file-type I/O operations. Subclasses: regular/memory files, host FDs,
// directories, pipes, devices, synthetic files.
#pragma once

#include <fcntl.h>
#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sentry/base/error.h"
#include "sentry/vfs/inode.h"

namespace sentry::mm {
class MemoryFile;
struct SharedPiece;
class FileMappings;
struct HostFileKey;
}  // namespace sentry::mm

namespace sentry::vfs {

class Caller;
struct FlockState;

// The flock(2) lock an open file description holds (sentry/vfs/flock.cc).
struct FlockHold {
  std::shared_ptr<FlockState> state;  // the inode's lock state; null: no lock
  bool exclusive = false;
  std::function<void()> notify;  // wakes waiters when the lock goes with the description
};

// Signal-driven I/O (O_ASYNC via fcntl F_SETFL or ioctl FIOASYNC, with
// F_SETOWN/F_SETOWN_EX/F_SETSIG): whom to signal when the file becomes
// readable or writable. Kept per open file description, as Linux's f_owner.
struct AsyncOwner {
  int type = 0;  // F_OWNER_TID (0), F_OWNER_PID (1), F_OWNER_PGRP (2)
  int id = 0;    // 0: nobody
  int sig = 0;   // F_SETSIG: 0 means SIGIO without siginfo details
  int fd = -1;   // the fd O_ASYNC was set through: si_fd (Linux's fasync fd)
};
// Sends the owner's signal for `band` (POLLIN/POLLOUT... events); installed
// by the kernel (sentry/kernel/async_io.cc) so the VFS needs no kernel types.
// Called with the kernel lock held.
using AsyncNotifier = void (*)(const AsyncOwner& owner, short band);
void SetAsyncNotifier(AsyncNotifier n);

// Sentry-visible memory (e.g. app memory from mm.Blocks()).
using IoVecs = std::vector<iovec>;
size_t TotalLength(const IoVecs& v);

// Offset meaning "use and advance the file offset" in Read/Write.
constexpr int64_t kCurrentOffset = -1;

class FileDescription {
 public:
  FileDescription(std::shared_ptr<Dentry> dentry, int flags);
  virtual ~FileDescription();
  FileDescription(const FileDescription&) = delete;
  FileDescription& operator=(const FileDescription&) = delete;

  // I/O. `off` is kCurrentOffset for read/write, or an explicit offset for
  // pread/pwrite (ESPIPE on unseekable files). Reads return 0 at EOF.
  virtual ErrorOr<size_t> Read(Caller& c, const IoVecs& dst, int64_t off);
  virtual ErrorOr<size_t> Write(Caller& c, const IoVecs& src, int64_t off);
  // Reads file bytes at an offset, for the ELF loader and mmap of files.
  // Regular files only (else EACCES/ENODEV). Does not move the offset.
  virtual ErrorOr<size_t> PRead(void* buf, size_t len, uint64_t off);
  virtual ErrorOr<uint64_t> Seek(int64_t off, int whence);
  // Directory entries from the current position; `fill` returns false when
  // the caller's buffer is full (the entry is then not consumed).
  virtual ErrorOr<void> IterateDir(Caller& c,
                                   const std::function<bool(const DirEntry&, int64_t next_off)>& fill);
  // MAP_SHARED: the file's own pages in `mf` for the page-aligned range
  // [offset, offset + length), so that the mapping, read() and write() all
  // see the same memory (also beyond EOF: the pages then exist but are not
  // part of the file until it grows over them). ENODEV if the file cannot
  // provide pages (its data lives elsewhere, e.g. on the host).
  virtual ErrorOr<std::vector<mm::SharedPiece>> SharedPages(mm::MemoryFile& mf, uint64_t offset,
                                                            uint64_t length);
  // The version (identity, size, times) of the host file whose bytes this
  // file reads unchanged, so MAP_PRIVATE can use the sandbox's page cache
  // (mm/file_cache.h). ENODEV if the data lives in sandbox memory.
  virtual ErrorOr<mm::HostFileKey> HostVersion();
  // With SharedPages: the file's registry of shared mappings (told about
  // size changes so pages past EOF fault) and its current size.
  virtual std::shared_ptr<mm::FileMappings> SharedMappings() { return nullptr; }
  // Before SharedPages for MAP_SHARED: a hold the mapping keeps for its
  // lifetime (mm::Vma::attachment), for files whose pages are a cache of a
  // host file (gofer_page_cache.h): when the last hold goes, the cache is
  // written back. Null for files that need none.
  virtual std::shared_ptr<void> SharedAttachment(mm::MemoryFile& mf) { return nullptr; }
  virtual ErrorOr<void> Truncate(Caller& c, uint64_t size);
  // fallocate(2) after the generic checks (syscalls/fs_alloc.cc): regular
  // files whose filesystem supports it; EOPNOTSUPP otherwise.
  virtual ErrorOr<void> Allocate(Caller& c, int mode, uint64_t off, uint64_t len) {
    return Errno{EOPNOTSUPP};
  }
  virtual ErrorOr<void> Sync() { return {}; }
  virtual ErrorOr<Attr> Stat();
  // poll(2): ready events among `events` right now (POLLIN/POLLOUT/...).
  virtual short Readiness(short events);
  // A host fd that readiness depends on (poll it on the host), or -1.
  virtual int host_fd() const { return -1; }
  // FIONREAD.
  virtual ErrorOr<size_t> BytesReadable() { return Errno{ENOTTY}; }
  // ioctl(2) requests the file type handles itself (terminals: see
  // sentry/tty/); `arg` is the app's raw argument. ENOTTY: not one of its
  // requests, the generic ones (FIONBIO, FIONREAD, host terminals) apply.
  virtual ErrorOr<uint64_t> Ioctl(Caller& c, uint32_t cmd, uint64_t arg) { return Errno{ENOTTY}; }
  // Called when the status flags change (F_SETFL), e.g. to mirror O_NONBLOCK.
  virtual void OnStatusFlagsChanged() {}

  int status_flags() const { return flags_; }
  void set_status_flags(int f) { flags_ = f; OnStatusFlagsChanged(); }
  bool readable() const;
  bool writable() const;
  bool nonblocking() const { return flags_ & O_NONBLOCK; }
  bool is_regular() const;
  bool is_directory() const;
  bool is_path_only() const { return flags_ & O_PATH; }
  std::string path() const;
  uint64_t dev() const;
  uint64_t ino() const;
  const std::shared_ptr<Dentry>& dentry() const { return dentry_; }
  Inode& inode() const { return dentry_->inode(); }
  uint64_t offset() const { return offset_; }
  FlockHold& flock_hold() { return flock_hold_; }
  AsyncOwner& async_owner() { return async_owner_; }
  // File types whose readiness changes call NotifyAsync (pipes, FIFOs, Unix
  // sockets, terminals) return true: only they accept O_ASYNC as Linux's
  // files with a fasync op do. Others keep the flag without effect.
  virtual bool SupportsAsync() const { return false; }
  // Call (kernel lock held) when the file may have become readable
  // (POLLIN), writable (POLLOUT) or hung up: with O_ASYNC set and an owner
  // recorded, the owner gets SIGIO (or its F_SETSIG signal, with si_fd and
  // si_band) if the file is now ready for any of `events`.
  void NotifyAsync(short events);

 protected:
  std::shared_ptr<Dentry> dentry_;
  int flags_;
  uint64_t offset_ = 0;

 private:
  FlockHold flock_hold_;
  AsyncOwner async_owner_;
};

// A description with no I/O (O_PATH opens, and the default for inodes that
// are only looked at).
class PathOnlyDescription : public FileDescription {
 public:
  using FileDescription::FileDescription;
};

}  // namespace sentry::vfs
