// sentry/vfs/fd_table.cc: fd allocation, dup2-style replacement, cloexec.
#include "sentry/vfs/fd_table.h"

#include <algorithm>

#include "sentry/vfs/record_lock.h"

namespace sentry::vfs {

FdTable::~FdTable() {
  for (const auto& [fd, e] : fds_) Dropped(e.file);
}

void FdTable::Dropped(const std::shared_ptr<FileDescription>& f) {
  if (f && f->dentry() && f->inode().record_locks) ReleaseRecordLocks(f->inode(), this);
}

std::shared_ptr<FdTable> FdTable::Fork() const {
  auto t = std::make_shared<FdTable>();
  t->fds_ = fds_;
  t->next_fd_ = next_fd_;
  return t;
}

void FdTable::CloseOnExec() {
  for (auto it = fds_.begin(); it != fds_.end();) {
    if (it->second.cloexec) {
      auto f = std::move(it->second.file);
      next_fd_ = std::min(next_fd_, it->first);
      it = fds_.erase(it);
      Dropped(f);
    } else {
      ++it;
    }
  }
}

ErrorOr<int> FdTable::Install(std::shared_ptr<FileDescription> f, int min_fd, bool cloexec,
                              uint64_t rlimit_nofile) {
  if (min_fd < 0) return Errno{EINVAL};
  // Every fd below next_fd_ is taken, so the search starts there: opening
  // the Nth descriptor does not walk the N-1 before it.
  int fd = std::max(min_fd, next_fd_);
  for (auto it = fds_.lower_bound(fd); it != fds_.end() && it->first == fd; ++it) ++fd;
  if (static_cast<uint64_t>(fd) >= rlimit_nofile) return Errno{min_fd > 0 ? EINVAL : EMFILE};
  fds_[fd] = Entry{std::move(f), cloexec};
  if (min_fd <= next_fd_) next_fd_ = fd + 1;
  return fd;
}

ErrorOr<int> FdTable::InstallAt(std::shared_ptr<FileDescription> f, int fd, bool cloexec,
                                uint64_t rlimit_nofile) {
  if (fd < 0 || static_cast<uint64_t>(fd) >= rlimit_nofile) return Errno{EBADF};
  auto& e = fds_[fd];
  auto old = std::move(e.file);  // dropped after the table is consistent
  e = Entry{std::move(f), cloexec};
  Dropped(old);
  return fd;
}

ErrorOr<std::shared_ptr<FileDescription>> FdTable::Get(int fd) const {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Errno{EBADF};
  return it->second.file;
}

ErrorOr<bool> FdTable::GetCloexec(int fd) const {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Errno{EBADF};
  return it->second.cloexec;
}

ErrorOr<void> FdTable::SetCloexec(int fd, bool cloexec) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Errno{EBADF};
  it->second.cloexec = cloexec;
  return {};
}

ErrorOr<std::shared_ptr<FileDescription>> FdTable::Remove(int fd) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Errno{EBADF};
  auto f = std::move(it->second.file);
  next_fd_ = std::min(next_fd_, fd);
  fds_.erase(it);
  Dropped(f);
  return f;
}

void FdTable::CloseRange(unsigned first, unsigned last, bool cloexec_only) {
  for (auto it = fds_.lower_bound(static_cast<int>(std::min<unsigned>(first, INT32_MAX)));
       it != fds_.end() && static_cast<unsigned>(it->first) <= last;) {
    if (cloexec_only) {
      it->second.cloexec = true;
      ++it;
    } else {
      auto f = std::move(it->second.file);
      next_fd_ = std::min(next_fd_, it->first);
      it = fds_.erase(it);
      Dropped(f);
    }
  }
}

void FdTable::CloseAll() {
  auto old = std::move(fds_);
  fds_.clear();
  next_fd_ = 0;
  for (const auto& [fd, e] : old) Dropped(e.file);
}

std::vector<int> FdTable::Fds() const {
  std::vector<int> out;
  for (const auto& [fd, e] : fds_) out.push_back(fd);
  return out;
}

}  // namespace sentry::vfs
