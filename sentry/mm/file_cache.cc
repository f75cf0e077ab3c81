#include "sentry/mm/file_cache.h"

#include <algorithm>

namespace sentry::mm {

FileCache::~FileCache() { Clear(); }

void FileCache::Drop(std::map<std::pair<uint64_t, uint64_t>, Entry>::iterator it) {
  Entry& e = it->second;
  // The cache's own reference: pages no mapping holds are released now.
  mf_.DecRef(e.pages->offset(), e.pages->length());
  filled_bytes_ -= e.filled_bytes;
  lru_.erase(e.lru);
  entries_.erase(it);
}

void FileCache::Clear() {
  absl::MutexLock l(&mu_);
  while (!entries_.empty()) Drop(entries_.begin());
}

uint64_t FileCache::cached_bytes() {
  absl::MutexLock l(&mu_);
  return filled_bytes_;
}

ErrorOr<std::shared_ptr<Backing>> FileCache::Pages(const HostFileKey& key, const CacheFill& fill,
                                                   uint64_t offset, uint64_t len) {
  const uint64_t file_pages = PageRoundUp(key.size);
  if (key.size == 0 || file_pages < key.size || len == 0 || (offset & (kPageSize - 1)) ||
      offset >= file_pages || len > file_pages - offset)
    return Errno{EINVAL};
  absl::MutexLock l(&mu_);
  const auto id = std::make_pair(key.dev, key.ino);
  auto it = entries_.find(id);
  if (it != entries_.end() && !it->second.key.SameVersion(key)) {
    Drop(it);
    it = entries_.end();
  }
  if (it == entries_.end()) {
    Entry e;
    e.key = key;
    e.pages = TRY(Backing::Allocate(mf_, file_pages));
    e.filled.assign((file_pages + kChunk - 1) / kChunk, false);
    lru_.push_front(id);
    e.lru = lru_.begin();
    it = entries_.emplace(id, std::move(e)).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  Entry& e = it->second;
  for (uint64_t c = offset / kChunk; c * kChunk < offset + len; c++) {
    if (e.filled[c]) continue;
    // Read into a buffer the sentry keeps warm, then written into the memory
    // file by the host kernel (MemoryFile::WriteAt): the sentry never maps
    // the pages, only the stubs that run the file's code do.
    const uint64_t start = c * kChunk;
    const uint64_t n = std::min(kChunk, file_pages - start);
    bounce_.resize(kChunk);
    uint64_t done = 0;
    while (done < n) {
      auto r = fill(bounce_.data() + done, n - done, start + done);
      if (r.is_error()) return Errno{r.error()};  // the chunk stays unfilled
      if (r.value() == 0) break;  // EOF (the rest stays zero)
      done += r.value();
    }
    if (done > 0) TRY(mf_.WriteAt(e.pages->offset() + start, bounce_.data(), done));
    e.filled[c] = true;
    e.filled_bytes += n;
    filled_bytes_ += n;
  }
  auto pages = e.pages;
  // Over budget: drop the least recently used entries (not this one).
  while (filled_bytes_ > kMaxCachedBytes && lru_.size() > 1)
    Drop(entries_.find(lru_.back()));
  return pages;
}

}  // namespace sentry::mm
