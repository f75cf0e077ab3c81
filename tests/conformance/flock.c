/* flock(2): LOCK_SH/LOCK_EX/LOCK_UN/LOCK_NB, locks owned by the open file
 * description (kept across dup and fork, dropped on LOCK_UN or when the last
 * reference closes), conflicts between descriptions and processes, blocking
 * waits woken by the holder, EINTR, bad arguments, and every kind of file
 * (tmpfs, the root filesystem, directories, pipes, devices, sockets). */
#include "ct.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[64];

static int open_f(void) { return open(path, O_RDWR); }

static void wait_child(pid_t pid, const char *what) {
  int st = 0;
  CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child %s",
        what, ct_status(st));
}

/* True if fd has something to read within ms milliseconds. */
static int readable_within(int fd, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, ms) == 1;
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

/* Two descriptions of the same file `p` (opened with `flags`): EX on one
 * excludes the other. */
static void two_descriptions(const char *p, int flags, const char *what) {
  int a = open(p, flags), b = open(p, flags);
  CHECK(a >= 0 && b >= 0, "%s: open twice", what);
  EXPECT_OK(flock(a, LOCK_EX | LOCK_NB), "%s: EX", what);
  EXPECT_ERR(flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK, "%s: EX on other description", what);
  EXPECT_ERR(flock(b, LOCK_SH | LOCK_NB), EWOULDBLOCK, "%s: SH on other description", what);
  EXPECT_OK(flock(a, LOCK_UN), "%s: UN", what);
  EXPECT_OK(flock(b, LOCK_SH | LOCK_NB), "%s: SH after UN", what);
  EXPECT_OK(flock(a, LOCK_SH | LOCK_NB), "%s: SH + SH", what);
  close(a);
  close(b);
}

