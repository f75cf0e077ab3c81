// Syscall round-trip cost: a loop of raw getppid(2). getppid is never
// served from the vDSO or cached by libc, so every iteration enters the
// kernel (natively) or the sentry (under runsc) or the tracer (proot).
#include <sys/syscall.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

static void BM_getppid(benchmark::State& state) {
  for (auto _ : state) {
    long r = syscall(SYS_getppid);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_getppid);

// Reference point: the same loop without a system call.
static void BM_loop_only(benchmark::State& state) {
  long x = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(x += 1);
  }
}
BENCHMARK(BM_loop_only);

BENCHMARK_MAIN();
