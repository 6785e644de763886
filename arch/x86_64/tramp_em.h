/* Between the image emitter (tramp.c) and the emission of register saves
 * and loads (tramp_regs.c): the frame's layout and the emitter's state. */
#ifndef PT_ARCH_TRAMP_EM_H
#define PT_ARCH_TRAMP_EM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/tramp.h"
#include "arch/x86_64/writer.h"

/* keep_all: every register a call may clobber */
#define KEEP_GPRS 9
#define KEEP_VECS 16

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

enum { TIER_XMM = 0, TIER_YMM = 1, TIER_ZMM = 2 };

static inline enum xreg B(const struct em *e)
{
	return e->at_base ? XREG_RSP : XREG_RBP;
}

static inline int32_t D(const struct em *e, int32_t off)
{
	return e->at_base ? off : off - e->frame;
}

static inline void st(struct em *e, int32_t off, enum xreg r)
{
	xw_store(&e->w, B(e), D(e, off), r);
}

static inline void ld(struct em *e, enum xreg r, int32_t off)
{
	xw_load(&e->w, r, B(e), D(e, off));
}

/* rsp back to the base, after a copy of stack arguments below it. */
static inline void to_base(struct em *e)
{
	if (!e->at_base)
		xw_lea(&e->w, XREG_RSP, XREG_RBP, -e->frame);
	e->at_base = true;
}

/* tramp_regs.c */
bool em_save_args(struct em *e);    /* true: the argument registers still hold them */
void em_restore_args(struct em *e);
void em_load_vec_wide(struct em *e, int first, int n, const int32_t *xoff, int32_t wide_area, int32_t flag);
bool em_keep_scan(const struct em *e); /* keep_all's vectors found by vptest (AVX) */
void em_keep_save_gprs(struct em *e);
void em_keep_save_vecs(struct em *e);
void em_keep_load(struct em *e);
void em_save_ret(struct em *e);
void em_restore_ret(struct em *e);
void em_zero_ret(struct em *e);

#endif
