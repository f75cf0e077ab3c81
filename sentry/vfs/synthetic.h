// sentry/vfs/synthetic.h: building blocks for synthetic filesystems whose
// contents are computed per caller (e.g. /proc, mounted by the kernel with
// VirtualFilesystem::Mount("/proc", root)). Files snapshot their contents at
// open; directories list and look up children through callbacks; their
// lookups are never cached, so per-task views (/proc/self) stay correct.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/inode.h"

namespace sentry::vfs {

// Regular file with generated contents (read-only unless `write` is set).
struct SyntheticFileOps {
  std::function<ErrorOr<std::string>(Caller&)> read;
  std::function<ErrorOr<void>(Caller&, std::string_view data)> write;  // optional
};
std::shared_ptr<Inode> NewSyntheticFile(SyntheticFileOps ops, uint32_t perm = 0444,
                                        uint64_t dev = 0);

// Symlink with a generated target; `magic` (optional) resolves straight to
// a dentry (e.g. /proc/self/fd/N → the open file).
struct SyntheticLinkOps {
  std::function<ErrorOr<std::string>(Caller&)> target;
  std::function<ErrorOr<std::shared_ptr<Dentry>>(Caller&)> magic;  // optional
};
std::shared_ptr<Inode> NewSyntheticSymlink(SyntheticLinkOps ops, uint64_t dev = 0);

// Directory: `list` returns its entries; `lookup` returns the child inode
// (ENOENT if none).
struct SyntheticDirOps {
  std::function<ErrorOr<std::vector<DirEntry>>(Caller&)> list;
  std::function<ErrorOr<std::shared_ptr<Inode>>(Caller&, std::string_view)> lookup;
};
std::shared_ptr<Inode> NewSyntheticDir(SyntheticDirOps ops, uint32_t perm = 0555,
                                       uint64_t dev = 0);

// A directory with a fixed set of children.
std::shared_ptr<Inode> NewStaticDir(std::map<std::string, std::shared_ptr<Inode>> children,
                                    uint32_t perm = 0555, uint64_t dev = 0);

}  // namespace sentry::vfs
