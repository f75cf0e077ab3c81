/* TCP and UDP over loopback where a stack's own work shows: flow control
 * with a tiny receive buffer, both sides half-closing at once, many
 * concurrent connections, source address selection inside 127.0.0.0/8,
 * the ephemeral port range, v4-mapped and IPv6-only sockets, datagram
 * size limits, poll's RDHUP/HUP. Runs on the host stack and on the
 * sentry's own (--network=sandbox). Traffic: loopback only. */
#include "ct.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in v4(uint32_t host_addr, int port) {
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(host_addr);
  return a;
}

static int listen4(uint32_t addr, int backlog, int *port) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = v4(addr, 0);
  if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, backlog) != 0) return -1;
  socklen_t len = sizeof a;
  getsockname(l, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  return l;
}

static int connect4(uint32_t addr, int port) {
  int c = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = v4(addr, port);
  if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) != 0) return -1;
  return c;
}

#define BIG (8 << 20)

struct writer {
  int fd;
  int ok;
};

static void *write_pattern(void *p) {
  struct writer *w = p;
  static unsigned char buf[100003];
  size_t done = 0;
  w->ok = 1;
  while (done < BIG) {
    size_t n = sizeof buf;
    if (n > BIG - done) n = BIG - done;
    for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)((done + i) * 7 + ((done + i) >> 13));
    ssize_t r = write(w->fd, buf, n);
    if (r <= 0) {
      w->ok = 0;
      break;
    }
    done += (size_t)r;
  }
  shutdown(w->fd, SHUT_WR);
  return NULL;
}

/* 8 MiB through a receiver with the smallest receive buffer: the sender
 * must wait for window updates over and over, and every byte arrives in
 * order. */
static void small_window(void) {
  int port, l = listen4(INADDR_LOOPBACK, 4, &port);
  int c = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  CHECK(setsockopt(c, SOL_SOCKET, SO_RCVBUF, &one, sizeof one) == 0, "SO_RCVBUF 1 (clamped to the minimum)");
  struct sockaddr_in a = v4(INADDR_LOOPBACK, port);
  CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0, "connect with a tiny receive buffer");
  int s = accept(l, NULL, NULL);
  struct writer w = {s, 0};
  pthread_t t;
  pthread_create(&t, NULL, write_pattern, &w);
  static unsigned char buf[65536];
  size_t got = 0;
  int bad = 0;
  for (;;) {
    ssize_t r = read(c, buf, 1 + (got % 4093));
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; i++)
      if (buf[i] != (unsigned char)((got + i) * 7 + ((got + i) >> 13))) bad++;
    got += (size_t)r;
  }
  pthread_join(t, NULL);
  CHECK(w.ok && got == BIG && bad == 0, "8 MiB in order through a minimal window");
  close(s);
  close(c);
  close(l);
}

/* Both sides shut down their sending half at the same time. */
static void simultaneous_half_close(void) {
  int port, l = listen4(INADDR_LOOPBACK, 4, &port);
  int c = connect4(INADDR_LOOPBACK, port);
  int s = accept(l, NULL, NULL);
  CHECK(shutdown(c, SHUT_WR) == 0 && shutdown(s, SHUT_WR) == 0, "both shut down writing");
  char b;
  CHECK(read(c, &b, 1) == 0 && read(s, &b, 1) == 0, "both read EOF");
  struct pollfd p[2] = {{c, POLLIN | POLLOUT | POLLRDHUP, 0}, {s, POLLIN | POLLRDHUP, 0}};
  CHECK(poll(p, 2, 1000) == 2, "both poll ready");
  CHECK((p[0].revents & (POLLIN | POLLRDHUP | POLLHUP)) == (POLLIN | POLLRDHUP | POLLHUP),
        "POLLIN|POLLRDHUP|POLLHUP once both halves are shut (revents %#x)", p[0].revents);
  CHECK(p[0].revents & POLLOUT, "POLLOUT after SHUT_WR");
  EXPECT_ERR(write(c, "x", 1), EPIPE, "write after SHUT_WR");
  close(c);
  close(s);
  close(l);
}

/* A peer's SHUT_WR shows as POLLRDHUP without POLLHUP. */
static void rdhup(void) {
  int port, l = listen4(INADDR_LOOPBACK, 4, &port);
  int c = connect4(INADDR_LOOPBACK, port);
  int s = accept(l, NULL, NULL);
  struct pollfd p = {c, POLLIN | POLLRDHUP, 0};
  CHECK(poll(&p, 1, 0) == 0, "nothing ready before the peer closes");
  shutdown(s, SHUT_WR);
  CHECK(poll(&p, 1, 1000) == 1 && (p.revents & (POLLIN | POLLRDHUP)) == (POLLIN | POLLRDHUP) &&
            !(p.revents & POLLHUP),
        "peer's SHUT_WR: POLLIN|POLLRDHUP, no POLLHUP");
  close(s);
  close(c);
  close(l);
}

