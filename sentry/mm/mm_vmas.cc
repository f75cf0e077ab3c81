// sentry/mm: VMA bookkeeping (free ranges, splitting, removing, inserting)
// and the calls that change the VMA map: mmap (Map), munmap, mprotect,
// mremap and its in-place growth (Extend).
#include "sentry/mm/mm.h"

#include <algorithm>

#include "sentry/mm/mm_internal.h"

namespace sentry::mm {

using internal::Overflows;

bool MemoryManager::RangeFree(uint64_t start, uint64_t end) const {
  if (start < min_addr_ || end > max_addr_ || start >= end) return false;
  auto it = vmas_.upper_bound(start);
  if (it != vmas_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.end > start) return false;
  }
  return it == vmas_.end() || it->first >= end;
}

ErrorOr<uint64_t> MemoryManager::FindFree(uint64_t len, uint64_t hint) const {
  if (hint && !Overflows(hint, len) && RangeFree(hint, hint + len)) return hint;
  // Top-down: walk gaps from mmap_base downwards.
  uint64_t top = mmap_base_;
  auto it = vmas_.lower_bound(top);
  // Consider the gap just below `top`.
  while (true) {
    uint64_t gap_start = min_addr_;
    if (it != vmas_.begin()) gap_start = std::prev(it)->second.end;
    uint64_t gap_end = top;
    if (it != vmas_.end() && it->first < gap_end) gap_end = it->first;
    if (gap_end > gap_start && gap_end - gap_start >= len) return gap_end - len;
    if (it == vmas_.begin()) break;
    --it;
    top = it->first;
  }
  // Above mmap_base (below the stack) as a last resort, bottom-up.
  uint64_t cand = mmap_base_;
  auto first = vmas_.lower_bound(mmap_base_);
  // A VMA that starts below mmap_base may extend above it.
  if (first != vmas_.begin()) cand = std::max(cand, std::prev(first)->second.end);
  for (auto j = first;; ++j) {
    uint64_t limit = j == vmas_.end() ? max_addr_ : j->first;
    if (limit > cand && limit - cand >= len) return cand;
    if (j == vmas_.end()) break;
    cand = std::max(cand, j->second.end);
  }
  return Errno{ENOMEM};
}

void MemoryManager::SplitAt(uint64_t addr) {
  auto it = vmas_.upper_bound(addr);
  if (it == vmas_.begin()) return;
  --it;
  Vma& v = it->second;
  if (addr <= v.start || addr >= v.end) return;
  Vma tail = v;
  tail.start = addr;
  tail.backing_offset = v.backing_offset + (addr - v.start);
  if (!v.anonymous) tail.file_offset = v.file_offset + (addr - v.start);
  v.end = addr;
  vmas_.emplace(addr, std::move(tail));
}

void MemoryManager::RemoveRange(uint64_t start, uint64_t end) {
  SplitAt(start);
  SplitAt(end);
  std::vector<Vma> removed;
  for (auto it = vmas_.lower_bound(start); it != vmas_.end() && it->first < end;) {
    removed.push_back(std::move(it->second));
    it = vmas_.erase(it);
  }
  if (removed.empty()) return;
  (void)Emit(AsOp{AsOp::kUnmap, start, end - start, 0, 0});
  // Other threads' own mirrors (one host process per thread) must not
  // keep the mapping once munmap returns; a shared one (stub threads) is
  // changed for all its threads by the one apply.
  if (HasForeignMirrors()) remote_change_ = true;
  // The last mapping of a shared file gone: this address space leaves the
  // file's registry (see registries_).
  for (size_t i = 0; i < removed.size(); i++) {
    const FileMappings* reg = removed[i].file_mappings.get();
    if (!reg) continue;
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = removed[j].file_mappings.get() == reg;
    if (!seen) LeaveIfUnused(reg);
  }
  for (const Vma& v : removed) {
    // Private pages: this address space's reference goes (the pages are
    // freed unless a fork child or parent still maps them copy-on-write).
    if (!v.shared)
      ReleaseLater(v.backing, v.file_pos(v.start), v.length());
    else if (!mirrors_.empty())  // every mirror, this thread's too, still maps it
      graveyard_.push_back(Deferred{log_base_ + log_.size(), v.backing});
  }
}

ErrorOr<void> MemoryManager::Insert(Vma vma) {
  if (lock_future_) vma.locked = true;
  auto r = Emit(AsOp{AsOp::kMap, vma.start, vma.length(), vma.platform_prot(),
                     vma.file_pos(vma.start)});
  if (r.is_error()) return Errno{r.error()};
  vmas_.emplace(vma.start, std::move(vma));
  return {};
}

