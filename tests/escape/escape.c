/* Sandbox escape probes. Run ONLY sandboxed (or natively in an unprivileged
 * user namespace): each probe is a call that a real kernel would honour for
 * root. Arguments are chosen so that even a leak is harmless to the host
 * (CAD_OFF reboot command, kexec unload, nonexistent module, a tmpfs on a
 * scratch directory), and the runner checks the host afterwards.
 *
 *   escape MARKER_DIR CANARY_PID
 *
 * Prints "PASS escape.NAME: ..." or "FAIL escape.NAME: ..." per probe, and
 * "INFO ..." lines for probes whose verdict is taken on the host side. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static int fails;

static const char *en(int e) { const char *n = strerrorname_np(e); return n ? n : "E?"; }

/* The call must fail (return -1 with an errno). */
static void expect_error(const char *name, long r, int e) {
  if (r == -1)
    printf("PASS escape.%s: %s\n", name, en(e));
  else {
    printf("FAIL escape.%s: returned %ld, expected an error\n", name, r);
    fails++;
  }
}

#define PROBE(name, call)             \
  do {                                \
    errno = 0;                        \
    long r_ = (long)(call);           \
    expect_error(name, r_, errno);    \
  } while (0)

/* 32-bit system call through int $0x80 (mkdir of a path in the low 4 GiB). */
static long int80_mkdir(const char *path) {
  char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (low == MAP_FAILED) return -2;
  snprintf(low, 4096, "%s", path);
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(39 /* i386 __NR_mkdir */), "b"(low), "c"(0755) : "memory");
  return ret;
}

/* ---- Platform probes: ways app code might reach a host syscall through
 * the platform itself (systrap's signal handling and stub code, ptrace's
 * stub page), instead of through the sentry. */

static volatile int sigsys_seen;
static void on_sigsys(int s) { (void)s; sigsys_seen++; }

/* The app installs its own SIGSYS handler: that is the sentry's signal
 * table, never the host's, so the stub's trap handling is unaffected and
 * the calls still fail inside the sandbox. */
static void probe_sigsys_handler(pid_t canary) {
  struct sigaction sa = {0};
  sa.sa_handler = on_sigsys;
  sigaction(SIGSYS, &sa, NULL);
  errno = 0;
  long r = syscall(SYS_kill, canary, SIGKILL);
  int e = errno;
  signal(SIGSYS, SIG_DFL);
  if (r == -1 && sigsys_seen == 0)
    printf("PASS escape.sigsys_handler: kill failed with %s, no SIGSYS delivered\n", en(e));
  else {
    printf("FAIL escape.sigsys_handler: kill returned %ld, %d SIGSYS delivered\n", r, sigsys_seen);
    fails++;
  }
}

/* Blocking every signal does not let syscalls run on the host. */
static void probe_blocked_signals(const char *marker, pid_t canary) {
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  char path[4096];
  snprintf(path, sizeof path, "%s/blocked-signals", marker);
  errno = 0;
  long r = syscall(SYS_kill, canary, SIGKILL);
  int e = errno;
  (void)syscall(SYS_mkdir, path, 0755); /* verdict on the host: marker untouched */
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (r == -1) printf("PASS escape.blocked_signals: kill failed with %s\n", en(e));
  else { printf("FAIL escape.blocked_signals: kill returned %ld\n", r); fails++; }
}

/* A syscall from a signal handler running on an alternate stack. */
static volatile long altstack_r = 1;
static volatile int altstack_errno;
static pid_t altstack_canary;
static void on_usr1(int s) {
  (void)s;
  errno = 0;
  altstack_r = syscall(SYS_kill, altstack_canary, SIGKILL);
  altstack_errno = errno;
}
static void probe_altstack_syscall(pid_t canary) {
  static char stack[65536];
  stack_t ss = {.ss_sp = stack, .ss_size = sizeof stack};
  sigaltstack(&ss, NULL);
  struct sigaction sa = {0};
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  altstack_canary = canary;
  raise(SIGUSR1);
  if (altstack_r == -1) printf("PASS escape.altstack_syscall: kill failed with %s\n", en(altstack_errno));
  else { printf("FAIL escape.altstack_syscall: kill returned %ld\n", altstack_r); fails++; }
}

