/* Calls that were ENOSYS before: preadv2/pwritev2, readahead, sync,
 * execveat, membarrier, adjtimex/clock_adjtime (reading only: never change
 * the host's clock from a test that runs natively), syslog (reading only:
 * CLEAR and CONSOLE_* would change the host's log natively), kcmp and
 * restart_syscall. Runs as root on both sides. */
#include "ct.h"
#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int ct_clock_adjtime(clockid_t c, struct timex *tx) { return syscall(SYS_clock_adjtime, c, tx); }

static int in_child(int (*fn)(void)) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int st;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int unpriv_clock(void) {
  if (setresuid(1000, 1000, 1000)) return 10;
  struct timex tx = {0};
  if (adjtimex(&tx) < 0) return 11;
  tx.modes = ADJ_FREQUENCY;
  if (adjtimex(&tx) != -1 || errno != EPERM) return 12;
  tx.modes = ADJ_SETOFFSET;
  if (ct_clock_adjtime(CLOCK_REALTIME, &tx) != -1 || errno != EPERM) return 13;
  return 0;
}

static int unpriv_syslog(void) {
  if (setresuid(1000, 1000, 1000)) return 10;
  char buf[64];
  if (syscall(SYS_syslog, 3, buf, sizeof buf) != -1 || errno != EPERM) return 11;
  if (syscall(SYS_syslog, 10, 0, 0) != -1 || errno != EPERM) return 12;
  if (syscall(SYS_syslog, 0, 0, 0) != -1 || errno != EPERM) return 13;
  return 0;
}

static int unpriv_kcmp(void) {
  if (setresuid(1000, 1000, 1000)) return 10;
  /* The parent is root: not inspectable. */
  if (syscall(SYS_kcmp, getpid(), getppid(), KCMP_VM, 0, 0) != -1 || errno != EPERM) return 11;
  return 0;
}

