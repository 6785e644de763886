/* Trampolines the tests patch sites to.  Called at a function's entry, so
 * they touch only memory and flags: every argument register stays intact. */
	.text
	.globl tramp_count_a
	.type tramp_count_a, @function
tramp_count_a:
	lock incq count_a(%rip)
	ret

	.globl tramp_count_b
	.type tramp_count_b, @function
tramp_count_b:
	lock incq count_b(%rip)
	ret

	/* Per-thread count (local-exec TLS: the trampoline is in the executable). */
	.globl tramp_count_tls
	.type tramp_count_tls, @function
tramp_count_tls:
	incq %fs:tls_count@tpoff
	ret

	/* A whole replacement, reached by jmp: returns 42 to the caller. */
	.globl tramp_ret42
	.type tramp_ret42, @function
tramp_ret42:
	movl $42, %eax
	ret

	.data
	.align 64
	.globl count_a
count_a:
	.quad 0
	.align 64
	.globl count_b
count_b:
	.quad 0

	.section .tbss,"awT",@nobits
	.align 8
	.globl tls_count
tls_count:
	.zero 8

	.section .note.GNU-stack,"",@progbits
