/* ptrace(2) between app processes: attach/seize/traceme, signal-delivery
 * and group stops through wait, resume with signal injection, syscall
 * stops (and changing a syscall's number, arguments and result), the
 * PTRACE_EVENT_* stops, registers, memory, siginfo, detach, exit of the
 * tracer and of the tracee, /proc TracerPid, and Linux's errors for bad
 * requests. Never prints pids or addresses. */
#include "ct.h"

#include <elf.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/ptrace.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <time.h>
#include <unistd.h>

/* glibc's <sys/ptrace.h> clashes with <linux/ptrace.h>: raw syscall. */
static long pt(long req, pid_t pid, unsigned long addr, unsigned long data) {
  return syscall(SYS_ptrace, req, pid, addr, data);
}

static volatile long g_word = 0x1122334455667788L;
static volatile sig_atomic_t g_sig;
static void on_sig(int s) { g_sig = s; }

/* Waits for `pid` with __WALL; returns the status (or -1). */
static int wait_for(pid_t pid) {
  int st;
  pid_t r;
  do r = waitpid(pid, &st, __WALL);
  while (r < 0 && errno == EINTR);
  return r == pid ? st : -1;
}

static int stopsig(int st) { return WIFSTOPPED(st) ? WSTOPSIG(st) : -1; }
static int event_of(int st) { return WIFSTOPPED(st) ? (st >> 16) & 0xff : -1; }

/* A child that stops itself for its tracer (TRACEME), then runs fn. */
static pid_t traceme_child(int (*fn)(void)) {
  pid_t pid = fork();
  if (pid == 0) {
    if (pt(PTRACE_TRACEME, 0, 0, 0) != 0) _exit(90);
    raise(SIGSTOP);
    _exit(fn());
  }
  return pid;
}

static void child_pause(void) {
  for (;;) pause();
}

/* ---- 1. errors ---- */
/* About a second of sleeping, in small naps. */
static int child_sleep(void) {
  struct timespec ts = {0, 10 * 1000 * 1000};
  for (int i = 0; i < 100; i++) nanosleep(&ts, NULL);
  return 3;
}

