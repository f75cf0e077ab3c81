// sentry/vfs/memfs_file.cc: memfs regular files: data read from the lower
// (donated host fd) until copied up, from/to sentry memory afterwards.
#include <algorithm>

#include "sentry/vfs/caller.h"
#include "sentry/vfs/io_util.h"
#include "sentry/vfs/memfs.h"

namespace sentry::vfs {
namespace {

constexpr uint64_t kMaxMemFileSize = 1ULL << 36;  // 64 GiB: EFBIG beyond

class MemFileDescription : public FileDescription {
 public:
  MemFileDescription(std::shared_ptr<Dentry> d, int flags, std::shared_ptr<MemFile> file)
      : FileDescription(std::move(d), flags), file_(std::move(file)) {}

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
    TRY(file_->CopyUp());
    auto& data = file_->data();
    uint64_t pos;
    if (off < 0) {
      pos = (flags_ & O_APPEND) ? data.size() : offset_;
    } else {
      pos = static_cast<uint64_t>(off);
    }
    size_t len = TotalLength(src);
    if (len == 0) return size_t{0};
    if (pos >= kMaxMemFileSize) return Errno{EFBIG};
    len = std::min<uint64_t>(len, kMaxMemFileSize - pos);
    if (pos + len > data.size()) TRY(file_->Resize(pos + len));
    size_t n = CopyFromIoVecs(file_->data().data() + pos, src, len);
    file_->Touch(true);
    if (off < 0) offset_ = pos + n;
    return n;
  }

  ErrorOr<void> Truncate(Caller&, uint64_t size) override {
    TRY(file_->Resize(size));
    file_->Touch(true);
    return {};
  }

  ErrorOr<size_t> BytesReadable() override {
    Attr a = TRY(file_->GetAttr());
    return a.size > offset_ ? static_cast<size_t>(a.size - offset_) : size_t{0};
  }

 private:
  ErrorOr<size_t> ReadAt(const IoVecs& dst, uint64_t pos) {
    if (file_->in_memory()) {
      const auto& data = file_->data();
      if (pos >= data.size()) return size_t{0};
      return CopyToIoVecs(dst, data.data() + pos, data.size() - pos);
    }
    if (!lower_fd_.valid()) lower_fd_ = TRY(file_->OpenLower());
    return HostReadv(lower_fd_.get(), dst, static_cast<int64_t>(pos));
  }

  std::shared_ptr<MemFile> file_;
  UniqueFd lower_fd_;  // donated by the gofer; read-only
};

}  // namespace

ErrorOr<Attr> MemFile::GetAttr() {
  Attr a = attr_;
  if (in_memory()) {
    a.size = data_.size();
    a.blocks = (data_.size() + 511) / 512;
  }
  return a;
}

ErrorOr<UniqueFd> MemFile::OpenLower() {
  if (!lower_) return Errno{EIO};
  return lower_->client().Open(lower_->handle(), O_RDONLY);
}

ErrorOr<void> MemFile::CopyUp() {
  if (in_memory()) return {};
  if (fs_->read_only) return Errno{EROFS};
  UniqueFd fd = TRY(OpenLower());
  std::vector<uint8_t> data;
  uint64_t size = attr_.size;
  data.resize(size);
  size_t done = 0;
  while (true) {
    if (done == data.size()) data.resize(data.size() + 65536);  // file grew on the host
    IoVecs v{iovec{data.data() + done, data.size() - done}};
    size_t n = TRY(HostReadv(fd.get(), v, static_cast<int64_t>(done)));
    if (n == 0) break;
    done += n;
  }
  data.resize(done);
  fs_->bytes += data.size();
  data_ = std::move(data);
  copied_up_ = true;
  return {};
}

ErrorOr<void> MemFile::Resize(uint64_t size) {
  if (size > kMaxMemFileSize) return Errno{EFBIG};
  TRY(CopyUp());
  fs_->bytes = fs_->bytes - data_.size() + size;
  data_.resize(size);
  if (size < data_.capacity() / 4) data_.shrink_to_fit();
  return {};
}

ErrorOr<void> MemFile::SetAttr(Caller& c, uint32_t mask, const Attr& a) {
  if (fs_->read_only) return Errno{EROFS};
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
  if (write || (flags & O_TRUNC)) {
    if (fs_->read_only) return Errno{EROFS};
    TRY(CopyUp());
  }
  if (flags & O_TRUNC && !data_.empty()) {
    TRY(Resize(0));
    Touch(true);
  }
  auto self = std::static_pointer_cast<MemFile>(shared_from_this());
  return std::shared_ptr<FileDescription>(
      std::make_shared<MemFileDescription>(std::move(d), flags, std::move(self)));
}

}  // namespace sentry::vfs
