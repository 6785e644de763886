/* Image generation.  The frame of every image:
 *
 *   entry mode (site: call image)        call-orig mode (site: jmp image)
 *   [rbp+24] caller's stack args          [rbp+16] caller's stack args
 *   [rbp+16] return into the caller       [rbp+8]  return into the caller
 *   [rbp+8]  site+5 (the body)            [rbp]    saved rbp
 *   [rbp]    saved rbp
 *   [base]   struct poketrace_ctx (the handlers' ctx; also the register
 *            save area), then the extended save area (r10, the frame's
 *            generation, xmm8-15, the full-width vectors, the x87 return)
 *            base = rbp - frame
 *
 * Entry mode runs the entry handlers and returns into the body.  Call-orig
 * mode runs entry and fmod_ret handlers, calls the body with the registers
 * and stack arguments restored — through the function's landing pad
 * (tramp_emit_pad), so that the body's return address is not in the image —
 * and, entered from the pad, saves the return registers into ctx, runs the
 * exit handlers and returns straight to the caller: no return address is
 * rewritten and call/ret stay paired for the return predictor.  The pad
 * enters the exit path of the image current when the body returns, which
 * may not be the one that built the frame: call-orig frames of a function
 * have one layout whatever the image (layout_of), the exit path fills the
 * ctx's function info again, and skips the handlers of links attached after
 * the frame's generation.
 *
 * What is saved is the spec's: only the registers a certain prototype uses,
 * or the conservative set (every argument register, rax, r10, the vector
 * registers at the width that is in use, st0/st1 of a return).  The frame
 * is addressed through rsp while rsp is the base (short encodings), through
 * rbp while a stack-argument copy sits below it.
 *
 * The per-thread guard is set only while handlers run (not around the
 * body), so calls made by the body are traced but calls made by handlers
 * are not; it holds the image's id (a shared trampoline: its stub's info),
 * which reclaiming reads. */
#include "arch/x86_64/tramp.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "arch/x86_64/keep_avx.h"
#include "arch/x86_64/rawsys.h"
#include "arch/x86_64/saferead.h"
#include "arch/x86_64/writer.h"

static const enum xreg int_args[6] = { XREG_RDI, XREG_RSI, XREG_RDX, XREG_RCX, XREG_R8, XREG_R9 };
/* keep_all: every register a call may clobber */
#define KEEP_GPRS 9
#define KEEP_VECS 16
static const enum xreg keep_gprs[KEEP_GPRS] = { XREG_RAX, XREG_RCX, XREG_RDX, XREG_RSI, XREG_RDI,
						XREG_R8,  XREG_R9,  XREG_R10, XREG_R11 };

#define CTX(field) ((int32_t)offsetof(struct poketrace_ctx, field))
#define CTX_SIZE (((int32_t)sizeof(struct poketrace_ctx) + 15) & ~15)

/* XINUSE bits (xgetbv ecx=1): upper halves of ymm0-15, of zmm0-15. */
#define XINUSE_AVX 0x04
#define XINUSE_ZMM_HI256 0x40
/* fxam's C3 C2 C0 in the status word; C3 and C0 alone: the register is empty */
#define FSW_CLASS 0x4500
#define FSW_EMPTY 0x4100
#define FSW_TOP 0x3800

/* --------------------------------------------------------------- layout */

/* Vector registers a return may use on the conservative path: clang
 * returns a 64-byte vector in xmm0-3 when it is built without AVX-512 */
#define RET_VECS 4

/* Where things are saved, as offsets from the base.  With a ctx the
 * argument registers are its fields; typed-only images use a small area of
 * the same shape. */
struct layout {
	int32_t args, xmm, rax;
	int32_t r10, vflag, rflag, x87n; /* x87n: st registers saved of the return */
	int32_t fsw;                     /* the x87 status word before the body */
	int32_t xmm_hi, wide, wret, xret, x87;
	int32_t gen;                     /* call-orig: the frame's generation */
	int32_t keep, keep_flag, keep_x, keep_w; /* keep_all: GPRs, tier, xmm0-15, at full width */
	int32_t size;
};

