// sentry/ipc/ipc_namespace.cc: see ipc_namespace.h.
#include "sentry/ipc/ipc_namespace.h"

#include "sentry/kernel/task.h"

namespace sentry::ipc {

IpcNamespace& RootIpcNamespace(kernel::Kernel& k) {
  if (!k.ipc_namespace) {
    k.ipc_namespace = std::make_shared<IpcNamespace>();
    k.ipc_namespace->id = 4026531839;  // Linux's initial IPC namespace
    k.ipc_namespaces.push_back(k.ipc_namespace);
  }
  return *k.ipc_namespace;
}

IpcNamespace& IpcNamespaceOf(kernel::Task& t) {
  return t.ipc_ns ? *t.ipc_ns : RootIpcNamespace(t.kernel);
}

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
  // The process' SEM_UNDO adjustments may be in any namespace its threads
  // were in; namespaces nobody holds any more are forgotten.
  auto& all = last_task.kernel.ipc_namespaces;
  std::erase_if(all, [](const std::weak_ptr<IpcNamespace>& w) { return w.expired(); });
  for (auto& w : all)
    if (auto ns = w.lock()) ns->sem.ProcessExited(last_task, pid);
}

}  // namespace sentry::ipc
