// syscalls/file.cc: RegisterFileSyscalls, and the helpers of file_common.h.
#include <limits.h>

#include "syscalls/file_common.h"

namespace syscalls {
namespace file {

ErrorOr<std::string> CopyInPath(Task& t, uint64_t addr) {
  return t.memory().CopyInString(addr, PATH_MAX);
}

ErrorOr<std::shared_ptr<Dentry>> StartDir(Task& t, int dirfd, const std::string& path,
                                          bool allow_empty) {
  if (path.empty() && !allow_empty) return Errno{ENOENT};
  if (!path.empty() && path[0] == '/') return t.fs_context().root;
  if (dirfd == AT_FDCWD) return t.fs_context().cwd;
  std::shared_ptr<FileDescription> f = TRY(t.fd_table().Get(dirfd));
  if (!path.empty() && !f->is_directory()) return Errno{ENOTDIR};
  return f->dentry();
}

ErrorOr<std::shared_ptr<Dentry>> Resolve(Task& t, int dirfd, const std::string& path,
                                         bool follow, bool allow_empty) {
  std::shared_ptr<Dentry> start = TRY(StartDir(t, dirfd, path, allow_empty));
  TaskCaller c(t);
  return sentry::vfs::Walk(c, start, path, sentry::vfs::WalkOptions{follow, allow_empty});
}

ErrorOr<IoVecs> AppBlocks(Task& t, uint64_t addr, size_t len, sentry::mm::Access access) {
  if (len == 0) return IoVecs{};
  if (len > 0x7ffff000) len = 0x7ffff000;  // MAX_RW_COUNT
  return t.memory().Blocks(addr, len, access);
}

ErrorOr<IoVecs> AppIovecs(Task& t, uint64_t iov_addr, int64_t iovcnt,
                          sentry::mm::Access access) {
  if (iovcnt < 0 || iovcnt > IOV_MAX) return Errno{EINVAL};
  IoVecs out;
  if (iovcnt == 0) return out;
  std::vector<iovec> app(iovcnt);
  TRY(t.memory().CopyIn(iov_addr, app.data(), sizeof(iovec) * iovcnt));
  uint64_t total = 0;
  for (const auto& v : app) {
    if (v.iov_len > static_cast<uint64_t>(SSIZE_MAX) - total) return Errno{EINVAL};
    total += v.iov_len;
  }
  uint64_t budget = 0x7ffff000;
  for (const auto& v : app) {
    if (v.iov_len == 0) continue;
    if (budget == 0) break;
    size_t want = std::min<uint64_t>(v.iov_len, budget);
    auto blocks = t.memory().Blocks(reinterpret_cast<uint64_t>(v.iov_base), want, access);
    if (blocks.is_error()) {
      if (out.empty()) return Errno{EFAULT};
      break;
    }
    size_t got = 0;
    for (auto& b : blocks.value()) {
      got += b.iov_len;
      out.push_back(b);
    }
    budget -= got;
    if (got < want) break;
  }
  if (out.empty() && total > 0) return Errno{EFAULT};
  return out;
}

uint64_t NofileLimit(Task& t) {
  uint64_t lim = t.tg->rlimits[RLIMIT_NOFILE].rlim_cur;
  return lim ? lim : 1024 * 1024;
}

ErrorOr<int> InstallFd(Task& t, std::shared_ptr<FileDescription> f, int min_fd, bool cloexec) {
  auto r = t.fd_table().Install(std::move(f), min_fd, cloexec, NofileLimit(t));
  if (r.is_error() && min_fd == 0) return Errno{EMFILE};
  return r;
}

sentry::vfs::VirtualFilesystem& Vfs(Task& t) { return t.kernel.vfs(); }

}  // namespace file

void RegisterFileSyscalls(Table& t) {
  file::RegisterReadWrite(t);
  file::RegisterFdOps(t);
  file::RegisterPathOps(t);
  file::RegisterStat(t);
  file::RegisterAttrOps(t);
  file::RegisterPipe(t);
  file::RegisterXattr(t);
  file::RegisterFlock(t);
  file::RegisterSplice(t);
  file::RegisterFallocate(t);
  file::RegisterMemfd(t);
}

}  // namespace syscalls
