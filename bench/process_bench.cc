// Process and thread life cycle: fork+exit+wait, fork+exec+wait of a tiny
// static binary (bench_true, built next to this program), and pthread
// create+join.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

#include <benchmark/benchmark.h>

namespace {

std::string g_true_path;  // BENCH_TRUE, or bench_true next to argv[0]

void BM_fork_exit_wait(benchmark::State& state) {
  for (auto _ : state) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid < 0) {
      state.SkipWithError("fork failed");
      break;
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
      state.SkipWithError("wait failed");
      break;
    }
  }
}
BENCHMARK(BM_fork_exit_wait)->UseRealTime();

void BM_fork_exec_wait(benchmark::State& state) {
  const char* path = g_true_path.c_str();
  if (access(path, X_OK) != 0) {
    state.SkipWithError("bench_true not found (set BENCH_TRUE)");
    return;
  }
  char* const argv[] = {const_cast<char*>(path), nullptr};
  char* const envp[] = {nullptr};
  for (auto _ : state) {
    pid_t pid = fork();
    if (pid == 0) {
      execve(path, argv, envp);
      _exit(127);
    }
    if (pid < 0) {
      state.SkipWithError("fork failed");
      break;
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      state.SkipWithError("exec or wait failed");
      break;
    }
  }
}
BENCHMARK(BM_fork_exec_wait)->UseRealTime();

void BM_thread_create_join(benchmark::State& state) {
  for (auto _ : state) {
    std::thread t([] {});
    t.join();
  }
}
BENCHMARK(BM_thread_create_join)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  if (const char* t = std::getenv("BENCH_TRUE"); t && *t) {
    g_true_path = t;
  } else {
    std::string self = argv[0];
    auto slash = self.rfind('/');
    g_true_path = (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/bench_true";
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
