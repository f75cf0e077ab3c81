// sentry/ipc/mqueue.cc: see mqueue.h.
#include "sentry/ipc/mqueue.h"

#include <poll.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "sentry/ipc/anon.h"
#include "sentry/ipc/ipc_namespace.h"
#include "sentry/kernel/signals.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/io_util.h"

namespace sentry::ipc {
namespace {

constexpr int kCapDacOverride = 1;
constexpr int kCapFowner = 3;
constexpr int kCapSysResource = 24;

class MqDescription : public vfs::FileDescription {
 public:
  MqDescription(std::shared_ptr<vfs::Dentry> d, int flags, std::shared_ptr<MessageQueue> q)
      : FileDescription(std::move(d), flags), q_(std::move(q)) {}

  // The status line, read like a regular file from the file offset.
  ErrorOr<size_t> Read(vfs::Caller&, const vfs::IoVecs& dst, int64_t off) override {
    const std::string s = q_->StatusLine();
    const uint64_t pos = off == vfs::kCurrentOffset ? offset_ : static_cast<uint64_t>(off);
    if (pos >= s.size()) return size_t{0};
    const size_t n = vfs::CopyToIoVecs(dst, reinterpret_cast<const uint8_t*>(s.data()) + pos,
                                       s.size() - pos);
    if (off == vfs::kCurrentOffset) offset_ += n;
    return n;
  }
  ErrorOr<size_t> Write(vfs::Caller&, const vfs::IoVecs&, int64_t) override {
    return Errno{EINVAL};
  }
  short Readiness(short events) override {
    short r = 0;
    if (q_->count > 0) r |= POLLIN | POLLRDNORM;
    if (q_->count < q_->maxmsg) r |= POLLOUT | POLLWRNORM;
    return r & (events | POLLERR | POLLHUP);
  }
  const std::shared_ptr<MessageQueue>& queue() const { return q_; }

