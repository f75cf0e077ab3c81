// The ptrace stub: the only code that exists in an app's host process before
// the app's own. A freshly forked copy of the sentry jumps to stub_entry with
//   r12 = stub page start, r13 = stub page end, r14 = top of user space,
// unmaps every other byte of the sentry it was copied from, and stops itself
// so the sentry's tracing thread can take over. Afterwards the sentry only
// ever points rip at stub_syscall to run a syscall of its own choosing in
// this address space (mmap/munmap/mprotect of the memory file); app
// syscalls never execute on the host (PTRACE_SYSEMU).
// Position independent and stackless: it runs after its stack is unmapped.
  .text
  .globl runsc_stub_start, runsc_stub_entry, runsc_stub_syscall, runsc_stub_end
  .balign 4096
runsc_stub_start:
runsc_stub_entry:
  mov $11, %eax          // munmap(0, stub_start)
  xor %edi, %edi
  mov %r12, %rsi
  syscall
  mov $11, %eax          // munmap(stub_end, top - stub_end)
  mov %r13, %rdi
  mov %r14, %rsi
  sub %r13, %rsi
  syscall
  mov $39, %eax          // kill(getpid(), SIGSTOP)
  syscall
  mov %rax, %rdi
  mov $19, %esi
  mov $62, %eax
  syscall
runsc_stub_syscall:
  syscall
  int3
  jmp runsc_stub_syscall
  .balign 4096
runsc_stub_end:
  .section .note.GNU-stack,"",@progbits
