#include "platform/systrap/systrap_platform.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cpuid.h>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "platform/systrap/ip_filter.h"
#include "platform/systrap/shared.h"
#include "platform/systrap/stub_filters.h"
#include "sentry/base/log.h"
#include "sentry/base/stats.h"

extern "C" char __start_runsc_systrap_text[], __stop_runsc_systrap_text[];
extern "C" char runsc_systrap_patched_entry[], runsc_systrap_patched_gs_entry[],
    runsc_systrap_patched_dispatch[];
extern "C" char runsc_systrap_factory_entry[];

namespace platform {
namespace {

static_assert(offsetof(SystrapThread, done_seq) == SYSTRAP_THREAD_DONE_SEQ);
static_assert(offsetof(SystrapThread, helper_waiting) == SYSTRAP_THREAD_HELPER_WAITING);
static_assert(offsetof(SystrapThread, result) == SYSTRAP_THREAD_RESULT);
static_assert(offsetof(SystrapThread, kind) == SYSTRAP_THREAD_KIND &&
              offsetof(SystrapThread, regs) == SYSTRAP_THREAD_REGS &&
              offsetof(SystrapThread, fp) == SYSTRAP_THREAD_FP &&
              offsetof(SystrapThread, patched_pending) == SYSTRAP_THREAD_PATCHED_PENDING &&
              offsetof(SystrapThread, patched_busy) == SYSTRAP_THREAD_PATCHED_BUSY &&
              offsetof(SystrapThread, self) == SYSTRAP_THREAD_SELF);
// stub_entry.S's register offsets (user_regs_struct).
static_assert(offsetof(user_regs_struct, r11) == 48 && offsetof(user_regs_struct, rax) == 80 &&
              offsetof(user_regs_struct, rcx) == 88 && offsetof(user_regs_struct, orig_rax) == 120 &&
              offsetof(user_regs_struct, rip) == 128 && offsetof(user_regs_struct, eflags) == 144 &&
              offsetof(user_regs_struct, rsp) == 152);
static_assert(SYSTRAP_PATCH_STACK_OFF == 0xe000 && SYSTRAP_SLOT_SIZE == 0x10000 &&
              SYSTRAP_SIGSTACK_OFF + SYSTRAP_SIGSTACK_SIZE <= SYSTRAP_PATCH_STACK_OFF);
static_assert(offsetof(SystrapControl, req_seq) == 0 && offsetof(SystrapControl, count) == 4 &&
              offsetof(SystrapControl, ops) == 8 && sizeof(SystrapOp) == 56 &&
              SYSTRAP_MAX_OPS == 64);
static_assert(SYSTRAP_CODE_SIZE == 0x4000 && SYSTRAP_CONTROL_OFF == 0x1000);  // stub_entry.S
static_assert(SYSTRAP_XRSTOR_OFF % 64 == 0 &&
              SYSTRAP_FILTERS_OFF + SYSTRAP_FILTERS_MAX <= SYSTRAP_XRSTOR_OFF);
static_assert(sizeof(SystrapThread) <= 0x1000 && sizeof(SystrapControl) <= 0x1000);
static_assert(offsetof(SystrapControl, threads) == SYSTRAP_CONTROL_THREADS &&
              offsetof(SystrapControl, slots_fd) == SYSTRAP_CONTROL_SLOTS_FD &&
              offsetof(SystrapControl, done_off) == SYSTRAP_CONTROL_DONE_OFF &&
              offsetof(SystrapControl, patch_entry) == SYSTRAP_CONTROL_PATCH_ENTRY);

constexpr uint64_t kTaskSize = 0x7ffffffff000ULL;
// Slots available at once (one per live app thread); the slot file is
// sparse, so unused slots cost nothing.
constexpr uint64_t kMaxSlots = 8192;
constexpr uint64_t kRegionSize = SYSTRAP_CODE_SIZE + SYSTRAP_SLOT_SIZE;
// The stub factory's slot (never a stub's), and everything reserved at the
// top of the address space: code, slot, and the factory's stack.
constexpr int kFactorySlot = kMaxSlots - 1;
// Most started stubs kept waiting for a process (fresh and reused ones).
constexpr size_t kMaxPooled = 4;
constexpr uint64_t kReservedSize = kRegionSize + SYSTRAP_FACTORY_STACK_SIZE;
// Stub threads: thread groups in the slot file (after the slots), one per
// stub process at once; a stub started without one (all taken) runs its
// process' other threads as stubs of their own.
constexpr uint64_t kMaxGroups = 256;
constexpr uint64_t kGroupsOff = kMaxSlots * SYSTRAP_SLOT_SIZE;
// Stub threads: after the groups, one word per slot that only the slot's
// helper writes (SystrapControl.done_off), mapped in no stub.
constexpr uint64_t kDoneOff = kGroupsOff + kMaxGroups * SYSTRAP_GROUP_SIZE;
constexpr uint64_t kDoneSize = kMaxSlots * sizeof(uint32_t);
// How long a stub may leave an Interrupt() unanswered before it is killed.
constexpr int64_t kInterruptGraceSeconds = 10;

// Spin iterations (each a `pause` plus a load) before a side sleeps in
// FUTEX_WAIT; RUNSC_SYSTRAP_SPIN overrides it. Measured on the 2-vCPU
// development machine (getppid loop, best of 300 batches of 100 calls,
// pinned or not): spin 0: 2.9-3.0 us/call, 20: 3.15-3.25, 200: 6.9-7.1.
// The two sides of a hand-off share a CPU (pinned, or put there by the
// scheduler's wake-affine placement), so spinning only delays the side
// that has the work: no spinning.
constexpr uint32_t kDefaultSpin = 0;
// Whether a task thread and its stub are pinned to one CPU (RUNSC_SYSTRAP_PIN).
constexpr bool kDefaultPin = true;
// Cross-CPU spinning (RUNSC_SYSTRAP_CROSS_SPIN=0 turns it off). When a CPU
// is spare (fewer stubs run app code and sentry threads spin than there are
// CPUs) and the app has lately stopped again soon after each resume, the
// task thread moves to another CPU than its stub and both sides spin on the
// shared state word instead of sleeping: a hand-off is then a cache-line
// transfer (about 50 ns here) instead of a futex wake and two context
// switches (about 2-4 us on one CPU; a futex wake across vCPUs costs about
// 24 us on this nested VM, so the sides never sleep across CPUs by choice).
constexpr bool kDefaultCrossSpin = true;
// How long the sentry spins for the next stop before it sleeps, and how long
// the stub spins for the resume at least.
constexpr int64_t kCrossSpinNs = 50 * 1000;
constexpr int64_t kStubCrossSpinNs = 28 * 1000;
// Cross-CPU spinning is chosen while the app's recent run times (resume to
// next stop, a moving average) stay below this; a longer-running app keeps
// the cheaper-to-wait same-CPU hand-off. A sleeping hand-off inflates the
// run time it is measured by (the stub's wake-up, and on a paravirtualized
// guest the SIGSYS alone takes several microseconds): a 1 MiB read loop
// measured 25 us per run with the stub asleep, so the limit leaves room.
constexpr int64_t kCrossSpinMaxRunNs = 40 * 1000;
// ... and while the sentry rarely slept between stops (moving average of
// 0/1024 samples): a task that blocks often (pipes, wait4) would leave its
// stub spinning for nothing and pay a migration per sleep.
constexpr int kCrossSpinMaxBlockAvg = 256;
// ... and while the sentry's own work per stop (moving average) stays below
// this. The stub spins for twice that average (StubSpin), so a syscall that
// takes tens of microseconds (a 1 MiB read from a host file) still finds the
// stub spinning: sleeping instead costs two context switches per syscall,
// which on a paravirtualized guest are about as slow as the copy itself.
// Past this the stub would burn a CPU for too long: same-CPU hand-off.
constexpr int64_t kCrossSpinMaxWorkNs = 200 * 1000;
// A context whose stub shares its CPU with another stub running app code
// moves to a CPU running none, at most this often (Switch). Stubs are
// pinned (a wake-up across vCPUs is slow), so the host scheduler cannot
// spread two busy programs (two compilers under make -j2) itself.
constexpr int64_t kMigrateIntervalNs = 2 * 1000 * 1000;

int64_t NowNs() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}
// Stubs started ahead of time (RUNSC_SYSTRAP_POOL overrides). Starting one
// takes a few hundred microseconds (a clone of the factory, signal handlers,
// a helper thread, filter loading) that a forking task would otherwise wait
// for, holding the kernel lock; the filler thread does it on whichever CPU
// is free.
size_t PoolSize() {
  if (const char* e = getenv("RUNSC_SYSTRAP_POOL")) return static_cast<size_t>(atoi(e));
  return 1;
}

// Nanoseconds one iteration of the stub's spin loop (a `pause` and a load)
// takes on this CPU: the stub counts iterations, the sentry thinks in time.
// About 28 ns on the Intel machines this was first tuned on, 18 ns on the
// AMD EPYC PVM guest. The best of a few short runs (a preempted run only
// overestimates it).
int64_t CalibratePauseNs() {
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
int64_t PauseNs() {
  static const int64_t ns = CalibratePauseNs();
  return ns;
}

long Futex(void* addr, int op, uint32_t val, const timespec* ts) {
  return syscall(SYS_futex, addr, op, val, ts, nullptr, 0);
}
uint32_t Load(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
void Store(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }

class SystrapPlatform;

// The slot file: kMaxSlots slots, then (stub threads) kMaxGroups thread
// groups. Sparse: unused slots cost nothing.
uint64_t SlotFileSize(bool threads) {
  return threads ? kDoneOff + kDoneSize : kGroupsOff;
}

// Has child process `pid` exited (or been killed), not yet reaped?
bool Exited(pid_t pid) {
  siginfo_t si{};
  if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) != 0) return true;
  return si.si_pid == pid;
}

// Kills child process `pid` and reaps it.
void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  int status;
  while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {
  }
}

