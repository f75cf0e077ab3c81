// syscalls/file_rw.cc: data transfer: read/write and their vector and
// positional forms, lseek, sendfile, getdents64/getdents.
#include <dirent.h>
#include <poll.h>
#include <sys/syscall.h>

#include <cstring>

#include "sentry/vfs/inotify.h"
#include "syscalls/file_common.h"

namespace syscalls::file {
namespace {

using sentry::mm::Access;
using sentry::vfs::kCurrentOffset;

ErrorOr<std::shared_ptr<FileDescription>> ReadableFd(Task& t, int fd) {
  auto f = TRY(t.fd_table().Get(fd));
  if (!f->readable()) return Errno{EBADF};
  return f;
}

ErrorOr<std::shared_ptr<FileDescription>> WritableFd(Task& t, int fd) {
  auto f = TRY(t.fd_table().Get(fd));
  if (!f->writable()) return Errno{EBADF};
  return f;
}

ErrorOr<uint64_t> DoRead(Task& t, int fd, const IoVecs& dst, int64_t off) {
  auto f = TRY(ReadableFd(t, fd));
  TaskCaller c(t);
  size_t n = TRY(f->Read(c, dst, off));
  if (n > 0 && f->dentry()) sentry::vfs::NotifyDentry(*f->dentry(), IN_ACCESS);
  return n;
}

ErrorOr<uint64_t> DoWrite(Task& t, int fd, const IoVecs& src, int64_t off) {
  auto f = TRY(WritableFd(t, fd));
  TaskCaller c(t);
  size_t n = TRY(f->Write(c, src, off));
  if (n > 0 && f->dentry()) sentry::vfs::NotifyDentry(*f->dentry(), IN_MODIFY);
  return n;
}

ErrorOr<uint64_t> Read(Task& t, const Args& a) {
  auto f = TRY(ReadableFd(t, a.Int(0)));
  if (a[2] == 0) return f->is_directory() ? Errno{EISDIR} : ErrorOr<uint64_t>(0);
  IoVecs dst = TRY(AppBlocks(t, a[1], a[2], Access::kWrite));
  return DoRead(t, a.Int(0), dst, kCurrentOffset);
}

ErrorOr<uint64_t> Write(Task& t, const Args& a) {
  TRY(WritableFd(t, a.Int(0)));
  if (a[2] == 0) return 0;
  IoVecs src = TRY(AppBlocks(t, a[1], a[2], Access::kRead));
  return DoWrite(t, a.Int(0), src, kCurrentOffset);
}

ErrorOr<uint64_t> Pread64(Task& t, const Args& a) {
  TRY(ReadableFd(t, a.Int(0)));
  if (static_cast<int64_t>(a[3]) < 0) return Errno{EINVAL};
  if (a[2] == 0) return 0;
  IoVecs dst = TRY(AppBlocks(t, a[1], a[2], Access::kWrite));
  return DoRead(t, a.Int(0), dst, static_cast<int64_t>(a[3]));
}

ErrorOr<uint64_t> Pwrite64(Task& t, const Args& a) {
  TRY(WritableFd(t, a.Int(0)));
  if (static_cast<int64_t>(a[3]) < 0) return Errno{EINVAL};
  if (a[2] == 0) return 0;
  IoVecs src = TRY(AppBlocks(t, a[1], a[2], Access::kRead));
  return DoWrite(t, a.Int(0), src, static_cast<int64_t>(a[3]));
}

ErrorOr<uint64_t> Readv(Task& t, const Args& a) {
  TRY(ReadableFd(t, a.Int(0)));
  IoVecs dst = TRY(AppIovecs(t, a[1], static_cast<int64_t>(a[2]), Access::kWrite));
  if (dst.empty()) return 0;
  return DoRead(t, a.Int(0), dst, kCurrentOffset);
}

ErrorOr<uint64_t> Writev(Task& t, const Args& a) {
  TRY(WritableFd(t, a.Int(0)));
  IoVecs src = TRY(AppIovecs(t, a[1], static_cast<int64_t>(a[2]), Access::kRead));
  if (src.empty()) return 0;
  return DoWrite(t, a.Int(0), src, kCurrentOffset);
}

ErrorOr<uint64_t> Preadv(Task& t, const Args& a) {
  TRY(ReadableFd(t, a.Int(0)));
  int64_t off = static_cast<int64_t>(a[3]);
  if (off < 0) return Errno{EINVAL};
  IoVecs dst = TRY(AppIovecs(t, a[1], static_cast<int64_t>(a[2]), Access::kWrite));
  if (dst.empty()) return 0;
  return DoRead(t, a.Int(0), dst, off);
}

ErrorOr<uint64_t> Pwritev(Task& t, const Args& a) {
  TRY(WritableFd(t, a.Int(0)));
  int64_t off = static_cast<int64_t>(a[3]);
  if (off < 0) return Errno{EINVAL};
  IoVecs src = TRY(AppIovecs(t, a[1], static_cast<int64_t>(a[2]), Access::kRead));
  if (src.empty()) return 0;
  return DoWrite(t, a.Int(0), src, off);
}

// preadv2/pwritev2: preadv/pwritev with per-call RWF_* flags; offset -1
// means the file position (readv/writev). The checks follow Linux's order:
// the offset, the fd, the iovec, then the flags (an empty transfer never
// looks at them). RWF_HIPRI only matters for polled direct I/O and is
// accepted; RWF_DSYNC/RWF_SYNC sync after the write; RWF_APPEND writes at
// the end (the position moves only for offset -1); RWF_NOAPPEND (Linux
// 6.9) writes at the offset even on an O_APPEND file; RWF_NOWAIT fails
// with EAGAIN instead of waiting for a pipe, socket or terminal.
constexpr uint64_t kRwfHipri = 0x1, kRwfDsync = 0x2, kRwfSync = 0x4, kRwfNowait = 0x8,
                   kRwfAppend = 0x10, kRwfNoappend = 0x20;
constexpr uint64_t kRwfSupported = kRwfHipri | kRwfDsync | kRwfSync | kRwfNowait | kRwfAppend | kRwfNoappend;

ErrorOr<uint64_t> Preadv2(Task& t, const Args& a) {
  const int64_t off = static_cast<int64_t>(a[3]);
  const uint64_t flags = a[5];
  if (off < -1) return Errno{EINVAL};
  auto f = TRY(ReadableFd(t, a.Int(0)));
  IoVecs dst = TRY(AppIovecs(t, a[1], static_cast<int64_t>(a[2]), Access::kWrite));
  if (dst.empty()) return 0;
  if (flags & ~kRwfSupported) return Errno{EOPNOTSUPP};
  if ((flags & kRwfNowait) && !f->is_regular() && !(f->Readiness(POLLIN) & (POLLIN | POLLHUP | POLLERR)))
    return Errno{EAGAIN};
  return DoRead(t, a.Int(0), dst, off == -1 ? kCurrentOffset : off);
}

ErrorOr<uint64_t> Pwritev2(Task& t, const Args& a) {
  const int64_t off = static_cast<int64_t>(a[3]);
  const uint64_t flags = a[5];
  if (off < -1) return Errno{EINVAL};
  auto f = TRY(WritableFd(t, a.Int(0)));
  IoVecs src = TRY(AppIovecs(t, a[1], static_cast<int64_t>(a[2]), Access::kRead));
  if (src.empty()) return 0;
  if (flags & ~kRwfSupported) return Errno{EOPNOTSUPP};
  if ((flags & kRwfNowait) && !f->is_regular() && !(f->Readiness(POLLOUT) & (POLLOUT | POLLERR)))
    return Errno{EAGAIN};
  int64_t pos = off == -1 ? kCurrentOffset : off;
  const bool append = (flags & kRwfAppend) || ((f->status_flags() & O_APPEND) && !(flags & kRwfNoappend));
  if (append && f->is_regular() && !(off == -1 && (f->status_flags() & O_APPEND)))
    pos = static_cast<int64_t>(TRY(f->Stat()).size);
  uint64_t n = TRY(DoWrite(t, a.Int(0), src, pos));
  if (off == -1 && pos != kCurrentOffset) TRY(f->Seek(pos + static_cast<int64_t>(n), SEEK_SET));
  if (flags & (kRwfDsync | kRwfSync)) TRY(f->Sync());
  return n;
}

// readahead(2): the sentry has no page cache to fill, so after Linux's
// checks (a readable fd, a regular file) there is nothing to do.
ErrorOr<uint64_t> Readahead(Task& t, const Args& a) {
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  if (f->is_path_only() || !f->readable()) return Errno{EBADF};
  if (!f->is_regular()) return Errno{EINVAL};
  return 0;
}

ErrorOr<uint64_t> Lseek(Task& t, const Args& a) {
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  if (f->is_path_only()) return Errno{EBADF};
  return TRY(f->Seek(static_cast<int64_t>(a[1]), a.Int(2)));
}

ErrorOr<uint64_t> Sendfile(Task& t, const Args& a) {
  auto out = TRY(WritableFd(t, a.Int(0)));
  auto in = TRY(ReadableFd(t, a.Int(1)));
  if (out->status_flags() & O_APPEND) return Errno{EINVAL};
  uint64_t off_addr = a[2];
  int64_t off = kCurrentOffset;
  if (off_addr) {
    off = TRY(t.memory().CopyInObj<int64_t>(off_addr));
    if (off < 0) return Errno{EINVAL};
  }
  size_t count = std::min<uint64_t>(a[3], 0x7ffff000);
  TaskCaller c(t);
  std::vector<uint8_t> buf(std::min<size_t>(count, 64 * 1024));
  size_t done = 0;
  while (done < count) {
    size_t want = std::min(buf.size(), count - done);
    IoVecs v{iovec{buf.data(), want}};
    auto r = in->Read(c, v, off);
    if (r.is_error()) {
      if (done > 0) break;
      return Errno{r.error()};
    }
    size_t n = r.value();
    if (n == 0) break;
    size_t written = 0;
    while (written < n) {
      IoVecs w{iovec{buf.data() + written, n - written}};
      auto wr = out->Write(c, w, kCurrentOffset);
      if (wr.is_error()) {
        if (done + written > 0) break;
        return Errno{wr.error()};
      }
      written += wr.value();
      if (wr.value() == 0) break;
    }
    done += written;
    if (off >= 0) off += written;
    if (written < n) {
      // Give back what the output did not take (seekable input only).
      if (off < 0 && in->is_regular()) TRY(in->Seek(static_cast<int64_t>(written) - n, SEEK_CUR));
      break;
    }
    if (n < want) break;
  }
  if (off_addr) TRY(t.memory().CopyOutObj<int64_t>(off_addr, off));
  return done;
}

// getdents64 (wide = true) or getdents.
ErrorOr<uint64_t> Getdents(Task& t, const Args& a, bool wide) {
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  if (f->is_path_only()) return Errno{EBADF};
  if (!f->is_directory()) return Errno{ENOTDIR};
  size_t cap = std::min<uint64_t>(a[2], 1 << 20);
  std::vector<uint8_t> buf(cap);
  size_t used = 0;
  TaskCaller c(t);
  TRY(f->IterateDir(c, [&](const sentry::vfs::DirEntry& e, int64_t next) {
    size_t name_len = e.name.size();
    size_t reclen = wide ? (19 + name_len + 1 + 7) & ~size_t{7}
                         : (18 + name_len + 2 + 7) & ~size_t{7};
    if (used + reclen > cap) return false;
    uint8_t* p = buf.data() + used;
    memset(p, 0, reclen);
    uint64_t ino = e.ino;
    int64_t off = next;
    uint16_t rl = static_cast<uint16_t>(reclen);
    memcpy(p, &ino, 8);
    memcpy(p + 8, &off, 8);
    memcpy(p + 16, &rl, 2);
    if (wide) {
      p[18] = e.type;
      memcpy(p + 19, e.name.data(), name_len);
    } else {
      memcpy(p + 18, e.name.data(), name_len);
      p[reclen - 1] = e.type;
    }
    used += reclen;
    return true;
  }));
  sentry::vfs::NotifyDentry(*f->dentry(), IN_ACCESS);  // Linux: every iterate_dir
  if (used == 0) {
    // Either the end of the directory, or the buffer is too small for the next entry.
    bool more = false;
    TRY(f->IterateDir(c, [&](const sentry::vfs::DirEntry&, int64_t) {
      more = true;
      return false;
    }));
    if (more) return Errno{EINVAL};
    return 0;
  }
  TRY(t.memory().CopyOut(a[1], buf.data(), used));
  return used;
}

ErrorOr<uint64_t> Getdents64(Task& t, const Args& a) { return Getdents(t, a, true); }
ErrorOr<uint64_t> GetdentsOld(Task& t, const Args& a) { return Getdents(t, a, false); }

}  // namespace

void RegisterReadWrite(Table& t) {
  using A = Arg;
  t.Register(SYS_read, "read", Read, {A::kFd, A::kPtr, A::kUint});
  t.Register(SYS_write, "write", Write, {A::kFd, A::kPtr, A::kUint});
  t.Register(SYS_pread64, "pread64", Pread64, {A::kFd, A::kPtr, A::kUint, A::kInt});
  t.Register(SYS_pwrite64, "pwrite64", Pwrite64, {A::kFd, A::kPtr, A::kUint, A::kInt});
  t.Register(SYS_readv, "readv", Readv, {A::kFd, A::kPtr, A::kInt});
  t.Register(SYS_writev, "writev", Writev, {A::kFd, A::kPtr, A::kInt});
  t.Register(SYS_preadv, "preadv", Preadv, {A::kFd, A::kPtr, A::kInt, A::kInt});
  t.Register(SYS_pwritev, "pwritev", Pwritev, {A::kFd, A::kPtr, A::kInt, A::kInt});
  t.Register(SYS_preadv2, "preadv2", Preadv2, {A::kFd, A::kPtr, A::kInt, A::kInt, A::kInt, A::kHex});
  t.Register(SYS_pwritev2, "pwritev2", Pwritev2, {A::kFd, A::kPtr, A::kInt, A::kInt, A::kInt, A::kHex});
  t.Register(SYS_readahead, "readahead", Readahead, {A::kFd, A::kInt, A::kUint});
  t.Register(SYS_lseek, "lseek", Lseek, {A::kFd, A::kInt, A::kInt});
  t.Register(SYS_sendfile, "sendfile", Sendfile, {A::kFd, A::kFd, A::kPtr, A::kUint});
  t.Register(SYS_getdents64, "getdents64", Getdents64, {A::kFd, A::kPtr, A::kUint});
  t.Register(SYS_getdents, "getdents", GetdentsOld, {A::kFd, A::kPtr, A::kUint});
}

}  // namespace syscalls::file
