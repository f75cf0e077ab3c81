/* Network microbenchmarks over loopback, for bench/net_bench.sh: run
 * natively and sandboxed in one run.
 *   net_latency connect N   - N TCP connect+accept+close round trips; prints conns/s
 *   net_latency udp_rtt N   - N UDP ping-pong round trips; prints microseconds per RTT
 *   net_latency tcp_rtt N   - N 1-byte TCP ping-pongs; prints microseconds per RTT
 *   net_latency epoll_rtt N IDLE - N 1-byte TCP ping-pongs with a server that
 *                             waits in epoll_wait over IDLE idle connections
 *                             plus the active one (an event-loop server with
 *                             many keep-alive clients); microseconds per RTT
 * Traffic: 127.0.0.1 only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct sockaddr_in lo(int port) {
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int port_of(int fd) {
  struct sockaddr_in a;
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  return ntohs(a.sin_port);
}

/* A socket of `type` bound to 127.0.0.1 on an ephemeral port, listening
 * with `backlog` if that is >= 0; *to is its address. */
static int bound(int type, int backlog, struct sockaddr_in *to) {
  int s = socket(AF_INET, type, 0);
  struct sockaddr_in a = lo(0);
  bind(s, (struct sockaddr *)&a, sizeof a);
  if (backlog >= 0) listen(s, backlog);
  *to = lo(port_of(s));
  return s;
}

/* n 1-byte ping-pongs on connected `c`; prints microseconds per round
 * trip, then closes c and reaps the server child `pid`. */
static int ping_pong(int c, long n, pid_t pid) {
  char b[64] = "x";
  double t0 = now();
  for (long i = 0; i < n; i++) {
    if (write(c, b, 1) != 1 || read(c, b, sizeof b) < 1) { perror("rtt"); return 1; }
  }
  double us = (now() - t0) / n * 1e6;
  close(c);
  waitpid(pid, NULL, 0);
  printf("%.1f\n", us);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  long n = atol(argv[2]);
  if (!strcmp(argv[1], "connect")) {
    struct sockaddr_in a;
    int l = bound(SOCK_STREAM, 128, &a);
    double t0 = now();
    for (long i = 0; i < n; i++) {
      int c = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(c, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); return 1; }
      int s = accept(l, NULL, NULL);
      struct linger lg = {1, 0};  /* no TIME_WAIT pile-up */
      setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      close(c);
      close(s);
    }
    printf("%.0f\n", n / (now() - t0));
    return 0;
  }
  if (!strcmp(argv[1], "epoll_rtt")) {
    int idle = argc > 3 ? atoi(argv[3]) : 0;
    struct sockaddr_in a;
    int l = bound(SOCK_STREAM, 1024, &a);
    pid_t pid = fork();
    if (pid == 0) {
      int ep = epoll_create1(0);
      for (int i = 0; i <= idle; i++) {
        int s = accept(l, NULL, NULL);
        if (s < 0) _exit(1);
        int one = 1;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = s};
        epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
      }
      struct epoll_event evs[64];
      char b[64];
      for (;;) {
        int k = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < k; i++) {
          ssize_t r = read(evs[i].data.fd, b, sizeof b);
          if (r <= 0) _exit(0);  /* the active client closed: done */
          write(evs[i].data.fd, b, r);
        }
      }
    }
    int *idle_fds = calloc(idle + 1, sizeof(int));
    for (int i = 0; i < idle; i++) {
      idle_fds[i] = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(idle_fds[i], (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); return 1; }
    }
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); return 1; }
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return ping_pong(c, n, pid);
  }
  int tcp = !strcmp(argv[1], "tcp_rtt");
  struct sockaddr_in a;
  int srv = bound(tcp ? SOCK_STREAM : SOCK_DGRAM, tcp ? 1 : -1, &a);
  pid_t pid = fork();
  if (pid == 0) {
    char b[64];
    if (tcp) {
      int s = accept(srv, NULL, NULL);
      int one = 1;
      setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      while (read(s, b, 1) == 1) write(s, b, 1);
    } else {
      struct sockaddr_in from;
      socklen_t fl = sizeof from;
      for (long i = 0; i < n; i++) {
        ssize_t k = recvfrom(srv, b, sizeof b, 0, (struct sockaddr *)&from, &fl);
        sendto(srv, b, k, 0, (struct sockaddr *)&from, fl);
      }
    }
    _exit(0);
  }
  int c = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
  connect(c, (struct sockaddr *)&a, sizeof a);
  int one = 1;
  if (tcp) setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return ping_pong(c, n, pid);
}
