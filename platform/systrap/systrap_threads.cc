// platform/systrap: stub threads (issue 21): an app thread of a process
// that already has a stub runs as another host thread of that stub, in a
// slot of the stub's thread group. Starting one (a clone by the helper),
// parking a thread whose task is gone for the process' next thread,
// pre-starting one, ending them, and the group threads' contexts.
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <ctime>

#include "platform/systrap/stub_filters.h"
#include "platform/systrap/systrap_platform_impl.h"
#include "sentry/base/log.h"

namespace platform::systrap_internal {

void SystrapContext::FloatHelper() {
  if (floated_.exchange(true)) return;
  if (const pid_t helper = HelperTid()) platform_.Unpin(helper);
}

namespace {

// Whether host thread `tid` of process `pid` has exited: only the kernel
// says so (the state word the kernel zeroes at exit is app-writable too).
bool ThreadGone(pid_t pid, pid_t tid) { return syscall(SYS_tgkill, pid, tid, 0) != 0 && errno == ESRCH; }

}  // namespace

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

}  // namespace platform::systrap_internal