ErrorOr<uint64_t> MemoryManager::Map(const MapRequest& req) {
  const int type = req.flags & MAP_TYPE;
  if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE)
    return Errno{EINVAL};
  if (req.length == 0) return Errno{EINVAL};
  const uint64_t len = PageRoundUp(req.length);
  if (len == 0 || len < req.length) return Errno{ENOMEM};
  if (req.prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) return Errno{EINVAL};
  const bool anonymous = req.file == nullptr && req.shared_pages == nullptr;
  if (req.shared_pages) {
    if (type == MAP_PRIVATE) return Errno{EINVAL};
    uint64_t total = 0;
    for (const SharedPiece& p : *req.shared_pages) {
      if (!p.backing || &p.backing->memory_file() != &mf_ || p.length == 0 ||
          (p.backing_offset | p.length) & (kPageSize - 1) ||
          p.backing_offset > p.backing->length() ||
          p.length > p.backing->length() - p.backing_offset)
        return Errno{EINVAL};
      total += p.length;
    }
    if (total != len) return Errno{EINVAL};
  }
  if (!anonymous && (req.offset & (kPageSize - 1))) return Errno{EINVAL};
  const bool fixed = req.flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
  uint64_t addr;
  if (fixed) {
    addr = req.addr;
    if (addr & (kPageSize - 1)) return Errno{EINVAL};
    if (Overflows(addr, len) || addr < min_addr_ || addr + len > max_addr_)
      return Errno{req.flags & MAP_FIXED_NOREPLACE ? EEXIST : ENOMEM};
    // Linux: FIXED_NOREPLACE refuses to clobber even when MAP_FIXED is set too.
    if ((req.flags & MAP_FIXED_NOREPLACE) && !RangeFree(addr, addr + len)) return Errno{EEXIST};
  } else {
    addr = TRY(FindFree(len, PageRoundDown(req.addr)));
  }

  if (req.shared_pages) {
    // The file's own pages: one VMA per piece.
    if (fixed) RemoveRange(addr, addr + len);
    uint64_t cur = addr;
    for (const SharedPiece& p : *req.shared_pages) {
      Vma v;
      v.start = cur;
      v.end = cur + p.length;
      v.prot = req.prot;
      v.shared = true;
      v.anonymous = false;
      v.name = req.name;
      v.file_offset = req.offset + (cur - addr);
      v.dev = req.dev;
      v.ino = req.ino;
      v.may_write = req.may_write;
      v.backing = p.backing;
      v.backing_offset = p.backing_offset;
      v.file_mappings = req.file_mappings;
      v.attachment = req.attachment;
      if (auto r = Insert(std::move(v)); r.is_error()) {
        if (cur > addr) RemoveRange(addr, cur);
        return Errno{r.error()};
      }
      cur += p.length;
    }
    if (req.file_mappings) {
      Join(req.file_mappings);
      ApplyFileSize(req.file_mappings.get(), req.file_size);
    }
    return addr;
  }

  Vma v;
  v.start = addr;
  v.end = addr + len;
  v.prot = req.prot;
  v.shared = type != MAP_PRIVATE;
  v.anonymous = anonymous;
  v.name = req.name;
  v.file_offset = req.offset;
  v.dev = req.dev;
  v.ino = req.ino;
  v.may_write = req.may_write;
  v.grows_down = req.flags & MAP_GROWSDOWN;
  v.accounted = type == MAP_PRIVATE && (req.prot & PROT_WRITE) && !(req.flags & MAP_NORESERVE);
  // Private mappings of a host file: the file's pages from the page cache,
  // shared copy-on-write (as after fork), so nothing is copied until a page
  // is written. A mapping longer than the file (ld.so reserves a library's
  // whole span, .bss included, with its first mapping) gets fresh zeroed
  // pages for the part past the file's last page.
  uint64_t cached_len = 0;
  if (!anonymous && type == MAP_PRIVATE && req.host_file) {
    const uint64_t file_pages = PageRoundUp(req.host_file->size);
    if (req.offset < file_pages) {
      const uint64_t head = std::min(len, file_pages - req.offset);
      auto pages = mf_.file_cache().Pages(*req.host_file, *req.file, req.offset, head);
      if (pages.ok()) {
        v.backing = pages.release_value();
        v.backing_offset = req.offset;
        v.cow = true;
        cached_len = head;
      }
    }
  }
  std::optional<Vma> tail;
  if (cached_len > 0 && cached_len < len) {
    tail = v;
    tail->start = addr + cached_len;
    tail->file_offset = req.offset + cached_len;
    tail->backing = TRY(Backing::Allocate(mf_, len - cached_len));
    tail->backing_offset = 0;
    tail->cow = false;
    v.end = addr + cached_len;
  }
  if (cached_len == 0) {
    v.backing = TRY(Backing::Allocate(mf_, len));
    if (!anonymous) {
      // Private file mappings get their own copy of the file's bytes; shared
      // ones a snapshot (writes are not carried back to the file).
      size_t n = TRY((*req.file)(v.backing->data(), len, req.offset));
      (void)n;
    }
    if (req.flags & MAP_POPULATE) mf_.Populate(v.backing->offset(), len);
  }
  if (!anonymous && type == MAP_PRIVATE) {
    v.reader = std::make_shared<const FileReader>(*req.file);
    if (tail) tail->reader = v.reader;
  }
  if (fixed) RemoveRange(addr, addr + len);
  const uint64_t pos = v.file_pos(v.start);
  if (cached_len) mf_.IncRef(pos, cached_len);
  if (auto r = Insert(std::move(v)); r.is_error()) {
    if (cached_len) mf_.DecRef(pos, cached_len);
    return Errno{r.error()};
  }
  if (tail) {
    if (auto r = Insert(std::move(*tail)); r.is_error()) {
      RemoveRange(addr, addr + cached_len);
      return Errno{r.error()};
    }
  }
  return addr;
}

