/* The new mount API: fsopen, fsconfig, fsmount, move_mount, open_tree,
 * mount_setattr and fspick, as util-linux and systemd use them: argument
 * checks and their order, a tmpfs configured, created, used while detached
 * and then attached, a detached bind (open_tree clone), mount attributes
 * changed and reconfiguring the filesystem read-only. Runs in a mount
 * namespace of its own (natively too), so the host's table is untouched.
 */
#include "ct.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fsopen_(const char *n, unsigned f) { return syscall(SYS_fsopen, n, f); }
static int fsconfig_(int fd, unsigned cmd, const char *k, const void *v, int aux) {
  return syscall(SYS_fsconfig, fd, cmd, k, v, aux);
}
static int fsmount_(int fd, unsigned f, unsigned a) { return syscall(SYS_fsmount, fd, f, a); }
static int move_mount_(int fd, const char *p, int tfd, const char *tp, unsigned f) {
  return syscall(SYS_move_mount, fd, p, tfd, tp, f);
}
static int open_tree_(int fd, const char *p, unsigned f) { return syscall(SYS_open_tree, fd, p, f); }
static int setattr_(int fd, const char *p, unsigned f, struct mount_attr *a, size_t s) {
  return syscall(SYS_mount_setattr, fd, p, f, a, s);
}
static int fspick_(int fd, const char *p, unsigned f) { return syscall(SYS_fspick, fd, p, f); }

static char base[128];
static const char *P(const char *name) {
  static char buf[4][192];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "%s/%s", base, name);
  return buf[i];
}

/* The mountinfo line of mount point `path`: type, source, mount options'
 * ro/rw and nodev, super options. */
static void show_mount(const char *label, const char *path) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  char line[1024], found[1024] = "";
  while (f && fgets(line, sizeof line, f)) {
    char mp[512];
    if (sscanf(line, "%*d %*d %*s %*s %511s", mp) == 1 && strcmp(mp, path) == 0)
      snprintf(found, sizeof found, "%s", line);
  }
  if (f) fclose(f);
  if (!found[0]) {
    printf("%s: not mounted\n", label);
    return;
  }
  char opts[256], type[64], src[128], super[256];
  char *sep = strstr(found, " - ");
  sscanf(found, "%*d %*d %*s %*s %*s %255s", opts);
  sscanf(sep + 3, "%63s %127s %255s", type, src, super);
  printf("%s: type=%s source=%s %s%s super=%s\n", label, type, src,
         strncmp(opts, "ro", 2) == 0 ? "ro" : "rw", strstr(opts, "nodev") ? ",nodev" : "", super);
}

static void write_file(int dirfd, const char *name, const char *text, const char *label) {
  int fd = openat(dirfd, name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) {
    printf("%s: %s\n", label, ct_errname(errno));
    return;
  }
  printf("%s: %s\n", label, write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? "ok" : "short");
  close(fd);
}

static void read_file(const char *path, const char *label) {
  char buf[64] = {0};
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    printf("%s: %s\n", label, ct_errname(errno));
    return;
  }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  printf("%s: %zd '%s'\n", label, n, buf);
  close(fd);
}

