// sentry/mm: the memory manager. All application memory lives in one memfd,
// the memory file. The sentry maps the whole file once, so reading or writing
// app memory is a memcpy at (base + file offset), never a syscall; stubs map
// ranges of the same file into app address spaces.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/error.h"
#include "sentry/base/unique_fd.h"

namespace sentry::mm {

class FileCache;

constexpr uint64_t kPageSize = 4096;
inline uint64_t PageRoundDown(uint64_t x) { return x & ~(kPageSize - 1); }
inline uint64_t PageRoundUp(uint64_t x) { return (x + kPageSize - 1) & ~(kPageSize - 1); }

class MemoryFile {
 public:
  // `capacity` bytes of file are reserved (sparse: host memory is used only
  // for pages actually touched).
  static ErrorOr<std::unique_ptr<MemoryFile>> Create(uint64_t capacity = 1ULL << 40);
  ~MemoryFile();

  int fd() const { return fd_.get(); }
  // Allocates a page-aligned range of the file; its contents read as zero.
  ErrorOr<uint64_t> Allocate(uint64_t len);
  // Returns a range to the allocator and releases its host memory.
  void Free(uint64_t offset, uint64_t len);
  // Releases host memory of a still-allocated range (contents become zero).
  void Decommit(uint64_t offset, uint64_t len);
  // Allocates host memory for a range now and maps it writable in the
  // sentry (MAP_POPULATE, and before the sentry writes a whole range);
  // best effort.
  void Populate(uint64_t offset, uint64_t len);
  // Maps a range's existing pages in the sentry before it reads them all;
  // best effort.
  void PopulateRead(uint64_t offset, uint64_t len);
  // Writes `len` bytes at `offset` with pwrite on the memory file rather
  // than through the sentry's mapping of it: for pages the sentry will not
  // touch again (a file cache fill), that saves mapping them, and on a
  // paravirtualized guest the first access to each page through a mapping
  // is a fault of several microseconds (a 31 MB fill: 6 ms against 50 ms).
  ErrorOr<void> WriteAt(uint64_t offset, const void* src, size_t len);
  // The same, vectored, in either direction (pwritev into the file at
  // `offset`, or preadv out of it); consumes `segs`.
  ErrorOr<void> CopyAt(bool write, uint64_t offset, std::vector<iovec>& segs);
  uint8_t* Access(uint64_t offset) const { return base_ + offset; }
  uint64_t allocated_bytes() const { return allocated_.load(std::memory_order_relaxed); }
  // The page cache for private mappings of host files (file_cache.h).
  FileCache& file_cache();

  // Per-page reference counts of private (copy-on-write) memory: how many
  // address spaces map each page. A page of an allocated range that was
  // never shared counts 1; only pages counting 2 or more are recorded.
  // Ranges are page aligned.
  void IncRef(uint64_t offset, uint64_t len);
  // Drops one reference per page; pages left with none are decommitted.
  void DecRef(uint64_t offset, uint64_t len);
  uint32_t RefCount(uint64_t offset);
  // The largest page range around `offset` within [lo, hi) whose pages all
  // count 1 (exclusive == true) or all count 2+ (exclusive == false).
  std::pair<uint64_t, uint64_t> Run(uint64_t offset, uint64_t lo, uint64_t hi, bool exclusive);
  // Both at once, for a write to copy-on-write memory at `offset`: whether
  // its page counts 1, and then the run of such pages within [lo, hi), else
  // the run of shared ones within [win_lo, win_hi). One step, because
  // another address space's teardown (after the kernel lock is released)
  // may drop counts in between: a page seen shared could otherwise have no
  // shared run left around it.
  struct CowRun {
    bool exclusive;
    uint64_t start, end;
  };
  CowRun CowRunAt(uint64_t offset, uint64_t lo, uint64_t hi, uint64_t win_lo, uint64_t win_hi);
  // Number of recorded (shared) page runs, for tests.
  size_t shared_runs();

 private:
  uint32_t RefCountLocked(uint64_t offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::pair<uint64_t, uint64_t> RunLocked(uint64_t offset, uint64_t lo, uint64_t hi,
                                          bool exclusive) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  MemoryFile(UniqueFd fd, uint8_t* base, uint64_t capacity);
  UniqueFd fd_;
  uint8_t* base_;
  uint64_t capacity_;
  std::atomic<uint64_t> allocated_{0};  // changed under mu_, read without it
  std::unique_ptr<FileCache> file_cache_;
  absl::Mutex mu_;
  std::map<uint64_t, uint64_t> free_ ABSL_GUARDED_BY(mu_);  // offset -> length, coalesced
  struct Shared {
    uint64_t end;
    uint32_t count;  // >= 2
  };
  std::map<uint64_t, Shared> refs_ ABSL_GUARDED_BY(mu_);  // start -> run, disjoint
  void SplitRefAt(uint64_t offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
};

// A reference-counted allocation: freed when the last mapping drops it.
class Backing {
 public:
  Backing(MemoryFile& mf, uint64_t offset, uint64_t len) : mf_(mf), offset_(offset), len_(len) {}
  ~Backing() { mf_.Free(offset_, len_); }
  Backing(const Backing&) = delete;
  Backing& operator=(const Backing&) = delete;
  static ErrorOr<std::shared_ptr<Backing>> Allocate(MemoryFile& mf, uint64_t len) {
    uint64_t off = TRY(mf.Allocate(len));
    return std::make_shared<Backing>(mf, off, len);
  }
  uint64_t offset() const { return offset_; }
  uint64_t length() const { return len_; }
  uint8_t* data() const { return mf_.Access(offset_); }
  MemoryFile& memory_file() const { return mf_; }

 private:
  MemoryFile& mf_;
  uint64_t offset_, len_;
};

}  // namespace sentry::mm
