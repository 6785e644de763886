/* Image generation.  The frame of every image:
 *
 *   entry mode (site: call image)        call-orig mode (site: jmp image)
 *   [rbp+24] caller's stack args          [rbp+16] caller's stack args
 *   [rbp+16] return into the caller       [rbp+8]  return into the caller
 *   [rbp+8]  site+5 (the body)            [rbp]    saved rbp
 *   [rbp]    saved rbp
 *   [rsp]    struct poketrace_ctx (the handlers' ctx; also the register save area)
 *
 * Entry mode runs the entry handlers and returns into the body.  Call-orig
 * mode runs entry and fmod_ret handlers, calls the body itself with the
 * registers and stack arguments restored, saves the return registers into
 * ctx, runs the exit handlers and returns straight to the caller: no return
 * address is rewritten and call/ret stay paired for the return predictor.
 *
 * The per-thread guard byte is set only while handlers run (not around the
 * body), so calls made by the body are traced but calls made by handlers
 * are not. */
#include "arch/x86_64/tramp.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "arch/x86_64/rawsys.h"
#include "arch/x86_64/saferead.h"
#include "arch/x86_64/writer.h"

static const enum xreg int_args[6] = { XREG_RDI, XREG_RSI, XREG_RDX, XREG_RCX, XREG_R8, XREG_R9 };

#define CTX(field) ((int32_t)offsetof(struct poketrace_ctx, field))
#define CTX_SIZE (((int32_t)sizeof(struct poketrace_ctx) + 15) & ~15)

/* The part of this thread's own stack known to be mapped, [lo, hi): the
 * copy below is a plain move there, and a system call only elsewhere.  A
 * thread's own stack stays mapped while the thread runs (its TLS lives
 * with it), unlike a coroutine's heap stack, which is never cached. */
static __thread uintptr_t stack_lo __attribute__((tls_model("initial-exec")));
static __thread uintptr_t stack_hi __attribute__((tls_model("initial-exec")));
extern void *__libc_stack_end; /* the main thread's stack top (glibc) */

/* The end of the mapped run of pages from the page of `from`: one byte of
 * each page read with process_vm_readv, which stops at the first hole. */
static uintptr_t mapped_end(uintptr_t from)
{
	enum { PAGES = 256 };
	char sink[PAGES];
	struct iovec local = { sink, PAGES }, remote[PAGES];
	uintptr_t end = from & ~(uintptr_t)4095;

	for (int round = 0; round < 32; round++) { /* up to 32 MiB */
		long n;

		for (int i = 0; i < PAGES; i++)
			remote[i] = (struct iovec){ (void *)(end + 4096u * (unsigned)i), 1 };
		n = raw_syscall6(SYS_process_vm_readv, raw_getpid(), (long)&local, 1, (long)remote, PAGES, 0);
		if (n <= 0)
			break;
		end += 4096u * (unsigned long)n;
		if (n < PAGES)
			break;
	}
	return end;
}

static bool own_stack(uintptr_t lo, uintptr_t hi)
{
	uintptr_t tls = (uintptr_t)&stack_hi, top = (uintptr_t)__libc_stack_end;

	/* glibc keeps a thread's TLS at the top of its stack mapping */
	return (lo <= tls && tls < hi) || (lo <= top && top < hi);
}

