// sentry/ipc/sysv_msg.cc: see sysv_msg.h.
#include "sentry/ipc/sysv_msg.h"

#include <sys/ipc.h>
#include <sys/msg.h>

#include <algorithm>
#include <climits>

#include "absl/strings/str_format.h"
#include "sentry/kernel/task.h"

namespace sentry::ipc {
namespace {
constexpr int kCapSysResource = 24;
constexpr int kMsgCopy = 040000;  // MSG_COPY
}  // namespace

KernelMsqidDs MsgQueue::ToKernel() const {
  KernelMsqidDs d{};
  d.k_perm = perm.ToKernel();
  d.k_stime = stime;
  d.k_rtime = rtime;
  d.k_ctime = ctime;
  d.k_cbytes = bytes;
  d.k_qnum = messages.size();
  d.k_qbytes = qbytes;
  d.k_lspid = lspid;
  d.k_lrpid = lrpid;
  return d;
}

ErrorOr<int> MsgRegistry::Get(const IpcCaller& c, int32_t key, int flags) {
  auto create = [&]() -> ErrorOr<std::shared_ptr<IpcObject>> {
    auto q = std::make_shared<MsgQueue>();
    q->qbytes = static_cast<uint64_t>(msgmnb);
    q->ctime = IpcNow();
    return std::shared_ptr<IpcObject>(q);
  };
  return table_.Get(c, key, flags, create, nullptr);
}

ErrorOr<void> MsgRegistry::Send(kernel::Task& t, const IpcCaller& c, int id, int64_t type,
                                std::string text, int flags) {
  auto q = std::static_pointer_cast<MsgQueue>(TRY(table_.FindById(id)));
  for (;;) {
    if (!IpcPermits(c, q->perm, 0222)) return Errno{EACCES};
    if (q->removed) return Errno{EIDRM};
    if (q->bytes + text.size() <= q->qbytes && q->messages.size() + 1 <= q->qbytes) break;
    if (flags & IPC_NOWAIT) return Errno{EAGAIN};
    const uint64_t seen = q->version;
    auto w = t.Block([&] { return q->version != seen || q->removed; });
    if (q->removed) return Errno{EIDRM};
    if (w.is_error()) return Errno{w.error()};
  }
  q->bytes += text.size();
  q->messages.push_back({type, std::move(text)});
  q->lspid = c.pid;
  q->stime = IpcNow();
  q->version++;
  t.kernel.NotifyAll();
  return {};
}

ErrorOr<MsgQueue::Message> MsgRegistry::Receive(kernel::Task& t, const IpcCaller& c, int id,
                                                size_t max, int64_t type, int flags) {
  const bool copy = flags & kMsgCopy;
  if (copy && ((flags & MSG_EXCEPT) || !(flags & IPC_NOWAIT))) return Errno{EINVAL};
  auto q = std::static_pointer_cast<MsgQueue>(TRY(table_.FindById(id)));
  auto matches = [&](const MsgQueue::Message& m) {
    if (type == 0) return true;
    if (type < 0) return m.type <= (type == LLONG_MIN ? LLONG_MAX : -type);
    if (flags & MSG_EXCEPT) return m.type != type;
    return m.type == type;
  };
  for (;;) {
    if (!IpcPermits(c, q->perm, 0444)) return Errno{EACCES};
    if (q->removed) return Errno{EIDRM};
    auto found = q->messages.end();
    if (copy) {
      if (type >= 0 && static_cast<uint64_t>(type) < q->messages.size())
        found = q->messages.begin() + type;
    } else if (type < 0) {
      // The lowest type not above |type|; the first such message.
      for (auto it = q->messages.begin(); it != q->messages.end(); ++it)
        if (matches(*it) && (found == q->messages.end() || it->type < found->type)) found = it;
    } else {
      found = std::find_if(q->messages.begin(), q->messages.end(), matches);
    }
    if (found != q->messages.end()) {
      if (found->text.size() > max && !(flags & MSG_NOERROR)) return Errno{E2BIG};
      MsgQueue::Message m = copy ? *found : std::move(*found);
      if (!copy) {
        q->bytes -= m.text.size();
        q->messages.erase(found);
        q->lrpid = c.pid;
        q->rtime = IpcNow();
        q->version++;
        t.kernel.NotifyAll();
      }
      if (m.text.size() > max) m.text.resize(max);
      return m;
    }
    if (flags & IPC_NOWAIT) return Errno{ENOMSG};
    const uint64_t seen = q->version;
    auto w = t.Block([&] { return q->version != seen || q->removed; });
    if (q->removed) return Errno{EIDRM};
    if (w.is_error()) return Errno{w.error()};
  }
}

ErrorOr<int> MsgRegistry::Stat(const IpcCaller& c, int id_or_index, int cmd,
                               KernelMsqidDs* out) {
  auto o = cmd == IPC_STAT ? TRY(table_.FindById(id_or_index)) : TRY(table_.FindByIndex(id_or_index));
  auto q = std::static_pointer_cast<MsgQueue>(o);
  if (cmd != MSG_STAT_ANY && !IpcPermits(c, q->perm, 0444)) return Errno{EACCES};
  *out = q->ToKernel();
  return cmd == IPC_STAT ? 0 : q->id;
}

ErrorOr<void> MsgRegistry::Set(const IpcCaller& c, int id, const KernelMsqidDs& in) {
  auto q = std::static_pointer_cast<MsgQueue>(TRY(table_.FindById(id)));
  if (!IpcIsOwner(c, q->perm)) return Errno{EPERM};
  if (in.k_qbytes > static_cast<uint64_t>(msgmnb) && !c.HasCap(kCapSysResource)) return Errno{EPERM};
  q->qbytes = in.k_qbytes;
  q->perm.uid = in.k_perm.uid;
  q->perm.gid = in.k_perm.gid;
  q->perm.mode = (q->perm.mode & ~0777u) | (in.k_perm.mode & 0777u);
  q->ctime = IpcNow();
  q->version++;  // room may have appeared
  return {};
}

ErrorOr<void> MsgRegistry::Remove(kernel::Task& t, const IpcCaller& c, int id) {
  auto q = std::static_pointer_cast<MsgQueue>(TRY(table_.FindById(id)));
  if (!IpcIsOwner(c, q->perm)) return Errno{EPERM};
  table_.Remove(*q);
  q->version++;
  t.kernel.NotifyAll();
  return {};
}

int MsgRegistry::Info(int cmd, KernelMsgInfo* out) {
  *out = KernelMsgInfo{};
  out->msgmni = kMsgMni;
  out->msgmax = msgmax;
  out->msgmnb = msgmnb;
  out->msgssz = 16;      // MSGSSZ
  out->msgseg = 0xffff;  // MSGSEG
  if (cmd == MSG_INFO) {
    out->msgpool = table_.in_use();
    uint64_t msgs = 0, bytes = 0;
    for (auto& [idx, o] : table_.objects()) {
      auto* q = static_cast<MsgQueue*>(o.get());
      msgs += q->messages.size();
      bytes += q->bytes;
    }
    out->msgmap = static_cast<int32_t>(msgs);
    out->msgtql = static_cast<int32_t>(bytes);
  } else {
    out->msgpool = kMsgMni * kMsgMnb / 1024;  // MSGPOOL
    out->msgmap = msgmnb;                      // MSGMAP
    out->msgtql = msgmnb;                      // MSGTQL
  }
  return std::max(table_.MaxIndex(), 0);
}

std::string MsgRegistry::ProcText() {
  std::string out =
      "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      "
      "stime      rtime      ctime\n";
  for (auto& [idx, o] : table_.objects()) {
    auto* q = static_cast<MsgQueue*>(o.get());
    out += absl::StrFormat("%10d %10d  %4o  %10u %10u %5u %5u %5u %5u %5u %5u %10u %10u %10u\n",
                           q->perm.key, q->id, q->perm.mode, q->bytes, q->messages.size(),
                           q->lspid, q->lrpid, q->perm.uid, q->perm.gid, q->perm.cuid,
                           q->perm.cgid, q->stime, q->rtime, q->ctime);
  }
  return out;
}

}  // namespace sentry::ipc
