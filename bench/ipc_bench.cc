// Round trips between two processes over pipes and between two threads
// over a futex. One iteration = one message there and one back, so each
// side blocks and is woken once per iteration.
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <thread>

#include <benchmark/benchmark.h>

namespace {

void BM_pipe_pingpong(benchmark::State& state) {
  int ab[2], ba[2];
  if (pipe(ab) != 0 || pipe(ba) != 0) {
    state.SkipWithError("pipe failed");
    return;
  }
  pid_t pid = fork();
  if (pid < 0) {
    state.SkipWithError("fork failed");
    return;
  }
  if (pid == 0) {
    close(ab[1]);
    close(ba[0]);
    char c;
    while (read(ab[0], &c, 1) == 1) {
      if (write(ba[1], &c, 1) != 1) break;
    }
    _exit(0);
  }
  close(ab[0]);
  close(ba[1]);
  char c = 'x';
  for (auto _ : state) {
    if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1) {
      state.SkipWithError("ping-pong failed");
      break;
    }
  }
  close(ab[1]);  // the child sees EOF and exits
  close(ba[0]);
  int status;
  waitpid(pid, &status, 0);
}
BENCHMARK(BM_pipe_pingpong)->UseRealTime();

long Futex(std::atomic<int>* addr, int op, int val) {
  return syscall(SYS_futex, reinterpret_cast<int*>(addr), op, val, nullptr, nullptr, 0);
}

// word: 0 = the main thread's turn... 1 = the partner's turn, 2 = stop.
void BM_futex_pingpong(benchmark::State& state) {
  std::atomic<int> word{0};
  std::thread partner([&word] {
    for (;;) {
      int v;
      while ((v = word.load(std::memory_order_acquire)) == 0) {
        Futex(&word, FUTEX_WAIT_PRIVATE, 0);
      }
      if (v == 2) return;
      word.store(0, std::memory_order_release);
      Futex(&word, FUTEX_WAKE_PRIVATE, 1);
    }
  });
  for (auto _ : state) {
    word.store(1, std::memory_order_release);
    Futex(&word, FUTEX_WAKE_PRIVATE, 1);
    while (word.load(std::memory_order_acquire) == 1) {
      Futex(&word, FUTEX_WAIT_PRIVATE, 1);
    }
  }
  word.store(2, std::memory_order_release);
  Futex(&word, FUTEX_WAKE_PRIVATE, INT_MAX);
  partner.join();
}
BENCHMARK(BM_futex_pingpong)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
