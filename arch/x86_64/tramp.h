/* Generated trampolines ("images"), BPF-trampoline style: per function, saving
 * only what the function's prototype needs, calling handlers directly. */
#ifndef PT_ARCH_TRAMP_H
#define PT_ARCH_TRAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "poketrace.h"

enum tramp_handler_kind {
	TH_CTX = 0,   /* void fn(struct poketrace_ctx *) */
	TH_TYPED,     /* void fn(the function's own arguments) */
	TH_MODRET,    /* int fn(struct poketrace_ctx *): non-zero skips the body */
	TH_RAW,       /* void fn(void *data, const void *caller_stack_args) */
};

struct tramp_handler {
	void *fn;
	void *data;
	uint8_t kind;
	/* Exit handlers: the link's attach sequence.  A call returns through
	 * the exit path of the image current when it returns (see pads), which
	 * skips the handlers of links attached after the call entered. */
	uint64_t since;
};

/* Bytes of caller stack copied for a body whose stack-argument area is not
 * known exactly: the bound a DWARF prototype gives (a function of external
 * linkage whose signature no compiler could rewrite), else that plus 1 KiB
 * (128 words: varargs, clones, no DWARF).  Not more: the copy is made on
 * every call, in every frame of a recursion (8 MiB of stack hold 3,000
 * frames of 2.7 KiB: image, ctx, vector state and copy).  A move on the
 * thread's own stack up to its end, a safe_read elsewhere: the copy stops
 * at the end of the mapping instead of faulting. */
#define TRAMP_DYNAMIC_STACK_COPY 1024
/* The copy (tramp_stack.c): want bytes from src, zero past the end of the
 * mapping.  Called from images with only its arguments live. */
void tramp_copy_stack_args(void *dst, const void *src, size_t want);
#define TRAMP_DYNAMIC_STACK_MAX (256 * 1024)

enum {
	TRAMP_RET_RAX = 1, TRAMP_RET_RDX = 2, TRAMP_RET_XMM0 = 4, TRAMP_RET_XMM1 = 8,
	TRAMP_RET_ST0 = 16, TRAMP_RET_ST1 = 32, TRAMP_RET_ALL = 15,
};

struct tramp_spec {
	const struct poketrace_fn *fn; /* for the ctx */
	bool fn_in_r11;                /* shared trampolines: fn comes from the stub in r11 */
	int nint, nsse;                /* argument registers to save: 0-6, 0-8 */
	bool save_rax;                 /* varargs / unknown prototype: al counts xmm args */
	bool save_r10;                 /* gcc's static chain of nested functions */
	/* The conservative path (no certain prototype): xmm0-7 at their full
	 * width (ymm/zmm where the CPU has them and they are in use), and the
	 * return's rax, rdx, xmm0-1 at full width and st0/st1 when not empty. */
	bool full_vec;
	bool save_xmm_hi;              /* xmm8-15 too: ms_abi callers keep xmm6-15 */
	/* Callers may keep values in any register the body does not write
	 * (gcc's -fipa-ra, on by default at -O2 and off only where a function
	 * has a patch site): the body is entered with every register as the
	 * caller left it, and the caller gets every register back as the body
	 * left it, but the return's (what fmod_ret handlers set).  rax rcx rdx
	 * rsi rdi r8-r11 and xmm/ymm/zmm0-15 at the width in use. */
	bool keep_all;
	/* keep_all with a body that is not the function's own code (a
	 * replacement): the caller gets back the registers as they were at
	 * entry, the return registers as the body left them */
	bool keep_entry;
	const struct tramp_handler *entry;
	int nentry;
	const struct tramp_handler *modret;
	int nmodret;
	const struct tramp_handler *exit;
	int nexit;
	bool call_orig;                /* the image calls the body: the site is `jmp image` */
	/* the site is `jmp image` (a relocated entry's), and the image, with
	 * nothing to do after the body, ends by jumping to it (orig) */
	bool tail;
	uintptr_t orig;                /* call_orig, tail: the body (site+5, the copy) or a replacement */
	uintptr_t pad;                 /* call_orig: the landing pad that calls orig (tramp_emit_pad) */
	uint64_t gen;                  /* call_orig: stored in the frame, compared with `since` */
	size_t stack_bytes;            /* stack arguments to copy (multiple of 8) */
	size_t stack_align;            /* where the copy starts: 16, 32 or 64 */
	unsigned ret_regs;             /* call_orig: TRAMP_RET_* the return value uses */
	bool ret_full;                 /* call_orig: every return register (full_vec's rule) */
	bool stack_dynamic;            /* unknown size: copy what may be there, read safely */
	size_t stack_dynamic_bytes;    /* how much: at least TRAMP_DYNAMIC_STACK_COPY */
	/* fs offset of the per-thread guard: non-zero while a handler runs,
	 * what it holds names what the handler was called from: guard_id, or
	 * for shared trampolines the stub's info (r11). */
	int32_t guard_tpoff;
	uint32_t guard_id;
	int32_t guard_sp_tpoff;        /* where rsp is stored as the guard is set (a longjmp out clears it) */
	void *personality;             /* run when an exception unwinds through the image */
	uintptr_t miss_counter;        /* incremented (locked) when the guard skips handlers */
};

