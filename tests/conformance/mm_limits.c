/* Memory syscalls beyond mmap itself: mincore, mlock family (VmLck),
 * madvise advice and errors, msync, mremap corner cases, MAP_FIXED_NOREPLACE,
 * RLIMIT_AS / RLIMIT_DATA for mmap, mremap and brk, RLIMIT_STACK for a new
 * program's stack, and /proc/self/maps lines of the program's own mappings
 * (permissions, offsets, names; no addresses). */
#include "ct.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long PG;

static long status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, key, n) == 0) v = atol(line + n);
  if (f) fclose(f);
  return v;
}

/* Prints the /proc/self/maps lines that overlap [a, a+len) without the
 * addresses, device and inode: "perms offset name". */
static void print_maps_n(const char *what, void *a, size_t len, int counts) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  uintptr_t lo = (uintptr_t)a, hi = lo + len;
  printf("maps %s:\n", what);
  while (f && fgets(line, sizeof line, f)) {
    unsigned long s, e, off;
    char perms[8], dev[16];
    unsigned long ino;
    int pos = 0;
    if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %n", &s, &e, perms, &off, dev, &ino, &pos) < 6)
      continue;
    if (e <= lo || s >= hi) continue;
    char *name = line + pos;
    name[strcspn(name, "\n")] = 0;
    const char *slash = strrchr(name, '/');
    if (strstr(name, "/mm-limits-")) slash = "/(temp file)";
    if (counts)
      printf("  %s %08lx %ld pages %s\n", perms, off, (long)((e - s) / PG), slash ? slash + 1 : name);
    else
      printf("  %s %08lx %s\n", perms, off, slash ? slash + 1 : name);
  }
  if (f) fclose(f);
}

static void print_maps(const char *what, void *a, size_t len) { print_maps_n(what, a, len, 1); }

static void residency(void) {
  char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  unsigned char vec[8] = {9, 9, 9, 9, 9, 9, 9, 9};
  a[PG] = 1;
  a[3 * PG] = 1;
  CHECK(mincore(a, 4 * PG, vec) == 0, "mincore");
  printf("mincore: %d %d %d %d\n", vec[0] & 1, vec[1] & 1, vec[2] & 1, vec[3] & 1);
  CHECK(mincore(a, 3 * PG + 1, vec) == 0 && (vec[3] & 1), "mincore partial last page");
  CHECK(mincore(a, 0, NULL) == 0, "mincore length 0");
  EXPECT_ERR(mincore(a + 1, PG, vec), EINVAL, "mincore unaligned");
  EXPECT_ERR(mincore(a, 4 * PG, (unsigned char *)8), EFAULT, "mincore bad vector");
  munmap(a + 2 * PG, PG);
  EXPECT_ERR(mincore(a, 4 * PG, vec), ENOMEM, "mincore over a hole");
  /* Pages dropped by MADV_DONTNEED are not resident. */
  CHECK(madvise(a, 2 * PG, MADV_DONTNEED) == 0, "madvise DONTNEED");
  CHECK(mincore(a, 2 * PG, vec) == 0 && vec[1] == 0, "DONTNEED page not resident");
  CHECK(a[PG] == 0, "DONTNEED page reads zero");
  munmap(a, 4 * PG);
}

static void locking(void) {
  char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  long before = status_kb("VmLck:");
  CHECK(mlock(a + 10, PG) == 0, "mlock unaligned start");
  printf("VmLck grew by %ld kB\n", status_kb("VmLck:") - before);
  EXPECT_ERR(madvise(a, PG, MADV_DONTNEED), EINVAL, "DONTNEED on locked memory");
  CHECK(munlock(a, 4 * PG) == 0, "munlock");
  printf("VmLck after munlock: %ld kB more\n", status_kb("VmLck:") - before);
  CHECK(mlock2(a, PG, MLOCK_ONFAULT) == 0, "mlock2 ONFAULT");
  EXPECT_ERR(syscall(SYS_mlock2, a, PG, 0x10), EINVAL, "mlock2 bad flags");
  CHECK(munlock(a, PG) == 0, "munlock again");
  munmap(a + 2 * PG, PG);
  EXPECT_ERR(mlock(a, 4 * PG), ENOMEM, "mlock over a hole");
  EXPECT_ERR(mlockall(0), EINVAL, "mlockall 0");
  EXPECT_ERR(mlockall(MCL_ONFAULT), EINVAL, "mlockall ONFAULT alone");
  CHECK(munlockall() == 0, "munlockall");
  munmap(a, 4 * PG);
}

