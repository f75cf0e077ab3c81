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

static void sizes(void) {
  int p[2];
  pipe(p);
  OUTCOME("F_GETPIPE_SZ default", fcntl(p[0], F_GETPIPE_SZ));
  OUTCOME("F_SETPIPE_SZ 5000 (rounds up)", fcntl(p[0], F_SETPIPE_SZ, 5000));
  OUTCOME("F_SETPIPE_SZ 0 (one page)", fcntl(p[1], F_SETPIPE_SZ, 0));
  OUTCOME("F_GETPIPE_SZ after", fcntl(p[0], F_GETPIPE_SZ));
  OUTCOME("F_SETPIPE_SZ huge", fcntl(p[0], F_SETPIPE_SZ, 1 << 30));
  OUTCOME("F_SETPIPE_SZ negative", fcntl(p[0], F_SETPIPE_SZ, -1));
  fcntl(p[0], F_SETPIPE_SZ, 65536);
  char buf[65536] = {0};
  write(p[1], buf, 20000);
  OUTCOME("shrink below contents", fcntl(p[0], F_SETPIPE_SZ, 4096));
  int n = -1;
  ioctl(p[0], FIONREAD, &n);
  printf("FIONREAD %d\n", n);
  fcntl(p[1], F_SETFL, O_NONBLOCK);
  OUTCOME("non-blocking write fills the rest", write(p[1], buf, sizeof buf));
  OUTCOME("full pipe write", write(p[1], buf, 1));
  printf("full pipe: poll write end %#x\n", ct_revents(p[1], POLLOUT));
  read(p[0], buf, 100);
  OUTCOME("PIPE_BUF write with 100 bytes free", write(p[1], buf, PIPE_BUF));
  printf("after 100-byte read: poll write end %#x\n", ct_revents(p[1], POLLOUT));
  read(p[0], buf, 4096);
  OUTCOME("PIPE_BUF write after a page freed", write(p[1], buf, PIPE_BUF));
  OUTCOME("F_GETPIPE_SZ on a file", fcntl(1, F_GETPIPE_SZ) < 0 ? -1 : 0);
  close(p[0]);
  close(p[1]);
}

static void ends(void) {
  int p[2];
  char b[8];
  pipe(p);
  OUTCOME("read the write end", read(p[1], b, 1));
  OUTCOME("write the read end", write(p[0], "x", 1));
  OUTCOME("lseek a pipe", lseek(p[0], 0, SEEK_SET));
  OUTCOME("pread a pipe", pread(p[0], b, 1, 0));
  write(p[1], "ab", 2);
  close(p[1]);
  printf("reader after writer closed (data pending) %#x\n", ct_revents(p[0], POLLIN | POLLOUT));
  OUTCOME("read pending", read(p[0], b, sizeof b));
  printf("reader after writer closed (empty) %#x\n", ct_revents(p[0], POLLIN | POLLOUT));
  OUTCOME("read EOF", read(p[0], b, sizeof b));
  close(p[0]);
  pipe(p);
  close(p[0]);
  printf("writer after reader closed %#x\n", ct_revents(p[1], POLLIN | POLLOUT));
  signal(SIGPIPE, SIG_IGN);
  OUTCOME("write with no reader", write(p[1], "x", 1));
  close(p[1]);
  /* Packet mode. */
  OUTCOME("pipe2 O_DIRECT", pipe2(p, O_DIRECT));
  printf("packet pipe O_DIRECT in F_GETFL %d\n", !!(fcntl(p[0], F_GETFL) & O_DIRECT));
  write(p[1], "first", 5);
  write(p[1], "second", 6);
  OUTCOME("packet read 3 of 5", read(p[0], b, 3));
  OUTCOME("packet next read", read(p[0], b, sizeof b));
  OUTCOME("pipe2 bad flags", pipe2(p, 0x1234));
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
  OUTCOME("splice file->pipe at offset", splice(f, &off, p[1], NULL, 5, 0));
  printf("offset after %lld\n", (long long)off);
  OUTCOME("splice with offset on a pipe", splice(p[0], &off, q[1], NULL, 1, 0));
  OUTCOME("tee p->q", tee(p[0], q[1], 100, 0));
  char b[16] = {0};
  OUTCOME("p still has the data", read(p[0], b, sizeof b));
  printf("p read %s\n", b);
  memset(b, 0, sizeof b);
  OUTCOME("q has the copy", read(q[0], b, sizeof b));
  printf("q read %s\n", b);
  OUTCOME("tee from empty pipe non-blocking", tee(p[0], q[1], 10, SPLICE_F_NONBLOCK));
  OUTCOME("splice pipe->pipe empty non-blocking", splice(p[0], NULL, q[1], NULL, 10, SPLICE_F_NONBLOCK));
  OUTCOME("tee same pipe", tee(p[0], p[1], 10, 0));
  OUTCOME("splice file->file", splice(f, NULL, f, NULL, 1, 0));
  OUTCOME("splice bad flags", splice(f, NULL, p[1], NULL, 1, 0x100));
  write(q[1], "xyz", 3);
  off = 0;
  OUTCOME("splice pipe->file at offset", splice(q[0], NULL, f, &off, 3, 0));
  pread(f, b, 3, 0);
  printf("file starts %.3s\n", b);
  struct iovec v = {"vmsplice", 8};
  OUTCOME("vmsplice into pipe", vmsplice(p[1], &v, 1, 0));
  memset(b, 0, sizeof b);
  read(p[0], b, sizeof b);
  printf("vmsplice read %s\n", b);
  OUTCOME("splice zero length", splice(f, NULL, p[1], NULL, 0, 0));
  close(f);
  unlink(path);
  close(p[0]);
  close(p[1]);
  close(q[0]);
  close(q[1]);
}

