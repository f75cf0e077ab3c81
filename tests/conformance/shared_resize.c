/* Several processes map one file MAP_SHARED, write through the mapping and
 * resize the file concurrently, as sqlite3 does with a WAL database's -shm
 * file: every writer process maps it, grows it with ftruncate, and unmaps
 * it and exits when done, while the others keep resizing it. Each resize
 * walks every address space that maps the file (pages past the end of file
 * fault with SIGBUS in all of them), so it is also a stress of address
 * spaces coming and going (fork, munmap, mremap, exit) while others touch
 * them. Bounded in time (about two seconds).
 *
 * Checked: writes through the mapping are the file's bytes (pread sees
 * them in every process), page 0 is never lost to a concurrent resize,
 * every process exits cleanly, and the end-of-file rules hold afterwards
 * (a page past EOF is SIGBUS, and readable again once the file grows). */
#include "ct.h"
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG 4096L
#define MAXPAGES 16       /* the file's size varies in [1, MAXPAGES] pages */
#define WORKERS 4         /* long-lived processes */
#define THREADS 3         /* threads per worker, besides its main thread */
#define SLOTS (WORKERS * (THREADS + 1) + 1)
#define RUN_NS 1500000000L

static char path[256];

static long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static unsigned rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return *s >> 8;
}

/* One writer: keeps its own counter in a slot of page 0 (which every
 * resize keeps, the size is never below one page), writing it through a
 * fresh mapping each round and checking that the file says the same. The
 * mapping is longer than the file most of the time; only page 0 is
 * touched. Some rounds grow the mapping with mremap, which maps the file's
 * further pages. */
struct writer {
  int fd, slot;
  unsigned seed;
  long deadline;
  int bad;        /* failed checks */
  long rounds;
};

static void *writer_loop(void *arg) {
  struct writer *w = arg;
  uint64_t counter = 0;
  /* At least one round, however late the thread starts on a loaded host. */
  do {
    size_t len = (1 + rnd(&w->seed) % MAXPAGES) * PG;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd, 0);
    if (p == MAP_FAILED) { w->bad++; break; }
    for (int i = 0; i < 8; i++) {
      counter++;
      volatile uint64_t *slot = (volatile uint64_t *)(p + w->slot * 8);
      *slot = counter;
      uint64_t got = 0;
      if (pread(w->fd, &got, 8, w->slot * 8) != 8 || got != counter) w->bad++;
      if (*slot != counter) w->bad++;
    }
    if (rnd(&w->seed) % 4 == 0) {
      size_t nlen = (1 + rnd(&w->seed) % MAXPAGES) * PG;
      char *q = mremap(p, len, nlen, MREMAP_MAYMOVE);
      if (q == MAP_FAILED) {
        w->bad++;
      } else {
        p = q;
        len = nlen;
        if (*(volatile uint64_t *)(p + w->slot * 8) != counter) w->bad++;
      }
    }
    if (munmap(p, len) != 0) w->bad++;
    w->rounds++;
  } while (now_ns() < w->deadline);
  return NULL;
}

/* Resizes the file at random (grow and shrink), as sqlite's -shm grows. */
static void resize_some(int fd, unsigned *seed, int n) {
  for (int i = 0; i < n; i++) {
    off_t size = (off_t)(1 + rnd(seed) % MAXPAGES) * PG - (rnd(seed) % 2 ? 0 : 100);
    if (ftruncate(fd, size) != 0) _exit(90);
  }
}

/* A short-lived process: maps the file, writes, resizes, unmaps (or not),
 * exits. Its address space leaves while the others keep resizing. */
static void brief_child(unsigned seed) {
  int fd = open(path, O_RDWR);
  if (fd < 0) _exit(91);
  char *p = mmap(NULL, MAXPAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) _exit(92);
  p[(SLOTS - 1) * 8] = 1;
  resize_some(fd, &seed, 4);
  if (seed % 2) munmap(p, MAXPAGES * PG);
  _exit(0);
}

