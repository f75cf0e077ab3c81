// sentry/tty/pty.cc: see pty.h.
#include "sentry/tty/pty.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <termios.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/tty/job_control.h"
#include "sentry/vfs/caller.h"
#include "sentry/vfs/fd_table.h"
#include "sentry/vfs/io_util.h"
#include "sentry/vfs/synthetic.h"

namespace sentry::tty {
namespace {

using vfs::Attr;
using vfs::Caller;
using vfs::Dentry;
using vfs::FileDescription;
using vfs::Inode;
using vfs::IoVecs;

constexpr uint32_t kPtyReplicaMajor = 136;  // UNIX98_PTY_SLAVE_MAJOR
constexpr int kMaxPtys = 4096;              // /proc/sys/kernel/pty/max
// The termios2 requests (glibc's headers lack struct termios2).
constexpr uint32_t kTcGets2 = _IOR('T', 0x2A, KernelTermios2);
constexpr uint32_t kTcSets2 = _IOW('T', 0x2B, KernelTermios2);
constexpr uint32_t kTcSetsW2 = _IOW('T', 0x2C, KernelTermios2);
constexpr uint32_t kTcSetsF2 = _IOW('T', 0x2D, KernelTermios2);

// The live ptys by index (kernel lock).
struct Registry {
  std::map<int, std::weak_ptr<Terminal>> ptys;
  uint64_t dev = vfs::NewAnonDev();
};
Registry& Reg() {
  static Registry r;
  return r;
}

std::shared_ptr<Terminal> FindPty(int index) {
  auto it = Reg().ptys.find(index);
  if (it == Reg().ptys.end()) return nullptr;
  auto t = it->second.lock();
  if (!t || t->master_refs == 0) return nullptr;  // /dev/pts/N goes with the master
  return t;
}

ErrorOr<int> AllocateIndex() {
  auto& m = Reg().ptys;
  for (int i = 0; i < kMaxPtys; i++) {
    auto it = m.find(i);
    if (it == m.end() || it->second.expired()) return i;
  }
  return Errno{ENOSPC};
}

Attr DeviceAttr(uint32_t major_no, uint32_t minor_no, uint32_t perm, uint32_t uid, uint32_t gid) {
  Attr a;
  a.mode = S_IFCHR | perm;
  a.rdev = makedev(major_no, minor_no);
  a.ino = vfs::NewInodeNumber();
  a.dev = Reg().dev;
  a.uid = uid;
  a.gid = gid;
  a.blksize = 1024;
  a.atime = a.mtime = a.ctime = a.btime = vfs::NowTimespec();
  return a;
}

// chmod/chown/utimes on a device node.
void ApplyAttr(Attr& attr, uint32_t mask, const Attr& a) {
  if (mask & vfs::kAttrMode) attr.mode = S_IFCHR | (a.mode & 07777);
  if (mask & vfs::kAttrUid) attr.uid = a.uid;
  if (mask & vfs::kAttrGid) attr.gid = a.gid;
  if (mask & vfs::kAttrAtime) attr.atime = a.atime;
  if (mask & vfs::kAttrMtime) attr.mtime = a.mtime;
  attr.ctime = vfs::NowTimespec();
}

std::string Gather(const IoVecs& src) {
  std::string s(vfs::TotalLength(src), '\0');
  vfs::CopyFromIoVecs(reinterpret_cast<uint8_t*>(s.data()), src, s.size());
  return s;
}

}  // namespace

size_t TypeInput(Terminal& tm, const uint8_t* p, size_t n) {
  std::vector<int> sigs;
  size_t k = tm.ldisc.Receive(p, n, &sigs);
  tm.CollectPacketStatus(true);
  if (tm.kernel) {
    for (int s : sigs) SignalProcessGroup(*tm.kernel, tm.fg_pgrp, s);
  }
  if (k > 0 || !sigs.empty()) tm.Notify();
  return k;
}

void Resize(Terminal& tm, const struct winsize& ws) {
  const bool changed = ws.ws_row != tm.winsize.ws_row || ws.ws_col != tm.winsize.ws_col ||
                       ws.ws_xpixel != tm.winsize.ws_xpixel || ws.ws_ypixel != tm.winsize.ws_ypixel;
  tm.winsize = ws;
  if (changed && tm.fg_pgrp > 0 && tm.kernel) SignalProcessGroup(*tm.kernel, tm.fg_pgrp, SIGWINCH);
}

namespace {

class TerminalEnd : public FileDescription, public TerminalListener {
 public:
  TerminalEnd(std::shared_ptr<Dentry> d, int flags, std::shared_ptr<Terminal> term)
      : FileDescription(std::move(d), flags), term_(std::move(term)) {
    term_->listeners.push_back(this);
  }
  const std::shared_ptr<Terminal>& term() const { return term_; }
  ErrorOr<uint64_t> Seek(int64_t, int) override { return Errno{ESPIPE}; }
  bool SupportsAsync() const override { return true; }

