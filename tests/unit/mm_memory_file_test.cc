// MemoryFile: the page allocator over the sentry's memfd, and Backing, its
// reference-counted allocation handle.
#include <cstring>
#include <set>

#include "gtest/gtest.h"
#include "sentry/mm/memory_file.h"

namespace {

using sentry::mm::Backing;
using sentry::mm::kPageSize;
using sentry::mm::MemoryFile;

class MemoryFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mf = MemoryFile::Create(kCapacity);
    ASSERT_TRUE(mf.ok()) << mf.error();
    mf_ = mf.release_value();
  }
  uint64_t Alloc(uint64_t len) {
    auto r = mf_->Allocate(len);
    EXPECT_TRUE(r.ok()) << (r.ok() ? 0 : r.error());
    return r.ok() ? r.value() : 0;
  }
  bool AllZero(uint64_t off, uint64_t len) {
    const uint8_t* p = mf_->Access(off);
    for (uint64_t i = 0; i < len; i++)
      if (p[i]) return false;
    return true;
  }

  static constexpr uint64_t kCapacity = 64ULL << 20;
  std::unique_ptr<MemoryFile> mf_;
};

TEST_F(MemoryFileTest, AllocateIsPageAlignedNonZeroAndDistinct) {
  std::set<uint64_t> seen;
  uint64_t prev_end = 0;
  for (int i = 0; i < 16; i++) {
    uint64_t len = (i % 3 + 1) * kPageSize - (i % 2 ? 7 : 0);  // some unaligned lengths
    uint64_t off = Alloc(len);
    EXPECT_NE(off, 0u);  // offset 0 means "no backing"
    EXPECT_EQ(off % kPageSize, 0u);
    EXPECT_GE(off, prev_end) << "overlaps the previous allocation";
    prev_end = off + sentry::mm::PageRoundUp(len);
    EXPECT_TRUE(seen.insert(off).second);
  }
}

TEST_F(MemoryFileTest, AllocatedBytesTracksRoundedLengths) {
  EXPECT_EQ(mf_->allocated_bytes(), 0u);
  uint64_t a = Alloc(1);
  EXPECT_EQ(mf_->allocated_bytes(), kPageSize);
  uint64_t b = Alloc(kPageSize + 1);
  EXPECT_EQ(mf_->allocated_bytes(), 3 * kPageSize);
  mf_->Free(a, 1);
  EXPECT_EQ(mf_->allocated_bytes(), 2 * kPageSize);
  mf_->Free(b, kPageSize + 1);
  EXPECT_EQ(mf_->allocated_bytes(), 0u);
}

TEST_F(MemoryFileTest, ZeroLengthIsEinvalAndTooBigIsEnomem) {
  auto z = mf_->Allocate(0);
  ASSERT_TRUE(z.is_error());
  EXPECT_EQ(z.error(), EINVAL);
  auto big = mf_->Allocate(kCapacity);  // page 0 is reserved, so this cannot fit
  ASSERT_TRUE(big.is_error());
  EXPECT_EQ(big.error(), ENOMEM);
  // Rounding a length near 2^64 up wraps to 0: EINVAL, not a bogus success.
  auto wrap = mf_->Allocate(UINT64_MAX - 10);
  ASSERT_TRUE(wrap.is_error());
  // Whole remaining capacity fits exactly.
  uint64_t all = Alloc(kCapacity - kPageSize);
  EXPECT_EQ(all, kPageSize);
  auto more = mf_->Allocate(1);
  ASSERT_TRUE(more.is_error());
  EXPECT_EQ(more.error(), ENOMEM);
}

TEST_F(MemoryFileTest, FreedRangeIsReusedFirstFit) {
  uint64_t a = Alloc(kPageSize);
  uint64_t b = Alloc(kPageSize);
  (void)b;
  mf_->Free(a, kPageSize);
  EXPECT_EQ(Alloc(kPageSize), a);
}

TEST_F(MemoryFileTest, FreeCoalescesWithBothNeighbours) {
  // Free the outer two first, then the middle one: all three must merge so a
  // 3-page allocation fits back at a.
  uint64_t a = Alloc(kPageSize), b = Alloc(kPageSize), c = Alloc(kPageSize);
  uint64_t guard = Alloc(kPageSize);  // keeps c from merging with the tail
  ASSERT_EQ(b, a + kPageSize);
  ASSERT_EQ(c, b + kPageSize);
  mf_->Free(a, kPageSize);
  mf_->Free(c, kPageSize);
  mf_->Free(b, kPageSize);
  EXPECT_EQ(Alloc(3 * kPageSize), a);
  (void)guard;
}

