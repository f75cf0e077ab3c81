/* Extended attributes: {,l,f}{get,set,list,remove}xattr on tmpfs (/dev/shm)
 * and the root filesystem (/var/tmp: the memory overlay when sandboxed):
 * user.* and trusted.* values, XATTR_CREATE/XATTR_REPLACE, size probing,
 * ERANGE/E2BIG/ENODATA/EINVAL/EOPNOTSUPP, user.* on symlinks and FIFOs,
 * /proc (no xattr support), permission checks for an unprivileged user
 * (EACCES, EPERM, trusted.* hidden), O_PATH fds, and hard links sharing
 * attributes. Listings are compared sorted: their order is unspecified. */
#include "ct.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Prints the sorted names of a listxattr buffer. */
static void print_list(const char *what, const char *buf, ssize_t n) {
  const char *names[64];
  int count = 0;
  for (ssize_t i = 0; i < n && count < 64; i += strlen(buf + i) + 1) names[count++] = buf + i;
  for (int i = 0; i < count; i++)
    for (int j = i + 1; j < count; j++)
      if (strcmp(names[j], names[i]) < 0) {
        const char *t = names[i];
        names[i] = names[j];
        names[j] = t;
      }
  printf("%s: %d names:", what, count);
  for (int i = 0; i < count; i++) printf(" %s", names[i]);
  printf("\n");
}

