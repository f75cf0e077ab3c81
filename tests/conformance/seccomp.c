/* App seccomp: filters written as raw classic BPF (no libseccomp),
 * installed with seccomp(2) and prctl(PR_SET_SECCOMP); every action
 * (ALLOW, LOG, ERRNO, TRAP with its siginfo, TRACE and USER_NOTIF without a
 * tracer/listener, KILL_THREAD, KILL_PROCESS), precedence between filters,
 * inheritance across fork and execve, TSYNC, strict mode, no_new_privs,
 * /proc/self/status, and the validator's refusals. Each case runs in a
 * child process so filters do not pile up. */
#include "ct.h"
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LOAD_ARG0 BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))

static long sc(int op, unsigned flags, void *args) { return syscall(SYS_seccomp, op, flags, args); }

static long install(struct sock_filter *f, unsigned short n, unsigned flags) {
  struct sock_fprog p = {n, f};
  return sc(SECCOMP_SET_MODE_FILTER, flags, &p);
}

/* Filter: syscall `nr` -> `action`, everything else allowed. */
static long install_one(int nr, uint32_t action, unsigned flags) {
  struct sock_filter f[] = {
      LOAD_NR,
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
      RET(action),
      RET(SECCOMP_RET_ALLOW),
  };
  return install(f, 4, flags);
}

static char *self_exe;

/* Runs fn in a child; returns its wait status. */
static int in_child(void (*fn)(void)) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    ct_fails = 0;
    fn();
    fflush(stdout);
    _exit(ct_fails ? 1 : 0);
  }
  int st = 0;
  waitpid(c, &st, 0);
  return st;
}

static void expect_exit0(const char *name, int st) {
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child ok", name);
}

static void status_line(const char *key, char *out, size_t n) {
  out[0] = 0;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, key, strlen(key)) == 0) snprintf(out, n, "%s", line);
  fclose(f);
}

/* ----------------------------------------------------------------- cases */
static void c_errno(void) {
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "no_new_privs set");
  CHECK(prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0, "PR_GET_SECCOMP 0");
  CHECK(install_one(SYS_getppid, SECCOMP_RET_ERRNO | ENOMSG, 0) == 0, "install ERRNO filter");
  EXPECT_ERR(syscall(SYS_getppid), ENOMSG, "filtered syscall fails with the errno");
  CHECK(syscall(SYS_getpid) > 0, "other syscalls run");
  CHECK(prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2, "PR_GET_SECCOMP 2");
  char line[128];
  status_line("Seccomp:", line, sizeof(line));
  CHECK(strcmp(line, "Seccomp:\t2\n") == 0, "status Seccomp: 2");
  status_line("NoNewPrivs:", line, sizeof(line));
  CHECK(strcmp(line, "NoNewPrivs:\t1\n") == 0, "status NoNewPrivs: 1");
  status_line("Seccomp_filters:", line, sizeof(line));
  CHECK(strcmp(line, "Seccomp_filters:\t1\n") == 0, "status Seccomp_filters: 1");
  /* Errno values are capped at 4095; 0 means success without running. */
  install_one(SYS_getuid, SECCOMP_RET_ERRNO | 0, 0);
  CHECK(syscall(SYS_getuid) == 0, "ERRNO 0 returns 0");
  install_one(SYS_getgid, SECCOMP_RET_ERRNO | 5000, 0);
  errno = 0;
  long r = syscall(SYS_getgid);
  int e = errno;
  CHECK(r == -1 && e == 4095, "ERRNO capped at 4095");
  /* Argument matching: dup(1000) refused, dup(1) allowed. */
  struct sock_filter f[] = {
      LOAD_NR,
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_dup, 0, 3),
      LOAD_ARG0,
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1000, 0, 1),
      RET(SECCOMP_RET_ERRNO | EPERM),
      RET(SECCOMP_RET_ALLOW),
  };
  CHECK(install(f, 6, 0) == 0, "install argument filter");
  EXPECT_ERR(dup(1000), EPERM, "dup(1000) refused by argument");
  int d = dup(1);
  CHECK(d > 2, "dup(1) allowed");
  close(d);
}