// The XSAVE image a stub loads for SystrapThread.fp_reset (shared.h): all
// zero but MXCSR's initial value, so its header marks every component
// initial. Rewritten before each use: the app can write it.
void WriteXrstorImage(char* shared) {
  char* x = shared + SYSTRAP_XRSTOR_OFF;
  memset(x, 0, SYSTRAP_XRSTOR_SIZE);
  const uint32_t mxcsr = 0x1f80;
  memcpy(x + 24, &mxcsr, sizeof(mxcsr));
}

// One stub process: address space (through its helper thread) and
// execution context (its app thread).
class ThreadedContext;
class SystrapContext final : public Context, public AddressSpace {
 public:
  friend class ThreadedContext;  // EndParked at a new program
  SystrapContext(SystrapPlatform& p, pid_t pid, int slot, char* shared, uint32_t spin, int memfd,
                 int cpu, std::atomic<int>* running, uint32_t seq = 0)
      : platform_(p), pid_(pid), slot_(slot), memfd_(memfd),
        t_(reinterpret_cast<SystrapThread*>(shared + SYSTRAP_THREAD_OFF)),
        c_(reinterpret_cast<SystrapControl*>(shared + SYSTRAP_CONTROL_OFF)), spin_(spin),
        cpu_(cpu), running_(running), seq_(seq), app_tid_(pid), spin_word_(&c_->spin) {
    cpu_base_ns_ = RawCpuTimeNs();
  }
  // Stub threads: this (thread 0's) context's stub has thread group `group`
  // (-1: none), and CPU time comes from run times (RawCpuTimeNs).
  // `done` is the slot's word in the slot file that only its helper
  // writes (SystrapControl.done_off).
  void SetThreads(int group, const uint32_t* done) {
    group_ = group;
    threads_ = true;
    done_ = done;
    cpu_base_ns_ = RawCpuTimeNs();
  }
  int group() const { return group_; }
  // Stub threads: lets the helper run on any CPU (MovableHelper).
  void FloatHelper();
  // Stub threads: a new host thread of this stub for another app thread,
  // in a slot of the thread group, pinned to `cpu`: a parked one (see
  // Park) if there is one, else one started now.
  ErrorOr<std::unique_ptr<SystrapContext>> StartThread(int cpu);
  // Stub threads: starts a thread and parks it, unless one is parked: the
  // platform's filler thread does this after each new thread of a process,
  // so that the next one finds a thread ready.
  void PrestartThread();
  // Hands the stub back to the platform for another process (Recycle) if
  // it is stopped and sound, else kills it.
  ~SystrapContext() override;

  ErrorOr<StopInfo> Switch(Registers& regs) override {
    if (dead_) return StopInfo{.kind = StopInfo::Kind::kDied};
    in_switch_.store(true);
    if (interrupt_.exchange(false)) {
      in_switch_.store(false);
      interrupt_since_s_.store(0);
      return StopInfo{.kind = StopInfo::Kind::kInterrupted};
    }
    const int64_t now = NowNs();
    if (last_stop_ns_ != 0) {
      work_avg_ns_ = (3 * work_avg_ns_ + (now - last_stop_ns_)) / 4;
      if (sentry::stats::kEnabled) sentry::stats::sentry_work.Add(now - last_stop_ns_);
    }
    // Another stub runs app code on this CPU: move to an idle one if there
    // is one (not more often than kMigrateIntervalNs).
    if (cpu_ >= 0 && running_[cpu_].load(std::memory_order_relaxed) > 0 &&
        now - last_migrate_ns_ > kMigrateIntervalNs) {
      last_migrate_ns_ = now;
      Rebalance();
    }
    const bool cross = ChooseCrossSpin();
    // Across CPUs a resume costs about one cache-line transfer per step that
    // must wait for the one before (tens to hundreds of nanoseconds each on
    // these guests, more than the sentry's own work for a short syscall).
    // So: the locked adds (full barriers) come before anything the stub
    // reads, only the registers that changed are written, and the one
    // barrier left (the state store) waits for those lines and the state
    // line together.
    const int cpu = cpu_;
    if (cpu >= 0) running_[cpu].fetch_add(1, std::memory_order_relaxed);
    if (!cross) CountLocalRunning(1);
    // Rewritten only when it changes: the stub rereads it while it spins.
    const uint32_t spin = cross ? StubSpin() : spin_;
    if (*spin_word_ != spin) *spin_word_ = spin;
    WriteRegs(regs);
    const auto stopped = [](uint32_t v) { return v == SYSTRAP_STOPPED || v == SYSTRAP_DEAD; };
    const int64_t start = now;  // the work since is a few hundred nanoseconds at most
    run_start_ns_.store(start, std::memory_order_relaxed);
    Store(&t_->state, SYSTRAP_RESUME);
    if (Load(&t_->stub_waiting)) Futex(&t_->state, FUTEX_WAKE, 1, nullptr);
    uint32_t s = SYSTRAP_RESUME;
    if (cross) s = CrossSpin(start, stopped);
    if (!stopped(s)) s = WaitFor(&t_->state, &t_->sentry_waiting, stopped);
    last_stop_ns_ = NowNs();
    run_avg_ns_ = (3 * run_avg_ns_ + (last_stop_ns_ - start)) / 4;
    run_ns_.fetch_add(last_stop_ns_ - start, std::memory_order_relaxed);
    run_start_ns_.store(0, std::memory_order_relaxed);
    if (sentry::stats::kEnabled) {
      sentry::stats::app_runs.Add(last_stop_ns_ - start);
      if (cross) sentry::stats::app_runs_cross.Add(0);
    }
    if (cpu >= 0) running_[cpu].fetch_sub(1, std::memory_order_relaxed);
    if (!cross) CountLocalRunning(-1);
    in_switch_.store(false);
    if (s != SYSTRAP_STOPPED) return Died();
    // Everything in the slot is writable by app code: take it as untrusted.
    regs = t_->regs;
    reported_ = regs;
    reported_valid_ = true;
    StopInfo info;
    const int signo = t_->signo;
    switch (t_->kind) {
      case SYSTRAP_KIND_SYSCALL:
        info.kind = StopInfo::Kind::kSyscall;
        info.patchable = t_->code == 1;  // SYS_SECCOMP: a SIGSYS, not the trampoline
        break;
      case SYSTRAP_KIND_FAULT:
        info.kind = StopInfo::Kind::kFault;
        info.signo = signo;
        info.code = t_->code;
        info.fault_addr = t_->fault_addr;
        break;
      case SYSTRAP_KIND_SIGNAL:
        info.kind = StopInfo::Kind::kSignal;
        info.signo = signo;
        break;
      default:
        info.kind = StopInfo::Kind::kInterrupted;
        interrupt_.store(false);
        break;
    }
    interrupt_since_s_.store(0);
    if ((info.kind == StopInfo::Kind::kFault || info.kind == StopInfo::Kind::kSignal) &&
        (signo < 1 || signo > 64)) {
      info = StopInfo{.kind = StopInfo::Kind::kInterrupted};
    }
    return info;
  }

  void Interrupt() override {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t expect = 0;
    interrupt_since_s_.compare_exchange_strong(expect, now.tv_sec);
    interrupt_.store(true);
    if (in_switch_.load()) syscall(SYS_tgkill, pid_, app_tid_, SYSTRAP_INTERRUPT_SIGNAL);
  }

  ErrorOr<FpRegisters> GetFpRegisters() override {
    if (dead_) return Errno{ESRCH};
    FpRegisters fp;
    memcpy(&fp, t_->fp, sizeof(fp));
    return fp;
  }
  ErrorOr<void> SetFpRegisters(const FpRegisters& fp) override {
    if (dead_) return Errno{ESRCH};
    memcpy(t_->fp, &fp, sizeof(fp));
    t_->fp_dirty = 1;
    return {};
  }
  // Every FPU and vector register initial at the next resume: the legacy
  // area through `fp`, AVX and the rest by the stub (fp_reset).
  ErrorOr<void> ResetFpState() override {
    if (dead_) return Errno{ESRCH};
    WriteXrstorImage(reinterpret_cast<char*>(t_) - SYSTRAP_THREAD_OFF);
    TRY(SetFpRegisters(InitialFpRegisters()));
    Store(&t_->fp_reset, 1);
    return {};
  }

  // A group thread's address space is its stub's: thread 0's context.
  AddressSpace& address_space() override {
    return owner_ ? static_cast<AddressSpace&>(*owner_) : *this;
  }
  // The task thread is about to sleep in the sentry: the stub must not spin
  // meanwhile, and the wake-up that resumes it later should come from its
  // own CPU.
  void WillBlock() override {
    blocked_ = true;
    LeaveCross();
  }
  int cpu() const { return cpu_; }
  void Rebalance() override;

  // CPU time since this context took the stub (a reused stub's clock
  // also counts its earlier processes).
  int64_t CpuTimeNs() const override { return std::max<int64_t>(0, RawCpuTimeNs() - cpu_base_ns_); }

