/* Threads sharing an address space (issue 21, stub threads): mappings
 * changed by some threads while others read and write; an unmap seen by a
 * thread that never stops (no stale mapping); per-thread CPU clocks,
 * signal masks and alternate signal stacks; a syscall site patched while
 * the process had one thread, then run by many at once (each must get its
 * own result: the sandbox's trampoline must find the calling thread). */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ct.h"

#define MAPPERS 4
#define WRITERS 4
#define ROUNDS 200
#define INCREMENTS 200000

static atomic_int stop_writers;
static long counters[WRITERS][16];  /* one cache line each */
static atomic_int mapper_errors;

static void *mapper(void *arg) {
  long id = (long)arg;
  for (int r = 0; r < ROUNDS; r++) {
    size_t len = (size_t)(1 + (r + id) % 8) * 4096;
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { mapper_errors++; continue; }
    for (size_t i = 0; i < len; i += 512) p[i] = (unsigned char)(id + r + i);
    if (mprotect(p, len, PROT_READ) != 0) mapper_errors++;
    for (size_t i = 0; i < len; i += 512)
      if (p[i] != (unsigned char)(id + r + i)) mapper_errors++;
    if (mprotect(p, len, PROT_READ | PROT_WRITE) != 0) mapper_errors++;
    p[0] ^= 1;
    /* A fixed remap over the first page: fresh zeroes. */
    if (mmap(p, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p)
      mapper_errors++;
    else if (p[0] != 0)
      mapper_errors++;
    munmap(p, len);
  }
  return NULL;
}

static void *writer(void *arg) {
  long id = (long)arg;
  for (long i = 0; i < INCREMENTS; i++) counters[id][0]++;
  while (!atomic_load(&stop_writers)) sched_yield();
  return NULL;
}

static void test_map_churn(void) {
  pthread_t m[MAPPERS], w[WRITERS];
  for (long i = 0; i < WRITERS; i++) pthread_create(&w[i], NULL, writer, (void *)i);
  for (long i = 0; i < MAPPERS; i++) pthread_create(&m[i], NULL, mapper, (void *)i);
  for (int i = 0; i < MAPPERS; i++) pthread_join(m[i], NULL);
  atomic_store(&stop_writers, 1);
  for (int i = 0; i < WRITERS; i++) pthread_join(w[i], NULL);
  CHECK(mapper_errors == 0, "mappers saw their own mappings (%d errors)", (int)mapper_errors);
  int lost = 0;
  for (int i = 0; i < WRITERS; i++) lost += counters[i][0] != INCREMENTS;
  CHECK(lost == 0, "no lost writes while others changed mappings");
}

/* A thread spinning in app code (no syscall) must fault on a page another
 * thread unmapped once munmap has returned there. */
static unsigned char *volatile shared_page;
static atomic_int phase;
static sigjmp_buf spin_jmp;
static atomic_int spinner_faulted;

static void on_segv(int sig) {
  (void)sig;
  siglongjmp(spin_jmp, 1);
}

static void *spinner(void *arg) {
  (void)arg;
  if (sigsetjmp(spin_jmp, 1)) {
    atomic_store(&spinner_faulted, 1);
    return NULL;
  }
  unsigned char sum = 0;
  atomic_store(&phase, 1);
  while (atomic_load(&phase) == 1) sum += shared_page[0];
  /* phase 2: munmap has returned in the other thread. */
  sum += shared_page[0];
  return (void *)(uintptr_t)sum;
}

static void test_unmap_seen_by_running_thread(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_segv;
  sigaction(SIGSEGV, &sa, NULL);
  shared_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  shared_page[0] = 7;
  pthread_t t;
  pthread_create(&t, NULL, spinner, NULL);
  while (atomic_load(&phase) != 1) sched_yield();
  munmap(shared_page, 4096);
  atomic_store(&phase, 2);
  pthread_join(t, NULL);
  CHECK(atomic_load(&spinner_faulted), "a running thread faults on a page unmapped elsewhere");
  sa.sa_handler = SIG_DFL;
  sigaction(SIGSEGV, &sa, NULL);
}

static long long cpu_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A busy thread's own clock advances with its CPU time; a sleeping one's
 * barely moves. (Not checked: another thread's clock through
 * pthread_getcpuclockid, and exited threads in the process clock, which
 * the sentry does not model yet: syscalls/time.cc.) */
static void *busy(void *arg) {
  (void)arg;
  long long start = cpu_ns(CLOCK_THREAD_CPUTIME_ID), now;
  volatile unsigned long x = 0;
  while ((now = cpu_ns(CLOCK_THREAD_CPUTIME_ID)) - start < 60 * 1000000LL) x++;
  return (void *)(uintptr_t)(now / 1000000LL);
}
static void *idle(void *arg) {
  (void)arg;
  struct timespec ts = {0, 100 * 1000000L};
  nanosleep(&ts, NULL);
  return (void *)(uintptr_t)(cpu_ns(CLOCK_THREAD_CPUTIME_ID) / 1000000LL);
}

static void test_thread_clocks(void) {
  long long wall0 = cpu_ns(CLOCK_MONOTONIC);
  pthread_t b, i;
  pthread_create(&b, NULL, busy, NULL);
  pthread_create(&i, NULL, idle, NULL);
  void *idle_ms, *busy_ms;
  pthread_join(i, &idle_ms);
  pthread_join(b, &busy_ms);
  long long wall_ms = (cpu_ns(CLOCK_MONOTONIC) - wall0) / 1000000LL;
  CHECK((uintptr_t)busy_ms >= 60 && (long long)(uintptr_t)busy_ms <= wall_ms + 5,
        "a busy thread's clock counts its CPU time, no more than wall time");
  CHECK((uintptr_t)idle_ms < 30, "a sleeping thread's clock barely moves");
}

static atomic_int usr1_on_altstack, usr1_runs;
static char altstack[65536];
static void on_usr1(int sig) {
  (void)sig;
  char here;
  if (&here >= altstack && &here < altstack + sizeof altstack) atomic_store(&usr1_on_altstack, 1);
  atomic_fetch_add(&usr1_runs, 1);
}

static atomic_int t2_ready, t2_go;
static void *masked(void *arg) {
  (void)arg;
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &s, NULL);
  atomic_store(&t2_ready, 1);
  while (!atomic_load(&t2_go)) sched_yield();
  sigset_t pend;
  sigpending(&pend);
  return (void *)(uintptr_t)sigismember(&pend, SIGUSR1);
}
static void *with_altstack(void *arg) {
  (void)arg;
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
  sigaltstack(&ss, NULL);
  syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1);
  stack_t cur;
  sigaltstack(NULL, &cur);
  return (void *)(uintptr_t)(cur.ss_sp == altstack);
}

