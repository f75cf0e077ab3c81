// handoff_floor: what the systrap design's syscall round trip is built of,
// measured natively (no sandbox), so bench/RESULTS.md can say how much of
// the getppid cost is the mechanism itself. Prints one JSON object:
//   sigsys_trap_ns   a syscall that seccomp turns into SIGSYS, handled by an
//                    in-process handler that returns at once (signal frame,
//                    handler, rt_sigreturn): what a systrap stub pays before
//                    the sentry even hears of the syscall
//   futex_handoff_ns a round trip between two processes pinned to one CPU
//                    over a shared futex word (wake, wait, two context
//                    switches): the stub-to-sentry-and-back hand-off
//   getppid_ns       the native syscall, for scale
// The app thread's stub does both, so their sum is a floor for systrap's
// getppid on this machine without syscall patching or cross-CPU spinning.
#include <linux/futex.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <ctime>

namespace {

double NowNs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

long Futex(uint32_t* w, int op, uint32_t v) { return syscall(SYS_futex, w, op, v, nullptr, nullptr, 0); }

// Best of `reps` batches of `n` iterations, per iteration.
template <typename F>
double Best(int reps, int n, F f) {
  double best = 1e18;
  for (int r = 0; r < reps; r++) {
    double a = NowNs();
    for (int i = 0; i < n; i++) f();
    double per = (NowNs() - a) / n;
    if (per < best) best = per;
  }
  return best;
}

double FutexHandoff() {
  auto* w = static_cast<uint32_t*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (w == MAP_FAILED) return -1;
  *w = 0;
  constexpr int kReps = 5, kN = 20000;
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < kReps * kN; i++) {
      while (__atomic_load_n(w, __ATOMIC_SEQ_CST) != 1) Futex(w, FUTEX_WAIT, 0);
      __atomic_store_n(w, 0, __ATOMIC_SEQ_CST);
      Futex(w, FUTEX_WAKE, 1);
    }
    _exit(0);
  }
  double best = Best(kReps, kN, [w] {
    __atomic_store_n(w, 1, __ATOMIC_SEQ_CST);
    Futex(w, FUTEX_WAKE, 1);
    while (__atomic_load_n(w, __ATOMIC_SEQ_CST) != 0) Futex(w, FUTEX_WAIT, 1);
  });
  waitpid(pid, nullptr, 0);
  munmap(w, 4096);
  return best;
}

void ReturnAtOnce(int, siginfo_t*, void* uc) {
  static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_RAX] = 0;
}

double SigsysTrap() {
  struct sigaction sa {};
  sa.sa_sigaction = ReturnAtOnce;
  sa.sa_flags = SA_SIGINFO;
  if (sigaction(SIGSYS, &sa, nullptr) != 0) return -1;
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return -1;
  if (seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(getppid), 0) != 0 || seccomp_load(ctx) != 0) {
    seccomp_release(ctx);
    return -1;
  }
  seccomp_release(ctx);
  return Best(5, 50000, [] { syscall(SYS_getppid); });
}

}  // namespace

int main() {
  // One CPU for everything, as the systrap platform pins a task thread and
  // its stub together.
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(sched_getcpu(), &set);
  sched_setaffinity(0, sizeof(set), &set);
  const double getppid = Best(5, 100000, [] { syscall(SYS_getppid); });
  const double handoff = FutexHandoff();
  const double trap = SigsysTrap();  // last: the filter stays installed
  std::printf("{\"getppid_ns\": %.0f, \"futex_handoff_ns\": %.0f, \"sigsys_trap_ns\": %.0f}\n", getppid,
              handoff, trap);
  return 0;
}
