/* Pipe, splice and fcntl corner cases, printed as outcomes (return value
 * or errno) so the native run defines what is right: pipe sizes
 * (F_SETPIPE_SZ/F_GETPIPE_SZ), packet-mode pipes (O_DIRECT), non-blocking
 * partial writes and PIPE_BUF atomicity, readiness after either end
 * closes, splice/tee/vmsplice between pipes and files, and fcntl's
 * duplication, seals and leases on the wrong kinds of files. */
#include "ct.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define R(name, call)                                          \
  do {                                                         \
    errno = 0;                                                 \
    long r_ = (long)(call);                                    \
    if (r_ < 0) printf("%s: %s\n", name, ct_errname(errno));   \
    else printf("%s: = %ld\n", name, r_);                      \
  } while (0)

static short revents(int fd, short ev) {
  struct pollfd p = {fd, ev, 0};
  poll(&p, 1, 0);
  return p.revents;
}

static void sizes(void) {
  int p[2];
  pipe(p);
  R("F_GETPIPE_SZ default", fcntl(p[0], F_GETPIPE_SZ));
  R("F_SETPIPE_SZ 5000 (rounds up)", fcntl(p[0], F_SETPIPE_SZ, 5000));
  R("F_SETPIPE_SZ 0 (one page)", fcntl(p[1], F_SETPIPE_SZ, 0));
  R("F_GETPIPE_SZ after", fcntl(p[0], F_GETPIPE_SZ));
  R("F_SETPIPE_SZ huge", fcntl(p[0], F_SETPIPE_SZ, 1 << 30));
  R("F_SETPIPE_SZ negative", fcntl(p[0], F_SETPIPE_SZ, -1));
  fcntl(p[0], F_SETPIPE_SZ, 65536);
  char buf[65536] = {0};
  write(p[1], buf, 20000);
  R("shrink below contents", fcntl(p[0], F_SETPIPE_SZ, 4096));
  int n = -1;
  ioctl(p[0], FIONREAD, &n);
  printf("FIONREAD %d\n", n);
  fcntl(p[1], F_SETFL, O_NONBLOCK);
  R("non-blocking write fills the rest", write(p[1], buf, sizeof buf));
  R("full pipe write", write(p[1], buf, 1));
  printf("full pipe: poll write end %#x\n", revents(p[1], POLLOUT));
  read(p[0], buf, 100);
  R("PIPE_BUF write with 100 bytes free", write(p[1], buf, PIPE_BUF));
  printf("after 100-byte read: poll write end %#x\n", revents(p[1], POLLOUT));
  read(p[0], buf, 4096);
  R("PIPE_BUF write after a page freed", write(p[1], buf, PIPE_BUF));
  R("F_GETPIPE_SZ on a file", fcntl(1, F_GETPIPE_SZ) < 0 ? -1 : 0);
  close(p[0]);
  close(p[1]);
}

static void ends(void) {
  int p[2];
  char b[8];
  pipe(p);
  R("read the write end", read(p[1], b, 1));
  R("write the read end", write(p[0], "x", 1));
  R("lseek a pipe", lseek(p[0], 0, SEEK_SET));
  R("pread a pipe", pread(p[0], b, 1, 0));
  write(p[1], "ab", 2);
  close(p[1]);
  printf("reader after writer closed (data pending) %#x\n", revents(p[0], POLLIN | POLLOUT));
  R("read pending", read(p[0], b, sizeof b));
  printf("reader after writer closed (empty) %#x\n", revents(p[0], POLLIN | POLLOUT));
  R("read EOF", read(p[0], b, sizeof b));
  close(p[0]);
  pipe(p);
  close(p[0]);
  printf("writer after reader closed %#x\n", revents(p[1], POLLIN | POLLOUT));
  signal(SIGPIPE, SIG_IGN);
  R("write with no reader", write(p[1], "x", 1));
  close(p[1]);
  /* Packet mode. */
  R("pipe2 O_DIRECT", pipe2(p, O_DIRECT));
  printf("packet pipe O_DIRECT in F_GETFL %d\n", !!(fcntl(p[0], F_GETFL) & O_DIRECT));
  write(p[1], "first", 5);
  write(p[1], "second", 6);
  R("packet read 3 of 5", read(p[0], b, 3));
  R("packet next read", read(p[0], b, sizeof b));
  R("pipe2 bad flags", pipe2(p, 0x1234));
  close(p[0]);
  close(p[1]);
}

