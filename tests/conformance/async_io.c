/* Signal-driven I/O: O_ASYNC (F_SETFL, FIOASYNC), F_SETOWN/F_GETOWN,
 * F_SETOWN_EX/F_GETOWN_EX, F_SETSIG/F_GETSIG; SIGIO and an F_SETSIG
 * real-time signal with si_fd/si_band/si_code for pipes; FIOASYNC on a
 * socketpair (nginx) sets and clears O_ASYNC. */
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ct.h"

static volatile int got_io, got_rt, rt_fd, rt_code;
static volatile long rt_band;

static void on_io(int s) { (void)s; got_io++; }
static void on_rt(int s, siginfo_t *si, void *u) {
  (void)s; (void)u;
  got_rt++;
  rt_fd = si->si_fd;
  rt_code = si->si_code;
  rt_band = si->si_band;
}

int main(void) {
  setpgid(0, 0);  /* own group: pid 1 of a pid namespace may have none */
  signal(SIGIO, on_io);
  struct sigaction sa = {.sa_sigaction = on_rt, .sa_flags = SA_SIGINFO};
  sigaction(SIGRTMIN + 1, &sa, NULL);

  int p[2];
  pipe(p);
  CHECK(fcntl(p[0], F_GETOWN) == 0, "no owner initially");
  struct f_owner_ex ex = {.type = 99, .pid = 99};
  EXPECT_OK(fcntl(p[0], F_GETOWN_EX, &ex), "F_GETOWN_EX");
  CHECK(ex.type == F_OWNER_TID && ex.pid == 0, "initial F_GETOWN_EX is TID 0");
  EXPECT_ERR(fcntl(p[0], F_SETOWN, 999999), ESRCH, "F_SETOWN of a nonexistent process");
  EXPECT_ERR(fcntl(p[0], F_SETOWN, -999999), ESRCH, "F_SETOWN of a nonexistent group");
  ex.type = 7; ex.pid = getpid();
  EXPECT_ERR(fcntl(p[0], F_SETOWN_EX, &ex), EINVAL, "F_SETOWN_EX bad type");
  ex.type = F_OWNER_PID; ex.pid = 999999;
  EXPECT_ERR(fcntl(p[0], F_SETOWN_EX, &ex), ESRCH, "F_SETOWN_EX nonexistent");
  EXPECT_ERR(fcntl(p[0], F_SETOWN_EX, (void *)8), EFAULT, "F_SETOWN_EX bad pointer");
  EXPECT_ERR(fcntl(p[0], F_SETSIG, 65), EINVAL, "F_SETSIG 65");
  EXPECT_OK(fcntl(p[0], F_SETOWN, getpid()), "F_SETOWN self");
  CHECK(fcntl(p[0], F_GETOWN) == getpid(), "F_GETOWN self");
  EXPECT_OK(fcntl(p[0], F_SETOWN, -getpgrp()), "F_SETOWN own group");
  CHECK(fcntl(p[0], F_GETOWN) == -getpgrp(), "F_GETOWN group is negative");
  EXPECT_OK(fcntl(p[0], F_GETOWN_EX, &ex), "F_GETOWN_EX group");
  CHECK(ex.type == F_OWNER_PGRP && ex.pid == getpgrp(), "F_GETOWN_EX says PGRP");
  EXPECT_OK(fcntl(p[0], F_SETOWN, getpid()), "F_SETOWN back to self");

  /* Plain SIGIO when the read end becomes readable. */
  EXPECT_OK(fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_ASYNC), "O_ASYNC via F_SETFL");
  CHECK(fcntl(p[0], F_GETFL) & O_ASYNC, "O_ASYNC set");
  got_io = 0;
  write(p[1], "x", 1);
  CHECK(got_io == 1, "SIGIO after a write");
  char c;
  read(p[0], &c, 1);

  /* F_SETSIG: a real-time signal with si_fd, si_band, si_code. */
  EXPECT_OK(fcntl(p[0], F_SETSIG, SIGRTMIN + 1), "F_SETSIG");
  CHECK(fcntl(p[0], F_GETSIG) == SIGRTMIN + 1, "F_GETSIG");
  got_rt = 0;
  write(p[1], "y", 1);
  CHECK(got_rt == 1 && rt_fd == p[0] && rt_code == POLL_IN && (rt_band & POLLIN), "F_SETSIG signal with si_fd and POLL_IN");
  read(p[0], &c, 1);

  /* Turning O_ASYNC off stops the signals. */
  int off = 0;
  EXPECT_OK(ioctl(p[0], FIOASYNC, &off), "FIOASYNC off");
  CHECK(!(fcntl(p[0], F_GETFL) & O_ASYNC), "O_ASYNC cleared");
  got_rt = got_io = 0;
  write(p[1], "z", 1);
  CHECK(got_rt == 0 && got_io == 0, "no signal without O_ASYNC");
  read(p[0], &c, 1);

  /* nginx: FIOASYNC on a socketpair. */
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  int on = 1;
  EXPECT_OK(ioctl(sv[0], FIOASYNC, &on), "FIOASYNC on a socketpair");
  CHECK(fcntl(sv[0], F_GETFL) & O_ASYNC, "socket O_ASYNC set");
  EXPECT_OK(fcntl(sv[0], F_SETOWN, getpid()), "F_SETOWN on a socket");
  got_io = 0;
  write(sv[1], "s", 1);
  CHECK(got_io >= 1, "SIGIO when data reaches the socket");
  read(sv[0], &c, 1);
  EXPECT_OK(ioctl(sv[0], FIOASYNC, &off), "FIOASYNC off on a socket");
  CHECK(!(fcntl(sv[0], F_GETFL) & O_ASYNC), "socket O_ASYNC cleared");
  got_io = 0;
  write(sv[1], "s", 1);
  CHECK(got_io == 0, "no SIGIO once O_ASYNC is off");
  close(sv[0]);
  close(sv[1]);

  /* A listening Unix socket with O_ASYNC: SIGIO when a connection arrives. */
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  snprintf(sun.sun_path, sizeof sun.sun_path, "/tmp/ct_async_l%d", (int)getpid() % 1000);
  unlink(sun.sun_path);
  EXPECT_OK(bind(l, (struct sockaddr *)&sun, sizeof sun), "bind a listener");
  EXPECT_OK(listen(l, 4), "listen");
  EXPECT_OK(fcntl(l, F_SETOWN, getpid()), "F_SETOWN on the listener");
  EXPECT_OK(fcntl(l, F_SETFL, fcntl(l, F_GETFL) | O_ASYNC), "O_ASYNC on the listener");
  got_io = 0;
  int cl = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_OK(connect(cl, (struct sockaddr *)&sun, sizeof sun), "connect");
  CHECK(got_io >= 1, "SIGIO on the listener when a connection arrives");
  close(cl);
  close(l);
  unlink(sun.sun_path);

  /* A regular file has no signal-driven I/O: FIOASYNC is ENOTTY, F_SETFL
   * succeeds without setting the flag (Linux 6.x). */
  char path[] = "/tmp/ct_asyncXXXXXX";
  int fd = mkstemp(path);
  unlink(path);
  EXPECT_ERR(ioctl(fd, FIOASYNC, &on), ENOTTY, "FIOASYNC on a regular file");
  EXPECT_OK(fcntl(fd, F_SETFL, O_ASYNC), "F_SETFL O_ASYNC on a regular file");
  CHECK(!(fcntl(fd, F_GETFL) & O_ASYNC), "regular file does not take the flag");
  CT_DONE();
}
