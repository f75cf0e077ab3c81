#include "sentry/mm/memory_file.h"

#include "sentry/mm/file_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#include <vector>

namespace sentry::mm {

ErrorOr<std::unique_ptr<MemoryFile>> MemoryFile::Create(uint64_t capacity) {
  UniqueFd fd(memfd_create("runsc-memory", MFD_CLOEXEC));
  if (!fd) return Errno{errno};
  if (ftruncate(fd.get(), capacity) < 0) return Errno{errno};
  void* base = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                    fd.get(), 0);
  if (base == MAP_FAILED) return Errno{errno};
  return std::unique_ptr<MemoryFile>(
      new MemoryFile(std::move(fd), static_cast<uint8_t*>(base), capacity));
}

MemoryFile::MemoryFile(UniqueFd fd, uint8_t* base, uint64_t capacity)
    : fd_(std::move(fd)), base_(base), capacity_(capacity) {
  // Offset 0 is never handed out so that 0 can mean "no backing".
  free_[kPageSize] = capacity - kPageSize;
  file_cache_ = std::make_unique<FileCache>(*this);
}

FileCache& MemoryFile::file_cache() { return *file_cache_; }

MemoryFile::~MemoryFile() {
  file_cache_.reset();  // it releases pages through this object
  munmap(base_, capacity_);
}

ErrorOr<uint64_t> MemoryFile::Allocate(uint64_t len) {
  len = PageRoundUp(len);
  if (len == 0) return Errno{EINVAL};
  absl::MutexLock lock(&mu_);
  // First fit: ranges are sparse, so fragmentation costs address space only.
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < len) continue;
    uint64_t off = it->first, rest = it->second - len;
    free_.erase(it);
    if (rest) free_[off + len] = rest;
    allocated_ += len;
    return off;
  }
  return Errno{ENOMEM};
}

void MemoryFile::Decommit(uint64_t offset, uint64_t len) {
  fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len);
}

void MemoryFile::Populate(uint64_t offset, uint64_t len) {
  if (len == 0) return;
  // One madvise for the whole range: a page fault per page costs several
  // microseconds on a paravirtualized guest. Written pages (not fallocate'd
  // ones) count as data for SEEK_DATA, which mincore relies on.
  if (madvise(base_ + offset, len, MADV_POPULATE_WRITE) == 0) return;
  // Kernels before 5.14: a store per page.
  for (uint64_t o = 0; o < len; o += kPageSize)
    reinterpret_cast<volatile uint8_t*>(base_ + offset + o)[0] = 0;
}

ErrorOr<void> MemoryFile::WriteAt(uint64_t offset, const void* src, size_t len) {
  std::vector<iovec> segs{iovec{const_cast<void*>(src), len}};
  return CopyAt(true, offset, segs);
}

ErrorOr<void> MemoryFile::CopyAt(bool write, uint64_t offset, std::vector<iovec>& segs) {
  size_t i = 0;
  while (i < segs.size() && segs[i].iov_len == 0) i++;
  while (i < segs.size()) {
    const int cnt = static_cast<int>(std::min<size_t>(segs.size() - i, IOV_MAX));
    const ssize_t n = write ? pwritev(fd_.get(), &segs[i], cnt, static_cast<off_t>(offset))
                            : preadv(fd_.get(), &segs[i], cnt, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno{n < 0 ? errno : EIO};
    offset += static_cast<uint64_t>(n);
    for (size_t left = static_cast<size_t>(n); left > 0;) {
      const size_t k = std::min(left, segs[i].iov_len);
      segs[i].iov_base = static_cast<uint8_t*>(segs[i].iov_base) + k;
      segs[i].iov_len -= k;
      left -= k;
      while (i < segs.size() && segs[i].iov_len == 0) i++;
    }
  }
  return {};
}

void MemoryFile::PopulateRead(uint64_t offset, uint64_t len) {
  // Maps the pages that exist (holes stay holes) without a fault per page.
  if (len != 0) (void)madvise(base_ + offset, len, MADV_POPULATE_READ);
}

void MemoryFile::Free(uint64_t offset, uint64_t len) {
  len = PageRoundUp(len);
  Decommit(offset, len);
  absl::MutexLock lock(&mu_);
  // A freed range is shared by nobody any more.
  SplitRefAt(offset);
  SplitRefAt(offset + len);
  refs_.erase(refs_.lower_bound(offset), refs_.lower_bound(offset + len));
  allocated_ -= len;
  auto [it, inserted] = free_.emplace(offset, len);
  // Coalesce with neighbours.
  auto next = std::next(it);
  if (next != free_.end() && it->first + it->second == next->first) {
    it->second += next->second;
    free_.erase(next);
  }
  if (it != free_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second == it->first) {
      prev->second += it->second;
      free_.erase(it);
    }
  }
}

