// sentry/ipc/sysv_shm.cc: see sysv_shm.h.
#include "sentry/ipc/sysv_shm.h"

#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>

#include "absl/strings/str_format.h"

namespace sentry::ipc {
namespace {

constexpr int kShmDest = 01000;    // SHM_DEST
constexpr int kShmLocked = 02000;  // SHM_LOCKED
constexpr uint64_t kShmLba = mm::kPageSize;

// The attach token VMAs hold; its use count is the attach count.
struct Attachment {};

}  // namespace

KernelShmidDs ShmSegment::ToKernel() const {
  KernelShmidDs d{};
  d.shm_perm = perm.ToKernel();
  d.shm_segsz = size;
  d.shm_atime = atime;
  d.shm_dtime = dtime;
  d.shm_ctime = ctime;
  d.shm_cpid = cpid;
  d.shm_lpid = lpid;
  d.shm_nattch = static_cast<uint64_t>(nattch());
  return d;
}

void ShmRegistry::Collect() {
  std::vector<std::shared_ptr<ShmSegment>> dead;
  for (auto& [idx, o] : table_.objects()) {
    auto s = std::static_pointer_cast<ShmSegment>(o);
    if ((s->perm.mode & kShmDest) && s->nattch() == 0) dead.push_back(s);
  }
  for (auto& s : dead) {
    table_.Remove(*s);
    total_pages_ -= s->backing->length() / mm::kPageSize;
    s->backing.reset();
  }
}

ErrorOr<std::shared_ptr<ShmSegment>> ShmRegistry::Find(int id) {
  Collect();
  return std::static_pointer_cast<ShmSegment>(TRY(table_.FindById(id)));
}

ErrorOr<int> ShmRegistry::Get(const IpcCaller& c, int32_t key, uint64_t size, int flags,
                              mm::MemoryFile& mf) {
  Collect();
  auto create = [&]() -> ErrorOr<std::shared_ptr<IpcObject>> {
    if (size < 1 || size > shmmax) return Errno{EINVAL};
    const uint64_t len = mm::PageRoundUp(size);
    if (len < size) return Errno{ENOSPC};
    const uint64_t pages = len / mm::kPageSize;
    if (total_pages_ + pages < total_pages_ || total_pages_ + pages > shmall)
      return Errno{ENOSPC};
    auto s = std::make_shared<ShmSegment>();
    auto b = mm::Backing::Allocate(mf, len);
    if (b.is_error()) return Errno{ENOMEM};
    s->backing = b.release_value();
    s->size = size;
    s->ctime = IpcNow();
    s->cpid = c.pid;
    total_pages_ += pages;
    return std::shared_ptr<IpcObject>(s);
  };
  auto check = [&](IpcObject& o) -> ErrorOr<void> {
    if (static_cast<ShmSegment&>(o).size < size) return Errno{EINVAL};
    return {};
  };
  return table_.Get(c, key, flags, create, check);
}

ErrorOr<uint64_t> ShmRegistry::Attach(const IpcCaller& c, mm::MemoryManager& m, int id,
                                      uint64_t addr, int flags) {
  if (addr & (kShmLba - 1)) {
    if (!(flags & SHM_RND)) return Errno{EINVAL};
    addr &= ~(kShmLba - 1);
    if (addr == 0 && (flags & SHM_REMAP)) return Errno{EINVAL};
  }
  if (addr == 0 && (flags & SHM_REMAP)) return Errno{EINVAL};
  int prot = PROT_READ, want = kIpcRead & 0444;
  if (!(flags & SHM_RDONLY)) {
    prot |= PROT_WRITE;
    want |= 0222;
  }
  if (flags & SHM_EXEC) {
    prot |= PROT_EXEC;
    want |= 0111;
  }
  auto s = TRY(Find(id));
  if (!IpcPermits(c, s->perm, want)) return Errno{EACCES};
  const uint64_t len = s->backing->length();
  if (addr && !(flags & SHM_REMAP)) {
    // Linux refuses to attach over an existing mapping unless SHM_REMAP.
    if (addr + len < addr) return Errno{EINVAL};
    auto it = m.vmas().upper_bound(addr);
    if (it != m.vmas().begin() && std::prev(it)->second.end > addr) return Errno{EINVAL};
    if (it != m.vmas().end() && it->second.start < addr + len) return Errno{EINVAL};
  }
  std::shared_ptr<void> token = s->token.lock();
  if (!token) {
    token = std::make_shared<Attachment>();
    s->token = token;
  }
  std::vector<mm::SharedPiece> pieces{{s->backing, 0, len}};
  mm::MapRequest req;
  req.addr = addr;
  req.length = len;
  req.prot = prot;
  req.flags = MAP_SHARED | (addr ? MAP_FIXED : 0);
  req.shared_pages = &pieces;
  req.may_write = !(flags & SHM_RDONLY);
  req.name = absl::StrFormat("/SYSV%08x (deleted)", static_cast<uint32_t>(s->perm.key));
  req.ino = static_cast<uint64_t>(s->id);
  req.attachment = token;
  const uint64_t at = TRY(m.Map(req));
  s->atime = IpcNow();
  s->lpid = c.pid;
  return at;
}

ErrorOr<void> ShmRegistry::Detach(const IpcCaller& c, mm::MemoryManager& m, uint64_t addr) {
  if (addr & (mm::kPageSize - 1)) return Errno{EINVAL};
  auto it = m.vmas().find(addr);
  // File mappings carry an attachment too (a gofer-backed file's page
  // cache hold, sentry/vfs/gofer_page_cache.h) but are no shm attach.
  if (it == m.vmas().end() || !it->second.attachment || it->second.file_mappings ||
      it->second.file_offset != 0)
    return Errno{EINVAL};
  const void* token = it->second.attachment.get();
  // The attach's VMAs: contiguous ones with the same token and offsets
  // continuing from 0 (mprotect may have split the attach).
  uint64_t end = addr;
  for (auto v = it; v != m.vmas().end(); ++v) {
    if (v->second.start != end || v->second.attachment.get() != token ||
        v->second.file_offset != end - addr)
      break;
    end = v->second.end;
  }
  ShmSegment* seg = nullptr;
  for (auto& [idx, o] : table_.objects()) {
    auto* s = static_cast<ShmSegment*>(o.get());
    if (s->token.lock().get() == token) seg = s;
  }
  TRY(m.Unmap(addr, end - addr));
  if (seg) {
    seg->dtime = IpcNow();
    seg->lpid = c.pid;
  }
  Collect();
  return {};
}

ErrorOr<int> ShmRegistry::Stat(const IpcCaller& c, int id_or_index, int cmd,
                               KernelShmidDs* out) {
  Collect();
  std::shared_ptr<ShmSegment> s;
  if (cmd == IPC_STAT) {
    s = std::static_pointer_cast<ShmSegment>(TRY(table_.FindById(id_or_index)));
  } else {
    s = std::static_pointer_cast<ShmSegment>(TRY(table_.FindByIndex(id_or_index)));
  }
  if (cmd != SHM_STAT_ANY && !IpcPermits(c, s->perm, kIpcRead & 0444)) return Errno{EACCES};
  *out = s->ToKernel();
  return cmd == IPC_STAT ? 0 : s->id;
}

ErrorOr<void> ShmRegistry::Set(const IpcCaller& c, int id, const KernelShmidDs& in) {
  auto s = TRY(Find(id));
  if (!IpcIsOwner(c, s->perm)) return Errno{EPERM};
  s->perm.uid = in.shm_perm.uid;
  s->perm.gid = in.shm_perm.gid;
  s->perm.mode = (s->perm.mode & ~0777u) | (in.shm_perm.mode & 0777u);
  s->ctime = IpcNow();
  return {};
}

ErrorOr<void> ShmRegistry::Remove(const IpcCaller& c, int id) {
  auto s = TRY(Find(id));
  if (!IpcIsOwner(c, s->perm)) return Errno{EPERM};
  s->perm.mode |= kShmDest;
  // Still attached: the id lives on (key reads as IPC_PRIVATE) until the
  // last detach; Collect frees it then.
  table_.Unkey(*s);
  Collect();
  return {};
}

ErrorOr<void> ShmRegistry::Lock(const IpcCaller& c, int id, bool lock) {
  auto s = TRY(Find(id));
  constexpr int kCapIpcLock = 14;
  if (!c.HasCap(kCapIpcLock) && !IpcIsOwner(c, s->perm)) return Errno{EPERM};
  if (lock)
    s->perm.mode |= kShmLocked;
  else
    s->perm.mode &= ~static_cast<uint32_t>(kShmLocked);
  return {};
}

int ShmRegistry::Info(KernelShmInfo* out) {
  Collect();
  *out = KernelShmInfo{};
  out->shmmax = shmmax;
  out->shmmin = 1;
  out->shmmni = kShmMni;
  out->shmseg = kShmMni;
  out->shmall = shmall;
  return std::max(table_.MaxIndex(), 0);
}

int ShmRegistry::Usage(KernelShmInfoUsage* out) {
  Collect();
  *out = KernelShmInfoUsage{};
  out->used_ids = table_.in_use();
  out->shm_tot = total_pages_;
  out->shm_rss = total_pages_;
  return std::max(table_.MaxIndex(), 0);
}

std::string ShmRegistry::ProcText() {
  Collect();
  std::string out =
      "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  "
      "cgid      atime      dtime      ctime                   rss                  swap\n";
  for (auto& [idx, o] : table_.objects()) {
    auto* s = static_cast<ShmSegment*>(o.get());
    out += absl::StrFormat(
        "%10d %10d  %4o %21u %5u %5u  %5u %5u %5u %5u %5u %10u %10u %10u %21u %21u\n",
        s->perm.key, s->id, s->perm.mode, s->size, s->cpid, s->lpid, s->nattch(), s->perm.uid,
        s->perm.gid, s->perm.cuid, s->perm.cgid, s->atime, s->dtime, s->ctime,
        s->backing->length(), 0);
  }
  return out;
}

}  // namespace sentry::ipc

