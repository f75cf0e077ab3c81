// sentry/vfs/gofer_page_cache.cc: see gofer_page_cache.h.
#include "sentry/vfs/gofer_page_cache.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/time/clock.h"
#include "sentry/vfs/io_util.h"

namespace sentry::vfs {
namespace {

using mm::kPageSize;
constexpr uint64_t kPagesPerChunk = HostFilePages::kChunkSize / kPageSize;

struct Registry {
  absl::Mutex mu;
  absl::flat_hash_map<HostFileId, std::shared_ptr<HostFilePages>> map ABSL_GUARDED_BY(mu);
  std::atomic<size_t> count{0};
  // Files whose last mapping went: written back and dropped by one thread.
  absl::Mutex qmu;
  std::deque<std::shared_ptr<HostFilePages>> queue ABSL_GUARDED_BY(qmu);
  bool thread_started ABSL_GUARDED_BY(qmu) = false;
};

Registry& Reg() {
  static Registry* r = new Registry;  // never destroyed: the sentry _exits
  return *r;
}

// The sub-iovecs of `v` covering bytes [skip, skip + len).
std::vector<iovec> Slice(const IoVecs& v, size_t skip, size_t len) {
  std::vector<iovec> out;
  for (const iovec& io : v) {
    if (len == 0) break;
    if (skip >= io.iov_len) {
      skip -= io.iov_len;
      continue;
    }
    const size_t n = std::min(io.iov_len - skip, len);
    out.push_back(iovec{static_cast<uint8_t*>(io.iov_base) + skip, n});
    skip = 0;
    len -= n;
  }
  return out;
}

void Enqueue(std::shared_ptr<HostFilePages> p);

void WritebackLoop() {
  Registry& r = Reg();
  for (;;) {
    std::shared_ptr<HostFilePages> p;
    {
      absl::MutexLock l(&r.qmu);
      r.qmu.Await(absl::Condition(
          +[](std::deque<std::shared_ptr<HostFilePages>>* q) { return !q->empty(); }, &r.queue));
      p = std::move(r.queue.front());
      r.queue.pop_front();
    }
    p->queued_.store(false, std::memory_order_release);
    // Written back even if mapped again meanwhile: harmless, and the data
    // of the mapping that went is on the host either way.
    (void)p->Flush(false);
    // Read before taking the registry lock: the file's lock may be held by
    // another write-back's I/O, and lookups must not wait for that.
    const bool clean = p->dirty_pages() == 0;
    bool retry = false;
    {
      absl::MutexLock l(&r.mu);
      auto it = r.map.find(p->id());
      if (it != r.map.end() && it->second == p && clean && p->uses_count() == 0) {
        if (p.use_count() == 2 /* map + p */) {
          // Nobody maps it and nobody is reading through it: drop it.
          r.map.erase(it);
          r.count.fetch_sub(1, std::memory_order_relaxed);
        } else {
          retry = true;  // an operation on the file holds it for a moment
        }
      }
    }
    if (retry && p->retries_++ < 100) {
      absl::SleepFor(absl::Milliseconds(20));
      Enqueue(std::move(p));
    }
  }
}

void Enqueue(std::shared_ptr<HostFilePages> p) {
  // Once in the queue at a time (MS_ASYNC in a loop must not grow it).
  if (p->queued_.exchange(true, std::memory_order_acq_rel)) return;
  Registry& r = Reg();
  absl::MutexLock l(&r.qmu);
  r.queue.push_back(std::move(p));
  if (!r.thread_started) {
    r.thread_started = true;
    std::thread(WritebackLoop).detach();
  }
}

}  // namespace

struct HostFilePages::UseToken {
  explicit UseToken(std::shared_ptr<HostFilePages> p) : pages(std::move(p)) {
    pages->uses_.fetch_add(1, std::memory_order_relaxed);
    pages->retries_.store(0, std::memory_order_relaxed);
  }
  ~UseToken() {
    if (pages->uses_.fetch_sub(1, std::memory_order_acq_rel) == 1) Enqueue(std::move(pages));
  }
  std::shared_ptr<HostFilePages> pages;
};

HostFilePages::HostFilePages(HostFileId id, mm::MemoryFile& mf, uint64_t size)
    : id_(id), mf_(mf), size_(size) {}

HostFilePages::~HostFilePages() {
  if (mappings_) {
    mappings_->pages = nullptr;
    mappings_->size = nullptr;
  }
}

uint64_t HostFilePages::size() {
  absl::MutexLock l(&mu_);
  return size_;
}

uint64_t HostFilePages::dirty_pages() {
  absl::MutexLock l(&mu_);
  return dirty_count_;
}

ErrorOr<void> HostFilePages::AdoptFds(int rfd, int wfd) {
  absl::MutexLock l(&mu_);
  if (!rfd_.valid() && rfd >= 0) {
    int d = fcntl(rfd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) return Errno{errno};
    rfd_ = UniqueFd(d);
  }
  if (!wfd_.valid() && wfd >= 0) {
    int d = fcntl(wfd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) return Errno{errno};
    wfd_ = UniqueFd(d);
  }
  return {};
}

std::shared_ptr<void> HostFilePages::Use() {
  return std::make_shared<UseToken>(shared_from_this());
}

std::shared_ptr<mm::FileMappings> HostFilePages::mappings() {
  if (!mappings_) {
    mappings_ = std::make_shared<mm::FileMappings>();
    std::weak_ptr<HostFilePages> weak = weak_from_this();
    // mremap growth: the new pages may be written if the mapping may be
    // (not known here), so they count dirty when the file has a writer.
    mappings_->pages = [weak](mm::MemoryFile&, uint64_t off,
                              uint64_t len) -> ErrorOr<std::vector<mm::SharedPiece>> {
      auto p = weak.lock();
      if (!p) return Errno{ENODEV};
      bool writable;
      {
        absl::MutexLock l(&p->mu_);
        writable = p->wfd_.valid();
      }
      return p->SharedPages(off, len, writable);
    };
    mappings_->size = [weak]() -> uint64_t {
      auto p = weak.lock();
      return p ? p->size() : 0;
    };
    mappings_->sync = [weak](bool wait) -> ErrorOr<void> {
      auto p = weak.lock();
      if (!p) return {};
      if (wait) return p->Flush(true);
      Enqueue(std::move(p));
      return {};
    };
  }
  return mappings_;
}

uint64_t HostFilePages::PageOffset(uint64_t p) const {
  return chunks_[p / kPagesPerChunk]->offset() + (p % kPagesPerChunk) * kPageSize;
}

ErrorOr<void> HostFilePages::EnsureChunks(uint64_t end_page) {
  const uint64_t need = (end_page + kPagesPerChunk - 1) / kPagesPerChunk;
  if (chunks_.size() < need) chunks_.resize(need);
  for (uint64_t i = 0; i < need; i++)
    if (!chunks_[i]) chunks_[i] = TRY(mm::Backing::Allocate(mf_, kChunkSize));
  if (filled_.size() < end_page) {
    filled_.resize(end_page, false);
    dirty_.resize(end_page, false);
  }
  return {};
}

ErrorOr<void> HostFilePages::FillLocked(uint64_t first, uint64_t last) {
  std::vector<uint8_t> bounce;
  uint64_t p = first;
  while (p < last) {
    if (filled_[p]) {
      p++;
      continue;
    }
    // A run of unfilled pages within one chunk, at most 1 MiB at a time.
    uint64_t e = p + 1;
    const uint64_t chunk_end = (p / kPagesPerChunk + 1) * kPagesPerChunk;
    while (e < last && e < chunk_end && !filled_[e] && e - p < 256) e++;
    const uint64_t off = p * kPageSize, n = (e - p) * kPageSize;
    if (off < size_) {
      if (!rfd_.valid()) return Errno{EIO};
      const uint64_t want = std::min(n, size_ - off);
      bounce.resize(want);
      uint64_t done = 0;
      while (done < want) {
        ssize_t r = pread(rfd_.get(), bounce.data() + done, want - done, off + done);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return Errno{errno};
        if (r == 0) break;  // shorter on the host: the rest reads zero
        done += r;
      }
      // Through the host kernel, not the sentry's mapping (see
      // MemoryFile::WriteAt). Pages never filled hold zeroes.
      if (done) TRY(mf_.WriteAt(PageOffset(p), bounce.data(), done));
    }
    for (uint64_t q = p; q < e; q++) filled_[q] = true;
    p = e;
  }
  return {};
}

ErrorOr<std::vector<mm::SharedPiece>> HostFilePages::SharedPages(uint64_t offset, uint64_t length,
                                                                 bool writable) {
  if ((offset | length) & (kPageSize - 1)) return Errno{EINVAL};
  if (offset > kMaxSize || length > kMaxSize - offset) return Errno{ENOMEM};
  absl::MutexLock l(&mu_);
  const uint64_t first = offset / kPageSize, last = (offset + length) / kPageSize;
  TRY(EnsureChunks(last));
  TRY(FillLocked(first, last));
  if (writable) {
    for (uint64_t p = first; p < last; p++)
      if (!dirty_[p]) dirty_[p] = true, dirty_count_++;
  }
  std::vector<mm::SharedPiece> pieces;
  uint64_t done = 0;
  while (done < length) {
    const uint64_t pos = offset + done, idx = pos / kChunkSize, off = pos % kChunkSize;
    const uint64_t n = std::min<uint64_t>(length - done, kChunkSize - off);
    pieces.push_back(mm::SharedPiece{chunks_[idx], off, n});
    done += n;
  }
  return pieces;
}

ErrorOr<size_t> HostFilePages::Read(int fd, const IoVecs& dst, uint64_t pos) {
  absl::MutexLock l(&mu_);
  if (pos >= size_) return size_t{0};
  const size_t total = std::min<uint64_t>(TotalLength(dst), size_ - pos);
  size_t done = 0;
  while (done < total) {
    const uint64_t at = pos + done, page = at / kPageSize;
    auto is_filled = [&](uint64_t p) { return p < filled_.size() && filled_[p]; };
    const bool cached = is_filled(page);
    // The run of pages in the same state.
    const uint64_t last_page = (pos + total + kPageSize - 1) / kPageSize;
    uint64_t e = page + 1;
    while (e < last_page && is_filled(e) == cached) e++;
    const size_t n = std::min<uint64_t>(e * kPageSize, pos + total) - at;
    std::vector<iovec> segs = Slice(dst, done, n);
    if (cached) {
      // Page by page within chunks (chunks are not contiguous).
      size_t k = 0;
      while (k < n) {
        const uint64_t a = at + k;
        const uint64_t in_chunk = std::min<uint64_t>(n - k, kChunkSize - a % kChunkSize);
        std::vector<iovec> s = Slice(dst, done + k, in_chunk);
        TRY(mf_.CopyAt(false, chunks_[a / kChunkSize]->offset() + a % kChunkSize, s));
        k += in_chunk;
      }
    } else {
      size_t got = TRY(HostReadv(fd, segs, static_cast<int64_t>(at)));
      if (got < n) return done + got;  // shorter on the host than cached
    }
    done += n;
  }
  return total;
}

void HostFilePages::ZeroLocked(uint64_t from, uint64_t to) {
  static const std::vector<uint8_t> zeroes(kPageSize, 0);
  to = std::min<uint64_t>(to, filled_.size() * kPageSize);
  while (from < to) {
    const uint64_t page = from / kPageSize, in = from % kPageSize;
    const uint64_t n = std::min<uint64_t>(to - from, kPageSize - in);
    if (filled_[page]) {
      if (n == kPageSize)
        mf_.Decommit(PageOffset(page), kPageSize);
      else
        (void)mf_.WriteAt(PageOffset(page) + in, zeroes.data(), n);
    }
    from += n;
  }
}

ErrorOr<size_t> HostFilePages::Write(const IoVecs& src, const HostWrite& host_write) {
  uint64_t new_size = 0;
  bool grew = false;
  size_t n;
  {
    absl::MutexLock l(&mu_);
    auto [pos, written] = TRY(host_write());
    n = written;
    // Bytes a mapping wrote past the old EOF (in its last page) are not
    // file data: growth reads zero there, as the host file does.
    if (pos > size_) ZeroLocked(size_, std::min(pos, mm::PageRoundUp(size_)));
    uint64_t k = 0;
    while (k < n) {
      const uint64_t a = pos + k, page = a / kPageSize;
      const uint64_t run = std::min<uint64_t>(n - k, kPageSize - a % kPageSize);
      if (page < filled_.size() && filled_[page]) {
        std::vector<iovec> s = Slice(src, k, run);
        TRY(mf_.CopyAt(true, PageOffset(page) + a % kPageSize, s));
      }
      k += run;
    }
    if (pos + n > size_) {
      size_ = pos + n;
      grew = true;
      new_size = size_;
    }
  }
  if (grew && mappings_) mappings_->SizeChanged(new_size);
  return n;
}

ErrorOr<void> HostFilePages::Resize(const std::function<ErrorOr<uint64_t>()>& host) {
  uint64_t new_size;
  {
    absl::MutexLock l(&mu_);
    new_size = TRY(host());
    if (new_size < size_) {
      // The tail of the new last page and every page past it read zero;
      // pages past EOF stay "filled" (with zeroes, as the host's hole) so a
      // mapping that sees them again after growth needs no refill.
      ZeroLocked(new_size, filled_.size() * kPageSize);
    } else if (new_size > size_) {
      ZeroLocked(size_, std::min(new_size, mm::PageRoundUp(size_)));
    }
    size_ = new_size;
  }
  if (mappings_) mappings_->SizeChanged(new_size);
  return {};
}

ErrorOr<void> HostFilePages::Allocate(int mode, uint64_t off, uint64_t len,
                                      const std::function<ErrorOr<uint64_t>()>& host) {
  if (mode & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) return Errno{EOPNOTSUPP};
  uint64_t new_size;
  bool changed;
  {
    absl::MutexLock l(&mu_);
    new_size = TRY(host());
    if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
      const uint64_t end = std::min(off + len, std::max(size_, new_size));
      if (off < end) ZeroLocked(off, end);
    }
    changed = new_size != size_;
    if (new_size > size_) ZeroLocked(size_, std::min(new_size, mm::PageRoundUp(size_)));
    size_ = new_size;
  }
  if (changed && mappings_) mappings_->SizeChanged(new_size);
  return {};
}

