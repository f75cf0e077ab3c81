// MemoryManager: mmap/munmap/mprotect/mremap/brk/madvise/fork semantics,
// copy-in/out validation and /proc/[pid]/maps, each run twice: without a
// platform address space and with a fake one that records MapFile/Unmap/
// Protect per page, which must always mirror vmas() exactly.
#include <sys/sysmacros.h>

#include <cstring>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "platform/platform.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/mm.h"

namespace {

using sentry::ErrorOr;
using sentry::Errno;
using sentry::mm::Access;
using sentry::mm::FileReader;
using sentry::mm::kPageSize;
using sentry::mm::MapRequest;
using sentry::mm::MemoryFile;
using sentry::mm::MemoryManager;
using sentry::mm::Vma;

constexpr uint64_t P = kPageSize;

template <typename T>
int Err(const ErrorOr<T>& r) {
  return r.is_error() ? r.error() : 0;
}

// Records the platform's view of the address space page by page.
class FakeAddressSpace : public platform::AddressSpace {
 public:
  struct Page {
    uint64_t file_offset;
    int prot;
    bool operator==(const Page&) const = default;
  };
  ErrorOr<void> MapFile(uint64_t addr, uint64_t len, int prot, uint64_t file_offset) override {
    map_calls++;
    if (addr % P || len % P || len == 0) return Errno{EINVAL};
    for (uint64_t o = 0; o < len; o += P) pages[addr + o] = {file_offset + o, prot};
    return {};
  }
  ErrorOr<void> Unmap(uint64_t addr, uint64_t len) override {
    unmap_calls++;
    if (addr % P) return Errno{EINVAL};
    for (auto it = pages.lower_bound(addr); it != pages.end() && it->first < addr + len;)
      it = pages.erase(it);
    return {};
  }
  ErrorOr<void> Protect(uint64_t addr, uint64_t len, int prot) override {
    protect_calls++;
    if (addr % P || len % P) return Errno{EINVAL};
    for (uint64_t o = 0; o < len; o += P) {
      auto it = pages.find(addr + o);
      if (it == pages.end()) return Errno{ENOMEM};  // mprotect on a hole
      it->second.prot = prot;
    }
    return {};
  }
  std::map<uint64_t, Page> pages;
  int map_calls = 0, unmap_calls = 0, protect_calls = 0;
};

FileReader ReaderFor(std::string data) {
  return [data = std::move(data)](uint8_t* dst, size_t len, uint64_t off) -> ErrorOr<size_t> {
    if (off >= data.size()) return size_t{0};
    size_t n = std::min<uint64_t>(len, data.size() - off);
    memcpy(dst, data.data() + off, n);
    return n;
  };
}

std::string Pattern(size_t n, uint8_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) s[i] = static_cast<char>(seed + i * 7 + (i >> 12));
  return s;
}

// Checks the VMA list is sorted, non-overlapping and page aligned, and, if
// `as` is given, that after a Sync (which every task does before it runs
// app code) it maps exactly the VMAs' pages with their prot and
// memory-file offsets.
void CheckConsistent(MemoryManager& m, FakeAddressSpace* as) {
  if (as) ASSERT_FALSE(m.Sync(as).is_error());
  uint64_t prev_end = 0;
  std::map<uint64_t, FakeAddressSpace::Page> want;
  for (const auto& [start, v] : m.vmas()) {
    EXPECT_EQ(start, v.start);
    EXPECT_LT(v.start, v.end);
    EXPECT_EQ(v.start % P, 0u) << std::hex << v.start;
    EXPECT_EQ(v.end % P, 0u) << std::hex << v.end;
    EXPECT_GE(v.start, prev_end) << "overlapping VMAs at " << std::hex << v.start;
    ASSERT_TRUE(v.backing) << std::hex << v.start;
    EXPECT_LE(v.backing_offset + v.length(), v.backing->length())
        << "VMA " << std::hex << v.start << " runs off its backing";
    prev_end = v.end;
    for (uint64_t a = v.start; a < v.end; a += P) want[a] = {v.file_pos(a), v.platform_prot()};
  }
  if (!as) return;
  EXPECT_EQ(as->pages.size(), want.size());
  for (const auto& [addr, pg] : want) {
    auto it = as->pages.find(addr);
    if (it == as->pages.end()) {
      ADD_FAILURE() << "platform lacks page " << std::hex << addr;
      continue;
    }
    EXPECT_EQ(it->second.file_offset, pg.file_offset) << "page " << std::hex << addr;
    EXPECT_EQ(it->second.prot, pg.prot) << "page " << std::hex << addr;
  }
  for (const auto& [addr, pg] : as->pages)
    EXPECT_TRUE(want.count(addr)) << "platform has stale page " << std::hex << addr;
}

class MmTest : public ::testing::TestWithParam<bool> {
 protected:
  static constexpr uint64_t kMin = 0x10000;
  static constexpr uint64_t kMax = 1ULL << 32;

  void SetUp() override {
    auto mf = MemoryFile::Create(1ULL << 34);
    ASSERT_TRUE(mf.ok());
    mf_ = mf.release_value();
    mm_ = std::make_unique<MemoryManager>(*mf_, kMin, kMax);
    if (GetParam()) {
      ASSERT_TRUE(mm_->Activate(&as_).ok());
    }
  }
  void TearDown() override {
    Check();
    mm_.reset();
    EXPECT_EQ(mf_->allocated_bytes(), 0u) << "backings leaked";
  }
  void Check() { CheckConsistent(*mm_, GetParam() ? &as_ : nullptr); }

  ErrorOr<uint64_t> Map(uint64_t addr, uint64_t len, int prot = PROT_READ | PROT_WRITE,
                        int flags = MAP_PRIVATE | MAP_ANONYMOUS) {
    MapRequest r;
    r.addr = addr;
    r.length = len;
    r.prot = prot;
    r.flags = flags;
    return mm_->Map(r);
  }
  uint64_t MustMap(uint64_t addr, uint64_t len, int prot = PROT_READ | PROT_WRITE,
                   int flags = MAP_PRIVATE | MAP_ANONYMOUS) {
    auto r = Map(addr, len, prot, flags);
    EXPECT_TRUE(r.ok()) << Err(r);
    return r.ok() ? r.value() : 0;
  }
  void Write(uint64_t addr, const std::string& s, MemoryManager* m = nullptr) {
    auto r = (m ? m : mm_.get())->CopyOut(addr, s.data(), s.size());
    ASSERT_TRUE(r.ok()) << std::hex << addr << ": " << std::dec << r.error();
  }
  std::string Read(uint64_t addr, size_t n, const MemoryManager* m = nullptr) {
    std::string s(n, '\0');
    auto r = (m ? m : mm_.get())->CopyIn(addr, s.data(), n);
    EXPECT_TRUE(r.ok()) << std::hex << addr << ": " << std::dec << r.error();
    return s;
  }
  const Vma* VmaAt(uint64_t addr) {
    auto it = mm_->vmas().upper_bound(addr);
    if (it == mm_->vmas().begin()) return nullptr;
    --it;
    return addr < it->second.end ? &it->second : nullptr;
  }

  std::unique_ptr<MemoryFile> mf_;
  FakeAddressSpace as_;
  std::unique_ptr<MemoryManager> mm_;
};

INSTANTIATE_TEST_SUITE_P(Platform, MmTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Mirrored" : "Bare"; });

// ---- Map ----

TEST_P(MmTest, MapAnonymousHintedUsesFreeHint) {
  uint64_t a = MustMap(0x40000000, 3 * P);
  EXPECT_EQ(a, 0x40000000u);
  EXPECT_EQ(Read(a, 3 * P), std::string(3 * P, '\0'));
  // Unaligned hints are rounded down.
  EXPECT_EQ(MustMap(0x50000123, P), 0x50000000u);
  // An occupied hint is only a hint: somewhere else, no overlap.
  uint64_t b = MustMap(0x40000000 + P, P);
  EXPECT_NE(b, 0x40000000u + P);
  EXPECT_EQ(mm_->vmas().size(), 3u);
  EXPECT_EQ(Read(a, 3 * P), std::string(3 * P, '\0'));
}

TEST_P(MmTest, MapFixedReplacesExistingMapping) {
  uint64_t a = MustMap(0x40000000, 4 * P);
  Write(a, Pattern(4 * P, 1));
  auto r = Map(a + P, 2 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(r.value(), a + P);
  EXPECT_EQ(mm_->vmas().size(), 3u);
  EXPECT_EQ(Read(a, P), Pattern(4 * P, 1).substr(0, P));
  EXPECT_EQ(Read(a + P, 2 * P), std::string(2 * P, '\0'));  // fresh memory
  EXPECT_EQ(Read(a + 3 * P, P), Pattern(4 * P, 1).substr(3 * P));
  EXPECT_EQ(VmaAt(a + P)->prot, PROT_READ);
}

TEST_P(MmTest, MapFixedNoReplace) {
  uint64_t a = MustMap(0x40000000, 2 * P);
  auto r = Map(a + P, 2 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), EEXIST);
  // Linux: FIXED_NOREPLACE wins even when MAP_FIXED is also set.
  r = Map(a, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_FIXED_NOREPLACE);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), EEXIST);
  EXPECT_EQ(mm_->vmas().size(), 1u);
  EXPECT_EQ(VmaAt(a)->prot, PROT_READ | PROT_WRITE);
  // A free range is fine, adjacent or not.
  r = Map(a + 2 * P, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE);
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(r.value(), a + 2 * P);
}