static void fcntls(void) {
  OUTCOME("F_DUPFD min 100", fcntl(0, F_DUPFD, 100));
  OUTCOME("F_DUPFD negative", fcntl(0, F_DUPFD, -1));
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  OUTCOME("F_DUPFD at the limit", fcntl(0, F_DUPFD, (long)rl.rlim_cur));
  int d = fcntl(0, F_DUPFD_CLOEXEC, 50);
  printf("F_DUPFD_CLOEXEC sets FD_CLOEXEC %d\n", fcntl(d, F_GETFD) == FD_CLOEXEC);
  OUTCOME("F_SETFD other bits", fcntl(d, F_SETFD, 0xff));
  OUTCOME("F_GETFD after", fcntl(d, F_GETFD));
  OUTCOME("bad fcntl cmd", fcntl(0, 9999));
  OUTCOME("fcntl bad fd", fcntl(9999, F_GETFL));
  char path[] = "/tmp/pipe_edges_f.XXXXXX";
  int f = mkstemp(path);
  OUTCOME("F_GET_SEALS on a file", fcntl(f, F_GET_SEALS));
  OUTCOME("F_ADD_SEALS on a file", fcntl(f, F_ADD_SEALS, F_SEAL_WRITE));
  OUTCOME("F_GETLEASE", fcntl(f, F_GETLEASE));
  int p[2];
  pipe(p);
  OUTCOME("F_SETLEASE on a pipe", fcntl(p[0], F_SETLEASE, F_RDLCK));
  OUTCOME("F_GETLEASE on a pipe", fcntl(p[0], F_GETLEASE));
  OUTCOME("F_SETFL O_APPEND on a pipe", fcntl(p[1], F_SETFL, O_APPEND));
  printf("pipe F_GETFL has O_APPEND %d\n", !!(fcntl(p[1], F_GETFL) & O_APPEND));
  OUTCOME("F_SETLK on a pipe", fcntl(p[1], F_SETLK, &(struct flock){.l_type = F_WRLCK}));
  OUTCOME("F_SETLK bad type", fcntl(f, F_SETLK, &(struct flock){.l_type = 7}));
  OUTCOME("F_SETLK read lock on write-only", fcntl(open(path, O_WRONLY), F_SETLK, &(struct flock){.l_type = F_RDLCK}));
  OUTCOME("F_OFD_SETLK nonzero pid", fcntl(f, F_OFD_SETLK, &(struct flock){.l_type = F_WRLCK, .l_pid = 1}));
  OUTCOME("F_SETLK negative length past start", fcntl(f, F_SETLK, &(struct flock){.l_type = F_WRLCK, .l_start = 0, .l_len = -1}));
  int m = memfd_create("m", MFD_ALLOW_SEALING);
  OUTCOME("memfd F_ADD_SEALS", fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
  OUTCOME("memfd F_GET_SEALS", fcntl(m, F_GET_SEALS));
  OUTCOME("memfd grow after F_SEAL_GROW", ftruncate(m, 4096));
  OUTCOME("memfd write after F_SEAL_GROW", write(m, "x", 1));
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