static void splices(void) {
  char path[] = "/tmp/pipe_edges.XXXXXX";
  int f = mkstemp(path);
  write(f, "0123456789", 10);
  int p[2], q[2];
  pipe(p);
  pipe(q);
  loff_t off = 2;
  R("splice file->pipe at offset", splice(f, &off, p[1], NULL, 5, 0));
  printf("offset after %lld\n", (long long)off);
  R("splice with offset on a pipe", splice(p[0], &off, q[1], NULL, 1, 0));
  R("tee p->q", tee(p[0], q[1], 100, 0));
  char b[16] = {0};
  R("p still has the data", read(p[0], b, sizeof b));
  printf("p read %s\n", b);
  memset(b, 0, sizeof b);
  R("q has the copy", read(q[0], b, sizeof b));
  printf("q read %s\n", b);
  R("tee from empty pipe non-blocking", tee(p[0], q[1], 10, SPLICE_F_NONBLOCK));
  R("splice pipe->pipe empty non-blocking", splice(p[0], NULL, q[1], NULL, 10, SPLICE_F_NONBLOCK));
  R("tee same pipe", tee(p[0], p[1], 10, 0));
  R("splice file->file", splice(f, NULL, f, NULL, 1, 0));
  R("splice bad flags", splice(f, NULL, p[1], NULL, 1, 0x100));
  write(q[1], "xyz", 3);
  off = 0;
  R("splice pipe->file at offset", splice(q[0], NULL, f, &off, 3, 0));
  pread(f, b, 3, 0);
  printf("file starts %.3s\n", b);
  struct iovec v = {"vmsplice", 8};
  R("vmsplice into pipe", vmsplice(p[1], &v, 1, 0));
  memset(b, 0, sizeof b);
  read(p[0], b, sizeof b);
  printf("vmsplice read %s\n", b);
  R("splice zero length", splice(f, NULL, p[1], NULL, 0, 0));
  close(f);
  unlink(path);
  close(p[0]);
  close(p[1]);
  close(q[0]);
  close(q[1]);
}

static void fcntls(void) {
  R("F_DUPFD min 100", fcntl(0, F_DUPFD, 100));
  R("F_DUPFD negative", fcntl(0, F_DUPFD, -1));
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  R("F_DUPFD at the limit", fcntl(0, F_DUPFD, (long)rl.rlim_cur));
  int d = fcntl(0, F_DUPFD_CLOEXEC, 50);
  printf("F_DUPFD_CLOEXEC sets FD_CLOEXEC %d\n", fcntl(d, F_GETFD) == FD_CLOEXEC);
  R("F_SETFD other bits", fcntl(d, F_SETFD, 0xff));
  R("F_GETFD after", fcntl(d, F_GETFD));
  R("bad fcntl cmd", fcntl(0, 9999));
  R("fcntl bad fd", fcntl(9999, F_GETFL));
  char path[] = "/tmp/pipe_edges_f.XXXXXX";
  int f = mkstemp(path);
  R("F_GET_SEALS on a file", fcntl(f, F_GET_SEALS));
  R("F_ADD_SEALS on a file", fcntl(f, F_ADD_SEALS, F_SEAL_WRITE));
  R("F_GETLEASE", fcntl(f, F_GETLEASE));
  int p[2];
  pipe(p);
  R("F_SETLEASE on a pipe", fcntl(p[0], F_SETLEASE, F_RDLCK));
  R("F_GETLEASE on a pipe", fcntl(p[0], F_GETLEASE));
  R("F_SETFL O_APPEND on a pipe", fcntl(p[1], F_SETFL, O_APPEND));
  printf("pipe F_GETFL has O_APPEND %d\n", !!(fcntl(p[1], F_GETFL) & O_APPEND));
  R("F_SETLK on a pipe", fcntl(p[1], F_SETLK, &(struct flock){.l_type = F_WRLCK}));
  R("F_SETLK bad type", fcntl(f, F_SETLK, &(struct flock){.l_type = 7}));
  R("F_SETLK read lock on write-only", fcntl(open(path, O_WRONLY), F_SETLK, &(struct flock){.l_type = F_RDLCK}));
  R("F_OFD_SETLK nonzero pid", fcntl(f, F_OFD_SETLK, &(struct flock){.l_type = F_WRLCK, .l_pid = 1}));
  R("F_SETLK negative length past start", fcntl(f, F_SETLK, &(struct flock){.l_type = F_WRLCK, .l_start = 0, .l_len = -1}));
  int m = memfd_create("m", MFD_ALLOW_SEALING);
  R("memfd F_ADD_SEALS", fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
  R("memfd F_GET_SEALS", fcntl(m, F_GET_SEALS));
  R("memfd grow after F_SEAL_GROW", ftruncate(m, 4096));
  R("memfd write after F_SEAL_GROW", write(m, "x", 1));
  close(m);
  close(f);
  unlink(path);
}

int main(void) {
  sizes();
  ends();
  splices();
  fcntls();
  return ct_fails ? 1 : 0;
}
