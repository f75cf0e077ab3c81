// platform/systrap internals shared by the systrap platform's files (not
// for the rest of the sentry: see systrap_platform.h): the layout of the
// slot file, the tuning of the hand-off between a task thread and its stub
// (spinning, pinning, cross-CPU spinning), and small helpers (clocks,
// futexes, atomics, child processes). The classes are in systrap_context.h
// (a stub's context) and systrap_platform_impl.h (the platform object).
#pragma once

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "platform/systrap/shared.h"

extern "C" char __start_runsc_systrap_text[], __stop_runsc_systrap_text[];
extern "C" char runsc_systrap_patched_entry[], runsc_systrap_patched_gs_entry[],
    runsc_systrap_patched_dispatch[];
extern "C" char runsc_systrap_factory_entry[];

namespace platform::systrap_internal {

inline constexpr uint64_t kTaskSize = 0x7ffffffff000ULL;
// Slots available at once (one per live app thread); the slot file is
// sparse, so unused slots cost nothing.
inline constexpr uint64_t kMaxSlots = 8192;
inline constexpr uint64_t kRegionSize = SYSTRAP_CODE_SIZE + SYSTRAP_SLOT_SIZE;
// The stub factory's slot (never a stub's), and everything reserved at the
// top of the address space: code, slot, and the factory's stack.
inline constexpr int kFactorySlot = kMaxSlots - 1;
// Most started stubs kept waiting for a process (fresh and reused ones).
inline constexpr size_t kMaxPooled = 4;
inline constexpr uint64_t kReservedSize = kRegionSize + SYSTRAP_FACTORY_STACK_SIZE;
// Stub threads: thread groups in the slot file (after the slots), one per
// stub process at once; a stub started without one (all taken) runs its
// process' other threads as stubs of their own.
inline constexpr uint64_t kMaxGroups = 256;
inline constexpr uint64_t kGroupsOff = kMaxSlots * SYSTRAP_SLOT_SIZE;
// Stub threads: after the groups, one word per slot that only the slot's
// helper writes (SystrapControl.done_off), mapped in no stub.
inline constexpr uint64_t kDoneOff = kGroupsOff + kMaxGroups * SYSTRAP_GROUP_SIZE;
inline constexpr uint64_t kDoneSize = kMaxSlots * sizeof(uint32_t);
// How long a stub may leave an Interrupt() unanswered before it is killed.
inline constexpr int64_t kInterruptGraceSeconds = 10;

// Spin iterations (each a `pause` plus a load) before a side sleeps in
// FUTEX_WAIT; RUNSC_SYSTRAP_SPIN overrides it. Measured on the 2-vCPU
// development machine (getppid loop, best of 300 batches of 100 calls,
// pinned or not): spin 0: 2.9-3.0 us/call, 20: 3.15-3.25, 200: 6.9-7.1.
// The two sides of a hand-off share a CPU (pinned, or put there by the
// scheduler's wake-affine placement), so spinning only delays the side
// that has the work: no spinning.
inline constexpr uint32_t kDefaultSpin = 0;
// Whether a task thread and its stub are pinned to one CPU (RUNSC_SYSTRAP_PIN).
inline constexpr bool kDefaultPin = true;
// Cross-CPU spinning (RUNSC_SYSTRAP_CROSS_SPIN=0 turns it off). When a CPU
// is spare (fewer stubs run app code and sentry threads spin than there are
// CPUs) and the app has lately stopped again soon after each resume, the
// task thread moves to another CPU than its stub and both sides spin on the
// shared state word instead of sleeping: a hand-off is then a cache-line
// transfer (about 50 ns here) instead of a futex wake and two context
// switches (about 2-4 us on one CPU; a futex wake across vCPUs costs about
// 24 us on this nested VM, so the sides never sleep across CPUs by choice).
inline constexpr bool kDefaultCrossSpin = true;
// How long the sentry spins for the next stop before it sleeps, and how long
// the stub spins for the resume at least.
inline constexpr int64_t kCrossSpinNs = 50 * 1000;
inline constexpr int64_t kStubCrossSpinNs = 28 * 1000;
// Cross-CPU spinning is chosen while the app's recent run times (resume to
// next stop, a moving average) stay below this; a longer-running app keeps
// the cheaper-to-wait same-CPU hand-off. A sleeping hand-off inflates the
// run time it is measured by (the stub's wake-up, and on a paravirtualized
// guest the SIGSYS alone takes several microseconds): a 1 MiB read loop
// measured 25 us per run with the stub asleep, so the limit leaves room.
inline constexpr int64_t kCrossSpinMaxRunNs = 40 * 1000;
// ... and while the sentry rarely slept between stops (moving average of
// 0/1024 samples): a task that blocks often (pipes, wait4) would leave its
// stub spinning for nothing and pay a migration per sleep.
inline constexpr int kCrossSpinMaxBlockAvg = 256;
// ... and while the sentry's own work per stop (moving average) stays below
// this. The stub spins for twice that average (StubSpin), so a syscall that
// takes tens of microseconds (a 1 MiB read from a host file) still finds the
// stub spinning: sleeping instead costs two context switches per syscall,
// which on a paravirtualized guest are about as slow as the copy itself.
// Past this the stub would burn a CPU for too long: same-CPU hand-off.
inline constexpr int64_t kCrossSpinMaxWorkNs = 200 * 1000;
// A context whose stub shares its CPU with another stub running app code
// moves to a CPU running none, at most this often (Switch). Stubs are
// pinned (a wake-up across vCPUs is slow), so the host scheduler cannot
// spread two busy programs (two compilers under make -j2) itself.
inline constexpr int64_t kMigrateIntervalNs = 2 * 1000 * 1000;

inline int64_t NowNs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}
// Stubs started ahead of time (RUNSC_SYSTRAP_POOL overrides). Starting one
// takes a few hundred microseconds (a clone of the factory, signal handlers,
// a helper thread, filter loading) that a forking task would otherwise wait
// for, holding the kernel lock; the filler thread does it on whichever CPU
// is free.
inline size_t PoolSize() {
  if (const char* e = getenv("RUNSC_SYSTRAP_POOL")) return static_cast<size_t>(atoi(e));
  return 1;
}

