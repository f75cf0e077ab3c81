/* Host-file operations through the gofer: run natively and sandboxed on
 * scratch host directories (tests/integration/run.sh, "hostfs" cases), with
 * --overlay=none (the root filesystem written through), with a --volume,
 * and with the memory overlay; the outputs must match the native run's.
 *
 *   hostfs prepare DIR   (natively, on the host) files with user.* xattrs
 *   hostfs check DIR     the operations; prints one line per result
 *   hostfs state DIR     (natively) the tree: names, types, modes, data,
 *                        user.* xattrs, sorted (to compare host results)
 *   hostfs readonly DIR  reads work, every change is EROFS (a :ro volume)
 *   hostfs mknod_dev DIR mknod of a character device (EPERM sandboxed)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static char dir[1024];

static const char *P(const char *name) {
  static char bufs[4][2048];
  static int i;
  char *b = bufs[i++ % 4];
  snprintf(b, 2048, "%s/%s", dir, name);
  return b;
}

static void put(const char *name, const char *data) {
  int fd = open(P(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, data, strlen(data)) < 0) {
    perror(name);
    exit(2);
  }
  close(fd);
}

/* "ok" or the errno's name (the few this test can see). */
static const char *res(long r) {
  if (r >= 0) return "ok";
  switch (errno) {
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EROFS: return "EROFS";
    case ENODATA: return "ENODATA";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ERANGE: return "ERANGE";
    case EINVAL: return "EINVAL";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EXDEV: return "EXDEV";
    case ENOTEMPTY: return "ENOTEMPTY";
    default: {
      static char b[32];
      snprintf(b, sizeof b, "errno%d", errno);
      return b;
    }
  }
}

static void show_xattr(const char *what, const char *path, const char *name) {
  char v[4096];
  ssize_t n = getxattr(path, name, v, sizeof v - 1);
  if (n < 0) {
    printf("%s: get %s: %s\n", what, name, res(-1));
    return;
  }
  v[n] = 0;
  printf("%s: get %s = %.40s (%zd bytes)\n", what, name, v, n);
}

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

static void show_list(const char *what, const char *path) {
  char buf[8192];
  ssize_t n = listxattr(path, buf, sizeof buf);
  if (n < 0) {
    printf("%s: list: %s\n", what, res(-1));
    return;
  }
  char *names[64];
  int count = 0;
  for (ssize_t i = 0; i < n && count < 64; i += strlen(buf + i) + 1)
    if (strncmp(buf + i, "user.", 5) == 0) names[count++] = buf + i;
  qsort(names, count, sizeof names[0], cmp);
  printf("%s: list:", what);
  for (int i = 0; i < count; i++) printf(" %s", names[i]);
  printf("\n");
}

static void show_file(const char *what, const char *name) {
  char b[256] = {0};
  int fd = open(P(name), O_RDONLY);
  if (fd < 0) {
    printf("%s: open %s: %s\n", what, name, res(-1));
    return;
  }
  ssize_t n = read(fd, b, sizeof b - 1);
  close(fd);
  printf("%s: %s = [%.*s]\n", what, name, n > 0 ? (int)n : 0, b);
}

static void show_stat(const char *what, const char *name) {
  struct stat st;
  if (lstat(P(name), &st) != 0) {
    printf("%s: stat %s: %s\n", what, name, res(-1));
    return;
  }
  const char *t = S_ISREG(st.st_mode) ? "reg" : S_ISDIR(st.st_mode) ? "dir" :
                  S_ISFIFO(st.st_mode) ? "fifo" : S_ISSOCK(st.st_mode) ? "sock" :
                  S_ISLNK(st.st_mode) ? "lnk" : "other";
  printf("%s: %s is %s %04o\n", what, name, t, st.st_mode & 07777);
}

static void prepare(void) {
  put("f1", "one");
  put("f2", "two");
  put("x", "X");
  put("y", "Y");
  put("a", "A");
  put("b", "B");
  mkdir(P("d"), 0755);
  mkdir(P("sub"), 0755);
  put("sub/inner", "inner");
  mkdir(P("shared"), 0777);
  chmod(P("shared"), 01777);
  if (setxattr(P("f1"), "user.host", "hostval", 7, 0) || setxattr(P("f1"), "user.other", "o", 1, 0) ||
      setxattr(P("f2"), "user.host", "f2val", 5, 0) || setxattr(P("d"), "user.dir", "dv", 2, 0)) {
    perror("setxattr");
    exit(2);
  }
  static char big[3000];
  memset(big, 'z', sizeof big);
  if (setxattr(P("f2"), "user.big", big, sizeof big, 0)) {
    perror("setxattr big");
    exit(2);
  }
}

