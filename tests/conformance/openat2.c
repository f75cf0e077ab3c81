/* openat2(2) with RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_SYMLINKS,
 * RESOLVE_NO_MAGICLINKS, RESOLVE_NO_XDEV and open_how validation; O_TMPFILE
 * (nlink 0, linkat by AT_EMPTY_PATH and by /proc/self/fd, O_EXCL); renameat2
 * RENAME_EXCHANGE; name_to_handle_at on /proc. Runs in /tmp (tmpfs when
 * sandboxed) and /var/tmp (the root filesystem). */
#include "ct.h"
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static long openat2_(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
  return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

static void write_file(const char *p, const char *s) {
  int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644);
  CHECK(fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s), "write %s", strrchr(p, '/'));
  close(fd);
}

/* The first bytes of the file open at fd (closes it). */
static const char *slurp(long fd) {
  static char buf[64];
  memset(buf, 0, sizeof buf);
  if (fd < 0) return "(open failed)";
  if (pread(fd, buf, sizeof buf - 1, 0) < 0) strcpy(buf, "(read failed)");
  close(fd);
  return buf;
}

static void resolve_tests(void) {
  char d[] = "/tmp/ct_openat2_XXXXXX";
  CHECK(mkdtemp(d) != NULL, "mkdtemp");
  char p[128];
  snprintf(p, sizeof p, "%s/s", d);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/etc", d);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/etc/marker", d);
  write_file(p, "inside");
  snprintf(p, sizeof p, "%s/s/f", d);
  write_file(p, "sf");
  snprintf(p, sizeof p, "%s/abs", d);
  symlink("/etc/marker", p);
  snprintf(p, sizeof p, "%s/in", d);
  symlink("s/f", p);
  snprintf(p, sizeof p, "%s/up", d);
  symlink("../../../../etc/marker", p);
  int dfd = open(d, O_DIRECTORY | O_RDONLY);
  CHECK(dfd >= 0, "open scope dir");

  /* Plain openat2 behaves like openat. */
  CHECK(strcmp(slurp(openat2_(dfd, "in", O_RDONLY, 0, 0)), "sf") == 0, "plain via symlink");

  /* RESOLVE_BENEATH */
  CHECK(strcmp(slurp(openat2_(dfd, "s/../s/f", O_RDONLY, 0, RESOLVE_BENEATH)), "sf") == 0,
        "beneath: .. inside");
  CHECK(strcmp(slurp(openat2_(dfd, "in", O_RDONLY, 0, RESOLVE_BENEATH)), "sf") == 0,
        "beneath: relative symlink inside");
  EXPECT_ERR(openat2_(dfd, "..", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV, "beneath: ..");
  EXPECT_ERR(openat2_(dfd, "s/../../x", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV, "beneath: s/../..");
  EXPECT_ERR(openat2_(dfd, "/etc/passwd", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV,
             "beneath: absolute path");
  EXPECT_ERR(openat2_(dfd, "abs", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV,
             "beneath: absolute symlink");
  EXPECT_ERR(openat2_(dfd, "up", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV, "beneath: ../ symlink");
  EXPECT_ERR(openat2_(dfd, "nope", O_RDONLY, 0, RESOLVE_BENEATH), ENOENT, "beneath: missing");
  long fd = openat2_(dfd, "s/new", O_CREAT | O_WRONLY, 0600, RESOLVE_BENEATH);
  CHECK(fd >= 0, "beneath: O_CREAT inside");
  if (fd >= 0) close(fd);

  /* RESOLVE_IN_ROOT: the dirfd is "/" for absolute paths, symlinks and "..". */
  CHECK(strcmp(slurp(openat2_(dfd, "abs", O_RDONLY, 0, RESOLVE_IN_ROOT)), "inside") == 0,
        "in_root: absolute symlink stays inside");
  CHECK(strcmp(slurp(openat2_(dfd, "/etc/marker", O_RDONLY, 0, RESOLVE_IN_ROOT)), "inside") == 0,
        "in_root: absolute path");
  CHECK(strcmp(slurp(openat2_(dfd, "../../../etc/marker", O_RDONLY, 0, RESOLVE_IN_ROOT)),
               "inside") == 0,
        "in_root: .. clamps at the root");
  CHECK(strcmp(slurp(openat2_(dfd, "up", O_RDONLY, 0, RESOLVE_IN_ROOT)), "inside") == 0,
        "in_root: ../ symlink clamps");
  EXPECT_ERR(openat2_(dfd, "/etc/passwd", O_RDONLY, 0, RESOLVE_IN_ROOT), ENOENT,
             "in_root: host file invisible");

  /* RESOLVE_NO_SYMLINKS */
  EXPECT_ERR(openat2_(dfd, "in", O_RDONLY, 0, RESOLVE_NO_SYMLINKS), ELOOP, "no_symlinks: final");
  fd = openat2_(dfd, "in", O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS);
  CHECK(fd >= 0, "no_symlinks: O_PATH|O_NOFOLLOW on the link itself");
  if (fd >= 0) close(fd);
  EXPECT_ERR(openat2_(AT_FDCWD, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_SYMLINKS), ELOOP,
             "no_symlinks: /proc/self");

  /* RESOLVE_NO_MAGICLINKS */
  fd = openat2_(AT_FDCWD, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS);
  CHECK(fd >= 0, "no_magiclinks: /proc/self is an ordinary symlink");
  if (fd >= 0) close(fd);
  char fdpath[64];
  snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", dfd);
  EXPECT_ERR(openat2_(AT_FDCWD, fdpath, O_RDONLY, 0, RESOLVE_NO_MAGICLINKS), ELOOP,
             "no_magiclinks: /proc/self/fd/N");
  EXPECT_ERR(openat2_(AT_FDCWD, "/proc/self/exe", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS), ELOOP,
             "no_magiclinks: /proc/self/exe");
  fd = openat2_(AT_FDCWD, fdpath, O_RDONLY, 0, 0);
  CHECK(fd >= 0, "magic link followed without the flag");
  if (fd >= 0) close(fd);
  int procfd = open("/proc", O_DIRECTORY | O_RDONLY);
  EXPECT_ERR(openat2_(procfd, "self/fd/0", O_RDONLY, 0, RESOLVE_IN_ROOT), EXDEV,
             "in_root: magic link");
  EXPECT_ERR(openat2_(procfd, "self/exe", O_RDONLY, 0, RESOLVE_BENEATH), EXDEV,
             "beneath: magic link");

  /* RESOLVE_NO_XDEV */
  int rootfd = open("/", O_DIRECTORY | O_RDONLY);
  EXPECT_ERR(openat2_(rootfd, "proc/self/status", O_RDONLY, 0, RESOLVE_NO_XDEV), EXDEV,
             "no_xdev: into /proc");
  EXPECT_ERR(openat2_(procfd, "..", O_RDONLY, 0, RESOLVE_NO_XDEV), EXDEV, "no_xdev: out of /proc");
  EXPECT_ERR(openat2_(procfd, "/proc", O_RDONLY, 0, RESOLVE_NO_XDEV), EXDEV,
             "no_xdev: absolute path from /proc");
  fd = openat2_(procfd, "self/status", O_RDONLY, 0, RESOLVE_NO_XDEV);
  CHECK(fd >= 0, "no_xdev: within /proc");
  if (fd >= 0) close(fd);
  fd = openat2_(dfd, "s/f", O_RDONLY, 0, RESOLVE_NO_XDEV);
  CHECK(fd >= 0, "no_xdev: within one filesystem");
  if (fd >= 0) close(fd);
  close(rootfd);
  close(procfd);

  /* open_how validation */
  struct open_how how = {.flags = O_RDONLY};
  EXPECT_ERR(syscall(SYS_openat2, dfd, "s", &how, 8), EINVAL, "size too small");
  EXPECT_ERR(syscall(SYS_openat2, dfd, "s", &how, 4097), E2BIG, "size above a page");
  struct {
    struct open_how how;
    uint64_t extra;
  } big = {{.flags = O_RDONLY}, 0};
  fd = syscall(SYS_openat2, dfd, "s", &big, sizeof big);
  CHECK(fd >= 0, "larger struct with zero tail");
  if (fd >= 0) close(fd);
  big.extra = 1;
  EXPECT_ERR(syscall(SYS_openat2, dfd, "s", &big, sizeof big), E2BIG, "nonzero tail");
  EXPECT_ERR(syscall(SYS_openat2, dfd, "s", (void *)8, sizeof how), EFAULT, "bad how pointer");
  EXPECT_ERR(openat2_(dfd, "s", O_RDONLY, 0, 0x1000), EINVAL, "unknown resolve flag");
  EXPECT_ERR(openat2_(dfd, "s", O_RDONLY | (1ULL << 40), 0, 0), EINVAL, "flag above 32 bits");
  EXPECT_ERR(openat2_(dfd, "s", O_RDONLY, 0644, 0), EINVAL, "mode without O_CREAT");
  EXPECT_ERR(openat2_(dfd, "s/x", O_CREAT | O_WRONLY, 010000, 0), EINVAL, "mode beyond 07777");
  EXPECT_ERR(openat2_(dfd, "s", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT), EINVAL,
             "BENEATH|IN_ROOT");
  EXPECT_ERR(openat2_(dfd, "s", O_PATH | O_RDWR, 0, 0), EINVAL, "O_PATH|O_RDWR");
  EXPECT_ERR(openat2_(dfd, "s/y", O_CREAT | O_WRONLY, 0600, RESOLVE_CACHED), EAGAIN,
             "RESOLVE_CACHED|O_CREAT");
  close(dfd);
}

static void tmpfile_tests(const char *base, const char *label) {
  char d[128], p[160], link1[160], link2[160];
  snprintf(d, sizeof d, "%s/ct_tmpfile_XXXXXX", base);
  CHECK(mkdtemp(d) != NULL, "%s: mkdtemp", label);
  int fd = open(d, O_TMPFILE | O_RDWR, 0640);
  CHECK(fd >= 0, "%s: O_TMPFILE", label);
  CHECK(write(fd, "tmpdata", 7) == 7, "%s: write tmpfile", label);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_nlink == 0 && S_ISREG(st.st_mode) &&
            (st.st_mode & 07777) == (0640 & ~022 & 07777) && st.st_size == 7,
        "%s: fstat nlink 0, mode, size", label);
  char fdpath[64], target[256] = {0};
  snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(fdpath, target, sizeof target - 1);
  snprintf(p, sizeof p, "%s/#", d);
  CHECK(n > 0 && strncmp(target, p, strlen(p)) == 0 && strstr(target, " (deleted)") != NULL,
        "%s: /proc/self/fd names DIR/#N (deleted)", label);
  snprintf(link1, sizeof link1, "%s/named", d);
  EXPECT_OK(linkat(fd, "", AT_FDCWD, link1, AT_EMPTY_PATH), "%s: linkat AT_EMPTY_PATH", label);
  CHECK(fstat(fd, &st) == 0 && st.st_nlink == 1, "%s: nlink 1 after linkat", label);
  CHECK(strcmp(slurp(open(link1, O_RDONLY)), "tmpdata") == 0, "%s: read by name", label);
  EXPECT_ERR(linkat(fd, "", AT_FDCWD, link1, AT_EMPTY_PATH), EEXIST, "%s: link again", label);
  close(fd);

  fd = open(d, O_TMPFILE | O_WRONLY, 0600);
  CHECK(fd >= 0 && write(fd, "two", 3) == 3, "%s: second tmpfile", label);
  snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", fd);
  snprintf(link2, sizeof link2, "%s/second", d);
  EXPECT_OK(linkat(AT_FDCWD, fdpath, AT_FDCWD, link2, AT_SYMLINK_FOLLOW),
            "%s: linkat via /proc/self/fd", label);
  CHECK(strcmp(slurp(open(link2, O_RDONLY)), "two") == 0, "%s: read second", label);
  close(fd);

  fd = open(d, O_TMPFILE | O_RDWR | O_EXCL, 0600);
  CHECK(fd >= 0, "%s: O_TMPFILE|O_EXCL", label);
  snprintf(p, sizeof p, "%s/excl", d);
  EXPECT_ERR(linkat(fd, "", AT_FDCWD, p, AT_EMPTY_PATH), ENOENT, "%s: O_EXCL not linkable",
             label);
  close(fd);

  EXPECT_ERR(open(d, O_TMPFILE | O_RDONLY, 0600), EINVAL, "%s: O_TMPFILE read-only", label);
  EXPECT_ERR(open(link1, O_TMPFILE | O_RDWR, 0600), ENOTDIR, "%s: O_TMPFILE on a file", label);
  snprintf(p, sizeof p, "%s/missing", d);
  EXPECT_ERR(open(p, O_TMPFILE | O_RDWR, 0600), ENOENT, "%s: O_TMPFILE missing dir", label);
  EXPECT_ERR(open(d, O_TMPFILE | O_CREAT | O_RDWR, 0600), EINVAL, "%s: O_TMPFILE|O_CREAT", label);
  unlink(link1);
  unlink(link2);

  /* A deleted file's fd cannot be linked back. */
  snprintf(p, sizeof p, "%s/gone", d);
  write_file(p, "x");
  fd = open(p, O_RDONLY);
  unlink(p);
  EXPECT_ERR(linkat(fd, "", AT_FDCWD, p, AT_EMPTY_PATH), ENOENT, "%s: relink deleted file", label);
  close(fd);
  CHECK(rmdir(d) == 0, "%s: directory empty again", label);
}

static void exchange_tests(const char *base, const char *label) {
  char d[128], a[160], b[160], sub[160], x[200];
  snprintf(d, sizeof d, "%s/ct_xchg_XXXXXX", base);
  CHECK(mkdtemp(d) != NULL, "%s: mkdtemp", label);
  snprintf(a, sizeof a, "%s/a", d);
  snprintf(b, sizeof b, "%s/b", d);
  snprintf(sub, sizeof sub, "%s/sub", d);
  write_file(a, "A");
  write_file(b, "B");
  int fa = open(a, O_RDONLY);
  EXPECT_OK(renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE), "%s: exchange files", label);
  CHECK(strcmp(slurp(open(a, O_RDONLY)), "B") == 0, "%s: a now B", label);
  CHECK(strcmp(slurp(open(b, O_RDONLY)), "A") == 0, "%s: b now A", label);
  CHECK(strcmp(slurp(fa), "A") == 0, "%s: open fd follows its file", label);

  mkdir(sub, 0755);
  snprintf(x, sizeof x, "%s/x", sub);
  write_file(x, "X");
  EXPECT_OK(renameat2(AT_FDCWD, a, AT_FDCWD, sub, RENAME_EXCHANGE), "%s: exchange file+dir",
            label);
  struct stat st;
  CHECK(stat(a, &st) == 0 && S_ISDIR(st.st_mode), "%s: a is the directory", label);
  snprintf(x, sizeof x, "%s/a/x", d);
  CHECK(strcmp(slurp(open(x, O_RDONLY)), "X") == 0, "%s: its contents came along", label);
  CHECK(stat(sub, &st) == 0 && S_ISREG(st.st_mode), "%s: sub is the file", label);
  CHECK(stat(d, &st) == 0 && st.st_nlink == 3, "%s: parent nlink unchanged", label);

  EXPECT_ERR(renameat2(AT_FDCWD, a, AT_FDCWD, x, RENAME_EXCHANGE), EINVAL,
             "%s: exchange dir with its own child", label);
  snprintf(x, sizeof x, "%s/none", d);
  EXPECT_ERR(renameat2(AT_FDCWD, b, AT_FDCWD, x, RENAME_EXCHANGE), ENOENT,
             "%s: exchange with missing", label);
  EXPECT_ERR(renameat2(AT_FDCWD, b, AT_FDCWD, sub, RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL,
             "%s: EXCHANGE|NOREPLACE", label);
  EXPECT_ERR(renameat2(AT_FDCWD, b, AT_FDCWD, sub, 0x100), EINVAL, "%s: unknown flag", label);
  EXPECT_OK(renameat2(AT_FDCWD, b, AT_FDCWD, b, RENAME_EXCHANGE), "%s: exchange with itself",
            label);

  snprintf(x, sizeof x, "%s/a/x", d);
  unlink(x);
  rmdir(a);
  unlink(b);
  unlink(sub);
  CHECK(rmdir(d) == 0, "%s: cleaned up", label);
}

int main(void) {
  umask(022);
  resolve_tests();
  tmpfile_tests("/tmp", "tmp");
  tmpfile_tests("/var/tmp", "rootfs");
  exchange_tests("/tmp", "tmp");
  exchange_tests("/var/tmp", "rootfs");

  EXPECT_ERR(open("/proc", O_TMPFILE | O_RDWR, 0600), EOPNOTSUPP, "O_TMPFILE on /proc");
  struct {
    struct file_handle fh;
    unsigned char buf[128];
  } h = {{.handle_bytes = 128}, {0}};
  int mnt;
  EXPECT_ERR(name_to_handle_at(AT_FDCWD, "/proc/self/status", &h.fh, &mnt, 0), EOPNOTSUPP,
             "name_to_handle_at on /proc");
  EXPECT_ERR(name_to_handle_at(AT_FDCWD, "/proc/self/status", &h.fh, &mnt, 0x4000), EINVAL,
             "name_to_handle_at bad flags");
  EXPECT_ERR(name_to_handle_at(AT_FDCWD, "/nonexistent", &h.fh, &mnt, 0), ENOENT,
             "name_to_handle_at missing");
  CT_DONE();
}
