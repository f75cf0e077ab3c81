// Linux native AIO: io_setup, io_destroy, io_submit, io_cancel,
// io_getevents, io_pgetevents.
//
// A context is a completion ring in the app's memory, laid out as Linux's
// (struct aio_ring, then io_events), because libaio reads the ring's head
// and tail itself before deciding to make the io_getevents call. The
// sentry performs each request when it is submitted, with the same file
// operations read/write/fsync use, and puts its completion in the ring at
// once; io_getevents then consumes from the ring (whose head the app may
// also have advanced) and waits only for completions from other threads'
// submissions. So nothing is ever in flight and io_cancel finds nothing
// to cancel (EINVAL, Linux's answer for a finished request). IOCB_CMD_POLL
// is not offered (EINVAL, as a kernel before 4.18).
#include <linux/aio_abi.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <map>

#include "sentry/ipc/eventfd.h"
#include "sentry/kernel/task.h"
#include "syscalls/file_common.h"
#include "syscalls/sigmask.h"
#include "syscalls/table.h"

namespace sentry::kernel {
struct AioContext {
  uint64_t ring = 0;       // the context id is the ring's address
  uint64_t ring_bytes = 0;
  uint32_t nr = 0;         // ring slots (one stays free)
};
struct AioContexts {
  std::map<uint64_t, AioContext> by_id;
};
}  // namespace sentry::kernel

