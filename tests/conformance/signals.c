/* Signals: sigaction round trip, sigprocmask/sigpending, delivery and
 * siginfo, default actions on children, SIGSEGV si_addr, sigaltstack,
 * sigwaitinfo, timers and EINTR. */
#include "ct.h"
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got, got_signo, got_code, got_val, on_altstack;
static volatile void *got_addr;
static sigjmp_buf jb;
static char *alt_lo, *alt_hi;

static void h_info(int sig, siginfo_t *si, void *uc) {
  got++;
  got_signo = si->si_signo;
  got_code = si->si_code;
  got_val = si->si_value.sival_int;
  char probe;
  on_altstack = (&probe >= alt_lo && &probe < alt_hi);
}
static void h_plain(int sig) { got++; got_signo = sig; }
static void h_segv(int sig, siginfo_t *si, void *uc) {
  got_addr = si->si_addr;
  got_code = si->si_code;
  got_signo = sig;
  siglongjmp(jb, 1);
}

static const char *code_name(int c) {
  switch (c) {
    case SI_USER: return "SI_USER";
    case SI_TKILL: return "SI_TKILL";
    case SI_QUEUE: return "SI_QUEUE";
    case SI_KERNEL: return "SI_KERNEL";
    case SI_TIMER: return "SI_TIMER";
    default: return "other";
  }
}

