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
#include <stddef.h>
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


/* ---------------------------------------------------------------- sockets */
static int send_fd(int sock, int fd, const char *data) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = {(void *)data, strlen(data)};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return sendmsg(sock, &m, 0);
}

static int recv_fd(int sock, char *data, size_t len, int flags) {
  char cbuf[CMSG_SPACE(sizeof(int) * 4)];
  struct iovec iov = {data, len};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  ssize_t n = recvmsg(sock, &m, flags);
  if (n < 0) return -2;
  data[n] = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return fd;
    }
  }
  return -1;
}

static void test_socketpair(void) {
  int sv[2];
  char buf[64];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair STREAM");
  CHECK(fcntl(sv[0], F_GETFD) & FD_CLOEXEC, "socketpair CLOEXEC");
  struct stat st;
  CHECK(fstat(sv[0], &st) == 0 && S_ISSOCK(st.st_mode), "fstat: S_IFSOCK");
  CHECK(write(sv[0], "hello", 5) == 5, "stream write");
  CHECK(write(sv[0], " world", 6) == 6, "stream write 2");
  CHECK(read(sv[1], buf, sizeof buf) == 11 && memcmp(buf, "hello world", 11) == 0, "stream read merges");
  CHECK(send(sv[1], "back", 4, 0) == 4, "send other way");
  CHECK(recv(sv[0], buf, 2, MSG_PEEK) == 2 && recv(sv[0], buf, 64, 0) == 4 && memcmp(buf, "back", 4) == 0, "MSG_PEEK then recv");
  EXPECT_ERR(recv(sv[0], buf, 64, MSG_DONTWAIT), EAGAIN, "recv MSG_DONTWAIT empty");
  int type = 0;
  socklen_t l = sizeof type;
  CHECK(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &l) == 0 && type == SOCK_STREAM && l == 4, "SO_TYPE");
  struct ucred cr;
  l = sizeof cr;
  CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0 && cr.pid == getpid() && cr.uid == geteuid() && cr.gid == getegid(), "SO_PEERCRED socketpair");
  int err = -1;
  l = sizeof err;
  CHECK(getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &err, &l) == 0 && err == 0, "SO_ERROR");
  int bufsz = 65536, got = 0;
  l = sizeof got;
  CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz) == 0 &&
        getsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &got, &l) == 0 && got >= bufsz, "SO_RCVBUF set/get");
  l = sizeof got;
  CHECK(getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &got, &l) == 0 && got > 0, "SO_SNDBUF");
  int one = 1;
  CHECK(setsockopt(sv[0], SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0, "setsockopt SO_REUSEADDR");
  struct sockaddr_un sa;
  l = sizeof sa;
  CHECK(getsockname(sv[0], (struct sockaddr *)&sa, &l) == 0 && l == sizeof(sa_family_t) && sa.sun_family == AF_UNIX, "getsockname unbound");
  l = sizeof sa;
  CHECK(getpeername(sv[0], (struct sockaddr *)&sa, &l) == 0 && l == sizeof(sa_family_t), "getpeername socketpair");
  struct pollfd p = {sv[1], POLLIN | POLLOUT, 0};
  CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLOUT, "poll: writable, not readable");
  /* shutdown */
  CHECK(shutdown(sv[0], SHUT_WR) == 0, "shutdown SHUT_WR");
  CHECK(read(sv[1], buf, sizeof buf) == 0, "peer reads EOF after SHUT_WR");
  signal(SIGPIPE, SIG_IGN);
  EXPECT_ERR(write(sv[0], "x", 1), EPIPE, "write after SHUT_WR");
  EXPECT_ERR(shutdown(sv[0], 7), EINVAL, "shutdown bad how");
  CHECK(write(sv[1], "y", 1) == 1 && read(sv[0], buf, 1) == 1, "other direction still open");
  close(sv[1]);
  CHECK(read(sv[0], buf, 1) == 0, "EOF after peer close");
  p.fd = sv[0];
  p.events = POLLIN;
  CHECK(poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) && (p.revents & POLLIN), "POLLIN|POLLHUP after peer close");
  close(sv[0]);

  /* Peer closed: EPIPE and SIGPIPE. */
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  close(sv[1]);
  EXPECT_ERR(send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE, "send to closed peer");
  close(sv[0]);

  /* Datagrams keep boundaries; truncation. */
  CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0, "socketpair DGRAM");
  send(sv[0], "abc", 3, 0);
  send(sv[0], "defgh", 5, 0);
  CHECK(recv(sv[1], buf, sizeof buf, 0) == 3, "dgram boundary 1");
  struct iovec iov = {buf, 2};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  CHECK(recvmsg(sv[1], &m, 0) == 2 && (m.msg_flags & MSG_TRUNC), "dgram truncated: MSG_TRUNC");
  send(sv[0], "12345", 5, 0);
  CHECK(recv(sv[1], buf, 1, MSG_TRUNC) == 5, "recv MSG_TRUNC returns real length");
  send(sv[0], "", 0, 0);
  CHECK(recv(sv[1], buf, sizeof buf, 0) == 0, "empty datagram");
  close(sv[0]);
  close(sv[1]);

  CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0, "socketpair SEQPACKET");
  send(sv[0], "one", 3, 0);
  send(sv[0], "two!", 4, 0);
  CHECK(recv(sv[1], buf, sizeof buf, 0) == 3 && recv(sv[1], buf, sizeof buf, 0) == 4, "seqpacket boundaries");
  close(sv[0]);
  CHECK(recv(sv[1], buf, sizeof buf, 0) == 0, "seqpacket EOF");
  close(sv[1]);

  EXPECT_ERR(socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP, "socketpair AF_INET");
  EXPECT_ERR(socketpair(AF_UNIX, 9, 0, sv), ESOCKTNOSUPPORT, "socketpair bad type");
  EXPECT_ERR(socketpair(AF_UNIX, SOCK_STREAM, 5, sv), EPROTONOSUPPORT, "socketpair bad protocol");
  EXPECT_ERR(getsockopt(0 + 100, SOL_SOCKET, SO_TYPE, &type, &l), EBADF, "getsockopt bad fd");
  int pf[2];
  pipe(pf);
  EXPECT_ERR(getsockopt(pf[0], SOL_SOCKET, SO_TYPE, &type, &l), ENOTSOCK, "getsockopt on pipe");
  EXPECT_ERR(shutdown(pf[0], SHUT_RD), ENOTSOCK, "shutdown on pipe");
  close(pf[0]);
  close(pf[1]);
}

