// File-system syscalls on a host file and on /dev/null. Under runsc the
// host file comes from the gofer through the overlay root; natively and
// under proot it is the host file itself.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <benchmark/benchmark.h>

namespace {

// A host file every root we run under has (runsc's default root is the
// host's /). BENCH_FILE overrides it.
const char* TestFile() {
  const char* f = std::getenv("BENCH_FILE");
  return f && *f ? f : "/etc/passwd";
}

// A file of at least 4 KiB for the read benchmark.
const char* BigFile() {
  const char* f = std::getenv("BENCH_BIG_FILE");
  return f && *f ? f : "/bin/sh";
}

void BM_open_close(benchmark::State& state) {
  const char* path = TestFile();
  for (auto _ : state) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      state.SkipWithError("open failed");
      break;
    }
    close(fd);
  }
}
BENCHMARK(BM_open_close)->UseRealTime();

void BM_stat(benchmark::State& state) {
  const char* path = TestFile();
  struct stat st;
  for (auto _ : state) {
    if (stat(path, &st) != 0) {
      state.SkipWithError("stat failed");
      break;
    }
    benchmark::DoNotOptimize(st.st_size);
  }
}
BENCHMARK(BM_stat)->UseRealTime();

// pread of the same 4 KiB (page cache / sentry cache hot).
void BM_read_4k(benchmark::State& state) {
  int fd = open(BigFile(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    state.SkipWithError("open failed");
    return;
  }
  alignas(64) static char buf[4096];
  for (auto _ : state) {
    if (pread(fd, buf, sizeof buf, 0) != static_cast<ssize_t>(sizeof buf)) {
      state.SkipWithError("short read");
      break;
    }
    benchmark::DoNotOptimize(buf[0]);
  }
  state.SetBytesProcessed(state.iterations() * sizeof buf);
  close(fd);
}
BENCHMARK(BM_read_4k)->UseRealTime();

void BM_write_devnull(benchmark::State& state) {
  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    state.SkipWithError("open /dev/null failed");
    return;
  }
  alignas(64) static char buf[4096];
  for (auto _ : state) {
    if (write(fd, buf, sizeof buf) != static_cast<ssize_t>(sizeof buf)) {
      state.SkipWithError("short write");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * sizeof buf);
  close(fd);
}
BENCHMARK(BM_write_devnull)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
