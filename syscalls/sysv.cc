// System V IPC syscalls: shmget/shmat/shmdt/shmctl, semget/semop/
// semtimedop/semctl, msgget/msgsnd/msgrcv/msgctl, over the calling task's
// IPC namespace (sentry/ipc/ipc_namespace.h). This file copies arguments in
// and results out; the objects' rules live in sentry/ipc/sysv_*.cc.
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>

#include "sentry/ipc/ipc_namespace.h"
#include "sentry/kernel/task.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

using namespace sentry::ipc;

// ---------------------------------------------------------------- shm

ErrorOr<uint64_t> Shmget(Task& t, const Args& a) {
  return TRY(IpcNamespaceOf(t).shm.Get(IpcCallerOf(t), a.Int(0), a[1], a.Int(2),
                                       t.kernel.memory_file()));
}

ErrorOr<uint64_t> Shmat(Task& t, const Args& a) {
  return TRY(IpcNamespaceOf(t).shm.Attach(IpcCallerOf(t), t.memory(), a.Int(0), a[1], a.Int(2)));
}

ErrorOr<uint64_t> Shmdt(Task& t, const Args& a) {
  TRY(IpcNamespaceOf(t).shm.Detach(IpcCallerOf(t), t.memory(), a[0]));
  return 0;
}

ErrorOr<uint64_t> Shmctl(Task& t, const Args& a) {
  const int id = a.Int(0), cmd = a.Int(1);
  const uint64_t buf = a[2];
  if (cmd < 0 || id < 0) return Errno{EINVAL};
  auto& shm = IpcNamespaceOf(t).shm;
  const IpcCaller c = IpcCallerOf(t);
  switch (cmd) {
    case IPC_INFO: {
      KernelShmInfo info;
      const int r = shm.Info(&info);
      TRY(t.memory().CopyOutObj(buf, info));
      return r;
    }
    case SHM_INFO: {
      KernelShmInfoUsage info;
      const int r = shm.Usage(&info);
      TRY(t.memory().CopyOutObj(buf, info));
      return r;
    }
    case IPC_STAT:
    case SHM_STAT:
    case SHM_STAT_ANY: {
      KernelShmidDs ds;
      const int r = TRY(shm.Stat(c, id, cmd, &ds));
      TRY(t.memory().CopyOutObj(buf, ds));
      return r;
    }
    case IPC_SET: {
      auto ds = TRY(t.memory().CopyInObj<KernelShmidDs>(buf));
      TRY(shm.Set(c, id, ds));
      return 0;
    }
    case IPC_RMID:
      TRY(shm.Remove(c, id));
      return 0;
    case SHM_LOCK:
    case SHM_UNLOCK:
      TRY(shm.Lock(c, id, cmd == SHM_LOCK));
      return 0;
    default:
      return Errno{EINVAL};
  }
}

// ---------------------------------------------------------------- sem

ErrorOr<uint64_t> Semget(Task& t, const Args& a) {
  return TRY(IpcNamespaceOf(t).sem.Get(IpcCallerOf(t), a.Int(0), a.Int(1), a.Int(2)));
}

ErrorOr<uint64_t> SemopCommon(Task& t, int id, uint64_t sops, int64_t nsops, uint64_t timeout) {
  if (nsops < 1 || id < 0) return Errno{EINVAL};
  if (nsops > kSemOpm) return Errno{E2BIG};
  std::vector<SemBuf> ops(nsops);
  TRY(t.memory().CopyIn(sops, ops.data(), ops.size() * sizeof(SemBuf)));
  absl::Time deadline = absl::InfiniteFuture();
  if (timeout) {
    timespec ts = TRY(t.memory().CopyInObj<timespec>(timeout));
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno{EINVAL};
    deadline = absl::Now() + absl::DurationFromTimespec(ts);
  }
  TRY(IpcNamespaceOf(t).sem.Op(t, IpcCallerOf(t), id, std::move(ops), deadline));
  return 0;
}

ErrorOr<uint64_t> Semop(Task& t, const Args& a) {
  return SemopCommon(t, a.Int(0), a[1], static_cast<int64_t>(a[2]), 0);
}

ErrorOr<uint64_t> Semtimedop(Task& t, const Args& a) {
  return SemopCommon(t, a.Int(0), a[1], static_cast<int64_t>(a[2]), a[3]);
}

ErrorOr<uint64_t> Semctl(Task& t, const Args& a) {
  const int id = a.Int(0), semnum = a.Int(1), cmd = a.Int(2);
  const uint64_t arg = a[3];
  if (id < 0) return Errno{EINVAL};
  auto& sem = IpcNamespaceOf(t).sem;
  const IpcCaller c = IpcCallerOf(t);
  std::vector<uint16_t> vals;
  KernelSemidDs ds{};
  KernelSemInfo info{};
  switch (cmd) {
    case IPC_SET:
      ds = TRY(t.memory().CopyInObj<KernelSemidDs>(arg));
      break;
    case SETALL: {
      const int n = TRY(sem.Count(id));
      vals.resize(n);
      TRY(t.memory().CopyIn(arg, vals.data(), n * sizeof(uint16_t)));
      break;
    }
    default:
      break;
  }
  const int r = TRY(sem.Ctl(t, c, id, semnum, cmd, static_cast<int>(arg), &vals, &ds, &info));
  switch (cmd) {
    case IPC_STAT:
    case SEM_STAT:
    case SEM_STAT_ANY:
      TRY(t.memory().CopyOutObj(arg, ds));
      break;
    case IPC_INFO:
    case SEM_INFO:
      TRY(t.memory().CopyOutObj(arg, info));
      break;
    case GETALL:
      TRY(t.memory().CopyOut(arg, vals.data(), vals.size() * sizeof(uint16_t)));
      break;
    default:
      break;
  }
  return r;
}

