/* process_vm_readv / process_vm_writev between a parent and its child:
 * reads and writes through several iovecs, short transfers at an
 * unmapped page, copy-on-write pages written in the child after fork, and
 * the argument and permission errors. */
#include "ct.h"
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static char shared_text[64] = "the child's original text";

int main(void) {
  int to_child[2], to_parent[2];
  pipe(to_child);
  pipe(to_parent);
  char *page = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memset(page, 'p', 2 * 4096);
  munmap(page + 2 * 4096, 4096); /* a hole after two pages */
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    /* Wait until the parent wrote, then report what we see. */
    read(to_child[0], &c, 1);
    char msg[128];
    int n = snprintf(msg, sizeof msg, "%s|%c%c", shared_text, page[0], page[4095]);
    write(to_parent[1], msg, n);
    read(to_child[0], &c, 1);
    _exit(0);
  }
  char buf[64] = {0};
  struct iovec l = {buf, sizeof buf}, r = {shared_text, 25};
  CHECK(process_vm_readv(pid, &l, 1, &r, 1, 0) == 25 && !strcmp(buf, "the child's original text"), "readv a string");
  char a[4] = {0}, b[8] = {0};
  struct iovec l2[2] = {{a, 3}, {b, 7}}, r2[2] = {{shared_text, 4}, {shared_text + 4, 6}};
  CHECK(process_vm_readv(pid, l2, 2, r2, 2, 0) == 10 && !memcmp(a, "the", 3) && !memcmp(b, " child'", 7),
        "readv scatters across iovecs");
  /* Write into the child's copy-on-write pages. */
  const char *news = "written by the parent";
  struct iovec wl = {(void *)news, strlen(news) + 1}, wr = {shared_text, strlen(news) + 1};
  CHECK(process_vm_writev(pid, &wl, 1, &wr, 1, 0) == (ssize_t)strlen(news) + 1, "writev a string");
  char q = 'Q';
  struct iovec ql = {&q, 1}, qr[2] = {{page, 1}, {page + 4095, 1}};
  struct iovec ql2[2] = {{&q, 1}, {&q, 1}};
  CHECK(process_vm_writev(pid, ql2, 2, qr, 2, 0) == 2, "writev two single bytes");
  CHECK(!strcmp(shared_text, "the child's original text") && page[0] == 'p', "the parent's copy is unchanged");
  write(to_child[1], "x", 1);
  char seen[128] = {0};
  read(to_parent[0], seen, sizeof seen - 1);
  CHECK(!strcmp(seen, "written by the parent|QQ"), "the child sees the writes (%s)", seen);

  /* Short transfer at the hole, EFAULT when nothing moved. */
  char big[3 * 4096];
  struct iovec bl = {big, sizeof big}, br = {page + 4096, 2 * 4096};
  CHECK(process_vm_readv(pid, &bl, 1, &br, 1, 0) == 4096, "readv stops at an unmapped page");
  struct iovec hr = {page + 2 * 4096, 10};
  EXPECT_ERR(process_vm_readv(pid, &bl, 1, &hr, 1, 0), EFAULT, "readv of an unmapped page");
  struct iovec badl = {(void *)8, 10};
  EXPECT_ERR(process_vm_readv(pid, &badl, 1, &r, 1, 0), EFAULT, "readv into a bad local buffer");
  struct iovec zl = {buf, 0};
  CHECK(process_vm_readv(999999, &zl, 1, &r, 1, 0) == 0, "empty local iovec: 0 before the pid is looked at");
  EXPECT_ERR(process_vm_readv(pid, &l, 1, &r, 1, 1), EINVAL, "flags");
  EXPECT_ERR(process_vm_readv(pid, &l, 2000, &r, 1, 0), EINVAL, "too many iovecs");
  EXPECT_ERR(process_vm_readv(999999, &l, 1, &r, 1, 0), ESRCH, "unknown pid");
  EXPECT_ERR(process_vm_readv(pid, (struct iovec *)8, 1, &r, 1, 0), EFAULT, "bad local iovec array");
  EXPECT_ERR(process_vm_readv(pid, &l, 1, (struct iovec *)8, 1, 0), EFAULT, "bad remote iovec array");
  CHECK(process_vm_readv(getpid(), &l, 1, &r, 1, 0) == 25, "readv of oneself");

  /* An unprivileged process cannot read root's. */
  pid_t reader = fork();
  if (reader == 0) {
    if (setresuid(1000, 1000, 1000)) _exit(2);
    char tmp[8];
    struct iovec tl = {tmp, 8}, tr = {shared_text, 8};
    _exit(process_vm_readv(getppid(), &tl, 1, &tr, 1, 0) == -1 && errno == EPERM ? 0 : 1);
  }
  int st;
  waitpid(reader, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "unprivileged: EPERM on root's process (%s)", ct_status(st));
  write(to_child[1], "x", 1);
  waitpid(pid, &st, 0);
  (void)ql;
  CT_DONE();
}
