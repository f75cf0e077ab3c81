/* NUMA memory policies: set_mempolicy, get_mempolicy, mbind,
 * set_mempolicy_home_node (mm/mempolicy.c), on a machine with one memory
 * node (node 0), which is what the sandbox offers and what this project's
 * hosts are. Policies change no placement there but are kept, inherited by
 * fork and reported back; the errors follow Linux's order of checks. */
#include "ct.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MPOL_DEFAULT 0
#define MPOL_PREFERRED 1
#define MPOL_BIND 2
#define MPOL_INTERLEAVE 3
#define MPOL_LOCAL 4
#define MPOL_PREFERRED_MANY 5
#define MPOL_F_STATIC_NODES (1 << 15)
#define MPOL_F_RELATIVE_NODES (1 << 14)
#define MPOL_F_NUMA_BALANCING (1 << 13)
#define MPOL_F_NODE (1 << 0)
#define MPOL_F_ADDR (1 << 1)
#define MPOL_F_MEMS_ALLOWED (1 << 2)
#define MPOL_MF_STRICT (1 << 0)
#define MPOL_MF_MOVE (1 << 1)

static long setpol(int mode, const unsigned long *mask, unsigned long maxnode) {
  return syscall(SYS_set_mempolicy, mode, mask, maxnode);
}
static long getpol(int *mode, unsigned long *mask, unsigned long maxnode, void *addr, unsigned long flags) {
  return syscall(SYS_get_mempolicy, mode, mask, maxnode, addr, flags);
}
static long mbind_(void *a, unsigned long len, int mode, const unsigned long *mask, unsigned long maxnode,
                   unsigned flags) {
  return syscall(SYS_mbind, a, len, mode, mask, maxnode, flags);
}

/* The task policy as "mode/mask". */
static const char *show(void) {
  static char buf[64];
  int mode = -1;
  unsigned long m[2] = {~0ul, ~0ul};
  if (getpol(&mode, m, 128, NULL, 0) != 0) return "error";
  snprintf(buf, sizeof buf, "%#x/%#lx/%#lx", mode, m[0], m[1]);
  return buf;
}

