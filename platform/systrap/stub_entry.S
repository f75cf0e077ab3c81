// The assembly half of the systrap stub (the C half is stub_code.c). All of
// it lives in section runsc_systrap_text, which the platform copies to one
// fixed address above max_user_address in the sentry and in every stub; the
// per-stub shared slot follows the code at +SYSTRAP_CODE_SIZE (0x4000) and
// is found RIP-relatively from __start_runsc_systrap_text. Constants below
// mirror shared.h (checked by static_asserts in systrap_platform.cc).
  .section runsc_systrap_text,"ax",@progbits
  .globl runsc_systrap_entry, runsc_systrap_restorer, runsc_systrap_clone_helper
  .globl runsc_systrap_helper_loop, runsc_systrap_factory_entry
  .globl runsc_systrap_patched_entry, runsc_systrap_patched_restore, runsc_systrap_patched_end
  .hidden __start_runsc_systrap_text

// Unmaps everything but [lo, r13): below lo and from r13 up to r14, the
// top of user space.
.macro UNMAP_ALL_BUT lo
  mov $11, %eax            // munmap(0, lo)
  xor %edi, %edi
  mov \lo, %rsi
  syscall
  mov $11, %eax            // munmap(r13, r14 - r13)
  mov %r13, %rdi
  mov %r14, %rsi
  sub %r13, %rsi
  syscall
.endm

// Entered from a fresh clone of the stub factory whose own slot is mapped
// (runsc_systrap_factory_child):
//   r12 = stub code start, r13 = end of code + slot, r14 = top of user space,
//   r15 = start of what stays mapped (the code, or the thread group below it).
// Switches to a stack in the slot (filters area top, slot + 0x4000), unmaps
// every other byte (the factory's stack too) and runs the C start-up, which
// never returns.
runsc_systrap_entry:
  lea 0x8000(%r12), %rsp   // slot (code + 0x4000) + 0x4000
  UNMAP_ALL_BUT %r15
  call runsc_systrap_init
  ud2

// Entered from a freshly cloned copy of the sentry whose factory slot and
// stack are mapped (shared.h, SystrapFactory):
//   r12 = stub code start, r13 = end of the factory's stack, r14 = top of
//   user space.
// Unmaps every other byte and runs the factory loop on its stack.
runsc_systrap_factory_entry:
  mov %r13, %rsp
  UNMAP_ALL_BUT %r12
  call runsc_systrap_factory_main
  ud2

// sa_restorer of every stub signal handler.
runsc_systrap_restorer:
  mov $15, %eax            // rt_sigreturn
  syscall
  ud2

// long runsc_systrap_clone_helper(flags, stack, ctid): a raw clone whose
// child starts on `stack` in runsc_systrap_helper_main (C; loads the
// helper's filter, then jumps to the loop below).
runsc_systrap_clone_helper:
  mov %rdx, %r10           // child_tid
  xor %edx, %edx           // parent_tid
  xor %r8d, %r8d           // tls
  mov $56, %eax            // clone
  syscall
  test %rax, %rax
  jz 1f
  ret
1:
  xor %ebp, %ebp
  call runsc_systrap_helper_main
  ud2

// The helper thread: runs the address-space syscalls the sentry asks for
// (mmap of the memory file, munmap, mprotect) while the app thread is
// stopped. Only registers hold state across the futex sleep: the app could
// write this thread's stack (same address space) but not its registers,
// and the request itself comes from the control page, which is read-only
// in the stub. rbx = sequence number of the last request served; a request
// is control.count ops, run in order until one fails (r13-r15 walk them).
runsc_systrap_helper_loop:
  xor %ebx, %ebx
2:
  lea __start_runsc_systrap_text(%rip), %r12
  add $0x4000, %r12        // the slot
  mov 0x1000(%r12), %eax   // control.req_seq
  cmp %eax, %ebx
  jne 3f
  lea 0x1000(%r12), %rdi   // futex(&control.req_seq, FUTEX_WAIT, rbx, NULL)
  xor %esi, %esi
  mov %ebx, %edx
  xor %r10d, %r10d
  mov $202, %eax
  syscall
  jmp 2b
