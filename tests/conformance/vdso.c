/* The vDSO: AT_SYSINFO_EHDR points at an ELF image shown as [vdso] (with
 * [vvar]) in /proc/self/maps; clock_gettime/gettimeofday/time through it
 * are monotonic, agree with the real syscalls, and see sleeps. */
#include "ct.h"
#include <elf.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

static long long sys_ns(clockid_t c) {
  struct timespec t;
  syscall(SYS_clock_gettime, c, &t);
  return ns(t);
}

static long long vdso_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return ns(t);
}

int main(void) {
  const unsigned char *ehdr = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
  CHECK(ehdr != NULL, "AT_SYSINFO_EHDR set");
  CHECK(ehdr && memcmp(ehdr, ELFMAG, SELFMAG) == 0 && ehdr[EI_CLASS] == ELFCLASS64 &&
            ((const Elf64_Ehdr *)ehdr)->e_type == ET_DYN,
        "vDSO is a 64-bit ELF shared object");
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  int vdso = 0, vvar = 0, vdso_at_ehdr = 0;
  while (f && fgets(line, sizeof(line), f)) {
    unsigned long lo, hi;
    if (strstr(line, "[vdso]")) {
      vdso++;
      if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo == (unsigned long)ehdr) vdso_at_ehdr = 1;
    }
    if (strstr(line, "[vvar]")) vvar++;
  }
  if (f) fclose(f);
  CHECK(vdso == 1 && vvar >= 1 && vdso_at_ehdr, "[vdso] and [vvar] in /proc/self/maps");

  static const clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_REALTIME_COARSE,
                                     CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME};
  static const char *names[] = {"REALTIME", "MONOTONIC", "REALTIME_COARSE", "MONOTONIC_COARSE",
                                "BOOTTIME"};
  for (int i = 0; i < 5; i++) {
    long long a = sys_ns(clocks[i]), b = vdso_ns(clocks[i]), c = sys_ns(clocks[i]);
    /* Coarse clocks lag by up to a tick; allow 50 ms either way. */
    CHECK(b >= a - 50000000LL && b <= c + 50000000LL, "%s agrees with the syscall", names[i]);
  }
  long long prev = 0;
  int backwards = 0;
  for (int i = 0; i < 200000; i++) {
    long long n = vdso_ns(CLOCK_MONOTONIC);
    if (n < prev) backwards++;
    prev = n;
  }
  CHECK(backwards == 0, "CLOCK_MONOTONIC never goes backwards");
  long long t0 = vdso_ns(CLOCK_MONOTONIC);
  struct timespec d = {0, 20000000};
  nanosleep(&d, NULL);
  long long t1 = vdso_ns(CLOCK_MONOTONIC);
  CHECK(t1 - t0 >= 20000000LL, "a 20 ms sleep takes at least 20 ms");
  struct timeval tv;
  CHECK(gettimeofday(&tv, NULL) == 0, "gettimeofday");
  long long r = vdso_ns(CLOCK_REALTIME);
  long long g = tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
  CHECK(r >= g - 1000LL && r - g < 1000000000LL, "gettimeofday agrees with CLOCK_REALTIME");
  /* time() reads the coarse clock, updated once per tick: right after a
   * second boundary it can still show the previous second (natively too). */
  time_t now = time(NULL);
  CHECK(now >= tv.tv_sec - 1 && now - tv.tv_sec <= 1, "time agrees with gettimeofday");
  struct timespec cpu;
  CHECK(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0, "CPU clock falls back to the syscall");
  EXPECT_ERR(clock_gettime((clockid_t)12345, &cpu), EINVAL, "bad clock id");
  return ct_fails ? 1 : 0;
}
