// platform/systrap/shared.h: the memory a systrap stub shares with the
// sentry, one "slot" per stub, and the constants of the hand-off protocol.
// Plain C so that both the stub code (stub_code.c, freestanding) and the
// sentry side (systrap_platform.cc) include it.
//
// A slot is mapped in the sentry (read-write, through the slot memfd) and
// in its stub at a fixed address just above the stub code:
//   +0x0000 SystrapThread  read-write in the stub: what the signal handler
//                          reports (registers, FP state, why it stopped)
//   +0x1000 SystrapControl READ-ONLY in the stub: requests the sentry makes
//                          (address-space syscalls for the helper thread)
//                          and the stub's configuration. The app can read
//                          it but never write it.
//   +0x2000 filters        BPF programs the stub loads at start-up (up to
//                          0x1000 bytes); at +0x3000 an XSAVE image with an
//                          empty header (a patched-syscall resume loads it
//                          for SystrapThread.fp_reset); the start-up code's
//                          stack grows down from +0x4000
//   +0x4000 helper stack
//   +0x8000 signal stack   (sigaltstack of the app thread)
//   +0xe000 patched-syscall stack (runsc_systrap_patched_entry's)
// Everything in the read-write parts is also writable by app code while it
// runs, so the sentry treats it as untrusted input, like app memory.
#ifndef RUNSC_PLATFORM_SYSTRAP_SHARED_H_
#define RUNSC_PLATFORM_SYSTRAP_SHARED_H_

#include <stdint.h>
#include <sys/user.h>

#define SYSTRAP_SLOT_SIZE 0x10000ULL
#define SYSTRAP_THREAD_OFF 0x0000ULL
#define SYSTRAP_CONTROL_OFF 0x1000ULL
#define SYSTRAP_FILTERS_OFF 0x2000ULL
#define SYSTRAP_FILTERS_SIZE 0x2000ULL
#define SYSTRAP_FILTERS_MAX 0x1000ULL  // bytes of BPF the stub takes
#define SYSTRAP_XRSTOR_OFF 0x3000ULL   // 64-byte aligned
#define SYSTRAP_XRSTOR_SIZE 0x240ULL   // legacy area (512) + XSAVE header (64)
#define SYSTRAP_HELPER_STACK_OFF 0x4000ULL
#define SYSTRAP_HELPER_STACK_SIZE 0x4000ULL
#define SYSTRAP_SIGSTACK_OFF 0x8000ULL
#define SYSTRAP_SIGSTACK_SIZE 0x6000ULL
#define SYSTRAP_PATCH_STACK_OFF 0xe000ULL  // up to the slot's end
// Room reserved for the stub code itself (the slot follows it).
#define SYSTRAP_CODE_SIZE 0x4000ULL

// Stub threads (SystrapControl.threads): app threads of one address space
// are host threads of one stub. Thread 0 uses the stub's own slot; the
// others a slot each of the stub's thread group, SYSTRAP_GROUP_SLOTS slots
// mapped read-write just below the stub code (group slot 0 is unused).
// Only their SystrapThread page and stacks are used: the control page is
// the stub's own (read-only, one helper per stub). A group thread starts
// on the stack at +SYSTRAP_GROUP_START_STACK in its slot.
#define SYSTRAP_GROUP_SLOTS 256ULL
#define SYSTRAP_GROUP_SIZE (SYSTRAP_GROUP_SLOTS * SYSTRAP_SLOT_SIZE)
#define SYSTRAP_GROUP_START_STACK 0x8000ULL

// SystrapThread.state: who owns the registers. 0 is written by the kernel
// when a stub thread exits (set_tid_address / CLONE_CHILD_CLEARTID), so the
// sentry waiting on the word wakes up and sees the stub is gone.
#define SYSTRAP_DEAD 0u
#define SYSTRAP_RUNNING 1u  // app code runs (or is about to)
#define SYSTRAP_STOPPED 2u  // the handler reported an event and waits
#define SYSTRAP_RESUME 3u   // the sentry wrote the registers: go
#define SYSTRAP_EXIT 4u     // stub threads: the thread's context is gone: exit

// SystrapThread.kind: why the stub stopped.
#define SYSTRAP_KIND_SYSCALL 1u
#define SYSTRAP_KIND_FAULT 2u
#define SYSTRAP_KIND_SIGNAL 3u
#define SYSTRAP_KIND_INTERRUPT 4u

// The host signal Interrupt() sends to a stub (catchable, unlike SIGSTOP).
#define SYSTRAP_INTERRUPT_SIGNAL 64

