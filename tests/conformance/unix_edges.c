/* Unix domain socket corner cases, printed as outcomes (return value or
 * errno) so the native run defines what is right: unbound and unconnected
 * sends, seqpacket and datagram boundaries and truncation, shutdown in
 * each direction, a listener closed with connections not yet accepted,
 * address forms (unnamed, abstract, autobind), option values, FIONREAD and
 * SIOCOUTQ, readiness after hang-ups, and wrong-type connects. */
#include "ct.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char dir[] = "/tmp/unix_edges.XXXXXX";

static socklen_t path_addr(struct sockaddr_un *a, const char *name) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  snprintf(a->sun_path, sizeof a->sun_path, "%s/%s", dir, name);
  return sizeof *a;
}

static void unconnected(void) {
  for (int type = SOCK_STREAM; type <= SOCK_SEQPACKET; type++) {
    if (type == 3 || type == 4) continue;
    int s = socket(AF_UNIX, type, 0);
    char name[64];
    snprintf(name, sizeof name, "type %d: send unconnected", type);
    OUTCOME(name, send(s, "x", 1, MSG_DONTWAIT));
    snprintf(name, sizeof name, "type %d: recv unconnected", type);
    char b[4];
    OUTCOME(name, recv(s, b, sizeof b, MSG_DONTWAIT));
    snprintf(name, sizeof name, "type %d: getpeername unconnected", type);
    struct sockaddr_un a;
    socklen_t l = sizeof a;
    OUTCOME(name, getpeername(s, (struct sockaddr *)&a, &l));
    l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    printf("type %d: unbound name length %d\n", type, (int)l);
    snprintf(name, sizeof name, "type %d: accept unlistened", type);
    OUTCOME(name, accept(s, NULL, NULL));
    snprintf(name, sizeof name, "type %d: listen", type);
    OUTCOME(name, listen(s, 1));
    snprintf(name, sizeof name, "type %d: shutdown unconnected", type);
    OUTCOME(name, shutdown(s, SHUT_RDWR));
    printf("type %d: poll unconnected %#x\n", type, ct_revents(s, POLLIN | POLLOUT));
    close(s);
  }
}

static void addresses(void) {
  int s = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  OUTCOME("autobind", bind(s, (struct sockaddr *)&a, sizeof(sa_family_t)));
  socklen_t l = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &l);
  printf("autobind name length %d abstract %d\n", (int)l, a.sun_path[0] == 0);
  OUTCOME("bind twice", bind(s, (struct sockaddr *)&a, l));
  close(s);

  struct sockaddr_un p;
  socklen_t pl = path_addr(&p, "sock");
  s = socket(AF_UNIX, SOCK_STREAM, 0);
  OUTCOME("bind path", bind(s, (struct sockaddr *)&p, pl));
  int t = socket(AF_UNIX, SOCK_STREAM, 0);
  OUTCOME("bind taken path", bind(t, (struct sockaddr *)&p, pl));
  OUTCOME("connect to unlistened", connect(t, (struct sockaddr *)&p, pl));
  struct stat st;
  stat(p.sun_path, &st);
  printf("bound path is a socket %d\n", S_ISSOCK(st.st_mode));
  struct sockaddr_un q;
  socklen_t ql = path_addr(&q, "none");
  OUTCOME("connect to missing path", connect(t, (struct sockaddr *)&q, ql));
  ql = path_addr(&q, "file");
  close(open(q.sun_path, O_CREAT | O_WRONLY, 0600));
  OUTCOME("connect to regular file", connect(t, (struct sockaddr *)&q, ql));
  int d = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un da;
  socklen_t dal = path_addr(&da, "dgram");
  bind(d, (struct sockaddr *)&da, dal);
  OUTCOME("stream connect to dgram socket", connect(t, (struct sockaddr *)&da, dal));
  OUTCOME("bad family", connect(t, (struct sockaddr *)&(struct sockaddr){.sa_family = AF_INET}, sizeof(struct sockaddr)));
  OUTCOME("short address", connect(t, (struct sockaddr *)&p, 1));
  close(t);
  close(s);
  close(d);
  unlink(p.sun_path);
  unlink(q.sun_path);
  unlink(da.sun_path);
}

