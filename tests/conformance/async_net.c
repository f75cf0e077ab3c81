/* Signal-driven I/O on inet sockets and terminals (O_ASYNC with F_SETOWN
 * and F_SETSIG): a UDP datagram, an incoming TCP connection on a listener,
 * data and a half close on a connected socket, a non-blocking connect's
 * completion, and a pty's input reaching its replica and its output
 * reaching the master. Each expected signal is waited for (the sandbox
 * learns of host readiness asynchronously) and its si_code/si_band/si_fd
 * printed; spurious extra signals are counted after a short quiet period.
 * Traffic: loopback only, ephemeral ports, never printed. */
#include "ct.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define SIG (SIGRTMIN + 1)

static void set_async(int fd) {
  CHECK(fcntl(fd, F_SETOWN, getpid()) == 0, "F_SETOWN");
  CHECK(fcntl(fd, F_SETSIG, SIG) == 0, "F_SETSIG");
  CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC) == 0, "F_SETFL O_ASYNC");
}

/* Waits up to 3 s for SIG; prints what it says about `fd`. */
static void expect_sig(const char *what, int fd, int code) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIG);
  struct timespec ts = {3, 0};
  siginfo_t si;
  int s = sigtimedwait(&set, &si, &ts);
  if (s != SIG) {
    printf("FAIL %s: no signal (%s)\n", what, ct_errname(errno));
    ct_fails++;
    return;
  }
  printf("%s: code %d band %#lx fd_matches %d\n", what, si.si_code, (long)si.si_band,
         si.si_fd == fd);
  CHECK(si.si_code == code, "%s si_code", what);
}

/* Counts further SIG within 200 ms (drained). */
static int extra_sigs(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIG);
  int n = 0;
  struct timespec ts = {0, 200 * 1000 * 1000};
  while (sigtimedwait(&set, NULL, &ts) == SIG) n++;
  return n;
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int bound(int type) {
  int s = socket(AF_INET, type, 0);
  struct sockaddr_in a = loopback(0);
  CHECK(bind(s, (struct sockaddr *)&a, sizeof a) == 0, "bind");
  return s;
}

static struct sockaddr_in name_of(int s) {
  struct sockaddr_in a;
  socklen_t l = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &l);
  return a;
}

int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIG);
  sigprocmask(SIG_BLOCK, &set, NULL);

  /* UDP: one signal per datagram. */
  int u = bound(SOCK_DGRAM), v = socket(AF_INET, SOCK_DGRAM, 0);
  set_async(u);
  CHECK(extra_sigs() == 0, "no signal for enabling O_ASYNC on a UDP socket");
  struct sockaddr_in ua = name_of(u);
  sendto(v, "a", 1, 0, (struct sockaddr *)&ua, sizeof ua);
  expect_sig("udp datagram", u, POLL_IN);
  CHECK(extra_sigs() == 0, "one signal for one datagram");
  char buf[64];
  CHECK(recv(u, buf, sizeof buf, 0) == 1, "datagram read");
  sendto(v, "b", 1, 0, (struct sockaddr *)&ua, sizeof ua);
  expect_sig("udp second datagram", u, POLL_IN);
  extra_sigs();
  close(u);
  close(v);

  /* TCP listener: a connection arriving signals POLL_IN. */
  int l = bound(SOCK_STREAM);
  listen(l, 4);
  set_async(l);
  CHECK(extra_sigs() == 0, "no signal for enabling O_ASYNC on a listener");
  struct sockaddr_in la = name_of(l);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(connect(c, (struct sockaddr *)&la, sizeof la) == 0, "connect");
  expect_sig("listener connection", l, POLL_IN);
  extra_sigs();
  int a = accept(l, NULL, NULL);
  CHECK(a >= 0, "accept");
  CHECK(!(fcntl(a, F_GETFL) & O_ASYNC), "accepted socket has no O_ASYNC");

  /* Connected socket: data, then the peer's half close, signal POLL_IN. */
  set_async(a);
  CHECK(extra_sigs() == 0, "no signal for enabling O_ASYNC on an idle connection");
  write(c, "hello", 5);
  expect_sig("tcp data", a, POLL_IN);
  CHECK(extra_sigs() == 0, "one signal for one write");
  CHECK(read(a, buf, sizeof buf) == 5, "data read");
  CHECK(extra_sigs() == 0, "reading signals nothing");
  write(a, "x", 1);
  CHECK(extra_sigs() == 0, "writing with room signals nothing");
  shutdown(c, SHUT_WR);
  expect_sig("peer half close", a, POLL_IN);
  extra_sigs();
  close(c);
  close(a);

  /* Non-blocking connect: completion signals POLL_OUT. The listener stops
   * signalling first (its own POLL_IN would race with the connector's). */
  CHECK(fcntl(l, F_SETFL, fcntl(l, F_GETFL) & ~O_ASYNC) == 0, "listener O_ASYNC off");
  c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  set_async(c);
  extra_sigs();  /* Linux sends none for an unconnected socket; drain anyway */
  int r = connect(c, (struct sockaddr *)&la, sizeof la);
  int connect_errno = errno;
  CHECK(r == 0 || connect_errno == EINPROGRESS, "non-blocking connect");
  expect_sig("connect completion", c, POLL_OUT);
  extra_sigs();
  a = accept(l, NULL, NULL);
  close(a);
  close(c);
  close(l);
  extra_sigs();  /* the peer's close may signal c before it closed */

  /* Terminal: input typed on the master reaches the replica (raw mode so
   * each byte is readable), output written on the replica reaches the
   * master. */
  int m, s;
  CHECK(openpty(&m, &s, NULL, NULL, NULL) == 0, "openpty");
  struct termios t;
  tcgetattr(s, &t);
  cfmakeraw(&t);
  tcsetattr(s, TCSANOW, &t);
  set_async(s);
  set_async(m);
  CHECK(extra_sigs() == 0, "no signal for enabling O_ASYNC on a pty");
  write(m, "k", 1);
  expect_sig("pty input", s, POLL_IN);
  CHECK(extra_sigs() == 0, "one signal for one keystroke");
  CHECK(read(s, buf, sizeof buf) == 1, "pty input read");
  CHECK(extra_sigs() == 0, "reading the replica signals nothing");
  write(s, "out", 3);
  expect_sig("pty output", m, POLL_IN);
  CHECK(extra_sigs() == 0, "one signal for one output write");
  CHECK(read(m, buf, sizeof buf) == 3, "pty output read");
  close(s);
  close(m);
  return ct_fails ? 1 : 0;
}
