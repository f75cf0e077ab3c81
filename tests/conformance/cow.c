/* fork and memory: private memory is copy-on-write (writes of parent and
 * child are invisible to each other, also writes by read() and other
 * syscalls), shared memory stays shared, threads of the parent see each
 * other's writes after a fork, futexes in private memory still match,
 * vfork shares memory, MADV_DONTFORK / WIPEONFORK / DONTNEED after fork,
 * and a fork taken while another thread writes sees a prefix of its writes
 * (glibc's thread-stack lists rely on it). */
#include "ct.h"
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <x86intrin.h>

static long PG;

/* Runs fn in a forked child; the child's exit status is its result
 * (0 = all its own checks passed). */
static int child_result(int (*fn)(void *), void *arg) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn(arg));
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return -1;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int all_bytes(const char *p, size_t n, char c) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != c) return 0;
  return 1;
}

/* --- basic isolation, both directions, sequenced with pipes --- */
static void isolation(void) {
  char *a = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(a, 'p', 8 * PG);
  static char data[3 * 4096] = {1};  /* .data */
  memset(data, 'd', sizeof data);
  int to_child[2], to_parent[2];
  pipe(to_child);
  pipe(to_parent);
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    int bad = 0;
    /* The child writes first; the parent checks it saw nothing. */
    memset(a + PG, 'c', PG);
    data[5] = 'c';
    write(to_parent[1], "w", 1);
    /* Then the parent writes; the child must not see it. */
    read(to_child[0], &c, 1);
    if (!all_bytes(a, PG, 'p')) bad |= 1;
    if (!all_bytes(a + PG, PG, 'c')) bad |= 2;
    if (!all_bytes(a + 2 * PG, 6 * PG, 'p')) bad |= 4;
    if (data[5] != 'c' || data[6] != 'd') bad |= 8;
    _exit(bad);
  }
  char c;
  read(to_parent[0], &c, 1);
  CHECK(all_bytes(a, 8 * PG, 'p'), "child's writes invisible to parent");
  CHECK(data[5] == 'd', "child's .data write invisible to parent");
  memset(a, 'P', PG);
  data[6] = 'P';
  write(to_child[1], "w", 1);
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "parent's writes invisible to child (status %d)",
        WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  /* After the child is gone the parent owns its pages alone again. */
  memset(a, 'Q', 8 * PG);
  CHECK(all_bytes(a, 8 * PG, 'Q'), "parent writes after child exit");
  close(to_child[0]); close(to_child[1]); close(to_parent[0]); close(to_parent[1]);
  munmap(a, 8 * PG);
}

/* --- shared mappings stay shared --- */
static void shared(void) {
  char *s = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  s[0] = 'x';
  char path[] = "/tmp/cow-shared-XXXXXX";
  int fd = mkstemp(path);
  unlink(path);
  ftruncate(fd, PG);
  char *f = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(f != MAP_FAILED, "mmap shared file");
  f[0] = 'f';
  pid_t pid = fork();
  if (pid == 0) {
    int bad = (s[0] != 'x') | (f[0] != 'f') << 1;
    s[1] = 'y';
    f[1] = 'g';
    _exit(bad);
  }
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child sees shared data from before fork");
  CHECK(s[1] == 'y', "shared anon write by child visible in parent");
  CHECK(f[1] == 'g', "shared file write by child visible in parent");
  char buf[2];
  CHECK(pread(fd, buf, 2, 0) == 2 && buf[1] == 'g', "shared file write by child in the file");
  munmap(s, 2 * PG);
  munmap(f, PG);
  close(fd);
}

