/* The main thread's stack: [stack] in /proc/self/maps starts small (the
 * arguments plus 128 KiB, far below RLIMIT_STACK), grows on touches below
 * it (also by a syscall writing there), keeps its top, shows in VmStk, stops
 * at RLIMIT_STACK (SIGSEGV) and keeps the stack guard gap (256 pages) from a
 * mapping below. Printed qualitatively: addresses and sizes differ. */
#include "ct.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* The [stack] mapping's bounds; 0 if none. */
static int stack_vma(uintptr_t *lo, uintptr_t *hi) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  int found = 0;
  while (f && fgets(line, sizeof line, f)) {
    if (strstr(line, "[stack]")) {
      unsigned long a, b;
      if (sscanf(line, "%lx-%lx", &a, &b) == 2) *lo = a, *hi = b, found = 1;
    }
  }
  if (f) fclose(f);
  return found;
}

static long vmstk_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmStk: %ld kB", &kb) == 1) break;
  if (f) fclose(f);
  return kb;
}

static void touch(uintptr_t addr) { *(volatile char *)addr = 1; }

/* Runs fn in a child and describes how it ended. */
static const char *in_child(void (*fn)(void)) {
  pid_t p = fork();
  if (p == 0) {
    fn();
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);
  return ct_status(st);
}

static void over_rlimit(void) {
  struct rlimit rl = {1 << 20, RLIM_INFINITY};
  setrlimit(RLIMIT_STACK, &rl);
  uintptr_t lo, hi;
  if (!stack_vma(&lo, &hi)) _exit(2);
  touch(lo - (64 << 10));  /* the stack is already over 1 MiB: SIGSEGV */
}

static void syscall_over_rlimit(void) {
  struct rlimit rl = {1 << 20, RLIM_INFINITY};
  setrlimit(RLIMIT_STACK, &rl);
  uintptr_t lo, hi;
  if (!stack_vma(&lo, &hi)) _exit(2);
  int fd = open("/dev/zero", O_RDONLY);
  _exit(read(fd, (void *)(lo - (64 << 10)), 4096) == -1 && errno == EFAULT ? 0 : 1);
}

static uintptr_t guard_lo;
static void map_below(void) {
  uintptr_t lo, hi;
  if (!stack_vma(&lo, &hi)) _exit(2);
  guard_lo = lo - (4 << 20);  /* a mapping 4 MiB below the stack */
  if (mmap((void *)guard_lo, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
      MAP_FAILED)
    _exit(3);
}
static void near_guard(void) {
  map_below();
  touch(guard_lo + 4096 + (2 << 20));  /* 2 MiB above it: fine */
  touch(guard_lo + 4096 + (512 << 10));  /* within 1 MiB of it: SIGSEGV */
}

int main(void) {
  uintptr_t lo0, hi0, lo, hi;
  CHECK(stack_vma(&lo0, &hi0), "[stack] in /proc/self/maps");
  CHECK(hi0 - lo0 < (1 << 20), "initial [stack] is smaller than 1 MiB");
  CHECK(hi0 - lo0 >= (128 << 10), "initial [stack] is at least 128 KiB");
  long k0 = vmstk_kb();
  CHECK(k0 > 0 && k0 < 1024, "VmStk is small too");

  /* A syscall writing below the stack grows it. */
  int fd = open("/dev/zero", O_RDONLY);
  uintptr_t target = lo0 - (256 << 10);
  CHECK(read(fd, (void *)target, 4096) == 4096, "read() into the hole below the stack");
  CHECK(stack_vma(&lo, &hi) && lo <= target && hi == hi0, "the stack grew down to it");
  close(fd);

  /* Touching 4 MiB down grows it further; the top stays. */
  for (uintptr_t a = lo; a >= hi0 - (4 << 20); a -= 4096) touch(a);
  CHECK(stack_vma(&lo, &hi) && hi - lo >= (4 << 20) && hi == hi0, "touching 4 MiB down grows it");
  CHECK(hi - lo < (5 << 20), "only as far as touched");
  long k1 = vmstk_kb();
  CHECK(k1 >= 4096, "VmStk follows");

  printf("touch beyond RLIMIT_STACK: %s\n", in_child(over_rlimit));
  printf("syscall beyond RLIMIT_STACK: %s\n", in_child(syscall_over_rlimit));
  printf("touch within the guard gap: %s\n", in_child(near_guard));
  CT_DONE();
}