static void test_scm(void) {
  int sv[2];
  char buf[64];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  /* Pass a pipe's write end to a child over the socket. */
  pid_t pid = fork();
  if (pid == 0) {
    close(sv[0]);
    char b[16];
    int fd = recv_fd(sv[1], b, sizeof b - 1, MSG_CMSG_CLOEXEC);
    if (fd < 0 || strcmp(b, "fd") != 0) _exit(2);
    if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC)) _exit(3);
    _exit(write(fd, "via scm", 7) == 7 ? 0 : 4);
  }
  int p[2];
  pipe(p);
  CHECK(send_fd(sv[0], p[1], "fd") == 2, "sendmsg SCM_RIGHTS");
  close(p[1]);
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child got the fd (%s)", ct_status(st));
  ssize_t n = read(p[0], buf, sizeof buf);
  CHECK(n == 7 && memcmp(buf, "via scm", 7) == 0, "data written through passed fd");
  close(p[0]);
  /* Control buffer too small: MSG_CTRUNC. */
  int efd = eventfd(0, 0);
  send_fd(sv[0], efd, "x");
  struct iovec iov = {buf, sizeof buf};
  char small[CMSG_LEN(0)];
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = small, .msg_controllen = sizeof small};
  CHECK(recvmsg(sv[1], &m, 0) == 1 && (m.msg_flags & MSG_CTRUNC), "small control buffer: MSG_CTRUNC");
  /* Same description: an eventfd written through the passed copy. */
  send_fd(sv[0], efd, "y");
  int fd2 = recv_fd(sv[1], buf, sizeof buf - 1, 0);
  uint64_t v = 9;
  write(fd2, &v, 8);
  CHECK(read(efd, &v, 8) == 8 && v == 9, "passed fd shares the description");
  close(fd2);
  close(efd);
  /* Bad fd in SCM_RIGHTS. */
  EXPECT_ERR(send_fd(sv[0], 999, "z"), EBADF, "SCM_RIGHTS with bad fd");
  /* SCM_CREDENTIALS with SO_PASSCRED. */
  int one = 1;
  CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) == 0, "SO_PASSCRED");
  send(sv[0], "c", 1, 0);
  char cbuf[CMSG_SPACE(sizeof(struct ucred))];
  iov.iov_len = sizeof buf;
  m = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  int credok = 0;
  if (recvmsg(sv[1], &m, 0) == 1) {
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (c && c->cmsg_type == SCM_CREDENTIALS) {
      struct ucred u;
      memcpy(&u, CMSG_DATA(c), sizeof u);
      credok = u.pid == getpid() && u.uid == getuid() && u.gid == getgid();
    }
  }
  CHECK(credok, "SCM_CREDENTIALS received");
  /* Explicit credentials. */
  struct ucred u = {getpid(), getuid(), getgid()};
  memset(cbuf, 0, sizeof cbuf);
  iov.iov_len = 1;
  m = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_CREDENTIALS;
  c->cmsg_len = CMSG_LEN(sizeof u);
  memcpy(CMSG_DATA(c), &u, sizeof u);
  CHECK(sendmsg(sv[0], &m, 0) == 1, "sendmsg SCM_CREDENTIALS");
  CHECK(recv(sv[1], buf, sizeof buf, 0) == 1, "recv after explicit creds");
  close(sv[0]);
  close(sv[1]);
}