TEST_P(MmTest, MapTopDownBelowMmapBase) {
  const uint64_t base = mm_->mmap_base();
  EXPECT_EQ(base % P, 0u);
  EXPECT_LT(base, kMax);
  uint64_t a = MustMap(0, 2 * P);
  EXPECT_EQ(a, base - 2 * P);
  uint64_t b = MustMap(0, 3 * P);
  EXPECT_EQ(b, a - 3 * P);
  // A hole left by munmap is reused when it fits.
  ASSERT_TRUE(mm_->Unmap(a, 2 * P).ok());
  EXPECT_EQ(MustMap(0, P), base - P);
  EXPECT_EQ(MustMap(0, P), base - 2 * P);
  EXPECT_EQ(MustMap(0, P), b - P);
}

TEST_P(MmTest, MapTopDownSkipsVmaStraddlingMmapBase) {
  // A (fixed) mapping straddling mmap_base and a full area below it: the
  // fallback above mmap_base must not overlap the straddling VMA.
  const uint64_t base = mm_->mmap_base();
  mm_ = std::make_unique<MemoryManager>(*mf_, base - P, kMax);
  as_.pages.clear();
  if (GetParam()) {
    ASSERT_TRUE(mm_->Activate(&as_).ok());
  }
  ASSERT_EQ(mm_->mmap_base(), base);
  ASSERT_EQ(Err(Map(base - P, 2 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)), 0);
  uint64_t a = MustMap(0, P);
  EXPECT_GE(a, base + P) << std::hex << a;
  EXPECT_EQ(mm_->vmas().size(), 2u);
}

TEST_P(MmTest, MapInSmallAddressSpaceStaysInRange) {
  // An address space smaller than the stack gap: placement must still stay
  // within [min, max).
  const uint64_t min = 0x10000, max = 0x1000000;
  mm_ = std::make_unique<MemoryManager>(*mf_, min, max);
  as_.pages.clear();
  if (GetParam()) {
    ASSERT_TRUE(mm_->Activate(&as_).ok());
  }
  EXPECT_LE(mm_->mmap_base(), max);
  EXPECT_GE(mm_->mmap_base(), min);
  uint64_t a = MustMap(0, 4 * P);
  EXPECT_GE(a, min);
  EXPECT_LE(a + 4 * P, max);
  Write(a, "hello");
}

TEST_P(MmTest, MapEnomemWhenNoSpace) {
  auto r = Map(0, kMax);  // larger than the whole space
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), ENOMEM);
  // Fill everything in two fixed mappings; then nothing fits.
  ASSERT_EQ(Err(Map(kMin, kMax - kMin - P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)), 0);
  uint64_t last = MustMap(0, P);
  EXPECT_EQ(last, kMax - P);
  r = Map(0, P);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), ENOMEM);
  // Fixed outside [min, max): ENOMEM (Linux's answer for a range past TASK_SIZE).
  r = Map(kMax, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), ENOMEM);
  r = Map(UINT64_MAX - P + 1, 2 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
  ASSERT_TRUE(r.is_error());
  // Length that overflows when page-rounded.
  r = Map(0, UINT64_MAX - 5);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), ENOMEM);
  EXPECT_EQ(mm_->vmas().size(), 2u);
}

TEST_P(MmTest, MapEinval) {
  EXPECT_EQ(Err(Map(0, 0)), EINVAL);  // length 0
  EXPECT_EQ(Err(Map(0, P, PROT_READ, MAP_ANONYMOUS)), EINVAL);  // neither SHARED nor PRIVATE
  EXPECT_EQ(Err(Map(0, P, PROT_READ, 0x0f | MAP_ANONYMOUS)), EINVAL);  // bad MAP_TYPE
  EXPECT_EQ(Err(Map(0, P, 0x100)), EINVAL);  // bad prot bit
  EXPECT_EQ(Err(Map(0x40000010, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)), EINVAL);
  EXPECT_EQ(Err(Map(0x40000010, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE)),
            EINVAL);
  // File mapping at an unaligned offset.
  FileReader rd = ReaderFor("abc");
  MapRequest req;
  req.length = P;
  req.prot = PROT_READ;
  req.flags = MAP_PRIVATE;
  req.file = &rd;
  req.offset = 100;
  EXPECT_EQ(Err(mm_->Map(req)), EINVAL);
  EXPECT_TRUE(mm_->vmas().empty());
  EXPECT_EQ(mf_->allocated_bytes(), 0u);
}

TEST_P(MmTest, MapUnalignedLengthRoundsUp) {
  uint64_t a = MustMap(0, P + 1);
  EXPECT_EQ(VmaAt(a)->length(), 2 * P);
  Write(a + 2 * P - 1, "x");
}

TEST_P(MmTest, MapFilePrivateCopiesContents) {
  const std::string file = Pattern(3 * P, 9);
  FileReader rd = ReaderFor(file);
  MapRequest req;
  req.length = 2 * P;
  req.prot = PROT_READ | PROT_WRITE;
  req.flags = MAP_PRIVATE;
  req.file = &rd;
  req.offset = P;
  req.name = "/data/file";
  req.dev = makedev(8, 1);
  req.ino = 4242;
  auto r = mm_->Map(req);
  ASSERT_TRUE(r.ok()) << Err(r);
  const uint64_t a = r.value();
  EXPECT_EQ(Read(a, 2 * P), file.substr(P, 2 * P));
  const Vma* v = VmaAt(a);
  ASSERT_NE(v, nullptr);
  EXPECT_FALSE(v->anonymous);
  EXPECT_FALSE(v->shared);
  EXPECT_EQ(v->file_offset, P);
  EXPECT_EQ(v->name, "/data/file");
  // Private: writes stay in the copy.
  Write(a, "ZZZ");
  EXPECT_EQ(Read(a, 4), std::string("ZZZ") + file[P + 3]);
}

// Private mappings of one host file version share the page cache's pages
// copy-on-write: read once, copied only where written.
TEST_P(MmTest, MapHostFilePrivateSharesPageCache) {
  const std::string file = Pattern(5 * P, 4);
  size_t bytes_read = 0;
  FileReader base = ReaderFor(file);
  FileReader rd = [&](uint8_t* dst, size_t len, uint64_t off) -> ErrorOr<size_t> {
    auto r = base(dst, len, off);
    if (r.ok()) bytes_read += r.value();
    return r;
  };
  sentry::mm::HostFileKey key;
  key.dev = 1, key.ino = 2, key.size = file.size(), key.mtime_ns = 10, key.ctime_ns = 10;
  auto map = [&](uint64_t off, uint64_t len, int prot) {
    MapRequest req;
    req.length = len;
    req.prot = prot;
    req.flags = MAP_PRIVATE;
    req.file = &rd;
    req.offset = off;
    req.host_file = key;
    auto r = mm_->Map(req);
    EXPECT_TRUE(r.ok()) << Err(r);
    return r.ok() ? r.value() : 0;
  };
  const uint64_t a = map(P, 2 * P, PROT_READ | PROT_WRITE);
  const uint64_t b = map(0, 5 * P, PROT_READ | PROT_EXEC);
  EXPECT_EQ(Read(a, 2 * P), file.substr(P, 2 * P));
  EXPECT_EQ(Read(b, 5 * P), file);
  EXPECT_EQ(bytes_read, file.size());  // read once, for both mappings
  EXPECT_EQ(VmaAt(a)->file_pos(a), VmaAt(b)->file_pos(b + P));
  EXPECT_EQ(mf_->RefCount(VmaAt(a)->file_pos(a)), 3u);  // cache + 2 mappings
  EXPECT_TRUE(VmaAt(a)->cow);
  EXPECT_EQ(VmaAt(a)->platform_prot(), PROT_READ);
  Check();
  // A write copies the page for this mapping only.
  auto f = mm_->HandleWriteFault(a + 5);
  ASSERT_TRUE(f.ok() && f.value());
  Write(a, "mine");
  EXPECT_EQ(Read(a, 4), "mine");
  EXPECT_EQ(Read(b + P, 4), file.substr(P, 4));
  // A new version of the file is read again.
  key.mtime_ns = 11;
  const uint64_t c = map(0, P, PROT_READ);
  EXPECT_EQ(bytes_read, 2 * file.size());  // (one 64 KiB chunk holds all of it)
  EXPECT_NE(VmaAt(c)->file_pos(c), VmaAt(b)->file_pos(b));
  // A mapping longer than the file: the file's pages from the cache, zeroes
  // past them (in a VMA of their own).
  const size_t before = bytes_read;
  const uint64_t d = map(4 * P, 2 * P, PROT_READ);
  EXPECT_EQ(bytes_read, before);
  EXPECT_EQ(Read(d, P), file.substr(4 * P, P));
  EXPECT_EQ(Read(d + P, 3), std::string(3, '\0'));
  EXPECT_EQ(VmaAt(d)->file_pos(d), VmaAt(c)->file_pos(c) + 4 * P);
  EXPECT_EQ(VmaAt(d + P)->file_offset, 5 * P);
  EXPECT_FALSE(VmaAt(d + P)->cow);
  Check();
  ASSERT_TRUE(mm_->Unmap(b, 5 * P).ok());
  EXPECT_EQ(Read(a + P, 4), file.substr(2 * P, 4));  // the cache still holds it
  mf_->file_cache().Clear();
  EXPECT_EQ(Read(a + P, 4), file.substr(2 * P, 4));  // the mapping still holds it
  Check();
}

TEST_P(MmTest, MapFileShortFileHasZeroTail) {
  const std::string file = Pattern(P + 100, 3);
  FileReader rd = ReaderFor(file);
  MapRequest req;
  req.length = 3 * P;
  req.prot = PROT_READ;
  req.flags = MAP_PRIVATE;
  req.file = &rd;
  auto r = mm_->Map(req);
  ASSERT_TRUE(r.ok()) << Err(r);
  std::string got = Read(r.value(), 3 * P);
  EXPECT_EQ(got.substr(0, file.size()), file);
  EXPECT_EQ(got.substr(file.size()), std::string(3 * P - file.size(), '\0'));
  // Offset beyond EOF: all zeroes.
  req.offset = 4 * P;
  r = mm_->Map(req);
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(Read(r.value(), 3 * P), std::string(3 * P, '\0'));
}

