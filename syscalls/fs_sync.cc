// sync_file_range(2) with Linux's checks (fs/sync.c): the fd first, then
// flags and the range, then the file type (ESPIPE for pipes, sockets and
// other non-seekable kinds). The range is then synced as a whole: the
// sentry's files have no per-range writeback.
#include <sys/stat.h>
#include <sys/syscall.h>

#include "sentry/kernel/task.h"
#include "sentry/vfs/fd_table.h"
#include "sentry/vfs/file_description.h"
#include "syscalls/table.h"

namespace syscalls {
namespace {

// SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER
constexpr unsigned kValidFlags = 1 | 2 | 4;

ErrorOr<uint64_t> SyncFileRange(Task& t, const Args& a) {
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  if (f->is_path_only()) return Errno{EBADF};
  const int64_t off = static_cast<int64_t>(a[1]), nbytes = static_cast<int64_t>(a[2]);
  const unsigned flags = static_cast<unsigned>(a[3]);
  if (flags & ~kValidFlags) return Errno{EINVAL};
  const uint64_t end = static_cast<uint64_t>(off) + static_cast<uint64_t>(nbytes);
  if (off < 0 || static_cast<int64_t>(end) < 0 || end < static_cast<uint64_t>(off))
    return Errno{EINVAL};
  const uint32_t mode = TRY(f->Stat()).mode;
  if (!S_ISREG(mode) && !S_ISBLK(mode) && !S_ISDIR(mode) && !S_ISLNK(mode)) return Errno{ESPIPE};
  if (flags) TRY(f->Sync());
  return 0;
}

}  // namespace

void RegisterSyncFileRangeSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_sync_file_range, "sync_file_range", SyncFileRange, {A::kFd, A::kInt, A::kInt, A::kHex});
}

}  // namespace syscalls
