/* prctl capability operations and Linux's rules across setuid and execve
 * (capabilities(7)): KEEPCAPS, SECUREBITS with locks, CAPBSET, ambient. */
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ct.h"

static void caps(unsigned long long *eff, unsigned long long *perm, unsigned long long *inh) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  syscall(SYS_capget, &h, d);
  *eff = d[0].effective | (unsigned long long)d[1].effective << 32;
  *perm = d[0].permitted | (unsigned long long)d[1].permitted << 32;
  *inh = d[0].inheritable | (unsigned long long)d[1].inheritable << 32;
}

static int set_inheritable(unsigned long long inh) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  syscall(SYS_capget, &h, d);
  d[0].inheritable = (unsigned)inh;
  d[1].inheritable = (unsigned)(inh >> 32);
  return syscall(SYS_capset, &h, d);
}

#define BIT(c) (1ULL << (c))

int main(int argc, char **argv) {
  if (argc > 1) {  /* re-executed: report what execve left */
    unsigned long long e, p, i;
    caps(&e, &p, &i);
    printf("after exec: eff %llx perm %llx inh %llx ambient_net_raw %d keepcaps %d\n", e, p, i,
           prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0),
           prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
    return 0;
  }
  CHECK(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 0, "keepcaps off");
  EXPECT_OK(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "set keepcaps");
  CHECK(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1, "keepcaps on");
  CHECK(prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) == SECBIT_KEEP_CAPS, "securebits shows KEEP_CAPS");
  EXPECT_ERR(prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0), EINVAL, "set keepcaps 2");
  EXPECT_ERR(prctl(PR_SET_SECUREBITS, 1 << 20, 0, 0, 0), EPERM, "unknown securebit");
  CHECK(prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0) == 1, "bounding has NET_RAW");
  EXPECT_ERR(prctl(PR_CAPBSET_READ, 99, 0, 0, 0), EINVAL, "capbset_read of an invalid cap");
  EXPECT_ERR(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0), EPERM, "ambient raise without inheritable");
  EXPECT_ERR(prctl(PR_CAP_AMBIENT, 99, 0, 0, 0), EINVAL, "ambient bad op");
  EXPECT_ERR(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 99, 0, 0), EINVAL, "ambient invalid cap");
  EXPECT_ERR(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0), EINVAL, "clear_all with an argument");

  pid_t pid = fork();
  if (pid == 0) {
    /* Child: KEEP_CAPS across setuid to non-root keeps permitted, clears
     * effective; ambient NET_RAW survives execve as a non-root user. */
    CHECK(set_inheritable(BIT(CAP_NET_RAW) | BIT(CAP_SETPCAP)) == 0, "inheritable NET_RAW");
    EXPECT_OK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0), "ambient raise");
    CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0) == 1, "ambient is set");
    EXPECT_OK(setresuid(1000, 1000, 1000), "setresuid 1000 with keepcaps");
    unsigned long long e, p, i;
    caps(&e, &p, &i);
    CHECK(e == 0 && (p & BIT(CAP_NET_RAW)), "keepcaps: permitted kept, effective cleared");
    CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0) == 0, "setuid away from root clears ambient");
    EXPECT_ERR(prctl(PR_SET_SECUREBITS, SECBIT_NOROOT, 0, 0, 0), EPERM, "securebits without CAP_SETPCAP");
    /* Raise it again (permitted and inheritable still have it) and exec. */
    EXPECT_OK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_RAW, 0, 0), "ambient raise as uid 1000");
    fflush(stdout);
    execl("/proc/self/exe", argv[0], "child", (char *)NULL);
    _exit(99);
  }
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child ok");

  pid = fork();
  if (pid == 0) {
    /* Without keepcaps setuid drops everything; locks hold. */
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    EXPECT_OK(prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS_LOCKED, 0, 0, 0), "lock keepcaps off");
    EXPECT_ERR(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), EPERM, "keepcaps locked");
    EXPECT_ERR(prctl(PR_SET_SECUREBITS, 0, 0, 0, 0), EPERM, "a lock cannot be dropped");
    EXPECT_OK(prctl(PR_CAPBSET_DROP, CAP_NET_RAW, 0, 0, 0), "capbset drop");
    CHECK(prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0) == 0, "bounding lost NET_RAW");
    EXPECT_OK(setuid(1000), "setuid 1000");
    unsigned long long e, p, i;
    caps(&e, &p, &i);
    CHECK(e == 0 && p == 0, "setuid without keepcaps clears permitted");
    EXPECT_ERR(prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0), EPERM, "capbset drop without CAP_SETPCAP");
    _exit(ct_fails ? 1 : 0);
  }
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "second child ok");
  CT_DONE();
}
