/* Register saves and loads of images (see tramp.c): the argument
 * registers, vectors at the width in use, keep_all's every register, the
 * return registers. */
#include "arch/x86_64/tramp_em.h"

#include "arch/x86_64/keep_avx.h"

static const enum xreg int_args[6] = { XREG_RDI, XREG_RSI, XREG_RDX, XREG_RCX, XREG_R8, XREG_R9 };
static const enum xreg keep_gprs[KEEP_GPRS] = { XREG_RAX, XREG_RCX, XREG_RDX, XREG_RSI, XREG_RDI,
						XREG_R8,  XREG_R9,  XREG_R10, XREG_R11 };

/* ------------------------------------------------ vectors, full width */

static void vec_store(struct em *e, int tier, int32_t area, int reg)
{
	if (tier == TIER_ZMM)
		xw_store_zmm(&e->w, B(e), D(e, area + 64 * reg), reg);
	else
		xw_store_ymm(&e->w, B(e), D(e, area + 32 * reg), reg);
}

static void vec_load(struct em *e, int tier, int reg, int32_t area)
{
	if (tier == TIER_ZMM)
		xw_load_zmm(&e->w, reg, B(e), D(e, area + 64 * reg));
	else
		xw_load_ymm(&e->w, reg, B(e), D(e, area + 32 * reg));
}

/* Saves vector registers 0..n-1 at the width in use: xmm at xoff[i]
 * (always: handlers read ctx->xmm), and when their upper halves are in use
 * (XINUSE, or always where the CPU cannot tell) the whole registers into
 * wide_area too, recording the tier in the flag byte.  Upper halves not in
 * use are zero, and the VEX.128 reload zeroes them again: the state the
 * body sees is exact either way, and a caller whose upper state is clean
 * stays clean (no SSE/AVX transition penalty in its SSE code).  Clobbers
 * rax, rcx, rdx (saved before). */
static void save_vec_wide_probed(struct em *e, int n, const int32_t *xoff, int32_t wide_area, int32_t flag,
				 int32_t probed);

static void save_vec_wide(struct em *e, int n, const int32_t *xoff, int32_t wide_area, int32_t flag)
{
	save_vec_wide_probed(e, n, xoff, wide_area, flag, e->probed);
}

/* The same, with the tier read from the flag byte at probed (>= 0) that a
 * save at the same instant recorded (keep_scan): no xgetbv, which is slow
 * on some CPUs (about 18 ns, 60 cycles, on an AMD EPYC VM: more than the
 * rest of an image). */
static void save_vec_wide_probed(struct em *e, int n, const int32_t *xoff, int32_t wide_area, int32_t flag,
				 int32_t probed)
{
	int top = e->vec == XW_VEC_AVX512 ? TIER_ZMM : TIER_YMM, done = xw_new_label(&e->w);
	int ltier[3] = { -1, xw_new_label(&e->w), xw_new_label(&e->w) };

	for (int i = 0; i < n; i++)
		xw_store_xmm(&e->w, B(e), D(e, xoff[i]), i);
	if (!xw_has_xinuse()) {
		xw_store_imm8(&e->w, B(e), D(e, flag), (uint8_t)top);
		for (int i = 0; i < n; i++)
			vec_store(e, top, wide_area, i);
		xw_bind(&e->w, ltier[1]);
		xw_bind(&e->w, ltier[2]);
		xw_bind(&e->w, done);
		return;
	}
	xw_store_imm8(&e->w, B(e), D(e, flag), TIER_XMM);
	if (probed >= 0) {
		xw_cmp_imm8(&e->w, B(e), D(e, probed), TIER_YMM);
		xw_jcc_label(&e->w, XCC_E, ltier[TIER_YMM]);
		if (top == TIER_ZMM)
			xw_jcc_label(&e->w, XCC_A, ltier[TIER_ZMM]);
		xw_jmp_label(&e->w, done);
	} else {
		xw_xgetbv_inuse(&e->w);
		if (top == TIER_ZMM) {
			xw_test_eax_imm(&e->w, XINUSE_ZMM_HI256);
			xw_jnz_label(&e->w, ltier[TIER_ZMM]);
		}
		xw_test_eax_imm(&e->w, XINUSE_AVX);
		xw_jcc_label(&e->w, XCC_E, done);
	}
	for (int t = TIER_YMM; t <= top; t++) {
		xw_bind(&e->w, ltier[t]);
		xw_store_imm8(&e->w, B(e), D(e, flag), (uint8_t)t);
		for (int i = 0; i < n; i++)
			vec_store(e, t, wide_area, i);
		if (t < top)
			xw_jmp_label(&e->w, done);
	}
	if (top == TIER_YMM)
		xw_bind(&e->w, ltier[TIER_ZMM]);
	xw_bind(&e->w, done);
}

