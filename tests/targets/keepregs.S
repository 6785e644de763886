/* Registers a caller keeps across a call to a function that does not write
 * them, as gcc's -fipa-ra does at -O2 (t_reloc_hooks kept_registers).
 *
 *   long rl_keeper(long x)          x * 3 + 1, writing rax only
 *   long rl_keep_check(long x, int avx)
 *       loads rcx rdx rsi r8-r11, xmm0-15 (avx 1: ymm0-15; avx 2: xmm0-15
 *       by VEX, their upper halves zero) with known values, calls
 *       rl_keeper(x) keeping them, and returns which changed: bits 0-7 rcx
 *       rdx rsi rdi r8 r9 r10 r11, bits 8-23 xmm/ymm0-15 (avx 2: the xmm
 *       half, and the upper half still zero), avx 1: bits 24-39 the xmm
 *       halves of ymm0-15 (0: all kept); rl_keeper's result in
 *       rl_keep_result
 *   void rl_clobber(int avx)        writes every register a call may (avx
 *                                   2: ymm0-15, left dirty: no vzeroupper) */
	.text
	.p2align 4
	.globl rl_keeper
	.type rl_keeper, @function
rl_keeper:
	leaq 1(%rdi,%rdi,2), %rax
	ret
	.size rl_keeper, .-rl_keeper

/* the value each general register is loaded with */
#define K_RCX $0x1111111111111111
#define K_RDX $0x2222222222222222
#define K_RSI $0x3333333333333333
#define K_R8 $0x5555555555555555
#define K_R9 $0x6666666666666666
#define K_R10 $0x7777777777777777
#define K_R11 $0x0888888888888888

	.macro kept reg, value, bit
	movabsq \value, %rax
	cmpq %rax, \reg
	je 1f
	orq $(1 << \bit), %rbx
1:
	.endm

	.p2align 4
	.globl rl_keep_check
	.type rl_keep_check, @function
rl_keep_check:
	pushq %rbx
	pushq %r12
	pushq %r13
	movq %rdi, %r12
	movl %esi, %r13d
	testl %r13d, %r13d
	jnz 6f
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu rl_kv+32*\i(%rip), %xmm\i
	.endr
	jmp 3f
6:
	cmpl $2, %r13d
	jne 2f
	vzeroupper
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu rl_kv+32*\i(%rip), %xmm\i
	.endr
	jmp 3f
2:
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu rl_kv+32*\i(%rip), %ymm\i
	.endr
3:
	movabsq K_RCX, %rcx
	movabsq K_RDX, %rdx
	movabsq K_RSI, %rsi
	movabsq K_R8, %r8
	movabsq K_R9, %r9
	movabsq K_R10, %r10
	movabsq K_R11, %r11
	movq %r12, %rdi
	call rl_keeper
	movq %rax, rl_keep_result(%rip)
	xorl %ebx, %ebx
	kept %rcx, K_RCX, 0
	kept %rdx, K_RDX, 1
	kept %rsi, K_RSI, 2
	cmpq %r12, %rdi
	je 1f
	orq $(1 << 3), %rbx
1:
	kept %r8, K_R8, 4
	kept %r9, K_R9, 5
	kept %r10, K_R10, 6
	kept %r11, K_R11, 7
	cmpl $2, %r13d
	je 7f
	testl %r13d, %r13d
	jnz 4f
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	pcmpeqb rl_kv+32*\i(%rip), %xmm\i
	pmovmskb %xmm\i, %eax
	cmpl $0xffff, %eax
	je 1f
	orq $(1 << (8 + \i)), %rbx
1:
	.endr
	jmp 5f
4:
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vpcmpeqb rl_kv+32*\i(%rip), %ymm\i, %ymm\i
	vpmovmskb %ymm\i, %eax
	cmpw $-1, %ax
	je 8f
	btsq $(24 + \i), %rbx
8:
	cmpl $-1, %eax
	je 1f
	orq $(1 << (8 + \i)), %rbx
1:
	.endr
	vzeroupper
	jmp 5f
7:
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vptest rl_upper(%rip), %ymm\i
	jz 1f
	orq $(1 << (8 + \i)), %rbx
1:
	vpcmpeqb rl_kv+32*\i(%rip), %xmm\i, %xmm\i
	vpmovmskb %xmm\i, %eax
	cmpl $0xffff, %eax
	je 1f
	orq $(1 << (8 + \i)), %rbx
1:
	.endr
	vzeroupper
5:
	movq %rbx, %rax
	popq %r13
	popq %r12
	popq %rbx
	ret
	.size rl_keep_check, .-rl_keep_check

	.p2align 4
	.globl rl_clobber
	.type rl_clobber, @function
rl_clobber:
	movl %edi, %r11d
	testl %r11d, %r11d
	jnz 1f
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	pcmpeqd %xmm\i, %xmm\i
	.endr
	jmp 3f
1:
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vpcmpeqd %ymm\i, %ymm\i, %ymm\i
	.endr
	cmpl $2, %r11d
	je 3f
	vzeroupper
3:
	movq $-1, %rax
	movq %rax, %rcx
	movq %rax, %rdx
	movq %rax, %rsi
	movq %rax, %rdi
	movq %rax, %r8
	movq %rax, %r9
	movq %rax, %r10
	movq %rax, %r11
	ret
	.size rl_clobber, .-rl_clobber

	.data
	.p2align 5
rl_upper: /* the upper half of a ymm register */
	.quad 0, 0, -1, -1
	.p2align 5
	.globl rl_keep_result
rl_keep_result: .quad 0
	.p2align 5
/* 32 bytes per register: byte j of register i is (16 * i + j + 1) mod 256 */
rl_kv:
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	.irp j, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32
	.byte (16 * \i + \j) & 0xff
	.endr
	.endr
	.section .note.GNU-stack,"",@progbits
