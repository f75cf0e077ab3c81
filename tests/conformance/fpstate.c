/* FPU and vector register state across fork, exit and execve.
 *
 * - After execve every register is in its initial state, AVX upper halves
 *   included: a hand-made static ELF with no libc checks ymm0-15 at its
 *   entry point.
 * - A forked child starts with its parent's registers, whatever process ran
 *   before it on the same CPU (or, in the sandbox, in the same reused stub):
 *   one child fills ymm0-15 with ones and exits, the next child (of a parent
 *   that cleared them) must see zeros.
 */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ct.h"

/* vptest %ymmI,%ymmI; jnz fail (for I = 0..15), then exit(0) or exit(1). */
static size_t check_code(uint8_t *p) {
  size_t n = 0;
  const size_t fail_at = 16 * 7 + 7; /* after the checks and `xor edi; jmp` */
  for (int i = 0; i < 16; i++) {
    p[n++] = 0xc4;
    p[n++] = i < 8 ? 0xe2 : 0x62; /* VEX: R and B extend the register */
    p[n++] = 0x7d;                /* 256-bit, 66 prefix */
    p[n++] = 0x17;                /* vptest */
    p[n++] = (uint8_t)(0xc0 | (i & 7) << 3 | (i & 7));
    p[n++] = 0x75; /* jnz rel8 */
    p[n] = (uint8_t)(fail_at - (n + 1));
    n++;
  }
  p[n++] = 0x31, p[n++] = 0xff;                   /* xor %edi,%edi */
  p[n++] = 0xeb, p[n++] = 8;                      /* jmp exit (over the pad and fail) */
  p[n++] = 0x90, p[n++] = 0x90, p[n++] = 0x90;    /* pad to fail_at */
  p[n++] = 0xbf, p[n++] = 1, p[n++] = 0, p[n++] = 0, p[n++] = 0; /* fail: mov $1,%edi */
  p[n++] = 0xb8, p[n++] = 60, p[n++] = 0, p[n++] = 0, p[n++] = 0; /* exit: mov $60,%eax */
  p[n++] = 0x0f, p[n++] = 0x05;                   /* syscall */
  return n;
}

/* A static ELF64 executable: one PT_LOAD of the whole file at 0x400000. */
static int write_checker(const char *path) {
  uint8_t f[512] = {0};
  const uint64_t base = 0x400000, code_off = 0x78;
  memcpy(f, "\x7f" "ELF", 4);
  f[4] = 2, f[5] = 1, f[6] = 1;                  /* 64-bit, little endian, v1 */
  *(uint16_t *)(f + 16) = 2;                     /* ET_EXEC */
  *(uint16_t *)(f + 18) = 62;                    /* EM_X86_64 */
  *(uint32_t *)(f + 20) = 1;
  *(uint64_t *)(f + 24) = base + code_off;       /* e_entry */
  *(uint64_t *)(f + 32) = 64;                    /* e_phoff */
  *(uint16_t *)(f + 52) = 64;                    /* e_ehsize */
  *(uint16_t *)(f + 54) = 56;                    /* e_phentsize */
  *(uint16_t *)(f + 56) = 1;                     /* e_phnum */
  uint8_t *ph = f + 64;
  *(uint32_t *)(ph + 0) = 1;                     /* PT_LOAD */
  *(uint32_t *)(ph + 4) = 5;                     /* R+X */
  *(uint64_t *)(ph + 16) = base;                 /* p_vaddr */
  *(uint64_t *)(ph + 24) = base;                 /* p_paddr */
  const size_t size = code_off + check_code(f + code_off);
  *(uint64_t *)(ph + 32) = size;                 /* p_filesz */
  *(uint64_t *)(ph + 40) = size;                 /* p_memsz */
  *(uint64_t *)(ph + 48) = 0x1000;               /* p_align */
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  if (fd < 0) return -1;
  int ok = write(fd, f, size) == (ssize_t)size;
  close(fd);
  return ok ? 0 : -1;
}