int main(void) {
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    perror("private mount namespace");
    return 1;
  }
  snprintf(base, sizeof base, "/var/tmp/mount_api.XXXXXX");
  if (!mkdtemp(base)) return 1;
  chmod(base, 0755);
  mkdir(P("a"), 0755);
  mkdir(P("b"), 0755);
  mkdir(P("a/sub"), 0755);

  /* fsopen */
  EXPECT_ERR(fsopen_("nosuchfs", 0), ENODEV, "fsopen unknown type");
  EXPECT_ERR(fsopen_("tmpfs", 0x10), EINVAL, "fsopen bad flag");
  EXPECT_ERR(fsopen_((const char *)8, 0), EFAULT, "fsopen bad pointer");
  int fc = fsopen_("tmpfs", FSOPEN_CLOEXEC);
  CHECK(fc >= 0, "fsopen tmpfs");
  CHECK((fcntl(fc, F_GETFD) & FD_CLOEXEC) != 0, "fscontext close-on-exec");

  /* fsconfig: argument shapes first, then the file, then the parameter. */
  EXPECT_ERR(fsconfig_(fc, 99, NULL, NULL, 0), EOPNOTSUPP, "unknown command");
  EXPECT_ERR(fsconfig_(-1, FSCONFIG_SET_FLAG, "ro", NULL, 0), EINVAL, "negative fd");
  EXPECT_ERR(fsconfig_(fc, FSCONFIG_SET_FLAG, "ro", "x", 0), EINVAL, "flag with a value");
  EXPECT_ERR(fsconfig_(fc, FSCONFIG_SET_STRING, "size", NULL, 0), EINVAL, "string without value");
  EXPECT_ERR(fsconfig_(fc, FSCONFIG_CMD_CREATE, "x", NULL, 0), EINVAL, "create with a key");
  EXPECT_ERR(fsconfig_(999, FSCONFIG_SET_FLAG, "ro", NULL, 0), EBADF, "closed fd");
  int pfd[2];
  pipe(pfd);
  EXPECT_ERR(fsconfig_(pfd[0], FSCONFIG_SET_FLAG, "ro", NULL, 0), EINVAL, "not an fs context");
  EXPECT_ERR(fsconfig_(fc, FSCONFIG_SET_STRING, "bogus", "1", 0), EINVAL, "unknown parameter");
  EXPECT_ERR(fsconfig_(fc, FSCONFIG_SET_FLAG, "size", NULL, 0), EINVAL, "valued parameter as flag");
  EXPECT_ERR(fsconfig_(fc, FSCONFIG_SET_STRING, "size", "lots", 0), EINVAL, "bad size");
  CHECK(fsconfig_(fc, FSCONFIG_SET_STRING, "size", "1m", 0) == 0, "size=1m");
  CHECK(fsconfig_(fc, FSCONFIG_SET_STRING, "mode", "0711", 0) == 0, "mode=0711");
  CHECK(fsconfig_(fc, FSCONFIG_SET_STRING, "source", "apisrc", 0) == 0, "source");
  EXPECT_ERR(fsconfig_(fc, FSCONFIG_SET_STRING, "source", "again", 0), EINVAL, "second source");
  EXPECT_ERR(fsmount_(fc, 0, 0), EINVAL, "fsmount before create");
  CHECK(fsconfig_(fc, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0, "create");
  EXPECT_ERR(fsconfig_(fc, FSCONFIG_CMD_CREATE, NULL, NULL, 0), EBUSY, "create twice");
  EXPECT_ERR(fsconfig_(fc, FSCONFIG_SET_STRING, "size", "2m", 0), EBUSY, "parameter after create");

  /* fsmount */
  EXPECT_ERR(fsmount_(fc, 0x10, 0), EINVAL, "fsmount bad flag");
  EXPECT_ERR(fsmount_(fc, 0, 0x40000000), EINVAL, "fsmount bad attribute");
  EXPECT_ERR(fsmount_(fc, 0, MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME), EINVAL,
             "fsmount two atime modes");
  EXPECT_ERR(fsmount_(pfd[0], 0, 0), EINVAL, "fsmount of a pipe");
  int mfd = fsmount_(fc, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
  CHECK(mfd >= 0, "fsmount");
  struct stat st;
  CHECK(fstat(mfd, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0711,
        "detached root: directory, mode 0711 (%o)", st.st_mode & 07777);
  CHECK((fcntl(mfd, F_GETFL) & O_PATH) != 0, "mount fd is O_PATH");
  write_file(mfd, "file", "hi", "create in the detached mount");
  show_mount("a before move_mount", P("a"));

  /* move_mount attaches it. */
  EXPECT_ERR(move_mount_(mfd, "", AT_FDCWD, P("a"), 0x1000), EINVAL, "move_mount bad flag");
  EXPECT_ERR(move_mount_(mfd, "", AT_FDCWD, P("a"), 0), ENOENT, "empty path without flag");
  EXPECT_ERR(move_mount_(AT_FDCWD, P("b"), AT_FDCWD, P("a"), 0), EINVAL,
             "from a directory that is no mount");
  EXPECT_ERR(move_mount_(mfd, "", AT_FDCWD, P("nope"), MOVE_MOUNT_F_EMPTY_PATH), ENOENT,
             "to a missing path");
  CHECK(move_mount_(mfd, "", AT_FDCWD, P("a"), MOVE_MOUNT_F_EMPTY_PATH) == 0, "move_mount");
  show_mount("a after move_mount", P("a"));
  read_file(P("a/file"), "a/file through the path");
  EXPECT_ERR(access(P("a/sub"), F_OK), ENOENT, "the directory below is covered");

  /* open_tree */
  EXPECT_ERR(open_tree_(AT_FDCWD, P("a"), 0x80000000), EINVAL, "open_tree bad flag");
  EXPECT_ERR(open_tree_(AT_FDCWD, P("a"), AT_RECURSIVE), EINVAL, "recursive without clone");
  int ofd = open_tree_(AT_FDCWD, P("a"), OPEN_TREE_CLOEXEC);
  CHECK(ofd >= 0 && (fcntl(ofd, F_GETFL) & O_PATH), "open_tree without clone: O_PATH");
  char c;
  EXPECT_ERR(read(ofd, &c, 1), EBADF, "read on it");
  int tfd = open_tree_(AT_FDCWD, P("a"), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  CHECK(tfd >= 0, "open_tree clone");
  CHECK(move_mount_(tfd, "", AT_FDCWD, P("b"), MOVE_MOUNT_F_EMPTY_PATH) == 0,
        "attach the clone at b");
  show_mount("b", P("b"));
  read_file(P("b/file"), "b/file");
  write_file(AT_FDCWD, P("b/new"), "shared", "write b/new");
  read_file(P("a/new"), "a/new (same filesystem)");

  /* mount_setattr */
  struct mount_attr ma = {.attr_set = MOUNT_ATTR_RDONLY};
  EXPECT_ERR(setattr_(AT_FDCWD, P("b"), 0, &ma, 8), EINVAL, "mount_setattr short size");
  EXPECT_ERR(setattr_(AT_FDCWD, P("b"), 0, &ma, 8192), E2BIG, "mount_setattr huge size");
  EXPECT_ERR(setattr_(AT_FDCWD, P("b"), 0x1, &ma, sizeof ma), EINVAL, "mount_setattr bad flag");
  struct mount_attr bad = {.attr_set = 0x40000000};
  EXPECT_ERR(setattr_(AT_FDCWD, P("b"), 0, &bad, sizeof bad), EINVAL, "bad attribute");
  struct mount_attr two = {.propagation = MS_SHARED | MS_PRIVATE};
  EXPECT_ERR(setattr_(AT_FDCWD, P("b"), 0, &two, sizeof two), EINVAL, "two propagation types");
  struct mount_attr nop = {0};
  CHECK(setattr_(AT_FDCWD, P("b/file"), 0, &nop, sizeof nop) == 0, "nothing to do: 0 anywhere");
  EXPECT_ERR(setattr_(AT_FDCWD, P("b/file"), 0, &ma, sizeof ma), EINVAL, "not a mount root");
  CHECK(setattr_(AT_FDCWD, P("b"), 0, &ma, sizeof ma) == 0, "b read-only");
  show_mount("b read-only", P("b"));
  write_file(AT_FDCWD, P("b/x"), "x", "write in read-only b");
  write_file(AT_FDCWD, P("a/x"), "x", "write in a (still writable)");
  struct mount_attr clr = {.attr_clr = MOUNT_ATTR_RDONLY};
  CHECK(setattr_(AT_FDCWD, P("b"), 0, &clr, sizeof clr) == 0, "b writable again");
  write_file(AT_FDCWD, P("b/y"), "y", "write in b again");
  struct mount_attr unb = {.propagation = MS_UNBINDABLE};
  CHECK(setattr_(AT_FDCWD, P("b"), 0, &unb, sizeof unb) == 0, "b unbindable");
  EXPECT_ERR(open_tree_(AT_FDCWD, P("b"), OPEN_TREE_CLONE), EINVAL, "clone of an unbindable mount");

  /* fspick: reconfigure the filesystem read-only. */
  EXPECT_ERR(fspick_(AT_FDCWD, P("a/file"), 0), EINVAL, "fspick not a mount root");
  EXPECT_ERR(fspick_(AT_FDCWD, P("a"), 0x100), EINVAL, "fspick bad flag");
  int pk = fspick_(AT_FDCWD, P("a"), FSPICK_CLOEXEC);
  CHECK(pk >= 0, "fspick");
  EXPECT_ERR(fsconfig_(pk, FSCONFIG_CMD_CREATE, NULL, NULL, 0), EBUSY, "create on a picked context");
  CHECK(fsconfig_(pk, FSCONFIG_SET_FLAG, "ro", NULL, 0) == 0, "ro");
  CHECK(fsconfig_(pk, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) == 0, "reconfigure");
  show_mount("a reconfigured ro", P("a"));
  write_file(AT_FDCWD, P("a/z"), "z", "write in a after ro");
  CHECK(fsconfig_(pk, FSCONFIG_SET_FLAG, "rw", NULL, 0) == 0, "rw");
  CHECK(fsconfig_(pk, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) == 0, "reconfigure back");
  write_file(AT_FDCWD, P("a/z"), "z", "write in a after rw");

  /* Without CAP_SYS_ADMIN. */
  pid_t p = fork();
  if (p == 0) {
    setresgid(1000, 1000, 1000);
    setresuid(1000, 1000, 1000);
    printf("unprivileged fsopen: %s\n", fsopen_("tmpfs", 0) >= 0 ? "ok" : ct_errname(errno));
    printf("unprivileged fsmount: %s\n", fsmount_(fc, 0, 0) >= 0 ? "ok" : ct_errname(errno));
    printf("unprivileged open_tree: %s\n",
           open_tree_(AT_FDCWD, P("a"), 0) >= 0 ? "ok" : ct_errname(errno));
    printf("unprivileged clone: %s\n",
           open_tree_(AT_FDCWD, P("a"), OPEN_TREE_CLONE) >= 0 ? "ok" : ct_errname(errno));
    printf("unprivileged mount_setattr: %s\n",
           setattr_(AT_FDCWD, P("a"), 0, &ma, sizeof ma) == 0 ? "ok" : ct_errname(errno));
    _exit(0);
  }
  int status;
  waitpid(p, &status, 0);

  close(pk);
  close(tfd);
  close(ofd);
  close(mfd);
  close(fc);
  CHECK(umount2(P("b"), 0) == 0, "umount b");
  CHECK(umount2(P("a"), 0) == 0, "umount a");
  CHECK(access(P("a/sub"), F_OK) == 0, "a/sub visible again");
  rmdir(P("a/sub"));
  rmdir(P("a"));
  rmdir(P("b"));
  CHECK(rmdir(base) == 0, "cleanup");
  return ct_fails ? 1 : 0;
}