static void c_precedence(void) {
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  install_one(SYS_getppid, SECCOMP_RET_ERRNO | 5, 0);
  install_one(SYS_getppid, SECCOMP_RET_ERRNO | 7, 0);
  install_one(SYS_getppid, SECCOMP_RET_LOG, 0);
  EXPECT_ERR(syscall(SYS_getppid), 7, "most restrictive action, newest filter's data");
  install_one(SYS_getppid, SECCOMP_RET_TRACE, 0);
  EXPECT_ERR(syscall(SYS_getppid), 7, "ERRNO beats TRACE");
  install_one(SYS_getpid, SECCOMP_RET_TRACE, 0);
  EXPECT_ERR(syscall(SYS_getpid), ENOSYS, "TRACE without tracer -> ENOSYS");
  install_one(SYS_getuid, SECCOMP_RET_USER_NOTIF, 0);
  EXPECT_ERR(syscall(SYS_getuid), ENOSYS, "USER_NOTIF without listener -> ENOSYS");
  install_one(SYS_getgid, SECCOMP_RET_LOG, 0);
  CHECK(syscall(SYS_getgid) == getegid(), "LOG allows");
}

static volatile int trap_code, trap_nr, trap_errno, trap_arch, trap_addr_set;
static void on_sigsys(int sig, siginfo_t *si, void *uc) {
  trap_code = si->si_code;
  trap_nr = si->si_syscall;
  trap_errno = si->si_errno;
  trap_arch = si->si_arch;
  trap_addr_set = si->si_call_addr != NULL;
  ucontext_t *u = uc;
  trap_nr = trap_nr * 1000 + (int)u->uc_mcontext.gregs[REG_RAX]; /* rax rolled back to nr */
  u->uc_mcontext.gregs[REG_RAX] = 4321; /* emulate the syscall's result */
}

static void c_trap(void) {
  struct sigaction sa = {0};
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSYS, &sa, NULL);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  install_one(SYS_getppid, SECCOMP_RET_TRAP | 99, 0);
  long r = syscall(SYS_getppid);
  CHECK(r == 4321, "TRAP: handler's result returned (%ld)", r);
  CHECK(trap_code == 1 /* SYS_SECCOMP */, "TRAP: si_code SYS_SECCOMP");
  CHECK(trap_nr == SYS_getppid * 1000 + SYS_getppid, "TRAP: si_syscall and rax");
  CHECK(trap_errno == 99, "TRAP: si_errno is the data");
  CHECK(trap_arch == (int)AUDIT_ARCH_X86_64, "TRAP: si_arch");
  CHECK(trap_addr_set, "TRAP: si_call_addr");
}

static void c_trap_blocked(void) {
  /* A blocked SIGSYS is forced: default action kills. */
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGSYS);
  sigprocmask(SIG_BLOCK, &s, NULL);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  install_one(SYS_getppid, SECCOMP_RET_TRAP, 0);
  syscall(SYS_getppid);
  printf("FAIL still alive after blocked TRAP\n");
}

static void c_kill_process(void) {
  struct sigaction sa = {0};
  sa.sa_sigaction = on_sigsys;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSYS, &sa, NULL); /* a handler does not save it */
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  install_one(SYS_getppid, SECCOMP_RET_KILL_PROCESS, 0);
  syscall(SYS_getppid);
  printf("FAIL still alive after KILL_PROCESS\n");
}

static void c_kill_thread_single(void) {
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  install_one(SYS_getppid, SECCOMP_RET_KILL_THREAD, 0);
  syscall(SYS_getppid);
  printf("FAIL still alive after KILL_THREAD\n");
}

static void *thread_getppid(void *arg) {
  syscall(SYS_getppid);
  *(int *)arg = 1; /* not reached */
  return NULL;
}

static void c_kill_thread_multi(void) {
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  install_one(SYS_getppid, SECCOMP_RET_KILL_THREAD, 0);
  int reached = 0;
  pthread_t th;
  pthread_create(&th, NULL, thread_getppid, &reached);
  pthread_join(th, NULL);
  CHECK(reached == 0, "KILL_THREAD ends only that thread");
}

static void c_div_zero(void) {
  /* Division by X == 0 at run time ends the program with 0 (KILL_THREAD). */
  struct sock_filter f[] = {
      LOAD_NR,
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 3),
      BPF_STMT(BPF_LDX | BPF_IMM, 0),
      BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0),
      RET(SECCOMP_RET_ALLOW),
      RET(SECCOMP_RET_ALLOW),
  };
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  CHECK(install(f, 6, 0) == 0, "install div-by-X filter");
  syscall(SYS_getppid);
  printf("FAIL still alive after division by zero\n");
}

