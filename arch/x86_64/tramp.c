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

#include "arch/x86_64/keep_avx.h"
#include "arch/x86_64/rawsys.h"
#include "arch/x86_64/saferead.h"
#include "arch/x86_64/tramp_em.h"
#include "arch/x86_64/writer.h"

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
				em_restore_args(e);
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
		em_zero_ret(e);
	for (int i = 0; i < s->nmodret; i++) {
		call_ctx_handler(e, &s->modret[i]);
		xw_test_eax(w);
		xw_jnz_label(w, exits); /* override: skip the body */
	}
	copy_stack(e, above + 8);
	em_restore_args(e);
	em_keep_load(e);
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
		em_keep_save_gprs(e);
	if (!s->keep_entry && em_keep_scan(e))
		em_keep_save_vecs(e); /* first: the return's save takes its tier */
	em_save_ret(e);
	if (!s->keep_entry && !em_keep_scan(e))
		em_keep_save_vecs(e);
	if (ctx)
		fill_ctx(e, above); /* the frame's image may have built none, or freed its fn */
	guard_on(e);
	xw_bind(w, exits);
	call_handlers(e, s->exit, s->nexit, false, above + 8);
	guard_off(e);
	em_keep_load(e); /* an override skipped the body: the registers it entered with */
	em_restore_ret(e);
	if (s->keep_entry && s->ret_full) {
		/* a replacement of a function without a prototype: rax and xmm0
		 * are its return, rdx and xmm1-3 the caller's (gcc keeps loop
		 * counters in rdx across a call to a leaf) */
		int32_t xoff[RET_VECS];

		for (int i = 0; i < RET_VECS; i++)
			xoff[i] = e->l.keep_x + 16 * i;
		ld(e, XREG_RDX, e->l.keep + 8 * 2);
		if (e->vec > XW_VEC_SSE)
			em_load_vec_wide(e, 1, RET_VECS, xoff, e->l.keep_w, e->l.keep_flag);
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
	em_keep_save_gprs(&e);
	if (em_keep_scan(&e))
		em_keep_save_vecs(&e); /* first: the arguments' save takes its tier */
	live = em_save_args(&e);
	if (s->keep_all) {
		if (!em_keep_scan(&e))
			em_keep_save_vecs(&e);
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
			em_restore_args(&e);
		em_keep_load(&e);
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