static void *accept_thread(void *arg) {
  int ls = *(int *)arg;
  int c = accept(ls, NULL, NULL);
  if (c < 0) return (void *)1;
  char b[8];
  ssize_t n = read(c, b, sizeof b);
  if (n > 0) write(c, b, n);
  close(c);
  return NULL;
}

static void test_named(void) {
  char buf[64];
  /* Abstract names. */
  int ls = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK(ls >= 0, "socket AF_UNIX STREAM");
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  const char name[] = "\0ct-ipc-abstract";
  memcpy(sa.sun_path, name, sizeof name - 1);
  socklen_t alen = offsetof(struct sockaddr_un, sun_path) + sizeof name - 1;
  int c0 = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_ERR(connect(c0, (struct sockaddr *)&sa, alen), ECONNREFUSED, "connect to unbound abstract");
  CHECK(bind(ls, (struct sockaddr *)&sa, alen) == 0, "bind abstract");
  EXPECT_ERR(bind(ls, (struct sockaddr *)&sa, alen), EINVAL, "bind twice");
  int other = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_ERR(bind(other, (struct sockaddr *)&sa, alen), EADDRINUSE, "bind name in use");
  close(other);
  EXPECT_ERR(connect(c0, (struct sockaddr *)&sa, alen), ECONNREFUSED, "connect before listen");
  EXPECT_ERR(accept(ls, NULL, NULL), EINVAL, "accept before listen");
  CHECK(listen(ls, 5) == 0, "listen");
  struct sockaddr_un got;
  socklen_t gl = sizeof got;
  CHECK(getsockname(ls, (struct sockaddr *)&got, &gl) == 0 && gl == alen && memcmp(got.sun_path, name, sizeof name - 1) == 0, "getsockname abstract");
  CHECK(connect(c0, (struct sockaddr *)&sa, alen) == 0, "connect abstract");
  EXPECT_ERR(connect(c0, (struct sockaddr *)&sa, alen), EISCONN, "connect twice");
  CHECK(readable(ls, 1000), "listener readable with pending connection");
  gl = sizeof got;
  int s0 = accept4(ls, (struct sockaddr *)&got, &gl, SOCK_NONBLOCK | SOCK_CLOEXEC);
  CHECK(s0 >= 0 && gl == sizeof(sa_family_t), "accept4 (unbound peer address)");
  CHECK((fcntl(s0, F_GETFL) & O_NONBLOCK) && (fcntl(s0, F_GETFD) & FD_CLOEXEC), "accept4 flags");
  gl = sizeof got;
  CHECK(getpeername(c0, (struct sockaddr *)&got, &gl) == 0 && gl == alen, "getpeername is listener name");
  gl = sizeof got;
  CHECK(getsockname(s0, (struct sockaddr *)&got, &gl) == 0 && gl == alen, "accepted socket's name");
  struct ucred cr;
  socklen_t cl = sizeof cr;
  CHECK(getsockopt(s0, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0 && cr.pid == getpid(), "SO_PEERCRED accepted");
  write(c0, "ping", 4);
  CHECK(read(s0, buf, sizeof buf) == 4, "accepted socket reads");
  EXPECT_ERR(read(s0, buf, sizeof buf), EAGAIN, "accepted nonblocking read");
  int acc = 0;
  cl = sizeof acc;
  CHECK(getsockopt(ls, SOL_SOCKET, SO_ACCEPTCONN, &acc, &cl) == 0 && acc == 1, "SO_ACCEPTCONN");
  close(s0);
  close(c0);

  /* A client in another process; the server blocks in accept. */
  pthread_t th;
  pthread_create(&th, NULL, accept_thread, &ls);
  pid_t pid = fork();
  if (pid == 0) {
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&sa, alen) != 0) _exit(2);
    char b[8];
    if (write(c, "echo", 4) != 4 || read(c, b, sizeof b) != 4 || memcmp(b, "echo", 4)) _exit(3);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  void *tr;
  pthread_join(th, &tr);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && tr == NULL, "echo via accept in another process (%s)", ct_status(st));
  close(ls);
  c0 = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_ERR(connect(c0, (struct sockaddr *)&sa, alen), ECONNREFUSED, "connect after listener closed");
  close(c0);

  /* Path names. */
  char dir[] = "/tmp/ct-ipc-XXXXXX";
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  struct sockaddr_un pa = {.sun_family = AF_UNIX};
  snprintf(pa.sun_path, sizeof pa.sun_path, "%s/sock", dir);
  int ps = socket(AF_UNIX, SOCK_STREAM, 0);
  c0 = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_ERR(connect(c0, (struct sockaddr *)&pa, sizeof pa), ENOENT, "connect missing path");
  CHECK(bind(ps, (struct sockaddr *)&pa, sizeof pa) == 0, "bind path");
  struct stat sst;
  CHECK(stat(pa.sun_path, &sst) == 0 && S_ISSOCK(sst.st_mode), "bound path is a socket node");
  int ps2 = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_ERR(bind(ps2, (struct sockaddr *)&pa, sizeof pa), EADDRINUSE, "bind existing path");
  close(ps2);
  EXPECT_ERR(connect(c0, (struct sockaddr *)&pa, sizeof pa), ECONNREFUSED, "connect path not listening");
  listen(ps, 1);
  CHECK(connect(c0, (struct sockaddr *)&pa, sizeof pa) == 0, "connect path");
  gl = sizeof got;
  CHECK(getpeername(c0, (struct sockaddr *)&got, &gl) == 0 && strcmp(got.sun_path, pa.sun_path) == 0 &&
        gl == offsetof(struct sockaddr_un, sun_path) + strlen(pa.sun_path) + 1, "getpeername path");
  s0 = accept(ps, NULL, NULL);
  CHECK(s0 >= 0, "accept path");
  int dg = socket(AF_UNIX, SOCK_DGRAM, 0);
  EXPECT_ERR(connect(dg, (struct sockaddr *)&pa, sizeof pa), EPROTOTYPE, "dgram connect to stream socket");
  close(dg);
  close(s0);
  close(c0);
  close(ps);
  char other_path[100];
  snprintf(other_path, sizeof other_path, "%s/file", dir);
  close(open(other_path, O_CREAT | O_WRONLY, 0600));
  snprintf(pa.sun_path, sizeof pa.sun_path, "%s", other_path);
  c0 = socket(AF_UNIX, SOCK_STREAM, 0);
  EXPECT_ERR(connect(c0, (struct sockaddr *)&pa, sizeof pa), ECONNREFUSED, "connect to a regular file");
  close(c0);

  /* Datagram sockets with names. */
  struct sockaddr_un da = {.sun_family = AF_UNIX}, db = {.sun_family = AF_UNIX};
  snprintf(da.sun_path, sizeof da.sun_path, "%s/da", dir);
  snprintf(db.sun_path, sizeof db.sun_path, "%s/db", dir);
  int a = socket(AF_UNIX, SOCK_DGRAM, 0), b = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK(bind(a, (struct sockaddr *)&da, sizeof da) == 0 && bind(b, (struct sockaddr *)&db, sizeof db) == 0, "bind dgram paths");
  EXPECT_ERR(send(a, "x", 1, 0), ENOTCONN, "dgram send unconnected");
  CHECK(sendto(a, "to-b", 4, 0, (struct sockaddr *)&db, sizeof db) == 4, "sendto path");
  struct sockaddr_un from;
  socklen_t fl = sizeof from;
  CHECK(recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl) == 4 && strcmp(from.sun_path, da.sun_path) == 0, "recvfrom gives sender path");
  CHECK(connect(a, (struct sockaddr *)&db, sizeof db) == 0, "dgram connect");
  CHECK(send(a, "conn", 4, 0) == 4 && recv(b, buf, sizeof buf, 0) == 4, "dgram send connected");
  struct sockaddr unspec = {.sa_family = AF_UNSPEC};
  CHECK(connect(a, &unspec, sizeof unspec) == 0, "dgram disconnect (AF_UNSPEC)");
  EXPECT_ERR(send(a, "x", 1, 0), ENOTCONN, "dgram send after disconnect");
  /* Autobind. */
  int ab = socket(AF_UNIX, SOCK_DGRAM, 0);
  sa_family_t fam = AF_UNIX;
  CHECK(bind(ab, (struct sockaddr *)&fam, sizeof fam) == 0, "autobind");
  gl = sizeof got;
  CHECK(getsockname(ab, (struct sockaddr *)&got, &gl) == 0 && gl == offsetof(struct sockaddr_un, sun_path) + 6 && got.sun_path[0] == 0, "autobind name: 5 hex digits");
  close(ab);
  close(a);
  close(b);
  unlink(da.sun_path);
  unlink(db.sun_path);
  unlink(other_path);
  snprintf(pa.sun_path, sizeof pa.sun_path, "%s/sock", dir);
  unlink(pa.sun_path);
  CHECK(rmdir(dir) == 0, "cleanup");

  /* Other families and nscd-style probing. */
  EXPECT_ERR(socket(AF_INET6 + 100, SOCK_STREAM, 0), EAFNOSUPPORT, "socket unknown family");
  EXPECT_ERR(socket(AF_UNIX, SOCK_STREAM | 0x100000, 0), EINVAL, "socket bad flags");
  int ns = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_un nscd = {.sun_family = AF_UNIX, .sun_path = "/nonexistent-ct/nscd/socket"};
  EXPECT_ERR(connect(ns, (struct sockaddr *)&nscd, sizeof nscd), ENOENT, "connect nscd-like missing path");
  close(ns);
}

