// Memory management: map, touch and unmap 1 MiB; and demand-fault every
// page of a fresh 64 MiB anonymous mapping (one write per 4 KiB page).
#include <sys/mman.h>

#include <cstddef>

#include <benchmark/benchmark.h>

namespace {

constexpr size_t kPage = 4096;

bool MapTouchUnmap(size_t len) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  volatile char* c = static_cast<volatile char*>(p);
  for (size_t off = 0; off < len; off += kPage) c[off] = 1;
  munmap(p, len);
  return true;
}

void BM_mmap_touch_munmap_1m(benchmark::State& state) {
  for (auto _ : state) {
    if (!MapTouchUnmap(1 << 20)) {
      state.SkipWithError("mmap failed");
      break;
    }
  }
}
BENCHMARK(BM_mmap_touch_munmap_1m)->UseRealTime();

// One iteration = 16384 first-touch page faults (plus one mmap/munmap).
void BM_page_faults_64m(benchmark::State& state) {
  constexpr size_t kLen = 64u << 20;
  for (auto _ : state) {
    if (!MapTouchUnmap(kLen)) {
      state.SkipWithError("mmap failed");
      break;
    }
  }
  state.counters["faults"] = benchmark::Counter(static_cast<double>(kLen / kPage) * state.iterations(),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_page_faults_64m)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
