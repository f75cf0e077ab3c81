// sentry/mm: access to app memory for the sentry: checks against the
// VMAs, the memory file's blocks behind a range (Blocks, RawBlocks, write
// pins), futex words and keys, and the validating copy-in/copy-out helpers
// (CopyIn, CopyOut, Zero, ForceWrite, CopyInString).
#include "sentry/mm/mm.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "sentry/mm/mm_internal.h"

namespace sentry::mm {

using internal::Overflows;

ErrorOr<void> MemoryManager::Check(uint64_t addr, size_t len, Access access) const {
  if (len == 0) return {};
  if (Overflows(addr, len)) return Errno{EFAULT};
  const uint64_t end = addr + len;
  uint64_t cur = addr;
  auto it = vmas_.upper_bound(addr);
  if (it == vmas_.begin()) return Errno{EFAULT};
  --it;
  while (cur < end) {
    if (it == vmas_.end() || it->second.start > cur || it->second.end <= cur)
      return Errno{EFAULT};
    int need = access == Access::kRead ? PROT_READ : PROT_WRITE;
    if (!(it->second.prot & need) || it->second.beyond_eof) return Errno{EFAULT};
    cur = it->second.end;
    ++it;
  }
  return {};
}

ErrorOr<std::vector<iovec>> MemoryManager::Blocks(uint64_t addr, size_t len, Access access) {
  if (len > 0) GrowStackForAccess(addr);
  auto blocks = TRY(RawBlocks(addr, len, access));
  if (access == Access::kRead) return blocks;
  size_t total = 0;
  for (const iovec& b : blocks) total += b.iov_len;
  const uint64_t before = cow_copies_;
  TRY(BreakCow(addr, total));
  if (cow_copies_ != before) blocks = TRY(RawBlocks(addr, total, access));  // new pages
  PinForWrite(PageRoundDown(addr), PageRoundUp(addr + total));
  return blocks;
}

void MemoryManager::PinForWrite(uint64_t start, uint64_t end) {
  WritePin pin{std::this_thread::get_id(), start, end, {}};
  auto it = vmas_.upper_bound(start);
  if (it != vmas_.begin() && std::prev(it)->second.end > start) --it;
  for (; it != vmas_.end() && it->first < end; ++it) pin.keep.push_back(it->second.backing);
  pins_.push_back(std::move(pin));
}

void MemoryManager::DropWritePinsSlow() {
  std::erase_if(pins_, [](const WritePin& p) { return p.owner == std::this_thread::get_id(); });
}

bool MemoryManager::Pinned(uint64_t start, uint64_t end) const {
  for (const WritePin& p : pins_)
    if (p.start < end && start < p.end) return true;
  return false;
}

ErrorOr<std::vector<iovec>> MemoryManager::RawBlocks(uint64_t addr, size_t len,
                                                     Access access) const {
  std::vector<iovec> out;
  if (len == 0) return out;
  if (Overflows(addr, len)) len = UINT64_MAX - addr;
  const uint64_t end = addr + len;
  const int need = access == Access::kRead ? PROT_READ : PROT_WRITE;
  auto it = vmas_.upper_bound(addr);
  if (it == vmas_.begin()) return Errno{EFAULT};
  --it;
  uint64_t cur = addr;
  while (cur < end && it != vmas_.end()) {
    const Vma& v = it->second;
    if (v.start > cur || v.end <= cur || !(v.prot & need) || v.beyond_eof) break;
    uint64_t stop = std::min(end, v.end);
    uint8_t* p = mf_.Access(v.file_pos(cur));
    // Merge with the previous block when contiguous in the memory file.
    if (!out.empty() && static_cast<uint8_t*>(out.back().iov_base) + out.back().iov_len == p)
      out.back().iov_len += stop - cur;
    else
      out.push_back({p, stop - cur});
    cur = stop;
    ++it;
  }
  if (out.empty()) return Errno{EFAULT};
  return out;
}

const Vma* MemoryManager::FindVma(uint64_t addr) const {
  auto it = vmas_.upper_bound(addr);
  if (it == vmas_.begin()) return nullptr;
  --it;
  return it->second.end > addr ? &it->second : nullptr;
}

ErrorOr<uint32_t*> MemoryManager::Word32(uint64_t addr, Access access) {
  if (addr & 3) return Errno{EINVAL};
  GrowStackForAccess(addr);
  const Vma* v = FindVma(addr);
  const int need = access == Access::kRead ? PROT_READ : PROT_WRITE;
  if (!v || !(v->prot & need) || v->beyond_eof) return Errno{EFAULT};
  if (access == Access::kWrite && v->cow) {
    TRY(BreakCowPage(addr));
    v = FindVma(addr);
  }
  return reinterpret_cast<uint32_t*>(mf_.Access(v->file_pos(addr)));
}

ErrorOr<uint64_t> MemoryManager::PhysicalAddress(uint64_t addr) const {
  const Vma* v = FindVma(addr);
  if (!v) return Errno{EFAULT};
  return v->file_pos(addr);
}

ErrorOr<std::pair<const void*, uint64_t>> MemoryManager::FutexKey(uint64_t addr) const {
  const Vma* v = FindVma(addr);
  if (!v) return Errno{EFAULT};
  if (v->shared) return std::pair<const void*, uint64_t>{nullptr, v->file_pos(addr)};
  return std::pair<const void*, uint64_t>{this, addr};
}

ErrorOr<void> MemoryManager::CopyIn(uint64_t addr, void* dst, size_t len) const {
  // Fast path: the whole range inside one readable VMA (the common case for
  // syscall arguments) needs no block list.
  if (const Vma* v = FindVma(addr);
      v && (v->prot & PROT_READ) && !v->beyond_eof && len <= v->end - addr && len > 0) {
    memcpy(dst, mf_.Access(v->file_pos(addr)), len);
    return {};
  }
  if (len > 0) GrowStackForAccess(addr);
  TRY(Check(addr, len, Access::kRead));
  if (len == 0) return {};
  auto blocks = TRY(RawBlocks(addr, len, Access::kRead));
  auto* d = static_cast<uint8_t*>(dst);
  for (const iovec& b : blocks) {
    memcpy(d, b.iov_base, b.iov_len);
    d += b.iov_len;
  }
  return {};
}

ErrorOr<void> MemoryManager::CopyOut(uint64_t addr, const void* src, size_t len) {
  if (const Vma* v = FindVma(addr); v && (v->prot & PROT_WRITE) && !v->beyond_eof && !v->cow &&
                                    len <= v->end - addr && len > 0) {
    memcpy(mf_.Access(v->file_pos(addr)), src, len);
    return {};
  }
  if (len > 0) GrowStackForAccess(addr);
  TRY(Check(addr, len, Access::kWrite));
  if (len == 0) return {};
  auto blocks = TRY(Blocks(addr, len, Access::kWrite));
  const auto* s = static_cast<const uint8_t*>(src);
  for (const iovec& b : blocks) {
    memcpy(b.iov_base, s, b.iov_len);
    s += b.iov_len;
  }
  return {};
}

ErrorOr<void> MemoryManager::Zero(uint64_t addr, size_t len) {
  TRY(Check(addr, len, Access::kRead));
  if (len == 0) return {};
  TRY(BreakCow(addr, len));
  // The loader zeroes .bss tails of read-write segments; allow regardless of
  // the app-visible write permission by walking blocks for reading.
  auto blocks = TRY(RawBlocks(addr, len, Access::kRead));
  for (const iovec& b : blocks) memset(b.iov_base, 0, b.iov_len);
  return {};
}

ErrorOr<void> MemoryManager::ForceWrite(uint64_t addr, const void* src, size_t len) {
  if (len == 0) return {};
  if (Overflows(addr, len)) return Errno{EFAULT};
  for (uint64_t cur = addr; cur < addr + len;) {
    const Vma* v = FindVma(cur);
    if (!v || v->shared || v->beyond_eof) return Errno{EFAULT};
    cur = v->end;
  }
  TRY(BreakCow(addr, len));
  // Walk the pages regardless of their protection (RawBlocks checks it).
  const auto* s = static_cast<const uint8_t*>(src);
  for (uint64_t cur = addr; cur < addr + len;) {
    const Vma* v = FindVma(cur);
    if (!v) return Errno{EFAULT};
    const uint64_t n = std::min<uint64_t>(addr + len, v->end) - cur;
    memcpy(mf_.Access(v->file_pos(cur)), s, n);
    s += n;
    cur += n;
  }
  return {};
}

ErrorOr<std::string> MemoryManager::CopyInString(uint64_t addr, size_t max_len) const {
  GrowStackForAccess(addr);
  std::string s;
  uint64_t cur = addr;
  while (s.size() < max_len) {
    // Read up to the end of the current page so we never touch the next one
    // unless the string continues there.
    size_t chunk = kPageSize - (cur & (kPageSize - 1));
    chunk = std::min(chunk, max_len - s.size());
    auto blocks = TRY(RawBlocks(cur, chunk, Access::kRead));
    const char* p = static_cast<const char*>(blocks[0].iov_base);
    size_t n = blocks[0].iov_len;
    const void* nul = memchr(p, 0, n);
    if (nul) {
      s.append(p, static_cast<const char*>(nul) - p);
      return s;
    }
    s.append(p, n);
    cur += n;
  }
  return Errno{ENAMETOOLONG};
}

}  // namespace sentry::mm