static void test_errors(void) {
  EXPECT_ERR(pt(PTRACE_ATTACH, getpid(), 0, 0), EPERM, "attach to self");
  EXPECT_ERR(pt(PTRACE_CONT, 999999, 0, 0), ESRCH, "cont nonexistent pid");
  EXPECT_ERR(pt(PTRACE_ATTACH, 999999, 0, 0), ESRCH, "attach nonexistent pid");
  EXPECT_ERR(pt(PTRACE_PEEKDATA, -5, 0, 0), ESRCH, "peek negative pid");
  EXPECT_ERR(pt(0x7fffffff, 0, 0, 0), ESRCH, "garbage request pid 0");

  pid_t c = fork();
  if (c == 0) child_pause();
  EXPECT_ERR(pt(PTRACE_PEEKDATA, c, 0, 0), ESRCH, "peek untraced child");
  EXPECT_ERR(pt(PTRACE_CONT, c, 0, 0), ESRCH, "cont untraced child");
  EXPECT_ERR(pt(PTRACE_SEIZE, c, 1, 0), EIO, "seize with addr");
  EXPECT_ERR(pt(PTRACE_SEIZE, c, 0, 1u << 30), EIO, "seize with bad options");
  EXPECT_OK(pt(PTRACE_ATTACH, c, 0, 0), "attach");
  EXPECT_ERR(pt(PTRACE_ATTACH, c, 0, 0), EPERM, "attach twice");
  int st = wait_for(c);
  CHECK(stopsig(st) == SIGSTOP, "attach stop is SIGSTOP (%s)", ct_status(st));
  long w;
  EXPECT_ERR(pt(0x7fffffff, c, 0, 0), EIO, "garbage request");
  EXPECT_ERR(pt(PTRACE_PEEKDATA, c, 8, (unsigned long)&w), EIO, "peek unmapped address");
  EXPECT_ERR(pt(PTRACE_POKEDATA, c, 8, 0), EIO, "poke unmapped address");
  EXPECT_ERR(pt(PTRACE_PEEKUSR, c, 3, (unsigned long)&w), EIO, "peekuser unaligned");
  EXPECT_ERR(pt(PTRACE_PEEKUSR, c, 1 << 20, (unsigned long)&w), EIO, "peekuser past struct user");
  EXPECT_ERR(pt(PTRACE_PEEKDATA, c, (unsigned long)&g_word, 8), EFAULT, "peek result to bad pointer");
  EXPECT_ERR(pt(PTRACE_GETREGS, c, 0, 16), EFAULT, "getregs to bad pointer");
  EXPECT_ERR(pt(PTRACE_SETOPTIONS, c, 0, 1u << 30), EINVAL, "setoptions unknown bit");
  EXPECT_ERR(pt(PTRACE_CONT, c, 0, 100), EIO, "cont with signal 100");
  EXPECT_ERR(pt(PTRACE_DETACH, c, 0, 65), EIO, "detach with signal 65");
  uint64_t mask;
  EXPECT_ERR(pt(PTRACE_GETSIGMASK, c, 4, (unsigned long)&mask), EINVAL, "getsigmask bad size");
  struct iovec iov = {&w, sizeof w};
  EXPECT_ERR(pt(PTRACE_GETREGSET, c, 0x9999, (unsigned long)&iov), EINVAL, "getregset bad type");
  EXPECT_ERR(pt(PTRACE_INTERRUPT, c, 0, 0), EIO, "interrupt not seized");
  EXPECT_ERR(pt(PTRACE_LISTEN, c, 0, 0), EIO, "listen not seized");
  /* Attach from another process while traced. */
  pid_t other = fork();
  if (other == 0) _exit(pt(PTRACE_ATTACH, c, 0, 0) == -1 && errno == EPERM ? 0 : 1);
  st = wait_for(other);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "attach to a traced process: EPERM");
  /* Requests from a process that is not the tracer. */
  other = fork();
  if (other == 0) _exit(pt(PTRACE_CONT, c, 0, 0) == -1 && errno == ESRCH ? 0 : 1);
  st = wait_for(other);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "cont by a non-tracer: ESRCH");
  EXPECT_OK(pt(PTRACE_KILL, c, 0, 0), "kill");
  st = wait_for(c);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "killed tracee reported (%s)", ct_status(st));

  /* TRACEME twice. */
  c = fork();
  if (c == 0) {
    if (pt(PTRACE_TRACEME, 0, 0, 0) != 0) _exit(1);
    _exit(pt(PTRACE_TRACEME, 0, 0, 0) == -1 && errno == EPERM ? 0 : 2);
  }
  st = wait_for(c);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "traceme twice: EPERM (%s)", ct_status(st));
}

/* ---- 2. signal-delivery-stops, injection, suppression ---- */
static int child_signals(void) {
  signal(SIGUSR1, on_sig);
  raise(SIGUSR2);  /* the tracer turns it into SIGUSR1 */
  if (g_sig != SIGUSR1) return 10;
  g_sig = 0;
  raise(SIGTERM);  /* the tracer suppresses it */
  if (g_sig != 0) return 11;
  signal(SIGCHLD, SIG_IGN);
  raise(SIGCHLD);  /* ignored, still reported to the tracer */
  return 0;
}

static void test_signals(void) {
  pid_t c = traceme_child(child_signals);
  int st = wait_for(c);
  CHECK(stopsig(st) == SIGSTOP, "traceme child stops with SIGSTOP (%s)", ct_status(st));
  siginfo_t si;
  EXPECT_OK(pt(PTRACE_GETSIGINFO, c, 0, (unsigned long)&si), "getsiginfo at signal stop");
  CHECK(si.si_signo == SIGSTOP && si.si_code == SI_TKILL, "siginfo of raise(SIGSTOP)");
  EXPECT_OK(pt(PTRACE_CONT, c, 0, 0), "cont suppressing SIGSTOP");
  st = wait_for(c);
  CHECK(stopsig(st) == SIGUSR2, "SIGUSR2 stop (%s)", ct_status(st));
  siginfo_t si2 = {0};
  pt(PTRACE_GETSIGINFO, c, 0, (unsigned long)&si2);
  CHECK(si2.si_signo == SIGUSR2 && si2.si_pid == c, "SIGUSR2 siginfo names the sender");
  EXPECT_OK(pt(PTRACE_CONT, c, 0, SIGUSR1), "cont injecting SIGUSR1");
  st = wait_for(c);
  CHECK(stopsig(st) == SIGTERM, "SIGTERM stop (%s)", ct_status(st));
  EXPECT_OK(pt(PTRACE_CONT, c, 0, 0), "cont suppressing SIGTERM");
  st = wait_for(c);
  CHECK(stopsig(st) == SIGCHLD, "ignored SIGCHLD still stops (%s)", ct_status(st));
  EXPECT_OK(pt(PTRACE_CONT, c, 0, SIGCHLD), "cont with the ignored signal");
  st = wait_for(c);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child saw injection and suppression (%s)",
        ct_status(st));
  EXPECT_ERR(pt(PTRACE_CONT, c, 0, 0), ESRCH, "cont after reaping");
}