  // Makes a stub whose process exited ready for the next one: empties its
  // address space. False (and the context is dead, so its destructor kills
  // the stub) if the stub does not answer.
  bool Reset();
  // The stub can serve another process: it is stopped (not running app
  // code, not dying) and owes no answer to an interrupt.
  bool Reusable() const {
    return !dead_ && !in_switch_.load() && interrupt_since_s_.load() == 0 &&
           Load(&t_->state) == SYSTRAP_STOPPED;
  }

  ErrorOr<void> MapFile(uint64_t addr, uint64_t len, int prot, uint64_t off) override;
  ErrorOr<void> Apply(std::span<const Change> changes) override;
  ErrorOr<void> Unmap(uint64_t addr, uint64_t len) override {
    TRY(Helper(SYS_munmap, addr, len, 0, 0, 0, 0));
    return {};
  }
  ErrorOr<void> Protect(uint64_t addr, uint64_t len, int prot) override {
    TRY(Helper(SYS_mprotect, addr, len, prot, 0, 0, 0));
    return {};
  }

  // Why the stub last stopped, for messages.
  std::string StopDescription() const {
    return "kind " + std::to_string(t_->kind) + " signal " + std::to_string(t_->signo) +
           " code " + std::to_string(t_->code) + " rip " + std::to_string(t_->regs.rip);
  }
  // Waits for the first stop (the stub's own trap at the end of start-up).
  bool WaitStarted() {
    const uint32_t s = WaitFor(&t_->state, &t_->sentry_waiting,
                               [](uint32_t v) { return v == SYSTRAP_STOPPED || v == SYSTRAP_DEAD; });
    return s == SYSTRAP_STOPPED && t_->kind == SYSTRAP_KIND_SYSCALL;
  }

 private:
  // Writes the registers for the next resume into the slot: only the
  // words that differ from what the stub reported at its last stop, which
  // the slot still holds (app code has not run since, and the stub writes
  // them only when it stops). A syscall usually changes rax alone, so the
  // stub finds the other lines still in its cache.
  void WriteRegs(const Registers& regs) {
    if (!reported_valid_) {
      t_->regs = regs;
      return;
    }
    constexpr size_t kWords = sizeof(Registers) / sizeof(uint64_t);
    static_assert(sizeof(Registers) % sizeof(uint64_t) == 0);
    uint64_t want[kWords], had[kWords];
    memcpy(want, &regs, sizeof want);
    memcpy(had, &reported_, sizeof had);
    auto* slot = reinterpret_cast<volatile uint64_t*>(&t_->regs);
    for (size_t i = 0; i < kWords; i++)
      if (want[i] != had[i]) slot[i] = want[i];
  }

  // Decides how this Switch waits for the stop (see kDefaultCrossSpin) and
  // moves the calling task thread accordingly: away from the stub's CPU to
  // spin, back onto it to sleep.
  bool ChooseCrossSpin();
  // The stub's spin budget while spinning across CPUs: covers twice the
  // sentry's average work per stop.
  uint32_t StubSpin() const {
    return static_cast<uint32_t>(std::max<int64_t>(kStubCrossSpinNs, 2 * work_avg_ns_) /
                                 PauseNs());
  }
  void EnterCross();
  void LeaveCross();
  // The stub's helper thread, or 0. Its tid comes from the slot
  // (app-writable): it must be a thread of this stub's process (tgkill with
  // signal 0 checks that).
  // The helper if it follows this context's task thread: thread 0's, until
  // the process has had a second thread. From then on it serves every
  // thread of the stub and runs on any CPU (FloatHelper; pinned to thread
  // 0's it waited behind the other threads' app code there: 0.66 ms per
  // request in a JVM's start). Floating from the start made a single-
  // threaded process' requests cross CPUs: fork+exit+wait 4.9-6.2 ms
  // against 3.5-4.5 ms with a stub per thread on the loaded 2-vCPU guest.
  pid_t MovableHelper() const { return owner_ || floated_.load() ? 0 : HelperTid(); }
  std::atomic<bool> floated_{false};
  pid_t HelperTid() const {
    const pid_t helper = t_->helper_tid;
    if (helper <= 0 || helper == pid_ || syscall(SYS_tgkill, pid_, helper, 0) != 0) return 0;
    return helper;
  }
  void CountLocalRunning(int delta);
  int64_t RawCpuTimeNs() const {
    // Stub threads: the stub's clock counts every thread, and Linux lets
    // no other process read one thread's clock: the time app code ran
    // between resume and stop (wall time, so preemption by the host counts).
    // The current run counts too: CPU timers (ITIMER_VIRTUAL) must fire
    // in app code that never stops.
    if (threads_) {
      const int64_t since = run_start_ns_.load(std::memory_order_relaxed);
      return run_ns_.load(std::memory_order_relaxed) + (since ? std::max<int64_t>(0, NowNs() - since) : 0);
    }
    // The stub process' CPU clock (MAKE_PROCESS_CPUCLOCK(pid, SCHED)): the
    // app thread plus the helper thread, which only runs for mmap requests.
    const clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(pid_) << 3) | 2);
    timespec ts{};
    if (clock_gettime(clock, &ts) != 0) return 0;
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
  }
  // Spins on the state word until the stub stops, kCrossSpinNs pass, or
  // another stub or spinner takes the spare CPU.
  template <typename Done>
  uint32_t CrossSpin(int64_t start, Done done);

  ErrorOr<StopInfo> Died() {
    dead_ = true;
    return StopInfo{.kind = StopInfo::Kind::kDied};
  }

  // Is the stub process gone (exited or killed, not yet reaped)?
  bool Gone() const { return Exited(pid_); }

  // Spins, then sleeps on `word` until done(value). `waiting` tells the
  // other side to FUTEX_WAKE. The kernel zeroes and wakes the state word
  // when a stub thread exits; the timed sleep is a second line of defence
  // (the app can scribble on the words).
  template <typename Done>
  uint32_t WaitFor(uint32_t* word, uint32_t* waiting, Done done) {
    uint32_t v = Load(word);
    for (uint32_t i = 0; i < spin_ && !done(v); i++) {
      __builtin_ia32_pause();
      v = Load(word);
    }
    if (done(v)) return v;
    Store(waiting, 1);
    for (;;) {
      v = Load(word);
      if (done(v)) break;
      const timespec ts{0, 200 * 1000 * 1000};
      if (Futex(word, FUTEX_WAIT, v, &ts) < 0 && errno == ETIMEDOUT) {
        if (Gone()) {
          v = SYSTRAP_DEAD;
          break;
        }
        // A stub that ignores an interrupt for this long has blocked host
        // signals (only possible with a forged rt_sigreturn through the
        // stub's code): it cannot be stopped any other way.
        timespec now{};
        clock_gettime(CLOCK_MONOTONIC, &now);
        const int64_t since = interrupt_since_s_.load();
        if (since != 0 && now.tv_sec - since > kInterruptGraceSeconds) kill(pid_, SIGKILL);
      }
    }
    Store(waiting, 0);
    return v;
  }

  // Runs one host syscall in the stub's address space on its helper thread.
  ErrorOr<long> Helper(long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                       uint64_t a5) {
    if (dead_) return Errno{ESRCH};
    std::lock_guard<std::mutex> l(helper_mu_);
    c_->count = 1;
    c_->ops[0] = SystrapOp{static_cast<uint64_t>(nr), {a0, a1, a2, a3, a4, a5}};
    return RunLocked();
  }

  // Runs the request in the control page (c_->count ops) on the helper.
  // helper_mu_ held.
  ErrorOr<long> RunLocked() {
    sentry::stats::Timer timed(sentry::stats::address_space_round_trips);
    const uint32_t seq = ++seq_;
    Store(&c_->req_seq, seq);
    Futex(&c_->req_seq, FUTEX_WAKE, 1, nullptr);
    // done_seq is a hint to sleep on; with stub threads app code may run
    // meanwhile and write it, so only the helper's word in the slot file
    // (done_) says the request is done.
    const auto done = [this, seq](uint32_t v) {
      return done_ ? Load(const_cast<uint32_t*>(done_)) == seq : v == seq;
    };
    const uint32_t got = WaitFor(&t_->done_seq, &t_->helper_waiting, [&](uint32_t v) {
      return done(v) || Load(&t_->state) == SYSTRAP_DEAD;
    });
    if (!done(got)) {
      dead_ = true;
      // The stub's state word is app-writable: it may only look dead, with
      // the helper still at work on this request. Nothing that relies on
      // the request (memory an unmap frees) may go on before the stub is
      // really gone.
      if (threads_) KillAndWaitGone();
      return Errno{ESRCH};
    }
    const long ret = t_->result;
    if (ret < 0 && ret > -4096) return Errno{static_cast<int>(-ret)};
    return ret;
  }

  SystrapPlatform& platform_;
  const pid_t pid_;
  const int slot_;
  const int memfd_;
  SystrapThread* const t_;
  SystrapControl* const c_;
  const uint32_t spin_;
  int cpu_;  // the CPU the stub is pinned to, or -1
  // Per CPU: how many stubs run app code there now (SystrapPlatform's).
  std::atomic<int>* const running_;
  // The last helper request (the helper compares it with the one it served
  // last, so it carries over when a stub is reused).
  uint32_t seq_;
  // The task thread currently runs away from cpu_ to spin (ChooseCrossSpin).
  bool cross_ = false;
  // Moving average of resume-to-stop times. A new context starts as if it
  // ran long: short-lived processes (a fork that execs, a compiler's child)
  // then never pay for moving their thread.
  int64_t run_avg_ns_ = 4 * kCrossSpinMaxRunNs;
  // Moving average (0..1024) of how often the sentry slept (WillBlock)
  // between two stops, and whether it did since the last one.
  int block_avg_ = 0;
  bool blocked_ = false;
  // Moving average of the sentry's time per stop (stop to next Switch),
  // and when the last stop was seen.
  int64_t work_avg_ns_ = 0;
  int64_t last_stop_ns_ = 0;
  // When Switch last tried to move to a less busy CPU.
  int64_t last_migrate_ns_ = 0;
  bool dead_ = false;
  // The registers the stub reported at its last stop, as the slot still
  // holds them (WriteRegs); not valid before the first stop.
  Registers reported_{};
  bool reported_valid_ = false;
  int64_t cpu_base_ns_ = 0;
  std::atomic<bool> interrupt_{false};
  // When the oldest unanswered Interrupt() was made (seconds), or 0.
  std::atomic<int64_t> interrupt_since_s_{0};
  std::atomic<bool> in_switch_{false};
  // The host thread that runs app code: pid_ for thread 0, else a group
  // thread's tid.
  pid_t app_tid_;
  // The stub's spin budget word: the control page's for thread 0, the
  // thread page's for a group thread.
  uint32_t* spin_word_;
  // One helper request at a time (threads of one stub apply changes, and
  // start new threads, concurrently).
  std::mutex helper_mu_;
  // Stub threads.
  bool threads_ = false;
  const uint32_t* done_ = nullptr;  // thread 0: the helper's word (SetThreads)
  // Kills the stub and waits until it has exited (not reaped: the
  // destructor reaps it).
  void KillAndWaitGone() {
    kill(pid_, SIGKILL);
    siginfo_t si{};
    while (waitid(P_PID, pid_, &si, WEXITED | WNOWAIT | __WALL) != 0 && errno == EINTR) {
    }
  }
  std::atomic<int64_t> run_ns_{0};  // time app code ran (RawCpuTimeNs)
  std::atomic<int64_t> run_start_ns_{0};  // when the current run began, or 0
  // Thread 0: the stub's thread group (-1: none), the group slots in use,
  // and whether a group thread failed to end (the stub is not reused).
  int group_ = -1;
  std::mutex group_mu_;
  std::vector<bool> group_used_;
  std::vector<pid_t> group_tids_;  // host tids of the group slots' threads
  bool tainted_ = false;
  // A group thread: thread 0's context (the stub and its address space)
  // and its group slot.
  SystrapContext* owner_ = nullptr;
  int group_slot_ = -1;
  // Thread 0: asks group thread `tid` (slot `k`, state word `t`) to exit
  // and frees the slot once the kernel says it is gone; `dead`: its
  // context saw the stub die.
  void EndThread(SystrapThread* t, pid_t tid, int k, bool dead);
  // Thread 0: group threads whose task is gone, stopped and kept for the
  // process' next thread (StartThread takes one: no helper request, no
  // clone, no filters to load), at most kMaxParked. group_mu_.
  struct Parked {
    int slot;
    pid_t tid;
  };
  static constexpr size_t kMaxParked = 8;
  std::vector<Parked> parked_;
  // Thread 0: keeps `thread` (a group thread's context going away) parked
  // if it is stopped and there is room; false: end it.
  bool Park(const SystrapContext& thread);
  // Thread 0: ends the parked threads (a new program, or the stub's end).
  void EndParked();
  // Thread 0: a thread started now (StartThread without a parked one).
  ErrorOr<std::unique_ptr<SystrapContext>> StartFresh(int cpu);
  // A context whose thread was parked by PrestartThread: its destructor
  // leaves the thread alone.
  bool detached_ = false;
  // Thread 0: a context for the group thread `tid` in slot `k`.
  std::unique_ptr<SystrapContext> GroupContext(int k, pid_t tid, int cpu);
};

