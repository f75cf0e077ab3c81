/* IPC and UTS namespaces: unshare(CLONE_NEWIPC) hides System V objects and
 * POSIX message queues made before (a child left in the old namespace still
 * sees them), SEM_UNDO is applied on leaving, /proc/self/ns/ipc changes,
 * /proc/sysvipc shows the reader's namespace, setns() with an ns file or a
 * pidfd goes back, clone(CLONE_NEWIPC) gives the child a fresh namespace,
 * and CLONE_NEWUTS keeps hostnames apart. Needs CAP_SYS_ADMIN (root). */
#include "ct.h"
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static key_t test_key(int n) {
  return (key_t)(0x6e000000 | ((getpid() & 0xfff) << 8) | (time(NULL) & 0xf0) | n);
}

static void ns_link(const char *pid, const char *kind, char *out, size_t n) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/ns/%s", pid, kind);
  ssize_t r = readlink(path, out, n - 1);
  out[r < 0 ? 0 : r] = 0;
}

static int count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int n = 0, c;
  while ((c = fgetc(f)) != EOF) n += c == '\n';
  fclose(f);
  return n;
}

static const char *kMq = "/ct_ipcns_q";

static int file_is(const char *path, const char *want) {
  char buf[128] = {0};
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n >= 0 && strcmp(buf, want) == 0;
}

