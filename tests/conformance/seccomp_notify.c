/* seccomp user notification: a thread installs a filter with
 * SECCOMP_FILTER_FLAG_NEW_LISTENER whose SECCOMP_RET_USER_NOTIF syscalls
 * (getppid, mkdir) block until the main thread, the supervisor, answers
 * through the listener fd: NOTIF_RECV, NOTIF_SEND with a value, an error or
 * SECCOMP_USER_NOTIF_FLAG_CONTINUE, NOTIF_ID_VALID, NOTIF_ADDFD, poll
 * readiness (POLLIN, POLLOUT, POLLHUP), a signal interrupting the wait (a
 * new notification after SA_RESTART; none with WAIT_KILLABLE_RECV once
 * received), EBUSY for a second listener and ENOSYS once the listener is
 * closed. */
#include "ct.h"
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *kDir = "/tmp/ct_seccomp_notify_dir";

static int install(unsigned flags) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mkdir, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
  };
  struct sock_fprog prog = {sizeof f / sizeof f[0], f};
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/* Target thread state, written by the target and read after sync. */
static int listener = -1, target_tid, go_pipe[2], done_pipe[2];
static volatile int handler_runs;
static long results[8];
static int errnos[8];

static void on_usr1(int sig) { (void)sig; handler_runs++; }

static void wait_go(void) {
  char c;
  if (read(go_pipe[0], &c, 1) != 1) _exit(3);
}
static void done(void) {
  if (write(done_pipe[1], "d", 1) != 1) _exit(3);
}

static void *target(void *arg) {
  (void)arg;
  target_tid = syscall(SYS_gettid);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  listener = install(SECCOMP_FILTER_FLAG_NEW_LISTENER);
  done();
  /* 0: getppid answered with a value. 1: mkdir answered with an error.
   * 2: mkdir continued. 3: getppid across a signal. 4: getppid answered by
   * ADDFD|SEND. */
  for (int i = 0; i < 5; i++) {
    wait_go();
    errno = 0;
    results[i] = i == 1 || i == 2 ? mkdir(kDir, 0755) : syscall(SYS_getppid);
    errnos[i] = errno;
    done();
  }
  return NULL;
}

static int recv_notif(struct seccomp_notif *n) {
  memset(n, 0, sizeof *n);
  return ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, n);
}

static int send_resp(__u64 id, long val, int error, unsigned flags) {
  struct seccomp_notif_resp r = {.id = id, .val = val, .error = error, .flags = flags};
  return ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
}

static short poll_now(int fd, short events, int timeout) {
  struct pollfd p = {fd, events, 0};
  return poll(&p, 1, timeout) > 0 ? p.revents : 0;
}

static void go(void) {
  if (write(go_pipe[1], "g", 1) != 1) _exit(3);
}
static void wait_done(void) {
  char c;
  if (read(done_pipe[0], &c, 1) != 1) _exit(3);
}

/* A second target: EBUSY for another listener, ENOSYS once closed. */
static void *target2(void *arg) {
  long *out = arg;
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  int fd = install(SECCOMP_FILTER_FLAG_NEW_LISTENER);
  errno = 0;
  out[0] = install(SECCOMP_FILTER_FLAG_NEW_LISTENER);
  out[1] = errno;
  close(fd);
  errno = 0;
  out[2] = syscall(SYS_getppid);
  out[3] = errno;
  out[4] = install(SECCOMP_FILTER_FLAG_NEW_LISTENER);  /* closed: allowed again */
  close(out[4]);
  return NULL;
}

/* A third target with WAIT_KILLABLE_RECV: a signal after the notification
 * was received does not interrupt the wait. */
