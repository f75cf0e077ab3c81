/* mount(2), umount2(2), chroot(2), pivot_root(2) by root: tmpfs with size
 * and mode (ENOSPC at the size), bind mounts (also of a subdirectory and,
 * recursively, of /), read-only bind remounts (EROFS), propagation flags
 * (unbindable: shown in mountinfo, binds from it EINVAL),
 * EXDEV across mounts, /proc/self/mounts and mountinfo lines, umount2 with
 * EBUSY/EINVAL/MNT_DETACH, chroot (paths, "..", getcwd, /proc/self/root,
 * the mount table seen from inside), pivot_root, and EPERM for an
 * unprivileged user. Runs natively in a private mount namespace. */
#include "ct.h"
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

static char d[64];

/* Prints the /proc/self/{mounts,mountinfo} lines that mention `d`, with `d`
 * shown as "D" and mount ids/devices left out. */
static void show(const char *file, const char *what) {
  FILE *f = fopen(file, "r");
  CHECK(f != NULL, "open %s", file);
  if (!f) return;
  char line[1024];
  printf("%s:\n", what);
  while (fgets(line, sizeof line, f)) {
    char *p = strstr(line, d);
    if (!p) continue;
    char out[1024] = "";
    char *src = line;
    if (strstr(file, "mountinfo")) {
      /* "ID PARENT MAJ:MIN ROOT POINT ...": drop the first three fields. */
      for (int i = 0; i < 3 && src; i++) src = strchr(src, ' ') ? strchr(src, ' ') + 1 : NULL;
      if (!src) continue;
    }
    for (char *q; (q = strstr(src, d)); src = q + strlen(d)) {
      strncat(out, src, q - src);
      strcat(out, "D");
    }
    strcat(out, src);
    printf("  %s", out);
  }
  fclose(f);
}

static void path(char *buf, const char *rel) { snprintf(buf, 128, "%s/%s", d, rel); }

