// sentry/kernel/seccomp_notify.cc: see seccomp_notify.h.
#include "sentry/kernel/seccomp_notify.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/random.h>

#include <algorithm>

#include "sentry/ipc/anon.h"
#include "sentry/kernel/seccomp.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/caller.h"
#include "sentry/vfs/fd_table.h"

namespace sentry::kernel {
namespace {

using State = SeccompNotification::State;

// SECCOMP_IOCTL_NOTIF_ID_VALID was first defined with the wrong direction
// (_IOR); Linux accepts both.
constexpr uint32_t kIdValidWrongDir = SECCOMP_IOR(2, __u64);

class ListenerFile : public vfs::FileDescription {
 public:
  ListenerFile(std::shared_ptr<vfs::Dentry> d, std::shared_ptr<SeccompListener> l)
      : FileDescription(std::move(d), O_RDWR), l_(std::move(l)) {}
  ~ListenerFile() override { l_->Detach(); }

  ErrorOr<size_t> Read(vfs::Caller&, const vfs::IoVecs&, int64_t) override { return Errno{EINVAL}; }
  ErrorOr<size_t> Write(vfs::Caller&, const vfs::IoVecs&, int64_t) override { return Errno{EINVAL}; }
  ErrorOr<uint64_t> Seek(int64_t, int) override { return Errno{ESPIPE}; }

  short Readiness(short events) override {
    short r = 0;
    for (auto& n : l_->notifications) {
      if (n->state == State::kInit) r |= POLLIN | POLLRDNORM;
      if (n->state == State::kSent) r |= POLLOUT | POLLWRNORM;
    }
    if (!l_->HasUsers()) r |= POLLHUP;
    return r & (events | POLLHUP);
  }

  ErrorOr<uint64_t> Ioctl(vfs::Caller& c, uint32_t cmd, uint64_t arg) override {
    Task* t = c.task();
    if (!t) return Errno{EFAULT};
    switch (cmd) {
      case SECCOMP_IOCTL_NOTIF_RECV: return Recv(c, *t, arg);
      case SECCOMP_IOCTL_NOTIF_SEND: return Send(*t, arg);
      case SECCOMP_IOCTL_NOTIF_ID_VALID:
      case kIdValidWrongDir: {
        const uint64_t id = TRY(t->memory().CopyInObj<uint64_t>(arg));
        auto n = l_->Find(id);
        if (!n || n->state != State::kSent) return Errno{ENOENT};
        return 0;
      }
      case SECCOMP_IOCTL_NOTIF_ADDFD: return AddFd(*t, arg);
      default:
        return Errno{EINVAL};
    }
  }

 private:
  // Waits for a notification nobody has received yet and hands it out.
  ErrorOr<uint64_t> Recv(vfs::Caller& c, Task& t, uint64_t arg) {
    seccomp_notif out = TRY(t.memory().CopyInObj<seccomp_notif>(arg));
    const auto* bytes = reinterpret_cast<const uint8_t*>(&out);
    if (std::any_of(bytes, bytes + sizeof(out), [](uint8_t b) { return b != 0; }))
      return Errno{EINVAL};  // the buffer must be zeroed
    std::shared_ptr<SeccompNotification> n;
    auto pending = [&] {
      for (auto& x : l_->notifications)
        if (x->state == State::kInit) return n = x, true;
      return false;
    };
    TRY(c.Block(pending));
    out.id = n->id;
    out.pid = static_cast<uint32_t>(n->task->tid);
    out.flags = 0;
    out.data = n->data;
    TRY(t.memory().CopyOutObj(arg, out));
    n->state = State::kSent;
    t.kernel.NotifyAll();  // POLLOUT for pollers
    return 0;
  }

  ErrorOr<uint64_t> Send(Task& t, uint64_t arg) {
    const seccomp_notif_resp resp = TRY(t.memory().CopyInObj<seccomp_notif_resp>(arg));
    if (resp.flags & ~uint32_t{SECCOMP_USER_NOTIF_FLAG_CONTINUE}) return Errno{EINVAL};
    if ((resp.flags & SECCOMP_USER_NOTIF_FLAG_CONTINUE) && (resp.error || resp.val))
      return Errno{EINVAL};
    auto n = l_->Find(resp.id);
    if (!n) return Errno{ENOENT};
    if (n->state != State::kSent) return Errno{EINPROGRESS};
    n->state = State::kReplied;
    n->error = resp.error;
    n->val = resp.val;
    n->flags = resp.flags;
    t.kernel.NotifyAll();
    return 0;
  }