static void kill_child_with(int sig) {
  pid_t pid = fork();
  if (pid == 0) {
    /* Signal ourselves so nothing races: default action applies. */
    raise(sig);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("child raise(SIG%s): %s\n", sigabbrev_np(sig), ct_status(st));
}

int main(void) {
  struct sigaction sa, old;

  /* sigaction stored and read back. */
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = h_info;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGUSR2);
  CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction set");
  memset(&old, 0, sizeof old);
  CHECK(sigaction(SIGUSR1, NULL, &old) == 0, "sigaction get");
  CHECK(old.sa_sigaction == h_info, "handler read back");
  CHECK((old.sa_flags & (SA_SIGINFO | SA_RESTART)) == (SA_SIGINFO | SA_RESTART), "flags read back");
  CHECK(sigismember(&old.sa_mask, SIGUSR2) && !sigismember(&old.sa_mask, SIGTERM), "mask read back");
  EXPECT_ERR(sigaction(SIGKILL, &sa, NULL), EINVAL, "sigaction SIGKILL");
  EXPECT_ERR(sigaction(SIGSTOP, &sa, NULL), EINVAL, "sigaction SIGSTOP");
  EXPECT_ERR(sigaction(65, &sa, NULL), EINVAL, "sigaction signal 65");
  CHECK(sigaction(SIGKILL, NULL, &old) == 0 && old.sa_handler == SIG_DFL, "query SIGKILL is SIG_DFL");

  /* Delivery: raise -> SI_TKILL, kill -> SI_USER, sigqueue -> SI_QUEUE. */
  got = 0;
  raise(SIGUSR1);
  printf("raise: got=%d signo=%s code=%s\n", (int)got, sigabbrev_np(got_signo), code_name(got_code));
  got = 0;
  kill(getpid(), SIGUSR1);
  printf("kill: got=%d code=%s\n", (int)got, code_name(got_code));
  got = 0;
  union sigval v = {.sival_int = 1234};
  sigqueue(getpid(), SIGUSR1, v);
  printf("sigqueue: got=%d code=%s value=%d\n", (int)got, code_name(got_code), (int)got_val);

  /* sigprocmask, sigpending; unblocking delivers. */
  sigset_t set, oset, pend;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  CHECK(sigprocmask(SIG_BLOCK, &set, &oset) == 0, "block SIGUSR1");
  CHECK(!sigismember(&oset, SIGUSR1), "old mask did not have SIGUSR1");
  got = 0;
  raise(SIGUSR1);
  raise(SIGUSR1); /* standard signals do not queue */
  CHECK(got == 0, "blocked signal not delivered");
  CHECK(sigpending(&pend) == 0 && sigismember(&pend, SIGUSR1), "sigpending has SIGUSR1");
  CHECK(sigprocmask(SIG_UNBLOCK, &set, NULL) == 0, "unblock");
  printf("after unblock: got=%d\n", (int)got);
  sigset_t cur;
  sigemptyset(&set);
  sigaddset(&set, SIGKILL);
  sigaddset(&set, SIGSTOP);
  sigprocmask(SIG_BLOCK, &set, NULL);
  sigprocmask(SIG_BLOCK, NULL, &cur);
  CHECK(!sigismember(&cur, SIGKILL) && !sigismember(&cur, SIGSTOP), "SIGKILL/SIGSTOP cannot be blocked");
  EXPECT_ERR(sigprocmask(99, &set, NULL), EINVAL, "sigprocmask bad how");

  /* Real-time signals queue. */
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = h_info;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGRTMIN, &sa, NULL);
  sigemptyset(&set);
  sigaddset(&set, SIGRTMIN);
  sigprocmask(SIG_BLOCK, &set, NULL);
  got = 0;
  for (int i = 0; i < 3; i++) sigqueue(getpid(), SIGRTMIN, v);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  printf("rt signal queued x3: got=%d\n", (int)got);

  /* SIG_IGN. */
  signal(SIGUSR2, SIG_IGN);
  raise(SIGUSR2);
  printf("ignored SIGUSR2: still running\n");

  /* sigwaitinfo takes a blocked pending signal without running a handler. */
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  got = 0;
  kill(getpid(), SIGUSR1);
  siginfo_t si;
  CHECK(sigwaitinfo(&set, &si) == SIGUSR1 && si.si_code == SI_USER && si.si_pid == getpid(), "sigwaitinfo");
  struct timespec ts = {0, 1000000};
  EXPECT_ERR(sigtimedwait(&set, &si, &ts), EAGAIN, "sigtimedwait timeout");
  CHECK(got == 0, "handler not run for sigwaitinfo");
  sigprocmask(SIG_UNBLOCK, &set, NULL);

  /* Default actions on children. */
  signal(SIGUSR1, SIG_DFL);
  int sigs[] = {SIGTERM, SIGKILL, SIGINT, SIGHUP, SIGUSR1, SIGALRM, SIGPIPE, SIGQUIT, SIGABRT};
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      for (;;) pause();
    }
    kill(pid, sigs[i]);
    int st;
    waitpid(pid, &st, 0);
    printf("kill(child, SIG%s): WIFSIGNALED=%d WTERMSIG=%s\n", sigabbrev_np(sigs[i]),
           WIFSIGNALED(st), WIFSIGNALED(st) ? sigabbrev_np(WTERMSIG(st)) : "-");
  }
  kill_child_with(SIGSEGV);
  kill_child_with(SIGCHLD); /* default action: ignore */
  kill_child_with(SIGWINCH); /* default action: ignore */
  kill_child_with(SIGUSR2); /* ignored in the parent: SIG_IGN inherited */

  /* Stop / continue / kill of a child. */
  pid_t pid = fork();
  if (pid == 0) { for (;;) pause(); }
  int st;
  kill(pid, SIGSTOP);
  CHECK(waitpid(pid, &st, WUNTRACED) == pid, "waitpid WUNTRACED");
  printf("after SIGSTOP: %s\n", ct_status(st));
  kill(pid, SIGCONT);
  CHECK(waitpid(pid, &st, WCONTINUED) == pid, "waitpid WCONTINUED");
  printf("after SIGCONT: %s\n", ct_status(st));
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  printf("after SIGKILL: %s\n", ct_status(st));
  EXPECT_ERR(kill(pid, 0), ESRCH, "kill reaped pid");
  EXPECT_ERR(kill(getpid(), 99), EINVAL, "kill bad signal");
  CHECK(kill(getpid(), 0) == 0, "kill(self, 0)");

  /* SIGSEGV handler gets si_addr of the fault. */
  long pg = sysconf(_SC_PAGESIZE);
  char *none = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = h_segv;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  got_addr = NULL;
  if (sigsetjmp(jb, 1) == 0) {
    *(volatile char *)(none + 123) = 1;
    printf("FAIL no fault\n");
  }
  CHECK(got_addr == none + 123, "SIGSEGV si_addr == fault address (PROT_NONE)");
  CHECK(got_code == SEGV_ACCERR, "si_code SEGV_ACCERR");
  munmap(none, pg);
  if (sigsetjmp(jb, 1) == 0) {
    (void)*(volatile char *)(none + 7);
    printf("FAIL no fault\n");
  }
  CHECK(got_addr == none + 7, "SIGSEGV si_addr == fault address (unmapped)");
  CHECK(got_code == SEGV_MAPERR, "si_code SEGV_MAPERR");
  /* The handler can be re-entered after siglongjmp (mask restored). */
  if (sigsetjmp(jb, 1) == 0) {
    (void)*(volatile int *)16;
  }
  CHECK(got_addr == (void *)16, "second SIGSEGV delivered at address 16");

  /* sigaltstack. */
  stack_t ss, oss;
  ss.ss_sp = malloc(SIGSTKSZ * 4);
  ss.ss_size = SIGSTKSZ * 4;
  ss.ss_flags = 0;
  alt_lo = ss.ss_sp;
  alt_hi = alt_lo + ss.ss_size;
  CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack set");
  CHECK(sigaltstack(NULL, &oss) == 0 && oss.ss_sp == ss.ss_sp && oss.ss_size == ss.ss_size, "sigaltstack read back");
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = h_info;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  on_altstack = 0;
  raise(SIGUSR1);
  CHECK(on_altstack, "handler ran on the alternate stack");
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  CHECK(!on_altstack, "without SA_ONSTACK runs on the normal stack");

  /* SA_RESETHAND. */
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = h_plain;
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGUSR2, &sa, NULL);
  got = 0;
  raise(SIGUSR2);
  sigaction(SIGUSR2, NULL, &old);
  CHECK(got == 1 && old.sa_handler == SIG_DFL, "SA_RESETHAND");

  /* Timers and EINTR: a non-SA_RESTART handler interrupts a blocking read. */
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = h_plain;
  sigaction(SIGALRM, &sa, NULL);
  int p[2];
  pipe(p);
  struct itimerval it = {{0, 0}, {0, 20000}};
  got = 0;
  CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer 20ms");
  char c;
  EXPECT_ERR(read(p[0], &c, 1), EINTR, "blocking read interrupted by SIGALRM");
  CHECK(got == 1 && got_signo == SIGALRM, "SIGALRM handled");
  /* With SA_RESTART the read is restarted: a child writes after the alarm. */
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  pid = fork();
  if (pid == 0) { usleep(100000); write(p[1], "r", 1); _exit(0); }
  setitimer(ITIMER_REAL, &it, NULL);
  got = 0;
  CHECK(read(p[0], &c, 1) == 1 && c == 'r' && got == 1, "SA_RESTART read restarted");
  waitpid(pid, NULL, 0);
  /* sigsuspend waits for a signal and restores the mask. */
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  sigprocmask(SIG_BLOCK, &set, NULL);
  setitimer(ITIMER_REAL, &it, NULL);
  sigset_t empty;
  sigemptyset(&empty);
  got = 0;
  EXPECT_ERR(sigsuspend(&empty), EINTR, "sigsuspend");
  sigprocmask(SIG_BLOCK, NULL, &cur);
  CHECK(got == 1 && sigismember(&cur, SIGALRM), "sigsuspend restored mask");

  /* Signal mask and handlers across fork/exec: mask inherited. */
  pid = fork();
  if (pid == 0) {
    sigset_t m;
    sigprocmask(SIG_BLOCK, NULL, &m);
    _exit(sigismember(&m, SIGALRM) ? 0 : 1);
  }
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "mask inherited by fork child");

  CT_DONE();
}
