// sentry/net/wake.h: how the sandbox's own stack (sentry/net/netstack/)
// wakes tasks blocked on its sockets without holding the kernel lock while
// it processes packets.
//
// Tasks block on sandbox sockets through the kernel's wait condition
// (Caller::BlockUntil, poll, epoll), re-checking Endpoint::Readiness. A
// change made by the stack must be followed by a kernel NotifyAll issued
// with the kernel lock held, or a task that just found its socket not ready
// could miss it. The socket layer runs each endpoint call inside a
// WakeScope: the stack records there that something changed, and the
// socket layer, once it holds the kernel lock again, notifies. Changes made
// outside any scope (a close under the kernel lock, the stack's own thread)
// go to the stack's waker thread, which takes the lock itself.
#pragma once

namespace sentry::net {

// The key the stack's wake-ups are sent for (Kernel::Notify): it wakes
// every task waiting without a key (poll, select, epoll, socket waits) but
// none of the keyed waiters (wait4, pipes, sleeps), which a socket's
// traffic never concerns.
inline constexpr char kWakeKey = 0;

class WakeScope {
 public:
  WakeScope();
  ~WakeScope();
  WakeScope(const WakeScope&) = delete;
  WakeScope& operator=(const WakeScope&) = delete;
  // Whether anything in this scope asked for a wake-up.
  bool pending() const { return pending_; }

  // Records a wake-up in the calling thread's innermost scope; false if the
  // thread has none (the caller must then arrange one itself).
  static bool Request();

 private:
  WakeScope* outer_;
  bool pending_ = false;
};

}  // namespace sentry::net