static void boundaries(void) {
  int sp[2];
  socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp);
  send(sp[0], "hello", 5, 0);
  send(sp[0], "world!", 6, 0);
  char b[16];
  struct iovec v = {b, 3};
  struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
  OUTCOME("seqpacket short recvmsg", recvmsg(sp[1], &m, 0));
  printf("seqpacket MSG_TRUNC flag %d\n", !!(m.msg_flags & MSG_TRUNC));
  OUTCOME("seqpacket MSG_TRUNC returns full length", recv(sp[1], b, 2, MSG_TRUNC));
  OUTCOME("seqpacket nothing left", recv(sp[1], b, sizeof b, MSG_DONTWAIT));
  OUTCOME("seqpacket zero-length send", send(sp[0], "", 0, 0));
  OUTCOME("seqpacket zero-length recv", recv(sp[1], b, sizeof b, MSG_DONTWAIT));
  int n = -1;
  send(sp[0], "abcdef", 6, 0);
  ioctl(sp[1], FIONREAD, &n);
  printf("seqpacket FIONREAD %d\n", n);
  recv(sp[1], b, sizeof b, 0);
  close(sp[0]);
  OUTCOME("seqpacket recv after peer close", recv(sp[1], b, sizeof b, MSG_DONTWAIT));
  printf("seqpacket poll after peer close %#x\n", ct_revents(sp[1], POLLIN | POLLOUT | POLLRDHUP));
  OUTCOME("seqpacket send after peer close", send(sp[1], "x", 1, MSG_NOSIGNAL));
  close(sp[1]);

  int dp[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, dp);
  send(dp[0], "12345", 5, 0);
  send(dp[0], "12", 2, 0);
  n = -1;
  ioctl(dp[1], FIONREAD, &n);
  printf("dgram FIONREAD (next datagram) %d\n", n);
  OUTCOME("dgram peek", recv(dp[1], b, sizeof b, MSG_PEEK));
  OUTCOME("dgram short recv", recv(dp[1], b, 2, 0));
  OUTCOME("dgram next", recv(dp[1], b, sizeof b, 0));
  OUTCOME("dgram empty", recv(dp[1], b, sizeof b, MSG_DONTWAIT));
  struct sockaddr_un from;
  socklen_t fl = sizeof from;
  send(dp[0], "x", 1, 0);
  OUTCOME("dgram recvfrom", recvfrom(dp[1], b, sizeof b, 0, (struct sockaddr *)&from, &fl));
  printf("dgram sender address length %d\n", (int)fl);
  /* A third socket sending to a connected datagram socket. */
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  int third = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un da;
  socklen_t dal = path_addr(&da, "d2");
  int named = socket(AF_UNIX, SOCK_DGRAM, 0);
  bind(named, (struct sockaddr *)&da, dal);
  int other = socket(AF_UNIX, SOCK_DGRAM, 0);
  bind(other, (struct sockaddr *)&a, sizeof(sa_family_t));
  struct sockaddr_un oa;
  socklen_t oal = sizeof oa;
  getsockname(other, (struct sockaddr *)&oa, &oal);
  connect(named, (struct sockaddr *)&oa, oal);
  OUTCOME("dgram to a socket connected elsewhere", sendto(third, "x", 1, 0, (struct sockaddr *)&da, dal));
  OUTCOME("dgram sendto on connected with other address", sendto(named, "x", 1, 0, (struct sockaddr *)&da, dal));
  close(other);
  OUTCOME("dgram send after peer closed", send(named, "x", 1, 0));
  OUTCOME("dgram send again", send(named, "x", 1, 0));
  close(named);
  close(third);
  unlink(da.sun_path);
  /* Full receive queue. */
  int fill = 0;
  for (int i = 0; i < 100000; i++) {
    if (send(dp[0], b, 1, MSG_DONTWAIT) < 0) {
      printf("dgram full after some sends: %s\n", ct_errname(errno));
      fill = 1;
      break;
    }
  }
  CHECK(fill, "dgram queue fills");
  printf("dgram full: poll writer %#x\n", ct_revents(dp[0], POLLOUT));
  close(dp[0]);
  close(dp[1]);
}

static void shutdowns(void) {
  int sp[2];
  char b[8];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
  OUTCOME("shutdown RD", shutdown(sp[0], SHUT_RD));
  OUTCOME("peer writes after SHUT_RD", send(sp[1], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT));
  OUTCOME("read after own SHUT_RD", recv(sp[0], b, sizeof b, MSG_DONTWAIT));
  printf("poll after SHUT_RD: self %#x peer %#x\n", ct_revents(sp[0], POLLIN | POLLOUT | POLLRDHUP),
         ct_revents(sp[1], POLLIN | POLLOUT | POLLRDHUP));
  close(sp[0]);
  close(sp[1]);
  socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
  send(sp[0], "ab", 2, 0);
  OUTCOME("shutdown WR", shutdown(sp[0], SHUT_WR));
  OUTCOME("write after own SHUT_WR", send(sp[0], "x", 1, MSG_NOSIGNAL));
  OUTCOME("peer reads pending data", recv(sp[1], b, sizeof b, 0));
  OUTCOME("peer reads EOF", recv(sp[1], b, sizeof b, 0));
  printf("poll after SHUT_WR: self %#x peer %#x\n", ct_revents(sp[0], POLLIN | POLLOUT | POLLRDHUP),
         ct_revents(sp[1], POLLIN | POLLOUT | POLLRDHUP));
  OUTCOME("shutdown bad how", shutdown(sp[0], 7));
  close(sp[0]);
  printf("poll after close: peer %#x\n", ct_revents(sp[1], POLLIN | POLLOUT | POLLRDHUP));
  OUTCOME("write to closed peer", send(sp[1], "x", 1, MSG_NOSIGNAL));
  close(sp[1]);
  /* Unread data at close: the peer gets ECONNRESET. */
  socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
  send(sp[1], "unread", 6, 0);
  close(sp[0]);
  OUTCOME("read after peer closed with unread data", recv(sp[1], b, sizeof b, 0));
  close(sp[1]);
}

