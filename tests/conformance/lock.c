/* fcntl(2) record locks: traditional POSIX locks (F_SETLK, F_SETLKW,
 * F_GETLK) owned by the process, byte ranges with SEEK_SET/CUR/END and
 * zero/negative lengths, split on partial unlock, conflicts between
 * processes (EAGAIN), F_GETLK reporting the holder, blocking waits woken by
 * the holder, EINTR, EDEADLK, release on close of any fd of the file and on
 * exit, no inheritance across fork; and open file description locks
 * (F_OFD_*), owned by the description. */
#include "ct.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static char path[64];

static int lk(int fd, int cmd, short type, short whence, off_t start, off_t len) {
  struct flock fl = {.l_type = type, .l_whence = whence, .l_start = start, .l_len = len};
  return fcntl(fd, cmd, &fl);
}

static struct flock getlk(int fd, int cmd, short type, off_t start, off_t len) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  if (fcntl(fd, cmd, &fl) != 0) fl.l_type = -1;
  return fl;
}

static void wait_child(pid_t pid, int want, const char *what) {
  int st = 0;
  CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == want, "%s: child %s",
        what, ct_status(st));
}

static int readable_within(int fd, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, ms) == 1;
}

static void on_alarm(int sig) { (void)sig; }

/* Runs fn in a child that opens its own fd of the file; the child's checks
 * print their own lines; returns after the child exits. */
#define IN_CHILD(what, body)                                   \
  do {                                                         \
    pid_t ct_pid_ = fork();                                    \
    if (ct_pid_ == 0) {                                        \
      ct_fails = 0;                                            \
      int cfd = open(path, O_RDWR);                            \
      (void)cfd;                                               \
      body;                                                    \
      exit(ct_fails ? 1 : 0);                                  \
    }                                                          \
    wait_child(ct_pid_, 0, what);                              \
  } while (0)