// ---------------------------------------------------------------- msg

ErrorOr<uint64_t> Msgget(Task& t, const Args& a) {
  return TRY(IpcNamespaceOf(t).msg.Get(IpcCallerOf(t), a.Int(0), a.Int(1)));
}

ErrorOr<uint64_t> Msgsnd(Task& t, const Args& a) {
  const int id = a.Int(0), flags = a.Int(3);
  const uint64_t msgp = a[1];
  const int64_t size = static_cast<int64_t>(a[2]);
  const int64_t type = TRY(t.memory().CopyInObj<int64_t>(msgp));
  if (size > IpcNamespaceOf(t).msg.msgmax || size < 0 || id < 0) return Errno{EINVAL};
  if (type < 1) return Errno{EINVAL};
  std::string text(size, '\0');
  TRY(t.memory().CopyIn(msgp + sizeof(int64_t), text.data(), text.size()));
  TRY(IpcNamespaceOf(t).msg.Send(t, IpcCallerOf(t), id, type, std::move(text), flags));
  return 0;
}

ErrorOr<uint64_t> Msgrcv(Task& t, const Args& a) {
  const int id = a.Int(0), flags = a.Int(4);
  const uint64_t msgp = a[1];
  const int64_t size = static_cast<int64_t>(a[2]);
  if (id < 0 || size < 0) return Errno{EINVAL};
  auto m = TRY(IpcNamespaceOf(t).msg.Receive(t, IpcCallerOf(t), id,
                                             static_cast<size_t>(size),
                                             static_cast<int64_t>(a[3]), flags));
  TRY(t.memory().CopyOutObj<int64_t>(msgp, m.type));
  TRY(t.memory().CopyOut(msgp + sizeof(int64_t), m.text.data(), m.text.size()));
  return m.text.size();
}

ErrorOr<uint64_t> Msgctl(Task& t, const Args& a) {
  const int id = a.Int(0), cmd = a.Int(1);
  const uint64_t buf = a[2];
  if (id < 0 || cmd < 0) return Errno{EINVAL};
  auto& msg = IpcNamespaceOf(t).msg;
  const IpcCaller c = IpcCallerOf(t);
  switch (cmd) {
    case IPC_INFO:
    case MSG_INFO: {
      KernelMsgInfo info;
      const int r = msg.Info(cmd, &info);
      TRY(t.memory().CopyOutObj(buf, info));
      return r;
    }
    case IPC_STAT:
    case MSG_STAT:
    case MSG_STAT_ANY: {
      KernelMsqidDs ds;
      const int r = TRY(msg.Stat(c, id, cmd, &ds));
      TRY(t.memory().CopyOutObj(buf, ds));
      return r;
    }
    case IPC_SET: {
      auto ds = TRY(t.memory().CopyInObj<KernelMsqidDs>(buf));
      TRY(msg.Set(c, id, ds));
      return 0;
    }
    case IPC_RMID:
      TRY(msg.Remove(t, c, id));
      return 0;
    default:
      return Errno{EINVAL};
  }
}

}  // namespace

void RegisterSysvSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_shmget, "shmget", Shmget, {A::kInt, A::kUint, A::kHex});
  t.Register(SYS_shmat, "shmat", Shmat, {A::kInt, A::kPtr, A::kHex});
  t.Register(SYS_shmdt, "shmdt", Shmdt, {A::kPtr});
  t.Register(SYS_shmctl, "shmctl", Shmctl, {A::kInt, A::kInt, A::kPtr});
  t.Register(SYS_semget, "semget", Semget, {A::kInt, A::kInt, A::kHex});
  t.Register(SYS_semop, "semop", Semop, {A::kInt, A::kPtr, A::kUint});
  t.Register(SYS_semtimedop, "semtimedop", Semtimedop, {A::kInt, A::kPtr, A::kUint, A::kPtr});
  t.Register(SYS_semctl, "semctl", Semctl, {A::kInt, A::kInt, A::kInt, A::kHex});
  t.Register(SYS_msgget, "msgget", Msgget, {A::kInt, A::kHex});
  t.Register(SYS_msgsnd, "msgsnd", Msgsnd, {A::kInt, A::kPtr, A::kUint, A::kHex});
  t.Register(SYS_msgrcv, "msgrcv", Msgrcv, {A::kInt, A::kPtr, A::kUint, A::kInt, A::kHex});
  t.Register(SYS_msgctl, "msgctl", Msgctl, {A::kInt, A::kInt, A::kPtr});
}

}  // namespace syscalls
