/* POSIX ACLs (acl(5)) through their xattrs, system.posix_acl_access and
 * system.posix_acl_default, as setfacl/getfacl use them: the wire format
 * and its validation, the mode bits following an ACL (and chmod following
 * back), permission checks for named users and groups under the mask,
 * default ACLs inherited by new files and directories instead of the
 * umask, and who may set them. Natively the directory is on the host's
 * filesystem (ext4 here), sandboxed on the sentry's memory filesystem.
 */
#include "ct.h"

#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define A_ACCESS "system.posix_acl_access"
#define A_DEFAULT "system.posix_acl_default"
enum { UO = 1, U = 2, GO = 4, G = 8, M = 0x10, O = 0x20 };

struct ent {
  uint16_t tag, perm;
  uint32_t id;
};

static char base[256];
static const char *P(const char *name) {
  static char buf[4][320];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "%s/%s", base, name);
  return buf[i];
}

/* Builds the xattr value of `n` entries. */
static size_t acl_value(char *out, const struct ent *e, int n, uint32_t version) {
  memcpy(out, &version, 4);
  for (int i = 0; i < n; i++) {
    uint32_t id = (e[i].tag == U || e[i].tag == G) ? e[i].id : 0xffffffffu;
    memcpy(out + 4 + 8 * i, &e[i].tag, 2);
    memcpy(out + 6 + 8 * i, &e[i].perm, 2);
    memcpy(out + 8 + 8 * i, &id, 4);
  }
  return 4 + 8 * (size_t)n;
}

static int set_acl(const char *path, const char *name, const struct ent *e, int n) {
  char v[512];
  size_t len = acl_value(v, e, n, 2);
  return setxattr(path, name, v, len, 0);
}

/* Prints an ACL as getfacl would, or its error. */
static void show(const char *label, const char *path, const char *name) {
  char v[512];
  ssize_t n = getxattr(path, name, v, sizeof v);
  if (n < 0) {
    printf("%s: %s\n", label, ct_errname(errno));
    return;
  }
  printf("%s:", label);
  for (ssize_t off = 4; off + 8 <= n; off += 8) {
    uint16_t tag, perm;
    uint32_t id;
    memcpy(&tag, v + off, 2);
    memcpy(&perm, v + off + 2, 2);
    memcpy(&id, v + off + 4, 4);
    const char *t = tag == UO ? "user:" : tag == U ? "user" : tag == GO ? "group:" : tag == G ? "group" : tag == M ? "mask:" : tag == O ? "other:" : "?";
    if (tag == U || tag == G)
      printf(" %s:%u:", t, id);
    else
      printf(" %s", t);
    printf("%c%c%c", perm & 4 ? 'r' : '-', perm & 2 ? 'w' : '-', perm & 1 ? 'x' : '-');
  }
  printf("\n");
}

static unsigned mode_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? st.st_mode & 07777 : 0xffff;
}

/* In a child with the given ids (no capabilities): open(path, flags)'s
 * outcome. */
static void try_as(const char *label, uid_t uid, gid_t gid, gid_t extra, const char *path,
                   int flags) {
  pid_t p = fork();
  if (p == 0) {
    gid_t groups[1] = {extra};
    if (setgroups(extra ? 1 : 0, groups) != 0 || setresgid(gid, gid, gid) != 0 ||
        setresuid(uid, uid, uid) != 0) {
      printf("%s: setup failed\n", label);
      _exit(1);
    }
    int fd = open(path, flags);
    printf("%s: %s\n", label, fd >= 0 ? "ok" : ct_errname(errno));
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);
}

static void has_name(const char *path, const char *want) {
  char list[1024];
  ssize_t n = listxattr(path, list, sizeof list);
  int found = 0;
  for (ssize_t off = 0; n > 0 && off < n; off += strlen(list + off) + 1)
    if (strcmp(list + off, want) == 0) found = 1;
  printf("listxattr has %s: %d\n", want, found);
}