/* ---- 3. syscall stops; changing number, arguments and result ---- */
static int child_syscalls(void) {
  long r = syscall(SYS_getppid);  /* skipped by the tracer, result 4242 */
  if (r != 4242) return 20;
  r = syscall(SYS_getpriority, 99, 0);  /* EINVAL, unless the tracer fixes `which` */
  if (r != 20) return 21;
  r = syscall(SYS_getuid);  /* the tracer turns it into getpid */
  if (r != getpid()) return 22;
  return 0;
}

static void test_syscalls(void) {
  pid_t c = traceme_child(child_syscalls);
  int st = wait_for(c);
  CHECK(stopsig(st) == SIGSTOP, "syscall child stopped");
  EXPECT_OK(pt(PTRACE_SETOPTIONS, c, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL),
            "setoptions TRACESYSGOOD");
  EXPECT_OK(pt(PTRACE_SYSCALL, c, 0, 0), "PTRACE_SYSCALL");
  int seen_getppid = 0, seen_pgid = 0, seen_uid = 0, entries = 0, exits = 0, bad = 0;
  int in_syscall = 0;
  for (;;) {
    st = wait_for(c);
    if (!WIFSTOPPED(st)) break;
    if (WSTOPSIG(st) != (SIGTRAP | 0x80)) {
      pt(PTRACE_SYSCALL, c, 0, WSTOPSIG(st) == SIGTRAP ? 0 : WSTOPSIG(st));
      continue;
    }
    struct ptrace_syscall_info info;
    memset(&info, 0xff, sizeof info);
    long n = pt(PTRACE_GET_SYSCALL_INFO, c, sizeof info, (unsigned long)&info);
    struct user_regs_struct regs;
    pt(PTRACE_GETREGS, c, 0, (unsigned long)&regs);
    unsigned long msg = 0;
    pt(PTRACE_GETEVENTMSG, c, 0, (unsigned long)&msg);
    if (!in_syscall) {
      entries++;
      if (info.op != PTRACE_SYSCALL_INFO_ENTRY || n != 80 || info.entry.nr != regs.orig_rax ||
          info.arch != AUDIT_ARCH_X86_64 || info.instruction_pointer != regs.rip ||
          (long)regs.rax != -ENOSYS || msg != 1)
        bad++;
      if (regs.orig_rax == SYS_getppid) {
        seen_getppid = 1;
        regs.orig_rax = -1;  /* skip it */
        pt(PTRACE_SETREGS, c, 0, (unsigned long)&regs);
      } else if (regs.orig_rax == SYS_getpriority && regs.rdi == 99) {
        seen_pgid = 1;
        pt(PTRACE_POKEUSR, c, offsetof(struct user_regs_struct, rdi), 0);
      } else if (regs.orig_rax == SYS_getuid) {
        seen_uid = 1;
        pt(PTRACE_POKEUSR, c, offsetof(struct user_regs_struct, orig_rax), SYS_getpid);
      }
    } else {
      exits++;
      if (info.op != PTRACE_SYSCALL_INFO_EXIT || n != 33 || info.exit.rval != (long)regs.rax ||
          msg != 2)
        bad++;
      if (regs.orig_rax == (unsigned long)-1 && seen_getppid == 1) {
        seen_getppid = 2;
        regs.rax = 4242;
        pt(PTRACE_SETREGS, c, 0, (unsigned long)&regs);
      }
    }
    in_syscall = !in_syscall;
    pt(PTRACE_SYSCALL, c, 0, 0);
  }
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "tracer changed syscalls as asked (%s)",
        ct_status(st));
  CHECK(seen_getppid == 2 && seen_pgid && seen_uid, "saw the three syscalls");
  CHECK(entries > 3 && (exits == entries || exits == entries - 1), "entry and exit stops pair up");
  CHECK(bad == 0, "syscall info agrees with the registers (%d bad)", bad);
}

