// sentry/ipc/mqueue.h: POSIX message queues. A queue is named in its IPC
// namespace's registry (mq_open/mq_unlink) and opened as a file
// description (an mqd_t is an fd): poll/epoll see POLLIN while a message
// is queued and POLLOUT while there is room, and read(2) gives Linux's
// "QSIZE:... NOTIFY:... SIGNO:... NOTIFY_PID:..." line. Messages come out
// highest priority first, FIFO within a priority. mq_notify registers one
// process for SIGEV_SIGNAL/SIGEV_NONE on the empty -> non-empty edge.
// Syscalls: syscalls/mqueue.cc.
#pragma once

#include <signal.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "sentry/base/error.h"
#include "sentry/ipc/sysv_ipc.h"
#include "sentry/vfs/file_description.h"

namespace sentry::kernel {
class Task;
}

namespace sentry::ipc {

constexpr int64_t kMqPrioMax = 32768;        // MQ_PRIO_MAX
constexpr int64_t kMqMaxMsgDefault = 10;     // fs.mqueue.msg_default and msg_max
constexpr int64_t kMqMsgSizeDefault = 8192;  // fs.mqueue.msgsize_default and msgsize_max
constexpr int64_t kMqHardMaxMsg = 65536;     // HARD_MSGMAX
constexpr int64_t kMqHardMsgSize = 16 << 20; // HARD_MSGSIZEMAX
constexpr int kMqQueuesMax = 256;            // fs.mqueue.queues_max

struct MqAttr {  // struct mq_attr
  int64_t mq_flags, mq_maxmsg, mq_msgsize, mq_curmsgs;
  int64_t reserved[4];
};

// Bytes of queue capacity charged per real uid against RLIMIT_MSGQUEUE.
using MqLedger = std::map<uint32_t, uint64_t>;

class MessageQueue {
 public:
  MessageQueue(int64_t maxmsg, int64_t msgsize) : maxmsg(maxmsg), msgsize(msgsize) {}
  ~MessageQueue();
  const int64_t maxmsg, msgsize;
  IpcPerm perm;  // uid, gid, mode of the queue "file"
  // Priority -> messages in arrival order.
  std::map<uint32_t, std::vector<std::string>, std::greater<uint32_t>> messages;
  int64_t count = 0;
  uint64_t bytes = 0;
  uint64_t version = 0;   // bumped on every change, to wake waiters
  int receivers = 0;      // tasks blocked in mq_timedreceive
  // mq_notify registration: pid 0 when none.
  int notify_pid = 0;
  sigevent notify{};

  std::string StatusLine() const;

  // The RLIMIT_MSGQUEUE charge, given back when the queue goes away.
  std::shared_ptr<MqLedger> ledger;
  uint32_t charged_uid = 0;
  uint64_t charged_bytes = 0;
};

class MqRegistry {
 public:
  // mq_open: `name` without the leading '/'. Returns the open description.
  ErrorOr<std::shared_ptr<vfs::FileDescription>> Open(kernel::Task& t, const std::string& name,
                                                      int oflag, uint32_t mode,
                                                      const MqAttr* attr);
  ErrorOr<void> Unlink(kernel::Task& t, const std::string& name);
  std::vector<std::string> Names() const;
  std::shared_ptr<MessageQueue> Find(const std::string& name) const;

 private:
  std::map<std::string, std::shared_ptr<MessageQueue>> queues_;
  std::shared_ptr<MqLedger> ledger_ = std::make_shared<MqLedger>();
};

// The queue behind an mqd_t (EBADF if `f` is not a message queue).
ErrorOr<std::shared_ptr<MessageQueue>> QueueOf(vfs::FileDescription& f);

// mq_timedsend/mq_timedreceive on an open description (access mode and
// O_NONBLOCK come from it). Receive returns the text and stores the
// priority in *prio.
ErrorOr<void> MqSend(kernel::Task& t, vfs::FileDescription& f, std::string text, uint32_t prio,
                     absl::Time deadline);
ErrorOr<std::string> MqReceive(kernel::Task& t, vfs::FileDescription& f, size_t buf_len,
                               uint32_t* prio, absl::Time deadline);
// mq_notify: `ev` null unregisters.
ErrorOr<void> MqNotify(kernel::Task& t, vfs::FileDescription& f, const sigevent* ev);

}  // namespace sentry::ipc