struct tramp_out {
	size_t len;
	size_t exit_entry;   /* call_orig: the exit path a pad continues in */
	size_t fn_stored;    /* r11 (a stub's info pointer) is in the ctx from here on */
	/* unwind: offsets of the prologue steps and of each leave/exit */
	size_t cfi_push, cfi_mov;
	size_t cfi_leave[4], cfi_exit[4];
	int ncfi;
};

/* Whether the image builds a poketrace_ctx (any handler but typed ones). */
bool tramp_needs_ctx(const struct tramp_spec *s);

/* at: size the image for its worst placement (every call and jump to an
 * address in its long form), not for one address. */
#define TRAMP_AT_WORST 0

/* Emits the image for address `at` into buf.  -ENOSPC if cap is too small.
 */
int tramp_emit(const struct tramp_spec *s, uintptr_t at, uint8_t *buf, size_t cap,
	       struct tramp_out *out);

/* A landing pad: `call orig; jmp X; leave; ret`.  Images call a body
 * through it, so that no return address into an image stays on a stack
 * while the body runs: the body returns to the pad, whose jmp batches point
 * at the exit path of the image current for the function (each image's
 * exit_entry) or, with none, at its own `leave; ret`, which returns to the
 * caller (TRAMP_PAD_NONE bytes from the end; the jmp, emitted so, is at
 * o->exit_entry).  Pads are never freed.  Returns the length, 0 if cap is
 * too small. */
#define TRAMP_PAD_NONE 2
size_t tramp_emit_pad(uintptr_t at, uintptr_t orig, uint8_t *buf, size_t cap, struct tramp_out *o);
/* Whether a return address looks like a pad's, right after its call:
 * `jmp rel32; leave; ret` (a body that tail-calls returns there). */
bool tramp_is_pad_return(uintptr_t ret);

/* The per-site stub of a shared trampoline: mov r11, info; jmp shared.
 * Writes the code and returns its length, 0 if cap is too small. */
size_t tramp_emit_stub(uintptr_t at, uintptr_t shared, uintptr_t info, uint8_t *buf, size_t cap);

/* .eh_frame bytes (CIE, FDE, terminator) describing an image's frames, for
 * __register_frame; personality (or NULL): the routine unwinding runs in
 * them.  Written to out; their length, or 0 if cap (TRAMP_EH_MAX will do)
 * is too small. */
#define TRAMP_EH_MAX 512
size_t tramp_eh_frame(uintptr_t at, const struct tramp_out *o, bool frame, void *personality, uint8_t *out,
		      size_t cap);

#endif