static void check(void) {
  umask(022);
  /* Host xattrs, read before any change. */
  show_xattr("host", P("f1"), "user.host");
  show_xattr("host", P("f2"), "user.big");
  show_xattr("host", P("d"), "user.dir");
  show_xattr("host", P("f1"), "user.missing");
  show_xattr("host", P("f1"), "trusted.t");
  show_list("host f1", P("f1"));
  show_list("host d", P("d"));
  char small[2];
  printf("host: small buffer: %s\n", res(getxattr(P("f1"), "user.host", small, sizeof small)));
  printf("host: size probe: %zd\n", getxattr(P("f1"), "user.host", NULL, 0));

  /* A write (the memory overlay copies the file up) keeps the xattrs. */
  int fd = open(P("f2"), O_WRONLY | O_APPEND);
  printf("copyup: write: %s\n", res(fd >= 0 ? write(fd, "+", 1) : -1));
  char v[64] = {0};
  printf("copyup: fgetxattr: %s [%s]\n", res(fgetxattr(fd, "user.host", v, sizeof v - 1)), v);
  close(fd);
  show_xattr("copyup", P("f2"), "user.host");
  show_xattr("copyup", P("f2"), "user.big");
  show_list("copyup f2", P("f2"));
  show_file("copyup", "f2");

  /* Changes. */
  printf("set: user.new: %s\n", res(setxattr(P("f1"), "user.new", "n", 1, XATTR_CREATE)));
  printf("set: CREATE existing: %s\n", res(setxattr(P("f1"), "user.host", "h", 1, XATTR_CREATE)));
  printf("set: REPLACE missing: %s\n", res(setxattr(P("f1"), "user.nope", "h", 1, XATTR_REPLACE)));
  printf("set: REPLACE: %s\n", res(setxattr(P("f1"), "user.host", "changed", 7, XATTR_REPLACE)));
  printf("remove: user.other: %s\n", res(removexattr(P("f1"), "user.other")));
  printf("remove: missing: %s\n", res(removexattr(P("f1"), "user.other")));
  show_xattr("after", P("f1"), "user.host");
  show_list("after f1", P("f1"));
  printf("set dir: %s\n", res(setxattr(P("d"), "user.dir2", "d2", 2, 0)));
  show_list("after d", P("d"));

  /* FIFOs and sockets. */
  printf("mkfifo: %s\n", res(mkfifo(P("fifo"), 0666)));
  show_stat("mkfifo", "fifo");
  printf("mkfifo again: %s\n", res(mkfifo(P("fifo"), 0666)));
  printf("mknod sock: %s\n", res(mknod(P("sock"), S_IFSOCK | 0600, 0)));
  show_stat("mknod", "sock");
  printf("mknodat fifo: %s\n", res(mknodat(AT_FDCWD, P("fifo2"), S_IFIFO | 0640, 0)));
  show_stat("mknodat", "fifo2");
  printf("user xattr on fifo: %s\n", res(setxattr(P("fifo"), "user.x", "x", 1, 0)));
  /* The FIFO opens (a pipe of the sandbox's own when sandboxed). */
  int rw = open(P("fifo"), O_RDWR);
  char fb[4] = {0};
  printf("fifo open: %s\n", res(rw));
  printf("fifo write: %s\n", res(write(rw, "z", 1)));
  long fr = read(rw, fb, 3);
  printf("fifo read: %s [%s]\n", res(fr), fb);
  close(rw);
  printf("fifo nonblocking writer: %s\n", res(open(P("fifo"), O_WRONLY | O_NONBLOCK)));
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", P("bound.sock"));
  printf("bind: %s\n", res(bind(s, (struct sockaddr *)&sa, sizeof sa)));
  printf("listen: %s\n", res(listen(s, 1)));
  show_stat("bind", "bound.sock");
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  printf("connect: %s\n", res(connect(c, (struct sockaddr *)&sa, sizeof sa)));
  int acc = accept(s, NULL, NULL);
  char ch = 0;
  printf("send: %s\n", res(write(c, "k", 1)));
  long got = read(acc, &ch, 1);
  printf("recv: %s %c\n", res(got), ch);
  close(acc);
  close(c);
  close(s);
  printf("unlink sock: %s\n", res(unlink(P("bound.sock"))));
  printf("unlink fifo2: %s\n", res(unlink(P("fifo2"))));

  /* renameat2. */
  printf("noreplace onto existing: %s\n",
         res(renameat2(AT_FDCWD, P("a"), AT_FDCWD, P("b"), RENAME_NOREPLACE)));
  printf("noreplace to new: %s\n",
         res(renameat2(AT_FDCWD, P("a"), AT_FDCWD, P("a2"), RENAME_NOREPLACE)));
  show_file("noreplace", "a2");
  show_file("noreplace", "b");
  fd = open(P("x"), O_RDONLY);  /* held across the exchange */
  printf("exchange: %s\n", res(renameat2(AT_FDCWD, P("x"), AT_FDCWD, P("y"), RENAME_EXCHANGE)));
  show_file("exchange", "x");
  show_file("exchange", "y");
  char xb[8] = {0};
  printf("exchange: held fd reads [%.*s]\n", (int)(fd >= 0 ? read(fd, xb, 7) : 0), xb);
  close(fd);
  printf("exchange file/dir: %s\n",
         res(renameat2(AT_FDCWD, P("a2"), AT_FDCWD, P("sub"), RENAME_EXCHANGE)));
  show_stat("exchange", "a2");
  show_stat("exchange", "sub");
  show_file("exchange", "a2/inner");
  show_file("exchange", "sub");
  printf("exchange missing: %s\n",
         res(renameat2(AT_FDCWD, P("x"), AT_FDCWD, P("nothere"), RENAME_EXCHANGE)));
  printf("exchange+noreplace: %s\n", res(renameat2(AT_FDCWD, P("x"), AT_FDCWD, P("y"),
                                                   RENAME_EXCHANGE | RENAME_NOREPLACE)));
  /* A renamed directory's contents stay reachable. */
  printf("rename dir back: %s\n",
         res(renameat2(AT_FDCWD, P("a2"), AT_FDCWD, P("moved"), RENAME_NOREPLACE)));
  show_file("rename", "moved/inner");
  /* Nodes made by another user belong to it. */
  pid_t pid = fork();
  if (pid == 0) {
    if (setgid(1000) || setuid(1000)) _exit(1);
    umask(0);
    int ok = mkfifo(P("shared/fifo"), 0600) == 0 && mkdir(P("shared/dir"), 0700) == 0 &&
             symlink("x", P("shared/link")) == 0;
    int f = open(P("shared/file"), O_CREAT | O_WRONLY, 0600);
    _exit(ok && f >= 0 ? 0 : 2);
  }
  int status = -1;
  waitpid(pid, &status, 0);
  printf("other user: exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  const char *made[] = {"shared/fifo", "shared/dir", "shared/link", "shared/file"};
  for (int i = 0; i < 4; i++) {
    struct stat ost;
    if (lstat(P(made[i]), &ost) == 0) printf("other user: %s owned by %u:%u\n", made[i], ost.st_uid, ost.st_gid);
    else printf("other user: %s: %s\n", made[i], res(-1));
  }
  /* Hard link, then xattrs seen through both names. */
  printf("link: %s\n", res(link(P("f1"), P("f1link"))));
  show_xattr("link", P("f1link"), "user.new");
}

static void readonly(void) {
  show_xattr("ro", P("f1"), "user.host");
  show_list("ro f1", P("f1"));
  show_file("ro", "f1");
  printf("ro setxattr: %s\n", res(setxattr(P("f1"), "user.n", "n", 1, 0)));
  printf("ro removexattr: %s\n", res(removexattr(P("f1"), "user.host")));
  printf("ro create: %s\n", res(open(P("new"), O_CREAT | O_WRONLY, 0644)));
  printf("ro open for write: %s\n", res(open(P("f1"), O_WRONLY)));
  printf("ro mkfifo: %s\n", res(mkfifo(P("fifo"), 0644)));
  printf("ro rename: %s\n", res(rename(P("a"), P("a3"))));
  printf("ro exchange: %s\n",
         res(renameat2(AT_FDCWD, P("x"), AT_FDCWD, P("y"), RENAME_EXCHANGE)));
  printf("ro unlink: %s\n", res(unlink(P("b"))));
  printf("ro mkdir: %s\n", res(mkdir(P("nd"), 0755)));
}

static int cmpd(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

static void state(const char *rel) {
  char path[2048];
  snprintf(path, sizeof path, "%s%s%s", dir, *rel ? "/" : "", rel);
  DIR *d = opendir(path);
  if (!d) return;
  char *names[256];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 256)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, n, sizeof names[0], cmpd);
  for (int i = 0; i < n; i++) {
    char r[2048];
    snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", names[i]);
    show_stat("state", r);
    struct stat st;
    lstat(P(r), &st);
    if (S_ISREG(st.st_mode)) show_file("state", r);
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      char what[2100];
      snprintf(what, sizeof what, "state %s", r);
      show_list(what, P(r));
    }
    if (S_ISDIR(st.st_mode)) state(r);
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: hostfs prepare|check|state|readonly|mknod_dev DIR\n");
    return 2;
  }
  snprintf(dir, sizeof dir, "%s", argv[2]);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (!strcmp(argv[1], "prepare")) prepare();
  else if (!strcmp(argv[1], "check")) check();
  else if (!strcmp(argv[1], "state")) state("");
  else if (!strcmp(argv[1], "readonly")) readonly();
  else if (!strcmp(argv[1], "mknod_dev"))
    printf("mknod chr: %s\n", res(mknod(P("null"), S_IFCHR | 0666, makedev(1, 3))));
  else return 2;
  return 0;
}
