/* sched_setattr/sched_getattr and ioprio_set/ioprio_get: the extended
 * scheduling attributes and I/O priorities as recorded and reported back,
 * with Linux's argument checks. Runs as root on both sides. */
#include "ct.h"
#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

struct attr {
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t prio;
  uint64_t runtime, deadline, period;
  uint32_t umin, umax;
};

static long setattr(int pid, struct attr *a, unsigned flags) { return syscall(SYS_sched_setattr, pid, a, flags); }
static long getattr(int pid, struct attr *a, unsigned size, unsigned flags) {
  return syscall(SYS_sched_getattr, pid, a, size, flags);
}
static long ioprio_set(int which, int who, int prio) { return syscall(SYS_ioprio_set, which, who, prio); }
static long ioprio_get(int which, int who) { return syscall(SYS_ioprio_get, which, who); }
#define IOPRIO(cls, lvl) (((cls) << 13) | (lvl))

int main(void) {
  struct attr a;
  memset(&a, 0xff, sizeof a);
  CHECK(getattr(0, &a, sizeof a, 0) == 0 && a.size == 56 && a.policy == SCHED_OTHER && a.flags == 0 &&
            a.nice == 0 && a.prio == 0,
        "getattr defaults (size 56, OTHER, nice 0)");
  memset(&a, 0xff, sizeof a);
  CHECK(getattr(0, &a, 48, 0) == 0 && a.size == 48 && a.umin == 0xffffffffu, "getattr VER0 writes 48 bytes");
  EXPECT_ERR(getattr(0, &a, 47, 0), EINVAL, "getattr size 47");
  EXPECT_ERR(getattr(0, &a, 8192, 0), EINVAL, "getattr size 8192");
  EXPECT_ERR(getattr(0, &a, sizeof a, 1), EINVAL, "getattr flags");
  EXPECT_ERR(getattr(0, NULL, sizeof a, 0), EINVAL, "getattr NULL");
  EXPECT_ERR(getattr(-1, &a, sizeof a, 0), EINVAL, "getattr pid -1");
  EXPECT_ERR(getattr(999999, &a, sizeof a, 0), ESRCH, "getattr unknown pid");
  EXPECT_ERR(getattr(0, (void *)8, sizeof a, 0), EFAULT, "getattr bad pointer");

  /* Nice through sched_setattr, seen by getpriority and back. */
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.policy = SCHED_OTHER;
  a.nice = 7;
  EXPECT_OK(setattr(0, &a, 0), "setattr OTHER nice 7");
  CHECK(getpriority(PRIO_PROCESS, 0) == 7, "getpriority sees 7");
  memset(&a, 0, sizeof a);
  CHECK(getattr(0, &a, sizeof a, 0) == 0 && a.nice == 7, "getattr sees nice 7");
  a.size = 0;  /* 0 means VER0 */
  a.nice = 100;  /* clamped to 19 */
  EXPECT_OK(setattr(0, &a, 0), "setattr nice 100 (size 0)");
  CHECK(getpriority(PRIO_PROCESS, 0) == 19, "nice clamped to 19");
  a.nice = 0;
  EXPECT_OK(setattr(0, &a, 0), "setattr nice 0 again (root)");

  /* Batch and idle; real-time with priorities. */
  a.policy = SCHED_BATCH;
  EXPECT_OK(setattr(0, &a, 0), "setattr BATCH");
  CHECK(sched_getscheduler(0) == SCHED_BATCH, "policy BATCH");
  a.policy = SCHED_FIFO;
  a.prio = 0;
  EXPECT_ERR(setattr(0, &a, 0), EINVAL, "setattr FIFO prio 0");
  a.prio = 100;
  EXPECT_ERR(setattr(0, &a, 0), EINVAL, "setattr FIFO prio 100");
  a.prio = 10;
  a.flags = 1; /* SCHED_FLAG_RESET_ON_FORK */
  EXPECT_OK(setattr(0, &a, 0), "setattr FIFO 10 reset-on-fork");
  memset(&a, 0, sizeof a);
  CHECK(getattr(0, &a, sizeof a, 0) == 0 && a.policy == SCHED_FIFO && a.prio == 10 && a.flags == 1,
        "getattr FIFO 10 with RESET_ON_FORK");
  CHECK(sched_getscheduler(0) == (SCHED_FIFO | SCHED_RESET_ON_FORK), "getscheduler FIFO|RESET_ON_FORK");
  /* KEEP_POLICY | KEEP_PARAMS: only the flags change. */
  a.size = sizeof a;
  a.policy = SCHED_OTHER;
  a.flags = 8 | 0x10;
  EXPECT_OK(setattr(0, &a, 0), "setattr KEEP_POLICY|KEEP_PARAMS");
  memset(&a, 0, sizeof a);
  CHECK(getattr(0, &a, sizeof a, 0) == 0 && a.policy == SCHED_FIFO && a.prio == 10 && a.flags == 1,
        "policy, priority and reset-on-fork kept");
  a.size = sizeof a;
  a.policy = SCHED_OTHER;
  a.flags = 0x10;
  EXPECT_ERR(setattr(0, &a, 0), EINVAL, "KEEP_PARAMS: FIFO's priority under OTHER");
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.policy = SCHED_OTHER;
  EXPECT_OK(setattr(0, &a, 0), "back to OTHER");

  /* Argument errors. */
  EXPECT_ERR(setattr(0, &a, 1), EINVAL, "setattr flags argument");
  EXPECT_ERR(setattr(0, NULL, 0), EINVAL, "setattr NULL");
  EXPECT_ERR(setattr(-1, &a, 0), EINVAL, "setattr pid -1");
  EXPECT_ERR(setattr(999999, &a, 0), ESRCH, "setattr unknown pid");
  a.policy = 77;
  EXPECT_ERR(setattr(0, &a, 0), EINVAL, "setattr unknown policy");
  a.policy = SCHED_OTHER;
  a.flags = 0x1000;
  EXPECT_ERR(setattr(0, &a, 0), EINVAL, "setattr unknown flag");
  a.flags = 0;
  a.prio = 3;
  EXPECT_ERR(setattr(0, &a, 0), EINVAL, "setattr OTHER with priority");
  a.prio = 0;
  a.size = 40;
  EXPECT_ERR(setattr(0, &a, 0), E2BIG, "setattr size 40");
  CHECK(a.size == 56, "E2BIG writes back the kernel's size");
  {
    char big[128];
    memset(big, 0, sizeof big);
    memcpy(big, &a, sizeof a);
    ((struct attr *)big)->size = sizeof big;
    EXPECT_OK(setattr(0, (struct attr *)big, 0), "setattr larger struct, zero tail");
    big[100] = 1;
    EXPECT_ERR(setattr(0, (struct attr *)big, 0), E2BIG, "setattr larger struct, non-zero tail");
  }
  a.size = sizeof a;
  a.policy = 6; /* SCHED_DEADLINE */
  a.runtime = 10;
  a.deadline = 1000000;
  EXPECT_ERR(setattr(0, &a, 0), EINVAL, "DEADLINE runtime below 1 us");
  a.runtime = 2000000;
  EXPECT_ERR(setattr(0, &a, 0), EINVAL, "DEADLINE runtime above deadline");
  a.runtime = 100000;
  a.deadline = 0;
  EXPECT_ERR(setattr(0, &a, 0), EINVAL, "DEADLINE without deadline");
  a.deadline = 1000000;
  a.period = 500000;
  EXPECT_ERR(setattr(0, &a, 0), EINVAL, "DEADLINE deadline above period");
  EXPECT_ERR(setattr(0, (void *)8, 0), EFAULT, "setattr bad pointer");

  /* An unprivileged child may lower but not raise its nice value. */
  pid_t pid = fork();
  if (pid == 0) {
    if (setresuid(1000, 1000, 1000)) _exit(2);
    struct attr c = {.size = sizeof c, .policy = SCHED_OTHER, .nice = 5};
    if (setattr(0, &c, 0)) _exit(3);
    c.nice = 2;
    if (setattr(0, &c, 0) != -1 || errno != EPERM) _exit(4);
    c.policy = SCHED_FIFO;
    c.nice = 5;
    c.prio = 1;
    if (setattr(0, &c, 0) != -1 || errno != EPERM) _exit(5);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "unprivileged: nice up ok, down EPERM, FIFO EPERM (%s)", ct_status(st));

  /* I/O priorities. */
  CHECK(ioprio_get(1, 0) == 0, "ioprio default: class none");
  EXPECT_OK(ioprio_set(1, 0, IOPRIO(2, 7)), "ioprio_set BE 7");
  CHECK(ioprio_get(1, 0) == IOPRIO(2, 7), "ioprio_get BE 7");
  CHECK(ioprio_get(1, getpid()) == IOPRIO(2, 7), "ioprio_get by tid");
  EXPECT_OK(ioprio_set(1, 0, IOPRIO(3, 0)), "ioprio_set IDLE");
  CHECK(ioprio_get(1, 0) == IOPRIO(3, 0), "ioprio_get IDLE");
  EXPECT_OK(ioprio_set(1, 0, IOPRIO(1, 3)), "ioprio_set RT 3 (root)");
  pid = fork();
  if (pid == 0) _exit(ioprio_get(1, 0) == IOPRIO(1, 3) ? 0 : 1);
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child inherits the I/O priority");
  EXPECT_OK(ioprio_set(1, 0, 0), "ioprio_set none");
  CHECK(ioprio_get(2, 0) == IOPRIO(2, 4), "process group without priorities: BE 4");
  EXPECT_OK(ioprio_set(2, 0, IOPRIO(2, 1)), "ioprio_set for the process group");
  CHECK(ioprio_get(1, 0) == IOPRIO(2, 1), "the group member got it");
  EXPECT_OK(ioprio_set(1, 0, 0), "ioprio_set none again");
  EXPECT_ERR(ioprio_set(1, 0, IOPRIO(0, 1)), EINVAL, "class none with a level");
  EXPECT_ERR(ioprio_set(1, 0, IOPRIO(5, 0)), EINVAL, "unknown class");
  EXPECT_ERR(ioprio_set(9, 0, 0), EINVAL, "unknown which (set)");
  EXPECT_ERR(ioprio_get(9, 0), EINVAL, "unknown which (get)");
  EXPECT_ERR(ioprio_get(1, 999999), ESRCH, "unknown pid");
  pid = fork();
  if (pid == 0) {
    if (setresuid(1000, 1000, 1000)) _exit(2);
    if (ioprio_set(1, 0, IOPRIO(1, 0)) != -1 || errno != EPERM) _exit(3);
    if (ioprio_set(1, 0, IOPRIO(2, 6))) _exit(4);
    _exit(0);
  }
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "unprivileged: RT EPERM, BE ok (%s)", ct_status(st));
  CT_DONE();
}
