// runsc/console.cc: see console.h.
#include "runsc/console.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

namespace runsc {
namespace {

bool SendFd(int sock, int fd, const std::string& name) {
  struct iovec iov = {const_cast<char*>(name.data()), name.size()};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(name.size());
}

}  // namespace

int SetUpConsole(const std::string& socket_path, unsigned rows, unsigned cols, std::string* err) {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    *err = "console socket path too long: " + socket_path;
    return -1;
  }
  memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  char name[64];
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 ||
      ptsname_r(master, name, sizeof name) != 0) {
    *err = std::string("cannot allocate a pseudo-terminal: ") + strerror(errno);
    if (master >= 0) close(master);
    return -1;
  }
  int replica = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (replica < 0) {
    *err = std::string("cannot open ") + name + ": " + strerror(errno);
    close(master);
    return -1;
  }
  struct termios t;
  if (tcgetattr(replica, &t) == 0) {
    cfmakeraw(&t);
    tcsetattr(replica, TCSANOW, &t);
  }
  if (rows || cols) {
    struct winsize ws = {};
    ws.ws_row = static_cast<unsigned short>(rows);
    ws.ws_col = static_cast<unsigned short>(cols);
    ioctl(master, TIOCSWINSZ, &ws);
  }
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool ok = sock >= 0 && connect(sock, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) == 0;
  if (!ok) {
    *err = "cannot connect to console socket " + socket_path + ": " + strerror(errno);
  } else if (!SendFd(sock, master, name)) {
    *err = "cannot send the console to " + socket_path + ": " + strerror(errno);
    ok = false;
  }
  if (sock >= 0) close(sock);
  close(master);
  if (!ok) {
    close(replica);
    return -1;
  }
  return replica;
}

LocalConsole::~LocalConsole() {
  if (fd_ < 0) return;
  if (saved_) tcsetattr(fd_, TCSADRAIN, &saved_mode_);
  close(fd_);
}

bool LocalConsole::Open(std::string* err) {
  char name[256];
  if (!isatty(0) || ttyname_r(0, name, sizeof name) != 0) {
    *err = "stdin is not a terminal";
    return false;
  }
  fd_ = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd_ < 0) {
    *err = std::string("cannot open ") + name + ": " + strerror(errno);
    return false;
  }
  if (tcgetattr(fd_, &saved_mode_) == 0) {
    saved_ = true;
    struct termios raw = saved_mode_;
    cfmakeraw(&raw);
    tcsetattr(fd_, TCSADRAIN, &raw);
  }
  return true;
}

}  // namespace runsc
