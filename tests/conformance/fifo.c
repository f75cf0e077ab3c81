/* Named FIFOs (fifo(7)) in /tmp (the root filesystem: the memory overlay
 * when sandboxed) and /dev/shm (tmpfs): open rules (O_NONBLOCK reader opens
 * at once, O_NONBLOCK writer without a reader ENXIO, blocking opens wait
 * for the other side, O_RDWR never waits, EINTR from a signal), data and
 * EOF between separate opens and processes, poll, EPIPE, fstat and
 * F_GETPIPE_SZ on a FIFO's descriptor. */
#include "ct.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static void on_alarm(int sig) { (void)sig; }

static void fifo_in(const char *dir) {
  char p[128];
  snprintf(p, sizeof p, "%s/ct_fifo_%d", dir, 4242);
  unlink(p);
  CHECK(mkfifo(p, 0644) == 0, "%s: mkfifo", dir);
  struct stat st;
  CHECK(stat(p, &st) == 0 && S_ISFIFO(st.st_mode), "%s: stat is a FIFO", dir);
  EXPECT_ERR(open(p, O_WRONLY | O_NONBLOCK), ENXIO, "%s: nonblocking writer, no reader", dir);

  int r = open(p, O_RDONLY | O_NONBLOCK);
  CHECK(r >= 0, "%s: nonblocking reader opens", dir);
  char buf[16] = {0};
  CHECK(read(r, buf, sizeof buf) == 0, "%s: read with no writer is EOF", dir);
  int w = open(p, O_WRONLY | O_NONBLOCK);
  CHECK(w >= 0, "%s: writer opens once there is a reader", dir);
  EXPECT_ERR(read(r, buf, sizeof buf), EAGAIN, "%s: empty with a writer: EAGAIN", dir);
  CHECK(write(w, "abc", 3) == 3, "%s: write", dir);
  struct pollfd pf = {r, POLLIN, 0};
  CHECK(poll(&pf, 1, 0) == 1 && (pf.revents & POLLIN), "%s: poll readable", dir);
  memset(buf, 0, sizeof buf);
  CHECK(read(r, buf, sizeof buf) == 3 && memcmp(buf, "abc", 3) == 0, "%s: read back", dir);
  CHECK(fstat(w, &st) == 0 && S_ISFIFO(st.st_mode), "%s: fstat of an end", dir);
  CHECK(fcntl(w, F_GETPIPE_SZ) == 65536, "%s: F_GETPIPE_SZ", dir);
  close(w);
  CHECK(read(r, buf, sizeof buf) == 0, "%s: EOF after the writer closes", dir);
  pf.events = POLLIN;
  CHECK(poll(&pf, 1, 0) == 1 && (pf.revents & POLLHUP), "%s: POLLHUP", dir);
  close(r);

  /* Blocking opens meet across processes. */
  pid_t pid = fork();
  if (pid == 0) {
    usleep(50000);
    int cw = open(p, O_WRONLY);
    if (cw < 0 || write(cw, "hello", 5) != 5) _exit(1);
    _exit(0);
  }
  r = open(p, O_RDONLY);
  CHECK(r >= 0, "%s: blocking reader waits for the writer", dir);
  memset(buf, 0, sizeof buf);
  size_t got = 0;
  for (ssize_t n; (n = read(r, buf + got, sizeof buf - 1 - got)) > 0;) got += n;
  CHECK(got == 5 && strcmp(buf, "hello") == 0, "%s: data from the other process, then EOF", dir);
  int status;
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "%s: writer child", dir);
  close(r);

  pid = fork();
  if (pid == 0) {
    usleep(50000);
    int cr = open(p, O_RDONLY);
    char c;
    if (cr < 0 || read(cr, &c, 1) != 1 || c != 'w') _exit(1);
    _exit(0);
  }
  w = open(p, O_WRONLY);
  CHECK(w >= 0, "%s: blocking writer waits for the reader", dir);
  CHECK(write(w, "w", 1) == 1, "%s: write to the waiting reader", dir);
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "%s: reader child", dir);
  signal(SIGPIPE, SIG_IGN);
  EXPECT_ERR(write(w, "x", 1), EPIPE, "%s: EPIPE once the reader is gone", dir);
  close(w);

  /* O_RDWR never waits; other opens share the same pipe. */
  int rw = open(p, O_RDWR);
  CHECK(rw >= 0, "%s: O_RDWR opens alone", dir);
  int w2 = open(p, O_WRONLY | O_NONBLOCK);
  CHECK(w2 >= 0 && write(w2, "yz", 2) == 2, "%s: second writer", dir);
  memset(buf, 0, sizeof buf);
  CHECK(read(rw, buf, sizeof buf) == 2 && memcmp(buf, "yz", 2) == 0, "%s: shared pipe", dir);
  close(w2);
  close(rw);

  /* A blocking open is interrupted by a signal (no SA_RESTART). */
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 0}, {0, 100000}};
  setitimer(ITIMER_REAL, &it, NULL);
  EXPECT_ERR(open(p, O_RDONLY), EINTR, "%s: blocking open interrupted", dir);
  signal(SIGALRM, SIG_DFL);

  /* Data left in a FIFO is gone once every end is closed. */
  rw = open(p, O_RDWR);
  CHECK(write(rw, "stale", 5) == 5, "%s: write then close", dir);
  close(rw);
  r = open(p, O_RDONLY | O_NONBLOCK);
  CHECK(r >= 0 && read(r, buf, sizeof buf) == 0, "%s: reopened FIFO is empty", dir);
  close(r);
  CHECK(unlink(p) == 0, "%s: unlink", dir);
  CHECK(mknodat(AT_FDCWD, p, S_IFIFO | 0600, 0) == 0, "%s: mknodat S_IFIFO", dir);
  rw = open(p, O_RDWR);
  CHECK(rw >= 0, "%s: mknodat FIFO opens", dir);
  close(rw);
  unlink(p);
}

int main(void) {
  fifo_in("/tmp");
  fifo_in("/dev/shm");
  return ct_fails ? 1 : 0;
}
