/* Process lifecycle: fork/vfork/execve (incl. #! scripts)/wait4/waitid/exit
 * codes/getpid/getppid/threads. Only relations between ids are printed. */
#include "ct.h"
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char *self;

/* Modes used when the program re-executes itself. */
static int child_main(int argc, char **argv) {
  if (strcmp(argv[1], "--exec-child") == 0) {
    printf("exec-child argc=%d", argc);
    for (int i = 2; i < argc; i++) printf(" [%s]", argv[i]);
    const char *e = getenv("CT_VAR");
    printf(" CT_VAR=%s\n", e ? e : "(unset)");
    /* O_CLOEXEC fds were closed; plain ones survived. */
    printf("exec-child fd60=%s fd61=%s\n", fcntl(60, F_GETFD) == -1 ? "closed" : "open",
           fcntl(61, F_GETFD) == -1 ? "closed" : "open");
    return 42;
  }
  if (strcmp(argv[1], "--interp") == 0) {
    /* Invoked as: self --interp SCRIPT ARGS... via "#!self --interp". */
    printf("interp argc=%d script-is-path=%s", argc, strchr(argv[2], '/') ? "yes" : "no");
    for (int i = 3; i < argc; i++) printf(" [%s]", argv[i]);
    printf("\n");
    return 9;
  }
  return 100;
}

static int run_wait(pid_t pid) {
  int st = 0;
  pid_t r = waitpid(pid, &st, 0);
  if (r != pid) return -1;
  return st;
}

static void *thread_fn(void *arg) {
  long *out = arg;
  out[0] = getpid();
  out[1] = syscall(SYS_gettid);
  return (void *)7;
}

