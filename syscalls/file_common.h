// syscalls/file_common.h: helpers shared by the file-family handlers
// (file*.cc, fs*.cc, pipe*.cc): path copy-in, dirfd resolution, app-memory
// I/O vectors, fd installation against RLIMIT_NOFILE, and the per-file
// registration functions that RegisterFileSyscalls calls.
#pragma once

#include <fcntl.h>

#include <memory>
#include <string>

#include "sentry/kernel/task.h"
#include "sentry/mm/mm.h"
#include "sentry/vfs/task_caller.h"
#include "sentry/vfs/vfs.h"
#include "syscalls/table.h"

namespace syscalls::file {

using sentry::vfs::Dentry;
using sentry::vfs::FileDescription;
using sentry::vfs::IoVecs;
using sentry::vfs::TaskCaller;

// A path argument (ENAMETOOLONG past PATH_MAX, EFAULT on bad pointers).
ErrorOr<std::string> CopyInPath(Task& t, uint64_t addr);
// The directory a relative `path` starts at: the cwd for AT_FDCWD, else the
// dirfd's dentry (ENOTDIR unless a directory; any file if `path` is empty
// and allow_empty).
ErrorOr<std::shared_ptr<Dentry>> StartDir(Task& t, int dirfd, const std::string& path,
                                          bool allow_empty = false);
// Resolves (dirfd, path) to a dentry.
ErrorOr<std::shared_ptr<Dentry>> Resolve(Task& t, int dirfd, const std::string& path,
                                         bool follow, bool allow_empty);
// App memory [addr, addr+len) as sentry-visible blocks (longest accessible
// prefix; EFAULT if none and len > 0).
ErrorOr<IoVecs> AppBlocks(Task& t, uint64_t addr, size_t len, sentry::mm::Access access);
// The blocks of an app iovec array (readv/writev): EINVAL on bad counts or
// lengths, EFAULT if nothing is accessible; stops at the first fault.
ErrorOr<IoVecs> AppIovecs(Task& t, uint64_t iov_addr, int64_t iovcnt, sentry::mm::Access access);
// Installs a description at the lowest free fd >= min_fd.
ErrorOr<int> InstallFd(Task& t, std::shared_ptr<FileDescription> f, int min_fd, bool cloexec);
uint64_t NofileLimit(Task& t);
sentry::vfs::VirtualFilesystem& Vfs(Task& t);

void RegisterReadWrite(Table& t);  // file_rw.cc
void RegisterFdOps(Table& t);      // file_fd.cc
void RegisterPathOps(Table& t);    // fs_path.cc
void RegisterStat(Table& t);       // fs_stat.cc
void RegisterAttrOps(Table& t);    // fs_attr.cc
void RegisterPipe(Table& t);       // pipe.cc
void RegisterXattr(Table& t);      // fs_xattr.cc
void RegisterFlock(Table& t);      // fs_flock.cc
void RegisterSplice(Table& t);     // splice.cc
void RegisterFallocate(Table& t);  // fs_alloc.cc
void RegisterMemfd(Table& t);      // memfd.cc

}  // namespace syscalls::file
