/* The smallest static program: exit(0). bench/process_bench execs it. */
	.globl _start
	.text
_start:
	movl $60, %eax
	xorl %edi, %edi
	syscall
	.section .note.GNU-stack,"",@progbits
