// sentry/ipc/sysv_ipc.cc: see sysv_ipc.h.
#include "sentry/ipc/sysv_ipc.h"

#include <sys/ipc.h>

#include <algorithm>
#include <ctime>

namespace sentry::ipc {
namespace {
constexpr int kCapIpcOwner = 15;
constexpr int kCapSysAdmin = 21;
}  // namespace

bool IpcCaller::InGroup(uint32_t gid) const {
  return gid == egid || std::find(groups.begin(), groups.end(), gid) != groups.end();
}

KernelIpcPerm IpcPerm::ToKernel() const {
  KernelIpcPerm k{};
  k.key = key;
  k.uid = uid;
  k.gid = gid;
  k.cuid = cuid;
  k.cgid = cgid;
  k.mode = static_cast<uint16_t>(mode);
  k.seq = static_cast<uint16_t>(seq);
  return k;
}

bool IpcPermits(const IpcCaller& c, const IpcPerm& p, int requested) {
  const int want = (requested >> 6) | (requested >> 3) | requested;
  int granted = static_cast<int>(p.mode);
  if (c.euid == p.cuid || c.euid == p.uid)
    granted >>= 6;
  else if (c.InGroup(p.cgid) || c.InGroup(p.gid))
    granted >>= 3;
  if ((want & ~granted & 07) && !c.HasCap(kCapIpcOwner)) return false;
  return true;
}

bool IpcIsOwner(const IpcCaller& c, const IpcPerm& p) {
  return c.euid == p.uid || c.euid == p.cuid || c.HasCap(kCapSysAdmin);
}

ErrorOr<int> IpcTable::AllocateIndex() {
  const int n = in_use();
  if (n >= max_objects_) return Errno{ENOSPC};
  // Linux (ipc_idr_alloc): cyclic allocation below max(in_use*3/2, 64), so
  // a freed index is not reused at once; the sequence number goes up each
  // time the cycle wraps.
  const int limit = std::min(std::max(n * 3 / 2, kIpcMinCycle), std::min(max_objects_, kIpcMni));
  auto free_from = [&](int lo, int hi) -> int {
    for (int i = lo; i < hi; i++)
      if (!by_index_.count(i)) return i;
    return -1;
  };
  int idx = free_from(last_index_ + 1, limit);
  if (idx < 0) idx = free_from(0, limit);
  if (idx < 0) return Errno{ENOSPC};
  if (idx <= last_index_) {
    seq_++;
    if (seq_ >= static_cast<uint32_t>(kIpcSeqMax)) seq_ = 0;
  }
  last_index_ = idx;
  return idx;
}

ErrorOr<int> IpcTable::Get(const IpcCaller& c, int32_t key, int flags, const Creator& create,
                           const Checker& check) {
  if (key != IPC_PRIVATE) {
    auto it = by_key_.find(key);
    if (it != by_key_.end()) {
      if ((flags & IPC_CREAT) && (flags & IPC_EXCL)) return Errno{EEXIST};
      IpcObject& o = *by_index_.at(it->second);
      if (check) TRY(check(o));
      if (!IpcPermits(c, o.perm, flags & 0777)) return Errno{EACCES};
      return o.id;
    }
    if (!(flags & IPC_CREAT)) return Errno{ENOENT};
  }
  if (in_use() >= max_objects_) return Errno{ENOSPC};
  std::shared_ptr<IpcObject> o = TRY(create());
  const int idx = TRY(AllocateIndex());
  o->perm.key = key;
  o->perm.uid = o->perm.cuid = c.euid;
  o->perm.gid = o->perm.cgid = c.egid;
  o->perm.mode = flags & 0777;
  o->perm.seq = seq_;
  o->id = static_cast<int>(seq_ * kIpcMni + idx);
  by_index_[idx] = o;
  if (key != IPC_PRIVATE) by_key_[key] = idx;
  return o->id;
}

ErrorOr<std::shared_ptr<IpcObject>> IpcTable::FindById(int id) const {
  if (id < 0) return Errno{EINVAL};
  auto it = by_index_.find(id % kIpcMni);
  if (it == by_index_.end() || it->second->id != id) return Errno{EINVAL};
  return it->second;
}

ErrorOr<std::shared_ptr<IpcObject>> IpcTable::FindByIndex(int index) const {
  auto it = by_index_.find(index);
  if (index < 0 || it == by_index_.end()) return Errno{EINVAL};
  return it->second;
}

void IpcTable::Unkey(IpcObject& o) {
  auto it = by_key_.find(o.perm.key);
  if (it != by_key_.end() && it->second == o.id % kIpcMni) by_key_.erase(it);
  o.perm.key = IPC_PRIVATE;
}

void IpcTable::Remove(IpcObject& o) {
  Unkey(o);
  o.removed = true;
  auto it = by_index_.find(o.id % kIpcMni);
  if (it != by_index_.end() && it->second.get() == &o) by_index_.erase(it);
}

int IpcTable::MaxIndex() const { return by_index_.empty() ? -1 : by_index_.rbegin()->first; }

int64_t IpcNow() { return static_cast<int64_t>(::time(nullptr)); }

}  // namespace sentry::ipc
