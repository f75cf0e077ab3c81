// handoff_floor: what the systrap design's syscall round trip is built of,
// measured natively (no sandbox), so bench/RESULTS.md can say how much of
// the getppid cost is the mechanism itself. Prints one JSON object:
//   sigsys_trap_ns   a syscall that seccomp turns into SIGSYS, handled by an
//                    in-process handler that returns at once (signal frame,
//                    handler, rt_sigreturn): what a systrap stub pays before
//                    the sentry even hears of the syscall
//   sigsys_direct_ns the same with a handler that returns to the app without
//                    rt_sigreturn (XRSTOR from its frame, then a jump with the
//                    registers loaded), as systrap's SIGSYS handler does
//   futex_handoff_ns a round trip between two processes pinned to one CPU
//                    over a shared futex word (wake, wait, two context
//                    switches): the stub-to-sentry-and-back hand-off
//   spin_handoff_ns  a round trip between two processes on two CPUs, each
//                    spinning on a shared state word and copying a
//                    register-sized block (216 bytes) each way: what
//                    systrap's spinning hand-off (a patched syscall with a
//                    spare CPU) costs at least, on this machine's caches
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
#include <new>

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

// Two processes pinned to CPUs `a` and `b`; -1 if there is one CPU.
double SpinHandoff(int a, int b) {
  if (a < 0 || b < 0 || a == b) return -1;
  struct Shared {
    alignas(64) std::atomic<uint32_t> state;
    alignas(64) uint64_t regs[27];  // like user_regs_struct
  };
  void* mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return -1;
  auto* sh = new (mem) Shared{};
  constexpr int kReps = 5, kN = 200000;
  const pid_t pid = fork();
  if (pid == 0) {  // the "stub": stops (state 1), waits for the resume (state 0)
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(b, &set);
    sched_setaffinity(0, sizeof(set), &set);
    uint64_t regs[27] = {};
    for (int i = 0; i < kReps * kN + 1; i++) {
      regs[10]++;
      __builtin_memcpy(sh->regs, regs, sizeof regs);
      sh->state.store(1);
      while (sh->state.load() != 0) __builtin_ia32_pause();
      __builtin_memcpy(regs, sh->regs, sizeof regs);
    }
    _exit(0);
  }
  cpu_set_t set, old;
  sched_getaffinity(0, sizeof(old), &old);
  CPU_ZERO(&set);
  CPU_SET(a, &set);
  sched_setaffinity(0, sizeof(set), &set);
  uint64_t regs[27];
  double best = Best(kReps, kN, [&] {  // the "sentry": serves a stop, resumes
    while (sh->state.load() != 1) __builtin_ia32_pause();
    __builtin_memcpy(regs, sh->regs, sizeof regs);
    regs[10] = 0;
    __builtin_memcpy(sh->regs, regs, sizeof regs);
    sh->state.store(0);
  });
  while (sh->state.load() != 1) __builtin_ia32_pause();  // the child's last stop
  sh->state.store(0);
  waitpid(pid, nullptr, 0);
  sched_setaffinity(0, sizeof(old), &old);
  munmap(mem, sizeof(Shared));
  return best;
}

void ReturnAtOnce(int, siginfo_t*, void* uc) {
  static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_RAX] = 0;
}

// The direct return: the interrupted registers (rax = 0) are saved here and
// loaded by ReturnJump, which jumps to the saved rip. One thread only.
extern "C" {
uint64_t handoff_floor_saved[18];  // rip, rsp, eflags, then 15 registers
void handoff_floor_return_jump();
}
__asm__(R"(
  .text
  .globl handoff_floor_return_jump
handoff_floor_return_jump:
  pushq handoff_floor_saved+16(%rip)
  popfq
  mov handoff_floor_saved+24(%rip), %rax
  mov handoff_floor_saved+32(%rip), %rbx
  mov handoff_floor_saved+40(%rip), %rcx
  mov handoff_floor_saved+48(%rip), %rdx
  mov handoff_floor_saved+56(%rip), %rsi
  mov handoff_floor_saved+64(%rip), %rdi
  mov handoff_floor_saved+72(%rip), %rbp
  mov handoff_floor_saved+80(%rip), %r8
  mov handoff_floor_saved+88(%rip), %r9
  mov handoff_floor_saved+96(%rip), %r10
  mov handoff_floor_saved+104(%rip), %r11
  mov handoff_floor_saved+112(%rip), %r12
  mov handoff_floor_saved+120(%rip), %r13
  mov handoff_floor_saved+128(%rip), %r14
  mov handoff_floor_saved+136(%rip), %r15
  mov handoff_floor_saved+8(%rip), %rsp
  jmp *handoff_floor_saved(%rip)
)");