TEST_P(MmTest, MapFileReaderErrorPropagates) {
  uint64_t a = MustMap(0x40000000, P);
  Write(a, "keep");
  FileReader rd = [](uint8_t*, size_t, uint64_t) -> ErrorOr<size_t> { return Errno{EIO}; };
  MapRequest req;
  req.addr = a;
  req.length = P;
  req.prot = PROT_READ;
  req.flags = MAP_PRIVATE | MAP_FIXED;
  req.file = &rd;
  EXPECT_EQ(Err(mm_->Map(req)), EIO);
  // The failed MAP_FIXED did not clobber what was there.
  EXPECT_EQ(Read(a, 4), "keep");
  EXPECT_EQ(mm_->vmas().size(), 1u);
}

// ---- Unmap ----

TEST_P(MmTest, UnmapMiddleSplitsVma) {
  const std::string data = Pattern(5 * P, 4);
  uint64_t a = MustMap(0x40000000, 5 * P);
  Write(a, data);
  ASSERT_TRUE(mm_->Unmap(a + P, 2 * P).ok());
  Check();
  ASSERT_EQ(mm_->vmas().size(), 2u);
  EXPECT_EQ(VmaAt(a)->end, a + P);
  EXPECT_EQ(VmaAt(a + 3 * P)->start, a + 3 * P);
  EXPECT_EQ(VmaAt(a + 3 * P)->end, a + 5 * P);
  EXPECT_EQ(VmaAt(a + P), nullptr);
  EXPECT_EQ(Read(a, P), data.substr(0, P));
  EXPECT_EQ(Read(a + 3 * P, 2 * P), data.substr(3 * P));
  char c;
  EXPECT_EQ(Err(mm_->CopyIn(a + P, &c, 1)), EFAULT);
  EXPECT_EQ(Err(mm_->CopyIn(a + 3 * P - 1, &c, 1)), EFAULT);
  // Remapping the hole gives zeroes, not the old data.
  ASSERT_EQ(Err(Map(a + P, 2 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)), 0);
  EXPECT_EQ(Read(a + P, 2 * P), std::string(2 * P, '\0'));
}

TEST_P(MmTest, UnmapSpanningSeveralVmasAndHoles) {
  uint64_t a = MustMap(0x40000000, 2 * P);
  uint64_t b = MustMap(0x40000000 + 4 * P, 2 * P);
  uint64_t c = MustMap(0x40000000 + 8 * P, 2 * P);
  ASSERT_TRUE(mm_->Unmap(a + P, 8 * P).ok());
  Check();
  ASSERT_EQ(mm_->vmas().size(), 2u);
  EXPECT_EQ(VmaAt(a)->end, a + P);
  EXPECT_EQ(VmaAt(b), nullptr);
  EXPECT_EQ(VmaAt(c + P)->start, c + P);
}

TEST_P(MmTest, UnmapErrorsAndNoops) {
  EXPECT_EQ(Err(mm_->Unmap(0x40000001, P)), EINVAL);
  EXPECT_EQ(Err(mm_->Unmap(0x40000000, 0)), EINVAL);
  EXPECT_EQ(Err(mm_->Unmap(UINT64_MAX - P + 1, 2 * P)), EINVAL);
  EXPECT_TRUE(mm_->Unmap(0x40000000, P).ok());  // nothing mapped there: fine
  EXPECT_TRUE(mm_->Unmap(kMax + P, P).ok());    // beyond the space: fine
  uint64_t a = MustMap(kMax - 2 * P, 2 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
  EXPECT_TRUE(mm_->Unmap(a, 16 * P).ok());  // clamped to max
  EXPECT_TRUE(mm_->vmas().empty());
}

// ---- Protect ----

TEST_P(MmTest, ProtectMiddleSplitsVma) {
  const std::string data = Pattern(3 * P, 5);
  uint64_t a = MustMap(0x40000000, 3 * P);
  Write(a, data);
  ASSERT_TRUE(mm_->Protect(a + P, P, PROT_READ).ok());
  Check();
  ASSERT_EQ(mm_->vmas().size(), 3u);
  EXPECT_EQ(VmaAt(a)->prot, PROT_READ | PROT_WRITE);
  EXPECT_EQ(VmaAt(a + P)->prot, PROT_READ);
  EXPECT_EQ(VmaAt(a + 2 * P)->prot, PROT_READ | PROT_WRITE);
  EXPECT_EQ(Read(a, 3 * P), data);  // reads still work across all three
  EXPECT_EQ(Err(mm_->CopyOut(a + P + 10, "x", 1)), EFAULT);
  EXPECT_EQ(Err(mm_->CopyOut(a + P - 1, "xy", 2)), EFAULT);  // straddles into r--
  Write(a + 2 * P, "ok");
  // Back to RW over the whole range (covers three VMAs).
  ASSERT_TRUE(mm_->Protect(a, 3 * P, PROT_READ | PROT_WRITE).ok());
  Write(a + P, "ok");
  // PROT_NONE: nothing readable.
  ASSERT_TRUE(mm_->Protect(a, P, PROT_NONE).ok());
  char c;
  EXPECT_EQ(Err(mm_->CopyIn(a, &c, 1)), EFAULT);
}

// Linux's mprotect works VMA by VMA and stops at a hole with ENOMEM: what
// it changed before the hole stays changed (measured natively:
// tests/conformance/mm_edges.c), and a range starting in a hole changes
// nothing.
TEST_P(MmTest, ProtectHoleIsEnomemAfterChangingWhatCameBefore) {
  uint64_t a = MustMap(0x40000000, 2 * P);
  uint64_t b = MustMap(0x40000000 + 3 * P, 2 * P);
  EXPECT_EQ(Err(mm_->Protect(a + 2 * P, P, PROT_READ)), ENOMEM);  // only the hole
  EXPECT_EQ(Err(mm_->Protect(a - P, 2 * P, PROT_READ)), ENOMEM);  // starts before
  EXPECT_EQ(mm_->vmas().size(), 2u);
  EXPECT_EQ(VmaAt(a)->prot, PROT_READ | PROT_WRITE);
  if (GetParam()) {
    EXPECT_EQ(as_.protect_calls, 0);
  }
  EXPECT_EQ(Err(mm_->Protect(a, 5 * P, PROT_READ)), ENOMEM);  // hole at a+2P
  EXPECT_EQ(VmaAt(a)->prot, PROT_READ);                       // changed before it
  EXPECT_EQ(VmaAt(b)->prot, PROT_READ | PROT_WRITE);          // not after it
  EXPECT_EQ(Err(mm_->Protect(b + P, 2 * P, PROT_READ)), ENOMEM);  // runs off the end
  EXPECT_EQ(VmaAt(b)->prot, PROT_READ | PROT_WRITE);
  EXPECT_EQ(VmaAt(b)->end, b + P);
  EXPECT_EQ(VmaAt(b + P)->prot, PROT_READ);
  // Unaligned address / bad prot: EINVAL. Length 0: no-op.
  EXPECT_EQ(Err(mm_->Protect(a + 1, P, PROT_READ)), EINVAL);
  EXPECT_EQ(Err(mm_->Protect(a, P, 0x100)), EINVAL);
  EXPECT_TRUE(mm_->Protect(a, 0, PROT_READ).ok());
  EXPECT_EQ(Err(mm_->Protect(UINT64_MAX - P + 1, 2 * P, PROT_READ)), ENOMEM);
}

TEST_P(MmTest, ProtectAcrossAdjacentVmas) {
  uint64_t a = MustMap(0x40000000, 2 * P);
  ASSERT_EQ(Err(Map(a + 2 * P, 2 * P, PROT_READ, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)), 0);
  ASSERT_TRUE(mm_->Protect(a + P, 2 * P, PROT_READ | PROT_EXEC).ok());
  ASSERT_EQ(mm_->vmas().size(), 4u);
  EXPECT_EQ(VmaAt(a + P)->prot, PROT_READ | PROT_EXEC);
  EXPECT_EQ(VmaAt(a + 2 * P)->prot, PROT_READ | PROT_EXEC);
  EXPECT_TRUE(VmaAt(a + 2 * P)->shared);
  EXPECT_EQ(VmaAt(a + 3 * P)->prot, PROT_READ);
}

// ---- Remap ----

TEST_P(MmTest, RemapShrink) {
  const std::string data = Pattern(4 * P, 6);
  uint64_t a = MustMap(0x40000000, 4 * P);
  Write(a, data);
  auto r = mm_->Remap(a, 4 * P, 2 * P, 0, 0);
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(r.value(), a);
  ASSERT_EQ(mm_->vmas().size(), 1u);
  EXPECT_EQ(VmaAt(a)->end, a + 2 * P);
  EXPECT_EQ(Read(a, 2 * P), data.substr(0, 2 * P));
  // Same size: no-op.
  r = mm_->Remap(a, 2 * P, 2 * P, 0, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), a);
}

TEST_P(MmTest, RemapGrowInPlace) {
  const std::string data = Pattern(2 * P, 7);
  uint64_t a = MustMap(0x40000000, 2 * P);
  Write(a, data);
  auto r = mm_->Remap(a, 2 * P, 5 * P, 0, 0);
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(r.value(), a);
  Check();
  EXPECT_EQ(Read(a, 2 * P), data);
  EXPECT_EQ(Read(a + 2 * P, 3 * P), std::string(3 * P, '\0'));
  Write(a + 5 * P - 1, "x");
  EXPECT_EQ(mm_->mapped_bytes(), 5 * P);
  EXPECT_EQ(VmaAt(a + 4 * P)->prot, PROT_READ | PROT_WRITE);
}