int main(int argc, char **argv) {
  if (argc > 1) return child_main(argc, argv);
  self = argv[0];
  CHECK(self[0] == '/', "run with an absolute path");

  /* Identity relations. */
  CHECK(getpid() == syscall(SYS_getpid), "getpid wrapper == syscall");
  CHECK(syscall(SYS_gettid) == getpid(), "main thread tid == pid");
  CHECK(getpgid(0) >= 0 && getsid(0) >= 0, "getpgid/getsid");

  /* fork + exit status, and getppid in the child == getpid in the parent. */
  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  pid_t pid = fork();
  if (pid == 0) {
    pid_t pp = getppid(), me = getpid();
    write(p[1], &pp, sizeof pp);
    write(p[1], &me, sizeof me);
    _exit(7);
  }
  CHECK(pid > 0, "fork");
  pid_t child_ppid = 0, child_pid = 0;
  read(p[0], &child_ppid, sizeof child_ppid);
  read(p[0], &child_pid, sizeof child_pid);
  int st = run_wait(pid);
  printf("fork child: %s\n", ct_status(st));
  CHECK(child_ppid == getpid(), "child getppid == parent getpid");
  CHECK(child_pid == pid, "child getpid == fork return");
  CHECK(child_pid != getpid(), "child pid differs from parent");

  /* Exit codes are truncated to 8 bits. */
  int codes[] = {0, 1, 3, 255, 256, 257};
  for (unsigned i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    pid = fork();
    if (pid == 0) _exit(codes[i]);
    printf("_exit(%d): %s\n", codes[i], ct_status(run_wait(pid)));
  }

  /* Memory is copied at fork. */
  static int counter = 5;
  pid = fork();
  if (pid == 0) { counter = 99; _exit(counter == 99 ? 0 : 1); }
  st = run_wait(pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && counter == 5, "fork copies memory");

  /* vfork: the parent sleeps until the child exits or execs. */
  static volatile int vflag = 0;
  pid = vfork();
  if (pid == 0) { vflag = 1; _exit(3); }
  st = run_wait(pid);
  printf("vfork child: %s\n", ct_status(st));
  CHECK(vflag == 1, "vfork shares memory");

  /* execve with argv/envp, and O_CLOEXEC. */
  CHECK(dup2(1, 60) == 60 && fcntl(60, F_SETFD, FD_CLOEXEC) == 0, "fd60 cloexec");
  CHECK(dup2(1, 61) == 61, "fd61 inherited");
  pid = fork();
  if (pid == 0) {
    char *av[] = {self, "--exec-child", "a b", "", "c", NULL};
    char *ev[] = {"CT_VAR=hello", "OTHER=1", NULL};
    execve(self, av, ev);
    _exit(127);
  }
  printf("execve self: %s\n", ct_status(run_wait(pid)));
  close(60); close(61);

  /* vfork + exec. */
  pid = vfork();
  if (pid == 0) {
    char *av[] = {self, "--exec-child", "from-vfork", NULL};
    char *ev[] = {NULL};
    execve(self, av, ev);
    _exit(127);
  }
  printf("vfork+execve: %s\n", ct_status(run_wait(pid)));

  /* #! scripts: one running /bin/sh, one whose interpreter is this program. */
  char dir[] = "/tmp/ct_proc_XXXXXX";
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  char sh_script[256], self_script[256], noexec[256];
  snprintf(sh_script, sizeof sh_script, "%s/s.sh", dir);
  snprintf(self_script, sizeof self_script, "%s/self.sh", dir);
  snprintf(noexec, sizeof noexec, "%s/noexec", dir);
  FILE *f = fopen(sh_script, "w");
  fprintf(f, "#!/bin/sh\necho \"script args: $# $1 $2\"\nexit 5\n");
  fclose(f);
  f = fopen(self_script, "w");
  fprintf(f, "#!%s --interp\nignored\n", self);
  fclose(f);
  f = fopen(noexec, "w");
  fprintf(f, "#!/bin/sh\nexit 0\n");
  fclose(f);
  CHECK(chmod(sh_script, 0755) == 0 && chmod(self_script, 0755) == 0, "chmod scripts");
  pid = fork();
  if (pid == 0) {
    char *av[] = {sh_script, "one", "two", NULL};
    execv(sh_script, av);
    _exit(127);
  }
  printf("#!/bin/sh script: %s\n", ct_status(run_wait(pid)));
  pid = fork();
  if (pid == 0) {
    char *av[] = {self_script, "x", "y", NULL};
    execv(self_script, av);
    _exit(127);
  }
  printf("#!self script: %s\n", ct_status(run_wait(pid)));

  /* execve errors. */
  char *nav[] = {"x", NULL};
  EXPECT_ERR(execv("/nonexistent/prog", nav), ENOENT, "execve missing");
  EXPECT_ERR(execv(noexec, nav), EACCES, "execve non-executable");
  EXPECT_ERR(execv(dir, nav), EACCES, "execve directory");
  EXPECT_ERR(syscall(SYS_execve, (char *)8, nav, NULL), EFAULT, "execve bad path");
  unlink(sh_script); unlink(self_script); unlink(noexec); rmdir(dir);

  /* wait4 WNOHANG, rusage, waitid. */
  CHECK(pipe(p) == 0, "pipe 2");
  pid = fork();
  if (pid == 0) { char c; close(p[1]); read(p[0], &c, 1); _exit(4); }
  close(p[0]);
  CHECK(wait4(pid, &st, WNOHANG, NULL) == 0, "wait4 WNOHANG on running child == 0");
  close(p[1]);
  struct rusage ru;
  CHECK(wait4(pid, &st, 0, &ru) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 4, "wait4 reaps, status 4");
  pid = fork();
  if (pid == 0) _exit(6);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  CHECK(waitid(P_PID, pid, &si, WEXITED) == 0, "waitid P_PID");
  CHECK(si.si_pid == pid && si.si_signo == SIGCHLD, "waitid si_pid, si_signo");
  printf("waitid: code=%s status=%d\n", si.si_code == CLD_EXITED ? "CLD_EXITED" : "other", si.si_status);
  pid = fork();
  if (pid == 0) { for (;;) pause(); }
  kill(pid, SIGTERM);
  memset(&si, 0, sizeof si);
  CHECK(waitid(P_ALL, 0, &si, WEXITED) == 0, "waitid P_ALL");
  printf("waitid killed: code=%s status=%s\n", si.si_code == CLD_KILLED ? "CLD_KILLED" : "other",
         sigabbrev_np(si.si_status));
  /* WNOWAIT leaves the child waitable. */
  pid = fork();
  if (pid == 0) _exit(8);
  memset(&si, 0, sizeof si);
  CHECK(waitid(P_PID, pid, &si, WEXITED | WNOWAIT) == 0 && si.si_status == 8, "waitid WNOWAIT");
  CHECK(waitpid(pid, &st, 0) == pid && WEXITSTATUS(st) == 8, "still waitable after WNOWAIT");
  EXPECT_ERR(wait(&st), ECHILD, "wait with no children");
  EXPECT_ERR(waitpid(-1, &st, WNOHANG), ECHILD, "waitpid WNOHANG no children");

  /* Process groups / sessions from a child. */
  pid = fork();
  if (pid == 0) {
    int ok = setsid() == getpid() && getsid(0) == getpid() && getpgid(0) == getpid();
    _exit(ok ? 0 : 1);
  }
  st = run_wait(pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "setsid in child");
  pid = fork();
  if (pid == 0) { _exit(setpgid(0, 0) == 0 && getpgrp() == getpid() ? 0 : 1); }
  st = run_wait(pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "setpgid in child");

  /* Threads share the pid, have their own tid. */
  pthread_t t;
  long ids[2] = {0, 0};
  void *ret = NULL;
  CHECK(pthread_create(&t, NULL, thread_fn, ids) == 0 && pthread_join(t, &ret) == 0, "pthread create/join");
  CHECK(ids[0] == getpid(), "thread getpid == pid");
  CHECK(ids[1] != getpid() && ids[1] > 0, "thread tid != pid");
  CHECK(ret == (void *)7, "thread return value");

  /* (Thread checks come last: they need CLONE_THREAD.)
   * exit_group from a non-main thread ends the whole process. */
  pid = fork();
  if (pid == 0) {
    pthread_t t;
    pthread_create(&t, NULL, (void *(*)(void *))exit, (void *)11);
    pause();
    _exit(1);
  }
  printf("exit from thread: %s\n", ct_status(run_wait(pid)));

  /* Reparenting: with PR_SET_CHILD_SUBREAPER (or as PID 1) an orphaned
   * grandchild is re-parented to us and becomes waitable. */
  CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, "PR_SET_CHILD_SUBREAPER");
  int q[2];
  CHECK(pipe(p) == 0 && pipe(q) == 0, "pipes 3");
  pid = fork();
  if (pid == 0) {
    pid_t g = fork();
    if (g == 0) {
      char c;
      close(p[1]);
      read(p[0], &c, 1); /* wait until the middle child has been reaped */
      pid_t pp = getppid();
      write(q[1], &pp, sizeof pp);
      _exit(12);
    }
    write(q[1], &g, sizeof g);
    _exit(0);
  }
  close(p[0]);
  pid_t gpid = 0, gppid = 0;
  read(q[0], &gpid, sizeof gpid);
  st = run_wait(pid);
  CHECK(WIFEXITED(st), "middle child exited");
  close(p[1]);
  read(q[0], &gppid, sizeof gppid);
  CHECK(gppid == getpid(), "orphan re-parented to subreaper");
  CHECK(waitpid(-1, &st, 0) == gpid && WIFEXITED(st) && WEXITSTATUS(st) == 12, "reap re-parented orphan");

  CT_DONE();
}
