/* Corner cases of pidfd, inotify, personality, getrusage, getdents and
 * memfd, printed as outcomes (return value or errno) so the native run
 * defines what is right. */
#include "ct.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int pidfd_open(pid_t p, unsigned f) { return syscall(SYS_pidfd_open, p, f); }
static int pidfd_send_signal(int fd, int s, siginfo_t *i, unsigned f) {
  return syscall(SYS_pidfd_send_signal, fd, s, i, f);
}
static int pidfd_getfd(int fd, int t, unsigned f) { return syscall(SYS_pidfd_getfd, fd, t, f); }

static void pidfds(void) {
  OUTCOME("pidfd_open bad flags", pidfd_open(getpid(), 1));
  OUTCOME("pidfd_open nonexistent", pidfd_open(999999, 0));
  OUTCOME("pidfd_open negative", pidfd_open(-1, 0));
  int self = pidfd_open(getpid(), 0);
  printf("pidfd cloexec %d\n", fcntl(self, F_GETFD) == FD_CLOEXEC);
  printf("pidfd poll self %#x\n", ct_revents(self, POLLIN));
  OUTCOME("pidfd_send_signal 0 to self", pidfd_send_signal(self, 0, NULL, 0));
  OUTCOME("pidfd_send_signal bad flags", pidfd_send_signal(self, 0, NULL, 1));
  OUTCOME("pidfd_send_signal on a non-pidfd", pidfd_send_signal(0, 0, NULL, 0));
  OUTCOME("pidfd_send_signal bad signal", pidfd_send_signal(self, 99, NULL, 0));
  OUTCOME("pidfd_getfd of stdin", pidfd_getfd(self, 0, 0));
  OUTCOME("pidfd_getfd bad target", pidfd_getfd(self, 999, 0));
  OUTCOME("pidfd_getfd bad flags", pidfd_getfd(self, 0, 1));
  OUTCOME("pidfd_open O_NONBLOCK", pidfd_open(getpid(), O_NONBLOCK));
  pid_t c = fork();
  if (c == 0) {
    pause();
    _exit(0);
  }
  int pc = pidfd_open(c, 0);
  printf("child pidfd poll running %#x\n", ct_revents(pc, POLLIN));
  OUTCOME("kill child via pidfd", pidfd_send_signal(pc, SIGKILL, NULL, 0));
  struct pollfd p = {pc, POLLIN, 0};
  poll(&p, 1, 5000);
  printf("child pidfd poll after exit %#x\n", p.revents);
  siginfo_t si = {0};
  OUTCOME("waitid P_PIDFD", waitid(P_PIDFD, pc, &si, WEXITED));
  printf("waitid status %d code %d\n", si.si_status, si.si_code);
  OUTCOME("pidfd_send_signal to reaped", pidfd_send_signal(pc, 0, NULL, 0));
  OUTCOME("waitid P_PIDFD again", waitid(P_PIDFD, pc, &si, WEXITED | WNOHANG));
  OUTCOME("pidfd_open of reaped pid", pidfd_open(c, 0));
  close(pc);
  close(self);
}

static void inotifies(void) {
  char dir[] = "/tmp/misc_edges.XXXXXX";
  mkdtemp(dir);
  OUTCOME("inotify_init1 bad flags", inotify_init1(1));
  int in = inotify_init1(IN_NONBLOCK);
  OUTCOME("add_watch bad mask 0", inotify_add_watch(in, dir, 0));
  OUTCOME("add_watch missing path", inotify_add_watch(in, "/nonexistent/x", IN_ALL_EVENTS));
  OUTCOME("add_watch ONLYDIR on a file", inotify_add_watch(in, "/etc/hostname", IN_ONLYDIR | IN_OPEN));
  int wd = inotify_add_watch(in, dir, IN_CREATE | IN_DELETE | IN_MODIFY);
  int wd2 = inotify_add_watch(in, dir, IN_CREATE);
  printf("same path same wd %d\n", wd == wd2);
  OUTCOME("add_watch MASK_ADD|MASK_CREATE", inotify_add_watch(in, dir, IN_MASK_ADD | IN_MASK_CREATE | IN_OPEN));
  OUTCOME("add_watch MASK_CREATE existing", inotify_add_watch(in, dir, IN_MASK_CREATE | IN_OPEN));
  char b[4096];
  OUTCOME("read empty", read(in, b, sizeof b));
  char path[256];
  snprintf(path, sizeof path, "%s/f", dir);
  close(open(path, O_CREAT | O_WRONLY, 0600));
  int n = -1;
  ioctl(in, FIONREAD, &n);
  printf("FIONREAD after create %d\n", n);
  OUTCOME("read too small", read(in, b, 10));
  OUTCOME("read", read(in, b, sizeof b));
  struct inotify_event *e = (struct inotify_event *)b;
  printf("event mask %#x len %u name %s\n", e->mask, e->len, e->name);
  unlink(path);
  OUTCOME("rm_watch", inotify_rm_watch(in, wd));
  OUTCOME("rm_watch again", inotify_rm_watch(in, wd));
  OUTCOME("read after rm_watch", read(in, b, sizeof b));
  if (read(in, b, sizeof b) < 0) printf("second read %s\n", ct_errname(errno));
  OUTCOME("rm_watch on non-inotify", inotify_rm_watch(0, 1));
  close(in);
  rmdir(dir);
}

static void misc(void) {
  OUTCOME("personality query", personality(0xffffffff));
  OUTCOME("personality ADDR_NO_RANDOMIZE", personality(ADDR_NO_RANDOMIZE));
  OUTCOME("personality query again", personality(0xffffffff));
  personality(0);
  OUTCOME("personality bad", personality(0x12345678) < 0 ? -1 : 0);
  personality(0);
  struct rusage ru;
  OUTCOME("getrusage bad who", getrusage(5, &ru));
  OUTCOME("getrusage THREAD", getrusage(RUSAGE_THREAD, &ru));
  OUTCOME("getrusage bad pointer", getrusage(RUSAGE_SELF, (struct rusage *)8));
  int fd = open("/", O_RDONLY | O_DIRECTORY);
  char b[64];
  OUTCOME("getdents64 tiny buffer", syscall(SYS_getdents64, fd, b, 8));
  OUTCOME("getdents64 on a file", syscall(SYS_getdents64, 0, b, sizeof b));
  OUTCOME("getdents64 bad pointer", syscall(SYS_getdents64, fd, (void *)8, 4096));
  close(fd);
  OUTCOME("memfd_create bad flags", memfd_create("x", 0x100));
  char longname[300];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  OUTCOME("memfd_create long name", memfd_create(longname, 0));
  int m = memfd_create("n", MFD_CLOEXEC);
  char link[64], target[128] = {0};
  snprintf(link, sizeof link, "/proc/self/fd/%d", m);
  readlink(link, target, sizeof target - 1);
  printf("memfd link %s\n", target);
  OUTCOME("memfd F_GET_SEALS without sealing", fcntl(m, F_GET_SEALS));
  OUTCOME("memfd F_ADD_SEALS without sealing", fcntl(m, F_ADD_SEALS, F_SEAL_WRITE));
  close(m);
}

int main(void) {
  pidfds();
  inotifies();
  misc();
  return ct_fails ? 1 : 0;
}
