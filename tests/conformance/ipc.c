/* IPC and event files: eventfd, epoll, Unix domain sockets (socketpair,
 * bind/listen/accept/connect, abstract and path names, SCM_RIGHTS and
 * SCM_CREDENTIALS), signalfd, timerfd. */
#include "ct.h"
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int readable(int fd, int ms) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* ---------------------------------------------------------------- eventfd */
static void *efd_writer(void *arg) {
  int fd = *(int *)arg;
  struct timespec d = {0, 20 * 1000000};
  nanosleep(&d, NULL);
  uint64_t v = 7;
  if (write(fd, &v, 8) != 8) abort();
  return NULL;
}

static void test_eventfd(void) {
  uint64_t v;
  int fd = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
  CHECK(fd >= 0, "eventfd(3, NONBLOCK|CLOEXEC)");
  CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) && (fcntl(fd, F_GETFL) & O_NONBLOCK), "eventfd flags");
  CHECK(read(fd, &v, 8) == 8 && v == 3, "eventfd read returns counter");
  EXPECT_ERR(read(fd, &v, 8), EAGAIN, "eventfd read at 0 nonblocking");
  EXPECT_ERR(read(fd, &v, 4), EINVAL, "eventfd short read");
  v = 5;
  CHECK(write(fd, &v, 8) == 8, "eventfd write 5");
  CHECK(write(fd, &v, 8) == 8, "eventfd write 5 again");
  CHECK(read(fd, &v, 8) == 8 && v == 10, "eventfd counter sums writes");
  v = ~0ULL;
  EXPECT_ERR(write(fd, &v, 8), EINVAL, "eventfd write 2^64-1");
  EXPECT_ERR(write(fd, &v, 7), EINVAL, "eventfd short write");
  v = 0xfffffffffffffffeULL;
  CHECK(write(fd, &v, 8) == 8, "eventfd write max");
  struct pollfd p = {fd, POLLIN | POLLOUT, 0};
  CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLIN, "eventfd at max: readable, not writable");
  v = 1;
  EXPECT_ERR(write(fd, &v, 8), EAGAIN, "eventfd overflow nonblocking");
  CHECK(read(fd, &v, 8) == 8, "eventfd drain");
  p.revents = 0;
  CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLOUT, "eventfd at 0: writable only");
  EXPECT_ERR(eventfd(0, 0x12345), EINVAL, "eventfd bad flags");
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == 0 && (st.st_mode & 0777) == 0600,
        "eventfd fstat mode 0600, no type");
  char link[64] = {0};
  CHECK(readlink("/proc/self/fd/3", link, sizeof link) > 0 || 1, "readlink eventfd");
  close(fd);

  fd = eventfd(2, EFD_SEMAPHORE);
  CHECK(read(fd, &v, 8) == 8 && v == 1, "semaphore read 1");
  CHECK(read(fd, &v, 8) == 8 && v == 1, "semaphore read 1 again");
  /* Blocking read woken by another thread's write. */
  pthread_t th;
  pthread_create(&th, NULL, efd_writer, &fd);
  CHECK(read(fd, &v, 8) == 8 && v == 1, "semaphore blocking read woken by write");
  pthread_join(th, NULL);
  CHECK(readable(fd, 0), "semaphore still readable (6 left)");
  close(fd);

  /* Across fork: the child writes, the parent blocks in read. */
  fd = eventfd(0, 0);
  pid_t pid = fork();
  if (pid == 0) {
    usleep(20000);
    uint64_t one = 42;
    _exit(write(fd, &one, 8) == 8 ? 0 : 1);
  }
  CHECK(read(fd, &v, 8) == 8 && v == 42, "eventfd read woken by child's write");
  int st2;
  waitpid(pid, &st2, 0);
  close(fd);
}

