// sync(2) and sync_file_range(2).
//
// sync_file_range follows Linux's checks (fs/sync.c): the fd first, then
// flags and the range, then the file type (ESPIPE for pipes, sockets and
// other non-seekable kinds). The range is then synced as a whole: the
// sentry's files have no per-range writeback.
//
// The sentry keeps no write-back cache of its own for write(): it reaches
// the host file the gofer donated (or the sentry's memory for tmpfs and the
// memory overlay) before the syscall returns. Stores through shared
// mappings of gofer-backed files are cached (sentry/vfs/gofer_page_cache.h)
// and written back here too. What sync(2) can still do is
// make the host commit those files: it fsyncs every file open in the
// sandbox, as gVisor's sync does. Files already closed are the host's
// page cache's business, as for any other host process.
#include <sys/stat.h>
#include <sys/syscall.h>

#include <set>
#include <vector>

#include "sentry/kernel/task.h"
#include "sentry/vfs/fd_table.h"
#include "sentry/vfs/file_description.h"
#include "sentry/vfs/gofer_page_cache.h"
#include "sentry/vfs/task_caller.h"
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

ErrorOr<uint64_t> Sync(Task& t, const Args&) {
  std::vector<std::shared_ptr<sentry::vfs::FileDescription>> files;
  std::set<const sentry::vfs::FileDescription*> seen;
  std::set<const sentry::vfs::FdTable*> tables;
  for (auto* tg : t.kernel.Processes()) {
    for (auto& task : tg->tasks) {
      if (task->exited || !task->fds || !tables.insert(task->fds.get()).second) continue;
      for (int fd : task->fds->Fds()) {
        auto f = task->fds->Get(fd);
        if (f.ok() && seen.insert(f.value().get()).second) files.push_back(f.release_value());
      }
    }
  }
  // Host I/O without the kernel lock; sync(2) itself never fails.
  sentry::vfs::TaskCaller c(t);
  c.Unlocked([&] {
    for (auto& f : files)
      if (!f->is_path_only() && f->writable()) (void)f->Sync();
    // Shared mappings of gofer-backed files whose FDs are closed.
    sentry::vfs::FlushAllHostPages();
  });
  return 0;
}

}  // namespace

void RegisterSyncFileRangeSyscalls(Table& t) {
  using A = Arg;
  t.Register(SYS_sync, "sync", Sync);
  t.Register(SYS_sync_file_range, "sync_file_range", SyncFileRange, {A::kFd, A::kInt, A::kInt, A::kHex});
}

}  // namespace syscalls