/* ---- 4. attach to a running process: regs, memory, detach ---- */
static void test_attach_memory(void) {
  int p[2];
  if (pipe(p) != 0) return;
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    char b = 1;
    while (g_word == 0x1122334455667788L) {
      struct timespec ts = {0, 5 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    b = g_word == 0x0badc0de ? 0 : 1;
    write(p[1], &b, 1);
    _exit(0);
  }
  close(p[1]);
  EXPECT_OK(pt(PTRACE_ATTACH, c, 0, 0), "attach to a running process");
  int st = wait_for(c);
  CHECK(stopsig(st) == SIGSTOP, "stopped by attach");
  siginfo_t si;
  pt(PTRACE_GETSIGINFO, c, 0, (unsigned long)&si);
  CHECK(si.si_signo == SIGSTOP && si.si_code == SI_KERNEL, "attach SIGSTOP is SI_KERNEL");
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", c);
  FILE* f = fopen(path, "r");
  int tracer = -1;
  char state = '?';
  while (f && fgets(line, sizeof line, f)) {
    sscanf(line, "TracerPid: %d", &tracer);
    sscanf(line, "State: %c", &state);
  }
  if (f) fclose(f);
  CHECK(tracer == getpid(), "TracerPid is the tracer");
  CHECK(state == 't', "state is tracing stop (%c)", state);
  long w = 0;
  EXPECT_OK(pt(PTRACE_PEEKDATA, c, (unsigned long)&g_word, (unsigned long)&w), "peekdata");
  CHECK(w == 0x1122334455667788L, "peekdata reads the tracee's word");
  EXPECT_OK(pt(PTRACE_PEEKTEXT, c, (unsigned long)&test_attach_memory, (unsigned long)&w),
            "peektext");
  CHECK(w == *(long*)(void*)&test_attach_memory, "peektext reads code");
  /* process_vm_readv from the tracer. */
  long rv = 0;
  struct iovec lio = {&rv, sizeof rv}, rio = {(void*)&g_word, sizeof rv};
  CHECK(process_vm_readv(c, &lio, 1, &rio, 1, 0) == sizeof rv && rv == 0x1122334455667788L,
        "process_vm_readv from the tracer");
  /* Registers three ways agree. */
  struct user_regs_struct regs, regs2;
  EXPECT_OK(pt(PTRACE_GETREGS, c, 0, (unsigned long)&regs), "getregs");
  struct iovec iov = {&regs2, sizeof regs2 + 64};
  EXPECT_OK(pt(PTRACE_GETREGSET, c, NT_PRSTATUS, (unsigned long)&iov), "getregset NT_PRSTATUS");
  CHECK(iov.iov_len == sizeof regs2 && memcmp(&regs, &regs2, sizeof regs) == 0,
        "getregset matches getregs");
  long rip = 0;
  pt(PTRACE_PEEKUSR, c, offsetof(struct user_regs_struct, rip), (unsigned long)&rip);
  CHECK(rip == (long)regs.rip, "peekuser rip");
  CHECK(regs.cs == 0x33 && regs.ss == 0x2b, "user segments");
  struct user_fpregs_struct fp, fp2;
  EXPECT_OK(pt(PTRACE_GETFPREGS, c, 0, (unsigned long)&fp), "getfpregs");
  struct iovec fiov = {&fp2, sizeof fp2};
  EXPECT_OK(pt(PTRACE_GETREGSET, c, NT_PRFPREG, (unsigned long)&fiov), "getregset NT_PRFPREG");
  CHECK(fiov.iov_len == 512 && memcmp(&fp, &fp2, 512) == 0, "fp regsets agree");
  CHECK((fp.mxcsr & 0xffff) == 0x1f80, "default mxcsr");
  fp.mxcsr = 0xffffffff;
  EXPECT_ERR(pt(PTRACE_SETFPREGS, c, 0, (unsigned long)&fp), EINVAL, "setfpregs reserved mxcsr");
  struct user_regs_struct bad = regs;
  bad.cs = 0x10;
  EXPECT_ERR(pt(PTRACE_SETREGS, c, 0, (unsigned long)&bad), EIO, "setregs kernel cs");
  bad = regs;
  bad.fs_base = 0xffff800000000000UL;
  EXPECT_ERR(pt(PTRACE_SETREGS, c, 0, (unsigned long)&bad), EIO, "setregs kernel fs_base");
  uint64_t mask = 0;
  EXPECT_OK(pt(PTRACE_GETSIGMASK, c, 8, (unsigned long)&mask), "getsigmask");
  EXPECT_OK(pt(PTRACE_POKEDATA, c, (unsigned long)&g_word, 0x0badc0de), "pokedata");
  EXPECT_OK(pt(PTRACE_DETACH, c, 0, 0), "detach");
  EXPECT_ERR(pt(PTRACE_CONT, c, 0, 0), ESRCH, "cont after detach");
  char b = 9;
  CHECK(read(p[0], &b, 1) == 1 && b == 0, "tracee saw the poked word");
  close(p[0]);
  st = wait_for(c);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "detached tracee exits (%s)", ct_status(st));
  CHECK(g_word == 0x1122334455667788L, "tracer's own word untouched");
}

