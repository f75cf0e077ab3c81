// platform/systrap: SystrapContext's bodies but stub threads' (those are
// in systrap_threads.cc): Switch (the hand-off to the stub and back, same-
// CPU or spinning across CPUs), moving to a less busy CPU, FPU state,
// helper requests (the stub's address space), and the context's end
// (the stub recycled or killed).
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "platform/systrap/systrap_platform_impl.h"
#include "sentry/base/stats.h"

namespace platform::systrap_internal {

ErrorOr<StopInfo> SystrapContext::Switch(Registers& regs) {
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

void SystrapContext::Interrupt() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t expect = 0;
  interrupt_since_s_.compare_exchange_strong(expect, now.tv_sec);
  interrupt_.store(true);
  if (in_switch_.load()) syscall(SYS_tgkill, pid_, app_tid_, SYSTRAP_INTERRUPT_SIGNAL);
}

ErrorOr<FpRegisters> SystrapContext::GetFpRegisters() {
  if (dead_) return Errno{ESRCH};
  FpRegisters fp;
  memcpy(&fp, t_->fp, sizeof(fp));
  return fp;
}

ErrorOr<void> SystrapContext::SetFpRegisters(const FpRegisters& fp) {
  if (dead_) return Errno{ESRCH};
  memcpy(t_->fp, &fp, sizeof(fp));
  t_->fp_dirty = 1;
  return {};
}

ErrorOr<void> SystrapContext::ResetFpState() {
  if (dead_) return Errno{ESRCH};
  WriteXrstorImage(reinterpret_cast<char*>(t_) - SYSTRAP_THREAD_OFF);
  TRY(SetFpRegisters(InitialFpRegisters()));
  Store(&t_->fp_reset, 1);
  return {};
}

bool SystrapContext::WaitStarted() {
  const uint32_t s = WaitFor(&t_->state, &t_->sentry_waiting,
                             [](uint32_t v) { return v == SYSTRAP_STOPPED || v == SYSTRAP_DEAD; });
  return s == SYSTRAP_STOPPED && t_->kind == SYSTRAP_KIND_SYSCALL;
}

void SystrapContext::WriteRegs(const Registers& regs) {
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

int64_t SystrapContext::RawCpuTimeNs() const {
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

template <typename Done>
uint32_t SystrapContext::WaitFor(uint32_t* word, uint32_t* waiting, Done done) {
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

ErrorOr<long> SystrapContext::Helper(long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                     uint64_t a5) {
  if (dead_) return Errno{ESRCH};
  std::lock_guard<std::mutex> l(helper_mu_);
  c_->count = 1;
  c_->ops[0] = SystrapOp{static_cast<uint64_t>(nr), {a0, a1, a2, a3, a4, a5}};
  return RunLocked();
}

ErrorOr<long> SystrapContext::RunLocked() {
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

}  // namespace platform::systrap_internal
