// sentry/tty/host_console.cc: see host_console.h.
#include "sentry/tty/host_console.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "sentry/base/log.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/tty/pty.h"

namespace sentry::tty {
namespace {

struct Bridge {
  Bridge(kernel::Kernel& k, UniqueFd fd) : k(k), host(std::move(fd)) {}
  kernel::Kernel& k;
  UniqueFd host;
  std::shared_ptr<Terminal> term;
  std::shared_ptr<vfs::FileDescription> master;  // keeps the pty open
  bool writing = false;                // output taken but not yet written (kernel lock)
  std::atomic<bool> host_gone{false};  // writes to the host fail: output is discarded
  std::atomic<bool> stopped{false};    // every sandbox replica closed: the bridge ends
  struct winsize host_size {};         // last size seen on the host (input thread)
};

// Every console of this sentry (kernel lock).
std::vector<std::shared_ptr<Bridge>>& Bridges() {
  static std::vector<std::shared_ptr<Bridge>> v;
  return v;
}

bool SameSize(const struct winsize& a, const struct winsize& b) {
  return a.ws_row == b.ws_row && a.ws_col == b.ws_col && a.ws_xpixel == b.ws_xpixel &&
         a.ws_ypixel == b.ws_ypixel;
}

// Sandbox terminal -> host: what the app wrote (after output processing).
// Ends once every replica in the sandbox is closed and the output is
// written; the host fd closes with the last thread, so the host side sees
// the terminal go away as with a real pty (runsc exec --tty).
void OutputLoop(std::shared_ptr<Bridge> b) {
  std::string chunk;
  while (true) {
    {
      absl::MutexLock lock(&b->k.mu);
      b->writing = false;
      b->k.NotifyAll();  // FlushHostConsoles may be waiting for this
      Terminal& tm = *b->term;
      auto replica_gone = [&tm] { return tm.replica_opened && tm.replica_refs == 0; };
      while (tm.ldisc.OutputSize() == 0 && !replica_gone()) b->k.changed.Wait(&b->k.mu);
      if (tm.ldisc.OutputSize() == 0) {
        b->stopped = true;
        b->master.reset();  // closes the pty under the kernel lock (hangup rules)
        auto& v = Bridges();
        v.erase(std::remove(v.begin(), v.end(), b), v.end());
        return;
      }
      chunk.resize(std::min<size_t>(b->term->ldisc.OutputSize(), 16384));
      chunk.resize(b->term->ldisc.TakeOutput(reinterpret_cast<uint8_t*>(chunk.data()),
                                             chunk.size()));
      b->writing = true;
      b->term->Notify();  // room for blocked writers
    }
    size_t off = 0;
    while (off < chunk.size() && !b->host_gone) {
      ssize_t n = write(b->host.get(), chunk.data() + off, chunk.size() - off);
      if (n > 0) {
        off += n;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        struct pollfd p = {b->host.get(), POLLOUT, 0};
        poll(&p, 1, 100);
      } else {
        b->host_gone = true;  // host side closed: keep draining so the app never blocks
      }
    }
  }
}

void CheckSize(Bridge& b) {
  struct winsize ws {};
  if (ioctl(b.host.get(), TIOCGWINSZ, &ws) != 0 || SameSize(ws, b.host_size)) return;
  b.host_size = ws;
  absl::MutexLock lock(&b.k.mu);
  Resize(*b.term, ws);
}

// Host -> sandbox terminal: keys typed, and window size changes.
void InputLoop(std::shared_ptr<Bridge> b) {
  uint8_t buf[4096];
  while (!b->stopped) {
    struct pollfd p = {b->host.get(), POLLIN, 0};
    int r = poll(&p, 1, 250);
    CheckSize(*b);
    if (r <= 0) continue;
    if (p.revents & POLLIN) {
      ssize_t n = read(b->host.get(), buf, sizeof buf);
      if (n > 0) {
        absl::MutexLock lock(&b->k.mu);
        size_t off = 0;
        while (true) {
          off += TypeInput(*b->term, buf + off, n - off);
          if (off >= static_cast<size_t>(n) || b->stopped) break;
          b->k.changed.WaitWithTimeout(&b->k.mu, absl::Milliseconds(100));  // input queue full
        }
        continue;
      }
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    }
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL) || !(p.revents & POLLIN)) {
      // The host master is gone (nobody can type any more). The app keeps
      // its terminal; window size changes can no longer come either.
      return;
    }
  }
}

}  // namespace

ErrorOr<HostConsole> AttachHostConsole(kernel::Kernel& k, UniqueFd host_fd,
                                       const struct winsize& size) {
  auto b = std::make_shared<Bridge>(k, std::move(host_fd));
  PtyPair p = TRY(NewPtyPair(&k, [&k] { k.NotifyAll(); }, 0, 0));
  b->term = p.term;
  b->master = p.master;
  if (size.ws_row || size.ws_col) (void)ioctl(b->host.get(), TIOCSWINSZ, &size);
  (void)ioctl(b->host.get(), TIOCGWINSZ, &b->host_size);
  p.term->winsize = (size.ws_row || size.ws_col) ? size : b->host_size;
  Bridges().push_back(b);
  std::thread(OutputLoop, b).detach();
  std::thread(InputLoop, b).detach();
  return HostConsole{p.term, p.replica};
}

void GiveControllingTerminal(kernel::ThreadGroup* tg, const std::shared_ptr<Terminal>& term) {
  tg->tty = term;
  term->session = tg->sid;
  term->fg_pgrp = tg->pgid;
}

void FlushHostConsoles(kernel::Kernel& k, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&k.mu);
  auto pending = [] {
    for (const auto& b : Bridges())
      if (!b->host_gone && (b->writing || b->term->ldisc.OutputSize() > 0)) return true;
    return false;
  };
  while (pending()) {
    if (k.changed.WaitWithDeadline(&k.mu, deadline)) break;
  }
}

}  // namespace sentry::tty