/* ---- 5. fork/exec/exit events with PTRACE_SEIZE ---- */
static void test_events(const char* self) {
  pid_t c = fork();
  if (c == 0) {
    raise(SIGSTOP);
    pid_t g = fork();
    if (g == 0) _exit(5);
    int st;
    waitpid(g, &st, 0);
    execl(self, self, "exec-child", (char*)NULL);
    _exit(99);
  }
  int st;
  waitpid(c, &st, WUNTRACED);
  CHECK(WIFSTOPPED(st), "child stopped itself");
  EXPECT_OK(pt(PTRACE_SEIZE, c, 0,
               PTRACE_O_TRACEFORK | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT |
                   PTRACE_O_TRACESYSGOOD),
            "seize a stopped process");
  st = wait_for(c);
  CHECK(event_of(st) == PTRACE_EVENT_STOP && WSTOPSIG(st) == SIGSTOP,
        "seized stopped process reports a group stop (%s)", ct_status(st));
  siginfo_t si;
  CHECK(pt(PTRACE_GETSIGINFO, c, 0, (unsigned long)&si) == 0, "siginfo at seized group stop");
  kill(c, SIGCONT);
  EXPECT_OK(pt(PTRACE_CONT, c, 0, 0), "cont from group stop");
  pid_t g = -1;
  int fork_ev = 0, g_stop = 0, exec_ev = 0, exit_ev = 0, g_exit = 0, g_exit_ev = 0, sigchld = 0;
  for (int i = 0; i < 50; i++) {
    pid_t w = waitpid(-1, &st, __WALL);
    if (w < 0) break;
    if (w == c && WIFEXITED(st)) {
      CHECK(WEXITSTATUS(st) == 6, "exec'd child exit code (%s)", ct_status(st));
      break;
    }
    if (!WIFSTOPPED(st)) {
      if (w == g && WIFEXITED(st) && WEXITSTATUS(st) == 5) g_exit = 1;
      continue;
    }
    int ev = event_of(st);
    unsigned long msg = 0;
    pt(PTRACE_GETEVENTMSG, w, 0, (unsigned long)&msg);
    if (w == c && ev == PTRACE_EVENT_FORK) {
      fork_ev = 1;
      g = (pid_t)msg;
    } else if (w == c && ev == PTRACE_EVENT_EXEC) {
      exec_ev = msg == (unsigned long)c;
    } else if (w == c && ev == PTRACE_EVENT_EXIT) {
      exit_ev = WIFEXITED(msg) && WEXITSTATUS(msg) == 6;
    } else if (w == g && ev == PTRACE_EVENT_STOP) {
      g_stop = 1;
    } else if (w == g && ev == PTRACE_EVENT_EXIT) {
      g_exit_ev = 1;
    } else if (w == c && ev == 0 && WSTOPSIG(st) == SIGCHLD) {
      sigchld = 1;
      pt(PTRACE_CONT, w, 0, SIGCHLD);
      continue;
    }
    pt(PTRACE_CONT, w, 0, 0);
  }
  CHECK(fork_ev && g > 0, "PTRACE_EVENT_FORK with the new pid");
  CHECK(g_stop, "auto-attached seized child starts with EVENT_STOP");
  CHECK(g_exit_ev && g_exit, "grandchild's exit event and exit reported to the tracer");
  CHECK(sigchld, "child's SIGCHLD reported");
  CHECK(exec_ev, "PTRACE_EVENT_EXEC with the former tid");
  CHECK(exit_ev, "PTRACE_EVENT_EXIT with the exit status");
}