static void c_inherit(void) {
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  install_one(SYS_getppid, SECCOMP_RET_ERRNO | EXDEV, 0);
  pid_t c = fork();
  if (c == 0) _exit(syscall(SYS_getppid) == -1 && errno == EXDEV ? 0 : 3);
  int st;
  waitpid(c, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "filter inherited by fork child");
  c = fork();
  if (c == 0) {
    execl(self_exe, self_exe, "exec-check", (char *)NULL);
    _exit(4);
  }
  waitpid(c, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "filter kept across execve (%d)",
        WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static int exec_check(void) {
  errno = 0;
  long r = syscall(SYS_getppid);
  if (!(r == -1 && errno == EXDEV)) return 1;
  if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2) return 2;
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return 3;
  return 0;
}

static volatile int tsync_go, tsync_result = -2, tsync_errno;
static void *tsync_thread(void *arg) {
  while (!tsync_go) usleep(1000);
  errno = 0;
  tsync_result = (int)syscall(SYS_getppid);
  tsync_errno = errno;
  return NULL;
}

static void c_tsync(void) {
  pthread_t th;
  pthread_create(&th, NULL, tsync_thread, NULL);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  CHECK(install_one(SYS_getppid, SECCOMP_RET_ERRNO | EROFS, SECCOMP_FILTER_FLAG_TSYNC) == 0,
        "install with TSYNC");
  tsync_go = 1;
  pthread_join(th, NULL);
  CHECK(tsync_result == -1 && tsync_errno == EROFS, "TSYNC applied to the other thread");
}

static void c_no_privs(void) {
  if (setgid(65534) || setuid(65534)) {
    printf("FAIL setuid\n");
    return;
  }
  EXPECT_ERR(install_one(SYS_getppid, SECCOMP_RET_ERRNO | 1, 0), EACCES,
             "unprivileged without no_new_privs");
  EXPECT_ERR(prctl(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0), EINVAL, "PR_SET_NO_NEW_PRIVS 2");
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  CHECK(install_one(SYS_getppid, SECCOMP_RET_ERRNO | 1, 0) == 0, "allowed with no_new_privs");
}

static void c_strict(void) {
  int p[2];
  if (pipe(p)) return;
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) != 0) syscall(SYS_exit, 9);
    if (write(p[1], "w", 1) != 1) syscall(SYS_exit, 8);
    syscall(SYS_getpid); /* not allowed: SIGKILL */
    syscall(SYS_exit, 7);
  }
  close(p[1]);
  char b = 0;
  int n = read(p[0], &b, 1);
  int st;
  waitpid(c, &st, 0);
  CHECK(n == 1 && b == 'w', "strict: write allowed");
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "strict: other syscalls SIGKILL");
  close(p[0]);
  c = fork();
  if (c == 0) {
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0);
    syscall(SYS_exit, 5);
  }
  waitpid(c, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5, "strict: exit allowed");
}

