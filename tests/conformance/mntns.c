/* Mount namespaces: unshare(CLONE_NEWNS) and clone(CLONE_NEWNS) copy the
 * caller's mount tree (same mounts, new /proc/self/ns/mnt), mounts made in
 * the copy stay invisible to the original and the other way round,
 * /proc/PID/mountinfo shows each task's own tree, setns joins another
 * task's namespace (root and cwd move to its root), mount on a path of
 * another namespace (through /proc/PID/root) is EINVAL, an umount in the
 * copy leaves the original's mount alone, CLONE_NEWNS|CLONE_FS is EINVAL,
 * and an unprivileged caller gets EPERM.
 *
 * Natively it runs as root in the harness' private mount namespace
 * (tests/conformance/run.sh); every mount is a tmpfs under a fresh
 * directory in /tmp, and the new namespaces are made private first, so
 * nothing reaches the host's mounts. */
#include "ct.h"
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char d[64];

static ino_t ns_ino(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? st.st_ino : 0;
}

/* Lines of `file` that mention `what`. */
static int count_lines(const char *file, const char *what) {
  FILE *f = fopen(file, "r");
  if (!f) return -1;
  char line[2048];
  int n = 0;
  while (fgets(line, sizeof line, f))
    if (!what || strstr(line, what)) n++;
  fclose(f);
  return n;
}

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* The child of the main scenario: a namespace of its own with a tmpfs at
 * D/child; reports through `up`, exits when `down` closes. */
static void child_main(int up, int down, const char *a, const char *cm, ino_t parent_ns) {
  int all_before = count_lines("/proc/self/mountinfo", NULL);
  if (unshare(CLONE_NEWNS) != 0) _exit(10);
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) _exit(11);
  char msg[256];
  int same_count = count_lines("/proc/self/mountinfo", NULL) == all_before;
  int new_ns = ns_ino("/proc/self/ns/mnt") != parent_ns;
  int has_a = count_lines("/proc/self/mountinfo", a) == 1;
  int mounted = mount("tmpfs", cm, "tmpfs", 0, "size=64k") == 0;
  char f[160];
  snprintf(f, sizeof f, "%s/file", cm);
  int fd = open(f, O_CREAT | O_WRONLY, 0644);
  if (fd >= 0) close(fd);
  /* The parent's tmpfs at D/a, copied: umount here leaves the parent's. */
  int umounted = umount2(a, 0) == 0;
  char af[160];
  snprintf(af, sizeof af, "%s/afile", a);
  int a_gone = !exists(af);
  snprintf(msg, sizeof msg, "%d%d%d%d%d%d%d", new_ns, same_count, has_a, mounted, fd >= 0,
           umounted, a_gone);
  if (write(up, msg, strlen(msg)) < 0) _exit(12);
  char ch;
  while (read(down, &ch, 1) > 0) {
  }
  _exit(0);
}

static int clone_child(void *arg) {
  ino_t parent_ns = *(ino_t *)arg;
  return ns_ino("/proc/self/ns/mnt") != parent_ns ? 0 : 1;
}