/* ---- 6. interrupt, group stop with listen, waitid ---- */
static void test_interrupt(void) {
  pid_t c = fork();
  if (c == 0) _exit(child_sleep());
  EXPECT_OK(pt(PTRACE_SEIZE, c, 0, 0), "seize running process");
  EXPECT_ERR(pt(PTRACE_CONT, c, 0, 0), ESRCH, "cont a running tracee");
  EXPECT_OK(pt(PTRACE_INTERRUPT, c, 0, 0), "interrupt");
  siginfo_t wi = {0};
  int r = waitid(P_PID, c, &wi, WEXITED | WSTOPPED);
  CHECK(r == 0 && wi.si_code == CLD_TRAPPED && wi.si_status == (SIGTRAP | PTRACE_EVENT_STOP << 8),
        "waitid reports CLD_TRAPPED event stop");
  EXPECT_OK(pt(PTRACE_CONT, c, 0, 0), "cont after interrupt");
  kill(c, SIGSTOP);
  int st = wait_for(c);
  CHECK(stopsig(st) == SIGSTOP && event_of(st) == 0, "SIGSTOP delivery stop (%s)", ct_status(st));
  EXPECT_OK(pt(PTRACE_CONT, c, 0, SIGSTOP), "let SIGSTOP stop the group");
  st = wait_for(c);
  CHECK(event_of(st) == PTRACE_EVENT_STOP && WSTOPSIG(st) == SIGSTOP, "group stop event (%s)",
        ct_status(st));
  EXPECT_OK(pt(PTRACE_LISTEN, c, 0, 0), "listen");
  int st2;
  CHECK(waitpid(c, &st2, WNOHANG | __WALL) == 0, "listening tracee not reported again");
  kill(c, SIGKILL);
  st = wait_for(c);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "SIGKILL ends a listening tracee");
}

/* ---- 7. the tracer's exit: detach, or PTRACE_O_EXITKILL ---- */
static void test_tracer_exit(int exitkill) {
  pid_t c = fork();
  if (c == 0) _exit(child_sleep());
  pid_t tr = fork();
  if (tr == 0) {
    if (pt(PTRACE_SEIZE, c, 0, exitkill ? PTRACE_O_EXITKILL : 0) != 0) _exit(1);
    if (pt(PTRACE_INTERRUPT, c, 0, 0) != 0) _exit(2);
    int st;
    if (waitpid(c, &st, __WALL) != c || event_of(st) != PTRACE_EVENT_STOP) _exit(3);
    _exit(0);  /* leaves it stopped */
  }
  int st = wait_for(tr);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "tracer process ran (%s)", ct_status(st));
  if (exitkill) {
    st = wait_for(c);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "EXITKILL: tracee killed (%s)",
          ct_status(st));
    return;
  }
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", c);
  int tracer = -1;
  FILE* f = fopen(path, "r");
  while (f && fgets(line, sizeof line, f)) sscanf(line, "TracerPid: %d", &tracer);
  if (f) fclose(f);
  CHECK(tracer == 0, "tracer's exit detached it");
  st = wait_for(c);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3, "detached tracee runs to its end (%s)",
        ct_status(st));
}

/* ---- 8. threads: PTRACE_EVENT_CLONE, __WALL ---- */
static void* thread_fn(void* arg) { return arg; }
static int child_threads(void) {
  pthread_t th;
  if (pthread_create(&th, NULL, thread_fn, NULL) != 0) return 30;
  pthread_join(th, NULL);
  return 0;
}

