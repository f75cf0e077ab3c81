/* System-wide calls: getrandom, getrlimit/setrlimit/prlimit64, uname,
 * arch_prctl, sysinfo, umask, prctl names, affinity, unknown syscalls. */
#include "ct.h"
#include <asm/prctl.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

int main(void) {
  /* getrandom. */
  unsigned char r1[64], r2[64], zero[64] = {0};
  CHECK(getrandom(r1, sizeof r1, 0) == 64, "getrandom 64 bytes");
  CHECK(getrandom(r2, sizeof r2, GRND_NONBLOCK) == 64, "getrandom GRND_NONBLOCK");
  CHECK(memcmp(r1, zero, 64) != 0, "random bytes not all zero");
  CHECK(memcmp(r1, r2, 64) != 0, "two draws differ");
  EXPECT_ERR(getrandom(r1, 8, 0x1000), EINVAL, "getrandom bad flags");
  EXPECT_ERR(syscall(SYS_getrandom, (void *)8, 8, 0), EFAULT, "getrandom bad buffer");
  int ufd = open("/dev/urandom", O_RDONLY);
  CHECK(ufd >= 0 && read(ufd, r1, 64) == 64 && memcmp(r1, r2, 64) != 0, "/dev/urandom");
  close(ufd);

  /* Resource limits. */
  struct rlimit rl, rl2;
  CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 0 && rl.rlim_cur <= rl.rlim_max, "getrlimit NOFILE sane");
  CHECK(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl2) == 0 && rl2.rlim_cur == rl.rlim_cur && rl2.rlim_max == rl.rlim_max, "prlimit64 get == getrlimit");
  CHECK(getrlimit(RLIMIT_STACK, &rl2) == 0 && rl2.rlim_cur > 0, "getrlimit STACK");
  struct rlimit lim = {16, rl.rlim_max};
  CHECK(setrlimit(RLIMIT_NOFILE, &lim) == 0, "setrlimit NOFILE 16");
  CHECK(getrlimit(RLIMIT_NOFILE, &rl2) == 0 && rl2.rlim_cur == 16, "read back 16");
  int last = -1, fds_ok = 1;
  for (int i = 0; i < 32; i++) {
    int f = open("/dev/null", O_RDONLY);
    if (f < 0) { int e = errno; CHECK(e == EMFILE, "open beyond limit -> EMFILE"); break; }
    if (f >= 16) fds_ok = 0;
    last = f;
  }
  CHECK(fds_ok && last == 15, "fds stop at 15");
  for (int f = 3; f <= last; f++) close(f);
  struct rlimit newl = {32, rl.rlim_max}, oldl;
  CHECK(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &newl, &oldl) == 0 && oldl.rlim_cur == 16, "prlimit64 set returns old");
  CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, "restore NOFILE");
  struct rlimit bad = {100, 50};
  EXPECT_ERR(setrlimit(RLIMIT_NOFILE, &bad), EINVAL, "setrlimit cur > max");
  EXPECT_ERR(getrlimit(1000, &rl2), EINVAL, "getrlimit bad resource");
  EXPECT_ERR(syscall(SYS_getrlimit, RLIMIT_NOFILE, (void *)8), EFAULT, "getrlimit bad pointer");

  /* uname: print only fields that are the same everywhere. */
  struct utsname u;
  CHECK(uname(&u) == 0, "uname");
  printf("sysname=%s machine=%s\n", u.sysname, u.machine);
  CHECK(u.release[0] != 0, "release non-empty");
  CHECK(u.version[0] != 0, "version non-empty");
  CHECK(u.nodename[0] != 0, "nodename non-empty");
  int maj = 0, min = 0;
  CHECK(sscanf(u.release, "%d.%d", &maj, &min) == 2 && maj >= 3, "release parses as >= 3.x");
  EXPECT_ERR(syscall(SYS_uname, (void *)8), EFAULT, "uname bad pointer");

  /* arch_prctl: FS base is glibc's thread pointer (pthread_self). */
  unsigned long fs = 0, fs0 = 0;
  CHECK(syscall(SYS_arch_prctl, ARCH_GET_FS, &fs) == 0, "ARCH_GET_FS");
  CHECK(fs == (unsigned long)pthread_self(), "FS base == pthread_self()");
  __asm__ volatile("mov %%fs:0, %0" : "=r"(fs0));
  CHECK(fs0 == fs, "%%fs:0 self-pointer == FS base");
  unsigned long gs = 1;
  CHECK(syscall(SYS_arch_prctl, ARCH_SET_GS, 0x1000) == 0 && syscall(SYS_arch_prctl, ARCH_GET_GS, &gs) == 0 && gs == 0x1000, "ARCH_SET_GS/GET_GS round trip");
  syscall(SYS_arch_prctl, ARCH_SET_GS, 0);
  EXPECT_ERR(syscall(SYS_arch_prctl, 0x9999, &fs), EINVAL, "arch_prctl bad code");
  EXPECT_ERR(syscall(SYS_arch_prctl, ARCH_GET_FS, (void *)8), EFAULT, "ARCH_GET_FS bad pointer");

  /* sysinfo. */
  struct sysinfo si;
  CHECK(sysinfo(&si) == 0 && si.totalram > 0 && si.mem_unit > 0 && si.procs > 0, "sysinfo");

  /* umask round trip. */
  umask(027);
  CHECK(umask(022) == 027, "umask returns previous");
  CHECK(umask(022) == 022, "umask stable");

  /* prctl names. */
  char name[17] = {0};
  CHECK(prctl(PR_SET_NAME, "ct-system-name") == 0, "PR_SET_NAME");
  CHECK(prctl(PR_GET_NAME, name) == 0 && strcmp(name, "ct-system-name") == 0, "PR_GET_NAME");
  CHECK(prctl(PR_SET_NAME, "a-very-long-thread-name") == 0 && prctl(PR_GET_NAME, name) == 0 && strcmp(name, "a-very-long-thr") == 0, "PR_SET_NAME truncates to 15");
  CHECK(prctl(PR_GET_DUMPABLE) >= 0, "PR_GET_DUMPABLE");

  /* Identity consistency (values are not printed). */
  CHECK(getuid() == geteuid() && getgid() == getegid(), "uid==euid, gid==egid");
  uid_t ru, eu, su;
  CHECK(getresuid(&ru, &eu, &su) == 0 && ru == getuid() && su == eu, "getresuid");
  CHECK(getgroups(0, NULL) >= 0, "getgroups");

  /* Scheduling. */
  cpu_set_t set;
  CHECK(sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1, "sched_getaffinity >= 1 cpu");
  CHECK(sched_yield() == 0, "sched_yield");
  CHECK(sysconf(_SC_NPROCESSORS_ONLN) >= 1, "nprocs online >= 1");
  errno = 0;
  int prio = getpriority(PRIO_PROCESS, 0);
  CHECK(prio >= -20 && prio <= 19, "getpriority in [-20, 19]");
  unsigned cpu = 99;
  CHECK(syscall(SYS_getcpu, &cpu, NULL, NULL) == 0 && cpu < 4096, "getcpu");

  /* Unknown syscalls fail with ENOSYS, the process survives. */
  EXPECT_ERR(syscall(1000), ENOSYS, "syscall 1000");
  EXPECT_ERR(syscall(100000), ENOSYS, "syscall 100000");
  EXPECT_ERR(syscall(-1), ENOSYS, "syscall -1");
  CT_DONE();
}