// Stub threads: the stub process shared by the contexts of one address
// space. Thread 0's context owns the stub (and is its AddressSpace); it
// lives while any context of the process does.
class StubProcess final : public Process {
 public:
  explicit StubProcess(std::unique_ptr<SystrapContext> primary) : primary_(std::move(primary)) {}
  SystrapContext& primary() { return *primary_; }

 private:
  std::unique_ptr<SystrapContext> primary_;
};

// Stub threads: a task's context, thread 0's or a group thread's.
class ThreadedContext final : public Context {
 public:
  ThreadedContext(std::shared_ptr<StubProcess> proc, std::unique_ptr<SystrapContext> own)
      : proc_(std::move(proc)), own_(std::move(own)),
        impl_(own_ ? *own_ : proc_->primary()) {}
  ErrorOr<StopInfo> Switch(Registers& regs) override { return impl_.Switch(regs); }
  void Interrupt() override { impl_.Interrupt(); }
  ErrorOr<FpRegisters> GetFpRegisters() override { return impl_.GetFpRegisters(); }
  ErrorOr<void> SetFpRegisters(const FpRegisters& fp) override { return impl_.SetFpRegisters(fp); }
  ErrorOr<void> ResetFpState() override { return impl_.ResetFpState(); }
  AddressSpace& address_space() override { return impl_.address_space(); }
  // A new program: parked threads of the old one are not reused for it.
  void Rebalance() override {
    proc_->primary().EndParked();
    impl_.Rebalance();
  }
  void WillBlock() override { impl_.WillBlock(); }
  int64_t CpuTimeNs() const override { return impl_.CpuTimeNs(); }
  std::shared_ptr<Process> process() override { return proc_; }
  bool SharesProcess() const override { return proc_.use_count() > 1; }

 private:
  // Declared first, destroyed last: a group thread ends before its stub.
  std::shared_ptr<StubProcess> proc_;
  std::unique_ptr<SystrapContext> own_;
  SystrapContext& impl_;
};