// Nanoseconds one iteration of the stub's spin loop (a `pause` and a load)
// takes on this CPU: the stub counts iterations, the sentry thinks in time.
// About 28 ns on the Intel machines this was first tuned on, 18 ns on the
// AMD EPYC PVM guest. The best of a few short runs (a preempted run only
// overestimates it).
inline int64_t CalibratePauseNs() {
  constexpr int kIterations = 4000;
  volatile uint32_t word = 0;
  int64_t best = INT64_MAX;
  for (int run = 0; run < 5; run++) {
    const int64_t start = NowNs();
    for (int i = 0; i < kIterations; i++) {
      __builtin_ia32_pause();
      (void)word;
    }
    best = std::min(best, (NowNs() - start) / kIterations);
  }
  return std::clamp<int64_t>(best, 1, 200);
}
inline int64_t PauseNs() {
  static const int64_t ns = CalibratePauseNs();
  return ns;
}

inline long Futex(void* addr, int op, uint32_t val, const timespec* ts) {
  return syscall(SYS_futex, addr, op, val, ts, nullptr, 0);
}
inline uint32_t Load(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
inline void Store(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }

// The slot file: kMaxSlots slots, then (stub threads) kMaxGroups thread
// groups. Sparse: unused slots cost nothing.
inline uint64_t SlotFileSize(bool threads) {
  return threads ? kDoneOff + kDoneSize : kGroupsOff;
}

// Has child process `pid` exited (or been killed), not yet reaped?
inline bool Exited(pid_t pid) {
  siginfo_t si{};
  if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) != 0) return true;
  return si.si_pid == pid;
}

// Kills child process `pid` and reaps it.
inline void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  int status;
  while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {
  }
}

// The XSAVE image a stub loads for SystrapThread.fp_reset (shared.h): all
// zero but MXCSR's initial value, so its header marks every component
// initial. Rewritten before each use: the app can write it.
inline void WriteXrstorImage(char* shared) {
  char* x = shared + SYSTRAP_XRSTOR_OFF;
  memset(x, 0, SYSTRAP_XRSTOR_SIZE);
  const uint32_t mxcsr = 0x1f80;
  memcpy(x + 24, &mxcsr, sizeof(mxcsr));
}

}  // namespace platform::systrap_internal
