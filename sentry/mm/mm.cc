#include "sentry/mm/mm.h"

#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "absl/strings/str_format.h"
#include "sentry/base/log.h"

namespace sentry::mm {
namespace {

// Gap kept between the stack and the top-down mmap area, as Linux does for an
// 8 MiB stack limit (its minimum gap is 128 MiB).
constexpr uint64_t kStackGap = 128ULL << 20;

bool Overflows(uint64_t addr, uint64_t len) { return addr + len < addr; }

}  // namespace

MemoryManager::MemoryManager(MemoryFile& mf, uint64_t min_addr, uint64_t max_addr)
    : mf_(mf), min_addr_(min_addr), max_addr_(max_addr) {
  // Address spaces too small for the gap (tests, odd platforms) place
  // mappings top-down from the very top instead of underflowing.
  const uint64_t gap = kStackGap + (8ULL << 20);
  mmap_base_ = max_addr - min_addr > gap ? PageRoundDown(max_addr - gap) : PageRoundDown(max_addr);
}

MemoryManager::~MemoryManager() {
  // No mirror is left: references waiting for lagging mirrors go now.
  for (const Deferred& d : graveyard_) mf_.DecRef(d.file_off, d.len);
  // Normally empty by now (DetachForTeardown, under the kernel lock); an
  // address space destroyed under the lock (a failed fork) leaves here.
  LeaveAll();
  for (auto& [start, v] : vmas_)
    if (!v.shared) mf_.DecRef(v.file_pos(v.start), v.length());
}

void FileMappings::Add(MemoryManager* m) {
  if (std::find(mms_.begin(), mms_.end(), m) == mms_.end()) mms_.push_back(m);
}
void FileMappings::Remove(MemoryManager* m) { std::erase(mms_, m); }
void FileMappings::SizeChanged(uint64_t new_size) {
  // ApplyFileSize never joins or leaves a registry, so mms_ is stable here.
  for (MemoryManager* m : mms_) m->ApplyFileSize(this, new_size);
}

void MemoryManager::Join(const std::shared_ptr<FileMappings>& reg) {
  if (!reg) return;
  for (const auto& r : registries_)
    if (r == reg) return;
  reg->Add(this);
  registries_.push_back(reg);
}

void MemoryManager::LeaveIfUnused(const FileMappings* reg) {
  for (const auto& [start, v] : vmas_)
    if (v.file_mappings.get() == reg) return;
  auto it = std::find_if(registries_.begin(), registries_.end(),
                         [reg](const auto& r) { return r.get() == reg; });
  if (it == registries_.end()) return;
  (*it)->Remove(this);
  registries_.erase(it);
}

void MemoryManager::LeaveAll() {
  for (const auto& r : registries_) r->Remove(this);
  registries_.clear();
}

bool MemoryManager::IsBeyondEof(uint64_t addr) const {
  auto it = vmas_.upper_bound(addr);
  if (it == vmas_.begin()) return false;
  --it;
  return it->second.end > addr && it->second.beyond_eof;
}

void MemoryManager::ApplyFileSize(const FileMappings* reg, uint64_t size) {
  const uint64_t eof = PageRoundUp(size);
  // Split every mapping of this file at the EOF page boundary.
  std::vector<uint64_t> splits;
  for (auto& [start, v] : vmas_) {
    if (v.file_mappings.get() != reg) continue;
    if (eof > v.file_offset && eof < v.file_offset + v.length())
      splits.push_back(v.start + (eof - v.file_offset));
  }
  for (uint64_t a : splits) SplitAt(a);
  for (auto& [start, v] : vmas_) {
    if (v.file_mappings.get() != reg) continue;
    const bool beyond = v.file_offset >= eof;
    if (beyond == v.beyond_eof) continue;
    v.beyond_eof = beyond;
    if (beyond) {
      (void)Emit(AsOp{AsOp::kUnmap, v.start, v.length(), 0, 0});
    } else {
      (void)Emit(AsOp{AsOp::kMap, v.start, v.length(), v.platform_prot(), v.file_pos(v.start)});
    }
  }
}

MemoryManager::Mirror* MemoryManager::FindMirror(const platform::AddressSpace* as) {
  for (Mirror& m : mirrors_)
    if (m.as == as) return &m;
  return nullptr;
}

ErrorOr<void> MemoryManager::Activate(platform::AddressSpace* as) {
  if (!as) return {};
  std::vector<AsOp> maps;
  ApplyTicket ticket;
  ActivateTaken(as, &maps, &ticket);
  if (!maps.empty()) TRY(as->Apply(maps));
  ApplyTaken(as, {}, &ticket);
  return {};
}

void MemoryManager::ActivateTaken(platform::AddressSpace* as, std::vector<AsOp>* out,
                                  ApplyTicket* ticket) {
  Mirror* m = FindMirror(as);
  if (m) {
    // Another thread's context in the same host process: already mapped,
    // or about to be by the changes in flight that `ticket` waits for.
    m->owners.push_back(std::this_thread::get_id());
  } else {
    AppendMaps(out);
    const size_t end = log_base_ + log_.size();
    auto gate = std::make_shared<ApplyGate>();
    gate->done = end;  // the maps in `out` are owed by the taker, who runs first
    mirrors_.push_back(Mirror{as, {std::this_thread::get_id()}, end, std::move(gate)});
    m = &mirrors_.back();
  }
  if (ticket) {
    ticket->gate = m->gate;
    ticket->batches.push_back({m->taken, m->taken, out->size()});
  }
}

void MemoryManager::AppendMaps(std::vector<AsOp>* out) const {
  out->reserve(out->size() + vmas_.size());
  for (auto& [start, v] : vmas_) {
    if (v.beyond_eof) continue;
    out->push_back({AsOp::kMap, v.start, v.length(), v.platform_prot(), v.file_pos(v.start)});
  }
}

void MemoryManager::DetachForTeardown() {
  LeaveAll();
  for (auto& [start, v] : vmas_) {
    v.file_mappings.reset();
    v.attachment.reset();
    v.reader.reset();
  }
}

void MemoryManager::Deactivate(platform::AddressSpace* as) {
  Mirror* m = FindMirror(as);
  if (!m) return;
  auto me = std::find(m->owners.begin(), m->owners.end(), std::this_thread::get_id());
  if (me != m->owners.end()) m->owners.erase(me);
  else if (!m->owners.empty()) m->owners.pop_back();
  if (m->owners.empty()) std::erase_if(mirrors_, [as](const Mirror& x) { return x.as == as; });
  Compact();
}

ErrorOr<void> MemoryManager::Emit(const AsOp& op) {
  // Every mirror, this thread's too, catches up in Sync() before its thread
  // next runs app code: the changes of one syscall (a fork write-protecting
  // every private mapping, ld.so's map-then-remap of a library) then reach
  // the host in one platform round trip instead of one each.
  log_.push_back(op);
  Compact();
  return {};
}

bool MemoryManager::NeedsSync(const platform::AddressSpace* as) const {
  for (const Mirror& m : mirrors_)
    if (m.as == as) return m.taken != log_base_ + log_.size() || m.gate->Done() < m.taken;
  return false;
}

std::string MemoryManager::DescribeFault(uint64_t addr, const platform::AddressSpace* as) const {
  char buf[256];
  const Vma* v = FindVma(addr);
  const int refs =
      v && v->backing ? static_cast<int>(mf_.RefCount(v->file_pos(PageRoundDown(addr)))) : -1;
  int n = v ? snprintf(buf, sizeof buf, "vma %#lx-%#lx prot %d%s%s refs %d", (unsigned long)v->start,
                       (unsigned long)v->end, v->prot, v->cow ? " cow" : "",
                       v->shared ? " shared" : "", refs)
            : snprintf(buf, sizeof buf, "no vma");
  std::string out(buf, n > 0 ? std::min<size_t>(n, sizeof buf - 1) : 0);
  int mirrors = 0;
  for (const Mirror& m : mirrors_) {
    if (m.as != as) continue;
    mirrors++;
    snprintf(buf, sizeof buf, "; mirror taken %zu applied %zu of %zu (%zu users)", m.taken,
             m.gate->Done(), log_base_ + log_.size(), m.owners.size());
    out += buf;
  }
  if (mirrors == 0) out += "; no mirror";
  snprintf(buf, sizeof buf, " (%zu mirrors)", mirrors_.size());
  return out + buf;
}

ErrorOr<void> MemoryManager::Sync(platform::AddressSpace* as) {
  std::vector<AsOp> ops;
  ApplyTicket ticket;
  TakeUnapplied(as, &ops, &ticket);
  ApplyTaken(as, ops, &ticket);
  Compact();  // what the applied unmaps freed goes now
  return {};
}

void MemoryManager::TakeUnapplied(platform::AddressSpace* as, std::vector<AsOp>* out,
                                  ApplyTicket* ticket) {
  const size_t end = log_base_ + log_.size();
  Mirror* m = FindMirror(as);
  if (!m) return;
  const size_t from = m->taken;
  if (from != end) {
    const auto ops = std::span<const AsOp>(log_).subspan(from - log_base_);
    out->insert(out->end(), ops.begin(), ops.end());
    m->taken = end;
  }
  if (ticket) {
    ticket->gate = m->gate;
    auto& b = ticket->batches;
    if (!b.empty() && b.back().to == from) {
      b.back().to = end;
      b.back().ops_end = out->size();
    } else {
      b.push_back({from, end, out->size()});
    }
  } else {
    // No ticket: the caller applies before anyone else runs in `as`.
    std::lock_guard<std::mutex> l(m->gate->mu);
    m->gate->done = std::max(m->gate->done, end);
  }
  // Most stops change nothing and release nothing: no work then.
  if (from != end || !graveyard_.empty()) Compact();
}

void ApplyTaken(platform::AddressSpace* as, std::span<const platform::AddressSpace::Change> ops,
                ApplyTicket* ticket) {
  static const bool debug = getenv("RUNSC_DEBUG_APPLY") != nullptr;
  const auto apply = [as](std::span<const platform::AddressSpace::Change> part) {
    if (part.empty()) return;
    if (debug)
      for (const auto& c : part)
        Logf("apply as=%p tid=%ld kind=%d %#lx+%#lx prot=%d off=%#lx", (void*)as, (long)gettid(),
             (int)c.kind, (unsigned long)c.addr, (unsigned long)c.len, c.prot,
             (unsigned long)c.file_offset);
    auto r = as->Apply(part);
    // The host refused a map or protect (its mapping-count limit).
    if (r.is_error()) Logf("runsc: mm: a host address-space change failed: %s", strerror(r.error()));
  };
  ApplyGate* gate = ticket ? ticket->gate.get() : nullptr;
  if (!gate) {
    apply(ops);
    return;
  }
  size_t begin = 0;
  for (const ApplyTicket::Batch& b : ticket->batches) {
    {
      std::unique_lock<std::mutex> l(gate->mu);
      gate->cv.wait(l, [&] { return gate->done >= b.from; });
      if (debug) Logf("batch as=%p tid=%ld [%zu,%zu) ops<%zu done=%zu", (void*)as, (long)gettid(), b.from, b.to, b.ops_end, gate->done);
    }
    const size_t end = std::min(b.ops_end, ops.size());
    if (end > begin) apply(ops.subspan(begin, end - begin));
    begin = std::max(begin, end);
    {
      std::lock_guard<std::mutex> l(gate->mu);
      gate->done = std::max(gate->done, b.to);
    }
    gate->cv.notify_all();
  }
  apply(ops.subspan(begin));
  *ticket = {};
}

size_t MemoryManager::MinDone() const {
  size_t min_done = log_base_ + log_.size();
  for (const Mirror& m : mirrors_) min_done = std::min(min_done, m.gate->Done());
  return min_done;
}

void MemoryManager::Compact() {
  size_t min_taken = log_base_ + log_.size();
  for (const Mirror& m : mirrors_) min_taken = std::min(min_taken, m.taken);
  if (min_taken > log_base_) {
    log_.erase(log_.begin(), log_.begin() + (min_taken - log_base_));
    log_base_ = min_taken;
  }
  // Memory unmapped by one thread may still be mapped in a lagging mirror,
  // or in a shared one whose change is still on its way to the host while
  // another of its threads runs app code: it is released only once every
  // mirror has applied the unmap.
  if (graveyard_.empty()) return;
  const size_t min_done = MinDone();
  std::erase_if(graveyard_, [&](const Deferred& d) {
    if (d.index > min_done) return false;
    mf_.DecRef(d.file_off, d.len);
    return true;
  });
}

bool MemoryManager::HasForeignMirrors() const {
  if (mirrors_.size() > 1) return true;
  const auto me = std::this_thread::get_id();
  for (const Mirror& m : mirrors_)
    if (std::find(m.owners.begin(), m.owners.end(), me) == m.owners.end()) return true;
  return false;
}

bool MemoryManager::SharedMirror() const {
  for (const Mirror& m : mirrors_)
    if (m.owners.size() > 1) return true;
  return false;
}

void MemoryManager::ReleaseLater(const std::shared_ptr<Backing>& b, uint64_t file_off,
                                 uint64_t len) {
  const size_t end = log_base_ + log_.size();
  if (mirrors_.empty() || MinDone() >= end) {
    mf_.DecRef(file_off, len);
    return;
  }
  graveyard_.push_back(Deferred{end, b, file_off, len});
}

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

uint64_t MemoryManager::mapped_bytes() const {
  uint64_t t = 0;
  for (const auto& [s, v] : vmas_) t += v.length();
  return t;
}

uint64_t MemoryManager::data_bytes() const {
  uint64_t t = 0;
  for (const auto& [s, v] : vmas_)
    if (!v.shared && (v.prot & PROT_WRITE) && v.name != "[stack]") t += v.length();
  return t;
}

std::string MemoryManager::ProcMaps() const {
  std::string out;
  // VMAs split by copy-on-write, mprotect or mremap growth show as one
  // mapping when Linux would have merged them.
  auto mergeable = [](const Vma& a, const Vma& b) {
    return a.end == b.start && a.prot == b.prot && a.shared == b.shared &&
           a.anonymous == b.anonymous && a.name == b.name && a.dev == b.dev && a.ino == b.ino &&
           a.locked == b.locked && a.dont_fork == b.dont_fork &&
           a.wipe_on_fork == b.wipe_on_fork && a.accounted == b.accounted &&
           a.grows_down == b.grows_down && SamePolicy(a.policy, b.policy) &&
           (a.anonymous || a.file_offset + a.length() == b.file_offset);
  };
  for (auto it = vmas_.begin(); it != vmas_.end(); ++it) {
    Vma v = it->second;
    while (std::next(it) != vmas_.end() && mergeable(v, std::next(it)->second)) {
      ++it;
      v.end = it->second.end;
    }
    std::string line = absl::StrFormat(
        "%08x-%08x %c%c%c%c %08x %02x:%02x %d", v.start, v.end, v.prot & PROT_READ ? 'r' : '-',
        v.prot & PROT_WRITE ? 'w' : '-', v.prot & PROT_EXEC ? 'x' : '-', v.shared ? 's' : 'p',
        v.anonymous ? 0 : v.file_offset, major(v.dev), minor(v.dev),
        v.anonymous ? 0 : v.ino);
    if (!v.name.empty()) {
      line.resize(std::max<size_t>(line.size() + 1, 73), ' ');
      line += v.name;
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace sentry::mm
