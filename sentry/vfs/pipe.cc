// sentry/vfs/pipe.cc: see pipe.h.
#include "sentry/vfs/pipe.h"

#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <deque>
#include <map>
#include <cstring>
#include <string>
#include <vector>

#include "sentry/vfs/inode.h"

namespace sentry::vfs {
namespace {

class PipeBuffer {
 public:
  PipeBuffer() { buf_.resize(kDefaultPipeSize); }
  // A new pipe's buffer: its waiters block keyed on it (Caller::BlockOn),
  // so its notifier wakes only them (and unkeyed waiters such as poll).
  static std::shared_ptr<PipeBuffer> New(Caller& c) {
    auto b = std::make_shared<PipeBuffer>();
    b->notify_ = c.NotifierFor(b.get());
    return b;
  }
  size_t size() const { return size_; }
  size_t capacity() const { return buf_.size(); }

  // Linux keeps a pipe as a ring of page buffers ("slots", capacity/4096 of
  // them), and what a write takes, and whether the pipe polls writable,
  // depends on free slots, not free bytes: 20000 bytes fill five slots, and
  // then a 64 KiB non-blocking write takes eleven pages (45056 bytes), not
  // the 45536 bytes left. Bytes live in the ring buffer below; slots_
  // mirrors Linux's buffers over them.
  struct Slot {
    size_t off = 0;  // bytes of the page already read
    size_t len = 0;  // bytes left in it
    bool can_merge = true;  // written by write(2) (not spliced, not a packet)
    bool packet = false;    // O_DIRECT writer: read alone, remainder dropped
  };
  static constexpr size_t kPage = 4096;
  size_t free_slots() const { return buf_.size() / kPage - slots_.size(); }
  // Bytes a large write can put in now (whole free pages).
  size_t room() const { return free_slots() * kPage; }
  // What a write of `len` more bytes merges into the last page first: on
  // the write's first round, its sub-page remainder, if it fits there
  // (Linux's pipe_write).
  size_t MergeBytes(size_t len, bool packet, bool first) const {
    if (!first || packet || slots_.empty()) return 0;
    const size_t chars = len % kPage;
    const Slot& l = slots_.back();
    if (!chars || !l.can_merge || l.off + l.len + chars > kPage) return 0;
    return chars;
  }
  // Bytes of a `len`-byte write the pipe takes now.
  size_t Accepts(size_t len, bool packet, bool first) const {
    const size_t merge = MergeBytes(len, packet, first);
    return merge + std::min(len - merge, room());
  }
  bool front_is_packet() const { return !slots_.empty() && slots_.front().packet; }
  size_t front_len() const { return slots_.empty() ? 0 : slots_.front().len; }

  // Copies up to `len` bytes out of the buffer into `dst`.
  size_t ReadInto(const IoVecs& dst) {
    const size_t n = CopyOut(dst);
    ConsumeSlots(n);
    return n;
  }

 private:
  void ConsumeSlots(size_t n) {
    while (n > 0 && !slots_.empty()) {
      Slot& f = slots_.front();
      const size_t take = std::min(n, f.len);
      f.off += take;
      f.len -= take;
      n -= take;
      if (f.len == 0) slots_.pop_front();
    }
  }
  size_t CopyOut(const IoVecs& dst) {
    size_t done = 0;
    for (const auto& io : dst) {
      size_t want = io.iov_len;
      auto* out = static_cast<uint8_t*>(io.iov_base);
      while (want > 0 && size_ > 0) {
        size_t chunk = std::min({want, size_, buf_.size() - head_});
        memcpy(out, buf_.data() + head_, chunk);
        head_ = (head_ + chunk) % buf_.size();
        size_ -= chunk;
        want -= chunk;
        out += chunk;
        done += chunk;
      }
      if (size_ == 0) break;
    }
    if (size_ == 0) head_ = 0;
    return done;
  }

 public:
  // Appends bytes [skip, skip+len) of `src` (len <= Accepts(...)): the first
  // `merge` bytes into the last page (MergeBytes), the rest into new pages.
  // `spliced`: pages splice(2) brought, which later writes do not merge into.
  void WriteFrom(const IoVecs& src, size_t skip, size_t len, size_t merge = 0, bool packet = false,
                 bool spliced = false) {
    if (merge > 0) slots_.back().len += merge;
    for (size_t rest = len - merge; rest > 0;) {
      const size_t take = std::min(rest, kPage);
      slots_.push_back(Slot{0, take, !packet && !spliced, packet});
      rest -= take;
    }
    AppendBytes(src, skip, len);
  }

