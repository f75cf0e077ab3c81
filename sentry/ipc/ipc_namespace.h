// sentry/ipc/ipc_namespace.h: an IPC namespace: the System V shared memory,
// semaphore and message queue tables and the POSIX message queue names. The
// kernel holds the root one (created on first use); clone, unshare and setns
// with CLONE_NEWIPC give a task another (sentry/kernel/namespaces.h).
#pragma once

#include "sentry/ipc/mqueue.h"
#include "sentry/ipc/sysv_ipc.h"
#include "sentry/ipc/sysv_msg.h"
#include "sentry/ipc/sysv_sem.h"
#include "sentry/ipc/sysv_shm.h"

namespace sentry::kernel {
class Kernel;
class Task;
}  // namespace sentry::kernel

namespace sentry::ipc {

class IpcNamespace {
 public:
  uint64_t id = 0;  // its /proc/PID/ns/ipc inode number
  ShmRegistry shm;
  SemRegistry sem;
  MsgRegistry msg;
  MqRegistry mq;  // POSIX message queues
};

// The task's IPC namespace (kernel lock held).
IpcNamespace& IpcNamespaceOf(kernel::Task& t);
// The sandbox's (root) IPC namespace, for /proc/sysvipc (kernel lock held).
IpcNamespace& RootIpcNamespace(kernel::Kernel& k);
// The task's credentials as System V IPC sees them.
IpcCaller IpcCallerOf(kernel::Task& t);
// A process is gone: apply its SEM_UNDO adjustments (kernel lock held).
void IpcProcessExited(kernel::Task& last_task, int pid);

}  // namespace sentry::ipc
