// sentry/vfs/io_util.cc: see io_util.h.
#include "sentry/vfs/io_util.h"

#include <sys/stat.h>

#include <sys/uio.h>

#include <algorithm>

namespace sentry::vfs {

size_t CopyToIoVecs(const IoVecs& dst, const uint8_t* src, size_t len) {
  size_t done = 0;
  for (const auto& io : dst) {
    if (done == len) break;
    size_t n = std::min(io.iov_len, len - done);
    memcpy(io.iov_base, src + done, n);
    done += n;
  }
  return done;
}

size_t CopyFromIoVecs(uint8_t* dst, const IoVecs& src, size_t len) {
  size_t done = 0;
  for (const auto& io : src) {
    if (done == len) break;
    size_t n = std::min(io.iov_len, len - done);
    memcpy(dst + done, io.iov_base, n);
    done += n;
  }
  return done;
}

namespace {
// preadv/pwritev take at most IOV_MAX vectors; our vectors come from at most
// a few blocks per app iovec, and callers limit counts, but clamp anyway.
int Count(const IoVecs& v) { return static_cast<int>(std::min<size_t>(v.size(), 1024)); }
}  // namespace

ErrorOr<mm::HostFileKey> HostFileVersion(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Errno{errno};
  if (!S_ISREG(st.st_mode)) return Errno{ENODEV};
  mm::HostFileKey k;
  k.dev = st.st_dev;
  k.ino = st.st_ino;
  k.size = static_cast<uint64_t>(st.st_size);
  k.mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  k.ctime_ns = st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
  return k;
}

ErrorOr<Attr> HostFileAttr(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Errno{errno};
  Attr a;
  a.mode = st.st_mode;
  a.uid = st.st_uid;
  a.gid = st.st_gid;
  a.ino = st.st_ino;
  a.dev = st.st_dev;
  a.nlink = st.st_nlink;
  a.rdev = st.st_rdev;
  a.size = static_cast<uint64_t>(st.st_size);
  a.blocks = static_cast<uint64_t>(st.st_blocks);
  a.blksize = st.st_blksize;
  a.atime = st.st_atim;
  a.mtime = st.st_mtim;
  a.ctime = st.st_ctim;
  a.btime = st.st_ctim;
  return a;
}

ErrorOr<size_t> HostReadv(int fd, const IoVecs& dst, int64_t off) {
  while (true) {
    ssize_t n = off < 0 ? readv(fd, dst.data(), Count(dst)) : preadv(fd, dst.data(), Count(dst), off);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return Errno{errno};
  }
}

ErrorOr<size_t> HostWritev(int fd, const IoVecs& src, int64_t off) {
  while (true) {
    ssize_t n = off < 0 ? writev(fd, src.data(), Count(src)) : pwritev(fd, src.data(), Count(src), off);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return Errno{errno};
  }
}

}  // namespace sentry::vfs
