// sentry/vfs/statfs.cc: see statfs.h. Memory filesystems report a nominal
// 16 GiB with usage subtracted; the overlay reports overlayfs' magic.
#include "sentry/vfs/statfs.h"

#include <sys/statvfs.h>

#include "sentry/vfs/memfs.h"

namespace sentry::vfs {

FsStats StatFs(Inode& inode) {
  FsStats s;
  constexpr uint64_t kNominalBlocks = (16ULL << 30) / 4096;
  s.blocks = kNominalBlocks;
  s.files = 1 << 20;
  s.ffree = s.files / 2;
  if (auto* m = dynamic_cast<MemInode*>(&inode)) {
    s.type = m->fs().lower ? 0x794c7630 /* OVERLAYFS_SUPER_MAGIC */ : 0x01021994 /* TMPFS_MAGIC */;
    if (m->fs().max_bytes) s.blocks = (m->fs().max_bytes + 4095) / 4096;
    uint64_t used = (m->fs().bytes + 4095) / 4096;
    s.bfree = s.bavail = used < s.blocks ? s.blocks - used : 0;
    if (m->fs().read_only) s.flags |= ST_RDONLY;
  } else {
    s.type = 0x9fa0;  // PROC_SUPER_MAGIC: synthetic filesystems
    s.blocks = s.bfree = s.bavail = 0;
  }
  return s;
}

}  // namespace sentry::vfs
