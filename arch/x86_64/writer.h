/* A small x86-64 machine-code writer for trampolines: one function per
 * instruction form, labels with rel32 fixups, code emitted for a known final
 * address.  No instruction bytes are written anywhere else. */
#ifndef PT_ARCH_WRITER_H
#define PT_ARCH_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum xreg {
	XREG_RAX = 0, XREG_RCX, XREG_RDX, XREG_RBX, XREG_RSP, XREG_RBP, XREG_RSI, XREG_RDI,
	XREG_R8, XREG_R9, XREG_R10, XREG_R11, XREG_R12, XREG_R13, XREG_R14, XREG_R15,
};

/* an exit handler takes a label (its liveness test): room for 100 links */
#define XW_MAX_LABELS 128
#define XW_MAX_FIXUPS 256

struct xw {
	uint8_t *buf;
	size_t len, cap;
	uintptr_t pc0;        /* address buf[0] will have */
	bool overflow;        /* buf too small or too many labels: the result is unusable */
	bool far;             /* sizing: every call/jmp to an address takes its long form */
	long label[XW_MAX_LABELS]; /* offsets, -1 while unbound */
	struct { size_t at; int label; } fixup[XW_MAX_FIXUPS];
	int nfixups;
};

/* What the CPU (and the kernel's XCR0) let images use; POKETRACE_VEC=sse,
 * avx or avx512 lowers it (tests of the narrower code on a wider CPU). */
enum xw_vec { XW_VEC_SSE = 16, XW_VEC_AVX = 32, XW_VEC_AVX512 = 64 };
int xw_vec_width(void);
/* Whether xgetbv with ecx = 1 (XINUSE) is available. */
bool xw_has_xinuse(void);

void xw_init(struct xw *w, uint8_t *buf, size_t cap, uintptr_t pc0);
uintptr_t xw_pc(const struct xw *w);
/* Resolves label fixups; false if any label is unbound or buf overflowed. */
bool xw_finish(struct xw *w);

int xw_new_label(struct xw *w);
void xw_bind(struct xw *w, int label);

void xw_bytes(struct xw *w, const void *p, size_t n);
void xw_endbr64(struct xw *w);
void xw_nop5(struct xw *w);
void xw_push(struct xw *w, enum xreg r);
void xw_pop(struct xw *w, enum xreg r);
void xw_mov_rr(struct xw *w, enum xreg dst, enum xreg src);
void xw_mov_imm64(struct xw *w, enum xreg dst, uint64_t imm);
void xw_store(struct xw *w, enum xreg base, int32_t disp, enum xreg src);  /* mov [base+disp], src */
void xw_load(struct xw *w, enum xreg dst, enum xreg base, int32_t disp);   /* mov dst, [base+disp] */
void xw_lea(struct xw *w, enum xreg dst, enum xreg base, int32_t disp);
void xw_lea_rip(struct xw *w, enum xreg dst, uintptr_t target); /* lea dst, [rip+rel32] */
void xw_store_xmm(struct xw *w, enum xreg base, int32_t disp, int xmm);    /* movups [base+disp], xmmN */
void xw_load_xmm(struct xw *w, int xmm, enum xreg base, int32_t disp);     /* movups xmmN, [base+disp] */
/* Full-width vector moves (unaligned), xmm/ymm/zmm 0-7: only on CPUs that
 * have them (xw_vec_width). */
