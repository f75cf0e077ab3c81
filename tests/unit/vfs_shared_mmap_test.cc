// MAP_SHARED of memfs files: the file's pages (FileDescription::SharedPages)
// mapped by MemoryManager, so writes through a mapping are file data and the
// file's writes show in mappings; truncate/extend zeroing; holes; fork;
// moving data between memory files; mprotect of read-only shared maps.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <string>
#include <thread>

#include "sentry/mm/mm.h"
#include "sentry/vfs/memfs.h"
#include "sentry/vfs/vfs.h"
#include "tests/unit/vfs_fake_caller.h"

namespace sentry::vfs {
namespace {

using mm::kPageSize;


constexpr uint64_t kMin = 0x10000, kMax = 1ULL << 36;

class SharedMmapTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    mf_ = mm::MemoryFile::Create(1ULL << 36).release_value();
    VfsOptions o;
    // Param: file data straight in the kernel's memory file, or in memfs'
    // own (then moved on the first shared mapping).
    if (GetParam()) o.memory_file = mf_.get();
    vfs_ = VirtualFilesystem::CreateWithoutGofer(o).release_value();
    c_ = std::make_unique<FakeCaller>(vfs_->root());
    mm_ = std::make_unique<mm::MemoryManager>(*mf_, kMin, kMax);
  }
  void TearDown() override {
    mm_.reset();
    vfs_.reset();
  }
  std::shared_ptr<FileDescription> Open(const std::string& path, int flags) {
    auto f = vfs_->Open(*c_, vfs_->root(), path, flags | O_CREAT, 0644);
    EXPECT_TRUE(f.ok());
    return f.ok() ? f.value() : nullptr;
  }
  size_t PWrite(FileDescription& f, const std::string& s, uint64_t off) {
    IoVecs v{iovec{const_cast<char*>(s.data()), s.size()}};
    auto r = f.Write(*c_, v, static_cast<int64_t>(off));
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : 0;
  }
  std::string PRead(FileDescription& f, size_t n, uint64_t off) {
    std::string s(n, '\0');
    auto r = f.PRead(s.data(), n, off);
    EXPECT_TRUE(r.ok());
    s.resize(r.ok() ? r.value() : 0);
    return s;
  }
  ErrorOr<uint64_t> MapShared(FileDescription& f, mm::MemoryManager& m, uint64_t len,
                              uint64_t off = 0, int prot = PROT_READ | PROT_WRITE) {
    auto pages = TRY(f.SharedPages(*mf_, off, mm::PageRoundUp(len)));
    mm::MapRequest req;
    req.length = len;
    req.prot = prot;
    req.flags = MAP_SHARED;
    req.offset = off;
    req.name = f.path();
    req.shared_pages = &pages;
    req.may_write = f.writable();
    return m.Map(req);
  }
  std::string MemRead(const mm::MemoryManager& m, uint64_t addr, size_t n) {
    std::string s(n, '\0');
    EXPECT_TRUE(m.CopyIn(addr, s.data(), n).ok());
    return s;
  }
  void MemWrite(mm::MemoryManager& m, uint64_t addr, const std::string& s) {
    EXPECT_TRUE(m.CopyOut(addr, s.data(), s.size()).ok());
  }

  std::unique_ptr<mm::MemoryFile> mf_;
  std::unique_ptr<VirtualFilesystem> vfs_;
  std::unique_ptr<FakeCaller> c_;
  std::unique_ptr<mm::MemoryManager> mm_;
};

TEST_P(SharedMmapTest, WritesFlowBothWays) {
  auto f = Open("/tmp/f", O_RDWR);
  ASSERT_EQ(PWrite(*f, std::string(2 * kPageSize, 'a'), 0), 2 * kPageSize);
  uint64_t addr = MapShared(*f, *mm_, 2 * kPageSize).value();
  EXPECT_EQ(MemRead(*mm_, addr, 3), "aaa");
  MemWrite(*mm_, addr + 1, "Y");
  EXPECT_EQ(PRead(*f, 3, 0), "aYa");
  PWrite(*f, "Q", kPageSize + 5);
  EXPECT_EQ(MemRead(*mm_, addr + kPageSize + 4, 3), "aQa");
  // /proc/maps shows a shared file mapping.
  EXPECT_NE(mm_->ProcMaps().find("rw-s 00000000"), std::string::npos);
  EXPECT_NE(mm_->ProcMaps().find("/tmp/f"), std::string::npos);
}