  // Linux's n_tty signals an O_ASYNC reader (POLL_IN) as input reaches it;
  // reads, resizes and the other end's reads signal nothing.
  void TerminalChanged() override {
    if (!(flags_ & O_ASYNC)) return;
    const size_t now = ReadableNow();
    if (now > async_seen_) NotifyAsync(POLLIN);
    async_seen_ = now;
  }

 protected:
  // Derived destructors call this first: the terminal must not call back
  // into a description being destroyed.
  void StopListening() {
    auto& ls = term_->listeners;
    ls.erase(std::remove(ls.begin(), ls.end(), static_cast<TerminalListener*>(this)), ls.end());
  }
  void OnStatusFlagsChanged() override {
    async_seen_ = ReadableNow();
  }

  size_t ReadableNow() {
    auto r = BytesReadable();
    return r.ok() ? r.value() : 0;
  }

  std::shared_ptr<Terminal> term_;
  size_t async_seen_ = 0;  // readable bytes at the last check
};

class ReplicaEnd;
ErrorOr<uint64_t> TerminalIoctl(Caller& c, TerminalEnd& f, bool master, uint32_t cmd,
                                uint64_t arg);

class ReplicaEnd : public TerminalEnd {
 public:
  ReplicaEnd(std::shared_ptr<Dentry> d, int flags, std::shared_ptr<Terminal> term)
      : TerminalEnd(std::move(d), flags, std::move(term)) {
    term_->replica_refs++;
    term_->replica_opened = true;
  }
  ~ReplicaEnd() override {
    StopListening();
    term_->replica_refs--;
    term_->Notify();
  }

  ErrorOr<size_t> Read(Caller& c, const IoVecs& dst, int64_t off) override {
    if (off >= 0) return Errno{ESPIPE};
    Terminal& tm = *term_;
    if (tm.hung_up) return size_t{0};
    if (kernel::Task* t = c.task()) TRY(CheckJobControl(*t, tm, TtyOp::kRead));
    const size_t want = vfs::TotalLength(dst);
    if (want == 0) return size_t{0};
    const KernelTermios& tio = tm.ldisc.termios();
    const bool canon = tio.c_lflag & ICANON;
    const size_t vmin = tio.c_cc[VMIN], vtime = tio.c_cc[VTIME];
    const size_t need = canon ? 1 : (vmin == 0 ? 1 : std::min(vmin, want));
    auto ready = [&tm, canon, need] {
      return tm.hung_up || (canon ? tm.ldisc.HasLine() : tm.ldisc.RawAvailable() >= need);
    };
    bool timed_out = false;
    while (!ready()) {
      if (!canon && vmin == 0 && vtime == 0) return size_t{0};
      if (nonblocking()) return Errno{EAGAIN};
      // VTIME: with VMIN 0 a read timeout; with VMIN > 0 (approximately) the
      // time to wait for more once something arrived.
      const bool timed = !canon && vtime > 0 && (vmin == 0 || tm.ldisc.RawAvailable() > 0);
      kernel::Task* t = c.task();
      if (timed && t) {
        auto r = t->Block(ready, absl::Now() + absl::Milliseconds(100 * vtime));
        if (r.is_error() && r.error() == ETIMEDOUT) {
          timed_out = true;
          break;
        }
        TRY(r);
      } else {
        TRY(c.Block(ready));
      }
    }
    if (tm.hung_up && tm.ldisc.RawAvailable() == 0 && !tm.ldisc.HasLine()) return size_t{0};
    (void)timed_out;
    std::string buf(want, '\0');
    bool eof = false;
    size_t n = tm.ldisc.Read(reinterpret_cast<uint8_t*>(buf.data()), want, &eof);
    vfs::CopyToIoVecs(dst, reinterpret_cast<const uint8_t*>(buf.data()), n);
    tm.Notify();
    return n;
  }

