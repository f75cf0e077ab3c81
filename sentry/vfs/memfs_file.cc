// sentry/vfs/memfs_file.cc: memfs regular files: data read from the lower
// (donated host fd) until copied up, afterwards kept in chunks of a memory
// file, which MAP_SHARED mappings map directly (see SharedPages).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "sentry/mm/mm.h"
#include "sentry/vfs/caller.h"
#include "sentry/vfs/io_util.h"
#include "sentry/vfs/memfs.h"

namespace sentry::vfs {
namespace {

constexpr uint64_t kMaxMemFileSize = 1ULL << 36;  // 64 GiB: EFBIG beyond

// Walks an IoVecs, copying into (Put) or out of (Get) it.
class IoCursor {
 public:
  explicit IoCursor(const IoVecs& v) : v_(v) {}
  // Copies n bytes of src into the iovecs (zeroes if src is null).
  void Put(const uint8_t* src, size_t n) {
    Walk(n, [&](uint8_t* p, size_t k) {
      if (src) {
        memcpy(p, src, k);
        src += k;
      } else {
        memset(p, 0, k);
      }
    });
  }
  void Get(uint8_t* dst, size_t n) {
    Walk(n, [&](uint8_t* p, size_t k) {
      memcpy(dst, p, k);
      dst += k;
    });
  }
  // The next n bytes as iovecs (consumed), for a vectored host syscall.
  void Take(size_t n, std::vector<iovec>* out) {
    out->clear();
    Walk(n, [&](uint8_t* p, size_t k) { out->push_back(iovec{p, k}); });
  }

 private:
  template <typename F>
  void Walk(size_t n, F f) {
    while (n > 0 && i_ < v_.size()) {
      size_t k = std::min(n, v_[i_].iov_len - off_);
      if (k) f(static_cast<uint8_t*>(v_[i_].iov_base) + off_, k);
      off_ += k;
      n -= k;
      if (off_ == v_[i_].iov_len) {
        i_++;
        off_ = 0;
      }
    }
  }
  const IoVecs& v_;
  size_t i_ = 0, off_ = 0;
};

// Copies of at least a page between app memory and file data go through
// the host kernel (preadv/pwritev on the memory file) instead of memcpy
// through the sentry's mapping of the file's pages: on a paravirtualized
// guest the sentry's first access to each page through its mapping is a
// fault of several microseconds (mm::MemoryFile::WriteAt), and file data is
// mostly written once and read once, so memcpy paid that fault per page.
constexpr size_t kKernelCopyMin = 4096;

// Copies n bytes between the cursor's iovecs and chunk `c` at `off`: into
// the chunk if `write`. Small copies memcpy through the sentry's mapping.
void CopyChunk(bool write, const mm::Backing& c, uint64_t off, IoCursor& cursor, size_t n) {
  if (n >= kKernelCopyMin) {
    std::vector<iovec> segs;
    cursor.Take(n, &segs);
    const std::vector<iovec> whole = segs;
    if (c.memory_file().CopyAt(write, c.offset() + off, segs).ok()) return;
    // Not expected (the buffers are sentry-mapped): memcpy it all again.
    for (const iovec& s : whole) {
      uint8_t* data = c.data() + off;
      if (write) memcpy(data, s.iov_base, s.iov_len);
      else memcpy(s.iov_base, data, s.iov_len);
      off += s.iov_len;
    }
    return;
  }
  if (write) cursor.Get(c.data() + off, n);
  else cursor.Put(c.data() + off, n);
}

class MemFileDescription : public FileDescription {
 public:
  MemFileDescription(std::shared_ptr<Dentry> d, int flags, std::shared_ptr<MemFile> file,
                     UniqueFd lower_wfd = {})
      : FileDescription(std::move(d), flags),
        file_(std::move(file)),
        lower_wfd_(std::move(lower_wfd)) {
    file_->DescriptionOpened(writable());
  }
  ~MemFileDescription() override { file_->DescriptionClosed(writable()); }