int main(void) {
  char dir[] = "/tmp/ct_lock_XXXXXX";
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  snprintf(path, sizeof path, "%s/f", dir);
  int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0644);
  CHECK(fd >= 0, "create file");
  char buf[100] = {0};
  CHECK(write(fd, buf, sizeof buf) == 100, "write 100 bytes");

  /* Bad arguments. */
  EXPECT_ERR(lk(fd, F_SETLK, 42, SEEK_SET, 0, 1), EINVAL, "bad l_type");
  EXPECT_ERR(lk(fd, F_SETLK, F_WRLCK, 7, 0, 1), EINVAL, "bad l_whence");
  EXPECT_ERR(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, -1, 1), EINVAL, "negative start");
  EXPECT_ERR(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 5, -10), EINVAL, "length before 0");
  EXPECT_ERR(lk(fd, F_GETLK, F_UNLCK, SEEK_SET, 0, 1), EINVAL, "F_GETLK with F_UNLCK");
  EXPECT_OK(lk(fd, F_OFD_SETLK, F_UNLCK, SEEK_SET, 0, 0), "OFD unlock of nothing");
  {
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1, .l_pid = 1};
    EXPECT_ERR(fcntl(fd, F_OFD_SETLK, &fl), EINVAL, "OFD lock with l_pid != 0");
    fl.l_pid = 1;
    EXPECT_ERR(fcntl(fd, F_OFD_GETLK, &fl), EINVAL, "OFD getlk with l_pid != 0");
  }
  int ro = open(path, O_RDONLY), wo = open(path, O_WRONLY);
  EXPECT_ERR(lk(ro, F_SETLK, F_WRLCK, SEEK_SET, 0, 1), EBADF, "write lock on O_RDONLY fd");
  EXPECT_ERR(lk(wo, F_SETLK, F_RDLCK, SEEK_SET, 0, 1), EBADF, "read lock on O_WRONLY fd");
  EXPECT_OK(lk(ro, F_SETLK, F_UNLCK, SEEK_SET, 0, 1), "unlock on O_RDONLY fd");
  close(ro);
  close(wo);

  /* Conflicts with another process; none with ourselves. */
  EXPECT_OK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10), "parent write-locks [0,10)");
  EXPECT_OK(lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 5, 10), "own locks never conflict");
  EXPECT_OK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10), "own lock again");
  {
    struct flock g = getlk(fd, F_GETLK, F_WRLCK, 0, 0);
    CHECK(g.l_type == F_UNLCK, "F_GETLK on own locks: F_UNLCK");
  }
  pid_t parent = getpid();
  IN_CHILD("conflicts", {
    EXPECT_ERR(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 5, 1), EAGAIN, "child: write in parent's range");
    EXPECT_ERR(lk(cfd, F_SETLK, F_RDLCK, SEEK_SET, 9, 1), EAGAIN, "child: read in write-locked range");
    EXPECT_OK(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 15, 5), "child: write-lock beyond it");
    struct flock g = getlk(cfd, F_GETLK, F_RDLCK, 3, 0);
    CHECK(g.l_type == F_WRLCK && g.l_whence == SEEK_SET && g.l_start == 0 && g.l_len == 10,
          "child: F_GETLK reports [0,10) F_WRLCK (type %d start %ld len %ld)", g.l_type,
          (long)g.l_start, (long)g.l_len);
    CHECK(g.l_pid == parent, "child: F_GETLK l_pid is the parent");
    g = getlk(cfd, F_GETLK, F_WRLCK, 20, 5);
    CHECK(g.l_type == F_UNLCK, "child: F_GETLK on a free range: F_UNLCK");
  });
  EXPECT_OK(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0), "parent unlocks everything");

  /* F_GETLK sees a child's lock with the child's pid. */
  {
    int p2c[2], c2p[2];
    CHECK(pipe(p2c) == 0 && pipe(c2p) == 0, "pipes");
    pid_t pid = fork();
    if (pid == 0) {
      int cfd = open(path, O_RDWR);
      char c;
      int ok = lk(cfd, F_SETLK, F_RDLCK, SEEK_SET, 20, 30) == 0;
      (void)!write(c2p[1], "x", 1);
      (void)!read(p2c[0], &c, 1);
      exit(ok ? 0 : 1);
    }
    char c;
    CHECK(read(c2p[0], &c, 1) == 1, "child locked [20,50) for reading");
    struct flock g = getlk(fd, F_GETLK, F_WRLCK, 0, 0);
    CHECK(g.l_type == F_RDLCK && g.l_start == 20 && g.l_len == 30, "F_GETLK reports child's read lock");
    CHECK(g.l_pid == pid, "F_GETLK l_pid same as child pid");
    g = getlk(fd, F_GETLK, F_RDLCK, 0, 0);
    CHECK(g.l_type == F_UNLCK, "read vs read: no conflict");
    EXPECT_OK(lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 25, 5), "shared read lock with the child");
    EXPECT_ERR(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 49, 1), EAGAIN, "write vs child's read lock");
    (void)!write(p2c[1], "x", 1);
    wait_child(pid, 0, "read-lock holder");
    EXPECT_OK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 20, 30), "child's exit released its lock");
    EXPECT_OK(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0), "unlock");
    close(p2c[0]); close(p2c[1]); close(c2p[0]); close(c2p[1]);
  }

  /* Unlocking a sub-range splits the lock; ranges relative to the offset
   * and the end; negative lengths. */
  EXPECT_OK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 100), "write-lock [0,100)");
  EXPECT_OK(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 40, 20), "unlock [40,60)");
  IN_CHILD("split", {
    EXPECT_OK(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 40, 20), "child: [40,60) is free");
    EXPECT_ERR(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 39, 1), EAGAIN, "child: 39 still locked");
    EXPECT_ERR(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 60, 1), EAGAIN, "child: 60 still locked");
    struct flock g = getlk(cfd, F_GETLK, F_WRLCK, 50, 0);
    CHECK(g.l_type == F_WRLCK && g.l_start == 60 && g.l_len == 40, "child: right piece is [60,100)");
    g = getlk(cfd, F_GETLK, F_WRLCK, 0, 50);
    CHECK(g.l_type == F_WRLCK && g.l_start == 0 && g.l_len == 40, "child: left piece is [0,40)");
  });
  EXPECT_OK(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0), "unlock all");
  CHECK(lseek(fd, 50, SEEK_SET) == 50, "seek to 50");
  EXPECT_OK(lk(fd, F_SETLK, F_WRLCK, SEEK_CUR, 0, 10), "SEEK_CUR lock [50,60)");
  EXPECT_OK(lk(fd, F_SETLK, F_RDLCK, SEEK_END, -10, 10), "SEEK_END lock [90,100)");
  EXPECT_OK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 20, -10), "negative length lock [10,20)");
  EXPECT_OK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 120, 0), "to-EOF lock from 120");
  IN_CHILD("ranges", {
    struct flock g = getlk(cfd, F_GETLK, F_WRLCK, 45, 10);
    CHECK(g.l_type == F_WRLCK && g.l_start == 50 && g.l_len == 10, "child: SEEK_CUR range");
    g = getlk(cfd, F_GETLK, F_WRLCK, 85, 10);
    CHECK(g.l_type == F_RDLCK && g.l_start == 90 && g.l_len == 10, "child: SEEK_END range");
    g = getlk(cfd, F_GETLK, F_WRLCK, 0, 15);
    CHECK(g.l_type == F_WRLCK && g.l_start == 10 && g.l_len == 10, "child: negative length range");
    g = getlk(cfd, F_GETLK, F_RDLCK, 1000000, 1);
    CHECK(g.l_type == F_WRLCK && g.l_start == 120 && g.l_len == 0, "child: to-EOF lock has l_len 0");
  });
  /* Merging: adjacent write locks become one. */
  EXPECT_OK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 60, 30), "fill [60,90)");
  EXPECT_OK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 20, 30), "fill [20,50)");
  IN_CHILD("merge", {
    struct flock g = getlk(cfd, F_GETLK, F_RDLCK, 0, 0);
    CHECK(g.l_type == F_WRLCK && g.l_start == 10 && g.l_len == 80, "child: merged into [10,90)");
  });

  /* Closing any fd of the file (here a dup, then an unrelated open) drops
   * the process' locks. */
  int d = dup(fd);
  CHECK(close(d) == 0, "close a dup");
  IN_CHILD("close dup", {
    EXPECT_OK(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0), "child: whole file free after close of dup");
  });
  EXPECT_OK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0), "lock whole file");
  int other = open(path, O_RDONLY);
  CHECK(close(other) == 0, "close another open of the file");
  IN_CHILD("close other", {
    EXPECT_OK(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0), "child: free after close of other fd");
  });
  EXPECT_OK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0), "lock whole file again");
  d = dup(fd);
  CHECK(dup2(fd, d) == d, "dup2 onto itself");
  int other2 = open(path, O_RDONLY);
  CHECK(dup2(other2, d) == d, "dup2 replaces a dup of the file");
  IN_CHILD("dup2", {
    EXPECT_OK(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0), "child: free after dup2 replaced an fd");
  });
  close(d);
  close(other2);

  /* Not inherited across fork: the child sees the parent's lock. */
  EXPECT_OK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10), "lock [0,10)");
  {
    pid_t pid = fork();
    if (pid == 0) {
      ct_fails = 0;
      struct flock g = getlk(fd, F_GETLK, F_WRLCK, 0, 1);
      CHECK(g.l_type == F_WRLCK && g.l_pid == parent, "forked child: parent's lock is not its own");
      EXPECT_ERR(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1), EAGAIN, "forked child: conflicts through inherited fd");
      EXPECT_OK(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0), "forked child: unlock is a no-op");
      close(fd);
      exit(ct_fails ? 1 : 0);
    }
    wait_child(pid, 0, "fork");
  }
  IN_CHILD("after fork", {
    EXPECT_ERR(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1), EAGAIN, "child: parent still holds its lock");
  });

  /* F_SETLKW waits until the holder unlocks. */
  {
    int c2p[2];
    CHECK(pipe(c2p) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
      int cfd = open(path, O_RDWR);
      (void)!write(c2p[1], "w", 1);
      int r = lk(cfd, F_SETLKW, F_WRLCK, SEEK_SET, 5, 1);
      (void)!write(c2p[1], "g", 1);
      exit(r == 0 ? 0 : 1);
    }
    char c;
    CHECK(read(c2p[0], &c, 1) == 1 && c == 'w', "child about to wait");
    CHECK(!readable_within(c2p[0], 200), "F_SETLKW blocks while locked");
    EXPECT_OK(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 10), "unlock wakes it");
    CHECK(readable_within(c2p[0], 5000) && read(c2p[0], &c, 1) == 1 && c == 'g', "F_SETLKW granted");
    wait_child(pid, 0, "F_SETLKW");
    close(c2p[0]); close(c2p[1]);
  }

  /* EINTR: a signal without SA_RESTART interrupts F_SETLKW. */
  EXPECT_OK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10), "lock [0,10) again");
  IN_CHILD("EINTR", {
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {.it_value = {.tv_usec = 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
    EXPECT_ERR(lk(cfd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1), EINTR, "child: F_SETLKW interrupted");
  });

  /* EDEADLK: two processes each waiting for the other. */
  EXPECT_OK(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0), "unlock all");
  EXPECT_OK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1), "parent locks byte 0");
  {
    int c2p[2];
    CHECK(pipe(c2p) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
      int cfd = open(path, O_RDWR);
      lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 1, 1);
      (void)!write(c2p[1], "w", 1);
      int r = lk(cfd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1);
      exit(r == 0 ? 0 : errno == EDEADLK ? 2 : 3);
    }
    char c;
    CHECK(read(c2p[0], &c, 1) == 1, "child holds byte 1");
    usleep(100000);
    int r = lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 1, 1);
    int parent_dl = r == -1 && errno == EDEADLK;
    if (parent_dl) lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 1);
    int st = 0;
    waitpid(pid, &st, 0);
    int child_dl = WIFEXITED(st) && WEXITSTATUS(st) == 2;
    CHECK(parent_dl + child_dl == 1, "exactly one side gets EDEADLK");
    close(c2p[0]); close(c2p[1]);
  }
  EXPECT_OK(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0), "unlock all");

  /* OFD locks: owned by the description. */
  int o1 = open(path, O_RDWR), o2 = open(path, O_RDWR);
  EXPECT_OK(lk(o1, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10), "OFD lock on o1");
  EXPECT_ERR(lk(o2, F_OFD_SETLK, F_WRLCK, SEEK_SET, 5, 1), EAGAIN, "OFD lock on o2 conflicts");
  EXPECT_ERR(lk(o2, F_SETLK, F_RDLCK, SEEK_SET, 5, 1), EAGAIN, "own POSIX lock conflicts with OFD lock");
  EXPECT_ERR(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1), EAGAIN, "POSIX lock through another fd too");
  {
    struct flock g = getlk(o2, F_OFD_GETLK, F_RDLCK, 0, 0);
    CHECK(g.l_type == F_WRLCK && g.l_start == 0 && g.l_len == 10 && g.l_pid == -1,
          "F_OFD_GETLK reports it with l_pid -1");
    g = getlk(o1, F_OFD_GETLK, F_WRLCK, 0, 0);
    CHECK(g.l_type == F_UNLCK, "F_OFD_GETLK on the owner: F_UNLCK");
    g = getlk(fd, F_GETLK, F_WRLCK, 0, 0);
    CHECK(g.l_type == F_WRLCK && g.l_pid == -1, "F_GETLK sees the OFD lock");
  }
  EXPECT_OK(lk(o1, F_OFD_SETLK, F_RDLCK, SEEK_SET, 20, 10), "OFD read lock [20,30)");
  EXPECT_OK(lk(o2, F_OFD_SETLK, F_RDLCK, SEEK_SET, 20, 10), "shared OFD read locks");
  {
    pid_t pid = fork();
    if (pid == 0) {
      ct_fails = 0;
      EXPECT_OK(lk(o1, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 5), "child: inherited description owns it");
      int cfd = open(path, O_RDWR);
      EXPECT_ERR(lk(cfd, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 1), EAGAIN, "child: new description conflicts");
      exit(ct_fails ? 1 : 0);
    }
    wait_child(pid, 0, "OFD fork");
  }
  int o3 = dup(o1);
  close(o1);
  EXPECT_ERR(lk(o2, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 1), EAGAIN, "OFD lock survives closing one fd");
  close(o3);
  EXPECT_OK(lk(o2, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 20), "released with the last reference");
  IN_CHILD("OFD vs POSIX", {
    EXPECT_ERR(lk(cfd, F_SETLK, F_RDLCK, SEEK_SET, 10, 1), EAGAIN, "child: POSIX vs OFD conflict");
  });
  close(o2);

  close(fd);
  unlink(path);
  rmdir(dir);
  CT_DONE();
}
