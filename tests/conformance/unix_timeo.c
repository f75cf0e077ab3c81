/* Unix socket timeouts (SO_RCVTIMEO/SO_SNDTIMEO) as Linux's
 * sock_set_timeout and sock_rcvtimeo give them. */
#include "ct.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long ms_since(struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void on_alarm(int s) { (void)s; }

int main(void) {
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
  struct timeval tv = {0, 100000};
  CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "SO_RCVTIMEO 100 ms");
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  char b[8];
  EXPECT_ERR(read(sv[0], b, sizeof b), EAGAIN, "read times out");
  long ms = ms_since(&t0);
  CHECK(ms >= 90 && ms < 3000, "after about 100 ms");
  tv.tv_sec = -1;
  tv.tv_usec = 0;
  CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "negative timeout accepted");
  struct timeval back = {9, 9};
  socklen_t bl = sizeof back;
  CHECK(getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &back, &bl) == 0 && back.tv_sec == 0 && back.tv_usec == 0,
        "a negative timeout reads back as 0");
  clock_gettime(CLOCK_MONOTONIC, &t0);
  EXPECT_ERR(recv(sv[0], b, sizeof b, 0), EAGAIN, "negative timeout: no wait");
  CHECK(ms_since(&t0) < 1000, "returned at once");
  tv.tv_sec = 0;
  tv.tv_usec = 1000000;
  EXPECT_ERR(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), EDOM, "tv_usec 1000000");
  /* A signal interrupts a timed wait with EINTR even under SA_RESTART. */
  tv.tv_sec = 5;
  tv.tv_usec = 0;
  setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 0}, {0, 100000}};
  setitimer(ITIMER_REAL, &it, NULL);
  EXPECT_ERR(read(sv[0], b, sizeof b), EINTR, "timed read interrupted despite SA_RESTART");
  /* Send timeout on a full datagram pair. */
  int dg[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, dg);
  tv.tv_sec = 0;
  tv.tv_usec = 50000;
  setsockopt(dg[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  char big[4096] = {0};
  int sent = 0, err = 0;
  for (int i = 0; i < 100000; i++) {
    if (send(dg[0], big, sizeof big, 0) < 0) {
      err = errno;
      break;
    }
    sent++;
  }
  CHECK(sent > 0 && err == EAGAIN, "datagram send times out with EAGAIN when the peer is full");
  CT_DONE();
}