/* Registers first..n-1. */
void em_load_vec_wide(struct em *e, int first, int n, const int32_t *xoff, int32_t wide_area, int32_t flag)
{
	int top = e->vec == XW_VEC_AVX512 ? TIER_ZMM : TIER_YMM, done = xw_new_label(&e->w);
	int lymm = xw_new_label(&e->w), lzmm = xw_new_label(&e->w);

	xw_cmp_imm8(&e->w, B(e), D(e, flag), TIER_YMM);
	xw_jcc_label(&e->w, XCC_E, lymm);
	xw_jcc_label(&e->w, XCC_A, lzmm);
	for (int i = first; i < n; i++)
		xw_load_xmm(&e->w, i, B(e), D(e, xoff[i]));
	xw_jmp_label(&e->w, done);
	xw_bind(&e->w, lymm);
	for (int i = first; i < n; i++)
		vec_load(e, TIER_YMM, i, wide_area);
	if (top == TIER_ZMM)
		xw_jmp_label(&e->w, done);
	xw_bind(&e->w, lzmm);
	for (int i = first; top == TIER_ZMM && i < n; i++)
		vec_load(e, TIER_ZMM, i, wide_area);
	xw_bind(&e->w, done);
}

/* ------------------------------------------------- argument registers */

/* regs_live after it: the argument registers still hold the arguments. */
bool em_save_args(struct em *e)
{
	const struct tramp_spec *s = e->s;
	const struct layout *l = &e->l;

	for (int i = 0; i < s->nint; i++)
		st(e, l->args + 8 * i, int_args[i]);
	if (s->save_rax)
		st(e, l->rax, XREG_RAX);
	if (s->save_r10)
		st(e, l->r10, XREG_R10);
	for (int i = 0; s->save_xmm_hi && i < 8; i++)
		xw_store_xmm(&e->w, B(e), D(e, l->xmm_hi + 16 * i), 8 + i);
	if (s->full_vec && e->vec > XW_VEC_SSE) {
		int32_t xoff[8];

		for (int i = 0; i < 8; i++)
			xoff[i] = l->xmm + 16 * i;
		save_vec_wide(e, 8, xoff, l->wide, l->vflag);
		return !xw_has_xinuse(); /* xgetbv took rax, rcx, rdx */
	}
	for (int i = 0; i < (s->full_vec ? 8 : s->nsse); i++)
		xw_store_xmm(&e->w, B(e), D(e, l->xmm + 16 * i), i);
	return true;
}

void em_restore_args(struct em *e)
{
	const struct tramp_spec *s = e->s;
	const struct layout *l = &e->l;

	int32_t xoff[8];

	for (int i = 0; i < 8; i++)
		xoff[i] = l->xmm + 16 * i;
	if (s->full_vec && e->vec > XW_VEC_SSE)
		em_load_vec_wide(e, 0, 8, xoff, l->wide, l->vflag);
	else
		for (int i = 0; i < (s->full_vec ? 8 : s->nsse); i++)
			xw_load_xmm(&e->w, i, B(e), D(e, l->xmm + 16 * i));
	for (int i = 0; s->save_xmm_hi && i < 8; i++)
		xw_load_xmm(&e->w, 8 + i, B(e), D(e, l->xmm_hi + 16 * i));
	for (int i = 0; i < s->nint; i++)
		ld(e, int_args[i], l->args + 8 * i);
	if (s->save_rax)
		ld(e, XREG_RAX, l->rax);
	if (s->save_r10)
		ld(e, XREG_R10, l->r10);
}

/* keep_all: the registers as they are now, and back.  The general ones
 * are stored first: the vectors' width probe (xgetbv) takes rax rcx rdx. */
void em_keep_save_gprs(struct em *e)
{
	for (int i = 0; e->s->keep_all && i < KEEP_GPRS; i++)
		st(e, e->l.keep + 8 * i, keep_gprs[i]);
}

/* Whether keep_all images find the upper halves' state by looking at them
 * (AVX: ymm0-15 are all that vzeroupper touches) rather than by xgetbv:
 * vptest against a mask of the upper halves says whether all are zero.
 * Zero: only the xmm halves are kept, and put back after a vzeroupper,
 * which leaves the upper state clean, as XINUSE would have found it (or
 * zeroes held in it: the same values).  r11 (a scratch register at both
 * points) holds the mask's address. */