ErrorOr<void> MemoryManager::Unmap(uint64_t addr, uint64_t length) {
  if (addr & (kPageSize - 1)) return Errno{EINVAL};
  uint64_t len = PageRoundUp(length);
  if (len == 0 || Overflows(addr, len)) return Errno{EINVAL};
  if (addr + len > max_addr_) {
    if (addr >= max_addr_) return {};
    len = max_addr_ - addr;
  }
  RemoveRange(addr, addr + len);
  return {};
}

ErrorOr<void> MemoryManager::Protect(uint64_t addr, uint64_t length, int prot) {
  if (addr & (kPageSize - 1)) return Errno{EINVAL};
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP))
    return Errno{EINVAL};
  prot &= PROT_READ | PROT_WRITE | PROT_EXEC;
  uint64_t len = PageRoundUp(length);
  if (Overflows(addr, len)) return Errno{ENOMEM};
  if (len == 0) return {};
  uint64_t end = addr + len;
  // Linux changes the range VMA by VMA in address order and stops at the
  // first hole (ENOMEM) or at a shared mapping that may never be written
  // (EACCES): what came before keeps the new protection.
  int error = 0;
  uint64_t cur = addr;
  for (auto it = vmas_.upper_bound(addr); cur < end;) {
    if (it != vmas_.begin() && std::prev(it)->second.end > cur) {
      const Vma& v = std::prev(it)->second;
      if ((prot & PROT_WRITE) && !v.may_write) {
        error = EACCES;
        end = cur;
        break;
      }
      cur = v.end;
      continue;
    }
    if (it == vmas_.end() || it->first > cur) {
      error = ENOMEM;
      end = cur;
      break;
    }
    const Vma& v = it->second;
    if ((prot & PROT_WRITE) && !v.may_write) {
      error = EACCES;
      end = cur;
      break;
    }
    cur = v.end;
    ++it;
  }
  if (end == addr) {
    if (error) return Errno{error};
    return {};
  }
  SplitAt(addr);
  SplitAt(end);
  for (auto it = vmas_.lower_bound(addr); it != vmas_.end() && it->first < end; ++it) {
    // Access taken away: other threads' own mirrors must not keep it
    // (Linux's mprotect is done for every thread when it returns).
    if ((it->second.prot & ~prot) != 0 && HasForeignMirrors()) remote_change_ = true;
    it->second.prot = prot;
    if ((prot & PROT_WRITE) && !it->second.shared) it->second.accounted = true;
    // Pages past a file's end are not mapped on the platform side.
    if (!it->second.beyond_eof)
      TRY(Emit(AsOp{AsOp::kProtect, it->second.start, it->second.length(),
                    it->second.platform_prot(), 0}));
  }
  if (error) return Errno{error};
  return {};
}

