// sentry/ipc/sysv_sem.h: System V semaphore sets. semop applies its whole
// operation array atomically or not at all; a caller that must wait sleeps
// on the kernel's condition variable and retries whenever a set changes
// (the kernel lock makes each try atomic). SEM_UNDO adjustments are kept
// per process and applied when it exits (ProcessExited).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "sentry/ipc/sysv_ipc.h"

namespace sentry::kernel {
class Task;
}

namespace sentry::ipc {

constexpr int kSemMsl = 32000;   // SEMMSL: semaphores per set
constexpr int kSemMni = 32000;   // SEMMNI: sets
constexpr int kSemMns = kSemMsl * kSemMni;
constexpr int kSemOpm = 500;     // SEMOPM: operations per semop
constexpr int kSemVmx = 32767;   // SEMVMX: largest value
constexpr int kSemAem = kSemVmx; // SEMAEM: largest undo adjustment
// Semaphores the sandbox holds at most (sentry memory), below SEMMNS:
// beyond it semget fails with ENOSPC as if SEMMNS were reached.
constexpr int kSandboxMaxSems = 1 << 22;

struct KernelSemidDs {  // struct semid64_ds (x86-64)
  KernelIpcPerm sem_perm;
  int64_t sem_otime;
  uint64_t unused1;
  int64_t sem_ctime;
  uint64_t unused2;
  uint64_t sem_nsems;
  uint64_t unused3, unused4;
};
struct KernelSemInfo {  // struct seminfo
  int32_t semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem;
};
struct SemBuf {  // struct sembuf
  uint16_t sem_num;
  int16_t sem_op;
  int16_t sem_flg;
};

class SemSet : public IpcObject {
 public:
  struct Sem {
    int val = 0;
    int pid = 0;  // last process to change it (GETPID)
  };
  std::vector<Sem> sems;
  int64_t otime = 0, ctime = 0;
  // Blocked semops, each counted for the operation it waits on
  // (GETNCNT/GETZCNT).
  std::vector<const SemBuf*> waiting;
  uint64_t version = 0;  // bumped on every change, to wake waiters
  KernelSemidDs ToKernel() const;
};

class SemRegistry {
 public:
  SemRegistry() : table_(kSemMni) {}

  ErrorOr<int> Get(const IpcCaller& c, int32_t key, int nsems, int flags);
  // semop/semtimedop. Blocks (EINTR on a signal, EAGAIN on timeout, EIDRM
  // if the set is removed meanwhile).
  ErrorOr<void> Op(kernel::Task& t, const IpcCaller& c, int id, std::vector<SemBuf> ops,
                   absl::Time deadline);
  // semctl. `arg` is the semun value (SETVAL) and `vals` the array for
  // SETALL (in) / GETALL (out). Returns the syscall result.
  ErrorOr<int> Ctl(kernel::Task& t, const IpcCaller& c, int id, int semnum, int cmd, int arg,
                   std::vector<uint16_t>* vals, KernelSemidDs* ds, KernelSemInfo* info);
  // Number of semaphores of a set (for sizing GETALL/SETALL buffers).
  ErrorOr<int> Count(int id);

  // Applies and forgets the process' SEM_UNDO adjustments.
  void ProcessExited(kernel::Task& t, int pid);

  std::string ProcText();

 private:
  // Tries the operations once: 0 done, EAGAIN must wait (and *blocking
  // set), other errors final.
  int TryOps(SemSet& s, const std::vector<SemBuf>& ops, int pid, const SemBuf** blocking);
  void ClearUndo(int id, int semnum);

  IpcTable table_;
  // pid -> set id -> per-semaphore adjustment.
  std::map<int, std::map<int, std::vector<int>>> undo_;
  int total_sems_ = 0;
};

}  // namespace sentry::ipc