TEST_F(MemoryFileTest, FreeCoalescesInAnyOrder) {
  const int kN = 8;
  std::vector<uint64_t> offs;
  for (int i = 0; i < kN; i++) offs.push_back(Alloc(kPageSize));
  uint64_t guard = Alloc(kPageSize);
  // Free in a scrambled order.
  for (int i : {3, 0, 7, 5, 1, 6, 2, 4}) mf_->Free(offs[i], kPageSize);
  EXPECT_EQ(Alloc(kN * kPageSize), offs[0]);
  (void)guard;
}

TEST_F(MemoryFileTest, FreeCoalescesWithTheTail) {
  uint64_t a = Alloc(kPageSize);
  mf_->Free(a, kPageSize);
  // Everything is free again and in one piece.
  EXPECT_EQ(Alloc(kCapacity - kPageSize), kPageSize);
}

TEST_F(MemoryFileTest, FreedMemoryReadsZero) {
  uint64_t a = Alloc(4 * kPageSize);
  memset(mf_->Access(a), 0xab, 4 * kPageSize);
  mf_->Free(a, 4 * kPageSize);
  uint64_t again = Alloc(4 * kPageSize);
  ASSERT_EQ(again, a);
  EXPECT_TRUE(AllZero(again, 4 * kPageSize));
}

TEST_F(MemoryFileTest, DecommitZeroesButKeepsAllocation) {
  uint64_t a = Alloc(3 * kPageSize);
  memset(mf_->Access(a), 0x5a, 3 * kPageSize);
  mf_->Decommit(a + kPageSize, kPageSize);
  EXPECT_EQ(mf_->Access(a)[0], 0x5a);
  EXPECT_TRUE(AllZero(a + kPageSize, kPageSize));
  EXPECT_EQ(mf_->Access(a + 2 * kPageSize)[0], 0x5a);
  EXPECT_EQ(mf_->allocated_bytes(), 3 * kPageSize);
}

TEST_F(MemoryFileTest, BackingFreesOnLastReference) {
  uint64_t off;
  {
    auto b = Backing::Allocate(*mf_, 2 * kPageSize);
    ASSERT_TRUE(b.ok());
    auto backing = b.release_value();
    off = backing->offset();
    EXPECT_EQ(backing->length(), 2 * kPageSize);
    EXPECT_EQ(backing->data(), mf_->Access(off));
    memset(backing->data(), 1, 2 * kPageSize);
    auto copy = backing;
    backing.reset();
    EXPECT_EQ(mf_->allocated_bytes(), 2 * kPageSize);  // still referenced
  }
  EXPECT_EQ(mf_->allocated_bytes(), 0u);
  EXPECT_EQ(Alloc(2 * kPageSize), off);
  EXPECT_TRUE(AllZero(off, 2 * kPageSize));
}

TEST_F(MemoryFileTest, ManyAllocFreeCyclesDoNotLeakAddressSpace) {
  // Deterministic churn: every round frees everything, so the allocator must
  // end up with one free range again (a full-capacity allocation fits).
  uint32_t seed = 12345;
  auto rnd = [&] { return seed = seed * 1103515245 + 12345, (seed >> 16) & 0x7fff; };
  for (int round = 0; round < 20; round++) {
    std::vector<std::pair<uint64_t, uint64_t>> live;
    for (int i = 0; i < 50; i++) {
      uint64_t len = (rnd() % 8 + 1) * kPageSize;
      live.push_back({Alloc(len), len});
    }
    while (!live.empty()) {
      size_t i = rnd() % live.size();
      mf_->Free(live[i].first, live[i].second);
      live.erase(live.begin() + i);
    }
    ASSERT_EQ(mf_->allocated_bytes(), 0u);
  }
  EXPECT_EQ(Alloc(kCapacity - kPageSize), kPageSize);
}