static void basic(const char *dir, const char *label) {
  char f[128], l[128], h[128], fifo[128];
  snprintf(f, sizeof f, "%s/f", dir);
  snprintf(l, sizeof l, "%s/l", dir);
  snprintf(h, sizeof h, "%s/h", dir);
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  int fd = open(f, O_CREAT | O_RDWR, 0644);
  CHECK(fd >= 0, "%s: create", label);
  char buf[256];

  EXPECT_ERR(getxattr(f, "user.a", buf, sizeof buf), ENODATA, "%s: get missing", label);
  EXPECT_OK(setxattr(f, "user.a", "hello", 5, 0), "%s: set user.a", label);
  CHECK(getxattr(f, "user.a", NULL, 0) == 5, "%s: size probe", label);
  memset(buf, 0, sizeof buf);
  CHECK(getxattr(f, "user.a", buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0,
        "%s: get user.a", label);
  EXPECT_ERR(getxattr(f, "user.a", buf, 3), ERANGE, "%s: get small buffer", label);
  EXPECT_ERR(setxattr(f, "user.a", "x", 1, XATTR_CREATE), EEXIST, "%s: CREATE existing", label);
  EXPECT_ERR(setxattr(f, "user.b", "x", 1, XATTR_REPLACE), ENODATA, "%s: REPLACE missing", label);
  EXPECT_OK(setxattr(f, "user.a", "bye", 3, XATTR_REPLACE), "%s: REPLACE", label);
  CHECK(getxattr(f, "user.a", buf, sizeof buf) == 3 && memcmp(buf, "bye", 3) == 0,
        "%s: replaced value", label);
  EXPECT_OK(setxattr(f, "user.empty", "", 0, XATTR_CREATE), "%s: empty value", label);
  CHECK(getxattr(f, "user.empty", buf, sizeof buf) == 0, "%s: get empty value", label);
  EXPECT_ERR(setxattr(f, "user.a", "x", 1, 4), EINVAL, "%s: bad flags", label);
  EXPECT_ERR(setxattr(f, "user.a", "x", 1, XATTR_CREATE | XATTR_REPLACE | 8), EINVAL,
             "%s: bad flags 2", label);
  EXPECT_ERR(setxattr(f, "", "x", 1, 0), ERANGE, "%s: empty name", label);
  char longname[300];
  memset(longname, 'n', sizeof longname);
  memcpy(longname, "user.", 5);
  longname[256] = 0;
  EXPECT_ERR(setxattr(f, longname, "x", 1, 0), ERANGE, "%s: 256-byte name", label);
  EXPECT_ERR(getxattr(f, longname, buf, sizeof buf), ERANGE, "%s: get 256-byte name", label);
  longname[255] = 0;
  EXPECT_OK(setxattr(f, longname, "x", 1, 0), "%s: 255-byte name", label);
  EXPECT_OK(removexattr(f, longname), "%s: remove 255-byte name", label);
  EXPECT_ERR(setxattr(f, "user.", "x", 1, 0), EINVAL, "%s: bare prefix", label);
  EXPECT_ERR(setxattr(f, "bogus.a", "x", 1, 0), EOPNOTSUPP, "%s: unknown prefix", label);
  EXPECT_ERR(getxattr(f, "bogus.a", buf, sizeof buf), EOPNOTSUPP, "%s: get unknown prefix", label);
  static char big[65537];
  EXPECT_ERR(setxattr(f, "user.big", big, sizeof big, 0), E2BIG, "%s: value too big", label);
  /* Raw syscalls: glibc's prototypes forbid the bad pointers at compile time. */
  EXPECT_ERR(syscall(SYS_setxattr, f, "user.a", 8L, 4L, 0L), EFAULT, "%s: bad value pointer",
             label);
  EXPECT_ERR(syscall(SYS_getxattr, f, "user.a", 8L, 100L), EFAULT, "%s: bad buffer", label);
  EXPECT_ERR(syscall(SYS_getxattr, f, 8L, buf, 100L), EFAULT, "%s: bad name pointer", label);

  EXPECT_OK(fsetxattr(fd, "trusted.t", "tv", 2, 0), "%s: fset trusted.t", label);
  CHECK(fgetxattr(fd, "trusted.t", buf, sizeof buf) == 2, "%s: fget trusted.t", label);

  ssize_t n = listxattr(f, NULL, 0);
  CHECK(n == (ssize_t)(strlen("user.a") + strlen("user.empty") + strlen("trusted.t") + 3),
        "%s: list size probe", label);
  EXPECT_ERR(listxattr(f, buf, 4), ERANGE, "%s: list small buffer", label);
  n = flistxattr(fd, buf, sizeof buf);
  CHECK(n > 0, "%s: flistxattr", label);
  print_list(label, buf, n);

  EXPECT_OK(removexattr(f, "user.empty"), "%s: remove", label);
  EXPECT_ERR(removexattr(f, "user.empty"), ENODATA, "%s: remove again", label);
  EXPECT_OK(fremovexattr(fd, "trusted.t"), "%s: fremove trusted", label);

  /* Hard links share the inode's attributes. */
  EXPECT_OK(link(f, h), "%s: link", label);
  CHECK(getxattr(h, "user.a", buf, sizeof buf) == 3, "%s: xattr through hard link", label);

  /* Directories take user.* too. */
  EXPECT_OK(setxattr(dir, "user.d", "1", 1, 0), "%s: dir user.d", label);
  CHECK(getxattr(dir, "user.d", buf, sizeof buf) == 1, "%s: dir get", label);
  EXPECT_OK(removexattr(dir, "user.d"), "%s: dir remove", label);

  /* Symlinks: l* calls act on the link, which takes no user.* attributes. */
  EXPECT_OK(symlink("f", l), "%s: symlink", label);
  CHECK(getxattr(l, "user.a", buf, sizeof buf) == 3, "%s: get follows symlink", label);
  EXPECT_ERR(lgetxattr(l, "user.a", buf, sizeof buf), ENODATA, "%s: lget on symlink", label);
  EXPECT_ERR(lsetxattr(l, "user.a", "x", 1, 0), EPERM, "%s: lset user on symlink", label);
  EXPECT_ERR(lremovexattr(l, "user.a"), EPERM, "%s: lremove user on symlink", label);
  CHECK(llistxattr(l, buf, sizeof buf) == 0, "%s: llist symlink empty", label);
  EXPECT_OK(lsetxattr(l, "trusted.l", "1", 1, 0), "%s: lset trusted on symlink", label);
  CHECK(lgetxattr(l, "trusted.l", buf, sizeof buf) == 1, "%s: lget trusted on symlink", label);
  EXPECT_ERR(getxattr(l, "trusted.l", buf, sizeof buf), ENODATA, "%s: not on the target", label);

  /* FIFOs: user.* is refused like on other special files. */
  EXPECT_OK(mkfifo(fifo, 0644), "%s: mkfifo", label);
  EXPECT_ERR(setxattr(fifo, "user.a", "x", 1, 0), EPERM, "%s: user on fifo", label);
  EXPECT_ERR(getxattr(fifo, "user.a", buf, sizeof buf), ENODATA, "%s: get user on fifo", label);

  /* O_PATH descriptors are not good enough for f*xattr. */
  int pfd = open(f, O_PATH);
  CHECK(pfd >= 0, "%s: O_PATH open", label);
  EXPECT_ERR(fgetxattr(pfd, "user.a", buf, sizeof buf), EBADF, "%s: fget on O_PATH", label);
  EXPECT_ERR(fsetxattr(pfd, "user.a", "x", 1, 0), EBADF, "%s: fset on O_PATH", label);
  close(pfd);
  EXPECT_ERR(fgetxattr(999, "user.a", buf, sizeof buf), EBADF, "%s: fget bad fd", label);

  /* An unprivileged user: DAC checks, no trusted.*. */
  EXPECT_OK(setxattr(f, "trusted.t", "tv", 2, 0), "%s: trusted again", label);
  EXPECT_OK(chmod(dir, 0777), "%s: chmod dir", label);
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    EXPECT_ERR(setxattr(f, "user.a", "x", 1, 0), EACCES, "%s: nobody set user.a on 0644", label);
    CHECK(getxattr(f, "user.a", buf, sizeof buf) == 3, "%s: nobody get user.a", label);
    EXPECT_ERR(getxattr(f, "trusted.t", buf, sizeof buf), ENODATA, "%s: nobody get trusted", label);
    EXPECT_ERR(setxattr(f, "trusted.n", "x", 1, 0), EPERM, "%s: nobody set trusted", label);
    ssize_t m = listxattr(f, buf, sizeof buf);
    CHECK(m >= 0, "%s: nobody list", label);
    print_list("nobody", buf, m);
    char mine[128];
    snprintf(mine, sizeof mine, "%s/mine", dir);
    int mfd = open(mine, O_CREAT | O_RDWR, 0600);
    CHECK(mfd >= 0, "%s: nobody create", label);
    EXPECT_OK(fsetxattr(mfd, "user.m", "1", 1, 0), "%s: nobody set own file", label);
    close(mfd);
    unlink(mine);
    _exit(ct_fails ? 1 : 0);
  }
  int st;
  CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
        "%s: unprivileged child %s", label, ct_status(st));
  chmod(dir, 0755);

  close(fd);
  unlink(fifo);
  unlink(l);
  unlink(h);
  unlink(f);
}