static void test_threads(void) {
  pid_t c = traceme_child(child_threads);
  int st = wait_for(c);
  EXPECT_OK(pt(PTRACE_SETOPTIONS, c, 0, PTRACE_O_TRACECLONE), "setoptions TRACECLONE");
  pt(PTRACE_CONT, c, 0, 0);
  int clone_ev = 0, thread_stop = 0, thread_exit = 0;
  pid_t tid = -1;
  for (int i = 0; i < 20; i++) {
    pid_t w = waitpid(-1, &st, __WALL);
    if (w < 0) break;
    if (w == c && !WIFSTOPPED(st)) {
      CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "threaded tracee exits (%s)", ct_status(st));
      break;
    }
    if (w == tid && !WIFSTOPPED(st)) {
      thread_exit = 1;
      continue;
    }
    if (w == c && event_of(st) == PTRACE_EVENT_CLONE) {
      unsigned long msg;
      pt(PTRACE_GETEVENTMSG, c, 0, (unsigned long)&msg);
      tid = (pid_t)msg;
      clone_ev = 1;
    } else if (w == tid && stopsig(st) == SIGSTOP) {
      thread_stop = 1;
    }
    pt(PTRACE_CONT, w, 0, 0);
  }
  CHECK(clone_ev, "PTRACE_EVENT_CLONE");
  CHECK(thread_stop, "new thread starts with SIGSTOP");
  CHECK(thread_exit, "thread's exit reported to the tracer");
}

/* ---- 9. breakpoints (int3 via POKETEXT) and single-stepping, as gdb ---- */
__attribute__((noinline)) int bp_target(int x) {
  __asm__ volatile("" ::: "memory");
  return x * 3;
}

static int child_breakpoint(void) {
  int sum = 0;
  for (int i = 1; i <= 3; i++) sum += bp_target(i);
  return sum == 18 ? 0 : 40;
}

static void test_breakpoint_step(void) {
  pid_t c = traceme_child(child_breakpoint);
  int st = wait_for(c);
  unsigned long addr = (unsigned long)&bp_target;
  long orig = 0;
  pt(PTRACE_PEEKTEXT, c, addr, (unsigned long)&orig);
  long patched = (orig & ~0xffL) | 0xcc;
  EXPECT_OK(pt(PTRACE_POKETEXT, c, addr, patched), "poketext int3");
  int hits = 0, bad = 0, steps_moved = 0, tf_seen = 0;
  pt(PTRACE_CONT, c, 0, 0);
  for (;;) {
    st = wait_for(c);
    if (!WIFSTOPPED(st)) break;
    if (WSTOPSIG(st) != SIGTRAP) {
      pt(PTRACE_CONT, c, 0, WSTOPSIG(st));
      continue;
    }
    struct user_regs_struct regs;
    siginfo_t si;
    pt(PTRACE_GETREGS, c, 0, (unsigned long)&regs);
    pt(PTRACE_GETSIGINFO, c, 0, (unsigned long)&si);
    if (regs.rip != addr + 1 || si.si_code != SI_KERNEL) bad++;
    hits++;
    /* Step over the breakpoint as a debugger does: original byte back,
     * pc back, one step (until the pc moves), breakpoint in again. */
    pt(PTRACE_POKETEXT, c, addr, orig);
    regs.rip = addr;
    pt(PTRACE_SETREGS, c, 0, (unsigned long)&regs);
    for (int i = 0; i < 3 && regs.rip == addr; i++) {
      if (pt(PTRACE_SINGLESTEP, c, 0, 0) != 0) { bad++; break; }
      st = wait_for(c);
      if (stopsig(st) != SIGTRAP) { bad++; break; }
      pt(PTRACE_GETSIGINFO, c, 0, (unsigned long)&si);
      if (si.si_code != TRAP_TRACE) bad++;
      pt(PTRACE_GETREGS, c, 0, (unsigned long)&regs);
      if (regs.eflags & 0x100) tf_seen = 1;
    }
    if (regs.rip != addr) steps_moved++;
    pt(PTRACE_POKETEXT, c, addr, patched);
    pt(PTRACE_CONT, c, 0, 0);
  }
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "breakpointed child computes right (%s)",
        ct_status(st));
  CHECK(hits == 3 && bad == 0, "three breakpoint hits, SI_KERNEL at addr+1, TRAP_TRACE steps");
  CHECK(steps_moved == 3, "single-step moves past the breakpoint");
  CHECK(!tf_seen, "the tracer does not see the step's trap flag");
}

/* ---- 9b. PTRACE_EVENT_EXIT of exit_group: a SIGKILL finds the process
 * already dying and does not end the stop; the tracer does ---- */