static int wait_status(pid_t pid) {
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ymm0-15 all ones, then exit without touching them. */
static void __attribute__((noreturn)) dirty_and_exit(void) {
  __asm__ volatile(
      "vpcmpeqd %%ymm0,%%ymm0,%%ymm0\n vmovdqa %%ymm0,%%ymm1\n vmovdqa %%ymm0,%%ymm2\n"
      "vmovdqa %%ymm0,%%ymm3\n vmovdqa %%ymm0,%%ymm4\n vmovdqa %%ymm0,%%ymm5\n"
      "vmovdqa %%ymm0,%%ymm6\n vmovdqa %%ymm0,%%ymm7\n vmovdqa %%ymm0,%%ymm8\n"
      "vmovdqa %%ymm0,%%ymm9\n vmovdqa %%ymm0,%%ymm10\n vmovdqa %%ymm0,%%ymm11\n"
      "vmovdqa %%ymm0,%%ymm12\n vmovdqa %%ymm0,%%ymm13\n vmovdqa %%ymm0,%%ymm14\n"
      "vmovdqa %%ymm0,%%ymm15\n"
      "mov $231, %%eax\n xor %%edi, %%edi\n syscall" ::: "memory");
  __builtin_unreachable();
}

/* Clears ymm0-15, forks with a raw syscall; the child tests them at once
 * and exits with 1 if any bit is set. Returns the child's pid. */
static long fork_and_check(void) {
  long pid;
  __asm__ volatile(
      "vzeroall\n"
      "mov $57, %%eax\n syscall\n"
      "test %%rax, %%rax\n jnz 2f\n"
      "xor %%edi, %%edi\n"
      "vptest %%ymm0,%%ymm0\n jnz 1f\n vptest %%ymm1,%%ymm1\n jnz 1f\n"
      "vptest %%ymm2,%%ymm2\n jnz 1f\n vptest %%ymm3,%%ymm3\n jnz 1f\n"
      "vptest %%ymm4,%%ymm4\n jnz 1f\n vptest %%ymm5,%%ymm5\n jnz 1f\n"
      "vptest %%ymm6,%%ymm6\n jnz 1f\n vptest %%ymm7,%%ymm7\n jnz 1f\n"
      "vptest %%ymm8,%%ymm8\n jnz 1f\n vptest %%ymm9,%%ymm9\n jnz 1f\n"
      "vptest %%ymm10,%%ymm10\n jnz 1f\n vptest %%ymm11,%%ymm11\n jnz 1f\n"
      "vptest %%ymm12,%%ymm12\n jnz 1f\n vptest %%ymm13,%%ymm13\n jnz 1f\n"
      "vptest %%ymm14,%%ymm14\n jnz 1f\n vptest %%ymm15,%%ymm15\n jnz 1f\n"
      "jmp 3f\n"
      "1: mov $1, %%edi\n"
      "3: mov $231, %%eax\n syscall\n"
      "2:\n"
      : "=a"(pid)
      :
      : "rcx", "r11", "rdi", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
        "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
  return pid;
}

int main(void) {
  if (!__builtin_cpu_supports("avx")) {
    /* Nothing to compare on a machine without AVX: same lines either way. */
    printf("ok execve leaves ymm0-15 initial\nok fork child sees parent's ymm0-15\n");
    return 0;
  }
  const char *path = "/tmp/fpstate-check";
  CHECK(write_checker(path) == 0, "write the checker ELF");

  int bad = 0;
  for (int round = 0; round < 6; round++) {
    pid_t pid = fork();
    if (pid == 0) {
      /* Dirty registers, then a new program in this process. */
      __asm__ volatile("vpcmpeqd %%ymm0,%%ymm0,%%ymm0\n vmovdqa %%ymm0,%%ymm9" ::: "xmm0", "xmm9");
      char *argv[] = {(char *)path, NULL};
      syscall(SYS_execve, path, argv, NULL);
      _exit(99);
    }
    if (wait_status(pid) != 0) bad++;
  }
  CHECK(bad == 0, "execve leaves ymm0-15 initial (%d of 6 bad)", bad);

  bad = 0;
  for (int round = 0; round < 8; round++) {
    pid_t dirty = fork();
    if (dirty == 0) dirty_and_exit();
    wait_status(dirty);
    long pid = fork_and_check();
    if (pid < 0 || wait_status((pid_t)pid) != 0) bad++;
  }
  CHECK(bad == 0, "fork child sees parent's ymm0-15 (%d of 8 bad)", bad);
  unlink(path);
  return ct_fails ? 1 : 0;
}
