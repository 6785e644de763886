/* Hand-written functions for the relocation tests (t_reloc.c): one per
 * relocation class, and one per refusal.  Each has a size (.size). */
	.text
	.p2align 4
	.globl rl_ripmov
	.type rl_ripmov, @function
/* int rl_ripmov(int x): x + rl_val (a RIP-relative load in the region) */
rl_ripmov:
	movl rl_val(%rip), %eax
	addl %edi, %eax
	ret
	.size rl_ripmov, .-rl_ripmov

	.p2align 4
	.globl rl_riplea
	.type rl_riplea, @function
/* int rl_riplea(int i): rl_table[i] (lea of a RIP-relative address) */
rl_riplea:
	leaq rl_table(%rip), %rax
	movslq %edi, %rdi
	movl (%rax,%rdi,4), %eax
	ret
	.size rl_riplea, .-rl_riplea

	.p2align 4
	.globl rl_ripcmp
	.type rl_ripcmp, @function
/* int rl_ripcmp(int x): x > rl_val ? 1 : 0 (a RIP-relative compare, then a jcc rel8) */
rl_ripcmp:
	cmpl rl_val(%rip), %edi
	jg 1f
	xorl %eax, %eax
	ret
1:	movl $1, %eax
	ret
	.size rl_ripcmp, .-rl_ripcmp

	.p2align 4
	.globl rl_jcc8
	.type rl_jcc8, @function
/* int rl_jcc8(int x): x == 0 ? 100 : x * 2 (a jcc rel8 inside the region) */
rl_jcc8:
	testl %edi, %edi
	je 1f
	leal (%rdi,%rdi), %eax
	ret
1:	movl $100, %eax
	ret
	.size rl_jcc8, .-rl_jcc8

	.p2align 4
	.globl rl_jmp8
	.type rl_jmp8, @function
/* int rl_jmp8(int x): x + 7 (an unconditional jmp rel8 in the region) */
rl_jmp8:
	movl %edi, %eax
	jmp 1f
	.byte 0xcc, 0xcc, 0xcc
1:	addl $7, %eax
	ret
	.size rl_jmp8, .-rl_jmp8

	.p2align 4
	.globl rl_calllast
	.type rl_calllast, @function
/* int rl_calllast(int x): rl_helper(x) + 1 (push, then a call as the region's last instruction) */
rl_calllast:
	pushq %rbx
	call rl_helper
	popq %rbx
	addl $1, %eax
	ret
	.size rl_calllast, .-rl_calllast

	.p2align 4
	.globl rl_movcall
	.type rl_movcall, @function
/* int rl_movcall(int x): rl_helper(x) + 2 (a call last, the state before it the entry's) */
rl_movcall:
	movq %rdi, %r8
	call rl_helper
	addl $2, %eax
	ret
	.size rl_movcall, .-rl_movcall

	.p2align 4
	.globl rl_callmem
	.type rl_callmem, @function
/* int rl_callmem(int x): rl_helper(x) + 2 through a pointer (push, then
 * call [rip+x] as the region's last instruction: gcc -fno-plt's calls) */
rl_callmem:
	pushq %rbx
	call *rl_helper_ptr(%rip)
	popq %rbx
	addl $2, %eax
	ret
	.size rl_callmem, .-rl_callmem

	.p2align 4
	.globl rl_frame
	.type rl_frame, @function
/* long rl_frame(long x): x * 3 through a frame (push rbp; mov rbp,rsp; sub rsp) */
rl_frame:
	pushq %rbp
	movq %rsp, %rbp
	subq $16, %rsp
	movq %rdi, -8(%rbp)
	movq -8(%rbp), %rax
	leaq (%rax,%rax,2), %rax
	leave
	ret
	.size rl_frame, .-rl_frame

	.p2align 4
	.globl rl_regsave
	.type rl_regsave, @function
/* long rl_regsave(long x, long y): 2 * x + y, rbp and rbx saved and then
 * written as ordinary registers (gcc -O2, liblzma's lzma_*_encoder) */
rl_regsave:
	pushq %rbp
	movq %rsi, %rbp
	pushq %rbx
	movq %rdi, %rbx
	leaq (%rbp,%rbx,2), %rax
	popq %rbx
	popq %rbp
	ret
	.size rl_regsave, .-rl_regsave

	.p2align 4
	.globl rl_endbr
	.type rl_endbr, @function
/* int rl_endbr(int x): x - 1, behind an endbr64 */
rl_endbr:
	endbr64
	leal -1(%rdi), %eax
	nopl 0(%rax)
	ret
	.size rl_endbr, .-rl_endbr

	.p2align 4
	.globl rl_helper
	.type rl_helper, @function
rl_helper:
	leal 10(%rdi), %eax
	ret
	.size rl_helper, .-rl_helper

/* ------------------------------------------------------------ refusals */

	.p2align 4
	.globl rl_loopback
	.type rl_loopback, @function
/* a branch into the first bytes */
rl_loopback:
	xorl %eax, %eax
1:	addl $1, %eax
	cmpl %edi, %eax
	jl 1b
	ret
	.size rl_loopback, .-rl_loopback

	.p2align 4
	.globl rl_switch
	.type rl_switch, @function
/* an indirect jump through a register */
rl_switch:
	leaq 1f(%rip), %rax
	jmp *%rax
1:	movl %edi, %eax
	ret
	.size rl_switch, .-rl_switch

	.p2align 4
	.globl rl_callfirst
	.type rl_callfirst, @function
/* a call that is not the region's last instruction */
rl_callfirst:
	call *%rsi
	addl $1, %eax
	ret
	.size rl_callfirst, .-rl_callfirst

	.p2align 4
	.globl rl_sys
	.type rl_sys, @function
/* a system call in the region */
rl_sys:
	movw $39, %ax
	syscall
	ret
	.size rl_sys, .-rl_sys

	.p2align 4
	.globl rl_tiny
	.type rl_tiny, @function
/* shorter than the jump */
rl_tiny:
	movl %edi, %eax
	ret
	.size rl_tiny, .-rl_tiny

	.p2align 4
	.globl rl_stackodd
	.type rl_stackodd, @function
/* aligns the stack: no CFI could say where the CFA is */
rl_stackodd:
	andq $-16, %rsp
	movl %edi, %eax
	ret
	.size rl_stackodd, .-rl_stackodd

	.p2align 4
	.globl rl_leaf5
	.type rl_leaf5, @function
/* long rl_leaf5(long x): x + 8, in 5 bytes: the region ends with the ret */
rl_leaf5:
	leaq 8(%rdi), %rax
	ret
	.size rl_leaf5, .-rl_leaf5

	.data
	.globl rl_val, rl_table
rl_val:	.long 1000
	.p2align 3
rl_helper_ptr:	.quad rl_helper
rl_table: .long 11, 22, 33, 44
	.section .note.GNU-stack,"",@progbits