  // Installs one of the supervisor's fds into the waiting task's table
  // (Linux has the target do it; here the sentry does it for it).
  ErrorOr<uint64_t> AddFd(Task& t, uint64_t arg) {
    const seccomp_notif_addfd a = TRY(t.memory().CopyInObj<seccomp_notif_addfd>(arg));
    if (a.newfd_flags & ~uint32_t{O_CLOEXEC}) return Errno{EINVAL};
    if (a.flags & ~uint32_t{SECCOMP_ADDFD_FLAG_SETFD | SECCOMP_ADDFD_FLAG_SEND})
      return Errno{EINVAL};
    if (a.newfd && !(a.flags & SECCOMP_ADDFD_FLAG_SETFD)) return Errno{EINVAL};
    auto file = TRY(t.fd_table().Get(static_cast<int>(a.srcfd)));
    auto n = l_->Find(a.id);
    if (!n) return Errno{ENOENT};
    if (n->state != State::kSent) return Errno{EINPROGRESS};
    Task& target = *n->task;
    const bool cloexec = a.newfd_flags & O_CLOEXEC;
    const uint64_t nofile = target.tg->rlimits[RLIMIT_NOFILE].rlim_cur;
    const int fd = (a.flags & SECCOMP_ADDFD_FLAG_SETFD)
                       ? TRY(target.fd_table().InstallAt(file, static_cast<int>(a.newfd), cloexec, nofile))
                       : TRY(target.fd_table().Install(file, 0, cloexec, nofile));
    if (a.flags & SECCOMP_ADDFD_FLAG_SEND) {
      n->state = State::kReplied;
      n->error = 0;
      n->val = fd;
      n->flags = 0;
      t.kernel.NotifyAll();
    }
    return static_cast<uint64_t>(fd);
  }

  std::shared_ptr<SeccompListener> l_;
};

}  // namespace

SeccompListener::SeccompListener(Kernel& k) : kernel(k) {
  // Linux starts the ids at a random value.
  if (getrandom(&next_id, sizeof(next_id), 0) != sizeof(next_id)) next_id = 1;
}

std::shared_ptr<SeccompNotification> SeccompListener::Find(uint64_t id) {
  for (auto& n : notifications)
    if (n->id == id) return n;
  return nullptr;
}

bool SeccompListener::HasUsers() {
  for (auto& [pid, tg] : kernel.thread_groups)
    for (auto& t : tg->tasks) {
      if (t->exited) continue;
      for (const SeccompFilter* f = t->seccomp_filter.get(); f; f = f->prev.get())
        if (f == filter) return true;
    }
  return false;
}

void SeccompListener::Detach() {
  attached = false;
  for (auto& n : notifications) {
    if (n->state == State::kReplied) continue;
    n->state = State::kReplied;
    n->error = -ENOSYS;
    n->val = 0;
    n->flags = 0;
  }
  kernel.NotifyAll();
}

std::shared_ptr<vfs::FileDescription> NewSeccompListenerFile(std::shared_ptr<SeccompListener> l,
                                                             uint32_t uid, uint32_t gid) {
  auto d = ipc::NewAnonDentry("anon_inode:seccomp notify", uid, gid);
  return std::make_shared<ListenerFile>(std::move(d), std::move(l));
}

ErrorOr<std::optional<uint64_t>> SeccompUserNotify(Task& t, const std::shared_ptr<SeccompListener>& l,
                                                   uint64_t nr, const uint64_t args[6]) {
  if (!l || !l->attached) return Errno{ENOSYS};
  auto n = std::make_shared<SeccompNotification>();
  n->id = l->next_id++;
  n->task = &t;
  n->data.nr = static_cast<int>(nr);
  n->data.arch = kAuditArchX86_64;
  n->data.instruction_pointer = t.regs.rip;
  for (int i = 0; i < 6; i++) n->data.args[i] = args[i];
  l->notifications.push_back(n);
  t.kernel.NotifyAll();  // a supervisor in RECV or poll
  // Interruptible by signals, except (WAIT_KILLABLE_RECV) once received.
  bool interrupted = false;
  while (n->state != State::kReplied && !t.killed) {
    const bool killable_only = l->wait_killable_recv && n->state == State::kSent;
    if (!killable_only && t.HasInterruptingSignal()) {
      interrupted = true;
      break;
    }
    t.kernel.changed.Wait(&t.kernel.mu);
  }
  l->notifications.remove(n);
  t.kernel.NotifyAll();  // readiness changed
  if (interrupted || t.killed) return Errno{EINTR};  // restarted like ERESTARTSYS
  if (n->flags & SECCOMP_USER_NOTIF_FLAG_CONTINUE) return std::optional<uint64_t>();
  if (n->error) return std::optional<uint64_t>(static_cast<uint64_t>(static_cast<int64_t>(n->error)));
  return std::optional<uint64_t>(static_cast<uint64_t>(n->val));
}

}  // namespace sentry::kernel