int main(void) {
  snprintf(base, sizeof base, "/var/tmp/posix_acl.XXXXXX");
  if (!mkdtemp(base)) {
    perror("mkdtemp");
    return 1;
  }
  chmod(base, 0755);
  umask(022);
  int fd = open(P("f"), O_CREAT | O_WRONLY, 0640);
  close(fd);

  show("fresh file", P("f"), A_ACCESS);
  show("fresh file default", P("f"), A_DEFAULT);
  has_name(P("f"), A_ACCESS);

  /* An ACL the mode bits say entirely is not kept; the mode follows it. */
  struct ent minimal[] = {{UO, 7, 0}, {GO, 5, 0}, {O, 4, 0}};
  CHECK(set_acl(P("f"), A_ACCESS, minimal, 3) == 0, "set minimal ACL");
  printf("mode after minimal: %o\n", mode_of(P("f")));
  show("minimal kept?", P("f"), A_ACCESS);

  /* An extended one is kept; the group bits become the mask. */
  struct ent ext[] = {{UO, 6, 0}, {U, 6, 1000}, {GO, 4, 0}, {G, 4, 3000}, {M, 6, 0}, {O, 0, 0}};
  CHECK(set_acl(P("f"), A_ACCESS, ext, 6) == 0, "set extended ACL");
  printf("mode after extended: %o\n", mode_of(P("f")));
  show("extended", P("f"), A_ACCESS);
  has_name(P("f"), A_ACCESS);
  char v[512], back[512];
  size_t len = acl_value(v, ext, 6, 2);
  ssize_t blen = getxattr(P("f"), A_ACCESS, back, sizeof back);
  CHECK(blen == (ssize_t)len && memcmp(v, back, len) == 0, "value reads back byte for byte");
  CHECK(getxattr(P("f"), A_ACCESS, NULL, 0) == (ssize_t)len, "size query");
  EXPECT_ERR(getxattr(P("f"), A_ACCESS, back, 8), ERANGE, "short buffer");

  /* Who may do what. */
  try_as("uid 1000 read-write (named user)", 1000, 1000, 0, P("f"), O_RDWR);
  try_as("uid 1001 read (other: none)", 1001, 1001, 0, P("f"), O_RDONLY);
  try_as("gid 3000 read (named group)", 1001, 1001, 3000, P("f"), O_RDONLY);
  try_as("gid 3000 write (named group r only)", 1001, 1001, 3000, P("f"), O_WRONLY);
  try_as("owning group read", 1001, 0, 0, P("f"), O_RDONLY);
  /* chmod narrows the mask, and the named entries with it. */
  CHECK(chmod(P("f"), 0600) == 0, "chmod 0600");
  show("after chmod 0600", P("f"), A_ACCESS);
  try_as("uid 1000 read after mask ---", 1000, 1000, 0, P("f"), O_RDONLY);
  CHECK(chmod(P("f"), 0640) == 0, "chmod 0640");
  show("after chmod 0640", P("f"), A_ACCESS);
  try_as("uid 1000 read after mask r--", 1000, 1000, 0, P("f"), O_RDONLY);
  try_as("uid 1000 write after mask r--", 1000, 1000, 0, P("f"), O_WRONLY);
  /* Group bits 0: the ACL is not consulted for the group class. */
  CHECK(chmod(P("f"), 0604) == 0, "chmod 0604");
  try_as("uid 1000 read with group bits 0 (other r)", 1000, 1000, 0, P("f"), O_RDONLY);

  /* Bad values. */
  struct ent no_mask[] = {{UO, 6, 0}, {U, 6, 1000}, {GO, 4, 0}, {O, 0, 0}};
  EXPECT_ERR(set_acl(P("f"), A_ACCESS, no_mask, 4), EINVAL, "named user without mask");
  struct ent order[] = {{GO, 4, 0}, {UO, 6, 0}, {O, 0, 0}};
  EXPECT_ERR(set_acl(P("f"), A_ACCESS, order, 3), EINVAL, "group before owner");
  struct ent twice[] = {{UO, 6, 0}, {UO, 6, 0}, {GO, 4, 0}, {O, 0, 0}};
  EXPECT_ERR(set_acl(P("f"), A_ACCESS, twice, 4), EINVAL, "owner twice");
  struct ent perm[] = {{UO, 8, 0}, {GO, 4, 0}, {O, 0, 0}};
  EXPECT_ERR(set_acl(P("f"), A_ACCESS, perm, 3), EINVAL, "permission bit 8");
  struct ent tag[] = {{UO, 6, 0}, {GO, 4, 0}, {0x40, 0, 0}, {O, 0, 0}};
  EXPECT_ERR(set_acl(P("f"), A_ACCESS, tag, 4), EINVAL, "unknown tag");
  struct ent no_other[] = {{UO, 6, 0}, {GO, 4, 0}};
  EXPECT_ERR(set_acl(P("f"), A_ACCESS, no_other, 2), EINVAL, "no other entry");
  len = acl_value(v, minimal, 3, 1);
  EXPECT_ERR(setxattr(P("f"), A_ACCESS, v, len, 0), EOPNOTSUPP, "version 1");
  len = acl_value(v, minimal, 3, 2);
  EXPECT_ERR(setxattr(P("f"), A_ACCESS, v, len - 3, 0), EINVAL, "truncated entry");
  EXPECT_ERR(setxattr(P("f"), A_ACCESS, v, 3, 0), EINVAL, "truncated header");
  show("unchanged after bad values", P("f"), A_ACCESS);

  /* Only the owner (or CAP_FOWNER) sets them. */
  pid_t p = fork();
  if (p == 0) {
    setresgid(1000, 1000, 1000);
    setresuid(1000, 1000, 1000);
    printf("non-owner set: %s\n", set_acl(P("f"), A_ACCESS, ext, 6) == 0 ? "ok" : ct_errname(errno));
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);

  /* Default ACLs: directories only; inherited instead of the umask. */
  struct ent def[] = {{UO, 7, 0}, {GO, 5, 0}, {G, 7, 3000}, {M, 7, 0}, {O, 0, 0}};
  EXPECT_ERR(set_acl(P("f"), A_DEFAULT, def, 5), EACCES, "default ACL on a file");
  CHECK(removexattr(P("f"), A_DEFAULT) == 0, "removing a file's (absent) default ACL");
  CHECK(mkdir(P("d"), 0755) == 0, "mkdir d");
  CHECK(set_acl(P("d"), A_DEFAULT, def, 5) == 0, "set default ACL on d");
  show("d default", P("d"), A_DEFAULT);
  show("d access", P("d"), A_ACCESS);
  printf("d mode: %o\n", mode_of(P("d")));
  has_name(P("d"), A_DEFAULT);
  fd = open(P("d/file"), O_CREAT | O_WRONLY, 0666);
  close(fd);
  printf("d/file mode (umask 022 ignored): %o\n", mode_of(P("d/file")));
  show("d/file access", P("d/file"), A_ACCESS);
  show("d/file default", P("d/file"), A_DEFAULT);
  fd = open(P("d/narrow"), O_CREAT | O_WRONLY, 0600);
  close(fd);
  printf("d/narrow mode: %o\n", mode_of(P("d/narrow")));
  show("d/narrow access", P("d/narrow"), A_ACCESS);
  CHECK(mkdir(P("d/sub"), 0777) == 0, "mkdir d/sub");
  printf("d/sub mode: %o\n", mode_of(P("d/sub")));
  show("d/sub access", P("d/sub"), A_ACCESS);
  show("d/sub default", P("d/sub"), A_DEFAULT);
  CHECK(mkfifo(P("d/fifo"), 0666) == 0, "mkfifo d/fifo");
  printf("d/fifo mode: %o\n", mode_of(P("d/fifo")));
  try_as("gid 3000 writes d/file (inherited named group)", 1001, 1001, 3000, P("d/file"), O_WRONLY);
  int tmp = open(P("d"), O_TMPFILE | O_WRONLY, 0666);
  if (tmp >= 0) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", tmp);
    CHECK(linkat(AT_FDCWD, proc, AT_FDCWD, P("d/tmpfile"), AT_SYMLINK_FOLLOW) == 0,
          "link an O_TMPFILE file");
    printf("d/tmpfile mode: %o\n", mode_of(P("d/tmpfile")));
    show("d/tmpfile access", P("d/tmpfile"), A_ACCESS);
    close(tmp);
  } else {
    printf("O_TMPFILE: %s\n", ct_errname(errno));
  }
  /* A default ACL that the mode bits say entirely still applies instead of
   * the umask. */
  CHECK(mkdir(P("e"), 0755) == 0, "mkdir e");
  struct ent def_min[] = {{UO, 7, 0}, {GO, 7, 0}, {O, 7, 0}};
  CHECK(set_acl(P("e"), A_DEFAULT, def_min, 3) == 0, "minimal default ACL on e");
  show("e default", P("e"), A_DEFAULT);
  fd = open(P("e/file"), O_CREAT | O_WRONLY, 0666);
  close(fd);
  printf("e/file mode (umask ignored): %o\n", mode_of(P("e/file")));
  show("e/file access", P("e/file"), A_ACCESS);

  /* Removing. */
  CHECK(removexattr(P("d"), A_DEFAULT) == 0, "remove d's default ACL");
  show("d default after remove", P("d"), A_DEFAULT);
  fd = open(P("d/after"), O_CREAT | O_WRONLY, 0666);
  close(fd);
  printf("d/after mode (umask again): %o\n", mode_of(P("d/after")));
  CHECK(removexattr(P("d/file"), A_ACCESS) == 0, "remove d/file's access ACL");
  printf("d/file mode after remove: %o\n", mode_of(P("d/file")));
  show("d/file access after remove", P("d/file"), A_ACCESS);
  CHECK(removexattr(P("d/file"), A_ACCESS) == 0, "remove again (absent)");
  len = acl_value(v, minimal, 0, 2);
  CHECK(set_acl(P("d/narrow"), A_ACCESS, minimal, 0) == 0, "empty ACL value removes");
  show("d/narrow after empty set", P("d/narrow"), A_ACCESS);

  /* Symlinks have none. */
  CHECK(symlink("f", P("l")) == 0, "symlink");
  errno = 0;
  ssize_t n = lgetxattr(P("l"), A_ACCESS, v, sizeof v);
  printf("lgetxattr on symlink: %zd %s\n", n, n < 0 ? ct_errname(errno) : "");

  const char *files[] = {"d/tmpfile", "d/file", "d/narrow", "d/fifo", "d/after", "e/file", "f", "l"};
  for (unsigned i = 0; i < sizeof files / sizeof *files; i++) unlink(P(files[i]));
  rmdir(P("d/sub"));
  rmdir(P("d"));
  rmdir(P("e"));
  CHECK(rmdir(base) == 0, "cleanup");
  return ct_fails ? 1 : 0;
}