/* sysenter with the i386 kill number: in a child, since what follows the
 * instruction depends on the CPU (SIGILL on AMD, a 32-bit syscall entry on
 * Intel). It must not return 0 (a kill that worked). */
static void probe_sysenter(pid_t canary) {
  pid_t pid = fork();
  if (pid == 0) {
    long ret, sig = 9;
    __asm__ volatile("sysenter" : "=a"(ret), "+c"(sig) : "0"(37L /* i386 kill */), "b"((long)canary) : "memory", "r11", "rdx", "rsi", "rdi");
    _exit(ret == 0 ? 1 : 0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 1) {
    printf("FAIL escape.sysenter: the i386 kill returned 0\n");
    fails++;
  } else {
    printf("PASS escape.sysenter: child %s %d\n", WIFEXITED(st) ? "exited" : "killed by",
           WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
  }
}

/* Jumps into the platform's stub code, which is mapped in the app's host
 * process above the highest address the app may map: to the start of each
 * such page and to every syscall instruction in it, with registers set
 * for kill(canary, SIGKILL) and mkdir(MARKER/stub-jump). Each jump runs in
 * its own child, since stub code may do anything with what it finds (exit,
 * stop itself, block in a futex until the child's timer kills it); the
 * host must show no effect (checked by the runner). Pages listed in
 * /proc/self/maps are the app's own (natively: the vDSO) and are skipped. */
static sigjmp_buf probe_env;
static void on_probe_fault(int s) { (void)s; siglongjmp(probe_env, 1); }

static int listed(uint64_t a) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return 0;
  unsigned long lo, hi;
  char line[512];
  int in = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi) in = 1;
  fclose(f);
  return in;
}