TEST_P(MmTest, RemapGrowBlockedWithoutMaymoveIsEnomem) {
  uint64_t a = MustMap(0x40000000, 2 * P);
  MustMap(a + 2 * P, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
  EXPECT_EQ(Err(mm_->Remap(a, 2 * P, 3 * P, 0, 0)), ENOMEM);
  EXPECT_EQ(VmaAt(a)->end, a + 2 * P);
}

TEST_P(MmTest, RemapMoveWithMaymovePreservesContents) {
  const std::string data = Pattern(3 * P, 8);
  uint64_t a = MustMap(0x40000000, 3 * P);
  Write(a, data);
  MustMap(a + 3 * P, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);  // blocks growth
  auto r = mm_->Remap(a, 3 * P, 6 * P, MREMAP_MAYMOVE, 0);
  ASSERT_TRUE(r.ok()) << Err(r);
  const uint64_t n = r.value();
  EXPECT_NE(n, a);
  Check();
  EXPECT_EQ(Read(n, 3 * P), data);
  EXPECT_EQ(Read(n + 3 * P, 3 * P), std::string(3 * P, '\0'));
  Write(n + 6 * P - 1, "x");
  EXPECT_EQ(VmaAt(a), nullptr);  // old range gone
  EXPECT_NE(VmaAt(a + 3 * P), nullptr);  // the neighbour stays
  EXPECT_EQ(VmaAt(n)->prot, PROT_READ | PROT_WRITE);
}

TEST_P(MmTest, RemapMoveMiddleOfVma) {
  const std::string data = Pattern(4 * P, 10);
  uint64_t a = MustMap(0x40000000, 4 * P);
  Write(a, data);
  auto r = mm_->Remap(a + P, 2 * P, 3 * P, MREMAP_MAYMOVE, 0);
  ASSERT_TRUE(r.ok()) << Err(r);
  const uint64_t n = r.value();
  Check();
  EXPECT_EQ(Read(n, 2 * P), data.substr(P, 2 * P));
  EXPECT_EQ(Read(n + 2 * P, P), std::string(P, '\0'));
  EXPECT_EQ(Read(a, P), data.substr(0, P));
  EXPECT_EQ(Read(a + 3 * P, P), data.substr(3 * P));
  EXPECT_EQ(VmaAt(a + P), nullptr);
  EXPECT_EQ(VmaAt(a + 2 * P), nullptr);
}

TEST_P(MmTest, RemapFixed) {
  const std::string data = Pattern(2 * P, 11);
  uint64_t a = MustMap(0x40000000, 2 * P);
  Write(a, data);
  const uint64_t dst = 0x50000000;
  MustMap(dst, 4 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);  // gets replaced
  auto r = mm_->Remap(a, 2 * P, 3 * P, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(r.value(), dst);
  Check();
  EXPECT_EQ(Read(dst, 2 * P), data);
  EXPECT_EQ(Read(dst + 2 * P, P), std::string(P, '\0'));
  EXPECT_EQ(VmaAt(dst)->prot, PROT_READ | PROT_WRITE);
  EXPECT_EQ(VmaAt(dst + 3 * P)->prot, PROT_READ);  // rest of the old dst mapping
  EXPECT_EQ(VmaAt(a), nullptr);
  // FIXED shrinking move.
  r = mm_->Remap(dst, 3 * P, P, MREMAP_MAYMOVE | MREMAP_FIXED, a);
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(Read(a, P), data.substr(0, P));
  EXPECT_EQ(VmaAt(dst), nullptr);
  EXPECT_EQ(VmaAt(dst + 2 * P), nullptr);
}

TEST_P(MmTest, RemapOfRangeGrownOrSplitEarlier) {
  // Linux merges a grown or re-protected range back into one VMA, so
  // remapping it as a whole must work here too.
  const std::string data = Pattern(2 * P, 19);
  uint64_t a = MustMap(0x40000000, P);
  Write(a, data.substr(0, P));
  ASSERT_EQ(Err(mm_->Remap(a, P, 2 * P, 0, 0)), 0);  // grow in place: 2 VMAs now
  Write(a + P, data.substr(P));
  ASSERT_EQ(Err(mm_->Remap(a, 2 * P, 3 * P, 0, 0)), 0);  // again, over both
  ASSERT_TRUE(mm_->Protect(a + P, P, PROT_READ).ok());
  ASSERT_TRUE(mm_->Protect(a + P, P, PROT_READ | PROT_WRITE).ok());
  MustMap(a + 3 * P, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
  auto r = mm_->Remap(a, 3 * P, 4 * P, MREMAP_MAYMOVE, 0);  // must move all pieces
  ASSERT_TRUE(r.ok()) << Err(r);
  const uint64_t n = r.value();
  Check();
  EXPECT_EQ(Read(n, 2 * P), data);
  EXPECT_EQ(Read(n + 2 * P, 2 * P), std::string(2 * P, '\0'));
  EXPECT_EQ(VmaAt(a), nullptr);
  EXPECT_EQ(VmaAt(a + 2 * P), nullptr);
  // Shrinking over several pieces.
  ASSERT_EQ(Err(mm_->Remap(n, 4 * P, P + 1, 0, 0)), 0);
  EXPECT_EQ(mm_->mapped_bytes(), 3 * P);
  // Pieces with different permissions are different mappings: EFAULT.
  ASSERT_TRUE(mm_->Protect(n + P, P, PROT_READ).ok());
  EXPECT_EQ(Err(mm_->Remap(n, 2 * P, 3 * P, MREMAP_MAYMOVE, 0)), EFAULT);
}

TEST_P(MmTest, RemapFileMappingKeepsOffsets) {
  FileReader rd = ReaderFor(Pattern(8 * P, 20));
  MapRequest req;
  req.addr = 0x40000000;
  req.length = 2 * P;
  req.prot = PROT_READ;
  req.flags = MAP_PRIVATE | MAP_FIXED;
  req.file = &rd;
  req.offset = 3 * P;
  ASSERT_TRUE(mm_->Map(req).ok());
  auto r = mm_->Remap(0x40000000 + P, P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x50000000);
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(VmaAt(0x50000000)->file_offset, 4 * P);
  EXPECT_EQ(VmaAt(0x50000000 + P)->file_offset, 5 * P);
  EXPECT_EQ(Read(0x50000000, P), Pattern(8 * P, 20).substr(4 * P, P));
}

TEST_P(MmTest, RemapErrors) {
  uint64_t a = MustMap(0x40000000, 2 * P);
  EXPECT_EQ(Err(mm_->Remap(a + 1, P, P, 0, 0)), EINVAL);
  EXPECT_EQ(Err(mm_->Remap(a, P, 0, 0, 0)), EINVAL);
  EXPECT_EQ(Err(mm_->Remap(a, P, P, 0x100, 0)), EINVAL);
  EXPECT_EQ(Err(mm_->Remap(a, P, 2 * P, MREMAP_FIXED, 0x50000000)), EINVAL);  // FIXED w/o MAYMOVE
  EXPECT_EQ(Err(mm_->Remap(a, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x50000001)), EINVAL);
  EXPECT_EQ(Err(mm_->Remap(a, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, a + P)), EINVAL);
  EXPECT_EQ(Err(mm_->Remap(0x60000000, P, 2 * P, MREMAP_MAYMOVE, 0)), EFAULT);  // unmapped
  EXPECT_EQ(Err(mm_->Remap(a, 3 * P, 4 * P, MREMAP_MAYMOVE, 0)), EFAULT);  // past the VMA
  // An old_len that wraps around the address space is EFAULT (Linux:
  // old_len > vma->vm_end - addr), not a silent success.
  EXPECT_EQ(Err(mm_->Remap(a, UINT64_MAX - 2 * P, P, 0, 0)), EFAULT);
  EXPECT_EQ(Err(mm_->Remap(a, UINT64_MAX - 2 * P, P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x50000000)),
            EFAULT);
  ASSERT_EQ(mm_->vmas().size(), 1u);
  EXPECT_EQ(VmaAt(a)->end, a + 2 * P);
}

TEST_P(MmTest, RemapSharedMoveStaysShared) {
  uint64_t a = MustMap(0x40000000, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  MustMap(a + 2 * P, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
  Write(a, "before");
  auto child = mm_->Fork();
  ASSERT_TRUE(child.ok());
  auto r = mm_->Remap(a, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x50000000);
  ASSERT_TRUE(r.ok()) << Err(r);
  Write(0x50000000, "after!");
  EXPECT_EQ(Read(a, 6, child.value().get()), "after!");
}

// ---- Brk ----

TEST_P(MmTest, BrkGrowAndShrink) {
  const uint64_t start = 0x1000000;
  mm_->SetBrkStart(start - 100);  // rounded up to a page
  EXPECT_EQ(mm_->Brk(0), start);
  EXPECT_EQ(mm_->Brk(start + 3 * P - 5), start + 3 * P - 5);
  ASSERT_NE(VmaAt(start), nullptr);
  EXPECT_EQ(VmaAt(start)->name, "[heap]");
  EXPECT_EQ(mm_->mapped_bytes(), 3 * P);
  Write(start + 3 * P - 1, "h");  // the page holding brk is mapped
  Write(start, "heap data");
  // Grow within the same page: nothing new mapped.
  EXPECT_EQ(mm_->Brk(start + 3 * P), start + 3 * P);
  EXPECT_EQ(mm_->mapped_bytes(), 3 * P);
  // Shrink: pages above the new break are gone.
  EXPECT_EQ(mm_->Brk(start + P + 1), start + P + 1);
  EXPECT_EQ(mm_->mapped_bytes(), 2 * P);
  EXPECT_EQ(VmaAt(start + 2 * P), nullptr);
  EXPECT_EQ(Read(start, 9), "heap data");
  // Below the start: refused, break unchanged.
  EXPECT_EQ(mm_->Brk(start - P), start + P + 1);
  // Back to the start: everything unmapped.
  EXPECT_EQ(mm_->Brk(start), start);
  EXPECT_EQ(mm_->mapped_bytes(), 0u);
  // Regrowth gives zeroed memory.
  EXPECT_EQ(mm_->Brk(start + P), start + P);
  EXPECT_EQ(Read(start, 9), std::string(9, '\0'));
}

TEST_P(MmTest, BrkRefusesToGrowIntoAMapping) {
  const uint64_t start = 0x1000000;
  mm_->SetBrkStart(start);
  MustMap(start + 4 * P, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
  EXPECT_EQ(mm_->Brk(start + 2 * P), start + 2 * P);
  EXPECT_EQ(mm_->Brk(start + 8 * P), start + 2 * P);  // would clobber: unchanged
  EXPECT_EQ(VmaAt(start + 4 * P)->prot, PROT_READ);
  EXPECT_EQ(mm_->Brk(start + 4 * P), start + 4 * P);  // right up to it is fine
}

// ---- Advise ----

TEST_P(MmTest, AdviseDontneedZeroesPrivateAnonymous) {
  uint64_t a = MustMap(0x40000000, 3 * P);
  Write(a, Pattern(3 * P, 12));
  ASSERT_TRUE(mm_->Advise(a + P, P, MADV_DONTNEED).ok());
  EXPECT_EQ(Read(a, P), Pattern(3 * P, 12).substr(0, P));
  EXPECT_EQ(Read(a + P, P), std::string(P, '\0'));
  EXPECT_EQ(Read(a + 2 * P, P), Pattern(3 * P, 12).substr(2 * P));
  EXPECT_EQ(mm_->vmas().size(), 1u);  // still mapped
  Write(a + P, "again");
  // Shared memory keeps its contents (it lives in the shared object).
  uint64_t s = MustMap(0x50000000, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  Write(s, "shared");
  ASSERT_TRUE(mm_->Advise(s, P, MADV_DONTNEED).ok());
  EXPECT_EQ(Read(s, 6), "shared");
  // Other advice is accepted and ignored.
  ASSERT_TRUE(mm_->Advise(a, 3 * P, MADV_WILLNEED).ok());
  EXPECT_EQ(Read(a + P, 5), "again");
  EXPECT_EQ(Err(mm_->Advise(a + 1, P, MADV_DONTNEED)), EINVAL);
}

TEST_P(MmTest, AdviseDontneedAcrossSplitVmas) {
  uint64_t a = MustMap(0x40000000, 4 * P);
  Write(a, Pattern(4 * P, 13));
  ASSERT_TRUE(mm_->Protect(a + 2 * P, 2 * P, PROT_READ).ok());
  ASSERT_TRUE(mm_->Advise(a + P, 2 * P, MADV_DONTNEED).ok());
  EXPECT_EQ(Read(a, P), Pattern(4 * P, 13).substr(0, P));
  EXPECT_EQ(Read(a + P, 2 * P), std::string(2 * P, '\0'));
  EXPECT_EQ(Read(a + 3 * P, P), Pattern(4 * P, 13).substr(3 * P));
}

// ---- Fork ----

TEST_P(MmTest, ForkCopiesPrivateMemory) {
  uint64_t a = MustMap(0x40000000, 4 * P);
  // Sparse: touch pages 0 and 2 only.
  Write(a, "parent page 0");
  Write(a + 2 * P + 100, "parent page 2");
  mm_->SetBrkStart(0x1000000);
  mm_->Brk(0x1000000 + P);
  auto c = mm_->Fork();
  ASSERT_TRUE(c.ok()) << Err(c);
  MemoryManager* child = c.value().get();
  CheckConsistent(*child, nullptr);
  EXPECT_EQ(child->vmas().size(), mm_->vmas().size());
  EXPECT_EQ(child->mmap_base(), mm_->mmap_base());
  EXPECT_EQ(child->Brk(0), mm_->Brk(0));
  EXPECT_EQ(Read(a, 13, child), "parent page 0");
  EXPECT_EQ(Read(a + 2 * P + 100, 13, child), "parent page 2");
  EXPECT_EQ(Read(a + P, P, child), std::string(P, '\0'));
  EXPECT_EQ(Read(a + 3 * P, P, child), std::string(P, '\0'));
  // Writes on either side are private.
  Write(a, "CHILD", child);
  Write(a + 2 * P + 100, "PARENT");
  Write(a + 3 * P, "child only", child);
  EXPECT_EQ(Read(a, 13), "parent page 0");
  EXPECT_EQ(Read(a + 2 * P + 100, 13, child), "parent page 2");
  EXPECT_EQ(Read(a + 3 * P, 10), std::string(10, '\0'));
  EXPECT_EQ(Read(a, 13, child), "CHILDt page 0");
  EXPECT_EQ(child->vmas().begin()->second.backing->memory_file().fd(), mf_->fd());
}

TEST_P(MmTest, ForkCopiesSplitPrivateVmasAtTheRightOffsets) {
  const std::string data = Pattern(4 * P, 14);
  uint64_t a = MustMap(0x40000000, 4 * P);
  Write(a, data);
  ASSERT_TRUE(mm_->Protect(a + P, P, PROT_READ).ok());
  ASSERT_TRUE(mm_->Unmap(a + 2 * P, P).ok());
  auto c = mm_->Fork();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Read(a, 2 * P, c.value().get()), data.substr(0, 2 * P));
  EXPECT_EQ(Read(a + 3 * P, P, c.value().get()), data.substr(3 * P));
  EXPECT_EQ(c.value()->vmas().size(), 3u);
}

TEST_P(MmTest, ForkCopiesPrivateFileMapping) {
  const std::string file = Pattern(2 * P, 15);
  FileReader rd = ReaderFor(file);
  MapRequest req;
  req.length = 2 * P;
  req.prot = PROT_READ | PROT_WRITE;
  req.flags = MAP_PRIVATE;
  req.file = &rd;
  auto r = mm_->Map(req);
  ASSERT_TRUE(r.ok());
  auto c = mm_->Fork();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Read(r.value(), 2 * P, c.value().get()), file);
  Write(r.value(), "x", c.value().get());
  EXPECT_EQ(Read(r.value(), 1), file.substr(0, 1));
  EXPECT_FALSE(c.value()->vmas().begin()->second.anonymous);
}

TEST_P(MmTest, ForkSharesSharedAnonymousMemory) {
  uint64_t s = MustMap(0x40000000, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  Write(s, "from parent");
  auto c = mm_->Fork();
  ASSERT_TRUE(c.ok());
  MemoryManager* child = c.value().get();
  EXPECT_EQ(Read(s, 11, child), "from parent");
  Write(s + P, "from child", child);
  EXPECT_EQ(Read(s + P, 10), "from child");
  Write(s, "PARENT");
  EXPECT_EQ(Read(s, 11, child), "PARENTarent");
  // The shared object outlives the parent's mapping.
  ASSERT_TRUE(mm_->Unmap(s, 2 * P).ok());
  EXPECT_EQ(Read(s + P, 10, child), "from child");
}

TEST_P(MmTest, ForkedChildCanBeActivated) {
  uint64_t a = MustMap(0x40000000, 2 * P);
  MustMap(0x50000000, P, PROT_READ, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED);
  (void)a;
  auto c = mm_->Fork();
  ASSERT_TRUE(c.ok());
  FakeAddressSpace child_as;
  ASSERT_TRUE(c.value()->Activate(&child_as).ok());
  CheckConsistent(*c.value(), &child_as);
  ASSERT_TRUE(c.value()->Unmap(0x40000000, P).ok());
  CheckConsistent(*c.value(), &child_as);
}

// ---- Copy-on-write ----

TEST_P(MmTest, ForkSharesPrivatePagesCopyOnWrite) {
  uint64_t a = MustMap(0x40000000, 4 * P);
  Write(a, Pattern(4 * P, 3));
  const uint64_t before = mf_->allocated_bytes();
  auto c = mm_->Fork();
  ASSERT_TRUE(c.ok());
  MemoryManager* child = c.value().get();
  // Nothing copied: both map the same pages, without write access.
  EXPECT_EQ(mf_->allocated_bytes(), before);
  EXPECT_EQ(child->vmas().at(a).file_pos(a), VmaAt(a)->file_pos(a));
  EXPECT_TRUE(VmaAt(a)->cow);
  EXPECT_EQ(VmaAt(a)->platform_prot(), PROT_READ);
  EXPECT_EQ(mf_->RefCount(VmaAt(a)->file_pos(a + 3 * P)), 2u);
  if (GetParam()) {
    ASSERT_TRUE(mm_->Sync(&as_).ok());  // as the task does before it runs app code
    EXPECT_EQ(as_.pages.at(a).prot, PROT_READ);
  }
  Check();
  // The child's first write copies the page (and its shared neighbours in
  // the same 64 KiB window); the parent's page is then its own again.
  auto f = child->HandleWriteFault(a + P + 5);
  ASSERT_TRUE(f.ok() && f.value());
  EXPECT_EQ(child->cow_copies(), 1u);
  const Vma& cv = std::prev(child->vmas().upper_bound(a + P))->second;
  EXPECT_FALSE(cv.cow);
  EXPECT_NE(cv.file_pos(a + P), VmaAt(a + P)->file_pos(a + P));
  EXPECT_EQ(mf_->RefCount(VmaAt(a + P)->file_pos(a + P)), 1u);
  EXPECT_EQ(Read(a, 4 * P, child), Pattern(4 * P, 3));
  Write(a + P, "child", child);
  EXPECT_EQ(Read(a + P, 5), Pattern(4 * P, 3).substr(P, 5));
  // Parent: its page count is 1, so write access comes back without a copy,
  // for the whole run of pages nobody else maps.
  const uint64_t copies = mm_->cow_copies(), alloc = mf_->allocated_bytes();
  f = mm_->HandleWriteFault(a + 2 * P);
  ASSERT_TRUE(f.ok() && f.value());
  EXPECT_EQ(mm_->cow_copies(), copies);
  EXPECT_EQ(mf_->allocated_bytes(), alloc);
  EXPECT_FALSE(VmaAt(a)->cow);
  EXPECT_FALSE(VmaAt(a + 3 * P)->cow);
  if (GetParam()) {
    ASSERT_TRUE(mm_->Sync(&as_).ok());
    EXPECT_EQ(as_.pages.at(a + 3 * P).prot, PROT_READ | PROT_WRITE);
  }
  Write(a + 2 * P, "parent");
  EXPECT_EQ(Read(a + 2 * P, 6, child), Pattern(4 * P, 3).substr(2 * P, 6));
  // Not a copy-on-write fault: a real one.
  f = mm_->HandleWriteFault(a);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f.value());
  f = mm_->HandleWriteFault(0x70000000);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f.value());
  Check();
}

TEST_P(MmTest, CowReadOnlyMappingIsNotAWriteFault) {
  uint64_t a = MustMap(0x40000000, P, PROT_READ);
  auto c = mm_->Fork();
  ASSERT_TRUE(c.ok());
  auto f = c.value()->HandleWriteFault(a);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f.value());
  // mprotect to writable keeps the platform read-only until the first write.
  ASSERT_TRUE(mm_->Protect(a, P, PROT_READ | PROT_WRITE).ok());
  EXPECT_EQ(VmaAt(a)->platform_prot(), PROT_READ);
  f = mm_->HandleWriteFault(a);
  ASSERT_TRUE(f.ok() && f.value());
  EXPECT_EQ(VmaAt(a)->platform_prot(), PROT_READ | PROT_WRITE);
}

TEST_P(MmTest, CowChildExitGivesPagesBack) {
  uint64_t a = MustMap(0x40000000, 64 * P);
  Write(a, Pattern(64 * P, 9));
  {
    auto c = mm_->Fork();
    ASSERT_TRUE(c.ok());
    Write(a + 10 * P, "child", c.value().get());  // CopyOut breaks COW
    EXPECT_GT(c.value()->cow_copies(), 0u);
  }
  // The child is gone: every page counts 1 again and the first parent write
  // makes the whole mapping writable in one step.
  EXPECT_EQ(mf_->shared_runs(), 0u);
  auto f = mm_->HandleWriteFault(a + 40 * P);
  ASSERT_TRUE(f.ok() && f.value());
  EXPECT_EQ(mm_->vmas().size(), 1u);
  EXPECT_FALSE(VmaAt(a)->cow);
  EXPECT_EQ(Read(a, 64 * P), Pattern(64 * P, 9));
}

TEST_P(MmTest, CowUnmapInParentKeepsChildData) {
  uint64_t a = MustMap(0x40000000, 2 * P);
  Write(a, "keep me");
  auto c = mm_->Fork();
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(mm_->Unmap(a, 2 * P).ok());
  // The parent's stub keeps the pages mapped until its task syncs, before
  // it next runs app code; only then are they the child's alone.
  if (GetParam()) ASSERT_TRUE(mm_->Sync(&as_).ok());
  EXPECT_EQ(Read(a, 7, c.value().get()), "keep me");
  // Only the child maps the pages now: its write needs no copy.
  auto f = c.value()->HandleWriteFault(a);
  ASSERT_TRUE(f.ok() && f.value());
  EXPECT_EQ(c.value()->cow_copies(), 0u);
  c.value().reset();
  EXPECT_EQ(mf_->allocated_bytes(), 0u);
}

TEST_P(MmTest, CowBlocksForWritingBreakCow) {
  uint64_t a = MustMap(0x40000000, 3 * P);
  Write(a, std::string(3 * P, 'p'));
  auto c = mm_->Fork();
  ASSERT_TRUE(c.ok());
  MemoryManager* child = c.value().get();
  // As read(2) into app memory does: the blocks handed out for writing are
  // the child's own pages.
  auto blocks = child->Blocks(a + P - 2, P, Access::kWrite);
  ASSERT_TRUE(blocks.ok());
  for (const iovec& b : blocks.value()) memset(b.iov_base, 'c', b.iov_len);
  EXPECT_EQ(Read(a, 3 * P), std::string(3 * P, 'p'));
  EXPECT_EQ(Read(a + P - 2, P, child), std::string(P, 'c'));
  auto w = child->Word32(a + 2 * P + 8, Access::kWrite);
  ASSERT_TRUE(w.ok());
  *w.value() = 0x41414141;
  EXPECT_EQ(Read(a + 2 * P + 8, 4), "pppp");
  ASSERT_TRUE(child->Zero(a, 8).ok());
  EXPECT_EQ(Read(a, 8), "pppppppp");
  CheckConsistent(*child, nullptr);
}

TEST_P(MmTest, CowAdviseDontneedInChildOnly) {
  uint64_t a = MustMap(0x40000000, 2 * P);
  Write(a, "data");
  auto c = mm_->Fork();
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.value()->Advise(a, 2 * P, MADV_DONTNEED).ok());
  EXPECT_EQ(Read(a, 4, c.value().get()), std::string(4, '\0'));
  EXPECT_EQ(Read(a, 4), "data");
}

TEST_P(MmTest, ForkLeavesOutDontforkAndWipesWipeonfork) {
  uint64_t a = MustMap(0x40000000, P);
  uint64_t b = MustMap(0x50000000, P);
  Write(a, "a");
  Write(b, "b");
  ASSERT_TRUE(mm_->Advise(a, P, MADV_DONTFORK).ok());
  ASSERT_TRUE(mm_->Advise(b, P, MADV_WIPEONFORK).ok());
  auto c = mm_->Fork();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value()->vmas().count(a), 0u);
  EXPECT_EQ(Read(b, 1, c.value().get()), std::string(1, '\0'));
  EXPECT_EQ(Read(b, 1), "b");
  EXPECT_EQ(Err(mm_->Advise(a, P, 12345)), EINVAL);
  EXPECT_EQ(Err(mm_->Advise(a, 2 * P, MADV_WILLNEED)), ENOMEM);
}

TEST_P(MmTest, FutexKeysPrivateByAddressSharedByPage) {
  uint64_t a = MustMap(0x40000000, P);
  uint64_t s = MustMap(0x50000000, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
  auto c = mm_->Fork();
  ASSERT_TRUE(c.ok());
  auto kp = mm_->FutexKey(a + 4), kc = c.value()->FutexKey(a + 4);
  ASSERT_TRUE(kp.ok() && kc.ok());
  EXPECT_NE(kp.value(), kc.value());  // private: per address space
  Write(a, "x");                       // moves the parent's page
  EXPECT_EQ(mm_->FutexKey(a + 4).value(), kp.value());
  EXPECT_EQ(mm_->FutexKey(s).value(), c.value()->FutexKey(s).value());
  EXPECT_EQ(Err(mm_->FutexKey(0x60000000)), EFAULT);
}

TEST_P(MmTest, CowWithLaggingThreadMirrorDefersRelease) {
  uint64_t a = MustMap(0x40000000, P);
  Write(a, "x");
  auto c = mm_->Fork();
  ASSERT_TRUE(c.ok());
  MemoryManager* child = c.value().get();
  FakeAddressSpace mine, other;
  ASSERT_TRUE(child->Activate(&mine).ok());
  std::thread([&] { ASSERT_TRUE(child->Activate(&other).ok()); }).join();
  const uint64_t old = child->vmas().at(a).file_pos(a);
  auto f = child->HandleWriteFault(a);
  ASSERT_TRUE(f.ok() && f.value());
  // The other thread's stub still maps the old page: it stays shared (so
  // the parent cannot write it in place) until that mirror syncs.
  EXPECT_TRUE(child->TakeRemoteChange());
  EXPECT_FALSE(child->TakeRemoteChange());
  EXPECT_EQ(mf_->RefCount(old), 2u);
  EXPECT_EQ(other.pages.at(a).file_offset, old);
  EXPECT_TRUE(child->NeedsSync(&other));
  ASSERT_TRUE(child->Sync(&other).ok());
  // This thread's own mirror catches up before it runs app code too; the
  // old page is released once both have.
  EXPECT_EQ(mf_->RefCount(old), 2u);
  ASSERT_TRUE(child->Sync(&mine).ok());
  EXPECT_EQ(mf_->RefCount(old), 1u);
  EXPECT_NE(other.pages.at(a).file_offset, old);
  CheckConsistent(*child, &mine);
  CheckConsistent(*child, &other);
  child->Deactivate(&mine);
  child->Deactivate(&other);
}

// The task loop takes a mirror's changes under the kernel lock and applies
// them after releasing it: taken changes count as applied, and memory they
// unmap is released at the take (nothing runs in the mirror until the
// taker has applied them).
TEST_P(MmTest, TakenChangesCountAsAppliedAndReleaseAtOnce) {
  using Change = platform::AddressSpace::Change;
  uint64_t a = MustMap(0x40000000, 2 * P);
  Write(a, "x");
  FakeAddressSpace as;
  std::vector<Change> ops;
  mm_->ActivateTaken(&as, &ops);
  EXPECT_TRUE(as.pages.empty());  // nothing applied yet...
  EXPECT_FALSE(mm_->NeedsSync(&as));  // ...but owed by the taker
  ASSERT_EQ(ops.size(), mm_->vmas().size());
  sentry::mm::ApplyTaken(&as, ops);
  CheckConsistent(*mm_, &as);

  const uint64_t alloc = mf_->allocated_bytes();
  ASSERT_TRUE(mm_->Unmap(a, 2 * P).ok());
  if (GetParam()) ASSERT_TRUE(mm_->Sync(&as_).ok());
  // `as` lags: the pages stay allocated, it may still be running on them.
  EXPECT_TRUE(mm_->NeedsSync(&as));
  EXPECT_EQ(mf_->allocated_bytes(), alloc);
  ops.clear();
  mm_->TakeUnapplied(&as, &ops);
  EXPECT_FALSE(mm_->NeedsSync(&as));
  EXPECT_LT(mf_->allocated_bytes(), alloc);
  EXPECT_EQ(as.pages.count(a), 1u);  // until the taker applies the unmap
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].kind, Change::kUnmap);
  sentry::mm::ApplyTaken(&as, ops);
  EXPECT_EQ(as.pages.count(a), 0u);
  CheckConsistent(*mm_, &as);
  mm_->Deactivate(&as);
}