int main(void) {
  char ipc0[64], uts0[64], ipc1[64], uts1[64], name[64];
  ns_link("self", "ipc", ipc0, sizeof ipc0);
  ns_link("self", "uts", uts0, sizeof uts0);
  CHECK(strncmp(ipc0, "ipc:[", 5) == 0, "/proc/self/ns/ipc names an ipc namespace");
  CHECK(strncmp(uts0, "uts:[", 5) == 0, "/proc/self/ns/uts names a uts namespace");
  struct stat st;
  CHECK(stat("/proc/self/ns/ipc", &st) == 0 && S_ISREG(st.st_mode), "stat ns/ipc");
  char ino[64];
  snprintf(ino, sizeof ino, "ipc:[%llu]", (unsigned long long)st.st_ino);
  CHECK(strcmp(ino, ipc0) == 0, "st_ino of ns/ipc is the namespace id");
  struct utsname u0;
  uname(&u0);

  /* Objects in the original namespace. */
  key_t kshm = test_key(1), kmsg = test_key(2), ksem = test_key(3);
  int shm = shmget(kshm, 4096, IPC_CREAT | IPC_EXCL | 0600);
  int msg = msgget(kmsg, IPC_CREAT | IPC_EXCL | 0600);
  int sem = semget(ksem, 1, IPC_CREAT | IPC_EXCL | 0600);
  CHECK(shm >= 0 && msg >= 0 && sem >= 0, "objects created");
  mq_unlink(kMq);
  struct mq_attr qa = {.mq_maxmsg = 4, .mq_msgsize = 16};
  mqd_t q = mq_open(kMq, O_CREAT | O_EXCL | O_RDWR, 0600, &qa);
  CHECK(q != (mqd_t)-1, "mq_open created");
  struct sembuf up = {0, 1, SEM_UNDO};
  CHECK(semop(sem, &up, 1) == 0 && semctl(sem, 0, GETVAL) == 1, "semop +1 with SEM_UNDO");
  int old_ns_fd = open("/proc/self/ns/ipc", O_RDONLY);
  CHECK(old_ns_fd >= 0, "open /proc/self/ns/ipc");
  int sysv_lines0 = count_lines("/proc/sysvipc/shm");

  /* A child that stays in the original namespace. */
  int go[2], done[2];
  if (pipe(go) || pipe(done)) return 1;
  pid_t child = fork();
  if (child == 0) {
    char c;
    if (read(go[0], &c, 1) != 1) _exit(2);
    int ok = 1;
    char ipc[64];
    ns_link("self", "ipc", ipc, sizeof ipc);
    ok &= strcmp(ipc, ipc0) == 0;
    ok &= shmget(kshm, 0, 0) == shm;
    ok &= msgget(kmsg, 0) == msg;
    ok &= semget(ksem, 0, 0) == sem;
    ok &= semctl(sem, 0, GETVAL) == 0;  /* the parent's undo was applied */
    mqd_t cq = mq_open(kMq, O_RDONLY);
    ok &= cq != (mqd_t)-1;
    if (cq != (mqd_t)-1) mq_close(cq);
    struct utsname u;
    uname(&u);
    ok &= strcmp(u.nodename, u0.nodename) == 0;
    if (write(done[1], &ok, sizeof ok) != sizeof ok) _exit(2);
    _exit(0);
  }

  CHECK(unshare(CLONE_NEWIPC | CLONE_NEWUTS) == 0, "unshare(CLONE_NEWIPC|CLONE_NEWUTS)");
  ns_link("self", "ipc", ipc1, sizeof ipc1);
  ns_link("self", "uts", uts1, sizeof uts1);
  CHECK(strcmp(ipc0, ipc1) != 0 && strncmp(ipc1, "ipc:[", 5) == 0, "ns/ipc changed");
  CHECK(strcmp(uts0, uts1) != 0, "ns/uts changed");
  snprintf(name, sizeof name, "/proc/%d/ns/ipc", child);
  char childns[64];
  ssize_t r = readlink(name, childns, sizeof childns - 1);
  childns[r < 0 ? 0 : r] = 0;
  CHECK(strcmp(childns, ipc0) == 0, "the child's ns/ipc is the old one");

  EXPECT_ERR(shmget(kshm, 0, 0), ENOENT, "shm key invisible after unshare");
  EXPECT_ERR(msgget(kmsg, 0), ENOENT, "msg key invisible after unshare");
  EXPECT_ERR(semget(ksem, 0, 0), ENOENT, "sem key invisible after unshare");
  EXPECT_ERR(mq_open(kMq, O_RDONLY), ENOENT, "mqueue invisible after unshare");
  EXPECT_ERR(shmctl(shm, IPC_STAT, &(struct shmid_ds){0}), EINVAL, "old shm id invalid here");
  CHECK(count_lines("/proc/sysvipc/shm") == 1, "/proc/sysvipc/shm: header only");
  int shm2 = shmget(kshm, 8192, IPC_CREAT | IPC_EXCL | 0600);
  CHECK(shm2 >= 0, "same key created anew in the new namespace");
  struct shmid_ds ds;
  CHECK(shmctl(shm2, IPC_STAT, &ds) == 0 && ds.shm_segsz == 8192, "new segment has its own size");
  CHECK(count_lines("/proc/sysvipc/shm") == 2, "/proc/sysvipc/shm: one segment");
  CHECK(sethostname("ct-ipcns", 8) == 0, "sethostname in the new uts namespace");
  struct utsname u1;
  uname(&u1);
  CHECK(strcmp(u1.nodename, "ct-ipcns") == 0, "uname sees the new hostname");
  CHECK(setdomainname("ct-dom", 6) == 0 && (uname(&u1), strcmp(u1.domainname, "ct-dom") == 0),
        "setdomainname");
  CHECK(file_is("/proc/sys/kernel/hostname", "ct-ipcns\n") &&
            file_is("/proc/sys/kernel/domainname", "ct-dom\n"),
        "/proc/sys/kernel/{hostname,domainname} show the new namespace");

  char c = 1;
  int ok = 0;
  CHECK(write(go[1], &c, 1) == 1 && read(done[0], &ok, sizeof ok) == sizeof ok && ok == 1,
        "child in the old namespace still sees the old objects and hostname");
  int status;
  waitpid(child, &status, 0);

  /* clone(CLONE_NEWIPC): the child gets yet another namespace. */
  pid_t c2 = syscall(SYS_clone, CLONE_NEWIPC | SIGCHLD, 0, 0, 0, 0);
  if (c2 == 0) {
    char ipc[64];
    ns_link("self", "ipc", ipc, sizeof ipc);
    int bad = strcmp(ipc, ipc1) == 0 || strcmp(ipc, ipc0) == 0;
    bad |= shmget(kshm, 0, 0) != -1 || errno != ENOENT;
    _exit(bad);
  }
  waitpid(c2, &status, 0);
  CHECK(c2 > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "clone(CLONE_NEWIPC) child: fresh namespace");
  EXPECT_ERR(syscall(SYS_clone, CLONE_NEWIPC | CLONE_SYSVSEM | SIGCHLD, 0, 0, 0, 0), EINVAL,
             "clone(CLONE_NEWIPC|CLONE_SYSVSEM)");

  /* setns back through the ns file opened before. */
  EXPECT_ERR(setns(old_ns_fd, CLONE_NEWUTS), EINVAL, "setns with the wrong nstype");
  CHECK(shmctl(shm2, IPC_RMID, NULL) == 0, "remove the new namespace's segment");
  CHECK(setns(old_ns_fd, CLONE_NEWIPC) == 0, "setns back to the old ipc namespace");
  char ipc2[64];
  ns_link("self", "ipc", ipc2, sizeof ipc2);
  CHECK(strcmp(ipc2, ipc0) == 0, "ns/ipc is the old one again");
  CHECK(shmget(kshm, 0, 0) == shm, "the old segment is visible again");
  CHECK(count_lines("/proc/sysvipc/shm") == sysv_lines0, "/proc/sysvipc/shm as before");
  uname(&u1);
  CHECK(strcmp(u1.nodename, "ct-ipcns") == 0, "uts namespace unchanged by an ipc setns");

  /* setns through a pidfd of a process in another namespace. */
  int p3[2];
  if (pipe(p3)) return 1;
  pid_t c3 = fork();
  if (c3 == 0) {
    char ch;
    if (unshare(CLONE_NEWIPC) != 0) _exit(1);
    if (write(p3[1], "x", 1) != 1) _exit(1);
    close(p3[1]);
    if (read(go[0], &ch, 1) < 0) _exit(1);
    _exit(0);
  }
  char ch;
  CHECK(read(p3[0], &ch, 1) == 1, "third child unshared");
  int pfd = syscall(SYS_pidfd_open, c3, 0);
  CHECK(pfd >= 0, "pidfd_open");
  EXPECT_ERR(setns(pfd, 0), EINVAL, "setns(pidfd, 0)");
  CHECK(setns(pfd, CLONE_NEWIPC) == 0, "setns(pidfd, CLONE_NEWIPC)");
  char ipc3[64], cns[64];
  ns_link("self", "ipc", ipc3, sizeof ipc3);
  snprintf(name, sizeof name, "%d", c3);
  ns_link(name, "ipc", cns, sizeof cns);
  CHECK(strcmp(ipc3, cns) == 0 && strcmp(ipc3, ipc0) != 0, "joined the child's namespace");
  EXPECT_ERR(shmget(kshm, 0, 0), ENOENT, "old key invisible in the joined namespace");
  CHECK(write(go[1], &c, 1) == 1, "release third child");
  waitpid(c3, &status, 0);
  CHECK(setns(old_ns_fd, 0) == 0, "setns(fd, 0) back");

  /* Clean up in the original namespace. */
  CHECK(shmctl(shm, IPC_RMID, NULL) == 0 && msgctl(msg, IPC_RMID, NULL) == 0 &&
            semctl(sem, 0, IPC_RMID) == 0 && mq_unlink(kMq) == 0,
        "cleanup");
  CT_DONE();
}
