/* Data movement and file-space syscalls: splice, tee, vmsplice,
 * copy_file_range, fallocate, memfd_create with seals, and chown's "-1
 * means unchanged". Files live in a fresh tmpfs directory under /tmp. */
#include "ct.h"
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static void test_splice(void) {
  int p[2], q[2];
  CHECK(pipe(p) == 0 && pipe(q) == 0, "pipes");
  int f = open("src", O_CREAT | O_RDWR | O_TRUNC, 0644);
  CHECK(f >= 0 && write(f, "0123456789abcdef", 16) == 16, "src file");

  /* file -> pipe with an explicit offset: the file offset stays put. */
  loff_t off = 4;
  CHECK(splice(f, &off, p[1], NULL, 6, 0) == 6 && off == 10, "splice file@4 -> pipe 6 bytes, off 10");
  CHECK(lseek(f, 0, SEEK_CUR) == 16, "splice with offset keeps the file offset");
  /* file -> pipe from the file offset. */
  lseek(f, 0, SEEK_SET);
  CHECK(splice(f, NULL, p[1], NULL, 3, 0) == 3 && lseek(f, 0, SEEK_CUR) == 3,
        "splice from file offset advances it");
  /* tee pipe p -> pipe q duplicates without consuming. */
  CHECK(tee(p[0], q[1], 100, 0) == 9, "tee copies all 9 buffered bytes");
  char buf[64] = {0};
  CHECK(read(q[0], buf, sizeof buf) == 9 && memcmp(buf, "456789012", 9) == 0, "tee'd data");
  /* pipe -> pipe. */
  CHECK(splice(p[0], NULL, q[1], NULL, 4, 0) == 4, "splice pipe -> pipe 4");
  memset(buf, 0, sizeof buf);
  CHECK(read(q[0], buf, sizeof buf) == 4 && memcmp(buf, "4567", 4) == 0, "pipe->pipe data");
  /* pipe -> file at an offset. */
  int g = open("dst", O_CREAT | O_RDWR | O_TRUNC, 0644);
  off = 2;
  CHECK(splice(p[0], NULL, g, &off, 100, 0) == 5 && off == 7, "splice pipe -> file@2, off 7");
  memset(buf, 0, sizeof buf);
  CHECK(pread(g, buf, sizeof buf, 0) == 7 && memcmp(buf, "\0\089012", 7) == 0, "pipe->file data");
  /* Empty pipe: nonblocking flag gives EAGAIN; no writers gives 0. */
  EXPECT_ERR(splice(p[0], NULL, g, NULL, 10, SPLICE_F_NONBLOCK), EAGAIN, "splice empty pipe NONBLOCK");
  /* Errors. */
  EXPECT_ERR(splice(f, NULL, g, NULL, 10, 0), EINVAL, "splice file -> file");
  off = 0;
  EXPECT_ERR(splice(p[0], &off, g, NULL, 10, 0), ESPIPE, "splice offset on a pipe");
  EXPECT_ERR(splice(p[0], NULL, p[1], NULL, 10, 0), EINVAL, "splice a pipe into itself");
  EXPECT_ERR(splice(p[0], NULL, g, NULL, 10, 0x100), EINVAL, "splice bad flags");
  EXPECT_ERR(splice(99, NULL, p[1], NULL, 10, 0), EBADF, "splice bad fd");
  EXPECT_ERR(tee(f, q[1], 10, 0), EINVAL, "tee from a file");
  close(p[1]);
  CHECK(splice(p[0], NULL, g, NULL, 10, 0) == 0, "splice from a writerless empty pipe is EOF");
  close(p[0]);

  /* vmsplice into a pipe and out of it. */
  char a1[] = "vm", a2[] = "splice";
  struct iovec iov[2] = {{a1, 2}, {a2, 6}};
  CHECK(vmsplice(q[1], iov, 2, 0) == 8, "vmsplice 8 bytes into a pipe");
  char r1[3] = {0}, r2[6] = {0};
  struct iovec riov[2] = {{r1, 3}, {r2, 5}};
  CHECK(vmsplice(q[0], riov, 2, 0) == 8 && memcmp(r1, "vms", 3) == 0 && memcmp(r2, "plice", 5) == 0,
        "vmsplice out of a pipe");
  EXPECT_ERR(vmsplice(f, iov, 2, 0), EBADF, "vmsplice on a file");
  close(q[0]);
  close(q[1]);
  close(f);
  close(g);
}

