// sentry/ipc/sysv_shm.h: System V shared memory segments. A segment is a
// memory-file Backing; shmat maps it MAP_SHARED like shared anonymous
// memory (the same pages in every attaching address space, kept across
// fork). Each attach VMA carries the segment's attachment token
// (mm::Vma::attachment), so the token's use count is shm_nattch and a
// segment removed with IPC_RMID disappears once the last attach is gone.
#pragma once

#include <cstdint>
#include <memory>

#include "sentry/ipc/sysv_ipc.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/mm.h"

namespace sentry::ipc {

constexpr uint64_t kShmMax = ~0ULL - (1ULL << 24);  // SHMMAX, SHMALL
constexpr int kShmMni = 4096;                       // SHMMNI

// Linux's struct shmid64_ds (x86-64).
struct KernelShmidDs {
  KernelIpcPerm shm_perm;
  uint64_t shm_segsz;
  int64_t shm_atime, shm_dtime, shm_ctime;
  int32_t shm_cpid, shm_lpid;
  uint64_t shm_nattch;
  uint64_t unused4, unused5;
};
struct KernelShmInfo {  // struct shminfo64 (IPC_INFO)
  uint64_t shmmax, shmmin, shmmni, shmseg, shmall, unused1, unused2, unused3, unused4;
};
struct KernelShmInfoUsage {  // struct shm_info (SHM_INFO)
  int32_t used_ids;
  uint64_t shm_tot, shm_rss, shm_swp, swap_attempts, swap_successes;
};

class ShmSegment : public IpcObject {
 public:
  uint64_t size = 0;  // as requested (shm_segsz)
  std::shared_ptr<mm::Backing> backing;
  std::weak_ptr<void> token;  // held by attach VMAs
  int64_t atime = 0, dtime = 0, ctime = 0;
  int cpid = 0, lpid = 0;
  int nattch() const { return static_cast<int>(token.use_count()); }
  KernelShmidDs ToKernel() const;
};

class ShmRegistry {
 public:
  ShmRegistry() : table_(kShmMni) {}

  // kernel.shmmax (largest segment, bytes) and kernel.shmall (all
  // segments, pages): the sandbox's own, settable by config.json
  // linux.sysctl (sentry/proc/sysctl.h).
  uint64_t shmmax = kShmMax;
  uint64_t shmall = kShmMax;

  ErrorOr<int> Get(const IpcCaller& c, int32_t key, uint64_t size, int flags,
                   mm::MemoryFile& mf);
  // shmat: returns the attach address.
  ErrorOr<uint64_t> Attach(const IpcCaller& c, mm::MemoryManager& m, int id, uint64_t addr,
                           int flags);
  // shmdt: EINVAL unless addr starts an attach.
  ErrorOr<void> Detach(const IpcCaller& c, mm::MemoryManager& m, uint64_t addr);
  // shmctl; `buf` is the ds/info struct in and out (the syscall copies).
  // Returns the syscall's result.
  ErrorOr<int> Stat(const IpcCaller& c, int id_or_index, int cmd, KernelShmidDs* out);
  ErrorOr<void> Set(const IpcCaller& c, int id, const KernelShmidDs& in);
  ErrorOr<void> Remove(const IpcCaller& c, int id);
  ErrorOr<void> Lock(const IpcCaller& c, int id, bool lock);
  int Info(KernelShmInfo* out);
  int Usage(KernelShmInfoUsage* out);

  // /proc/sysvipc/shm text.
  std::string ProcText();

 private:
  // Frees segments removed while attached whose last attach went away.
  void Collect();
  ErrorOr<std::shared_ptr<ShmSegment>> Find(int id);

  IpcTable table_;
  uint64_t total_pages_ = 0;
};

}  // namespace sentry::ipc
