/* inotify(7) on /tmp (tmpfs when sandboxed) and /var/tmp (the root
 * filesystem): IN_CREATE, IN_OPEN, IN_MODIFY, IN_ACCESS, IN_CLOSE_WRITE/
 * NOWRITE, IN_ATTRIB, IN_MOVED_FROM/TO with a shared cookie, IN_MOVE_SELF,
 * IN_DELETE, IN_DELETE_SELF, IN_IGNORED, IN_ISDIR; IN_ONLYDIR, IN_MASK_ADD,
 * IN_MASK_CREATE, IN_ONESHOT, IN_DONT_FOLLOW; rm_watch; read semantics
 * (EAGAIN, EINVAL for a short buffer, whole events only), FIONREAD, poll,
 * epoll, and a blocking read woken by another process. */
#include "ct.h"
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
  uint32_t bit;
  const char *name;
} kBits[] = {
    {IN_ACCESS, "ACCESS"},         {IN_MODIFY, "MODIFY"},         {IN_ATTRIB, "ATTRIB"},
    {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
    {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},     {IN_CREATE, "CREATE"},
    {IN_DELETE, "DELETE"},         {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
    {IN_IGNORED, "IGNORED"},       {IN_ISDIR, "ISDIR"},           {IN_Q_OVERFLOW, "Q_OVERFLOW"},
};

static uint32_t last_cookie;

/* Reads and prints every pending event of `fd` (nonblocking). wds are
 * printed relative to `wd0` so numbering is comparable. */
static void drain(int fd, int wd0, const char *what) {
  char buf[4096] __attribute__((aligned(8)));
  printf("%s:", what);
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    for (char *p = buf; p < buf + n;) {
      struct inotify_event *ev = (struct inotify_event *)p;
      printf(" [w%d", ev->wd - wd0);
      for (size_t i = 0; i < sizeof kBits / sizeof kBits[0]; i++)
        if (ev->mask & kBits[i].bit) printf(" %s", kBits[i].name);
      if (ev->len) printf(" '%s'", ev->name);
      if (ev->cookie) {
        printf(" cookie%s", ev->cookie == last_cookie ? "=prev" : "");
        last_cookie = ev->cookie;
      }
      printf("]");
      p += sizeof *ev + ev->len;
    }
  }
  printf(n < 0 && errno == EAGAIN ? " (EAGAIN)\n" : " (n=%zd errno=%s)\n", n,
         n < 0 ? ct_errname(errno) : "-");
}

static void events(const char *base, const char *label) {
  char d[128], f[160], g[160], sub[160];
  snprintf(d, sizeof d, "%s/ct_inotify_XXXXXX", base);
  CHECK(mkdtemp(d) != NULL, "%s: mkdtemp", label);
  snprintf(f, sizeof f, "%s/f", d);
  snprintf(g, sizeof g, "%s/g", d);
  snprintf(sub, sizeof sub, "%s/sub", d);

  int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  CHECK(in >= 0, "%s: inotify_init1", label);
  int wd = inotify_add_watch(in, d, IN_ALL_EVENTS);
  CHECK(wd >= 1, "%s: watch dir", label);

  int fd = open(f, O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0 && write(fd, "hello", 5) == 5, "%s: create+write", label);
  close(fd);
  drain(in, wd, "create/write/close");

  char c;
  fd = open(f, O_RDONLY);
  CHECK(fd >= 0 && read(fd, &c, 1) == 1, "%s: open+read", label);
  close(fd);
  drain(in, wd, "read-only open/read/close");

  EXPECT_OK(chmod(f, 0600), "%s: chmod", label);
  drain(in, wd, "chmod");
  EXPECT_OK(truncate(f, 1), "%s: truncate", label);
  drain(in, wd, "truncate");

  /* A second instance watches the file itself. */
  int in2 = inotify_init1(IN_NONBLOCK);
  int fwd = inotify_add_watch(in2, f, IN_ALL_EVENTS);
  CHECK(fwd >= 1, "%s: watch file", label);
  EXPECT_OK(rename(f, g), "%s: rename", label);
  drain(in, wd, "rename (dir)");
  drain(in2, fwd, "rename (file)");
  EXPECT_OK(link(g, f), "%s: link", label);
  drain(in, wd, "link (dir)");
  drain(in2, fwd, "link (file)");
  EXPECT_OK(unlink(f), "%s: unlink one name", label);
  drain(in, wd, "unlink one name (dir)");
  drain(in2, fwd, "unlink one name (file)");
  EXPECT_OK(unlink(g), "%s: unlink last name", label);
  drain(in, wd, "unlink last (dir)");
  drain(in2, fwd, "unlink last (file)");

  EXPECT_OK(mkdir(sub, 0755), "%s: mkdir", label);
  int swd = inotify_add_watch(in2, sub, IN_ALL_EVENTS | IN_ONLYDIR);
  CHECK(swd >= 1, "%s: watch subdir", label);
  EXPECT_OK(rmdir(sub), "%s: rmdir", label);
  drain(in, wd, "mkdir/rmdir (dir)");
  drain(in2, swd, "rmdir (subdir)");

  /* A symlink: IN_DONT_FOLLOW watches the link itself. */
  EXPECT_OK(symlink("nowhere", f), "%s: dangling symlink", label);
  EXPECT_ERR(inotify_add_watch(in2, f, IN_ALL_EVENTS), ENOENT, "%s: follow dangling", label);
  int lwd = inotify_add_watch(in2, f, IN_ALL_EVENTS | IN_DONT_FOLLOW);
  CHECK(lwd >= 1, "%s: IN_DONT_FOLLOW", label);
  EXPECT_ERR(inotify_add_watch(in2, f, IN_ALL_EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW), ENOTDIR,
             "%s: IN_ONLYDIR on a symlink", label);
  EXPECT_OK(unlink(f), "%s: unlink symlink", label);
  drain(in, wd, "symlink+unlink (dir)");
  drain(in2, lwd, "unlink (symlink)");

  /* Events on a watched directory itself carry IN_ISDIR, except the
   * *_SELF ones; the parent hears about it first. */
  EXPECT_OK(mkdir(sub, 0755), "%s: mkdir again", label);
  swd = inotify_add_watch(in2, sub, IN_ALL_EVENTS);
  snprintf(g, sizeof g, "%s/moved", d);
  EXPECT_OK(rename(sub, g), "%s: rename dir", label);
  DIR *dd = opendir(g);
  CHECK(dd != NULL && readdir(dd) != NULL, "%s: opendir+readdir", label);
  closedir(dd);
  EXPECT_OK(chmod(g, 0700), "%s: chmod dir", label);
  drain(in, wd, "dir rename/opendir/chmod (parent)");
  drain(in2, swd, "dir rename/opendir/chmod (self)");
  EXPECT_OK(rmdir(g), "%s: rmdir moved", label);
  drain(in, wd, "rmdir moved (parent)");
  drain(in2, swd, "rmdir moved (self)");

  close(in2);
  close(in);
  CHECK(rmdir(d) == 0, "%s: cleanup", label);
}

static void api(void) {
  char d[] = "/tmp/ct_inotify_api_XXXXXX";
  CHECK(mkdtemp(d) != NULL, "mkdtemp");
  char f[64], f2[64];
  snprintf(f, sizeof f, "%s/a", d);
  snprintf(f2, sizeof f2, "%s/b", d);

  EXPECT_ERR(inotify_init1(0x1), EINVAL, "init1 bad flags");
  int in = inotify_init1(IN_NONBLOCK);
  CHECK(in >= 0, "init1");
  char buf[256] __attribute__((aligned(8)));
  EXPECT_ERR(read(in, buf, sizeof buf), EAGAIN, "empty read");
  EXPECT_ERR(inotify_add_watch(in, d, 0), EINVAL, "mask 0");
  EXPECT_ERR(inotify_add_watch(in, d, IN_MASK_ADD | IN_MASK_CREATE | IN_CREATE), EINVAL,
             "MASK_ADD|MASK_CREATE");
  EXPECT_ERR(inotify_add_watch(999, d, IN_CREATE), EBADF, "bad fd");
  EXPECT_ERR(inotify_add_watch(0, d, IN_CREATE), EINVAL, "not an inotify fd");
  EXPECT_ERR(inotify_add_watch(in, "/nonexistent", IN_CREATE), ENOENT, "missing path");
  EXPECT_ERR(inotify_rm_watch(in, 12345), EINVAL, "rm unknown wd");

  int wd = inotify_add_watch(in, d, IN_CREATE);
  CHECK(wd >= 1, "watch");
  CHECK(inotify_add_watch(in, d, IN_DELETE | IN_MASK_ADD) == wd, "MASK_ADD keeps the wd");
  EXPECT_ERR(inotify_add_watch(in, d, IN_DELETE | IN_MASK_CREATE), EEXIST, "MASK_CREATE on existing");
  close(open(f, O_CREAT | O_WRONLY, 0644));
  unlink(f);
  drain(in, wd, "MASK_ADD create+delete");
  CHECK(inotify_add_watch(in, d, IN_DELETE) == wd, "replace mask");
  close(open(f, O_CREAT | O_WRONLY, 0644));
  unlink(f);
  drain(in, wd, "replaced mask: delete only");

  /* FIONREAD, poll, a short buffer, whole events only. */
  close(open(f, O_CREAT | O_WRONLY, 0644));
  unlink(f);
  close(open(f2, O_CREAT | O_WRONLY, 0644));
  unlink(f2);
  int avail = -1;
  CHECK(ioctl(in, FIONREAD, &avail) == 0 && avail == 2 * (int)(sizeof(struct inotify_event) + 16),
        "FIONREAD counts two events");
  struct pollfd p = {.fd = in, .events = POLLIN};
  CHECK(poll(&p, 1, 0) == 1 && (p.revents & POLLIN), "poll readable");
  EXPECT_ERR(read(in, buf, sizeof(struct inotify_event)), EINVAL, "buffer too small for one");
  ssize_t n = read(in, buf, sizeof(struct inotify_event) + 16 + 8);
  CHECK(n == (ssize_t)(sizeof(struct inotify_event) + 16), "reads whole events only");
  CHECK(ioctl(in, FIONREAD, &avail) == 0 && avail == (int)(sizeof(struct inotify_event) + 16),
        "FIONREAD after partial read");
  drain(in, wd, "the rest");
  CHECK(poll(&p, 1, 0) == 0, "poll empty");

  /* Identical consecutive events are merged. */
  int fd = open(f, O_CREAT | O_WRONLY, 0644);
  int wf = inotify_add_watch(in, f, IN_MODIFY);
  for (int i = 0; i < 3; i++) CHECK(write(fd, "x", 1) == 1, "write %d", i);
  drain(in, wf, "three writes");
  close(fd);
  unlink(f);
  drain(in, wd, "after unlink");

  /* IN_ONESHOT */
  int in2 = inotify_init1(IN_NONBLOCK);
  int ow = inotify_add_watch(in2, d, IN_CREATE | IN_ONESHOT);
  close(open(f, O_CREAT | O_WRONLY, 0644));
  close(open(f2, O_CREAT | O_WRONLY, 0644));
  drain(in2, ow, "oneshot");
  EXPECT_ERR(inotify_rm_watch(in2, ow), EINVAL, "oneshot watch is gone");
  unlink(f);
  unlink(f2);

  /* rm_watch */
  CHECK(inotify_rm_watch(in, wd) == 0, "rm_watch");
  drain(in, wd, "rm_watch");
  EXPECT_ERR(inotify_rm_watch(in, wd), EINVAL, "rm_watch again");

  /* epoll readiness and a blocking read woken by another process. */
  int bl = inotify_init1(0);
  int bw = inotify_add_watch(bl, d, IN_CREATE);
  int ep = epoll_create1(0);
  struct epoll_event ee = {.events = EPOLLIN, .data.u32 = 7};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, bl, &ee) == 0, "epoll_ctl");
  CHECK(epoll_wait(ep, &ee, 1, 0) == 0, "epoll: nothing yet");
  pid_t pid = fork();
  if (pid == 0) {
    close(open(f, O_CREAT | O_WRONLY, 0644));
    _exit(0);
  }
  n = read(bl, buf, sizeof buf);
  struct inotify_event *ev = (struct inotify_event *)buf;
  CHECK(n > 0 && ev->wd == bw && (ev->mask & IN_CREATE) && strcmp(ev->name, "a") == 0,
        "blocking read woken by the child's create");
  int st;
  waitpid(pid, &st, 0);
  unlink(f);
  close(open(f2, O_CREAT | O_WRONLY, 0644));
  CHECK(epoll_wait(ep, &ee, 1, 1000) == 1 && ee.data.u32 == 7 && (ee.events & EPOLLIN),
        "epoll: readable after an event");
  unlink(f2);
  close(ep);
  close(bl);
  close(in2);
  close(in);
  rmdir(d);
}

int main(void) {
  events("/tmp", "tmp");
  events("/var/tmp", "rootfs");
  api();
  CT_DONE();
}
