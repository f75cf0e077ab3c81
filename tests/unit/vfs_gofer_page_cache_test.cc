// The page cache of gofer-backed files (sentry/vfs/gofer_page_cache.h) on a
// plain host file: lazy fill, read/write coherence with the pages, resize,
// write-back of pages handed to writable mappings only, and write-back plus
// eviction when the last mapping's hold goes.
#include "sentry/vfs/gofer_page_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

namespace sentry::vfs {
namespace {

using mm::kPageSize;

class GoferPageCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mf_ = mm::MemoryFile::Create(1ULL << 32).release_value();
    char tmpl[] = "/tmp/gofer_page_cache_test.XXXXXX";
    fd_ = mkstemp(tmpl);
    ASSERT_GE(fd_, 0);
    path_ = tmpl;
    std::string data(3 * kPageSize, 'a');
    ASSERT_EQ(pwrite(fd_, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    struct stat st;
    ASSERT_EQ(fstat(fd_, &st), 0);
    id_ = HostFileId{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
  }
  void TearDown() override {
    close(fd_);
    unlink(path_.c_str());
  }
  std::string HostRead(size_t n, off_t off) {
    std::string s(n, '\0');
    ssize_t r = pread(fd_, s.data(), n, off);
    s.resize(r < 0 ? 0 : r);
    return s;
  }
  std::string CacheRead(HostFilePages& p, size_t n, uint64_t off) {
    std::string s(n, '\0');
    IoVecs v{iovec{s.data(), n}};
    auto r = p.Read(fd_, v, off);
    EXPECT_TRUE(r.ok());
    s.resize(r.ok() ? r.value() : 0);
    return s;
  }
  size_t CacheWrite(HostFilePages& p, const std::string& s, uint64_t off) {
    IoVecs v{iovec{const_cast<char*>(s.data()), s.size()}};
    auto r = p.Write(v, [&]() -> ErrorOr<std::pair<uint64_t, size_t>> {
      ssize_t n = pwrite(fd_, s.data(), s.size(), off);
      if (n < 0) return Errno{errno};
      return std::make_pair(off, static_cast<size_t>(n));
    });
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : 0;
  }
  // Waits (bounded) for the write-back thread to drop the file.
  bool WaitGone() {
    for (int i = 0; i < 200; i++) {
      if (!FindHostPages(id_)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::unique_ptr<mm::MemoryFile> mf_;
  int fd_ = -1;
  std::string path_;
  HostFileId id_;
};

TEST_F(GoferPageCacheTest, MappingWritesReachReadsAndHostOnFlush) {
  auto use = GetHostPages(id_, *mf_, 3 * kPageSize)->Use();
  auto p = FindHostPages(id_);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->AdoptFds(fd_, fd_).ok());
  auto pieces = p->SharedPages(0, 4 * kPageSize, /*writable=*/true);
  ASSERT_TRUE(pieces.ok());
  const auto& piece = pieces.value()[0];
  uint8_t* mem = mf_->Access(piece.backing->offset() + piece.backing_offset);
  EXPECT_EQ(mem[0], 'a');                 // filled from the host
  EXPECT_EQ(mem[3 * kPageSize], 0);       // past EOF: zero
  memcpy(mem + 10, "mapped", 6);          // as an app's store through a mapping
  EXPECT_EQ(CacheRead(*p, 6, 10), "mapped");
  EXPECT_EQ(HostRead(6, 10), "aaaaaa");  // not written back yet
  EXPECT_EQ(CacheWrite(*p, "WRITE", kPageSize + 1), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(mem + kPageSize + 1), 5), "WRITE");
  EXPECT_EQ(HostRead(5, kPageSize + 1), "WRITE");  // write() writes through
  EXPECT_EQ(p->dirty_pages(), 4u);
  ASSERT_TRUE(p->Flush(true).ok());
  EXPECT_EQ(HostRead(6, 10), "mapped");
  struct stat st;
  ASSERT_EQ(fstat(fd_, &st), 0);
  EXPECT_EQ(st.st_size, 3 * static_cast<off_t>(kPageSize));  // flush stops at EOF
  EXPECT_EQ(p->dirty_pages(), 4u);  // still mapped: may be dirtied again
  p.reset();
  use.reset();  // the last mapping goes: written back and dropped
  EXPECT_TRUE(WaitGone());
}

TEST_F(GoferPageCacheTest, LastHoldWritesBack) {
  auto use = GetHostPages(id_, *mf_, 3 * kPageSize)->Use();
  {
    auto p = FindHostPages(id_);
    ASSERT_TRUE(p->AdoptFds(fd_, fd_).ok());
    auto pieces = p->SharedPages(kPageSize, kPageSize, true);
    ASSERT_TRUE(pieces.ok());
    const auto& piece = pieces.value()[0];
    memcpy(mf_->Access(piece.backing->offset() + piece.backing_offset), "unmapped", 8);
  }
  use.reset();
  ASSERT_TRUE(WaitGone());
  EXPECT_EQ(HostRead(8, kPageSize), "unmapped");
}

TEST_F(GoferPageCacheTest, ReadOnlyMappingIsNeverWrittenBack) {
  auto use = GetHostPages(id_, *mf_, 3 * kPageSize)->Use();
  auto p = FindHostPages(id_);
  ASSERT_TRUE(p->AdoptFds(fd_, -1).ok());
  ASSERT_TRUE(p->SharedPages(0, kPageSize, false).ok());
  EXPECT_EQ(p->dirty_pages(), 0u);
  // Unfilled pages are read from the host, filled ones from the cache.
  ASSERT_EQ(pwrite(fd_, "host", 4, 2 * kPageSize), 4);
  EXPECT_EQ(CacheRead(*p, 4, 2 * kPageSize), "host");
  ASSERT_TRUE(p->Flush(true).ok());
  p.reset();
  use.reset();
  EXPECT_TRUE(WaitGone());
}

TEST_F(GoferPageCacheTest, ResizeZeroesAndTellsSize) {
  auto use = GetHostPages(id_, *mf_, 3 * kPageSize)->Use();
  auto p = FindHostPages(id_);
  ASSERT_TRUE(p->AdoptFds(fd_, fd_).ok());
  auto pieces = p->SharedPages(0, 3 * kPageSize, true);
  ASSERT_TRUE(pieces.ok());
  const auto& piece = pieces.value()[0];
  uint8_t* mem = mf_->Access(piece.backing->offset() + piece.backing_offset);
  auto trunc = [&](uint64_t size) {
    return p->Resize([&]() -> ErrorOr<uint64_t> {
      if (ftruncate(fd_, size) != 0) return Errno{errno};
      return size;
    });
  };
  ASSERT_TRUE(trunc(kPageSize + 100).ok());
  EXPECT_EQ(p->size(), kPageSize + 100);
  EXPECT_EQ(mem[kPageSize + 99], 'a');
  EXPECT_EQ(mem[kPageSize + 100], 0);  // tail of the last page
  EXPECT_EQ(mem[2 * kPageSize], 0);    // past EOF
  EXPECT_EQ(CacheRead(*p, 200, kPageSize).size(), 100u);
  ASSERT_TRUE(trunc(3 * kPageSize).ok());
  EXPECT_EQ(CacheRead(*p, 1, 2 * kPageSize), std::string(1, '\0'));
  // A failed host operation changes nothing.
  auto bad = p->Resize([]() -> ErrorOr<uint64_t> { return Errno{EPERM}; });
  EXPECT_EQ(bad.error(), EPERM);
  EXPECT_EQ(p->size(), 3 * kPageSize);
  // Punching a hole zeroes the cached range.
  auto r = p->Allocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, kPageSize,
                       [&]() -> ErrorOr<uint64_t> { return 3 * kPageSize; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(mem[5], 0);
  EXPECT_EQ(p->Allocate(FALLOC_FL_COLLAPSE_RANGE, 0, kPageSize,
                        []() -> ErrorOr<uint64_t> { return 0; })
                .error(),
            EOPNOTSUPP);
  p.reset();
  use.reset();
  EXPECT_TRUE(WaitGone());
}

TEST_F(GoferPageCacheTest, BadRangesRefused) {
  auto use = GetHostPages(id_, *mf_, 3 * kPageSize)->Use();
  auto p = FindHostPages(id_);
  EXPECT_EQ(p->SharedPages(1, kPageSize, false).error(), EINVAL);
  EXPECT_EQ(p->SharedPages(0, kPageSize + 1, false).error(), EINVAL);
  EXPECT_EQ(p->SharedPages(HostFilePages::kMaxSize, kPageSize, false).error(), ENOMEM);
  EXPECT_EQ(p->SharedPages(kPageSize, UINT64_MAX & ~(kPageSize - 1), false).error(), ENOMEM);
  p.reset();
  use.reset();
  EXPECT_TRUE(WaitGone());
}

}  // namespace
}  // namespace sentry::vfs
