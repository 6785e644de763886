/* long ms_call_check(unsigned long out[12]): see abifns.h */
	.text
	.globl	ms_call_check
	.type	ms_call_check, @function
ms_call_check:
	.cfi_startproc
	push	%rbx
	.cfi_def_cfa_offset 16
	.cfi_offset %rbx, -16
	push	%rbp
	.cfi_def_cfa_offset 24
	.cfi_offset %rbp, -24
	mov	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	mov	%rdi, %rbx
	and	$-16, %rsp
	sub	$32, %rsp		/* the callee's home area */
	mov	$0x1111222233334444, %rdi
	mov	$0x5555666677778888, %rsi
	.irp	r,6,7,8,9,10,11,12,13,14,15
	mov	$(0x0101010101010101 * \r), %rax
	movq	%rax, %xmm\r
	.endr
	mov	$1, %ecx
	mov	$2, %edx
	mov	$3, %r8d
	mov	$4, %r9d
	call	msf
	mov	%rdi, 0(%rbx)
	mov	%rsi, 8(%rbx)
	.irp	r,6,7,8,9,10,11,12,13,14,15
	movq	%xmm\r, (8 * (\r - 4))(%rbx)
	.endr
	mov	%rbp, %rsp
	.cfi_def_cfa_register %rsp
	pop	%rbp
	.cfi_def_cfa_offset 16
	pop	%rbx
	.cfi_def_cfa_offset 8
	ret
	.cfi_endproc
	.size	ms_call_check, .-ms_call_check
	.section .note.GNU-stack,"",@progbits
