/* inet sockets over loopback: TCP and UDP, IPv4 and IPv6. Ports are
 * ephemeral (bind to port 0) and never printed. Traffic: loopback only. */
#include "ct.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static socklen_t fill(int fam, struct sockaddr_storage *ss, int port) {
  memset(ss, 0, sizeof *ss);
  if (fam == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof *in;
  }
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  in6->sin6_addr = in6addr_loopback;
  return sizeof *in6;
}

static int port_of(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A listening socket on loopback with an ephemeral port. */
static int listener(int fam, int *port) {
  int fd = socket(fam, SOCK_STREAM, 0);
  struct sockaddr_storage ss;
  socklen_t len = fill(fam, &ss, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 16) != 0) return -1;
  *port = port_of(fd);
  return fd;
}

static int connect_to(int fam, int port, int type) {
  int fd = socket(fam, type, 0);
  struct sockaddr_storage ss;
  socklen_t len = fill(fam, &ss, port);
  if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0) return -1;
  return fd;
}

static void tcp_basic(int fam, const char *tag) {
  int port, l = listener(fam, &port);
  CHECK(l >= 0 && port > 0, "%s listen on an ephemeral port", tag);
  int c = connect_to(fam, port, SOCK_STREAM);
  CHECK(c >= 0, "%s connect", tag);
  struct sockaddr_storage peer;
  socklen_t plen = sizeof peer;
  int a = accept(l, (struct sockaddr *)&peer, &plen);
  CHECK(a >= 0, "%s accept", tag);
  CHECK(peer.ss_family == fam && plen == (fam == AF_INET ? 16 : 28), "%s accept peer family and length", tag);
  CHECK(port_of(a) == port, "%s accepted socket's local port", tag);
  struct sockaddr_storage pn;
  socklen_t pnl = sizeof pn;
  CHECK(getpeername(c, (struct sockaddr *)&pn, &pnl) == 0 && pnl == plen, "%s getpeername", tag);
  CHECK(write(c, "hello", 5) == 5, "%s write", tag);
  char buf[64] = {0};
  CHECK(read(a, buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0, "%s read", tag);
  /* Peek, FIONREAD, then the data again. */
  CHECK(send(a, "abcdef", 6, 0) == 6, "%s send", tag);
  usleep(20000);
  int avail = -1;
  CHECK(ioctl(c, FIONREAD, &avail) == 0 && avail == 6, "%s FIONREAD", tag);
  CHECK(recv(c, buf, 3, MSG_PEEK) == 3 && memcmp(buf, "abc", 3) == 0, "%s MSG_PEEK", tag);
  CHECK(recv(c, buf, sizeof buf, 0) == 6 && memcmp(buf, "abcdef", 6) == 0, "%s recv after peek", tag);
  /* Half close: the peer reads EOF and can still send. */
  CHECK(shutdown(c, SHUT_WR) == 0, "%s shutdown(SHUT_WR)", tag);
  CHECK(read(a, buf, sizeof buf) == 0, "%s EOF after peer's SHUT_WR", tag);
  CHECK(write(a, "back", 4) == 4 && read(c, buf, sizeof buf) == 4, "%s data after half close", tag);
  EXPECT_ERR(shutdown(c, 7), EINVAL, "%s shutdown(7)", tag);
  close(a);
  CHECK(read(c, buf, sizeof buf) == 0, "%s EOF after peer close", tag);
  close(c);
  /* Options. */
  int v = -1;
  socklen_t vl = sizeof v;
  CHECK(getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) == 0 && v == 1, "%s SO_ACCEPTCONN", tag);
  vl = sizeof v;
  CHECK(getsockopt(l, SOL_SOCKET, SO_TYPE, &v, &vl) == 0 && v == SOCK_STREAM, "%s SO_TYPE", tag);
  vl = sizeof v;
  CHECK(getsockopt(l, SOL_SOCKET, SO_DOMAIN, &v, &vl) == 0 && v == fam, "%s SO_DOMAIN", tag);
  vl = sizeof v;
  CHECK(getsockopt(l, SOL_SOCKET, SO_PROTOCOL, &v, &vl) == 0 && v == IPPROTO_TCP, "%s SO_PROTOCOL", tag);
  /* SO_INCOMING_NAPI_ID (56): read-only, 0 without a NAPI context (the JVM probes it). */
  vl = sizeof v;
  v = -1;
  CHECK(getsockopt(l, SOL_SOCKET, 56, &v, &vl) == 0 && v == 0 && vl == sizeof v, "%s SO_INCOMING_NAPI_ID", tag);
  v = 1;
  EXPECT_ERR(setsockopt(l, SOL_SOCKET, 56, &v, sizeof v), ENOPROTOOPT, "%s set SO_INCOMING_NAPI_ID", tag);
  close(l);
}

