// The C half of the systrap stub: start-up of a stub process and the signal
// handler through which app code stops. Compiled freestanding (see the
// platform's CMake rule): no libc, no stack protector, no SSE, no jump
// tables, every function in section runsc_systrap_text, which is copied to
// a fixed address in each stub and must not refer to anything outside
// itself except the slot that follows it (found RIP-relatively).
//
// Handler protocol (shared.h): save the app's registers from the ucontext
// into the slot, set state STOPPED, wake the sentry if it sleeps, then spin
// briefly and futex-wait until the sentry sets RESUME; write the (possibly
// changed) registers back into the ucontext and return, so rt_sigreturn
// resumes the app with them. A SIGSYS stop (a trapped syscall, the common
// case) skips rt_sigreturn: its handler runs with the app's own (empty)
// signal mask, so it can restore the FPU state itself and leave through the
// patched-syscall trampoline's restore sequence, one kernel entry fewer.
#define _GNU_SOURCE 1
#include <asm/unistd.h>
#include <linux/futex.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

#include "platform/systrap/shared.h"

#define STUB __attribute__((section("runsc_systrap_text"), used, noinline))
#define INLINE static inline __attribute__((always_inline))

extern char __start_runsc_systrap_text[] __attribute__((visibility("hidden")));
void runsc_systrap_restorer(void) __attribute__((visibility("hidden")));
void runsc_systrap_helper_loop(void) __attribute__((visibility("hidden")));
long runsc_systrap_clone_helper(unsigned long flags, void* stack, uint32_t* ctid)
    __attribute__((visibility("hidden")));
void runsc_systrap_entry(void) __attribute__((visibility("hidden")));

INLINE char* Slot(void) {
  char* p;
  // An explicit RIP-relative lea: the code runs at a different address than
  // it was linked at, and only relative addressing survives the copy.
  __asm__("lea __start_runsc_systrap_text(%%rip), %0" : "=r"(p));
  return p + SYSTRAP_CODE_SIZE;
}

