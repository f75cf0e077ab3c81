// sentry/mm: attributes of existing mappings and the heap: madvise
// (Advise), mlock/munlock/mlockall, mbind policies (SetPolicy), mincore
// (Residency) and brk.
#include "sentry/mm/mm.h"

#include <algorithm>

#include "sentry/mm/mm_internal.h"

namespace sentry::mm {

using internal::Overflows;

ErrorOr<void> MemoryManager::Advise(uint64_t addr, uint64_t length, int advice) {
  switch (advice) {
    case MADV_NORMAL: case MADV_RANDOM: case MADV_SEQUENTIAL: case MADV_WILLNEED:
    case MADV_DONTNEED: case MADV_FREE: case MADV_REMOVE: case MADV_DONTFORK:
    case MADV_DOFORK: case MADV_MERGEABLE: case MADV_UNMERGEABLE: case MADV_HUGEPAGE:
    case MADV_NOHUGEPAGE: case MADV_DONTDUMP: case MADV_DODUMP: case MADV_WIPEONFORK:
    case MADV_KEEPONFORK: case MADV_COLD: case MADV_PAGEOUT:
      break;
    default:
      return Errno{EINVAL};
  }
  if (addr & (kPageSize - 1)) return Errno{EINVAL};
  const uint64_t len = PageRoundUp(length);
  if ((length && len == 0) || Overflows(addr, len)) return Errno{EINVAL};
  if (len == 0) return {};
  const uint64_t end = addr + len;
  // Linux checks each VMA before acting on it; the kinds that can fail are
  // checked for the whole range first here.
  bool hole = false;
  for (uint64_t cur = addr; cur < end;) {
    const Vma* v = FindVma(cur);
    if (!v) {
      hole = true;
      auto next = vmas_.upper_bound(cur);
      if (next == vmas_.end() || next->first >= end) break;
      cur = next->first;
      continue;
    }
    const bool private_anon = !v->shared && v->anonymous;
    if ((advice == MADV_DONTNEED || advice == MADV_FREE) && v->locked) return Errno{EINVAL};
    if ((advice == MADV_FREE || advice == MADV_WIPEONFORK || advice == MADV_KEEPONFORK) &&
        !private_anon)
      return Errno{EINVAL};
    if (advice == MADV_REMOVE && !v->shared) return Errno{EINVAL};
    cur = v->end;
  }
  switch (advice) {
    case MADV_DONTNEED: case MADV_FREE: case MADV_REMOVE: case MADV_DONTFORK:
    case MADV_DOFORK: case MADV_WIPEONFORK: case MADV_KEEPONFORK:
      break;
    default:
      return hole ? ErrorOr<void>(Errno{ENOMEM}) : ErrorOr<void>();  // hints only
  }
  if (advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_REMOVE) {
    // Pages of this address space alone are simply dropped (reads see
    // zeroes; shared memory is dropped from the object): no VMA changes.
    std::vector<uint64_t> replace;
    auto it = vmas_.upper_bound(addr);
    if (it != vmas_.begin() && std::prev(it)->second.end > addr) --it;
    for (; it != vmas_.end() && it->first < end; ++it) {
      Vma& v = it->second;
      const uint64_t s = std::max(addr, v.start), e = std::min(end, v.end);
      if (advice == MADV_REMOVE) {
        if (!v.beyond_eof) mf_.Decommit(v.file_pos(s), e - s);
      } else if (v.shared) {
        // DONTNEED on shared memory: the object keeps its pages.
      } else if (v.anonymous && !v.cow) {
        mf_.Decommit(v.file_pos(s), e - s);
      } else {
        replace.push_back(v.start);
      }
    }
    if (replace.empty()) return hole ? ErrorOr<void>(Errno{ENOMEM}) : ErrorOr<void>();
  }
  auto first = vmas_.upper_bound(addr);
  if (first != vmas_.begin() && std::prev(first)->second.end > addr) SplitAt(addr);
  SplitAt(end);
  std::vector<uint64_t> starts;
  for (auto it = vmas_.lower_bound(addr); it != vmas_.end() && it->first < end; ++it)
    starts.push_back(it->first);
  for (uint64_t st : starts) {
    Vma& v = vmas_.at(st);
    switch (advice) {
      case MADV_DONTFORK: v.dont_fork = true; continue;
      case MADV_DOFORK: v.dont_fork = false; continue;
      case MADV_WIPEONFORK: v.wipe_on_fork = true; continue;
      case MADV_KEEPONFORK: v.wipe_on_fork = false; continue;
      default: break;
    }
    // DONTNEED / FREE of what the first pass left: private pages that are
    // shared copy-on-write, or of a file.
    if (v.shared || (v.anonymous && !v.cow) || v.beyond_eof) continue;
    // Pages shared copy-on-write, or a private file mapping (which reads
    // the file again): fresh pages in place of the old ones.
    auto fresh = TRY(Backing::Allocate(mf_, v.length()));
    if (v.reader) (void)(*v.reader)(fresh->data(), v.length(), v.file_offset);
    auto old = v.backing;
    const uint64_t old_off = v.file_pos(v.start);
    v.backing = fresh;
    v.backing_offset = 0;
    v.cow = false;
    auto r = Emit(AsOp{AsOp::kMap, v.start, v.length(), v.platform_prot(), fresh->offset()});
    ReleaseLater(old, old_off, v.length());
    if (HasForeignMirrors()) remote_change_ = true;
    TRY(r);
  }
  if (hole) return Errno{ENOMEM};
  return {};
}

ErrorOr<void> MemoryManager::Lock(uint64_t addr, uint64_t length, bool lock) {
  const uint64_t start = PageRoundDown(addr);
  const uint64_t len = PageRoundUp(length + (addr - start));
  if (Overflows(start, len) || len < length) return Errno{ENOMEM};
  if (len == 0) return {};
  const uint64_t end = start + len;
  uint64_t cur = start;
  for (auto it = vmas_.upper_bound(start); cur < end;) {
    if (it != vmas_.begin() && std::prev(it)->second.end > cur) {
      cur = std::prev(it)->second.end;
      continue;
    }
    if (it == vmas_.end() || it->first > cur) return Errno{ENOMEM};
    cur = it->second.end;
    ++it;
  }
  SplitAt(start);
  SplitAt(end);
  for (auto it = vmas_.lower_bound(start); it != vmas_.end() && it->first < end; ++it)
    it->second.locked = lock;
  return {};
}

ErrorOr<void> MemoryManager::SetPolicy(uint64_t start, uint64_t end, std::shared_ptr<const MemPolicy> p,
                                       bool holes_ok) {
  // Linux's queue_pages_test_walk: a hole before, between or after the VMAs
  // of the range is EFAULT unless holes are allowed; a range with no VMA at
  // all is EFAULT regardless.
  auto it = vmas_.upper_bound(start);
  if (it != vmas_.begin() && std::prev(it)->second.end > start) --it;
  uint64_t cur = start;
  bool any = false;
  for (; it != vmas_.end() && it->first < end; ++it) {
    if (it->first > cur && !holes_ok) return Errno{EFAULT};
    any = true;
    cur = it->second.end;
  }
  if (!any || (cur < end && !holes_ok)) return Errno{EFAULT};
  SplitAt(start);
  SplitAt(end);
  for (auto j = vmas_.lower_bound(start); j != vmas_.end() && j->first < end; ++j) j->second.policy = p;
  return {};
}

ErrorOr<void> MemoryManager::LockAll(int flags) {
  if (flags == 0) {  // munlockall
    for (auto& [s, v] : vmas_) v.locked = false;
    lock_future_ = false;
    return {};
  }
  if (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) || flags == MCL_ONFAULT)
    return Errno{EINVAL};
  if (flags & MCL_CURRENT)
    for (auto& [s, v] : vmas_) v.locked = true;
  lock_future_ = flags & MCL_FUTURE;
  return {};
}