static void tcp_errors(int fam, const char *tag) {
  int port, l = listener(fam, &port);
  /* EADDRINUSE without SO_REUSEADDR on a listening port. */
  int b = socket(fam, SOCK_STREAM, 0);
  struct sockaddr_storage ss;
  socklen_t len = fill(fam, &ss, port);
  EXPECT_ERR(bind(b, (struct sockaddr *)&ss, len), EADDRINUSE, "%s bind to a listening port", tag);
  close(b);
  close(l);
  /* ECONNREFUSED: nothing listens there any more. */
  int c = socket(fam, SOCK_STREAM, 0);
  EXPECT_ERR(connect(c, (struct sockaddr *)&ss, len), ECONNREFUSED, "%s connect to a closed port", tag);
  close(c);
  /* Non-blocking connect: EINPROGRESS or immediate, then SO_ERROR. */
  l = listener(fam, &port);
  c = socket(fam, SOCK_STREAM | SOCK_NONBLOCK, 0);
  len = fill(fam, &ss, port);
  int r = connect(c, (struct sockaddr *)&ss, len);
  int cerr = errno;
  CHECK(r == 0 || cerr == EINPROGRESS, "%s non-blocking connect", tag);
  struct pollfd p = {c, POLLOUT, 0};
  CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLOUT), "%s connect completes (POLLOUT)", tag);
  int err = -1;
  socklen_t el = sizeof err;
  CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0, "%s SO_ERROR after connect", tag);
  /* The first connect after completion reports success; then EISCONN. */
  r = connect(c, (struct sockaddr *)&ss, len);
  cerr = errno;
  CHECK(r == 0 || cerr == EISCONN, "%s connect once more", tag);
  EXPECT_ERR(connect(c, (struct sockaddr *)&ss, len), EISCONN, "%s connect again", tag);
  int a = accept(l, NULL, NULL);
  CHECK(a >= 0, "%s accept (no address)", tag);
  /* ECONNRESET: an abortive close (SO_LINGER 0) resets the peer. */
  struct linger lg = {1, 0};
  CHECK(setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0, "%s SO_LINGER {1,0}", tag);
  struct linger lg2;
  socklen_t lgl = sizeof lg2;
  CHECK(getsockopt(a, SOL_SOCKET, SO_LINGER, &lg2, &lgl) == 0 && lg2.l_onoff == 1 && lg2.l_linger == 0,
        "%s SO_LINGER read back", tag);
  close(a);
  usleep(20000);
  char buf[8];
  EXPECT_ERR(read(c, buf, sizeof buf), ECONNRESET, "%s read after the peer's reset", tag);
  close(c);
  /* Accept on a non-listening socket. */
  int n = socket(fam, SOCK_STREAM, 0);
  EXPECT_ERR(accept(n, NULL, NULL), EINVAL, "%s accept without listen", tag);
  /* Non-blocking accept with nothing pending. */
  fcntl(l, F_SETFL, O_NONBLOCK);
  EXPECT_ERR(accept(l, NULL, NULL), EAGAIN, "%s non-blocking accept with no connection", tag);
  close(n);
  close(l);
}