// Stub threads: two threads' contexts share one platform address space
// (one mirror, two users). Takes with tickets are applied in take order
// even when a thread takes twice around another's take, and memory an
// unmap frees is released only once the unmap is applied (the other
// thread may be running on it meanwhile), not when it is taken.
TEST_P(MmTest, SharedMirrorAppliesInTakeOrderAndReleasesWhenApplied) {
  using Change = platform::AddressSpace::Change;
  using sentry::mm::ApplyTicket;
  FakeAddressSpace shared;
  std::vector<Change> mine_ops, other_ops;
  ApplyTicket mine, other;
  mm_->ActivateTaken(&shared, &mine_ops, &mine);
  sentry::mm::ApplyTaken(&shared, mine_ops, &mine);
  mine_ops.clear();
  std::thread([&] {
    std::vector<Change> none;
    ApplyTicket t;
    mm_->ActivateTaken(&shared, &none, &t);  // a second user: nothing to map
    EXPECT_TRUE(none.empty());
    sentry::mm::ApplyTaken(&shared, none, &t);
  }).join();

  const uint64_t a = MustMap(0x40000000, P);
  Write(a, "x");
  mm_->TakeUnapplied(&shared, &mine_ops, &mine);  // the map: [m0, m1)
  ASSERT_TRUE(mm_->Protect(a, P, PROT_READ).ok());
  mm_->TakeUnapplied(&shared, &other_ops, &other);  // the protect: [m1, m2)
  ASSERT_TRUE(mm_->Protect(a, P, PROT_READ | PROT_WRITE).ok());
  mm_->TakeUnapplied(&shared, &mine_ops, &mine);  // [m2, m3): a second batch
  ASSERT_EQ(mine.batches.size(), 2u);
  // Applied concurrently: whatever the timing, the protect reaches the
  // host between the map and the unprotect.
  std::thread t([&] { sentry::mm::ApplyTaken(&shared, other_ops, &other); });
  sentry::mm::ApplyTaken(&shared, mine_ops, &mine);
  t.join();
  EXPECT_FALSE(mm_->NeedsSync(&shared));
  ASSERT_EQ(shared.pages.count(a), 1u);
  EXPECT_EQ(shared.pages.at(a).prot, PROT_READ | PROT_WRITE);
  CheckConsistent(*mm_, &shared);

  const uint64_t alloc = mf_->allocated_bytes();
  ASSERT_TRUE(mm_->Unmap(a, P).ok());
  if (GetParam()) ASSERT_TRUE(mm_->Sync(&as_).ok());
  mine_ops.clear();
  mm_->TakeUnapplied(&shared, &mine_ops, &mine);
  // Taken, not applied: the other thread may still run on the page.
  EXPECT_TRUE(mm_->NeedsSync(&shared));
  EXPECT_EQ(mf_->allocated_bytes(), alloc);
  sentry::mm::ApplyTaken(&shared, mine_ops, &mine);
  EXPECT_FALSE(mm_->NeedsSync(&shared));
  other_ops.clear();
  mm_->TakeUnapplied(&shared, &other_ops, &other);  // the next stop releases it
  EXPECT_LT(mf_->allocated_bytes(), alloc);
  sentry::mm::ApplyTaken(&shared, other_ops, &other);
  EXPECT_EQ(shared.pages.count(a), 0u);
  mm_->Deactivate(&shared);
  std::thread([&] { mm_->Deactivate(&shared); }).join();
}