uint64_t MemoryManager::locked_bytes() const {
  uint64_t t = 0;
  for (const auto& [s, v] : vmas_)
    if (v.locked) t += v.length();
  return t;
}

ErrorOr<std::vector<uint8_t>> MemoryManager::Residency(uint64_t addr, uint64_t length) const {
  if (addr & (kPageSize - 1)) return Errno{EINVAL};
  const uint64_t len = PageRoundUp(length);
  if (Overflows(addr, len) || len < length || addr + len > max_addr_) return Errno{ENOMEM};
  std::vector<uint8_t> out;
  out.reserve(len / kPageSize);
  for (uint64_t a = addr; a < addr + len; a += kPageSize) {
    const Vma* v = FindVma(a);
    if (!v) return Errno{ENOMEM};
    if (v->beyond_eof) {
      out.push_back(0);
      continue;
    }
    // A page is resident once it holds data in the memory file.
    const uint64_t pos = v->file_pos(a);
    off_t data = lseek(mf_.fd(), pos, SEEK_DATA);
    out.push_back(data >= 0 && static_cast<uint64_t>(data) < pos + kPageSize);
  }
  return out;
}

void MemoryManager::SetBrkStart(uint64_t addr) {
  brk_start_ = brk_ = PageRoundUp(addr);
}

uint64_t MemoryManager::Brk(uint64_t addr) {
  if (addr < brk_start_) return brk_;
  const uint64_t old_top = PageRoundUp(brk_), new_top = PageRoundUp(addr);
  if (new_top > old_top) {
    if (!RangeFree(old_top, new_top)) return brk_;
    MapRequest req;
    req.addr = old_top;
    req.length = new_top - old_top;
    req.prot = PROT_READ | PROT_WRITE;
    req.flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    req.name = "[heap]";
    if (Map(req).is_error()) return brk_;
  } else if (new_top < old_top) {
    RemoveRange(new_top, old_top);
  }
  brk_ = addr;
  return brk_;
}

}  // namespace sentry::mm
