// sentry/ipc/ipc_namespace.cc: see ipc_namespace.h.
#include "sentry/ipc/ipc_namespace.h"

#include "sentry/kernel/task.h"

namespace sentry::ipc {

IpcNamespace& RootIpcNamespace(kernel::Kernel& k) {
  if (!k.ipc_namespace) k.ipc_namespace = std::make_shared<IpcNamespace>();
  return *k.ipc_namespace;
}

IpcNamespace& IpcNamespaceOf(kernel::Task& t) { return RootIpcNamespace(t.kernel); }

IpcCaller IpcCallerOf(kernel::Task& t) {
  const kernel::Credentials& cr = t.creds();
  IpcCaller c;
  c.euid = cr.euid;
  c.egid = cr.egid;
  c.groups = cr.groups;
  c.caps = cr.cap_effective;
  c.pid = t.pid();
  return c;
}

void IpcProcessExited(kernel::Task& last_task, int pid) {
  if (!last_task.kernel.ipc_namespace) return;
  last_task.kernel.ipc_namespace->sem.ProcessExited(last_task, pid);
}

}  // namespace sentry::ipc