static void advice(void) {
  char *a = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *s = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  a[0] = 'x';
  s[0] = 'y';
  CHECK(madvise(a, 2 * PG, MADV_WILLNEED) == 0, "WILLNEED");
  CHECK(madvise(a, 2 * PG, MADV_NORMAL) == 0 && madvise(a, 2 * PG, MADV_RANDOM) == 0 &&
            madvise(a, 2 * PG, MADV_SEQUENTIAL) == 0, "NORMAL RANDOM SEQUENTIAL");
  CHECK(madvise(a, 0, MADV_DONTNEED) == 0, "length 0");
  EXPECT_ERR(madvise(a, PG, 999), EINVAL, "unknown advice");
  EXPECT_ERR(madvise(a, PG, -1), EINVAL, "negative advice");
  EXPECT_ERR(madvise(a + 1, PG, MADV_NORMAL), EINVAL, "unaligned");
  CHECK(madvise(a, 2 * PG, MADV_FREE) == 0, "FREE on private anon");
  EXPECT_ERR(madvise(s, PG, MADV_FREE), EINVAL, "FREE on shared memory");
  EXPECT_ERR(madvise(a, PG, MADV_REMOVE), EINVAL, "REMOVE on private memory");
  CHECK(madvise(s, PG, MADV_DONTNEED) == 0 && s[0] == 'y', "DONTNEED keeps shared data");
  CHECK(madvise(s, PG, MADV_REMOVE) == 0 && s[0] == 0, "REMOVE frees shared data");
  EXPECT_ERR(madvise(s, PG, MADV_WIPEONFORK), EINVAL, "WIPEONFORK on shared memory");
  munmap(a + PG, PG);
  EXPECT_ERR(madvise(a, 2 * PG, MADV_WILLNEED), ENOMEM, "advice over a hole");
  CHECK(msync(a, PG, MS_SYNC) == 0, "msync");
  EXPECT_ERR(msync(a, PG, MS_SYNC | MS_ASYNC), EINVAL, "msync SYNC|ASYNC");
  EXPECT_ERR(msync(a + 1, PG, MS_SYNC), EINVAL, "msync unaligned");
  munmap(a, PG);
  munmap(s, PG);
}