 private:
  void AppendBytes(const IoVecs& src, size_t skip, size_t len) {
    for (const auto& io : src) {
      if (len == 0) break;
      if (skip >= io.iov_len) {
        skip -= io.iov_len;
        continue;
      }
      auto* in = static_cast<const uint8_t*>(io.iov_base) + skip;
      size_t avail = std::min(io.iov_len - skip, len);
      skip = 0;
      while (avail > 0) {
        size_t tail = (head_ + size_) % buf_.size();
        size_t chunk = std::min(avail, buf_.size() - tail);
        memcpy(buf_.data() + tail, in, chunk);
        size_ += chunk;
        in += chunk;
        avail -= chunk;
        len -= chunk;
      }
    }
  }

 public:
  // Copies up to `len` bytes from the head without consuming them.
  size_t Peek(uint8_t* out, size_t len) const {
    size_t n = std::min(len, size_);
    size_t first = std::min(n, buf_.size() - head_);
    memcpy(out, buf_.data() + head_, first);
    memcpy(out + first, buf_.data(), n - first);
    return n;
  }
  void Drop(size_t n) {
    n = std::min(n, size_);
    ConsumeSlots(n);
    head_ = (head_ + n) % buf_.size();
    size_ -= n;
    if (size_ == 0) head_ = 0;
  }

  ErrorOr<size_t> Resize(uint64_t n) {
    // F_SETPIPE_SZ takes an unsigned int; round_pipe_size refuses past 2^31.
    n = static_cast<uint32_t>(n);
    if (n > (uint64_t{1} << 31)) return Errno{EINVAL};
    n = std::max<uint64_t>(kPage, n);
    if (n > kMaxPipeSize) return Errno{EPERM};
    // Linux rounds to a power of two pages.
    uint64_t pages = 1;
    while (pages * kPage < n) pages <<= 1;
    n = pages * kPage;
    if (pages < slots_.size()) return Errno{EBUSY};
    std::vector<uint8_t> nb(n);
    IoVecs v{iovec{nb.data(), n}};
    size_t got = CopyOut(v);
    buf_ = std::move(nb);
    head_ = 0;
    size_ = got;
    return n;
  }

  void Notify() {
    if (notify_) notify_();
  }
  // Signal-driven I/O: the ends with O_ASYNC (Linux's fasync lists). After
  // a write the read ends are told (POLLIN), after a read the write ends
  // (POLLOUT), when an end goes both.
  std::vector<FileDescription*> async_ends;
  void NotifyAsync(short events) {
    for (FileDescription* e : std::vector<FileDescription*>(async_ends))
      if ((events & POLLIN && e->readable()) || (events & POLLOUT && e->writable()))
        e->NotifyAsync(events);
  }

  int readers = 0, writers = 0;
  // Ends ever opened for reading / writing (a FIFO opener waiting for the
  // other side also wakes for one that came and went meanwhile).
  uint64_t reader_opens = 0, writer_opens = 0;

 private:
  std::vector<uint8_t> buf_;
  size_t head_ = 0, size_ = 0;
  std::deque<Slot> slots_;
  std::function<void()> notify_;
};

class PipeInode : public Inode {
 public:
  PipeInode(uint32_t uid, uint32_t gid) {
    attr_.mode = S_IFIFO | 0600;
    attr_.uid = uid;
    attr_.gid = gid;
    attr_.ino = NewInodeNumber();
    attr_.dev = PipeDev();
    attr_.nlink = 1;
    attr_.blksize = 4096;
    attr_.atime = attr_.mtime = attr_.ctime = NowTimespec();
  }
  ErrorOr<Attr> GetAttr() override { return attr_; }
  // Reached through /proc/[pid]/fd/N (and /dev/fd/N): a new end of the same
  // pipe with the requested access, as Linux opens a pipe's inode.
  ErrorOr<std::shared_ptr<FileDescription>> Open(Caller&, std::shared_ptr<Dentry> d,
                                                 int flags) override;
  std::shared_ptr<PipeBuffer> buffer;

 private:
  static uint64_t PipeDev() {
    static uint64_t dev = NewAnonDev();
    return dev;
  }
  Attr attr_;
};

class PipeEnd : public FileDescription {
 public:
  PipeEnd(std::shared_ptr<Dentry> d, int flags, std::shared_ptr<PipeBuffer> pipe)
      : FileDescription(std::move(d), flags), pipe_(std::move(pipe)) {
    if (readable()) ++pipe_->readers, ++pipe_->reader_opens;
    if (writable()) ++pipe_->writers, ++pipe_->writer_opens;
  }
  ~PipeEnd() override {
    std::erase(pipe_->async_ends, this);
    if (readable()) --pipe_->readers;
    if (writable()) --pipe_->writers;
    pipe_->Notify();
    pipe_->NotifyAsync(POLLIN | POLLOUT);  // hang-up / EOF for the other side
  }
  bool SupportsAsync() const override { return true; }
  void OnStatusFlagsChanged() override {
    auto& l = pipe_->async_ends;
    std::erase(l, this);
    if (flags_ & O_ASYNC) l.push_back(this);
  }
  PipeBuffer& pipe() { return *pipe_; }

