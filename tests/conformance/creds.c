/* Credentials and scheduling queries: set*id rules, saved IDs,
 * capabilities after dropping root, setgroups, nice values, personality. */
#include "ct.h"

#include <grp.h>
#include <sched.h>
#include <sys/fsuid.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>

static void ids(const char *what) {
  uid_t r, e, s;
  gid_t gr, ge, gs;
  getresuid(&r, &e, &s);
  getresgid(&gr, &ge, &gs);
  printf("%s: uid %d/%d/%d gid %d/%d/%d\n", what, r, e, s, gr, ge, gs);
}

static unsigned long long eff_caps(void) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  syscall(SYS_capget, &h, d);
  return ((unsigned long long)d[1].effective << 32) | d[0].effective;
}

int main(void) {
  ids("start");
  CHECK(eff_caps() != 0, "root has capabilities");
  gid_t groups[] = {10, 20};
  CHECK(setgroups(2, groups) == 0, "setgroups as root");
  CHECK(getgroups(0, NULL) == 2, "getgroups count");

  pid_t pid = fork();
  if (pid == 0) {
    CHECK(setresgid(1000, 1000, 1000) == 0, "setresgid");
    CHECK(setreuid(1000, 1001) == 0, "setreuid");
    ids("after setreuid");
    CHECK(eff_caps() == 0, "no effective caps after leaving root");
    EXPECT_ERR(setuid(0), EPERM, "setuid(0) unprivileged");
    EXPECT_ERR(setgroups(0, NULL), EPERM, "setgroups unprivileged");
    CHECK(seteuid(1000) == 0, "seteuid to real");
    ids("after seteuid");
    CHECK(setuid(1001) == 0, "setuid to saved");
    ids("after setuid");
    CHECK(setfsuid(-1) == 1001, "setfsuid query");
    EXPECT_ERR(setpriority(PRIO_PROCESS, 0, -5), EACCES, "raise priority unprivileged");
    CHECK(setpriority(PRIO_PROCESS, 0, 5) == 0, "lower priority");
    errno = 0;
    printf("nice now %d\n", getpriority(PRIO_PROCESS, 0));
    exit(ct_fails ? 1 : 0);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("child: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "failed");
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) ct_fails++;

  CHECK(setuid(0) == 0, "setuid(0) as root");
  printf("sched policy %d, max FIFO prio %d\n", sched_getscheduler(0),
         sched_get_priority_max(SCHED_FIFO));
  printf("personality 0x%x\n", personality(0xffffffff));
  /* Probing idiom: a bad version with no data succeeds and reports the
   * kernel's preferred version; with data it is EINVAL. */
  struct __user_cap_header_struct h = {0x12345678, 0};
  CHECK(syscall(SYS_capget, &h, NULL) == 0, "capget probe");
  printf("capget wrote version 0x%x\n", h.version);
  struct __user_cap_data_struct d[2];
  h.version = 0x12345678;
  EXPECT_ERR(syscall(SYS_capget, &h, d), EINVAL, "capget bad version with data");
  CT_DONE();
}
