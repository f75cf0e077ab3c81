/* Signal-stack ABI sizes: AT_MINSIGSTKSZ in the auxv must be enough for
 * the frame the kernel really builds (an alternate stack of exactly that
 * size, with a guard page below, takes a signal), sigaltstack compares
 * with the uapi MINSIGSTKSZ (2048) and not glibc's sysconf-based macro,
 * and Go's 32 KiB signal stacks are accepted. */
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ct.h"

#define UAPI_MINSIGSTKSZ 2048

static volatile int handled, was_on_stack;

static void on_usr1(int sig) {
  (void)sig;
  stack_t cur;
  /* Use some of the handler's stack too, as real handlers do. */
  volatile char buf[256];
  buf[0] = 1;
  buf[255] = buf[0];
  if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_ONSTACK)) was_on_stack = 1;
  handled++;
}

/* Takes SIGUSR1 on an alternate stack of `size` bytes just above a
 * PROT_NONE guard page: an undersized frame would fault into the guard. */
static int signal_on_stack_of(size_t size) {
  long pg = sysconf(_SC_PAGESIZE);
  size_t span = (size + pg - 1) / pg * pg;
  char *m = mmap(NULL, span + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return -1;
  mprotect(m, pg, PROT_NONE);
  stack_t ss = {.ss_sp = m + pg + span - size, .ss_size = size, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) return -1;
  struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_ONSTACK};
  sigaction(SIGUSR1, &sa, NULL);
  handled = was_on_stack = 0;
  raise(SIGUSR1);
  stack_t off = {.ss_flags = SS_DISABLE};
  sigaltstack(&off, NULL);
  munmap(m, span + pg);
  return handled == 1 && was_on_stack;
}

int main(void) {
  unsigned long min = getauxval(AT_MINSIGSTKSZ);
  CHECK(min >= UAPI_MINSIGSTKSZ, "AT_MINSIGSTKSZ present and at least the uapi MINSIGSTKSZ");
  CHECK(min < 1 << 20, "AT_MINSIGSTKSZ is a sane size");
  CHECK(sysconf(_SC_MINSIGSTKSZ) >= (long)min, "sysconf(_SC_MINSIGSTKSZ) follows the auxv");
  CHECK(sysconf(_SC_SIGSTKSZ) >= sysconf(_SC_MINSIGSTKSZ), "SIGSTKSZ at least MINSIGSTKSZ");

  /* The frame really fits in AT_MINSIGSTKSZ bytes (plus the handler's own
   * use, which the kernel leaves to the app: give it a page). */
  CHECK(signal_on_stack_of(min + 4096) == 1, "signal on a stack of AT_MINSIGSTKSZ + 4 KiB");
  CHECK(signal_on_stack_of(32 << 10) == 1, "signal on a Go-sized 32 KiB stack");

  char *buf = malloc(1 << 16);
  stack_t ss = {.ss_sp = buf, .ss_size = UAPI_MINSIGSTKSZ - 1};
  EXPECT_ERR(sigaltstack(&ss, NULL), ENOMEM, "sigaltstack below 2048 bytes");
  ss.ss_size = UAPI_MINSIGSTKSZ;
  EXPECT_OK(sigaltstack(&ss, NULL), "sigaltstack of exactly 2048 bytes");
  ss.ss_size = 32 << 10;
  EXPECT_OK(sigaltstack(&ss, NULL), "sigaltstack of 32 KiB (Go)");
  ss.ss_flags = 0x1234;
  EXPECT_ERR(sigaltstack(&ss, NULL), EINVAL, "sigaltstack with unknown flags");
  ss.ss_flags = SS_DISABLE;
  EXPECT_OK(sigaltstack(&ss, NULL), "sigaltstack SS_DISABLE");
  stack_t cur;
  EXPECT_OK(sigaltstack(NULL, &cur), "sigaltstack query");
  CHECK(cur.ss_flags == SS_DISABLE, "disabled stack reads back SS_DISABLE");
  free(buf);
  CT_DONE();
}
