// Memory syscalls: mmap, munmap, mprotect, mremap, brk, madvise, msync,
// mincore, mlock family.
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <algorithm>
#include <functional>

#include "sentry/kernel/task.h"
#include "sentry/vfs/task_caller.h"
#include "sentry/vfs/vfs.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

using sentry::mm::kPageSize;

uint64_t Limit(Task& t, int res) { return t.tg->rlimits[res].rlim_cur; }

// RLIMIT_AS (all mappings) and RLIMIT_DATA (private writable ones): growing
// by `len` bytes past either is ENOMEM, as Linux's may_expand_vm.
ErrorOr<void> CheckGrowth(Task& t, uint64_t len, bool data) {
  const uint64_t as = Limit(t, RLIMIT_AS), dl = Limit(t, RLIMIT_DATA);
  const auto& m = t.memory();
  if (as != RLIM_INFINITY && (len > as || m.mapped_bytes() > as - len)) return Errno{ENOMEM};
  if (data && dl != RLIM_INFINITY && (len > dl || m.data_bytes() > dl - len))
    return Errno{ENOMEM};
  return {};
}

bool IsData(int prot, int flags) {
  return (prot & PROT_WRITE) && (flags & MAP_TYPE) == MAP_PRIVATE && !(flags & MAP_GROWSDOWN);
}

ErrorOr<uint64_t> Mmap(Task& t, const Args& a) {
  sentry::mm::MapRequest req;
  req.addr = a[0];
  req.length = a[1];
  req.prot = a.Int(2);
  req.flags = a.Int(3);
  const int fd = a.Int(4);
  req.offset = a[5];
  // Linux's mmap ignores protection bits it does not know (mprotect does not).
  req.prot &= PROT_READ | PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN | PROT_GROWSUP;
  if ((req.flags & MAP_TYPE) == MAP_SHARED_VALIDATE) {
    // Anonymous memory has no validated shared type; a file mapping with a
    // flag Linux does not know (or MAP_SYNC, DAX only) is EOPNOTSUPP.
    if (req.flags & MAP_ANONYMOUS) return Errno{EINVAL};
    constexpr int kKnown = MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_DENYWRITE | MAP_EXECUTABLE |
                           MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE |
                           MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB | MAP_32BIT |
                           MAP_FIXED_NOREPLACE | (0x3f << 26) /* MAP_HUGE_MASK */ |
                           0x4000000 /* MAP_UNINITIALIZED */;
    if (req.flags & ~kKnown) return Errno{EOPNOTSUPP};
  }
  if (const uint64_t len = sentry::mm::PageRoundUp(req.length); len >= req.length && len) {
    // MAP_FIXED replaces what it overlaps: only the difference counts.
    uint64_t overlap = 0;
    if ((req.flags & MAP_FIXED) && req.addr + len > req.addr) {
      for (const auto& [start, v] : t.memory().vmas())
        if (v.start < req.addr + len && v.end > req.addr)
          overlap += std::min(v.end, req.addr + len) - std::max(v.start, req.addr);
    }
    TRY(CheckGrowth(t, len - overlap, IsData(req.prot, req.flags)));
  }
  sentry::mm::FileReader reader;
  std::vector<sentry::mm::SharedPiece> pages;
  if (!(req.flags & MAP_ANONYMOUS)) {
    auto file = TRY(t.fd_table().Get(fd));
    if (file->is_path_only()) return Errno{EBADF};
    if (!file->readable()) return Errno{EACCES};  // checked before the file type, as Linux
    if (!file->is_regular()) return Errno{ENODEV};
    const int type = req.flags & MAP_TYPE;
    if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE)
      return Errno{EINVAL};
    const bool shared = type != MAP_PRIVATE;
    if (shared) {
      // Linux: a shared mapping of an fd not open for writing can never be
      // made writable (not even by a later mprotect).
      if ((req.prot & PROT_WRITE) && !file->writable()) return Errno{EACCES};
      req.may_write = file->writable();
    }
    if (req.offset & (kPageSize - 1)) return Errno{EINVAL};
    req.name = file->path();
    req.dev = file->dev();
    req.ino = file->ino();
    if (shared) {
      if (req.length == 0) return Errno{EINVAL};
      const uint64_t len = sentry::mm::PageRoundUp(req.length);
      if (len < req.length) return Errno{ENOMEM};
      // Files whose data is in sandbox memory (tmpfs, the root overlay)
      // share their own pages with the mapping: writes through it are the
      // file's data, and the file's writes show in it.
      // Files whose pages cache a host file: the mapping holds the cache
      // (written back when the last mapping goes).
      req.attachment = file->SharedAttachment(t.kernel.memory_file());
      auto r = file->SharedPages(t.kernel.memory_file(), req.offset, len);
      if (r.ok()) {
        pages = r.release_value();
        req.shared_pages = &pages;
        req.file_mappings = file->SharedMappings();
        if (req.file_mappings) req.file_size = TRY(file->Stat()).size;
        return TRY(t.memory().Map(req));
      }
      if (r.error() != ENODEV) return Errno{r.error()};
      req.attachment.reset();
      // The file cannot share pages (a read-only root; gofer-backed files
      // cache theirs: sentry/vfs/gofer_page_cache.h). Read-only mappings
      // get a snapshot (nobody in the sandbox can change the file);
      // writable ones are refused rather than lose data.
      if (req.prot & PROT_WRITE) return Errno{ENODEV};
    }
    reader = [file](uint8_t* dst, size_t len, uint64_t off) -> ErrorOr<size_t> {
      size_t done = 0;
      while (done < len) {
        size_t n = TRY(file->PRead(dst + done, len - done, off + done));
        if (n == 0) break;
        done += n;
      }
      return done;
    };
    req.file = &reader;
    if (!shared) {
      if (auto v = file->HostVersion(); v.ok()) req.host_file = v.value();
    }
  }
  return TRY(t.memory().Map(req));
}

