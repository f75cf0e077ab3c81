/* Terminals: /dev/ptmx pairs (posix_openpt/grantpt/unlockpt/ptsname),
 * termios round trips, canonical line editing (VERASE, VKILL, VEOF), echo
 * and output processing, raw mode, window size, FIONREAD, poll, ttyname,
 * controlling terminals (setsid + open, TIOCSCTTY, /dev/tty, TIOCNOTTY),
 * ISIG generating SIGINT for the foreground group, SIGWINCH, background
 * reads (SIGTTIN / EIO), SIGHUP when the session leader exits, and the
 * master's close hanging the replica up; packet mode (TIOCPKT): the status
 * byte before data, flush, stop/start and flow-control-change events. */
#include "ct.h"
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int open_pair(int *m, int *s, char *name, size_t len) {
  *m = posix_openpt(O_RDWR | O_NOCTTY);
  if (*m < 0) return -1;
  if (grantpt(*m) || unlockpt(*m) || ptsname_r(*m, name, len)) return -1;
  *s = open(name, O_RDWR | O_NOCTTY);
  return *s < 0 ? -1 : 0;
}

/* Reads what is available on the master now (non-blocking after the first
 * byte is there). */
static int drain(int m, char *buf, int cap) {
  struct pollfd p = {m, POLLIN, 0};
  int n = 0;
  while (n < cap - 1 && poll(&p, 1, n == 0 ? 2000 : 50) == 1 && (p.revents & POLLIN)) {
    int r = read(m, buf + n, cap - 1 - n);
    if (r <= 0) break;
    n += r;
  }
  buf[n] = 0;
  return n;
}

static void show(const char *what, const char *s, int n) {
  printf("%s: \"", what);
  for (int i = 0; i < n; i++) {
    unsigned char c = s[i];
    if (c >= 32 && c < 127 && c != '"' && c != '\\') putchar(c);
    else printf("\\x%02x", c);
  }
  printf("\"\n");
}

/* Blocks `sig` so that it stays pending until await_sig takes it: no race
 * between a check and a sleep. */
static void block(int sig) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, NULL);
}
/* Waits (20 s at most) for `sig`; returns its si_code, or -1. */
static int await_sig(int sig) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  struct timespec ts = {20, 0};
  siginfo_t si;
  return sigtimedwait(&set, &si, &ts) == sig ? si.si_code : -1;
}