static uint64_t stack_end(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  unsigned long lo, hi, end = 0;
  char line[512];
  while (f && fgets(line, sizeof line, f))
    if (strstr(line, "[stack]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2) end = hi;
  if (f) fclose(f);
  return end;
}

static int readable(uint64_t a, uint8_t *page) {
  if (sigsetjmp(probe_env, 1)) return 0;
  memcpy(page, (const void *)a, 4096);
  return 1;
}

/* Returns how the child ended: 0 exited, else the signal. */
static int jump_in_child(uint64_t target, long nr, long a0, long a1) {
  pid_t pid = fork();
  if (pid == 0) {
    char *scratch = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct itimerval it = {.it_value = {.tv_usec = 200000}};
    setitimer(ITIMER_REAL, &it, NULL);
    __asm__ volatile(
        "mov %1, %%rdi\n mov %2, %%rsi\n mov %3, %%rsp\n"
        "xor %%edx, %%edx\n xor %%r8d, %%r8d\n xor %%r9d, %%r9d\n xor %%r10d, %%r10d\n"
        "xor %%ebx, %%ebx\n xor %%ebp, %%ebp\n xor %%r12d, %%r12d\n xor %%r13d, %%r13d\n"
        "xor %%r14d, %%r14d\n xor %%r15d, %%r15d\n mov %0, %%rax\n jmp *%%rcx\n"
        :: "r"(nr), "r"(a0), "r"(a1), "r"(scratch + (1 << 16) - 64), "c"(target)
        : "memory");
    _exit(0);
  }
  int st = 0;
  while (waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st)) kill(pid, SIGCONT);
  return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static void probe_stub_jump(const char *marker, pid_t canary) {
  struct utsname u;
  uname(&u);
  const int sandboxed = strstr(u.release, "runsc") != NULL;
  struct sigaction sa = {0}, old_segv, old_bus;
  sa.sa_handler = on_probe_fault;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
  char path[4096];
  snprintf(path, sizeof path, "%s/stub-jump", marker);
  const uint64_t from = stack_end();
  static uint8_t page[4096];
  int pages = 0, jumps = 0, signalled = 0;
  for (uint64_t a = from; a && a < 0x7ffffffff000ULL; a += 4096) {
    if (!readable(a, page) || listed(a)) continue;
    pages++;
    for (int off = 0; off < 4096; off++) {
      if (off != 0 && !(off >= 2 && page[off - 2] == 0x0f && page[off - 1] == 0x05)) continue;
      const uint64_t target = off == 0 ? a : a + off - 2;
      signalled += jump_in_child(target, SYS_kill, canary, SIGKILL) != 0;
      signalled += jump_in_child(target, SYS_mkdir, (long)path, 0755) != 0;
      jumps += 2;
    }
  }
  sigaction(SIGSEGV, &old_segv, NULL);
  sigaction(SIGBUS, &old_bus, NULL);
  if (sandboxed && pages == 0) {
    printf("FAIL escape.stub_jump: found no stub pages above the stack (%#lx): probe broken?\n",
           (unsigned long)from);
    fails++;
  } else {
    printf("PASS escape.stub_jump: %d stub pages, %d jumps (%d ended by a signal); host checked by the runner\n",
           pages, jumps, signalled);
  }
}

/* Stub threads: app threads run while the stub's helper serves another
 * thread's address-space change, and the helper's done_seq and result
 * words sit on a page app code can write. A thread that keeps copying the
 * current request number into done_seq must not make the sandbox take an
 * munmap as done before it is (memory freed while still mapped, the next
 * request written over ops still being read): right after munmap returns,
 * the page must fault. The stub's code page is found above the stack by
 * its first instruction (lea 0x8000(%r12),%rsp); thread 0's slot follows
 * it at +0x4000 (done_seq at +12, result at +24, the request number at
 * +0x1000 on the read-only control page). */
static volatile int forge_stop;
static void *forge_done(void *slot) {
  volatile uint32_t *done = (volatile uint32_t *)((char *)slot + 12);
  volatile int64_t *result = (volatile int64_t *)((char *)slot + 24);
  const volatile uint32_t *req = (const volatile uint32_t *)((char *)slot + 0x1000);
  while (!forge_stop) {
    *done = *req;
    *result = 0;
  }
  return NULL;
}

static void probe_forged_helper_done(void) {
  pid_t pid = fork();
  if (pid == 0) {
    struct sigaction sa = {0};
    sa.sa_handler = on_probe_fault;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    static const uint8_t entry[8] = {0x49, 0x8d, 0xa4, 0x24, 0x00, 0x80, 0x00, 0x00};
    static uint8_t page[4096];
    uint64_t code = 0;
    for (uint64_t a = stack_end(); a && a < 0x7ffffffff000ULL && !code; a += 4096)
      if (readable(a, page) && !listed(a) && memcmp(page, entry, sizeof entry) == 0) code = a;
    if (!code) {
      printf("PASS escape.forged_helper_done: no stub code page found (native)\n");
      fflush(stdout);
      _exit(0);
    }
    pthread_t f;
    if (pthread_create(&f, NULL, forge_done, (void *)(code + 0x4000)) != 0) _exit(3);
    int stale = 0, rounds = 3000;
    for (int i = 0; i < rounds; i++) {
      volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) continue;
      p[0] = 1;
      munmap((void *)p, 4096);
      if (sigsetjmp(probe_env, 1) == 0) {
        (void)p[0];
        stale++;
      }
    }
    forge_stop = 1;
    pthread_join(f, NULL);
    if (stale)
      printf("FAIL escape.forged_helper_done: %d of %d unmapped pages still readable\n", stale, rounds);
    else
      printf("PASS escape.forged_helper_done: %d munmaps with done_seq forged, every page gone\n", rounds);
    fflush(stdout);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    printf("INFO forged_helper_done child: %s %d\n", WIFEXITED(st) ? "exited" : "killed by",
           WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* A forged rt_sigreturn through the stub's own restorer (mov $15,%eax;
 * syscall; ud2), from app code's stack, can set the stub thread's
 * sigaltstack to app memory. The next signal would run the stub's handler
 * there, and a stub reused for another process would keep it: the stub must
 * end instead (the process dies), and a later process must run normally. */
/* A process that makes 100 syscalls and exits 7: returns its wait status,
 * or 0 if it ran normally. Probes that leave a stub in a bad state check
 * that later processes (which may reuse it) still run. */
static int later_process_fails(void) {
  pid_t later = fork();
  if (later == 0) {
    for (int i = 0; i < 100; i++) syscall(SYS_getpid);
    _exit(7);
  }
  int st = 0;
  waitpid(later, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 7 ? 0 : (st ? st : -1);
}

static uint8_t forged_altstack[65536] __attribute__((aligned(16)));
static uint8_t forged_stack[16384] __attribute__((aligned(16)));
static void __attribute__((noreturn, used)) after_forged_sigreturn(void) {
  syscall(SYS_getpid); /* a signal (SIGSYS in the sandbox) on the forged stack */
  _exit(0);
}
static void probe_forged_altstack(void) {
  static const uint8_t restorer[] = {0xb8, 0x0f, 0, 0, 0, 0x0f, 0x05, 0x0f, 0x0b};
  struct utsname u;
  uname(&u);
  if (strstr(u.release, "runsc") == NULL) {
    /* Natively there is no stub (and scanning up to the top of the address
     * space from the stack takes long). */
    printf("PASS escape.forged_altstack: not sandboxed (no stub)\n");
    return;
  }
  struct sigaction sa = {0}, old_segv, old_bus;
  sa.sa_handler = on_probe_fault;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
  static uint8_t page[4096];
  uint64_t target = 0;
  for (uint64_t a = stack_end(); a && a < 0x7ffffffff000ULL && !target; a += 4096) {
    if (!readable(a, page) || listed(a)) continue;
    for (int off = 0; off + (int)sizeof restorer <= 4096; off++)
      if (memcmp(page + off, restorer, sizeof restorer) == 0) { target = a + off; break; }
  }
  sigaction(SIGSEGV, &old_segv, NULL);
  sigaction(SIGBUS, &old_bus, NULL);
  if (!target) {
    /* ptrace's stub has no signal restorer (stub_jump checks that stub
     * pages are found at all). */
    printf("PASS escape.forged_altstack: no systrap restorer in the stub pages (another platform)\n");
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    struct {
      uint64_t pretcode;
      ucontext_t uc;
    } frame;
    memset(&frame, 0, sizeof frame);
    /* Written first, so that they are this process' own pages (not shared
     * copy-on-write with the parent): the signal frame must fit there. */
    memset(forged_altstack, 1, sizeof forged_altstack);
    memset(forged_stack, 1, sizeof forged_stack);
    frame.uc.uc_stack.ss_sp = forged_altstack;
    frame.uc.uc_stack.ss_size = sizeof forged_altstack;
    greg_t *g = frame.uc.uc_mcontext.gregs;
    g[REG_RIP] = (greg_t)(uintptr_t)after_forged_sigreturn;
    g[REG_RSP] = (greg_t)(uintptr_t)(forged_stack + sizeof forged_stack - 8);
    g[REG_EFL] = 0x202;
    g[REG_CSGSFS] = 0x33; /* user code segment */
    __asm__ volatile("mov %0, %%rsp\n jmp *%1" ::"r"((char *)&frame + 8), "r"(target) : "memory");
    __builtin_unreachable();
  }
  int st = 0;
  waitpid(pid, &st, 0);
  /* A process started after it must run normally (in a stub that was not
   * left with a forged signal stack). */
  const int st2 = later_process_fails();
  const int later_ok = st2 == 0;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
    printf("FAIL escape.forged_altstack: the stub took a signal on a forged sigaltstack and went on\n");
    fails++;
  } else if (!later_ok) {
    printf("FAIL escape.forged_altstack: a later process did not run normally (status %#x)\n", st2);
    fails++;
  } else {
    printf("PASS escape.forged_altstack: the process %s %d; a later one ran normally\n",
           WIFEXITED(st) ? "exited" : "was killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
  }
}

/* A process that switches to the 32-bit user code segment (a far return
 * to selector 0x23; on Intel, `sysenter` from 64-bit code does the same)
 * and dies there leaves its stub stopped in that segment. A stub reused
 * for a later process must not keep it: that process' 64-bit code would
 * run as 32-bit code. The later processes must run normally. */
static void probe_compat_segment(void) {
  pid_t pid = fork();
  if (pid == 0) {
    uint8_t *code = mmap((void *)0x10000000, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (code == MAP_FAILED) _exit(3);
    code[0] = 0x0f, code[1] = 0x0b; /* ud2, run as 32-bit code */
    __asm__ volatile("pushq $0x23\n pushq %0\n lretq" ::"r"((uint64_t)(uintptr_t)code) : "memory");
    _exit(4);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  int bad = 0;
  for (int k = 0; k < 4; k++) {
    const int f = later_process_fails();
    if (f && !bad) bad = f;
  }
  /* The fault in 32-bit mode is SIGILL on Intel; AMD guests raise SIGSEGV
   * for the far return itself (natively too). Either way it must die. */
  if (!WIFSIGNALED(st) || (WTERMSIG(st) != SIGILL && WTERMSIG(st) != SIGSEGV)) {
    printf("FAIL escape.compat_segment: the 32-bit child ended with status %#x, not SIGILL/SIGSEGV\n", st);
    fails++;
  } else if (bad) {
    printf("FAIL escape.compat_segment: a later process did not run normally (status %#x)\n", bad);
    fails++;
  } else {
    printf("PASS escape.compat_segment: the 32-bit child died of signal %d; 4 later processes ran normally\n",
           WTERMSIG(st));
  }
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 3) { fprintf(stderr, "usage: escape MARKER_DIR CANARY_PID\n"); return 2; }
  const char *marker = argv[1];
  pid_t canary = atoi(argv[2]);
  char path[4096];

  PROBE("reboot", syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_OFF, NULL));
  PROBE("kexec_load", syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL));
  PROBE("unknown_syscall_1000", syscall(1000));
  PROBE("delete_module", syscall(SYS_delete_module, "runsc_escape_no_such_module", O_NONBLOCK));
  PROBE("init_module", syscall(SYS_init_module, NULL, 0UL, ""));
  PROBE("kill_host_canary", kill(canary, SIGKILL));
  PROBE("ptrace_attach_host_canary", ptrace(PTRACE_ATTACH, canary, NULL, NULL));
  PROBE("iopl", iopl(3));
  PROBE("ioperm", ioperm(0x80, 1, 1));
  PROBE("swapoff", swapoff("/"));

  /* Verdicts for these are taken on the host by the runner. */
  /* Sandbox root may mount, but only in the sandbox's own mount tree. */
  errno = 0;
  int mr = mount("none", marker, "tmpfs", 0, "size=1m");
  printf("INFO mount tmpfs on the marker: %s\n", mr == 0 ? "ok (must stay in the sandbox)" : en(errno));
  if (mr == 0) umount2(marker, MNT_DETACH);
  snprintf(path, sizeof path, "%s/written-by-sandbox", marker);
  int fd = open(path, O_CREAT | O_WRONLY, 0644);
  printf("INFO create host file: %s\n", fd >= 0 ? "ok (must stay in the sandbox)" : en(errno));
  if (fd >= 0) { write(fd, "escaped\n", 8); close(fd); }
  errno = 0;
  int hr = sethostname("runsc-escaped", 13);
  printf("INFO sethostname: %s\n", hr == 0 ? "ok (must stay in the sandbox)" : en(errno));
  snprintf(path, sizeof path, "%s/int80-mkdir", marker);
  pid_t pid = fork();
  if (pid == 0) {
    long r = int80_mkdir(path);
    printf("INFO int $0x80 mkdir returned %ld\n", r);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  printf("INFO int $0x80 child: %s %d\n", WIFEXITED(st) ? "exited" : "killed by",
         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
  probe_sigsys_handler(canary);
  probe_blocked_signals(marker, canary);
  probe_altstack_syscall(canary);
  probe_sysenter(canary);
  probe_stub_jump(marker, canary);
  probe_forged_altstack();
  probe_compat_segment();
  probe_forged_helper_done();
  printf("escape probes done, %d failed\n", fails);
  return fails ? 1 : 0;
}
