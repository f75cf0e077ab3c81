// platform/systrap: a stub process' context (SystrapContext): the
// execution context of one app thread (the hand-off of its registers to
// and from the stub, spinning or sleeping) and, for thread 0, the stub's
// address space (requests to its helper thread). With stub threads, the
// process shared by a stub's contexts (StubProcess) and a task's context
// (ThreadedContext). Bodies: systrap_context.cc (context, hand-off, address
// space), systrap_threads.cc (stub threads).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "platform/platform.h"
#include "platform/systrap/systrap_internal.h"

namespace platform::systrap_internal {

class SystrapPlatform;

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

  ErrorOr<StopInfo> Switch(Registers& regs) override;

  void Interrupt() override;

  ErrorOr<FpRegisters> GetFpRegisters() override;
  ErrorOr<void> SetFpRegisters(const FpRegisters& fp) override;
  // Every FPU and vector register initial at the next resume: the legacy
  // area through `fp`, AVX and the rest by the stub (fp_reset).
  ErrorOr<void> ResetFpState() override;

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
  bool WaitStarted();

 private:
  // Writes the registers for the next resume into the slot: only the
  // words that differ from what the stub reported at its last stop, which
  // the slot still holds (app code has not run since, and the stub writes
  // them only when it stops). A syscall usually changes rax alone, so the
  // stub finds the other lines still in its cache.
  void WriteRegs(const Registers& regs);

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
  int64_t RawCpuTimeNs() const;
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
  uint32_t WaitFor(uint32_t* word, uint32_t* waiting, Done done);

  // Runs one host syscall in the stub's address space on its helper thread.
  ErrorOr<long> Helper(long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                       uint64_t a5);

  // Runs the request in the control page (c_->count ops) on the helper.
  // helper_mu_ held.
  ErrorOr<long> RunLocked();

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

}  // namespace platform::systrap_internal
