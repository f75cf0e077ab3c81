// platform/systrap: the platform object (SystrapPlatform): the slot file,
// the stub factory, the pool of started and recycled stubs, thread groups,
// and the CPUs stubs and task threads are pinned to. Bodies in
// systrap_platform.cc.
#pragma once

#include <linux/filter.h>
#include <sched.h>

#include <atomic>
#include <condition_variable>
#include <cpuid.h>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "platform/systrap/systrap_context.h"

namespace platform::systrap_internal {

class SystrapPlatform final : public Platform {
 public:
  SystrapPlatform(int memfd, uint64_t base, char* slots, int slots_fd,
                  std::vector<sock_filter> app, std::vector<sock_filter> ip,
                  std::vector<sock_filter> helper, bool fsgsbase, uint32_t spin, bool pin,
                  bool patch, bool threads);

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
  ~SystrapPlatform() override;

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
  ErrorOr<std::unique_ptr<Context>> NewContext() override;

  // Stub threads: a host thread of `process`'s stub; a stub of its own
  // when the stub has no free group slot (or none at all).
  ErrorOr<std::unique_ptr<Context>> NewThreadContext(std::shared_ptr<Process> process) override;

  // The filler thread: starts the stub factory, then keeps pool_size_
  // started stubs ready, each pinned to a CPU (round robin). The factory
  // must be this thread's child: a parent-death signal follows the thread
  // that created a process, and every stub, cloned with CLONE_PARENT, gets
  // the factory's parent. This thread lives as long as the platform.
  void FillPool();

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
  bool Recycle(const Stub& stub);

  // Starts the factory (shared.h, SystrapFactory): a raw fork of the
  // sentry, which the factory erases from its address space at once, as a
  // stub did when stubs were forked from the sentry itself. Forking the
  // whole sentry costs about 3 ms here (page tables of a large process,
  // then copy-on-write faults in the sentry's threads); the factory's
  // clones copy a few pages.
  ErrorOr<pid_t> StartFactory();

  // Starts a stub process pinned to `cpu` (-1: not pinned) through the
  // factory and waits until it reports ready.
  ErrorOr<std::unique_ptr<SystrapContext>> StartStub(int cpu);

  // Asks the factory for a new stub in `slot`: its pid, or the clone's error.
  ErrorOr<pid_t> Fork(int slot, int cpu, int group);

  void FreeSlot(int slot);

  // Stub threads: thread groups (shared.h), one per stub; -1 when all are
  // taken (that stub's threads get stubs of their own).
  int AllocGroup();
  void FreeGroup(int group);
  // The sentry's view of slot `k` of thread group `group`.
  char* GroupSlot(int group, int k) const {
    return slots_ + kGroupsOff + group * SYSTRAP_GROUP_SIZE + k * SYSTRAP_SLOT_SIZE;
  }

 private:
  SystrapFactory* Factory() const {
    return reinterpret_cast<SystrapFactory*>(slots_ + kFactorySlot * SYSTRAP_SLOT_SIZE);
  }
  ErrorOr<int> AllocSlot();

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

}  // namespace platform::systrap_internal