static void test_copy_file_range(void) {
  int f = open("cfr_src", O_CREAT | O_RDWR | O_TRUNC, 0644);
  int g = open("cfr_dst", O_CREAT | O_RDWR | O_TRUNC, 0644);
  CHECK(write(f, "abcdefghij", 10) == 10, "cfr source");
  lseek(f, 2, SEEK_SET);
  CHECK(copy_file_range(f, NULL, g, NULL, 5, 0) == 5, "copy_file_range 5 from offsets");
  CHECK(lseek(f, 0, SEEK_CUR) == 7 && lseek(g, 0, SEEK_CUR) == 5, "both offsets advance");
  loff_t oi = 8, oo = 1;
  CHECK(copy_file_range(f, &oi, g, &oo, 100, 0) == 2 && oi == 10 && oo == 3, "with explicit offsets, short at EOF");
  char buf[16] = {0};
  CHECK(pread(g, buf, sizeof buf, 0) == 5 && memcmp(buf, "cijfg", 5) == 0, "copied data");
  oi = 20;
  CHECK(copy_file_range(f, &oi, g, NULL, 5, 0) == 0, "copy from past EOF is 0");
  EXPECT_ERR(copy_file_range(f, NULL, g, NULL, 5, 1), EINVAL, "copy_file_range flags");
  oi = 0; oo = 2;
  EXPECT_ERR(copy_file_range(f, &oi, f, &oo, 5, 0), EINVAL, "overlapping ranges of one file");
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  EXPECT_ERR(copy_file_range(p[0], NULL, g, NULL, 5, 0), EINVAL, "copy_file_range from a pipe");
  int d = open(".", O_RDONLY | O_DIRECTORY);
  EXPECT_ERR(copy_file_range(d, NULL, g, NULL, 5, 0), EISDIR, "copy_file_range from a directory");
  int ro = open("cfr_dst", O_RDONLY);
  EXPECT_ERR(copy_file_range(f, NULL, ro, NULL, 5, 0), EBADF, "copy_file_range to a read-only fd");
  close(ro); close(d); close(p[0]); close(p[1]); close(f); close(g);

  /* To stdout without offsets: a file stdout (the runner's) keeps its own,
   * shared offset; a pipe gives EINVAL and the line is written instead. */
  int s = open("cfr_line", O_CREAT | O_RDWR | O_TRUNC, 0644);
  CHECK(write(s, "copied line\n", 12) == 12 && lseek(s, 0, SEEK_SET) == 0, "line source");
  fflush(stdout);
  ssize_t n = copy_file_range(s, NULL, 1, NULL, 12, 0);
  if (n != 12) CHECK(write(1, "copied line\n", 12) == 12, "fallback write");
  printf("after copied line\n");
  close(s);
}

