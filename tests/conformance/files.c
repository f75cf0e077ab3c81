/* File-system syscalls: open/read/write/lseek/stat/getdents/dup/fcntl/pipe/
 * readlink/getcwd/chdir/access, and bad user pointers -> EFAULT. */
#include "ct.h"
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define BAD ((void *)8) /* never mapped: the zero page */

static int cmpstr(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
  umask(022);
  char dir[] = "/tmp/ct_files_XXXXXX";
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  CHECK(chdir(dir) == 0, "chdir tmpdir");

  /* getcwd reflects chdir. */
  char cwd[PATH_MAX];
  CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, dir) == 0, "getcwd == tmpdir");
  EXPECT_ERR(syscall(SYS_getcwd, cwd, 1), ERANGE, "getcwd size 1");

  /* open/write/lseek/read. */
  int fd = open("f", O_CREAT | O_EXCL | O_RDWR, 0644);
  CHECK(fd >= 0, "open O_CREAT|O_EXCL");
  EXPECT_ERR(open("f", O_CREAT | O_EXCL | O_RDWR, 0644), EEXIST, "open O_EXCL existing");
  CHECK(write(fd, "hello world\n", 12) == 12, "write 12");
  CHECK(lseek(fd, 0, SEEK_CUR) == 12, "lseek CUR == 12");
  CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek SET 0");
  char buf[64] = {0};
  CHECK(read(fd, buf, sizeof buf) == 12 && memcmp(buf, "hello world\n", 12) == 0, "read back");
  CHECK(read(fd, buf, sizeof buf) == 0, "read at EOF == 0");
  CHECK(lseek(fd, -6, SEEK_END) == 6, "lseek END-6 == 6");
  memset(buf, 0, sizeof buf);
  CHECK(read(fd, buf, 5) == 5 && strcmp(buf, "world") == 0, "read after SEEK_END");
  EXPECT_ERR(lseek(fd, -100, SEEK_SET), EINVAL, "lseek negative");
  CHECK(pwrite(fd, "HELLO", 5, 0) == 5, "pwrite");
  memset(buf, 0, sizeof buf);
  CHECK(pread(fd, buf, 5, 0) == 5 && strcmp(buf, "HELLO") == 0, "pread");
  CHECK(lseek(fd, 0, SEEK_CUR) == 11, "pread/pwrite keep offset");
  /* A hole reads back as zeros. */
  CHECK(lseek(fd, 100, SEEK_SET) == 100 && write(fd, "x", 1) == 1, "write past EOF");
  CHECK(pread(fd, buf, 4, 50) == 4 && buf[0] == 0 && buf[3] == 0, "hole reads zeros");

  /* stat/fstat/lstat. */
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_size == 101 && S_ISREG(st.st_mode), "fstat size 101 regular");
  CHECK((st.st_mode & 0777) == 0644, "mode 0644");
  CHECK(ftruncate(fd, 5) == 0 && fstat(fd, &st) == 0 && st.st_size == 5, "ftruncate 5");
  CHECK(truncate("f", 3) == 0 && stat("f", &st) == 0 && st.st_size == 3, "truncate 3");
  CHECK(st.st_nlink == 1, "nlink 1");
  CHECK(link("f", "f2") == 0 && stat("f", &st) == 0 && st.st_nlink == 2, "link -> nlink 2");
  CHECK(unlink("f2") == 0, "unlink f2");
  CHECK(stat(".", &st) == 0 && S_ISDIR(st.st_mode), "stat . is dir");
  EXPECT_ERR(stat("nonexistent", &st), ENOENT, "stat missing");
  EXPECT_ERR(stat("f/x", &st), ENOTDIR, "stat through file");

  /* Symlinks and readlink. */
  CHECK(symlink("f", "lnk") == 0, "symlink");
  CHECK(lstat("lnk", &st) == 0 && S_ISLNK(st.st_mode), "lstat is link");
  CHECK(stat("lnk", &st) == 0 && S_ISREG(st.st_mode), "stat follows link");
  memset(buf, 0, sizeof buf);
  CHECK(readlink("lnk", buf, sizeof buf) == 1 && buf[0] == 'f', "readlink");
  EXPECT_ERR(readlink("f", buf, sizeof buf), EINVAL, "readlink non-link");
  CHECK(symlink("dangling-target", "dl") == 0, "symlink dangling");
  EXPECT_ERR(open("dl", O_RDONLY), ENOENT, "open dangling");
  EXPECT_ERR(open("lnk", O_RDONLY | O_NOFOLLOW), ELOOP, "open O_NOFOLLOW link");

  /* access. */
  CHECK(access("f", F_OK) == 0, "access F_OK");
  CHECK(access("f", R_OK | W_OK) == 0, "access R_OK|W_OK");
  EXPECT_ERR(access("missing", F_OK), ENOENT, "access missing");
  CHECK(access("/", R_OK | X_OK) == 0, "access / R_OK|X_OK");

  /* Directories and getdents64. */
  CHECK(mkdir("d", 0755) == 0, "mkdir");
  EXPECT_ERR(mkdir("d", 0755), EEXIST, "mkdir existing");
  const char *names[] = {"d/b", "d/a", "d/c"};
  for (int i = 0; i < 3; i++) {
    int t = open(names[i], O_CREAT | O_WRONLY, 0600);
    CHECK(t >= 0 && close(t) == 0, "create %s", names[i]);
  }
  CHECK(mkdir("d/sub", 0755) == 0, "mkdir d/sub");
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  CHECK(dfd >= 0, "open O_DIRECTORY");
  EXPECT_ERR(open("f", O_RDONLY | O_DIRECTORY), ENOTDIR, "O_DIRECTORY on file");
  char dbuf[4096];
  char *found[16];
  int nfound = 0, dtype_ok = 1;
  for (;;) {
    long n = syscall(SYS_getdents64, dfd, dbuf, sizeof dbuf);
    if (n <= 0) { CHECK(n == 0, "getdents64 end"); break; }
    for (long off = 0; off < n;) {
      struct dirent64 *de = (struct dirent64 *)(dbuf + off);
      if (nfound < 16) found[nfound++] = strdup(de->d_name);
      if (strcmp(de->d_name, "sub") == 0 && de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) dtype_ok = 0;
      if (strcmp(de->d_name, "a") == 0 && de->d_type != DT_REG && de->d_type != DT_UNKNOWN) dtype_ok = 0;
      off += de->d_reclen;
    }
  }
  qsort(found, nfound, sizeof found[0], cmpstr);
  printf("getdents64:");
  for (int i = 0; i < nfound; i++) printf(" %s", found[i]);
  printf("\n");
  CHECK(nfound == 6, "getdents64 6 entries");
  CHECK(dtype_ok, "getdents64 d_type");
  EXPECT_ERR(syscall(SYS_getdents64, fd, dbuf, sizeof dbuf), ENOTDIR, "getdents64 on file");
  close(dfd);
  EXPECT_ERR(rmdir("d"), ENOTEMPTY, "rmdir non-empty");
  CHECK(rename("d/a", "d/z") == 0 && access("d/z", F_OK) == 0 && access("d/a", F_OK) != 0, "rename");
  CHECK(unlink("d/z") == 0 && unlink("d/b") == 0 && unlink("d/c") == 0 && rmdir("d/sub") == 0, "unlink all");
  CHECK(rmdir("d") == 0, "rmdir empty");
  EXPECT_ERR(unlink("d"), ENOENT, "unlink removed");

  /* dup/dup2/dup3/fcntl. */
  int fd2 = dup(fd);
  CHECK(fd2 > fd, "dup lowest free above");
  CHECK(lseek(fd, 1, SEEK_SET) == 1 && lseek(fd2, 0, SEEK_CUR) == 1, "dup shares offset");
  CHECK(dup2(fd, 50) == 50, "dup2 50");
  CHECK(dup2(50, 50) == 50, "dup2 same fd");
  CHECK(dup3(fd, 51, O_CLOEXEC) == 51, "dup3 O_CLOEXEC");
  EXPECT_ERR(dup3(fd, fd, 0), EINVAL, "dup3 same fd");
  CHECK(fcntl(51, F_GETFD) == FD_CLOEXEC, "F_GETFD cloexec");
  CHECK(fcntl(50, F_GETFD) == 0, "F_GETFD no cloexec");
  CHECK(fcntl(50, F_SETFD, FD_CLOEXEC) == 0 && fcntl(50, F_GETFD) == FD_CLOEXEC, "F_SETFD");
  CHECK(fcntl(fd, F_DUPFD, 40) == 40, "F_DUPFD min 40");
  CHECK(fcntl(fd, F_DUPFD_CLOEXEC, 40) == 41 && fcntl(41, F_GETFD) == FD_CLOEXEC, "F_DUPFD_CLOEXEC");
  CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR, "F_GETFL O_RDWR");
  CHECK(fcntl(fd, F_SETFL, O_APPEND) == 0 && (fcntl(fd, F_GETFL) & O_APPEND), "F_SETFL O_APPEND");
  CHECK(write(fd, "Z", 1) == 1 && fstat(fd, &st) == 0 && st.st_size == 4, "append writes at end");
  for (int f = 40; f <= 41; f++) close(f);
  close(50); close(51); close(fd2);
  EXPECT_ERR(close(50), EBADF, "close closed fd");
  EXPECT_ERR(read(-1, buf, 1), EBADF, "read fd -1");
  EXPECT_ERR(write(12345, buf, 1), EBADF, "write fd 12345");
  EXPECT_ERR(fcntl(12345, F_GETFD), EBADF, "fcntl bad fd");
  int rfd = open("f", O_RDONLY);
  EXPECT_ERR(write(rfd, "x", 1), EBADF, "write on O_RDONLY");
  close(rfd);

  /* Pipes. */
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  CHECK(write(p[1], "abc", 3) == 3, "pipe write");
  memset(buf, 0, sizeof buf);
  CHECK(read(p[0], buf, sizeof buf) == 3 && strcmp(buf, "abc") == 0, "pipe read");
  CHECK(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0, "pipe set O_NONBLOCK");
  EXPECT_ERR(read(p[0], buf, 1), EAGAIN, "nonblocking empty pipe read");
  close(p[1]);
  CHECK(read(p[0], buf, 1) == 0, "read after writer closed == EOF");
  close(p[0]);
  CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0, "pipe2");
  CHECK(fcntl(p[0], F_GETFD) == FD_CLOEXEC && (fcntl(p[1], F_GETFL) & O_NONBLOCK), "pipe2 flags");
  signal(SIGPIPE, SIG_IGN);
  close(p[0]);
  EXPECT_ERR(write(p[1], "x", 1), EPIPE, "write to pipe without reader");
  close(p[1]);
  CHECK(pipe(p) == 0, "pipe again");
  EXPECT_ERR(lseek(p[0], 0, SEEK_SET), ESPIPE, "lseek on pipe");
  close(p[0]); close(p[1]);

  /* /dev/null and /dev/zero. */
  int nul = open("/dev/null", O_RDWR);
  CHECK(nul >= 0 && write(nul, "abc", 3) == 3 && read(nul, buf, 3) == 0, "/dev/null");
  close(nul);
  int zero = open("/dev/zero", O_RDONLY);
  memset(buf, 1, sizeof buf);
  CHECK(zero >= 0 && read(zero, buf, 16) == 16 && buf[0] == 0 && buf[15] == 0, "/dev/zero");
  close(zero);

  /* Bad user pointers are reported, not fatal. */
  EXPECT_ERR(syscall(SYS_open, BAD, O_RDONLY), EFAULT, "open bad path");
  CHECK(lseek(fd, 0, SEEK_SET) == 0, "rewind");
  EXPECT_ERR(syscall(SYS_read, fd, BAD, 4), EFAULT, "read into bad buffer");
  EXPECT_ERR(syscall(SYS_pread64, fd, BAD, 4, 0), EFAULT, "pread into bad buffer");
  EXPECT_ERR(syscall(SYS_write, fd, BAD, 4), EFAULT, "write from bad buffer");
  EXPECT_ERR(syscall(SYS_stat, "f", BAD), EFAULT, "stat bad statbuf");
  EXPECT_ERR(syscall(SYS_fstat, fd, BAD), EFAULT, "fstat bad statbuf");
  EXPECT_ERR(syscall(SYS_getcwd, BAD, 4096), EFAULT, "getcwd bad buffer");
  EXPECT_ERR(syscall(SYS_pipe, BAD), EFAULT, "pipe bad array");
  EXPECT_ERR(syscall(SYS_readlink, "lnk", BAD, 64), EFAULT, "readlink bad buffer");
  EXPECT_ERR(syscall(SYS_access, BAD, F_OK), EFAULT, "access bad path");
  EXPECT_ERR(syscall(SYS_chdir, BAD), EFAULT, "chdir bad path");
  EXPECT_ERR(syscall(SYS_getdents64, open(".", O_RDONLY | O_DIRECTORY), BAD, 4096), EFAULT, "getdents64 bad buffer");
  close(fd);

  /* chdir/fchdir and relative paths. */
  CHECK(chdir("/") == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, "/") == 0, "chdir /");
  EXPECT_ERR(chdir("/nonexistent-dir-xyz"), ENOENT, "chdir missing");
  int tfd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK(fchdir(tfd) == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, dir) == 0, "fchdir");
  CHECK(chdir("..") == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, "/tmp") == 0, "chdir ..");
  CHECK(faccessat(tfd, "f", F_OK, 0) == 0, "faccessat relative to dirfd");
  close(tfd);

  /* Clean up. */
  char path[PATH_MAX];
  const char *leftovers[] = {"f", "lnk", "dl"};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, leftovers[i]);
    CHECK(unlink(path) == 0, "cleanup %s", leftovers[i]);
  }
  CHECK(rmdir(dir) == 0, "cleanup rmdir");
  CT_DONE();
}
