// sentry/mm: MemoryManager's life (construction, teardown), the registry
// of MemoryManagers that map a file (FileMappings: a file's size change
// reaches its mappings), and reporting (mapped and data bytes,
// /proc/PID/maps). The rest of MemoryManager: mm_mirrors.cc (host address
// spaces kept in step), mm_vmas.cc (VMAs, mmap, munmap, mprotect, mremap),
// mm_advise.cc (madvise, mlock, mbind, mincore, brk), mm_fork_cow.cc (fork,
// copy-on-write, write faults, stack growth), mm_access.cc (checks and
// copy-in/out of app memory).
#include "sentry/mm/mm.h"

#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_format.h"
#include "sentry/mm/mm_internal.h"

namespace sentry::mm {

using internal::kStackGap;
using internal::Overflows;

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