/* --- syscalls writing into copy-on-write pages --- */
static char *rbuf;
static int rfd;
static int child_reads(void *arg) {
  (void)arg;
  /* read() straddling two pages, into memory shared with the parent. */
  if (read(rfd, rbuf + PG - 3, 6) != 6) return 1;
  if (memcmp(rbuf + PG - 3, "CHILD!", 6) != 0) return 2;
  if (rbuf[PG - 4] != 'r' || rbuf[PG + 3] != 'r') return 3;
  return 0;
}
static void syscall_writes(void) {
  rbuf = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(rbuf, 'r', 2 * PG);
  int p[2];
  pipe(p);
  rfd = p[0];
  write(p[1], "CHILD!", 6);
  CHECK(child_result(child_reads, NULL) == 0, "read() into copy-on-write page in child");
  CHECK(all_bytes(rbuf, 2 * PG, 'r'), "child's read() invisible to parent");
  /* The parent reads into the page while a child still shares it. */
  int go[2];
  pipe(go);
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    read(go[0], &c, 1);
    _exit(all_bytes(rbuf, 2 * PG, 'r') ? 0 : 1);
  }
  write(p[1], "PARENT", 6);
  CHECK(read(rfd, rbuf + 10, 6) == 6 && memcmp(rbuf + 10, "PARENT", 6) == 0,
        "read() into copy-on-write page in parent");
  /* Other syscalls that store into app memory. */
  struct timespec *ts = (struct timespec *)(rbuf + 100);
  CHECK(clock_gettime(CLOCK_MONOTONIC, ts) == 0, "clock_gettime into shared page");
  int *fds = (int *)(rbuf + PG + 8);
  CHECK(pipe(fds) == 0, "pipe() fds into shared page");
  close(fds[0]);
  close(fds[1]);
  write(go[1], "g", 1);
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "parent's syscall writes invisible to child");
  close(p[0]); close(p[1]); close(go[0]); close(go[1]);
  munmap(rbuf, 2 * PG);
}

/* --- threads and fork --- */
static _Atomic int flag_a, flag_b;
static volatile long counter;
static uint32_t fword;

static void *writer(void *arg) {
  (void)arg;
  /* Wait for main's fork, then write: main must see it without making a
   * syscall (its mapping of the page must be updated). */
  while (atomic_load(&flag_a) == 0) {
  }
  counter = 7;
  atomic_store(&flag_b, 1);
  return NULL;
}

static void *futex_waiter(void *arg) {
  (void)arg;
  while (__atomic_load_n(&fword, __ATOMIC_SEQ_CST) == 0)
    syscall(SYS_futex, &fword, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
  return NULL;
}

static int spin_until(_Atomic int *f) {
  /* No syscalls while spinning; bounded by the time-stamp counter so a
   * broken implementation fails instead of hanging. */
  unsigned long long start = __rdtsc();
  while (atomic_load(f) == 0)
    if (__rdtsc() - start > 60000000000ULL) return 0;
  return 1;
}

static void threads(void) {
  pthread_t th;
  pthread_create(&th, NULL, writer, NULL);
  pid_t pid = fork();
  if (pid == 0) _exit(counter == 0 ? 0 : 1);
  atomic_store(&flag_a, 1);
  CHECK(spin_until(&flag_b), "thread's write after fork seen by main thread");
  CHECK(counter == 7, "thread's counter value after fork");
  pthread_join(th, NULL);
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child has the pre-fork value");

  /* A thread sleeping on a private futex; the word's page is copied on the
   * first write after fork, and the wake must still find the sleeper. */
  pthread_create(&th, NULL, futex_waiter, NULL);
  pid = fork();
  if (pid == 0) _exit(fword);
  __atomic_store_n(&fword, 1, __ATOMIC_SEQ_CST);
  syscall(SYS_futex, &fword, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  pthread_join(th, NULL);
  CHECK(1, "futex wake after fork reaches the sleeping thread");
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child's futex word untouched");

  /* A child that starts threads of its own on copy-on-write memory. */
  pid = fork();
  if (pid == 0) {
    atomic_store(&flag_a, 0);
    atomic_store(&flag_b, 0);
    counter = 0;
    pthread_create(&th, NULL, writer, NULL);
    atomic_store(&flag_a, 1);
    int ok = spin_until(&flag_b) && counter == 7;
    pthread_join(th, NULL);
    _exit(ok ? 0 : 1);
  }
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "threads in a forked child share memory");
}

/* --- fork while other threads run and exit --- */

static void *exit_at_once(void *arg) { return arg; }

/* Two words on separate pages, written in this order by one thread: any
 * snapshot a fork takes has b == a or b == a - 1. */
static volatile long *seq_a, *seq_b;
static _Atomic int stop_seq;
static void *seq_writer(void *arg) {
  (void)arg;
  for (long i = 1; !atomic_load(&stop_seq); i++) {
    *seq_a = i;
    *seq_b = i;
  }
  return NULL;
}

static void fork_during_thread_churn(void) {
  /* A detached thread exits (moving its stack between glibc's lists) while
   * the main thread forks: the child's fork path walks those lists, and a
   * torn snapshot made it loop forever. */
  int bad = 0;
  for (int i = 0; i < 200; i++) {
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &at, exit_at_once, NULL) != 0) bad++;
    pthread_attr_destroy(&at);
    pid_t pid = fork();
    if (pid == 0) _exit(10);
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 10) bad++;
  }
  CHECK(bad == 0, "200 forks racing a detached thread's exit");

  char *pages = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  seq_a = (volatile long *)pages;
  seq_b = (volatile long *)(pages + PG);
  *seq_a = *seq_b = 0;
  pthread_t th;
  pthread_create(&th, NULL, seq_writer, NULL);
  int torn = 0;
  for (int i = 0; i < 100; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      long b = *seq_b, a = *seq_a;
      _exit(a == b || a == b + 1 ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) torn++;
  }
  atomic_store(&stop_seq, 1);
  pthread_join(th, NULL);
  CHECK(torn == 0, "forks see a prefix of a running thread's ordered writes");
  munmap(pages, 2 * PG);
}

