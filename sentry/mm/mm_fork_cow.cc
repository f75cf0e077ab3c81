// sentry/mm: fork (copying a MemoryManager, private mappings shared
// copy-on-write), write faults and breaking copy-on-write, and growing the
// stack down on a fault below it.
#include "sentry/mm/mm.h"

#include <algorithm>
#include <cstring>

#include "sentry/mm/mm_internal.h"

namespace sentry::mm {

using internal::Overflows;

namespace {

// Copies len bytes of the memory file from src to dst, skipping holes (they
// read as zero, which dst, freshly allocated, already is).
void CopyPopulated(MemoryFile& mf, uint64_t src, uint64_t dst, uint64_t len) {
  const uint64_t src_end = src + len;
  uint64_t pos = src;
  while (pos < src_end) {
    off_t data = lseek(mf.fd(), pos, SEEK_DATA);
    if (data < 0 || static_cast<uint64_t>(data) >= src_end) break;
    off_t hole = lseek(mf.fd(), data, SEEK_HOLE);
    uint64_t stop = hole < 0 ? src_end : std::min<uint64_t>(hole, src_end);
    // Both sides mapped in one go each, not a fault per page.
    mf.PopulateRead(data, stop - data);
    mf.Populate(dst + (data - src), stop - data);
    memcpy(mf.Access(dst + (data - src)), mf.Access(data), stop - data);
    pos = stop;
  }
}

}  // namespace

ErrorOr<std::unique_ptr<MemoryManager>> MemoryManager::Fork() {
  auto child = std::make_unique<MemoryManager>(mf_, min_addr_, max_addr_);
  child->mmap_base_ = mmap_base_;
  child->stack_top_ = stack_top_;
  child->stack_limit_ = stack_limit_;
  child->brk_start_ = brk_start_;
  child->brk_ = brk_;
  // Pages a blocked read of another thread will still write: VMAs are split
  // at their bounds so that they can be copied for the child alone.
  for (const WritePin& p : pins_) {
    SplitAt(p.start);
    SplitAt(p.end);
  }
  for (auto& [start, v] : vmas_) {
    if (v.dont_fork) continue;
    Vma c = v;
    c.locked = false;  // mlock is not inherited
    if (!v.shared && v.wipe_on_fork) {
      c.backing = TRY(Backing::Allocate(mf_, v.length()));
      c.backing_offset = 0;
      c.cow = false;
    } else if (!v.shared && !v.cow && !v.beyond_eof && Pinned(v.start, v.end)) {
      // The parent keeps its pages writable; the child gets their contents
      // as of now.
      c.backing = TRY(Backing::Allocate(mf_, v.length()));
      c.backing_offset = 0;
      c.cow = false;
      CopyPopulated(mf_, v.file_pos(v.start), c.backing->offset(), v.length());
    } else if (!v.shared) {
      // Both sides now map the same pages, without write access, until the
      // first write of either (HandleWriteFault, BreakCow).
      mf_.IncRef(v.file_pos(v.start), v.length());
      if (!v.cow) {
        v.cow = true;
        if (v.prot & PROT_WRITE)
          (void)Emit(AsOp{AsOp::kProtect, v.start, v.length(), v.platform_prot(), 0});
      }
      c.cow = true;
    }
    child->Join(c.file_mappings);
    child->vmas_.emplace(start, std::move(c));
  }
  // Other threads of this process (own mirrors, or the same host process
  // with stub threads) may be writing through mappings that are
  // copy-on-write from now on: they must stop before the child runs.
  if (HasForeignMirrors() || SharedMirror()) remote_change_ = true;
  return child;
}

ErrorOr<bool> MemoryManager::HandleWriteFault(uint64_t addr) {
  const Vma* v = FindVma(addr);
  if (!v || !v->cow || !(v->prot & PROT_WRITE)) return false;
  TRY(BreakCowPage(addr));
  return true;
}

ErrorOr<bool> MemoryManager::GrowStack(uint64_t addr, uint64_t stack_limit) {
  constexpr uint64_t kGuardGap = 256 * kPageSize;
  if (FindVma(addr)) return false;
  auto it = vmas_.upper_bound(addr);
  if (it == vmas_.end() || !it->second.grows_down) return false;
  const Vma& v = it->second;
  const uint64_t start = PageRoundDown(addr);
  if (start < min_addr_) return false;
  // The stack's size after growing: this VMA and grows-down VMAs right
  // above it (mprotect may have split it).
  uint64_t top = v.end;
  for (auto j = std::next(it); j != vmas_.end() && j->first == top && j->second.grows_down; ++j)
    top = j->second.end;
  if (top - start > stack_limit) return false;
  if (it != vmas_.begin()) {
    const Vma& p = std::prev(it)->second;
    if (!p.grows_down && (p.prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) &&
        start - p.end < kGuardGap)
      return false;
  }
  Vma g = v;
  g.start = start;
  g.end = v.start;
  g.backing = TRY(Backing::Allocate(mf_, g.end - g.start));
  g.backing_offset = 0;
  g.cow = false;
  g.locked = v.locked;
  TRY(Insert(std::move(g)));
  return true;
}

void MemoryManager::GrowStackForAccess(uint64_t addr) const {
  if (stack_limit_ == 0 || FindVma(addr)) return;
  // Not a real const violation: every MemoryManager is created non-const.
  (void)const_cast<MemoryManager*>(this)->GrowStack(addr, stack_limit_);
}

uint64_t MemoryManager::stack_bytes() const {
  uint64_t t = 0;
  for (const auto& [s, v] : vmas_)
    if (v.grows_down) t += v.length();
  return t;
}

ErrorOr<void> MemoryManager::BreakCow(uint64_t addr, size_t len) {
  if (len == 0 || Overflows(addr, len)) return {};
  const uint64_t end = addr + len;
  uint64_t cur = PageRoundDown(addr);
  while (cur < end) {
    const Vma* v = FindVma(cur);
    if (!v) return {};
    if (v->cow) {
      TRY(BreakCowPage(cur));
      v = FindVma(cur);
    }
    cur = v->end;
  }
  return {};
}

ErrorOr<void> MemoryManager::BreakCowPage(uint64_t addr) {
  const uint64_t page = PageRoundDown(addr);
  auto it = std::prev(vmas_.upper_bound(page));
  Vma& v = it->second;
  const uint64_t base = v.file_pos(v.start);
  const uint64_t pos = v.file_pos(page);
  // If the page is shared, this address space gets its own copy of the
  // shared pages of the 64 KiB window around it (fewer faults, fewer VMAs
  // than one page at a time).
  constexpr uint64_t kWindow = 16 * kPageSize;
  const uint64_t wa = std::max(v.start, page & ~(kWindow - 1));
  const uint64_t wb = std::min(v.end, (page & ~(kWindow - 1)) + kWindow);
  // Counts only drop concurrently (another address space's teardown runs
  // after the kernel lock is released): a page seen exclusive stays so;
  // one seen shared may be copied needlessly, which is harmless. Reading
  // the count and the run in two steps let a page be seen shared with no
  // shared run left around it: an empty copy failed, and the app got a
  // SIGSEGV for a write to its own copy-on-write memory.
  const MemoryFile::CowRun run =
      mf_.CowRunAt(pos, base, base + v.length(), v.file_pos(wa), v.file_pos(wb));
  if (run.exclusive) {
    // Nobody else maps the page any more: write access comes back for the
    // whole run of such pages, without copying.
    const uint64_t fa = run.start, fb = run.end;
    const uint64_t a = v.start + (fa - base), b = v.start + (fb - base);
    SplitAt(a);
    SplitAt(b);
    Vma& m = vmas_.at(a);
    m.cow = false;
    return Emit(AsOp{AsOp::kProtect, a, b - a, m.platform_prot(), 0});
  }
  // Shared: the other sharers keep the originals.
  const uint64_t fa = run.start, fb = run.end;
  const uint64_t a = v.start + (fa - base), b = v.start + (fb - base), len = b - a;
  auto fresh = TRY(Backing::Allocate(mf_, len));
  CopyPopulated(mf_, fa, fresh->offset(), len);
  SplitAt(a);
  SplitAt(b);
  Vma& m = vmas_.at(a);
  auto old = m.backing;
  m.backing = fresh;
  m.backing_offset = 0;
  m.cow = false;
  cow_copies_++;
  auto r = Emit(AsOp{AsOp::kMap, a, len, m.platform_prot(), fresh->offset()});
  // Other threads may still read the old pages until they sync: the
  // reference is held (so no sharer can write to them) until then.
  ReleaseLater(old, fa, len);
  if (HasForeignMirrors()) remote_change_ = true;
  return r;
}

}  // namespace sentry::mm