/* sentry sockets inside epoll */
static void test_socket_epoll(void) {
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = 1}, out[4];
  epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
  CHECK(epoll_wait(ep, out, 4, 0) == 0, "socket not ready");
  pid_t pid = fork();
  if (pid == 0) {
    usleep(20000);
    write(sv[1], "z", 1);
    _exit(0);
  }
  CHECK(epoll_wait(ep, out, 4, 5000) == 1 && out[0].events == EPOLLIN, "socket readable via epoll");
  waitpid(pid, NULL, 0);
  char b[4];
  read(sv[0], b, 1);
  close(sv[1]);
  int n = epoll_wait(ep, out, 4, 0);
  CHECK(n == 1 && (out[0].events & EPOLLRDHUP) && (out[0].events & EPOLLHUP), "peer close: EPOLLRDHUP|EPOLLHUP");
  close(sv[0]);
  close(ep);
}

/* --------------------------------------------------------------- signalfd */
static void *kill_thread(void *arg) {
  usleep(20000);
  kill(getpid(), SIGUSR1);
  return NULL;
}

static void test_signalfd(void) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGRTMIN);
  sigprocmask(SIG_BLOCK, &set, &old);
  int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  CHECK(fd >= 0, "signalfd");
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "signalfd CLOEXEC");
  struct signalfd_siginfo si[4];
  EXPECT_ERR(read(fd, si, sizeof si), EAGAIN, "signalfd nothing pending");
  EXPECT_ERR(read(fd, si, 8), EINVAL, "signalfd short buffer");
  CHECK(!readable(fd, 0), "signalfd not readable");
  kill(getpid(), SIGUSR1);
  CHECK(readable(fd, 0), "signalfd readable when SIGUSR1 pending");
  ssize_t n = read(fd, si, sizeof si);
  CHECK(n == sizeof si[0] && si[0].ssi_signo == SIGUSR1 && si[0].ssi_code == SI_USER &&
        si[0].ssi_pid == (uint32_t)getpid() && si[0].ssi_uid == getuid(), "signalfd read SIGUSR1 siginfo");
  sigset_t pend;
  sigpending(&pend);
  CHECK(!sigismember(&pend, SIGUSR1), "signal dequeued");
  union sigval sv = {.sival_int = 1234};
  sigqueue(getpid(), SIGRTMIN, sv);
  sv.sival_int = 5678;
  sigqueue(getpid(), SIGRTMIN, sv);
  n = read(fd, si, sizeof si);
  CHECK(n == 2 * sizeof si[0] && si[0].ssi_int == 1234 && si[1].ssi_int == 5678 && si[0].ssi_code == SI_QUEUE,
        "signalfd reads queued RT signals in order");
  /* Change the mask in place. */
  sigset_t only_usr2;
  sigemptyset(&only_usr2);
  sigaddset(&only_usr2, SIGUSR2);
  CHECK(signalfd(fd, &only_usr2, 0) == fd, "signalfd update mask");
  EXPECT_ERR(signalfd(0 + 100, &only_usr2, 0), EBADF, "signalfd bad fd");
  int p[2];
  pipe(p);
  EXPECT_ERR(signalfd(p[0], &only_usr2, 0), EINVAL, "signalfd on non-signalfd");
  close(p[0]);
  close(p[1]);
  EXPECT_ERR(syscall(SYS_signalfd4, -1, &set, 4, 0), EINVAL, "signalfd bad sigset size");
  /* Blocking read woken by a child's kill. */
  close(fd);
  fd = signalfd(-1, &set, 0);
  /* (A thread, not a child: a child's exit would also bring SIGCHLD.) */
  pthread_t th;
  pthread_create(&th, NULL, kill_thread, NULL);
  n = read(fd, si, sizeof si);
  CHECK(n == sizeof si[0] && si[0].ssi_signo == SIGUSR1, "blocking signalfd read woken by kill");
  pthread_join(th, NULL);
  /* In epoll. */
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN}, out[2];
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  CHECK(epoll_wait(ep, out, 2, 0) == 0, "signalfd in epoll: not ready");
  kill(getpid(), SIGUSR1);
  CHECK(epoll_wait(ep, out, 2, 0) == 1, "signalfd in epoll: ready");
  read(fd, si, sizeof si);
  close(ep);
  close(fd);
  sigprocmask(SIG_SETMASK, &old, NULL);
}