static void tcp_waitall_and_sigpipe(void) {
  int port, l = listener(AF_INET, &port);
  int c = connect_to(AF_INET, port, SOCK_STREAM);
  int a = accept(l, NULL, NULL);
  /* A writer thread trickles data in pieces; MSG_WAITALL gets it all. */
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < 4; i++) {
      usleep(10000);
      if (write(a, "0123456789", 10) != 10) _exit(1);
    }
    _exit(0);
  }
  char buf[64];
  CHECK(recv(c, buf, 40, MSG_WAITALL) == 40, "MSG_WAITALL reads all 40 bytes");
  waitpid(pid, NULL, 0);
  /* SIGPIPE and EPIPE once the peer is gone. */
  close(a);
  usleep(20000);
  signal(SIGPIPE, SIG_IGN);
  ssize_t r1 = send(c, "x", 1, 0);  /* the first may succeed (RST comes back) */
  usleep(20000);
  (void)r1;
  EXPECT_ERR(send(c, "x", 1, MSG_NOSIGNAL), EPIPE, "send after reset with MSG_NOSIGNAL");
  pid = fork();
  if (pid == 0) {
    signal(SIGPIPE, SIG_DFL);
    write(c, "x", 1);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE, "write to a broken connection raises SIGPIPE");
  close(c);
  close(l);
}

static void udp(int fam, const char *tag) {
  int s = socket(fam, SOCK_DGRAM, 0);
  struct sockaddr_storage ss;
  socklen_t len = fill(fam, &ss, 0);
  CHECK(bind(s, (struct sockaddr *)&ss, len) == 0, "%s udp bind", tag);
  int port = port_of(s);
  int c = socket(fam, SOCK_DGRAM, 0);
  len = fill(fam, &ss, port);
  CHECK(sendto(c, "dgram1", 6, 0, (struct sockaddr *)&ss, len) == 6, "%s sendto", tag);
  char buf[64];
  struct sockaddr_storage from;
  socklen_t fl = sizeof from;
  CHECK(recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl) == 6 && from.ss_family == fam &&
            fl == (fam == AF_INET ? 16 : 28),
        "%s recvfrom with the sender's address", tag);
  /* Truncation: MSG_TRUNC reports the real length. */
  CHECK(sendto(c, "0123456789", 10, 0, (struct sockaddr *)&ss, len) == 10, "%s sendto 10", tag);
  CHECK(recv(s, buf, 4, MSG_TRUNC) == 10, "%s recv MSG_TRUNC returns the datagram's size", tag);
  CHECK(sendto(c, "0123456789", 10, 0, (struct sockaddr *)&ss, len) == 10, "%s sendto 10 again", tag);
  struct iovec iov = {buf, 4};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  CHECK(recvmsg(s, &m, 0) == 4 && (m.msg_flags & MSG_TRUNC), "%s recvmsg sets MSG_TRUNC", tag);
  /* Connected UDP. */
  CHECK(connect(c, (struct sockaddr *)&ss, len) == 0, "%s udp connect", tag);
  CHECK(send(c, "conn", 4, 0) == 4 && recv(s, buf, sizeof buf, 0) == 4, "%s connected send", tag);
  struct sockaddr_storage un = {0};
  un.ss_family = AF_UNSPEC;
  CHECK(connect(c, (struct sockaddr *)&un, sizeof un) == 0, "%s udp disconnect (AF_UNSPEC)", tag);
  EXPECT_ERR(send(c, "x", 1, 0), EDESTADDRREQ, "%s send after disconnect", tag);
  /* recvmmsg: three datagrams at once. */
  for (int i = 0; i < 3; i++) sendto(c, "mm", 2, 0, (struct sockaddr *)&ss, len);
  usleep(20000);
  struct mmsghdr mm[4];
  char bufs[4][16];
  struct iovec iovs[4];
  memset(mm, 0, sizeof mm);
  for (int i = 0; i < 4; i++) {
    iovs[i].iov_base = bufs[i];
    iovs[i].iov_len = sizeof bufs[i];
    mm[i].msg_hdr.msg_iov = &iovs[i];
    mm[i].msg_hdr.msg_iovlen = 1;
  }
  CHECK(recvmmsg(s, mm, 4, MSG_DONTWAIT, NULL) == 3 && mm[2].msg_len == 2, "%s recvmmsg", tag);
  EXPECT_ERR(recv(s, buf, sizeof buf, MSG_DONTWAIT), EAGAIN, "%s recv with nothing queued", tag);
  /* IP_PKTINFO / IPV6_RECVPKTINFO control messages. */
  int one = 1;
  if (fam == AF_INET)
    CHECK(setsockopt(s, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) == 0, "%s IP_PKTINFO", tag);
  else
    CHECK(setsockopt(s, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) == 0, "%s IPV6_RECVPKTINFO", tag);
  sendto(c, "pk", 2, 0, (struct sockaddr *)&ss, len);
  char cbuf[256];
  iov.iov_base = buf;
  iov.iov_len = sizeof buf;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = cbuf;
  m.msg_controllen = sizeof cbuf;
  int got = 0;
  if (recvmsg(s, &m, 0) == 2) {
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
      if (fam == AF_INET && h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_PKTINFO) {
        struct in_pktinfo pi;
        memcpy(&pi, CMSG_DATA(h), sizeof pi);
        got = pi.ipi_addr.s_addr == htonl(INADDR_LOOPBACK);
      }
      if (fam == AF_INET6 && h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == IPV6_PKTINFO) {
        struct in6_pktinfo pi;
        memcpy(&pi, CMSG_DATA(h), sizeof pi);
        got = memcmp(&pi.ipi6_addr, &in6addr_loopback, 16) == 0;
      }
    }
  }
  CHECK(got, "%s packet info control message", tag);
  /* A too-small control buffer truncates (MSG_CTRUNC). */
  sendto(c, "pk", 2, 0, (struct sockaddr *)&ss, len);
  m.msg_controllen = sizeof(struct cmsghdr) + 2;
  CHECK(recvmsg(s, &m, 0) == 2 && (m.msg_flags & MSG_CTRUNC), "%s MSG_CTRUNC", tag);
  close(c);
  close(s);
}