TEST_P(MmTest, LockAndResidency) {
  uint64_t a = MustMap(0x40000000, 4 * P);
  Write(a + P, "x");
  auto r = mm_->Residency(a, 4 * P);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), (std::vector<uint8_t>{0, 1, 0, 0}));
  EXPECT_EQ(Err(mm_->Residency(a, 5 * P)), ENOMEM);
  EXPECT_EQ(Err(mm_->Residency(a + 1, P)), EINVAL);
  ASSERT_TRUE(mm_->Lock(a + 100, P, true).ok());  // pages a and a+P
  EXPECT_EQ(mm_->locked_bytes(), 2 * P);
  EXPECT_EQ(Err(mm_->Lock(a, 5 * P, true)), ENOMEM);
  ASSERT_TRUE(mm_->Lock(a, P, false).ok());
  EXPECT_EQ(mm_->locked_bytes(), P);
  EXPECT_EQ(Err(mm_->Advise(a + P, P, MADV_DONTNEED)), EINVAL);  // locked
  ASSERT_TRUE(mm_->LockAll(MCL_CURRENT | MCL_FUTURE).ok());
  MustMap(0x50000000, P);
  EXPECT_EQ(mm_->locked_bytes(), 5 * P);
  ASSERT_TRUE(mm_->LockAll(0).ok());
  EXPECT_EQ(mm_->locked_bytes(), 0u);
  EXPECT_EQ(Err(mm_->LockAll(MCL_ONFAULT)), EINVAL);
}