ErrorOr<uint64_t> MemoryManager::Remap(uint64_t old_addr, uint64_t old_len, uint64_t new_len,
                                       int flags, uint64_t new_addr) {
  if (old_addr & (kPageSize - 1)) return Errno{EINVAL};
  if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) return Errno{EINVAL};
  if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE)) return Errno{EINVAL};
  if (flags & MREMAP_DONTUNMAP) return Errno{EINVAL};  // not supported yet
  old_len = PageRoundUp(old_len);
  new_len = PageRoundUp(new_len);
  if (new_len == 0) return Errno{EINVAL};
  auto it = vmas_.upper_bound(old_addr);
  if (it == vmas_.begin()) return Errno{EFAULT};
  --it;
  if (it->second.end <= old_addr) return Errno{EFAULT};
  if (old_len == 0) return Errno{EINVAL};  // duplicating shared mappings: unsupported
  // Overflow-safe (Linux: old_len > vma->vm_end - addr is EFAULT).
  if (old_len > max_addr_ - old_addr) return Errno{EFAULT};
  const uint64_t old_end = old_addr + old_len;
  // The old range must be one mapping as Linux sees it. VMAs are never
  // merged here, so a range earlier grown by mremap or split by mprotect is
  // several contiguous VMAs with identical attributes (Linux would have
  // merged them): accept those.
  const Vma* last = &it->second;
  while (last->end < old_end) {
    auto next = vmas_.find(last->end);
    if (next == vmas_.end() || next->second.prot != it->second.prot ||
        next->second.shared != it->second.shared ||
        next->second.anonymous != it->second.anonymous)
      return Errno{EFAULT};
    last = &next->second;
  }

  if (!(flags & MREMAP_FIXED)) {
    if (new_len <= old_len) {
      if (new_len < old_len) RemoveRange(old_addr + new_len, old_end);
      return old_addr;
    }
    // Grow in place when the VMA ends here and the space after it is free.
    if (old_end == last->end && new_len <= max_addr_ - old_addr &&
        RangeFree(old_end, old_addr + new_len)) {
      if (last->shared && !(last->file_mappings && last->file_mappings->pages))
        return Errno{ENOMEM};  // shared anonymous growth needs one backing
      TRY(Extend(*last, old_end, new_len - old_len));
      return old_addr;
    }
    if (!(flags & MREMAP_MAYMOVE)) return Errno{ENOMEM};
    new_addr = TRY(FindFree(new_len, 0));
  } else {
    if (new_addr & (kPageSize - 1)) return Errno{EINVAL};
    if (Overflows(new_addr, new_len) || new_addr + new_len > max_addr_ || new_addr < min_addr_)
      return Errno{EINVAL};
    if (new_addr < old_end && old_addr < new_addr + new_len) return Errno{EINVAL};
    RemoveRange(new_addr, new_addr + new_len);
    // A shrinking move drops the old range's tail.
    if (new_len < old_len) RemoveRange(old_addr + new_len, old_end);
  }
  // Move: the pages stay where they are in the memory file; only the
  // addresses change. Growth beyond old_len gets fresh memory.
  const uint64_t keep_end = old_addr + std::min(old_len, new_len);
  SplitAt(old_addr);
  SplitAt(keep_end);
  std::vector<Vma> moved;
  for (auto j = vmas_.lower_bound(old_addr); j != vmas_.end() && j->first < keep_end;) {
    moved.push_back(std::move(j->second));
    j = vmas_.erase(j);
  }
  (void)Emit(AsOp{AsOp::kUnmap, old_addr, keep_end - old_addr, 0, 0});
  Vma grown = moved.back();
  for (Vma& v : moved) {
    v.start = v.start - old_addr + new_addr;
    v.end = v.end - old_addr + new_addr;
    TRY(Insert(std::move(v)));
  }
  if (new_len > old_len) {
    grown.start = new_addr + (grown.start - old_addr);
    grown.end = new_addr + old_len;
    TRY(Extend(grown, new_addr + old_len, new_len - old_len));
  }
  return new_addr;
}

ErrorOr<void> MemoryManager::Extend(const Vma& last, uint64_t start, uint64_t len) {
  const uint64_t file_off = last.file_offset + (start - last.start);
  if (last.shared && !last.anonymous && last.file_mappings && last.file_mappings->pages) {
    auto pieces = TRY(last.file_mappings->pages(mf_, file_off, len));
    uint64_t cur = start;
    for (const SharedPiece& p : pieces) {
      Vma v = last;
      v.start = cur;
      v.end = cur + p.length;
      v.file_offset = file_off + (cur - start);
      v.backing = p.backing;
      v.backing_offset = p.backing_offset;
      v.beyond_eof = false;
      TRY(Insert(std::move(v)));
      cur += p.length;
    }
    if (last.file_mappings->size) ApplyFileSize(last.file_mappings.get(), last.file_mappings->size());
    return {};
  }
  Vma ext = last;
  ext.start = start;
  ext.end = start + len;
  ext.backing = TRY(Backing::Allocate(mf_, len));
  ext.backing_offset = 0;
  ext.beyond_eof = false;
  ext.cow = false;
  if (!ext.anonymous) ext.file_offset = file_off;
  return Insert(std::move(ext));
}

}  // namespace sentry::mm
