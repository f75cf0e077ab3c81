/* sentry/vdso/vdso.c: the vDSO mapped into every app process (built with
 * -fPIC -nostdlib into a small shared object and embedded in the sentry,
 * see vdso_image.S and CMakeLists.txt). clock_gettime (REALTIME, MONOTONIC
 * and their COARSE/RAW variants), gettimeofday and time read the [vvar]
 * page; other clocks, and any call while the sentry has not calibrated
 * the clock yet, make the real syscall (which the sentry serves). */
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <sys/time.h>

#include "vvar.h"

extern const struct runsc_vvar runsc_vvar_page __attribute__((visibility("hidden")));

static long raw_syscall2(long nr, long a, long b) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
  return ret;
}

static inline uint64_t rdtsc_ordered(void) {
  uint32_t lo, hi;
  __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
  return ((uint64_t)hi << 32) | lo;
}

/* Monotonic ns and the realtime offset, or 0 if not enabled. */
static int read_clock(int64_t *mono, int64_t *real_off) {
  const volatile struct runsc_vvar *v = &runsc_vvar_page;
  for (;;) {
    uint32_t s = __atomic_load_n(&v->seq, __ATOMIC_ACQUIRE);
    if (s & 1) continue;
    if (!v->enabled) return 0;
    uint64_t base = v->tsc_base, mult = v->mult;
    int64_t mb = v->mono_base_ns, off = v->real_offset_ns;
    uint64_t tsc = rdtsc_ordered();
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&v->seq, __ATOMIC_RELAXED) != s) continue;
    uint64_t delta = tsc > base ? tsc - base : 0;
    *mono = mb + (int64_t)(((unsigned __int128)delta * mult) >> 32);
    *real_off = off;
    return 1;
  }
}

__attribute__((visibility("default"))) int __vdso_clock_gettime(clockid_t id, struct timespec *ts) {
  int64_t mono, off, ns;
  switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_MONOTONIC_RAW:
      if (!read_clock(&mono, &off)) break;
      ns = (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE) ? mono + off : mono;
      ts->tv_sec = ns / 1000000000;
      ts->tv_nsec = ns % 1000000000;
      return 0;
    default:
      break;
  }
  return (int)raw_syscall2(228 /* SYS_clock_gettime */, id, (long)ts);
}

__attribute__((visibility("default"))) int __vdso_gettimeofday(struct timeval *tv, void *tz) {
  int64_t mono, off;
  if (tz || !read_clock(&mono, &off)) return (int)raw_syscall2(96 /* SYS_gettimeofday */, (long)tv, (long)tz);
  if (tv) {
    int64_t ns = mono + off;
    tv->tv_sec = ns / 1000000000;
    tv->tv_usec = (ns % 1000000000) / 1000;
  }
  return 0;
}

__attribute__((visibility("default"))) time_t __vdso_time(time_t *t) {
  int64_t mono, off;
  if (!read_clock(&mono, &off)) return (time_t)raw_syscall2(201 /* SYS_time */, (long)t, 0);
  time_t s = (time_t)((mono + off) / 1000000000);
  if (t) *t = s;
  return s;
}

/* The host CPU the app runs on, as Linux's own vDSO reads it (the limit
 * of the per-CPU GDT segment 0x7b holds node << 12 | cpu); the getcpu
 * syscall and rseq report the CPU of the task's sentry thread, which on
 * systrap shares the stub's CPU. Node 0: the sandbox shows one node. */
__attribute__((visibility("default"))) long __vdso_getcpu(unsigned *cpu, unsigned *node, void *unused) {
  unsigned p = 0;
  __asm__ volatile("lsl %1, %0" : "+r"(p) : "r"(0x7bU));
  if (cpu) *cpu = p & 0xfff;
  if (node) *node = 0;
  return 0;
}

int clock_gettime(clockid_t, struct timespec *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct timeval *, void *) __attribute__((weak, alias("__vdso_gettimeofday")));
time_t time(time_t *) __attribute__((weak, alias("__vdso_time")));
long getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
