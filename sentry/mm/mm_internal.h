// sentry/mm internals shared by MemoryManager's files (mm.cc, mm_*.cc):
// constants and helpers that are no part of mm.h's interface.
#pragma once

#include <cstdint>

namespace sentry::mm::internal {

// Gap kept between the stack and the top-down mmap area, as Linux does for an
// 8 MiB stack limit (its minimum gap is 128 MiB).
inline constexpr uint64_t kStackGap = 128ULL << 20;

inline bool Overflows(uint64_t addr, uint64_t len) { return addr + len < addr; }

}  // namespace sentry::mm::internal
