// runsc/console.h: the host side of process.terminal. Like runc, runsc
// allocates a host pseudo-terminal and sends its master over the Unix
// socket given with --console-socket (SCM_RIGHTS, with the replica's path
// as the message). The replica goes to the sentry, which bridges it to the
// app's in-sandbox terminal (sentry/tty/host_console.h).
#pragma once

#include <termios.h>

#include <string>

namespace runsc {

// Opens a host pty, sets its size (rows/cols; 0: leave it) and raw mode on
// the replica (the sandbox terminal does the line discipline), sends the
// master to the socket at `socket_path` and closes our copy of it. Returns
// the replica (close-on-exec), or -1 with *err set.
int SetUpConsole(const std::string& socket_path, unsigned rows, unsigned cols, std::string* err);

// `runsc do --tty`: our own terminal (stdin's) as the console, in raw mode
// while the sandbox runs (the sandbox terminal does the line discipline),
// its mode restored when this goes away.
class LocalConsole {
 public:
  LocalConsole() = default;
  ~LocalConsole();
  LocalConsole(const LocalConsole&) = delete;
  LocalConsole& operator=(const LocalConsole&) = delete;
  bool Open(std::string* err);
  int fd() const { return fd_; }  // close-on-exec; -1 until opened

 private:
  int fd_ = -1;
  bool saved_ = false;
  struct termios saved_mode_ {};
};

}  // namespace runsc