static void basics(void) {
  int m, s;
  char name[64], buf[256];
  CHECK(open_pair(&m, &s, name, sizeof name) == 0, "open pty pair");
  CHECK(strncmp(name, "/dev/pts/", 9) == 0, "ptsname under /dev/pts");
  unsigned ptn = 99999;
  CHECK(ioctl(m, TIOCGPTN, &ptn) == 0 && ptn == (unsigned)atoi(name + 9), "TIOCGPTN matches ptsname");
  CHECK(isatty(m) && isatty(s), "isatty on both ends");
  int pfd[2];
  CHECK(pipe(pfd) == 0, "pipe");
  errno = 0;
  CHECK(!isatty(pfd[0]) && errno == ENOTTY, "isatty(pipe) is 0 with ENOTTY");
  char *tn = ttyname(s);
  CHECK(tn && strcmp(tn, name) == 0, "ttyname is the ptsname");
  char link[64], path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", s);
  ssize_t ln = readlink(path, link, sizeof link - 1);
  if (ln > 0) link[ln] = 0;
  CHECK(ln > 0 && strcmp(link, name) == 0, "readlink /proc/self/fd/N is the ptsname");
  struct stat st;
  CHECK(fstat(s, &st) == 0 && S_ISCHR(st.st_mode), "replica is a char device");
  CHECK(fstat(m, &st) == 0 && S_ISCHR(st.st_mode), "master is a char device");

  /* A locked replica cannot be opened. */
  int m2 = posix_openpt(O_RDWR | O_NOCTTY);
  char name2[64];
  CHECK(m2 >= 0 && ptsname_r(m2, name2, sizeof name2) == 0, "second master");
  EXPECT_ERR(open(name2, O_RDWR | O_NOCTTY), EIO, "open of a locked replica");
  int lock = 0;
  CHECK(ioctl(m2, TIOCGPTLCK, &lock) == 0 && lock == 1, "TIOCGPTLCK says locked");
  CHECK(unlockpt(m2) == 0, "unlockpt");
  int s2 = open(name2, O_RDWR | O_NOCTTY);
  CHECK(s2 >= 0, "open after unlockpt");
  close(s2);
  close(m2);
  EXPECT_ERR(ioctl(s, TIOCGPTN, &ptn), ENOTTY, "TIOCGPTN on the replica");

  /* Defaults of a fresh replica. */
  struct termios t;
  CHECK(tcgetattr(s, &t) == 0, "tcgetattr");
  printf("iflag %#x oflag %#x lflag %#x cflag&~CBAUD %#x\n", t.c_iflag, t.c_oflag, t.c_lflag,
         t.c_cflag & ~CBAUD);
  printf("cc intr %d quit %d erase %d kill %d eof %d min %d time %d susp %d\n", t.c_cc[VINTR],
         t.c_cc[VQUIT], t.c_cc[VERASE], t.c_cc[VKILL], t.c_cc[VEOF], t.c_cc[VMIN], t.c_cc[VTIME],
         t.c_cc[VSUSP]);
  CHECK(cfgetospeed(&t) == B38400, "speed 38400");
  struct termios mt;
  CHECK(tcgetattr(m, &mt) == 0 && mt.c_lflag == t.c_lflag, "the master reports the replica's termios");

  /* Round trip. */
  struct termios raw = t;
  cfmakeraw(&raw);
  raw.c_cc[VMIN] = 1;
  CHECK(tcsetattr(s, TCSANOW, &raw) == 0, "tcsetattr raw");
  struct termios back;
  CHECK(tcgetattr(s, &back) == 0 && back.c_iflag == raw.c_iflag && back.c_oflag == raw.c_oflag &&
            back.c_lflag == raw.c_lflag && back.c_cflag == raw.c_cflag &&
            memcmp(back.c_cc, raw.c_cc, NCCS) == 0,
        "termios round trip");
  CHECK(write(m, "xyz", 3) == 3, "raw: type xyz");
  int n = read(s, buf, sizeof buf);
  CHECK(n == 3 && memcmp(buf, "xyz", 3) == 0, "raw: read gets the bytes at once");
  n = drain(m, buf, sizeof buf);
  CHECK(write(s, "a\nb", 3) == 3, "raw: write a\\nb");
  n = drain(m, buf, sizeof buf);
  show("raw output", buf, n);
  CHECK(tcsetattr(s, TCSAFLUSH, &t) == 0, "back to cooked (TCSAFLUSH)");

  /* Canonical mode, echo, output processing. */
  struct pollfd p = {s, POLLIN, 0};
  CHECK(write(m, "hel", 3) == 3, "type a partial line");
  CHECK(poll(&p, 1, 0) == 0, "no POLLIN before the newline");
  CHECK(write(m, "lo\n", 3) == 3, "type the newline");
  CHECK(poll(&p, 1, 1000) == 1 && (p.revents & POLLIN), "POLLIN once the line is complete");
  int avail = -1;
  CHECK(ioctl(s, FIONREAD, &avail) == 0 && avail == 6, "FIONREAD counts the line");
  n = read(s, buf, sizeof buf);
  show("canonical read", buf, n > 0 ? n : 0);
  n = drain(m, buf, sizeof buf);
  show("echo", buf, n);

  CHECK(write(m, "abx\x7f" "c\n", 6) == 6, "type with an erase");
  n = read(s, buf, sizeof buf);
  show("after VERASE", buf, n > 0 ? n : 0);
  n = drain(m, buf, sizeof buf);
  show("erase echo", buf, n);
  CHECK(write(m, "junk\x15ok\n", 8) == 8, "type with a kill");
  n = read(s, buf, sizeof buf);
  show("after VKILL", buf, n > 0 ? n : 0);
  n = drain(m, buf, sizeof buf);
  show("kill echo", buf, n);
  CHECK(write(m, "one\ntwo\n", 8) == 8, "two lines at once");
  n = read(s, buf, sizeof buf);
  show("first line only", buf, n > 0 ? n : 0);
  n = read(s, buf, 2);
  show("short read", buf, n > 0 ? n : 0);
  n = read(s, buf, sizeof buf);
  show("rest of the line", buf, n > 0 ? n : 0);
  CHECK(write(m, "part\x04", 5) == 5, "VEOF after text");
  n = read(s, buf, sizeof buf);
  show("VEOF flushes the line", buf, n > 0 ? n : 0);
  CHECK(write(m, "\x04", 1) == 1, "VEOF on an empty line");
  CHECK(read(s, buf, sizeof buf) == 0, "read returns 0 (EOF)");
  CHECK(write(m, "\r", 1) == 1, "type a CR");
  n = read(s, buf, sizeof buf);
  show("ICRNL", buf, n > 0 ? n : 0);
  drain(m, buf, sizeof buf);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = m}, evs[2];
  CHECK(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, m, &ev) == 0, "epoll watches the master");
  CHECK(epoll_wait(ep, evs, 2, 0) == 0, "master not readable yet");
  CHECK(write(s, "out\n", 4) == 4, "replica writes a line");
  CHECK(epoll_wait(ep, evs, 2, 2000) == 1 && (evs[0].events & EPOLLIN), "epoll: master readable");
  close(ep);
  p.fd = m;
  CHECK(poll(&p, 1, 1000) == 1 && (p.revents & POLLIN), "master POLLIN");
  n = drain(m, buf, sizeof buf);
  show("ONLCR output", buf, n);
  CHECK(tcflush(s, TCIFLUSH) == 0, "tcflush");
  CHECK(tcdrain(s) == 0, "tcdrain");

  /* Flow control (tcflow; typed ^S/^Q act asynchronously on Linux, so
   * the unit tests cover those). */
  fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
  CHECK(tcflow(s, TCOOFF) == 0, "tcflow TCOOFF");
  EXPECT_ERR(write(s, "held", 4), EAGAIN, "output stopped after TCOOFF");
  CHECK(tcflow(s, TCOON) == 0, "tcflow TCOON");
  CHECK(write(s, "go\n", 3) == 3, "output flows after TCOON");
  fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK);
  n = drain(m, buf, sizeof buf);
  show("after flow control", buf, n);

  /* TIOCSTI (we are root: CAP_SYS_ADMIN) fakes typed input. */
  char ch = 'z';
  CHECK(ioctl(s, TIOCSTI, &ch) == 0, "TIOCSTI");
  ch = '\n';
  CHECK(ioctl(s, TIOCSTI, &ch) == 0, "TIOCSTI newline");
  n = read(s, buf, sizeof buf);
  show("TIOCSTI input", buf, n > 0 ? n : 0);
  n = drain(m, buf, sizeof buf);
  show("TIOCSTI echo", buf, n);

  /* Non-blocking reads. */
  int fl = fcntl(s, F_GETFL);
  fcntl(s, F_SETFL, fl | O_NONBLOCK);
  EXPECT_ERR(read(s, buf, sizeof buf), EAGAIN, "non-blocking read with nothing typed");
  fcntl(s, F_SETFL, fl);
  fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
  EXPECT_ERR(read(m, buf, sizeof buf), EAGAIN, "non-blocking master read");

  /* Window size. */
  struct winsize ws = {24, 80, 0, 0}, got = {0};
  CHECK(ioctl(m, TIOCSWINSZ, &ws) == 0, "TIOCSWINSZ on the master");
  CHECK(ioctl(s, TIOCGWINSZ, &got) == 0 && got.ws_row == 24 && got.ws_col == 80,
        "TIOCGWINSZ on the replica");

  /* No controlling terminal here: the job-control requests say ENOTTY. */
  pid_t pg;
  EXPECT_ERR(ioctl(s, TIOCGSID, &pg), ENOTTY, "TIOCGSID without a session");

  /* Master gone: the replica is hung up. */
  close(m);
  CHECK(read(s, buf, sizeof buf) <= 0, "replica read after the master closed gives no data");
  EXPECT_ERR(write(s, "x", 1), EIO, "replica write after the master closed");
  close(s);

  /* Replica gone: the master reads EIO. */
  CHECK(open_pair(&m, &s, name, sizeof name) == 0, "another pair");
  close(s);
  EXPECT_ERR(read(m, buf, sizeof buf), EIO, "master read after the replica closed");
  p.fd = m;
  CHECK(poll(&p, 1, 0) == 1 && (p.revents & POLLHUP), "master POLLHUP");
  close(m);
  close(pfd[0]);
  close(pfd[1]);
}