bool em_keep_scan(const struct em *e)
{
	return e->s->keep_all && e->vec == XW_VEC_AVX && !e->s->fn_in_r11;
}

/* Out of line (keep_avx.c): r11 at the xmm slots. */
static void keep_scan_call(struct em *e, bool save)
{
	xw_lea(&e->w, XREG_R11, B(e), D(e, e->l.keep_x));
	xw_call_keep_regs(&e->w, (uintptr_t)(save ? pt_keep_save_avx : pt_keep_load_avx));
	if (save)
		e->probed = e->l.keep_flag;
}

static void keep_vecs(struct em *e, bool save)
{
	int32_t xoff[KEEP_VECS];

	if (em_keep_scan(e)) {
		keep_scan_call(e, save);
		return;
	}
	for (int i = 0; i < KEEP_VECS; i++)
		xoff[i] = e->l.keep_x + 16 * i;
	if (e->vec > XW_VEC_SSE)
		if (save)
			save_vec_wide(e, KEEP_VECS, xoff, e->l.keep_w, e->l.keep_flag);
		else
			em_load_vec_wide(e, 0, KEEP_VECS, xoff, e->l.keep_w, e->l.keep_flag);
	else
		for (int i = 0; i < KEEP_VECS; i++)
			if (save)
				xw_store_xmm(&e->w, B(e), D(e, xoff[i]), i);
			else
				xw_load_xmm(&e->w, i, B(e), D(e, xoff[i]));
}

void em_keep_save_vecs(struct em *e)
{
	if (e->s->keep_all)
		keep_vecs(e, true);
}

void em_keep_load(struct em *e)
{
	if (!e->s->keep_all)
		return;
	keep_vecs(e, false);
	for (int i = 0; i < KEEP_GPRS; i++)
		ld(e, keep_gprs[i], e->l.keep + 8 * i);
}

/* ----------------------------------------------------- return registers */

/* st0 (then st1) into x87, as long as they hold something; the count in
 * x87n.  fxam tells an empty register without faulting. */
static void save_x87_if_any(struct em *e, int32_t area)
{
	int none = xw_new_label(&e->w);

	xw_store_imm8(&e->w, B(e), D(e, e->l.x87n), 0);
	/* The x87 stack is empty at a call (psABI), so a body that returns
	 * nothing there leaves TOP as it was: skip the probe, whose fxam
	 * costs more than the rest of the image (80 ns here) */
	xw_fnstsw_ax(&e->w);
	xw_xor_ax_mem16(&e->w, B(e), D(e, e->l.fsw));
	xw_test_eax_imm(&e->w, FSW_TOP);
	xw_jcc_label(&e->w, XCC_E, none);
	for (int i = 0; i < 2; i++) {
		xw_fxam(&e->w);
		xw_fnstsw_ax(&e->w);
		xw_and_eax(&e->w, FSW_CLASS);
		xw_cmp_eax(&e->w, FSW_EMPTY);
		xw_jcc_label(&e->w, XCC_E, none);
		xw_fstp_tword(&e->w, B(e), D(e, area + 16 * i));
		xw_store_imm8(&e->w, B(e), D(e, e->l.x87n), (uint8_t)(i + 1));
	}
	xw_bind(&e->w, none);
}

static void load_x87_saved(struct em *e, int32_t area)
{
	int none = xw_new_label(&e->w), one = xw_new_label(&e->w);

	xw_cmp_imm8(&e->w, B(e), D(e, e->l.x87n), 1);
	xw_jcc_label(&e->w, XCC_B, none);
	xw_jcc_label(&e->w, XCC_E, one);
	xw_fld_tword(&e->w, B(e), D(e, area + 16));
	xw_bind(&e->w, one);
	xw_fld_tword(&e->w, B(e), D(e, area));
	xw_bind(&e->w, none);
}

/* After the body: the return registers into ctx (and the areas past it).
 * An fmod_ret override returns what its handler put in ctx, which is what
 * restore_ret reads back. */
