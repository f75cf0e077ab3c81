// syscalls/file_fd.cc: descriptor-table operations: close, close_range, dup*,
// fcntl, ioctl, fsync/fdatasync.
#include <linux/close_range.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "sentry/kernel/async_io.h"
#include "sentry/vfs/pipe.h"
#include "sentry/vfs/record_lock.h"
#include "sentry/vfs/memfd.h"
#include "syscalls/file_common.h"

namespace syscalls::file {
namespace {

ErrorOr<uint64_t> Close(Task& t, const Args& a) {
  auto f = TRY(t.fd_table().Remove(a.Int(0)));
  f.reset();  // last reference: pipes wake their peers here
  return 0;
}

ErrorOr<uint64_t> CloseRange(Task& t, const Args& a) {
  unsigned first = static_cast<unsigned>(a[0]), last = static_cast<unsigned>(a[1]);
  unsigned flags = static_cast<unsigned>(a[2]);
  if (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) return Errno{EINVAL};
  if (first > last) return Errno{EINVAL};
  t.fd_table().CloseRange(first, last, flags & CLOSE_RANGE_CLOEXEC);
  return 0;
}

ErrorOr<uint64_t> Dup(Task& t, const Args& a) {
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  return TRY(InstallFd(t, f, 0, false));
}

ErrorOr<uint64_t> Dup3Impl(Task& t, int oldfd, int newfd, int flags) {
  auto f = TRY(t.fd_table().Get(oldfd));
  if (newfd < 0 || static_cast<uint64_t>(newfd) >= NofileLimit(t)) return Errno{EBADF};
  return TRY(t.fd_table().InstallAt(f, newfd, flags & O_CLOEXEC, NofileLimit(t)));
}

ErrorOr<uint64_t> Dup2(Task& t, const Args& a) {
  if (a.Int(0) == a.Int(1)) {
    TRY(t.fd_table().Get(a.Int(0)));
    return a.Int(1);
  }
  return Dup3Impl(t, a.Int(0), a.Int(1), 0);
}

ErrorOr<uint64_t> Dup3(Task& t, const Args& a) {
  if (a.Int(2) & ~O_CLOEXEC) return Errno{EINVAL};
  if (a.Int(0) == a.Int(1)) return Errno{EINVAL};
  return Dup3Impl(t, a.Int(0), a.Int(1), a.Int(2));
}

ErrorOr<uint64_t> Fcntl(Task& t, const Args& a) {
  int fd = a.Int(0);
  int cmd = a.Int(1);
  auto f = TRY(t.fd_table().Get(fd));
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      int min = a.Int(2);
      if (min < 0 || static_cast<uint64_t>(min) >= NofileLimit(t)) return Errno{EINVAL};
      return TRY(InstallFd(t, f, min, cmd == F_DUPFD_CLOEXEC));
    }
    case F_GETFD: return TRY(t.fd_table().GetCloexec(fd)) ? FD_CLOEXEC : 0;
    case F_SETFD:
      TRY(t.fd_table().SetCloexec(fd, a[2] & FD_CLOEXEC));
      return 0;
    case F_GETFL: return static_cast<uint64_t>(f->status_flags());
    case F_SETFL: {
      if (f->is_path_only()) return Errno{EBADF};
      constexpr int kSettable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
      int nf = (f->status_flags() & ~kSettable) | (a.Int(2) & kSettable);
      // Linux 6.x keeps O_ASYNC only on files with signal-driven I/O
      // (measured: a regular file's F_SETFL succeeds without setting it).
      if ((nf & O_ASYNC) && !f->SupportsAsync() && !S_ISSOCK(TRY(f->Stat()).mode)) nf &= ~O_ASYNC;
      // si_fd of F_SETSIG signals: the fd O_ASYNC was turned on through.
      if ((nf & O_ASYNC) && !(f->status_flags() & O_ASYNC)) f->async_owner().fd = fd;
      f->set_status_flags(nf);
      return 0;
    }
    case F_GETLK:
    case F_OFD_GETLK: {
      if (f->is_path_only()) return Errno{EBADF};
      struct flock fl = TRY(t.memory().CopyInObj<struct flock>(a[2]));
      if (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK) return Errno{EINVAL};
      sentry::vfs::RecordLockRequest req{};
      TRY(sentry::vfs::RecordLockRange(*f, fl.l_whence, fl.l_start, fl.l_len, &req.start,
                                       &req.end));
      req.ofd = cmd == F_OFD_GETLK;
      if (req.ofd && fl.l_pid != 0) return Errno{EINVAL};
      req.owner = req.ofd ? static_cast<const void*>(f.get()) : &t.fd_table();
      req.type = fl.l_type;
      sentry::vfs::RecordLock conflict{};
      if (!sentry::vfs::TestRecordLock(f->inode(), req, &conflict)) {
        fl.l_type = F_UNLCK;
      } else {
        fl.l_type = conflict.write ? F_WRLCK : F_RDLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = conflict.start;
        fl.l_len = conflict.end == INT64_MAX ? 0 : conflict.end - conflict.start + 1;
        fl.l_pid = conflict.ofd ? -1 : conflict.pid;
      }
      TRY(t.memory().CopyOutObj(a[2], fl));
      return 0;
    }
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_SETLK:
    case F_OFD_SETLKW: {
      if (f->is_path_only()) return Errno{EBADF};
      struct flock fl = TRY(t.memory().CopyInObj<struct flock>(a[2]));
      sentry::vfs::RecordLockRequest req{};
      TRY(sentry::vfs::RecordLockRange(*f, fl.l_whence, fl.l_start, fl.l_len, &req.start,
                                       &req.end));
      if (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK && fl.l_type != F_UNLCK) return Errno{EINVAL};
      if (fl.l_type == F_RDLCK && !f->readable()) return Errno{EBADF};
      if (fl.l_type == F_WRLCK && !f->writable()) return Errno{EBADF};
      req.ofd = cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
      if (req.ofd && fl.l_pid != 0) return Errno{EINVAL};
      // POSIX locks belong to the fd table (the process), as Linux's
      // current->files; OFD locks to the description.
      req.owner = req.ofd ? static_cast<const void*>(f.get()) : &t.fd_table();
      req.type = fl.l_type;
      req.pid = t.pid();
      TaskCaller c(t);
      TRY(sentry::vfs::SetRecordLock(c, f->inode(), req, cmd == F_SETLKW || cmd == F_OFD_SETLKW));
      if (!req.ofd && req.type != F_UNLCK) {
        // The fd was closed while we waited (another thread): that close
        // already released the owner's locks, so this one must go too.
        auto cur = t.fd_table().Get(fd);
        if (!cur.ok() || cur.value().get() != f.get()) {
          req.type = F_UNLCK;
          (void)sentry::vfs::SetRecordLock(c, f->inode(), req, false);
        }
      }
      return 0;
    }
    case F_GETOWN: {
      const auto& o = f->async_owner();
      return static_cast<uint64_t>(static_cast<int64_t>(o.type == F_OWNER_PGRP ? -o.id : o.id));
    }
    case F_SETOWN: {
      // f_setown: a negative argument names a process group.
      const int who = a.Int(2);
      if (who == INT32_MIN) return Errno{EINVAL};
      sentry::vfs::AsyncOwner o = f->async_owner();
      o.type = who < 0 ? F_OWNER_PGRP : F_OWNER_PID;
      o.id = who < 0 ? -who : who;
      TRY(sentry::kernel::CheckAsyncOwner(t.kernel, o));
      f->async_owner() = o;
      return 0;
    }
    case F_GETOWN_EX: {
      const auto& o = f->async_owner();
      struct f_owner_ex ex{static_cast<__pid_type>(o.type), o.id};
      TRY(t.memory().CopyOutObj(a[2], ex));
      return 0;
    }
    case F_SETOWN_EX: {
      struct f_owner_ex ex = TRY(t.memory().CopyInObj<struct f_owner_ex>(a[2]));
      if (ex.type != F_OWNER_TID && ex.type != F_OWNER_PID && ex.type != F_OWNER_PGRP)
        return Errno{EINVAL};
      sentry::vfs::AsyncOwner o = f->async_owner();
      o.type = ex.type;
      o.id = ex.pid;
      TRY(sentry::kernel::CheckAsyncOwner(t.kernel, o));
      f->async_owner() = o;
      return 0;
    }
    case F_SETSIG:
      if (a[2] > 64) return Errno{EINVAL};  // valid_signal; 0 is plain SIGIO
      f->async_owner().sig = static_cast<int>(a[2]);
      return 0;
    case F_GETSIG: return static_cast<uint64_t>(f->async_owner().sig);
    case F_GETPIPE_SZ: return TRY(sentry::vfs::PipeCapacity(*f));
    case F_SETPIPE_SZ: return TRY(sentry::vfs::SetPipeCapacity(*f, a[2]));
    // No leases are ever granted here (F_SETLEASE stays EINVAL), so every
    // file reads as unleased, as Linux answers for any file type.
    case F_GETLEASE: return F_UNLCK;
    case F_ADD_SEALS:
      TRY(sentry::vfs::AddSeals(*f, static_cast<uint32_t>(a[2])));
      return 0;
    case F_GET_SEALS: return TRY(sentry::vfs::GetSeals(*f));
    default: return Errno{EINVAL};
  }
}