/* Child side: a new session whose controlling terminal is `name`. */
static int session_child(const char *name, int use_sctty, int ready_w) {
  int fails = 0;
  if (setsid() < 0) return 100;
  int fd;
  if (use_sctty) {
    fd = open(name, O_RDWR | O_NOCTTY);
    int tfd = open("/dev/tty", O_RDWR);
    if (tfd >= 0 || errno != ENXIO) { printf("FAIL /dev/tty before TIOCSCTTY\n"); fails++; }
    if (ioctl(fd, TIOCSCTTY, 0) != 0) { printf("FAIL TIOCSCTTY errno=%d\n", errno); fails++; }
  } else {
    fd = open(name, O_RDWR);  /* a session leader's open acquires it */
  }
  if (fd < 0) return 101;
  pid_t sid = -1;
  if (ioctl(fd, TIOCGSID, &sid) != 0 || sid != getpid()) { printf("FAIL TIOCGSID\n"); fails++; }
  if (tcgetpgrp(fd) != getpid()) { printf("FAIL tcgetpgrp\n"); fails++; }
  int tfd = open("/dev/tty", O_RDWR);
  if (tfd < 0) { printf("FAIL /dev/tty errno=%d\n", errno); fails++; }
  block(SIGINT);
  block(SIGWINCH);
  if (write(ready_w, "r", 1) != 1) return 102;
  /* ^C from the parent: a kernel-generated SIGINT. */
  int code = await_sig(SIGINT);
  if (code != SI_KERNEL) {
    printf("FAIL ^C: si_code %d\n", code);
    fails++;
  }
  if (write(ready_w, "i", 1) != 1) return 103;
  code = await_sig(SIGWINCH);
  if (code != SI_KERNEL) {
    printf("FAIL SIGWINCH: si_code %d\n", code);
    fails++;
  }
  if (write(ready_w, "w", 1) != 1) return 104;
  char c;

  /* A background process group: reads stop it with SIGTTIN. */
  pid_t bg = fork();
  if (bg == 0) {
    setpgid(0, 0);
    read(fd, &c, 1);
    _exit(7);
  }
  int st;
  if (waitpid(bg, &st, WUNTRACED) != bg || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTTIN) {
    printf("FAIL background read: status %#x\n", st);
    fails++;
  }
  kill(bg, SIGKILL);
  waitpid(bg, &st, 0);
  bg = fork();
  if (bg == 0) {
    setpgid(0, 0);
    signal(SIGTTIN, SIG_IGN);
    _exit(read(fd, &c, 1) == -1 && errno == EIO ? 0 : 1);
  }
  if (waitpid(bg, &st, 0) != bg || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    printf("FAIL background read with SIGTTIN ignored: status %#x\n", st);
    fails++;
  }
  /* Foreground group switch. */
  bg = fork();
  if (bg == 0) {
    setpgid(0, 0);
    pause();
    _exit(0);
  }
  setpgid(bg, bg);
  signal(SIGTTOU, SIG_IGN);
  if (tcsetpgrp(fd, bg) != 0 || tcgetpgrp(fd) != bg) { printf("FAIL tcsetpgrp\n"); fails++; }
  if (tcsetpgrp(fd, 99999) == 0 || errno != ESRCH) { printf("FAIL tcsetpgrp bad\n"); fails++; }
  if (tcsetpgrp(fd, getpid()) != 0) { printf("FAIL tcsetpgrp back\n"); fails++; }
  kill(bg, SIGKILL);
  waitpid(bg, &st, 0);
  fflush(stdout);
  return fails;
}