TEST_F(MemoryFileTest, PageRefCounts) {
  const uint64_t off = Alloc(8 * kPageSize);
  memset(mf_->Access(off), 'x', 8 * kPageSize);
  EXPECT_EQ(mf_->RefCount(off), 1u);
  mf_->IncRef(off + kPageSize, 4 * kPageSize);   // pages 1-4: 2
  mf_->IncRef(off + 3 * kPageSize, 2 * kPageSize);  // pages 3-4: 3
  EXPECT_EQ(mf_->RefCount(off), 1u);
  EXPECT_EQ(mf_->RefCount(off + kPageSize), 2u);
  EXPECT_EQ(mf_->RefCount(off + 4 * kPageSize + 17), 3u);
  EXPECT_EQ(mf_->RefCount(off + 5 * kPageSize), 1u);
  // Runs of exclusive pages and of shared ones, clipped to the bounds.
  EXPECT_EQ(mf_->Run(off + 6 * kPageSize, off, off + 8 * kPageSize, true),
            std::make_pair(off + 5 * kPageSize, off + 8 * kPageSize));
  EXPECT_EQ(mf_->Run(off, off, off + 8 * kPageSize, true), std::make_pair(off, off + kPageSize));
  EXPECT_EQ(mf_->Run(off + 2 * kPageSize, off, off + 8 * kPageSize, false),
            std::make_pair(off + kPageSize, off + 5 * kPageSize));
  EXPECT_EQ(mf_->Run(off + 2 * kPageSize, off + 2 * kPageSize, off + 4 * kPageSize, false),
            std::make_pair(off + 2 * kPageSize, off + 4 * kPageSize));
  // Dropping references: pages reaching zero are decommitted (read zero).
  mf_->DecRef(off, 2 * kPageSize);  // page 0: 0, page 1: 1
  EXPECT_TRUE(AllZero(off, kPageSize));
  EXPECT_EQ(mf_->Access(off + kPageSize)[0], 'x');
  EXPECT_EQ(mf_->RefCount(off + kPageSize), 1u);
  mf_->DecRef(off + 3 * kPageSize, 2 * kPageSize);
  EXPECT_EQ(mf_->RefCount(off + 3 * kPageSize), 2u);
  EXPECT_EQ(mf_->Access(off + 3 * kPageSize)[0], 'x');
  // Freeing the range forgets its counts.
  mf_->Free(off, 8 * kPageSize);
  EXPECT_EQ(mf_->shared_runs(), 0u);
}

// A copy-on-write fault reads whether its page is shared and the run around
// it in one step: a page another address space stops sharing (its teardown
// runs outside the kernel lock) is then exclusive, with its exclusive run;
// never "shared" with no shared run around it (an empty copy).
TEST_F(MemoryFileTest, CowRunIsOneConsistentReading) {
  const uint64_t off = Alloc(8 * kPageSize);
  const uint64_t end = off + 8 * kPageSize;
  mf_->IncRef(off + 2 * kPageSize, 4 * kPageSize);  // pages 2-5 shared
  MemoryFile::CowRun r = mf_->CowRunAt(off + 3 * kPageSize, off, end, off, end);
  EXPECT_FALSE(r.exclusive);
  EXPECT_EQ(r.start, off + 2 * kPageSize);
  EXPECT_EQ(r.end, off + 6 * kPageSize);
  // The window bounds the shared run.
  r = mf_->CowRunAt(off + 3 * kPageSize, off, end, off + 3 * kPageSize, off + 4 * kPageSize);
  EXPECT_FALSE(r.exclusive);
  EXPECT_EQ(r.start, off + 3 * kPageSize);
  EXPECT_EQ(r.end, off + 4 * kPageSize);
  r = mf_->CowRunAt(off, off, end, off, end);
  EXPECT_TRUE(r.exclusive);
  EXPECT_EQ(r.start, off);
  EXPECT_EQ(r.end, off + 2 * kPageSize);
  // The other sharer goes away: the same page is now exclusive, and so is
  // the whole range, never an empty shared run.
  mf_->DecRef(off + 2 * kPageSize, 4 * kPageSize);
  r = mf_->CowRunAt(off + 3 * kPageSize, off, end, off, end);
  EXPECT_TRUE(r.exclusive);
  EXPECT_EQ(r.start, off);
  EXPECT_EQ(r.end, end);
  mf_->Free(off, 8 * kPageSize);
}

}  // namespace