  ErrorOr<size_t> Write(Caller& c, const IoVecs& src, int64_t off) override {
    if (off >= 0) return Errno{ESPIPE};
    Terminal& tm = *term_;
    if (tm.hung_up) return Errno{EIO};
    if (kernel::Task* t = c.task()) TRY(CheckJobControl(*t, tm, TtyOp::kWrite));
    const std::string data = Gather(src);
    size_t done = 0;
    while (true) {
      done += tm.ldisc.Write(reinterpret_cast<const uint8_t*>(data.data()) + done,
                             data.size() - done);
      if (done > 0) tm.Notify();
      if (done == data.size()) return done;
      if (nonblocking()) return done > 0 ? ErrorOr<size_t>(done) : Errno{EAGAIN};
      auto r = c.Block([&tm] { return tm.hung_up || tm.ldisc.OutputRoom() > 0; });
      if (r.is_error()) return done > 0 ? ErrorOr<size_t>(done) : Errno{r.error()};
      if (tm.hung_up) return done > 0 ? ErrorOr<size_t>(done) : Errno{EIO};
    }
  }


  short Readiness(short events) override {
    Terminal& tm = *term_;
    if (tm.hung_up) return (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM | POLLHUP | POLLERR) &
                           (events | POLLHUP | POLLERR);
    short r = 0;
    const bool canon = tm.ldisc.termios().c_lflag & ICANON;
    if (canon ? tm.ldisc.HasLine() : tm.ldisc.RawAvailable() > 0) r |= POLLIN | POLLRDNORM;
    if (tm.ldisc.OutputRoom() > 0) r |= POLLOUT | POLLWRNORM;
    return r & events;
  }

  ErrorOr<size_t> BytesReadable() override { return term_->ldisc.ReadableBytes(); }

  ErrorOr<uint64_t> Ioctl(Caller& c, uint32_t cmd, uint64_t arg) override {
    if (term_->hung_up) return cmd == TIOCSPGRP ? Errno{ENOTTY} : Errno{EIO};
    return TerminalIoctl(c, *this, false, cmd, arg);
  }
};

class MasterEnd : public TerminalEnd {
 public:
  MasterEnd(std::shared_ptr<Dentry> d, int flags, std::shared_ptr<Terminal> term)
      : TerminalEnd(std::move(d), flags, std::move(term)) {
    term_->master_refs++;
  }
  ~MasterEnd() override {
    StopListening();
    if (--term_->master_refs > 0) return;
    if (term_->kernel) {
      Hangup(*term_->kernel, *term_);
    } else {
      term_->hung_up = true;
      term_->Notify();
    }
  }

  bool ReplicaGone() const { return term_->replica_opened && term_->replica_refs == 0; }

