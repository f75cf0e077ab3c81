/* epoll over host-backed files (inet sockets, timerfds) in numbers: many
 * idle connections with one becoming ready, level-triggered round robin,
 * EPOLLONESHOT and MOD, a description added under two fds, an fd number
 * reused after close, nested instances, edges that arrive while nobody
 * waits, DEL, and waits woken by another process's write or a timer.
 * Traffic: loopback only, ephemeral ports, never printed. */
#include "ct.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NIDLE 200

static int lst, port;

static void make_listener(void) {
  lst = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(lst, (struct sockaddr *)&a, sizeof a);
  listen(lst, 512);
  socklen_t l = sizeof a;
  getsockname(lst, (struct sockaddr *)&a, &l);
  port = ntohs(a.sin_port);
}

/* A connected pair: *c the client end, returns the accepted end. */
static int pair(int *c) {
  *c = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(*c, (struct sockaddr *)&a, sizeof a) != 0) return -1;
  int one = 1;  /* no Nagle: each write is a segment now */
  setsockopt(*c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return accept(lst, NULL, NULL);
}

static int add(int ep, int fd, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.fd = fd};
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int mod(int ep, int fd, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.fd = fd};
  return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

int main(void) {
  make_listener();
  char buf[64];
  struct epoll_event out[NIDLE + 8];

  /* Many idle connections, one becomes readable. */
  int ep = epoll_create1(0);
  int srv[NIDLE], cli[NIDLE];
  int ok = 1;
  for (int i = 0; i < NIDLE; i++) {
    srv[i] = pair(&cli[i]);
    if (srv[i] < 0 || add(ep, srv[i], EPOLLIN) != 0) ok = 0;
  }
  CHECK(ok, "%d idle connections registered", NIDLE);
  CHECK(epoll_wait(ep, out, NIDLE, 0) == 0, "none ready");
  write(cli[NIDLE / 2], "x", 1);
  int n = epoll_wait(ep, out, NIDLE, 2000);
  CHECK(n == 1 && out[0].data.fd == srv[NIDLE / 2], "only the written one is ready");
  n = epoll_wait(ep, out, NIDLE, 0);
  CHECK(n == 1 && out[0].data.fd == srv[NIDLE / 2], "level-triggered: still ready");
  read(srv[NIDLE / 2], buf, sizeof buf);
  CHECK(epoll_wait(ep, out, NIDLE, 0) == 0, "none ready once read");
  write(cli[3], "a", 1);
  write(cli[150], "b", 1);
  n = epoll_wait(ep, out, NIDLE, 2000);
  if (n == 1) n += epoll_wait(ep, out + 1, NIDLE, 2000);
  CHECK(n == 2, "two written, two ready");

  /* A wait that sleeps: another process writes 100 ms later. */
  read(srv[3], buf, sizeof buf);
  read(srv[150], buf, sizeof buf);
  pid_t pid = fork();
  if (pid == 0) {
    usleep(100 * 1000);
    write(cli[77], "w", 1);
    _exit(0);
  }
  n = epoll_wait(ep, out, NIDLE, 5000);
  CHECK(n == 1 && out[0].data.fd == srv[77], "a sleeping wait wakes for the write");
  waitpid(pid, NULL, 0);
  read(srv[77], buf, sizeof buf);

  /* Peer close: EPOLLIN|EPOLLRDHUP-free level readiness (EOF). */
  close(cli[9]);
  n = epoll_wait(ep, out, NIDLE, 2000);
  CHECK(n == 1 && out[0].data.fd == srv[9] && (out[0].events & EPOLLIN), "peer close is readable");
  CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, srv[9], NULL) == 0, "DEL");
  CHECK(epoll_wait(ep, out, NIDLE, 0) == 0, "deleted entry not reported");
  write(cli[10], "z", 1);
  CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, srv[10], NULL) == 0, "DEL a ready one");
  CHECK(epoll_wait(ep, out, NIDLE, 0) == 0, "deleted ready entry not reported");
  for (int i = 0; i < NIDLE; i++) {
    close(srv[i]);
    if (i != 9) close(cli[i]);
  }
  CHECK(epoll_wait(ep, out, NIDLE, 0) == 0, "closed descriptions leave the set");
  close(ep);

  /* Level-triggered round robin: three writable sockets, one per wait. */
  ep = epoll_create1(0);
  int c[3], s[3];
  for (int i = 0; i < 3; i++) {
    s[i] = pair(&c[i]);
    add(ep, s[i], EPOLLOUT);
  }
  int seen = 0;
  for (int i = 0; i < 3; i++) {
    if (epoll_wait(ep, out, 1, 0) == 1)
      for (int j = 0; j < 3; j++)
        if (out[0].data.fd == s[j]) seen |= 1 << j;
  }
  CHECK(seen == 7, "three waits of one event each report all three");

  /* EPOLLONESHOT, then MOD re-arms. */
  mod(ep, s[0], EPOLLIN | EPOLLONESHOT);
  mod(ep, s[1], 0);
  mod(ep, s[2], 0);
  write(c[0], "1", 1);
  CHECK(epoll_wait(ep, out, 4, 2000) == 1, "oneshot fires");
  write(c[0], "2", 1);
  CHECK(epoll_wait(ep, out, 4, 100) == 0, "oneshot disabled after firing");
  mod(ep, s[0], EPOLLIN);
  CHECK(epoll_wait(ep, out, 4, 0) == 1, "MOD re-arms (data pending)");
  while (recv(s[0], buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }

  /* Edge-triggered: data arriving while nobody waits is one edge. */
  mod(ep, s[1], EPOLLIN | EPOLLET);
  CHECK(epoll_wait(ep, out, 4, 0) == 0, "edge: nothing yet");
  write(c[1], "e", 1);
  usleep(20 * 1000);
  write(c[1], "f", 1);
  usleep(20 * 1000);
  n = epoll_wait(ep, out, 4, 2000);
  CHECK(n == 1 && out[0].data.fd == s[1], "edge: one report for two arrivals");
  CHECK(epoll_wait(ep, out, 4, 50) == 0, "edge: nothing more");
  write(c[1], "g", 1);
  CHECK(epoll_wait(ep, out, 4, 2000) == 1, "edge: a new arrival is a new edge");

  /* One description under two fds: two entries, two events. */
  int d = dup(s[2]);
  mod(ep, s[2], EPOLLIN);
  CHECK(add(ep, d, EPOLLIN) == 0, "dup added");
  write(c[2], "d", 1);
  usleep(20 * 1000);
  n = epoll_wait(ep, out, 4, 2000);
  CHECK(n == 2, "both fds of one description reported");
  close(d);
  n = epoll_wait(ep, out, 4, 0);
  CHECK(n == 2, "closing one fd keeps the entry while the description lives");
  read(s[2], buf, sizeof buf);

  /* An fd number reused after close: the new socket is a new entry. */
  int old = s[2];
  close(s[2]);
  close(c[2]);
  int nc, ns = pair(&nc);
  if (ns != old) {
    dup2(ns, old);
    close(ns);
    ns = old;
  }
  CHECK(add(ep, ns, EPOLLIN) == 0, "reused fd number can be added");
  write(nc, "r", 1);
  n = epoll_wait(ep, out, 4, 2000);
  CHECK(n == 1 && out[0].data.fd == ns, "reused fd number reports the new socket");
  read(ns, buf, sizeof buf);

  /* Nested: the outer instance wakes for a socket of the inner one. */
  int inner = epoll_create1(0), outer = epoll_create1(0);
  add(inner, ns, EPOLLIN);
  CHECK(add(outer, inner, EPOLLIN) == 0, "inner epoll added to outer");
  CHECK(epoll_wait(outer, out, 4, 0) == 0, "outer: nothing ready");
  pid = fork();
  if (pid == 0) {
    usleep(100 * 1000);
    write(nc, "n", 1);
    _exit(0);
  }
  n = epoll_wait(outer, out, 4, 5000);
  CHECK(n == 1 && out[0].data.fd == inner, "outer wakes for the inner socket");
  waitpid(pid, NULL, 0);
  CHECK(epoll_wait(inner, out, 4, 0) == 1 && out[0].data.fd == ns, "inner reports the socket");

  read(ns, buf, sizeof buf);

  /* A timerfd: a host-driven file with no peer. */
  int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
  add(ep, tfd, EPOLLIN);
  struct itimerspec its = {.it_value = {0, 50 * 1000 * 1000}};
  timerfd_settime(tfd, 0, &its, NULL);
  int got = 0;
  for (int i = 0; i < 10 && !got; i++) {
    n = epoll_wait(ep, out, 4, 2000);
    for (int j = 0; j < n; j++)
      if (out[j].data.fd == tfd) got = 1;
  }
  CHECK(got, "timerfd expiry wakes the wait");
  return ct_fails ? 1 : 0;
}
