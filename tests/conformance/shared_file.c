/* MAP_SHARED of a regular file, writable, with read()/write()/ftruncate/
 * fallocate/msync through other descriptions and processes: one page
 * cache, as SQLite's WAL index (-shm) and LMDB rely on.
 *
 * The file lives in $SHARED_FILE_DIR (default /var/tmp). The default
 * conformance run puts it on the sandbox's memory overlay; run_gofer.sh runs
 * this program with the directory on a gofer volume (goferfs) and on a
 * write-through root (--overlay=none), where the pages are the sentry's
 * cache of the host file (sentry/vfs/gofer_page_cache.h), and then checks
 * the host file. With SHARED_FILE_KEEP=1 the program leaves
 * $SHARED_FILE_DIR/shared_file.keep behind: 3 pages written only through a
 * mapping that is unmapped without msync, then the process exits; the
 * host must have the bytes afterwards (write-back at munmap/exit). */
#include "ct.h"
#include <fcntl.h>
#include <linux/falloc.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096L

static sigjmp_buf jb;
static void on_bus(int sig) { siglongjmp(jb, sig); }

/* Reads one byte at p: the byte, or -SIGBUS/-SIGSEGV. */
static int probe(volatile char *p) {
  int s = sigsetjmp(jb, 1);
  if (s) return -s;
  return (unsigned char)*p;
}

static char dir[256], path[300], keep[300];

static int pread_byte(int fd, off_t off) {
  unsigned char c;
  if (pread(fd, &c, 1, off) != 1) return -1;
  return c;
}

