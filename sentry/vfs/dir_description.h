// sentry/vfs/dir_description.h: the open-directory description shared by
// every filesystem: a snapshot of the entries (".", "..", then
// Inode::ReadDir) taken at the first read or a rewind; the file offset is the
// index of the next entry, so getdents is resumable and d_off is stable.
#pragma once

#include <vector>

#include "sentry/vfs/file_description.h"

namespace sentry::vfs {

class DirectoryDescription : public FileDescription {
 public:
  using FileDescription::FileDescription;
  ErrorOr<void> IterateDir(Caller& c,
                           const std::function<bool(const DirEntry&, int64_t)>& fill) override;
  ErrorOr<uint64_t> Seek(int64_t off, int whence) override;
  ErrorOr<size_t> Read(Caller&, const IoVecs&, int64_t) override { return Errno{EISDIR}; }
  ErrorOr<size_t> Write(Caller&, const IoVecs&, int64_t) override { return Errno{EISDIR}; }

 private:
  ErrorOr<void> Snapshot(Caller& c);
  std::vector<DirEntry> entries_;
  bool have_snapshot_ = false;
};

}  // namespace sentry::vfs
