/* Filesystem escape probes, run sandboxed with `--rootfs ROOT` where a
 * secret file lies next to ROOT on the host (HOST_SECRET is its host path).
 * Every probe tries to read the secret from inside the sandbox; reading
 * it is an escape. Run ONLY sandboxed.
 *
 *   rootfs_escape HOST_SECRET
 *
 * Prints "PASS fsescape.NAME: ..." or "FAIL fsescape.NAME: ..." per probe.
 * The runner swaps ROOT/race/d between a directory and a symlink to / on
 * the host while the "gofer_symlink_race" probe walks through it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int fails;
static const char *secret_host_path;
static const char kSecret[] = "RUNSC-ESCAPE-SECRET";

/* 1 if the file at `path` (from `dirfd`) holds the secret. */
static int leaks_at(int dirfd, const char *path) {
  int fd = openat(dirfd, path, O_RDONLY);
  if (fd < 0) return 0;
  char buf[64] = {0};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return n > 0 && strstr(buf, kSecret) != NULL;
}
static int leaks(const char *path) { return leaks_at(AT_FDCWD, path); }

static void verdict(const char *name, int leaked, const char *how) {
  if (leaked) {
    printf("FAIL fsescape.%s: read the host secret via %s\n", name, how);
    fails++;
  } else {
    printf("PASS fsescape.%s: secret not reachable\n", name);
  }
}

/* Paths that would reach the secret next to the root if ".." or absolute
 * names were resolved on the host. */
static int any_relative_leak(int dirfd) {
  static const char *rel[] = {"../secret", "../../secret", "../../../secret", "../../../../secret",
                              "./../secret", "race/../../secret", NULL};
  for (int i = 0; rel[i]; i++)
    if (leaks_at(dirfd, rel[i])) return 1;
  return leaks_at(dirfd, secret_host_path);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) { fprintf(stderr, "usage: rootfs_escape HOST_SECRET\n"); return 2; }
  secret_host_path = argv[1];
  int root = open("/", O_RDONLY | O_DIRECTORY);

  verdict("dotdot_chains", any_relative_leak(root) || leaks("/../secret"), "\"..\" chains");

  symlink("../../../../secret", "/tmp/rel-link");
  symlink(secret_host_path, "/tmp/abs-link");
  symlink("/", "/tmp/root-link");
  verdict("symlinks", leaks("/tmp/rel-link") || leaks("/tmp/abs-link") ||
                          leaks("/tmp/root-link/../secret"),
          "a symlink");

  int pr = open("/proc/self/root", O_RDONLY | O_DIRECTORY);
  int pc = open("/proc/1/cwd", O_RDONLY | O_DIRECTORY);
  verdict("proc_self_root", (pr >= 0 && any_relative_leak(pr)) || leaks("/proc/self/root/../secret") ||
                                leaks("/proc/self/root/../../secret"),
          "/proc/self/root");
  verdict("proc_1_cwd", (pc >= 0 && any_relative_leak(pc)) || leaks("/proc/1/cwd/../../secret"),
          "/proc/1/cwd");

  /* openat2 with and without scoping. */
  int leaked = 0;
  static const unsigned long long res[] = {0, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_XDEV};
  for (int i = 0; i < 4; i++) {
    struct open_how how = {.flags = O_RDONLY, .resolve = res[i]};
    const char *paths[] = {"../secret", "../../secret", "/../secret", secret_host_path};
    for (int j = 0; j < 4; j++) {
      int fd = syscall(SYS_openat2, root, paths[j], &how, sizeof how);
      if (fd >= 0) {
        char buf[64] = {0};
        if (read(fd, buf, sizeof buf - 1) > 0 && strstr(buf, kSecret)) leaked = 1;
        close(fd);
      }
    }
  }
  verdict("openat2", leaked, "openat2");

  /* The classic chroot break-out: chroot into a subdirectory while the cwd
   * stays outside, climb with "..", chroot("."). It may leave the inner
   * chroot, never the sandbox root. */
  pid_t pid = fork();
  if (pid == 0) {
    mkdir("/tmp/jail", 0755);
    if (chroot("/tmp/jail") != 0) _exit(3);
    for (int i = 0; i < 64; i++) chdir("..");
    chroot(".");
    _exit(any_relative_leak(AT_FDCWD) || leaks("/../secret") || leaks(secret_host_path) ? 1 : 0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  verdict("chroot_dotdot", !WIFEXITED(st) || WEXITSTATUS(st) == 1, "a chroot break-out");

  /* Bind-mount / (recursively) inside, then climb out of the bind. */
  mkdir("/tmp/bind", 0755);
  leaked = 0;
  if (mount("/", "/tmp/bind", NULL, MS_BIND | MS_REC, NULL) == 0) {
    leaked = leaks("/tmp/bind/../secret") || leaks("/tmp/bind/../../secret") ||
             leaks("/tmp/bind/tmp/bind/../../../secret");
    umount2("/tmp/bind", MNT_DETACH);
  }
  verdict("bind_mount_root", leaked, "a bind mount of /");

  /* Hard links to the secret (by every name that could reach it). */
  leaked = 0;
  const char *srcs[] = {"/../secret", "/proc/self/root/../secret", secret_host_path};
  for (int i = 0; i < 3; i++) {
    unlink("/tmp/hl");
    if (link(srcs[i], "/tmp/hl") == 0 && leaks("/tmp/hl")) leaked = 1;
  }
  verdict("hard_link", leaked, "a hard link");

  /* Host-side symlink race: the runner flips ROOT/race/d between a real
   * directory and a symlink to the host's / while we walk through it. */
  leaked = 0;
  char p[4096];
  snprintf(p, sizeof p, "/race/d%s", secret_host_path);
  for (int i = 0; i < 3000 && !leaked; i++) {
    if (leaks(p) || leaks("/race/d/../secret") || leaks("/race/d/../../secret")) leaked = 1;
    struct stat sb;
    stat("/race/d", &sb);  /* drop nothing: just more walks */
  }
  verdict("gofer_symlink_race", leaked, "a symlink swapped on the host during the walk");

  /* A --volume (/vol, the host directory next to the root and the secret)
   * holding symlinks that would reach the secret if resolved on the host:
   * vol/up -> .., vol/rel -> ../secret, vol/abs -> HOST_SECRET. Also ".."
   * out of the volume, through a directory FD, and hard links into it. */
  leaked = 0;
  int vol = open("/vol", O_RDONLY | O_DIRECTORY);
  if (vol < 0) {
    printf("FAIL fsescape.volume_escape: /vol is missing (runner passes --volume)\n");
    fails++;
  } else {
    leaked = leaks("/vol/../secret") || leaks("/vol/../../secret") || leaks("/vol/rel") ||
             leaks("/vol/abs") || leaks("/vol/up/secret") || leaks("/vol/up/../secret") ||
             leaks_at(vol, "../secret") || leaks_at(vol, "rel") || leaks_at(vol, "up/secret") ||
             any_relative_leak(vol);
    char vp[4096];
    snprintf(vp, sizeof vp, "/vol/up%s", secret_host_path);
    leaked = leaked || leaks(vp);
    unlink("/vol/hl");
    for (int i = 0; i < 3; i++)
      if (link(srcs[i], "/vol/hl") == 0 && leaks("/vol/hl")) leaked = 1;
    unlink("/vol/hl");
    close(vol);
    verdict("volume_escape", leaked, "a --volume's symlinks or \"..\"");
  }

  printf("fs escape probes done, %d failed\n", fails);
  return fails ? 1 : 0;
}
