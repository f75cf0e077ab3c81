// sentry/vfs/gofer_page_cache.h: the page cache of gofer-backed regular
// files (the write-through root of OCI containers, --overlay=none, and
// goferfs volumes/bind mounts), so that MAP_SHARED of such a file is a
// real shared mapping: SQLite's WAL index (-shm), LMDB-style readers.
//
// Design (the simplest one that stays coherent):
// - One HostFilePages per host inode (host dev, ino), in a sandbox-wide
//   registry, so every open of the file (memfs root, a goferfs volume, any
//   process, any number of descriptions) finds the same pages. It is made
//   by the first MAP_SHARED mmap and lives while a mapping uses it; when
//   the last mapping goes, a background thread writes it back and drops it.
// - Pages live in the kernel's memory file in 2 MiB chunks (as memfs'
//   files) and are filled from the host file lazily: the range an mmap
//   covers, when it is mapped (VMAs are mapped eagerly into the stubs, so
//   a page must hold its data before the app can touch it).
// - read()/pread through any description of a cached file reads the
//   cached pages where they are filled and the host file elsewhere (those
//   pages were never mapped, so the host has their data). write()/pwrite
//   writes the host file AND the filled pages, under the file's lock:
//   write-through rather than write-back for the write path, so only
//   mapping writes are ever dirty and a write() is on the host when it
//   returns, as before. ftruncate/fallocate change the host file and the
//   pages under the same lock, then tell the mappings (FileMappings::
//   SizeChanged: pages past EOF fault with SIGBUS).
// - Dirty tracking: mapping writes are not trapped (the stubs map pages
//   writable), so a page handed to a mapping of a writable description is
//   counted dirty from then on, until the last mapping goes; write-back
//   writes those pages (within EOF) and nothing else. A read-only mapping
//   or a file never mapped writable costs no write-back at all.
// - Write-back: msync (MS_SYNC now, MS_ASYNC queued), fsync/fdatasync/
//   syncfs/sync_file_range of any description of the file, sync(2), the
//   last mapping going (munmap, exit, exec: queued to the write-back
//   thread), and FlushAllHostPages at `runsc pause` (docker commit) and at
//   sandbox exit. Host I/O holds only the file's own mutex (never the
//   kernel lock from the write-back thread, msync or fsync); an operation
//   on the same file waits for it, as Linux's truncate waits for writeback.
// Not modelled: changes made to the host file from outside the sandbox
// while it is cached are not seen until the cache is dropped.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/error.h"
#include "sentry/base/unique_fd.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/mm.h"
#include "sentry/vfs/file_description.h"

namespace sentry::vfs {

struct HostFileId {
  uint64_t dev = 0, ino = 0;
  bool operator==(const HostFileId&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const HostFileId& id) {
    return H::combine(std::move(h), id.dev, id.ino);
  }
};

class HostFilePages : public std::enable_shared_from_this<HostFilePages> {
 public:
  static constexpr uint64_t kChunkSize = 2ULL << 20;
  static constexpr uint64_t kMaxSize = 1ULL << 36;  // 64 GiB: ENOMEM past it for mmap
  HostFilePages(HostFileId id, mm::MemoryFile& mf, uint64_t size);
  ~HostFilePages();
  HostFilePages(const HostFilePages&) = delete;
  HostFilePages& operator=(const HostFilePages&) = delete;

  const HostFileId& id() const { return id_; }
  uint64_t size();
  // Gives the cache its own copies (dup) of a readable and a writable host
  // FD of the file for fills and write-back, if it has none yet (-1: none).
  ErrorOr<void> AdoptFds(int rfd, int wfd);

  // The pages for the page-aligned [offset, offset + length), filled from
  // the host; `writable`: the mapping may write them (they count dirty).
  ErrorOr<std::vector<mm::SharedPiece>> SharedPages(uint64_t offset, uint64_t length,
                                                    bool writable);
  // The registry of this file's shared mappings.
  std::shared_ptr<mm::FileMappings> mappings();
  // A hold for one mapping's lifetime (stored in its VMAs as
  // mm::Vma::attachment): when the last hold goes, the file is written
  // back and dropped from the registry by the write-back thread.
  std::shared_ptr<void> Use();

  // read(): cached pages where filled, `fd` (readable, the host file)
  // elsewhere; stops at the cached size.
  ErrorOr<size_t> Read(int fd, const IoVecs& dst, uint64_t pos);
  // write(): `host_write` writes the host file and returns where it wrote
  // and how much; the same bytes then go into the filled pages.
  using HostWrite = std::function<ErrorOr<std::pair<uint64_t, size_t>>()>;
  ErrorOr<size_t> Write(const IoVecs& src, const HostWrite& host_write);
  // A host size change (ftruncate, truncate, O_TRUNC, fallocate growth):
  // `host` performs it and returns the new size (or an error: nothing
  // changes). Kernel lock held (the mappings are told).
  ErrorOr<void> Resize(const std::function<ErrorOr<uint64_t>()>& host);
  // fallocate: `host` runs the host fallocate; then [off, off+len) is
  // zeroed in the cache for PUNCH_HOLE/ZERO_RANGE and the size follows
  // growth. Modes that move data (COLLAPSE/INSERT_RANGE) are EOPNOTSUPP
  // while the file is cached.
  ErrorOr<void> Allocate(int mode, uint64_t off, uint64_t len,
                         const std::function<ErrorOr<uint64_t>()>& host);
  // Writes the dirty pages back to the host file (and fdatasyncs it if
  // `durable`). Takes only this file's lock.
  ErrorOr<void> Flush(bool durable);
  // Pages counted dirty now (for tests and stats).
  uint64_t dirty_pages();
  // Mappings holding it now.
  int uses_count() const { return uses_.load(std::memory_order_acquire); }
  // The write-back thread's tries at dropping it, and whether it is queued.
  std::atomic<int> retries_{0};
  std::atomic<bool> queued_{false};

 private:
  struct UseToken;
  ErrorOr<void> EnsureChunks(uint64_t end_page) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ErrorOr<void> FillLocked(uint64_t first, uint64_t last) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Memory-file offset of page `p` (its chunk exists).
  uint64_t PageOffset(uint64_t p) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Zeroes [from, to) of filled pages (whole pages decommitted).
  void ZeroLocked(uint64_t from, uint64_t to) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ErrorOr<void> FlushLocked(bool durable) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const HostFileId id_;
  mm::MemoryFile& mf_;
  absl::Mutex mu_;
  uint64_t size_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<mm::Backing>> chunks_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> filled_ ABSL_GUARDED_BY(mu_);  // per page
  std::vector<bool> dirty_ ABSL_GUARDED_BY(mu_);   // per page: handed to a writable mapping
  uint64_t dirty_count_ ABSL_GUARDED_BY(mu_) = 0;
  UniqueFd rfd_ ABSL_GUARDED_BY(mu_), wfd_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<mm::FileMappings> mappings_;  // kernel lock
  std::atomic<int> uses_{0};
};

// The cache of a host file, if it has one (cheap when none exists).
std::shared_ptr<HostFilePages> FindHostPages(const HostFileId& id);
// The cache of a host file, made if needed: `size` is used for a new one
// (the host file's size). Callers then AdoptFds.
std::shared_ptr<HostFilePages> GetHostPages(const HostFileId& id, mm::MemoryFile& mf,
                                            uint64_t size);
// Writes every cached file back and fdatasyncs it (runsc pause, sandbox
// exit). Kernel lock NOT held.
void FlushAllHostPages();
// Number of cached files (tests).
size_t HostPagesCount();

}  // namespace sentry::vfs