struct em {
	struct xw w;
	const struct tramp_spec *s;
	struct layout l;
	int32_t frame;
	int vec;      /* xw_vec_width() */
	bool at_base; /* rsp is the base: address the frame through rsp */
	int32_t probed; /* a tier byte already found at this point of the path, or -1 */
};

/* Call-orig frames have one layout per function whatever the image: a call
 * returns through the exit path of the image current when it returns, not
 * of the one it entered (see pads), so every area an image of the function
 * may use has its place, used or not. */
static struct layout layout_of(const struct tramp_spec *s, bool ctx, int vec)
{
	struct layout l;
	int32_t off, wide = vec > XW_VEC_SSE ? vec : 0;
	bool fixed = s->call_orig;

	if (ctx) {
		l.args = CTX(args);
		l.rax = CTX(rax);
		l.xmm = CTX(xmm);
		off = CTX_SIZE;
	} else {
		l.args = 0;
		l.rax = 8 * s->nint;
		l.xmm = (l.rax + (s->save_rax ? 8 : 0) + 15) & ~15;
		off = l.xmm + 16 * (s->full_vec ? 8 : s->nsse);
	}
	l.r10 = off;
	l.vflag = off + 8;
	l.rflag = off + 9;
	l.x87n = off + 10;
	l.fsw = off + 12;
	off += 16;
	l.gen = off;
	off += fixed ? 16 : 0;
	l.xmm_hi = off;
	off += s->save_xmm_hi || fixed ? 8 * 16 : 0;
	l.wide = off;
	off += s->full_vec || fixed ? 8 * wide : 0;
	l.wret = off;
	off += s->ret_full || fixed ? RET_VECS * wide : 0;
	l.xret = off; /* xmm2-3 of a conservative return (xmm0-1 are in ctx->fret) */
	off += s->ret_full || fixed ? 2 * 16 : 0;
	l.x87 = off;
	off += s->ret_full || fixed || (s->ret_regs & (TRAMP_RET_ST0 | TRAMP_RET_ST1)) ? 32 : 0;
	/* (keep_all is the same for every image of a function: see relsite) */
	l.keep = off;
	l.keep_x = (off + 8 * KEEP_GPRS + 8 + 15) & ~15;
	l.keep_flag = l.keep_x + KEEP_AVX_TIER; /* where keep_avx.c finds it */
	l.keep_w = l.keep_x + 16 * KEEP_VECS;   /* = keep_x + KEEP_AVX_YMM */
	off = s->keep_all ? l.keep_w + KEEP_VECS * wide : off;
	l.size = off;
	return l;
}

static enum xreg B(const struct em *e)
{
	return e->at_base ? XREG_RSP : XREG_RBP;
}

static int32_t D(const struct em *e, int32_t off)
{
	return e->at_base ? off : off - e->frame;
}

static void st(struct em *e, int32_t off, enum xreg r)
{
	xw_store(&e->w, B(e), D(e, off), r);
}

static void ld(struct em *e, enum xreg r, int32_t off)
{
	xw_load(&e->w, r, B(e), D(e, off));
}

/* rsp back to the base, after a copy of stack arguments below it. */
static void to_base(struct em *e)
{
	if (!e->at_base)
		xw_lea(&e->w, XREG_RSP, XREG_RBP, -e->frame);
	e->at_base = true;
}

/* ------------------------------------------------ vectors, full width */

enum { TIER_XMM = 0, TIER_YMM = 1, TIER_ZMM = 2 };

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
static void load_vec_wide(struct em *e, int first, int n, const int32_t *xoff, int32_t wide_area, int32_t flag)
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
static bool save_args(struct em *e)
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