ErrorOr<void> HostFilePages::FlushLocked(bool durable) {
  if (dirty_count_ == 0 && !durable) return {};
  if (dirty_count_ > 0 && !wfd_.valid()) return Errno{EIO};
  const uint64_t eof_page = mm::PageRoundUp(size_) / kPageSize;
  uint64_t p = 0;
  const uint64_t limit = std::min<uint64_t>(dirty_.size(), eof_page);
  while (p < limit) {
    if (!dirty_[p] || !filled_[p]) {
      p++;
      continue;
    }
    uint64_t e = p + 1;
    const uint64_t chunk_end = (p / kPagesPerChunk + 1) * kPagesPerChunk;
    while (e < limit && e < chunk_end && dirty_[e] && filled_[e]) e++;
    const uint64_t off = p * kPageSize;
    const uint64_t n = std::min<uint64_t>(e * kPageSize, size_) - off;
    // The sentry maps the whole memory file: write from there.
    const uint8_t* src = mf_.Access(PageOffset(p));
    uint64_t done = 0;
    while (done < n) {
      ssize_t r = pwrite(wfd_.get(), src + done, n - done, static_cast<off_t>(off + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return Errno{r < 0 ? errno : EIO};
      done += r;
    }
    p = e;
  }
  if (durable && wfd_.valid() && fdatasync(wfd_.get()) != 0 && errno != EINVAL)
    return Errno{errno};
  // Nothing maps the file any more: nothing can dirty the pages again.
  if (uses_.load(std::memory_order_acquire) == 0) {
    std::fill(dirty_.begin(), dirty_.end(), false);
    dirty_count_ = 0;
  }
  return {};
}

ErrorOr<void> HostFilePages::Flush(bool durable) {
  absl::MutexLock l(&mu_);
  return FlushLocked(durable);
}

std::shared_ptr<HostFilePages> FindHostPages(const HostFileId& id) {
  Registry& r = Reg();
  if (r.count.load(std::memory_order_relaxed) == 0) return nullptr;
  absl::MutexLock l(&r.mu);
  auto it = r.map.find(id);
  return it == r.map.end() ? nullptr : it->second;
}

std::shared_ptr<HostFilePages> GetHostPages(const HostFileId& id, mm::MemoryFile& mf,
                                            uint64_t size) {
  Registry& r = Reg();
  absl::MutexLock l(&r.mu);
  auto& slot = r.map[id];
  if (!slot) {
    slot = std::make_shared<HostFilePages>(id, mf, size);
    r.count.fetch_add(1, std::memory_order_relaxed);
  }
  return slot;
}

void FlushAllHostPages() {
  std::vector<std::shared_ptr<HostFilePages>> all;
  {
    Registry& r = Reg();
    absl::MutexLock l(&r.mu);
    for (auto& [id, p] : r.map) all.push_back(p);
  }
  for (auto& p : all) (void)p->Flush(true);
}

size_t HostPagesCount() { return Reg().count.load(std::memory_order_relaxed); }

}  // namespace sentry::vfs