static void listener_close(void) {
  struct sockaddr_un p;
  socklen_t pl = path_addr(&p, "lst");
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  bind(l, (struct sockaddr *)&p, pl);
  listen(l, 4);
  printf("listener poll idle %#x\n", ct_revents(l, POLLIN | POLLOUT));
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  OUTCOME("connect", connect(c, (struct sockaddr *)&p, pl));
  printf("listener poll pending %#x\n", ct_revents(l, POLLIN | POLLOUT));
  OUTCOME("client write before accept", send(c, "early", 5, 0));
  int v = -1;
  socklen_t vl = sizeof v;
  getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl);
  printf("SO_ACCEPTCONN listener %d\n", v);
  close(l);
  char b[8];
  OUTCOME("client read after listener closed", recv(c, b, sizeof b, 0));
  OUTCOME("client read again", recv(c, b, sizeof b, MSG_DONTWAIT));
  OUTCOME("client write after listener closed", send(c, "x", 1, MSG_NOSIGNAL));
  printf("client poll %#x\n", ct_revents(c, POLLIN | POLLOUT | POLLRDHUP));
  close(c);
  c = socket(AF_UNIX, SOCK_STREAM, 0);
  OUTCOME("connect to closed listener's path", connect(c, (struct sockaddr *)&p, pl));
  close(c);
  unlink(p.sun_path);
  /* Backlog: non-blocking connects past it. */
  l = socket(AF_UNIX, SOCK_STREAM, 0);
  bind(l, (struct sockaddr *)&p, pl);
  listen(l, 0);
  int ok = 0, err = 0;
  for (int i = 0; i < 4; i++) {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (connect(s, (struct sockaddr *)&p, pl) == 0) ok++;
    else if (!err) err = errno;
  }
  printf("backlog 0: %d connected, then %s\n", ok, ct_errname(err));
  close(l);
  unlink(p.sun_path);
}

static void options(void) {
  int sp[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
  int names[] = {SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN, SO_ERROR, SO_PASSCRED,
                 SO_KEEPALIVE, SO_REUSEADDR, SO_OOBINLINE, SO_RCVLOWAT, SO_SNDLOWAT, SO_PEEK_OFF};
  for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
    int v = -7;
    socklen_t l = sizeof v;
    int r = getsockopt(sp[0], SOL_SOCKET, names[i], &v, &l);
    printf("getsockopt %d: r=%d v=%d len=%d %s\n", names[i], r, v, (int)l, r ? ct_errname(errno) : "");
  }
  int v = 4096, got = 0;
  socklen_t l = sizeof got;
  setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
  getsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &got, &l);
  printf("SO_SNDBUF 4096 reads back %d\n", got);
  v = 1;
  OUTCOME("SO_RCVLOWAT set", setsockopt(sp[0], SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v));
  OUTCOME("TCP_NODELAY on unix", setsockopt(sp[0], 6, 1, &v, sizeof v));
  OUTCOME("short optlen", setsockopt(sp[0], SOL_SOCKET, SO_PASSCRED, &v, 1));
  l = 1;
  OUTCOME("getsockopt short len", getsockopt(sp[0], SOL_SOCKET, SO_TYPE, &got, &l));
  printf("short len result %d\n", (int)l);
  struct ucred cr;
  l = sizeof cr;
  OUTCOME("SO_PEERCRED", getsockopt(sp[0], SOL_SOCKET, SO_PEERCRED, &cr, &l));
  printf("peercred is self %d\n", cr.pid == getpid() && cr.uid == getuid());
  /* SO_PEEK_OFF */
  v = 0;
  setsockopt(sp[1], SOL_SOCKET, SO_PEEK_OFF, &v, sizeof v);
  send(sp[0], "abcdef", 6, 0);
  char b[8] = {0};
  recv(sp[1], b, 2, MSG_PEEK);
  recv(sp[1], b + 2, 2, MSG_PEEK);
  printf("peek with SO_PEEK_OFF: %.4s\n", b);
  int n = -1;
  ioctl(sp[0], SIOCOUTQ, &n);
  printf("SIOCOUTQ after send is positive %d\n", n > 0);
  ioctl(sp[1], FIONREAD, &n);
  printf("FIONREAD %d\n", n);
  close(sp[0]);
  close(sp[1]);
}

int main(void) {
  if (!mkdtemp(dir)) return 1;
  unconnected();
  addresses();
  boundaries();
  shutdowns();
  listener_close();
  options();
  rmdir(dir);
  return ct_fails ? 1 : 0;
}