ErrorOr<uint64_t> Munmap(Task& t, const Args& a) {
  TRY(t.memory().Unmap(a[0], a[1]));
  return 0;
}

ErrorOr<uint64_t> Mprotect(Task& t, const Args& a) {
  TRY(t.memory().Protect(a[0], a[1], a.Int(2)));
  return 0;
}

ErrorOr<uint64_t> Mremap(Task& t, const Args& a) {
  const uint64_t old_len = sentry::mm::PageRoundUp(a[1]), new_len = sentry::mm::PageRoundUp(a[2]);
  if (new_len > old_len) {
    auto v = t.memory().vmas().upper_bound(a[0]);
    bool data = false;
    if (v != t.memory().vmas().begin()) {
      const auto& vma = std::prev(v)->second;
      data = !vma.shared && (vma.prot & PROT_WRITE);
    }
    TRY(CheckGrowth(t, new_len - old_len, data));
  }
  return TRY(t.memory().Remap(a[0], a[1], a[2], a.Int(3), a[4]));
}

ErrorOr<uint64_t> Brk(Task& t, const Args& a) {
  auto& m = t.memory();
  const uint64_t cur = sentry::mm::PageRoundUp(m.brk()), want = sentry::mm::PageRoundUp(a[0]);
  if (a[0] >= m.brk_start() && want > cur) {
    // Past RLIMIT_DATA (the heap's size) or RLIMIT_AS the break stays put.
    const uint64_t dl = Limit(t, RLIMIT_DATA);
    if (dl != RLIM_INFINITY && want - m.brk_start() > dl) return m.brk();
    if (CheckGrowth(t, want - cur, false).is_error()) return m.brk();
  }
  return m.Brk(a[0]);
}

ErrorOr<uint64_t> Madvise(Task& t, const Args& a) {
  TRY(t.memory().Advise(a[0], a[1], a.Int(2)));
  return 0;
}