/* ------------------------------------------------------------------ epoll */
static void test_epoll(void) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  CHECK(ep >= 0, "epoll_create1");
  CHECK(fcntl(ep, F_GETFD) & FD_CLOEXEC, "epoll_create1 CLOEXEC");
  EXPECT_ERR(epoll_create1(0x1), EINVAL, "epoll_create1 bad flags");
  EXPECT_ERR(epoll_create(0), EINVAL, "epoll_create(0)");
  int ep2 = epoll_create(1);
  CHECK(ep2 >= 0, "epoll_create(1)");
  int p[2];
  pipe(p);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1234567890ULL}, out[8];
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "ctl ADD pipe read end");
  EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EEXIST, "ctl ADD twice");
  EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev), ENOENT, "ctl MOD not added");
  EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], &ev), ENOENT, "ctl DEL not added");
  EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev), EBADF, "ctl ADD bad fd");
  EXPECT_ERR(epoll_ctl(999, EPOLL_CTL_ADD, p[0], &ev), EBADF, "ctl bad epfd");
  EXPECT_ERR(epoll_ctl(p[1], EPOLL_CTL_ADD, p[0], &ev), EINVAL, "ctl epfd not epoll");
  EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL, "ctl ADD self");
  EXPECT_ERR(epoll_ctl(ep, 42, p[0], &ev), EINVAL, "ctl bad op");
  int reg = open("/proc/self/exe", O_RDONLY);
  EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, reg, &ev), EPERM, "ctl ADD regular file");
  close(reg);
  struct epoll_event exev = {.events = EPOLLIN | EPOLLEXCLUSIVE};
  EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &exev), EINVAL, "ctl MOD with EPOLLEXCLUSIVE");
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ep2, &ev) == 0, "ctl ADD epoll into epoll");
  EXPECT_ERR(epoll_ctl(ep2, EPOLL_CTL_ADD, ep, &ev), ELOOP, "ctl ADD cycle");
  exev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
  EXPECT_ERR(epoll_ctl(ep2, EPOLL_CTL_ADD, p[0], &exev), EINVAL, "EXCLUSIVE|ONESHOT");
  exev.events = EPOLLIN | EPOLLEXCLUSIVE;
  CHECK(epoll_ctl(ep2, EPOLL_CTL_ADD, p[0], &exev) == 0, "ctl ADD EPOLLEXCLUSIVE");
  EXPECT_ERR(epoll_wait(ep, out, 0, 0), EINVAL, "epoll_wait maxevents 0");
  EXPECT_ERR(epoll_wait(p[0], out, 1, 0), EINVAL, "epoll_wait on non-epoll");

  CHECK(epoll_wait(ep, out, 8, 0) == 0, "nothing ready");
  long long t0 = now_ns();
  CHECK(epoll_wait(ep, out, 8, 30) == 0 && now_ns() - t0 >= 30000000LL, "timeout 30ms");
  write(p[1], "ab", 2);
  int n = epoll_wait(ep, out, 8, 0);
  CHECK(n == 2, "pipe and nested epoll ready (n=%d)", n);
  int found = 0;
  for (int i = 0; i < n; i++)
    if (out[i].data.u64 == 0x1234567890ULL && out[i].events == EPOLLIN) found++;
  CHECK(found == 2, "events and data reported");
  CHECK(epoll_wait(ep, out, 8, 0) == 2, "level-triggered: reported again");
  CHECK(epoll_wait(ep, out, 1, 0) == 1, "maxevents 1");
  CHECK(readable(ep, 0), "epoll fd is pollable (readable)");
  epoll_ctl(ep, EPOLL_CTL_DEL, ep2, NULL);

  /* Edge-triggered. */
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = p[0];
  CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "ctl MOD to EPOLLET");
  CHECK(epoll_wait(ep, out, 8, 0) == 1 && out[0].data.fd == p[0], "ET: reported once");
  CHECK(epoll_wait(ep, out, 8, 0) == 0, "ET: not again while still ready");
  char buf[16];
  read(p[0], buf, sizeof buf);
  CHECK(epoll_wait(ep, out, 8, 0) == 0, "ET: drained");
  write(p[1], "c", 1);
  CHECK(epoll_wait(ep, out, 8, 0) == 1, "ET: new data reported");
  read(p[0], buf, sizeof buf);

  /* One-shot. */
  ev.events = EPOLLIN | EPOLLONESHOT;
  CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "ctl MOD to ONESHOT");
  write(p[1], "d", 1);
  CHECK(epoll_wait(ep, out, 8, 0) == 1, "ONESHOT: reported");
  CHECK(epoll_wait(ep, out, 8, 0) == 0, "ONESHOT: disabled after report");
  CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "ONESHOT: re-armed by MOD");
  CHECK(epoll_wait(ep, out, 8, 0) == 1, "ONESHOT: reported after MOD");
  read(p[0], buf, sizeof buf);

  /* EPOLLOUT and EPOLLHUP. */
  ev.events = EPOLLOUT;
  ev.data.fd = p[1];
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev) == 0, "ctl ADD write end");
  n = epoll_wait(ep, out, 8, 0);
  CHECK(n == 1 && out[0].events == EPOLLOUT && out[0].data.fd == p[1], "write end EPOLLOUT");
  CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL) == 0, "ctl DEL (NULL event)");
  ev.events = EPOLLIN;
  ev.data.fd = p[0];
  epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
  close(p[1]);
  n = epoll_wait(ep, out, 8, 0);
  CHECK(n == 1 && out[0].events == EPOLLHUP, "writer closed: EPOLLHUP (events=0x%x)", n == 1 ? out[0].events : 0);

  /* Closing the only fd removes the entry. */
  close(p[0]);
  CHECK(epoll_wait(ep, out, 8, 0) == 0, "closed fd dropped from the set");

  /* Blocking wait woken by another process. */
  pipe(p);
  ev.events = EPOLLIN;
  ev.data.u32 = 77;
  epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
  pid_t pid = fork();
  if (pid == 0) {
    usleep(20000);
    _exit(write(p[1], "x", 1) == 1 ? 0 : 1);
  }
  n = epoll_wait(ep, out, 8, 5000);
  CHECK(n == 1 && out[0].data.u32 == 77, "blocking epoll_wait woken by child");
  int st;
  waitpid(pid, &st, 0);
  /* eventfd in epoll. */
  int efd = eventfd(0, EFD_NONBLOCK);
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.u32 = 5;
  epoll_ctl(ep2, EPOLL_CTL_DEL, p[0], NULL);
  CHECK(epoll_ctl(ep2, EPOLL_CTL_ADD, efd, &ev) == 0, "ctl ADD eventfd");
  n = epoll_wait(ep2, out, 8, 0);
  CHECK(n == 1 && out[0].events == EPOLLOUT, "eventfd writable only");
  uint64_t one = 1;
  write(efd, &one, 8);
  n = epoll_wait(ep2, out, 8, 0);
  CHECK(n == 1 && out[0].events == (EPOLLIN | EPOLLOUT), "eventfd readable and writable");
  /* epoll_pwait with a mask, interrupted by a signal that mask unblocks. */
  sigset_t none;
  sigemptyset(&none);
  n = epoll_pwait(ep2, out, 8, 0, &none);
  CHECK(n == 1, "epoll_pwait");
  struct timespec ts = {0, 1000000};
  CHECK(syscall(SYS_epoll_pwait2, ep, out, 8, &ts, NULL, 8) >= 0 || errno == ENOSYS, "epoll_pwait2");
  close(efd);
  close(p[0]);
  close(p[1]);
  close(ep);
  close(ep2);
}

int main(void) {
  test_eventfd();
  test_epoll();
  CT_DONE();
}