static void restore_args(struct em *e)
{
	const struct tramp_spec *s = e->s;
	const struct layout *l = &e->l;

	int32_t xoff[8];

	for (int i = 0; i < 8; i++)
		xoff[i] = l->xmm + 16 * i;
	if (s->full_vec && e->vec > XW_VEC_SSE)
		load_vec_wide(e, 0, 8, xoff, l->wide, l->vflag);
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
static void keep_save_gprs(struct em *e)
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
static bool keep_scan(const struct em *e)
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

	if (keep_scan(e)) {
		keep_scan_call(e, save);
		return;
	}
	for (int i = 0; i < KEEP_VECS; i++)
		xoff[i] = e->l.keep_x + 16 * i;
	if (e->vec > XW_VEC_SSE)
		if (save)
			save_vec_wide(e, KEEP_VECS, xoff, e->l.keep_w, e->l.keep_flag);
		else
			load_vec_wide(e, 0, KEEP_VECS, xoff, e->l.keep_w, e->l.keep_flag);
	else
		for (int i = 0; i < KEEP_VECS; i++)
			if (save)
				xw_store_xmm(&e->w, B(e), D(e, xoff[i]), i);
			else
				xw_load_xmm(&e->w, i, B(e), D(e, xoff[i]));
}

static void keep_save_vecs(struct em *e)
{
	if (e->s->keep_all)
		keep_vecs(e, true);
}

static void keep_load(struct em *e)
{
	if (!e->s->keep_all)
		return;
	keep_vecs(e, false);
	for (int i = 0; i < KEEP_GPRS; i++)
		ld(e, keep_gprs[i], e->l.keep + 8 * i);
}

static size_t dynamic_bytes(const struct tramp_spec *s)
{
	size_t n = s->stack_dynamic_bytes ? s->stack_dynamic_bytes : TRAMP_DYNAMIC_STACK_COPY;

	n = (n + 63) & ~(size_t)63;
	return n < TRAMP_DYNAMIC_STACK_MAX ? n : TRAMP_DYNAMIC_STACK_MAX;
}

/* Below the base, a copy of the caller's stack arguments (at [rbp+from])
 * for a call that must see them where its caller put them, aligned as the
 * caller's were: to the largest alignment of the exact area, or (unknown
 * area) congruent to the caller's modulo 64. */
static void copy_stack(struct em *e, int32_t from)
{
	const struct tramp_spec *s = e->s;
	struct xw *w = &e->w;

	if (s->stack_dynamic) {
		xw_lea(w, XREG_RSI, XREG_RBP, from);
		xw_mov_imm32(w, XREG_RDX, (uint32_t)dynamic_bytes(s));
		xw_sub_rsp(w, (int32_t)dynamic_bytes(s) + 64);
		xw_and_imm8(w, XREG_RSP, -64);
		xw_mov_rr(w, XREG_R11, XREG_RSI);
		xw_and_imm8(w, XREG_R11, 63);
		xw_add_rr(w, XREG_RSP, XREG_R11);
		xw_mov_rr(w, XREG_RDI, XREG_RSP);
		e->at_base = false;
		xw_call(w, (uintptr_t)tramp_copy_stack_args);
	} else if (s->stack_bytes) {
		size_t al = s->stack_align > 16 ? s->stack_align : 16;

		xw_sub_rsp(w, (int32_t)((s->stack_bytes + al - 1) & ~(al - 1)));
		if (al > 16)
			xw_and_imm8(w, XREG_RSP, (int8_t)-(int32_t)al);
		e->at_base = false;
		for (size_t k = 0; k < s->stack_bytes / 8; k++) {
			xw_load(w, XREG_R11, XREG_RBP, from + 8 * (int32_t)k);
			xw_store(w, XREG_RSP, 8 * (int32_t)k, XREG_R11);
		}
	}
}

/* ------------------------------------------------------------ handlers */

static void call_ctx_handler(struct em *e, const struct tramp_handler *h)
{
	xw_mov_imm64(&e->w, XREG_R11, (uintptr_t)h->data);
	st(e, CTX(data), XREG_R11);
	xw_mov_rr(&e->w, XREG_RDI, XREG_RSP);
	xw_call(&e->w, (uintptr_t)h->fn);
}

static void call_raw_handler(struct em *e, const struct tramp_handler *h, int32_t stack_from)
{
	xw_mov_imm64(&e->w, XREG_RDI, (uintptr_t)h->data);
	xw_lea(&e->w, XREG_RSI, XREG_RBP, stack_from);
	xw_call(&e->w, (uintptr_t)h->fn);
}