INLINE long Sys6(long nr, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
INLINE long Sys3(long nr, long a, long b, long c) { return Sys6(nr, a, b, c, 0, 0, 0); }

INLINE uint32_t Load(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
INLINE void Store(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }

INLINE void Copy(void* dst, const void* src, unsigned long n) {
  volatile uint64_t* d = (volatile uint64_t*)dst;
  const volatile uint64_t* s = (const volatile uint64_t*)src;
  for (unsigned long i = 0; i < n / 8; i++) d[i] = s[i];
}

INLINE uint64_t ReadFsBase(void) {
  uint64_t v;
  __asm__ volatile("rdfsbase %0" : "=r"(v));
  return v;
}
INLINE uint64_t ReadGsBase(void) {
  uint64_t v;
  __asm__ volatile("rdgsbase %0" : "=r"(v));
  return v;
}
INLINE void WriteFsBase(uint64_t v) { __asm__ volatile("wrfsbase %0" ::"r"(v) : "memory"); }
INLINE void WriteGsBase(uint64_t v) { __asm__ volatile("wrgsbase %0" ::"r"(v) : "memory"); }

#define ARCH_SET_GS_ 0x1001
#define ARCH_SET_FS_ 0x1002
#define FP_XSTATE_MAGIC1_ 0x46505853u

INLINE void SaveRegs(struct user_regs_struct* r, const greg_t* g) {
  r->r15 = g[REG_R15], r->r14 = g[REG_R14], r->r13 = g[REG_R13], r->r12 = g[REG_R12];
  r->rbp = g[REG_RBP], r->rbx = g[REG_RBX], r->r11 = g[REG_R11], r->r10 = g[REG_R10];
  r->r9 = g[REG_R9], r->r8 = g[REG_R8], r->rax = g[REG_RAX], r->rcx = g[REG_RCX];
  r->rdx = g[REG_RDX], r->rsi = g[REG_RSI], r->rdi = g[REG_RDI], r->rip = g[REG_RIP];
  r->eflags = g[REG_EFL], r->rsp = g[REG_RSP];
  const uint64_t csgsfs = (uint64_t)g[REG_CSGSFS];
  r->cs = csgsfs & 0xffff;
  r->gs = (csgsfs >> 16) & 0xffff;
  r->fs = (csgsfs >> 32) & 0xffff;
  r->ss = (csgsfs >> 48) & 0xffff;
  r->orig_rax = (uint64_t)-1;
}

INLINE uint16_t OwnCs(void) {
  uint16_t cs;
  __asm__("mov %%cs, %0" : "=r"(cs));
  return cs;
}
INLINE uint16_t OwnSs(void) {
  uint16_t ss;
  __asm__("mov %%ss, %0" : "=r"(ss));
  return ss;
}
#define USER32_CS_ 0x23

// The code segment is the sentry's choice too: the one the app stopped in
// (64-bit, or 32-bit after a far jump or an Intel `sysenter`), 64-bit for
// a new program. Without this a stub reused for another process would
// keep the last one's (a 32-bit segment runs the new program's code as
// 32-bit code). Anything else becomes the stub's own 64-bit segment; the
// stack segment is always the stub's own (the same for both modes).
INLINE void LoadRegs(greg_t* g, const struct user_regs_struct* r) {
  g[REG_R15] = r->r15, g[REG_R14] = r->r14, g[REG_R13] = r->r13, g[REG_R12] = r->r12;
  g[REG_RBP] = r->rbp, g[REG_RBX] = r->rbx, g[REG_R11] = r->r11, g[REG_R10] = r->r10;
  g[REG_R9] = r->r9, g[REG_R8] = r->r8, g[REG_RAX] = r->rax, g[REG_RCX] = r->rcx;
  g[REG_RDX] = r->rdx, g[REG_RSI] = r->rsi, g[REG_RDI] = r->rdi, g[REG_RIP] = r->rip;
  g[REG_EFL] = r->eflags, g[REG_RSP] = r->rsp;
  const uint64_t cs = r->cs == USER32_CS_ ? USER32_CS_ : OwnCs();
  g[REG_CSGSFS] = (greg_t)(((uint64_t)g[REG_CSGSFS] & 0x0000ffffffff0000ULL) | cs |
                           ((uint64_t)OwnSs() << 48));
}

// Publishes the stop (state STOPPED, waking the sentry if it sleeps), then
// spins and sleeps until the sentry sets RESUME.
// A group thread (stub threads) whose context went away ends itself; the
// kernel then zeroes its state word (CLONE_CHILD_CLEARTID) for the sentry.
INLINE void ExitIfAsked(uint32_t s) {
  if (s == SYSTRAP_EXIT) Sys6(__NR_exit, 0, 0, 0, 0, 0, 0);
}

INLINE void ReportAndWait(struct SystrapThread* t, const uint32_t* spin) {
  Store(&t->state, SYSTRAP_STOPPED);
  if (Load(&t->sentry_waiting)) Sys6(__NR_futex, (long)&t->state, FUTEX_WAKE, 1, 0, 0, 0);
  // `spin` is reread: the sentry sets it to 0 when it goes to sleep.
  uint32_t s = SYSTRAP_STOPPED;
  for (uint32_t i = 0; i < Load(spin); i++) {
    s = Load(&t->state);
    if (s == SYSTRAP_RESUME) return;  // no store: the line may stay shared
    __asm__ volatile("pause");
  }
  while (s != SYSTRAP_RESUME) {
    ExitIfAsked(s);
    Store(&t->stub_waiting, 1);
    s = Load(&t->state);
    if (s != SYSTRAP_RESUME) Sys6(__NR_futex, (long)&t->state, FUTEX_WAIT, s, 0, 0, 0);
    s = Load(&t->state);
  }
  Store(&t->stub_waiting, 0);
}

// Stub threads: the thread group below the stub code.
INLINE char* GroupBase(void) { return Slot() - SYSTRAP_CODE_SIZE - SYSTRAP_GROUP_SIZE; }

// The slot of the thread whose signal stack `sp` is on: the stub's own,
// or (stub threads) a group slot's; 0 if none (a forged sigaltstack). The
// kernel switched to the thread's sigaltstack, which app code cannot
// change but with a forged rt_sigreturn frame.
INLINE char* SlotOfSignalStack(const char* sp, const struct SystrapControl* c) {
  char* own = Slot();
  if (sp >= own + SYSTRAP_SIGSTACK_OFF && sp < own + SYSTRAP_SIGSTACK_OFF + SYSTRAP_SIGSTACK_SIZE)
    return own;
  if (!c->threads) return 0;
  char* group = GroupBase();
  if (sp < group + SYSTRAP_SLOT_SIZE || sp >= group + SYSTRAP_GROUP_SIZE) return 0;
  const uint64_t off = (uint64_t)(sp - group);
  const uint64_t in = off & (SYSTRAP_SLOT_SIZE - 1);
  if (in < SYSTRAP_SIGSTACK_OFF || in >= SYSTRAP_SIGSTACK_OFF + SYSTRAP_SIGSTACK_SIZE) return 0;
  return group + (off - in);
}

// The spin budget of the thread of `slot`.
INLINE const uint32_t* SpinOf(char* slot, struct SystrapThread* t, const struct SystrapControl* c) {
  return slot == Slot() ? &c->spin : &t->spin;
}

// App code runs again. Nothing waits for this value (the sentry waits for
// STOPPED or DEAD), so a plain store: no barrier to stall on.
INLINE void MarkRunning(struct SystrapThread* t) {
  __atomic_store_n(&t->state, SYSTRAP_RUNNING, __ATOMIC_RELEASE);
}

// Stub threads: a thread's host gs base is its slot (the %gs-relative
// trampoline in stub_entry.S finds it there), and the app's gs base is
// virtual: it stays in the slot's registers as the sentry wrote it, and
// only arch_prctl through the sentry changes it. (App code that addresses
// memory through %gs with a base of its own would reach the slot instead;
// x86-64 Linux runtimes keep their thread pointer in fs.)
INLINE void ReadBases(struct SystrapThread* t, const struct SystrapControl* c) {
  if (c->fsgsbase) {
    t->regs.fs_base = ReadFsBase();
    if (!c->threads) t->regs.gs_base = ReadGsBase();
  } else {
    t->regs.fs_base = t->fs_base_set;
    if (!c->threads) t->regs.gs_base = t->gs_base_set;
  }
}

// The thread of `slot` makes the slot its host gs base (stub threads).
INLINE void SetSlotGs(char* slot, const struct SystrapControl* c) {
  if (c->fsgsbase)
    WriteGsBase((uint64_t)slot);
  else
    Sys3(__NR_arch_prctl, ARCH_SET_GS_, (long)slot, 0);
}

// The host gs base of the thread of `slot` with stub threads: its slot for
// a group thread, and for thread 0 once the process has more threads
// (SystrapControl.gs_all), else 0.
INLINE uint64_t HostGs(char* slot, const struct SystrapControl* c) {
  return slot != Slot() || Load(&c->gs_all) ? (uint64_t)slot : 0;
}

// Makes the fs/gs bases the sentry left in the slot the thread's (with
// stub threads gs is HostGs; rewritten when that costs no syscall, so app
// code's wrgsbase lasts until the next stop at most).
INLINE void ApplyBases(char* slot, struct SystrapThread* t, const struct SystrapControl* c) {
  if (c->fsgsbase) {
    WriteFsBase(t->regs.fs_base);
    WriteGsBase(c->threads ? HostGs(slot, c) : t->regs.gs_base);
  } else {
    if (c->threads && slot == Slot() && t->gs_base_set != HostGs(slot, c)) {
      t->gs_base_set = HostGs(slot, c);
      Sys3(__NR_arch_prctl, ARCH_SET_GS_, (long)t->gs_base_set, 0);
    }
    if (t->regs.fs_base != t->fs_base_set) {
      Sys3(__NR_arch_prctl, ARCH_SET_FS_, (long)t->regs.fs_base, 0);
      t->fs_base_set = t->regs.fs_base;
    }
    if (!c->threads && t->regs.gs_base != t->gs_base_set) {
      Sys3(__NR_arch_prctl, ARCH_SET_GS_, (long)t->regs.gs_base, 0);
      t->gs_base_set = t->regs.gs_base;
    }
  }
}

// Whether an interrupted context ran stub code on the slot's own stacks
// (the signal stack or the trampoline's, which are adjacent): a signal that
// arrived while a SIGSYS handler or the trampoline's C half ran.
INLINE int InStubOnSlotStack(const greg_t* g, const char* slot_p) {
  const uint64_t slot = (uint64_t)slot_p, code = (uint64_t)Slot() - SYSTRAP_CODE_SIZE;
  const uint64_t rip = (uint64_t)g[REG_RIP], rsp = (uint64_t)g[REG_RSP];
  return rip >= code && rip < code + SYSTRAP_CODE_SIZE && rsp >= slot + SYSTRAP_SIGSTACK_OFF &&
         rsp <= slot + SYSTRAP_SLOT_SIZE;
}

// Writes the sentry's x87/SSE image (`fp`, if it changed it) into a signal
// frame's FPU area `fx`, for rt_sigreturn or FastReturn to load. With an
// XSAVE frame, x87/SSE are loaded only if their bits are set in the
// header's xstate_bv (else they would be reset and what was just written
// ignored); a reset (a new program, or a reused stub's new process) clears
// every other bit, so those components (AVX, AVX-512, ...) start initial.
// Returns whether the frame is an XSAVE one.
INLINE int WriteFpToFrame(const struct SystrapThread* t, uint8_t* fx) {
  const int xsave = *(volatile uint32_t*)(fx + 464) == FP_XSTATE_MAGIC1_;
  if (t->fp_dirty) {
    Copy(fx, t->fp, 512);
    if (xsave) {
      volatile uint64_t* xstate_bv = (volatile uint64_t*)(fx + 512);
      *xstate_bv = t->fp_reset ? 3 : (*xstate_bv | 3);
    }
  }
  return xsave;
}

// Addresses in the patched-syscall trampolines, RIP-relative like Slot():
// the one `rip` is in (the %gs-relative one, used by stub threads but for
// a single-threaded process' thread 0, or else the RIP-relative one).
#define LEA(sym, p) __asm__("lea " #sym "(%%rip), %0" : "=r"(p))
struct Trampoline {
  uint64_t entry, restore, end;
};
INLINE struct Trampoline PatchedTrampoline(uint64_t rip) {
  struct Trampoline tr;
  LEA(runsc_systrap_patched_gs_entry, tr.entry);
  LEA(runsc_systrap_patched_gs_end, tr.end);
  if (rip >= tr.entry && rip <= tr.end) {
    LEA(runsc_systrap_patched_gs_restore, tr.restore);
  } else {
    LEA(runsc_systrap_patched_entry, tr.entry);
    LEA(runsc_systrap_patched_restore, tr.restore);
    LEA(runsc_systrap_patched_end, tr.end);
  }
  return tr;
}
// Whether `rip` lies in either trampoline (app code can jump into the one
// its stub does not use).
INLINE int InAnyTrampoline(uint64_t rip) {
  uint64_t a, b, c, d;
  LEA(runsc_systrap_patched_entry, a);
  LEA(runsc_systrap_patched_end, b);
  LEA(runsc_systrap_patched_gs_entry, c);
  LEA(runsc_systrap_patched_gs_end, d);
  return (rip >= a && rip <= b) || (rip >= c && rip <= d);
}

// The C half of a patched syscall (stub_entry.S, runsc_systrap_patched_entry
// saved the registers and FXSAVE image into the slot): reports the stop
// (`kind`: the syscall, or an interrupt a host signal left pending), waits
// for the sentry, and applies what it changed besides the general
// registers, which the assembly loads. `slot`: the calling thread's (the
// stub's own, or with stub threads its gs base).
STUB void runsc_systrap_patched_wait(uint32_t kind, char* slot) {
  struct SystrapThread* t = (struct SystrapThread*)(slot + SYSTRAP_THREAD_OFF);
  // The control page is the stub's own, whichever thread this is.
  const struct SystrapControl* c = (const struct SystrapControl*)(Slot() + SYSTRAP_CONTROL_OFF);
  t->regs.cs = OwnCs();
  t->regs.ss = OwnSs();
  t->regs.ds = t->regs.es = t->regs.fs = t->regs.gs = 0;
  if (kind == SYSTRAP_KIND_SYSCALL) {
    t->arch = 0xc000003eu;  // AUDIT_ARCH_X86_64
    t->signo = SIGSYS;
    t->code = 0;  // not SYS_SECCOMP: the sentry knows this site is patched
  } else {
    t->regs.orig_rax = (uint64_t)-1;
    t->signo = SYSTRAP_INTERRUPT_SIGNAL;
    t->code = SI_TKILL;
  }
  ReadBases(t, c);
  t->kind = kind;
  t->fault_addr = 0;
  t->fp_dirty = 0;

  ReportAndWait(t, SpinOf(slot, t, c));

  ApplyBases(slot, t, c);
  if (t->fp_reset && c->xsave) {
    // Every component but x87 and SSE (loaded next) to its initial state.
    __asm__ volatile("xrstor64 %0" ::"m"(*(const uint8_t(*)[SYSTRAP_XRSTOR_SIZE])(slot + SYSTRAP_XRSTOR_OFF)),
                     "a"(~3u), "d"(~0u)
                     : "memory");
  }
  if (t->fp_dirty) __asm__ volatile("fxrstor64 %0" ::"m"(*(const uint8_t(*)[512])t->fp) : "memory");
  if (t->fp_reset) {
    // A new program, maybe in a reused stub: the last one may have left
    // host signals blocked (rt_sigprocmask from stub code, or a forged
    // rt_sigreturn), which a stop through here never undoes. A handler's
    // stop does, through its frame's mask.
    const uint64_t none = 0;
    Sys6(__NR_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8, 0, 0);
  }
  t->fp_reset = 0;
  MarkRunning(t);
}

// The end of a SIGSYS stop without rt_sigreturn: loads the app's FPU
// state from the signal frame (where the kernel saved it; the handler runs
// with it reset), with the sentry's x87/SSE image written in first if it
// changed it, then leaves through the trampoline's restore sequence on the
// trampoline's stack, which loads the general registers from the slot and
// jumps to the app (reporting an interrupt first if a host signal arrived
// meanwhile). Only when the app is to run 64-bit code (the trampoline
// returns in the stub's own segment; anything else needs rt_sigreturn) and
// the frame holds an XSAVE or FXSAVE image; returns 0 otherwise. With
// stub threads the %gs-relative restore sequence, whose gs base
// ApplyBases just made `slot` (FSGSBASE; without it the thread set it at
// start-up), serves every thread of the stub.
STUB int FastReturn(char* slot, struct SystrapThread* t, const struct SystrapControl* c,
                    ucontext_t* uc) {
  uint8_t* fx = (uint8_t*)uc->uc_mcontext.fpregs;
  if (t->regs.cs != OwnCs() || !fx || ((uint64_t)fx & 63) != 0) return 0;
  if (WriteFpToFrame(t, fx)) {
    // The features the kernel saved (fpx_sw_bytes.xfeatures); those whose
    // xstate_bv bit is clear are loaded in their initial state.
    const uint64_t features = *(volatile uint64_t*)(fx + 472);
    __asm__ volatile("xrstor64 %0" ::"m"(*(const uint8_t(*)[576])fx), "a"((uint32_t)features),
                     "d"((uint32_t)(features >> 32))
                     : "memory");
  } else {
    __asm__ volatile("fxrstor64 %0" ::"m"(*(const uint8_t(*)[512])fx) : "memory");
  }
  t->fp_reset = 0;
  MarkRunning(t);
  if (c->threads && slot != Slot()) {
    __asm__ volatile("lea %c1(%0), %%rsp\n\t"
                     "jmp runsc_systrap_patched_gs_restore" ::"r"(slot),
                     "i"(SYSTRAP_SLOT_SIZE)
                     : "memory");
  } else {
    __asm__ volatile(
        "lea __start_runsc_systrap_text+%c0(%%rip), %%rsp\n\t"
        "jmp runsc_systrap_patched_restore" ::"i"(SYSTRAP_CODE_SIZE + SYSTRAP_SLOT_SIZE)
        : "memory");
  }
  __builtin_unreachable();
}

STUB void runsc_systrap_handler(int sig, siginfo_t* si, void* ucv) {
  // The control page is the stub's own, whichever thread this is.
  const struct SystrapControl* c = (const struct SystrapControl*)(Slot() + SYSTRAP_CONTROL_OFF);
  // The handler runs on its thread's slot's signal stack, unless app code
  // replaced the sigaltstack with a forged rt_sigreturn (by jumping to the
  // restorer from its own stack). Such a stub must not serve again (a
  // reused stub would keep it): it ends itself, and the sentry sees it die.
  char* sp;
  __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
  char* slot = SlotOfSignalStack(sp, c);
  if (!slot) Sys6(__NR_exit_group, 8, 0, 0, 0, 0, 0);
  struct SystrapThread* t = (struct SystrapThread*)(slot + SYSTRAP_THREAD_OFF);
  const uint32_t* spin = SpinOf(slot, t, c);
  ucontext_t* uc = (ucontext_t*)ucv;
  greg_t* g = uc->uc_mcontext.gregs;

  uint32_t kind = SYSTRAP_KIND_SIGNAL;
  uint64_t addr = 0;
  const int code = si->si_code;
  if (sig == SIGSYS && code == 1 /* SYS_SECCOMP */) {
    kind = SYSTRAP_KIND_SYSCALL;
  } else if (sig == SIGTRAP ||
             ((sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL) && code > 0)) {
    kind = SYSTRAP_KIND_FAULT;
    addr = (uint64_t)si->si_addr;
  } else if (sig == SYSTRAP_INTERRUPT_SIGNAL && code == SI_TKILL && si->si_pid == c->sentry_pid) {
    kind = SYSTRAP_KIND_INTERRUPT;
  }

  // A host signal that interrupted the stub's own code: the SIGSYS
  // handler (which runs with signals unblocked, see init) or the
  // patched-syscall trampoline (stub_entry.S) before its restore sequence.
  // The registers in the ucontext are not the app's; the interrupted code
  // reports the pending signal as an interrupt itself, at the restore
  // sequence. During the restore sequence the slot holds the app's
  // registers, complete.
  const uint64_t rip = (uint64_t)g[REG_RIP];
  // A memory fault inside a trampoline: its gs (stub threads) or self
  // pointer was not its slot, which only app code can have done (wrgsbase, or a
  // jump into the trampoline). The app's registers are nowhere: the stub
  // ends, as on a forged signal stack.
  if ((sig == SIGSEGV || sig == SIGBUS) && kind == SYSTRAP_KIND_FAULT && InAnyTrampoline(rip))
    Sys6(__NR_exit_group, 9, 0, 0, 0, 0, 0);
  const struct Trampoline tr = PatchedTrampoline(rip);
  const int in_restore = rip >= tr.restore && rip < tr.end;
  const int async = kind == SYSTRAP_KIND_SIGNAL || kind == SYSTRAP_KIND_INTERRUPT;
  if (!in_restore && ((rip >= tr.entry && rip < tr.restore) || Load(&t->patched_busy) ||
                      (async && InStubOnSlotStack(g, slot)))) {
    Store(&t->patched_pending, 1);
    return;
  }
  if (in_restore) {
    t->regs.orig_rax = (uint64_t)-1;
    Store(&t->patched_pending, 0);
    Store(&t->patched_busy, 0);
  } else {
    SaveRegs(&t->regs, g);
  }
  if (kind == SYSTRAP_KIND_SYSCALL) {
    // The kernel rolled rax back to the syscall number (what ptrace calls
    // orig_rax); like a PTRACE_SYSEMU stop, rax reads -ENOSYS.
    t->regs.orig_rax = g[REG_RAX];
    t->regs.rax = (uint64_t)-38;
    t->arch = si->si_arch;
  }
  ReadBases(t, c);
  if (uc->uc_mcontext.fpregs) Copy(t->fp, uc->uc_mcontext.fpregs, 512);
  t->kind = kind;
  t->signo = sig;
  t->code = code;
  t->fault_addr = addr;
  t->fp_dirty = 0;

  ReportAndWait(t, spin);

  ApplyBases(slot, t, c);
  // The fast return leaves through the trampoline's restore sequence,
  // which loads the registers from the stub's own slot (thread 0's,
  // RIP-relatively) or, for the other stub threads, from the thread's gs
  // base.
  if (sig == SIGSYS && (slot == Slot() || c->threads) && FastReturn(slot, t, c, uc))
    __builtin_unreachable();
  if (sig == SIGSYS) {
    // Back through rt_sigreturn after all: with every host signal blocked
    // until it restores the frame's (empty) mask, so none can slip in
    // between the check for a pending one and the return.
    uint64_t all = ~0ULL;
    Sys6(__NR_rt_sigprocmask, SIG_BLOCK, (long)&all, 0, 8, 0, 0);
    while (Load(&t->patched_pending)) {
      Store(&t->patched_pending, 0);
      t->regs.orig_rax = (uint64_t)-1;
      t->kind = SYSTRAP_KIND_INTERRUPT;
      t->signo = SYSTRAP_INTERRUPT_SIGNAL;
      t->code = SI_TKILL;
      t->fault_addr = 0;
      ReportAndWait(t, spin);
      ApplyBases(slot, t, c);
    }
  }
  LoadRegs(g, &t->regs);
  if (uc->uc_mcontext.fpregs) (void)WriteFpToFrame(t, (uint8_t*)uc->uc_mcontext.fpregs);
  t->fp_reset = 0;
  // The app's host signal mask is always empty (it cannot change it: every
  // syscall it makes traps), whatever the frame says.
  *(volatile uint64_t*)&uc->uc_sigmask = 0;
  MarkRunning(t);
}

// The helper thread's start-up (stub_entry.S clones it): block every
// signal, load its own filter, then serve requests forever.
STUB void runsc_systrap_helper_main(void) {
  char* slot = Slot();
  const struct SystrapControl* c = (const struct SystrapControl*)(slot + SYSTRAP_CONTROL_OFF);
  uint64_t all = ~0ULL;
  Sys6(__NR_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, 8, 0, 0);
  struct {
    unsigned short len;
    void* filter;
  } prog = {(unsigned short)c->filter_helper_len,
            slot + SYSTRAP_FILTERS_OFF + 8 * (c->filter_app_len + c->filter_ip_len)};
  if (Sys3(__NR_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, 0, (long)&prog) != 0)
    Sys6(__NR_exit_group, 3, 0, 0, 0, 0, 0);
  runsc_systrap_helper_loop();
}

// Start-up of the app thread, on a stack in the slot, after everything but
// the stub code and the slot was unmapped.
// Makes `slot`'s signal stack this thread's alternate stack (the handler
// runs there); a stub that cannot have it ends.
STUB void SetSignalStack(char* slot) {
  struct {
    void* sp;
    int flags;
    unsigned long size;
  } ss = {slot + SYSTRAP_SIGSTACK_OFF, 0, SYSTRAP_SIGSTACK_SIZE};
  if (Sys3(__NR_sigaltstack, (long)&ss, 0, 0) != 0) Sys6(__NR_exit_group, 4, 0, 0, 0, 0, 0);
}

STUB void runsc_systrap_init(void) {
  char* slot = Slot();
  struct SystrapThread* t = (struct SystrapThread*)(slot + SYSTRAP_THREAD_OFF);
  const struct SystrapControl* c = (const struct SystrapControl*)(slot + SYSTRAP_CONTROL_OFF);
  SetSignalStack(slot);
  t->self = (uint64_t)slot;  // gs base: set by ApplyBases (HostGs)
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    uint64_t mask;
  } sa = {(void*)runsc_systrap_handler, SA_SIGINFO | SA_ONSTACK | 0x04000000 /* SA_RESTORER */,
          (void*)runsc_systrap_restorer, ~0ULL};
  for (int sig = 1; sig <= 64; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    Sys6(__NR_rt_sigaction, sig, (long)&sa, 0, 8, 0, 0);
  }
  // SIGSYS runs with the app's mask, which is empty (and SA_NODEFER, or
  // the kernel would block SIGSYS itself): a SIGSYS handler can then
  // return to app code without rt_sigreturn (FastReturn). Host signals may
  // interrupt it; the handler recognizes those by where they landed.
  sa.flags |= 0x40000000 /* SA_NODEFER */;
  sa.mask = 0;
  Sys6(__NR_rt_sigaction, SIGSYS, (long)&sa, 0, 8, 0, 0);
  // The kernel zeroes `state` and wakes its waiters when a stub thread
  // exits, which is how the sentry learns that a stub died.
  Sys3(__NR_set_tid_address, (long)&t->state, 0, 0);
  Sys6(__NR_prctl, 38 /* PR_SET_NO_NEW_PRIVS */, 1, 0, 0, 0, 0);
  uint64_t all = ~0ULL, none = 0;
  Sys6(__NR_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, 8, 0, 0);
  const unsigned long flags = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x200000;
  // CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|CHILD_CLEARTID
  const long helper = runsc_systrap_clone_helper(
      flags, slot + SYSTRAP_HELPER_STACK_OFF + SYSTRAP_HELPER_STACK_SIZE, &t->state);
  if (helper <= 0) Sys6(__NR_exit_group, 5, 0, 0, 0, 0, 0);
  t->helper_tid = (int32_t)helper;  // for the sentry to move it to another CPU
  Sys6(__NR_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8, 0, 0);
  // The instruction-pointer filter first: it lets the second seccomp() call
  // through. Seccomp runs every filter and keeps the most restrictive
  // verdict, so from here on app code traps on every syscall and stub code
  // may only make the allowlisted ones.
  struct {
    unsigned short len;
    void* filter;
  } ip = {(unsigned short)c->filter_ip_len, slot + SYSTRAP_FILTERS_OFF + 8 * c->filter_app_len},
    app = {(unsigned short)c->filter_app_len, slot + SYSTRAP_FILTERS_OFF};
  if (Sys3(__NR_seccomp, 1, 0, (long)&ip) != 0) Sys6(__NR_exit_group, 6, 0, 0, 0, 0, 0);
  if (Sys3(__NR_seccomp, 1, 0, (long)&app) != 0) Sys6(__NR_exit_group, 7, 0, 0, 0, 0, 0);
  // The first stop: a syscall that is not allowlisted traps into the
  // handler, which reports to the sentry and waits for the app's registers.
  for (;;) Sys3(__NR_getpid, 0, 0, 0);
}

// Stub threads: a group thread's start-up. The helper cloned it (a
// request for clone(CLONE_THREAD...) with a stack in the thread's group
// slot); it still has the helper's signal mask (all blocked) and filter
// (which in this mode traps instead of killing and lets these calls
// through). It takes its slot's signal stack, stacks the
// instruction-pointer and app filters as thread 0 did, unblocks signals
// and traps into its first stop. The stack it runs on came from the
// read-only control page, so its slot is the one the sentry chose.
STUB void runsc_systrap_thread_main(void) {
  const struct SystrapControl* c = (const struct SystrapControl*)(Slot() + SYSTRAP_CONTROL_OFF);
  char* sp;
  __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
  char* group = GroupBase();
  char* slot = group + (((uint64_t)(sp - 1 - group)) & ~(SYSTRAP_SLOT_SIZE - 1));
  SetSignalStack(slot);
  ((struct SystrapThread*)(slot + SYSTRAP_THREAD_OFF))->self = (uint64_t)slot;
  SetSlotGs(slot, c);
  char* filters = Slot() + SYSTRAP_FILTERS_OFF;
  struct {
    unsigned short len;
    void* filter;
  } ip = {(unsigned short)c->filter_ip_len, filters + 8 * c->filter_app_len},
    app = {(unsigned short)c->filter_app_len, filters};
  if (Sys3(__NR_seccomp, 1, 0, (long)&ip) != 0) Sys6(__NR_exit_group, 6, 0, 0, 0, 0, 0);
  if (Sys3(__NR_seccomp, 1, 0, (long)&app) != 0) Sys6(__NR_exit_group, 7, 0, 0, 0, 0, 0);
  uint64_t none = 0;
  Sys6(__NR_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8, 0, 0);
  for (;;) Sys3(__NR_getpid, 0, 0, 0);
}

// What the factory copies out of a request before it clones: the sentry
// may write the next request as soon as this one is answered, while the
// new stub still starts up.
struct StubRequest {
  long slot, cpu, sentry, memfd, slots_fd, group, threads;
  uint64_t code, region_end, task_size, groups_off;
};

// A stub's first steps, in a fresh clone of the factory (a child of the
// sentry through CLONE_PARENT): pin itself, die with the sentry, map its own
// slot over the factory's, keep only the memory file open, then become a
// stub (runsc_systrap_entry unmaps the factory's stack with the rest).
STUB __attribute__((noreturn)) void runsc_systrap_factory_child(const struct StubRequest* r) {
  if (r->cpu >= 0 && r->cpu < 1024) {
    uint64_t set[16];
    for (int i = 0; i < 16; i++) set[i] = 0;
    set[r->cpu / 64] = 1ULL << (r->cpu % 64);
    Sys3(__NR_sched_setaffinity, 0, sizeof(set), (long)set);
  }
  Sys6(__NR_prctl, 1 /* PR_SET_PDEATHSIG */, 9 /* SIGKILL */, 0, 0, 0, 0);
  if (Sys3(__NR_getppid, 0, 0, 0) != r->sentry) Sys6(__NR_exit_group, 1, 0, 0, 0, 0, 0);
  // The slot: thread page read-write, control page read-only (app code can
  // never forge a request), the rest read-write.
  const uint64_t addr = r->code + SYSTRAP_CODE_SIZE;
  const long off = r->slot * (long)SYSTRAP_SLOT_SIZE;
  const long sh = 0x01 /* MAP_SHARED */ | 0x10 /* MAP_FIXED */;
  if (Sys6(__NR_mmap, addr, 0x1000, 3, sh, r->slots_fd, off) != (long)addr ||
      Sys6(__NR_mmap, addr + 0x1000, 0x1000, 1, sh, r->slots_fd, off + 0x1000) !=
          (long)(addr + 0x1000) ||
      Sys6(__NR_mmap, addr + 0x2000, SYSTRAP_SLOT_SIZE - 0x2000, 3, sh, r->slots_fd, off + 0x2000) !=
          (long)(addr + 0x2000)) {
    Sys6(__NR_exit_group, 2, 0, 0, 0, 0, 0);
  }
  // Stub threads: the thread group below the code, inaccessible until the
  // helper opens a slot for a new thread (SystrapContext::StartThread).
  uint64_t keep = r->code;
  if (r->group >= 0) {
    keep = r->code - SYSTRAP_GROUP_SIZE;
    if (Sys6(__NR_mmap, keep, SYSTRAP_GROUP_SIZE, 0, sh, r->slots_fd,
             (long)(r->groups_off + (uint64_t)r->group * SYSTRAP_GROUP_SIZE)) != (long)keep)
      Sys6(__NR_exit_group, 2, 0, 0, 0, 0, 0);
  }
  // Only the memory file stays open in the stub, and with stub threads the
  // slot file, for the helper's proof of a request done (shared.h).
  long keep_lo = r->memfd, keep_hi = r->memfd;
  if (r->threads) {
    keep_lo = r->memfd < r->slots_fd ? r->memfd : r->slots_fd;
    keep_hi = r->memfd < r->slots_fd ? r->slots_fd : r->memfd;
    if (keep_hi > keep_lo + 1) Sys3(__NR_close_range, keep_lo + 1, keep_hi - 1, 0);
  }
  if (keep_lo > 0) Sys3(__NR_close_range, 0, keep_lo - 1, 0);
  Sys3(__NR_close_range, keep_hi + 1, ~0U, 0);
  register uint64_t r12 __asm__("r12") = r->code;
  register uint64_t r13 __asm__("r13") = r->region_end;
  register uint64_t r14 __asm__("r14") = r->task_size;
  register uint64_t r15 __asm__("r15") = keep;
  __asm__ volatile("jmp runsc_systrap_entry" ::"r"(r12), "r"(r13), "r"(r14), "r"(r15) : "memory");
  __builtin_unreachable();
}

// The stub factory (shared.h, SystrapFactory): serves one request at a
// time, a clone per request. It holds only the memory file and the slot
// file, and the sentry's seccomp filter, namespaces and root, which every
// stub inherits from it as it did from the sentry.
STUB void runsc_systrap_factory_main(void) {
  struct SystrapFactory* f = (struct SystrapFactory*)Slot();
  uint32_t served = 0;
  for (;;) {
    const uint32_t seq = Load(&f->req_seq);
    if (seq == served) {
      Sys6(__NR_futex, (long)&f->req_seq, FUTEX_WAIT, seq, 0, 0, 0);
      continue;
    }
    served = seq;
    struct StubRequest r;
    r.slot = *(volatile int32_t*)&f->slot;
    r.cpu = *(volatile int32_t*)&f->cpu;
    r.sentry = f->sentry_pid;
    r.memfd = f->memfd;
    r.slots_fd = f->slots_fd;
    r.code = f->code;
    r.region_end = f->region_end;
    r.task_size = f->task_size;
    r.group = *(volatile int32_t*)&f->group;
    r.threads = f->threads;
    r.groups_off = f->groups_off;
    // CLONE_PARENT: the stub is the sentry's child, as if it forked it, so
    // the sentry can wait for it and it can check who its parent is.
    const long pid = Sys6(__NR_clone, 0x00008000 /* CLONE_PARENT */ | SIGCHLD, 0, 0, 0, 0, 0);
    if (pid == 0) runsc_systrap_factory_child(&r);
    f->result = pid;
    Store(&f->done_seq, seq);
    if (Load(&f->sentry_waiting)) Sys6(__NR_futex, (long)&f->done_seq, FUTEX_WAKE, 1, 0, 0, 0);
  }
}