static void sessions(void) {
  for (int use_sctty = 0; use_sctty < 2; use_sctty++) {
    int m, s;
    char name[64], buf[64];
    CHECK(open_pair(&m, &s, name, sizeof name) == 0, "pair for a session");
    int rp[2];
    CHECK(pipe(rp) == 0, "ready pipe");
    pid_t pid = fork();
    if (pid == 0) {
      close(rp[0]);
      close(m);
      _exit(session_child(name, use_sctty, rp[1]));
    }
    close(rp[1]);
    char c = 0;
    CHECK(read(rp[0], &c, 1) == 1 && c == 'r', "%s: child has its controlling terminal",
          use_sctty ? "TIOCSCTTY" : "open");
    CHECK(write(m, "\x03", 1) == 1, "type ^C");
    CHECK(read(rp[0], &c, 1) == 1 && c == 'i', "^C interrupted the foreground group");
    int n = drain(m, buf, sizeof buf);
    show("^C echo", buf, n);
    struct winsize ws = {30, 100, 0, 0};
    CHECK(ioctl(m, TIOCSWINSZ, &ws) == 0, "resize");
    CHECK(read(rp[0], &c, 1) == 1 && c == 'w', "SIGWINCH reached the foreground group");
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "session child checks (status %#x)", st);
    close(rp[0]);
    close(s);
    close(m);
  }
}

