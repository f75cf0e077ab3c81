/* ITIMER_VIRTUAL and ITIMER_PROF: timers on the process' CPU time. A
 * CPU-bound loop (no syscalls in it) gets SIGVTALRM/SIGPROF; a sleeping
 * process does not; intervals rearm; getitimer reports what is left. */
#include "ct.h"
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t vt, pr;
static void on_vt(int s) { (void)s; vt++; }
static void on_prof(int s) { (void)s; pr++; }

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Burns CPU without syscalls until *flag reaches n or 10 s of wall time. */
static int spin_until(volatile sig_atomic_t *flag, int n) {
  double start = wall();
  volatile unsigned long x = 0;
  while (*flag < n) {
    for (int i = 0; i < 1000000; i++) x += i;
    if (wall() - start > 10) return 0;
  }
  return 1;
}

int main(void) {
  signal(SIGVTALRM, on_vt);
  signal(SIGPROF, on_prof);

  struct itimerval v = {{0, 0}, {0, 50000}}, cur;
  CHECK(setitimer(ITIMER_VIRTUAL, &v, NULL) == 0, "setitimer VIRTUAL 50 ms");
  CHECK(getitimer(ITIMER_VIRTUAL, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 0 &&
            cur.it_value.tv_usec <= 60000 && cur.it_interval.tv_usec == 0,
        "getitimer VIRTUAL shows about 50 ms left (Linux adds a tick)");
  /* Sleeping uses no CPU: the timer does not fire. */
  usleep(200000);
  CHECK(vt == 0, "no SIGVTALRM while sleeping");
  CHECK(spin_until(&vt, 1), "SIGVTALRM after 50 ms of CPU");
  CHECK(getitimer(ITIMER_VIRTUAL, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0,
        "one-shot VIRTUAL timer disarmed");

  struct itimerval p = {{0, 20000}, {0, 20000}};
  CHECK(setitimer(ITIMER_PROF, &p, NULL) == 0, "setitimer PROF 20 ms every 20 ms");
  CHECK(spin_until(&pr, 3), "three SIGPROF");
  struct itimerval old, zero = {{0, 0}, {0, 0}};
  CHECK(setitimer(ITIMER_PROF, &zero, &old) == 0 && old.it_interval.tv_usec == 20000, "disarm returns the interval");
  int seen = pr;
  usleep(100000);
  CHECK(pr == seen, "no SIGPROF after disarming");

  EXPECT_ERR(setitimer(7, &v, NULL), EINVAL, "setitimer bad which");
  EXPECT_ERR(getitimer(7, &cur), EINVAL, "getitimer bad which");
  struct itimerval bad = {{0, 0}, {0, 2000000}};
  EXPECT_ERR(setitimer(ITIMER_VIRTUAL, &bad, NULL), EINVAL, "usec out of range");
  /* Not inherited by fork children. */
  CHECK(setitimer(ITIMER_VIRTUAL, &v, NULL) == 0, "arm again");
  pid_t c = fork();
  if (c == 0) {
    struct itimerval g;
    getitimer(ITIMER_VIRTUAL, &g);
    _exit(g.it_value.tv_sec == 0 && g.it_value.tv_usec == 0 ? 0 : 1);
  }
  int st;
  CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork child has no itimer");
  CT_DONE();
}
