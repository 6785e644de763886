/* A function listed in __mcount_loc whose entry is no nop: the table must
 * count it as unrecognized and never patch it (non-PIE flavors only). */
	.text
	.globl bad_site_fn
	.type bad_site_fn, @function
bad_site_fn:
	movl $11, %eax
	ret
	.size bad_site_fn, . - bad_site_fn

	.section __mcount_loc, "a", @progbits
	.quad bad_site_fn

	.section .note.GNU-stack,"",@progbits
