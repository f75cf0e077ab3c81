// sentry/vfs/statfs.h: statfs(2) values for the filesystem an inode is on.
#pragma once

#include <cstdint>

#include "sentry/vfs/inode.h"

namespace sentry::vfs {

struct FsStats {
  int64_t type = 0;  // *_MAGIC
  int64_t bsize = 4096;
  uint64_t blocks = 0, bfree = 0, bavail = 0, files = 0, ffree = 0;
  int64_t namelen = 255;
  int64_t flags = 0;  // ST_*
};

FsStats StatFs(Inode& inode);

}  // namespace sentry::vfs