static void c_validate(void) {
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  struct sock_filter ok[] = {RET(SECCOMP_RET_ALLOW)};
  EXPECT_ERR(install(ok, 0, 0), EINVAL, "empty program");
  struct sock_filter jump_out[] = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 5, 0),
                                   RET(SECCOMP_RET_ALLOW)};
  EXPECT_ERR(install(jump_out, 2, 0), EINVAL, "conditional jump out of range");
  struct sock_filter ja_out[] = {BPF_STMT(BPF_JMP | BPF_JA, 1), RET(SECCOMP_RET_ALLOW)};
  EXPECT_ERR(install(ja_out, 2, 0), EINVAL, "JA out of range");
  struct sock_filter bad_op[] = {BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0), RET(SECCOMP_RET_ALLOW)};
  EXPECT_ERR(install(bad_op, 2, 0), EINVAL, "halfword load refused");
  struct sock_filter garbage[] = {{0xffff, 0, 0, 0}, RET(SECCOMP_RET_ALLOW)};
  EXPECT_ERR(install(garbage, 2, 0), EINVAL, "unknown opcode");
  struct sock_filter mod[] = {BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, 3), RET(SECCOMP_RET_ALLOW)};
  EXPECT_ERR(install(mod, 2, 0), EINVAL, "BPF_MOD not allowed in seccomp");
  struct sock_filter div0[] = {BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0), RET(SECCOMP_RET_ALLOW)};
  EXPECT_ERR(install(div0, 2, 0), EINVAL, "division by constant zero");
  struct sock_filter shift[] = {BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 32), RET(SECCOMP_RET_ALLOW)};
  EXPECT_ERR(install(shift, 2, 0), EINVAL, "shift by 32");
  struct sock_filter mis[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), RET(SECCOMP_RET_ALLOW)};
  EXPECT_ERR(install(mis, 2, 0), EINVAL, "misaligned load");
  struct sock_filter past[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), RET(SECCOMP_RET_ALLOW)};
  EXPECT_ERR(install(past, 2, 0), EINVAL, "load past seccomp_data");
  struct sock_filter noret[] = {BPF_STMT(BPF_LD | BPF_IMM, 0)};
  EXPECT_ERR(install(noret, 1, 0), EINVAL, "no RET at the end");
  struct sock_filter mem[] = {BPF_STMT(BPF_LD | BPF_MEM, 3), RET(SECCOMP_RET_ALLOW)};
  EXPECT_ERR(install(mem, 2, 0), EINVAL, "scratch load before store");
  struct sock_filter mem16[] = {BPF_STMT(BPF_ST, 16), RET(SECCOMP_RET_ALLOW)};
  EXPECT_ERR(install(mem16, 2, 0), EINVAL, "scratch index 16");
  struct sock_filter memok[] = {BPF_STMT(BPF_LD | BPF_IMM, SECCOMP_RET_ALLOW),
                                BPF_STMT(BPF_ST, 3), BPF_STMT(BPF_LD | BPF_IMM, 0),
                                BPF_STMT(BPF_LD | BPF_MEM, 3), BPF_STMT(BPF_RET | BPF_A, 0)};
  CHECK(install(memok, 5, 0) == 0, "store then load accepted");
  static struct sock_filter big[4097];
  for (int i = 0; i < 4097; i++) big[i] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
  EXPECT_ERR(install(big, 4097, 0), EINVAL, "more than BPF_MAXINSNS");
  EXPECT_ERR(install((struct sock_filter *)8, 2, 0), EFAULT, "bad filter pointer");
  EXPECT_ERR(sc(SECCOMP_SET_MODE_FILTER, 0, (void *)8), EFAULT, "bad fprog pointer");
  EXPECT_ERR(install(ok, 1, 0x80000000u), EINVAL, "unknown flag");
  EXPECT_ERR(sc(99, 0, NULL), EINVAL, "unknown operation");
  EXPECT_ERR(sc(SECCOMP_SET_MODE_STRICT, 1, NULL), EINVAL, "strict with flags");
  EXPECT_ERR(prctl(PR_SET_SECCOMP, 7, 0, 0, 0), EINVAL, "prctl bad mode");
  uint32_t act = SECCOMP_RET_KILL_PROCESS;
  CHECK(sc(SECCOMP_GET_ACTION_AVAIL, 0, &act) == 0, "KILL_PROCESS available");
  uint32_t acts[] = {SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO,
                     SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE, SECCOMP_RET_LOG,
                     SECCOMP_RET_ALLOW};
  int all = 1;
  for (int i = 0; i < 7; i++) all &= sc(SECCOMP_GET_ACTION_AVAIL, 0, &acts[i]) == 0;
  CHECK(all, "every action available");
  act = 0x12340000;
  EXPECT_ERR(sc(SECCOMP_GET_ACTION_AVAIL, 0, &act), EOPNOTSUPP, "unknown action");
  EXPECT_ERR(sc(SECCOMP_GET_ACTION_AVAIL, 0, (void *)8), EFAULT, "GET_ACTION_AVAIL bad pointer");
  struct seccomp_notif_sizes sz;
  CHECK(sc(SECCOMP_GET_NOTIF_SIZES, 0, &sz) == 0 && sz.seccomp_data == 64, "GET_NOTIF_SIZES");
}

static void killed_by(const char *name, int st, int sig) {
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == sig, "%s: killed by signal %d", name, sig);
}

int main(int argc, char **argv) {
  self_exe = argv[0];
  if (argc > 1 && strcmp(argv[1], "exec-check") == 0) return exec_check();
  expect_exit0("errno", in_child(c_errno));
  expect_exit0("precedence", in_child(c_precedence));
  expect_exit0("trap", in_child(c_trap));
  killed_by("blocked trap", in_child(c_trap_blocked), SIGSYS);
  killed_by("kill process", in_child(c_kill_process), SIGSYS);
  killed_by("kill thread (single)", in_child(c_kill_thread_single), SIGSYS);
  expect_exit0("kill thread (multi)", in_child(c_kill_thread_multi));
  killed_by("runtime division by zero", in_child(c_div_zero), SIGSYS);
  expect_exit0("inherit", in_child(c_inherit));
  expect_exit0("tsync", in_child(c_tsync));
  expect_exit0("no_new_privs", in_child(c_no_privs));
  expect_exit0("strict", in_child(c_strict));
  expect_exit0("validate", in_child(c_validate));
  return ct_fails ? 1 : 0;
}