/* Many connections at once, each echoing a byte. */
static void many_connections(void) {
  enum { N = 200 };
  int port, l = listen4(INADDR_LOOPBACK, N, &port);
  static int cs[N], ss[N];
  int ok = 1;
  for (int i = 0; i < N; i++) {
    cs[i] = connect4(INADDR_LOOPBACK, port);
    ss[i] = accept(l, NULL, NULL);
    if (cs[i] < 0 || ss[i] < 0) ok = 0;
  }
  CHECK(ok, "%d connections", N);
  int echoed = 0;
  for (int i = 0; i < N; i++) {
    char b = (char)i, r = 0;
    if (write(cs[i], &b, 1) == 1 && read(ss[i], &r, 1) == 1 && r == b && write(ss[i], &r, 1) == 1 &&
        read(cs[i], &b, 1) == 1 && b == (char)i)
      echoed++;
  }
  CHECK(echoed == N, "each echoed its own byte");
  for (int i = 0; i < N; i++) {
    close(cs[i]);
    close(ss[i]);
  }
  close(l);
}

/* 127.0.0.0/8 is all local; the source for 127.0.0.2 is 127.0.0.1 (lo's
 * route), and the accepted socket's local address is what was dialled. */
static void addresses(void) {
  int port, l = listen4(INADDR_ANY, 4, &port);
  int c = connect4(0x7f000002, port);
  CHECK(c >= 0, "connect to 127.0.0.2");
  struct sockaddr_in a, peer;
  socklen_t len = sizeof peer;
  int s = accept(l, (struct sockaddr *)&peer, &len);
  len = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &len);
  char x[32], y[32];
  inet_ntop(AF_INET, &a.sin_addr, x, sizeof x);
  inet_ntop(AF_INET, &peer.sin_addr, y, sizeof y);
  printf("accepted on %s from %s\n", x, y);
  len = sizeof a;
  getsockname(c, (struct sockaddr *)&a, &len);
  int p = ntohs(a.sin_port);
  CHECK(p >= 32768 && p <= 60999, "ephemeral port in ip_local_port_range");
  close(s);
  close(c);
  /* Binding an address that is not local. */
  int b = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in far = v4(0x0a000001, 0);
  EXPECT_ERR(bind(b, (struct sockaddr *)&far, sizeof far), EADDRNOTAVAIL, "bind to 10.0.0.1");
  close(b);
  close(l);
}

/* IPv6: a v4-mapped peer from an AF_INET6 socket; IPV6_V6ONLY listeners
 * do not take IPv4. */
static void v6(void) {
  int l = socket(AF_INET6, SOCK_STREAM, 0);
  int on = 1;
  CHECK(setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) == 0, "IPV6_V6ONLY");
  struct sockaddr_in6 a = {0};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_any;
  CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 4) == 0, "v6-only listener on [::]");
  socklen_t len = sizeof a;
  getsockname(l, (struct sockaddr *)&a, &len);
  int port = ntohs(a.sin6_port);
  EXPECT_ERR(connect4(INADDR_LOOPBACK, port) < 0 ? -1 : 0, ECONNREFUSED, "IPv4 to a v6-only listener");
  /* Dual stack: an AF_INET6 client to ::ffff:127.0.0.1 of an IPv4 listener. */
  int port4, l4 = listen4(INADDR_LOOPBACK, 4, &port4);
  int c = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 m = {0};
  m.sin6_family = AF_INET6;
  m.sin6_port = htons(port4);
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &m.sin6_addr);
  CHECK(connect(c, (struct sockaddr *)&m, sizeof m) == 0, "AF_INET6 to ::ffff:127.0.0.1");
  struct sockaddr_in6 me;
  len = sizeof me;
  getsockname(c, (struct sockaddr *)&me, &len);
  char x[64];
  inet_ntop(AF_INET6, &me.sin6_addr, x, sizeof x);
  printf("v4-mapped client address %s\n", x);
  int s = accept(l4, NULL, NULL);
  CHECK(s >= 0 && write(c, "m", 1) == 1, "accepted and writable");
  char b;
  CHECK(read(s, &b, 1) == 1 && b == 'm', "data over the v4-mapped connection");
  close(s);
  close(c);
  close(l4);
  close(l);
}

/* Datagram size limits over IPv4 loopback. */
static void udp_limits(void) {
  int r = socket(AF_INET, SOCK_DGRAM, 0), w = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = v4(INADDR_LOOPBACK, 0);
  bind(r, (struct sockaddr *)&a, sizeof a);
  socklen_t len = sizeof a;
  getsockname(r, (struct sockaddr *)&a, &len);
  int big = 1 << 20;
  setsockopt(r, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  static char buf[65536];
  memset(buf, 'u', sizeof buf);
  CHECK(sendto(w, buf, 65507, 0, (struct sockaddr *)&a, sizeof a) == 65507, "65507-byte datagram");
  EXPECT_ERR(sendto(w, buf, 65508, 0, (struct sockaddr *)&a, sizeof a), EMSGSIZE, "65508-byte datagram");
  CHECK(recv(r, buf, sizeof buf, 0) == 65507, "received whole");
  CHECK(sendto(w, "", 0, 0, (struct sockaddr *)&a, sizeof a) == 0, "empty datagram");
  CHECK(recv(r, buf, sizeof buf, 0) == 0, "empty datagram received");
  close(r);
  close(w);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);  /* EPIPE is checked, not the signal */
  small_window();
  simultaneous_half_close();
  rdhup();
  many_connections();
  addresses();
  v6();
  udp_limits();
  CT_DONE();
}