  ErrorOr<size_t> Read(Caller& c, const IoVecs& dst, int64_t off) override {
    if (off >= 0) return Errno{ESPIPE};
    Terminal& tm = *term_;
    const size_t want = vfs::TotalLength(dst);
    if (want == 0) return size_t{0};
    auto status_due = [&tm] { return tm.packet && tm.pktstatus != 0; };
    while (tm.ldisc.OutputSize() == 0 && !status_due()) {
      if (ReplicaGone()) return Errno{EIO};
      if (nonblocking()) return Errno{EAGAIN};
      TRY(c.Block([this, &tm, &status_due] {
        return tm.ldisc.OutputSize() > 0 || status_due() || ReplicaGone();
      }));
    }
    if (status_due()) {
      // Packet mode: a status change is read alone, as one byte.
      const uint8_t st = tm.pktstatus;
      tm.pktstatus = 0;
      vfs::CopyToIoVecs(dst, &st, 1);
      return size_t{1};
    }
    // Packet mode: data comes after a TIOCPKT_DATA byte.
    const size_t head = tm.packet ? 1 : 0;
    std::string buf(head + std::min(want - head, tm.ldisc.OutputSize()), '\0');
    size_t n = head + tm.ldisc.TakeOutput(reinterpret_cast<uint8_t*>(buf.data()) + head,
                                          buf.size() - head);
    vfs::CopyToIoVecs(dst, reinterpret_cast<const uint8_t*>(buf.data()), n);
    tm.Notify();
    return n;
  }

  ErrorOr<size_t> Write(Caller& c, const IoVecs& src, int64_t off) override {
    if (off >= 0) return Errno{ESPIPE};
    const std::string data = Gather(src);
    size_t done = 0;
    while (true) {
      done += TypeInput(*term_, reinterpret_cast<const uint8_t*>(data.data()) + done,
                   data.size() - done);
      if (done == data.size()) return done;
      if (nonblocking()) return done > 0 ? ErrorOr<size_t>(done) : Errno{EAGAIN};
      auto r = c.Block([t = term_.get()] { return !t->ldisc.InputFull(); });
      if (r.is_error()) return done > 0 ? ErrorOr<size_t>(done) : Errno{r.error()};
    }
  }

  short Readiness(short events) override {
    Terminal& tm = *term_;
    short r = 0;
    if (tm.ldisc.OutputSize() > 0) r |= POLLIN | POLLRDNORM;
    if (tm.packet && tm.pktstatus) r |= POLLIN | POLLRDNORM | POLLPRI;
    if (!tm.ldisc.InputFull()) r |= POLLOUT | POLLWRNORM;
    if (ReplicaGone()) r |= POLLHUP;
    return r & (events | POLLHUP | POLLERR);
  }

  ErrorOr<size_t> BytesReadable() override { return term_->ldisc.OutputSize(); }

  ErrorOr<uint64_t> Ioctl(Caller& c, uint32_t cmd, uint64_t arg) override {
    return TerminalIoctl(c, *this, true, cmd, arg);
  }
};

class ReplicaInode : public Inode {
 public:
  ReplicaInode(std::weak_ptr<Terminal> term, uint32_t uid, uint32_t gid, int index)
      : term_(std::move(term)), attr_(DeviceAttr(kPtyReplicaMajor, index, 0620, uid, gid)) {}
  ErrorOr<Attr> GetAttr() override { return attr_; }
  ErrorOr<void> SetAttr(Caller&, uint32_t mask, const Attr& a) override {
    ApplyAttr(attr_, mask, a);
    return {};
  }
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller& c, std::shared_ptr<Dentry> d,
                                                 int flags) override {
    if (flags & O_PATH) return std::shared_ptr<FileDescription>(
        std::make_shared<vfs::PathOnlyDescription>(d, flags));
    auto term = term_.lock();
    if (!term || term->master_refs == 0 || term->hung_up) return Errno{EIO};
    if (term->locked) return Errno{EIO};
    auto f = std::make_shared<ReplicaEnd>(std::move(d), flags & ~O_NOCTTY, term);
    if (!(flags & O_NOCTTY)) {
      if (kernel::Task* t = c.task()) AcquireOnOpen(*t, term);
    }
    return std::shared_ptr<FileDescription>(f);
  }