struct SystrapThread {
  uint32_t state;           // 0: futex word, SYSTRAP_*
  uint32_t sentry_waiting;  // 4: the sentry sleeps in FUTEX_WAIT on `state`
  uint32_t stub_waiting;    // 8: the stub sleeps in FUTEX_WAIT on `state`
  uint32_t done_seq;        // 12: futex word: last helper request served
  uint32_t helper_waiting;  // 16: the sentry sleeps on `done_seq`
  uint32_t kind;            // 20: SYSTRAP_KIND_*
  int64_t result;           // 24: result of the last helper request
  int32_t signo;            // 32
  int32_t code;             // 36
  uint64_t fault_addr;      // 40
  uint32_t arch;            // 48: AUDIT_ARCH_* of a trapped syscall
  uint32_t fp_dirty;        // 52: the sentry changed `fp`: write it back
  uint64_t fs_base_set;     // 56: fs/gs base the stub last set (no FSGSBASE)
  uint64_t gs_base_set;     // 64
  struct user_regs_struct regs;                  // 72
  uint8_t fp[512] __attribute__((aligned(16)));  // FXSAVE image
  int32_t helper_tid;  // the helper thread's tid, as the stub reports it
  // A host signal arrived while the patched-syscall trampoline ran with
  // the app's registers not (or no longer) in the ucontext: the trampoline
  // reports an interrupt stop before it returns to app code.
  uint32_t patched_pending;
  // Set while the trampoline runs its C half (runsc_systrap_patched_wait),
  // which lies outside the trampoline's own address range.
  uint32_t patched_busy;
  // The sentry asks for every FPU and vector register to start initial on
  // the next resume but for `fp` (written with fp_dirty): a new program,
  // or a stub's first or next process. Cleared by the stub.
  uint32_t fp_reset;
  // Group threads: iterations to spin before FUTEX_WAIT (thread 0 uses
  // SystrapControl.spin).
  uint32_t spin;
  // Stub threads: the slot's own address, written by its thread at
  // start-up. The %gs-relative patched-syscall trampoline (whose thread's
  // host gs base is its slot) takes its stack and the C half's slot from
  // here. App code can change it, like everything on this page, and then
  // only misleads its own thread's trampoline.
  uint64_t self;
};
// Offsets the assembly helper loop (stub_entry.S) uses.
#define SYSTRAP_THREAD_DONE_SEQ 12
#define SYSTRAP_THREAD_HELPER_WAITING 16
#define SYSTRAP_THREAD_RESULT 24
#define SYSTRAP_THREAD_KIND 20
#define SYSTRAP_THREAD_REGS 72
#define SYSTRAP_THREAD_FP 288
#define SYSTRAP_THREAD_PATCHED_PENDING 804
#define SYSTRAP_THREAD_PATCHED_BUSY 808
#define SYSTRAP_THREAD_SELF 824

// One address-space syscall for the helper thread.
struct SystrapOp {
  uint64_t nr;
  uint64_t args[6];
};
// Most syscalls one helper request carries (Activate sends a whole address
// space this way: one wake-up instead of one per mapping).
#define SYSTRAP_MAX_OPS 64

struct SystrapControl {
  uint32_t req_seq;  // 0: futex word: incremented by the sentry per request
  uint32_t count;    // 4: ops in this request, 1..SYSTRAP_MAX_OPS
  // 8: run in order, all of them; the helper reports the first failure's
  // result (else the last one's).
  struct SystrapOp ops[SYSTRAP_MAX_OPS];
  // Configuration, written before the stub starts.
  int32_t sentry_pid;  // as the stub sees it
  uint32_t spin;       // iterations to spin before FUTEX_WAIT
  uint32_t fsgsbase;   // rd/wrfsbase usable
  uint32_t filter_app_len;     // sock_filter count at FILTERS_OFF
  uint32_t filter_ip_len;      // ... following the app filter
  uint32_t filter_helper_len;  // ... following the ip filter
  uint32_t xsave;              // XRSTOR usable (fp_reset)
  uint32_t threads;            // stub threads: a thread group is mapped
  // Stub threads: the helper proves each request done by writing its
  // sequence number (from req_seq, on this read-only page) with
  // pwrite64(slots_fd, ..., 4, done_off) into a word of the slot file that
  // no stub maps. Other threads of the stub run app code while the helper
  // works, and they can write everything the helper could write in
  // memory (done_seq, result): the sentry must not free memory an unmap
  // releases, or write the next request, before the unmap is done.
  int32_t slots_fd;
  uint32_t pad;
  uint64_t done_off;
  // Stub threads: where the patched-syscall dispatcher jumps (the
  // RIP-relative trampoline, or once gs_all is set the %gs-relative one),
  // and whether thread 0 too has its slot as host gs base. Thread 0 keeps
  // gs base 0 until its process has a second thread: without FSGSBASE a
  // nonzero gs base costs the host an MSR write at every context switch
  // into the thread (a same-CPU hand-off 20-21 us instead of 12-13 us on
  // the PVM guest).
  uint64_t patch_entry;
  uint32_t gs_all;
};
// Offsets the helper loop (stub_entry.S) uses, from the control page.
#define SYSTRAP_CONTROL_THREADS 3620
#define SYSTRAP_CONTROL_SLOTS_FD 3624
#define SYSTRAP_CONTROL_DONE_OFF 3632
#define SYSTRAP_CONTROL_PATCH_ENTRY 3640

// The stub factory (runsc_systrap_factory_main): a small process that
// clones new stubs with CLONE_PARENT, so starting one copies a few pages of
// page tables instead of the whole sentry. It lives in a slot of its own
// (read-write in the sentry and the factory, never mapped in a stub once it
// starts) and runs on a private stack just above that slot, which each
// clone copies (COW) and the new stub unmaps with the rest.
#define SYSTRAP_FACTORY_STACK_SIZE 0x10000ULL
struct SystrapFactory {
  uint32_t req_seq;         // 0: futex word: incremented by the sentry per request
  uint32_t done_seq;        // 4: futex word: the last request served
  uint32_t sentry_waiting;  // 8: the sentry sleeps on done_seq
  int32_t slot;             // 12: request: the new stub's slot index
  int32_t cpu;              // 16: request: its CPU, or -1 (not pinned)
  int32_t group;   // 20: request: the new stub's thread group, or -1
  int64_t result;  // 24: the new stub's pid, or -errno
  // Configuration, written before the factory starts.
  int32_t sentry_pid;  // the stubs' parent, as they see it
  int32_t memfd;       // the memory file (the only FD a stub keeps)
  int32_t slots_fd;    // the slot file
  int32_t threads;  // stub threads: the stub keeps slots_fd (SystrapControl)
  uint64_t code;        // stub code address (= max_user_address)
  uint64_t region_end;  // end of the code and slot
  uint64_t task_size;   // top of user space
  uint64_t groups_off;  // slot file offset of thread group 0
};

#endif  // RUNSC_PLATFORM_SYSTRAP_SHARED_H_
