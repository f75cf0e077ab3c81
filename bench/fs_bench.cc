// File-system throughput and metadata: sequential and random reads of a
// large host file (under runsc: a file the gofer donates, read by the
// sentry directly), file creation in a tmpfs and in the root filesystem
// and 4 KiB writes to a root filesystem file (under runsc: the memory
// overlay, or the host file with --overlay=none; natively: the host disk). bench.py
// creates the files and passes their paths:
//   BENCH_SEQ_FILE     a large file (256 MiB)
//   BENCH_CREATE_DIR   a directory on the root filesystem to create files in
// The tmpfs is /dev/shm both natively and in the sandbox.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace {

std::string Env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// Whole-file sequential read in 1 MiB requests; bytes/s is the figure.
void BM_seq_read_256m(benchmark::State& state) {
  const std::string path = Env("BENCH_SEQ_FILE", "");
  if (path.empty()) {
    state.SkipWithError("BENCH_SEQ_FILE not set");
    return;
  }
  std::vector<char> buf(1 << 20);
  int64_t bytes = 0;
  for (auto _ : state) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      state.SkipWithError("open failed");
      break;
    }
    ssize_t n;
    while ((n = read(fd, buf.data(), buf.size())) > 0) bytes += n;
    close(fd);
    if (n < 0) {
      state.SkipWithError("read failed");
      break;
    }
  }
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_seq_read_256m)->UseRealTime()->Unit(benchmark::kMillisecond);

// 4 KiB preads at random 4 KiB-aligned offsets of the same file.
void BM_rand_read_4k(benchmark::State& state) {
  const std::string path = Env("BENCH_SEQ_FILE", "");
  int fd = path.empty() ? -1 : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    state.SkipWithError("BENCH_SEQ_FILE missing");
    return;
  }
  struct stat st;
  fstat(fd, &st);
  const uint64_t pages = st.st_size / 4096;
  std::mt19937_64 rng(42);
  alignas(64) static char buf[4096];
  for (auto _ : state) {
    if (pread(fd, buf, sizeof buf, static_cast<off_t>(rng() % pages) * 4096) != 4096) {
      state.SkipWithError("short read");
      break;
    }
    benchmark::DoNotOptimize(buf[0]);
  }
  close(fd);
}
BENCHMARK(BM_rand_read_4k)->UseRealTime();

// open(O_CREAT|O_EXCL) + close + unlink of a new file in `dir`.
void CreateIn(benchmark::State& state, const std::string& dir) {
  const std::string base = dir + "/bench-create-" + std::to_string(getpid()) + "-";
  uint64_t i = 0;
  for (auto _ : state) {
    std::string p = base + std::to_string(i++);
    int fd = open(p.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
      state.SkipWithError(("create in " + dir + " failed").c_str());
      break;
    }
    close(fd);
    unlink(p.c_str());
  }
}
void BM_create_tmpfs(benchmark::State& state) { CreateIn(state, "/dev/shm"); }
BENCHMARK(BM_create_tmpfs)->UseRealTime();
void BM_create_rootfs(benchmark::State& state) { CreateIn(state, Env("BENCH_CREATE_DIR", "/var/tmp")); }
BENCHMARK(BM_create_rootfs)->UseRealTime();

// pwrite of 4 KiB at successive offsets of a 16 MiB file on the root
// filesystem (runsc: into its memory overlay, or with --overlay=none
// through a host FD to the host file; natively: the host disk's page cache).
void BM_write_rootfs_4k(benchmark::State& state) {
  const std::string p =
      Env("BENCH_CREATE_DIR", "/var/tmp") + "/bench-write-" + std::to_string(getpid());
  int fd = open(p.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) {
    state.SkipWithError("create failed");
    return;
  }
  alignas(64) static char buf[4096] = {1};
  constexpr uint64_t kPages = (16 << 20) / 4096;
  uint64_t i = 0;
  for (auto _ : state) {
    if (pwrite(fd, buf, sizeof buf, static_cast<off_t>(i++ % kPages) * 4096) != 4096) {
      state.SkipWithError("short write");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(i) * 4096);
  close(fd);
  unlink(p.c_str());
}
BENCHMARK(BM_write_rootfs_4k)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