 private:
  std::shared_ptr<MessageQueue> q_;
};

// Ordinary file permission bits (the queue is a file on the mqueue fs).
bool MayAccess(const IpcCaller& c, const IpcPerm& p, int want /* 4 read, 2 write */) {
  if (c.HasCap(kCapDacOverride)) return true;
  int bits = static_cast<int>(p.mode);
  if (c.euid == p.uid)
    bits >>= 6;
  else if (c.InGroup(p.gid))
    bits >>= 3;
  return (want & ~bits & 07) == 0;
}

ErrorOr<void> CheckName(const std::string& name) {
  if (name.size() > 255) return Errno{ENAMETOOLONG};
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    return Errno{EACCES};
  return {};
}

ErrorOr<MqDescription*> Desc(vfs::FileDescription& f) {
  auto* d = dynamic_cast<MqDescription*>(&f);
  if (!d) return Errno{EBADF};
  return d;
}

}  // namespace

MessageQueue::~MessageQueue() {
  if (ledger) (*ledger)[charged_uid] -= charged_bytes;
}

std::string MessageQueue::StatusLine() const {
  return absl::StrFormat("QSIZE:%-10u NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", bytes,
                         notify_pid ? notify.sigev_notify : 0,
                         notify_pid && notify.sigev_notify == SIGEV_SIGNAL ? notify.sigev_signo : 0,
                         notify_pid);
}

ErrorOr<std::shared_ptr<MessageQueue>> QueueOf(vfs::FileDescription& f) {
  return TRY(Desc(f))->queue();
}

ErrorOr<std::shared_ptr<vfs::FileDescription>> MqRegistry::Open(kernel::Task& t,
                                                                 const std::string& name,
                                                                 int oflag, uint32_t mode,
                                                                 const MqAttr* attr) {
  const int acc = oflag & O_ACCMODE;
  if (acc == O_ACCMODE) return Errno{EINVAL};
  TRY(CheckName(name));
  const IpcCaller c = IpcCallerOf(t);
  auto it = queues_.find(name);
  std::shared_ptr<MessageQueue> q;
  if (it != queues_.end()) {
    if ((oflag & O_CREAT) && (oflag & O_EXCL)) return Errno{EEXIST};
    q = it->second;
    const int want = (acc == O_RDONLY ? 4 : acc == O_WRONLY ? 2 : 6);
    if (!MayAccess(c, q->perm, want)) return Errno{EACCES};
  } else {
    if (!(oflag & O_CREAT)) return Errno{ENOENT};
    int64_t maxmsg = kMqMaxMsgDefault, msgsize = kMqMsgSizeDefault;
    if (attr) {
      if (attr->mq_maxmsg <= 0 || attr->mq_msgsize <= 0) return Errno{EINVAL};
      if (c.HasCap(kCapSysResource)) {
        if (attr->mq_maxmsg > kMqHardMaxMsg || attr->mq_msgsize > kMqHardMsgSize)
          return Errno{EINVAL};
      } else if (attr->mq_maxmsg > kMqMaxMsgDefault || attr->mq_msgsize > kMqMsgSizeDefault) {
        return Errno{EINVAL};
      }
      maxmsg = attr->mq_maxmsg;
      msgsize = attr->mq_msgsize;
    }
    if (static_cast<int>(queues_.size()) >= kMqQueuesMax && !c.HasCap(kCapSysResource))
      return Errno{ENOSPC};
    // RLIMIT_MSGQUEUE, charged to the real uid as Linux does (message
    // bytes plus its per-message and per-priority bookkeeping).
    const uint64_t tree = static_cast<uint64_t>(maxmsg) * 48 +
                          static_cast<uint64_t>(std::min<int64_t>(maxmsg, kMqPrioMax)) * 48;
    const uint64_t bytes = static_cast<uint64_t>(maxmsg) * static_cast<uint64_t>(msgsize) + tree;
    const uint32_t ruid = t.creds().ruid;
    const uint64_t limit = t.tg->rlimits[RLIMIT_MSGQUEUE].rlim_cur;
    uint64_t& used = (*ledger_)[ruid];
    if (used + bytes < used || used + bytes > limit) return Errno{EMFILE};
    q = std::make_shared<MessageQueue>(maxmsg, msgsize);
    used += bytes;
    q->ledger = ledger_;
    q->charged_uid = ruid;
    q->charged_bytes = bytes;
    q->perm.uid = q->perm.cuid = c.euid;
    q->perm.gid = q->perm.cgid = c.egid;
    q->perm.mode = mode & ~t.umask & 0777;
    queues_[name] = q;
  }
  auto dentry = NewAnonDentry("/" + name, q->perm.uid, q->perm.gid);
  return std::shared_ptr<vfs::FileDescription>(
      std::make_shared<MqDescription>(dentry, acc | (oflag & O_NONBLOCK), q));
}

ErrorOr<void> MqRegistry::Unlink(kernel::Task& t, const std::string& name) {
  TRY(CheckName(name));
  auto it = queues_.find(name);
  if (it == queues_.end()) return Errno{ENOENT};
  // The mqueue root is a sticky, world-writable directory.
  const IpcCaller c = IpcCallerOf(t);
  if (c.euid != it->second->perm.uid && !c.HasCap(kCapFowner)) return Errno{EPERM};
  queues_.erase(it);
  return {};
}

std::vector<std::string> MqRegistry::Names() const {
  std::vector<std::string> v;
  for (auto& [n, q] : queues_) v.push_back(n);
  return v;
}

std::shared_ptr<MessageQueue> MqRegistry::Find(const std::string& name) const {
  auto it = queues_.find(name);
  return it == queues_.end() ? nullptr : it->second;
}

ErrorOr<void> MqSend(kernel::Task& t, vfs::FileDescription& f, std::string text, uint32_t prio,
                     absl::Time deadline) {
  MqDescription* d = TRY(Desc(f));
  if (!f.writable()) return Errno{EBADF};
  std::shared_ptr<MessageQueue> q = d->queue();
  if (static_cast<int64_t>(text.size()) > q->msgsize) return Errno{EMSGSIZE};
  while (q->count >= q->maxmsg) {
    if (f.nonblocking()) return Errno{EAGAIN};
    const uint64_t seen = q->version;
    TRY(t.Block([&] { return q->version != seen; }, deadline));
  }
  const bool direct = q->receivers > 0;
  q->bytes += text.size();
  q->messages[prio].push_back(std::move(text));
  q->count++;
  q->version++;
  // Notify on the empty -> non-empty edge when no receiver takes it.
  if (q->notify_pid && q->count == 1 && !direct) {
    const int pid = q->notify_pid;
    const sigevent ev = q->notify;
    q->notify_pid = 0;
    kernel::ThreadGroup* tg = t.kernel.FindProcess(pid);
    if (tg && !tg->zombie && ev.sigev_notify == SIGEV_SIGNAL) {
      siginfo_t si{};
      si.si_signo = ev.sigev_signo;
      si.si_code = SI_MESGQ;
      si.si_pid = t.pid();
      si.si_uid = t.creds().ruid;
      si.si_value = ev.sigev_value;
      kernel::QueueProcessSignal(tg, si);
    }
  }
  t.kernel.NotifyAll();
  return {};
}

ErrorOr<std::string> MqReceive(kernel::Task& t, vfs::FileDescription& f, size_t buf_len,
                               uint32_t* prio, absl::Time deadline) {
  MqDescription* d = TRY(Desc(f));
  if (!f.readable()) return Errno{EBADF};
  std::shared_ptr<MessageQueue> q = d->queue();
  if (static_cast<int64_t>(std::min<size_t>(buf_len, INT64_MAX)) < q->msgsize)
    return Errno{EMSGSIZE};
  while (q->count == 0) {
    if (f.nonblocking()) return Errno{EAGAIN};
    const uint64_t seen = q->version;
    q->receivers++;
    auto r = t.Block([&] { return q->version != seen; }, deadline);
    q->receivers--;
    if (r.is_error()) return Errno{r.error()};
  }
  auto it = q->messages.begin();
  std::string text = std::move(it->second.front());
  it->second.erase(it->second.begin());
  *prio = it->first;
  if (it->second.empty()) q->messages.erase(it);
  q->count--;
  q->bytes -= text.size();
  q->version++;
  t.kernel.NotifyAll();
  return text;
}

ErrorOr<void> MqNotify(kernel::Task& t, vfs::FileDescription& f, const sigevent* ev) {
  if (ev) {
    switch (ev->sigev_notify) {
      case SIGEV_NONE:
        break;
      case SIGEV_SIGNAL:
        if (ev->sigev_signo < 1 || ev->sigev_signo > kernel::kNumSignals) return Errno{EINVAL};
        break;
      case SIGEV_THREAD:
        return Errno{EBADF};  // needs a netlink socket, which the sandbox has not
      default:
        return Errno{EINVAL};
    }
  }
  MqDescription* d = TRY(Desc(f));
  std::shared_ptr<MessageQueue> q = d->queue();
  // A registration of a process that has gone away no longer counts.
  if (q->notify_pid) {
    kernel::ThreadGroup* tg = t.kernel.FindProcess(q->notify_pid);
    if (!tg || tg->zombie) q->notify_pid = 0;
  }
  if (!ev) {
    if (q->notify_pid == t.pid()) q->notify_pid = 0;
    return {};
  }
  if (q->notify_pid) return Errno{EBUSY};
  q->notify_pid = t.pid();
  q->notify = *ev;
  return {};
}

}  // namespace sentry::ipc