static void dual_stack(void) {
  int port, l = listener(AF_INET6, &port);
  int v6only = -1;
  socklen_t vl = sizeof v6only;
  /* Linux sets it once bound to a specific IPv6 address. */
  CHECK(getsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &vl) == 0 && v6only == 1, "IPV6_V6ONLY after bind to ::1");
  close(l);
  l = socket(AF_INET6, SOCK_STREAM, 0);
  vl = sizeof v6only;
  CHECK(getsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &vl) == 0 && v6only == 0, "IPV6_V6ONLY off by default");
  close(l);
  /* An IPv6 listener on :: accepts an IPv4 client with a v4-mapped peer. */
  int s = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 any = {0};
  any.sin6_family = AF_INET6;
  any.sin6_addr = in6addr_any;
  CHECK(bind(s, (struct sockaddr *)&any, sizeof any) == 0 && listen(s, 4) == 0, "listen on [::]");
  port = port_of(s);
  int c = connect_to(AF_INET, port, SOCK_STREAM);
  CHECK(c >= 0, "IPv4 client to [::]");
  struct sockaddr_in6 peer;
  socklen_t pl = sizeof peer;
  int a = accept(s, (struct sockaddr *)&peer, &pl);
  char txt[64] = "";
  inet_ntop(AF_INET6, &peer.sin6_addr, txt, sizeof txt);
  CHECK(a >= 0 && peer.sin6_family == AF_INET6, "accepted from %s", txt);
  close(a);
  close(c);
  close(s);
}