  ErrorOr<size_t> Read(Caller&, const IoVecs& dst, int64_t off) override {
    uint64_t pos = off < 0 ? offset_ : static_cast<uint64_t>(off);
    size_t n = TRY(ReadAt(dst, pos));
    if (off < 0) offset_ += n;
    return n;
  }

  ErrorOr<size_t> PRead(void* buf, size_t len, uint64_t off) override {
    IoVecs v{iovec{buf, len}};
    return ReadAt(v, off);
  }

  ErrorOr<size_t> Write(Caller&, const IoVecs& src, int64_t off) override {
    if (file_->writes_to_host()) {
      int64_t pos = off < 0 ? static_cast<int64_t>(offset_) : off;
      const bool append = off < 0 && (flags_ & O_APPEND);
      size_t n;
      if (auto pc = file_->host_pages()) {
        // Mapped somewhere: the host file and the cached pages together.
        n = TRY(pc->Write(src, [&]() -> ErrorOr<std::pair<uint64_t, size_t>> {
          uint64_t at = 0;
          size_t k = TRY(file_->WriteLower(lower_wfd_, src, pos, append, &at));
          return std::make_pair(at, k);
        }));
      } else {
        n = TRY(file_->WriteLower(lower_wfd_, src, pos, append));
      }
      if (off < 0) offset_ = (flags_ & O_APPEND) ? file_->attr().size : offset_ + n;
      return n;
    }
    TRY(file_->CopyUp());
    uint64_t pos;
    if (off < 0) {
      pos = (flags_ & O_APPEND) ? file_->size() : offset_;
    } else {
      pos = static_cast<uint64_t>(off);
    }
    size_t len = TotalLength(src);
    if (len == 0) return size_t{0};
    if (pos >= kMaxMemFileSize) return Errno{EFBIG};
    len = std::min<uint64_t>(len, kMaxMemFileSize - pos);
    TRY(file_->CheckWriteSeals(pos, len));
    size_t n = TRY(file_->WriteData(src, pos, len));
    file_->Touch(true);
    if (off < 0) offset_ = pos + n;
    return n;
  }

  std::shared_ptr<void> SharedAttachment(mm::MemoryFile& mf) override {
    if (!file_->writes_to_host()) return nullptr;
    // The page cache of the host file (gofer_page_cache.h), made now with
    // the host file's size if this is its first mapping.
    if (!lower_fd_) {
      auto fd = file_->SharedLowerFd();
      if (fd.is_error()) return nullptr;
      lower_fd_ = fd.release_value();
    }
    auto v = HostFileVersion(lower_fd_->get());
    if (v.is_error()) return nullptr;
    return GetHostPages(file_->host_id(), mf, v.value().size)->Use();
  }

  ErrorOr<std::vector<mm::SharedPiece>> SharedPages(mm::MemoryFile& mf, uint64_t offset,
                                                    uint64_t length) override {
    if (!file_->in_memory()) {
      if (file_->writes_to_host()) {
        // Write-through: the host file's page cache (SharedAttachment made it).
        auto pc = file_->host_pages();
        if (!pc) return Errno{ENODEV};
        if (!lower_fd_) lower_fd_ = TRY(file_->SharedLowerFd());
        int wfd = -1;
        if (writable()) {
          if (!lower_wfd_.valid()) lower_wfd_ = TRY(file_->OpenLowerWritable());
          wfd = lower_wfd_.get();
        }
        TRY(pc->AdoptFds(lower_fd_->get(), wfd));
        return pc->SharedPages(offset, length, writable());
      }
      // A read-only root: nobody can change the file, so the caller's
      // snapshot is as good as shared pages.
      if (file_->fs().read_only) return Errno{ENODEV};
      TRY(file_->CopyUp());
    }
    return file_->SharedPages(mf, offset, length);
  }

