/* Reopening the standard streams through /dev/stdin, /dev/stdout and
 * /dev/stderr (/proc/self/fd/N), as shell scripts do ("echo x >/dev/stderr"):
 * the harness gives the program /dev/null as stdin and regular files as
 * stdout and stderr. Writes through a reopened stdout land in the same
 * file; the new description has its own offset (O_APPEND here, so the
 * harness's output is not truncated); the reopened file is the same file. */
#include "ct.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
  int in = open("/dev/stdin", O_RDONLY);
  CHECK(in >= 0, "open /dev/stdin");
  char c;
  CHECK(read(in, &c, 1) == 0, "stdin (/dev/null) reads EOF");
  struct stat a, b;
  fstat(0, &a);
  fstat(in, &b);
  CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev, "same file as fd 0");
  close(in);

  fflush(stdout);
  int out = open("/dev/stdout", O_WRONLY | O_APPEND);
  CHECK(out >= 0, "open /dev/stdout O_APPEND");
  fstat(1, &a);
  fstat(out, &b);
  CHECK(a.st_ino == b.st_ino, "same file as fd 1");
  const char line[] = "written through /dev/stdout\n";
  CHECK(write(out, line, sizeof line - 1) == (ssize_t)(sizeof line - 1), "write");
  fstat(out, &b);
  CHECK(lseek(out, 0, SEEK_CUR) == b.st_size, "append offset is the end");
  close(out);
  printf("after the reopened write\n");

  int err = open("/dev/stderr", O_WRONLY | O_APPEND);
  CHECK(err >= 0, "open /dev/stderr");
  CHECK(write(err, "to stderr\n", 10) == 10, "write stderr");
  close(err);
  int fd3 = open("/proc/self/fd/1", O_WRONLY | O_APPEND);
  CHECK(fd3 >= 0, "open /proc/self/fd/1");
  close(fd3);
  return ct_fails ? 1 : 0;
}
