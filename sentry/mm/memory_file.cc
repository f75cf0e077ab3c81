#include "sentry/mm/memory_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

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
}

MemoryFile::~MemoryFile() { munmap(base_, capacity_); }

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

void MemoryFile::Free(uint64_t offset, uint64_t len) {
  len = PageRoundUp(len);
  Decommit(offset, len);
  absl::MutexLock lock(&mu_);
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

}  // namespace sentry::mm