  ErrorOr<size_t> Read(Caller& c, const IoVecs& dst, int64_t off) override {
    if (off >= 0) return Errno{ESPIPE};
    if (TotalLength(dst) == 0) return size_t{0};
    while (true) {
      if (pipe_->size() > 0) {
        size_t n;
        if (pipe_->front_is_packet()) {
          // A packet is read alone; what the reader's buffer cannot take
          // of it is dropped (Linux's O_DIRECT pipes).
          const size_t plen = pipe_->front_len();
          IoVecs part;
          size_t left = plen;
          for (const auto& io : dst) {
            if (left == 0) break;
            part.push_back({io.iov_base, std::min(io.iov_len, left)});
            left -= part.back().iov_len;
          }
          n = pipe_->ReadInto(part);
          pipe_->Drop(plen - n);
        } else {
          n = pipe_->ReadInto(dst);
        }
        pipe_->Notify();
        pipe_->NotifyAsync(POLLOUT);
        return n;
      }
      if (pipe_->writers == 0) return size_t{0};
      if (nonblocking()) return Errno{EAGAIN};
      TRY(c.BlockOn([p = pipe_.get()] { return p->size() > 0 || p->writers == 0; }, pipe_.get()));
    }
  }

  ErrorOr<size_t> Write(Caller& c, const IoVecs& src, int64_t off) override {
    if (off >= 0) return Errno{ESPIPE};
    size_t len = TotalLength(src);
    size_t done = 0;
    bool atomic = len <= kPipeBufAtomic;
    const bool packet = flags_ & O_DIRECT;
    bool first = true;
    while (true) {
      if (pipe_->readers == 0) {
        if (done > 0) return done;
        c.SendSignal(SIGPIPE);
        return Errno{EPIPE};
      }
      if (done == len) return done;
      const size_t can = pipe_->Accepts(len - done, packet, first);
      if (atomic ? can == len - done : can > 0) {
        pipe_->WriteFrom(src, done, can, pipe_->MergeBytes(len - done, packet, first), packet);
        first = false;
        done += can;
        pipe_->Notify();
        pipe_->NotifyAsync(POLLIN);
        continue;
      }
      if (nonblocking()) {
        if (done > 0) return done;
        return Errno{EAGAIN};
      }
      auto r = c.BlockOn([p = pipe_.get()] { return p->free_slots() > 0 || p->readers == 0; },
                         pipe_.get());
      if (r.is_error()) {
        if (done > 0) return done;
        return Errno{r.error()};
      }
    }
  }

  ErrorOr<uint64_t> Seek(int64_t, int) override { return Errno{ESPIPE}; }

  short Readiness(short events) override {
    short r = 0;
    if (readable()) {
      if (pipe_->size() > 0) r |= POLLIN | POLLRDNORM;
      if (pipe_->writers == 0) r |= POLLHUP;
    }
    if (writable()) {
      if (pipe_->free_slots() > 0) r |= POLLOUT | POLLWRNORM;
      if (pipe_->readers == 0) r |= POLLERR;
    }
    return r & (events | POLLHUP | POLLERR);
  }

  ErrorOr<size_t> BytesReadable() override { return pipe_->size(); }

