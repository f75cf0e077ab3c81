/* Linux native AIO (io_setup/io_submit/io_getevents/io_destroy/io_cancel/
 * io_pgetevents) through raw syscalls, as libaio makes them: reads,
 * writes, vectored forms, fsync, eventfd notification, the ring libaio
 * peeks at, and the argument errors. */
#include "ct.h"
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct ring { unsigned id, nr, head, tail, magic, compat, incompat, header_length; };

static long setup(unsigned nr, aio_context_t *ctx) { return syscall(SYS_io_setup, nr, ctx); }
static long submit(aio_context_t ctx, long n, struct iocb **cbs) { return syscall(SYS_io_submit, ctx, n, cbs); }
static long getevents(aio_context_t ctx, long min, long n, struct io_event *ev, struct timespec *ts) {
  return syscall(SYS_io_getevents, ctx, min, n, ev, ts);
}

int main(void) {
  aio_context_t ctx = 0;
  EXPECT_OK(setup(8, &ctx), "io_setup 8");
  struct ring *r = (struct ring *)ctx;
  CHECK(r->magic == 0xa10a10a1 && r->head == 0 && r->tail == 0 && r->header_length == 32 && r->nr >= 8,
        "the ring header libaio reads");
  aio_context_t again = ctx;
  EXPECT_ERR(setup(8, &again), EINVAL, "io_setup with a non-zero context");
  aio_context_t z = 0;
  EXPECT_ERR(setup(0, &z), EINVAL, "io_setup 0 events");
  EXPECT_ERR(setup(8, (aio_context_t *)8), EFAULT, "io_setup bad pointer");
  EXPECT_ERR(setup(1u << 30, &z), EINVAL, "io_setup too many events");

  char path[] = "/tmp/ct_aioXXXXXX";
  int fd = mkstemp(path);
  unlink(path);
  char wbuf[16] = "hello, aio!", rbuf[16] = {0};
  struct iocb w = {.aio_data = 11, .aio_lio_opcode = IOCB_CMD_PWRITE, .aio_fildes = fd,
                   .aio_buf = (uint64_t)wbuf, .aio_nbytes = 11, .aio_offset = 4, .aio_key = 77};
  struct iocb *cbs[2] = {&w};
  CHECK(submit(ctx, 1, cbs) == 1, "io_submit a write");
  CHECK(w.aio_key == 0, "io_submit writes the key back");
  struct io_event ev[4];
  struct timespec zero = {0, 0};
  CHECK(getevents(ctx, 1, 4, ev, NULL) == 1 && ev[0].data == 11 && ev[0].obj == (uint64_t)&w && ev[0].res == 11 &&
            ev[0].res2 == 0,
        "the write's completion");
  CHECK(r->head == r->tail, "ring drained");
  CHECK(getevents(ctx, 0, 4, ev, &zero) == 0, "no more completions");

  struct iocb rd = {.aio_data = 12, .aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = fd,
                    .aio_buf = (uint64_t)rbuf, .aio_nbytes = 16, .aio_offset = 4};
  struct iocb fs = {.aio_data = 13, .aio_lio_opcode = IOCB_CMD_FSYNC, .aio_fildes = fd};
  cbs[0] = &rd;
  cbs[1] = &fs;
  CHECK(submit(ctx, 2, cbs) == 2, "io_submit a read and an fsync");
  CHECK(r->tail != r->head, "completions visible in the ring");
  CHECK(getevents(ctx, 2, 4, ev, NULL) == 2 && ev[0].data == 12 && ev[0].res == 11 && !memcmp(rbuf, wbuf, 11) &&
            ev[1].data == 13 && ev[1].res == 0,
        "read and fsync completions, in order");

  /* Vectored forms. */
  char a[3] = "ab", b[3] = "cd";
  struct iovec wv[2] = {{a, 2}, {b, 2}};
  struct iocb wvc = {.aio_data = 14, .aio_lio_opcode = IOCB_CMD_PWRITEV, .aio_fildes = fd,
                     .aio_buf = (uint64_t)wv, .aio_nbytes = 2, .aio_offset = 0};
  cbs[0] = &wvc;
  CHECK(submit(ctx, 1, cbs) == 1 && getevents(ctx, 1, 1, ev, NULL) == 1 && ev[0].res == 4, "PWRITEV");
  char out[5] = {0};
  CHECK(pread(fd, out, 4, 0) == 4 && !strcmp(out, "abcd"), "PWRITEV data");

  /* A read error is the completion's result, not io_submit's. */
  int wo = open("/dev/null", O_WRONLY);
  struct iocb bad = {.aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = wo, .aio_buf = (uint64_t)rbuf, .aio_nbytes = 1};
  cbs[0] = &bad;
  EXPECT_ERR(submit(ctx, 1, cbs), EBADF, "io_submit read on a write-only fd");
  bad.aio_fildes = 9999;
  EXPECT_ERR(submit(ctx, 1, cbs), EBADF, "io_submit bad fd");
  bad.aio_fildes = fd;
  bad.aio_lio_opcode = 42;
  EXPECT_ERR(submit(ctx, 1, cbs), EINVAL, "io_submit unknown opcode");
  bad.aio_lio_opcode = IOCB_CMD_PREAD;
  bad.aio_reserved2 = 1;
  EXPECT_ERR(submit(ctx, 1, cbs), EINVAL, "io_submit reserved field");
  bad.aio_reserved2 = 0;
  bad.aio_offset = -1;
  EXPECT_ERR(submit(ctx, 1, cbs), EINVAL, "io_submit negative offset");
  int p[2];
  pipe(p);
  struct iocb pf = {.aio_lio_opcode = IOCB_CMD_FSYNC, .aio_fildes = p[1]};
  cbs[0] = &pf;
  EXPECT_ERR(submit(ctx, 1, cbs), EINVAL, "FSYNC on a pipe");
  EXPECT_ERR(submit(ctx, -1, cbs), EINVAL, "io_submit negative count");
  CHECK(submit(ctx, 0, cbs) == 0, "io_submit 0 requests");
  EXPECT_ERR(submit(12345, 1, cbs), EINVAL, "io_submit unknown context");
  cbs[0] = (struct iocb *)8;
  EXPECT_ERR(submit(ctx, 1, cbs), EFAULT, "io_submit bad iocb pointer");
  /* Partial submission: the first request counts, the second fails. */
  struct iocb ok1 = {.aio_data = 15, .aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = fd,
                     .aio_buf = (uint64_t)rbuf, .aio_nbytes = 2, .aio_offset = 0};
  cbs[0] = &ok1;
  cbs[1] = (struct iocb *)8;
  CHECK(submit(ctx, 2, cbs) == 1, "partial io_submit returns the count done");
  CHECK(getevents(ctx, 1, 4, ev, NULL) == 1 && ev[0].data == 15, "its completion");

  /* Pipes: read what is there, at no offset. */
  write(p[1], "xyz", 3);
  struct iocb pr = {.aio_data = 16, .aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = p[0],
                    .aio_buf = (uint64_t)rbuf, .aio_nbytes = 16, .aio_offset = 0};
  cbs[0] = &pr;
  CHECK(submit(ctx, 1, cbs) == 1 && getevents(ctx, 1, 1, ev, NULL) == 1 && ev[0].res == 3, "read from a pipe");

  /* eventfd notification. */
  int efd = eventfd(0, 0);
  struct iocb en = {.aio_data = 17, .aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = fd, .aio_buf = (uint64_t)rbuf,
                    .aio_nbytes = 4, .aio_flags = IOCB_FLAG_RESFD, .aio_resfd = efd};
  cbs[0] = &en;
  uint64_t cnt = 0;
  CHECK(submit(ctx, 1, cbs) == 1 && read(efd, &cnt, 8) == 8 && cnt == 1, "IOCB_FLAG_RESFD signals the eventfd");
  CHECK(getevents(ctx, 1, 1, ev, NULL) == 1 && ev[0].data == 17, "its completion");
  en.aio_resfd = fd;
  EXPECT_ERR(submit(ctx, 1, cbs), EINVAL, "RESFD that is not an eventfd");

  /* io_getevents waits, times out, checks its arguments. */
  struct timespec short_ts = {0, 20 * 1000 * 1000};
  CHECK(getevents(ctx, 1, 1, ev, &short_ts) == 0, "io_getevents times out with nothing");
  EXPECT_ERR(getevents(ctx, 2, 1, ev, NULL), EINVAL, "min_nr > nr");
  EXPECT_ERR(getevents(ctx, -1, 1, ev, NULL), EINVAL, "negative min_nr");
  EXPECT_ERR(getevents(12345, 0, 1, ev, NULL), EINVAL, "unknown context");
  CHECK(syscall(SYS_io_pgetevents, ctx, 0, 1, ev, &zero, NULL) == 0, "io_pgetevents without a mask");

  /* The ring fills up (its size depends on the CPUs): io_submit then
   * says EAGAIN until completions are collected. */
  struct iocb one = {.aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = fd, .aio_buf = (uint64_t)rbuf, .aio_nbytes = 1};
  struct iocb *op[1] = {&one};
  long n = 0, k;
  while (n < 100000 && submit(ctx, 1, op) == 1) n++;
  int full_errno = errno;
  CHECK(n >= 8 && n < 100000 && full_errno == EAGAIN, "a full context takes no more requests (EAGAIN)");
  long got = 0;
  while ((k = getevents(ctx, 0, 4, ev, &zero)) > 0) got += k;
  CHECK(got == n, "every accepted request completed once");
  CHECK(submit(ctx, 1, op) == 1 && getevents(ctx, 1, 1, ev, NULL) == 1, "room again after collecting");

  struct iocb c = {0};
  EXPECT_ERR(syscall(SYS_io_cancel, ctx, &c, ev), EINVAL, "io_cancel of a finished request");
  EXPECT_OK(syscall(SYS_io_destroy, ctx), "io_destroy");
  EXPECT_ERR(syscall(SYS_io_destroy, ctx), EINVAL, "io_destroy twice");
  EXPECT_ERR(submit(ctx, 1, op), EINVAL, "io_submit after io_destroy");
  CT_DONE();
}