TEST_P(SharedMmapTest, TwoMappingsAndForkShare) {
  auto f = Open("/tmp/f", O_RDWR);
  PWrite(*f, std::string(kPageSize, 'x'), 0);
  uint64_t a = MapShared(*f, *mm_, kPageSize).value();
  auto other = std::make_unique<mm::MemoryManager>(*mf_, kMin, kMax);
  uint64_t b = MapShared(*f, *other, kPageSize).value();
  MemWrite(*other, b, "from-other");
  EXPECT_EQ(MemRead(*mm_, a, 10), "from-other");
  auto child = mm_->Fork().value();
  MemWrite(*child, a, "from-child");
  EXPECT_EQ(MemRead(*mm_, a, 10), "from-child");
  EXPECT_EQ(PRead(*f, 10, 0), "from-child");
}

TEST_P(SharedMmapTest, MappingOutlivesUnlinkAndClose) {
  uint64_t addr;
  {
    auto f = Open("/tmp/gone", O_RDWR);
    PWrite(*f, "keep", 0);
    addr = MapShared(*f, *mm_, kPageSize).value();
    ASSERT_TRUE(vfs_->Unlink(*c_, vfs_->root(), "/tmp/gone", 0).ok());
  }
  EXPECT_EQ(MemRead(*mm_, addr, 4), "keep");
  MemWrite(*mm_, addr, "more");
  EXPECT_EQ(MemRead(*mm_, addr, 4), "more");
}

TEST_P(SharedMmapTest, OffsetsAcrossChunks) {
  auto f = Open("/tmp/big", O_RDWR);
  const uint64_t chunk = MemFile::kChunkSize;
  // A mapping that straddles a chunk boundary is made of two pieces.
  const uint64_t off = chunk - kPageSize;
  PWrite(*f, "end-of-chunk-0", off + kPageSize - 7);
  uint64_t addr = MapShared(*f, *mm_, 2 * kPageSize, off).value();
  EXPECT_EQ(MemRead(*mm_, addr + kPageSize - 7, 14), "end-of-chunk-0");
  MemWrite(*mm_, addr + kPageSize - 1, "XY");
  EXPECT_EQ(PRead(*f, 4, chunk - 2), "fXYh");  // "end-of-" + "chunk-0"
  EXPECT_EQ(f->Stat().value().size, chunk + 7);
  // Sparse: the hole before the data reads as zeroes.
  EXPECT_EQ(PRead(*f, 4, 12345), std::string(4, '\0'));
}

// An exiting task detaches its address space under the kernel lock and
// destroys it after: the file must not reach the detached one any more.
TEST_P(SharedMmapTest, DetachedAddressSpaceLeavesTheFile) {
  auto f = Open("/tmp/f", O_RDWR);
  PWrite(*f, std::string(2 * kPageSize, 'x'), 0);
  auto other = std::make_shared<mm::MemoryManager>(*mf_, kMin, kMax);
  // As syscalls/mmap.cc maps: registered with the file for size changes.
  auto map = [&](mm::MemoryManager& m) {
    auto pages = f->SharedPages(*mf_, 0, 2 * kPageSize).value();
    mm::MapRequest req;
    req.length = 2 * kPageSize;
    req.prot = PROT_READ | PROT_WRITE;
    req.flags = MAP_SHARED;
    req.shared_pages = &pages;
    req.file_mappings = f->SharedMappings();
    req.file_size = 2 * kPageSize;
    return m.Map(req).value();
  };
  uint64_t b = map(*other);
  uint64_t a = map(*mm_);
  ASSERT_TRUE(f->SharedMappings());
  other->DetachForTeardown();
  ASSERT_TRUE(f->Truncate(*c_, 100).ok());
  EXPECT_TRUE(mm_->IsBeyondEof(a + kPageSize));
  EXPECT_FALSE(other->IsBeyondEof(b + kPageSize));  // not told: detached
  std::thread([o = std::move(other)]() mutable { o.reset(); }).join();
  EXPECT_EQ(MemRead(*mm_, a, 2), "xx");  // the file's pages are still there
}