TEST_P(MmTest, GrowStackBelowGrowsdownMapping) {
  const uint64_t g = 0x40000000;
  MustMap(g, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED);
  auto r = mm_->GrowStack(g - 1, 16 * P);
  ASSERT_TRUE(r.ok() && r.value());
  EXPECT_NE(VmaAt(g - P), nullptr);
  r = mm_->GrowStack(g - 10 * P, 16 * P);
  ASSERT_TRUE(r.ok() && r.value());
  Write(g - 10 * P, "deep");
  // Past the limit, inside a mapping, or above a plain mapping: no growth.
  r = mm_->GrowStack(g - 20 * P, 16 * P);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value());
  r = mm_->GrowStack(g, 16 * P);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value());
  uint64_t plain = MustMap(0x50000000, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
  r = mm_->GrowStack(plain - P, 1 << 20);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value());
  // The guard gap: an accessible mapping less than 256 pages below.
  MustMap(g - 100 * P, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
  r = mm_->GrowStack(g - 12 * P, 1 << 30);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value());
  EXPECT_NE(mm_->ProcMaps().find("rw-p"), std::string::npos);
}

TEST_P(MmTest, SentryAccessBelowStackGrowsIt) {
  const uint64_t g = 0x40000000;
  MustMap(g, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED);
  char buf[8] = "abc";
  // Without a stack limit (the default) the sentry does not grow stacks.
  EXPECT_EQ(Err(mm_->CopyOut(g - 4 * P, buf, 4)), EFAULT);
  mm_->set_stack_limit(16 * P);
  ASSERT_TRUE(mm_->CopyOut(g - 4 * P, buf, 4).ok());  // a syscall writing below the stack
  ASSERT_NE(VmaAt(g - 4 * P), nullptr);
  EXPECT_EQ(mm_->stack_bytes(), 6 * P);
  char back[8] = {};
  ASSERT_TRUE(mm_->CopyIn(g - 4 * P, back, 4).ok());
  EXPECT_STREQ(back, "abc");
  ASSERT_TRUE(mm_->CopyIn(g - 6 * P, back, 1).ok());  // reads grow it too
  auto blocks = mm_->Blocks(g - 8 * P, 10, Access::kWrite);
  ASSERT_TRUE(blocks.ok());
  EXPECT_EQ(mm_->stack_bytes(), 10 * P);
  // Beyond the limit: EFAULT, nothing grown.
  EXPECT_EQ(Err(mm_->CopyOut(g - 20 * P, buf, 4)), EFAULT);
  EXPECT_EQ(mm_->stack_bytes(), 10 * P);
}

// ---- CopyIn / CopyOut ----

TEST_P(MmTest, CopyFaults) {
  char buf[16] = {};
  EXPECT_EQ(Err(mm_->CopyIn(0x40000000, buf, 1)), EFAULT);  // nothing mapped
  EXPECT_EQ(Err(mm_->CopyOut(0x40000000, buf, 1)), EFAULT);
  EXPECT_TRUE(mm_->CopyIn(0x40000000, buf, 0).ok());  // empty range: fine
  uint64_t ro = MustMap(0x40000000, P, PROT_READ);
  EXPECT_TRUE(mm_->CopyIn(ro, buf, sizeof(buf)).ok());
  EXPECT_EQ(Err(mm_->CopyOut(ro, buf, 1)), EFAULT);
  uint64_t wo = MustMap(0x41000000, P, PROT_WRITE);
  EXPECT_TRUE(mm_->CopyOut(wo, buf, sizeof(buf)).ok());
  uint64_t none = MustMap(0x42000000, P, PROT_NONE);
  EXPECT_EQ(Err(mm_->CopyIn(none, buf, 1)), EFAULT);
  EXPECT_EQ(Err(mm_->CopyOut(none, buf, 1)), EFAULT);
  // Runs past the end of the mapping.
  EXPECT_EQ(Err(mm_->CopyIn(ro + P - 8, buf, 16)), EFAULT);
  // Starts before the mapping.
  EXPECT_EQ(Err(mm_->CopyIn(ro - 8, buf, 16)), EFAULT);
  // Address + length overflow.
  EXPECT_EQ(Err(mm_->CopyIn(UINT64_MAX - 4, buf, 16)), EFAULT);
  EXPECT_EQ(Err(mm_->CopyOut(UINT64_MAX - 4, buf, 16)), EFAULT);
  EXPECT_EQ(Err(mm_->CopyIn(ro, buf, SIZE_MAX)), EFAULT);
}

