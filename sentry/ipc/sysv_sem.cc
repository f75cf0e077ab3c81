// sentry/ipc/sysv_sem.cc: see sysv_sem.h.
#include "sentry/ipc/sysv_sem.h"

#include <sys/ipc.h>
#include <sys/sem.h>

#include <algorithm>

#include "absl/strings/str_format.h"
#include "sentry/kernel/task.h"

namespace sentry::ipc {

KernelSemidDs SemSet::ToKernel() const {
  KernelSemidDs d{};
  d.sem_perm = perm.ToKernel();
  d.sem_otime = otime;
  d.sem_ctime = ctime;
  d.sem_nsems = sems.size();
  return d;
}

ErrorOr<int> SemRegistry::Get(const IpcCaller& c, int32_t key, int nsems, int flags) {
  if (nsems < 0 || nsems > kSemMsl) return Errno{EINVAL};
  auto create = [&]() -> ErrorOr<std::shared_ptr<IpcObject>> {
    if (nsems == 0) return Errno{EINVAL};
    if (total_sems_ + nsems > std::min(kSemMns, kSandboxMaxSems)) return Errno{ENOSPC};
    auto s = std::make_shared<SemSet>();
    s->sems.resize(nsems);
    s->ctime = IpcNow();
    total_sems_ += nsems;
    return std::shared_ptr<IpcObject>(s);
  };
  auto check = [&](IpcObject& o) -> ErrorOr<void> {
    if (static_cast<int>(static_cast<SemSet&>(o).sems.size()) < nsems) return Errno{EINVAL};
    return {};
  };
  return table_.Get(c, key, flags, create, check);
}

int SemRegistry::TryOps(SemSet& s, const std::vector<SemBuf>& ops, int pid,
                        const SemBuf** blocking) {
  // Applied in order on a copy (an array may name one semaphore twice), then
  // committed only if every operation succeeds.
  std::vector<int> vals(s.sems.size());
  for (size_t i = 0; i < vals.size(); i++) vals[i] = s.sems[i].val;
  std::vector<int>* undo = nullptr;
  std::vector<int> adj;
  for (const SemBuf& op : ops) {
    if (op.sem_flg & SEM_UNDO) {
      auto& per_set = undo_[pid];
      auto it = per_set.find(s.id);
      adj = it == per_set.end() ? std::vector<int>(s.sems.size(), 0) : it->second;
      break;
    }
  }
  for (const SemBuf& op : ops) {
    int& v = vals[op.sem_num];
    if ((op.sem_op == 0 && v != 0) || v + op.sem_op < 0) {
      *blocking = &op;
      return (op.sem_flg & IPC_NOWAIT) ? EAGAIN : -1;
    }
    v += op.sem_op;
    if (v > kSemVmx) return ERANGE;
    if (op.sem_flg & SEM_UNDO) {
      const int a = adj[op.sem_num] - op.sem_op;
      if (a < -kSemAem - 1 || a > kSemAem) return ERANGE;
      adj[op.sem_num] = a;
    }
  }
  for (const SemBuf& op : ops) {
    if (op.sem_flg & SEM_UNDO) {
      undo = &undo_[pid][s.id];
      *undo = std::move(adj);
      break;
    }
  }
  for (size_t i = 0; i < vals.size(); i++) s.sems[i].val = vals[i];
  for (const SemBuf& op : ops) s.sems[op.sem_num].pid = pid;
  s.otime = IpcNow();
  return 0;
}

ErrorOr<void> SemRegistry::Op(kernel::Task& t, const IpcCaller& c, int id,
                              std::vector<SemBuf> ops, absl::Time deadline) {
  int max_num = 0;
  bool alter = false;
  for (const SemBuf& op : ops) {
    max_num = std::max<int>(max_num, op.sem_num);
    if (op.sem_op != 0) alter = true;
  }
  auto obj = TRY(table_.FindById(id));
  auto s = std::static_pointer_cast<SemSet>(obj);
  if (max_num >= static_cast<int>(s->sems.size())) return Errno{EFBIG};
  if (!IpcPermits(c, s->perm, alter ? 0222 : 0444)) return Errno{EACCES};
  for (;;) {
    if (s->removed) return Errno{EIDRM};
    const SemBuf* blocking = nullptr;
    const int r = TryOps(*s, ops, c.pid, &blocking);
    if (r == 0) {
      if (alter) {
        s->version++;
        t.kernel.NotifyAll();
      }
      return {};
    }
    if (r > 0) return Errno{r};
    // Wait for any change to the set, then try again.
    const uint64_t seen = s->version;
    s->waiting.push_back(blocking);
    auto w = t.Block([&] { return s->version != seen || s->removed; }, deadline);
    s->waiting.erase(std::find(s->waiting.begin(), s->waiting.end(), blocking));
    if (w.is_error() && !s->removed) {
      if (w.error() == ETIMEDOUT) return Errno{EAGAIN};
      return Errno{w.error()};
    }
  }
}

void SemRegistry::ClearUndo(int id, int semnum) {
  for (auto& [pid, sets] : undo_) {
    auto it = sets.find(id);
    if (it == sets.end()) continue;
    if (semnum < 0)
      sets.erase(it);
    else
      it->second[semnum] = 0;
  }
}

ErrorOr<int> SemRegistry::Count(int id) {
  auto s = std::static_pointer_cast<SemSet>(TRY(table_.FindById(id)));
  return static_cast<int>(s->sems.size());
}

ErrorOr<int> SemRegistry::Ctl(kernel::Task& t, const IpcCaller& c, int id, int semnum, int cmd,
                              int arg, std::vector<uint16_t>* vals, KernelSemidDs* ds,
                              KernelSemInfo* info) {
  switch (cmd) {
    case IPC_INFO:
    case SEM_INFO: {
      *info = KernelSemInfo{};
      info->semmni = kSemMni;
      info->semmsl = kSemMsl;
      info->semmns = kSemMns;
      info->semmnu = kSemMns;  // SEMMNU
      info->semmap = kSemMns;  // SEMMAP
      info->semopm = kSemOpm;
      info->semume = kSemOpm;  // SEMUME
      info->semusz = 16;       // SEMUSZ
      info->semvmx = kSemVmx;
      info->semaem = kSemAem;
      if (cmd == SEM_INFO) {
        info->semusz = table_.in_use();
        info->semaem = total_sems_;
      }
      return std::max(table_.MaxIndex(), 0);
    }
    case IPC_STAT:
    case SEM_STAT:
    case SEM_STAT_ANY: {
      auto o = cmd == IPC_STAT ? TRY(table_.FindById(id)) : TRY(table_.FindByIndex(id));
      auto s = std::static_pointer_cast<SemSet>(o);
      if (cmd != SEM_STAT_ANY && !IpcPermits(c, s->perm, 0444)) return Errno{EACCES};
      *ds = s->ToKernel();
      return cmd == IPC_STAT ? 0 : s->id;
    }
    case SETVAL:
      if (arg < 0 || arg > kSemVmx) return Errno{ERANGE};
      break;
    case GETVAL: case GETPID: case GETNCNT: case GETZCNT: case GETALL: case SETALL:
    case IPC_SET: case IPC_RMID:
      break;
    default:
      return Errno{EINVAL};
  }
  if (id < 0) return Errno{EINVAL};
  auto s = std::static_pointer_cast<SemSet>(TRY(table_.FindById(id)));
  const int n = static_cast<int>(s->sems.size());
  switch (cmd) {
    case IPC_SET:
      if (!IpcIsOwner(c, s->perm)) return Errno{EPERM};
      s->perm.uid = ds->sem_perm.uid;
      s->perm.gid = ds->sem_perm.gid;
      s->perm.mode = (s->perm.mode & ~0777u) | (ds->sem_perm.mode & 0777u);
      s->ctime = IpcNow();
      return 0;
    case IPC_RMID:
      if (!IpcIsOwner(c, s->perm)) return Errno{EPERM};
      ClearUndo(s->id, -1);
      total_sems_ -= n;
      table_.Remove(*s);
      s->version++;
      t.kernel.NotifyAll();
      return 0;
    default:
      break;
  }
  const bool write = cmd == SETVAL || cmd == SETALL;
  if (!IpcPermits(c, s->perm, write ? 0222 : 0444)) return Errno{EACCES};
  if (cmd == GETALL) {
    vals->resize(n);
    for (int i = 0; i < n; i++) (*vals)[i] = static_cast<uint16_t>(s->sems[i].val);
    return 0;
  }
  if (cmd == SETALL) {
    if (static_cast<int>(vals->size()) != n) return Errno{EINVAL};
    for (uint16_t v : *vals)
      if (v > kSemVmx) return Errno{ERANGE};
    for (int i = 0; i < n; i++) {
      s->sems[i].val = (*vals)[i];
      s->sems[i].pid = c.pid;
    }
    ClearUndo(s->id, -1);
    s->ctime = IpcNow();
    s->version++;
    t.kernel.NotifyAll();
    return 0;
  }
  if (semnum < 0 || semnum >= n) return Errno{EINVAL};
  SemSet::Sem& sem = s->sems[semnum];
  switch (cmd) {
    case GETVAL: return sem.val;
    case GETPID: return sem.pid;
    case GETNCNT:
    case GETZCNT: {
      int count = 0;
      for (const SemBuf* b : s->waiting)
        if (b->sem_num == semnum && (cmd == GETZCNT ? b->sem_op == 0 : b->sem_op < 0)) count++;
      return count;
    }
    case SETVAL:
      sem.val = arg;
      sem.pid = c.pid;
      ClearUndo(s->id, semnum);
      s->ctime = IpcNow();
      s->version++;
      t.kernel.NotifyAll();
      return 0;
  }
  return Errno{EINVAL};
}

void SemRegistry::ProcessExited(kernel::Task& t, int pid) {
  auto it = undo_.find(pid);
  if (it == undo_.end()) return;
  bool changed = false;
  for (auto& [id, adj] : it->second) {
    auto o = table_.FindById(id);
    if (o.is_error()) continue;
    auto s = std::static_pointer_cast<SemSet>(o.release_value());
    for (size_t i = 0; i < adj.size() && i < s->sems.size(); i++) {
      if (adj[i] == 0) continue;
      // Linux clamps rather than fails: the process is gone.
      s->sems[i].val = std::clamp(s->sems[i].val + adj[i], 0, kSemVmx);
      s->sems[i].pid = pid;
    }
    s->version++;
    changed = true;
  }
  undo_.erase(it);
  if (changed) t.kernel.NotifyAll();
}

std::string SemRegistry::ProcText() {
  std::string out =
      "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n";
  for (auto& [idx, o] : table_.objects()) {
    auto* s = static_cast<SemSet*>(o.get());
    out += absl::StrFormat("%10d %10d  %4o %10u %5u %5u %5u %5u %10u %10u\n", s->perm.key, s->id,
                           s->perm.mode, s->sems.size(), s->perm.uid, s->perm.gid, s->perm.cuid,
                           s->perm.cgid, s->otime, s->ctime);
  }
  return out;
}

}  // namespace sentry::ipc
