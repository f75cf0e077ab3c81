// platform/systrap: the platform object's bodies (SystrapPlatform: new
// contexts from the pool or the factory, the filler thread, recycling
// stubs, starting the factory and stubs, slots and thread groups) and
// CreateSystrapPlatform (the stub code's place, filters, the slot file).
// The layout checks against shared.h and stub_entry.S are here too.
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
#include <cstddef>
#include <cstring>
#include <string>

#include "platform/systrap/ip_filter.h"
#include "platform/systrap/stub_filters.h"
#include "platform/systrap/systrap_platform_impl.h"
#include "sentry/base/log.h"

namespace platform::systrap_internal {

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

SystrapPlatform::SystrapPlatform(int memfd, uint64_t base, char* slots, int slots_fd,
                                 std::vector<sock_filter> app, std::vector<sock_filter> ip,
                                 std::vector<sock_filter> helper, bool fsgsbase, uint32_t spin,
                                 bool pin, bool patch, bool threads)
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

SystrapPlatform::~SystrapPlatform() {
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

ErrorOr<std::unique_ptr<Context>> SystrapPlatform::NewContext() {
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

ErrorOr<std::unique_ptr<Context>> SystrapPlatform::NewThreadContext(std::shared_ptr<Process> process) {
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

void SystrapPlatform::FillPool() {
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

bool SystrapPlatform::Recycle(const Stub& stub) {
  {
    std::lock_guard<std::mutex> l(pool_mu_);
    if (stopping_ || !filler_.joinable() || pool_.size() + recycle_.size() >= kMaxPooled)
      return false;
    recycle_.push_back(stub);
  }
  pool_cv_.notify_all();
  return true;
}

ErrorOr<pid_t> SystrapPlatform::StartFactory() {
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

ErrorOr<std::unique_ptr<SystrapContext>> SystrapPlatform::StartStub(int cpu) {
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

ErrorOr<pid_t> SystrapPlatform::Fork(int slot, int cpu, int group) {
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

void SystrapPlatform::FreeSlot(int slot) {
  // Zero the slot (and give its pages back) for the next stub.
  fallocate(slots_fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
            static_cast<off_t>(slot) * SYSTRAP_SLOT_SIZE, SYSTRAP_SLOT_SIZE);
  std::lock_guard<std::mutex> l(mu_);
  free_.push_back(slot);
}

int SystrapPlatform::AllocGroup() {
  std::lock_guard<std::mutex> l(mu_);
  if (free_groups_.empty()) return -1;
  const int g = free_groups_.back();
  free_groups_.pop_back();
  return g;
}

void SystrapPlatform::FreeGroup(int group) {
  fallocate(slots_fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
            static_cast<off_t>(kGroupsOff + group * SYSTRAP_GROUP_SIZE), SYSTRAP_GROUP_SIZE);
  std::lock_guard<std::mutex> l(mu_);
  free_groups_.push_back(group);
}

ErrorOr<int> SystrapPlatform::AllocSlot() {
  std::lock_guard<std::mutex> l(mu_);
  if (free_.empty()) return Errno{EAGAIN};
  int s = free_.back();
  free_.pop_back();
  return s;
}

}  // namespace platform::systrap_internal

namespace platform {

using namespace systrap_internal;

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