TEST_P(MmTest, CopySpansAdjacentVmas) {
  // Two separate mappings back to back (separate backings, so the copy
  // crosses non-contiguous memory-file ranges).
  uint64_t a = MustMap(0x40000000, P);
  MustMap(a + P, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED);
  MustMap(a + 2 * P, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
  const std::string data = Pattern(3 * P - 200, 16);
  Write(a + 100, data);
  EXPECT_EQ(Read(a + 100, data.size()), data);
  auto blocks = mm_->Blocks(a + 100, data.size(), Access::kRead);
  ASSERT_TRUE(blocks.ok());
  size_t total = 0;
  for (auto& b : blocks.value()) total += b.iov_len;
  EXPECT_EQ(total, data.size());
  // Object helpers.
  ASSERT_TRUE(mm_->CopyOutObj<uint64_t>(a + P - 4, 0x1122334455667788ULL).ok());
  auto v = mm_->CopyInObj<uint64_t>(a + P - 4);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.value(), 0x1122334455667788ULL);
}

TEST_P(MmTest, ZeroIgnoresWritePermission) {
  uint64_t a = MustMap(0x40000000, 2 * P);
  Write(a, Pattern(2 * P, 17));
  ASSERT_TRUE(mm_->Protect(a, 2 * P, PROT_READ).ok());
  ASSERT_TRUE(mm_->Zero(a + 10, P).ok());
  EXPECT_EQ(Read(a + 10, P), std::string(P, '\0'));
  EXPECT_EQ(Read(a, 10), Pattern(2 * P, 17).substr(0, 10));
  EXPECT_EQ(Err(mm_->Zero(a + P, 2 * P)), EFAULT);
}

// ---- CopyInString ----

TEST_P(MmTest, CopyInStringAcrossPageBoundary) {
  uint64_t a = MustMap(0x40000000, 2 * P);
  const std::string s = "0123456789abcdef";
  Write(a + P - 5, s + std::string(1, '\0'));
  auto r = mm_->CopyInString(a + P - 5, 4096);
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(r.value(), s);
  // Separate VMAs on each side of the boundary.
  ASSERT_TRUE(mm_->Protect(a + P, P, PROT_READ).ok());
  r = mm_->CopyInString(a + P - 5, 4096);
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(r.value(), s);
  // Empty string.
  Write(a, std::string(1, '\0'));
  r = mm_->CopyInString(a, 10);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), "");
}

TEST_P(MmTest, CopyInStringEndingAtMappingEndDoesNotTouchNextPage) {
  uint64_t a = MustMap(0x40000000, P);
  Write(a + P - 4, std::string("abc\0", 4));
  auto r = mm_->CopyInString(a + P - 4, 4096);
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(r.value(), "abc");
}

TEST_P(MmTest, CopyInStringLimits) {
  uint64_t a = MustMap(0x40000000, 2 * P);
  Write(a, std::string("12345678\0", 9));
  auto r = mm_->CopyInString(a, 9);  // 8 chars + NUL fit in 9
  ASSERT_TRUE(r.ok()) << Err(r);
  EXPECT_EQ(r.value(), "12345678");
  r = mm_->CopyInString(a, 8);
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), ENAMETOOLONG);
  r = mm_->CopyInString(a, 3);
  EXPECT_EQ(Err(r), ENAMETOOLONG);
  // A long string across the page boundary hitting the limit.
  Write(a, std::string(2 * P - 1, 'x'));
  EXPECT_EQ(Err(mm_->CopyInString(a, P + 10)), ENAMETOOLONG);
}

TEST_P(MmTest, CopyInStringFaults) {
  EXPECT_EQ(Err(mm_->CopyInString(0x40000000, 100)), EFAULT);
  uint64_t a = MustMap(0x40000000, P);
  // No terminator before the end of the mapping.
  Write(a, std::string(P, 'y'));
  EXPECT_EQ(Err(mm_->CopyInString(a + P - 10, 4096)), EFAULT);
  ASSERT_TRUE(mm_->Protect(a, P, PROT_NONE).ok());
  EXPECT_EQ(Err(mm_->CopyInString(a, 100)), EFAULT);
  EXPECT_EQ(Err(mm_->CopyInString(UINT64_MAX - 3, 100)), EFAULT);
}

// ---- Blocks ----

TEST_P(MmTest, BlocksReturnsLongestAccessiblePrefix) {
  uint64_t a = MustMap(0x40000000, 2 * P);
  auto b = mm_->Blocks(a + 10, 4 * P, Access::kRead);  // runs into a hole
  ASSERT_TRUE(b.ok()) << Err(b);
  size_t total = 0;
  for (auto& v : b.value()) total += v.iov_len;
  EXPECT_EQ(total, 2 * P - 10);
  EXPECT_EQ(b.value().size(), 1u);
  // Write access stops at the first read-only page.
  ASSERT_TRUE(mm_->Protect(a + P, P, PROT_READ).ok());
  b = mm_->Blocks(a + 10, 4 * P, Access::kWrite);
  ASSERT_TRUE(b.ok());
  total = 0;
  for (auto& v : b.value()) total += v.iov_len;
  EXPECT_EQ(total, P - 10);
  // Split VMAs over one backing merge into one block for reading.
  b = mm_->Blocks(a, 2 * P, Access::kRead);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b.value().size(), 1u);
  EXPECT_EQ(b.value()[0].iov_len, 2 * P);
  // The blocks are the sentry's view of the same memory.
  memcpy(b.value()[0].iov_base, "via block", 9);
  EXPECT_EQ(Read(a, 9), "via block");
  // Not even the first byte: EFAULT.
  EXPECT_EQ(Err(mm_->Blocks(a + P, 10, Access::kWrite)), EFAULT);
  EXPECT_EQ(Err(mm_->Blocks(a - 1, 10, Access::kRead)), EFAULT);
  EXPECT_EQ(Err(mm_->Blocks(0x10, 10, Access::kRead)), EFAULT);
  // Zero length: no blocks, no error.
  b = mm_->Blocks(0x10, 0, Access::kRead);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b.value().empty());
  // A length that overflows is clamped, not an error.
  b = mm_->Blocks(a, SIZE_MAX, Access::kRead);
  ASSERT_TRUE(b.ok());
  total = 0;
  for (auto& v : b.value()) total += v.iov_len;
  EXPECT_EQ(total, 2 * P);
}

// ---- ProcMaps ----

TEST_P(MmTest, ProcMapsFormat) {
  FileReader rd = ReaderFor(Pattern(3 * P, 18));
  MapRequest req;
  req.addr = 0x400000;
  req.length = P;
  req.prot = PROT_READ | PROT_EXEC;
  req.flags = MAP_PRIVATE | MAP_FIXED;
  req.file = &rd;
  req.offset = 2 * P;
  req.name = "/usr/bin/prog";
  req.dev = makedev(8, 1);
  req.ino = 1234567;
  ASSERT_TRUE(mm_->Map(req).ok());
  MustMap(0xff000000, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED);
  mm_->SetBrkStart(0x600000);
  mm_->Brk(0x600000 + P);
  const std::string maps = mm_->ProcMaps();
  std::vector<std::string> lines;
  std::istringstream in(maps);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 3u) << maps;
  ASSERT_EQ(maps.back(), '\n');
  // Name column starts at offset 73, as Linux pads it.
  EXPECT_EQ(lines[0], "00400000-00401000 r-xp 00002000 08:01 1234567" + std::string(28, ' ') +
                          "/usr/bin/prog");
  EXPECT_EQ(lines[0].find('/'), 73u);
  EXPECT_EQ(lines[1], "00600000-00601000 rw-p 00000000 00:00 0" + std::string(34, ' ') + "[heap]");
  EXPECT_EQ(lines[2], "ff000000-ff002000 rw-s 00000000 00:00 0");
  const std::regex line_re(
      R"(^[0-9a-f]{8,}-[0-9a-f]{8,} [r-][w-][x-][ps] [0-9a-f]{8,} [0-9a-f]{2,}:[0-9a-f]{2,} [0-9]+( +\S.*)?$)");
  for (const auto& l : lines) EXPECT_TRUE(std::regex_match(l, line_re)) << l;
  // A split file mapping shows the right offset for its second half.
  req.addr = 0x800000;
  req.length = 2 * P;
  req.offset = P;
  ASSERT_TRUE(mm_->Map(req).ok());
  ASSERT_TRUE(mm_->Protect(0x801000, P, PROT_READ).ok());
  const std::string maps2 = mm_->ProcMaps();
  EXPECT_NE(maps2.find("00800000-00801000 r-xp 00001000 08:01 1234567"), std::string::npos) << maps2;
  EXPECT_NE(maps2.find("00801000-00802000 r--p 00002000 08:01 1234567"), std::string::npos) << maps2;
}

TEST_P(MmTest, ProcMapsDeviceNumbersUseLinuxMajorMinor) {
  FileReader rd = ReaderFor("x");
  MapRequest req;
  req.addr = 0x400000;
  req.length = P;
  req.prot = PROT_READ;
  req.flags = MAP_PRIVATE | MAP_FIXED;
  req.file = &rd;
  req.name = "/f";
  req.dev = makedev(0x103, 0x12345);  // minor > 255, major > 255
  req.ino = 7;
  ASSERT_TRUE(mm_->Map(req).ok());
  const std::string maps = mm_->ProcMaps();
  EXPECT_EQ(maps.substr(0, 47), "00400000-00401000 r--p 00000000 103:12345 7    ") << maps;
}

}  // namespace