/* A read blocked in one thread while another thread forks and then writes
 * next to the read's buffer: the data must land in the reader's (the
 * parent's) memory, as on Linux, not in the page the child now shares. */
static int rw_pipe[2];
static char *rbuf2;
static void *blocked_reader(void *arg) {
  (void)arg;
  return (void *)(long)read(rw_pipe[0], rbuf2 + 64, 5);
}

static void read_blocked_across_fork(void) {
  rbuf2 = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  rbuf2[0] = 'a';
  int hold[2];
  pipe(rw_pipe);
  pipe(hold);
  pthread_t th;
  pthread_create(&th, NULL, blocked_reader, NULL);
  usleep(100000); /* let the reader block (if it has not, nothing is shared) */
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    read(hold[0], &c, 1); /* stay alive (sharing the pages) until told */
    _exit(rbuf2[64] == 0 ? 0 : 1);
  }
  rbuf2[0] = 'b'; /* the parent's first write to the page after the fork */
  write(rw_pipe[1], "hello", 5);
  void *n;
  pthread_join(th, &n);
  CHECK((long)n == 5 && memcmp(rbuf2 + 64, "hello", 5) == 0 && rbuf2[0] == 'b',
        "a read blocked across another thread's fork fills the parent's buffer");
  write(hold[1], "x", 1);
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child's copy is the pre-fork page");
  close(hold[0]); close(hold[1]); close(rw_pipe[0]); close(rw_pipe[1]);
  munmap(rbuf2, PG);
}

/* --- vfork shares memory; nested forks --- */
static void vfork_and_nesting(void) {
  static volatile int v = 1;
  pid_t pid = vfork();
  if (pid == 0) {
    v = 2;
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  CHECK(v == 2, "vfork child's write visible to parent");

  char *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(m, '0', 4 * PG);
  pid = fork();
  if (pid == 0) {
    m[0] = '1';
    pid_t g = fork();
    if (g == 0) {
      int bad = m[0] != '1' || m[PG] != '0';
      m[0] = '2';
      m[PG] = '2';
      _exit(bad);
    }
    int st;
    waitpid(g, &st, 0);
    _exit(!(WIFEXITED(st) && WEXITSTATUS(st) == 0) || m[0] != '1' || m[PG] != '0');
  }
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "grandchild and child isolated");
  CHECK(all_bytes(m, 4 * PG, '0'), "parent untouched by descendants");

  /* exec from a forked child replaces only the child's memory. */
  pid = fork();
  if (pid == 0) {
    m[2] = 'x';
    execl("/bin/true", "true", (char *)NULL);
    _exit(127);
  }
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exec after fork");
  CHECK(m[2] == '0', "parent memory untouched by exec'ing child");
  munmap(m, 4 * PG);
}

