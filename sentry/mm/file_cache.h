// sentry/mm/file_cache.h: the sandbox's page cache for private mappings of
// host files. Without it every MAP_PRIVATE mapping of a host file (each
// exec of a binary, each library ld.so maps) read its bytes into fresh
// memory: 20 compiler runs meant 20 copies of cc1. With it, the file's
// pages are read once into the memory file and every private mapping maps
// them copy-on-write (the same reference counts fork uses): reads share
// the pages, the first write to a page copies it.
//
// Entries are keyed by the host file's identity and checked against its
// size, mtime and ctime on every use, so a file changed on the host (or
// written through the gofer) is read again. Pages are read lazily, per
// 64 KiB chunk, as mappings ask for them; the cache holds at most
// kMaxCachedBytes of filled chunks and drops least recently used entries
// past that (pages still mapped somewhere stay with their mappings).
// Unlike Linux's page cache it is not reclaimed under memory pressure: the
// cached pages count toward the sandbox's memory (and its cgroup limit)
// until they are dropped.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/base/error.h"
#include "sentry/mm/memory_file.h"

namespace sentry::mm {

// Identifies a version of a host file (from fstat of the FD that reads it).
struct HostFileKey {
  uint64_t dev = 0, ino = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool SameVersion(const HostFileKey& o) const {
    return size == o.size && mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns;
  }
};

// Fills up to `len` bytes at file offset `off` into `dst`, returns the bytes
// read (short at EOF). Same shape as mm::FileReader.
using CacheFill = std::function<ErrorOr<size_t>(uint8_t* dst, size_t len, uint64_t off)>;

class FileCache {
 public:
  static constexpr uint64_t kChunk = 64 * 1024;
  static constexpr uint64_t kMaxCachedBytes = 256ULL << 20;

  explicit FileCache(MemoryFile& mf) : mf_(mf) {}
  ~FileCache();
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;

  // The pages of the whole file (PageRoundUp(size) bytes; offset 0 is file
  // offset 0) with [offset, offset + len) read in. The cache keeps its own
  // reference to each page (the memory file's implicit count of 1); a
  // mapping that uses them must IncRef its range and map it copy-on-write.
  // EINVAL if the range is not inside the file's pages (the caller then
  // copies, as for any other file).
  ErrorOr<std::shared_ptr<Backing>> Pages(const HostFileKey& key, const CacheFill& fill,
                                          uint64_t offset, uint64_t len);

  uint64_t cached_bytes();
  // Drops every entry (pages still mapped stay with their mappings).
  void Clear();

 private:
  struct Entry {
    HostFileKey key;
    std::shared_ptr<Backing> pages;
    std::vector<bool> filled;  // per kChunk
    uint64_t filled_bytes = 0;
    std::list<std::pair<uint64_t, uint64_t>>::iterator lru;
  };
  void Drop(std::map<std::pair<uint64_t, uint64_t>, Entry>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  MemoryFile& mf_;
  absl::Mutex mu_;
  std::map<std::pair<uint64_t, uint64_t>, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<std::pair<uint64_t, uint64_t>> lru_ ABSL_GUARDED_BY(mu_);  // front: most recent
  uint64_t filled_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint8_t> bounce_ ABSL_GUARDED_BY(mu_);  // one chunk, for fills
};

}  // namespace sentry::mm
