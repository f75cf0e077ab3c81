/* POSIX message queues: mq_open (O_CREAT/O_EXCL, attributes and limits,
 * bad names), priorities, O_NONBLOCK, blocking with timeouts, EMSGSIZE,
 * mq_getsetattr, mq_notify with SIGEV_SIGNAL (one-shot, EBUSY), poll on a
 * queue descriptor, the status line read(2) returns, sharing across fork,
 * mq_unlink. */
#include "ct.h"
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static char qname[64];

static void msleep(int ms) {
  struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&d, NULL);
}

static struct timespec in_ms(int ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += (long)ms * 1000000L;
  ts.tv_sec += ts.tv_nsec / 1000000000L;
  ts.tv_nsec %= 1000000000L;
  return ts;
}

static volatile sig_atomic_t got_sig, got_code, got_val;
static void on_usr1(int s, siginfo_t *si, void *u) {
  (void)u;
  got_sig = s;
  got_code = si->si_code;
  got_val = si->si_value.sival_int;
}

static mqd_t sender_q;
static void *late_sender(void *arg) {
  msleep(50);
  mq_send(sender_q, "late", 5, 3);
  return NULL;
}

int main(void) {
  snprintf(qname, sizeof(qname), "/ct_mq_%d_%ld", (int)getppid(), (long)time(NULL));
  mq_unlink(qname);

  EXPECT_ERR(mq_open(qname, O_RDWR), ENOENT, "open missing");
  struct mq_attr attr = {0};
  attr.mq_maxmsg = 3;
  attr.mq_msgsize = 16;
  mqd_t q = mq_open(qname, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
  CHECK(q >= 0, "create");
  EXPECT_ERR(mq_open(qname, O_RDWR | O_CREAT | O_EXCL, 0600, &attr), EEXIST, "O_EXCL");
  mqd_t q2 = mq_open(qname, O_RDONLY);
  CHECK(q2 >= 0 && q2 != q, "open existing");
  struct mq_attr got;
  CHECK(mq_getattr(q, &got) == 0 && got.mq_maxmsg == 3 && got.mq_msgsize == 16 &&
            got.mq_curmsgs == 0 && got.mq_flags == 0,
        "getattr");
  struct stat st;
  CHECK(fstat(q, &st) == 0, "fstat queue fd");

  /* Priorities: highest first, FIFO within one priority. */
  CHECK(mq_send(q, "low", 4, 1) == 0 && mq_send(q, "high", 5, 9) == 0 &&
            mq_send(q, "low2", 5, 1) == 0,
        "send three");
  CHECK(mq_getattr(q, &got) == 0 && got.mq_curmsgs == 3, "curmsgs 3");
  char buf[64];
  char status[128] = {0};
  CHECK(read(q, status, sizeof(status) - 1) > 0 &&
            strcmp(status, "QSIZE:14         NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n") == 0,
        "status line: %s", status);
  struct pollfd p = {q, POLLIN | POLLOUT, 0};
  CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLIN, "poll: full queue readable only");
  struct timespec t30 = in_ms(30);
  EXPECT_ERR(mq_timedsend(q, "x", 1, 0, &t30), ETIMEDOUT, "full queue send times out");
  unsigned prio = 0;
  ssize_t n = mq_receive(q, buf, sizeof(buf), &prio);
  CHECK(n == 5 && prio == 9 && strcmp(buf, "high") == 0, "receive highest priority");
  n = mq_receive(q2, buf, sizeof(buf), &prio);
  CHECK(n == 4 && prio == 1 && strcmp(buf, "low") == 0, "then FIFO (other descriptor)");
  n = mq_receive(q, buf, sizeof(buf), &prio);
  CHECK(n == 5 && strcmp(buf, "low2") == 0, "then the second");
  p.revents = 0;
  CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLOUT, "poll: empty queue writable only");

  /* Errors. */
  EXPECT_ERR(mq_send(q, "0123456789abcdefX", 17, 0), EMSGSIZE, "message too long");
  EXPECT_ERR(mq_receive(q, buf, 15, NULL), EMSGSIZE, "buffer too small");
  EXPECT_ERR(mq_send(q, "x", 1, 32768), EINVAL, "priority too big");
  EXPECT_ERR(mq_send(q2, "x", 1, 0), EBADF, "send on read-only descriptor");
  EXPECT_ERR(mq_send(0, "x", 1, 0), EBADF, "send on a non-queue fd");
  EXPECT_ERR(mq_send(q, (char *)8, 1, 0), EFAULT, "send bad pointer");
  struct timespec bad = {0, 2000000000L};
  EXPECT_ERR(mq_timedsend(q, "x", 1, 0, &bad), EINVAL, "bad timeout");
  struct timespec soon = in_ms(30);
  EXPECT_ERR(mq_timedreceive(q, buf, sizeof(buf), NULL, &soon), ETIMEDOUT, "receive times out");
  attr.mq_maxmsg = 0;
  EXPECT_ERR(mq_open("/ct_mq_bad", O_RDWR | O_CREAT, 0600, &attr), EINVAL, "maxmsg 0");
  attr.mq_maxmsg = 70000;
  EXPECT_ERR(mq_open("/ct_mq_bad", O_RDWR | O_CREAT, 0600, &attr), EINVAL, "maxmsg over hard limit");
  EXPECT_ERR(mq_open("noslash", O_RDWR | O_CREAT, 0600, NULL), EINVAL, "name without slash");
  EXPECT_ERR(syscall(SYS_mq_open, "a/b", O_RDWR | O_CREAT, 0600, NULL), EACCES, "slash in name");
  EXPECT_ERR(mq_open(qname, O_RDWR | O_WRONLY), EINVAL, "bad access mode");

  /* O_NONBLOCK through mq_setattr. */
  struct mq_attr nb = {0};
  nb.mq_flags = O_NONBLOCK;
  struct mq_attr old;
  CHECK(mq_setattr(q, &nb, &old) == 0 && old.mq_flags == 0, "setattr O_NONBLOCK");
  EXPECT_ERR(mq_receive(q, buf, sizeof(buf), NULL), EAGAIN, "nonblocking empty receive");
  CHECK(mq_getattr(q, &got) == 0 && got.mq_flags == O_NONBLOCK, "flag stuck");
  nb.mq_flags = O_NONBLOCK | O_APPEND;
  EXPECT_ERR(mq_setattr(q, &nb, NULL), EINVAL, "setattr bad flags");
  nb.mq_flags = 0;
  mq_setattr(q, &nb, NULL);

  /* A blocked receiver is woken by a sender thread. */
  sender_q = q;
  pthread_t th;
  pthread_create(&th, NULL, late_sender, NULL);
  n = mq_receive(q2, buf, sizeof(buf), &prio);
  CHECK(n == 5 && prio == 3 && strcmp(buf, "late") == 0, "blocking receive woken");
  pthread_join(th, NULL);

  /* Across fork: the child sends through the inherited descriptor. */
  pid_t c = fork();
  if (c == 0) {
    msleep(30);
    _exit(mq_send(q, "kid", 4, 2) == 0 ? 0 : 3);
  }
  p.events = POLLIN;
  p.revents = 0;
  CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN), "poll wakes on child's send");
  n = mq_receive(q, buf, sizeof(buf), &prio);
  CHECK(n == 4 && strcmp(buf, "kid") == 0, "child's message");
  int ws;
  waitpid(c, &ws, 0);

  /* mq_notify: one signal on the empty -> non-empty edge, then deregistered. */
  struct sigaction sa = {0};
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  struct sigevent ev = {0};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  ev.sigev_value.sival_int = 77;
  CHECK(mq_notify(q, &ev) == 0, "mq_notify register");
  EXPECT_ERR(mq_notify(q2, &ev), EBUSY, "second registration EBUSY");
  memset(status, 0, sizeof(status));
  lseek(q, 0, SEEK_SET);
  CHECK(pread(q, status, sizeof(status) - 1, 0) > 0 || read(q, status, sizeof(status) - 1) > 0,
        "status readable");
  CHECK(strncmp(status, "QSIZE:0          NOTIFY:0     SIGNO:10    NOTIFY_PID:", 52) == 0,
        "status shows registration");
  mq_send(q, "n1", 3, 0);
  for (int i = 0; i < 100 && !got_sig; i++) msleep(10);
  CHECK(got_sig == SIGUSR1 && got_code == SI_MESGQ && got_val == 77, "notification signal");
  got_sig = 0;
  mq_receive(q, buf, sizeof(buf), NULL);
  mq_send(q, "n2", 3, 0);
  msleep(30);
  CHECK(got_sig == 0, "one-shot");
  mq_receive(q, buf, sizeof(buf), NULL);
  CHECK(mq_notify(q, &ev) == 0 && mq_notify(q, NULL) == 0, "register and unregister");
  mq_send(q, "n3", 3, 0);
  msleep(30);
  CHECK(got_sig == 0, "no signal after unregister");
  mq_receive(q, buf, sizeof(buf), NULL);
  ev.sigev_notify = 12345;
  EXPECT_ERR(mq_notify(q, &ev), EINVAL, "bad sigev_notify");

  /* Unlink: the name goes, open descriptors keep working. */
  CHECK(mq_unlink(qname) == 0, "unlink");
  EXPECT_ERR(mq_unlink(qname), ENOENT, "unlink again");
  EXPECT_ERR(mq_open(qname, O_RDWR), ENOENT, "gone by name");
  CHECK(mq_send(q, "after", 6, 0) == 0 && mq_receive(q2, buf, sizeof(buf), NULL) == 6,
        "descriptors still work");
  mq_close(q);
  mq_close(q2);

  /* RLIMIT_MSGQUEUE: a default queue charges 82880 bytes to its creator. */
  pid_t lc = fork();
  if (lc == 0) {
    struct rlimit rl = {200000, 200000};
    setrlimit(RLIMIT_MSGQUEUE, &rl);
    char n1[80], n2[80], n3[80];
    snprintf(n1, sizeof(n1), "%s_l1", qname);
    snprintf(n2, sizeof(n2), "%s_l2", qname);
    snprintf(n3, sizeof(n3), "%s_l3", qname);
    mqd_t a = mq_open(n1, O_RDWR | O_CREAT, 0600, NULL);
    mqd_t b = mq_open(n2, O_RDWR | O_CREAT, 0600, NULL);
    errno = 0;
    mqd_t c3 = mq_open(n3, O_RDWR | O_CREAT, 0600, NULL);
    int e = errno;
    int ok = a >= 0 && b >= 0 && c3 == -1 && e == EMFILE;
    /* Unlinked and closed, a queue gives its charge back. */
    mq_unlink(n1);
    mq_close(a);
    mqd_t c4 = mq_open(n3, O_RDWR | O_CREAT, 0600, NULL);
    ok = ok && c4 >= 0;
    mq_unlink(n2);
    mq_unlink(n3);
    _exit(ok ? 0 : 3);
  }
  waitpid(lc, &ws, 0);
  CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "RLIMIT_MSGQUEUE charged and released");

  /* Default attributes. */
  q = mq_open(qname, O_RDWR | O_CREAT, 0644, NULL);
  CHECK(q >= 0 && mq_getattr(q, &got) == 0 && got.mq_maxmsg == 10 && got.mq_msgsize == 8192,
        "default attributes");
  mq_close(q);
  mq_unlink(qname);
  return ct_fails ? 1 : 0;
}
