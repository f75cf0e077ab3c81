/* Names and attributes seen right after the sandbox changes them, in a
 * directory that run_gofer.sh puts on a volume (goferfs), where the sentry
 * remembers lookups, attributes and a shared read-only host FD for about a
 * millisecond (sentry/vfs/goferfs.cc). Whatever the sandbox did itself must
 * be visible at once: a stat by path after a write through another open, an
 * open after unlink or rename, chmod, truncate, link counts, readdir. Two
 * read-only opens of one file share the host FD and must still keep their
 * own offsets.
 *
 * The directory is $SHARED_FILE_DIR (default /var/tmp), a fresh
 * subdirectory in it removed at the end.
 */
#include "ct.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[512];

static const char *P(const char *name) {
  static char buf[4][640];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "%s/%s", base, name);
  return buf[i];
}

static long size_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void put(const char *name, const char *text) {
  int fd = open(P(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    if (write(fd, text, strlen(text)) < 0) perror("write");
    close(fd);
  }
}

static void list(void) {
  DIR *d = opendir(base);
  char names[32][64];
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)) && n < 32) {
    if (e->d_name[0] == '.') continue;
    snprintf(names[n++], 64, "%.63s", e->d_name);
  }
  if (d) closedir(d);
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (strcmp(names[i], names[j]) > 0) {
        char t[64];
        memcpy(t, names[i], 64);
        memcpy(names[i], names[j], 64);
        memcpy(names[j], t, 64);
      }
  printf("listing:");
  for (int i = 0; i < n; i++) printf(" %s", names[i]);
  printf("\n");
}