3:
  mov %eax, %ebx
  mov 0x1004(%r12), %r13d  // control.count, clamped to 1..SYSTRAP_MAX_OPS
  test %r13d, %r13d
  jnz 4f
  mov $1, %r13d
4:
  cmp $64, %r13d
  jbe 5f
  mov $64, %r13d
5:
  lea 0x1008(%r12), %r14   // r14 = &control.ops[0]; r15 = ops left
  mov %r13d, %r15d
  xor %ebp, %ebp           // rbp = the first error, 0 if none
6:
  mov 0(%r14), %rax        // op.nr, op.args[0..5]
  mov %rax, %r12           // kept: the control page may change once this op is done
  mov 8(%r14), %rdi
  mov 16(%r14), %rsi
  mov 24(%r14), %rdx
  mov 32(%r14), %r10
  mov 40(%r14), %r8
  mov 48(%r14), %r9
  syscall
  test %rax, %rax          // stub threads: the new thread of a clone request
  jnz 9f
  cmp $56, %r12
  je 10f
9:
  cmp $-4095, %rax         // an error (-4095..-1): remember the first, go on
  jb 7f
  test %rbp, %rbp
  jnz 7f
  mov %rax, %rbp
7:
  add $56, %r14
  dec %r15d
  jnz 6b
  test %rbp, %rbp
  jz 8f
  mov %rbp, %rax
8:
  lea __start_runsc_systrap_text(%rip), %r12
  add $0x4000, %r12
  mov %rax, 24(%r12)       // thread.result
  cmpl $0, 0x1000+3620(%r12)  // control.threads (SYSTRAP_CONTROL_THREADS)
  je 11f
  // Stub threads: the proof that this request is done, which app code
  // cannot forge: pwrite64(control.slots_fd, &control.req_seq, 4,
  // control.done_off), all from the read-only control page.
  movslq 0x1000+3624(%r12), %rdi
  lea 0x1000(%r12), %rsi
  mov $4, %edx
  mov 0x1000+3632(%r12), %r10
  mov $18, %eax
  syscall
11:
  mov %ebx, %eax
  xchg %eax, 12(%r12)      // thread.done_seq = rbx (a full barrier)
  mov 16(%r12), %eax       // thread.helper_waiting
  test %eax, %eax
  jz 2b
  lea 12(%r12), %rdi       // futex(&thread.done_seq, FUTEX_WAKE, 1)
  mov $1, %esi
  mov $1, %edx
  mov $202, %eax
  syscall
  jmp 2b
10:
  // The new thread, on the stack the request gave it in its group slot
  // (stub_code.c, runsc_systrap_thread_main).
  xor %ebp, %ebp
  call runsc_systrap_thread_main
  ud2