/* A move the sanitizers do not see: the caller's frames hold redzones. */
static void move_bytes(void *dst, const void *src, size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

/* Copies the caller's stack arguments of a body with an unknown stack area,
 * TRAMP_DYNAMIC_STACK_COPY bytes, zero past the end of the stack mapping:
 * no fault whatever the stack's depth.  On this thread's own stack it is a
 * move (a variadic function is traced at full speed); elsewhere, a
 * safe_read (a system call). */
__attribute__((used)) static void copy_stack_args(void *dst, const void *src)
{
	uintptr_t s = (uintptr_t)src, hi;
	size_t n;

	if (s >= stack_lo && s + TRAMP_DYNAMIC_STACK_COPY <= stack_hi) {
		move_bytes(dst, src, TRAMP_DYNAMIC_STACK_COPY);
		return;
	}
	n = safe_read(dst, s, TRAMP_DYNAMIC_STACK_COPY);
	if (n < TRAMP_DYNAMIC_STACK_COPY)
		memset((char *)dst + n, 0, TRAMP_DYNAMIC_STACK_COPY - n);
	else if (own_stack(s, hi = mapped_end(s))) {
		/* deeper calls extend the range down; the top stays */
		stack_lo = stack_hi == hi && stack_lo < s ? stack_lo : s;
		stack_hi = hi;
	}
}

/* Where the argument registers are saved: in the ctx when a handler needs
 * one, else in a small area of the same shape (typed-only images). */
struct layout {
	int32_t args, xmm, rax, size;
};

static struct layout layout_of(const struct tramp_spec *s, bool ctx)
{
	int32_t rax = 8 * s->nint, xmm = (rax + (s->save_rax ? 8 : 0) + 15) & ~15;

	if (ctx)
		return (struct layout){ CTX(args), CTX(xmm), CTX(rax), CTX_SIZE };
	return (struct layout){ 0, xmm, rax, xmm + 16 * s->nsse };
}

static void save_args(struct xw *w, const struct tramp_spec *s, const struct layout *l)
{
	for (int i = 0; i < s->nint; i++)
		xw_store(w, XREG_RSP, l->args + 8 * i, int_args[i]);
	for (int i = 0; i < s->nsse; i++)
		xw_store_xmm(w, XREG_RSP, l->xmm + 16 * i, i);
	if (s->save_rax)
		xw_store(w, XREG_RSP, l->rax, XREG_RAX);
}

/* shift: bytes pushed below the save area since (a stack-argument copy). */
static void restore_args(struct xw *w, const struct tramp_spec *s, const struct layout *l, int32_t shift)
{
	for (int i = 0; i < s->nint; i++)
		xw_load(w, int_args[i], XREG_RSP, shift + l->args + 8 * i);
	for (int i = 0; i < s->nsse; i++)
		xw_load_xmm(w, i, XREG_RSP, shift + l->xmm + 16 * i);
	if (s->save_rax)
		xw_load(w, XREG_RAX, XREG_RSP, shift + l->rax);
}

static void call_ctx_handler(struct xw *w, const struct tramp_handler *h)
{
	xw_mov_imm64(w, XREG_R11, (uintptr_t)h->data);
	xw_store(w, XREG_RSP, CTX(data), XREG_R11);
	xw_mov_rr(w, XREG_RDI, XREG_RSP);
	xw_call(w, (uintptr_t)h->fn);
}

static void copy_stack(struct xw *w, const struct tramp_spec *s, int32_t from, int32_t *extra);

static void call_raw_handler(struct xw *w, const struct tramp_handler *h, int32_t stack_from)
{
	xw_mov_imm64(w, XREG_RDI, (uintptr_t)h->data);
	xw_lea(w, XREG_RSI, XREG_RBP, stack_from);
	xw_call(w, (uintptr_t)h->fn);
}

/* regs_live: the argument registers still hold the arguments (nothing was
 * called since they were saved), so a typed handler needs no reload.  A
 * typed handler gets the stack arguments too, copied where it expects them
 * (stack_from: where the caller's are, relative to rbp). */
static void call_handlers(struct xw *w, const struct tramp_spec *s, const struct layout *l,
			  const struct tramp_handler *h, int n, bool regs_live, int32_t stack_from)
{
	for (int i = 0; i < n; i++) {
		if (h[i].kind == TH_TYPED) {
			int32_t extra;

			copy_stack(w, s, stack_from, &extra);
			if (!regs_live || extra)
				restore_args(w, s, l, extra);
			xw_call(w, (uintptr_t)h[i].fn);
			if (extra)
				xw_add_rsp(w, extra);
		} else if (h[i].kind == TH_RAW) {
			call_raw_handler(w, &h[i], stack_from);
		} else {
			call_ctx_handler(w, &h[i]);
		}
		regs_live = false;
	}
}

/* The registers the return value may be in, to or from ctx.  An fmod_ret
 * override returns the value its handler put in ctx, which is what these
 * read back. */
static void save_ret(struct xw *w, const struct tramp_spec *s, bool store)
{
	unsigned r = s->ret_regs ? s->ret_regs : TRAMP_RET_ALL;

	if (r & TRAMP_RET_RAX)
		store ? xw_store(w, XREG_RSP, CTX(ret), XREG_RAX) : xw_load(w, XREG_RAX, XREG_RSP, CTX(ret));
	if (r & TRAMP_RET_RDX)
		store ? xw_store(w, XREG_RSP, CTX(ret2), XREG_RDX) : xw_load(w, XREG_RDX, XREG_RSP, CTX(ret2));
	if (r & TRAMP_RET_XMM0)
		store ? xw_store_xmm(w, XREG_RSP, CTX(fret), 0) : xw_load_xmm(w, 0, XREG_RSP, CTX(fret));
	if (r & TRAMP_RET_XMM1)
		store ? xw_store_xmm(w, XREG_RSP, CTX(fret) + 16, 1) : xw_load_xmm(w, 1, XREG_RSP, CTX(fret) + 16);
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

/* Handlers skipped (this thread is already in one): count it, then run the
 * function as if nothing were attached. */
static void emit_nested(struct xw *w, const struct tramp_spec *s, struct tramp_out *o)
{
	size_t at;

	if (s->miss_counter)
		xw_lock_inc_abs(w, s->miss_counter);
	at = w->len;
	xw_leave(w);
	if (s->call_orig)
		xw_jmp(w, s->orig); /* tail call: the body returns to the caller */
	else
		xw_ret(w);
	cfi_exit(o, at, w->len);
}

/* Below rsp, a copy of the caller's stack arguments (at [rbp+from]) for a
 * call that must see them where its caller put them.  *extra: bytes to pop. */
static void copy_stack(struct xw *w, const struct tramp_spec *s, int32_t from, int32_t *extra)
{
	*extra = 0;
	if (s->stack_dynamic) {
		*extra = TRAMP_DYNAMIC_STACK_COPY;
		xw_sub_rsp(w, *extra);
		xw_mov_rr(w, XREG_RDI, XREG_RSP);
		xw_lea(w, XREG_RSI, XREG_RBP, from);
		xw_call(w, (uintptr_t)copy_stack_args);
	} else if (s->stack_bytes) {
		*extra = (int32_t)((s->stack_bytes + 15) & ~(size_t)15);
		xw_sub_rsp(w, *extra);
		for (size_t k = 0; k < s->stack_bytes / 8; k++) {
			xw_load(w, XREG_R11, XREG_RBP, from + 8 * (int32_t)k);
			xw_store(w, XREG_RSP, 8 * (int32_t)k, XREG_R11);
		}
	}
}

int tramp_emit(const struct tramp_spec *s, uintptr_t at, uint8_t *buf, size_t cap, struct tramp_out *o)
{
	/* call-orig images keep the return registers in the ctx's slots */
	bool ctx = tramp_needs_ctx(s) || s->fn_in_r11;
	struct layout l = layout_of(s, ctx || s->call_orig);
	/* rsp before a call must be 0 mod 16: entry mode enters at 0 (the
	 * site's call), call-orig mode at 8 (the site's jmp); push rbp adds 8. */
	int32_t frame = ((l.size + 15) & ~15) + (s->call_orig ? 0 : 8), extra;
	int32_t above = s->call_orig ? 8 : 16; /* [rbp+above]: return into the caller */
	int nested = -1, retpath, exits;
	struct xw w;

	memset(o, 0, sizeof(*o));
	xw_init(&w, buf, cap, at);
	xw_endbr64(&w);
	xw_push(&w, XREG_RBP);
	o->cfi_push = w.len;
	xw_mov_rr(&w, XREG_RBP, XREG_RSP);
	o->cfi_mov = w.len;
	if (s->guard_tpoff) {
		nested = xw_new_label(&w);
		xw_fs_cmp_byte0(&w, s->guard_tpoff);
		xw_jnz_label(&w, nested);
	}
	xw_sub_rsp(&w, frame);
	save_args(&w, s, &l);
	if (ctx) {
		if (!s->fn_in_r11)
			xw_mov_imm64(&w, XREG_R11, (uintptr_t)s->fn);
		xw_store(&w, XREG_RSP, CTX(fn), XREG_R11);
		xw_load(&w, XREG_R11, XREG_RBP, above);
		xw_store(&w, XREG_RSP, CTX(caller), XREG_R11);
		xw_lea(&w, XREG_R11, XREG_RBP, above + 8);
		xw_store(&w, XREG_RSP, CTX(stack), XREG_R11);
	}
	o->fn_stored = w.len;
	if (s->guard_tpoff)
		xw_fs_store_byte(&w, s->guard_tpoff, 1);
	call_handlers(&w, s, &l, s->entry, s->nentry, true, above + 8);

	if (!s->call_orig) {
		if (s->guard_tpoff)
			xw_fs_store_byte(&w, s->guard_tpoff, 0);
		if (s->nentry)
			restore_args(&w, s, &l, 0);
		leave_ret(&w, o);
	} else {
		exits = xw_new_label(&w);
		retpath = xw_new_label(&w);
		if (s->nmodret) {
			/* An override that sets nothing returns 0, not stack garbage. */
			xw_mov_imm64(&w, XREG_R11, 0);
			xw_store(&w, XREG_RSP, CTX(ret), XREG_R11);
			xw_store(&w, XREG_RSP, CTX(ret2), XREG_R11);
			xw_store(&w, XREG_RSP, CTX(fret), XREG_R11);
		}
		for (int i = 0; i < s->nmodret; i++) {
			call_ctx_handler(&w, &s->modret[i]);
			xw_test_eax(&w);
			xw_jnz_label(&w, exits); /* override: skip the body */
		}
		if (s->guard_tpoff)
			xw_fs_store_byte(&w, s->guard_tpoff, 0);
		copy_stack(&w, s, above + 8, &extra);
		restore_args(&w, s, &l, extra);
		xw_call(&w, s->orig);
		if (extra)
			xw_add_rsp(&w, extra);
		save_ret(&w, s, true);
		/* Retiring the image turns this nop into `jmp retpath`: a thread
		 * still in the body then returns without running handlers that
		 * were detached meanwhile. */
		o->after_call = w.len;
		xw_nop5(&w);
		if (s->guard_tpoff)
			xw_fs_store_byte(&w, s->guard_tpoff, 1);
		xw_bind(&w, exits);
		call_handlers(&w, s, &l, s->exit, s->nexit, false, above + 8);
		if (s->guard_tpoff)
			xw_fs_store_byte(&w, s->guard_tpoff, 0);
		xw_bind(&w, retpath);
		o->ret_path = w.len;
		save_ret(&w, s, false);
		leave_ret(&w, o);
	}
	if (nested >= 0) {
		xw_bind(&w, nested);
		emit_nested(&w, s, o);
	}
	if (!xw_finish(&w))
		return -ENOSPC;
	o->len = w.len;
	return 0;
}

size_t tramp_emit_stub(uintptr_t at, uintptr_t shared, uintptr_t info, uint8_t *buf, size_t cap)
{
	struct xw w;

	xw_init(&w, buf, cap, at);
	xw_mov_imm64(&w, XREG_R11, info);
	xw_jmp_keep_regs(&w, shared); /* r11 carries info */
	return xw_finish(&w) ? w.len : 0;
}

/* ------------------------------------------------------------ .eh_frame */

enum {
	DW_CFA_advance_loc1 = 0x02, DW_CFA_def_cfa = 0x0c, DW_CFA_def_cfa_register = 0x0d,
	DW_CFA_def_cfa_offset = 0x0e, DW_CFA_remember_state = 0x0a, DW_CFA_restore_state = 0x0b,
	DW_CFA_advance_loc2 = 0x03, DW_CFA_offset = 0x80,
	DWREG_RBP = 6, DWREG_RSP = 7, DWREG_RA = 16,
};

struct bytes {
	uint8_t *p;
	size_t len, cap;
};

static void b_put(struct bytes *b, const void *src, size_t n)
{
	if (b->len + n > b->cap)
		return;
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void b_u8(struct bytes *b, uint8_t v)
{
	b_put(b, &v, 1);
}

static void advance(struct bytes *b, size_t *loc, size_t to)
{
	size_t d = to - *loc;

	if (d == 0)
		return;
	if (d < 64) {
		b_u8(b, (uint8_t)(0x40 | d));
	} else if (d < 256) {
		b_u8(b, DW_CFA_advance_loc1);
		b_u8(b, (uint8_t)d);
	} else {
		uint16_t v = (uint16_t)d;

		b_u8(b, DW_CFA_advance_loc2);
		b_put(b, &v, 2);
	}
	*loc = to;
}

static void pad8(struct bytes *b, size_t start)
{
	while ((b->len - start) % 8)
		b_u8(b, 0); /* DW_CFA_nop */
}

void *tramp_eh_frame(uintptr_t at, const struct tramp_out *o, bool frame, size_t *len)
{
	struct bytes b = { calloc(1, 512), 0, 512 };
	size_t cie, fde, loc = 0;
	uint32_t u32;
	uint64_t u64;

	if (!b.p)
		return NULL;
	/* CIE: CFA = rsp+8, return address at CFA-8, pointers absolute. */
	cie = b.len;
	b_put(&b, "\0\0\0\0", 4);               /* length, below */
	b_put(&b, "\0\0\0\0", 4);               /* CIE id */
	b_u8(&b, 1);                            /* version */
	b_put(&b, "zR", 3);                     /* augmentation */
	b_u8(&b, 1);                            /* code alignment */
	b_u8(&b, 0x78);                         /* data alignment -8 */
	b_u8(&b, DWREG_RA);
	b_u8(&b, 1);                            /* augmentation data length */
	b_u8(&b, 0x00);                         /* DW_EH_PE_absptr */
	b_u8(&b, DW_CFA_def_cfa);
	b_u8(&b, DWREG_RSP);
	b_u8(&b, 8);
	b_u8(&b, DW_CFA_offset | DWREG_RA);
	b_u8(&b, 1);
	pad8(&b, cie + 4);
	u32 = (uint32_t)(b.len - cie - 4);
	memcpy(b.p + cie, &u32, 4);

	fde = b.len;
	b_put(&b, "\0\0\0\0", 4);
	u32 = (uint32_t)(b.len - cie);          /* CIE pointer: back to the CIE */
	b_put(&b, &u32, 4);
	u64 = at;
	b_put(&b, &u64, 8);
	u64 = o->len;
	b_put(&b, &u64, 8);
	b_u8(&b, 0);                            /* augmentation data length */
	if (frame) {
		advance(&b, &loc, o->cfi_push);
		b_u8(&b, DW_CFA_def_cfa_offset);
		b_u8(&b, 16);
		b_u8(&b, DW_CFA_offset | DWREG_RBP);
		b_u8(&b, 2);
		advance(&b, &loc, o->cfi_mov);
		b_u8(&b, DW_CFA_def_cfa_register);
		b_u8(&b, DWREG_RBP);
		for (int i = 0; i < o->ncfi; i++) {
			advance(&b, &loc, o->cfi_leave[i]);
			b_u8(&b, DW_CFA_remember_state);
			advance(&b, &loc, o->cfi_leave[i] + 1); /* after `leave` */
			b_u8(&b, DW_CFA_def_cfa);
			b_u8(&b, DWREG_RSP);
			b_u8(&b, 8);
			if (o->cfi_exit[i] < o->len) {
				advance(&b, &loc, o->cfi_exit[i]);
				b_u8(&b, DW_CFA_restore_state);
			}
		}
	}
	pad8(&b, fde + 4);
	u32 = (uint32_t)(b.len - fde - 4);
	memcpy(b.p + fde, &u32, 4);
	b_put(&b, "\0\0\0\0", 4);               /* terminator */
	if (b.len > b.cap - 8) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}