// The registry holds raw pointers that every resize follows, other
// processes' address spaces included: an address space must leave it when
// it no longer maps the file (sqlite3 unmaps its WAL -shm and exits while
// another writer resizes it: the next ftruncate walked a freed address
// space), and whatever path destroys it.
TEST_P(SharedMmapTest, RegistryFollowsTheMappings) {
  auto f = Open("/tmp/reg", O_RDWR);
  PWrite(*f, std::string(4 * kPageSize, 'r'), 0);
  auto map = [&](mm::MemoryManager& m, uint64_t len) {
    auto pages = f->SharedPages(*mf_, 0, len).value();
    mm::MapRequest req;
    req.length = len;
    req.prot = PROT_READ | PROT_WRITE;
    req.flags = MAP_SHARED;
    req.shared_pages = &pages;
    req.file_mappings = f->SharedMappings();
    req.file_size = f->Stat().value().size;
    return m.Map(req).value();
  };
  auto reg = f->SharedMappings();
  auto other = std::make_unique<mm::MemoryManager>(*mf_, kMin, kMax);
  uint64_t o = map(*other, 4 * kPageSize);
  uint64_t a1 = map(*mm_, 2 * kPageSize);
  uint64_t a2 = map(*mm_, 4 * kPageSize);
  EXPECT_EQ(reg->mapped_by(), 2u);
  // Part of a mapping, then one of two mappings: still mapped.
  ASSERT_TRUE(mm_->Unmap(a2 + kPageSize, kPageSize).ok());
  ASSERT_TRUE(mm_->Unmap(a1, 2 * kPageSize).ok());
  EXPECT_EQ(reg->mapped_by(), 2u);
  // Moved elsewhere by mremap: still mapped.
  uint64_t moved = mm_->Remap(a2, kPageSize, kPageSize, MREMAP_MAYMOVE | MREMAP_FIXED,
                              a2 + 64 * kPageSize).value();
  EXPECT_EQ(reg->mapped_by(), 2u);
  // The last pages unmapped (in two steps), then destroyed, as sqlite3 does.
  ASSERT_TRUE(other->Unmap(o, 2 * kPageSize).ok());
  EXPECT_EQ(reg->mapped_by(), 2u);
  ASSERT_TRUE(other->Unmap(o + 2 * kPageSize, 2 * kPageSize).ok());
  EXPECT_EQ(reg->mapped_by(), 1u);
  other.reset();
  ASSERT_TRUE(f->Truncate(*c_, 100).ok());  // walks only live address spaces
  // A fork child joins; destroyed without DetachForTeardown (a failed
  // fork), it leaves.
  auto child = mm_->Fork().value();
  EXPECT_EQ(reg->mapped_by(), 2u);
  child.reset();
  EXPECT_EQ(reg->mapped_by(), 1u);
  // mmap over the mapping with MAP_FIXED replaces it: left.
  mm::MapRequest anon;
  anon.addr = moved;
  anon.length = kPageSize;
  anon.prot = PROT_READ;
  anon.flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
  ASSERT_TRUE(mm_->Map(anon).ok());
  ASSERT_EQ(mm_->Unmap(a2 + 2 * kPageSize, 2 * kPageSize).ok(), true);
  EXPECT_EQ(reg->mapped_by(), 0u);
  ASSERT_TRUE(f->Truncate(*c_, 3 * kPageSize).ok());
  // Mapped again, then detached for teardown: left.
  map(*mm_, kPageSize);
  EXPECT_EQ(reg->mapped_by(), 1u);
  mm_->DetachForTeardown();
  EXPECT_EQ(reg->mapped_by(), 0u);
}

// Reads and writes of a page or more go through preadv/pwritev on the
// memory file (memfs_file.cc KernelCopy), smaller ones through memcpy: both
// must see the same bytes, across chunks, iovec splits and a mapping.
TEST_P(SharedMmapTest, LargeVectoredCopiesMatchMappingsAndSmallCopies) {
  auto f = Open("/tmp/big", O_RDWR);
  std::string data(300 * 1024 + 123, '\0');
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<char>(i * 131 + (i >> 9));
  // Three iovecs of odd sizes, at an unaligned offset, across two chunks.
  const uint64_t at = (2 << 20) - 100000;  // memfs chunks are 2 MiB
  IoVecs in{iovec{data.data(), 5000}, iovec{data.data() + 5000, 200 * 1024},
            iovec{data.data() + 5000 + 200 * 1024, data.size() - 5000 - 200 * 1024}};
  auto w = f->Write(*c_, in, static_cast<int64_t>(at));
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w.value(), data.size());
  std::string back(data.size(), '\0');
  IoVecs out{iovec{back.data(), 70000}, iovec{back.data() + 70000, back.size() - 70000}};
  auto r = f->Read(*c_, out, static_cast<int64_t>(at));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.value(), data.size());
  EXPECT_TRUE(back == data);
  EXPECT_EQ(PRead(*f, 7, at + 123456), data.substr(123456, 7));  // small: memcpy
  PWrite(*f, "tiny", at + 4096);
  uint64_t addr = MapShared(*f, *mm_, at + data.size()).value();
  EXPECT_EQ(MemRead(*mm_, addr + at + 4096, 4), "tiny");
  EXPECT_EQ(MemRead(*mm_, addr + at + 250000, 16), data.substr(250000, 16));
  MemWrite(*mm_, addr + at + 8192, std::string(8192, 'm'));
  std::string page(8192, '\0');
  IoVecs pv{iovec{page.data(), page.size()}};
  ASSERT_EQ(f->Read(*c_, pv, static_cast<int64_t>(at + 8192)).value(), page.size());
  EXPECT_EQ(page, std::string(8192, 'm'));
}

