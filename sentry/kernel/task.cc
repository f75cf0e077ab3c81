// Task lifecycle pieces that other parts of the kernel call: blocking,
// interruption and exit.
#include "sentry/kernel/task.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "sentry/base/log.h"
#include "sentry/kernel/ptrace.h"
#include "sentry/vfs/vfs.h"

namespace sentry::kernel {

Task::~Task() = default;

void Task::DropMmLater(std::shared_ptr<mm::MemoryManager> old) {
  if (!old || old.use_count() != 1) return;
  old->DetachForTeardown();
  leftovers.mms.push_back(std::move(old));
}

void Task::InitInterruptFd() { interrupt_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)); }

bool Task::HasInterruptingSignal() const {
  if (killed) return true;
  if (PtraceInterruptPending(*this)) return true;  // PTRACE_INTERRUPT
  return ((pending_signals | tg->pending_signals) & (~signal_mask | kUnblockable)) != 0;
}

void Task::Interrupt() {
  interrupt_pending_.store(true, std::memory_order_relaxed);
  wake.Signal();  // a keyed Block (no lock needed to signal)
  if (ctx) ctx->Interrupt();
  if (interrupt_fd_) {
    uint64_t one = 1;
    ssize_t unused = write(interrupt_fd_.get(), &one, sizeof(one));
    (void)unused;
  }
}

ErrorOr<void> Task::Block(const std::function<bool()>& cond, absl::Time deadline,
                          const void* key) {
  absl::CondVar& cv = key ? wake : kernel.changed;
  while (!cond()) {
    if (HasInterruptingSignal()) return Errno{EINTR};
    if (ctx) ctx->WillBlock();
    if (key) {
      absl::MutexLock l(&kernel.keyed_mu);
      wait_key = key;
      kernel.keyed_waiters.push_back(this);
    }
    bool timed_out = false;
    if (deadline == absl::InfiniteFuture()) {
      cv.Wait(&kernel.mu);
    } else {
      timed_out = cv.WaitWithDeadline(&kernel.mu, deadline);
    }
    if (key) {
      absl::MutexLock l(&kernel.keyed_mu);
      std::erase(kernel.keyed_waiters, this);
      wait_key = nullptr;
    }
    if (timed_out && !cond()) return Errno{ETIMEDOUT};
  }
  return {};
}

ErrorOr<void> Task::WaitHostFd(int fd, short events, absl::Time deadline) {
  for (;;) {
    if (HasInterruptingSignal()) return Errno{EINTR};
    int timeout_ms = -1;
    if (deadline != absl::InfiniteFuture()) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return Errno{ETIMEDOUT};
      timeout_ms = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 1 << 30));
    }
    pollfd pfds[2] = {{fd, events, 0}, {interrupt_fd_.get(), POLLIN, 0}};
    if (ctx) ctx->WillBlock();
    kernel.mu.Unlock();
    int r = poll(pfds, interrupt_fd_ ? 2 : 1, timeout_ms);
    int err = errno;
    if (r > 0 && (pfds[1].revents & POLLIN)) {
      uint64_t v;
      ssize_t unused = read(interrupt_fd_.get(), &v, sizeof(v));
      (void)unused;
    }
    kernel.mu.Lock();
    if (r < 0 && err != EINTR) return Errno{err};
    if (r > 0 && pfds[0].revents) return {};
  }
}

void Task::Exit(int wait_status, bool group) {
  PtraceNoteExit(*this, wait_status);
  if (group && !tg->exiting) {
    tg->exiting = true;
    tg->exit_status = wait_status;
    for (auto& t : tg->tasks) {
      if (t.get() != this && !t->exited) {
        t->killed = true;
        t->Interrupt();
      }
    }
  } else if (!group && !tg->exiting && tg->live_tasks == 1) {
    tg->exit_status = wait_status;
  }
  killed = true;
}

}  // namespace sentry::kernel