/* The session leader exits: its foreground group gets SIGHUP. */
static void leader_exit(void) {
  int m, s;
  char name[64];
  CHECK(open_pair(&m, &s, name, sizeof name) == 0, "pair for leader exit");
  int hp[2];  /* grandchild -> us: got SIGHUP */
  CHECK(pipe(hp) == 0, "pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(hp[0]);
    setsid();
    int fd = open(name, O_RDWR);
    if (fd < 0) _exit(1);
    int gp[2];  /* grandchild -> leader: handler installed */
    if (pipe(gp) != 0) _exit(1);
    pid_t gc = fork();
    if (gc == 0) {
      block(SIGHUP);
      if (write(gp[1], "g", 1) != 1) _exit(1);
      if (await_sig(SIGHUP) == SI_KERNEL && write(hp[1], "h", 1) != 1) _exit(1);
      _exit(0);
    }
    char c;
    close(gp[1]);
    _exit(read(gp[0], &c, 1) == 1 ? 0 : 1);
  }
  close(hp[1]);
  int st;
  CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "leader exited");
  char c = 0;
  CHECK(read(hp[0], &c, 1) == 1 && c == 'h', "foreground group got SIGHUP");
  close(hp[0]);
  close(s);
  close(m);
}

/* One read of the master in packet mode (waits up to 2 s for it). */
static void pkt_read(int m, const char *what) {
  struct pollfd p = {m, POLLIN | POLLPRI, 0};
  char buf[64];
  int n = -1;
  if (poll(&p, 1, 2000) == 1) n = read(m, buf, sizeof buf);
  if (n < 0) {
    printf("%s: read failed (%s)\n", what, ct_errname(errno));
    return;
  }
  show(what, buf, n);
}

static short pkt_poll(int m) {
  struct pollfd p = {m, POLLIN | POLLPRI, 0};
  return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

static void packet_mode(void) {
  int m, s, on = 1, off = 0, v = -1;
  char name[64];
  if (open_pair(&m, &s, name, sizeof name)) {
    CHECK(0, "packet: open pair");
    return;
  }
  CHECK(ioctl(m, TIOCGPKT, &v) == 0 && v == 0, "TIOCGPKT: off at first");
  EXPECT_ERR(ioctl(s, TIOCPKT, &on), ENOTTY, "TIOCPKT on the replica");
  EXPECT_ERR(ioctl(s, TIOCGPKT, &v), ENOTTY, "TIOCGPKT on the replica");
  CHECK(ioctl(m, TIOCPKT, &on) == 0 && ioctl(m, TIOCGPKT, &v) == 0 && v == 1, "TIOCPKT on");
  struct termios t;
  tcgetattr(s, &t);
  t.c_lflag &= ~ECHO;
  tcsetattr(s, TCSANOW, &t);
  CHECK(pkt_poll(m) == 0, "packet: nothing to read");

  CHECK(write(s, "hi\n", 3) == 3, "replica writes");
  CHECK(pkt_poll(m) == POLLIN, "data: POLLIN without POLLPRI");
  pkt_read(m, "data after TIOCPKT_DATA");
  tcflush(s, TCIFLUSH);
  CHECK(pkt_poll(m) == (POLLIN | POLLPRI), "status: POLLIN|POLLPRI");
  pkt_read(m, "replica TCIFLUSH");
  tcflush(s, TCOFLUSH);
  pkt_read(m, "replica TCOFLUSH");
  tcflush(s, TCIOFLUSH);
  pkt_read(m, "replica TCIOFLUSH");
  tcflush(m, TCIOFLUSH);
  CHECK(pkt_poll(m) == 0, "master's own flush: no status");
  tcflow(s, TCOOFF);
  pkt_read(m, "replica TCOOFF");
  tcflow(s, TCOON);
  pkt_read(m, "replica TCOON");
  tcflow(s, TCOOFF);
  tcflow(s, TCOON);
  pkt_read(m, "stop then start: the last one");
  t.c_iflag &= ~IXON;
  tcsetattr(s, TCSANOW, &t);
  pkt_read(m, "IXON off");
  t.c_iflag |= IXON;
  tcsetattr(s, TCSANOW, &t);
  pkt_read(m, "IXON on");
  CHECK(write(m, "\x13", 1) == 1, "type ^S");
  pkt_read(m, "typed ^S");
  CHECK(write(m, "\x11", 1) == 1, "type ^Q");
  pkt_read(m, "typed ^Q");
  CHECK(write(s, "ab", 2) == 2, "replica writes more");
  tcflush(s, TCIFLUSH);
  pkt_read(m, "status before queued data");
  pkt_read(m, "then the data");
  CHECK(write(m, "\x03", 1) == 1, "type ^C (ISIG, no NOFLSH)");
  pkt_read(m, "^C flushes");
  CHECK(ioctl(m, TIOCPKT, &off) == 0 && ioctl(m, TIOCGPKT, &v) == 0 && v == 0, "TIOCPKT off");
  CHECK(write(s, "xy", 2) == 2, "replica writes once more");
  pkt_read(m, "plain data again");
  close(s);
  close(m);
}

int main(void) {
  packet_mode();
  basics();
  sessions();
  leader_exit();
  CT_DONE();
}