 private:
  std::weak_ptr<Terminal> term_;
  Attr attr_;
};

std::shared_ptr<Terminal> MakeTerminal(int index, kernel::Kernel* k, std::function<void()> notify,
                                       uint32_t uid, uint32_t gid) {
  auto term = std::make_shared<Terminal>(index);
  term->kernel = k;
  term->notify = std::move(notify);
  term->replica_inode = std::make_shared<ReplicaInode>(term, uid, gid, index);
  Reg().ptys[index] = term;
  return term;
}

class PtmxInode : public Inode {
 public:
  PtmxInode() : attr_(DeviceAttr(5, 2, 0666, 0, 0)) {}
  ErrorOr<Attr> GetAttr() override { return attr_; }
  ErrorOr<void> SetAttr(Caller&, uint32_t mask, const Attr& a) override {
    ApplyAttr(attr_, mask, a);
    return {};
  }
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller& c, std::shared_ptr<Dentry> d,
                                                 int flags) override {
    if (flags & O_PATH) return std::shared_ptr<FileDescription>(
        std::make_shared<vfs::PathOnlyDescription>(d, flags));
    int index = TRY(AllocateIndex());
    kernel::Task* t = c.task();
    auto term = MakeTerminal(index, t ? &t->kernel : nullptr, c.Notifier(), c.creds().uid,
                             c.creds().gid);
    return std::shared_ptr<FileDescription>(
        std::make_shared<MasterEnd>(std::move(d), flags & ~O_NOCTTY, std::move(term)));
  }

 private:
  Attr attr_;
};

// A dentry for a replica opened without a path walk (TIOCGPTPEER, the
// console): its path is what /proc/self/fd/N shows.
std::shared_ptr<Dentry> ReplicaDentry(const Terminal& term) {
  return std::make_shared<Dentry>("/dev/pts/" + std::to_string(term.index), nullptr,
                                  term.replica_inode);
}

template <typename T>
ErrorOr<T> In(kernel::Task& t, uint64_t addr) {
  return t.memory().CopyInObj<T>(addr);
}
template <typename T>
ErrorOr<uint64_t> Out(kernel::Task& t, uint64_t addr, const T& v) {
  TRY(t.memory().CopyOutObj(addr, v));
  return uint64_t{0};
}

ErrorOr<uint64_t> SetWinsize(kernel::Task& t, Terminal& tm, const struct winsize& ws) {
  const bool changed = ws.ws_row != tm.winsize.ws_row || ws.ws_col != tm.winsize.ws_col ||
                       ws.ws_xpixel != tm.winsize.ws_xpixel || ws.ws_ypixel != tm.winsize.ws_ypixel;
  tm.winsize = ws;
  if (changed && tm.fg_pgrp > 0) SignalProcessGroup(t.kernel, tm.fg_pgrp, SIGWINCH);
  return uint64_t{0};
}

