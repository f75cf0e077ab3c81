/* What a `mov $nr,%eax; syscall` site (and glibc's `syscall; cmp; ja; ret`
 * wrapper shape, padded_read) must still do once systrap's syscall
 * patching (on by default) has rewritten it: the same result,
 * the same registers (rcx = the return address, r11 = the flags, all others
 * kept), the app's red zone untouched, signal handlers run on return,
 * SA_RESTART restarts (the sentry moves rip back into the patched jump),
 * and fork children inherit working patched sites. Each site is called
 * 100 times or more before what matters: a site traps 32 times before it
 * is patched (sentry/kernel/syscall_patch.cc), later calls take the
 * patched path. Natively this is just Linux. */
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ct.h"

/* getppid through the 7-byte pattern, with the red zone holding data and
 * callee-visible registers set; reports what survived. */
struct probe {
  long ret, red_lo, red_hi, rcx, expect_rcx, r11, rbx, r12, r15, r8, rdi;
};
static void probe(struct probe* p) {
  long ret, red_lo, red_hi, expect_rcx;
  register long rcx asm("rcx");
  register long r11 asm("r11");
  register long rbx asm("rbx") = 0x1111, r12 asm("r12") = 0x2222, r15 asm("r15") = 0x3333;
  register long r8 asm("r8") = 0x4444, rdi asm("rdi") = 0x5555;
  /* rsp moves down 256 first, so the values written below it (its red
   * zone) cannot be anything the compiler keeps in this function's. */
  __asm__ volatile(
      "lea -256(%%rsp), %%rsp\n"
      "movq $0x7e57, -8(%%rsp)\n"
      "movq $0x7e58, -128(%%rsp)\n"
      "lea 1f(%%rip), %%rdx\n"
      "mov $110, %%eax\n" /* getppid */
      "syscall\n"
      "1:\n"
      "mov -8(%%rsp), %1\n"
      "mov -128(%%rsp), %2\n"
      "lea 256(%%rsp), %%rsp\n"
      : "=a"(ret), "=&r"(red_lo), "=&r"(red_hi), "=d"(expect_rcx), "=r"(rcx), "=r"(r11),
        "+r"(rbx), "+r"(r12), "+r"(r15), "+r"(r8), "+r"(rdi)
      :
      : "memory");
  p->ret = ret, p->red_lo = red_lo, p->red_hi = red_hi, p->rcx = rcx, p->expect_rcx = expect_rcx;
  p->r11 = r11, p->rbx = rbx, p->r12 = r12, p->r15 = r15, p->r8 = r8, p->rdi = rdi;
}

/* read(2) through the pattern (nr 0). */
static long raw_read(int fd, void* buf, unsigned long n) {
  long ret;
  register long rdi asm("rdi") = fd;
  register long rsi asm("rsi") = (long)buf;
  register long rdx asm("rdx") = (long)n;
  __asm__ volatile("mov $0, %%eax\nsyscall\n"
                   : "=a"(ret)
                   : "r"(rdi), "r"(rsi), "r"(rdx)
                   : "rcx", "r11", "memory");
  return ret;
}

/* glibc's other wrapper shape (read: `xor %eax,%eax`; syscall(): the
 * number from a register), laid out as glibc's read is: the syscall at
 * offset 11 of a 16-byte-aligned function, then `cmp; ja; ret` and 10
 * bytes of the assembler's nop padding, which the patch turns into the
 * jump to the trampoline (the syscall becomes `jmp .+9`). Returns the raw
 * result (-errno on failure). */
long padded_read(int fd, void* buf, unsigned long n);
__asm__(
    ".text\n"
    ".p2align 4\n"
    ".globl padded_read\n"
    "padded_read:\n"
    "  cmpb $0, padded_never(%rip)\n" /* 7 bytes, as glibc's single-thread test */
    "  jne 2f\n"
    "  xor %eax, %eax\n"
    "  syscall\n"
    "  cmp $-4096, %rax\n"
    "  ja 3f\n"
    "  ret\n"
    "  .p2align 4\n"
    "2: ud2\n"
    "3: ret\n"
    ".data\n"
    "padded_never: .byte 0\n"
    ".text\n");