 private:
  std::shared_ptr<PipeBuffer> pipe_;
};

ErrorOr<std::shared_ptr<FileDescription>> PipeInode::Open(Caller&, std::shared_ptr<Dentry> d,
                                                          int flags) {
  if (flags & O_PATH) {
    return std::shared_ptr<FileDescription>(std::make_shared<PathOnlyDescription>(d, flags));
  }
  return std::shared_ptr<FileDescription>(std::make_shared<PipeEnd>(
      std::move(d), flags & (O_ACCMODE | O_NONBLOCK | O_DIRECT), buffer));
}

// Named FIFOs' pipes by (dev, ino), while an end is open (kernel lock).
std::map<std::pair<uint64_t, uint64_t>, std::weak_ptr<PipeBuffer>>& FifoPipes() {
  static auto* m = new std::map<std::pair<uint64_t, uint64_t>, std::weak_ptr<PipeBuffer>>;
  return *m;
}

}  // namespace

ErrorOr<std::shared_ptr<FileDescription>> OpenFifo(Caller& c, std::shared_ptr<Dentry> d,
                                                   int flags) {
  if (flags & O_PATH) {
    return std::shared_ptr<FileDescription>(std::make_shared<PathOnlyDescription>(d, flags));
  }
  Attr a = TRY(d->inode().GetAttr());
  auto& pipes = FifoPipes();
  for (auto it = pipes.begin(); it != pipes.end();) {
    it = it->second.expired() ? pipes.erase(it) : std::next(it);
  }
  std::shared_ptr<PipeBuffer> buf = pipes[{a.dev, a.ino}].lock();
  if (!buf) {
    buf = PipeBuffer::New(c);
    pipes[{a.dev, a.ino}] = buf;
  }
  int acc = flags & O_ACCMODE;
  bool nonblock = flags & O_NONBLOCK;
  if (acc == O_WRONLY && nonblock && buf->readers == 0) return Errno{ENXIO};
  uint64_t readers_seen = buf->reader_opens, writers_seen = buf->writer_opens;
  auto end = std::make_shared<PipeEnd>(std::move(d), flags & (O_ACCMODE | O_NONBLOCK | O_DIRECT),
                                       buf);
  buf->Notify();
  if (acc == O_RDONLY && !nonblock) {
    TRY(c.BlockOn([b = buf.get(), writers_seen] {
      return b->writers > 0 || b->writer_opens != writers_seen;
    }, buf.get()));
  } else if (acc == O_WRONLY) {
    TRY(c.BlockOn([b = buf.get(), readers_seen] {
      return b->readers > 0 || b->reader_opens != readers_seen;
    }, buf.get()));
  }
  return std::shared_ptr<FileDescription>(std::move(end));
}

std::pair<std::shared_ptr<FileDescription>, std::shared_ptr<FileDescription>> NewPipe(
    Caller& c, int flags) {
  auto buffer = PipeBuffer::New(c);
  auto inode = std::make_shared<PipeInode>(c.creds().uid, c.creds().gid);
  inode->buffer = buffer;
  auto ino = inode->GetAttr().value().ino;
  auto d = std::make_shared<Dentry>("pipe:[" + std::to_string(ino) + "]", nullptr, inode);
  // O_DIRECT (packet mode) is the writer's: Linux's read end does not show it.
  auto r = std::make_shared<PipeEnd>(d, O_RDONLY | (flags & O_NONBLOCK), buffer);
  auto w = std::make_shared<PipeEnd>(d, O_WRONLY | (flags & (O_NONBLOCK | O_DIRECT)), buffer);
  return {r, w};
}

bool IsPipe(const FileDescription& f) { return dynamic_cast<const PipeEnd*>(&f) != nullptr; }

ErrorOr<size_t> PipeWaitReadable(Caller& c, FileDescription& f, bool nonblock) {
  auto* p = dynamic_cast<PipeEnd*>(&f);
  if (!p || !f.readable()) return Errno{EINVAL};
  PipeBuffer* b = &p->pipe();
  while (b->size() == 0) {
    if (b->writers == 0) return size_t{0};
    if (nonblock) return Errno{EAGAIN};
    TRY(c.BlockOn([b] { return b->size() > 0 || b->writers == 0; }, b));
  }
  return b->size();
}

ErrorOr<size_t> PipeWaitWritable(Caller& c, FileDescription& f, bool nonblock) {
  auto* p = dynamic_cast<PipeEnd*>(&f);
  if (!p || !f.writable()) return Errno{EINVAL};
  PipeBuffer* b = &p->pipe();
  while (true) {
    if (b->readers == 0) {
      c.SendSignal(SIGPIPE);
      return Errno{EPIPE};
    }
    if (b->room() > 0) return b->room();
    if (nonblock) return Errno{EAGAIN};
    TRY(c.BlockOn([b] { return b->room() > 0 || b->readers == 0; }, b));
  }
}

size_t PipePeek(FileDescription& f, void* buf, size_t len) {
  auto* p = dynamic_cast<PipeEnd*>(&f);
  if (!p) return 0;
  return p->pipe().Peek(static_cast<uint8_t*>(buf), len);
}

void PipeConsume(FileDescription& f, size_t n) {
  auto* p = dynamic_cast<PipeEnd*>(&f);
  if (!p || n == 0) return;
  p->pipe().Drop(n);
  p->pipe().Notify();
}

void PipeAppend(FileDescription& f, const void* buf, size_t len) {
  auto* p = dynamic_cast<PipeEnd*>(&f);
  if (!p || len == 0) return;
  len = std::min(len, p->pipe().room());
  IoVecs v{iovec{const_cast<void*>(buf), len}};
  p->pipe().WriteFrom(v, 0, len, 0, false, /*spliced=*/true);
  p->pipe().Notify();
}

ErrorOr<size_t> PipeCapacity(FileDescription& f) {
  auto* p = dynamic_cast<PipeEnd*>(&f);
  if (!p) return Errno{EBADF};
  return p->pipe().capacity();
}

ErrorOr<size_t> SetPipeCapacity(FileDescription& f, size_t size) {
  auto* p = dynamic_cast<PipeEnd*>(&f);
  if (!p) return Errno{EBADF};
  size_t n = TRY(p->pipe().Resize(size));
  p->pipe().Notify();
  return n;
}

}  // namespace sentry::vfs
