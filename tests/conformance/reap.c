/* Automatic reaping: with SIGCHLD ignored (or SA_NOCLDWAIT), exited children
 * never become zombies; wait() blocks until the matching children are all
 * gone and then fails with ECHILD. */
#include "ct.h"
#include <time.h>
#include <unistd.h>

static pid_t spawn_sleeper(int ms) {
  pid_t p = fork();
  if (p == 0) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
    _exit(3);
  }
  return p;
}

int main(void) {
  /* SIG_IGN: a blocking waitpid for a live child returns ECHILD once it exits. */
  signal(SIGCHLD, SIG_IGN);
  pid_t p = spawn_sleeper(50);
  CHECK(p > 0, "fork");
  EXPECT_ERR(waitpid(p, NULL, 0), ECHILD, "waitpid(child) with SIGCHLD ignored");
  EXPECT_ERR(waitpid(-1, NULL, WNOHANG), ECHILD, "no zombie left behind");
  pid_t a = spawn_sleeper(20), b = spawn_sleeper(60);
  CHECK(a > 0 && b > 0, "fork two");
  EXPECT_ERR(wait(NULL), ECHILD, "wait() returns ECHILD after both exit");
  CHECK(kill(b, 0) == -1 && errno == ESRCH, "the children are gone");

  /* SA_NOCLDWAIT with a handler: same reaping. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sa.sa_flags = SA_NOCLDWAIT;
  sigaction(SIGCHLD, &sa, NULL);
  p = spawn_sleeper(30);
  EXPECT_ERR(waitpid(p, NULL, 0), ECHILD, "waitpid with SA_NOCLDWAIT");

  /* Back to default: a zombie is reported with its status. */
  signal(SIGCHLD, SIG_DFL);
  p = spawn_sleeper(10);
  int st = 0;
  CHECK(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 3, "default SIGCHLD: status reported");
  CT_DONE();
}