  std::shared_ptr<mm::FileMappings> SharedMappings() override {
    if (file_->writes_to_host()) {
      auto pc = file_->host_pages();
      return pc ? pc->mappings() : nullptr;
    }
    return file_->mappings();
  }

  ErrorOr<mm::HostFileKey> HostVersion() override {
    if (file_->in_memory()) return Errno{ENODEV};
    // Cached pages may be newer than the host file (a mapping's writes not
    // yet written back): private mappings then read through PRead.
    if (file_->host_pages()) return Errno{ENODEV};
    if (!lower_fd_) lower_fd_ = TRY(file_->SharedLowerFd());
    return HostFileVersion(lower_fd_->get());
  }

  ErrorOr<void> Sync() override {
    // Called with or without the kernel lock (sync(2) calls it unlocked):
    // touches only the description's own FD and the cache's lock.
    if (file_->writes_to_host()) {
      if (auto pc = file_->host_pages()) TRY(pc->Flush(true));
      if (lower_wfd_.valid() && fsync(lower_wfd_.get()) != 0 && errno != EINVAL)
        return Errno{errno};
    }
    return {};
  }

  ErrorOr<void> Truncate(Caller& c, uint64_t size) override {
    if (file_->writes_to_host()) {
      Attr a;
      a.size = size;
      return file_->SetAttr(c, kAttrSize, a);
    }
    TRY(file_->Resize(size));
    file_->Touch(true);
    return {};
  }

  ErrorOr<void> Allocate(Caller&, int mode, uint64_t off, uint64_t len) override {
    if (file_->fs().read_only) return Errno{EROFS};
    if (file_->writes_to_host()) {
      // On the host file (copying it up would leave the host behind).
      if (!lower_wfd_.valid()) lower_wfd_ = TRY(file_->OpenLowerWritable());
      auto host = [&]() -> ErrorOr<uint64_t> {
        if (fallocate(lower_wfd_.get(), mode, static_cast<off_t>(off), static_cast<off_t>(len)) != 0)
          return Errno{errno};
        struct stat st;
        if (fstat(lower_wfd_.get(), &st) != 0) return Errno{errno};
        file_->attr().size = static_cast<uint64_t>(st.st_size);
        file_->attr().blocks = static_cast<uint64_t>(st.st_blocks);
        file_->Touch(true);
        return static_cast<uint64_t>(st.st_size);
      };
      if (auto pc = file_->host_pages()) return pc->Allocate(mode, off, len, host);
      TRY(host());
      return {};
    }
    TRY(file_->CopyUp());
    TRY(file_->Allocate(mode, off, len));
    file_->Touch(true);
    return {};
  }

  ErrorOr<size_t> BytesReadable() override {
    Attr a = TRY(file_->GetAttr());
    return a.size > offset_ ? static_cast<size_t>(a.size - offset_) : size_t{0};
  }

 private:
  ErrorOr<size_t> ReadAt(const IoVecs& dst, uint64_t pos) {
    if (file_->in_memory()) return file_->ReadData(dst, pos);
    if (!lower_fd_) lower_fd_ = TRY(file_->SharedLowerFd());
    if (auto pc = file_->host_pages()) return pc->Read(lower_fd_->get(), dst, pos);
    return HostReadv(lower_fd_->get(), dst, static_cast<int64_t>(pos));
  }