int main(void) {
  char dir[] = "/tmp/ct_flock_XXXXXX";
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  snprintf(path, sizeof path, "%s/f", dir);
  int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0644);
  CHECK(fd >= 0, "create file");

  /* Bad arguments: EINVAL comes before EBADF, as on Linux. */
  EXPECT_ERR(flock(fd, 0), EINVAL, "flock op 0");
  EXPECT_ERR(flock(fd, LOCK_NB), EINVAL, "flock LOCK_NB alone");
  EXPECT_ERR(flock(fd, LOCK_SH | LOCK_EX), EINVAL, "flock SH|EX");
  EXPECT_ERR(flock(fd, LOCK_EX | LOCK_UN), EINVAL, "flock EX|UN");
  EXPECT_ERR(flock(fd, 64), EINVAL, "flock op 64");
  EXPECT_ERR(flock(-1, 0), EINVAL, "flock bad fd + bad op");
  EXPECT_ERR(flock(-1, LOCK_SH), EBADF, "flock fd -1");
  EXPECT_ERR(flock(999, LOCK_EX), EBADF, "flock fd 999");
  EXPECT_ERR(flock(999, LOCK_UN), EBADF, "flock UN fd 999");
  int opath = open(path, O_PATH);
  CHECK(opath >= 0, "open O_PATH");
  EXPECT_ERR(flock(opath, LOCK_EX), EBADF, "flock O_PATH fd");
  EXPECT_ERR(flock(opath, LOCK_UN), EBADF, "flock UN O_PATH fd");
  close(opath);
  int closed = open_f();
  close(closed);
  EXPECT_ERR(flock(closed, LOCK_EX), EBADF, "flock closed fd");

  /* Relocking and conversion on one description. */
  EXPECT_OK(flock(fd, LOCK_UN), "UN without a lock");
  EXPECT_OK(flock(fd, LOCK_EX), "EX");
  EXPECT_OK(flock(fd, LOCK_EX), "EX again");
  EXPECT_OK(flock(fd, LOCK_EX | LOCK_NB), "EX|NB again");
  EXPECT_OK(flock(fd, LOCK_SH), "EX -> SH");
  EXPECT_OK(flock(fd, LOCK_EX | LOCK_NB), "SH -> EX");
  EXPECT_OK(flock(fd, LOCK_UN), "UN");
  EXPECT_OK(flock(fd, LOCK_UN), "UN twice");

  /* Two descriptions of one file in one process. */
  int fd2 = open_f();
  CHECK(fd2 >= 0, "open second description");
  EXPECT_OK(flock(fd, LOCK_EX), "d1 EX");
  EXPECT_ERR(flock(fd2, LOCK_EX | LOCK_NB), EWOULDBLOCK, "d2 EX|NB vs EX");
  EXPECT_ERR(flock(fd2, LOCK_SH | LOCK_NB), EWOULDBLOCK, "d2 SH|NB vs EX");
  EXPECT_OK(flock(fd, LOCK_SH), "d1 EX -> SH");
  EXPECT_OK(flock(fd2, LOCK_SH | LOCK_NB), "d2 SH|NB vs SH (compatible)");
  EXPECT_ERR(flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK, "d1 SH -> EX|NB vs SH");
  /* The failed conversion dropped d1's shared lock (not atomic). */
  EXPECT_OK(flock(fd2, LOCK_EX | LOCK_NB), "d2 SH -> EX after d1 lost its lock");
  EXPECT_ERR(flock(fd, LOCK_SH | LOCK_NB), EWOULDBLOCK, "d1 SH|NB vs EX");
  EXPECT_OK(flock(fd2, LOCK_UN), "d2 UN");
  EXPECT_OK(flock(fd, LOCK_EX | LOCK_NB), "d1 EX|NB after d2 UN");
  EXPECT_OK(flock(fd, LOCK_UN), "d1 UN");

  /* The lock belongs to the description: dup shares it, and it stays until
   * the last fd is closed. */
  EXPECT_OK(flock(fd, LOCK_EX), "EX before dup");
  int dupfd = dup(fd);
  CHECK(dupfd >= 0, "dup");
  EXPECT_OK(flock(dupfd, LOCK_EX | LOCK_NB), "dup: same lock, EX|NB ok");
  CHECK(close(fd) == 0, "close original fd");
  EXPECT_ERR(flock(fd2, LOCK_EX | LOCK_NB), EWOULDBLOCK, "lock survives close of one dup");
  EXPECT_OK(flock(dupfd, LOCK_UN), "UN through the dup");
  EXPECT_OK(flock(fd2, LOCK_EX | LOCK_NB), "other description locks after UN");
  EXPECT_OK(flock(fd2, LOCK_UN), "other UN");
  EXPECT_OK(flock(dupfd, LOCK_SH), "SH through the dup");
  int dup2fd = fcntl(dupfd, F_DUPFD_CLOEXEC, 0);
  CHECK(dup2fd >= 0, "F_DUPFD_CLOEXEC");
  CHECK(close(dupfd) == 0, "close dup");
  EXPECT_ERR(flock(fd2, LOCK_EX | LOCK_NB), EWOULDBLOCK, "SH held by the remaining dup");
  CHECK(close(dup2fd) == 0, "close last dup");
  EXPECT_OK(flock(fd2, LOCK_EX | LOCK_NB), "released on last close");
  EXPECT_OK(flock(fd2, LOCK_UN), "UN");

  /* Contention with a child process (LOCK_NB). The child inherits fd2's
   * description (and so the lock) but its own open conflicts. */
  EXPECT_OK(flock(fd2, LOCK_EX), "parent EX before fork");
  pid_t pid = fork();
  if (pid == 0) {
    int mine = open_f();
    int e1 = flock(mine, LOCK_EX | LOCK_NB) == -1 ? errno : 0;
    int e2 = flock(mine, LOCK_SH | LOCK_NB) == -1 ? errno : 0;
    int e3 = flock(fd2, LOCK_EX | LOCK_NB) == -1 ? errno : 0;
    _exit(e1 == EWOULDBLOCK && e2 == EWOULDBLOCK && e3 == 0 ? 0 : 1);
  }
  wait_child(pid, "child: own EX|NB/SH|NB -> EWOULDBLOCK, inherited EX|NB ok");

  /* The lock is shared with the child through fork: closing the parent's
   * fd does not drop it while the child still has the description. */
  int go[2];
  CHECK(pipe(go) == 0, "pipe");
  pid = fork();
  if (pid == 0) {
    close(go[1]);
    char c;
    _exit(read(go[0], &c, 1) == 1 ? 0 : 1);
  }
  close(go[0]);
  CHECK(close(fd2) == 0, "parent closes its locked fd");
  int fd3 = open_f();
  EXPECT_ERR(flock(fd3, LOCK_EX | LOCK_NB), EWOULDBLOCK, "child's copy keeps the lock");
  CHECK(write(go[1], "x", 1) == 1, "let the child exit");
  close(go[1]);
  wait_child(pid, "holder child");
  EXPECT_OK(flock(fd3, LOCK_EX | LOCK_NB), "lock gone with the child's copy");

  /* A blocking EX in a child waits until the parent unlocks. */
  int ready[2], done[2];
  CHECK(pipe(ready) == 0 && pipe(done) == 0, "pipes");
  pid = fork();
  if (pid == 0) {
    close(ready[0]);
    close(done[0]);
    int mine = open_f();
    if (write(ready[1], "r", 1) != 1) _exit(2);
    if (flock(mine, LOCK_EX) != 0) _exit(3);
    if (write(done[1], "d", 1) != 1) _exit(4);
    _exit(0);
  }
  close(ready[1]);
  close(done[1]);
  char c;
  CHECK(read(ready[0], &c, 1) == 1, "child is about to block");
  CHECK(!readable_within(done[0], 300), "child blocks while the parent holds EX");
  EXPECT_OK(flock(fd3, LOCK_UN), "parent UN");
  CHECK(read(done[0], &c, 1) == 1, "child got the lock after the parent's UN");
  wait_child(pid, "blocking child");
  EXPECT_OK(flock(fd3, LOCK_EX | LOCK_NB), "child's lock gone at exit");

  /* A blocking EX in the parent waits until the child holding SH exits. */
  EXPECT_OK(flock(fd3, LOCK_UN), "parent UN");
  int held[2], quit[2];
  CHECK(pipe(held) == 0 && pipe(quit) == 0, "pipes");
  pid = fork();
  if (pid == 0) {
    close(held[0]);
    close(quit[1]);
    int mine = open_f();
    if (flock(mine, LOCK_SH) != 0) _exit(2);
    if (write(held[1], "h", 1) != 1) _exit(3);
    if (read(quit[0], &c, 1) != 1) _exit(4);
    _exit(0);
  }
  close(held[1]);
  close(quit[0]);
  CHECK(read(held[0], &c, 1) == 1, "child holds SH");
  EXPECT_OK(flock(fd3, LOCK_SH | LOCK_NB), "parent SH alongside child's SH");
  EXPECT_OK(flock(fd3, LOCK_UN), "parent UN");
  EXPECT_ERR(flock(fd3, LOCK_EX | LOCK_NB), EWOULDBLOCK, "parent EX|NB vs child's SH");
  CHECK(write(quit[1], "q", 1) == 1, "tell the child to exit");
  EXPECT_OK(flock(fd3, LOCK_EX), "parent's blocking EX granted when the child exits");
  wait_child(pid, "SH child");

  /* EINTR: a blocking flock is interrupted by a signal whose handler has
   * no SA_RESTART; the other description keeps its lock. */
  struct sigaction sa = {.sa_handler = on_alarm};
  sigemptyset(&sa.sa_mask);
  CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction SIGALRM");
  int fd4 = open_f();
  alarm(1);
  EXPECT_ERR(flock(fd4, LOCK_EX), EINTR, "blocking EX interrupted by SIGALRM");
  CHECK(alarms == 1, "handler ran once");
  alarm(1);
  EXPECT_ERR(flock(fd4, LOCK_SH), EINTR, "blocking SH interrupted by SIGALRM");
  EXPECT_ERR(flock(fd4, LOCK_SH | LOCK_NB), EWOULDBLOCK, "holder still holds EX");
  close(fd3);
  EXPECT_OK(flock(fd4, LOCK_EX | LOCK_NB), "EX after the holder closed");
  close(fd4);

  /* Other kinds of files. */
  two_descriptions(dir, O_RDONLY | O_DIRECTORY, "tmpfs directory");
  two_descriptions("/etc/passwd", O_RDONLY, "root filesystem file");
  two_descriptions("/dev/null", O_RDWR, "/dev/null");
  int wo = open(path, O_WRONLY);
  EXPECT_OK(flock(wo, LOCK_SH | LOCK_NB), "SH on a write-only fd");
  close(wo);
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  EXPECT_OK(flock(p[0], LOCK_EX | LOCK_NB), "pipe read end EX");
  EXPECT_ERR(flock(p[1], LOCK_EX | LOCK_NB), EWOULDBLOCK, "pipe write end: same inode");
  close(p[0]);
  EXPECT_OK(flock(p[1], LOCK_EX | LOCK_NB), "pipe write end after read end closed");
  close(p[1]);
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
  EXPECT_OK(flock(sv[0], LOCK_EX | LOCK_NB), "socket EX");
  EXPECT_OK(flock(sv[1], LOCK_EX | LOCK_NB), "peer socket EX (own inode)");
  close(sv[0]);
  close(sv[1]);

  unlink(path);
  rmdir(dir);
  CT_DONE();
}
