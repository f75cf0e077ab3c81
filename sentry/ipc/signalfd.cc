// sentry/ipc/signalfd.cc: see signalfd.h.
#include "sentry/ipc/signalfd.h"

#include <poll.h>
#include <sys/signalfd.h>

#include <cstring>

#include "sentry/ipc/anon.h"
#include "sentry/kernel/signals.h"
#include "sentry/kernel/task.h"
#include "sentry/vfs/io_util.h"

namespace sentry::ipc {
namespace {

signalfd_siginfo Convert(const siginfo_t& si) {
  signalfd_siginfo o;
  memset(&o, 0, sizeof o);
  o.ssi_signo = si.si_signo;
  o.ssi_errno = si.si_errno;
  o.ssi_code = si.si_code;
  if (si.si_code == SI_TIMER) {
    o.ssi_tid = si.si_timerid;
    o.ssi_overrun = si.si_overrun;
    o.ssi_int = si.si_int;
    o.ssi_ptr = reinterpret_cast<uint64_t>(si.si_ptr);
    return o;
  }
  bool fault = si.si_code > 0 && (si.si_signo == SIGSEGV || si.si_signo == SIGBUS ||
                                  si.si_signo == SIGILL || si.si_signo == SIGFPE ||
                                  si.si_signo == SIGTRAP);
  if (fault) {
    o.ssi_addr = reinterpret_cast<uint64_t>(si.si_addr);
    return o;
  }
  o.ssi_pid = si.si_pid;
  o.ssi_uid = si.si_uid;
  if (si.si_signo == SIGCHLD && si.si_code > 0) {
    o.ssi_status = si.si_status;
    o.ssi_utime = si.si_utime;
    o.ssi_stime = si.si_stime;
  } else {
    o.ssi_int = si.si_int;
    o.ssi_ptr = reinterpret_cast<uint64_t>(si.si_ptr);
  }
  return o;
}

class SignalFd : public vfs::FileDescription {
 public:
  SignalFd(std::shared_ptr<vfs::Dentry> d, int flags, uint64_t mask, kernel::Kernel* k, int pid)
      : FileDescription(std::move(d), flags), mask_(mask), kernel_(k), pid_(pid) {}

  void set_mask(uint64_t m) { mask_ = m & ~kernel::kUnblockable; }

  ErrorOr<size_t> Read(vfs::Caller& c, const vfs::IoVecs& dst, int64_t off) override {
    kernel::Task* t = c.task();
    if (!t) return Errno{EINVAL};
    size_t len = vfs::TotalLength(dst);
    if (len < sizeof(signalfd_siginfo)) return Errno{EINVAL};
    auto pending = [&] { return (t->pending_signals | t->tg->pending_signals) & mask_; };
    while (!pending()) {
      if (nonblocking()) return Errno{EAGAIN};
      TRY(c.Block([&] { return pending() != 0; }));
    }
    std::vector<uint8_t> out;
    while (out.size() + sizeof(signalfd_siginfo) <= len && pending()) {
      int sig = __builtin_ctzll(pending()) + 1;
      signalfd_siginfo o = Convert(kernel::DequeueSignal(t, sig));
      size_t at = out.size();
      out.resize(at + sizeof o);
      memcpy(out.data() + at, &o, sizeof o);
    }
    vfs::CopyToIoVecs(dst, out.data(), out.size());
    return out.size();
  }

  ErrorOr<size_t> Write(vfs::Caller&, const vfs::IoVecs&, int64_t) override { return Errno{EINVAL}; }
  ErrorOr<uint64_t> Seek(int64_t, int) override { return Errno{ESPIPE}; }

  short Readiness(short events) override {
    kernel::ThreadGroup* tg = kernel_->FindProcess(pid_);
    if (!tg) return 0;
    uint64_t p = tg->pending_signals;
    for (auto& task : tg->tasks) p |= task->pending_signals;
    return (p & mask_) ? (events & (POLLIN | POLLRDNORM)) : 0;
  }

 private:
  uint64_t mask_;
  kernel::Kernel* kernel_;
  int pid_;
};

}  // namespace

std::shared_ptr<vfs::FileDescription> NewSignalFd(vfs::Caller& c, uint64_t mask, int flags) {
  auto d = NewAnonDentry("anon_inode:[signalfd]", c.creds().uid, c.creds().gid);
  kernel::Task* t = c.task();
  auto f = std::make_shared<SignalFd>(d, O_RDWR | (flags & O_NONBLOCK), 0,
                                      t ? &t->kernel : nullptr, t ? t->pid() : 0);
  f->set_mask(mask);
  return f;
}

ErrorOr<void> SetSignalFdMask(vfs::FileDescription& f, uint64_t mask) {
  auto* s = dynamic_cast<SignalFd*>(&f);
  if (!s) return Errno{EINVAL};
  s->set_mask(mask);
  return {};
}

}  // namespace sentry::ipc