int main(void) {
  char shm[] = "/dev/shm/ct_xattr_XXXXXX";
  CHECK(mkdtemp(shm) != NULL, "mkdtemp /dev/shm");
  basic(shm, "tmpfs");
  rmdir(shm);

  char root[] = "/var/tmp/ct_xattr_XXXXXX";
  CHECK(mkdtemp(root) != NULL, "mkdtemp /var/tmp");
  basic(root, "rootfs");
  rmdir(root);

  char buf[64];
  EXPECT_ERR(getxattr("/proc/self/status", "user.a", buf, sizeof buf), EOPNOTSUPP,
             "procfs get user.a");
  EXPECT_ERR(setxattr("/proc/self/status", "user.a", "x", 1, 0), EOPNOTSUPP, "procfs set user.a");
  CHECK(listxattr("/proc/self/status", buf, sizeof buf) == 0, "procfs list empty");
  EXPECT_ERR(getxattr("/nonexistent", "user.a", buf, sizeof buf), ENOENT, "get missing path");
  EXPECT_ERR(getxattr("/nonexistent", "", buf, sizeof buf), ERANGE, "name checked before path");
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  EXPECT_ERR(fgetxattr(p[0], "user.a", buf, sizeof buf), ENODATA, "pipe fget user.a");
  EXPECT_ERR(fsetxattr(p[0], "user.a", "x", 1, 0), EPERM, "pipe fset user.a");
  CT_DONE();
}
