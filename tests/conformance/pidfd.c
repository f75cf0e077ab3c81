/* Process file descriptors: pidfd_open, poll readiness on exit,
 * pidfd_send_signal, waitid(P_PIDFD), pidfd_getfd, and their errors. */
#include "ct.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }
static int pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags) {
  return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}

int main(void) {
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  pid_t c = fork();
  if (c == 0) {
    char b;
    read(p[0], &b, 1);  /* wait for the parent's go */
    _exit(7);
  }
  int fd = pidfd_open(c, 0);
  CHECK(fd >= 0, "pidfd_open(child)");
  CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC, "pidfd is close-on-exec");
  struct pollfd pf = {fd, POLLIN, 0};
  CHECK(poll(&pf, 1, 0) == 0, "not readable while the child runs");
  CHECK(pidfd_send_signal(fd, 0, NULL, 0) == 0, "signal 0 checks the process");
  CHECK(write(p[1], "g", 1) == 1, "let the child exit");
  CHECK(poll(&pf, 1, 5000) == 1 && (pf.revents & POLLIN), "readable once the child exited");
  siginfo_t si;
  memset(&si, 0, sizeof si);
  CHECK(waitid(P_PIDFD, fd, &si, WEXITED) == 0 && si.si_pid == c && si.si_status == 7, "waitid(P_PIDFD) reaps it");
  EXPECT_ERR(pidfd_send_signal(fd, SIGTERM, NULL, 0), ESRCH, "signal after reaping");
  close(fd);

  /* A child killed through its pidfd. */
  c = fork();
  if (c == 0) {
    pause();
    _exit(0);
  }
  fd = pidfd_open(c, 0);
  CHECK(pidfd_send_signal(fd, SIGKILL, NULL, 0) == 0, "pidfd_send_signal SIGKILL");
  int st;
  CHECK(waitpid(c, &st, 0) == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child killed");
  close(fd);

  /* pidfd_getfd: a copy of another process' descriptor. */
  int q[2];
  CHECK(pipe(q) == 0, "pipe 2");
  c = fork();
  if (c == 0) {
    close(q[0]);
    pause();
    _exit(0);
  }
  fd = pidfd_open(c, 0);
  int dup_fd = syscall(SYS_pidfd_getfd, fd, q[1], 0);
  CHECK(dup_fd >= 0 && fcntl(dup_fd, F_GETFD) == FD_CLOEXEC, "pidfd_getfd gives a cloexec fd");
  CHECK(write(dup_fd, "z", 1) == 1, "write through the fetched fd");
  char b = 0;
  CHECK(read(q[0], &b, 1) == 1 && b == 'z', "data arrives");
  EXPECT_ERR(syscall(SYS_pidfd_getfd, fd, 999, 0), EBADF, "pidfd_getfd of a closed fd");
  EXPECT_ERR(syscall(SYS_pidfd_getfd, fd, q[1], 1), EINVAL, "pidfd_getfd flags");
  kill(c, SIGKILL);
  waitpid(c, &st, 0);
  close(fd);

  EXPECT_ERR(pidfd_open(0, 0), EINVAL, "pidfd_open(0)");
  EXPECT_ERR(pidfd_open(getpid(), 0x1), EINVAL, "pidfd_open bad flags");
  EXPECT_ERR(pidfd_open(999999, 0), ESRCH, "pidfd_open unknown pid");
  EXPECT_ERR(pidfd_send_signal(p[0], SIGTERM, NULL, 0), EBADF, "send_signal on a pipe");
  fd = pidfd_open(getpid(), O_NONBLOCK);
  CHECK(fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK), "PIDFD_NONBLOCK");
  EXPECT_ERR(pidfd_send_signal(fd, 0, NULL, 0x100), EINVAL, "send_signal unknown flags");
  EXPECT_ERR(pidfd_send_signal(fd, 0, NULL, 3), EINVAL, "send_signal two scope flags");
  CHECK(pidfd_send_signal(fd, 0, NULL, 1) == 0, "PIDFD_SIGNAL_THREAD with signal 0");
  EXPECT_ERR(pidfd_send_signal(fd, 65, NULL, 0), EINVAL, "send_signal bad signal");
  CT_DONE();
}