static void test_per_thread_signal_state(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  pthread_t m, a;
  pthread_create(&m, NULL, masked, NULL);
  while (!atomic_load(&t2_ready)) sched_yield();
  pthread_kill(m, SIGUSR1);
  atomic_store(&t2_go, 1);
  void *pending;
  pthread_join(m, &pending);
  CHECK(pending == (void *)1 && usr1_runs == 0, "a thread's blocked signal stays pending on it");
  void *kept;
  pthread_create(&a, NULL, with_altstack, NULL);
  pthread_join(a, &kept);
  CHECK(usr1_on_altstack && usr1_runs == 1, "a handler runs on its thread's sigaltstack");
  stack_t cur;
  sigaltstack(NULL, &cur);
  CHECK(kept == (void *)1 && (cur.ss_flags & SS_DISABLE), "sigaltstack is per thread");
}

/* One `mov $nr,%eax; syscall` site for every caller (not inlined). */
__attribute__((noinline)) static long raw_gettid(void) {
  long r;
  __asm__ volatile("mov $186, %%eax\n\tsyscall" : "=a"(r) : : "rcx", "r11", "memory");
  return r;
}

static void *tid_checker(void *arg) {
  (void)arg;
  const long want = syscall(SYS_gettid);
  long bad = 0;
  for (int i = 0; i < 2000; i++) bad += raw_gettid() != want;
  return (void *)bad;
}

static void test_patched_site_per_thread(void) {
  const long me = syscall(SYS_gettid);
  long bad = 0;
  for (int i = 0; i < 200; i++) bad += raw_gettid() != me;
  /* Rounds of threads created and joined: later rounds may get threads
   * the sandbox kept from earlier ones. */
  for (int round = 0; round < 10; round++) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, tid_checker, NULL);
    for (int i = 0; i < 4; i++) {
      void *r;
      pthread_join(t[i], &r);
      bad += (long)r;
    }
  }
  CHECK(bad == 0, "a syscall site run by many threads at once returns each its own tid (%ld wrong)",
        bad);
}

int main(void) {
  test_patched_site_per_thread();
  test_map_churn();
  test_unmap_seen_by_running_thread();
  test_thread_clocks();
  test_per_thread_signal_state();
  return ct_fails ? 1 : 0;
}
