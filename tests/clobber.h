/* What any handler may legitimately do to the registers (System V x86-64
 * psABI 3.2.1): clobber every caller-saved one.  Test handlers call this so
 * that an image which relies on a handler leaving something alone is seen:
 * rdi rsi rdx rcx r8-r11 rax get junk, xmm0-15 all ones in their full
 * width (the upper halves of ymm/zmm too, where the CPU has them, left
 * dirty: no vzeroupper), and the x87 stack is filled to its 8 registers and
 * emptied again (which turns a value an image left in st0 into a NaN). */
#ifndef PT_TEST_CLOBBER_H
#define PT_TEST_CLOBBER_H

static inline void clobber_gprs(void)
{
	__asm__ volatile("mov $0x1111, %%rdi\n mov $0x2222, %%rsi\n mov $0x3333, %%rdx\n"
			 "mov $0x4444, %%rcx\n mov $0x5555, %%r8\n mov $0x6666, %%r9\n"
			 "mov $0x7777, %%r10\n mov $0x8888, %%r11\n mov $0x9999, %%rax\n"
			 ::: "rdi", "rsi", "rdx", "rcx", "r8", "r9", "r10", "r11", "rax");
}

static inline void clobber_vectors(void)
{
#define XMM_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
		     "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
	if (__builtin_cpu_supports("avx512f"))
		__asm__ volatile(".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
				 "vpternlogd $0xff, %%zmm\\r, %%zmm\\r, %%zmm\\r\n.endr" ::: XMM_CLOBBERS);
	else if (__builtin_cpu_supports("avx"))
		__asm__ volatile(".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
				 "vcmptrueps %%ymm\\r, %%ymm\\r, %%ymm\\r\n.endr" ::: XMM_CLOBBERS);
	else
		__asm__ volatile(".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
				 "pcmpeqd %%xmm\\r, %%xmm\\r\n.endr" ::: XMM_CLOBBERS);
#undef XMM_CLOBBERS
}

static inline void clobber_x87(void)
{
	__asm__ volatile(".rept 8\n fld1\n .endr\n .rept 8\n fstp %%st(0)\n .endr" ::: "memory");
}

static inline void clobber_all(void)
{
	clobber_x87();
	clobber_vectors();
	clobber_gprs();
}

#endif