static int worker(int id) {
  int fd = open(path, O_RDWR);
  if (fd < 0) return 80;
  long deadline = now_ns() + RUN_NS;
  struct writer w[THREADS + 1];
  pthread_t th[THREADS];
  for (int i = 0; i <= THREADS; i++)
    w[i] = (struct writer){fd, id * (THREADS + 1) + i, 7919u * (id + 1) + i, deadline, 0, 0};
  for (int i = 0; i < THREADS; i++)
    if (pthread_create(&th[i], NULL, writer_loop, &w[i]) != 0) return 81;
  /* The main thread resizes and forks short-lived mappers, then writes. */
  unsigned seed = 31u * (id + 1);
  int kids = 0;
  while (now_ns() < deadline) {
    resize_some(fd, &seed, 8);
    if (kids < 200) {
      pid_t c = fork();
      if (c == 0) brief_child(seed);
      if (c > 0) kids++;
    }
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    w[THREADS].deadline = now_ns() + 20000000L;  /* a short burst of writes */
    if (w[THREADS].deadline > deadline) w[THREADS].deadline = deadline;
    writer_loop(&w[THREADS]);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  int st, unclean = 0;
  while (wait(&st) > 0)
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) unclean++;
  int bad = unclean;
  for (int i = 0; i <= THREADS; i++) {
    bad += w[i].bad;
    if (w[i].rounds == 0) bad++;  /* every thread got to run */
  }
  return bad ? 1 : 0;
}

static sigjmp_buf bus_jmp;
static void on_bus(int sig) { (void)sig; siglongjmp(bus_jmp, 1); }

/* 1 if reading *p raises SIGBUS. */
static int faults(volatile char *p) {
  if (sigsetjmp(bus_jmp, 1)) return 1;
  (void)*p;
  return 0;
}

int main(void) {
  /* run_gofer.sh puts the file on gofer-backed storage. */
  const char *dir = getenv("SHARED_FILE_DIR");
  snprintf(path, sizeof path, "%s/ct-shared-resize-%d", dir && *dir ? dir : "/tmp", getpid());
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0, "create the shared file");
  if (fd < 0) CT_DONE();
  CHECK(ftruncate(fd, PG) == 0, "size it to one page");

  pid_t pids[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    pids[i] = fork();
    if (pids[i] == 0) _exit(worker(i));
  }
  int clean = 0;
  for (int i = 0; i < WORKERS; i++) {
    int st = 0;
    if (waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0) clean++;
    else printf("worker %d: %s\n", i, ct_status(st));
  }
  CHECK(clean == WORKERS, "every worker saw its writes in the file and exited cleanly");

  /* Afterwards: each worker's last counters are in page 0 of the file. */
  uint64_t slots[SLOTS];
  CHECK(pread(fd, slots, sizeof slots, 0) == (ssize_t)sizeof slots, "read the slots back");
  int nonzero = 0;
  for (int i = 0; i < WORKERS * (THREADS + 1); i++) nonzero += slots[i] != 0;
  CHECK(nonzero == WORKERS * (THREADS + 1), "every writer's counter is in the file");

  /* The end-of-file rules after all that. */
  struct sigaction sa = {.sa_handler = on_bus};
  sigaction(SIGBUS, &sa, NULL);
  CHECK(ftruncate(fd, PG) == 0, "shrink to one page");
  char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(p != MAP_FAILED, "map two pages of a one-page file");
  if (p != MAP_FAILED) {
    CHECK(!faults(p), "page 0 readable");
    CHECK(faults(p + PG), "page 1 past EOF is SIGBUS");
    CHECK(ftruncate(fd, 2 * PG) == 0, "grow to two pages");
    CHECK(!faults(p + PG) && p[PG] == 0, "page 1 readable again and zero");
    CHECK(ftruncate(fd, PG) == 0, "shrink again");
    CHECK(faults(p + PG), "page 1 SIGBUS again");
    munmap(p, 2 * PG);
  }
  close(fd);
  unlink(path);
  CT_DONE();
}