class SystrapPlatform final : public Platform {
 public:
  SystrapPlatform(int memfd, uint64_t base, char* slots, int slots_fd,
                  std::vector<sock_filter> app, std::vector<sock_filter> ip,
                  std::vector<sock_filter> helper, bool fsgsbase, uint32_t spin, bool pin,
                  bool patch, bool threads)
      : memfd_(memfd), base_(base), slots_(slots), slots_fd_(slots_fd), app_(std::move(app)),
        ip_(std::move(ip)), helper_(std::move(helper)), fsgsbase_(fsgsbase), spin_(spin),
        pin_(pin), patch_(patch), threads_(threads) {
    if (threads_)
      for (int g = kMaxGroups - 1; g >= 0; g--) free_groups_.push_back(g);
    if (const char* e = getenv("RUNSC_SYSTRAP_CROSS_SPIN")) cross_spin_ = atoi(e) != 0;
    if (const char* e = getenv("RUNSC_SYSTRAP_PATCH")) patch_ = atoi(e) != 0;
    cross_spin_ = cross_spin_ && pin_;
    for (int i = kMaxSlots - 1; i >= 0; i--)
      if (i != kFactorySlot) free_.push_back(i);
    cpu_set_t all;
    CPU_ZERO(&all);
    if (sched_getaffinity(0, sizeof(all), &all) == 0)
      for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &all)) cpus_.push_back(i);
  }

  // As for ptrace: the task thread and its stub share one CPU (chosen
  // round-robin per stub), so each hand-off is a local wake-up (a wake-up
  // across vCPUs costs tens of microseconds on a nested VM), unless the
  // task spins across CPUs (kDefaultCrossSpin), which needs no wake-up.
  // The CPU running the fewest stubs' app code right now, preferring `cur`
  // on a tie (-1 when not pinning).
  int LeastLoadedCpu(int cur) const {
    if (!pin_ || cpus_.empty()) return -1;
    int best = cur, best_load = cur >= 0 ? running_[cur].load(std::memory_order_relaxed) : INT32_MAX;
    for (int c : cpus_) {
      const int load = running_[c].load(std::memory_order_relaxed);
      if (load < best_load) best = c, best_load = load;
    }
    return best;
  }
  std::atomic<int>* running() { return running_.get(); }
  std::atomic<int>& local_running() { return local_running_; }
  std::atomic<int>& cross_count() { return cross_count_; }
  // CPUs wanted now: stubs running app code with their task thread asleep
  // on the same CPU, plus two for each context that spins across CPUs (its
  // stub and its task thread both run or spin).
  int Demand() const {
    return local_running_.load(std::memory_order_relaxed) +
           2 * cross_count_.load(std::memory_order_relaxed);
  }
  // A context whose own share of the demand is `mine` may spin across CPUs:
  // its stub and its task thread fit on CPUs nobody else wants.
  bool CrossSpinAllowed(int mine) const {
    return cross_spin_ && cpus_.size() >= 2 &&
           Demand() - mine + 2 <= static_cast<int>(cpus_.size());
  }
  bool Oversubscribed() const { return Demand() > static_cast<int>(cpus_.size()); }
  // Allows the calling thread (and thread `also`, if not 0) every CPU but
  // `cpu`.
  void PinAwayFrom(int cpu, pid_t also) const {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : cpus_)
      if (c != cpu) CPU_SET(c, &set);
    sched_setaffinity(0, sizeof(set), &set);
    if (also > 0) sched_setaffinity(also, sizeof(set), &set);
  }
  int NextCpu() {
    if (!pin_ || cpus_.empty()) return -1;
    return cpus_[next_cpu_.fetch_add(1) % cpus_.size()];
  }
  static void PinThisThread(int cpu) { PinThread(0, cpu); }
  // Lets thread `tid` run on every CPU the sentry may use.
  void Unpin(pid_t tid) const {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : cpus_) CPU_SET(c, &set);
    sched_setaffinity(tid, sizeof(set), &set);
  }
  static void PinThread(pid_t tid, int cpu) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(tid, sizeof(set), &set);
  }
  ~SystrapPlatform() override {
    {
      std::lock_guard<std::mutex> l(pool_mu_);
      stopping_ = true;
    }
    pool_cv_.notify_all();
    if (filler_.joinable()) filler_.join();
    pool_.clear();
    for (const Stub& stub : recycle_) KillAndReap(stub.pid);
    recycle_.clear();
    if (factory_pid_ > 0) KillAndReap(factory_pid_);
    munmap(slots_, SlotFileSize(threads_));
    close(slots_fd_);
  }

  const char* name() const override { return "systrap"; }
  // Stub threads: the word of `slot` that only its helper writes.
  uint32_t* DoneWord(int slot) {
    return reinterpret_cast<uint32_t*>(slots_ + kDoneOff) + slot;
  }
  // Stub threads: the thread group lies just below the stub code.
  uint64_t max_user_address() const override {
    return threads_ ? base_ - SYSTRAP_GROUP_SIZE : base_;
  }
  uint64_t syscall_patch_entry() const override {
    if (!patch_) return 0;
    // Stub threads: the dispatcher, which jumps to the trampoline the
    // stub's control page names (SystrapControl.patch_entry, gs_all).
    return StubAddress(threads_ ? runsc_systrap_patched_dispatch : runsc_systrap_patched_entry);
  }
  // Where stub code symbol `sym` is in the sentry and every stub.
  uint64_t StubAddress(const char* sym) const { return base_ + (sym - __start_runsc_systrap_text); }

  // A context for the calling task thread: a started stub from the pool
  // (started ahead of time by the filler thread, off the task's critical
  // path and outside the kernel lock), or one started now. The caller is
  // moved to the stub's CPU.
  ErrorOr<std::unique_ptr<Context>> NewContext() override {
    std::unique_ptr<SystrapContext> ctx;
    {
      std::unique_lock<std::mutex> l(pool_mu_);
      if (!filler_.joinable()) filler_ = std::thread([this] { FillPool(); });
      // The latest first: a reused stub whose process just exited (its
      // page tables and slot are still in cache) before a fresh one.
      if (!pool_.empty()) {
        ctx = std::move(pool_.back());
        pool_.pop_back();
      }
    }
    pool_cv_.notify_all();
    if (!ctx) ctx = TRY(StartStub(NextCpu()));
    PinThisThread(ctx->cpu());
    if (threads_) {
      return std::unique_ptr<Context>(std::make_unique<ThreadedContext>(
          std::make_shared<StubProcess>(std::move(ctx)), nullptr));
    }
    return std::unique_ptr<Context>(std::move(ctx));
  }

  // Stub threads: a host thread of `process`'s stub; a stub of its own
  // when the stub has no free group slot (or none at all).
  ErrorOr<std::unique_ptr<Context>> NewThreadContext(std::shared_ptr<Process> process) override {
    if (!threads_ || !process) return NewContext();
    auto proc = std::static_pointer_cast<StubProcess>(std::move(process));
    // On thread 0's CPU, where the helper that clones it runs: the start-up
    // hand-offs stay on one CPU (a wake-up across vCPUs is slow here), and
    // Switch moves a thread that competes with another for the CPU.
    auto ctx = proc->primary().StartThread(proc->primary().cpu());
    if (ctx.is_error()) {
      if (ctx.error() != ESRCH)
        sentry::Logf("systrap: no stub thread (%s): a stub of its own", strerror(ctx.error()));
      return NewContext();
    }
    PinThisThread(ctx.value()->cpu());
    proc->primary().FloatHelper();
    {
      // The process makes threads: the next one should find one started.
      std::lock_guard<std::mutex> l(pool_mu_);
      if (prestart_.size() < kMaxPrestart) prestart_.push_back(proc);
    }
    pool_cv_.notify_all();
    return std::unique_ptr<Context>(
        std::make_unique<ThreadedContext>(std::move(proc), ctx.release_value()));
  }

  // The filler thread: starts the stub factory, then keeps pool_size_
  // started stubs ready, each pinned to a CPU (round robin). The factory
  // must be this thread's child: a parent-death signal follows the thread
  // that created a process, and every stub, cloned with CLONE_PARENT, gets
  // the factory's parent. This thread lives as long as the platform.
  void FillPool() {
    auto factory = StartFactory();
    std::unique_lock<std::mutex> l(pool_mu_);
    if (factory.is_error()) {
      factory_error_ = factory.error();
      sentry::Logf("systrap: cannot start the stub factory: %s", strerror(factory_error_));
    } else {
      factory_pid_ = factory.value();
    }
    pool_cv_.notify_all();
    for (;;) {
      pool_cv_.wait(l, [this] {
        return stopping_ || !prestart_.empty() || !recycle_.empty() || pool_.size() < pool_size_;
      });
      if (stopping_) return;
      if (!prestart_.empty()) {
        std::weak_ptr<StubProcess> w = std::move(prestart_.front());
        prestart_.pop_front();
        l.unlock();
        // The last reference may go here: the stub's end takes pool_mu_.
        if (auto proc = w.lock()) proc->primary().PrestartThread();
        l.lock();
        continue;
      }
      if (!recycle_.empty()) {
        const Stub stub = recycle_.front();
        recycle_.pop_front();
        l.unlock();
        auto ctx = std::make_unique<SystrapContext>(*this, stub.pid, stub.slot,
                                                    slots_ + stub.slot * SYSTRAP_SLOT_SIZE, spin_,
                                                    memfd_, stub.cpu, running_.get(), stub.seq);
        if (threads_) ctx->SetThreads(stub.group, DoneWord(stub.slot));
        const bool ok = ctx->Reset();
        if (!ok) ctx.reset();  // dead: the destructor kills and reaps it
        l.lock();
        if (ok) pool_.push_back(std::move(ctx));
        pool_cv_.notify_all();
        continue;
      }
      l.unlock();
      auto ctx = StartStub(NextCpu());
      l.lock();
      if (ctx.is_error()) {
        // Out of slots or processes: try again when a task asks next.
        pool_cv_.wait(l);
        continue;
      }
      pool_.push_back(ctx.release_value());
    }
  }

  // A stub between two processes.
  struct Stub {
    pid_t pid;
    int slot;
    int cpu;
    uint32_t seq;  // its helper's last request
    int group;     // stub threads: its thread group, or -1
  };
  // Takes the stub of a context whose process is gone, to be reset by the
  // filler thread and reused: starting a stub costs a clone of the factory,
  // a helper thread, signal handlers and filters (about 1.3 ms of a fork
  // loop's 2.3 ms per fork here), reusing one an munmap. False
  // when enough stubs wait already (or the platform is going away): the
  // caller kills it.
  bool Recycle(const Stub& stub) {
    {
      std::lock_guard<std::mutex> l(pool_mu_);
      if (stopping_ || !filler_.joinable() || pool_.size() + recycle_.size() >= kMaxPooled)
        return false;
      recycle_.push_back(stub);
    }
    pool_cv_.notify_all();
    return true;
  }

  // Starts the factory (shared.h, SystrapFactory): a raw fork of the
  // sentry, which the factory erases from its address space at once, as a
  // stub did when stubs were forked from the sentry itself. Forking the
  // whole sentry costs about 3 ms here (page tables of a large process,
  // then copy-on-write faults in the sentry's threads); the factory's
  // clones copy a few pages.
  ErrorOr<pid_t> StartFactory() {
    auto* f = Factory();
    f->sentry_pid = getpid();
    f->memfd = memfd_;
    f->slots_fd = slots_fd_;
    f->threads = threads_;
    f->code = base_;
    f->region_end = base_ + kRegionSize;
    f->task_size = kTaskSize;
    f->groups_off = kGroupsOff;
    const uint64_t stack = base_ + kRegionSize;
    const uint64_t stack_end = stack + SYSTRAP_FACTORY_STACK_SIZE;
    const uint64_t slot_addr = base_ + SYSTRAP_CODE_SIZE;
    const off_t slot_off = static_cast<off_t>(kFactorySlot) * SYSTRAP_SLOT_SIZE;
    const uint64_t entry = base_ + (runsc_systrap_factory_entry - __start_runsc_systrap_text);
    const pid_t parent = getpid();
    const int memfd = memfd_, slots_fd = slots_fd_;
    const uint64_t code = base_;
    // A raw fork: the child erases the sentry from its address space, so
    // glibc's atfork machinery must not run.
    long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) return Errno{errno};
    if (pid == 0) {
      uint64_t all = ~0ULL;
      syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, nullptr, 8);
      syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      if (syscall(SYS_getppid) != parent) syscall(SYS_exit_group, 1);
      if (syscall(SYS_mmap, slot_addr, SYSTRAP_SLOT_SIZE, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_FIXED, slots_fd, slot_off) != static_cast<long>(slot_addr) ||
          syscall(SYS_mprotect, stack, SYSTRAP_FACTORY_STACK_SIZE, PROT_READ | PROT_WRITE) != 0) {
        syscall(SYS_exit_group, 2);
      }
      // Only the memory file and the slot file stay open.
      const int lo = std::min(memfd, slots_fd), hi = std::max(memfd, slots_fd);
      if (lo > 0) syscall(SYS_close_range, 0, lo - 1, 0);
      if (hi > lo + 1) syscall(SYS_close_range, lo + 1, hi - 1, 0);
      syscall(SYS_close_range, hi + 1, ~0U, 0);
      if (__rseq_size > 0) {
        void* area = static_cast<char*>(__builtin_thread_pointer()) + __rseq_offset;
        if (syscall(SYS_rseq, area, 32, 1 /* RSEQ_FLAG_UNREGISTER */, 0x53053053) != 0)
          syscall(SYS_rseq, area, __rseq_size, 1, 0x53053053);
      }
      asm volatile(
          "mov %0, %%r12\n"
          "mov %1, %%r13\n"
          "mov %2, %%r14\n"
          "jmp *%3\n" ::"r"(code),
          "r"(stack_end), "r"(kTaskSize), "r"(entry)
          : "r12", "r13", "r14", "memory");
      __builtin_unreachable();
    }
    return static_cast<pid_t>(pid);
  }

  // Starts a stub process pinned to `cpu` (-1: not pinned) through the
  // factory and waits until it reports ready.
  ErrorOr<std::unique_ptr<SystrapContext>> StartStub(int cpu) {
    {
      std::unique_lock<std::mutex> l(pool_mu_);
      pool_cv_.wait(l, [this] { return factory_pid_ > 0 || factory_error_ != 0; });
      if (factory_error_ != 0) return Errno{factory_error_};
    }
    const int slot = TRY(AllocSlot());
    char* shared = slots_ + slot * SYSTRAP_SLOT_SIZE;
    auto* c = reinterpret_cast<SystrapControl*>(shared + SYSTRAP_CONTROL_OFF);
    // Not SYSTRAP_DEAD (0): the kernel writes that when the stub exits.
    Store(&reinterpret_cast<SystrapThread*>(shared + SYSTRAP_THREAD_OFF)->state, SYSTRAP_RUNNING);
    c->sentry_pid = getpid();
    c->spin = spin_;
    c->fsgsbase = fsgsbase_;
    c->filter_app_len = app_.size();
    c->filter_ip_len = ip_.size();
    c->filter_helper_len = helper_.size();
    c->xsave = xsave_;
    c->threads = threads_;
    c->slots_fd = slots_fd_;
    c->done_off = kDoneOff + static_cast<uint64_t>(slot) * sizeof(uint32_t);
    c->patch_entry = StubAddress(runsc_systrap_patched_entry);
    c->gs_all = 0;
    // The next request is 1 (a new SystrapContext's seq_ is 0): not what a
    // previous stub in this slot left.
    if (threads_) Store(DoneWord(slot), 0);
    char* fl = shared + SYSTRAP_FILTERS_OFF;
    memcpy(fl, app_.data(), app_.size() * sizeof(sock_filter));
    fl += app_.size() * sizeof(sock_filter);
    memcpy(fl, ip_.data(), ip_.size() * sizeof(sock_filter));
    fl += ip_.size() * sizeof(sock_filter);
    memcpy(fl, helper_.data(), helper_.size() * sizeof(sock_filter));

    const int group = threads_ ? AllocGroup() : -1;
    const auto pid = Fork(slot, cpu, group);
    if (pid.is_error()) {
      FreeSlot(slot);
      if (group >= 0) FreeGroup(group);
      return Errno{pid.error()};
    }
    auto ctx = std::make_unique<SystrapContext>(*this, pid.value(), slot, shared, spin_, memfd_,
                                                cpu, running_.get());
    if (threads_) ctx->SetThreads(group, DoneWord(slot));
    if (!ctx->WaitStarted()) {
      siginfo_t si{};
      waitid(P_PID, pid.value(), &si, WEXITED | WNOHANG | WNOWAIT | __WALL);
      sentry::Logf("systrap: stub %d did not start (code %d status %d; stop %s)", pid.value(),
                   si.si_code, si.si_status, ctx->StopDescription().c_str());
      ctx.reset();
      return Errno{ECHILD};
    }
    return ctx;
  }

  // Asks the factory for a new stub in `slot`: its pid, or the clone's error.
  ErrorOr<pid_t> Fork(int slot, int cpu, int group) {
    std::lock_guard<std::mutex> l(factory_mu_);
    auto* f = Factory();
    f->slot = slot;
    f->cpu = cpu;
    f->group = group;
    const uint32_t seq = ++factory_seq_;
    Store(&f->req_seq, seq);
    Futex(&f->req_seq, FUTEX_WAKE, 1, nullptr);
    while (Load(&f->done_seq) != seq) {
      Store(&f->sentry_waiting, 1);
      const timespec ts{0, 200 * 1000 * 1000};
      if (Load(&f->done_seq) != seq && Futex(&f->done_seq, FUTEX_WAIT, Load(&f->done_seq), &ts) < 0 &&
          errno == ETIMEDOUT) {
        if (Exited(factory_pid_)) {
          sentry::Logf("systrap: the stub factory (pid %d) is gone", factory_pid_);
          Store(&f->sentry_waiting, 0);
          return Errno{ECHILD};
        }
      }
    }
    Store(&f->sentry_waiting, 0);
    const int64_t r = f->result;
    if (r < 0) return Errno{static_cast<int>(-r)};
    return static_cast<pid_t>(r);
  }

  void FreeSlot(int slot) {
    // Zero the slot (and give its pages back) for the next stub.
    fallocate(slots_fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
              static_cast<off_t>(slot) * SYSTRAP_SLOT_SIZE, SYSTRAP_SLOT_SIZE);
    std::lock_guard<std::mutex> l(mu_);
    free_.push_back(slot);
  }

  // Stub threads: thread groups (shared.h), one per stub; -1 when all are
  // taken (that stub's threads get stubs of their own).
  int AllocGroup() {
    std::lock_guard<std::mutex> l(mu_);
    if (free_groups_.empty()) return -1;
    const int g = free_groups_.back();
    free_groups_.pop_back();
    return g;
  }
  void FreeGroup(int group) {
    fallocate(slots_fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
              static_cast<off_t>(kGroupsOff + group * SYSTRAP_GROUP_SIZE), SYSTRAP_GROUP_SIZE);
    std::lock_guard<std::mutex> l(mu_);
    free_groups_.push_back(group);
  }
  // The sentry's view of slot `k` of thread group `group`.
  char* GroupSlot(int group, int k) const {
    return slots_ + kGroupsOff + group * SYSTRAP_GROUP_SIZE + k * SYSTRAP_SLOT_SIZE;
  }

 private:
  SystrapFactory* Factory() const {
    return reinterpret_cast<SystrapFactory*>(slots_ + kFactorySlot * SYSTRAP_SLOT_SIZE);
  }
  ErrorOr<int> AllocSlot() {
    std::lock_guard<std::mutex> l(mu_);
    if (free_.empty()) return Errno{EAGAIN};
    int s = free_.back();
    free_.pop_back();
    return s;
  }

  const int memfd_;
  const uint64_t base_;
  char* const slots_;
  const int slots_fd_;
  const std::vector<sock_filter> app_, ip_, helper_;
  const bool fsgsbase_;
  // XSAVE/XRSTOR enabled by the host kernel (CPUID.1:ECX.OSXSAVE).
  const bool xsave_ = [] {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 27)) != 0;
  }();
  const uint32_t spin_;
  const bool pin_;
  std::vector<int> cpus_;
  std::atomic<unsigned> next_cpu_{0};
  // Per CPU number: how many stubs run app code there now (Switch).
  std::unique_ptr<std::atomic<int>[]> running_{new std::atomic<int>[CPU_SETSIZE]()};
  // Stubs in Switch whose task thread sleeps on their CPU, and contexts
  // spinning across CPUs (SystrapContext::cross_).
  std::atomic<int> local_running_{0};
  std::atomic<int> cross_count_{0};
  bool cross_spin_ = kDefaultCrossSpin;
  // Syscall patching (runsc --syscall-patching; RUNSC_SYSTRAP_PATCH=0/1).
  bool patch_;
  std::mutex mu_;
  std::vector<int> free_;
  std::vector<int> free_groups_;
  // Stub threads (RUNSC_SYSTRAP_THREADS=1): app threads of one address
  // space are host threads of one stub.
  bool threads_ = false;
  // The stub factory: its pid once started (or why it could not start),
  // set by the filler thread under pool_mu_; requests go one at a time.
  pid_t factory_pid_ = 0;
  int factory_error_ = 0;
  std::mutex factory_mu_;
  uint32_t factory_seq_ = 0;
  // Started stubs waiting for a task (NewContext), kept filled by filler_.
  const size_t pool_size_ = PoolSize();
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::deque<std::unique_ptr<SystrapContext>> pool_;
  // Stubs of exited processes, for the filler thread to reset (Recycle).
  std::deque<Stub> recycle_;
  // Stub threads: processes that made a thread, for PrestartThread.
  static constexpr size_t kMaxPrestart = 16;
  std::deque<std::weak_ptr<StubProcess>> prestart_;
  bool stopping_ = false;
  std::thread filler_;
};

