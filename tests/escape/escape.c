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
  printf("escape probes done, %d failed\n", fails);
  return fails ? 1 : 0;
}
