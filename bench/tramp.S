/* The call target of the patch benchmark: returns at once. */
	.text
	.globl bench_tramp
	.type bench_tramp, @function
bench_tramp:
	ret
	.section .note.GNU-stack,"",@progbits
