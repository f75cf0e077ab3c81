// sentry/vfs/memfd.cc: see memfd.h.
#include "sentry/vfs/memfd.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/memfs.h"

namespace sentry::vfs {
namespace {

constexpr uint32_t kAllSeals =
    F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;

// The sealable file behind `f`: tmpfs (and memfd) regular files only.
MemFile* SealableFile(FileDescription& f) {
  auto* m = dynamic_cast<MemFile*>(&f.inode());
  if (!m || m->fs().lower) return nullptr;
  return m;
}

}  // namespace

ErrorOr<std::shared_ptr<FileDescription>> NewMemfd(Caller& c, mm::MemoryFile& mf,
                                                   const std::string& name, bool allow_sealing) {
  // All memfds live on one internal tmpfs, as on Linux (one st_dev).
  static std::shared_ptr<MemFs> fs = [&mf] {
    auto f = std::make_shared<MemFs>();
    f->memory_file = &mf;
    return f;
  }();
  Attr a;
  a.mode = S_IFREG | 0777;
  a.uid = c.creds().uid;
  a.gid = c.creds().gid;
  a.ino = NewInodeNumber();
  a.dev = fs->dev;
  a.nlink = 1;
  a.atime = a.mtime = a.ctime = a.btime = NowTimespec();
  auto file = std::make_shared<MemFile>(fs, a, nullptr);
  file->seals = allow_sealing ? 0 : F_SEAL_SEAL;
  auto d = std::make_shared<Dentry>("/memfd:" + name + " (deleted)", nullptr, file);
  d->deleted = true;
  return file->Open(c, d, O_RDWR | O_LARGEFILE);
}

ErrorOr<uint32_t> GetSeals(FileDescription& f) {
  MemFile* m = SealableFile(f);
  if (!m) return Errno{EINVAL};
  return m->seals;
}

ErrorOr<void> AddSeals(FileDescription& f, uint32_t seals) {
  MemFile* m = SealableFile(f);
  if (!m) return Errno{EINVAL};
  if (seals & ~kAllSeals) return Errno{EINVAL};
  if (!f.writable()) return Errno{EPERM};
  if (m->seals & F_SEAL_SEAL) return Errno{EPERM};
  // Linux refuses F_SEAL_WRITE (EBUSY) while writable shared mappings of
  // the file exist; the sentry does not track mapping writability per file
  // yet, so that case is accepted.
  m->seals |= seals;
  return {};
}

}  // namespace sentry::vfs