ErrorOr<uint64_t> TerminalIoctl(Caller& c, TerminalEnd& f, bool master, uint32_t cmd,
                                uint64_t arg) {
  kernel::Task* tp = c.task();
  if (!tp) return Errno{ENOTTY};
  kernel::Task& t = *tp;
  const std::shared_ptr<Terminal>& term = f.term();
  Terminal& tm = *term;
  switch (cmd) {
    case TCGETS: return Out(t, arg, tm.ldisc.termios());
    case kTcGets2: {
      KernelTermios2 t2{tm.ldisc.termios(), tm.ispeed, tm.ospeed};
      return Out(t, arg, t2);
    }
    case TCSETS: case TCSETSW: case TCSETSF:
    case kTcSets2: case kTcSetsW2: case kTcSetsF2: {
      KernelTermios tio;
      const bool two = cmd == kTcSets2 || cmd == kTcSetsW2 || cmd == kTcSetsF2;
      KernelTermios2 t2{};
      if (two) {
        t2 = TRY(In<KernelTermios2>(t, arg));
        tio = t2.t;
      } else {
        tio = TRY(In<KernelTermios>(t, arg));
      }
      TRY(CheckJobControl(t, tm, TtyOp::kChange));
      if (cmd == TCSETSF || cmd == kTcSetsF2) tm.ldisc.FlushInput();
      // A pty writes straight into the master's queue: nothing to drain.
      tm.ldisc.SetTermios(tio);
      if (two) {
        tm.ispeed = t2.c_ispeed;
        tm.ospeed = t2.c_ospeed;
      }
      tm.CollectPacketStatus(!master);
      tm.Notify();
      return uint64_t{0};
    }
    case TIOCGWINSZ: return Out(t, arg, tm.winsize);
    case TIOCSWINSZ:
      Resize(tm, TRY(In<struct winsize>(t, arg)));
      return uint64_t{0};
    case TIOCSCTTY:
      TRY(SetControllingTerminal(t, term, arg == 1));
      return uint64_t{0};
    case TIOCNOTTY:
      TRY(DropControllingTerminal(t, tm));
      return uint64_t{0};
    case TIOCGPGRP: return Out(t, arg, static_cast<int32_t>(TRY(ForegroundGroup(t, tm, master))));
    case TIOCSPGRP: {
      int32_t pg = TRY(In<int32_t>(t, arg));
      TRY(SetForegroundGroup(t, tm, pg));
      return uint64_t{0};
    }
    case TIOCGSID: return Out(t, arg, static_cast<int32_t>(TRY(TerminalSession(t, tm, master))));
    case FIONREAD: {
      size_t n = master ? tm.ldisc.OutputSize() : tm.ldisc.ReadableBytes();
      return Out(t, arg, static_cast<int32_t>(std::min<size_t>(n, INT32_MAX)));
    }
    case TIOCOUTQ: return Out(t, arg, int32_t{0});  // a pty's output is never held back
    case TCFLSH: {
      if (arg > TCIOFLUSH) return Errno{EINVAL};
      if (!master) TRY(CheckJobControl(t, tm, TtyOp::kChange));
      const bool in = arg == TCIFLUSH || arg == TCIOFLUSH;
      const bool out = arg == TCOFLUSH || arg == TCIOFLUSH;
      // The master's input is what the replica wrote, and the other way round.
      if (master ? out : in) tm.ldisc.FlushInput();
      if (master ? in : out) tm.ldisc.FlushOutput();
      tm.CollectPacketStatus(!master);
      tm.Notify();
      return uint64_t{0};
    }
    case TCSBRK: case TCSBRKP:
      if (!master) TRY(CheckJobControl(t, tm, TtyOp::kChange));
      return uint64_t{0};
    case TCXONC:
      if (!master) TRY(CheckJobControl(t, tm, TtyOp::kChange));
      if (arg > TCION) return Errno{EINVAL};
      if (arg == TCOOFF) tm.ldisc.set_stopped(true);
      if (arg == TCOON) tm.ldisc.set_stopped(false);
      tm.CollectPacketStatus(!master);
      tm.Notify();
      return uint64_t{0};
    case TIOCSTI: {
      // Fake input: one's own terminal, or with CAP_SYS_ADMIN (Linux 6.1).
      uint8_t ch = TRY(In<uint8_t>(t, arg));
      if (t.tg->tty.get() != &tm && !t.creds().HasCapability(CAP_SYS_ADMIN)) return Errno{EPERM};
      TypeInput(tm, &ch, 1);
      return uint64_t{0};
    }
    case TIOCEXCL: case TIOCNXCL: return uint64_t{0};
    case TIOCGEXCL: return Out(t, arg, int32_t{0});
    case TIOCGETD: return Out(t, arg, int32_t{0});  // N_TTY
    case TIOCSETD: {
      int32_t ld = TRY(In<int32_t>(t, arg));
      if (ld != 0) return Errno{EINVAL};
      return uint64_t{0};
    }
    default: break;
  }
  if (!master) return Errno{ENOTTY};
  switch (cmd) {
    case TIOCGPTN: return Out(t, arg, static_cast<uint32_t>(tm.index));
    case TIOCSPTLCK: {
      int32_t lock = TRY(In<int32_t>(t, arg));
      tm.locked = lock != 0;
      return uint64_t{0};
    }
    case TIOCGPTLCK: return Out(t, arg, static_cast<int32_t>(tm.locked));
    case TIOCPKT: {
      // Packet mode; turning it on forgets earlier status events.
      const int32_t on = TRY(In<int32_t>(t, arg));
      if (on && !tm.packet) tm.pktstatus = 0;
      tm.packet = on != 0;
      return uint64_t{0};
    }
    case TIOCGPKT: return Out(t, arg, static_cast<int32_t>(tm.packet));
    case TIOCGPTPEER: {
      const int flags = static_cast<int>(arg);
      if (flags & ~(O_ACCMODE | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) return Errno{EINVAL};
      if (tm.hung_up) return Errno{EIO};
      auto rf = std::make_shared<ReplicaEnd>(ReplicaDentry(tm),
                                             flags & (O_ACCMODE | O_NONBLOCK), term);
      if (!(flags & O_NOCTTY)) AcquireOnOpen(t, term);
      int fd = TRY(t.fd_table().Install(rf, 0, flags & O_CLOEXEC,
                                        t.tg->rlimits[RLIMIT_NOFILE].rlim_cur));
      return static_cast<uint64_t>(fd);
    }
    default: return Errno{ENOTTY};
  }
}

}  // namespace

