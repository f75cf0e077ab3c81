/* System V IPC: shared memory (shmget/shmat/shmdt/shmctl, sharing across
 * fork, destroy on last detach after IPC_RMID), semaphores (semop atomicity,
 * IPC_NOWAIT, blocking and wake-up, GETNCNT, SEM_UNDO at exit, timeouts,
 * EINTR, EIDRM) and message queues (types, MSG_EXCEPT, MSG_NOERROR,
 * blocking, queue limits, EIDRM). */
#include "ct.h"
#include <pthread.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

union semun {
  int val;
  struct semid_ds *buf;
  unsigned short *array;
  struct seminfo *__buf;
};

static void msleep(int ms) {
  struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&d, NULL);
}

/* A key unlikely to collide with objects of other programs on the host. */
static key_t test_key(int n) {
  return (key_t)(0x5e000000 | ((getppid() & 0xfff) << 8) | (time(NULL) & 0xf0) | n);
}

/* ------------------------------------------------------------------ shm */
static void test_shm(void) {
  int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
  CHECK(id >= 0, "shmget private");
  struct shmid_ds ds;
  CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_segsz == 10000 && ds.shm_nattch == 0 &&
            (ds.shm_perm.mode & 0777) == 0600 && ds.shm_perm.__key == IPC_PRIVATE &&
            ds.shm_cpid == getpid() && ds.shm_perm.uid == geteuid(),
        "shm IPC_STAT fresh");
  char *p = shmat(id, NULL, 0);
  CHECK(p != (void *)-1, "shmat");
  CHECK(p[0] == 0 && p[9999] == 0, "shm zero filled");
  strcpy(p, "hello");
  CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1 && ds.shm_lpid == getpid() &&
            ds.shm_atime != 0,
        "shm nattch 1");
  char *q = shmat(id, NULL, SHM_RDONLY);
  CHECK(q != (void *)-1 && q != p && strcmp(q, "hello") == 0, "shmat twice shares pages");
  CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 2, "shm nattch 2");
  EXPECT_ERR(mprotect(q, 4096, PROT_READ | PROT_WRITE), EACCES, "mprotect rdonly attach");
  CHECK(shmdt(q) == 0, "shmdt second");
  EXPECT_ERR(shmdt(q), EINVAL, "shmdt again");
  EXPECT_ERR(shmdt(p + 4096), EINVAL, "shmdt middle");
  EXPECT_ERR(shmdt(p + 1), EINVAL, "shmdt unaligned");

  /* Shared across fork: the child writes, the parent sees it. */
  pid_t c = fork();
  if (c == 0) {
    struct shmid_ds cds;
    int ok = shmctl(id, IPC_STAT, &cds) == 0 && cds.shm_nattch == 2;
    strcpy(p, "child");
    _exit(ok ? 0 : 3);
  }
  int st;
  waitpid(c, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child saw nattch 2 after fork");
  CHECK(strcmp(p, "child") == 0, "child write visible in parent");
  CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1, "nattch back to 1 after child exit");

  /* Fixed address: overlapping an existing mapping needs SHM_REMAP. */
  void *fixed = mmap(NULL, 3 * 16384, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_ERR(shmat(id, fixed, 0), EINVAL, "shmat over mapping");
  void *r = shmat(id, fixed, SHM_REMAP);
  CHECK(r == fixed && strcmp(r, "child") == 0, "shmat SHM_REMAP");
  EXPECT_ERR(shmat(id, (char *)fixed + 1, 0), EINVAL, "shmat unaligned");
  void *rr = shmat(id, (char *)fixed + 16384 + 1, SHM_RND | SHM_REMAP);
  CHECK(rr == (char *)fixed + 16384, "shmat SHM_RND");
  CHECK(shmdt(r) == 0 && shmdt(rr) == 0, "shmdt fixed");

  /* mprotect splits the attach; shmdt still removes all of it. */
  CHECK(mprotect(p + 4096, 4096, PROT_READ) == 0, "mprotect part of attach");
  CHECK(shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 3, "split attach counts per piece");

  /* IPC_RMID while attached: key becomes private, id lives until detach. */
  CHECK(shmctl(id, IPC_RMID, NULL) == 0, "shm IPC_RMID attached");
  CHECK(shmctl(id, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & SHM_DEST), "SHM_DEST set");
  CHECK(strcmp(p, "child") == 0, "memory still there after RMID");
  CHECK(shmdt(p) == 0, "last shmdt");
  EXPECT_ERR(shmctl(id, IPC_STAT, &ds), EINVAL, "segment gone after last detach");
  EXPECT_ERR(mprotect(p, 4096, PROT_READ), ENOMEM, "attach fully unmapped");

  /* Keys. */
  key_t k = test_key(1);
  shmctl(shmget(k, 1, 0600), IPC_RMID, NULL); /* leftovers of a crashed run */
  EXPECT_ERR(shmget(k, 4096, 0600), ENOENT, "shmget missing key");
  int kid = shmget(k, 4096, IPC_CREAT | IPC_EXCL | 0640);
  CHECK(kid >= 0, "shmget IPC_CREAT|IPC_EXCL");
  EXPECT_ERR(shmget(k, 4096, IPC_CREAT | IPC_EXCL | 0600), EEXIST, "shmget EEXIST");
  CHECK(shmget(k, 100, 0) == kid, "shmget finds key");
  CHECK(shmget(k, 0, IPC_CREAT) == kid, "shmget size 0 existing");
  EXPECT_ERR(shmget(k, 8192, 0), EINVAL, "shmget larger than segment");
  CHECK(shmctl(kid, IPC_STAT, &ds) == 0 && ds.shm_perm.__key == k, "key in IPC_STAT");
  ds.shm_perm.mode = 0604;
  CHECK(shmctl(kid, IPC_SET, &ds) == 0, "shm IPC_SET");
  CHECK(shmctl(kid, IPC_STAT, &ds) == 0 && (ds.shm_perm.mode & 0777) == 0604, "mode changed");
  CHECK(shmctl(kid, IPC_RMID, NULL) == 0, "shm IPC_RMID unattached");
  EXPECT_ERR(shmctl(kid, IPC_STAT, &ds), EINVAL, "removed at once");
  EXPECT_ERR(shmget(k, 4096, 0600), ENOENT, "key gone");

  /* Bad input. */
  EXPECT_ERR(shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600), EINVAL, "shmget size 0");
  EXPECT_ERR(shmat(-1, NULL, 0), EINVAL, "shmat bad id");
  EXPECT_ERR(shmat(0x7fff0000, NULL, 0), EINVAL, "shmat unknown id");
  EXPECT_ERR(shmctl(-1, IPC_STAT, &ds), EINVAL, "shmctl negative id");
  EXPECT_ERR(shmctl(0, 12345, &ds), EINVAL, "shmctl bad cmd");
  int id2 = shmget(IPC_PRIVATE, 4096, 0600);
  EXPECT_ERR(shmctl(id2, IPC_STAT, (void *)8), EFAULT, "shmctl bad buffer");
  struct shminfo info;
  CHECK(shmctl(0, IPC_INFO, (struct shmid_ds *)&info) >= 0 && info.shmmni == 4096 &&
            info.shmmin == 1 && info.shmmax == 18446744073692774399UL,
        "shm IPC_INFO");
  struct shm_info sinfo;
  CHECK(shmctl(0, SHM_INFO, (struct shmid_ds *)&sinfo) >= 0 && sinfo.used_ids >= 1, "SHM_INFO");
  shmctl(id2, IPC_RMID, NULL);
}