/* regs_live: the argument registers still hold the arguments (nothing was
 * called since they were saved), so a typed handler needs no reload.  A
 * typed handler gets the stack arguments too, copied where it expects them
 * (stack_from: where the caller's are, relative to rbp). */
static void call_handlers(struct em *e, const struct tramp_handler *h, int n, bool regs_live, int32_t stack_from)
{
	for (int i = 0; i < n; i++) {
		int skip = -1;

		if (h[i].since) {
			/* attached after this call entered: not its exit */
			skip = xw_new_label(&e->w);
			xw_mov_imm64(&e->w, XREG_R11, h[i].since);
			xw_cmp_mem(&e->w, B(e), D(e, e->l.gen), XREG_R11);
			xw_jcc_label(&e->w, XCC_B, skip);
		}
		if (h[i].kind == TH_TYPED) {
			copy_stack(e, stack_from);
			if (!regs_live || !e->at_base)
				restore_args(e);
			xw_call(&e->w, (uintptr_t)h[i].fn);
			to_base(e);
		} else if (h[i].kind == TH_RAW) {
			call_raw_handler(e, &h[i], stack_from);
		} else {
			call_ctx_handler(e, &h[i]);
		}
		if (skip >= 0)
			xw_bind(&e->w, skip);
		regs_live = false;
	}
}

/* Whether a handler receives a ctx (its fn, caller and stack fields must
 * be filled). */