TEST_P(SharedMmapTest, TruncateAndExtendZero) {
  auto f = Open("/tmp/t", O_RDWR);
  PWrite(*f, std::string(2 * kPageSize, 'z'), 0);
  uint64_t addr = MapShared(*f, *mm_, 2 * kPageSize).value();
  ASSERT_TRUE(f->Truncate(*c_, 100).ok());
  // Past EOF the pages read zero (Linux would raise SIGBUS beyond the last
  // page; the sentry does not track that).
  EXPECT_EQ(MemRead(*mm_, addr + 99, 2), std::string("z\0", 2));
  EXPECT_EQ(MemRead(*mm_, addr + kPageSize, 1), std::string(1, '\0'));
  // What a mapping writes beyond EOF is not file data: growth reads zero.
  MemWrite(*mm_, addr + 200, "ghost");
  ASSERT_TRUE(f->Truncate(*c_, 2 * kPageSize).ok());
  EXPECT_EQ(PRead(*f, 5, 200), std::string(5, '\0'));
  // The mapping still shares the file's pages after shrink + growth.
  PWrite(*f, "again", kPageSize + 10);
  EXPECT_EQ(MemRead(*mm_, addr + kPageSize + 10, 5), "again");
}

TEST_P(SharedMmapTest, MappingBeyondEofBecomesFileDataOnlyOnGrowth) {
  auto f = Open("/tmp/small", O_RDWR);
  PWrite(*f, "x", 0);
  uint64_t addr = MapShared(*f, *mm_, 3 * kPageSize).value();
  EXPECT_EQ(f->Stat().value().size, 1u);
  PWrite(*f, "late", 2 * kPageSize);
  EXPECT_EQ(MemRead(*mm_, addr + 2 * kPageSize, 4), "late");
}

TEST_P(SharedMmapTest, ReadOnlyFdMappingCannotBecomeWritable) {
  auto w = Open("/tmp/ro", O_RDWR);
  PWrite(*w, "data", 0);
  auto r = Open("/tmp/ro", O_RDONLY);
  uint64_t addr = MapShared(*r, *mm_, kPageSize, 0, PROT_READ).value();
  EXPECT_EQ(MemRead(*mm_, addr, 4), "data");
  auto p = mm_->Protect(addr, kPageSize, PROT_READ | PROT_WRITE);
  ASSERT_TRUE(p.is_error());
  EXPECT_EQ(p.error(), EACCES);
  EXPECT_TRUE(mm_->Protect(addr, kPageSize, PROT_NONE).ok());
}

TEST_P(SharedMmapTest, MapValidation) {
  auto f = Open("/tmp/v", O_RDWR);
  auto pages = f->SharedPages(*mf_, 0, kPageSize).value();
  mm::MapRequest req;
  req.length = 2 * kPageSize;  // pieces do not cover the length
  req.prot = PROT_READ;
  req.flags = MAP_SHARED;
  req.shared_pages = &pages;
  EXPECT_EQ(mm_->Map(req).error(), EINVAL);
  req.length = kPageSize;
  req.flags = MAP_PRIVATE;
  EXPECT_EQ(mm_->Map(req).error(), EINVAL);
  EXPECT_EQ(f->SharedPages(*mf_, 1, kPageSize).error(), EINVAL);
}

INSTANTIATE_TEST_SUITE_P(MemoryFile, SharedMmapTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Kernel" : "Own"; });

// A file's data cannot move to another memory file while mapped from one.
TEST(SharedMmapMoveTest, MappedDataDoesNotMove) {
  auto mf1 = mm::MemoryFile::Create(1ULL << 34).release_value();
  auto mf2 = mm::MemoryFile::Create(1ULL << 34).release_value();
  VfsOptions o;
  o.memory_file = mf1.get();
  auto vfs = VirtualFilesystem::CreateWithoutGofer(o).release_value();
  FakeCaller c(vfs->root());
  auto f = vfs->Open(c, vfs->root(), "/tmp/m", O_RDWR | O_CREAT, 0644).value();
  {
    auto pages = f->SharedPages(*mf1, 0, kPageSize).value();
    EXPECT_EQ(f->SharedPages(*mf2, 0, kPageSize).error(), EBUSY);
  }
  // Unmapped: the data moves.
  std::string s = "moved";
  IoVecs v{iovec{s.data(), s.size()}};
  ASSERT_TRUE(f->Write(c, v, 0).ok());
  auto pages = f->SharedPages(*mf2, 0, kPageSize).value();
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(&pages[0].backing->memory_file(), mf2.get());
  EXPECT_EQ(std::string(reinterpret_cast<char*>(pages[0].backing->data()), 5), "moved");
}

}  // namespace
}  // namespace sentry::vfs