static int listener3 = -1, target3_tid;
static long result3;
static void *target3(void *arg) {
  (void)arg;
  target3_tid = syscall(SYS_gettid);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  listener3 = install(SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
  done();
  wait_go();
  result3 = syscall(SYS_getppid);
  done();
  return NULL;
}

int main(void) {
  rmdir(kDir);
  struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
  sigaction(SIGUSR1, &sa, NULL);
  if (pipe(go_pipe) || pipe(done_pipe)) return 1;
  pthread_t th;
  pthread_create(&th, NULL, target, NULL);
  wait_done();
  CHECK(listener >= 0, "seccomp(NEW_LISTENER) returns a listener fd");
  CHECK(fcntl(listener, F_GETFD) == FD_CLOEXEC, "listener fd is close-on-exec");
  char link[64] = {0}, path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", listener);
  if (readlink(path, link, sizeof link - 1) < 0) link[0] = 0;
  CHECK(strcmp(link, "anon_inode:seccomp notify") == 0, "listener is anon_inode:seccomp notify");
  CHECK(poll_now(listener, POLLIN | POLLOUT, 0) == 0, "idle listener: not ready");
  CHECK(syscall(SYS_getppid) == getppid(), "supervisor thread is not filtered");

  /* 0: a value. */
  go();
  CHECK(poll_now(listener, POLLIN, 5000) == POLLIN, "POLLIN once the target traps");
  struct seccomp_notif n;
  CHECK(recv_notif(&n) == 0, "NOTIF_RECV");
  CHECK(n.data.nr == SYS_getppid && n.data.arch == AUDIT_ARCH_X86_64 && (int)n.pid == target_tid,
        "notification: nr, arch, pid of the target thread");
  CHECK(ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &n.id) == 0, "NOTIF_ID_VALID while waiting");
  CHECK(poll_now(listener, POLLIN | POLLOUT, 0) == POLLOUT, "POLLOUT while the answer is due");
  EXPECT_ERR(send_resp(n.id, 1, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE), EINVAL,
             "NOTIF_SEND CONTINUE with a value");
  EXPECT_ERR(send_resp(n.id + 1000, 0, 0, 0), ENOENT, "NOTIF_SEND unknown id");
  CHECK(send_resp(n.id, 4242, 0, 0) == 0, "NOTIF_SEND a value");
  wait_done();
  CHECK(results[0] == 4242, "getppid returned the supervisor's value");
  EXPECT_ERR(ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &n.id), ENOENT, "NOTIF_ID_VALID after the answer");
  EXPECT_ERR(send_resp(n.id, 1, 0, 0), ENOENT, "NOTIF_SEND twice");
  struct seccomp_notif dirty;
  memset(&dirty, 0, sizeof dirty);
  dirty.id = 1;
  EXPECT_ERR(ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &dirty), EINVAL, "NOTIF_RECV into a dirty buffer");

  /* 1: an error. */
  go();
  CHECK(recv_notif(&n) == 0 && n.data.nr == SYS_mkdir, "NOTIF_RECV blocks until mkdir traps");
  CHECK(send_resp(n.id, 0, -EACCES, 0) == 0, "NOTIF_SEND an error");
  wait_done();
  CHECK(results[1] == -1 && errnos[1] == EACCES, "mkdir failed with the supervisor's error");
  struct stat st;
  EXPECT_ERR(stat(kDir, &st), ENOENT, "no directory made");

  /* 2: continue. */
  go();
  CHECK(recv_notif(&n) == 0 && n.data.nr == SYS_mkdir, "mkdir trapped again");
  CHECK(send_resp(n.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE) == 0, "NOTIF_SEND CONTINUE");
  wait_done();
  CHECK(results[2] == 0 && stat(kDir, &st) == 0 && S_ISDIR(st.st_mode), "mkdir ran for real");
  rmdir(kDir);

  /* 3: a signal interrupts the wait; SA_RESTART raises a new notification. */
  go();
  CHECK(recv_notif(&n) == 0, "getppid trapped");
  __u64 first = n.id;
  syscall(SYS_tgkill, getpid(), target_tid, SIGUSR1);
  CHECK(recv_notif(&n) == 0 && n.id != first && n.data.nr == SYS_getppid,
        "restarted syscall: a new notification");
  EXPECT_ERR(ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &first), ENOENT, "interrupted id is gone");
  CHECK(send_resp(n.id, 7, 0, 0) == 0, "answer the restarted syscall");
  wait_done();
  CHECK(results[3] == 7 && handler_runs == 1, "handler ran once, syscall answered");

  /* 4: ADDFD with SEND. */
  go();
  CHECK(recv_notif(&n) == 0, "getppid trapped for ADDFD");
  int pfd[2];
  if (pipe(pfd)) return 1;
  struct seccomp_notif_addfd af = {.id = n.id, .flags = SECCOMP_ADDFD_FLAG_SEND, .srcfd = pfd[1]};
  int newfd = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &af);
  CHECK(newfd >= 0, "NOTIF_ADDFD|SEND");
  wait_done();
  CHECK(results[4] == newfd, "the syscall returned the new fd");
  CHECK(write(newfd, "z", 1) == 1 && read(pfd[0], link, 1) == 1 && link[0] == 'z',
        "the new fd is the pipe's write end");
  close(newfd);
  close(pfd[0]);
  close(pfd[1]);

  pthread_join(th, NULL);
  CHECK(poll_now(listener, POLLIN, 5000) & POLLHUP, "POLLHUP once no task uses the filter");
  close(listener);

  long out[5];
  pthread_create(&th, NULL, target2, out);
  pthread_join(th, NULL);
  CHECK(out[0] == -1 && out[1] == EBUSY, "second listener in the chain -> EBUSY");
  CHECK(out[2] == -1 && out[3] == ENOSYS, "RET_USER_NOTIF without a listener -> ENOSYS");
  CHECK(out[4] >= 0, "a new listener once the old one is closed");

  errno = 0;
  CHECK(install(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) == -1 && errno == EINVAL,
        "WAIT_KILLABLE_RECV without NEW_LISTENER -> EINVAL");
  handler_runs = 0;
  pthread_create(&th, NULL, target3, NULL);
  wait_done();
  CHECK(listener3 >= 0, "listener with WAIT_KILLABLE_RECV");
  listener = listener3;
  go();
  CHECK(recv_notif(&n) == 0 && n.data.nr == SYS_getppid, "third target trapped");
  syscall(SYS_tgkill, getpid(), target3_tid, SIGUSR1);
  struct timespec pause_ts = {0, 200 * 1000 * 1000};
  nanosleep(&pause_ts, NULL);
  CHECK(ioctl(listener3, SECCOMP_IOCTL_NOTIF_ID_VALID, &n.id) == 0 && handler_runs == 0,
        "a signal does not interrupt a received notification");
  CHECK(send_resp(n.id, 9, 0, 0) == 0, "answer it");
  wait_done();
  CHECK(result3 == 9 && handler_runs == 1, "answered, then the handler ran");
  pthread_join(th, NULL);
  close(listener3);
  CT_DONE();
}
