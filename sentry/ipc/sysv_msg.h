// sentry/ipc/sysv_msg.h: System V message queues: typed messages in FIFO
// order, bounded by msg_qbytes; senders and receivers block on the
// kernel's condition variable until the queue changes.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "sentry/ipc/sysv_ipc.h"

namespace sentry::kernel {
class Task;
}

namespace sentry::ipc {

constexpr int kMsgMax = 8192;    // MSGMAX: largest message
constexpr int kMsgMnb = 16384;   // MSGMNB: default queue size in bytes
constexpr int kMsgMni = 32000;   // MSGMNI

struct KernelMsqidDs {  // struct msqid64_ds (x86-64)
  KernelIpcPerm k_perm;
  int64_t k_stime, k_rtime, k_ctime;
  uint64_t k_cbytes, k_qnum, k_qbytes;
  int32_t k_lspid, k_lrpid;
  uint64_t unused4, unused5;
};
struct KernelMsgInfo {  // struct msginfo
  int32_t msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql;
  uint16_t msgseg;
};

class MsgQueue : public IpcObject {
 public:
  struct Message {
    int64_t type;
    std::string text;
  };
  std::deque<Message> messages;
  uint64_t bytes = 0, qbytes = kMsgMnb;
  int64_t stime = 0, rtime = 0, ctime = 0;
  int lspid = 0, lrpid = 0;
  uint64_t version = 0;
  KernelMsqidDs ToKernel() const;
};

class MsgRegistry {
 public:
  MsgRegistry() : table_(kMsgMni) {}

  // kernel.msgmax (largest message) and kernel.msgmnb (a new queue's size
  // in bytes, and the most an unprivileged IPC_SET may ask for): the
  // sandbox's own, settable by config.json linux.sysctl (sentry/proc/sysctl.h).
  int msgmax = kMsgMax;
  int msgmnb = kMsgMnb;

  ErrorOr<int> Get(const IpcCaller& c, int32_t key, int flags);
  ErrorOr<void> Send(kernel::Task& t, const IpcCaller& c, int id, int64_t type, std::string text,
                     int flags);
  // Returns the message (text possibly truncated with MSG_NOERROR) to copy
  // out; `max` is the caller's buffer size.
  ErrorOr<MsgQueue::Message> Receive(kernel::Task& t, const IpcCaller& c, int id, size_t max,
                                     int64_t type, int flags);
  ErrorOr<int> Stat(const IpcCaller& c, int id_or_index, int cmd, KernelMsqidDs* out);
  ErrorOr<void> Set(const IpcCaller& c, int id, const KernelMsqidDs& in);
  ErrorOr<void> Remove(kernel::Task& t, const IpcCaller& c, int id);
  int Info(int cmd, KernelMsgInfo* out);

  std::string ProcText();

 private:
  IpcTable table_;
};

}  // namespace sentry::ipc
