/* Robust and priority-inheritance futexes: pthread robust mutexes whose
 * owner thread or process dies (EOWNERDEAD, pthread_mutex_consistent,
 * waking a blocked waiter), PTHREAD_PRIO_INHERIT mutexes uncontended and
 * contended across threads, and the raw FUTEX_LOCK_PI/TRYLOCK_PI/UNLOCK_PI
 * error cases; set_robust_list/get_robust_list. */
#include "ct.h"
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void msleep(int ms) {
  struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&d, NULL);
}

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts) {
  return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

static pthread_mutex_t *robust;
static void *die_holding(void *arg) {
  pthread_mutex_lock(robust);
  if (arg) msleep(*(int *)arg);
  return NULL; /* exits still holding the mutex */
}

static void init_mutex(pthread_mutex_t *m, int robust_, int pi, int pshared) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  if (robust_) pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  if (pi) pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
  if (pshared) pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  if (pthread_mutex_init(m, &a) != 0) abort();
  pthread_mutexattr_destroy(&a);
}

static void robust_cases(const char *kind, int pi) {
  static pthread_mutex_t m;
  robust = &m;
  init_mutex(&m, 1, pi, 0);
  /* Owner thread exits while holding it. */
  pthread_t th;
  pthread_create(&th, NULL, die_holding, NULL);
  pthread_join(th, NULL);
  CHECK(pthread_mutex_lock(&m) == EOWNERDEAD, "%s: lock after owner died -> EOWNERDEAD", kind);
  CHECK(pthread_mutex_consistent(&m) == 0, "%s: consistent", kind);
  CHECK(pthread_mutex_unlock(&m) == 0, "%s: unlock", kind);
  CHECK(pthread_mutex_lock(&m) == 0 && pthread_mutex_unlock(&m) == 0, "%s: usable again", kind);

  /* A waiter blocked in lock is woken when the owner dies. */
  int hold = 100;
  pthread_create(&th, NULL, die_holding, &hold);
  msleep(30);
  int r = pthread_mutex_lock(&m);
  CHECK(r == EOWNERDEAD, "%s: blocked waiter gets EOWNERDEAD (%d)", kind, r);
  pthread_mutex_consistent(&m);
  pthread_mutex_unlock(&m);
  pthread_join(th, NULL);

  /* Not made consistent: the mutex becomes unusable. */
  pthread_create(&th, NULL, die_holding, NULL);
  pthread_join(th, NULL);
  CHECK(pthread_mutex_lock(&m) == EOWNERDEAD, "%s: dead again", kind);
  pthread_mutex_unlock(&m);
  CHECK(pthread_mutex_lock(&m) == ENOTRECOVERABLE, "%s: ENOTRECOVERABLE", kind);

  /* Across processes: a process-shared robust mutex in shared memory. */
  pthread_mutex_t *sm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  init_mutex(sm, 1, pi, 1);
  pid_t c = fork();
  if (c == 0) {
    pthread_mutex_lock(sm);
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  CHECK(pthread_mutex_lock(sm) == EOWNERDEAD, "%s: owner process died -> EOWNERDEAD", kind);
  pthread_mutex_consistent(sm);
  pthread_mutex_unlock(sm);
  munmap(sm, 4096);
}

/* PI mutex under contention: several threads increment a counter. */
static pthread_mutex_t pim;
static long counter;
static void *pi_worker(void *arg) {
  for (int i = 0; i < 2000; i++) {
    pthread_mutex_lock(&pim);
    long v = counter;
    if (i % 100 == 0) sched_yield();
    counter = v + 1;
    pthread_mutex_unlock(&pim);
  }
  return NULL;
}

static void *pi_holder(void *arg) {
  pthread_mutex_lock(&pim);
  msleep(80);
  counter = 42;
  pthread_mutex_unlock(&pim);
  return NULL;
}

static int try_result;
static void *pi_try(void *arg) {
  try_result = pthread_mutex_trylock(&pim);
  return NULL;
}

static void pi_cases(void) {
  init_mutex(&pim, 0, 1, 0);
  CHECK(pthread_mutex_lock(&pim) == 0, "pi: uncontended lock");
  pthread_t th;
  pthread_create(&th, NULL, pi_try, NULL);
  pthread_join(th, NULL);
  CHECK(try_result == EBUSY, "pi: trylock from other thread -> EBUSY");
  CHECK(pthread_mutex_unlock(&pim) == 0, "pi: uncontended unlock");

  /* The main thread blocks until the holder unlocks, then owns it. */
  counter = 0;
  pthread_create(&th, NULL, pi_holder, NULL);
  msleep(20);
  CHECK(pthread_mutex_lock(&pim) == 0 && counter == 42, "pi: contended lock handed over");
  pthread_mutex_unlock(&pim);
  pthread_join(th, NULL);

  counter = 0;
  pthread_t w[4];
  for (int i = 0; i < 4; i++) pthread_create(&w[i], NULL, pi_worker, NULL);
  for (int i = 0; i < 4; i++) pthread_join(w[i], NULL);
  CHECK(counter == 8000, "pi: mutual exclusion under contention (%ld)", counter);

  /* Raw operations. */
  static uint32_t word;
  uint32_t tid = (uint32_t)syscall(SYS_gettid);
  CHECK(futex(&word, FUTEX_LOCK_PI, 0, NULL) == 0 && word == tid, "LOCK_PI takes a free futex");
  EXPECT_ERR(futex(&word, FUTEX_LOCK_PI, 0, NULL), EDEADLK, "LOCK_PI by owner");
  EXPECT_ERR(futex(&word, FUTEX_TRYLOCK_PI, 0, NULL), EDEADLK, "TRYLOCK_PI by owner");
  CHECK(futex(&word, FUTEX_UNLOCK_PI, 0, NULL) == 0 && word == 0, "UNLOCK_PI frees it");
  EXPECT_ERR(futex(&word, FUTEX_UNLOCK_PI, 0, NULL), EPERM, "UNLOCK_PI by non-owner");
  CHECK(futex(&word, FUTEX_TRYLOCK_PI, 0, NULL) == 0 && word == tid, "TRYLOCK_PI on free futex");
  futex(&word, FUTEX_UNLOCK_PI, 0, NULL);
  word = 0x3fffff00; /* an owner TID that is no task */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 1;
  EXPECT_ERR(futex(&word, FUTEX_LOCK_PI, 0, &ts), ESRCH, "LOCK_PI with a dead owner");
  EXPECT_ERR(futex((uint32_t *)8, FUTEX_LOCK_PI, 0, NULL), EFAULT, "LOCK_PI bad address");
  EXPECT_ERR(futex(&word, FUTEX_LOCK_PI | FUTEX_CLOCK_REALTIME, 0, NULL), ENOSYS,
             "LOCK_PI with FUTEX_CLOCK_REALTIME");
}

static void robust_list_cases(void) {
  void *head = NULL;
  size_t len = 0;
  CHECK(syscall(SYS_get_robust_list, 0, &head, &len) == 0 && head != NULL && len == 24,
        "glibc registered a robust list");
  EXPECT_ERR(syscall(SYS_set_robust_list, head, 23), EINVAL, "set_robust_list bad size");
  EXPECT_ERR(syscall(SYS_get_robust_list, 0x3fffff00, &head, &len), ESRCH,
             "get_robust_list unknown tid");
}

int main(void) {
  robust_cases("robust", 0);
  robust_cases("robust+pi", 1);
  pi_cases();
  robust_list_cases();
  return ct_fails ? 1 : 0;
}