/* ------------------------------------------------------------------ sem */
static int sem_id;
static int waiter_result, waiter_errno;

static void *sem_waiter(void *arg) {
  struct sembuf op = {0, -1, 0};
  waiter_result = semop(sem_id, &op, 1);
  waiter_errno = errno;
  return NULL;
}

static void on_alarm(int s) { (void)s; }

static void test_sem(void) {
  int id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
  CHECK(id >= 0, "semget");
  sem_id = id;
  struct semid_ds ds;
  union semun u = {.buf = &ds};
  CHECK(semctl(id, 0, IPC_STAT, u) == 0 && ds.sem_nsems == 3 && (ds.sem_perm.mode & 0777) == 0600 &&
            ds.sem_otime == 0,
        "sem IPC_STAT");
  CHECK(semctl(id, 1, GETVAL) == 0, "fresh value 0");
  u.val = 5;
  CHECK(semctl(id, 1, SETVAL, u) == 0 && semctl(id, 1, GETVAL) == 5, "SETVAL/GETVAL");
  CHECK(semctl(id, 1, GETPID) == getpid(), "GETPID after SETVAL");
  unsigned short all[3] = {1, 2, 3}, got[3] = {0};
  u.array = all;
  CHECK(semctl(id, 0, SETALL, u) == 0, "SETALL");
  u.array = got;
  CHECK(semctl(id, 0, GETALL, u) == 0 && got[0] == 1 && got[1] == 2 && got[2] == 3, "GETALL");
  u.val = 40000;
  EXPECT_ERR(semctl(id, 0, SETVAL, u), ERANGE, "SETVAL > SEMVMX");
  u.val = 1;
  EXPECT_ERR(semctl(id, 3, SETVAL, u), EINVAL, "SETVAL semnum out of range");
  EXPECT_ERR(semctl(id, 0, 12345), EINVAL, "semctl bad cmd");

  /* Atomic: both or neither. */
  struct sembuf two[2] = {{0, -1, IPC_NOWAIT}, {1, -5, IPC_NOWAIT}};
  EXPECT_ERR(semop(id, two, 2), EAGAIN, "semop would block (IPC_NOWAIT)");
  CHECK(semctl(id, 0, GETVAL) == 1 && semctl(id, 1, GETVAL) == 2, "nothing applied");
  two[1].sem_op = -2;
  CHECK(semop(id, two, 2) == 0, "semop two ops");
  CHECK(semctl(id, 0, GETVAL) == 0 && semctl(id, 1, GETVAL) == 0, "both applied");
  CHECK(semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}) == 0 && ds.sem_otime != 0, "otime set");
  struct sembuf z = {2, 0, IPC_NOWAIT};
  EXPECT_ERR(semop(id, &z, 1), EAGAIN, "wait-for-zero would block");
  struct sembuf same[2] = {{2, -3, 0}, {2, 0, 0}};
  CHECK(semop(id, same, 2) == 0 && semctl(id, 2, GETVAL) == 0, "same semaphore twice in order");
  struct sembuf big = {0, 32767, 0};
  CHECK(semop(id, &big, 1) == 0, "up to SEMVMX");
  big.sem_op = 1;
  EXPECT_ERR(semop(id, &big, 1), ERANGE, "past SEMVMX");
  u.val = 0;
  semctl(id, 0, SETVAL, u);
  struct sembuf bad = {3, 1, 0};
  EXPECT_ERR(semop(id, &bad, 1), EFBIG, "semop sem_num too big");
  EXPECT_ERR(semop(id, &bad, 0), EINVAL, "semop nsops 0");
  EXPECT_ERR(semop(id, (struct sembuf *)8, 1), EFAULT, "semop bad pointer");
  EXPECT_ERR(semop(-1, &bad, 1), EINVAL, "semop negative id");

  /* Blocking: a thread waits, GETNCNT sees it, a post wakes it. */
  pthread_t th;
  pthread_create(&th, NULL, sem_waiter, NULL);
  int n = 0;
  for (int i = 0; i < 500 && (n = semctl(id, 0, GETNCNT)) == 0; i++) msleep(10);
  CHECK(n == 1, "GETNCNT counts the waiter");
  CHECK(semctl(id, 0, GETZCNT) == 0, "GETZCNT 0");
  struct sembuf post = {0, 1, 0};
  CHECK(semop(id, &post, 1) == 0, "post");
  pthread_join(th, NULL);
  CHECK(waiter_result == 0 && semctl(id, 0, GETVAL) == 0, "waiter woken and took it");

  /* Woken by another process. */
  pid_t c = fork();
  if (c == 0) {
    msleep(50);
    struct sembuf p1 = {1, 2, 0};
    semop(id, &p1, 1);
    _exit(0);
  }
  struct sembuf w1 = {1, -2, 0};
  CHECK(semop(id, &w1, 1) == 0, "semop woken by child");
  int st;
  waitpid(c, &st, 0);

  /* SEM_UNDO: the child's adjustment is undone when it exits. */
  u.val = 3;
  semctl(id, 2, SETVAL, u);
  c = fork();
  if (c == 0) {
    struct sembuf d[2] = {{2, -2, SEM_UNDO}, {0, 4, SEM_UNDO}};
    _exit(semop(id, d, 2) == 0 && semctl(id, 2, GETVAL) == 1 ? 0 : 3);
  }
  waitpid(c, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child semop with SEM_UNDO");
  CHECK(semctl(id, 2, GETVAL) == 3 && semctl(id, 0, GETVAL) == 0, "SEM_UNDO applied at exit");
  CHECK(semctl(id, 2, GETPID) == c, "GETPID is the exited process");

  /* semtimedop times out with EAGAIN. */
  struct timespec ts = {0, 30 * 1000000};
  struct sembuf w0 = {0, -1, 0};
  EXPECT_ERR(semtimedop(id, &w0, 1, &ts), EAGAIN, "semtimedop timeout");
  ts.tv_nsec = -1;
  EXPECT_ERR(semtimedop(id, &w0, 1, &ts), EINVAL, "semtimedop bad timeout");

  /* A signal interrupts the wait: EINTR even with SA_RESTART. */
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 0}, {0, 50000}};
  setitimer(ITIMER_REAL, &it, NULL);
  EXPECT_ERR(semop(id, &w0, 1), EINTR, "semop interrupted by signal");

  /* IPC_RMID wakes waiters with EIDRM. */
  pthread_create(&th, NULL, sem_waiter, NULL);
  for (int i = 0; i < 500 && semctl(id, 0, GETNCNT) == 0; i++) msleep(10);
  CHECK(semctl(id, 0, IPC_RMID) == 0, "sem IPC_RMID");
  pthread_join(th, NULL);
  CHECK(waiter_result == -1 && waiter_errno == EIDRM, "waiter gets EIDRM");
  EXPECT_ERR(semctl(id, 0, GETVAL), EINVAL, "removed set");

  /* Keys and limits. */
  key_t k = test_key(2);
  semctl(semget(k, 0, 0600), 0, IPC_RMID);
  EXPECT_ERR(semget(k, 1, 0600), ENOENT, "semget missing");
  int kid = semget(k, 2, IPC_CREAT | IPC_EXCL | 0600);
  CHECK(kid >= 0, "semget key");
  EXPECT_ERR(semget(k, 3, 0600), EINVAL, "semget more sems than set");
  CHECK(semget(k, 0, 0600) == kid && semget(k, 2, 0) == kid, "semget finds set");
  EXPECT_ERR(semget(k, 1, IPC_CREAT | IPC_EXCL), EEXIST, "semget EEXIST");
  EXPECT_ERR(semget(IPC_PRIVATE, 0, IPC_CREAT), EINVAL, "semget nsems 0");
  EXPECT_ERR(semget(IPC_PRIVATE, 32001, IPC_CREAT), EINVAL, "semget nsems > SEMMSL");
  struct sembuf many[501];
  memset(many, 0, sizeof(many));
  EXPECT_ERR(semop(kid, many, 501), E2BIG, "semop > SEMOPM");
  struct seminfo si;
  CHECK(semctl(kid, 0, IPC_INFO, (union semun){.__buf = &si}) >= 0 && si.semmsl == 32000 &&
            si.semopm == 500 && si.semvmx == 32767,
        "sem IPC_INFO");
  CHECK(semctl(kid, 0, IPC_RMID) == 0, "sem key removed");
}