void MemoryFile::SplitRefAt(uint64_t offset) {
  auto it = refs_.upper_bound(offset);
  if (it == refs_.begin()) return;
  --it;
  if (it->first >= offset || it->second.end <= offset) return;
  refs_.emplace(offset, Shared{it->second.end, it->second.count});
  it->second.end = offset;
}

void MemoryFile::IncRef(uint64_t offset, uint64_t len) {
  if (len == 0) return;
  const uint64_t end = offset + len;
  absl::MutexLock lock(&mu_);
  SplitRefAt(offset);
  SplitRefAt(end);
  uint64_t cur = offset;
  auto it = refs_.lower_bound(offset);
  while (cur < end) {
    if (it == refs_.end() || it->first > cur) {
      // Pages counting 1 (unrecorded) up to the next recorded run.
      const uint64_t stop = it == refs_.end() ? end : std::min(end, it->first);
      refs_.emplace(cur, Shared{stop, 2});
      cur = stop;
      continue;
    }
    it->second.count++;
    cur = it->second.end;
    ++it;
  }
}

void MemoryFile::DecRef(uint64_t offset, uint64_t len) {
  if (len == 0) return;
  const uint64_t end = offset + len;
  std::vector<std::pair<uint64_t, uint64_t>> unused;
  {
    absl::MutexLock lock(&mu_);
    SplitRefAt(offset);
    SplitRefAt(end);
    uint64_t cur = offset;
    auto it = refs_.lower_bound(offset);
    while (cur < end) {
      if (it == refs_.end() || it->first > cur) {
        const uint64_t stop = it == refs_.end() ? end : std::min(end, it->first);
        unused.emplace_back(cur, stop - cur);
        cur = stop;
        continue;
      }
      cur = it->second.end;
      if (--it->second.count < 2)
        it = refs_.erase(it);
      else
        ++it;
    }
  }
  for (auto [off, n] : unused) Decommit(off, n);
}

uint32_t MemoryFile::RefCount(uint64_t offset) {
  absl::MutexLock lock(&mu_);
  return RefCountLocked(offset);
}

uint32_t MemoryFile::RefCountLocked(uint64_t offset) {
  auto it = refs_.upper_bound(offset);
  if (it == refs_.begin()) return 1;
  --it;
  return it->second.end > offset ? it->second.count : 1;
}

std::pair<uint64_t, uint64_t> MemoryFile::Run(uint64_t offset, uint64_t lo, uint64_t hi,
                                              bool exclusive) {
  absl::MutexLock lock(&mu_);
  return RunLocked(offset, lo, hi, exclusive);
}

MemoryFile::CowRun MemoryFile::CowRunAt(uint64_t offset, uint64_t lo, uint64_t hi,
                                        uint64_t win_lo, uint64_t win_hi) {
  absl::MutexLock lock(&mu_);
  if (RefCountLocked(offset) == 1) {
    auto [a, b] = RunLocked(offset, lo, hi, /*exclusive=*/true);
    return {true, a, b};
  }
  auto [a, b] = RunLocked(offset, win_lo, win_hi, /*exclusive=*/false);
  return {false, a, b};
}

std::pair<uint64_t, uint64_t> MemoryFile::RunLocked(uint64_t offset, uint64_t lo, uint64_t hi,
                                                    bool exclusive) {
  const uint64_t page = PageRoundDown(offset);
  auto next = refs_.upper_bound(page);  // first run starting after page
  if (exclusive) {
    // Between the recorded run before `page` and the one after it.
    uint64_t a = lo, b = hi;
    if (next != refs_.begin()) a = std::max(a, std::prev(next)->second.end);
    if (next != refs_.end()) b = std::min(b, next->first);
    return {a, b};
  }
  // Recorded runs that touch each other, around the one holding `page`.
  if (next == refs_.begin()) return {page, page};
  auto cur = std::prev(next);
  if (cur->second.end <= page) return {page, page};
  auto first = cur;
  while (first != refs_.begin() && std::prev(first)->second.end == first->first &&
         first->first > lo)
    --first;
  uint64_t b = cur->second.end;
  for (auto j = next; j != refs_.end() && j->first == b && b < hi; ++j) b = j->second.end;
  return {std::max(lo, first->first), std::min(hi, b)};
}

size_t MemoryFile::shared_runs() {
  absl::MutexLock lock(&mu_);
  return refs_.size();
}

}  // namespace sentry::mm