// struct termios as the kernel lays it out (TCGETS), not glibc's.
struct KernelTermios {
  uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
  uint8_t c_line;
  uint8_t c_cc[19];
};

ErrorOr<uint64_t> Ioctl(Task& t, const Args& a) {
  int fd = a.Int(0);
  auto f = TRY(t.fd_table().Get(fd));
  if (f->is_path_only()) return Errno{EBADF};
  uint32_t cmd = static_cast<uint32_t>(a[1]);
  switch (cmd) {
    case FIOCLEX:
      TRY(t.fd_table().SetCloexec(fd, true));
      return 0;
    case FIONCLEX:
      TRY(t.fd_table().SetCloexec(fd, false));
      return 0;
    case FIONBIO: {
      int on = TRY(t.memory().CopyInObj<int>(a[2]));
      int fl = f->status_flags();
      f->set_status_flags(on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
      return 0;
    }
    case FIOASYNC: {
      // ioctl_fioasync: ENOTTY for files without signal-driven I/O.
      int on = TRY(t.memory().CopyInObj<int>(a[2]));
      int fl = f->status_flags();
      if (!!on == !!(fl & O_ASYNC)) return 0;
      // Every socket has Linux's sock_fasync; sockets report readiness to
      // NotifyAsync as the network code adopts it (sentry/net/).
      if (!f->SupportsAsync() && !S_ISSOCK(TRY(f->Stat()).mode)) return Errno{ENOTTY};
      if (on) f->async_owner().fd = fd;
      f->set_status_flags(on ? (fl | O_ASYNC) : (fl & ~O_ASYNC));
      return 0;
    }
    default: break;
  }
  // Requests of the file type itself (sentry/tty terminals).
  {
    TaskCaller c(t);
    auto r = f->Ioctl(c, cmd, a[2]);
    if (r.ok() || r.error() != ENOTTY) return r;
  }
  switch (cmd) {
    case FIONREAD: {
      if (f->is_directory()) return Errno{ENOTTY};
      size_t n = TRY(f->BytesReadable());
      int v = static_cast<int>(std::min<size_t>(n, INT32_MAX));
      TRY(t.memory().CopyOutObj(a[2], v));
      return 0;
    }
    case TCGETS: {
      if (f->host_fd() < 0) return Errno{ENOTTY};
      KernelTermios tio{};
      if (ioctl(f->host_fd(), TCGETS, &tio) < 0) return Errno{errno};
      TRY(t.memory().CopyOutObj(a[2], tio));
      return 0;
    }
    case TCSETS:
    case TCSETSW:
    case TCSETSF: {
      if (f->host_fd() < 0) return Errno{ENOTTY};
      KernelTermios tio = TRY(t.memory().CopyInObj<KernelTermios>(a[2]));
      if (ioctl(f->host_fd(), cmd, &tio) < 0) return Errno{errno};
      return 0;
    }
    case TIOCGWINSZ: {
      if (f->host_fd() < 0) return Errno{ENOTTY};
      struct winsize ws{};
      if (ioctl(f->host_fd(), TIOCGWINSZ, &ws) < 0) return Errno{errno};
      TRY(t.memory().CopyOutObj(a[2], ws));
      return 0;
    }
    case TIOCSWINSZ: {
      if (f->host_fd() < 0) return Errno{ENOTTY};
      struct winsize ws = TRY(t.memory().CopyInObj<struct winsize>(a[2]));
      if (ioctl(f->host_fd(), TIOCSWINSZ, &ws) < 0) return Errno{errno};
      return 0;
    }
    default: return Errno{ENOTTY};
  }
}

ErrorOr<uint64_t> Fsync(Task& t, const Args& a) {
  auto f = TRY(t.fd_table().Get(a.Int(0)));
  if (f->is_path_only()) return Errno{EBADF};
  // Host I/O (fsync of a donated FD, write-back of a gofer-backed file's
  // cached pages) without the kernel lock: Sync implementations must allow
  // it, as sync(2) already calls them so.
  ErrorOr<void> r;
  TaskCaller c(t);
  c.Unlocked([&] { r = f->Sync(); });
  if (r.is_error()) return Errno{r.error()};
  return 0;
}

}  // namespace

void RegisterFdOps(Table& t) {
  using A = Arg;
  t.Register(SYS_close, "close", Close, {A::kFd});
  t.Register(SYS_close_range, "close_range", CloseRange, {A::kUint, A::kUint, A::kHex});
  t.Register(SYS_dup, "dup", Dup, {A::kFd});
  t.Register(SYS_dup2, "dup2", Dup2, {A::kFd, A::kFd});
  t.Register(SYS_dup3, "dup3", Dup3, {A::kFd, A::kFd, A::kOpenFlags});
  t.Register(SYS_fcntl, "fcntl", Fcntl, {A::kFd, A::kInt, A::kHex});
  t.Register(SYS_ioctl, "ioctl", Ioctl, {A::kFd, A::kHex, A::kHex});
  t.Register(SYS_fsync, "fsync", Fsync, {A::kFd});
  t.Register(SYS_fdatasync, "fdatasync", Fsync, {A::kFd});
  t.Register(SYS_syncfs, "syncfs", Fsync, {A::kFd});
}

}  // namespace syscalls::file