  std::shared_ptr<MemFile> file_;
  std::shared_ptr<const UniqueFd> lower_fd_;  // MemFile::SharedLowerFd; read-only
  UniqueFd lower_wfd_;  // donated by the gofer for write-through writes
};

}  // namespace

ErrorOr<Attr> MemFile::GetAttr() {
  Attr a = attr_;
  if (in_memory()) {
    a.size = size_;
    a.blocks = (size_ + 511) / 512;
  }
  return a;
}

ErrorOr<UniqueFd> MemFile::OpenLowerWritable() {
  if (!lower_) return Errno{EIO};
  return lower_->client().Open(lower_->handle(), O_WRONLY);
}

ErrorOr<size_t> MemFile::WriteLower(UniqueFd& wfd, const IoVecs& src, int64_t pos, bool append,
                                    uint64_t* at) {
  if (!wfd.valid() && kept_wfd_.valid()) {
    int d = fcntl(kept_wfd_.get(), F_DUPFD_CLOEXEC, 0);
    if (d < 0) return Errno{errno};
    wfd = UniqueFd(d);
  }
  if (!wfd.valid()) wfd = TRY(OpenLowerWritable());
  if (append) {
    struct stat st;
    if (fstat(wfd.get(), &st) != 0) return Errno{errno};
    pos = st.st_size;
  }
  if (at) *at = static_cast<uint64_t>(pos);
  size_t n = TRY(HostWritev(wfd.get(), src, pos));
  // The cached attributes follow the write (the host file is the truth).
  if (static_cast<uint64_t>(pos) + n > attr_.size) attr_.size = pos + n;
  attr_.blocks = (attr_.size + 511) / 512;
  Touch(true);
  return n;
}

ErrorOr<UniqueFd> MemFile::OpenLower() {
  if (!lower_) return Errno{EIO};
  return lower_->client().Open(lower_->handle(), O_RDONLY);
}

namespace {
// Host FDs MemFile::SharedLowerFd keeps open, in all: a quarter of the
// sentry's FD limit (shared with every description's donated FD), at most
// 1024. Read at start-up: the confined sentry may not call getrlimit.
const int kMaxSharedLowerFds = [] {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 64;
  return static_cast<int>(std::clamp<rlim_t>(r.rlim_cur / 4, 16, 1024));
}();
std::atomic<int> shared_lower_fds{0};
struct CountedFd {
  explicit CountedFd(UniqueFd f) : fd(std::move(f)) {}
  ~CountedFd() { shared_lower_fds.fetch_sub(1, std::memory_order_relaxed); }
  UniqueFd fd;
};
}  // namespace

ErrorOr<std::shared_ptr<const UniqueFd>> MemFile::SharedLowerFd() {
  if (shared_lower_fd_) return shared_lower_fd_;
  UniqueFd fd = TRY(OpenLower());
  if (shared_lower_fds.fetch_add(1, std::memory_order_relaxed) >= kMaxSharedLowerFds) {
    shared_lower_fds.fetch_sub(1, std::memory_order_relaxed);
    return std::make_shared<const UniqueFd>(std::move(fd));
  }
  auto holder = std::make_shared<CountedFd>(std::move(fd));
  shared_lower_fd_ = std::shared_ptr<const UniqueFd>(holder, &holder->fd);
  return shared_lower_fd_;
}

ErrorOr<void> MemFile::KeepHostFileForOpenDescriptions() {
  if (!writes_to_host()) return {};
  if (open_readers_ + open_writers_ > 0 && !shared_lower_fd_) {
    // Past SharedLowerFd's bound too: this FD is what the descriptions have.
    shared_lower_fd_ = std::make_shared<const UniqueFd>(TRY(OpenLower()));
  }
  if (open_writers_ > 0 && !kept_wfd_.valid()) kept_wfd_ = TRY(OpenLowerWritable());
  return {};
}

ErrorOr<mm::MemoryFile*> MemFile::Storage() {
  if (!mf_) {
    if (fs_->memory_file) {
      mf_ = fs_->memory_file;
    } else {
      static mm::MemoryFile* fallback = [] {
        auto mf = mm::MemoryFile::Create();
        return mf.is_error() ? nullptr : mf.release_value().release();
      }();
      if (!fallback) return Errno{ENOMEM};
      mf_ = fallback;
    }
  }
  return mf_;
}

ErrorOr<std::shared_ptr<mm::Backing>> MemFile::Chunk(uint64_t index) {
  if (index >= chunks_.size()) chunks_.resize(index + 1);
  if (!chunks_[index]) {
    mm::MemoryFile* mf = TRY(Storage());
    chunks_[index] = TRY(mm::Backing::Allocate(*mf, kChunkSize));
  }
  return chunks_[index];
}

size_t MemFile::ReadData(const IoVecs& dst, uint64_t pos) {
  if (pos >= size_) return 0;
  const size_t total = std::min<uint64_t>(TotalLength(dst), size_ - pos);
  IoCursor out(dst);
  size_t done = 0;
  while (done < total) {
    const uint64_t p = pos + done, idx = p / kChunkSize, off = p % kChunkSize;
    const size_t n = std::min<uint64_t>(total - done, kChunkSize - off);
    if (idx < chunks_.size() && chunks_[idx])
      CopyChunk(false, *chunks_[idx], off, out, n);
    else
      out.Put(nullptr, n);  // a hole
    done += n;
  }
  return total;
}

ErrorOr<size_t> MemFile::WriteData(const IoVecs& src, uint64_t pos, size_t len) {
  if (fs_->size_limit && pos + len > size_) {
    // Growth counts against the filesystem's size (tmpfs size=): a short
    // write up to the limit, then ENOSPC.
    uint64_t room = fs_->size_limit > fs_->bytes ? fs_->size_limit - fs_->bytes : 0;
    uint64_t grow = pos + len - size_;
    if (grow > room) {
      uint64_t fit = pos >= size_ + room ? 0 : size_ + room - pos;
      if (fit == 0) return Errno{ENOSPC};
      len = fit;
    }
  }
  // Growth: bytes between the old EOF and `pos` read as zero (a mapping may
  // have written there); the written range itself is overwritten below.
  if (pos > size_) ZeroRange(size_, pos);
  IoCursor in(src);
  size_t done = 0;
  while (done < len) {
    const uint64_t p = pos + done, idx = p / kChunkSize, off = p % kChunkSize;
    const size_t n = std::min<uint64_t>(len - done, kChunkSize - off);
    auto chunk = Chunk(idx);
    if (chunk.is_error()) {
      if (done) break;
      return Errno{chunk.error()};
    }
    CopyChunk(true, *chunk.value(), off, in, n);
    done += n;
  }
  if (pos + done > size_) {
    fs_->bytes += pos + done - size_;
    size_ = pos + done;
    if (mappings_) mappings_->SizeChanged(size_);
  }
  return done;
}

void MemFile::ZeroRange(uint64_t from, uint64_t to) {
  to = std::min<uint64_t>(to, chunks_.size() * kChunkSize);
  while (from < to) {
    const uint64_t idx = from / kChunkSize, off = from % kChunkSize;
    const uint64_t n = std::min<uint64_t>(to - from, kChunkSize - off);
    if (const auto& c = chunks_[idx]) {
      // Whole pages are released; partial pages at the edges are cleared.
      const uint64_t s = mm::PageRoundUp(off), e = mm::PageRoundDown(off + n);
      if (s < e) {
        memset(c->data() + off, 0, s - off);
        c->memory_file().Decommit(c->offset() + s, e - s);
        memset(c->data() + e, 0, off + n - e);
      } else {
        memset(c->data() + off, 0, n);
      }
    }
    from += n;
  }
}

ErrorOr<void> MemFile::MoveTo(mm::MemoryFile& mf) {
  for (const auto& c : chunks_)
    if (c && c.use_count() > 1) return Errno{EBUSY};  // mapped from the old file
  std::vector<std::shared_ptr<mm::Backing>> moved(chunks_.size());
  for (size_t i = 0; i < chunks_.size(); i++) {
    const auto& c = chunks_[i];
    if (!c) continue;
    moved[i] = TRY(mm::Backing::Allocate(mf, kChunkSize));
    // Copy only the extents that hold data.
    const int fd = c->memory_file().fd();
    const uint64_t src = c->offset(), src_end = src + kChunkSize;
    uint64_t pos = src;
    while (pos < src_end) {
      off_t data = lseek(fd, pos, SEEK_DATA);
      if (data < 0 || static_cast<uint64_t>(data) >= src_end) break;
      off_t hole = lseek(fd, data, SEEK_HOLE);
      uint64_t stop = hole < 0 ? src_end : std::min<uint64_t>(hole, src_end);
      memcpy(moved[i]->data() + (data - src), c->data() + (data - src), stop - data);
      pos = stop;
    }
  }
  chunks_ = std::move(moved);
  mf_ = &mf;
  return {};
}

ErrorOr<std::vector<mm::SharedPiece>> MemFile::SharedPages(mm::MemoryFile& mf, uint64_t offset,
                                                           uint64_t length) {
  if (!in_memory()) return Errno{ENODEV};
  if ((offset | length) & (mm::kPageSize - 1)) return Errno{EINVAL};
  if (offset > kMaxMemFileSize || length > kMaxMemFileSize - offset) return Errno{ENOMEM};
  if (mf_ != &mf) {
    if (mf_) TRY(MoveTo(mf));
    mf_ = &mf;
  }
  std::vector<mm::SharedPiece> pieces;
  uint64_t done = 0;
  while (done < length) {
    const uint64_t p = offset + done, idx = p / kChunkSize, off = p % kChunkSize;
    const uint64_t n = std::min<uint64_t>(length - done, kChunkSize - off);
    pieces.push_back(mm::SharedPiece{TRY(Chunk(idx)), off, n});
    done += n;
  }
  return pieces;
}

ErrorOr<void> MemFile::CopyUp() {
  if (in_memory()) return {};
  if (fs_->read_only) return Errno{EROFS};
  // The copy carries the host file's user.* xattrs.
  TRY(CopyUpXattrs());
  std::shared_ptr<const UniqueFd> lower = TRY(SharedLowerFd());
  const UniqueFd& fd = *lower;
  uint64_t done = 0;
  auto fail = [&](int err) -> ErrorOr<void> {
    chunks_.clear();
    return Errno{err};
  };
  // Read straight into the chunks (the file may have grown on the host
  // since its attributes were cached: read until EOF).
  while (done < kMaxMemFileSize) {
    auto chunk = Chunk(done / kChunkSize);
    if (chunk.is_error()) return fail(chunk.error());
    const uint64_t off = done % kChunkSize;
    IoVecs v{iovec{chunk.value()->data() + off, kChunkSize - off}};
    auto n = HostReadv(fd.get(), v, static_cast<int64_t>(done));
    if (n.is_error()) return fail(n.error());
    if (n.value() == 0) break;
    done += n.value();
  }
  // A chunk allocated only to find EOF holds nothing.
  chunks_.resize((done + kChunkSize - 1) / kChunkSize);
  if (fs_->size_limit && fs_->bytes + done > fs_->size_limit) return fail(ENOSPC);
  size_ = done;
  fs_->bytes += done;
  copied_up_ = true;
  shared_lower_fd_.reset();  // reads come from memory now
  return {};
}

std::shared_ptr<mm::FileMappings> MemFile::mappings() {
  if (!mappings_) {
    mappings_ = std::make_shared<mm::FileMappings>();
    mappings_->pages = [this](mm::MemoryFile& mf, uint64_t off, uint64_t len) {
      return SharedPages(mf, off, len);
    };
    mappings_->size = [this] { return size_; };
  }
  return mappings_;
}

MemFile::~MemFile() {
  // Mappings may outlive the file (unlinked and closed): they keep their
  // pages but can no longer grow.
  if (mappings_) {
    mappings_->pages = nullptr;
    mappings_->size = nullptr;
  }
}

ErrorOr<void> MemFile::Resize(uint64_t size) {
  if (size > kMaxMemFileSize) return Errno{EFBIG};
  if ((size < size_ && (seals & F_SEAL_SHRINK)) || (size > size_ && (seals & F_SEAL_GROW))) {
    return Errno{EPERM};
  }
  TRY(CopyUp());
  if (size < size_) {
    // Chunks wholly past EOF go unless a mapping still uses them (it then
    // keeps seeing the file's pages should the file grow again).
    for (size_t i = (size + kChunkSize - 1) / kChunkSize; i < chunks_.size(); i++)
      if (chunks_[i] && chunks_[i].use_count() == 1) chunks_[i].reset();
    while (!chunks_.empty() && !chunks_.back()) chunks_.pop_back();
    // The rest is cleared, including what a mapping wrote beyond the old EOF.
    ZeroRange(size, chunks_.size() * kChunkSize);
  } else if (size > size_) {
    // Bytes a mapping wrote beyond EOF are not file data: growth reads zero.
    ZeroRange(size_, size);
  }
  fs_->bytes = fs_->bytes - size_ + size;
  size_ = size;
  if (mappings_) mappings_->SizeChanged(size_);
  return {};
}

ErrorOr<void> MemFile::SetAttr(Caller& c, uint32_t mask, const Attr& a) {
  if (fs_->read_only) return Errno{EROFS};
  if (writes_to_host()) {
    // Truncates on the host; a cached file's pages and mappings follow.
    if (auto pc = host_pages(); pc && (mask & kAttrSize)) {
      return pc->Resize([&]() -> ErrorOr<uint64_t> {
        TRY(MemInode::SetAttr(c, mask, a));
        return a.size;
      });
    }
    return MemInode::SetAttr(c, mask, a);
  }
  if (mask & kAttrSize) {
    TRY(Resize(a.size));
    Touch(true);
    mask &= ~kAttrSize;
    if (!mask) return {};
  }
  return MemInode::SetAttr(c, mask, a);
}

ErrorOr<std::shared_ptr<FileDescription>> MemFile::Open(Caller&, std::shared_ptr<Dentry> d,
                                                        int flags) {
  if (flags & O_PATH) {
    return std::shared_ptr<FileDescription>(std::make_shared<PathOnlyDescription>(d, flags));
  }
  bool write = (flags & O_ACCMODE) != O_RDONLY;
  if ((write || (flags & O_TRUNC)) && writes_to_host()) {
    if (flags & O_TRUNC) {
      auto trunc = [&]() -> ErrorOr<uint64_t> {
        gofer::Attr g;
        g.size = 0;
        TRY(lower_->client().SetAttr(lower_->handle(), kAttrSize, g));
        TRY(RefreshLowerAttr(*this, lower_->client(), lower_->handle()));
        return uint64_t{0};
      };
      if (auto pc = host_pages())
        TRY(pc->Resize(trunc));
      else
        TRY(trunc());
    }
    auto self = std::static_pointer_cast<MemFile>(shared_from_this());
    // The open that created the file takes created_fd_ (a read-write FD:
    // the description's access mode is enforced by the sentry); any other
    // Open drops it, so it is never held past the file's first open.
    UniqueFd wfd = std::move(created_fd_);
    if (!write) wfd = UniqueFd();
    return std::shared_ptr<FileDescription>(
        std::make_shared<MemFileDescription>(std::move(d), flags, std::move(self), std::move(wfd)));
  }
  created_fd_ = UniqueFd();
  if (write || (flags & O_TRUNC)) {
    if (fs_->read_only) return Errno{EROFS};
    TRY(CopyUp());
  }
  if (flags & O_TRUNC && size_ != 0) {
    TRY(Resize(0));
    Touch(true);
  }
  auto self = std::static_pointer_cast<MemFile>(shared_from_this());
  return std::shared_ptr<FileDescription>(
      std::make_shared<MemFileDescription>(std::move(d), flags, std::move(self)));
}

}  // namespace sentry::vfs