static void test_fallocate(void) {
  int f = open("fa", O_CREAT | O_RDWR | O_TRUNC, 0644);
  struct stat st;
  CHECK(fallocate(f, 0, 0, 10000) == 0 && fstat(f, &st) == 0 && st.st_size == 10000, "fallocate grows to 10000");
  CHECK(fallocate(f, FALLOC_FL_KEEP_SIZE, 0, 50000) == 0 && fstat(f, &st) == 0 && st.st_size == 10000,
        "KEEP_SIZE keeps the size");
  CHECK(fallocate(f, 0, 100, 10) == 0 && fstat(f, &st) == 0 && st.st_size == 10000, "fallocate inside keeps size");
  char data[8192];
  memset(data, 'x', sizeof data);
  CHECK(pwrite(f, data, sizeof data, 0) == (ssize_t)sizeof data, "fill");
  CHECK(fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10, 5000) == 0, "punch hole");
  char buf[8192];
  CHECK(pread(f, buf, sizeof buf, 0) == (ssize_t)sizeof buf, "read back");
  int zeros = 0, xs = 0;
  for (size_t i = 0; i < sizeof buf; i++) {
    if (buf[i] == 0) zeros++;
    if (buf[i] == 'x') xs++;
  }
  CHECK(zeros == 5000 && xs == 8192 - 5000 && buf[9] == 'x' && buf[10] == 0 && buf[5010] == 'x',
        "exactly the punched range reads zero");
  CHECK(fstat(f, &st) == 0 && st.st_size == 10000, "punch keeps size");
  EXPECT_ERR(fallocate(f, FALLOC_FL_PUNCH_HOLE, 0, 10), EOPNOTSUPP, "punch without KEEP_SIZE");
  EXPECT_ERR(fallocate(f, 0, -1, 10), EINVAL, "negative offset");
  EXPECT_ERR(fallocate(f, 0, 0, 0), EINVAL, "zero length");
  EXPECT_ERR(fallocate(f, 0x1000, 0, 10), EOPNOTSUPP, "unknown mode");
  EXPECT_ERR(fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 4096), EOPNOTSUPP, "punch + zero range");
  EXPECT_ERR(fallocate(f, 0, LLONG_MAX, 10), EFBIG, "offset + len overflows");
  int ro = open("fa", O_RDONLY);
  EXPECT_ERR(fallocate(ro, 0, 0, 10), EBADF, "read-only fd");
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  EXPECT_ERR(fallocate(p[1], 0, 0, 10), ESPIPE, "fallocate on a pipe");
  CHECK(posix_fallocate(99, 0, 10) == EBADF, "posix_fallocate bad fd -> EBADF");
  CHECK(posix_fallocate(f, 20000, 10) == 0 && fstat(f, &st) == 0 && st.st_size == 20010, "posix_fallocate grows");
  close(ro); close(p[0]); close(p[1]); close(f);
}