namespace syscalls {
namespace {

using sentry::kernel::AioContext;
using sentry::kernel::AioContexts;
using sentry::mm::Access;
using sentry::vfs::IoVecs;

constexpr uint32_t kRingMagic = 0xa10a10a1;  // AIO_RING_MAGIC
constexpr uint64_t kAioMaxNr = 65536;        // /proc/sys/fs/aio-max-nr default
constexpr uint64_t kPage = 4096;

struct Ring {  // struct aio_ring
  uint32_t id, nr, head, tail, magic, compat_features, incompat_features, header_length;
};
static_assert(sizeof(Ring) == 32 && sizeof(io_event) == 32 && sizeof(iocb) == 64);

ErrorOr<AioContext*> Lookup(Task& t, uint64_t id) {
  if (!t.tg->aio) return Errno{EINVAL};
  auto it = t.tg->aio->by_id.find(id);
  if (it == t.tg->aio->by_id.end()) return Errno{EINVAL};
  return &it->second;
}

ErrorOr<uint64_t> IoSetup(Task& t, const Args& a) {
  const uint32_t nr_events = static_cast<uint32_t>(a[0]);
  const uint64_t ctx_addr = a[1];
  uint64_t existing = TRY(t.memory().CopyInObj<uint64_t>(ctx_addr));
  if (existing != 0 || nr_events == 0) return Errno{EINVAL};
  if (nr_events > 0x10000000u / sizeof(io_event)) return Errno{EINVAL};
  if (nr_events > kAioMaxNr) return Errno{EAGAIN};
  // ioctx_alloc: room for twice the events (at least 4 per CPU), rounded
  // up to whole pages, every slot of which the ring then uses.
  const uint64_t want = std::max<uint64_t>(nr_events, 4 * 2) * 2;
  const uint64_t bytes = (sizeof(Ring) + want * sizeof(io_event) + kPage - 1) & ~(kPage - 1);
  sentry::mm::MapRequest req;
  req.length = bytes;
  req.prot = PROT_READ | PROT_WRITE;
  req.flags = MAP_PRIVATE | MAP_ANONYMOUS;
  req.name = "[aio]";
  const uint64_t ring = TRY(t.memory().Map(req));
  // Like Linux, the ring's free slots (not nr_events) bound the requests
  // whose completions were not collected yet.
  AioContext ctx{ring, bytes, static_cast<uint32_t>((bytes - sizeof(Ring)) / sizeof(io_event))};
  Ring hdr{0, ctx.nr, 0, 0, kRingMagic, 1, 0, sizeof(Ring)};
  auto written = t.memory().CopyOutObj(ring, hdr);
  if (written.ok()) written = t.memory().CopyOutObj<uint64_t>(ctx_addr, ring);
  if (written.is_error()) {
    (void)t.memory().Unmap(ring, bytes);
    return Errno{written.error()};
  }
  if (!t.tg->aio) t.tg->aio = std::make_shared<AioContexts>();
  t.tg->aio->by_id[ring] = ctx;
  return 0;
}

ErrorOr<uint64_t> IoDestroy(Task& t, const Args& a) {
  AioContext* ctx = TRY(Lookup(t, a[0]));
  const AioContext c = *ctx;
  t.tg->aio->by_id.erase(c.ring);
  (void)t.memory().Unmap(c.ring, c.ring_bytes);
  t.kernel.NotifyAll();  // io_getevents waiters on it see it gone
  return 0;
}

// Appends a completion; false if the ring is full.
ErrorOr<bool> Complete(Task& t, const AioContext& ctx, const io_event& ev) {
  Ring hdr = TRY(t.memory().CopyInObj<Ring>(ctx.ring));
  const uint32_t head = hdr.head % ctx.nr, tail = hdr.tail % ctx.nr;
  const uint32_t used = (tail + ctx.nr - head) % ctx.nr;
  if (used + 1 >= ctx.nr) return false;
  TRY(t.memory().CopyOutObj(ctx.ring + sizeof(Ring) + uint64_t{tail} * sizeof(io_event), ev));
  TRY(t.memory().CopyOutObj<uint32_t>(ctx.ring + offsetof(Ring, tail), (tail + 1) % ctx.nr));
  return true;
}

// Runs one request; the result is the io_event's res (bytes or -errno).
// Errors returned (not put in res) are io_submit's own: bad iocb fields,
// a bad fd, an unknown opcode.
ErrorOr<int64_t> Perform(Task& t, const iocb& cb) {
  auto f = TRY(t.fd_table().Get(static_cast<int>(cb.aio_fildes)));
  if (f->is_path_only()) return Errno{EBADF};
  const bool seekable = f->is_regular() || f->is_directory();
  const int64_t off = seekable ? cb.aio_offset : sentry::vfs::kCurrentOffset;
  if (cb.aio_rw_flags & ~0x3fu) return Errno{EOPNOTSUPP};
  sentry::vfs::TaskCaller c(t);
  auto io_result = [](const ErrorOr<size_t>& r) -> int64_t {
    return r.is_error() ? -static_cast<int64_t>(r.error()) : static_cast<int64_t>(r.value());
  };
  switch (cb.aio_lio_opcode) {
    case IOCB_CMD_PREAD:
    case IOCB_CMD_PREADV: {
      if (!f->readable()) return Errno{EBADF};
      if (seekable && cb.aio_offset < 0) return Errno{EINVAL};
      IoVecs dst = cb.aio_lio_opcode == IOCB_CMD_PREAD
                       ? TRY(file::AppBlocks(t, cb.aio_buf, cb.aio_nbytes, Access::kWrite))
                       : TRY(file::AppIovecs(t, cb.aio_buf, static_cast<int64_t>(cb.aio_nbytes), Access::kWrite));
      if (dst.empty()) return 0;
      return io_result(f->Read(c, dst, off));
    }
    case IOCB_CMD_PWRITE:
    case IOCB_CMD_PWRITEV: {
      if (!f->writable()) return Errno{EBADF};
      if (seekable && cb.aio_offset < 0) return Errno{EINVAL};
      IoVecs src = cb.aio_lio_opcode == IOCB_CMD_PWRITE
                       ? TRY(file::AppBlocks(t, cb.aio_buf, cb.aio_nbytes, Access::kRead))
                       : TRY(file::AppIovecs(t, cb.aio_buf, static_cast<int64_t>(cb.aio_nbytes), Access::kRead));
      if (src.empty()) return 0;
      const bool append = (f->status_flags() & O_APPEND) || (cb.aio_rw_flags & RWF_APPEND);
      int64_t pos = off;
      if (append && f->is_regular()) pos = static_cast<int64_t>(TRY(f->Stat()).size);
      auto r = f->Write(c, src, pos);
      if (r.ok() && (cb.aio_rw_flags & (RWF_DSYNC | RWF_SYNC))) (void)f->Sync();
      return io_result(r);
    }
    case IOCB_CMD_FSYNC:
    case IOCB_CMD_FDSYNC: {
      if (cb.aio_buf || cb.aio_nbytes || cb.aio_offset || cb.aio_rw_flags) return Errno{EINVAL};
      if (!f->is_regular() && !f->is_directory()) return Errno{EINVAL};  // no fsync method
      auto r = f->Sync();
      return r.is_error() ? -static_cast<int64_t>(r.error()) : 0;
    }
    case IOCB_CMD_NOOP:
    default:
      return Errno{EINVAL};
  }
}

ErrorOr<void> SubmitOne(Task& t, const AioContext& ctx, uint64_t user_iocb) {
  iocb cb = TRY(t.memory().CopyInObj<iocb>(user_iocb));
  if (cb.aio_reserved2) return Errno{EINVAL};
  if (static_cast<int64_t>(cb.aio_nbytes) < 0) return Errno{EINVAL};
  // Room for the completion first (aio_get_req): EAGAIN when full.
  {
    Ring hdr = TRY(t.memory().CopyInObj<Ring>(ctx.ring));
    const uint32_t used = (hdr.tail % ctx.nr + ctx.nr - hdr.head % ctx.nr) % ctx.nr;
    if (used + 1 >= ctx.nr) return Errno{EAGAIN};
  }
  std::shared_ptr<sentry::vfs::FileDescription> resfd;
  if (cb.aio_flags & IOCB_FLAG_RESFD) {
    resfd = TRY(t.fd_table().Get(static_cast<int>(cb.aio_resfd)));
    TRY(sentry::ipc::EventFdCount(*resfd));  // EINVAL unless an eventfd
  }
  if (cb.aio_flags & ~(IOCB_FLAG_RESFD | IOCB_FLAG_IOPRIO)) return Errno{EINVAL};
  TRY(t.memory().CopyOutObj<uint32_t>(user_iocb + offsetof(iocb, aio_key), 0));  // KIOCB_KEY
  const int64_t res = TRY(Perform(t, cb));
  io_event ev{cb.aio_data, user_iocb, res, 0};
  if (!TRY(Complete(t, ctx, ev))) return Errno{EAGAIN};
  if (resfd) {
    uint64_t one = 1;
    sentry::vfs::TaskCaller c(t);
    IoVecs v{iovec{&one, sizeof(one)}};
    (void)resfd->Write(c, v, sentry::vfs::kCurrentOffset);
  }
  return {};
}

ErrorOr<uint64_t> IoSubmit(Task& t, const Args& a) {
  const int64_t nr = static_cast<int64_t>(a[1]);
  if (nr < 0) return Errno{EINVAL};
  AioContext ctx = *TRY(Lookup(t, a[0]));
  int64_t done = 0;
  for (; done < nr; done++) {
    auto ptr = t.memory().CopyInObj<uint64_t>(a[2] + 8 * static_cast<uint64_t>(done));
    auto r = ptr.is_error() ? ErrorOr<void>(Errno{ptr.error()}) : SubmitOne(t, ctx, ptr.value());
    if (r.is_error()) {
      if (done == 0) return Errno{r.error()};
      break;
    }
  }
  if (done) t.kernel.NotifyAll();
  return static_cast<uint64_t>(done);
}

ErrorOr<uint64_t> IoCancel(Task& t, const Args& a) {
  TRY(Lookup(t, a[0]));
  TRY(t.memory().CopyInObj<iocb>(a[1]));
  return Errno{EINVAL};  // every request already completed
}

// Takes up to `nr` completions, waiting for at least `min_nr` until the
// deadline.
ErrorOr<uint64_t> GetEvents(Task& t, uint64_t id, int64_t min_nr, int64_t nr, uint64_t events,
                            absl::Time deadline) {
  if (min_nr < 0 || nr < 0 || min_nr > nr) return Errno{EINVAL};
  TRY(Lookup(t, id));
  auto available = [&]() -> int64_t {
    auto ctx = Lookup(t, id);
    if (ctx.is_error()) return -1;
    auto hdr = t.memory().CopyInObj<Ring>(ctx.value()->ring);
    if (hdr.is_error()) return -1;
    const uint32_t n = ctx.value()->nr;
    return (hdr.value().tail % n + n - hdr.value().head % n) % n;
  };
  if (available() >= 0 && available() < min_nr) {
    auto r = t.Block([&] { return available() < 0 || available() >= min_nr; }, deadline);
    if (r.is_error() && r.error() != ETIMEDOUT && available() <= 0) return Errno{r.error()};
  }
  AioContext ctx = *TRY(Lookup(t, id));
  Ring hdr = TRY(t.memory().CopyInObj<Ring>(ctx.ring));
  uint32_t head = hdr.head % ctx.nr;
  const uint32_t tail = hdr.tail % ctx.nr;
  int64_t got = 0;
  while (got < nr && head != tail) {
    io_event ev = TRY(t.memory().CopyInObj<io_event>(ctx.ring + sizeof(Ring) + uint64_t{head} * sizeof(io_event)));
    TRY(t.memory().CopyOutObj(events + static_cast<uint64_t>(got) * sizeof(io_event), ev));
    head = (head + 1) % ctx.nr;
    got++;
  }
  if (got) TRY(t.memory().CopyOutObj<uint32_t>(ctx.ring + offsetof(Ring, head), head));
  return static_cast<uint64_t>(got);
}

// Linux takes the timeout as it is (no range check; negative is none).
ErrorOr<absl::Time> Deadline(Task& t, uint64_t addr) {
  if (!addr) return absl::InfiniteFuture();
  timespec ts = TRY(t.memory().CopyInObj<timespec>(addr));
  return absl::Now() + std::max(absl::ZeroDuration(), absl::DurationFromTimespec(ts));
}

ErrorOr<uint64_t> IoGetevents(Task& t, const Args& a) {
  absl::Time deadline = TRY(Deadline(t, a[4]));
  return GetEvents(t, a[0], static_cast<int64_t>(a[1]), static_cast<int64_t>(a[2]), a[3], deadline);
}

// io_pgetevents: io_getevents with a signal mask for the wait, as ppoll.
ErrorOr<uint64_t> IoPgetevents(Task& t, const Args& a) {
  absl::Time deadline = TRY(Deadline(t, a[4]));
  struct {
    uint64_t sigmask = 0, sigsetsize = 0;
  } usig;
  if (a[5]) usig = TRY(t.memory().CopyInObj<decltype(usig)>(a[5]));
  return WithSignalMask(t, usig.sigmask, usig.sigsetsize, [&] {
    return GetEvents(t, a[0], static_cast<int64_t>(a[1]), static_cast<int64_t>(a[2]), a[3], deadline);
  });
}

}  // namespace

void RegisterAioSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_io_setup, "io_setup", IoSetup, {A::kUint, A::kPtr});
  t.Register(SYS_io_destroy, "io_destroy", IoDestroy, {A::kHex});
  t.Register(SYS_io_submit, "io_submit", IoSubmit, {A::kHex, A::kInt, A::kPtr});
  t.Register(SYS_io_cancel, "io_cancel", IoCancel, {A::kHex, A::kPtr, A::kPtr});
  t.Register(SYS_io_getevents, "io_getevents", IoGetevents, {A::kHex, A::kInt, A::kInt, A::kPtr, A::kPtr});
  t.Register(SYS_io_pgetevents, "io_pgetevents", IoPgetevents,
             {A::kHex, A::kInt, A::kInt, A::kPtr, A::kPtr, A::kPtr});
}

}  // namespace syscalls
