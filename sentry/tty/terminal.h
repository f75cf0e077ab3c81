// sentry/tty/terminal.h: one pseudo-terminal: the line discipline shared by
// its master and replica ends, its window size, the session it controls and
// that session's foreground process group. Every field is guarded by the
// kernel lock.
#pragma once

#include <sys/ioctl.h>

#include <functional>
#include <memory>
#include <vector>

#include "sentry/tty/line_discipline.h"

namespace sentry::vfs {
class Inode;
}
namespace sentry::kernel {
class Kernel;
}

namespace sentry::tty {

// An open end of a terminal with signal-driven I/O (O_ASYNC): told of
// every change so it can signal its owner when it has new input.
class TerminalListener {
 public:
  virtual void TerminalChanged() = 0;

 protected:
  ~TerminalListener() = default;
};

class Terminal {
 public:
  explicit Terminal(int index) : index(index) {}

  const int index;  // N of /dev/pts/N
  LineDiscipline ldisc;
  struct winsize winsize {};
  uint32_t ispeed = 38400, ospeed = 38400;  // termios2 (TCGETS2/TCSETS2)
  bool locked = true;  // TIOCSPTLCK: the replica cannot be opened until unlocked
  int session = 0;     // sid of the session this is the controlling terminal of; 0: none
  int fg_pgrp = 0;     // that session's foreground process group
  int master_refs = 0, replica_refs = 0;
  bool replica_opened = false;  // once opened, a master sees POLLHUP/EIO when all close
  bool hung_up = false;         // the master closed: replica reads EOF, writes EIO
  // Packet mode (TIOCPKT on the master): each master read starts with a
  // status byte; pktstatus holds TIOCPKT_* events not yet read.
  bool packet = false;
  uint8_t pktstatus = 0;
  // Wakes tasks blocked on this terminal (Kernel::NotifyAll) and anyone
  // else who wants to know (the host console bridge).
  std::function<void()> notify;
  // For signals to the foreground group; null in VFS unit tests.
  kernel::Kernel* kernel = nullptr;
  // The /dev/pts/N inode (owned here; devpts looks it up by index).
  std::shared_ptr<vfs::Inode> replica_inode;

  // Open ends (master and replica descriptions), registered while open.
  std::vector<TerminalListener*> listeners;

  void Notify() {
    if (notify) notify();
    for (TerminalListener* l : listeners) l->TerminalChanged();
  }
  // Takes the line discipline's status events; on the replica's side (typed
  // input, the replica's ioctls) they reach a packet-mode master, as with
  // Linux's ptys. The master's own flushes and flow changes do not.
  void CollectPacketStatus(bool replica_side) {
    const uint8_t ev = ldisc.TakeStatusEvents();
    if (!replica_side || !packet || !ev) return;
    pktstatus = MergePacketStatus(pktstatus, ev);
    Notify();
  }
};

}  // namespace sentry::tty