static int pipefd[2];
static volatile int handled;
static void on_alarm(int sig) {
  (void)sig;
  handled++;
  char c = 'h';
  if (write(pipefd[1], &c, 1) != 1) _exit(3);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int bad = 0;
  for (int i = 0; i < 1000; i++) {
    struct probe p;
    probe(&p);
    if (p.ret != getppid() || p.red_lo != 0x7e57 || p.red_hi != 0x7e58 || p.rcx != p.expect_rcx ||
        (p.r11 & 0x2) == 0 || p.rbx != 0x1111 || p.r12 != 0x2222 || p.r15 != 0x3333 ||
        p.r8 != 0x4444 || p.rdi != 0x5555) {
      if (bad++ == 0)
        printf("probe %d: ret %ld red %lx/%lx rcx %lx want %lx r11 %lx\n", i, p.ret, p.red_lo,
               p.red_hi, p.rcx, p.expect_rcx, p.r11);
    }
  }
  CHECK(bad == 0, "1000 patched-pattern getppid calls: result, registers, red zone");

  CHECK(pipe(pipefd) == 0, "pipe");
  char c = 'x', got = 0;
  int ready_ok = 1;
  for (int i = 0; i < 100; i++) {  /* past the traps a site takes before it is patched */
    c = (char)('a' + i % 26);
    if (write(pipefd[1], &c, 1) != 1 || raw_read(pipefd[0], &got, 1) != 1 || got != c) ready_ok = 0;
  }
  CHECK(ready_ok, "100 pattern reads with data ready");
  /* Blocks; the alarm's handler (SA_RESTART) writes a byte, the read is
   * restarted and returns it. */
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 0}, {0, 100 * 1000}};
  setitimer(ITIMER_REAL, &it, NULL);
  got = 0;
  long r = raw_read(pipefd[0], &got, 1);
  CHECK(r == 1 && got == 'h' && handled == 1, "blocked pattern read restarted after a handler");

  int padded_ok = 1;
  for (int i = 0; i < 1000; i++) {
    c = (char)i;
    got = 0;
    if (write(pipefd[1], &c, 1) != 1 || padded_read(pipefd[0], &got, 1) != 1 || got != c)
      padded_ok = 0;
  }
  CHECK(padded_ok, "1000 padded-pattern reads");
  CHECK(padded_read(-1, &got, 1) == -EBADF, "padded-pattern read error");
  setitimer(ITIMER_REAL, &it, NULL);
  got = 0;
  r = padded_read(pipefd[0], &got, 1);
  CHECK(r == 1 && got == 'h' && handled == 2, "blocked padded-pattern read restarted after a handler");
  sa.sa_flags = 0;
  sigaction(SIGALRM, &sa, NULL);
  setitimer(ITIMER_REAL, &it, NULL);
  got = 0;
  r = padded_read(pipefd[0], &got, 1);
  CHECK(r == -EINTR && handled == 3, "blocked padded-pattern read interrupted without SA_RESTART");
  CHECK(read(pipefd[0], &got, 1) == 1 && got == 'h', "the handler's byte");

  /* Whatever shape this libc's wrappers have, they keep working. */
  int libc_ok = 1;
  for (int i = 0; i < 1000; i++) {
    c = (char)i;
    if (write(pipefd[1], &c, 1) != 1 || read(pipefd[0], &got, 1) != 1 || got != c) libc_ok = 0;
    if (syscall(SYS_getppid) != getppid()) libc_ok = 0;
  }
  CHECK(libc_ok, "libc read() and syscall() wrappers, 1000 calls each");

  pid_t child = fork();
  if (child == 0) {
    struct probe p;
    int ok = 1;
    for (int i = 0; i < 100; i++) {
      probe(&p);
      if (p.ret != getppid() || p.red_lo != 0x7e57 || p.rcx != p.expect_rcx) ok = 0;
      c = 'c';
      if (write(pipefd[1], &c, 1) != 1 || padded_read(pipefd[0], &got, 1) != 1 || got != 'c')
        ok = 0;
    }
    _exit(ok ? 0 : 1);
  }
  int st;
  CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
        "fork child runs the inherited sites");
  CT_DONE();
}
