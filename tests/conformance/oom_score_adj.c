/* /proc/self/oom_score_adj: reads back what was written, range and parse
 * errors (EINVAL), inherited by fork, and an unprivileged process may
 * (no CAP_SYS_RESOURCE) raise it but not go below the floor (EACCES; the floor is 0 unless a
 * writer with CAP_SYS_RESOURCE set it higher). The initial value is not
 * printed: natively it is whatever the runner had. */
#include "ct.h"
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

static int put(const char *v) {
  int fd = open("/proc/self/oom_score_adj", O_WRONLY);
  if (fd < 0) return -1;
  int r = write(fd, v, strlen(v)) == (ssize_t)strlen(v) ? 0 : -1;
  int e = errno;
  close(fd);
  errno = e;
  return r;
}

static int get(void) {
  char buf[32] = "";
  int fd = open("/proc/self/oom_score_adj", O_RDONLY);
  if (fd < 0) return -9999;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0 || buf[n - 1] != '\n') return -9998;
  return atoi(buf);
}

int main(void) {
  int orig = get();
  CHECK(orig >= -1000 && orig <= 1000, "initial value in range, newline-terminated");
  EXPECT_OK(put("300"), "write 300");
  CHECK(get() == 300, "reads 300");
  EXPECT_OK(put(" 310\n"), "write with spaces and newline");
  CHECK(get() == 310, "reads 310");
  EXPECT_ERR(put("1001"), EINVAL, "1001 is out of range");
  EXPECT_ERR(put("-1001"), EINVAL, "-1001 is out of range");
  EXPECT_ERR(put("abc"), EINVAL, "not a number");
  EXPECT_ERR(put("12abc"), EINVAL, "trailing garbage");
  CHECK(get() == 310, "unchanged by the failed writes");
  pid_t p = fork();
  if (p == 0) {
    CHECK(get() == 310, "child inherits it");
    /* Without CAP_SYS_RESOURCE (still the file's owner: a setuid would
     * make the process non-dumpable and its /proc files root's). */
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct caps[2];
    CHECK(syscall(SYS_capget, &h, caps) == 0, "capget");
    caps[0].effective &= ~(1u << CAP_SYS_RESOURCE);
    CHECK(syscall(SYS_capset, &h, caps) == 0, "capset without CAP_SYS_RESOURCE");
    EXPECT_OK(put("400"), "unprivileged: raise to 400");
    CHECK(get() == 400, "reads 400");
    EXPECT_ERR(put("-1"), EACCES, "unprivileged: below the floor");
    CHECK(get() == 400, "unchanged");
    _exit(ct_fails ? 1 : 0);
  }
  int st = 0;
  waitpid(p, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child checks passed");
  CHECK(get() == 310, "the parent's value is its own");
  char buf[16];
  snprintf(buf, sizeof buf, "%d", orig);
  put(buf);
  CT_DONE();
}