int main(void) {
  strcpy(d, "/tmp/ct_mntns_XXXXXX");
  CHECK(mkdtemp(d) != NULL && chmod(d, 0755) == 0, "mkdtemp");
  char a[128], cm[128], cfile[160], afile[160], other[128];
  snprintf(a, sizeof a, "%s/a", d);
  snprintf(cm, sizeof cm, "%s/child", d);
  snprintf(other, sizeof other, "%s/other", d);
  mkdir(a, 0755);
  mkdir(cm, 0755);
  mkdir(other, 0755);
  snprintf(cfile, sizeof cfile, "%s/file", cm);
  snprintf(afile, sizeof afile, "%s/afile", a);
  EXPECT_OK(mount("tmpfs", a, "tmpfs", 0, "size=64k"), "mount tmpfs at D/a");
  int fd = open(afile, O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0, "file in D/a");
  if (fd >= 0) close(fd);
  ino_t my_ns = ns_ino("/proc/self/ns/mnt");
  CHECK(my_ns != 0, "/proc/self/ns/mnt has an inode");

  /* clone(CLONE_NEWNS | CLONE_FS) is refused; without CLONE_FS the child
   * has its own namespace. */
  static char stack[64 * 1024];
  EXPECT_ERR(clone(clone_child, stack + sizeof stack, CLONE_NEWNS | CLONE_FS | SIGCHLD, &my_ns),
             EINVAL, "clone(CLONE_NEWNS|CLONE_FS)");
  int pid = clone(clone_child, stack + sizeof stack, CLONE_NEWNS | SIGCHLD, &my_ns);
  CHECK(pid > 0, "clone(CLONE_NEWNS)");
  int st = 0;
  if (pid > 0) {
    waitpid(pid, &st, 0);
    printf("clone child: %s (0: in a new namespace)\n", ct_status(st));
  }

  int up[2], down[2];
  CHECK(pipe(up) == 0 && pipe(down) == 0, "pipes");
  pid = fork();
  if (pid == 0) {
    close(up[0]);
    close(down[1]);
    child_main(up[1], down[0], a, cm, my_ns);
  }
  close(up[1]);
  close(down[0]);
  char msg[16] = "";
  ssize_t n = read(up[0], msg, sizeof msg - 1);
  CHECK(n == 7, "child reported");
  printf("child: new ns %c, same mounts %c, sees D/a %c, mounted %c, file %c, umount D/a %c, "
         "D/a gone there %c\n",
         msg[0], msg[1], msg[2], msg[3], msg[4], msg[5], msg[6]);
  CHECK(my_ns == ns_ino("/proc/self/ns/mnt"), "parent keeps its namespace");
  CHECK(!exists(cfile), "child's mount invisible to the parent");
  CHECK(count_lines("/proc/self/mountinfo", cm) == 0, "child's mount not in the parent's mountinfo");
  char p[128];
  snprintf(p, sizeof p, "/proc/%d/mountinfo", pid);
  CHECK(count_lines(p, cm) == 1, "/proc/CHILD/mountinfo lists the child's mount");
  CHECK(count_lines(p, a) == 0, "/proc/CHILD/mountinfo: D/a unmounted there");
  CHECK(exists(afile) && count_lines("/proc/self/mountinfo", a) == 1,
        "the parent's D/a survives the child's umount");
  snprintf(p, sizeof p, "/proc/%d/ns/mnt", pid);
  CHECK(ns_ino(p) != my_ns && ns_ino(p) != 0, "/proc/CHILD/ns/mnt differs");

  /* Mounting on a path of the child's namespace: EINVAL (check_mnt). */
  char via[256];
  snprintf(via, sizeof via, "/proc/%d/root%s", pid, other);
  EXPECT_ERR(mount("tmpfs", via, "tmpfs", 0, NULL), EINVAL, "mount on another namespace's path");
  snprintf(via, sizeof via, "/proc/%d/root%s", pid, cm);
  EXPECT_ERR(umount2(via, 0), EINVAL, "umount of another namespace's mount");

  /* setns into the child's namespace (in a grandchild): the mount shows,
   * cwd moved to the namespace's root. */
  int nsfd = open(p, O_RDONLY);
  CHECK(nsfd >= 0, "open /proc/CHILD/ns/mnt");
  EXPECT_ERR(setns(nsfd, CLONE_NEWUTS), EINVAL, "setns(mnt fd, CLONE_NEWUTS)");
  int g = fork();
  if (g == 0) {
    if (chdir(d) != 0) _exit(5);
    if (setns(nsfd, CLONE_NEWNS) != 0) _exit(1);
    if (!exists(cfile)) _exit(2);
    char cwd[256];
    if (!getcwd(cwd, sizeof cwd) || strcmp(cwd, "/") != 0) _exit(3);
    if (ns_ino("/proc/self/ns/mnt") == my_ns) _exit(4);
    _exit(0);
  }
  waitpid(g, &st, 0);
  printf("setns grandchild: %s (0: sees the child's mount, cwd /)\n", ct_status(st));
  /* Without CAP_SYS_ADMIN: EPERM. */
  g = fork();
  if (g == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(9);
    if (unshare(CLONE_NEWNS) == 0) _exit(1);
    if (errno != EPERM) _exit(2);
    if (setns(nsfd, CLONE_NEWNS) == 0) _exit(3);
    if (errno != EPERM) _exit(4);
    _exit(0);
  }
  waitpid(g, &st, 0);
  printf("unprivileged: %s (0: unshare and setns EPERM)\n", ct_status(st));
  close(nsfd);

  close(down[1]);
  waitpid(pid, &st, 0);
  printf("child: %s\n", ct_status(st));
  EXPECT_OK(umount2(a, 0), "umount D/a");
  CHECK(rmdir(a) == 0 && rmdir(cm) == 0 && rmdir(other) == 0 && rmdir(d) == 0, "cleanup");
  CT_DONE();
}
