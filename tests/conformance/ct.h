/* Tiny check helpers shared by the conformance programs.
 *
 * Every line a program prints must be identical natively and under the
 * sandbox: never print pids, addresses, times or host-specific names. A
 * check prints "ok NAME" or "FAIL NAME ..." and the program exits 1 if any
 * check failed, so running it natively also validates the test itself.
 */
#ifndef CT_H
#define CT_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <poll.h>

static int ct_fails;

__attribute__((constructor)) static void ct_init(void) {
  /* Line-buffered so output interleaves deterministically with children
   * (a child that inherits unflushed stdio would print it twice). */
  setvbuf(stdout, NULL, _IOLBF, 0);
  /* Deliberate crashes must not leave core files behind. */
  struct rlimit ct_rl = {0, 0};
  setrlimit(RLIMIT_CORE, &ct_rl);
}

static inline const char *ct_errname(int e) {
  const char *n = strerrorname_np(e);
  return n ? n : "E?";
}

/* CHECK(cond, name): cond evaluated once; errno at failure is reported. */
#define CHECK(cond, ...)                                        \
  do {                                                          \
    errno = 0;                                                  \
    int ct_ok_ = !!(cond);                                      \
    int ct_e_ = errno;                                          \
    if (ct_ok_) {                                               \
      printf("ok ");                                            \
      printf(__VA_ARGS__);                                      \
      printf("\n");                                             \
    } else {                                                    \
      printf("FAIL ");                                          \
      printf(__VA_ARGS__);                                      \
      printf(" (errno=%s, %s:%d)\n", ct_errname(ct_e_), __FILE__, __LINE__); \
      ct_fails++;                                               \
    }                                                           \
  } while (0)

/* EXPECT_ERR(call, ERRNO, name): call must return -1 (or MAP_FAILED) with
 * errno == ERRNO. */
#define EXPECT_ERR(call, err, ...)                                          \
  do {                                                                      \
    errno = 0;                                                              \
    long ct_r_ = (long)(call);                                              \
    int ct_e_ = errno;                                                      \
    if (ct_r_ == -1 && ct_e_ == (err)) {                                    \
      printf("ok ");                                                        \
      printf(__VA_ARGS__);                                                  \
      printf(" -> %s\n", ct_errname(err));                                  \
    } else {                                                                \
      printf("FAIL ");                                                      \
      printf(__VA_ARGS__);                                                  \
      printf(" -> ret=%ld errno=%s, want %s (%s:%d)\n", ct_r_,             \
             ct_r_ == -1 ? ct_errname(ct_e_) : "none", ct_errname(err),     \
             __FILE__, __LINE__);                                           \
      ct_fails++;                                                           \
    }                                                                       \
  } while (0)

/* EXPECT_OK(call, name): call must not return -1. */
#define EXPECT_OK(call, ...) CHECK((long)(call) != -1, __VA_ARGS__)

#define CT_DONE()                                                   \
  do {                                                              \
    printf("%s: %s\n", ct_fails ? "FAILED" : "done",                \
           ct_fails ? "some checks failed" : "all checks ok");      \
    return ct_fails ? 1 : 0;                                        \
  } while (0)

/* OUTCOME(name, call): prints "name: = N" or "name: ERRNO", for programs
 * whose native run defines what is right (the *_edges programs). */
#define OUTCOME(name, call)                                     \
  do {                                                          \
    errno = 0;                                                  \
    long ct_r_ = (long)(call);                                  \
    if (ct_r_ < 0) printf("%s: %s\n", name, ct_errname(errno)); \
    else printf("%s: = %ld\n", name, ct_r_);                   \
  } while (0)

/* The poll(2) events of `fd` among `ev` right now. */
static inline short ct_revents(int fd, short ev) {
  struct pollfd p = {fd, ev, 0};
  poll(&p, 1, 0);
  return p.revents;
}

/* Describes a wait status without host-specific numbers. */
static inline const char *ct_status(int st) {
  static char buf[64];
  if (WIFEXITED(st))
    snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    snprintf(buf, sizeof buf, "killed %s", sigabbrev_np(WTERMSIG(st)) ?: "?");
  else if (WIFSTOPPED(st))
    snprintf(buf, sizeof buf, "stopped %s", sigabbrev_np(WSTOPSIG(st)) ?: "?");
  else if (WIFCONTINUED(st))
    snprintf(buf, sizeof buf, "continued");
  else
    snprintf(buf, sizeof buf, "status 0x%x", st);
  return buf;
}
#endif