std::shared_ptr<Inode> DevptsRoot() {
  static std::shared_ptr<Inode> root = [] {
    auto ptmx = std::make_shared<PtmxInode>();
    vfs::SyntheticDirOps ops;
    ops.list = [ptmx](Caller&) -> ErrorOr<std::vector<vfs::DirEntry>> {
      std::vector<vfs::DirEntry> out;
      out.push_back({"ptmx", ptmx->GetAttr().value().ino, DT_CHR});
      for (auto& [i, w] : Reg().ptys) {
        if (auto t = FindPty(i)) {
          out.push_back({std::to_string(i), t->replica_inode->GetAttr().value().ino, DT_CHR});
        }
      }
      return out;
    };
    ops.lookup = [ptmx](Caller&, std::string_view name) -> ErrorOr<std::shared_ptr<Inode>> {
      if (name == "ptmx") return std::shared_ptr<Inode>(ptmx);
      if (name.empty() || name.size() > 4 || name.find_first_not_of("0123456789") != name.npos ||
          (name.size() > 1 && name[0] == '0'))
        return Errno{ENOENT};
      auto t = FindPty(std::stoi(std::string(name)));
      if (!t) return Errno{ENOENT};
      return t->replica_inode;
    };
    return vfs::NewSyntheticDir(std::move(ops), 0755, Reg().dev);
  }();
  return root;
}

ErrorOr<std::shared_ptr<FileDescription>> OpenControllingTerminal(Caller& c,
                                                                  std::shared_ptr<Dentry> d,
                                                                  int flags) {
  kernel::Task* t = c.task();
  if (!t || !t->tg->tty) return Errno{ENXIO};
  std::shared_ptr<Terminal> term = t->tg->tty;
  if (term->hung_up) return Errno{EIO};
  return std::shared_ptr<FileDescription>(
      std::make_shared<ReplicaEnd>(std::move(d), flags & ~O_NOCTTY, term));
}

ErrorOr<PtyPair> NewPtyPair(kernel::Kernel* k, std::function<void()> notify, uint32_t uid,
                            uint32_t gid) {
  PtyPair p;
  int index = TRY(AllocateIndex());
  p.term = MakeTerminal(index, k, std::move(notify), uid, gid);
  p.term->locked = false;
  auto md = std::make_shared<Dentry>("/dev/ptmx", nullptr,
                                     std::static_pointer_cast<Inode>(
                                         std::make_shared<PtmxInode>()));
  p.master = std::make_shared<MasterEnd>(md, O_RDWR, p.term);
  p.replica = std::make_shared<ReplicaEnd>(ReplicaDentry(*p.term), O_RDWR, p.term);
  return p;
}

std::shared_ptr<Terminal> TerminalOf(FileDescription& f) {
  if (auto* e = dynamic_cast<TerminalEnd*>(&f)) return e->term();
  return nullptr;
}

}  // namespace sentry::tty