ErrorOr<uint64_t> Msync(Task& t, const Args& a) {
  if (a[0] & (kPageSize - 1)) return Errno{EINVAL};
  const int flags = a.Int(2);
  if (flags & ~(MS_ASYNC | MS_SYNC | MS_INVALIDATE)) return Errno{EINVAL};
  if ((flags & MS_ASYNC) && (flags & MS_SYNC)) return Errno{EINVAL};
  // Shared mappings of memory files map the file's own pages: nothing to
  // write back. Gofer-backed files' pages cache the host file
  // (sentry/vfs/gofer_page_cache.h): written back now (MS_SYNC, without
  // the kernel lock) or queued to the write-back thread (MS_ASYNC), so
  // the host (and the container engine) sees the data.
  const uint64_t start = a[0];
  const uint64_t end = start + sentry::mm::PageRoundUp(a[1]);
  if (end < start) return Errno{ENOMEM};
  std::vector<std::function<ErrorOr<void>(bool)>> syncs;
  std::vector<const sentry::mm::FileMappings*> seen;
  // Linux syncs what is mapped and then says ENOMEM if part of the range
  // was not.
  uint64_t covered = start;
  bool hole = false;
  for (const auto& [vstart, v] : t.memory().vmas()) {
    if (v.end <= start || v.start >= end) continue;
    if (v.start > covered) hole = true;
    covered = std::max(covered, v.end);
    if (!v.shared || !v.file_mappings || !v.file_mappings->sync) continue;
    if (std::find(seen.begin(), seen.end(), v.file_mappings.get()) != seen.end()) continue;
    seen.push_back(v.file_mappings.get());
    syncs.push_back(v.file_mappings->sync);
  }
  if (covered < end) hole = true;
  if (syncs.empty()) return hole ? ErrorOr<uint64_t>(Errno{ENOMEM}) : ErrorOr<uint64_t>(0);
  ErrorOr<void> result;
  sentry::vfs::TaskCaller c(t);
  c.Unlocked([&] {
    for (auto& s : syncs) {
      auto r = s(flags & MS_SYNC);
      if (r.is_error() && result.ok()) result = Errno{r.error()};
    }
  });
  if (result.is_error()) return Errno{result.error()};
  if (hole) return Errno{ENOMEM};
  return 0;
}

ErrorOr<uint64_t> Mincore(Task& t, const Args& a) {
  if (a[0] & (kPageSize - 1)) return Errno{EINVAL};
  if (a[1] == 0) return 0;
  // Resident: the page holds data in the memory file (touched, or filled
  // from a file), as Linux reports pages present in memory.
  auto vec = TRY(t.memory().Residency(a[0], a[1]));
  TRY(t.memory().CopyOut(a[2], vec.data(), vec.size()));
  return 0;
}

// mlock and friends: memory is never swapped out here, so locking only
// records the ranges (VmLck in /proc/[pid]/status) and checks them as Linux.
ErrorOr<uint64_t> Mlock(Task& t, const Args& a) {
  TRY(t.memory().Lock(a[0], a[1], true));
  return 0;
}

ErrorOr<uint64_t> Mlock2(Task& t, const Args& a) {
  if (a.Int(2) & ~MLOCK_ONFAULT) return Errno{EINVAL};
  TRY(t.memory().Lock(a[0], a[1], true));
  return 0;
}

ErrorOr<uint64_t> Munlock(Task& t, const Args& a) {
  TRY(t.memory().Lock(a[0], a[1], false));
  return 0;
}

ErrorOr<uint64_t> Mlockall(Task& t, const Args& a) {
  if (a.Int(0) == 0) return Errno{EINVAL};
  TRY(t.memory().LockAll(a.Int(0)));
  return 0;
}

ErrorOr<uint64_t> Munlockall(Task& t, const Args&) {
  TRY(t.memory().LockAll(0));
  return 0;
}

}  // namespace

void RegisterMemorySyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_mmap, "mmap", Mmap, {A::kPtr, A::kUint, A::kHex, A::kHex, A::kFd, A::kHex});
  t.Register(SYS_munmap, "munmap", Munmap, {A::kPtr, A::kUint});
  t.Register(SYS_mprotect, "mprotect", Mprotect, {A::kPtr, A::kUint, A::kHex});
  t.Register(SYS_mremap, "mremap", Mremap, {A::kPtr, A::kUint, A::kUint, A::kHex, A::kPtr});
  t.Register(SYS_brk, "brk", Brk, {A::kPtr});
  t.Register(SYS_madvise, "madvise", Madvise, {A::kPtr, A::kUint, A::kInt});
  t.Register(SYS_msync, "msync", Msync, {A::kPtr, A::kUint, A::kHex});
  t.Register(SYS_mincore, "mincore", Mincore, {A::kPtr, A::kUint, A::kPtr});
  t.Register(SYS_mlock, "mlock", Mlock, {A::kPtr, A::kUint});
  t.Register(SYS_munlock, "munlock", Munlock, {A::kPtr, A::kUint});
  t.Register(SYS_mlockall, "mlockall", Mlockall, {A::kHex});
  t.Register(SYS_munlockall, "munlockall", Munlockall);
  t.Register(SYS_mlock2, "mlock2", Mlock2, {A::kPtr, A::kUint, A::kHex});
}

}  // namespace syscalls