bool tramp_needs_ctx(const struct tramp_spec *s)
{
	for (int i = 0; i < s->nentry; i++)
		if (s->entry[i].kind != TH_TYPED && s->entry[i].kind != TH_RAW)
			return true;
	for (int i = 0; i < s->nexit; i++)
		if (s->exit[i].kind != TH_RAW)
			return true;
	return s->nmodret > 0;
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
static void save_ret(struct em *e)
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

static void restore_ret(struct em *e)
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
			load_vec_wide(e, 0, RET_VECS, xoff, e->l.wret, e->l.rflag);
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
static void zero_ret(struct em *e)
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

/* --------------------------------------------------------------- image */

static void cfi_exit(struct tramp_out *o, size_t leave_at, size_t end)
{
	if (o->ncfi < 4) {
		o->cfi_leave[o->ncfi] = leave_at;
		o->cfi_exit[o->ncfi] = end;
		o->ncfi++;
	}
}

static void leave_ret(struct xw *w, struct tramp_out *o)
{
	size_t at = w->len;

	xw_leave(w);
	xw_ret(w);
	cfi_exit(o, at, w->len);
}

/* Entered by the site's jmp (not its call): the caller's return address is
 * on top of the stack when the image starts. */
static bool entered_by_jmp(const struct tramp_spec *s)
{
	return s->call_orig || s->tail;
}

/* After `leave`: into the body, which returns to the caller (entered by
 * the site's jmp), or back to the site's next instruction. */
static void to_body_or_ret(struct xw *w, const struct tramp_spec *s)
{
	if (entered_by_jmp(s) && s->keep_all)
		xw_jmp_keep_regs(w, s->orig);
	else if (entered_by_jmp(s))
		xw_jmp(w, s->orig); /* tail call: the body returns to the caller */
	else
		xw_ret(w);
}

/* Handlers skipped (this thread is already in one): count it, then run the
 * function as if nothing were attached. */
static void emit_nested(struct xw *w, const struct tramp_spec *s, struct tramp_out *o)
{
	size_t at;

	if (s->miss_counter && s->keep_all)
		xw_push(w, XREG_R11); /* the counter's address takes it */
	if (s->miss_counter)
		xw_lock_inc_abs(w, s->miss_counter);
	if (s->miss_counter && s->keep_all)
		xw_pop(w, XREG_R11);
	at = w->len;
	xw_leave(w);
	to_body_or_ret(w, s);
	cfi_exit(o, at, w->len);
}

static void fill_ctx(struct em *e, int32_t above)
{
	if (!e->s->fn_in_r11)
		xw_mov_imm64(&e->w, XREG_R11, (uintptr_t)e->s->fn);
	st(e, CTX(fn), XREG_R11);
	xw_load(&e->w, XREG_R11, XREG_RBP, above);
	st(e, CTX(caller), XREG_R11);
	xw_lea(&e->w, XREG_R11, XREG_RBP, above + 8);
	st(e, CTX(stack), XREG_R11);
}

/* The guard names what handlers run from (reclaim.c reads it): this image,
 * or for a shared trampoline the stub whose info the ctx holds. */
static void guard_on(struct em *e)
{
	const struct tramp_spec *s = e->s;

	if (!s->guard_tpoff)
		return;
	if (s->fn_in_r11) {
		ld(e, XREG_R11, CTX(fn));
		xw_fs_store(&e->w, s->guard_tpoff, XREG_R11);
	} else {
		xw_fs_store_imm32(&e->w, s->guard_tpoff, s->guard_id);
	}
	if (s->guard_sp_tpoff)
		xw_fs_store(&e->w, s->guard_sp_tpoff, XREG_RSP);
}

static void guard_off(struct em *e)
{
	if (e->s->guard_tpoff)
		xw_fs_store_imm32(&e->w, e->s->guard_tpoff, 0);
}

/* Entry and fmod_ret handlers, the body through the pad; then, entered from
 * the pad (in this image's frame or in one an older image of the function
 * built: the layout is the same), the exit handlers. */
static void emit_call_orig(struct em *e, struct tramp_out *o, int32_t above, bool ctx)
{
	const struct tramp_spec *s = e->s;
	struct xw *w = &e->w;
	int exits = xw_new_label(w);

	if (s->nmodret)
		zero_ret(e);
	for (int i = 0; i < s->nmodret; i++) {
		call_ctx_handler(e, &s->modret[i]);
		xw_test_eax(w);
		xw_jnz_label(w, exits); /* override: skip the body */
	}
	copy_stack(e, above + 8);
	restore_args(e);
	keep_load(e);
	/* after the copy, which calls out of the image */
	guard_off(e);
	if (s->ret_full)
		xw_fnstsw_mem(w, B(e), D(e, e->l.fsw)); /* TOP before: see save_x87_if_any */
	if (s->keep_all)
		xw_jmp_keep_regs(w, s->pad);
	else
		xw_jmp(w, s->pad);

	o->exit_entry = w->len;
	e->at_base = false; /* whatever copy the frame's image made */
	e->probed = -1;
	to_base(e);
	if (!s->keep_entry)
		keep_save_gprs(e);
	if (!s->keep_entry && keep_scan(e))
		keep_save_vecs(e); /* first: the return's save takes its tier */
	save_ret(e);
	if (!s->keep_entry && !keep_scan(e))
		keep_save_vecs(e);
	if (ctx)
		fill_ctx(e, above); /* the frame's image may have built none, or freed its fn */
	guard_on(e);
	xw_bind(w, exits);
	call_handlers(e, s->exit, s->nexit, false, above + 8);
	guard_off(e);
	keep_load(e); /* an override skipped the body: the registers it entered with */
	restore_ret(e);
	if (s->keep_entry && s->ret_full) {
		/* a replacement of a function without a prototype: rax and xmm0
		 * are its return, rdx and xmm1-3 the caller's (gcc keeps loop
		 * counters in rdx across a call to a leaf) */
		int32_t xoff[RET_VECS];

		for (int i = 0; i < RET_VECS; i++)
			xoff[i] = e->l.keep_x + 16 * i;
		ld(e, XREG_RDX, e->l.keep + 8 * 2);
		if (e->vec > XW_VEC_SSE)
			load_vec_wide(e, 1, RET_VECS, xoff, e->l.keep_w, e->l.keep_flag);
		else
			for (int i = 1; i < RET_VECS; i++)
				xw_load_xmm(&e->w, i, B(e), D(e, xoff[i]));
	}
	leave_ret(w, o);
}

int tramp_emit(const struct tramp_spec *s, uintptr_t at, uint8_t *buf, size_t cap, struct tramp_out *o)
{
	/* call-orig images keep the return registers in the ctx's slots */
	bool ctx = tramp_needs_ctx(s) || s->fn_in_r11, live;
	int32_t above = entered_by_jmp(s) ? 8 : 16; /* [rbp+above]: return into the caller */
	struct em e = { .s = s, .vec = xw_vec_width(), .at_base = true, .probed = -1 };
	struct xw *w = &e.w;
	int nested = -1;

	e.l = layout_of(s, ctx || s->call_orig, e.vec);
	/* rsp before a call must be 0 mod 16: entry mode enters at 0 (the
	 * site's call), call-orig and tail modes at 8 (the site's jmp); push
	 * rbp adds 8. */
	e.frame = ((e.l.size + 15) & ~15) + (entered_by_jmp(s) ? 0 : 8);
	memset(o, 0, sizeof(*o));
	xw_init(w, buf, cap, at);
	w->far = at == TRAMP_AT_WORST;
	xw_endbr64(w);
	xw_push(w, XREG_RBP);
	o->cfi_push = w->len;
	xw_mov_rr(w, XREG_RBP, XREG_RSP);
	o->cfi_mov = w->len;
	if (s->guard_tpoff) {
		nested = xw_new_label(w);
		xw_fs_cmp_q0(w, s->guard_tpoff);
		xw_jnz_label(w, nested);
	}
	xw_sub_rsp(w, e.frame);
	keep_save_gprs(&e);
	if (keep_scan(&e))
		keep_save_vecs(&e); /* first: the arguments' save takes its tier */
	live = save_args(&e);
	if (s->keep_all) {
		if (!keep_scan(&e))
			keep_save_vecs(&e);
		live = false;
	}
	if (ctx)
		fill_ctx(&e, above);
	o->fn_stored = w->len;
	if (s->call_orig) {
		xw_mov_imm64(w, XREG_R11, s->gen);
		st(&e, e.l.gen, XREG_R11);
	}
	guard_on(&e);
	call_handlers(&e, s->entry, s->nentry, live, above + 8);
	if (!s->call_orig) {
		size_t at;

		guard_off(&e);
		if (s->nentry || !live)
			restore_args(&e);
		keep_load(&e);
		at = w->len;
		xw_leave(w);
		to_body_or_ret(w, s);
		cfi_exit(o, at, w->len);
	} else {
		emit_call_orig(&e, o, above, ctx);
	}
	if (nested >= 0) {
		xw_bind(w, nested);
		emit_nested(w, s, o);
	}
	if (!xw_finish(w))
		return -ENOSPC;
	o->len = w->len;
	return 0;
}

size_t tramp_emit_pad(uintptr_t at, uintptr_t orig, uint8_t *buf, size_t cap, struct tramp_out *o)
{
	struct xw w;
	size_t jmp;
	int none;

	memset(o, 0, sizeof(*o));
	xw_init(&w, buf, cap, at);
	w.far = at == TRAMP_AT_WORST;
	none = xw_new_label(&w);
	/* the frame is the image's: CFA = rbp + 16 from the first byte */
	xw_call(&w, orig);
	jmp = w.len;
	xw_jmp_label(&w, none); /* rel32 always: batches retarget it */
	xw_bind(&w, none);
	leave_ret(&w, o);
	if (!xw_finish(&w))
		return 0;
	o->len = w.len;
	o->exit_entry = jmp;
	return w.len;
}

bool tramp_is_pad_return(uintptr_t ret)
{
	uint8_t b[7];

	/* the first byte is code after a call: mapped; the rest maybe not */
	return *(const volatile uint8_t *)ret == 0xe9 && safe_read(b, ret, sizeof(b)) == sizeof(b) &&
	       b[5] == 0xc9 && b[6] == 0xc3;
}

size_t tramp_emit_stub(uintptr_t at, uintptr_t shared, uintptr_t info, uint8_t *buf, size_t cap)
{
	struct xw w;

	xw_init(&w, buf, cap, at);
	xw_mov_imm64(&w, XREG_R11, info);
	xw_jmp_keep_regs(&w, shared); /* r11 carries info */
	return xw_finish(&w) ? w.len : 0;
}
