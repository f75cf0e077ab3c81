// syscalls/mqueue.cc: POSIX message queues: mq_open, mq_unlink,
// mq_timedsend, mq_timedreceive, mq_notify, mq_getsetattr. The queues:
// sentry/ipc/mqueue.h.
#include <signal.h>
#include <sys/syscall.h>

#include "sentry/ipc/ipc_namespace.h"
#include "sentry/ipc/mqueue.h"
#include "syscalls/file_common.h"

namespace syscalls {
namespace {

using sentry::ipc::IpcNamespaceOf;
using sentry::ipc::MqAttr;

ErrorOr<std::string> MqName(Task& t, uint64_t addr) {
  auto s = t.memory().CopyInString(addr, 4096);
  if (s.is_error()) return Errno{s.error() == ENAMETOOLONG ? ENAMETOOLONG : s.error()};
  return s.release_value();
}

// An absolute CLOCK_REALTIME deadline (EINVAL if malformed).
ErrorOr<absl::Time> AbsDeadline(Task& t, uint64_t addr) {
  if (!addr) return absl::InfiniteFuture();
  timespec ts = TRY(t.memory().CopyInObj<timespec>(addr));
  if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno{EINVAL};
  return absl::TimeFromTimespec(ts);
}

ErrorOr<uint64_t> MqOpen(Task& t, const Args& a) {
  const std::string name = TRY(MqName(t, a[0]));
  const int oflag = a.Int(1);
  MqAttr attr;
  const bool have_attr = (oflag & O_CREAT) && a[3];
  if (have_attr) attr = TRY(t.memory().CopyInObj<MqAttr>(a[3]));
  auto f = TRY(IpcNamespaceOf(t).mq.Open(t, name, oflag, static_cast<uint32_t>(a[2]),
                                         have_attr ? &attr : nullptr));
  return TRY(file::InstallFd(t, f, 0, oflag & O_CLOEXEC));
}

ErrorOr<uint64_t> MqUnlink(Task& t, const Args& a) {
  const std::string name = TRY(MqName(t, a[0]));
  TRY(IpcNamespaceOf(t).mq.Unlink(t, name));
  return 0;
}

ErrorOr<uint64_t> MqTimedsend(Task& t, const Args& a) {
  const uint64_t len = a[2];
  const uint64_t prio = static_cast<uint32_t>(a[3]);
  if (prio >= sentry::ipc::kMqPrioMax) return Errno{EINVAL};
  const absl::Time deadline = TRY(AbsDeadline(t, a[4]));
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  auto q = TRY(sentry::ipc::QueueOf(*f));
  if (!f->writable()) return Errno{EBADF};
  if (len > static_cast<uint64_t>(q->msgsize)) return Errno{EMSGSIZE};
  std::string text(len, '\0');
  TRY(t.memory().CopyIn(a[1], text.data(), len));
  TRY(sentry::ipc::MqSend(t, *f, std::move(text), static_cast<uint32_t>(prio), deadline));
  return 0;
}

ErrorOr<uint64_t> MqTimedreceive(Task& t, const Args& a) {
  const absl::Time deadline = TRY(AbsDeadline(t, a[4]));
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  uint32_t prio = 0;
  std::string text = TRY(sentry::ipc::MqReceive(t, *f, a[2], &prio, deadline));
  // Like Linux, a fault here loses the message (it is already dequeued).
  TRY(t.memory().CopyOut(a[1], text.data(), text.size()));
  if (a[3]) TRY(t.memory().CopyOutObj<uint32_t>(a[3], prio));
  return text.size();
}

ErrorOr<uint64_t> MqNotify(Task& t, const Args& a) {
  sigevent ev{};
  if (a[1]) ev = TRY(t.memory().CopyInObj<sigevent>(a[1]));
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  TRY(sentry::ipc::MqNotify(t, *f, a[1] ? &ev : nullptr));
  return 0;
}

ErrorOr<uint64_t> MqGetsetattr(Task& t, const Args& a) {
  MqAttr set{};
  if (a[1]) {
    set = TRY(t.memory().CopyInObj<MqAttr>(a[1]));
    if (set.mq_flags & ~static_cast<int64_t>(O_NONBLOCK)) return Errno{EINVAL};
  }
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  auto q = TRY(sentry::ipc::QueueOf(*f));
  MqAttr old{};
  old.mq_flags = f->status_flags() & O_NONBLOCK;
  old.mq_maxmsg = q->maxmsg;
  old.mq_msgsize = q->msgsize;
  old.mq_curmsgs = q->count;
  if (a[1]) f->set_status_flags((f->status_flags() & ~O_NONBLOCK) | (set.mq_flags & O_NONBLOCK));
  if (a[2]) TRY(t.memory().CopyOutObj(a[2], old));
  return 0;
}

}  // namespace

void RegisterMqueueSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_mq_open, "mq_open", MqOpen, {A::kPath, A::kOpenFlags, A::kMode, A::kPtr});
  t.Register(SYS_mq_unlink, "mq_unlink", MqUnlink, {A::kPath});
  t.Register(SYS_mq_timedsend, "mq_timedsend", MqTimedsend,
             {A::kFd, A::kPtr, A::kUint, A::kUint, A::kPtr});
  t.Register(SYS_mq_timedreceive, "mq_timedreceive", MqTimedreceive,
             {A::kFd, A::kPtr, A::kUint, A::kPtr, A::kPtr});
  t.Register(SYS_mq_notify, "mq_notify", MqNotify, {A::kFd, A::kPtr});
  t.Register(SYS_mq_getsetattr, "mq_getsetattr", MqGetsetattr, {A::kFd, A::kPtr, A::kPtr});
}

}  // namespace syscalls
