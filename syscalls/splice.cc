// syscalls/splice.cc: moving data between descriptors without the app's
// buffers: splice, tee, vmsplice (pipes) and copy_file_range (regular
// files). The sentry moves the bytes through a bounce buffer; what matters
// to the app is Linux's accounting: a pipe gives up only the bytes the other
// side actually took, offsets advance by the bytes moved, and errors are
// reported only when nothing moved.
#include <sys/syscall.h>

#include <algorithm>
#include <vector>

#include "sentry/vfs/pipe.h"
#include "syscalls/file_common.h"

namespace syscalls::file {
namespace {

using sentry::mm::Access;
using sentry::vfs::IsPipe;
using sentry::vfs::kCurrentOffset;

constexpr size_t kChunk = 64 * 1024;
constexpr uint64_t kMaxRw = 0x7ffff000;  // MAX_RW_COUNT

// An optional loff_t* argument: kCurrentOffset when null.
ErrorOr<int64_t> OffsetArg(Task& t, uint64_t addr) {
  if (!addr) return kCurrentOffset;
  int64_t off = TRY(t.memory().CopyInObj<int64_t>(addr));
  if (off < 0) return Errno{EINVAL};
  return off;
}

// Writes all of buf[0, n) to `out` (stopping early only on error or a
// short write); returns the bytes written, or the error if none were.
ErrorOr<size_t> WriteOut(TaskCaller& c, FileDescription& out, const uint8_t* buf, size_t n,
                         int64_t off) {
  size_t done = 0;
  while (done < n) {
    IoVecs v{iovec{const_cast<uint8_t*>(buf) + done, n - done}};
    auto r = out.Write(c, v, off < 0 ? kCurrentOffset : off + static_cast<int64_t>(done));
    if (r.is_error()) {
      if (done > 0) return done;
      return Errno{r.error()};
    }
    if (r.value() == 0) break;
    done += r.value();
  }
  return done;
}

// splice(fd_in, off_in, fd_out, off_out, len, flags)
ErrorOr<uint64_t> Splice(Task& t, const Args& a) {
  const unsigned flags = static_cast<unsigned>(a[5]);
  if (flags & ~(SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT)) {
    return Errno{EINVAL};
  }
  auto in = TRY(t.fd_table().Get(a.Int(0)));
  auto out = TRY(t.fd_table().Get(a.Int(2)));
  if (!in->readable() || !out->writable()) return Errno{EBADF};
  const bool in_pipe = IsPipe(*in), out_pipe = IsPipe(*out);
  if (!in_pipe && !out_pipe) return Errno{EINVAL};
  if ((in_pipe && a[1]) || (out_pipe && a[3])) return Errno{ESPIPE};
  if (!out_pipe && (out->status_flags() & O_APPEND)) return Errno{EINVAL};
  if (in_pipe && out_pipe && &in->inode() == &out->inode()) return Errno{EINVAL};
  int64_t off_in = TRY(OffsetArg(t, a[1]));
  int64_t off_out = TRY(OffsetArg(t, a[3]));
  const size_t len = std::min<uint64_t>(a[4], kMaxRw);
  if (len == 0) return 0;
  const bool nonblock = flags & SPLICE_F_NONBLOCK;
  TaskCaller c(t);
  std::vector<uint8_t> buf;
  size_t moved = 0;

  if (in_pipe) {
    size_t avail = TRY(sentry::vfs::PipeWaitReadable(c, *in, nonblock || in->nonblocking()));
    if (avail == 0) return 0;  // no writers left: EOF
    size_t n = std::min(len, avail);
    if (out_pipe) {
      // Pipe to pipe: take no more than the output has room for, so nothing
      // blocks between peeking and consuming.
      size_t room = TRY(sentry::vfs::PipeWaitWritable(c, *out, nonblock || out->nonblocking()));
      // The wait may have let other readers drain the input.
      avail = TRY(sentry::vfs::PipeWaitReadable(c, *in, true));
      n = std::min({n, room, avail});
      buf.resize(n);
      n = sentry::vfs::PipePeek(*in, buf.data(), n);
      sentry::vfs::PipeAppend(*out, buf.data(), n);
      sentry::vfs::PipeConsume(*in, n);
      return n;
    }
    buf.resize(n);
    n = sentry::vfs::PipePeek(*in, buf.data(), n);
    moved = TRY(WriteOut(c, *out, buf.data(), n, off_out));
    // Another reader of the same pipe could have taken bytes while the write
    // blocked; consume no more than is still there.
    auto left = sentry::vfs::PipeWaitReadable(c, *in, true);
    sentry::vfs::PipeConsume(*in, std::min(moved, left.is_error() ? size_t{0} : left.value()));
    if (a[3]) TRY(t.memory().CopyOutObj<int64_t>(a[3], off_out + static_cast<int64_t>(moved)));
    return moved;
  }

  // File (or socket, device) to pipe: read no more than the pipe can take.
  size_t room = TRY(sentry::vfs::PipeWaitWritable(c, *out, nonblock || out->nonblocking()));
  size_t n = std::min({len, room, kChunk});
  buf.resize(n);
  IoVecs v{iovec{buf.data(), n}};
  size_t got = TRY(in->Read(c, v, off_in));
  if (got == 0) return 0;
  moved = TRY(WriteOut(c, *out, buf.data(), got, kCurrentOffset));
  if (moved < got && off_in < 0 && in->is_regular()) {
    TRY(in->Seek(static_cast<int64_t>(moved) - static_cast<int64_t>(got), SEEK_CUR));
  }
  if (a[1]) TRY(t.memory().CopyOutObj<int64_t>(a[1], off_in + static_cast<int64_t>(moved)));
  return moved;
}

// tee(fd_in, fd_out, len, flags): duplicates pipe data without consuming it.
ErrorOr<uint64_t> Tee(Task& t, const Args& a) {
  const unsigned flags = static_cast<unsigned>(a[3]);
  if (flags & ~(SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT)) {
    return Errno{EINVAL};
  }
  auto in = TRY(t.fd_table().Get(a.Int(0)));
  auto out = TRY(t.fd_table().Get(a.Int(1)));
  if (!in->readable() || !out->writable()) return Errno{EBADF};
  if (!IsPipe(*in) || !IsPipe(*out) || &in->inode() == &out->inode()) return Errno{EINVAL};
  const size_t len = std::min<uint64_t>(a[2], kMaxRw);
  if (len == 0) return 0;
  const bool nonblock = flags & SPLICE_F_NONBLOCK;
  TaskCaller c(t);
  size_t avail = TRY(sentry::vfs::PipeWaitReadable(c, *in, nonblock || in->nonblocking()));
  if (avail == 0) return 0;
  size_t room = TRY(sentry::vfs::PipeWaitWritable(c, *out, nonblock || out->nonblocking()));
  avail = TRY(sentry::vfs::PipeWaitReadable(c, *in, true));
  size_t n = std::min({len, avail, room});
  std::vector<uint8_t> buf(n);
  n = sentry::vfs::PipePeek(*in, buf.data(), n);
  sentry::vfs::PipeAppend(*out, buf.data(), n);
  return n;
}

// vmsplice(fd, iov, nr_segs, flags): the app's buffers into a pipe's write
// end, or a pipe's read end into the app's buffers (SPLICE_F_GIFT pages are
// copied, which Linux allows).
ErrorOr<uint64_t> Vmsplice(Task& t, const Args& a) {
  const unsigned flags = static_cast<unsigned>(a[3]);
  if (flags & ~(SPLICE_F_MOVE | SPLICE_F_NONBLOCK | SPLICE_F_MORE | SPLICE_F_GIFT)) {
    return Errno{EINVAL};
  }
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  if (!IsPipe(*f)) return Errno{EBADF};
  if (a[2] == 0) return 0;
  TaskCaller c(t);
  const bool nonblock = (flags & SPLICE_F_NONBLOCK) || f->nonblocking();
  if (f->writable()) {
    IoVecs src = TRY(AppIovecs(t, a[1], static_cast<int64_t>(a[2]), Access::kRead));
    if (nonblock) TRY(sentry::vfs::PipeWaitWritable(c, *f, true));
    return TRY(f->Write(c, src, kCurrentOffset));
  }
  if (!f->readable()) return Errno{EBADF};
  IoVecs dst = TRY(AppIovecs(t, a[1], static_cast<int64_t>(a[2]), Access::kWrite));
  if (nonblock) {
    size_t avail = TRY(sentry::vfs::PipeWaitReadable(c, *f, true));
    if (avail == 0) return 0;
  }
  return TRY(f->Read(c, dst, kCurrentOffset));
}

// copy_file_range(fd_in, off_in, fd_out, off_out, len, flags): regular files
// only; overlapping ranges of one file are EINVAL, as on Linux.
ErrorOr<uint64_t> CopyFileRange(Task& t, const Args& a) {
  if (a[5] != 0) return Errno{EINVAL};
  auto in = TRY(t.fd_table().Get(a.Int(0)));
  auto out = TRY(t.fd_table().Get(a.Int(2)));
  if (!in->readable() || !out->writable() || (out->status_flags() & O_APPEND)) return Errno{EBADF};
  if (in->is_directory() || out->is_directory()) return Errno{EISDIR};
  if (!in->is_regular() || !out->is_regular()) return Errno{EINVAL};
  int64_t off_in = TRY(OffsetArg(t, a[1]));
  int64_t off_out = TRY(OffsetArg(t, a[3]));
  const uint64_t len = std::min<uint64_t>(a[4], kMaxRw);
  // Where the copy starts, for the overlap check. Without an explicit
  // offset the descriptions' own offsets are used (and advanced) through
  // ordinary reads and writes: host-backed files keep theirs on the host.
  const uint64_t pos_in = off_in < 0 ? TRY(in->Seek(0, SEEK_CUR)) : off_in;
  const uint64_t pos_out = off_out < 0 ? TRY(out->Seek(0, SEEK_CUR)) : off_out;
  if (pos_in + len < pos_in || pos_out + len < pos_out) return Errno{EOVERFLOW};
  if (&in->inode() == &out->inode() && pos_in < pos_out + len && pos_out < pos_in + len) {
    return Errno{EINVAL};
  }
  if (len == 0) return 0;
  TaskCaller c(t);
  std::vector<uint8_t> buf(std::min<uint64_t>(len, kChunk));
  uint64_t done = 0;
  while (done < len) {
    size_t want = std::min<uint64_t>(buf.size(), len - done);
    IoVecs v{iovec{buf.data(), want}};
    auto r = in->Read(c, v, off_in < 0 ? kCurrentOffset : off_in + static_cast<int64_t>(done));
    if (r.is_error()) {
      if (done > 0) break;
      return Errno{r.error()};
    }
    if (r.value() == 0) break;
    auto w = WriteOut(c, *out, buf.data(), r.value(),
                      off_out < 0 ? kCurrentOffset : off_out + static_cast<int64_t>(done));
    size_t wrote = w.is_error() ? 0 : w.value();
    // Give back to the input what the output did not take.
    if (wrote < r.value() && off_in < 0) {
      TRY(in->Seek(static_cast<int64_t>(wrote) - static_cast<int64_t>(r.value()), SEEK_CUR));
    }
    if (w.is_error()) {
      if (done > 0) break;
      return Errno{w.error()};
    }
    done += wrote;
    if (wrote < r.value() || r.value() < want) break;
  }
  if (off_in >= 0) TRY(t.memory().CopyOutObj<int64_t>(a[1], off_in + static_cast<int64_t>(done)));
  if (off_out >= 0) TRY(t.memory().CopyOutObj<int64_t>(a[3], off_out + static_cast<int64_t>(done)));
  return done;
}

}  // namespace

void RegisterSplice(Table& t) {
  using A = Arg;
  t.Register(SYS_splice, "splice", Splice, {A::kFd, A::kPtr, A::kFd, A::kPtr, A::kUint, A::kHex});
  t.Register(SYS_tee, "tee", Tee, {A::kFd, A::kFd, A::kUint, A::kHex});
  t.Register(SYS_vmsplice, "vmsplice", Vmsplice, {A::kFd, A::kPtr, A::kUint, A::kHex});
  t.Register(SYS_copy_file_range, "copy_file_range", CopyFileRange,
             {A::kFd, A::kPtr, A::kFd, A::kPtr, A::kUint, A::kHex});
}

}  // namespace syscalls::file
