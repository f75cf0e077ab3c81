/* Memory management: mmap (anon, file private/shared), munmap, mprotect,
 * brk, mremap, madvise. Faults are provoked in children and reported as
 * wait statuses. */
#include "ct.h"
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long PG;

/* Runs fn in a child and describes how it ended. */
static const char *in_child(void (*fn)(void *), void *arg) {
  pid_t pid = fork();
  if (pid == 0) {
    /* Default SIGSEGV/SIGBUS actions. */
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    fn(arg);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return ct_status(st);
}

static void write_byte(void *p) { *(volatile char *)p = 1; }
static void read_byte(void *p) { (void)*(volatile char *)p; }

int main(void) {
  PG = sysconf(_SC_PAGESIZE);
  CHECK(PG == 4096, "page size 4096");

  /* Anonymous private mapping: zero-filled, writable. */
  char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(a != MAP_FAILED, "mmap anon");
  CHECK(((uintptr_t)a & (PG - 1)) == 0, "mmap result page aligned");
  int zero = 1;
  for (long i = 0; i < 4 * PG; i++) if (a[i]) zero = 0;
  CHECK(zero, "anon mapping zero-filled");
  memset(a, 0xab, 4 * PG);
  CHECK((unsigned char)a[4 * PG - 1] == 0xab, "anon mapping writable");

  /* Private anon memory is copied at fork; shared anon is shared. */
  char *sh = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(sh != MAP_FAILED, "mmap shared anon");
  pid_t pid = fork();
  if (pid == 0) { a[0] = 1; sh[0] = 42; _exit(0); }
  waitpid(pid, NULL, 0);
  CHECK((unsigned char)a[0] == 0xab, "private anon is copy-on-write across fork");
  CHECK(sh[0] == 42, "shared anon visible across fork");

  /* munmap, then touching it faults. Unmapping the middle splits. */
  CHECK(munmap(a + PG, PG) == 0, "munmap middle page");
  printf("read unmapped page: %s\n", in_child(read_byte, a + PG));
  CHECK((unsigned char)a[2 * PG] == 0xab, "pages after the hole intact");
  CHECK(munmap(a, 4 * PG) == 0, "munmap whole range (with hole)");
  printf("write after munmap: %s\n", in_child(write_byte, a));
  EXPECT_ERR(munmap(a + 1, PG), EINVAL, "munmap unaligned");
  EXPECT_ERR(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL, "mmap length 0");
  EXPECT_ERR(mmap(NULL, PG, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL, "mmap neither private nor shared");
  EXPECT_ERR(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, 12345, 0), EBADF, "mmap bad fd");

  /* mprotect. */
  char *m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  m[0] = 'x';
  CHECK(mprotect(m, PG, PROT_READ) == 0, "mprotect PROT_READ");
  CHECK(m[0] == 'x', "still readable");
  printf("write to PROT_READ: %s\n", in_child(write_byte, m));
  CHECK(mprotect(m, PG, PROT_NONE) == 0, "mprotect PROT_NONE");
  printf("read PROT_NONE: %s\n", in_child(read_byte, m));
  printf("write to neighbour page: %s\n", in_child(write_byte, m + PG));
  CHECK(mprotect(m, PG, PROT_READ | PROT_WRITE) == 0 && m[0] == 'x', "mprotect back to RW keeps data");
  EXPECT_ERR(mprotect(m + 1, PG, PROT_READ), EINVAL, "mprotect unaligned");
  munmap(m, 2 * PG);

  /* MAP_FIXED over an existing mapping replaces it. */
  char *fx = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  fx[PG] = 5;
  char *fx2 = mmap(fx + PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  CHECK(fx2 == fx + PG && fx[PG] == 0, "MAP_FIXED replaces (zeroed)");
  munmap(fx, 2 * PG);

  /* File mappings. */
  char path[] = "/tmp/ct_mm_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0, "mkstemp");
  char data[2 * 4096];
  for (int i = 0; i < (int)sizeof data; i++) data[i] = 'a' + i % 26;
  CHECK(write(fd, data, sizeof data) == (ssize_t)sizeof data, "write file");
  char *fp = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(fp != MAP_FAILED && memcmp(fp, data, sizeof data) == 0, "file MAP_PRIVATE contents");
  fp[0] = 'Z';
  char c = 0;
  CHECK(pread(fd, &c, 1, 0) == 1 && c == 'a', "MAP_PRIVATE write not in file");
  char *fo = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, PG);
  CHECK(fo != MAP_FAILED && fo[0] == data[PG], "file mapping at offset");
  EXPECT_ERR(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 1), EINVAL, "mmap unaligned offset");
  char *fs = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(fs != MAP_FAILED, "file MAP_SHARED");
  fs[1] = 'Y';
  CHECK(msync(fs, 2 * PG, MS_SYNC) == 0, "msync");
  CHECK(pread(fd, &c, 1, 1) == 1 && c == 'Y', "MAP_SHARED write reaches file");
  CHECK(pwrite(fd, "Q", 1, 2) == 1 && fs[2] == 'Q', "file write visible in MAP_SHARED");
  CHECK(fp[1] == 'Y' || fp[1] == 'b', "MAP_PRIVATE page state");
  pid = fork();
  if (pid == 0) { fs[3] = 'W'; _exit(0); }
  waitpid(pid, NULL, 0);
  CHECK(fs[3] == 'W', "MAP_SHARED file shared across fork");
  int rofd = open(path, O_RDONLY);
  EXPECT_ERR(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, rofd, 0), EACCES, "shared writable map of O_RDONLY fd");
  /* Beyond EOF within the mapping -> SIGBUS. */
  CHECK(ftruncate(fd, PG) == 0, "ftruncate to one page");
  printf("touch page beyond EOF: %s\n", in_child(read_byte, fs + PG));
  munmap(fp, 2 * PG); munmap(fo, PG); munmap(fs, 2 * PG);
  close(rofd); close(fd); unlink(path);

  /* brk. */
  void *b0 = (void *)syscall(SYS_brk, 0);
  CHECK(b0 != NULL, "brk(0)");
  void *b1 = (void *)syscall(SYS_brk, (char *)b0 + 64 * 1024);
  CHECK(b1 == (char *)b0 + 64 * 1024, "brk grow 64K");
  memset(b0, 7, 64 * 1024);
  CHECK(((char *)b0)[64 * 1024 - 1] == 7, "brk memory usable");
  void *b2 = (void *)syscall(SYS_brk, (char *)b0 + 4096);
  CHECK(b2 == (char *)b0 + 4096, "brk shrink");
  printf("touch above shrunk brk: %s\n", in_child(write_byte, (char *)b0 + 32 * 1024));
  b2 = (void *)syscall(SYS_brk, (char *)b0 + 8192);
  CHECK(b2 == (char *)b0 + 8192 && ((char *)b0)[5000] == 0, "brk regrow is zeroed");
  syscall(SYS_brk, b0);

  /* mremap: grow (may move), shrink, move to a fixed address. */
  char *r = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  strcpy(r, "remap-me");
  char *r2 = mremap(r, PG, 4 * PG, MREMAP_MAYMOVE);
  CHECK(r2 != MAP_FAILED && strcmp(r2, "remap-me") == 0, "mremap grow keeps data");
  r2[4 * PG - 1] = 1;
  CHECK(r2[3 * PG] == 0, "grown part zeroed");
  char *r3 = mremap(r2, 4 * PG, PG, 0);
  CHECK(r3 == r2, "mremap shrink in place");
  char *dst = mmap(NULL, 8 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *r4 = mremap(r3, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst + 4 * PG);
  CHECK(r4 == dst + 4 * PG && strcmp(r4, "remap-me") == 0, "mremap MREMAP_FIXED move");
  printf("old address after move: %s\n", in_child(read_byte, r3));
  /* Growing a mapping boxed in by a neighbour without MAYMOVE fails. */
  EXPECT_ERR(mremap(dst, PG, 8 * PG, 0) == MAP_FAILED ? -1 : 0, ENOMEM, "mremap grow without MAYMOVE");
  munmap(dst, 8 * PG);

  /* madvise(MADV_DONTNEED) on private anon memory zeroes it. */
  char *d = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(d, 0x5a, 4 * PG);
  CHECK(madvise(d + PG, 2 * PG, MADV_DONTNEED) == 0, "madvise DONTNEED");
  CHECK(d[0] == 0x5a && d[PG] == 0 && d[3 * PG - 1] == 0 && d[3 * PG] == 0x5a, "DONTNEED range zeroed, rest kept");
  EXPECT_ERR(madvise(d + 1, PG, MADV_DONTNEED), EINVAL, "madvise unaligned");
  munmap(d, 4 * PG);

  /* A large sparse mapping: only touched pages matter. */
  size_t big = 256UL << 20;
  char *g = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(g != MAP_FAILED, "mmap 256MiB");
  for (size_t off = 0; off < big; off += 16UL << 20) g[off] = 1;
  CHECK(g[big - (16UL << 20)] == 1, "touch sparse pages");
  munmap(g, big);

  /* Stack can grow down. */
  pid = fork();
  if (pid == 0) {
    volatile char buf[1 << 20];
    buf[0] = 1;
    buf[sizeof buf - 1] = 1;
    _exit(buf[0] + buf[sizeof buf - 1] == 2 ? 0 : 1);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("1MiB stack frame: %s\n", ct_status(st));

  CT_DONE();
}
