/* .eh_frame for the code poketrace generates: a CIE and one FDE, for
 * __register_frame and the gdb JIT interface, so that unwinders pass
 * through it.  Images build one frame (push rbp; mov rbp, rsp; ... leave;
 * ret); a relocated entry's copy does what the function's first
 * instructions do (push, sub rsp, mov rbp, rsp), row by row. */
#include "arch/x86_64/reloc.h"
#include "arch/x86_64/tramp.h"

#include <string.h>

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

static void uleb(struct bytes *b, unsigned v)
{
	for (;; v >>= 7) {
		b_u8(b, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
		if (v <= 0x7f)
			break;
	}
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

/* The CIE (CFA = rsp+8, return address at CFA-8, pointers absolute) and
 * the head of the FDE for [at, at+len): *fde where its length goes. */
static void cie_fde(struct bytes *b, uintptr_t at, size_t len, void *personality, size_t *fde)
{
	size_t cie;
	uint32_t u32;
	uint64_t u64;

	cie = b->len;
	b_put(b, "\0\0\0\0", 4);               /* length, below */
	b_put(b, "\0\0\0\0", 4);               /* CIE id */
	b_u8(b, 1);                            /* version */
	b_put(b, personality ? "zPR" : "zR", personality ? 4 : 3); /* augmentation */
	b_u8(b, 1);                            /* code alignment */
	b_u8(b, 0x78);                         /* data alignment -8 */
	b_u8(b, DWREG_RA);
	b_u8(b, personality ? 10 : 1);         /* augmentation data length */
	if (personality) {
		u64 = (uintptr_t)personality;
		b_u8(b, 0x00);                 /* P: DW_EH_PE_absptr */
		b_put(b, &u64, 8);
	}
	b_u8(b, 0x00);                         /* R: DW_EH_PE_absptr */
	b_u8(b, DW_CFA_def_cfa);
	b_u8(b, DWREG_RSP);
	b_u8(b, 8);
	b_u8(b, DW_CFA_offset | DWREG_RA);
	b_u8(b, 1);
	pad8(b, cie + 4);
	u32 = (uint32_t)(b->len - cie - 4);
	memcpy(b->p + cie, &u32, 4);

	*fde = b->len;
	b_put(b, "\0\0\0\0", 4);
	u32 = (uint32_t)(b->len - cie);          /* CIE pointer: back to the CIE */
	b_put(b, &u32, 4);
	u64 = at;
	b_put(b, &u64, 8);
	u64 = len;
	b_put(b, &u64, 8);
	b_u8(b, 0);                            /* augmentation data length */
}

/* The FDE's length, the terminator; the length, or 0 if it overflowed. */
static size_t fde_end(struct bytes *b, size_t fde)
{
	uint32_t u32;

	pad8(b, fde + 4);
	u32 = (uint32_t)(b->len - fde - 4);
	memcpy(b->p + fde, &u32, 4);
	b_put(b, "\0\0\0\0", 4);               /* terminator */
	return b->len > b->cap - 8 ? 0 : b->len;
}

size_t tramp_eh_frame(uintptr_t at, const struct tramp_out *o, bool frame, void *personality, uint8_t *out,
		      size_t cap)
{
	struct bytes b = { out, 0, cap };
	size_t fde, loc = 0;

	cie_fde(&b, at, o->len, personality, &fde);
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
	return fde_end(&b, fde);
}

size_t reloc_eh_frame(uintptr_t at, size_t code_len, const struct reloc_plan *p, uint8_t *out, size_t cap)
{
	struct bytes b = { out, 0, cap };
	size_t fde, loc = 0;
	struct reloc_cfa was = { .cfa_off = 8 };

	cie_fde(&b, at, code_len, NULL, &fde);
	/* the state after each instruction of the copy, where it changes */
	for (unsigned i = 0; i <= p->ninsn; i++) {
		const struct reloc_cfa *c = &p->cfa[i];

		if (c->cfa_off != was.cfa_off || c->rbp_based != was.rbp_based ||
		    memcmp(c->saved, was.saved, sizeof(c->saved))) {
			advance(&b, &loc, p->new_off[i]);
			b_u8(&b, DW_CFA_def_cfa);
			b_u8(&b, c->rbp_based ? DWREG_RBP : DWREG_RSP);
			uleb(&b, c->rbp_based ? 16u : c->cfa_off);
			/* a register's first push (the data alignment factor is
			 * -8); saves never go away in a copy (pops of them are
			 * refused) */
			for (int r = 0; r < 16; r++)
				if (c->saved[r] && !was.saved[r]) {
					b_u8(&b, (uint8_t)(DW_CFA_offset | r));
					b_u8(&b, c->saved[r]); /* < 128: one ULEB128 byte */
				}
			was = *c;
		}
		if (i + 1 == p->ninsn && p->last_is_call && !c->rbp_based) {
			/* the call became push (the return address) and jmp:
			 * at the jmp, the CFA is 8 bytes further from rsp
			 * (whether or not the state before the call changed) */
			advance(&b, &loc, p->call_jmp);
			b_u8(&b, DW_CFA_def_cfa_offset);
			uleb(&b, c->cfa_off + 8u);
			was.cfa_off = (uint16_t)(c->cfa_off + 8);
		}
	}
	return fde_end(&b, fde);
}
