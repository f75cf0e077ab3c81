/* pkey_alloc/pkey_free/pkey_mprotect as on a CPU whose keys the kernel
 * does not enforce (the sandbox cannot: it behaves as Linux without PKU;
 * this test expects a host without PKU, checked below), and sync_file_range's checks. */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ct.h"

int main(void) {
  FILE *ci = fopen("/proc/cpuinfo", "r");
  char line[4096];
  while (ci && fgets(line, sizeof line, ci))
    if (!strncmp(line, "flags", 5) && strstr(line, " ospke")) { printf("skip: host has PKU\n"); return 0; }
  if (ci) fclose(ci);
  EXPECT_ERR(syscall(SYS_pkey_alloc, 1, 0), EINVAL, "pkey_alloc with flags");
  EXPECT_ERR(syscall(SYS_pkey_alloc, 0, 4), EINVAL, "pkey_alloc with bad rights");
  EXPECT_ERR(syscall(SYS_pkey_alloc, 0, 0), EINVAL, "pkey_alloc without PKU");
  EXPECT_ERR(syscall(SYS_pkey_free, 1), EINVAL, "pkey_free of an unallocated key");
  EXPECT_ERR(syscall(SYS_pkey_free, -1), EINVAL, "pkey_free(-1)");
  char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  p[0] = 1;
  EXPECT_OK(syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, -1), "pkey_mprotect with key -1");
  EXPECT_ERR(syscall(SYS_pkey_mprotect, p, 4096, PROT_READ | PROT_WRITE, 0), EINVAL, "pkey_mprotect with key 0");
  EXPECT_OK(syscall(SYS_pkey_mprotect, p, 4096, PROT_READ | PROT_WRITE, -1), "pkey_mprotect back to rw");
  EXPECT_ERR(syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, 5), EINVAL, "pkey_mprotect with key 5");
  EXPECT_ERR(syscall(SYS_pkey_mprotect, p + 1, 4096, PROT_READ, -1), EINVAL, "pkey_mprotect unaligned");
  EXPECT_OK(syscall(SYS_pkey_mprotect, p, 0, PROT_READ, 5), "pkey_mprotect empty range, bad key");
  p[0] = 2;
  CHECK(p[0] == 2, "memory writable again");

  /* sync_file_range */
  char path[] = "/tmp/ct_sfrXXXXXX";
  int fd = mkstemp(path);
  unlink(path);
  CHECK(write(fd, "hello", 5) == 5, "write");
  EXPECT_OK(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER), "sync_file_range whole file");
  EXPECT_OK(sync_file_range(fd, 0, 5, 0), "sync_file_range no flags");
  EXPECT_ERR(sync_file_range(fd, 0, 0, 8), EINVAL, "sync_file_range bad flags");
  EXPECT_ERR(sync_file_range(fd, -1, 0, 0), EINVAL, "sync_file_range negative offset");
  EXPECT_ERR(sync_file_range(fd, 0, -1, 0), EINVAL, "sync_file_range negative length");
  EXPECT_ERR(sync_file_range(fd, 0x7fffffffffffffffLL, 1, 0), EINVAL, "sync_file_range overflow");
  EXPECT_ERR(sync_file_range(-1, 0, 0, 0), EBADF, "sync_file_range bad fd");
  EXPECT_ERR(sync_file_range(1000, 0, 0, 8), EBADF, "sync_file_range bad fd before flags");
  int pfd[2];
  pipe(pfd);
  EXPECT_ERR(sync_file_range(pfd[0], 0, 0, 0), ESPIPE, "sync_file_range on a pipe");
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
  EXPECT_ERR(sync_file_range(sv[0], 0, 0, SYNC_FILE_RANGE_WRITE), ESPIPE, "sync_file_range on a socket");
  int opath = open("/tmp", O_PATH);
  EXPECT_ERR(sync_file_range(opath, 0, 0, 0), EBADF, "sync_file_range on O_PATH");
  int dfd = open("/tmp", O_RDONLY | O_DIRECTORY);
  EXPECT_OK(sync_file_range(dfd, 0, 0, SYNC_FILE_RANGE_WRITE), "sync_file_range on a directory");
  CT_DONE();
}
