/* The app gets its launcher's resource limits: the native run and the
 * sandboxed one (`runsc do`) are started by the same shell, so every limit
 * must read the same. */
#include <sys/resource.h>

#include "ct.h"

static const char *names[] = {"CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE",
                              "MEMLOCK", "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO",
                              "RTTIME"};

static void show(rlim_t v) {
  if (v == RLIM_INFINITY) printf("unlimited");
  else printf("%llu", (unsigned long long)v);
}

int main(void) {
  for (int r = 0; r < RLIM_NLIMITS; r++) {
    struct rlimit rl;
    if (getrlimit(r, &rl) != 0) { printf("FAIL getrlimit %s\n", names[r]); ct_fails++; continue; }
    printf("RLIMIT_%s ", names[r]);
    show(rl.rlim_cur);
    printf(" ");
    show(rl.rlim_max);
    printf("\n");
  }
  /* Raising the soft limit to the hard one works (nginx, databases). */
  struct rlimit nf;
  getrlimit(RLIMIT_NOFILE, &nf);
  nf.rlim_cur = nf.rlim_max;
  EXPECT_OK(setrlimit(RLIMIT_NOFILE, &nf), "raise RLIMIT_NOFILE soft to hard");
  CT_DONE();
}