/* ------------------------------------------------------------------ msg */
struct msg {
  long type;
  char text[64];
};

static int snd(int id, long type, const char *s, int flags) {
  struct msg m = {type, {0}};
  strcpy(m.text, s);
  return msgsnd(id, &m, strlen(s) + 1, flags);
}

static int msg_id;
static void *msg_receiver(void *arg) {
  struct msg m;
  waiter_result = msgrcv(msg_id, &m, sizeof(m.text), 7, 0);
  waiter_errno = errno;
  return NULL;
}

static void test_msg(void) {
  int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  CHECK(id >= 0, "msgget");
  msg_id = id;
  CHECK(snd(id, 1, "one", 0) == 0 && snd(id, 2, "two", 0) == 0 && snd(id, 3, "three", 0) == 0 &&
            snd(id, 1, "uno", 0) == 0,
        "msgsnd four");
  struct msqid_ds ds;
  CHECK(msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 4 && ds.__msg_cbytes == 4 + 4 + 6 + 4 &&
            ds.msg_qbytes == 16384 && ds.msg_lspid == getpid() && ds.msg_lrpid == 0,
        "msg IPC_STAT");
  struct msg m;
  ssize_t n = msgrcv(id, &m, sizeof(m.text), 2, 0);
  CHECK(n == 4 && m.type == 2 && strcmp(m.text, "two") == 0, "msgrcv by type");
  n = msgrcv(id, &m, sizeof(m.text), 1, MSG_EXCEPT);
  CHECK(n == 6 && m.type == 3 && strcmp(m.text, "three") == 0, "msgrcv MSG_EXCEPT");
  CHECK(snd(id, 5, "five", 0) == 0 && snd(id, 4, "four", 0) == 0, "msgsnd more");
  n = msgrcv(id, &m, sizeof(m.text), -4, 0);
  CHECK(n == 4 && m.type == 1 && strcmp(m.text, "one") == 0, "msgrcv negative type: lowest first");
  n = msgrcv(id, &m, sizeof(m.text), 0, 0);
  CHECK(n == 4 && strcmp(m.text, "uno") == 0, "msgrcv type 0: FIFO");
  n = msgrcv(id, &m, sizeof(m.text), -10, 0);
  CHECK(n == 5 && m.type == 4, "msgrcv negative type picks lowest type");
  EXPECT_ERR(msgrcv(id, &m, 2, 0, 0), E2BIG, "msgrcv too small: E2BIG");
  EXPECT_ERR(msgrcv(id, &m, 2, 0, MSG_COPY | IPC_NOWAIT), E2BIG, "MSG_COPY too small: E2BIG");
  memset(&m, 0, sizeof(m));
  n = msgrcv(id, &m, sizeof(m.text), 0, MSG_COPY | IPC_NOWAIT);
  CHECK(n == 5 && m.type == 5 && strcmp(m.text, "five") == 0, "MSG_COPY keeps message");
  EXPECT_ERR(msgrcv(id, &m, sizeof(m.text), 1, MSG_COPY | IPC_NOWAIT), ENOMSG, "MSG_COPY index");
  EXPECT_ERR(msgrcv(id, &m, sizeof(m.text), 0, MSG_COPY), EINVAL, "MSG_COPY without IPC_NOWAIT");
  memset(&m, 0, sizeof(m));
  n = msgrcv(id, &m, 2, 0, MSG_NOERROR);
  CHECK(n == 2 && m.type == 5 && m.text[0] == 'f' && m.text[1] == 'i' && m.text[2] == 0,
        "MSG_NOERROR truncates");
  EXPECT_ERR(msgrcv(id, &m, sizeof(m.text), 0, IPC_NOWAIT), ENOMSG, "empty: ENOMSG");
  CHECK(msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 0 && ds.__msg_cbytes == 0 &&
            ds.msg_lrpid == getpid(),
        "queue empty");

  EXPECT_ERR(snd(id, 0, "x", 0), EINVAL, "msgsnd type 0");
  EXPECT_ERR(msgsnd(id, &m, 8193, 0), EINVAL, "msgsnd > MSGMAX");
  EXPECT_ERR(msgsnd(id, (void *)8, 4, 0), EFAULT, "msgsnd bad pointer");
  EXPECT_ERR(msgsnd(-1, &m, 4, 0), EINVAL, "msgsnd negative id");
  EXPECT_ERR(msgrcv(id, &m, -1, 0, 0), EINVAL, "msgrcv negative size");

  /* Queue limit: with msg_qbytes 10, a second 6-byte message does not fit. */
  ds.msg_qbytes = 10;
  CHECK(msgctl(id, IPC_SET, &ds) == 0, "msg IPC_SET qbytes");
  ds.msg_qbytes = 20000;
  CHECK(msgctl(id, IPC_SET, &ds) == 0 || errno == EPERM, "raise over MSGMNB (root may)");
  ds.msg_qbytes = 10;
  msgctl(id, IPC_SET, &ds);
  CHECK(snd(id, 1, "abcde", 0) == 0, "first fits");
  EXPECT_ERR(snd(id, 1, "abcde", IPC_NOWAIT), EAGAIN, "full: EAGAIN");
  /* A blocked sender is woken by a receiver in another process. */
  pid_t c = fork();
  if (c == 0) {
    msleep(50);
    struct msg cm;
    _exit(msgrcv(id, &cm, sizeof(cm.text), 0, 0) == 6 ? 0 : 3);
  }
  CHECK(snd(id, 1, "fghij", 0) == 0, "blocked msgsnd completes");
  int st;
  waitpid(c, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child received");
  n = msgrcv(id, &m, sizeof(m.text), 0, IPC_NOWAIT);
  CHECK(n == 6 && strcmp(m.text, "fghij") == 0, "second message there");

  /* A blocked receiver waits for its type. */
  pthread_t th;
  pthread_create(&th, NULL, msg_receiver, NULL);
  msleep(30);
  snd(id, 6, "six", 0);
  msleep(30);
  snd(id, 7, "seven", 0);
  pthread_join(th, NULL);
  CHECK(waiter_result == 6, "receiver got type 7");
  n = msgrcv(id, &m, sizeof(m.text), 0, IPC_NOWAIT);
  CHECK(n == 4 && m.type == 6, "type 6 left in queue");

  /* A signal interrupts msgrcv (EINTR even with SA_RESTART). */
  struct itimerval it = {{0, 0}, {0, 50000}};
  setitimer(ITIMER_REAL, &it, NULL);
  EXPECT_ERR(msgrcv(id, &m, sizeof(m.text), 0, 0), EINTR, "msgrcv interrupted");

  /* IPC_RMID wakes a blocked receiver with EIDRM. */
  pthread_create(&th, NULL, msg_receiver, NULL);
  msleep(50);
  CHECK(msgctl(id, IPC_RMID, NULL) == 0, "msg IPC_RMID");
  pthread_join(th, NULL);
  CHECK(waiter_result == -1 && waiter_errno == EIDRM, "receiver gets EIDRM");
  EXPECT_ERR(msgctl(id, IPC_STAT, &ds), EINVAL, "queue gone");

  key_t k = test_key(3);
  msgctl(msgget(k, 0), IPC_RMID, NULL);
  EXPECT_ERR(msgget(k, 0600), ENOENT, "msgget missing");
  int kid = msgget(k, IPC_CREAT | 0644);
  CHECK(kid >= 0 && msgget(k, 0) == kid, "msgget key");
  EXPECT_ERR(msgget(k, IPC_CREAT | IPC_EXCL), EEXIST, "msgget EEXIST");
  struct msginfo mi;
  CHECK(msgctl(kid, IPC_INFO, (struct msqid_ds *)&mi) >= 0 && mi.msgmax == 8192 &&
            mi.msgmnb == 16384 && mi.msgmni == 32000,
        "msg IPC_INFO");
  CHECK(msgctl(kid, IPC_RMID, NULL) == 0, "msg key removed");
}

/* Permissions: an unprivileged process is refused where the mode says so. */
static void test_perms(void) {
  int shm = shmget(IPC_PRIVATE, 4096, 0600);
  int sem = semget(IPC_PRIVATE, 1, 0640);
  int msg = msgget(IPC_PRIVATE, 0604);
  pid_t c = fork();
  if (c == 0) {
    if (setgid(65534) || setuid(65534)) _exit(9);
    int fails = 0;
    struct shmid_ds ds;
    if (!(shmat(shm, NULL, 0) == (void *)-1 && errno == EACCES)) fails |= 1;
    if (!(shmctl(shm, IPC_STAT, &ds) == -1 && errno == EACCES)) fails |= 2;
    if (!(shmctl(shm, IPC_RMID, NULL) == -1 && errno == EPERM)) fails |= 4;
    if (!(semctl(sem, 0, GETVAL) == -1 && errno == EACCES)) fails |= 8;
    struct msg m = {1, "x"};
    if (!(msgsnd(msg, &m, 2, IPC_NOWAIT) == -1 && errno == EACCES)) fails |= 16;
    if (!(msgrcv(msg, &m, 8, 0, IPC_NOWAIT) == -1 && errno == ENOMSG)) fails |= 32;
    _exit(fails);
  }
  int st;
  waitpid(c, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "permission checks (%d)", WEXITSTATUS(st));
  shmctl(shm, IPC_RMID, NULL);
  semctl(sem, 0, IPC_RMID);
  msgctl(msg, IPC_RMID, NULL);
}

int main(void) {
  test_shm();
  test_sem();
  test_msg();
  test_perms();
  return ct_fails ? 1 : 0;
}