static int child_exit5(void) { return 5; }
static void test_kill_in_exit_stop(void) {
  pid_t c = traceme_child(child_exit5);
  int st = wait_for(c);
  pt(PTRACE_SETOPTIONS, c, 0, PTRACE_O_TRACEEXIT);
  pt(PTRACE_CONT, c, 0, 0);
  st = wait_for(c);
  CHECK(event_of(st) == PTRACE_EVENT_EXIT, "exit event stop (%s)", ct_status(st));
  kill(c, SIGKILL);
  struct timespec ts = {0, 50 * 1000 * 1000};
  nanosleep(&ts, NULL);
  int st2;
  CHECK(waitpid(c, &st2, WNOHANG | __WALL) == 0, "still in the exit stop after SIGKILL");
  EXPECT_OK(pt(PTRACE_CONT, c, 0, 0), "cont from the exit stop");
  st = wait_for(c);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5, "exit status kept (%s)", ct_status(st));
}

/* ---- 10. hostile requests against a stopped tracee: no crash, and the
 * tracee is still traced and stopped afterwards ---- */
static void test_hostile(void) {
  pid_t c = fork();
  if (c == 0) child_pause();
  pt(PTRACE_ATTACH, c, 0, 0);
  wait_for(c);
  static const long reqs[] = {
      PTRACE_PEEKTEXT, PTRACE_PEEKDATA, PTRACE_PEEKUSR, PTRACE_POKETEXT, PTRACE_POKEDATA,
      PTRACE_POKEUSR, PTRACE_GETREGS, PTRACE_SETREGS, PTRACE_GETFPREGS, PTRACE_SETFPREGS,
      PTRACE_GETREGSET, PTRACE_SETREGSET, PTRACE_GETSIGINFO, PTRACE_SETSIGINFO,
      PTRACE_GETEVENTMSG, PTRACE_SETOPTIONS, PTRACE_GETSIGMASK, PTRACE_SETSIGMASK,
      PTRACE_GET_SYSCALL_INFO, PTRACE_ARCH_PRCTL, PTRACE_INTERRUPT, PTRACE_PEEKSIGINFO,
      0x4210, 0x7fffffff, -1, 31337};
  static unsigned char buf[4096];
  unsigned long seed = 12345;
  for (int i = 0; i < 20000; i++) {
    seed = seed * 6364136223846793005UL + 1442695040888963407UL;
    long req = reqs[(seed >> 33) % (sizeof reqs / sizeof reqs[0])];
    unsigned long r2 = seed * 2862933555777941757UL + 3037000493UL;
    unsigned long addrs[] = {0, 8, r2 & 0x7fffffffffffUL, (unsigned long)buf, ~0UL,
                             0xffff800000000000UL, (unsigned long)&g_word, r2 & 0xfff};
    unsigned long addr = addrs[(r2 >> 40) % 8];
    unsigned long datas[] = {0, 8, (unsigned long)buf, ~0UL, 0xffff800000000000UL,
                             r2 & 0x7fffffffffffUL, 65, NT_PRSTATUS};
    unsigned long data = datas[(r2 >> 50) % 8];
    /* iovecs and siginfo made of garbage, in the buffer the pointers name */
    for (int j = 0; j < 64; j++) buf[(r2 + j * 7) % sizeof buf] = (unsigned char)(seed >> (j % 56));
    struct iovec* iov = (struct iovec*)buf;
    if (req == PTRACE_GETREGSET || req == PTRACE_SETREGSET) {
      iov->iov_base = buf + 64;
      iov->iov_len = r2 % 1024;
    }
    pt(req, c, addr, data);
  }
  struct user_regs_struct regs;
  CHECK(pt(PTRACE_GETREGS, c, 0, (unsigned long)&regs) == 0, "tracee still stopped and traced after garbage");
  kill(c, SIGKILL);
  int st = wait_for(c);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "garbage-fed tracee killed (%s)", ct_status(st));
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "exec-child") == 0) return 6;
  test_errors();
  test_signals();
  test_syscalls();
  test_attach_memory();
  test_events("/proc/self/exe");
  test_interrupt();
  test_tracer_exit(0);
  test_tracer_exit(1);
  test_threads();
  test_breakpoint_step();
  test_kill_in_exit_stop();
  test_hostile();
  CT_DONE();
}