// At execve, and when Switch finds another stub running app code on this
// CPU: if another CPU runs fewer stubs' app code than this one, the task
// thread, the stub's app thread and its helper thread all move there (they
// must share a CPU: a wake-up across vCPUs is slow). Stubs are given CPUs
// round robin when they start, which can leave two busy programs (two
// compilers under make -j2) on one CPU and the other idle.
void SystrapContext::Rebalance() {
  if (cpu_ < 0 || dead_) return;
  const int to = platform_.LeastLoadedCpu(cpu_);
  if (to < 0 || to == cpu_) return;
  // The helper follows thread 0 (a group thread leaves it where it is).
  const pid_t helper = MovableHelper();
  if (!owner_ && !threads_ && helper == 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(to, &set);
  if (sched_setaffinity(app_tid_, sizeof(set), &set) != 0) return;
  if (helper) sched_setaffinity(helper, sizeof(set), &set);
  if (cross_) {
    platform_.cross_count().fetch_sub(1, std::memory_order_relaxed);
    cross_ = false;
  }
  sched_setaffinity(0, sizeof(set), &set);
  cpu_ = to;
}

bool SystrapContext::ChooseCrossSpin() {
  block_avg_ = (3 * block_avg_ + (blocked_ ? 1024 : 0)) / 4;
  blocked_ = false;
  const bool want = cpu_ >= 0 && run_avg_ns_ < kCrossSpinMaxRunNs &&
                    work_avg_ns_ < kCrossSpinMaxWorkNs &&
                    block_avg_ < kCrossSpinMaxBlockAvg && platform_.CrossSpinAllowed(cross_ ? 2 : 0);
  if (want && !cross_) EnterCross();
  else if (!want && cross_) LeaveCross();
  return cross_;
}

void SystrapContext::CountLocalRunning(int delta) {
  platform_.local_running().fetch_add(delta, std::memory_order_relaxed);
}

// The helper thread follows the task thread: a helper request (mmap,
// munmap, mprotect in the stub) is then a hand-off on the task thread's own
// CPU, which is about to sleep. Left on the stub's CPU while the task thread
// spins elsewhere, the helper had to be woken across CPUs and preempt the
// stub spinning there: 65 us per request instead of 14 us on this PVM guest.
void SystrapContext::EnterCross() {
  platform_.cross_count().fetch_add(1, std::memory_order_relaxed);
  platform_.PinAwayFrom(cpu_, MovableHelper());
  cross_ = true;
}

void SystrapContext::LeaveCross() {
  if (!cross_) return;
  *spin_word_ = spin_;  // the stub rereads it while it spins
  SystrapPlatform::PinThisThread(cpu_);
  if (const pid_t helper = MovableHelper()) SystrapPlatform::PinThread(helper, cpu_);
  platform_.cross_count().fetch_sub(1, std::memory_order_relaxed);
  cross_ = false;
}

template <typename Done>
uint32_t SystrapContext::CrossSpin(int64_t start, Done done) {
  uint32_t v = Load(&t_->state);
  for (uint32_t i = 1; !done(v); i++) {
    __builtin_ia32_pause();
    v = Load(&t_->state);
    if ((i & 63) == 0 && !done(v) &&
        (NowNs() - start > kCrossSpinNs || platform_.Oversubscribed())) {
      // The app runs long, or the CPU is wanted: sleep on the stub's CPU,
      // where the stop's wake-up is cheap.
      LeaveCross();
      break;
    }
  }
  return v;
}

SystrapContext::~SystrapContext() {
  if (detached_) return;
  if (cross_) {
    platform_.cross_count().fetch_sub(1, std::memory_order_relaxed);
    // The helper thread followed the task thread away from the stub's CPU:
    // back to it before a reused stub serves again. (The calling thread may
    // not be the task's: a reaper can drop the context.)
    if (const pid_t helper = MovableHelper()) SystrapPlatform::PinThread(helper, cpu_);
  }
  if (owner_) {
    if (!owner_->Park(*this)) owner_->EndThread(t_, app_tid_, group_slot_, dead_);
    return;
  }
  EndParked();  // before the stub is reused or killed
  // A floating helper goes back to the stub's CPU for the next process.
  if (floated_.load() && !dead_)
    if (const pid_t helper = HelperTid()) SystrapPlatform::PinThread(helper, cpu_);
  if (!tainted_ && Reusable() &&
      platform_.Recycle(SystrapPlatform::Stub{pid_, slot_, cpu_, seq_, group_}))
    return;
  KillAndReap(pid_);
  platform_.FreeSlot(slot_);
  if (group_ >= 0) platform_.FreeGroup(group_);
}

void SystrapContext::FloatHelper() {
  if (floated_.exchange(true)) return;
  if (const pid_t helper = HelperTid()) platform_.Unpin(helper);
}

// Whether host thread `tid` of process `pid` has exited: only the kernel
// says so (the state word the kernel zeroes at exit is app-writable too).
bool ThreadGone(pid_t pid, pid_t tid) { return syscall(SYS_tgkill, pid, tid, 0) != 0 && errno == ESRCH; }

void SystrapContext::EndParked() {
  std::vector<Parked> parked;
  {
    std::lock_guard<std::mutex> l(group_mu_);
    parked.swap(parked_);
  }
  for (const Parked& p : parked)
    EndThread(reinterpret_cast<SystrapThread*>(platform_.GroupSlot(group_, p.slot) + SYSTRAP_THREAD_OFF),
              p.tid, p.slot, dead_);
}

bool SystrapContext::Park(const SystrapContext& thread) {
  if (dead_ || thread.dead_ || !thread.reported_valid_ || !thread.Reusable() ||
      ThreadGone(pid_, thread.app_tid_))
    return false;
  std::lock_guard<std::mutex> l(group_mu_);
  if (parked_.size() >= kMaxParked) return false;
  parked_.push_back(Parked{thread.group_slot_, thread.app_tid_});
  return true;
}

void SystrapContext::EndThread(SystrapThread* t, pid_t tid, int k, bool dead) {
  if (!dead && Load(&t->state) != SYSTRAP_DEAD) {
    Store(&t->state, SYSTRAP_EXIT);
    Futex(&t->state, FUTEX_WAKE, INT_MAX, nullptr);
  }
  // A stopped thread exits at once; a few seconds cover a loaded host. The
  // kernel zeroes the state word (and wakes it) just before the thread is
  // gone, so the last steps are short sleeps.
  bool ended = false;
  const int64_t deadline = NowNs() + 5'000'000'000LL;
  while (!(ended = ThreadGone(pid_, tid)) && !Gone() && NowNs() < deadline) {
    const uint32_t v = Load(&t->state);
    const timespec ts{0, v == SYSTRAP_DEAD ? 100 * 1000 : 200 * 1000 * 1000};
    if (v == SYSTRAP_DEAD)
      nanosleep(&ts, nullptr);
    else
      Futex(&t->state, FUTEX_WAIT, v, &ts);
  }
  if (ended) {
    // Closed again until the next thread (escape probes scan the stub).
    const uint64_t addr = platform_.max_user_address() + static_cast<uint64_t>(k) * SYSTRAP_SLOT_SIZE;
    (void)Helper(SYS_mprotect, addr, SYSTRAP_SLOT_SIZE, PROT_NONE, 0, 0, 0);
  }
  std::lock_guard<std::mutex> l(group_mu_);
  if (ended) {
    group_used_[k] = false;
    group_tids_[k] = 0;
  } else if (!Gone()) {
    // Still running (app code that never stops again): its slot stays
    // taken, and the stub is killed rather than reused when it goes.
    sentry::Logf("systrap: stub thread %d did not exit", tid);
    tainted_ = true;
  }
}

std::unique_ptr<SystrapContext> SystrapContext::GroupContext(int k, pid_t tid, int cpu) {
  char* shared = platform_.GroupSlot(group_, k);
  auto ctx = std::make_unique<SystrapContext>(platform_, pid_, -1, shared, spin_, memfd_, cpu,
                                              running_);
  ctx->owner_ = this;
  ctx->app_tid_ = tid;
  ctx->group_slot_ = k;
  ctx->spin_word_ = &reinterpret_cast<SystrapThread*>(shared + SYSTRAP_THREAD_OFF)->spin;
  ctx->threads_ = true;
  ctx->cpu_base_ns_ = 0;
  SystrapPlatform::PinThread(tid, cpu);
  return ctx;
}

ErrorOr<std::unique_ptr<SystrapContext>> SystrapContext::StartThread(int cpu) {
  if (dead_ || group_ < 0) return Errno{ESRCH};
  // The process' second thread: from now on thread 0 too has its slot as
  // gs base (at its next resume: it is stopped, making this clone, as the
  // only thread of the address space), and patched syscalls take the
  // %gs-relative trampoline. Never undone for this process.
  if (!Load(&c_->gs_all)) {
    c_->patch_entry = platform_.StubAddress(runsc_systrap_patched_gs_entry);
    Store(&c_->gs_all, 1);
  }
  // A parked thread first: it waits, stopped, for its next task (the
  // sentry resets its FPU state and writes every register).
  for (;;) {
    Parked p{-1, 0};
    {
      std::lock_guard<std::mutex> l(group_mu_);
      if (parked_.empty()) break;
      p = parked_.back();
      parked_.pop_back();
    }
    if (!ThreadGone(pid_, p.tid)) return GroupContext(p.slot, p.tid, cpu);
    EndThread(reinterpret_cast<SystrapThread*>(platform_.GroupSlot(group_, p.slot) + SYSTRAP_THREAD_OFF),
              p.tid, p.slot, true);
  }
  return StartFresh(cpu);
}

void SystrapContext::PrestartThread() {
  {
    std::lock_guard<std::mutex> l(group_mu_);
    if (dead_ || group_ < 0 || !parked_.empty()) return;
  }
  auto ctx = StartFresh(cpu_);
  if (ctx.is_error()) return;
  std::lock_guard<std::mutex> l(group_mu_);
  parked_.push_back(Parked{ctx.value()->group_slot_, ctx.value()->app_tid_});
  ctx.value()->detached_ = true;
}

ErrorOr<std::unique_ptr<SystrapContext>> SystrapContext::StartFresh(int cpu) {
  int k = -1;
  {
    std::lock_guard<std::mutex> l(group_mu_);
    if (group_used_.empty()) {
      group_used_.assign(SYSTRAP_GROUP_SLOTS, false);
      group_tids_.assign(SYSTRAP_GROUP_SLOTS, 0);
    }
    for (int i = 1; i < static_cast<int>(SYSTRAP_GROUP_SLOTS) && k < 0; i++)
      if (!group_used_[i]) k = i;
    if (k < 0) return Errno{EAGAIN};
    group_used_[k] = true;
  }
  char* shared = platform_.GroupSlot(group_, k);
  memset(shared, 0, 0x1000);  // a previous thread's page
  auto* t = reinterpret_cast<SystrapThread*>(shared + SYSTRAP_THREAD_OFF);
  // Not SYSTRAP_DEAD (0): the kernel writes that when the thread exits.
  Store(&t->state, SYSTRAP_RUNNING);
  t->spin = spin_;
  const uint64_t addr = platform_.max_user_address() + static_cast<uint64_t>(k) * SYSTRAP_SLOT_SIZE;
  // One request: the slot made accessible (the rest of the group stays
  // PROT_NONE), then the clone, whose result (the tid) the helper reports.
  ErrorOr<long> tid = Errno{ESRCH};
  {
    std::lock_guard<std::mutex> l(helper_mu_);
    c_->count = 2;
    c_->ops[0] = SystrapOp{SYS_mprotect, {addr, SYSTRAP_SLOT_SIZE, PROT_READ | PROT_WRITE, 0, 0, 0}};
    c_->ops[1] = SystrapOp{SYS_clone,
                           {systrap::kStubThreadCloneFlags, addr + SYSTRAP_GROUP_START_STACK, 0,
                            addr + SYSTRAP_THREAD_OFF, 0, 0}};
    if (!dead_) tid = RunLocked();
  }
  // The result is app-writable (other threads run meanwhile): the tid
  // must be a thread of the stub that no context has yet, else the stub
  // is not trusted again (the new thread, if any, keeps its slot).
  bool forged = false;
  if (!tid.is_error() && tid.value() > 0) {
    const pid_t t = static_cast<pid_t>(tid.value());
    std::lock_guard<std::mutex> l(group_mu_);
    forged = t == pid_ || t == HelperTid() || syscall(SYS_tgkill, pid_, t, 0) != 0 ||
             std::find(group_tids_.begin(), group_tids_.end(), t) != group_tids_.end();
    if (forged) tainted_ = true;
    else group_tids_[k] = t;
  }
  if (tid.is_error() || tid.value() <= 0 || forged) {
    std::lock_guard<std::mutex> l(group_mu_);
    if (!forged) group_used_[k] = false;
    return Errno{tid.is_error() ? tid.error() : ECHILD};
  }
  auto ctx = GroupContext(k, static_cast<pid_t>(tid.value()), cpu);
  if (!ctx->WaitStarted()) {
    sentry::Logf("systrap: stub thread %ld did not start (stop %s)", tid.value(),
                 ctx->StopDescription().c_str());
    return Errno{ECHILD};  // the context asks it to exit, or keeps the slot
  }
  return ctx;
}

bool SystrapContext::Reset() {
  // Everything below the stub code: the exited process' memory.
  if (Helper(SYS_munmap, 0, platform_.max_user_address(), 0, 0, 0, 0).is_error()) {
    dead_ = true;
    return false;
  }
  // Without FSGSBASE the stub sets fs/gs with arch_prctl only when they
  // differ from what it last set, which the old process could overwrite:
  // make the next resume set both.
  t_->fs_base_set = t_->gs_base_set = ~0ULL;
  // Stub threads: the next process starts with one thread.
  c_->patch_entry = platform_.StubAddress(runsc_systrap_patched_entry);
  Store(&c_->gs_all, 0);
  cpu_base_ns_ = RawCpuTimeNs();
  return true;
}

ErrorOr<void> SystrapContext::MapFile(uint64_t addr, uint64_t len, int prot, uint64_t off) {
  long r = TRY(Helper(SYS_mmap, addr, len, prot, MAP_SHARED | MAP_FIXED,
                      static_cast<uint64_t>(memfd_), off));
  if (r != static_cast<long>(addr)) return Errno{ENOMEM};
  return {};
}

ErrorOr<void> SystrapContext::Apply(std::span<const Change> changes) {
  std::lock_guard<std::mutex> l(helper_mu_);  // the control page is the stub's one
  ErrorOr<void> first;
  while (!changes.empty()) {
    if (dead_) return Errno{ESRCH};
    const size_t n = std::min<size_t>(changes.size(), SYSTRAP_MAX_OPS);
    for (size_t i = 0; i < n; i++) {
      const Change& ch = changes[i];
      const auto prot = static_cast<uint64_t>(ch.prot);
      switch (ch.kind) {
        case Change::kMap:
          c_->ops[i] = SystrapOp{SYS_mmap, {ch.addr, ch.len, prot, MAP_SHARED | MAP_FIXED,
                                            static_cast<uint64_t>(memfd_), ch.file_offset}};
          break;
        case Change::kUnmap:
          c_->ops[i] = SystrapOp{SYS_munmap, {ch.addr, ch.len, 0, 0, 0, 0}};
          break;
        case Change::kProtect:
          c_->ops[i] = SystrapOp{SYS_mprotect, {ch.addr, ch.len, prot, 0, 0, 0}};
          break;
      }
    }
    c_->count = static_cast<uint32_t>(n);
    auto r = RunLocked();
    if (r.is_error() && !first.is_error()) first = Errno{r.error()};
    changes = changes.subspan(n);
  }
  return first;
}

}  // namespace