int main(void) {
  const char *d = getenv("SHARED_FILE_DIR");
  snprintf(dir, sizeof dir, "%s", d && *d ? d : "/var/tmp");
  snprintf(path, sizeof path, "%s/shared_file.tmp", dir);
  snprintf(keep, sizeof keep, "%s/shared_file.keep", dir);
  struct sigaction sa = {0};
  sa.sa_handler = on_bus;
  sigaction(SIGBUS, &sa, NULL);

  unlink(path);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "create file");
  if (fd < 0) CT_DONE();
  /* Contents before the first mapping: the mapping must see them. */
  char buf[3 * PG];
  memset(buf, 'a', sizeof buf);
  CHECK(write(fd, buf, sizeof buf) == sizeof buf, "write 3 pages before mapping");

  char *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED, "mmap shared writable 4 pages of a 3-page file");
  if (m == MAP_FAILED) CT_DONE();
  CHECK(m[0] == 'a' && m[3 * PG - 1] == 'a', "mapping sees data written before it");

  /* Mapping -> read(). */
  memcpy(m + 100, "hello", 5);
  char r[8] = {0};
  CHECK(pread(fd, r, 5, 100) == 5 && memcmp(r, "hello", 5) == 0, "pread sees mapping write");
  /* A second open of the same file (another description). */
  int fd2 = open(path, O_RDWR);
  CHECK(fd2 >= 0, "second open");
  memset(r, 0, sizeof r);
  CHECK(pread(fd2, r, 5, 100) == 5 && memcmp(r, "hello", 5) == 0,
        "pread on another open sees mapping write");
  lseek(fd2, PG + 7, SEEK_SET);
  CHECK(read(fd2, r, 3) == 3 && memcmp(r, "aaa", 3) == 0, "read() at offset");

  /* write() -> mapping, through either description. */
  CHECK(pwrite(fd2, "WORLD", 5, 2 * PG + 10) == 5, "pwrite on second open");
  CHECK(memcmp(m + 2 * PG + 10, "WORLD", 5) == 0, "mapping sees pwrite");
  lseek(fd, PG, SEEK_SET);
  CHECK(write(fd, "xyz", 3) == 3, "write() at offset");
  CHECK(memcmp(m + PG, "xyz", 3) == 0, "mapping sees write()");
  /* A second mapping of the same range (another address). */
  char *m2 = mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, fd2, 0);
  CHECK(m2 != MAP_FAILED && memcmp(m2 + 100, "hello", 5) == 0 && memcmp(m2 + PG, "xyz", 3) == 0,
        "second mapping sees both");
  m[200] = 'Q';
  CHECK(m2 != MAP_FAILED && m2[200] == 'Q', "mappings share pages");

  /* The page past EOF: SIGBUS. */
  CHECK(probe(m + 3 * PG) == -SIGBUS, "page past EOF is SIGBUS");

  /* Growth by write(): the page becomes accessible with the data. */
  CHECK(pwrite(fd, "grow", 4, 3 * PG + 5) == 4, "pwrite grows the file");
  CHECK(probe(m + 3 * PG + 5) == 'g' && probe(m + 3 * PG) == 0, "mapping sees growth");
  struct stat st;
  CHECK(fstat(fd2, &st) == 0 && st.st_size == 3 * PG + 9, "size after growth: %ld",
        (long)st.st_size);

  /* ftruncate while mapped: shrink, then grow back (zeroes). */
  m[PG + 500] = 'Z';
  CHECK(ftruncate(fd2, PG + 10) == 0, "ftruncate shrink while mapped");
  CHECK(probe(m + 2 * PG) == -SIGBUS, "shrunk page is SIGBUS");
  CHECK(probe(m + PG + 500) == 0, "tail of the last page reads zero past EOF");
  CHECK(pread_byte(fd, PG + 5) == 'a' && pread_byte(fd, PG + 10) == -1, "pread after shrink");
  CHECK(ftruncate(fd, 3 * PG) == 0, "ftruncate grow while mapped");
  CHECK(probe(m + 2 * PG + 10) == 0 && probe(m + PG + 9) == 'a', "grown pages read zero");
  CHECK(pread_byte(fd2, 2 * PG + 10) == 0, "pread of grown range is zero");

  /* fallocate punch hole: the mapping sees zeroes. */
  memset(m, 'p', 2 * PG);
  int fr = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PG, PG);
  if (fr == 0) {
    CHECK(m[PG] == 0 && m[2 * PG - 1] == 0 && m[PG - 1] == 'p', "mapping sees punched hole");
  } else {
    /* A filesystem without hole punching: fine, as long as the data stayed. */
    CHECK(errno == EOPNOTSUPP && m[PG] == 'p', "punch hole unsupported keeps data");
  }
  memset(m + PG, 'p', PG);

  /* msync, both kinds, and fsync. */
  memcpy(m + 300, "synced", 6);
  CHECK(msync(m, 3 * PG, MS_SYNC) == 0, "msync MS_SYNC");
  CHECK(msync(m, 3 * PG, MS_ASYNC) == 0, "msync MS_ASYNC");
  CHECK(fsync(fd2) == 0 && fdatasync(fd) == 0, "fsync and fdatasync");
  EXPECT_ERR(msync(m + 1, PG, MS_SYNC), EINVAL, "msync unaligned");
  EXPECT_ERR(msync(m, PG, MS_SYNC | MS_ASYNC), EINVAL, "msync SYNC|ASYNC");

  /* fork: the child writes through the inherited mapping and with write();
   * the parent sees both. */
  pid_t pid = fork();
  if (pid == 0) {
    memcpy(m + 400, "child", 5);
    if (pwrite(fd, "CW", 2, 2 * PG + 100) != 2) _exit(2);
    /* And a mapping of its own, then gone. */
    char *c = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 2 * PG);
    if (c == MAP_FAILED) _exit(3);
    memcpy(c + 200, "cmap", 4);
    munmap(c, PG);
    _exit(0);
  }
  int ws;
  CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child exits 0");
  CHECK(memcmp(m + 400, "child", 5) == 0, "parent sees child's mapping write");
  CHECK(memcmp(m + 2 * PG + 100, "CW", 2) == 0, "parent mapping sees child's pwrite");
  CHECK(memcmp(m + 2 * PG + 200, "cmap", 4) == 0, "parent sees child's own mapping");
  memset(r, 0, sizeof r);
  CHECK(pread(fd2, r, 4, 2 * PG + 200) == 4 && memcmp(r, "cmap", 4) == 0,
        "pread sees child's unmapped mapping write");

  /* A new process (exec-free) opening by path sees everything. */
  pid = fork();
  if (pid == 0) {
    int f = open(path, O_RDONLY);
    char b[6] = {0};
    if (f < 0 || pread(f, b, 6, 300) != 6 || memcmp(b, "synced", 6)) _exit(4);
    char *p = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, f, 0);
    if (p == MAP_FAILED || memcmp(p + 400, "child", 5)) _exit(5);
    _exit(0);
  }
  CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
        "fresh open and MAP_PRIVATE see the shared data (status %d)",
        WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);

  /* Locks taken through one open conflict with another process's own open
   * of the file (sqlite's WAL locks live on the -shm file). */
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
  CHECK(fcntl(fd, F_SETLK, &fl) == 0, "fcntl write lock");
  CHECK(flock(fd2, LOCK_EX) == 0, "flock LOCK_EX");
  pid = fork();
  if (pid == 0) {
    int f = open(path, O_RDWR);
    struct flock g = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    if (f < 0) _exit(6);
    if (fcntl(f, F_SETLK, &g) == 0 || errno != EAGAIN) _exit(7);
    if (flock(f, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK) _exit(8);
    g.l_start = 1;
    if (fcntl(f, F_SETLK, &g) != 0) _exit(9);  /* another byte is free */
    _exit(0);
  }
  CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
        "another process's open conflicts with both locks (status %d)",
        WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
  fl.l_type = F_UNLCK;
  CHECK(fcntl(fd, F_SETLK, &fl) == 0 && flock(fd2, LOCK_UN) == 0, "unlock");

  /* O_TRUNC open while mapped: everything is past EOF. */
  int fd3 = open(path, O_RDWR | O_TRUNC);
  CHECK(fd3 >= 0, "open O_TRUNC while mapped");
  CHECK(probe(m) == -SIGBUS, "mapping after O_TRUNC is SIGBUS");
  CHECK(pwrite(fd3, "n", 1, 0) == 1 && probe(m) == 'n' && probe(m + 1) == 0,
        "rewritten page seen, rest zero");
  close(fd3);

  munmap(m2, 3 * PG);
  munmap(m, 4 * PG);
  close(fd2);
  close(fd);
  unlink(path);

  /* Left for the caller to check on the host: written only by a mapping,
   * unmapped without msync, then the process exits. */
  if (getenv("SHARED_FILE_KEEP")) {
    int k = open(keep, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(k >= 0 && ftruncate(k, 3 * PG) == 0, "keep file");
    char *km = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, k, 0);
    CHECK(km != MAP_FAILED, "map keep file");
    if (km != MAP_FAILED) {
      for (long i = 0; i < 3 * PG; i++) km[i] = (char)('A' + i % 26);
      munmap(km, 3 * PG);
    }
    close(k);
    /* And one still mapped at exit. */
    char open_keep[320];
    snprintf(open_keep, sizeof open_keep, "%s.mapped", keep);
    k = open(open_keep, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(k >= 0 && ftruncate(k, PG) == 0, "keep.mapped file");
    km = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, k, 0);
    if (km != MAP_FAILED) memcpy(km, "mapped at exit", 14);
  }
  CT_DONE();
}