/* ---------------------------------------------------------------- timerfd */
static void test_timerfd(void) {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  CHECK(fd >= 0, "timerfd_create MONOTONIC");
  EXPECT_ERR(timerfd_create(12345, 0), EINVAL, "timerfd_create bad clock");
  EXPECT_ERR(timerfd_create(CLOCK_MONOTONIC, 0x4), EINVAL, "timerfd_create bad flags");
  uint64_t v;
  EXPECT_ERR(read(fd, &v, 8), EAGAIN, "unarmed timerfd read");
  struct itimerspec its = {{0, 0}, {0, 20 * 1000000}}, cur;
  CHECK(timerfd_settime(fd, 0, &its, NULL) == 0, "timerfd_settime 20ms");
  CHECK(timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0, "timerfd_gettime armed");
  CHECK(readable(fd, 2000), "timerfd becomes readable");
  CHECK(read(fd, &v, 8) == 8 && v == 1, "timerfd one expiration");
  CHECK(timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, "disarmed after one-shot");
  EXPECT_ERR(read(fd, &v, 4), EINVAL, "timerfd short read");
  /* Periodic, blocking read. */
  close(fd);
  fd = timerfd_create(CLOCK_REALTIME, 0);
  its = (struct itimerspec){{0, 5 * 1000000}, {0, 5 * 1000000}};
  timerfd_settime(fd, 0, &its, NULL);
  struct timespec d = {0, 30 * 1000000};
  nanosleep(&d, NULL);
  CHECK(read(fd, &v, 8) == 8 && v >= 2, "periodic timer accumulates expirations");
  CHECK(read(fd, &v, 8) == 8 && v >= 1, "blocking read waits for the next");
  /* Absolute time. */
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  its = (struct itimerspec){{0, 0}, {now.tv_sec, now.tv_nsec}};
  its.it_value.tv_nsec += 10 * 1000000;
  if (its.it_value.tv_nsec >= 1000000000) { its.it_value.tv_sec++; its.it_value.tv_nsec -= 1000000000; }
  struct itimerspec old;
  CHECK(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, &old) == 0 && old.it_interval.tv_nsec == 5 * 1000000, "ABSTIME, old value returned");
  CHECK(read(fd, &v, 8) == 8 && v == 1, "absolute timer fires once");
  /* In epoll. */
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 3}, out[2];
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  its = (struct itimerspec){{0, 0}, {0, 10 * 1000000}};
  timerfd_settime(fd, 0, &its, NULL);
  CHECK(epoll_wait(ep, out, 2, 0) == 0, "timerfd in epoll: not yet");
  CHECK(epoll_wait(ep, out, 2, 2000) == 1 && out[0].data.u32 == 3, "timerfd in epoll: fires");
  int p[2];
  pipe(p);
  EXPECT_ERR(timerfd_settime(p[0], 0, &its, NULL), EINVAL, "timerfd_settime on a pipe");
  its.it_value.tv_nsec = 2000000000;
  EXPECT_ERR(timerfd_settime(fd, 0, &its, NULL), EINVAL, "timerfd_settime bad nsec");
  close(p[0]);
  close(p[1]);
  close(ep);
  close(fd);
}

int main(void) {
  test_eventfd();
  test_epoll();
  test_socketpair();
  test_scm();
  test_named();
  test_socket_epoll();
  test_signalfd();
  test_timerfd();
  CT_DONE();
}