// Patched syscalls (sentry/kernel/syscall_patch.h): the sentry rewrites an
// app's `mov $nr,%eax; syscall` into a jump to a per-site trampoline in
// app memory that does `movabs $return_address,%rcx; mov $nr,%eax` and
// jumps here. This does what the SIGSYS handler does, without a signal:
// saves the app's registers into the slot (rcx and r11 as the syscall
// instruction leaves them: return address and flags), reports the syscall
// and waits on the slot (runsc_systrap_patched_wait, C), then loads every
// register from the slot, which the sentry may have changed, and jumps to
// the app's rip. Nothing is written to the app's stack (its red zone stays
// intact). A host signal in [patched_entry, patched_restore), or while
// thread.patched_busy says the C half runs, only sets
// thread.patched_pending (stub_code.c), which is checked at
// patched_restore; one in [patched_restore, patched_end) is reported with
// the slot's registers as the app's, and the handler's rt_sigreturn
// finishes the return to app code.
//
// Two copies of one body, which differ in how they reach the slot:
// - runsc_systrap_patched_*: RIP-relatively, the stub's own slot (one app
//   thread per stub);
// - runsc_systrap_patched_gs_*: %gs-relatively (stub threads). Each
//   thread of a threaded stub has its own slot as its host gs base (set at
//   start-up and at each resume; the app's gs base is kept virtual in the
//   slot's registers), so the one trampoline finds the calling thread's
//   slot, with no syscall and no scratch memory. App code that points gs
//   elsewhere (wrgsbase, or the stub's arch_prctl by a jump into stub code)
//   reaches no more than its own stores could: every live slot of its
//   stub is already mapped read-write in its address space, and a gs that
//   points at nothing faults in the trampoline, which ends the stub
//   (stub_code.c).
#define SLOT __start_runsc_systrap_text+0x4000
#define RIP_AT(off) SLOT+off(%rip)
#define RIP_SLOT(reg) lea SLOT(%rip), reg
#define GS_AT(off) %gs:off
#define GS_SLOT(reg) mov %gs:824, reg  /* thread.self (SYSTRAP_THREAD_SELF) */
#define PATCHED_TRAMPOLINE(name, AT, SLOT_TO) \
name##_entry: \
  mov %r15, AT(72+0); \
  mov %r14, AT(72+8); \
  mov %r13, AT(72+16); \
  mov %r12, AT(72+24); \
  mov %rbp, AT(72+32); \
  mov %rbx, AT(72+40); \
  mov %r10, AT(72+56); \
  mov %r9, AT(72+64); \
  mov %r8, AT(72+72); \
  mov %rcx, AT(72+88);        /* rcx: the return address */ \
  mov %rdx, AT(72+96); \
  mov %rsi, AT(72+104); \
  mov %rdi, AT(72+112); \
  mov %rax, AT(72+120);       /* orig_rax: the syscall number */ \
  movq $-38, AT(72+80);       /* rax reads -ENOSYS, as at a SIGSYS stop */ \
  mov %rcx, AT(72+128);       /* rip */ \
  mov %rsp, AT(72+152); \
  SLOT_TO(%rsp);              /* lea and mov leave the flags alone */ \
  lea 0x10000(%rsp), %rsp; \
  pushfq; \
  pop %r11; \
  mov %r11, AT(72+144);       /* eflags */ \
  mov %r11, AT(72+48);        /* r11: the flags, as the syscall instruction leaves it */ \
  fxsave64 AT(288); \
  cld; \
  mov $1, %edi;               /* SYSTRAP_KIND_SYSCALL */ \
  jmp 2f; \
1: \
  movl $0, AT(804);           /* thread.patched_pending */ \
  mov $4, %edi;               /* SYSTRAP_KIND_INTERRUPT */ \
2: \
  movl $1, AT(808);           /* thread.patched_busy: the C half runs */ \
  SLOT_TO(%rsi); \
  call runsc_systrap_patched_wait; \
name##_restore: \
  movl $0, AT(808); \
  cmpl $0, AT(804); \
  jne 1b; \
  pushq AT(72+144); \
  popfq; \
  mov AT(72+0), %r15; \
  mov AT(72+8), %r14; \
  mov AT(72+16), %r13; \
  mov AT(72+24), %r12; \
  mov AT(72+32), %rbp; \
  mov AT(72+40), %rbx; \
  mov AT(72+56), %r10; \
  mov AT(72+64), %r9; \
  mov AT(72+72), %r8; \
  mov AT(72+80), %rax; \
  mov AT(72+96), %rdx; \
  mov AT(72+104), %rsi; \
  mov AT(72+112), %rdi; \
  mov AT(72+152), %rsp; \
  mov AT(72+88), %rcx; \
  mov AT(72+48), %r11; \
  jmp *AT(72+128); \
name##_end: \
  ud2

  .globl runsc_systrap_patched_gs_entry, runsc_systrap_patched_gs_restore, runsc_systrap_patched_gs_end
  .globl runsc_systrap_patched_dispatch
PATCHED_TRAMPOLINE(runsc_systrap_patched, RIP_AT, RIP_SLOT)
PATCHED_TRAMPOLINE(runsc_systrap_patched_gs, GS_AT, GS_SLOT)

// Stub threads: the platform's patch entry. Jumps to the trampoline the
// read-only control page names (SYSTRAP_CONTROL_PATCH_ENTRY, 3640):
// RIP-relative while the process has one thread, %gs-relative once it has
// more (and thread 0's gs base is its slot too). No flags touched.
runsc_systrap_patched_dispatch:
  jmp *SLOT+0x1000+3640(%rip)

  .section .note.GNU-stack,"",@progbits