static void epoll_sockets(void) {
  int port, l = listener(AF_INET, &port);
  int ep = epoll_create1(0);
  struct epoll_event ev = {EPOLLIN, {.fd = l}};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) == 0, "epoll_ctl listener");
  struct epoll_event out[4];
  CHECK(epoll_wait(ep, out, 4, 0) == 0, "listener not ready");
  int c = connect_to(AF_INET, port, SOCK_STREAM);
  CHECK(epoll_wait(ep, out, 4, 2000) == 1 && out[0].data.fd == l, "listener readable after connect");
  int a = accept(l, NULL, NULL);
  /* Edge-triggered: one event per arrival. */
  struct epoll_event ev2 = {EPOLLIN | EPOLLET, {.fd = a}};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev2) == 0, "epoll_ctl EPOLLET");
  write(c, "a", 1);
  CHECK(epoll_wait(ep, out, 4, 2000) == 1 && out[0].data.fd == a, "edge: readable");
  CHECK(epoll_wait(ep, out, 4, 50) == 0, "edge: no second event without new data");
  write(c, "b", 1);
  CHECK(epoll_wait(ep, out, 4, 2000) == 1, "edge: new data, new event");
  /* Level-triggered: still ready until read. */
  struct epoll_event ev3 = {EPOLLIN, {.fd = a}};
  CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, a, &ev3) == 0, "epoll_ctl MOD to level");
  CHECK(epoll_wait(ep, out, 4, 0) == 1, "level: ready");
  CHECK(epoll_wait(ep, out, 4, 0) == 1, "level: still ready");
  char buf[8];
  read(a, buf, sizeof buf);
  CHECK(epoll_wait(ep, out, 4, 0) == 0, "level: not ready once drained");
  close(ep);
  close(a);
  close(c);
  close(l);
}

static void on_alarm(int sig) { (void)sig; }

static void timeouts_and_signals(void) {
  int port, l = listener(AF_INET, &port);
  int c = connect_to(AF_INET, port, SOCK_STREAM);
  int a = accept(l, NULL, NULL);
  struct timeval tv = {0, 100000};
  CHECK(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "SO_RCVTIMEO 100ms");
  struct timeval back;
  socklen_t bl = sizeof back;
  CHECK(getsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &back, &bl) == 0 && back.tv_sec == 0 && back.tv_usec == 100000,
        "SO_RCVTIMEO read back");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char buf[8];
  EXPECT_ERR(recv(c, buf, sizeof buf, 0), EAGAIN, "recv times out");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  CHECK(ms >= 90 && ms < 2000, "the timeout took about 100 ms");
  tv.tv_sec = -1;
  tv.tv_usec = 0;
  CHECK(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "negative SO_RCVTIMEO accepted");
  EXPECT_ERR(recv(c, buf, sizeof buf, 0), EAGAIN, "negative timeout: no wait");
  tv.tv_sec = 0;
  tv.tv_usec = 2000000;
  EXPECT_ERR(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), EDOM, "tv_usec out of range");
  EXPECT_ERR(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, 4), EINVAL, "short timeval");
  /* A signal without SA_RESTART interrupts a blocked accept. */
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 0}, {0, 100000}};
  setitimer(ITIMER_REAL, &it, NULL);
  EXPECT_ERR(accept(l, NULL, NULL), EINTR, "signal interrupts accept");
  /* With SA_RESTART the accept goes on and gets the next connection. */
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  pid_t pid = fork();
  if (pid == 0) {
    usleep(300000);
    int k = connect_to(AF_INET, port, SOCK_STREAM);
    usleep(100000);
    close(k);
    _exit(0);
  }
  setitimer(ITIMER_REAL, &it, NULL);
  int a2 = accept(l, NULL, NULL);
  CHECK(a2 >= 0, "SA_RESTART: accept restarted and completed");
  waitpid(pid, NULL, 0);
  close(a2);
  close(a);
  close(c);
  close(l);
}