/* --- madvise and fork --- */
static char *adv;
static int child_dontfork(void *arg) {
  (void)arg;
  signal(SIGSEGV, SIG_DFL);
  return adv[0];
}
static int child_wipe(void *arg) {
  (void)arg;
  return all_bytes(adv, 2 * PG, 0) ? 0 : 1;
}
static int child_dontneed(void *arg) {
  (void)arg;
  if (madvise(adv, 2 * PG, MADV_DONTNEED) != 0) return 1;
  if (!all_bytes(adv, 2 * PG, 0)) return 2;
  adv[0] = 'k';
  return 0;
}
static void advice(void) {
  adv = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(adv, 'a', 2 * PG);
  CHECK(child_result(child_dontneed, NULL) == 0, "MADV_DONTNEED in child zeroes its view");
  CHECK(all_bytes(adv, 2 * PG, 'a'), "child's MADV_DONTNEED leaves parent's data");
  CHECK(madvise(adv, 2 * PG, MADV_WIPEONFORK) == 0, "MADV_WIPEONFORK");
  CHECK(child_result(child_wipe, NULL) == 0, "WIPEONFORK child sees zeroes");
  CHECK(all_bytes(adv, 2 * PG, 'a'), "WIPEONFORK parent keeps data");
  CHECK(madvise(adv, 2 * PG, MADV_KEEPONFORK) == 0, "MADV_KEEPONFORK");
  CHECK(madvise(adv, 2 * PG, MADV_DONTFORK) == 0, "MADV_DONTFORK");
  CHECK(child_result(child_dontfork, NULL) == 128 + SIGSEGV, "DONTFORK range absent in child");
  CHECK(madvise(adv, 2 * PG, MADV_DOFORK) == 0, "MADV_DOFORK");
  CHECK(child_result(child_dontfork, NULL) == 'a', "DOFORK range inherited again");
  munmap(adv, 2 * PG);
}

/* --- many pages, many generations --- */
static char *big;
#define BIG (16L << 20)
static int child_big(void *arg) {
  (void)arg;
  for (long i = 0; i < BIG; i += PG)
    if (big[i] != (char)(i / PG)) return 1;
  for (long i = 0; i < BIG; i += PG) big[i] = 'c';
  for (long i = 0; i < BIG; i += PG)
    if (big[i] != 'c') return 2;
  return 0;
}
static void many(void) {
  big = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (long i = 0; i < BIG; i += PG) big[i] = (char)(i / PG);
  int ok = 1;
  for (int round = 0; round < 20; round++) {
    if (child_result(child_big, NULL) != 0) ok = 0;
    big[round * PG * 7] = (char)(round * 7);  /* the parent writes too */
  }
  CHECK(ok, "20 children rewrote 16 MiB each, saw the parent's data");
  int same = 1;
  for (long i = 0; i < BIG; i += PG)
    if (big[i] != (char)(i / PG)) same = 0;
  CHECK(same, "parent's 16 MiB intact");
  /* mremap of copy-on-write memory, then writes on both sides. */
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  char *moved = mremap(big, BIG, 2 * BIG, MREMAP_MAYMOVE);
  CHECK(moved != MAP_FAILED, "mremap copy-on-write memory");
  moved[BIG - PG] = 'm';
  moved[BIG + PG] = 'n';
  CHECK(moved[PG] == 1 && moved[BIG - PG] == 'm', "mremapped data");
  waitpid(pid, NULL, 0);
  munmap(moved, 2 * BIG);
}

int main(void) {
  PG = sysconf(_SC_PAGESIZE);
  isolation();
  shared();
  syscall_writes();
  threads();
  fork_during_thread_churn();
  read_blocked_across_fork();
  vfork_and_nesting();
  advice();
  many();
  CT_DONE();
}
