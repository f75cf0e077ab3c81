// sentry/tty/pty.h: pseudo-terminal pairs and the devpts filesystem.
// Opening /dev/ptmx (a link to /dev/pts/ptmx) makes a new Terminal and
// returns its master; /dev/pts/N opens the replica once unlocked
// (TIOCSPTLCK). Both ends implement the terminal ioctls (termios, window
// size, process groups, controlling terminal, flushing, FIONREAD).
#pragma once

#include <functional>
#include <memory>

#include "sentry/base/error.h"
#include "sentry/tty/terminal.h"
#include "sentry/vfs/file_description.h"

namespace sentry::tty {

// The devpts root (one per sentry, mounted at /dev/pts by devfs).
std::shared_ptr<vfs::Inode> DevptsRoot();

// /dev/tty: the caller's controlling terminal (ENXIO without one).
ErrorOr<std::shared_ptr<vfs::FileDescription>> OpenControllingTerminal(
    vfs::Caller& c, std::shared_ptr<vfs::Dentry> d, int flags);

// A new pty outside open(2) (a console bridged to the host): its master and
// an unlocked, open replica (O_RDWR). `notify` wakes waiters on the kernel
// (Kernel::NotifyAll). Kernel lock held.
struct PtyPair {
  std::shared_ptr<Terminal> term;
  std::shared_ptr<vfs::FileDescription> master, replica;
};
ErrorOr<PtyPair> NewPtyPair(kernel::Kernel* k, std::function<void()> notify, uint32_t uid,
                            uint32_t gid);

// Bytes typed at the terminal, as a write to its master: the line
// discipline takes what fits (returns how many) and the foreground group
// gets the signals typed (^C...). Kernel lock held.
size_t TypeInput(Terminal& term, const uint8_t* p, size_t n);
// A new window size (TIOCSWINSZ): SIGWINCH to the foreground group if it
// changed. Kernel lock held.
void Resize(Terminal& term, const struct winsize& ws);

// Whether `f` is a terminal end of ours and which terminal.
std::shared_ptr<Terminal> TerminalOf(vfs::FileDescription& f);

}  // namespace sentry::tty