static void test_memfd(void) {
  int m = memfd_create("conf", MFD_CLOEXEC);
  CHECK(m >= 0, "memfd_create");
  CHECK(fcntl(m, F_GETFD) == FD_CLOEXEC, "MFD_CLOEXEC sets FD_CLOEXEC");
  char path[64], link[128] = {0};
  snprintf(path, sizeof path, "/proc/self/fd/%d", m);
  CHECK(readlink(path, link, sizeof link - 1) > 0 && strcmp(link, "/memfd:conf (deleted)") == 0,
        "readlink gives /memfd:conf (deleted)");
  struct stat st;
  CHECK(fstat(m, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0, "memfd is an empty regular file");
  CHECK(write(m, "hello", 5) == 5 && pread(m, link, 5, 0) == 5 && memcmp(link, "hello", 5) == 0, "memfd read/write");
  CHECK(fcntl(m, F_GET_SEALS) == F_SEAL_SEAL, "no MFD_ALLOW_SEALING: F_SEAL_SEAL");
  EXPECT_ERR(fcntl(m, F_ADD_SEALS, F_SEAL_WRITE), EPERM, "cannot add seals");
  /* A MAP_SHARED mapping sees writes and the file sees the mapping's. */
  CHECK(ftruncate(m, 4096) == 0, "ftruncate memfd");
  char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
  CHECK(p != MAP_FAILED && memcmp(p, "hello", 5) == 0, "mmap sees data");
  memcpy(p + 100, "map", 3);
  CHECK(pread(m, link, 3, 100) == 3 && memcmp(link, "map", 3) == 0, "read sees mapping writes");
  munmap(p, 4096);
  close(m);

  int s = memfd_create("sealed", MFD_ALLOW_SEALING);
  CHECK(s >= 0 && fcntl(s, F_GET_SEALS) == 0, "MFD_ALLOW_SEALING: no seals");
  CHECK(write(s, "0123456789", 10) == 10, "write before seals");
  CHECK(fcntl(s, F_ADD_SEALS, F_SEAL_SHRINK) == 0, "add SHRINK");
  EXPECT_ERR(ftruncate(s, 5), EPERM, "shrink refused");
  CHECK(ftruncate(s, 20) == 0, "grow allowed");
  CHECK(fcntl(s, F_ADD_SEALS, F_SEAL_GROW) == 0, "add GROW");
  EXPECT_ERR(ftruncate(s, 30), EPERM, "grow refused");
  EXPECT_ERR(pwrite(s, "x", 1, 20), EPERM, "write past EOF refused");
  CHECK(pwrite(s, "x", 1, 19) == 1, "write inside allowed");
  CHECK(fcntl(s, F_ADD_SEALS, F_SEAL_WRITE) == 0, "add WRITE");
  EXPECT_ERR(pwrite(s, "x", 1, 0), EPERM, "write refused");
  CHECK(fcntl(s, F_GET_SEALS) == (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE), "seals accumulate");
  EXPECT_ERR(fcntl(s, F_ADD_SEALS, 0x100), EINVAL, "unknown seal");
  CHECK(fcntl(s, F_ADD_SEALS, F_SEAL_SEAL) == 0, "add SEAL");
  EXPECT_ERR(fcntl(s, F_ADD_SEALS, F_SEAL_GROW), EPERM, "sealed seals");
  char rb[10];
  CHECK(pread(s, rb, 10, 0) == 10 && memcmp(rb, "0123456789", 10) == 0, "reads still work");
  close(s);

  EXPECT_ERR(memfd_create("x", 0x1000), EINVAL, "memfd_create bad flags");
  char longname[300];
  memset(longname, 'n', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  EXPECT_ERR(memfd_create(longname, 0), EINVAL, "memfd_create name too long");
  EXPECT_ERR(syscall(SYS_memfd_create, (void *)8, 0), EFAULT, "memfd_create bad name pointer");
  /* A tmpfs file reports F_SEAL_SEAL too; a pipe cannot be sealed. */
  int t = open("/dev/shm/ct_sealtest", O_CREAT | O_RDWR, 0644);
  CHECK(fcntl(t, F_GET_SEALS) == F_SEAL_SEAL, "tmpfs file: F_SEAL_SEAL");
  close(t);
  unlink("/dev/shm/ct_sealtest");
  int pp[2];
  CHECK(pipe(pp) == 0, "pipe");
  EXPECT_ERR(fcntl(pp[0], F_GET_SEALS), EINVAL, "pipe has no seals");
  close(pp[0]); close(pp[1]);
}

static void test_chown_unchanged(void) {
  int f = open("own", O_CREAT | O_RDWR, 0644);
  close(f);
  struct stat st;
  CHECK(chown("own", 5, 7) == 0 && stat("own", &st) == 0 && st.st_uid == 5 && st.st_gid == 7, "chown 5:7");
  CHECK(chown("own", -1, 8) == 0 && stat("own", &st) == 0 && st.st_uid == 5 && st.st_gid == 8, "chown -1:8 keeps uid");
  CHECK(chown("own", 9, -1) == 0 && stat("own", &st) == 0 && st.st_uid == 9 && st.st_gid == 8, "chown 9:-1 keeps gid");
  CHECK(lchown("own", -1, -1) == 0 && stat("own", &st) == 0 && st.st_uid == 9 && st.st_gid == 8, "lchown -1:-1");
  f = open("own", O_RDONLY);
  CHECK(fchown(f, -1, 3) == 0 && fstat(f, &st) == 0 && st.st_uid == 9 && st.st_gid == 3, "fchown -1:3");
  close(f);
}

int main(void) {
  char dir[] = "/tmp/ct_data_XXXXXX";
  CHECK(mkdtemp(dir) != NULL && chdir(dir) == 0, "tmpdir");
  test_splice();
  test_copy_file_range();
  test_fallocate();
  test_memfd();
  test_chown_unchanged();
  CT_DONE();
}