void xw_store_ymm(struct xw *w, enum xreg base, int32_t disp, int ymm);    /* vmovdqu [base+disp], ymmN */
void xw_load_ymm(struct xw *w, int ymm, enum xreg base, int32_t disp);
void xw_store_zmm(struct xw *w, enum xreg base, int32_t disp, int zmm);    /* vmovdqu64 [base+disp], zmmN */
void xw_load_zmm(struct xw *w, int zmm, enum xreg base, int32_t disp);
/* x87: the return value registers st0/st1. */
void xw_fxam(struct xw *w);                                                /* fxam */
void xw_fnstsw_ax(struct xw *w);                                           /* fnstsw ax */
void xw_fnstsw_mem(struct xw *w, enum xreg base, int32_t disp);            /* fnstsw word [base+disp] */
void xw_xor_ax_mem16(struct xw *w, enum xreg base, int32_t disp);          /* xor ax, word [base+disp] */
void xw_fstp_tword(struct xw *w, enum xreg base, int32_t disp);            /* fstp tword [base+disp] */
void xw_fld_tword(struct xw *w, enum xreg base, int32_t disp);             /* fld tword [base+disp] */
void xw_xgetbv_inuse(struct xw *w);          /* mov ecx, 1; xgetbv: XINUSE in eax (clobbers rcx, rdx) */
void xw_mov_imm32(struct xw *w, enum xreg dst, uint32_t imm);              /* mov r32, imm32 */
void xw_and_eax(struct xw *w, uint32_t imm);                               /* and eax, imm32 */
void xw_cmp_eax(struct xw *w, uint32_t imm);                               /* cmp eax, imm32 */
void xw_test_eax_imm(struct xw *w, uint32_t imm);                          /* test eax, imm32 */
void xw_and_imm8(struct xw *w, enum xreg r, int8_t imm);                   /* and r64, imm8 */
void xw_add_rr(struct xw *w, enum xreg dst, enum xreg src);                /* add dst, src */
void xw_store_imm8(struct xw *w, enum xreg base, int32_t disp, uint8_t v); /* mov byte [base+disp], v */
void xw_cmp_imm8(struct xw *w, enum xreg base, int32_t disp, uint8_t v);   /* cmp byte [base+disp], v */
void xw_sub_rsp(struct xw *w, int32_t n);
void xw_add_rsp(struct xw *w, int32_t n);
void xw_test_eax(struct xw *w);                   /* test eax, eax */
void xw_or_load(struct xw *w, enum xreg dst, enum xreg base, int32_t disp); /* or dst, [base+disp] */
void xw_test_rr(struct xw *w, enum xreg a, enum xreg b); /* test a, b (64-bit) */
void xw_vptest_ymm_r11(struct xw *w, int ymm);    /* vptest ymmN, [r11] */
void xw_vzeroupper(struct xw *w);
void xw_call(struct xw *w, uintptr_t target);     /* rel32 if reachable, else via r11 */
void xw_jmp(struct xw *w, uintptr_t target);      /* rel32 if reachable, else via r11 */
void xw_jmp_keep_regs(struct xw *w, uintptr_t target); /* rel32, else jmp [rip]; .quad target */
void xw_call_keep_regs(struct xw *w, uintptr_t target); /* rel32, else call [rip+2]; jmp +8; .quad */
void xw_jmp_label(struct xw *w, int label);
void xw_jnz_label(struct xw *w, int label);
enum xcc { XCC_B = 2, XCC_E = 4, XCC_NE = 5, XCC_A = 7 };
void xw_jcc_label(struct xw *w, enum xcc cc, int label);
void xw_fs_cmp_q0(struct xw *w, int32_t tpoff);              /* cmp qword fs:[tpoff], 0 */
void xw_fs_store_imm32(struct xw *w, int32_t tpoff, uint32_t v); /* mov qword fs:[tpoff], imm32 */
void xw_fs_store(struct xw *w, int32_t tpoff, enum xreg src);  /* mov fs:[tpoff], src */
void xw_cmp_mem(struct xw *w, enum xreg base, int32_t disp, enum xreg r); /* cmp [base+disp], r */
void xw_jmp_mem_r11(struct xw *w);                           /* jmp [r11] */
void xw_lock_inc_abs(struct xw *w, uintptr_t addr);          /* via r11 */
void xw_leave(struct xw *w);
void xw_ret(struct xw *w);

#endif
