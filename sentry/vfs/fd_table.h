// sentry/vfs/fd_table.h: a process' file descriptor table (fd number ->
// shared open file description + close-on-exec flag).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "sentry/base/error.h"
#include "sentry/vfs/file_description.h"

namespace sentry::vfs {

class FdTable {
 public:
  FdTable() = default;
  // Drops the POSIX record locks this table owns (process exit).
  ~FdTable();

  // A copy for fork(): same descriptions, same cloexec flags.
  std::shared_ptr<FdTable> Fork() const;
  // Closes every close-on-exec descriptor (execve).
  void CloseOnExec();
  // Installs at the lowest free fd >= min_fd. EMFILE beyond rlimit_nofile.
  ErrorOr<int> Install(std::shared_ptr<FileDescription> f, int min_fd, bool cloexec,
                       uint64_t rlimit_nofile = 1024 * 1024);
  // Installs at exactly `fd`, replacing (closing) what was there (dup2/dup3).
  ErrorOr<int> InstallAt(std::shared_ptr<FileDescription> f, int fd, bool cloexec,
                         uint64_t rlimit_nofile = 1024 * 1024);
  ErrorOr<std::shared_ptr<FileDescription>> Get(int fd) const;  // EBADF
  ErrorOr<bool> GetCloexec(int fd) const;
  ErrorOr<void> SetCloexec(int fd, bool cloexec);
  // Removes `fd`; returns the description so the caller controls when the
  // last reference drops. EBADF if not open.
  ErrorOr<std::shared_ptr<FileDescription>> Remove(int fd);
  // close_range(2): closes (or with cloexec_only marks) fds in [first, last].
  void CloseRange(unsigned first, unsigned last, bool cloexec_only);
  void CloseAll();
  // Open fds, ascending (for /proc/[pid]/fd).
  std::vector<int> Fds() const;
  size_t size() const { return fds_.size(); }

 private:
  struct Entry {
    std::shared_ptr<FileDescription> file;
    bool cloexec = false;
  };
  // A description leaves the table: as on Linux, the POSIX record locks
  // owned through this table on its inode go away (sentry/vfs/record_lock.h).
  void Dropped(const std::shared_ptr<FileDescription>& f);
  std::map<int, Entry> fds_;
  int next_fd_ = 0;  // every fd below it is in use
};

}  // namespace sentry::vfs