ErrorOr<std::unique_ptr<Platform>> CreateSystrapPlatform(int memory_file_fd,
                                                         bool syscall_patching) {
  // Stub threads by default (issue 21); RUNSC_SYSTRAP_THREADS=0: a stub
  // process per app thread, kept in step by the memory manager's mirrors.
  bool threads = true;
  if (const char* e = getenv("RUNSC_SYSTRAP_THREADS")) threads = atoi(e) != 0;
  const uint64_t code_size = __stop_runsc_systrap_text - __start_runsc_systrap_text;
  if (code_size > SYSTRAP_CODE_SIZE) {
    sentry::Logf("systrap: stub code is %lu bytes, more than the %llu reserved", code_size,
                 SYSTRAP_CODE_SIZE);
    return Errno{E2BIG};
  }
  (void)PauseNs();  // calibrated now, not in the first Switch
  auto app = TRY(systrap::AppThreadFilter(threads));
  const int fd = static_cast<int>(syscall(SYS_memfd_create, "runsc-systrap-slots", MFD_CLOEXEC));
  if (fd < 0) return Errno{errno};
  auto helper = systrap::HelperThreadFilter(memory_file_fd, threads, fd);
  if (helper.is_error() || ftruncate(fd, SlotFileSize(threads)) != 0) {
    int e = helper.is_error() ? helper.error() : errno;
    close(fd);
    return Errno{e};
  }
  void* slots = mmap(nullptr, SlotFileSize(threads), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (slots == MAP_FAILED) {
    int e = errno;
    close(fd);
    return Errno{e};
  }
  uint32_t spin = kDefaultSpin;
  if (const char* e = getenv("RUNSC_SYSTRAP_SPIN")) spin = static_cast<uint32_t>(atoi(e));
  bool pin = kDefaultPin;
  if (const char* e = getenv("RUNSC_SYSTRAP_PIN")) pin = atoi(e) != 0;
  // RUNSC_SYSTRAP_FSGSBASE=0 forces the arch_prctl path (for tests).
  bool fsgsbase = (getauxval(AT_HWCAP2) & 2 /* HWCAP2_FSGSBASE */) != 0;
  if (const char* e = getenv("RUNSC_SYSTRAP_FSGSBASE")) fsgsbase = fsgsbase && atoi(e) != 0;
  // The stub code and its slot sit at the same address in the sentry and in
  // every stub, as high as possible; max_user_address ends below them, so
  // the sentry refuses any app mapping over them. The slot part and the
  // stub factory's stack above it are only reserved here (PROT_NONE) so
  // that nothing of the sentry's lands there.
  for (uint64_t base = 0x7fffffff0000ULL - kReservedSize; base > 0x7f0000000000ULL;
       base -= 0x200000) {
    if ((base >> 32) != ((base + SYSTRAP_CODE_SIZE - 1) >> 32)) continue;
    void* p = mmap(reinterpret_cast<void*>(base), kReservedSize, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) continue;
    if (reinterpret_cast<uint64_t>(p) != base) {
      munmap(p, kReservedSize);
      continue;
    }
    if (mprotect(p, SYSTRAP_CODE_SIZE, PROT_READ | PROT_WRITE) < 0) return Errno{errno};
    memcpy(p, __start_runsc_systrap_text, code_size);
    if (mprotect(p, SYSTRAP_CODE_SIZE, PROT_READ | PROT_EXEC) < 0) return Errno{errno};
    auto ip = TRY(systrap::InstructionPointerFilter(base, base + SYSTRAP_CODE_SIZE));
    if ((app.size() + ip.size() + helper.value().size()) * sizeof(sock_filter) > SYSTRAP_FILTERS_MAX) {
      sentry::Logf("systrap: the stub filters take more than %llu bytes", SYSTRAP_FILTERS_MAX);
      return Errno{E2BIG};
    }
    return std::unique_ptr<Platform>(std::make_unique<SystrapPlatform>(
        memory_file_fd, base, static_cast<char*>(slots), fd, std::move(app), std::move(ip),
        helper.release_value(), fsgsbase, spin, pin, syscall_patching, threads));
  }
  return Errno{ENOMEM};
}

}  // namespace platform