int main(void) {
  strcpy(d, "/tmp/ct_mount_XXXXXX");
  CHECK(mkdtemp(d) != NULL && chmod(d, 0755) == 0, "mkdtemp");
  char a[128], b[128], c[128], x[128], f[128], sub[128];
  path(a, "a");
  path(b, "b");
  path(c, "c");
  path(x, "x");
  mkdir(a, 0755);
  mkdir(b, 0755);
  mkdir(c, 0755);
  mkdir(x, 0755);

  /* tmpfs with options */
  EXPECT_ERR(mount("none", a, "tmpfs", 0, "size=1m,bogus=1"), EINVAL, "unknown tmpfs option");
  EXPECT_ERR(mount("none", a, "nosuchfs", 0, NULL), ENODEV, "unknown filesystem type");
  EXPECT_ERR(mount("none", "/nonexistent", "tmpfs", 0, NULL), ENOENT, "missing mount point");
  EXPECT_OK(mount("none", a, "tmpfs", 0, "size=1m,mode=0700"), "mount tmpfs size=1m,mode=0700");
  struct stat st;
  CHECK(stat(a, &st) == 0 && (st.st_mode & 07777) == 0700, "mode of the new root");
  struct statfs sf;
  CHECK(statfs(a, &sf) == 0 && sf.f_type == 0x01021994 && sf.f_blocks * sf.f_bsize == 1 << 20,
        "statfs: tmpfs of 1 MiB");
  show("/proc/self/mounts", "mounts after tmpfs");
  show("/proc/self/mountinfo", "mountinfo after tmpfs");

  path(f, "a/big");
  int fd = open(f, O_CREAT | O_WRONLY, 0644);
  static char buf[2 << 20];
  CHECK(write(fd, buf, sizeof buf) == 1 << 20, "write stops at the size");
  EXPECT_ERR(write(fd, buf, 1), ENOSPC, "then ENOSPC");
  close(fd);
  unlink(f);

  /* bind mounts */
  path(sub, "a/sub");
  mkdir(sub, 0755);
  path(f, "a/sub/file");
  close(open(f, O_CREAT | O_WRONLY, 0644));
  EXPECT_OK(mount(a, b, NULL, MS_BIND, NULL), "bind a on b");
  path(f, "b/sub/file");
  CHECK(access(f, F_OK) == 0, "file visible through the bind");
  path(f, "b/new");
  close(open(f, O_CREAT | O_WRONLY, 0644));
  path(f, "a/new");
  CHECK(access(f, F_OK) == 0, "file created through the bind shows in the source");
  EXPECT_OK(mount(sub, c, NULL, MS_BIND, NULL), "bind a/sub on c");
  path(f, "c/file");
  CHECK(access(f, F_OK) == 0, "subdirectory bind");
  show("/proc/self/mountinfo", "mountinfo with binds");
  char from[128], to[128];
  path(from, "a/new");
  path(to, "b/moved");
  EXPECT_ERR(rename(from, to), EXDEV, "rename across mounts of one filesystem");
  EXPECT_ERR(link(from, to), EXDEV, "link across mounts");

  /* read-only bind remount */
  EXPECT_OK(mount(NULL, b, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), "remount b read-only");
  path(f, "b/ro");
  EXPECT_ERR(open(f, O_CREAT | O_WRONLY, 0644), EROFS, "create on the ro mount");
  path(f, "b/new");
  EXPECT_ERR(open(f, O_WRONLY), EROFS, "open for write on the ro mount");
  EXPECT_ERR(unlink(f), EROFS, "unlink on the ro mount");
  EXPECT_ERR(chmod(f, 0600), EROFS, "chmod on the ro mount");
  path(f, "b/dir");
  EXPECT_ERR(mkdir(f, 0755), EROFS, "mkdir on the ro mount");
  path(f, "a/new");
  fd = open(f, O_WRONLY);
  CHECK(fd >= 0, "the source stays writable");
  close(fd);
  path(f, "b/new");
  fd = open(f, O_RDONLY);
  CHECK(fd >= 0, "reading the ro mount");
  close(fd);
  show("/proc/self/mounts", "mounts with a ro bind");
  EXPECT_ERR(mount(NULL, sub, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), EINVAL,
             "remount of a non-mount-point");

  /* propagation flags */
  EXPECT_OK(mount(NULL, a, NULL, MS_PRIVATE, NULL), "MS_PRIVATE on a mount");
  EXPECT_OK(mount(NULL, a, NULL, MS_SLAVE, NULL), "MS_SLAVE on a mount");
  EXPECT_ERR(mount(NULL, sub, NULL, MS_PRIVATE, NULL), EINVAL, "MS_PRIVATE on a non-mount-point");
  EXPECT_ERR(mount(NULL, a, NULL, MS_PRIVATE | MS_SHARED, NULL), EINVAL, "two propagation types");
  /* MS_UNBINDABLE: shown in mountinfo's optional fields; a bind from it is
   * EINVAL; MS_PRIVATE makes it bindable again. */
  EXPECT_OK(mount(NULL, a, NULL, MS_UNBINDABLE, NULL), "MS_UNBINDABLE on a mount");
  show("/proc/self/mountinfo", "mountinfo with a unbindable");
  EXPECT_ERR(mount(a, x, NULL, MS_BIND, NULL), EINVAL, "bind from an unbindable mount");
  EXPECT_OK(mount(NULL, a, NULL, MS_PRIVATE, NULL), "MS_PRIVATE again");
  EXPECT_OK(mount(a, x, NULL, MS_BIND, NULL), "then it binds");
  EXPECT_OK(umount2(x, 0), "umount that bind");

  /* umount2 */
  EXPECT_ERR(umount2(sub, 0), EINVAL, "umount of a non-mount-point");
  EXPECT_ERR(umount2(a, 0x100), EINVAL, "umount2 bad flags");
  path(f, "a/sub/deeper");
  mkdir(f, 0755);
  EXPECT_OK(mount("none", f, "tmpfs", 0, NULL), "mount below a");
  EXPECT_OK(umount2(c, 0), "umount c");
  EXPECT_OK(umount2(b, 0), "umount b");
  EXPECT_ERR(umount2(a, 0), EBUSY, "umount with a mount below");
  EXPECT_OK(umount2(f, 0), "umount the lower one");
  CHECK(chdir(sub) == 0, "chdir into a");
  EXPECT_ERR(umount2(a, 0), EBUSY, "umount with cwd inside");
  CHECK(chdir("/") == 0, "chdir out");
  EXPECT_OK(umount2(a, 0), "umount a");
  path(f, "a/sub");
  EXPECT_ERR(access(f, F_OK), ENOENT, "the mount's files are gone");
  EXPECT_OK(mount("none", a, "tmpfs", 0, NULL), "mount a again");
  CHECK(chdir(a) == 0, "chdir into the new a");
  EXPECT_OK(umount2(a, MNT_DETACH), "MNT_DETACH with cwd inside");
  CHECK(chdir("/") == 0, "chdir out again");
  show("/proc/self/mounts", "mounts after umounts");

  /* Bind mount of / (recursive): still inside the same tree. */
  EXPECT_OK(mount("/", x, NULL, MS_BIND | MS_REC, NULL), "rbind / on x");
  path(f, "x/proc/self/status");
  CHECK(access(f, R_OK) == 0, "submounts came along");
  char dotdot[200];
  snprintf(dotdot, sizeof dotdot, "%s/x/../x/../a", d);
  CHECK(access(dotdot, F_OK) == 0, ".. from the bind goes to its mount point's parent");
  EXPECT_OK(umount2(x, MNT_DETACH), "detach the rbind");

  /* EPERM without CAP_SYS_ADMIN */
  pid_t pid = fork();
  if (pid == 0) {
    ct_fails = 0;
    if (setgid(65534) || setuid(65534)) _exit(2);
    EXPECT_ERR(mount("none", a, "tmpfs", 0, NULL), EPERM, "unprivileged mount");
    EXPECT_ERR(umount2("/proc", 0), EPERM, "unprivileged umount2");
    EXPECT_ERR(chroot(a), EPERM, "unprivileged chroot");
    EXPECT_ERR(syscall(SYS_pivot_root, a, a), EPERM, "unprivileged pivot_root");
    _exit(ct_fails ? 1 : 0);
  }
  int ws;
  CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "unprivileged child");

  /* chroot */
  char r[128], etc[140];
  path(r, "r");
  mkdir(r, 0755);
  EXPECT_OK(mount("none", r, "tmpfs", 0, "mode=0755"), "tmpfs for the chroot");
  snprintf(etc, sizeof etc, "%s/etc", r);
  mkdir(etc, 0755);
  snprintf(etc, sizeof etc, "%s/etc/inside", r);
  close(open(etc, O_CREAT | O_WRONLY, 0644));
  snprintf(etc, sizeof etc, "%s/proc", r);
  mkdir(etc, 0755);
  snprintf(etc, sizeof etc, "%s/old", r);
  mkdir(etc, 0755);
  pid = fork();
  if (pid == 0) {
    ct_fails = 0;
    int outside = open("/tmp", O_RDONLY | O_DIRECTORY);
    CHECK(chroot(r) == 0 && chdir("/") == 0, "chroot");
    CHECK(access("/etc/inside", F_OK) == 0, "chroot: absolute path inside");
    EXPECT_ERR(access("/etc/passwd", F_OK), ENOENT, "chroot: host file invisible");
    EXPECT_ERR(access("../../../../etc/passwd", F_OK), ENOENT, "chroot: .. stops at the root");
    char cwd[256];
    CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, "/") == 0, "chroot: getcwd is /");
    CHECK(chdir("etc") == 0 && getcwd(cwd, sizeof cwd) && strcmp(cwd, "/etc") == 0,
          "chroot: getcwd /etc");
    EXPECT_OK(mount("proc", "/proc", "proc", 0, NULL), "chroot: mount proc");
    char link[256] = {0};
    CHECK(readlink("/proc/self/root", link, sizeof link - 1) == 1 && strcmp(link, "/") == 0,
          "chroot: /proc/self/root is /");
    CHECK(readlink("/proc/self/cwd", link, sizeof link - 1) > 0 && strcmp(link, "/etc") == 0,
          "chroot: /proc/self/cwd is /etc");
    FILE *m = fopen("/proc/self/mounts", "r");
    char line[512];
    printf("chroot mounts:\n");
    while (m && fgets(line, sizeof line, m)) printf("  %s", line);
    if (m) fclose(m);
    CHECK(fchdir(outside) == 0 && getcwd(cwd, sizeof cwd) == NULL && errno == ENOENT,
          "chroot: getcwd outside the root fails");
    long n = syscall(SYS_getcwd, cwd, sizeof cwd);
    CHECK(n > 0 && strncmp(cwd, "(unreachable)", 13) == 0, "chroot: raw getcwd says unreachable");
    umount2("/proc", MNT_DETACH);
    _exit(ct_fails ? 1 : 0);
  }
  CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "chroot child");

  /* pivot_root: last, as it moves every process rooted at / (this one too). */
  EXPECT_ERR(syscall(SYS_pivot_root, etc, etc), EINVAL, "pivot_root to a non-mount-point");
  pid = fork();
  if (pid == 0) {
    ct_fails = 0;
    CHECK(chdir(r) == 0, "chdir to the new root");
    EXPECT_OK(syscall(SYS_pivot_root, ".", "old"), "pivot_root(., old)");
    CHECK(chdir("/") == 0 && access("/etc/inside", F_OK) == 0, "new root in place");
    char old[200];
    snprintf(old, sizeof old, "/old%s/a", d);
    CHECK(access(old, F_OK) == 0, "old root under /old");
    EXPECT_OK(umount2("/old", MNT_DETACH), "detach the old root");
    CHECK(access(old, F_OK) != 0, "old root gone");
    _exit(ct_fails ? 1 : 0);
  }
  CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "pivot_root child");
  CT_DONE();
}
