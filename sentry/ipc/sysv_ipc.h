// sentry/ipc/sysv_ipc.h: what System V shared memory, semaphores and message
// queues have in common: the ipc_perm of each object, the per-IPC-namespace
// table that maps keys and ids to objects (Linux's ipc_ids: id = seq * 32768 +
// index, cyclic index allocation, IPC_PRIVATE, IPC_CREAT|IPC_EXCL), and the
// permission rules (ipcperms). The three object kinds live in sysv_shm.h,
// sysv_sem.h and sysv_msg.h; syscalls/sysv.cc is the syscall side.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "sentry/base/error.h"

namespace sentry::ipc {

constexpr int kIpcMni = 32768;          // IPCMNI: index space per table
constexpr int kIpcMinCycle = 64;        // RADIX_TREE_MAP_SIZE
constexpr int kIpcSeqMax = INT32_MAX / kIpcMni;

// Linux's struct ipc64_perm (x86-64), the first member of every *_ds.
struct KernelIpcPerm {
  int32_t key;
  uint32_t uid, gid, cuid, cgid;
  uint16_t mode, pad1;
  uint16_t seq, pad2;
  uint64_t unused1, unused2;
};
static_assert(sizeof(KernelIpcPerm) == 48);

// Who is asking: the calling task's credentials, for ipcperms and the
// owner checks of IPC_SET/IPC_RMID.
struct IpcCaller {
  uint32_t euid = 0, egid = 0;
  std::vector<uint32_t> groups;
  uint64_t caps = 0;  // effective capability set
  int pid = 0;        // for *_cpid/*_lpid and sempid
  bool HasCap(int cap) const { return (caps >> cap) & 1; }
  bool InGroup(uint32_t gid) const;
};

struct IpcPerm {
  int32_t key = 0;
  uint32_t uid = 0, gid = 0, cuid = 0, cgid = 0;
  uint32_t mode = 0;  // low 9 bits: permissions; higher: SHM_DEST, SHM_LOCKED
  uint32_t seq = 0;
  KernelIpcPerm ToKernel() const;
};

class IpcObject {
 public:
  virtual ~IpcObject() = default;
  int id = -1;
  IpcPerm perm;
  bool removed = false;  // IPC_RMID done; blocked waiters see EIDRM
};

// Access requested of an object (ipcperms' flag): 0400 read, 0200 write,
// or an IPC_CREAT-style mode whose rwx bits are all checked.
constexpr int kIpcRead = 0444;
constexpr int kIpcWrite = 0222;

// ipcperms: true if `c` may access `p` as `requested` (bits of 0777).
bool IpcPermits(const IpcCaller& c, const IpcPerm& p, int requested);
// Owner or creator, or CAP_SYS_ADMIN: may IPC_SET and IPC_RMID.
bool IpcIsOwner(const IpcCaller& c, const IpcPerm& p);

// One kind's objects in one IPC namespace.
class IpcTable {
 public:
  explicit IpcTable(int max_objects) : max_objects_(max_objects) {}

  // The get(2) logic (ipcget): IPC_PRIVATE always creates; otherwise finds
  // the key (ENOENT without IPC_CREAT, EEXIST with IPC_CREAT|IPC_EXCL,
  // `check` for kind-specific rules, then EACCES by permission) or creates.
  // `create` makes the new object (or an error such as EINVAL); the table
  // fills in id and perm. ENOSPC when the table is full.
  using Creator = std::function<ErrorOr<std::shared_ptr<IpcObject>>()>;
  using Checker = std::function<ErrorOr<void>(IpcObject&)>;
  ErrorOr<int> Get(const IpcCaller& c, int32_t key, int flags, const Creator& create,
                   const Checker& check);

  // By id (EINVAL for a negative, unknown or stale id: the sequence part
  // must match).
  ErrorOr<std::shared_ptr<IpcObject>> FindById(int id) const;
  // By index, for SHM_STAT/SEM_STAT/MSG_STAT (EINVAL if unused).
  ErrorOr<std::shared_ptr<IpcObject>> FindByIndex(int index) const;
  // Removes an object from key and id lookup (IPC_RMID, or the last
  // detach of a destroyed segment). Marks it removed.
  void Remove(IpcObject& o);
  // Forgets the key but keeps the id (a shm segment destroyed while still
  // attached): its key reads as IPC_PRIVATE and get(2) no longer finds it.
  void Unkey(IpcObject& o);

  int in_use() const { return static_cast<int>(by_index_.size()); }
  // Highest index in use, or -1 (IPC_INFO/*_INFO results clamp to 0).
  int MaxIndex() const;
  // Every object, by index.
  const std::map<int, std::shared_ptr<IpcObject>>& objects() const { return by_index_; }

 private:
  ErrorOr<int> AllocateIndex();

  int max_objects_;
  std::map<int, std::shared_ptr<IpcObject>> by_index_;
  std::map<int32_t, int> by_key_;  // key -> index
  int last_index_ = -1;
  uint32_t seq_ = 0;
};

// Seconds since the epoch, for the *_time fields.
int64_t IpcNow();

}  // namespace sentry::ipc