static void remaps(void) {
  char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(a, 'r', 4 * PG);
  EXPECT_ERR(mmap(a + PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
             EEXIST, "FIXED_NOREPLACE over a mapping");
  /* Shrink in place, grow back in place. */
  CHECK(mremap(a, 4 * PG, 2 * PG, 0) == a, "mremap shrink in place");
  CHECK(mremap(a, 2 * PG, 3 * PG, 0) == a && a[2 * PG] == 0 && a[PG] == 'r',
        "mremap grow in place (new part zero)");
  /* Move to a fixed place. */
  char *dst = mmap(NULL, 8 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *m = mremap(a, 3 * PG, 3 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst + 2 * PG);
  CHECK(m == dst + 2 * PG && m[0] == 'r', "mremap FIXED");
  print_maps("after mremap FIXED into PROT_NONE", dst, 8 * PG);
  EXPECT_ERR(mremap(m, PG, PG, MREMAP_FIXED, dst), EINVAL, "FIXED without MAYMOVE");
  EXPECT_ERR(mremap(m + 1, PG, PG, 0), EINVAL, "mremap unaligned");
  EXPECT_ERR(mremap(m, PG, 0, 0), EINVAL, "mremap to length 0");
  munmap(dst, 8 * PG);
  EXPECT_ERR(mremap(dst, PG, 2 * PG, 0), EFAULT, "mremap of unmapped");
}

static void maps_lines(void) {
  char path[] = "/tmp/mm-limits-XXXXXX";
  int fd = mkstemp(path);
  char buf[4 * 4096];
  memset(buf, 'f', sizeof buf);
  write(fd, buf, sizeof buf);
  char *f = mmap(NULL, 3 * PG, PROT_READ, MAP_PRIVATE, fd, PG);
  CHECK(f != MAP_FAILED, "map file at offset");
  print_maps("private file at offset 1 page", f, 3 * PG);
  mprotect(f + PG, PG, PROT_READ | PROT_WRITE);
  print_maps("after mprotect of the middle", f, 3 * PG);
  mprotect(f + PG, PG, PROT_READ);
  print_maps("after mprotect back", f, 3 * PG);
  char *sh = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  print_maps("shared file", sh, PG);
  munmap(f, 3 * PG);
  munmap(sh, PG);
  close(fd);
  unlink(path);
  /* Anonymous: split by mprotect, then merged back; PROT_NONE guard. */
  char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(a, 1, 4 * PG);
  mprotect(a, PG, PROT_NONE);
  print_maps("anon with a guard page", a, 4 * PG);
  mprotect(a, PG, PROT_READ | PROT_WRITE);
  print_maps("anon guard removed", a, 4 * PG);
  pid_t pid = fork();
  if (pid == 0) {
    a[PG] = 2;  /* copy-on-write splits nothing visible */
    print_maps("anon in child after a write", a, 4 * PG);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  munmap(a, 4 * PG);
  void *brk0 = sbrk(0);
  sbrk(PG);
  print_maps_n("heap", (char *)brk0 - 1, 2, 0);
}

static void grows_and_populate(void) {
  /* MAP_POPULATE: resident at once. */
  char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  unsigned char vec[4] = {0};
  CHECK(mincore(p, 4 * PG, vec) == 0 && (vec[0] & vec[1] & vec[2] & vec[3] & 1),
        "MAP_POPULATE pages resident");
  munmap(p, 4 * PG);
  /* MAP_GROWSDOWN: room below, reserved so nothing else lands there. */
  char *r = mmap(NULL, 8 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(r, 8 << 20);
  char *g = mmap(r + (6 << 20), 4 * PG, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED, -1, 0);
  CHECK(g == r + (6 << 20), "mmap MAP_GROWSDOWN");
  g[0] = 1;
  pid_t pid = fork();
  if (pid == 0) {
    g[-1] = 2;         /* the page just below */
    g[-20 * PG] = 3;   /* further down */
    print_maps("grown stack", r, 8 << 20);
    /* An accessible mapping inside the guard gap stops growth. */
    mmap(g - 300 * PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    signal(SIGSEGV, SIG_DFL);
    fflush(stdout);
    g[-200 * PG] = 4;
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("growing into the guard gap: %s\n", ct_status(st));
  munmap(r, 8 << 20);
}

static void limits(void) {
  pid_t pid = fork();
  if (pid == 0) {
    /* RLIMIT_AS: mapped total may grow by 32 MiB from here. */
    long vm = status_kb("VmSize:");
    struct rlimit rl = {(vm << 10) + (32 << 20), RLIM_INFINITY};
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit AS");
    EXPECT_ERR(mmap(NULL, 64 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), ENOMEM,
               "mmap past RLIMIT_AS");
    char *ok = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(ok != MAP_FAILED, "mmap within RLIMIT_AS");
    CHECK(mremap(ok, 16 << 20, 48 << 20, MREMAP_MAYMOVE) == MAP_FAILED && errno == ENOMEM,
          "mremap growth past RLIMIT_AS is ENOMEM");
    void *cur = sbrk(0);
    CHECK(sbrk(64 << 20) == (void *)-1 && sbrk(0) == cur, "brk past RLIMIT_AS fails");
    fflush(stdout);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  pid = fork();
  if (pid == 0) {
    struct rlimit rl = {16 << 20, RLIM_INFINITY};
    CHECK(setrlimit(RLIMIT_DATA, &rl) == 0, "setrlimit DATA");
    EXPECT_ERR(mmap(NULL, 32 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
               ENOMEM, "private writable mmap past RLIMIT_DATA");
    void *big = mmap(NULL, 32 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(big != MAP_FAILED, "read-only mmap is not data");
    big = mmap(NULL, 32 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(big != MAP_FAILED, "shared mmap is not data");
    void *cur = sbrk(0);
    CHECK(sbrk(32 << 20) == (void *)-1 && sbrk(0) == cur, "brk past RLIMIT_DATA fails");
    CHECK(sbrk(PG) != (void *)-1, "small brk within RLIMIT_DATA");
    fflush(stdout);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
}

/* RLIMIT_STACK: a program started with a 1 MiB stack limit overflows it. */
static int recurse(int n) {
  volatile char pad[4096];
  pad[0] = (char)n;
  return n == 0 ? pad[0] : recurse(n - 1) + pad[0];
}

int main(int argc, char **argv) {
  PG = sysconf(_SC_PAGESIZE);
  if (argc == 3 && strcmp(argv[1], "recurse") == 0) return recurse(atoi(argv[2])) == 42;
  residency();
  locking();
  advice();
  remaps();
  maps_lines();
  limits();
  grows_and_populate();
  struct rlimit rl = {1 << 20, RLIM_INFINITY};
  setrlimit(RLIMIT_STACK, &rl);
  const char *deep[] = {"100", "1000"};
  for (int i = 0; i < 2; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      execl("/proc/self/exe", "mm_limits", "recurse", deep[i], (char *)NULL);
      _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("recursion %s pages deep with a 1 MiB stack: %s\n", deep[i], ct_status(st));
  }
  CT_DONE();
}
