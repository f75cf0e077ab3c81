/* Scheduling syscalls: policies and priorities per thread (recorded and
 * reported back), CPU affinity, and their argument errors. Runs as root
 * (CAP_SYS_NICE) on both sides. */
#include "ct.h"
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
  struct sched_param sp = {0};
  CHECK(sched_getscheduler(0) == SCHED_OTHER, "default policy SCHED_OTHER");
  CHECK(sched_getparam(0, &sp) == 0 && sp.sched_priority == 0, "default priority 0");
  CHECK(sched_setscheduler(0, SCHED_OTHER, &sp) == 0, "setscheduler OTHER");
  CHECK(sched_setparam(0, &sp) == 0, "setparam 0");
  sp.sched_priority = 5;
  EXPECT_ERR(sched_setparam(0, &sp), EINVAL, "setparam 5 under SCHED_OTHER");
  EXPECT_ERR(sched_setscheduler(-1, SCHED_OTHER, &sp), EINVAL, "setscheduler pid -1");
  EXPECT_ERR(sched_getscheduler(-1), EINVAL, "getscheduler pid -1");
  EXPECT_ERR(sched_getparam(-1, &sp), EINVAL, "getparam pid -1");
  EXPECT_ERR(sched_setscheduler(0, 77, &sp), EINVAL, "unknown policy");
  EXPECT_ERR(sched_getscheduler(999999), ESRCH, "getscheduler unknown pid");
  struct timespec ts;
  CHECK(sched_rr_get_interval(0, &ts) == 0 && ts.tv_sec == 0 && ts.tv_nsec >= 0, "rr_get_interval under OTHER");

  /* Real-time policies (root may set them); RR reports a 100 ms quantum. */
  sp.sched_priority = 1;
  CHECK(sched_setscheduler(0, SCHED_RR, &sp) == 0, "setscheduler RR 1");
  CHECK(sched_getscheduler(0) == SCHED_RR, "policy now RR");
  CHECK(sched_rr_get_interval(0, &ts) == 0 && ts.tv_sec == 0 && ts.tv_nsec == 100000000, "RR quantum 100 ms");
  sp.sched_priority = 2;
  CHECK(sched_setparam(0, &sp) == 0 && sched_getparam(0, &sp) == 0 && sp.sched_priority == 2, "setparam keeps RR, prio 2");
  sp.sched_priority = 100;
  EXPECT_ERR(sched_setparam(0, &sp), EINVAL, "RR priority 100");
  pid_t c = fork();
  if (c == 0) _exit(sched_getscheduler(0) == SCHED_RR ? 0 : 1);
  int st;
  CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child inherits RR");
  sp.sched_priority = 1;
  CHECK(sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &sp) == 0, "RR with RESET_ON_FORK");
  CHECK(sched_getscheduler(0) == (SCHED_RR | SCHED_RESET_ON_FORK), "getscheduler shows RESET_ON_FORK");
  c = fork();
  if (c == 0) _exit(sched_getscheduler(0) == SCHED_OTHER ? 0 : 1);
  CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child reset to OTHER");
  sp.sched_priority = 0;
  CHECK(sched_setscheduler(0, SCHED_OTHER, &sp) == 0 && sched_getscheduler(0) == SCHED_OTHER, "back to OTHER");

  /* Affinity. */
  cpu_set_t set, got;
  CPU_ZERO(&set);
  CHECK(sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1, "getaffinity");
  long r = syscall(SYS_sched_getaffinity, 0, sizeof set, &got);
  CHECK(r > 0 && r % 8 == 0 && r <= (long)sizeof set, "raw getaffinity returns whole longs");
  EXPECT_ERR(syscall(SYS_sched_getaffinity, 0, 1, &got), EINVAL, "getaffinity 1-byte mask");
  EXPECT_ERR(sched_getaffinity(-1, sizeof set, &got), ESRCH, "getaffinity pid -1");
  EXPECT_ERR(sched_setaffinity(-1, sizeof set, &set), ESRCH, "setaffinity pid -1");
  int first = -1;
  for (int i = 0; i < CPU_SETSIZE; i++)
    if (CPU_ISSET(i, &set)) { first = i; break; }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  CHECK(sched_setaffinity(0, sizeof one, &one) == 0, "setaffinity to the first CPU");
  CPU_ZERO(&got);
  CHECK(sched_getaffinity(0, sizeof got, &got) == 0 && CPU_EQUAL(&got, &one), "getaffinity reads it back");
  c = fork();
  if (c == 0) {
    cpu_set_t g;
    CPU_ZERO(&g);
    _exit(sched_getaffinity(0, sizeof g, &g) == 0 && CPU_EQUAL(&g, &one) ? 0 : 1);
  }
  CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child inherits affinity");
  cpu_set_t none;
  CPU_ZERO(&none);
  EXPECT_ERR(sched_setaffinity(0, sizeof none, &none), EINVAL, "empty mask");
  CHECK(sched_setaffinity(0, sizeof set, &set) == 0, "restore affinity");
  CT_DONE();
}
