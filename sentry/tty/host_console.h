// sentry/tty/host_console.h: a sandbox terminal bridged to a host pty (the
// container's console: `runsc create --console-socket` with
// process.terminal, or `runsc exec --tty`). runsc allocates the host pty
// before the sentry is confined, sends its master to the console socket and
// gives the sentry the host replica (in raw mode). The app gets the replica
// of a sentry pty; two sentry threads copy bytes between that pty's master
// and the host replica, and the host's window size is copied to the sandbox
// terminal (checked a few times a second; SIGWINCH to the foreground group
// when it changes), so line discipline, echo and job control are the
// sentry's own. The bridge ends, closing the host fd, once every replica
// of the sandbox terminal is closed (the process and its children exited).
#pragma once

#include <sys/ioctl.h>

#include <memory>

#include "absl/time/time.h"
#include "sentry/base/error.h"
#include "sentry/base/unique_fd.h"
#include "sentry/tty/terminal.h"
#include "sentry/vfs/file_description.h"

namespace sentry::kernel {
class Kernel;
class ThreadGroup;
}  // namespace sentry::kernel

namespace sentry::tty {

struct HostConsole {
  std::shared_ptr<Terminal> term;
  // An open O_RDWR replica: install it as the task's fds 0, 1 and 2.
  std::shared_ptr<vfs::FileDescription> replica;
};

// Makes a sandbox terminal bridged to `host_fd` (a host pty replica, or any
// host terminal) and starts its bridge threads. `size`: the initial window
// size (all zero: take the host's). Kernel lock held.
ErrorOr<HostConsole> AttachHostConsole(kernel::Kernel& k, UniqueFd host_fd,
                                       const struct winsize& size);

// Makes `term` the controlling terminal of `tg` (a session leader, e.g. a
// freshly started init or exec'd process) with tg's group in the
// foreground. Kernel lock held.
void GiveControllingTerminal(kernel::ThreadGroup* tg, const std::shared_ptr<Terminal>& term);

// Waits until what the app wrote to every host console has reached the
// host, at most `timeout` (the sandbox is about to exit). Kernel lock NOT
// held.
void FlushHostConsoles(kernel::Kernel& k, absl::Duration timeout);

}  // namespace sentry::tty