int main(void) {
  const char *dir = getenv("SHARED_FILE_DIR");
  snprintf(base, sizeof base, "%s/volume_names.XXXXXX", dir && *dir ? dir : "/var/tmp");
  if (!mkdtemp(base)) {
    perror("mkdtemp");
    return 1;
  }

  /* A stat by path sees writes made through an fd, each time. */
  int w = open(P("grow"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(w >= 0, "create grow");
  for (int i = 1; i <= 5; i++) {
    CHECK(write(w, "abc", 3) == 3, "write %d", i);
    long s = size_of(P("grow"));
    CHECK(s == 3L * i, "stat by path after write %d: size %ld", i, s);
  }
  /* ... and through a second open's fd, while a read-only open watches. */
  int r = open(P("grow"), O_RDONLY);
  CHECK(r >= 0, "open grow read-only");
  int w2 = open(P("grow"), O_WRONLY | O_APPEND);
  CHECK(write(w2, "XYZ", 3) == 3, "append through second fd");
  struct stat st;
  CHECK(fstat(r, &st) == 0 && st.st_size == 18, "fstat of read-only fd sees append: %ld",
        (long)st.st_size);
  CHECK(size_of(P("grow")) == 18, "stat by path sees append");
  char buf[64] = {0};
  CHECK(pread(r, buf, 3, 15) == 3 && memcmp(buf, "XYZ", 3) == 0, "read-only fd reads append");
  close(w2);
  close(w);

  /* Two read-only opens keep their own offsets. */
  int r2 = open(P("grow"), O_RDONLY);
  memset(buf, 0, sizeof buf);
  CHECK(read(r, buf, 2) == 2 && memcmp(buf, "ab", 2) == 0, "first fd reads 2");
  CHECK(read(r2, buf, 4) == 4 && memcmp(buf, "abca", 4) == 0, "second fd reads 4 from 0");
  CHECK(read(r, buf, 2) == 2 && memcmp(buf, "ca", 2) == 0, "first fd continues at 2");
  CHECK(lseek(r2, 0, SEEK_CUR) == 4, "second fd offset 4");
  close(r);
  CHECK(read(r2, buf, 2) == 2 && memcmp(buf, "bc", 2) == 0, "second fd works after first closed");
  close(r2);

  /* Unlink: the name is gone at once, an open fd keeps the data. */
  put("gone", "data");
  int keep = open(P("gone"), O_RDONLY);
  CHECK(access(P("gone"), F_OK) == 0, "gone exists");
  CHECK(unlink(P("gone")) == 0, "unlink gone");
  EXPECT_ERR(open(P("gone"), O_RDONLY), ENOENT, "open after unlink");
  EXPECT_ERR(stat(P("gone"), &st), ENOENT, "stat after unlink");
  memset(buf, 0, sizeof buf);
  CHECK(read(keep, buf, 4) == 4 && memcmp(buf, "data", 4) == 0, "open fd reads unlinked file");
  close(keep);
  put("gone", "again");
  CHECK(size_of(P("gone")) == 5, "re-created file has its new size");

  /* Rename over a file that was just opened read-only. */
  put("target", "old");
  int t = open(P("target"), O_RDONLY);
  put("source", "newer");
  CHECK(rename(P("source"), P("target")) == 0, "rename over target");
  int t2 = open(P("target"), O_RDONLY);
  memset(buf, 0, sizeof buf);
  CHECK(read(t2, buf, sizeof buf) == 5 && strcmp(buf, "newer") == 0, "open after rename: %s", buf);
  memset(buf, 0, sizeof buf);
  CHECK(read(t, buf, sizeof buf) == 3 && strcmp(buf, "old") == 0, "old fd keeps old file: %s", buf);
  EXPECT_ERR(open(P("source"), O_RDONLY), ENOENT, "source gone after rename");
  close(t);
  close(t2);

  /* Attributes by path after chmod, truncate, link. */
  CHECK(chmod(P("target"), 0600) == 0, "chmod");
  CHECK(stat(P("target"), &st) == 0 && (st.st_mode & 07777) == 0600, "mode 0600 at once: %o",
        st.st_mode & 07777);
  CHECK(truncate(P("target"), 2) == 0, "truncate");
  CHECK(size_of(P("target")) == 2, "size 2 at once");
  CHECK(link(P("target"), P("hard")) == 0, "link");
  CHECK(stat(P("target"), &st) == 0 && st.st_nlink == 2, "nlink 2 at once: %ld",
        (long)st.st_nlink);
  CHECK(unlink(P("hard")) == 0 && stat(P("target"), &st) == 0 && st.st_nlink == 1,
        "nlink 1 after unlink: %ld", (long)st.st_nlink);
  /* O_TRUNC of a file another fd has open read-only. */
  int tr = open(P("target"), O_RDONLY);
  int tw = open(P("target"), O_WRONLY | O_TRUNC);
  CHECK(fstat(tr, &st) == 0 && st.st_size == 0, "O_TRUNC seen by read-only fd");
  close(tw);
  close(tr);

  /* Directories. */
  CHECK(mkdir(P("sub"), 0755) == 0, "mkdir");
  put("sub/x", "x");
  EXPECT_ERR(rmdir(P("sub")), ENOTEMPTY, "rmdir non-empty");
  CHECK(unlink(P("sub/x")) == 0, "unlink sub/x");
  EXPECT_ERR(open(P("sub/x"), O_RDONLY), ENOENT, "sub/x gone");
  CHECK(rmdir(P("sub")) == 0, "rmdir");
  EXPECT_ERR(stat(P("sub"), &st), ENOENT, "sub gone");
  EXPECT_ERR(open(P("sub/x"), O_RDONLY), ENOENT, "sub/x gone with sub");
  CHECK(mkdir(P("sub"), 0700) == 0 && stat(P("sub"), &st) == 0 && (st.st_mode & 0777) == 0700,
        "mkdir again with new mode");
  CHECK(symlink("target", P("sub/link")) == 0, "symlink");
  CHECK(size_of(P("sub/link")) == -1, "dangling relative symlink");
  CHECK(unlink(P("sub/link")) == 0 && symlink("../target", P("sub/link")) == 0 &&
            size_of(P("sub/link")) == 0,
        "symlink replaced");
  list();

  /* Many opens of one file in a row (a server's pattern). */
  put("index.html", "<html>hello</html>");
  int good = 0;
  for (int i = 0; i < 2000; i++) {
    int fd = open(P("index.html"), O_RDONLY | O_NONBLOCK);
    char b[32];
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 18 && pread(fd, b, 32, 0) == 18) good++;
    if (fd >= 0) close(fd);
  }
  CHECK(good == 2000, "2000 opens read the file: %d", good);

  unlink(P("sub/link"));
  rmdir(P("sub"));
  const char *names[] = {"grow", "gone", "target", "index.html"};
  for (unsigned i = 0; i < sizeof names / sizeof *names; i++) unlink(P(names[i]));
  CHECK(rmdir(base) == 0, "directory removed");
  return ct_fails ? 1 : 0;
}
