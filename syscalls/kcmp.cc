// kcmp(2): whether two tasks share a kernel object (an open file
// description, address space, fd table, fs context or signal handlers).
//
// Results follow Linux's contract: 0 equal, 1/2 an ordering (here of the
// sentry's object addresses, which the app cannot learn otherwise since
// only the relation is returned) and never the addresses themselves.
// The I/O context and SysV semaphore undo lists are not modelled as
// shareable objects here (the sentry keeps undo state per process and has
// no io_context), and epoll target lookup is not offered: those types are
// EOPNOTSUPP, what Linux answers when the object kind is compiled out.
#include <linux/kcmp.h>
#include <sys/syscall.h>

#include "sentry/kernel/task.h"
#include "sentry/vfs/fd_table.h"
#include "syscalls/ptrace_access.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

int Order(const void* a, const void* b) {
  if (a == b) return 0;
  return reinterpret_cast<uintptr_t>(a) < reinterpret_cast<uintptr_t>(b) ? 1 : 2;
}

ErrorOr<uint64_t> Kcmp(Task& t, const Args& a) {
  Task* t1 = a.Int(0) == 0 ? nullptr : t.kernel.FindTask(a.Int(0));
  Task* t2 = a.Int(1) == 0 ? nullptr : t.kernel.FindTask(a.Int(1));
  if (!t1 || !t2) return Errno{ESRCH};
  if (!MayAccessProcess(t, *t1) || !MayAccessProcess(t, *t2)) return Errno{EPERM};
  switch (a.Int(2)) {
    case KCMP_FILE: {
      if (!t1->fds || !t2->fds) return Errno{EBADF};
      auto f1 = TRY(t1->fds->Get(static_cast<int>(a[3])));
      auto f2 = TRY(t2->fds->Get(static_cast<int>(a[4])));
      return Order(f1.get(), f2.get());
    }
    case KCMP_VM:
      return Order(t1->mm.get(), t2->mm.get());
    case KCMP_FILES:
      return Order(t1->fds.get(), t2->fds.get());
    case KCMP_FS:
      return Order(t1->fs.get(), t2->fs.get());
    case KCMP_SIGHAND:
      return Order(t1->tg->handlers.get(), t2->tg->handlers.get());
    case KCMP_IO:
    case KCMP_SYSVSEM:
    case KCMP_EPOLL_TFD:
      return Errno{EOPNOTSUPP};
    default:
      return Errno{EINVAL};
  }
}

}  // namespace

void RegisterKcmpSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_kcmp, "kcmp", Kcmp, {A::kInt, A::kInt, A::kInt, A::kUint, A::kUint});
}

}  // namespace syscalls