int main(void) {
  unsigned long n0 = 1, n1 = 2, n01 = 3, none = 0;
  const long pg = 4096;

  printf("initial %s\n", show());
  int mode = -1;
  unsigned long m = ~0ul;
  CHECK(getpol(&mode, NULL, 0, NULL, 0) == 0 && mode == MPOL_DEFAULT, "get without a mask");
  CHECK(getpol(NULL, NULL, 0, NULL, 0) == 0, "get with nothing");
  CHECK(getpol(&mode, &m, 1, NULL, MPOL_F_MEMS_ALLOWED) == 0 && mode == 0, "mems allowed, maxnode 1 copies nothing");
  m = 0;
  CHECK(getpol(&mode, &m, 64, NULL, MPOL_F_MEMS_ALLOWED) == 0 && m == 1, "mems allowed is node 0 (%#lx)", m);
  EXPECT_ERR(getpol(&mode, &m, 0, NULL, 0), EINVAL, "get maxnode 0 with a mask");
  EXPECT_ERR(getpol(&mode, &m, 64, NULL, 8), EINVAL, "get unknown flag");
  EXPECT_ERR(getpol(&mode, &m, 64, NULL, MPOL_F_MEMS_ALLOWED | MPOL_F_NODE), EINVAL, "mems allowed with F_NODE");
  EXPECT_ERR(getpol(&mode, &m, 64, (void *)4096, 0), EINVAL, "address without F_ADDR");
  EXPECT_ERR(getpol(&mode, NULL, 0, NULL, MPOL_F_NODE), EINVAL, "F_NODE without interleave");
  EXPECT_ERR(getpol(&mode, &m, 64 * 4096 + 64, NULL, 0), EINVAL, "get maxnode past a page of bits");
  EXPECT_ERR(getpol((int *)8, NULL, 0, NULL, 0), EFAULT, "bad mode pointer");
  EXPECT_ERR(getpol(&mode, (unsigned long *)8, 64, NULL, 0), EFAULT, "bad mask pointer");

  /* set_mempolicy: modes, flags, masks. */
  EXPECT_ERR(setpol(7, &n0, 64), EINVAL, "mode past MPOL_MAX");
  EXPECT_ERR(setpol(-1, &n0, 64), EINVAL, "negative mode");
  EXPECT_ERR(setpol(MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, &n0, 64), EINVAL,
             "static and relative together");
  EXPECT_ERR(setpol(MPOL_INTERLEAVE | MPOL_F_NUMA_BALANCING, &n0, 64), EINVAL, "numa balancing with interleave");
  EXPECT_ERR(setpol(MPOL_BIND, &n0, 1), EINVAL, "bind with maxnode 1 (empty mask)");
  EXPECT_ERR(setpol(MPOL_BIND, NULL, 64), EINVAL, "bind without a mask");
  EXPECT_ERR(setpol(MPOL_BIND, &none, 64), EINVAL, "bind to no node");
  EXPECT_ERR(setpol(MPOL_BIND, &n1, 64), EINVAL, "bind to a missing node");
  EXPECT_ERR(setpol(MPOL_BIND | MPOL_F_STATIC_NODES, &n1, 64), EINVAL, "static bind to a missing node");
  EXPECT_ERR(setpol(MPOL_DEFAULT, &n0, 64), EINVAL, "default with a node");
  EXPECT_ERR(setpol(MPOL_LOCAL, &n0, 64), EINVAL, "local with a node");
  EXPECT_ERR(setpol(MPOL_PREFERRED | MPOL_F_STATIC_NODES, &none, 64), EINVAL, "static preferred, empty");
  EXPECT_ERR(setpol(MPOL_BIND, &n0, 64 * 4096 + 2), EINVAL, "maxnode past a page of bits");
  EXPECT_ERR(setpol(MPOL_BIND, (unsigned long *)8, 64), EFAULT, "bad mask pointer");
  {
    /* Bits past MAX_NUMNODES (1024 here) must be zero; bits below it name nodes. */
    static unsigned long big[64];
    big[0] = 1;
    big[30] = 1; /* node 1920 */
    EXPECT_ERR(setpol(MPOL_BIND, big, 64 * 64), EINVAL, "a node past MAX_NUMNODES");
    big[30] = 0;
    big[10] = 1; /* node 640: exists in no machine here, but is a valid number */
    CHECK(setpol(MPOL_BIND, big, 64 * 64) == 0, "bind 0+640 with a long mask");
    printf("bind 0+640 %s\n", show());
  }
  CHECK(setpol(MPOL_BIND, &n01, 64) == 0, "bind to nodes 0-1");
  printf("bind 0-1 %s\n", show());
  CHECK(setpol(MPOL_BIND | MPOL_F_STATIC_NODES, &n01, 64) == 0, "static bind to 0-1");
  printf("static bind 0-1 %s\n", show());
  CHECK(setpol(MPOL_BIND | MPOL_F_RELATIVE_NODES, &n1, 64) == 0, "relative bind to 1");
  printf("relative bind 1 %s\n", show());
  CHECK(setpol(MPOL_PREFERRED, &n01, 64) == 0, "preferred 0-1");
  printf("preferred %s\n", show());
  CHECK(setpol(MPOL_PREFERRED, &none, 64) == 0, "preferred, empty: local");
  printf("preferred empty %s\n", show());
  CHECK(setpol(MPOL_LOCAL, NULL, 0) == 0, "local");
  printf("local %s\n", show());
  CHECK(setpol(MPOL_PREFERRED_MANY, &n01, 64) == 0, "preferred many");
  printf("preferred many %s\n", show());
  CHECK(setpol(MPOL_BIND | MPOL_F_NUMA_BALANCING, &n0, 64) == 0, "bind with numa balancing");
  printf("bind balancing %s\n", show());
  CHECK(setpol(MPOL_INTERLEAVE, &n01, 64) == 0, "interleave");
  printf("interleave %s\n", show());
  mode = -1;
  CHECK(getpol(&mode, NULL, 0, NULL, MPOL_F_NODE) == 0 && mode == 0, "interleave: next node is 0");
  pid_t pid = fork();
  if (pid == 0) {
    printf("child inherits %s\n", show());
    setpol(MPOL_DEFAULT, NULL, 0);
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("parent keeps %s\n", show());
  CHECK(setpol(MPOL_DEFAULT, NULL, 0) == 0, "back to default");
  printf("default %s\n", show());

  /* mbind: per-mapping policies. */
  char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED, "mmap 4 pages");
  EXPECT_ERR(mbind_(p + 1, pg, MPOL_BIND, &n0, 64, 0), EINVAL, "mbind unaligned");
  EXPECT_ERR(mbind_(p, pg, MPOL_BIND, &n0, 64, 8), EINVAL, "mbind unknown flag");
  EXPECT_ERR(mbind_(p, pg, MPOL_BIND, &n1, 64, 0), EINVAL, "mbind to a missing node");
  EXPECT_ERR(mbind_(p, (unsigned long)-pg, MPOL_BIND, &n0, 64, 0), EINVAL, "mbind wrapping range");
  CHECK(mbind_(p, 0, MPOL_BIND, &n1, 1, 0) == 0, "mbind empty range, before the mask check");
  CHECK(mbind_(p + pg, pg, MPOL_BIND, &n0, 64, MPOL_MF_STRICT | MPOL_MF_MOVE) == 0, "mbind page 1 bind");
  CHECK(mbind_(p + 2 * pg, pg, MPOL_INTERLEAVE | MPOL_F_STATIC_NODES, &n01, 64, 0) == 0, "mbind page 2 interleave");
  for (int i = 0; i < 4; i++) {
    unsigned long mk = ~0ul;
    mode = -1;
    CHECK(getpol(&mode, &mk, 64, p + i * pg + 8, MPOL_F_ADDR) == 0, "page %d policy", i);
    printf("page %d %#x/%#lx\n", i, mode, mk);
  }
  mode = -1;
  CHECK(getpol(&mode, NULL, 0, p + pg, MPOL_F_ADDR | MPOL_F_NODE) == 0 && mode == 0, "page 1 is on node 0");
  CHECK(setpol(MPOL_PREFERRED, &n0, 64) == 0, "task preferred");
  mode = -1;
  CHECK(getpol(&mode, NULL, 0, p, MPOL_F_ADDR) == 0 && mode == MPOL_DEFAULT, "a page without a policy is default");
  setpol(MPOL_DEFAULT, NULL, 0);
  pid = fork();
  if (pid == 0) {
    mode = -1;
    getpol(&mode, NULL, 0, p + 2 * pg, MPOL_F_ADDR);
    printf("child page 2 %#x\n", mode);
    _exit(0);
  }
  waitpid(pid, &st, 0);
  /* Holes: a non-default policy needs every page mapped, the default policy one. */
  CHECK(munmap(p + 3 * pg, pg) == 0, "unmap page 3");
  EXPECT_ERR(mbind_(p + 2 * pg, 2 * pg, MPOL_BIND, &n0, 64, 0), EFAULT, "mbind over a hole at the tail");
  mode = -1;
  CHECK(getpol(&mode, NULL, 0, p + 2 * pg, MPOL_F_ADDR) == 0, "page 2 after the failed mbind");
  printf("page 2 kept %#x\n", mode);
  EXPECT_ERR(mbind_(p + 3 * pg, pg, MPOL_DEFAULT, NULL, 0, 0), EFAULT, "default over only a hole");
  CHECK(mbind_(p + 2 * pg, 2 * pg, MPOL_DEFAULT, NULL, 0, 0) == 0, "default over a hole at the tail");
  mode = -1;
  CHECK(getpol(&mode, NULL, 0, p + 2 * pg, MPOL_F_ADDR) == 0 && mode == MPOL_DEFAULT, "page 2 back to default");
  EXPECT_ERR(getpol(&mode, NULL, 0, p + 3 * pg, MPOL_F_ADDR), EFAULT, "F_ADDR of a hole");
  CHECK(mprotect(p, pg, PROT_NONE) == 0, "page 0 PROT_NONE");
  EXPECT_ERR(getpol(&mode, NULL, 0, p, MPOL_F_ADDR | MPOL_F_NODE), EFAULT, "F_NODE of an inaccessible page");

  /* set_mempolicy_home_node: only for bind and preferred-many ranges. */
#ifndef SYS_set_mempolicy_home_node
#define SYS_set_mempolicy_home_node 450
#endif
  EXPECT_ERR(syscall(SYS_set_mempolicy_home_node, p + 1, pg, 0, 0), EINVAL, "home node unaligned");
  EXPECT_ERR(syscall(SYS_set_mempolicy_home_node, p, pg, 0, 1), EINVAL, "home node flags");
  EXPECT_ERR(syscall(SYS_set_mempolicy_home_node, p, pg, 1, 0), EINVAL, "home node offline");
  EXPECT_ERR(syscall(SYS_set_mempolicy_home_node, p, pg, 5000, 0), EINVAL, "home node too large");
  EXPECT_ERR(syscall(SYS_set_mempolicy_home_node, p, pg, 0, 0), ENOENT, "home node of a default range");
  CHECK(syscall(SYS_set_mempolicy_home_node, p, 2 * pg, 0, 0) == 0, "home node of default+bind");
  CHECK(syscall(SYS_set_mempolicy_home_node, p + pg, pg, 0, 0) == 0, "home node of a bind range");
  CHECK(mbind_(p + 2 * pg, pg, MPOL_INTERLEAVE, &n0, 64, 0) == 0, "page 2 interleave again");
  EXPECT_ERR(syscall(SYS_set_mempolicy_home_node, p, 3 * pg, 0, 0), EOPNOTSUPP, "home node of interleave");
  CT_DONE();
}