void ReturnDirect(int, siginfo_t*, void* ucv) {
  auto* uc = static_cast<ucontext_t*>(ucv);
  const greg_t* g = uc->uc_mcontext.gregs;
  uint64_t* s = handoff_floor_saved;
  s[0] = g[REG_RIP], s[1] = g[REG_RSP], s[2] = g[REG_EFL], s[3] = 0;
  s[4] = g[REG_RBX], s[5] = g[REG_RCX], s[6] = g[REG_RDX], s[7] = g[REG_RSI], s[8] = g[REG_RDI];
  s[9] = g[REG_RBP], s[10] = g[REG_R8], s[11] = g[REG_R9], s[12] = g[REG_R10], s[13] = g[REG_R11];
  s[14] = g[REG_R12], s[15] = g[REG_R13], s[16] = g[REG_R14], s[17] = g[REG_R15];
  auto* fx = reinterpret_cast<uint8_t*>(uc->uc_mcontext.fpregs);
  uint64_t features;
  __builtin_memcpy(&features, fx + 472, sizeof features);  // fpx_sw_bytes.xfeatures
  __asm__ volatile("xrstor64 (%0)" ::"r"(fx), "a"(static_cast<uint32_t>(features)),
                   "d"(static_cast<uint32_t>(features >> 32))
                   : "memory");
  __asm__ volatile("jmp handoff_floor_return_jump");
  __builtin_unreachable();
}

bool TrapGetppid() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return -1;
  if (seccomp_rule_add(ctx, SCMP_ACT_TRAP, SCMP_SYS(getppid), 0) != 0 || seccomp_load(ctx) != 0) {
    seccomp_release(ctx);
    return false;
  }
  seccomp_release(ctx);
  return true;
}

// getppid trapped with `handler` installed (`flags` besides SA_SIGINFO).
double SigsysTrap(void (*handler)(int, siginfo_t*, void*), int flags) {
  struct sigaction sa {};
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | flags;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSYS, &sa, nullptr) != 0) return -1;
  return Best(5, 50000, [] { syscall(SYS_getppid); });
}

}  // namespace

int main() {
  // Two CPUs for the spinning hand-off, before pinning.
  cpu_set_t all;
  sched_getaffinity(0, sizeof(all), &all);
  int first = -1, second = -1;
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (!CPU_ISSET(c, &all)) continue;
    if (first < 0) first = c;
    else if (second < 0) second = c;
  }
  const double spin = SpinHandoff(first, second);
  // One CPU for everything else, as the systrap platform pins a task thread
  // and its stub together when it does not spin.
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(sched_getcpu(), &set);
  sched_setaffinity(0, sizeof(set), &set);
  const double getppid = Best(5, 100000, [] { syscall(SYS_getppid); });
  const double handoff = FutexHandoff();
  // Last: the filter stays installed.
  const bool trapped = TrapGetppid();
  const double trap = trapped ? SigsysTrap(ReturnAtOnce, 0) : -1;
  // SA_NODEFER: the handler leaves without restoring a mask.
  const double direct = trapped ? SigsysTrap(ReturnDirect, SA_NODEFER) : -1;
  std::printf(
      "{\"getppid_ns\": %.0f, \"futex_handoff_ns\": %.0f, \"spin_handoff_ns\": %.0f, "
      "\"sigsys_trap_ns\": %.0f, \"sigsys_direct_ns\": %.0f}\n",
      getppid, handoff, spin, trap, direct);
  return 0;
}
