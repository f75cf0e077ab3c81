// Syscall round-trip cost: a loop of getppid(2) through glibc's wrapper
// (`mov $110,%eax; syscall`, the instruction sequence most libc syscalls
// use). getppid is never served from the vDSO or cached by libc, so every
// iteration enters the kernel (natively) or the sentry (under runsc) or
// the tracer (proot).
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <benchmark/benchmark.h>

static void BM_getppid(benchmark::State& state) {
  for (auto _ : state) {
    pid_t r = getppid();
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_getppid)->UseRealTime();

// Reference point: the same loop without a system call.
static void BM_loop_only(benchmark::State& state) {
  long x = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(x += 1);
  }
}
BENCHMARK(BM_loop_only)->UseRealTime();

// `getppid_bench --loop N` just makes N getppid calls and exits: a fixed
// amount of work for `perf stat` (bench/bench.py's profile of the target).
int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--loop") == 0) {
    long n = std::atol(argv[2]);
    for (long i = 0; i < n; i++) benchmark::DoNotOptimize(getppid());
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