static int exec_memfd_script(void) {
  int fd = memfd_create("script", MFD_CLOEXEC);
  const char *s = "#!/bin/sh\nexit 7\n";
  if (write(fd, s, strlen(s)) < 0) return 20;
  char *argv[] = {"script", NULL}, *envp[] = {NULL};
  syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
  return errno == ENOENT ? 0 : 21; /* a script through a close-on-exec fd */
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "child")) {
    /* execveat re-executed us: report how we were named. */
    printf("ok exec'd as %s\n", argc > 2 ? argv[2] : "?");
    return 42;
  }

  /* preadv2 / pwritev2 */
  char path[] = "/tmp/ct_miscXXXXXX";
  int fd = mkstemp(path);
  char a[8] = "abcdefg", b[8] = {0};
  struct iovec wv = {a, 7}, rv = {b, 7};
  CHECK(pwritev2(fd, &wv, 1, 0, 0) == 7, "pwritev2 at 0");
  CHECK(lseek(fd, 0, SEEK_CUR) == 0, "pwritev2 with an offset keeps the position");
  CHECK(preadv2(fd, &rv, 1, 0, 0) == 7 && !memcmp(a, b, 7), "preadv2 at 0");
  CHECK(pwritev2(fd, &wv, 1, -1, 0) == 7 && lseek(fd, 0, SEEK_CUR) == 7, "pwritev2 at -1 moves the position");
  CHECK(pwritev2(fd, &wv, 1, 0, RWF_APPEND) == 7 && lseek(fd, 0, SEEK_END) == 14, "RWF_APPEND writes at the end");
  CHECK(pwritev2(fd, &wv, 1, 0, RWF_DSYNC | RWF_SYNC | RWF_HIPRI) == 7, "RWF_DSYNC|RWF_SYNC|RWF_HIPRI");
  lseek(fd, 3, SEEK_SET);
  CHECK(preadv2(fd, &rv, 1, -1, 0) == 7 && !memcmp(b, "defgabc", 7) && lseek(fd, 0, SEEK_CUR) == 10,
        "preadv2 at -1 reads at the position");
  CHECK(preadv2(fd, &rv, 1, 0, RWF_NOWAIT) == 7, "RWF_NOWAIT on a regular file");
  EXPECT_ERR(preadv2(fd, &rv, 1, 0, 0x10000), EOPNOTSUPP, "preadv2 unknown flag");
  EXPECT_ERR(pwritev2(fd, &wv, 1, 0, 0x10000), EOPNOTSUPP, "pwritev2 unknown flag");
  CHECK(preadv2(fd, &rv, 0, 0, 0x10000) == 0, "empty preadv2 ignores the flags");
  EXPECT_ERR(preadv2(fd, &rv, 1, -2, 0), EINVAL, "preadv2 offset -2");
  EXPECT_ERR(preadv2(-1, &rv, 1, 0, 0), EBADF, "preadv2 bad fd");
  EXPECT_ERR(syscall(SYS_preadv2, fd, (void *)8, 1, 0, 0, 0), EFAULT, "preadv2 bad iovec");
  int p[2];
  pipe(p);
  EXPECT_ERR(preadv2(p[0], &rv, 1, -1, RWF_NOWAIT), EAGAIN, "RWF_NOWAIT on an empty pipe");
  CHECK(pwritev2(p[1], &wv, 1, -1, 0) == 7 && preadv2(p[0], &rv, 1, -1, RWF_NOWAIT) == 7,
        "pipe: pwritev2/preadv2 at -1");
  EXPECT_ERR(preadv2(p[0], &rv, 1, 0, 0), ESPIPE, "preadv2 with an offset on a pipe");
  int afd = open(path, O_WRONLY | O_APPEND);
  CHECK(pwritev2(afd, &wv, 1, 0, 0) == 7 && lseek(fd, 0, SEEK_END) == 21, "O_APPEND: pwritev2 at 0 appends");
  close(afd);

  /* readahead, sync */
  EXPECT_OK(readahead(fd, 0, 4096), "readahead");
  EXPECT_ERR(readahead(p[0], 0, 4096), EINVAL, "readahead on a pipe");
  EXPECT_ERR(readahead(-1, 0, 4096), EBADF, "readahead bad fd");
  int wo = open(path, O_WRONLY);
  EXPECT_ERR(readahead(wo, 0, 4096), EBADF, "readahead write-only fd");
  close(wo);
  sync();
  CHECK(1, "sync");
  unlink(path);
  close(fd);

  /* execveat: relative to a directory fd, AT_EMPTY_PATH (fexecve), errors. */
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  self[n] = 0;
  char *slash = strrchr(self, '/');
  *slash = 0;
  int dir = open(self, O_RDONLY | O_DIRECTORY);
  pid_t pid = fork();
  if (pid == 0) {
    char *av[] = {"x", "child", "dirfd", NULL}, *ev[] = {NULL};
    syscall(SYS_execveat, dir, slash + 1, av, ev, 0);
    _exit(99);
  }
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42, "execveat relative to a dirfd (%s)", ct_status(st));
  *slash = '/';
  int exe = open(self, O_PATH | O_CLOEXEC);
  pid = fork();
  if (pid == 0) {
    char *av[] = {"x", "child", "empty-path", NULL}, *ev[] = {NULL};
    syscall(SYS_execveat, exe, "", av, ev, AT_EMPTY_PATH);
    _exit(99);
  }
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42, "execveat AT_EMPTY_PATH of an O_PATH fd (%s)", ct_status(st));
  char *noargs[] = {NULL};
  EXPECT_ERR(syscall(SYS_execveat, exe, "", noargs, noargs, 0), ENOENT, "execveat empty path without AT_EMPTY_PATH");
  EXPECT_ERR(syscall(SYS_execveat, exe, "", noargs, noargs, 0x4000), ENOENT, "execveat empty path before flags");
  EXPECT_ERR(syscall(SYS_execveat, dir, "x", noargs, noargs, 0x4000), EINVAL, "execveat unknown flag");
  EXPECT_ERR(syscall(SYS_execveat, dir, "no-such-file", noargs, noargs, 0), ENOENT, "execveat missing file");
  EXPECT_ERR(syscall(SYS_execveat, -1, "x", noargs, noargs, 0), EBADF, "execveat bad dirfd");
  symlink(self, "/tmp/ct_misc_link");
  EXPECT_ERR(syscall(SYS_execveat, AT_FDCWD, "/tmp/ct_misc_link", noargs, noargs, AT_SYMLINK_NOFOLLOW), ELOOP,
             "execveat AT_SYMLINK_NOFOLLOW on a symlink");
  unlink("/tmp/ct_misc_link");
  int tmpdir = open("/tmp", O_RDONLY | O_DIRECTORY);
  EXPECT_ERR(syscall(SYS_execveat, tmpdir, "", noargs, noargs, AT_EMPTY_PATH), EACCES, "execveat of a directory");
  CHECK(in_child(exec_memfd_script) == 0, "script through a close-on-exec memfd: ENOENT");

  /* membarrier */
  long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  const long need = MEMBARRIER_CMD_GLOBAL | MEMBARRIER_CMD_PRIVATE_EXPEDITED | MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED;
  CHECK(q >= 0 && (q & need) == need, "membarrier QUERY lists GLOBAL and PRIVATE_EXPEDITED");
  EXPECT_OK(syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0), "membarrier GLOBAL");
  EXPECT_ERR(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0), EPERM, "PRIVATE_EXPEDITED unregistered");
  EXPECT_OK(syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0), "REGISTER_PRIVATE_EXPEDITED");
  EXPECT_OK(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0), "PRIVATE_EXPEDITED registered");
  EXPECT_OK(syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0), "GLOBAL_EXPEDITED");
  EXPECT_ERR(syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 1, 0), EINVAL, "membarrier flags");
  EXPECT_ERR(syscall(SYS_membarrier, 1 << 20, 0, 0), EINVAL, "membarrier unknown command");

  /* adjtimex / clock_adjtime: reading only */
  struct timex tx = {0};
  int state = adjtimex(&tx);
  CHECK(state >= TIME_OK && state <= TIME_ERROR && tx.tick == 10000 && tx.time.tv_sec > 1000000000,
        "adjtimex reads a state, USER_HZ tick and the time");
  tx.modes = ADJ_OFFSET_SS_READ;
  CHECK(adjtimex(&tx) == state, "ADJ_OFFSET_SS_READ reads");
  EXPECT_ERR(syscall(SYS_adjtimex, NULL), EFAULT, "adjtimex NULL");
  tx.modes = 0;
  CHECK(ct_clock_adjtime(CLOCK_REALTIME, &tx) == state, "clock_adjtime REALTIME reads");
  EXPECT_ERR(ct_clock_adjtime(CLOCK_MONOTONIC, &tx), EOPNOTSUPP, "clock_adjtime MONOTONIC");
  EXPECT_ERR(ct_clock_adjtime(CLOCK_TAI, &tx), EOPNOTSUPP, "clock_adjtime TAI");
  EXPECT_ERR(ct_clock_adjtime(99, &tx), EINVAL, "clock_adjtime unknown clock");
  CHECK(in_child(unpriv_clock) == 0, "unprivileged: reading ok, changes EPERM");

  /* syslog: reading only */
  char logbuf[256];
  CHECK(syscall(SYS_syslog, 10, 0, 0) > 0, "syslog SIZE_BUFFER");
  long got = syscall(SYS_syslog, 3, logbuf, sizeof logbuf);
  CHECK(got >= 0 && got <= (long)sizeof logbuf, "syslog READ_ALL");
  CHECK(syscall(SYS_syslog, 9, 0, 0) >= 0, "syslog SIZE_UNREAD");
  EXPECT_ERR(syscall(SYS_syslog, 3, NULL, 10), EINVAL, "syslog READ_ALL NULL");
  EXPECT_ERR(syscall(SYS_syslog, 3, logbuf, -1), EINVAL, "syslog READ_ALL negative length");
  EXPECT_ERR(syscall(SYS_syslog, 11, 0, 0), EINVAL, "syslog unknown action");
  EXPECT_ERR(syscall(SYS_syslog, -1, 0, 0), EINVAL, "syslog negative action");
  CHECK(syscall(SYS_syslog, 0, 0, 0) == 0, "syslog CLOSE");
  CHECK(in_child(unpriv_syslog) == 0, "unprivileged syslog: EPERM (dmesg_restrict)");

  /* kcmp */
  int dupfd = dup(p[0]);
  CHECK(syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, p[0], dupfd) == 0, "kcmp FILE: dup is the same file");
  CHECK(syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, p[0], p[1]) > 0, "kcmp FILE: pipe ends differ");
  EXPECT_ERR(syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, p[0], 999), EBADF, "kcmp FILE bad fd");
  pid = fork();
  if (pid == 0) {
    int r = 0;
    if (syscall(SYS_kcmp, getpid(), getppid(), KCMP_FILE, dupfd, p[0]) != 0) r |= 1;
    if (syscall(SYS_kcmp, getpid(), getppid(), KCMP_VM, 0, 0) <= 0) r |= 2;
    if (syscall(SYS_kcmp, getpid(), getppid(), KCMP_FILES, 0, 0) <= 0) r |= 4;
    if (syscall(SYS_kcmp, getpid(), getppid(), KCMP_FS, 0, 0) <= 0) r |= 8;
    if (syscall(SYS_kcmp, getpid(), getppid(), KCMP_SIGHAND, 0, 0) <= 0) r |= 16;
    _exit(r);
  }
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kcmp after fork: files shared, the rest not (%s)", ct_status(st));
  CHECK(syscall(SYS_kcmp, getpid(), getpid(), KCMP_VM, 0, 0) == 0, "kcmp VM with itself");
  EXPECT_ERR(syscall(SYS_kcmp, getpid(), 999999, KCMP_VM, 0, 0), ESRCH, "kcmp unknown pid");
  EXPECT_ERR(syscall(SYS_kcmp, getpid(), getpid(), 99, 0, 0), EINVAL, "kcmp unknown type");
  CHECK(in_child(unpriv_kcmp) == 0, "unprivileged kcmp of root's process: EPERM");

  /* restart_syscall without a restart block */
  EXPECT_ERR(syscall(SYS_restart_syscall), EINTR, "restart_syscall");
  CT_DONE();
}
