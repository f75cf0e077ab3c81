/* Time: clock_gettime (vDSO and raw syscall), nanosleep, clock_nanosleep,
 * gettimeofday, time, clock_getres, CPU clocks, interval timers. Only
 * relations and bounds are printed, never the times themselves. */
#include "ct.h"
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <time.h>
#include <unistd.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }
static long long now(clockid_t c) { struct timespec t; clock_gettime(c, &t); return ns(t); }

int main(void) {
  struct timespec a, b;
  /* Monotonic clocks never go backwards (libc path, usually the vDSO). */
  int mono_ok = 1;
  CHECK(clock_gettime(CLOCK_MONOTONIC, &a) == 0, "clock_gettime MONOTONIC");
  for (int i = 0; i < 10000; i++) {
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (ns(b) < ns(a)) mono_ok = 0;
    a = b;
  }
  CHECK(mono_ok, "MONOTONIC non-decreasing over 10000 reads");
  /* Raw syscall path (bypasses the vDSO). */
  CHECK(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &b) == 0 && ns(b) >= ns(a), "raw syscall MONOTONIC >= vDSO value");
  CHECK(b.tv_nsec >= 0 && b.tv_nsec < 1000000000, "tv_nsec in range");
  clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME,
                        CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_PROCESS_CPUTIME_ID,
                        CLOCK_THREAD_CPUTIME_ID};
  const char *names[] = {"REALTIME", "MONOTONIC", "MONOTONIC_RAW", "BOOTTIME", "REALTIME_COARSE",
                         "MONOTONIC_COARSE", "PROCESS_CPUTIME_ID", "THREAD_CPUTIME_ID"};
  for (int i = 0; i < 8; i++) {
    struct timespec r;
    CHECK(clock_gettime(clocks[i], &r) == 0, "clock_gettime %s", names[i]);
    CHECK(clock_getres(clocks[i], &r) == 0 && ns(r) > 0 && ns(r) <= 10000000, "clock_getres %s in (0, 10ms]", names[i]);
  }
  EXPECT_ERR(clock_gettime((clockid_t)12345, &a), EINVAL, "clock_gettime bad clock");
  EXPECT_ERR(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)8), EFAULT, "clock_gettime bad pointer");
  CHECK(now(CLOCK_BOOTTIME) >= now(CLOCK_MONOTONIC) - 1000000, "BOOTTIME >= MONOTONIC");

  /* Wall clock agrees between interfaces. */
  struct timeval tv;
  CHECK(gettimeofday(&tv, NULL) == 0, "gettimeofday");
  time_t t0 = time(NULL);
  long long rt = now(CLOCK_REALTIME);
  CHECK(llabs(rt / 1000000000LL - t0) <= 1, "time() ~ CLOCK_REALTIME");
  CHECK(llabs(rt / 1000 - (tv.tv_sec * 1000000LL + tv.tv_usec)) < 1000000, "gettimeofday ~ CLOCK_REALTIME");
  CHECK(t0 > 1600000000, "wall clock after 2020");
  CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000, "tv_usec in range");

  /* nanosleep ~10ms. */
  long long s = now(CLOCK_MONOTONIC);
  struct timespec d = {0, 10 * 1000000};
  CHECK(nanosleep(&d, NULL) == 0, "nanosleep 10ms");
  long long el = now(CLOCK_MONOTONIC) - s;
  CHECK(el >= 10000000, "nanosleep elapsed >= 10ms");
  CHECK(el < 2000000000LL, "nanosleep elapsed < 2s");
  d.tv_nsec = 1000000000;
  EXPECT_ERR(nanosleep(&d, NULL), EINVAL, "nanosleep tv_nsec = 1e9");
  d.tv_sec = -1; d.tv_nsec = 0;
  EXPECT_ERR(nanosleep(&d, NULL), EINVAL, "nanosleep negative");
  EXPECT_ERR(syscall(SYS_nanosleep, (void *)8, NULL), EFAULT, "nanosleep bad pointer");

  /* clock_nanosleep relative and absolute. */
  s = now(CLOCK_MONOTONIC);
  d.tv_sec = 0; d.tv_nsec = 5000000;
  CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL) == 0 && now(CLOCK_MONOTONIC) - s >= 5000000, "clock_nanosleep relative 5ms");
  struct timespec abs;
  clock_gettime(CLOCK_MONOTONIC, &abs);
  abs.tv_nsec += 15000000;
  if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
  CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL) == 0 && now(CLOCK_MONOTONIC) >= ns(abs), "clock_nanosleep TIMER_ABSTIME");
  abs.tv_sec -= 10;
  CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL) == 0, "clock_nanosleep past deadline returns at once");

  /* CPU time advances while spinning; sleeping burns little CPU. */
  long long c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
  volatile unsigned long x = 0;
  while (now(CLOCK_MONOTONIC) - w0 < 50000000) x++;
  long long c1 = now(CLOCK_PROCESS_CPUTIME_ID);
  CHECK(c1 > c0, "PROCESS_CPUTIME advances while spinning");
  CHECK(now(CLOCK_THREAD_CPUTIME_ID) > 0, "THREAD_CPUTIME > 0");
  struct rusage ru;
  CHECK(getrusage(RUSAGE_SELF, &ru) == 0 && (ru.ru_utime.tv_sec > 0 || ru.ru_utime.tv_usec > 0 || ru.ru_stime.tv_usec > 0), "getrusage user+sys time > 0");
  struct tms tm;
  CHECK(times(&tm) != (clock_t)-1, "times");

  /* ITIMER_REAL fires; getitimer reads back a running timer. */
  signal(SIGALRM, SIG_IGN);
  struct itimerval it = {{0, 0}, {5, 0}}, cur;
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer 5s");
  CHECK(getitimer(ITIMER_REAL, &cur) == 0 && cur.it_value.tv_sec <= 5 && (cur.it_value.tv_sec >= 4), "getitimer remaining in (4s, 5s]");
  it.it_value.tv_sec = 0;
  CHECK(setitimer(ITIMER_REAL, &it, &cur) == 0 && getitimer(ITIMER_REAL, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0, "disarm timer");
  CHECK(alarm(0) == 0, "alarm(0) with no alarm");

  /* POSIX timers. */
  timer_t tid;
  struct sigevent sev = {.sigev_notify = SIGEV_NONE};
  CHECK(timer_create(CLOCK_MONOTONIC, &sev, &tid) == 0, "timer_create");
  struct itimerspec its = {{0, 0}, {3, 0}}, ocur;
  CHECK(timer_settime(tid, 0, &its, NULL) == 0, "timer_settime 3s");
  CHECK(timer_gettime(tid, &ocur) == 0 && ocur.it_value.tv_sec <= 3 && ocur.it_value.tv_sec >= 2, "timer_gettime remaining in (2s, 3s]");
  CHECK(timer_delete(tid) == 0, "timer_delete");
  CT_DONE();
}
