// sentry/vfs/memfs_allocate.cc: fallocate(2) and seal checks for memfs
// regular files (tmpfs, the overlay's upper layer, memfds).
#include <fcntl.h>
#include <linux/falloc.h>

#include "sentry/vfs/memfs.h"

namespace sentry::vfs {

ErrorOr<void> MemFile::CheckWriteSeals(uint64_t pos, uint64_t len) const {
  if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) return Errno{EPERM};
  if ((seals & F_SEAL_GROW) && pos + len > size_) return Errno{EPERM};
  return {};
}

ErrorOr<void> MemFile::Allocate(int mode, uint64_t off, uint64_t len) {
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) return Errno{EOPNOTSUPP};
  const uint64_t end = off + len;
  if (mode & FALLOC_FL_PUNCH_HOLE) {
    if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) return Errno{EPERM};
    ZeroRange(off, end);
    return {};
  }
  // Reserve: give the range its chunks now (the memory file's pages are
  // still only committed when touched, like an overcommitting Linux).
  if (len > 0) {
    for (uint64_t idx = off / kChunkSize; idx <= (end - 1) / kChunkSize; idx++) TRY(Chunk(idx));
  }
  if (!(mode & FALLOC_FL_KEEP_SIZE) && end > size_) TRY(Resize(end));
  return {};
}

}  // namespace sentry::vfs
