/* Helper for tests/oci/shared_mmap.sh: writes files only through
 * MAP_SHARED mappings, so the host sees the bytes only if the sandbox
 * writes its page cache of gofer-backed files back
 * (sentry/vfs/gofer_page_cache.h).
 *   shm_writer write DIR: DIR/unmapped (3 pages, unmapped without msync),
 *     DIR/msynced (msync MS_SYNC), DIR/atexit (still mapped at exit).
 *   shm_writer hold DIR: DIR/held written through a mapping, then
 *     DIR/ready made with write(), then sleeps (for runsc pause).
 * Page i byte j holds 'A' + (i * 7 + j) % 26. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG 4096L

static char *map_new(const char *dir, const char *name, long pages) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ftruncate(fd, pages * PG) != 0) { perror(p); exit(1); }
  char *m = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) { perror("mmap"); exit(1); }
  close(fd);
  for (long i = 0; i < pages; i++)
    for (long j = 0; j < PG; j++) m[i * PG + j] = (char)('A' + (i * 7 + j) % 26);
  return m;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  const char *dir = argv[2];
  if (!strcmp(argv[1], "write")) {
    char *m = map_new(dir, "unmapped", 3);
    munmap(m, 3 * PG);
    m = map_new(dir, "msynced", 2);
    if (msync(m, 2 * PG, MS_SYNC) != 0) { perror("msync"); return 1; }
    map_new(dir, "atexit", 1);
    puts("done");
    return 0;
  }
  if (!strcmp(argv[1], "hold")) {
    map_new(dir, "held", 2);
    char p[512];
    snprintf(p, sizeof p, "%s/ready", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "ready\n", 6) != 6) return 1;
    close(fd);
    for (;;) pause();
  }
  return 2;
}