void em_save_ret(struct em *e)
{
	const struct tramp_spec *s = e->s;
	unsigned r = s->ret_full ? TRAMP_RET_ALL : s->ret_regs;

	if (r & TRAMP_RET_RAX)
		st(e, CTX(ret), XREG_RAX);
	if (r & TRAMP_RET_RDX)
		st(e, CTX(ret2), XREG_RDX);
	if (s->ret_full) {
		int32_t xoff[RET_VECS] = { CTX(fret), CTX(fret) + 16, e->l.xret, e->l.xret + 16 };

		if (e->vec > XW_VEC_SSE) {
			save_vec_wide(e, RET_VECS, xoff, e->l.wret, e->l.rflag);
		} else {
			for (int i = 0; i < RET_VECS; i++)
				xw_store_xmm(&e->w, B(e), D(e, xoff[i]), i);
		}
	} else {
		if (r & TRAMP_RET_XMM0)
			xw_store_xmm(&e->w, B(e), D(e, CTX(fret)), 0);
		if (r & TRAMP_RET_XMM1)
			xw_store_xmm(&e->w, B(e), D(e, CTX(fret) + 16), 1);
	}
	if (s->ret_full) {
		save_x87_if_any(e, e->l.x87);
	} else if (r & TRAMP_RET_ST0) {
		/* a long double (st0) or complex long double (st0, st1) return:
		 * kept as 80-bit values in ctx->fret, where fexit handlers see
		 * them, and off the x87 stack while handlers run */
		xw_fstp_tword(&e->w, B(e), D(e, CTX(fret)));
		if (r & TRAMP_RET_ST1)
			xw_fstp_tword(&e->w, B(e), D(e, CTX(fret) + 16));
	}
}

void em_restore_ret(struct em *e)
{
	const struct tramp_spec *s = e->s;
	unsigned r = s->ret_full ? TRAMP_RET_ALL : s->ret_regs;

	/* An ms_abi caller keeps rdi, rsi and xmm6-15 across the call; the
	 * body kept them, the exit handlers need not have. */
	for (int i = 6; s->save_xmm_hi && i < 8; i++)
		xw_load_xmm(&e->w, i, B(e), D(e, e->l.xmm + 16 * i));
	for (int i = 0; s->save_xmm_hi && i < 8; i++)
		xw_load_xmm(&e->w, 8 + i, B(e), D(e, e->l.xmm_hi + 16 * i));
	if (s->save_xmm_hi) {
		ld(e, XREG_RDI, e->l.args);
		ld(e, XREG_RSI, e->l.args + 8);
	}
	if (s->ret_full) {
		load_x87_saved(e, e->l.x87);
	} else if (r & TRAMP_RET_ST0) {
		if (r & TRAMP_RET_ST1)
			xw_fld_tword(&e->w, B(e), D(e, CTX(fret) + 16));
		xw_fld_tword(&e->w, B(e), D(e, CTX(fret)));
	}
	if (s->ret_full) {
		int32_t xoff[RET_VECS] = { CTX(fret), CTX(fret) + 16, e->l.xret, e->l.xret + 16 };

		if (e->vec > XW_VEC_SSE) {
			em_load_vec_wide(e, 0, RET_VECS, xoff, e->l.wret, e->l.rflag);
		} else {
			for (int i = 0; i < RET_VECS; i++)
				xw_load_xmm(&e->w, i, B(e), D(e, xoff[i]));
		}
	} else {
		if (r & TRAMP_RET_XMM0)
			xw_load_xmm(&e->w, 0, B(e), D(e, CTX(fret)));
		if (r & TRAMP_RET_XMM1)
			xw_load_xmm(&e->w, 1, B(e), D(e, CTX(fret) + 16));
	}
	if (r & TRAMP_RET_RAX)
		ld(e, XREG_RAX, CTX(ret));
	if (r & TRAMP_RET_RDX)
		ld(e, XREG_RDX, CTX(ret2));
}

/* An override that sets nothing returns 0 in every return register, not
 * what the stack held; keep_all: 0 in rax, and in the others what they held
 * at entry, as a body that does not write them would. */
void em_zero_ret(struct em *e)
{
	bool keep = e->s->keep_all;

	xw_mov_imm64(&e->w, XREG_R11, 0);
	st(e, CTX(ret), XREG_R11);
	if (keep)
		ld(e, XREG_R11, e->l.keep + 8 * 2); /* rdx */
	st(e, CTX(ret2), XREG_R11);
	for (int i = 0; i < 4; i++) {
		if (keep)
			ld(e, XREG_R11, e->l.keep_x + 8 * i); /* xmm0-1 */
		st(e, CTX(fret) + 8 * i, XREG_R11);
	}
	for (int i = 0; e->s->ret_full && i < 4; i++) {
		if (keep)
			ld(e, XREG_R11, e->l.keep_x + 32 + 8 * i); /* xmm2-3 */
		st(e, e->l.xret + 8 * i, XREG_R11);
	}
	xw_store_imm8(&e->w, B(e), D(e, e->l.rflag), TIER_XMM);
	xw_store_imm8(&e->w, B(e), D(e, e->l.x87n), 0);
}