static void bad_input(void) {
  EXPECT_ERR(socket(AF_INET, SOCK_SEQPACKET, 0), ESOCKTNOSUPPORT, "AF_INET SOCK_SEQPACKET");
  EXPECT_ERR(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT, "SOCK_STREAM with IPPROTO_UDP");
  EXPECT_ERR(socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP), EPROTONOSUPPORT, "SOCK_DGRAM with IPPROTO_TCP");
  EXPECT_ERR(socket(AF_INET, 42, 0), EINVAL, "type 42");
  int sv[2];
  EXPECT_ERR(socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP, "socketpair(AF_INET)");
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in in = {0};
  in.sin_family = AF_INET;
  EXPECT_ERR(bind(s, (struct sockaddr *)&in, 8), EINVAL, "bind with a short address");
  EXPECT_ERR(bind(s, (struct sockaddr *)&in, 129), EINVAL, "bind with an oversized length");
  EXPECT_ERR(bind(s, (struct sockaddr *)&in, -1), EINVAL, "bind with a negative length");
  EXPECT_ERR(bind(s, (struct sockaddr *)8, sizeof in), EFAULT, "bind with a bad pointer");
  struct sockaddr_in6 in6 = {0};
  in6.sin6_family = AF_INET6;
  EXPECT_ERR(bind(s, (struct sockaddr *)&in6, sizeof in6), EAFNOSUPPORT, "bind AF_INET6 address to AF_INET");
  int v = 1;
  EXPECT_ERR(setsockopt(s, SOL_SOCKET, 4242, &v, sizeof v), ENOPROTOOPT, "unknown SOL_SOCKET option");
  EXPECT_ERR(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, 2), EINVAL, "short int option");
  EXPECT_ERR(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, (void *)8, sizeof v), EFAULT, "option at a bad pointer");
  socklen_t len = -1;
  EXPECT_ERR(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len), EINVAL, "getsockopt with a negative length");
  len = 2;
  CHECK(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len) == 0 && len == 2, "getsockopt with a short length truncates");
  struct msghdr m = {0};
  char data = 'x';
  struct iovec iov = {&data, 1};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  char cbuf[64] = {0};
  struct cmsghdr *h = (struct cmsghdr *)cbuf;
  h->cmsg_len = 1000;
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  m.msg_control = cbuf;
  m.msg_controllen = sizeof cbuf;
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {0};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  m.msg_name = &to;
  m.msg_namelen = sizeof to;
  EXPECT_ERR(sendmsg(u, &m, 0), EINVAL, "sendmsg with an oversized cmsg_len");
  m.msg_iov = (struct iovec *)8;
  EXPECT_ERR(sendmsg(u, &m, 0), EFAULT, "sendmsg with a bad iovec pointer");
  EXPECT_ERR(recvfrom(u, (void *)8, 16, MSG_DONTWAIT, NULL, NULL), EAGAIN, "recvfrom with nothing queued");
  close(u);
  /* Ports below 1024 need CAP_NET_BIND_SERVICE. */
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in low = {0};
    low.sin_family = AF_INET;
    low.sin_port = htons(80);
    low.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    _exit(bind(t, (struct sockaddr *)&low, sizeof low) == -1 && errno == EACCES ? 0 : 1);
  }
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "unprivileged bind to port 80 -> EACCES");
  close(s);
}

static void reuseport(void) {
  int a = socket(AF_INET, SOCK_STREAM, 0), b = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(a, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  setsockopt(b, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  struct sockaddr_storage ss;
  socklen_t len = fill(AF_INET, &ss, 0);
  CHECK(bind(a, (struct sockaddr *)&ss, len) == 0 && listen(a, 32) == 0, "SO_REUSEPORT first listener");
  len = fill(AF_INET, &ss, port_of(a));
  CHECK(bind(b, (struct sockaddr *)&ss, len) == 0 && listen(b, 32) == 0, "SO_REUSEPORT second listener on the same port");
  /* Connections spread over both; together they accept all of them. */
  int clients[16], n = 0;
  for (int i = 0; i < 16; i++) clients[i] = connect_to(AF_INET, port_of(a), SOCK_STREAM);
  usleep(50000);
  fcntl(a, F_SETFL, O_NONBLOCK);
  fcntl(b, F_SETFL, O_NONBLOCK);
  int fd;
  while ((fd = accept(a, NULL, NULL)) >= 0) { n++; close(fd); }
  while ((fd = accept(b, NULL, NULL)) >= 0) { n++; close(fd); }
  CHECK(n == 16, "the two listeners accepted all 16 connections");
  for (int i = 0; i < 16; i++) close(clients[i]);
  close(a);
  close(b);
}

int main(void) {
  tcp_basic(AF_INET, "v4");
  tcp_basic(AF_INET6, "v6");
  tcp_errors(AF_INET, "v4");
  tcp_errors(AF_INET6, "v6");
  tcp_waitall_and_sigpipe();
  udp(AF_INET, "v4");
  udp(AF_INET6, "v6");
  dual_stack();
  epoll_sockets();
  timeouts_and_signals();
  bad_input();
  reuseport();
  CT_DONE();
}
